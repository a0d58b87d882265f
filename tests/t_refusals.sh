#!/bin/bash
# t_refusals.sh - refused attribute stores leave a trace (issue 20, item 10),
# as the kernel's zram logs why it refuses (pr_info in zram_drv.c):
#   - every store `uzram serve` makes for a client (the control socket, the
#     FUSE tree) that fails is logged on its standard error, one line naming
#     the device, the attribute, the errno and the reason
#     (uzram_store_reason): EBUSY for disksize of an initialised device,
#     EINVAL for an unknown algorithm, EPERM for a backing_dev outside
#     --allow-path; the errno the client gets is unchanged;
#   - each cause is logged once: the same refusal 100 times is one line; the
#     causes remembered are bounded (refusal.h: 128), past the bound one line
#     says so and nothing more is logged, however many new causes arrive;
#   - `uzram ctl` names the fix: --allow-path for an EPERM of backing_dev or
#     algorithm_params, and "no uzram serve answers at PATH ... --control
#     PATH" when nothing listens at the socket (missing, or refused).
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"

ctl() { "$UZRAM" ctl --control "$CTL" "$@"; }
# logged LINE: how many lines of the server's log are LINE exactly
logged() { grep -cxF -- "$1" "$T/server.log"; }
# expect_line LINE WHAT: the line is in the log exactly once
expect_line() {
	local n
	n=$(logged "$1")
	[ "$n" = 1 ] || fail "$2: '$1' logged $n times"
}
# store_many N DEV ATTR VALUE: N stores over one connection; each must fail
store_many() {
	"$PY" - "$CTL" "$@" <<'EOF'
import socket, sys
path, n, dev, attr, val = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = socket.socket(socket.AF_UNIX); s.connect(path)
f = s.makefile("rb")
for _ in range(n):
    s.sendall(("store %s %s %d\n" % (dev, attr, len(val))).encode() + val.encode())
    line = f.readline().decode()
    assert line.startswith("err "), line
EOF
}

mkdir -p "$T/allowed" "$T/elsewhere"
truncate -s 16M "$T/allowed/bd.img" "$T/elsewhere/bd.img"

echo "== the control socket: each refusal logged with its reason"
start_server --size 16M --devices 2 --allow-path "$T/allowed"
out=$(ctl zram0 disksize=32M 2>&1) && fail "disksize of an initialised device was stored"
[ "$out" = "uzram ctl: zram0: disksize: Device or resource busy" ] || fail "ctl said: $out"
expect_line "uzram serve: zram0/disksize: store refused: EBUSY (cannot change disksize for initialized device)" \
	"disksize EBUSY"
out=$(ctl zram1 comp_algorithm=bogus 2>&1) && fail "comp_algorithm=bogus was stored"
[ "$out" = "uzram ctl: zram1: comp_algorithm: Invalid argument" ] || fail "ctl said: $out"
expect_line "uzram serve: zram1/comp_algorithm: store refused: EINVAL (no such algorithm)" \
	"comp_algorithm EINVAL"
out=$(ctl zram1 backing_dev="$T/elsewhere/bd.img" 2>&1) && fail "backing_dev outside --allow-path"
echo "$out"
[[ $out == "uzram ctl: zram1: backing_dev: Operation not permitted"* ]] || fail "ctl said: $out"
[[ $out == *"start it with --allow-path DIR"* ]] || fail "ctl names no fix for EPERM: $out"
expect_line "uzram serve: zram1/backing_dev: store refused: EPERM (path outside the allowed directories)" \
	"backing_dev EPERM"
out=$(ctl zram1 algorithm_params="algo=lzo-rle dict=$T/elsewhere/bd.img" 2>&1) &&
	fail "dict= outside --allow-path"
[[ $out == *"--allow-path DIR"* ]] || fail "ctl names no fix for dict= EPERM: $out"
out=$(ctl zram0 backing_dev="$T/allowed/bd.img" 2>&1) && fail "backing_dev of an initialised device"
[[ $out != *"--allow-path"* ]] || fail "a fix named for EBUSY: $out"
expect_line "uzram serve: zram0/backing_dev: store refused: EBUSY (can't setup backing device for initialized device)" \
	"backing_dev EBUSY"
ctl zram1 backing_dev="$T/allowed/bd.img" || fail "backing_dev below --allow-path"
ctl zram0 mem_limit=8M || fail "mem_limit"
[ "$(grep -c "store refused" "$T/server.log")" = 5 ] ||
	fail "not one line per refusal: $(grep "store refused" "$T/server.log")"

echo "== the same refusal 100 times: one line"
store_many 100 zram0 disksize 32M || fail "100 refused stores"
store_many 100 zram1 comp_algorithm bogus || fail "100 refused stores"
expect_line "uzram serve: zram0/disksize: store refused: EBUSY (cannot change disksize for initialized device)" \
	"disksize EBUSY, 101 times"
expect_line "uzram serve: zram1/comp_algorithm: store refused: EINVAL (no such algorithm)" \
	"comp_algorithm EINVAL, 101 times"
[ "$(grep -c "store refused" "$T/server.log")" = 5 ] || fail "repeated refusals logged again"

echo "== the causes remembered are bounded"
"$PY" - "$CTL" <<'EOF' || fail "stores to missing devices"
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
f = s.makefile("rb")
for i in range(2, 402):		# 400 causes: ENODEV of zram2 ... zram401
    s.sendall(b"store zram%d disksize 3\n16M" % i)
    line = f.readline().decode()
    assert line.startswith("err 19 "), line
EOF
n=$(grep -c "store refused" "$T/server.log")
[ "$n" = 128 ] || fail "$n refusals logged, the bound is 128"
expect_line "uzram serve: 128 kinds of refused stores logged: new kinds are no longer logged" "the bound"
grep -qxF "uzram serve: zram2/disksize: store refused: ENODEV (No such device)" "$T/server.log" ||
	fail "no line for zram2's ENODEV"
ctl zram1 compact=1 2>/dev/null && fail "compact of an uninitialised device"
grep -q "zram1/compact" "$T/server.log" && fail "a new cause logged past the bound"
[ "$(wc -l <"$T/server.log")" -le 140 ] || fail "the log grew past the bound: $(wc -l <"$T/server.log") lines"
stop_server

echo "== ctl: nothing answers at the socket"
out=$("$UZRAM" ctl --control "$T/nosuch.sock" 2>&1) && fail "ctl without a server"
echo "$out"
[ "$out" = "uzram ctl: $T/nosuch.sock: No such file or directory
uzram ctl: no uzram serve answers at $T/nosuch.sock; start one, or point uzram ctl at it with --control PATH" ] ||
	fail "missing socket: $out"
"$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/dead.sock"
out=$("$UZRAM" ctl --control "$T/dead.sock" 2>&1) && fail "ctl on a dead socket"
[[ $out == *"Connection refused"*"no uzram serve answers at $T/dead.sock;"*"--control PATH" ]] ||
	fail "refused socket: $out"

if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ] && command -v mountpoint >/dev/null; then
	echo "== the FUSE tree: the same lines, once"
	mkdir -p "$T/mnt"
	CLEANUP_HOOK=unmount_tree
	unmount_tree() { mountpoint -q "$T/mnt" && umount -l "$T/mnt"; }
	start_server --size 16M --devices 2 --mount "$T/mnt"
	for _ in $(seq 100); do mountpoint -q "$T/mnt" && break; sleep 0.05; done
	mountpoint -q "$T/mnt" || fail "the FUSE tree is not mounted"
	for _ in $(seq 100); do
		echo 32M 2>/dev/null >"$T/mnt/zram0/disksize" && fail "FUSE disksize of an initialised device"
	done
	out=$( (echo bogus >"$T/mnt/zram1/comp_algorithm") 2>&1) && fail "FUSE comp_algorithm=bogus"
	[[ $out == *"Invalid argument"* ]] || fail "FUSE comp_algorithm errno: $out"
	expect_line "uzram serve: zram0/disksize: store refused: EBUSY (cannot change disksize for initialized device)" \
		"FUSE disksize EBUSY, 100 times"
	expect_line "uzram serve: zram1/comp_algorithm: store refused: EINVAL (no such algorithm)" \
		"FUSE comp_algorithm EINVAL"
	out=$("$UZRAM" ctl --sysfs "$T/mnt" zram1 backing_dev="$T/allowed/bd.img" 2>&1) &&
		fail "FUSE backing_dev without --allow-path"
	[[ $out == *"Operation not permitted"*"start it with --allow-path DIR"* ]] ||
		fail "ctl --sysfs names no fix for EPERM: $out"
	expect_line "uzram serve: zram1/backing_dev: store refused: EPERM (path outside the allowed directories)" \
		"FUSE backing_dev EPERM"
	stop_server
	CLEANUP_HOOK=
	mountpoint -q "$T/mnt" && fail "FUSE tree left mounted"
else
	echo "(FUSE checks skipped: not root or no /dev/fuse)"
fi
echo "t_refusals: done"
