# tests/vm/lib.sh - sourced by the VM tests (tests/vm/t_*.sh), inside the VM.
#
#   fail MSG...          print "FAIL: MSG" and exit 1
#   skip MSG...          print "SKIP: MSG" and exit 77
#   need CMD...          skip unless every command is found
#   timed LABEL CMD...   run CMD; print "TIME LABEL <seconds>" on the test's own
#                        stdout (fd 3, whatever CMD's output is redirected to);
#                        return CMD's exit code
#   log_meminfo TAG      memory, swap and zram0 figures, for the log
#   vmstat KEY           a counter of /proc/vmstat
#
# Set for the tests: UZRAM (the host's uzram), UZRAM_SRCDIR (the repository,
# read only, the working directory), BUILD, VM_OUT (writable, kept on the
# host as $BUILD/vm/out/<test>/), VM_MEM_MB (the VM's RAM), VM_NAME, and
# MEMFILL ($BUILD/tests/vm/memfill).
set -u
if [ -z "${VM_OUT:-}" ] || [ -z "${VM_MEM_MB:-}" ]; then
	echo "FAIL: $0 runs in a VM: use tests/vm/run (make vmcheck)" >&2
	exit 1
fi
export MEMFILL=$BUILD/tests/vm/memfill
exec 3>&1

fail() {
	echo "FAIL: $*"
	exit 1
}

skip() {
	echo "SKIP: $*"
	exit 77
}

need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
	done
}

timed() {
	local label=$1 start rc ms
	shift
	start=$(date +%s%N)
	"$@"
	rc=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	printf 'TIME %s %d.%03d\n' "$label" $((ms / 1000)) $((ms % 1000)) >&3
	return $rc
}

vmstat() {
	awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat
}

log_meminfo() {
	echo "--- memory: $1"
	grep -E '^(MemTotal|MemFree|MemAvailable|Cached|AnonPages|SwapTotal|SwapFree|Shmem):' /proc/meminfo
	echo "pswpin $(vmstat pswpin) pswpout $(vmstat pswpout)"
	tail -n +2 /proc/swaps
	if [ -r /sys/block/zram0/mm_stat ]; then
		echo "zram0 mm_stat: $(cat /sys/block/zram0/mm_stat)"
	fi
}
