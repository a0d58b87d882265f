#!/bin/bash
# t_fuse_zram01.sh - the kernel's zram selftests (tools/testing/selftests/zram:
# zram01.sh, zram02.sh) and LTP's zram01/zram02 flows, run against the FUSE
# tree of `uzram serve`, with a `losetup --direct-io=on` loop device on
# DIR/zramN/disk standing in for /dev/zramN.
#
#   selftest zram01: hot_add -> comp_algorithm lzo -> disksize 2097152 ->
#       mem_limit 2M -> mkfs.ext4 -> mount -> 1 KiB appends (one dd each)
#       until ENOSPC -> 100*1024*KiB / mem_used_total >= 100 -> cleanup
#   selftest zram02: disksize 1 MiB, mem_limit 1M, mkswap (no swapon: swap on
#       a FUSE-backed loop device could deadlock the host under pressure)
#   LTP zram01: every algorithm comp_algorithm lists, written in turn (the last
#       one, 842, stays), 25 MiB, mem_limit 25M, ext4, the same fill (in one dd
#       of 1 KiB appends, to keep the run short), mm_stat polled, ratio >= 1
#   LTP zram02: disksize 100 GiB, mem_limit 1M, mkswap (no swapon)
# Cleanup as zram_lib.sh: umount, detach, reset, hot_remove.
. "$(dirname "$0")/fuse_lib.sh"
fuse_require
serve_start --size 0

DEVS=()

# zram_load: hot_add one device per entry, after the ones that exist
zram_load() {
	local n=$1 i id
	DEVS=()
	for i in $(seq "$n"); do
		id=$(cat "$MNT/zram-control/hot_add") || { fail "hot_add"; return 1; }
		DEVS+=("$id")
	done
	echo "zram_load: hot-added ${DEVS[*]}"
}

zram_set() {	# ATTR VALUE...: one value per device, each store must succeed
	local attr=$1 i=0 v; shift
	for v in "$@"; do
		echo "$v" > "$MNT/zram${DEVS[i]}/$attr" || fail "zram${DEVS[i]}: $attr=$v"
		i=$((i + 1))
	done
}

# zram_compress_alg of LTP: every listed algorithm, written to every device
ltp_compress_alg() {
	local algs a id
	algs=$(sed 's/[][]//g' "$MNT/zram${DEVS[0]}/comp_algorithm")
	for id in "${DEVS[@]}"; do
		for a in $algs; do
			echo "$a" > "$MNT/zram$id/comp_algorithm" || fail "zram$id: comp_algorithm $a"
		done
	done
	echo "ltp_compress_alg: wrote '$algs'; active: $(cat "$MNT/zram${DEVS[0]}/comp_algorithm")"
}

LOOP=
zram_attach() {	# the block device of DEVS[0]
	LOOP=$(loop_attach "$MNT/zram${DEVS[0]}/disk") || return 1
	same "$(cat "/sys/block/${LOOP#/dev/}/loop/dio")" "1" "$LOOP uses direct I/O"
	same "$(blockdev --getsize64 "$LOOP")" "$(cat "$MNT/zram${DEVS[0]}/disksize")" \
		"$LOOP has disksize bytes"
}

zram_cleanup() {
	local id
	[ -n "${FS_DIR:-}" ] && umount_dir "$FS_DIR" && FS_DIR=
	[ -n "$LOOP" ] && loop_detach "$LOOP" && LOOP=
	for id in "${DEVS[@]}"; do
		echo 1 > "$MNT/zram$id/reset" || fail "zram$id: reset"
		echo "$id" > "$MNT/zram-control/hot_remove" || fail "hot_remove $id"
	done
	DEVS=()
}

# the fill and the ratio check of zram01
fill_check() {	# per_kib_dd(0/1)
	local b mem_used_total v i
	if [ "$1" = 1 ]; then
		b=0
		while dd conv=notrunc if=/dev/zero of="$FS_DIR/file" oflag=append count=1 bs=1024 \
			status=none >/dev/null 2>&1; do
			b=$((b + 1))
		done
	else
		dd conv=notrunc if=/dev/zero of="$FS_DIR/file" oflag=append bs=1024 \
			2>"$T/dd.err" >/dev/null
		grep -q 'No space left on device' "$T/dd.err" || fail "the fill did not end in ENOSPC"
		b=$(sed -n 's/^\([0-9]*\)+0 records out/\1/p' "$T/dd.err")
	fi
	echo "zram${DEVS[0]} can be filled with '$b' KB"
	[ "${b:-0}" -gt 0 ] || { fail "nothing could be written"; return; }
	for i in $(seq 100); do	# LTP polls until mm_stat's mem_used_total is non-zero
		mem_used_total=$(awk '{print $3}' "$MNT/zram${DEVS[0]}/mm_stat")
		[ "$mem_used_total" != 0 ] && break
		sleep 0.1
	done
	[ "$mem_used_total" -gt 0 ] || { fail "mem_used_total is 0"; return; }
	v=$((100 * 1024 * b / mem_used_total))
	if [ "$v" -lt 100 ]; then
		fail "compression ratio: 0.$v:1"
	else
		echo "zram compression ratio: $((v / 100)).$(printf %02d $((v % 100))):1: OK"
	fi
}

# ---- selftests zram01.sh ----
echo "== selftests zram01"
zram_load 1
same "${DEVS[0]}" "1" "hot_add after zram0 gives 1"
zram_set comp_algorithm lzo
zram_set disksize 2097152
zram_set mem_limit 2M
zram_attach
mkfs.ext4 -q "$LOOP" 2>"$T/mkfs.err" || { fail "mkfs.ext4"; cat "$T/mkfs.err"; }
FS_DIR=$T/zram${DEVS[0]}
mount_dev "$LOOP" "$FS_DIR" || fail "mount"
fill_check 1
zram_cleanup
same "$(ls "$MNT" | tr '\n' ' ')" "zram-control zram0 " "selftest cleanup removed the device"

# ---- selftests zram02.sh (without swapon) ----
echo "== selftests zram02"
zram_load 1
zram_set comp_algorithm lzo
zram_set disksize 1048576
zram_set mem_limit 1M
zram_attach
mkswap "$LOOP" >/dev/null 2>"$T/mkswap.err" || { fail "mkswap"; cat "$T/mkswap.err"; }
same "$(dd if="$MNT/zram${DEVS[0]}/disk" bs=1 skip=4086 count=10 status=none)" "SWAPSPACE2" \
	"mkswap's signature is on the disk"
zram_cleanup

# ---- LTP zram01.sh (ext4) ----
echo "== LTP zram01"
zram_load 1
ltp_compress_alg
same "$(cat "$MNT/zram${DEVS[0]}/comp_algorithm")" "lzo-rle lzo lz4 lz4hc zstd deflate [842] " \
	"the last listed algorithm stays selected"
zram_set disksize 26214400
zram_set mem_limit 25M
zram_attach
mkfs.ext4 -q "$LOOP" 2>"$T/mkfs.err" || { fail "mkfs.ext4"; cat "$T/mkfs.err"; }
FS_DIR=$T/zram${DEVS[0]}
mount_dev "$LOOP" "$FS_DIR" || fail "mount -t ext4"
fill_check 0
# the filesystem is intact: unmount and check it
umount_dir "$FS_DIR"; FS_DIR=
e2fsck -fn "$LOOP" >"$T/fsck.log" 2>&1 || { fail "e2fsck after the fill"; tail "$T/fsck.log"; }
zram_cleanup

# ---- LTP zram02.sh (without swapon) ----
echo "== LTP zram02"
zram_load 1
zram_set disksize 107374182400
zram_set mem_limit 1M
same "$(stat -c %s "$MNT/zram${DEVS[0]}/disk")" "107374182400" "a 100 GiB disk"
zram_attach
mkswap "$LOOP" >/dev/null 2>"$T/mkswap.err" || { fail "mkswap on 100 GiB"; cat "$T/mkswap.err"; }
zram_cleanup
same "$(ls "$MNT" | tr '\n' ' ')" "zram-control zram0 " "every hot-added device removed"
echo "t_fuse_zram01: done"
