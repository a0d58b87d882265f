#!/bin/bash
# t_nbd_fuse.sh - a filesystem on `uzram serve`: nbdfuse exposes the export
# as a file, losetup makes it a block device, then mkfs.ext4, mount, write
# and read files, fstrim, umount, fsck. Needs root and /dev/fuse.
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"
need nbdfuse fusermount3 losetup mkfs.ext4 fsck.ext4 mount umount
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (losetup, mount)"; exit 77; }
[ -c /dev/fuse ] || { echo "SKIP: /dev/fuse is missing"; exit 77; }

start_server --size 256M --algorithm lz4
FUSEDIR=$T/fuse MNT=$T/mnt LOOP= NBDFUSE_PID=
mkdir -p "$FUSEDIR" "$MNT"
fuse_cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	[ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
	mountpoint -q "$FUSEDIR" && fusermount3 -u "$FUSEDIR"
	[ -n "$NBDFUSE_PID" ] && kill "$NBDFUSE_PID" 2>/dev/null
	return 0
}
CLEANUP_HOOK=fuse_cleanup

nbdfuse -P "$T/nbdfuse.pid" "$FUSEDIR/disk" --unix "$SOCK" >"$T/nbdfuse.log" 2>&1 &
NBDFUSE_PID=$!
for _ in $(seq 100); do [ -s "$T/nbdfuse.pid" ] && break; sleep 0.05; done
[ -s "$T/nbdfuse.pid" ] || fail "nbdfuse did not start: $(cat "$T/nbdfuse.log")"
[ "$(stat -c %s "$FUSEDIR/disk")" = 268435456 ] || fail "nbdfuse file size"

LOOP=$(losetup -f --show "$FUSEDIR/disk") || fail "losetup"
echo "loop device $LOOP"
mkfs.ext4 -q -F "$LOOP" || fail "mkfs.ext4"
mount "$LOOP" "$MNT" || fail "mount"
"$PY" - "$MNT" <<'EOF' || fail "writing files"
import os, random, sys
random.seed(3)
for i in range(20):
    data = bytes(random.getrandbits(8) for _ in range(1000)) * (100 + 37 * i)
    with open(os.path.join(sys.argv[1], "f%02d" % i), "wb") as f:
        f.write(data)
EOF
dd if=/dev/urandom of="$MNT/big" bs=1M count=$((24 / SCALE)) conv=fsync status=none || fail "dd"
(cd "$MNT" && sha256sum f* big >"$T/sums")
umount "$MNT" || fail "umount"
fsck.ext4 -f -n "$LOOP" >"$T/fsck.out" 2>&1 || { cat "$T/fsck.out"; fail "fsck after the first mount"; }
mount "$LOOP" "$MNT" || fail "mount again"
(cd "$MNT" && sha256sum -c --quiet "$T/sums") || fail "files differ after remount"
rm "$MNT/big"
fstrim -v "$MNT" || fail "fstrim"
umount "$MNT" || fail "umount"
fsck.ext4 -f -n "$LOOP" >"$T/fsck.out" 2>&1 || { cat "$T/fsck.out"; fail "fsck at the end"; }
losetup -d "$LOOP" && LOOP=
fusermount3 -u "$FUSEDIR" || fail "fusermount3 -u"
wait "$NBDFUSE_PID" 2>/dev/null
NBDFUSE_PID=
CLEANUP_HOOK=
stop_server
echo "PASS"
