# fuse_lib.sh - what the FUSE and ctl tests share (sourced, not a test).
#
#   fuse_require            skip (77) unless root, /dev/fuse and losetup/mkfs are here
#   serve_start ARGS...     start `$UZRAM serve --mount $T/mnt --control $T/control.sock
#                           --socket $T/nbd.sock ARGS`, wait for the tree and the socket
#   loop_attach FILE        losetup --direct-io=on; prints the loop device, remembered
#   mount_dev DEV DIR       mount, remembered
#   fail MSG / check COND MSG / same A B MSG   record failures (the script goes on)
#
# The EXIT trap undoes everything in reverse: unmounts what was mounted, detaches
# the loop devices by path, stops the server by its PID (SIGTERM), requires exit
# status 0 and the tree unmounted, removes $T, and exits 1 on any failure.

set -u
: "${UZRAM:?UZRAM must name the uzram binary}"
T=$(mktemp -d /tmp/uzram-test.XXXXXX)
MNT=$T/mnt
CTL=$T/control.sock
SERVE_PID=
FAILED=0
MOUNTS=()
LOOPS=()
CLEANUPS=()

fail() {
	echo "FAIL: $*"
	FAILED=1
}

check() {
	local cond=$1; shift
	if ! eval "$cond"; then
		fail "$* [$cond]"
	fi
}

# same ACTUAL EXPECTED MESSAGE
same() {
	if [ "$1" != "$2" ]; then
		fail "$3"
		echo "    got:      $(printf '%q' "$1")"
		echo "    expected: $(printf '%q' "$2")"
	fi
}

skip() {
	echo "SKIP: $*"
	rm -rf "$T"
	trap - EXIT
	exit 77
}

fuse_require() {
	[ "$(id -u)" = 0 ] || skip "needs root (mount, losetup)"
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	local t
	for t in losetup mkfs.ext4 mountpoint; do
		command -v "$t" >/dev/null || skip "no $t"
	done
}

serve_start() {
	mkdir -p "$MNT"
	"$UZRAM" serve --mount "$MNT" --control "$CTL" --socket "$T/nbd.sock" "$@" \
		>"$T/serve.log" 2>&1 &
	SERVE_PID=$!
	local i
	for i in $(seq 200); do
		if mountpoint -q "$MNT" && [ -S "$CTL" ]; then
			return 0
		fi
		if ! kill -0 "$SERVE_PID" 2>/dev/null; then
			wait "$SERVE_PID"
			echo "uzram serve exited with $? at start:"
			sed 's/^/    /' "$T/serve.log"
			SERVE_PID=
			exit 1
		fi
		sleep 0.05
	done
	echo "uzram serve: no tree at $MNT or no socket at $CTL after 10s"
	sed 's/^/    /' "$T/serve.log"
	exit 1
}

serve_stop() {
	[ -n "$SERVE_PID" ] || return 0
	kill -TERM "$SERVE_PID" 2>/dev/null
	local rc=0
	wait "$SERVE_PID" || rc=$?
	SERVE_PID=
	if [ "$rc" != 0 ]; then
		fail "uzram serve exited with status $rc (expected 0)"
		sed 's/^/    /' "$T/serve.log"
	fi
	# (a dead server's mount fails mountpoint(1): look in the mount table)
	if grep -qs " $MNT " /proc/self/mounts; then
		fail "$MNT still mounted after uzram serve stopped"
		umount -l "$MNT"
	fi
	[ ! -e "$CTL" ] || fail "control socket $CTL left behind"
}

loop_attach() {
	local dev
	dev=$(losetup --direct-io=on --show -f "$1") || { fail "losetup $1"; return 1; }
	LOOPS+=("$dev")
	echo "$dev"
}

# Detach a loop device by path and wait until its file is released.
loop_detach() {
	local dev=$1 i
	losetup -d "$dev" 2>/dev/null
	for i in $(seq 100); do
		[ -e "/sys/block/${dev#/dev/}/loop/backing_file" ] || break
		sleep 0.05
	done
	local keep=()
	for i in "${LOOPS[@]}"; do [ "$i" = "$dev" ] || keep+=("$i"); done
	LOOPS=("${keep[@]}")
}

mount_dev() {
	mkdir -p "$2"
	mount "$1" "$2" && MOUNTS+=("$2")
}

umount_dir() {
	umount "$1" || umount -l "$1"
	local keep=() m
	for m in "${MOUNTS[@]}"; do [ "$m" = "$1" ] || keep+=("$m"); done
	MOUNTS=("${keep[@]}")
}

on_exit() {
	local rc=$? i
	set +e
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[i]}"; done
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}"
	done
	for i in "${LOOPS[@]}"; do losetup -d "$i" 2>/dev/null; done
	serve_stop
	rm -rf "$T"
	[ "$FAILED" = 0 ] || rc=1
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# A shell user's write of a string into file $2 of directory $1 (echo adds
# the newline), and read of it: the output and bash's error message (without
# the script's name and line), then "rc=STATUS", for comparing.
shell_write() {
	( cd "$1" && echo "$3" > "$2" ) 2>&1 | sed -E 's/^.*line [0-9]+: //'
	echo "rc=${PIPESTATUS[0]}"
}

shell_read() {
	( cd "$1" && cat "$2" ) 2>&1 | sed -E 's/^.*line [0-9]+: //'
	echo "rc=${PIPESTATUS[0]}"
}
