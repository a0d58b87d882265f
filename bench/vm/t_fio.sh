#!/bin/bash
# bench/vm/t_fio.sh - fio 4 KiB random writes and reads at iodepth 16 on
# /dev/ublkb0 (uzram serve --ublk), /dev/nbd0 (the same server through
# nbd-client on its unix socket) and /dev/zram0 (the kernel's zram), in one
# VM, in turns, ROUNDS times (default 3). Prints one line per run and the
# best of each, "FIO <target> <rw> <IOPS>", and the ratios.
# Run: make vmbench   (UZRAM_VM_TESTS=bench/vm tests/vm/run fio)
# vm-timeout: 1500
# vm-mem: 1024
. tests/vm/lib.sh
. tests/vm/serve_lib.sh
need fio nbd-client
CLEANUP_HOOK=nbd_down
nbd_down() { nbd-client -d /dev/nbd0 >/dev/null 2>&1; }
ROUNDS=${ROUNDS:-3}
SIZE=256M

echo lz4 >/sys/block/zram0/comp_algorithm
echo $SIZE >/sys/block/zram0/disksize
start_serve --size $SIZE --algorithm lz4 --ublk
wait_block /dev/ublkb0
nbd-client -unix "$SOCK" -N zram0 -b 4096 /dev/nbd0 >/dev/null || fail "nbd-client"
wait_block /dev/nbd0

run() {	# target dev rw
	local out=$VM_OUT/fio-$1-$3.txt iops
	fio --name=b --filename="$2" --rw="$3" --bs=4k --iodepth=16 --ioengine=libaio \
		--direct=1 --size=128M --runtime=15 --time_based --buffer_compress_percentage=60 \
		--refill_buffers --randrepeat=0 --output-format=terse --terse-version=3 >"$out" 2>&1 ||
		{ cat "$out"; fail "fio $1 $3"; }
	# terse v3: field 8 read IOPS, field 49 write IOPS
	if [ "$3" = randread ]; then iops=$(cut -d';' -f8 "$out"); else iops=$(cut -d';' -f49 "$out"); fi
	echo "RUN $1 $3 $iops"
}

# Fill each target first so reads find data.
for d in /dev/ublkb0 /dev/nbd0 /dev/zram0; do
	fio --name=fill --filename=$d --rw=write --bs=1M --size=128M --direct=1 \
		--buffer_compress_percentage=60 --refill_buffers >/dev/null 2>&1 || fail "fill $d"
done
for r in $(seq "$ROUNDS"); do
	for rw in randwrite randread; do
		run ublk /dev/ublkb0 $rw
		run nbd /dev/nbd0 $rw
		run zram /dev/zram0 $rw
	done
done | tee "$VM_OUT/runs.txt"
for t in ublk nbd zram; do
	for rw in randwrite randread; do
		echo "FIO $t $rw $(awk -v t=$t -v rw=$rw '$2 == t && $3 == rw { if ($4 > m) m = $4 } END { print m }' "$VM_OUT/runs.txt")"
	done
done | tee "$VM_OUT/best.txt"
best() { awk -v t="$1" -v rw="$2" '$2 == t && $3 == rw { print $4 }' "$VM_OUT/best.txt"; }
for rw in randwrite randread; do
	echo "RATIO $rw ublk/nbd $(echo "scale=2; $(best ublk $rw) / $(best nbd $rw)" | bc)" \
		"ublk/zram $(echo "scale=2; $(best ublk $rw) / $(best zram $rw)" | bc)"
done
nbd-client -d /dev/nbd0 >/dev/null
stop_serve
echo 1 >/sys/block/zram0/reset
