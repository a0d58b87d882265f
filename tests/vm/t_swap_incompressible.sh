#!/bin/bash
# t_swap_incompressible.sh - swap that cannot hold what is pushed into it:
# memfill writes 3 x the VM's RAM of incompressible data. The kernel's zram
# (the control, same VM) ends it by the OOM killer once its pool has taken
# the RAM. On /dev/ublkb0 the pool's reserve runs out, writes fail as the
# kernel's zram writes fail when zs_malloc does, and the kernel must cope:
# memfill has to end (killed, or done) within 60 s, with no hung task (the
# runner checks the console), and the server must be alive and consistent
# afterwards: it answers, swapoff reads back what it holds, and data written
# through /dev/ublkb0 reads back. The server is configured as for
# t_swap_compressible (a reserve of half the RAM): how long the kernel takes
# to give up grows with the memory left to the program, which kswapd scans
# 16 times over, each page a failing write (docs/swap.md).
# vm-timeout: 480
. tests/vm/lib.sh
. tests/vm/serve_lib.sh
need mkswap swapon swapoff timeout dd cmp

mib=$((VM_MEM_MB * 3))
Z=/sys/block/zram0

echo "== control: the kernel's zram"
echo lz4 >$Z/comp_algorithm || fail "the kernel's zram has no lz4"
echo 1G >$Z/disksize || fail "zram0 disksize"
swap_memfill /dev/zram0 swap-incompressible-kernel-zram random "$mib" 60
echo "kernel zram: memfill rc $MEMFILL_RC after $MEMFILL_SECS s"
[ "$MEMFILL_RC" = 124 ] || [ "$MEMFILL_SECS" -gt 60 ] && fail "kernel zram: memfill ran more than 60 s"
echo 1 >$Z/reset || fail "zram0 reset"

echo "== uzram: /dev/ublkb0"
start_serve --size 1G --algorithm lz4 --ublk --mlock --reserve 128M
wait_block /dev/ublkb0
swap_memfill /dev/ublkb0 swap-incompressible-ublk random "$mib" 60
echo "ublk: memfill rc $MEMFILL_RC after $MEMFILL_SECS s"
[ "$MEMFILL_RC" = 124 ] || [ "$MEMFILL_SECS" -gt 60 ] && fail "ublk: memfill ran more than 60 s"
[ "$MEMFILL_RC" = 0 ] || [ "$MEMFILL_RC" = 137 ] ||
	fail "memfill exited $MEMFILL_RC (neither done nor killed)"
dmesg | grep -E 'Out of memory: Killed process [0-9]+ \(memfill\)' | tail -1

kill -0 "$SERVE_PID" || fail "the server died"
mm=$(ctl zram0 mm_stat) || fail "the server does not answer"
io=$(ctl zram0 io_stat)
echo "uzram mm_stat: $mm"
echo "uzram io_stat: $io"
set -- $io
[ "$2" -gt 0 ] || echo "note: no write failed (the reserve held everything)"
# Still a working device: a pattern through /dev/ublkb0 reads back.
head -c $((4 << 20)) /dev/urandom >/tmp/pattern
dd if=/tmp/pattern of=/dev/ublkb0 bs=1M oflag=direct status=none ||
	echo "note: write of 4 MiB failed (reserve full), trying a compact first"
ctl zram0 compact=1 || true
dd if=/tmp/pattern of=/dev/ublkb0 bs=1M seek=64 oflag=direct status=none ||
	fail "writing through /dev/ublkb0 after the pressure failed"
dd if=/dev/ublkb0 of=/tmp/back bs=1M skip=64 count=4 iflag=direct status=none ||
	fail "reading /dev/ublkb0 failed"
cmp /tmp/pattern /tmp/back || fail "what was written does not read back"
stop_serve
wait_gone /dev/ublkb0
echo "swap incompressible: ok"
