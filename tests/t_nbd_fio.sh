#!/bin/bash
# t_nbd_fio.sh - fio's nbd engine against `uzram serve`: random writes of
# mixed sizes over several connections at queue depth, verified with
# crc32c; a mixed read/write/trim load; then a data check after the load.
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"
need fio nbdsh
fio --enghelp=nbd >/dev/null 2>&1 || { echo "SKIP: fio lacks the nbd engine"; exit 77; }

start_server --size 256M --algorithm zstd

mb=$((32 / SCALE))
echo "== 4 connections x iodepth 16, random 4k-64k writes, verify=crc32c"
fio --name=verify --ioengine=nbd --uri="$URI" --rw=randwrite --bsrange=4k-64k \
	--iodepth=16 --numjobs=4 --size=${mb}M --offset_increment=${mb}M \
	--verify=crc32c --verify_state_save=0 --do_verify=1 --verify_fatal=1 --buffer_compress_percentage=60 \
	--refill_buffers --randseed=4242 --group_reporting --output="$T/fio1.out" \
	|| { cat "$T/fio1.out"; fail "fio verify"; }
grep -E "WRITE:|READ:" "$T/fio1.out"
grep -qi "verify: bad\|crc32c: verify failed\|bad magic" "$T/fio1.out" && fail "fio reported bad data"

echo "== mixed random read/write/trim, 2 connections"
fio --name=mixed --ioengine=nbd --uri="$URI" --rw=randrw --rwmixread=50 --bs=4k \
	--iodepth=32 --numjobs=2 --size=${mb}M --offset=160M --offset_increment=${mb}M \
	--time_based --runtime=$((4 / SCALE + 1)) --group_reporting --output="$T/fio2.out" \
	|| { cat "$T/fio2.out"; fail "fio randrw"; }
fio --name=trim --ioengine=nbd --uri="$URI" --rw=randtrim --bs=64k --iodepth=8 \
	--size=${mb}M --offset=160M --output="$T/fio3.out" || { cat "$T/fio3.out"; fail "fio randtrim"; }

echo "== the verified regions still read back after the load"
fio --name=verify --ioengine=nbd --uri="$URI" --rw=randwrite --bsrange=4k-64k \
	--iodepth=16 --numjobs=4 --size=${mb}M --offset_increment=${mb}M \
	--verify=crc32c --verify_state_save=0 --verify_only --verify_fatal=1 --buffer_compress_percentage=60 \
	--refill_buffers --randseed=4242 --group_reporting --output="$T/fio4.out" \
	|| { cat "$T/fio4.out"; fail "fio verify_only after the load"; }
grep -E "READ:" "$T/fio4.out" || fail "fio verify_only read nothing"

echo "== the check can fail: overwrite one block, verify_only must notice"
$NBDSH -u "$URI" -c 'h.pwrite(b"\xff" * 65536, 0)' || fail "nbdsh overwrite"
fio --name=verify --ioengine=nbd --uri="$URI" --rw=randwrite --bsrange=4k-64k \
	--iodepth=16 --numjobs=4 --size=${mb}M --offset_increment=${mb}M \
	--verify=crc32c --verify_state_save=0 --verify_only --verify_fatal=1 --buffer_compress_percentage=60 \
	--refill_buffers --randseed=4242 --group_reporting --output="$T/fio5.out" \
	>/dev/null 2>&1 && fail "verify_only did not notice a corrupted block"
stop_server
echo "PASS"
