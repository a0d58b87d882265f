#!/bin/bash
# t_stress_nbd.sh - stress over NBD: 8 connections of fio (one job each, its
# own region) with random sizes from 512 B to 1 MiB at random 512-byte
# aligned offsets into a device whose mem_limit is far below what they
# write, so the server refuses many writes (ENOSPC).
#
# fio goes on after a refused write (--continue_on_error=write
# --ignore_error=,ENOSPC) and drops it from its verify list; every write it
# saw acknowledged is read back and checked (crc32c, with the block's
# offset in its header): after the load in round 1, and from round 2 on
# also during it (verify_backlog: reads interleaved with the writes on every
# connection), after trims have freed room in half of the regions.
# (fio's rw=randrw is not used: with refused writes, fio 3.33 verifies
# randrw blocks against the wrong seed, a fio bookkeeping error; with
# randwrite its verify list is exact.) Checked:
#   - zero verification failures, and every acknowledged byte read back;
#   - every refused write reached the client as an error: the errors fio
#     counted equal io_stat's failed_writes (the server's count of writes
#     it refused), and there are some;
#   - memory: mem_used_max stays at mem_limit (plus one allocation in
#     flight per worker), and the server's peak RSS (VmHWM) stays within
#     mem_limit + 8 connections x 16 MiB of request buffers (iodepth 8 x
#     1 MiB, rounded to 64 KiB) + the 32 MiB buffer cache + 48 MiB for the
#     program, its threads and the allocator's metadata.
# make check: 8 x 32 MiB against a 64 MiB mem_limit, three rounds; make test
# (UZRAM_LONG): 8 x 128 MiB against 256 MiB, six rounds. The bytes verified
# are printed.
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"
need fio
fio --enghelp=nbd >/dev/null 2>&1 || { echo "SKIP: fio lacks the nbd engine"; exit 77; }

if [ "${UZRAM_LONG:-}" = 1 ]; then
	region=128 limit=256 rounds=6
else
	region=$((32 / SCALE)) limit=$((64 / SCALE)) rounds=3
fi
jobs=8
size=$((jobs * region + 64))
start_server --size ${size}M --algorithm lz4 --threads 2
ctl_request store zram0 mem_limit ${limit}M >/dev/null || fail "mem_limit"

io_stat_failed_writes() { ctl_request show zram0 io_stat | awk '{print $2}'; }

total_verified=0 total_errors=0 total_written=0
for round in $(seq "$rounds"); do
	# Round 1 writes fresh regions and verifies after; later rounds
	# overwrite them, verifying during the load too.
	if [ "$round" = 1 ]; then backlog=0; else backlog=32; fi
	if [ "$round" -gt 1 ]; then
		# free some room: trim every other region, so writes succeed again
		for j in $(seq 0 2 $((jobs - 1))); do
			$NBDSH -u "$URI" -c "h.trim($region << 20, ($j * $region) << 20)" || fail "trim"
		done
	fi
	before=$(io_stat_failed_writes)
	echo "== round $round: $jobs connections, random writes 512B-1M (verify_backlog=$backlog), mem_limit ${limit}M, regions ${region}M"
	fio --name=stress --ioengine=nbd --uri="$URI" --rw=randwrite --verify_backlog=$backlog \
		--bsrange=512-1M --iodepth=8 --numjobs=$jobs --size=${region}M \
		--offset_increment=${region}M --verify=crc32c --verify_state_save=0 \
		--do_verify=1 --verify_fatal=1 --continue_on_error=write --ignore_error=,ENOSPC \
		--buffer_compress_percentage=55 --refill_buffers --randseed=$((4242 + round)) \
		--output-format=json --output="$T/fio$round.json" 2>"$T/fio$round.err"
	rc=$?
	after=$(io_stat_failed_writes)
	"$PY" - "$T/fio$round.json" "$((after - before))" "$rc" "$backlog" <<'EOF' >"$T/round" || { cat "$T/round"; tail -5 "$T/fio$round.err"; fail "round $round"; }
import json, sys
j = json.load(open(sys.argv[1]))
refused, rc, backlog = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
errors = sum(job["total_err"] for job in j["jobs"])
written = sum(job["write"]["io_bytes"] for job in j["jobs"])
read = sum(job["read"]["io_bytes"] for job in j["jobs"])
verify_errors = [job["jobname"] for job in j["jobs"] if job["error"] and job["error"] != 28]
print("fio: %d bytes acknowledged, %d bytes read (verify included), %d writes refused "
      "(ENOSPC), server counted %d" % (written, read, errors, refused))
assert rc == 0, "fio exit %d" % rc
assert not verify_errors, verify_errors
assert errors == refused, "fio saw %d errors, the server refused %d writes" % (errors, refused)
assert written > 0
# do_verify reads back every acknowledged write (verify_backlog's reads
# during the load are not in fio's read statistics)
assert backlog or read >= written, (read, written)
print("VERIFIED %d %d %d" % (written, errors, written))
EOF
	cat "$T/round"
	grep -qi "verify.*fail\|bad magic\|crc32c" "$T/fio$round.err" && fail "fio reported bad data: $(grep -i verify "$T/fio$round.err" | head -3)"
	set -- $(sed -n 's/^VERIFIED //p' "$T/round")
	total_written=$((total_written + $1)) total_errors=$((total_errors + $2)) total_verified=$((total_verified + $3))
done
[ "$total_errors" -gt 0 ] || fail "mem_limit was never reached: no write was refused"

echo "== memory"
read -r orig compr used mlimit used_max rest <<<"$(ctl_request show zram0 mm_stat)"
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$SERVER_PID/status")
echo "mm_stat: mem_used_total $used, mem_limit $mlimit, mem_used_max $used_max; server peak RSS ${hwm} kB"
# mem_limit is checked after an allocation, as the kernel's: each worker
# may hold one zspage beyond it at once (1 MiB of slack covers 16)
[ "$used_max" -le $((mlimit + (1 << 20))) ] || fail "mem_used_max $used_max exceeds mem_limit $mlimit"
if [ -z "${SAN:-}" ]; then
	bound=$(((limit + jobs * 16 + 32 + 48) * 1024))
	[ "$hwm" -le "$bound" ] || fail "peak RSS ${hwm} kB above the bound ${bound} kB"
	echo "peak RSS ${hwm} kB <= bound ${bound} kB (mem_limit + 8 x 16 MiB + 32 MiB + 48 MiB)"
fi
stop_server
echo "stress: $total_verified bytes verified, $total_errors writes refused and reported, over $rounds rounds"
echo "PASS"
