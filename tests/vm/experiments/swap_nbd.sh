# swap_nbd.sh - sourced by t_swap_nbd_unix.sh and t_swap_nbd_tcp.sh: swap
# on /dev/nbd0 (nbd-client -swap to uzram serve --mlock --reserve 96M, over
# TRANSPORT unix or tcp), memfill 1.2 x RAM of 4:1 data, verified twice.
# Experiments, not part of make vmcheck: over NBD the server's replies need
# socket buffers it cannot have under full memory pressure, and the VM
# hangs (docs/swap.md has the stacks). The runner's timeout sends sysrq-w
# and sysrq-t; tests/vm/experiments/tasks.py picks the stacks out.
# Run: UZRAM_VM_TESTS=tests/vm/experiments tests/vm/run swap_nbd
. tests/vm/lib.sh
. tests/vm/serve_lib.sh
need nbd-client mkswap
CLEANUP_HOOK=nbd_down
nbd_down() { swapoff /dev/nbd0 2>/dev/null; nbd-client -d /dev/nbd0 >/dev/null 2>&1; }

if [ "$TRANSPORT" = tcp ]; then
	start_serve --size 768M --algorithm lz4 --mlock --reserve 96M --listen 127.0.0.1:10809
	nbd-client 127.0.0.1 10809 -N zram0 -b 4096 /dev/nbd0 -swap || fail "nbd-client"
else
	start_serve --size 768M --algorithm lz4 --mlock --reserve 96M
	nbd-client -unix "$SOCK" -N zram0 -b 4096 /dev/nbd0 -swap || fail "nbd-client"
fi
wait_block /dev/nbd0
# MAX_KB=64: requests that fit the buffers --mlock maps in advance.
[ -n "${MAX_KB:-}" ] && echo "$MAX_KB" >/sys/block/nbd0/queue/max_sectors_kb
io_flusher_all "$SERVE_PID"
echo "nbd0 max_sectors_kb $(cat /sys/block/nbd0/queue/max_sectors_kb) max_hw_sectors_kb $(cat /sys/block/nbd0/queue/max_hw_sectors_kb)"
grep -E '^(VmLck|VmRSS)' /proc/"$SERVE_PID"/status
swap_memfill /dev/nbd0 "swap-compressible-nbd-$TRANSPORT" compressible $((VM_MEM_MB * 12 / 10)) 180
echo "memfill rc $MEMFILL_RC"
echo "uzram mm_stat: $(ctl zram0 mm_stat)"
nbd-client -d /dev/nbd0
[ "$MEMFILL_RC" = 0 ] || fail "memfill exited $MEMFILL_RC"
