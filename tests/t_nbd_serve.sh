#!/bin/bash
# t_nbd_serve.sh - `uzram serve` as a daemon: option errors, sockets (stale
# and live), --devices, --size 0, --threads, --mlock (IO_FLUSHER on every
# thread, or the warning without CAP_SYS_RESOURCE), --reserve, --ublk without
# the driver (the kernel side is the VM suite's), SIGINT, and SIGTERM
# with requests in flight (they are finished and answered, then exit 0),
# and the buffer cache released once idle.
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"
need nbdinfo nbdsh

echo "== option errors name the option and the reason"
check_err() {	# WANT_RC PATTERN ARGS...
	local want=$1 pat=$2 out rc
	shift 2
	out=$(timeout 10 "$UZRAM" serve --socket "$T/x.sock" --control "$T/x.ctl" "$@" 2>&1 </dev/null)
	rc=$?
	[ "$rc" = "$want" ] || fail "serve $*: exit $rc, expected $want ($out)"
	[[ $out == *$pat* ]] || fail "serve $*: '$out' lacks '$pat'"
	[ ! -e "$T/x.sock" ] || fail "serve $*: left its socket"
}
check_err 2 "--tls=on needs --tls-certificates DIR or --tls-psk FILE" --tls=on
check_err 2 "--tls=maybe: one of off, on, require" --tls=maybe
if timeout 10 "$UZRAM" serve --tls-psk /dev/null --socket "$T/x.sock" 2>&1 | grep -q "not available in this build"; then
	check_err 1 "TLS is not available in this build" --tls-psk "$T/psk"
else
	check_err 1 "TLS: $T/psk: No such file or directory" --tls-psk "$T/psk"
	check_err 1 "TLS: $T/nocerts/server-cert.pem: No such file" --tls=require --tls-certificates "$T/nocerts"
fi
check_err 2 "--max-connections 0" --max-connections 0
check_err 1 "--allow-path $T/nodir: no such directory" --allow-path "$T/nodir"
touch "$T/afile"
check_err 1 "--allow-path $T/afile: not a directory" --allow-path "$T/afile"
check_err 2 "unknown option '--bogus'" --bogus
check_err 2 "--threads" --threads many
check_err 2 "--devices 0" --devices 0
check_err 1 "--algorithm nosuch: unknown algorithm" --algorithm nosuch
check_err 1 "--size 1Q: not a size" --size 1Q
check_err 1 "--size 1G5" --size 1G5
check_err 1 "--listen 127.0.0.1:notaport" --listen 127.0.0.1:notaport
"$UZRAM" serve --help | grep -q -- "--read-only" || fail "serve --help"
touch "$T/plain"
out=$(timeout 10 "$UZRAM" serve --socket "$T/plain" 2>&1) && fail "served on a regular file"
[[ $out == *"exists and is not a socket"* ]] || fail "regular file at --socket: '$out'"

echo "== a stale socket is replaced; a live one is refused"
"$PY" -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind('$T/nbd.sock')"
[ -S "$T/nbd.sock" ] || fail "could not make a stale socket"
start_server --size 64M --devices 3 --size 0 --threads 1
out=$(timeout 10 "$UZRAM" serve --socket "$SOCK" --control "$T/other.ctl" 2>&1) && fail "second server on a live socket"
[[ $out == *"another server is listening"* ]] || fail "live socket: '$out'"
[ -S "$SOCK" ] || fail "the refused server removed the live socket"

echo "== --size 0: no exports until a device is initialised"
nbdinfo --list "$URI" 2>&1 | grep -q 'export="zram' && fail "an uninitialised device is listed"
nbdinfo --size "$URI" >/dev/null 2>&1 && fail "uninitialised zram0 served"
[ "$(ctl_request list | wc -l)" = 3 ] || fail "--devices 3"
ctl_request store zram2 disksize 8M >/dev/null || fail "init zram2"
[ "$(nbdinfo --size "nbd+unix:///zram2?socket=$SOCK")" = 8388608 ] || fail "zram2 not served"
ctl_request store zram-control hot_remove 2 >/dev/null || fail "hot_remove of an unused device"
nbdinfo --size "nbd+unix:///zram2?socket=$SOCK" >/dev/null 2>&1 && fail "a removed device is served"
out=$(ctl_request show zram-control hot_add) || fail "hot_add"
[ "$out" = 2 ] || fail "hot_add gave '$out', not the lowest free id 2"

echo "== an open export cannot be reset or removed"
mkfifo "$T/hold.in"
$NBDSH -c "
h.connect_uri('nbd+unix:///zram1?socket=$SOCK')
" >/dev/null 2>&1 && fail "uninitialised zram1 served"
ctl_request store zram1 disksize 8M >/dev/null || fail "init zram1"
$NBDSH -u "nbd+unix:///zram1?socket=$SOCK" -c 'import sys; print("open", flush=True); sys.stdin.readline()' \
	<"$T/hold.in" >"$T/hold.out" 2>&1 &
HOLD=$!
exec 8>"$T/hold.in"
for _ in $(seq 100); do grep -q open "$T/hold.out" && break; sleep 0.05; done
out=$(ctl_request store zram1 reset 1) && fail "reset of an open device succeeded"
[[ $out == "err 16 "* ]] || fail "reset while open: '$out'"
exec 8>&-
wait "$HOLD"
ctl_request store zram1 reset 1 >/dev/null || fail "reset after close"
stop_server

echo "== mem_limit reached: writes fail with ENOSPC, earlier data stays"
start_server --size 64M
ctl_request store zram0 mem_limit 2M >/dev/null || fail "store mem_limit"
$NBDSH -u "$URI" -c '
import os
h.pwrite(b"keep" * 1024, 0)
try:
    for i in range(64):
        h.pwrite(os.urandom(1 << 20), (1 + i) << 20)
    raise SystemExit("64 MiB of random data fit in a 2 MiB mem_limit")
except nbd.Error as e:
    assert e.errno == "ENOSPC", e.errno
assert h.pread(4096, 0) == b"keep" * 1024
' || fail "mem_limit"
stop_server

echo "== --mlock locks the server's memory"
start_server --size 16M --mlock
# (The sanitizers' runtimes turn mlockall into a no-op.)
if [ -z "${SAN:-}" ]; then
	grep -q "^VmLck:[[:space:]]*[1-9]" "/proc/$SERVER_PID/status" || fail "--mlock: VmLck is 0"
fi
# PR_SET_IO_FLUSHER and the OOM score need CAP_SYS_RESOURCE (bit 24):
# with it every thread carries IO_FLUSHER, without it the server says it
# is not safe to back swap.
if (( 0x$(awk '/^CapEff/ { print $2 }' /proc/self/status) & (1 << 24) )); then
	grep -q "memory locked, PR_SET_IO_FLUSHER" "$T/server.log" || fail "--mlock: no summary line"
	for t in /proc/"$SERVER_PID"/task/*; do
		flags=$(sed 's/.*) //' "$t/stat" | awk '{ print $7 }')
		(( (flags & 0x180000) == 0x180000 )) || fail "--mlock: thread $t lacks IO_FLUSHER"
	done
else
	grep -q "PR_SET_IO_FLUSHER.*not safe to back swap" "$T/server.log" ||
		fail "--mlock without CAP_SYS_RESOURCE: no warning"
fi
kill -INT "$SERVER_PID"
server_exited "after SIGINT"

echo "== --reserve takes the pool's memory at start"
start_server --size 32M --reserve 8M
grep -q "zram0: pool memory reserved and locked" "$T/server.log" || fail "--reserve: no line"
rss=$(awk '/^VmRSS/ { print $2 }' /proc/"$SERVER_PID"/status)
[ "$rss" -ge 8192 ] || fail "--reserve 8M: VmRSS is $rss kB"
stop_server
"$UZRAM" serve --socket "$T/r.sock" --reserve 8Q 2>"$T/err" && fail "--reserve 8Q accepted"
grep -q "reserve 8Q: not a size" "$T/err" || fail "--reserve 8Q: $(cat "$T/err")"

echo "== --ublk without the kernel's ublk driver says how to get it"
if [ -e /dev/ublk-control ]; then
	echo "(this kernel has ublk: the VM suite tests it)"
else
	"$UZRAM" serve --socket "$T/u.sock" --size 16M --ublk 2>"$T/err" && fail "--ublk started without ublk"
	grep -q "modprobe ublk_drv" "$T/err" || fail "--ublk: $(cat "$T/err")"
	[ -e "$T/u.sock" ] && fail "--ublk failed but left its socket"
fi

echo "== without --control, the control socket is control.sock beside the NBD socket"
mkdir "$T/d"
"$UZRAM" serve --socket "$T/d/my.sock" --size 16M 2>"$T/server.log" &
SERVER_PID=$!
SOCK=$T/d/my.sock CTL=$T/d/control.sock
for _ in $(seq 100); do [ -S "$CTL" ] && break; sleep 0.05; done
[ "$(ctl_request show zram0 disksize)" = 16777216 ] || fail "control socket beside --socket"
grep -q "control socket $CTL" "$T/server.log" || fail "control path not printed"
stop_server

echo "== SIGTERM with requests in flight: all answered, then exit 0"
start_server --size 256M --algorithm zstd --threads 1
"$PY" - "$SRCDIR/tests" "$SOCK" "$SERVER_PID" <<'EOF' || fail "drain on SIGTERM"
import os, random, signal, struct, sys, time
sys.path.insert(0, sys.argv[1])
import nbd_raw
r = nbd_raw.Raw(sys.argv[2])
r.go()
random.seed(1)
words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta", b"eta", b"theta"]
n, size = 12, 4 << 20
for i in range(n):
    data = b" ".join(random.choice(words) for _ in range(size // 4))[:size]
    r.req(nbd_raw.CMD_WRITE, i * size, size, cookie=100 + i, payload=data)
got = set()
cookie, err, _ = r.reply()
assert err == 0
got.add(cookie)
os.kill(int(sys.argv[3]), signal.SIGTERM)     # while the rest are in flight
while len(got) < n:
    cookie, err, _ = r.reply()
    assert err == 0, err
    got.add(cookie)
assert got == set(range(100, 100 + n)), got
assert r.is_closed(), "connection not closed after the drain"
print("all %d writes answered after SIGTERM" % n)
EOF
server_exited "after SIGTERM with requests in flight"

echo "== request buffers left by ended connections are unmapped after 2 s unused"
need nbdcopy
start_server --size 64M --algorithm lz4
head -c 64M /dev/urandom >"$T/data.img"
nbdcopy "$T/data.img" "$URI" || fail "nbdcopy write"
nbdcopy --no-extents "$URI" null: || fail "nbdcopy read"
cached=$(server_rss_kb)
sleep 3
trimmed=$(server_rss_kb)
echo "RSS after nbdcopy in and out ${cached} kB, 3 s later ${trimmed} kB"
# nbdcopy keeps 64 requests of 256 KiB in flight: 16 MiB of buffers cached.
[ $((cached - trimmed)) -ge $((12 * 1024)) ] || fail "buffer cache not released (${cached} -> ${trimmed} kB)"
stop_server

echo "== the default socket path"
if [ "$(id -u)" = 0 ] && [ ! -e /run/uzram/nbd.sock ] && [ ! -e /run/uzram/control.sock ]; then
	"$UZRAM" serve --size 16M 2>"$T/server.log" &
	SERVER_PID=$!
	for _ in $(seq 100); do [ -S /run/uzram/nbd.sock ] && break; sleep 0.05; done
	grep -q "/run/uzram/nbd.sock" "$T/server.log" || fail "default path not printed"
	[ "$(nbdinfo --size "nbd+unix:///?socket=/run/uzram/nbd.sock")" = 16777216 ] || fail "default socket"
	[ -S /run/uzram/control.sock ] || fail "default control socket"
	SOCK=/run/uzram/nbd.sock CTL=/run/uzram/control.sock
	stop_server
else
	echo "(skipped: not root, or a server already uses /run/uzram)"
fi
echo "PASS"
