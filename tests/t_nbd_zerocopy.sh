#!/bin/bash
# t_nbd_zerocopy.sh - READ replies sent by reference on unix sockets
# (nbd_xmit.c, "Zero-copy replies"), against the same server copying.
#
# For each mode (zero-copy, the default on a kernel that passes
# nbd_zc_probe; and UZRAM_NBD_COPY=1):
#   - whether the mode is what it claims: a connection in transmission
#     gets its own pipe (two more pipe descriptors in the server) with
#     zero-copy, none when copying;
#   - tests/nbd_zerocopy.py: 900 READs of 256 KiB with more in flight than
#     the server has request slots, read back slowly in small pieces, each
#     reply checked page by page against its block; clients that leave
#     without reading, or are cut halfway through a reply, and afterwards
#     the bytes still queued in the cut client's socket checked unchanged
#     while other connections are served (their buffers must not be
#     reused while a socket can still read them); a client that queues more
#     READs than there are slots and never reads costs the server at most
#     40 ms of CPU in 3 s (the reader's wait for slots backs off);
#   - the server stops cleanly (SIGTERM, exit 0).
# On a kernel where the probe fails, the first mode is skipped with the
# reason and the copy mode still runs.
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"

seed=${SEED:-$RANDOM}
echo "seed $seed (SEED=$seed reproduces)"

# Pipes of the server: with no client, then with one in transmission.
pipes_per_connection() {
	"$PY" - "$SOCK" "$SERVER_PID" <<'EOF'
import os, sys
sys.path.insert(0, os.path.join(os.environ["UZRAM_SRCDIR"], "tests"))
import nbd_raw as n
def pipes(pid):
    k = 0
    for fd in os.listdir("/proc/%s/fd" % pid):
        try:
            k += os.readlink("/proc/%s/fd/%s" % (pid, fd)).startswith("pipe:")
        except OSError:
            pass
    return k
before = pipes(sys.argv[2])
r = n.Raw(sys.argv[1])
r.go()
r.req(n.CMD_FLUSH, cookie=1)
r.expect(0, "flush")                # transmission has started
print(pipes(sys.argv[2]) - before)
r.close()
EOF
}

export UZRAM_SRCDIR=${UZRAM_SRCDIR:-$(pwd)}
for mode in zero-copy copy; do
	if [ $mode = copy ]; then export UZRAM_NBD_COPY=1; else unset UZRAM_NBD_COPY; fi
	start_server --size 64M --algorithm lz4 --threads 2
	extra=$(pipes_per_connection) || fail "$mode: connecting"
	if [ $mode = zero-copy ] && [ "$extra" = 0 ]; then
		echo "zero-copy: not in use on this kernel (nbd_zc_probe failed): only the copy mode runs"
		stop_server
		continue
	fi
	want=2; [ $mode = copy ] && want=0
	[ "$extra" = "$want" ] || fail "$mode: a connection added $extra pipes, expected $want"
	echo "== $mode: a connection holds $extra pipe descriptors"
	"$PY" "$UZRAM_SRCDIR/tests/nbd_zerocopy.py" "$SOCK" "$seed" "$SERVER_PID" ||
		fail "$mode: checks (seed $seed)"
	stop_server
done
echo "ok"
