#!/bin/bash
# t_ublk_fs.sh - /dev/ublkb0 as a disk: ext4 (mkfs, a tree copied in,
# e2fsck -fn clean, remounted and compared), fio verify (randrw, 4k-256k,
# 4 jobs, crc32c: 0 errors), BLKDISCARD freeing the pool (mm_stat), BLKZEROOUT
# (write-zeroes) reading back zeros, reset while mounted refused (EBUSY), and
# SIGTERM taking /dev/ublkb0 away.
# vm-timeout: 480
. tests/vm/lib.sh
. tests/vm/serve_lib.sh
need mkfs.ext4 e2fsck fio blkdiscard blockdev cmp diff

SRC=/usr/lib/python3.11
M=/mnt
CLEANUP_HOOK=unmount
unmount() { mountpoint -q $M && umount $M; }

start_serve --size 512M --algorithm lz4 --ublk
wait_block /dev/ublkb0
[ "$(blockdev --getsize64 /dev/ublkb0)" = $((512 << 20)) ] || fail "size $(blockdev --getsize64 /dev/ublkb0)"
Q=/sys/block/ublkb0/queue
echo "queue: lbs $(cat $Q/logical_block_size) pbs $(cat $Q/physical_block_size)" \
	"discard_granularity $(cat $Q/discard_granularity) rotational $(cat $Q/rotational)" \
	"write_cache $(cat $Q/write_cache) write_zeroes_max $(cat $Q/write_zeroes_max_bytes)"
[ "$(cat $Q/logical_block_size)" = 4096 ] || fail "logical block size is not zram's 4096"
[ "$(cat $Q/physical_block_size)" = 4096 ] || fail "physical block size is not 4096"
[ "$(cat $Q/discard_granularity)" = 4096 ] || fail "discard granularity is not 4096"
[ "$(cat $Q/rotational)" = 0 ] || fail "rotational"
[ "$(cat $Q/write_zeroes_max_bytes)" -gt 0 ] || fail "no write-zeroes"

echo "== ext4"
mkfs.ext4 -q -F /dev/ublkb0 || fail "mkfs.ext4"
mount /dev/ublkb0 $M || fail "mount"
timed ublk-ext4-copy cp -a $SRC $M/tree || fail "copying $SRC"
out=$(ctl zram0 reset=1 2>&1) && fail "reset of a mounted device succeeded"
echo "reset while mounted: $out"
echo "$out" | grep -q "Device or resource busy" || fail "reset while mounted: $out (not EBUSY)"
umount $M || fail "umount"
e2fsck -fn /dev/ublkb0 || fail "e2fsck -fn found errors"
mount /dev/ublkb0 $M || fail "remount"
diff -r --no-dereference $SRC $M/tree >/dev/null || fail "the tree differs after remount"
echo "tree of $(du -sm $M/tree | cut -f1) MiB: identical after remount, fsck clean"
umount $M
echo "mm_stat with ext4: $(ctl zram0 mm_stat)"

echo "== fio verify"
# 4 x 24 MiB of fio's incompressible data: the VM has no swap, and the
# server holding more than its RAM would be the OOM killer's choice.
blkdiscard -f /dev/ublkb0 || fail "blkdiscard"
timed ublk-fio-verify fio --name=verify --filename=/dev/ublkb0 --rw=randrw --bsrange=4k-256k \
	--numjobs=4 --size=24M --offset_increment=32M --verify=crc32c --ioengine=libaio \
	--iodepth=16 --direct=1 --group_reporting >"$VM_OUT/fio-verify.txt" 2>&1 ||
	{ cat "$VM_OUT/fio-verify.txt"; fail "fio verify failed"; }
grep -q 'err= 0' "$VM_OUT/fio-verify.txt" || { cat "$VM_OUT/fio-verify.txt"; fail "fio errors"; }
grep -E 'err=|READ:|WRITE:' "$VM_OUT/fio-verify.txt"

echo "== discard"
dd if=/dev/urandom of=/dev/ublkb0 bs=1M count=64 oflag=direct status=none || fail "dd"
set -- $(ctl zram0 mm_stat)
before=$1 used=$3
blkdiscard -f /dev/ublkb0 || fail "blkdiscard"
set -- $(ctl zram0 mm_stat)
echo "orig_data_size $before -> $1, mem_used_total $used -> $3"
[ "$1" = 0 ] || fail "orig_data_size $1 after discarding the whole device"
[ "$3" -lt $((used / 4)) ] || fail "mem_used_total $3: the discard freed little of $used"

echo "== write-zeroes"
dd if=/dev/urandom of=/dev/ublkb0 bs=1M count=16 oflag=direct status=none || fail "dd"
blkdiscard -f -z -o 0 -l $((16 << 20)) /dev/ublkb0 || fail "blkdiscard -z (BLKZEROOUT)"
dd if=/dev/ublkb0 of=/tmp/zeroed bs=1M count=16 iflag=direct status=none || fail "dd"
cmp -n $((16 << 20)) /dev/zero /tmp/zeroed || fail "the zeroed range does not read back as zeros"
echo "16 MiB zeroed: reads back zeros"

echo "== SIGTERM"
stop_serve
wait_gone /dev/ublkb0
echo "ublk fs: ok"
