#!/bin/bash
# t_swap_compressible.sh - swap on /dev/ublkb0 under memory pressure, with
# the kernel's zram as the control in the same VM: memfill writes 1.2 x the
# VM's RAM of data that compresses about 4:1 and verifies every word twice.
# Both must finish with 0 mismatches, swapoff cleanly and leave no hung task
# (the runner checks the console). Prints "TIME swap-compressible-<side> S"
# for both and their ratio; with --discard=pages the pool empties again
# when memfill exits (swap frees its slots, ublk passes the discards on).
#
# The server is started as docs/swap.md says swap needs: --ublk --mlock
# --reserve, with half the VM's RAM as the reserve (zram setups give swap
# half of RAM as a rule). 1.2 x RAM at 4:1 needs 85-90 MB of it: the
# kernel's zram peaks at 55-60 MB here, but a swap device that is not the
# kernel's zram keeps the slots of pages read back in (docs/swap.md), and
# the program has less room beside the reserve.
# The kernel's zram here has no lzo-rle (CONFIG_ZRAM_BACKEND_LZO is off):
# both sides use lz4.
# vm-timeout: 600
. tests/vm/lib.sh
. tests/vm/serve_lib.sh
need mkswap swapon swapoff timeout

mib=$((VM_MEM_MB * 12 / 10))
Z=/sys/block/zram0

echo "== control: the kernel's zram"
echo lz4 >$Z/comp_algorithm || fail "the kernel's zram has no lz4"
echo 768M >$Z/disksize || fail "zram0 disksize"
swap_memfill /dev/zram0 swap-compressible-kernel-zram compressible "$mib"
[ "$MEMFILL_RC" = 0 ] || fail "kernel zram: memfill exited $MEMFILL_RC"
echo "kernel zram mm_stat: $(cat $Z/mm_stat)"
echo 1 >$Z/reset || fail "zram0 reset"

echo "== uzram: /dev/ublkb0"
start_serve --size 768M --algorithm lz4 --ublk --mlock --reserve 128M
wait_block /dev/ublkb0
io_flusher_all "$SERVE_PID"
grep -E '^(VmLck|VmRSS)' /proc/"$SERVE_PID"/status
out0=$(vmstat pswpout)
swap_memfill /dev/ublkb0 swap-compressible-ublk compressible "$mib"
swapped=$(( $(vmstat pswpout) - out0 ))
mm=$(ctl zram0 mm_stat) io=$(ctl zram0 io_stat)
echo "uzram mm_stat: $mm"
echo "uzram io_stat: $io"
echo "swapped out: $swapped pages"
[ "$MEMFILL_RC" = 0 ] || fail "ublk: memfill exited $MEMFILL_RC"
grep -q ' mismatches=0 ' "$VM_OUT/swap-compressible-ublk.out" || fail "mismatches"
[ "$swapped" -gt $((VM_MEM_MB * 256 / 4)) ] ||
	fail "only $swapped pages went to swap: no memory pressure"
set -- $io
[ "$2" = 0 ] || fail "failed_writes is $2: the reserve ran out"
set -- $mm
# memfill has exited: its swap slots were freed, and the clusters that
# emptied were discarded (cluster by cluster, not slot by slot as the
# kernel's zram hears of them: some data stays until overwritten).
[ "$3" -lt $(($5 / 4)) ] ||
	fail "mem_used_total $3 of mem_used_max $5 after swapoff: the discards did not free the pool"
kill -0 "$SERVE_PID" || fail "the server died"
stop_serve
wait_gone /dev/ublkb0

echo "swap compressible: ok"
