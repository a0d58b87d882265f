# tests/vm/serve_lib.sh - `uzram serve` in the VM tests; source after lib.sh.
#
#   start_serve ARGS...   $UZRAM serve --socket $SOCK --control $CTL ARGS in the
#                         background (log: $VM_OUT/serve.log); waits for the
#                         control socket; sets SERVE_PID
#   stop_serve            SIGTERM by PID; fails unless it exits 0 within 60 s
#   ctl ARGS...           $UZRAM ctl --control $CTL ARGS
#   wait_block DEV [S]    wait up to S seconds (10) for block device DEV
#   wait_gone DEV [S]     wait up to S seconds (10) until DEV is gone
#   io_flusher_all PID    every thread of PID has PF_MEMALLOC_NOIO and
#                         PF_LOCAL_THROTTLE (PR_SET_IO_FLUSHER), else fails
#   swap_memfill DEV LABEL DATA MIB [TIMEOUT]
#                         mkswap + swapon DEV, memfill MIB of DATA with two
#                         verifying passes, timed as LABEL; sets MEMFILL_RC
#                         (124: TIMEOUT seconds passed, 137: killed, the OOM
#                         killer's doing) and MEMFILL_SECS (whole seconds, by
#                         the clock: timeout(1) itself may be slowed by the
#                         pressure); swapoff afterwards (fails the test if
#                         swapoff fails)
#
# The EXIT trap stops a server still running (by PID), after swapoff and
# umount of what the test left (CLEANUP_HOOK runs first).
SOCK=/run/uzram-vm/nbd.sock
CTL=/run/uzram-vm/control.sock
SERVE_PID=
CLEANUP_HOOK=
mkdir -p /run/uzram-vm

serve_cleanup() {
	[ -n "$CLEANUP_HOOK" ] && $CLEANUP_HOOK
	swapoff -a 2>/dev/null
	if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
		kill -TERM "$SERVE_PID"
		for _ in $(seq 100); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$SERVE_PID" 2>/dev/null
	fi
}
trap serve_cleanup EXIT

start_serve() {
	rm -f "$SOCK" "$CTL"
	"$UZRAM" serve --socket "$SOCK" --control "$CTL" "$@" >>"$VM_OUT/serve.log" 2>&1 &
	SERVE_PID=$!
	for _ in $(seq 150); do
		[ -S "$CTL" ] && return 0
		kill -0 "$SERVE_PID" 2>/dev/null || { cat "$VM_OUT/serve.log"; fail "uzram serve $* exited"; }
		sleep 0.2
	done
	cat "$VM_OUT/serve.log"
	fail "uzram serve $* did not start in 30 s"
}

stop_serve() {
	local rc
	kill -TERM "$SERVE_PID" || fail "no server to stop"
	for _ in $(seq 300); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.2; done
	kill -0 "$SERVE_PID" 2>/dev/null && fail "uzram serve still runs 60 s after SIGTERM"
	wait "$SERVE_PID"
	rc=$?
	SERVE_PID=
	[ $rc = 0 ] || { tail -n 20 "$VM_OUT/serve.log"; fail "uzram serve exited $rc after SIGTERM"; }
}

ctl() {
	"$UZRAM" ctl --control "$CTL" "$@"
}

wait_block() {
	local i
	for i in $(seq $((${2:-10} * 10))); do
		[ -b "$1" ] && return 0
		sleep 0.1
	done
	fail "$1 did not appear in ${2:-10} s"
}

wait_gone() {
	local i
	for i in $(seq $((${2:-10} * 10))); do
		[ -e "$1" ] || return 0
		sleep 0.1
	done
	fail "$1 still exists after ${2:-10} s"
}

# Field 9 of /proc/PID/task/TID/stat: the task's flags.
io_flusher_all() {
	local t flags n=0
	for t in /proc/"$1"/task/*; do
		flags=$(sed 's/.*) //' "$t/stat" | awk '{ print $7 }')
		# PF_MEMALLOC_NOIO 0x00080000, PF_LOCAL_THROTTLE 0x00100000
		(( (flags & 0x180000) == 0x180000 )) ||
			fail "thread $(cat "$t/comm") ($t) lacks IO_FLUSHER: flags $(printf %#x "$flags")"
		n=$((n + 1))
	done
	echo "IO_FLUSHER on all $n threads of $1"
}

swap_memfill() {
	local dev=$1 label=$2 data=$3 mib=$4 limit=${5:-300}
	mkswap "$dev" >/dev/null || fail "mkswap $dev failed"
	swapon --discard=pages "$dev" || fail "swapon $dev failed"
	log_meminfo "before $label"
	local t0=$(date +%s%N)
	timed "$label" timeout -k 10 "$limit" "$MEMFILL" --mib "$mib" --data "$data" \
		--passes 2 >"$VM_OUT/$label.out" 2>"$VM_OUT/$label.err"
	MEMFILL_RC=$?
	MEMFILL_SECS=$(( ($(date +%s%N) - t0) / 1000000000 ))
	cat "$VM_OUT/$label.out"
	log_meminfo "after $label"
	swapoff "$dev" || fail "swapoff $dev failed"
}
