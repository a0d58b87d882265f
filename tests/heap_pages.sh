# heap_pages.sh - sourced by tests that need real process memory.
#
#   python_heap_pages OUT SEED N   start a Python process holding N dict
#       entries of floats, ints, strings and small dicts (random.seed(SEED)),
#       dump its anonymous memory with `uzram dump` to OUT, and stop it.
#
# The process's PID is in $child while it runs, so the caller's EXIT trap
# can kill it; fail and $UZRAM come from the caller.
python_heap_pages() {
	local out=$1 ready=$1.ready
	/usr/bin/python3 -c '
import random, sys, time
random.seed(int(sys.argv[2]))
d = {("k%d" % i): [random.random(), i, "v" * (i % 50), {"n": i}] for i in range(int(sys.argv[3]))}
open(sys.argv[1], "w").write("ready")
time.sleep(600)' "$ready" "$2" "$3" &
	child=$!
	for _ in $(seq 300); do [ -s "$ready" ] && break; sleep 0.1; done
	[ -s "$ready" ] || fail "python did not start"
	"$UZRAM" dump --pid "$child" "$out" 2>/dev/null || fail "uzram dump --pid $child"
	kill "$child"; wait "$child" 2>/dev/null; child=
	rm -f "$ready"
}
