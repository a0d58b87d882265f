# nbd_common.sh - sourced by the t_nbd_*.sh tests of `uzram serve`.
#
#   need CMD...             skip the test (exit 77) when a client is missing
#   start_server ARGS...    `uzram serve --socket $T/nbd.sock --control $T/ctl.sock ARGS`
#                           in the background; SERVER_PID, SOCK, CTL, URI are set
#   stop_server             SIGTERM by PID; fails unless it exits 0 and removes its sockets
#   server_exited WHEN      the same checks, for a SIGTERM the test sent itself
#   start_witness MIB       a connection held open through the test (nbdsh):
#                           writes at MIB MiB now, checks and writes again at the end
#   check_witness           ends it; fails unless it noticed nothing
#   server_rss_kb           VmRSS of the server
#   server_tcp_port         the port of --listen 127.0.0.1:0
#   serve_usage_error EXPECTED ARGS...
#                           `uzram serve ARGS` must exit 2 printing exactly
#                           "uzram serve: EXPECTED" and the pointer to --help
#   fail MSG                print and exit 1
#
# Everything lives in the temporary directory $T; the EXIT trap stops a server
# still running (by PID) and runs the test's own cleanup (CLEANUP_HOOK).
set -u
UZRAM=${UZRAM:?UZRAM must name the uzram binary}
SRCDIR=${UZRAM_SRCDIR:-$(pwd)}
PY=/usr/bin/python3
# The pyenv python first on PATH lacks libnbd's module.
NBDSH="env PATH=/usr/bin:$PATH nbdsh"
export T; T=$(mktemp -d /tmp/uzram-nbd-test.XXXXXX)
export SERVER_PID=
CLEANUP_HOOK=
# Sanitizer builds are several times slower: tests scale down.
if [ -n "${SAN:-}" ]; then SCALE=4; else SCALE=1; fi

fail() {
	echo "FAIL: $*" >&2
	[ -f "$T/server.log" ] && { echo "--- server log:"; tail -n 30 "$T/server.log"; } >&2
	exit 1
}

need() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || { echo "SKIP: $c is not installed"; exit 77; }
	done
}

_cleanup() {
	local rc=$?
	[ -n "$CLEANUP_HOOK" ] && $CLEANUP_HOOK
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SERVER_PID" 2>/dev/null
	fi
	rm -rf "$T"
	exit $rc
}
trap _cleanup EXIT

start_server() {
	SOCK=$T/nbd.sock
	CTL=$T/ctl.sock
	URI="nbd+unix:///zram0?socket=$SOCK"
	"$UZRAM" serve --socket "$SOCK" --control "$CTL" "$@" 2>"$T/server.log" &
	SERVER_PID=$!
	for _ in $(seq 100); do
		[ -S "$SOCK" ] && [ -S "$CTL" ] && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || fail "uzram serve $* exited at start"
		sleep 0.05
	done
	fail "uzram serve $*: no socket after 5 s"
}

stop_server() {
	kill -TERM "$SERVER_PID" || fail "server (pid $SERVER_PID) is gone before SIGTERM"
	server_exited "after SIGTERM"
}

# server_exited WHEN: wait for the server a SIGTERM was sent to; it must
# exit 0 and remove its sockets.
server_exited() {
	local rc
	wait "$SERVER_PID"
	rc=$?
	SERVER_PID=
	[ $rc = 0 ] || fail "uzram serve exited $rc $1"
	[ ! -e "$SOCK" ] || fail "NBD socket $SOCK left behind"
	[ ! -e "$CTL" ] || fail "control socket $CTL left behind"
}

server_rss_kb() {
	awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status"
}

# The port of a server started with --listen 127.0.0.1:0.
server_tcp_port() {
	local port
	port=$(sed -n 's/.*NBD on tcp 127.0.0.1:\([0-9]*\).*/\1/p' "$T/server.log" | head -1)
	[ -n "$port" ] || fail "no TCP port in the server's log"
	echo "$port"
}

# ctl_request VERB [DEV ATTR [VALUE]]: one control-socket request; prints the
# payload, or "err N message" (exit 1).
ctl_request() {
	"$PY" - "$CTL" "$@" <<'EOF'
import socket, sys
path, verb, args = sys.argv[1], sys.argv[2], sys.argv[3:]
s = socket.socket(socket.AF_UNIX); s.connect(path)
if verb == "store":
    val = args[2].encode()
    s.sendall(("store %s %s %d\n" % (args[0], args[1], len(val))).encode() + val)
else:
    s.sendall((" ".join([verb] + args) + "\n").encode())
f = s.makefile("rb")
line = f.readline().decode()
if line.startswith("ok "):
    sys.stdout.write(f.read(int(line[3:])).decode())
    sys.exit(0)
sys.stdout.write(line)
sys.exit(1)
EOF
}

# The witness: one nbdsh connection that stays open while a test does bad
# things to the server, and must notice none of them. It sets CLEANUP_HOOK
# (a test that needs more cleanup calls witness_cleanup from its own hook).
start_witness() {
	local off=$1
	mkfifo "$T/witness.in"
	$NBDSH -u "$URI" -c '
import sys
off = '"$off"' << 20
h.pwrite(b"W" * 65536, off)
sys.stdout.write("ready\n"); sys.stdout.flush()
sys.stdin.readline()                       # wait for the end of the test
assert h.pread(65536, off) == b"W" * 65536
h.pwrite(b"V" * 4096, off + (1 << 20))
assert h.pread(4096, off + (1 << 20)) == b"V" * 4096
print("witness ok")
' <"$T/witness.in" >"$T/witness.out" 2>&1 &
	WITNESS=$!
	exec 9>"$T/witness.in"
	CLEANUP_HOOK=witness_cleanup
	for _ in $(seq 100); do grep -q ready "$T/witness.out" 2>/dev/null && break; sleep 0.05; done
	grep -q ready "$T/witness.out" || fail "witness did not start: $(cat "$T/witness.out")"
}

witness_cleanup() { exec 9>&- 2>/dev/null; kill "$WITNESS" 2>/dev/null; }

check_witness() {
	exec 9>&-
	wait "$WITNESS" || fail "witness connection broke: $(cat "$T/witness.out")"
	grep -q "witness ok" "$T/witness.out" || fail "witness: $(cat "$T/witness.out")"
	CLEANUP_HOOK=
}

serve_usage_error() {	# EXPECTED ARGS...
	local want=$1 out rc
	shift
	out=$(timeout 10 "$UZRAM" serve --socket "$T/u.sock" --control "$T/u.ctl" "$@" 2>&1 </dev/null); rc=$?
	[ $rc = 2 ] || fail "serve $*: exit $rc, not 2: $out"
	[ "$out" = "uzram serve: $want
Try 'uzram serve --help' for more information." ] || fail "serve $*: $out"
	echo "serve $*: ${out%%$'\n'*}"
}
