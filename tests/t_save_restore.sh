#!/bin/bash
# t_save_restore.sh - images through the program (docs/image.md):
#   - `uzram ctl zramN --save FILE` through the control socket, and
#     `--restore FILE` into another (reset) device: the data read back over
#     NBD is identical, mm_stat's orig, compr, same and huge are equal, the
#     server logs both;
#   - refusals: a path outside --allow-path (EPERM, ctl names the fix, no
#     file made), a restore onto an initialised device, a truncated and a
#     corrupted image (the reason reaches ctl; the device stays reset),
#     --sysfs (no such operation);
#   - crash safety: while a big device is saved, FILE never exists until
#     the whole image is there; a server killed with SIGKILL in the middle
#     of a save leaves the previous FILE as it was;
#   - `uzram serve --restore zram0=FILE` at start serves the saved data;
#     an image it refuses stops it (exit 1) with the reason.
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"
need nbdcopy

ctl() { "$UZRAM" ctl --control "$CTL" "$@"; }
mm() { ctl "$1" mm_stat | awk '{ print $1, $2, $6, $8 }'; }
initstate() { ctl "$1" initstate; }

mkdir -p "$T/ok"
# 48 MiB of data: programs (compressible), random bytes (huge), zeros
# (nbdcopy leaves them unwritten)
{ cat /usr/bin/* 2>/dev/null | head -c $((24 << 20)); head -c $((16 << 20)) /dev/urandom
  head -c $((8 << 20)) /dev/zero; } >"$T/data"

echo "== save through the control socket, restore into another device"
start_server --size 64M --algorithm lz4 --devices 3 --allow-path "$T/ok"
nbdcopy "$T/data" "$URI" || fail "nbdcopy in"
ctl zram0 --save "$T/ok/a.img" || fail "save"
grep -q "zram0 saved to $T/ok/a.img" "$T/server.log" || fail "the save is not logged"
[ "$(stat -c %a "$T/ok/a.img")" = 600 ] || fail "the image is not mode 0600"
ls -A "$T/ok" | grep -q '\.tmp$' && fail "a temporary file is left"
(cd "$T/ok" && ctl zram1 --restore a.img) || fail "restore (a relative name)"
grep -q "zram1 restored from $T/ok/a.img" "$T/server.log" || fail "the restore is not logged"
[ "$(mm zram0)" = "$(mm zram1)" ] || fail "mm_stat: $(mm zram0) vs $(mm zram1)"
nbdcopy "nbd+unix:///zram1?socket=$SOCK" "$T/back1" || fail "nbdcopy out"
cmp -n $((48 << 20)) "$T/data" "$T/back1" || fail "zram1 differs from what zram0 held"
[ "$(ctl zram1 comp_algorithm)" = "lzo-rle lzo [lz4] lz4hc zstd deflate 842 " ] ||
	fail "zram1's algorithm: $(ctl zram1 comp_algorithm)"

echo "== refusals"
out=$(ctl zram0 --save "$T/outside.img" 2>&1) && fail "a save outside --allow-path"
[[ $out == *"Operation not permitted"* && $out == *"--allow-path DIR"* ]] || fail "ctl said: $out"
[ ! -e "$T/outside.img" ] || fail "a file was made outside --allow-path"
cp "$T/ok/a.img" "$T/outside.img"
out=$(ctl zram2 --restore "$T/outside.img" 2>&1) && fail "a restore outside --allow-path"
[[ $out == *"Operation not permitted"* ]] || fail "ctl said: $out"
out=$(ctl zram1 --restore "$T/ok/a.img" 2>&1) && fail "a restore onto an initialised device"
[[ $out == *"reset it first"* ]] || fail "ctl said: $out"
head -c 100000 "$T/ok/a.img" >"$T/ok/trunc.img"
out=$(ctl zram2 --restore "$T/ok/trunc.img" 2>&1) && fail "a truncated image restored"
[ "$out" = "uzram ctl: zram2: --restore $T/ok/trunc.img: image truncated: Invalid argument" ] ||
	fail "ctl said: $out"
[ "$(initstate zram2)" = 0 ] || fail "zram2 is not reset after a refused restore"
cp "$T/ok/a.img" "$T/ok/bad.img"
printf 'X' | dd of="$T/ok/bad.img" bs=1 seek=300000 conv=notrunc status=none
out=$(ctl zram2 --restore "$T/ok/bad.img" 2>&1) && fail "a corrupted image restored"
[[ $out == *"checksum mismatch: Bad message" ]] || fail "ctl said: $out"
[ "$(initstate zram2)" = 0 ] || fail "zram2 is not reset after a refused restore"
out=$("$UZRAM" ctl --sysfs "$T" zram0 --save "$T/ok/x.img" 2>&1) && fail "--save with --sysfs"
[[ $out == *"control socket of uzram serve only"* ]] || fail "ctl said: $out"
out=$(ctl zram0 --save "$T/ok/x.img" --reset 2>&1) && fail "--save with --reset"

echo "== crash safety: FILE is the old image or the whole new one"
# watch TARGET: until ctl's save ends, TARGET must not exist while a
# temporary file does; with KILL, SIGKILL the server once the temporary
# file appears.
watch() {
	"$PY" - "$T/ok" "$1" "$2" "$SERVER_PID" <<'PY'
import os, signal, sys, time
d, target, mode, pid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
deadline, seen = time.time() + 60, False
while time.time() < deadline:
    # the target first: seen there before the temporary file is listed,
    # both existed at once (the temporary file is renamed only once)
    exists = os.path.exists(os.path.join(d, target))
    tmp = [n for n in os.listdir(d) if n.startswith('.' + target + '.') and n.endswith('.tmp')]
    if tmp:
        seen = True
        if mode == 'kill':
            os.kill(pid, signal.SIGKILL)
            sys.exit(0)
        if exists:
            sys.exit('%s exists while %s is being written' % (target, tmp[0]))
    elif seen:
        sys.exit(0)
sys.exit('no temporary file seen' if not seen else 'the save did not end')
PY
}
stop_server
start_server --size 1G --algorithm lz4 --allow-path "$T/ok"
head -c $((300 << 20)) /dev/urandom >"$T/big"
nbdcopy "$T/big" "$URI" || fail "nbdcopy in"
watch b.img check & W=$!
ctl zram0 --save "$T/ok/b.img" || fail "save of a big device"
wait $W || fail "the watcher saw half an image"
cp "$T/ok/b.img" "$T/b.old"
nbdcopy "$T/data" "$URI" || fail "nbdcopy in"
watch b.img kill & W=$!
ctl zram0 --save "$T/ok/b.img" 2>/dev/null && fail "the save ended before the kill"
wait $W || fail "the killer"
wait "$SERVER_PID"; SERVER_PID=
cmp "$T/ok/b.img" "$T/b.old" || fail "a killed save changed the previous image"
rm -f "$T/ok"/.b.img.*.tmp "$SOCK" "$CTL" "$T/big" "$T/b.old"

echo "== serve --restore"
start_server --restore zram0="$T/ok/a.img" --devices 2
grep -q "zram0 restored from $T/ok/a.img: [0-9.]*M of data, lz4, in " "$T/server.log" ||
	fail "the restore at start is not said"
nbdcopy "$URI" "$T/back0" || fail "nbdcopy out"
cmp -n $((48 << 20)) "$T/data" "$T/back0" || fail "the restored zram0 differs"
stop_server
"$UZRAM" serve --socket "$T/nbd.sock" --control "$T/ctl.sock" \
	--restore zram0="$T/ok/bad.img" 2>"$T/refused.log" && fail "serve started with a bad image"
grep -q "^uzram serve: --restore zram0=$T/ok/bad.img: Bad message (image slot chunk checksum mismatch)$" \
	"$T/refused.log" || fail "serve said: $(cat "$T/refused.log")"
out=$("$UZRAM" serve --restore zram0 2>&1) && fail "--restore zram0 without a file"
[[ $out == *"not zramN=FILE"* ]] || fail "serve said: $out"
echo "PASS"
