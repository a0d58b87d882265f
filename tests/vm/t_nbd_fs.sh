#!/bin/bash
# t_nbd_fs.sh - /dev/nbd0 through nbd-client, on uzram serve's unix socket
# and on TCP loopback: ext4 (mkfs, a tree copied in, e2fsck -fn clean,
# remounted and compared). And the server's warning when a client of its
# unix socket makes the device swap (swap over NBD can hang under memory
# pressure: docs/swap.md); swapon alone, no pressure.
# vm-timeout: 420
. tests/vm/lib.sh
. tests/vm/serve_lib.sh
need nbd-client mkfs.ext4 e2fsck mkswap diff

SRC=/usr/lib/python3.11
M=/mnt
CLEANUP_HOOK=down
down() {
	mountpoint -q $M && umount $M
	swapoff /dev/nbd0 2>/dev/null
	nbd-client -d /dev/nbd0 >/dev/null 2>&1
}

ext4_round() {	# label
	mkfs.ext4 -q -F /dev/nbd0 || fail "$1: mkfs.ext4"
	mount /dev/nbd0 $M || fail "$1: mount"
	timed "nbd-ext4-copy-$1" cp -a $SRC $M/tree || fail "$1: copying $SRC"
	umount $M || fail "$1: umount"
	e2fsck -fn /dev/nbd0 >"$VM_OUT/fsck-$1.txt" 2>&1 || { cat "$VM_OUT/fsck-$1.txt"; fail "$1: e2fsck -fn"; }
	mount /dev/nbd0 $M || fail "$1: remount"
	diff -r --no-dereference $SRC $M/tree >/dev/null || fail "$1: the tree differs after remount"
	umount $M
	echo "$1: ext4 with a $(du -sm $SRC | cut -f1) MiB tree: fsck clean, identical after remount"
}

start_serve --size 512M --algorithm lz4 --listen 127.0.0.1:10809
nbd-client -unix "$SOCK" -N zram0 -b 4096 /dev/nbd0 >/dev/null || fail "nbd-client (unix)"
wait_block /dev/nbd0
ext4_round unix

echo "== swap on /dev/nbd0: the server warns"
mkswap /dev/nbd0 >/dev/null || fail "mkswap"
swapon /dev/nbd0 || fail "swapon"
for _ in $(seq 100); do grep -q "is swap: swap over NBD can hang" "$VM_OUT/serve.log" && break; sleep 0.2; done
grep "is swap" "$VM_OUT/serve.log" || fail "no warning 20 s after swapon on /dev/nbd0"
swapoff /dev/nbd0 || fail "swapoff"
nbd-client -d /dev/nbd0 >/dev/null || fail "nbd-client -d"

nbd-client 127.0.0.1 10809 -N zram0 -b 4096 /dev/nbd0 >/dev/null || fail "nbd-client (tcp)"
wait_block /dev/nbd0
ext4_round tcp
nbd-client -d /dev/nbd0 >/dev/null || fail "nbd-client -d"
stop_serve
echo "nbd fs: ok"
