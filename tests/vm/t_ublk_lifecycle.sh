#!/bin/bash
# t_ublk_lifecycle.sh - /dev/ublkbN follows zramN's attributes: disksize
# makes it (with that size), hot_add + disksize makes another, reset and
# hot_remove fail with EBUSY while it is open and remove it otherwise. One
# device through ublk and NBD at once is one set of data. A server killed
# with SIGKILL leaves ublk devices that the next server deletes and makes
# anew. The kernel's legacy command numbers (6.0-6.3) and its copy mode
# (one buffer per tag, without UBLK_F_USER_COPY) serve the same data, and
# --read-only makes read-only block devices.
# vm-timeout: 420
. tests/vm/lib.sh
. tests/vm/serve_lib.sh
need blockdev nbdcopy dd cmp
export PATH=/usr/bin:$PATH

size_of() { blockdev --getsize64 "$1"; }
busy() { echo "$1" | grep -q "Device or resource busy"; }

echo "== disksize makes /dev/ublkb0"
start_serve --size 0 --ublk
sleep 1
[ -e /dev/ublkb0 ] && fail "/dev/ublkb0 exists before disksize"
ctl zram0 disksize=64M || fail "disksize"
wait_block /dev/ublkb0
[ "$(size_of /dev/ublkb0)" = $((64 << 20)) ] || fail "ublkb0 size $(size_of /dev/ublkb0)"

echo "== hot_add + disksize makes /dev/ublkb1"
dev=$(ctl --find --size 32M) || fail "ctl --find"
[ "$dev" = zram1 ] || fail "--find gave $dev"
wait_block /dev/ublkb1
[ "$(size_of /dev/ublkb1)" = $((32 << 20)) ] || fail "ublkb1 size $(size_of /dev/ublkb1)"

echo "== reset and hot_remove while open: EBUSY"
exec 5</dev/ublkb1
out=$(ctl zram1 reset=1 2>&1) && fail "reset of an open /dev/ublkb1 succeeded"
busy "$out" || fail "reset: $out"
out=$(ctl --reset zram1 2>&1) && fail "ctl --reset (reset, hot_remove) of an open device succeeded"
busy "$out" || fail "ctl --reset: $out"
[ -b /dev/ublkb1 ] || fail "a refused reset removed /dev/ublkb1"
exec 5<&-
ctl zram1 reset=1 || fail "reset of a closed device"
wait_gone /dev/ublkb1
[ "$(ctl zram1 disksize)" = 0 ] || fail "disksize after reset: $(ctl zram1 disksize)"
ctl zram1 disksize=16M || fail "disksize again"
wait_block /dev/ublkb1
[ "$(size_of /dev/ublkb1)" = $((16 << 20)) ] || fail "ublkb1 size after re-init"

echo "== ublk and NBD: one set of data"
URI="nbd+unix:///zram0?socket=$SOCK"
head -c $((2 << 20)) /dev/urandom >/tmp/a
head -c $((2 << 20)) /dev/urandom >/tmp/b
dd if=/tmp/a of=/dev/ublkb0 bs=1M oflag=direct status=none || fail "write through ublk"
nbdcopy "$URI" /tmp/from-nbd || fail "nbdcopy from NBD"
cmp -n $((2 << 20)) /tmp/a /tmp/from-nbd || fail "NBD does not see what ublk wrote"
nbdcopy /tmp/b "$URI" || fail "nbdcopy to NBD"
dd if=/dev/ublkb0 of=/tmp/from-ublk bs=1M count=2 iflag=direct status=none || fail "read through ublk"
cmp /tmp/b /tmp/from-ublk || fail "ublk does not see what NBD wrote"
echo "written through one, read through the other: identical both ways"

echo "== SIGKILL, then a new server cleans up"
kill -KILL "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null
SERVE_PID=
for _ in $(seq 50); do [ -e /dev/ublkb0 ] || break; sleep 0.2; done
echo "after SIGKILL: $(ls /dev/ublk* | tr '\n' ' ')"
start_serve --size 8M --ublk
wait_block /dev/ublkb0
[ "$(size_of /dev/ublkb0)" = $((8 << 20)) ] || fail "new ublkb0 size"
dd if=/tmp/a of=/dev/ublkb0 bs=1M oflag=direct status=none || fail "write after restart"
dd if=/dev/ublkb0 of=/tmp/back bs=1M count=2 iflag=direct status=none || fail "read after restart"
cmp /tmp/a /tmp/back || fail "data after restart"
grep -q "was left by process" "$VM_OUT/serve.log" && echo "the stale device was deleted"
stop_serve
wait_gone /dev/ublkb0
wait_gone /dev/ublkc1

echo "== legacy command numbers, copy mode"
UZRAM_UBLK_LEGACY_OPCODES=1 start_serve --size 32M --ublk
wait_block /dev/ublkb0
grep -q "ublk (legacy opcodes" "$VM_OUT/serve.log" || fail "legacy opcodes were not used"
dd if=/tmp/a of=/dev/ublkb0 bs=1M oflag=direct status=none || fail "write (copy mode)"
dd if=/tmp/b of=/dev/ublkb0 bs=64k seek=64 oflag=direct status=none || fail "write (copy mode)"
dd if=/dev/ublkb0 of=/tmp/back bs=1M count=2 iflag=direct status=none || fail "read (copy mode)"
cmp /tmp/a /tmp/back || fail "data (copy mode)"
dd if=/dev/ublkb0 of=/tmp/back bs=64k skip=64 count=32 iflag=direct status=none || fail "read"
cmp /tmp/b /tmp/back || fail "data (copy mode, 64k requests)"
stop_serve
wait_gone /dev/ublkb0

echo "== --read-only"
start_serve --size 16M --ublk --read-only
wait_block /dev/ublkb0
[ "$(blockdev --getro /dev/ublkb0)" = 1 ] || fail "/dev/ublkb0 is writable with --read-only"
dd if=/tmp/a of=/dev/ublkb0 bs=1M count=1 oflag=direct status=none 2>/dev/null &&
	fail "a write to a read-only /dev/ublkb0 succeeded"
stop_serve
wait_gone /dev/ublkb0
echo "ublk lifecycle: ok"
