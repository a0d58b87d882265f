#!/bin/bash
# nbd_bench.sh - the numbers of `uzram serve` (issue 5), on this machine, in
# one run, against the kernel's zram and nbdkit:
#
#  1. nbdcopy of a page file into a fresh device over the unix socket vs
#     the kernel's zram `dd of=/dev/zramN bs=1M oflag=direct` (lz4 both);
#     nbdcopy reading it back (to null:) vs `dd if=/dev/zramN iflag=direct`.
#     Targets: write >= 1.0x, read >= 0.7x.
#  2. fio 4 KiB random writes, 2 jobs x iodepth 16, 60% compressible
#     buffers, zstd, vs nbdkit `memory 1G allocator=zstd` on the same job.
#     Both devices are first filled (sequential 1 MiB writes of the same
#     kind of buffers), so the measured phase is the steady state of a disk
#     holding data; the empty-device figure is shown too. Target >= 8x.
#  3. after each fill, the server's RSS (VmRSS) <= mem_used_total + 64 MiB.
#
# Every measurement is repeated (kernel and uzram interleaved, so load from
# other processes hits both alike) and the best run of each side counts;
# the median is shown too. Wall-clock times include each client's start.
#
# usage: bench/nbd_bench.sh [--uzram PATH] [--repeat N] [--fio-runtime S]
#                           [--fio-repeat N] [--no-fio] [PAGEFILE...]
# Default page files: $UZRAM_PAGES or /work/pages/*.pages. Root is needed
# for the kernel's zram (a device is hot-added and removed again; without
# root or zram that comparison is skipped). The kernel's devices are always
# reset, servers are stopped by PID.
set -u
UZRAM=./uzram
[ -x "$UZRAM" ] || UZRAM=build/default/uzram
REPEAT=5 FIO_RUNTIME=10 FIO_REPEAT=2 DO_FIO=1
files=()
while [ $# -gt 0 ]; do
	case $1 in
	--uzram) UZRAM=$2; shift ;;
	--repeat) REPEAT=$2; shift ;;
	--fio-runtime) FIO_RUNTIME=$2; shift ;;
	--fio-repeat) FIO_REPEAT=$2; shift ;;
	--no-fio) DO_FIO=0 ;;
	-h|--help) sed -n '2,28p' "$0"; exit 0 ;;
	*) files+=("$1") ;;
	esac
	shift
done
[ ${#files[@]} -gt 0 ] || files=(${UZRAM_PAGES:-/work/pages/*.pages})
UZRAM=$(realpath "$UZRAM")
for c in nbdcopy fio python3; do
	command -v $c >/dev/null || { echo "nbd_bench: $c is not installed" >&2; exit 1; }
done
PY=/usr/bin/python3
T=$(mktemp -d /tmp/uzram-nbd-bench.XXXXXX)
SERVER_PID= NBDKIT_PID= KDEV=
MiB=1048576

cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	[ -n "$NBDKIT_PID" ] && kill "$NBDKIT_PID" 2>/dev/null && wait "$NBDKIT_PID" 2>/dev/null
	if [ -n "$KDEV" ]; then
		echo 1 >/sys/block/zram$KDEV/reset 2>/dev/null
		[ "$KDEV" != 0 ] && echo "$KDEV" >/sys/class/zram-control/hot_remove 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }
# secs CMD...: run, print the wall time in seconds (fails if CMD fails)
secs() {
	local t0 t1
	t0=$(now_ns)
	"$@" >/dev/null 2>"$T/cmd.err" || { echo "nbd_bench: $* failed: $(cat "$T/cmd.err")" >&2; return 1; }
	t1=$(now_ns)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", (b - a) / 1e9 }'
}
best() { printf '%s\n' "$@" | sort -g | head -1; }
worst() { printf '%s\n' "$@" | sort -g | tail -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mbps() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.1f\n", n / t / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'; }
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? "met" : "MISSED" }'; }

start_server() {	# ARGS...
	"$UZRAM" serve --socket "$T/nbd.sock" --control "$T/ctl.sock" "$@" 2>"$T/server.log" &
	SERVER_PID=$!
	for _ in $(seq 200); do [ -S "$T/nbd.sock" ] && [ -S "$T/ctl.sock" ] && return 0; sleep 0.02; done
	echo "nbd_bench: uzram serve did not start: $(cat "$T/server.log")" >&2
	exit 1
}
stop_server() {
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || echo "nbd_bench: WARNING: uzram serve exited $? on SIGTERM" >&2
	SERVER_PID=
}
ctl_show() {	# DEV ATTR
	"$PY" - "$T/ctl.sock" "$1" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(("show %s %s\n" % (sys.argv[2], sys.argv[3])).encode())
f = s.makefile("rb"); line = f.readline().decode()
assert line.startswith("ok "), line
sys.stdout.write(f.read(int(line[3:])).decode())
EOF
}
rss_bytes() { awk '/^VmRSS/ { print $2 * 1024 }' "/proc/$1/status"; }

# ---- the kernel's zram ----
kernel_ok=0
if [ "$(id -u)" = 0 ] && [ -w /sys/class/zram-control/hot_add ] &&
   grep -qw lz4 /sys/block/zram0/comp_algorithm 2>/dev/null; then
	KDEV=$(cat /sys/class/zram-control/hot_add 2>/dev/null) && kernel_ok=1
fi
[ $kernel_ok = 1 ] || echo "(the kernel's zram is not usable here: no kernel comparison)"
kernel_setup() {	# SIZE_BYTES
	echo 1 >/sys/block/zram$KDEV/reset
	echo lz4 >/sys/block/zram$KDEV/comp_algorithm
	echo "$1" >/sys/block/zram$KDEV/disksize
}

echo "uzram: $UZRAM ($("$UZRAM" version))"
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo

summary=()
for f in "${files[@]}"; do
	size=$(stat -c %s "$f")
	devsize=$(( (size + MiB - 1) / MiB * MiB ))
	rcount=$(( size / MiB ))
	kw=() kr=() uw=() ur=() rss_over=()
	echo "== $(basename "$f"): $((size / MiB)) MiB, lz4, $REPEAT runs"
	for i in $(seq "$REPEAT"); do
		if [ $kernel_ok = 1 ]; then
			kernel_setup "$devsize"
			kw+=("$(secs dd if="$f" of=/dev/zram$KDEV bs=1M oflag=direct)") || exit 1
			kmem=$(awk '{ print $3 }' /sys/block/zram$KDEV/mm_stat)
			kr+=("$(secs dd if=/dev/zram$KDEV of=/dev/null bs=1M iflag=direct count=$rcount)") || exit 1
			echo 1 >/sys/block/zram$KDEV/reset
		fi
		start_server --size "$devsize" --algorithm lz4
		uri="nbd+unix:///zram0?socket=$T/nbd.sock"
		uw+=("$(secs nbdcopy "$f" "$uri")") || exit 1
		mem=$(ctl_show zram0 mm_stat | awk '{ print $3 }')
		rss=$(rss_bytes "$SERVER_PID")
		rss_over+=("$(( (rss - mem) / MiB ))")
		ur+=("$(secs nbdcopy "$uri" null:)") || exit 1
		stop_server
	done
	w=$(mbps "$size" "$(best "${uw[@]}")") r=$(mbps "$devsize" "$(best "${ur[@]}")")
	printf "  uzram  nbdcopy write %8.1f MB/s (median %.1f)   read %8.1f MB/s (median %.1f)\n" \
		"$w" "$(mbps "$size" "$(median "${uw[@]}")")" "$r" "$(mbps "$devsize" "$(median "${ur[@]}")")"
	over=$(worst "${rss_over[@]}")
	printf "  uzram  RSS after the fill: mem_used_total + %s MiB at most (target <= 64): %s\n" \
		"$over" "$([ "$over" -le 64 ] && echo met || echo MISSED)"
	summary+=("$(basename "$f") rss_over_mem_used_MiB=$over $([ "$over" -le 64 ] && echo met || echo MISSED)")
	if [ $kernel_ok = 1 ]; then
		kwm=$(mbps "$size" "$(best "${kw[@]}")") krm=$(mbps $((rcount * MiB)) "$(best "${kr[@]}")")
		printf "  kernel dd write       %8.1f MB/s (median %.1f)   read %8.1f MB/s (median %.1f)   mem_used_total %d MiB\n" \
			"$kwm" "$(mbps "$size" "$(median "${kw[@]}")")" "$krm" \
			"$(mbps $((rcount * MiB)) "$(median "${kr[@]}")")" $((kmem / MiB))
		wr=$(ratio "$w" "$kwm") rr=$(ratio "$r" "$krm")
		printf "  ratio  write %sx (target >= 1.0: %s)   read %sx (target >= 0.7: %s)\n" \
			"$wr" "$(verdict "$wr" 1.0)" "$rr" "$(verdict "$rr" 0.7)"
		summary+=("$(basename "$f") write_ratio=$wr $(verdict "$wr" 1.0) read_ratio=$rr $(verdict "$rr" 0.7)")
	fi
	echo
done

# ---- fio: uzram (zstd) vs nbdkit memory allocator=zstd ----
fio_iops() {	# URI FILL(0/1)
	local uri=$1
	if [ "$2" = 1 ]; then
		fio --name=fill --ioengine=nbd --uri="$uri" --rw=write --bs=1M --numjobs=2 \
			--iodepth=4 --buffer_compress_percentage=60 --refill_buffers --size=512M \
			--offset_increment=512M --group_reporting >/dev/null 2>&1 || return 1
	fi
	fio --name=randwrite --ioengine=nbd --uri="$uri" --rw=randwrite --bs=4k --numjobs=2 \
		--iodepth=16 --buffer_compress_percentage=60 --refill_buffers --size=512M \
		--offset_increment=512M --time_based --runtime="$FIO_RUNTIME" --group_reporting \
		--output-format=json --output="$T/fio.json" >/dev/null 2>&1 || return 1
	"$PY" -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["jobs"][0]["write"]["iops"]))' "$T/fio.json"
}
if [ $DO_FIO = 1 ] && command -v nbdkit >/dev/null && fio --enghelp=nbd >/dev/null 2>&1; then
	for fill in 1 0; do
		ui=() ki=()
		for i in $(seq "$FIO_REPEAT"); do
			rm -f "$T/kit.sock"
			nbdkit -f -U "$T/kit.sock" memory 1G allocator=zstd 2>"$T/nbdkit.log" &
			NBDKIT_PID=$!
			for _ in $(seq 200); do [ -S "$T/kit.sock" ] && break; sleep 0.02; done
			ki+=("$(fio_iops "nbd+unix:///?socket=$T/kit.sock" $fill)") || exit 1
			kill "$NBDKIT_PID"; wait "$NBDKIT_PID" 2>/dev/null; NBDKIT_PID=
			start_server --size 1G --algorithm zstd
			ui+=("$(fio_iops "nbd+unix:///zram0?socket=$T/nbd.sock" $fill)") || exit 1
			if [ $fill = 1 ]; then
				mem=$(ctl_show zram0 mm_stat | awk '{ print $3 }')
				over=$(( ($(rss_bytes "$SERVER_PID") - mem) / MiB ))
				summary+=("fio-fill rss_over_mem_used_MiB=$over $([ "$over" -le 64 ] && echo met || echo MISSED)")
			fi
			stop_server
		done
		u=$(printf '%s\n' "${ui[@]}" | sort -n | tail -1) k=$(printf '%s\n' "${ki[@]}" | sort -n | tail -1)
		rr=$(ratio "$u" "$k")
		label=$([ $fill = 1 ] && echo "after a fill (the target)" || echo "empty devices (for reference)")
		echo "== fio randwrite 4k, 2 jobs x iodepth 16, 60% compressible, zstd, ${FIO_RUNTIME}s, $label"
		echo "  uzram  $u IOPS (runs: ${ui[*]})"
		echo "  nbdkit $k IOPS (runs: ${ki[*]})"
		if [ $fill = 1 ]; then
			echo "  ratio  ${rr}x (target >= 8: $(verdict "$rr" 8))"
			summary+=("fio_ratio=$rr $(verdict "$rr" 8)")
		else
			echo "  ratio  ${rr}x"
		fi
		echo
	done
fi
echo "== summary"
printf '  %s\n' "${summary[@]}"
