#!/bin/bash
# t_ctl_zramctl.sh - `uzram ctl` against util-linux's zramctl on the same
# numbers, and uzram ctl's own interface (README.md).
#
# The kernel's zram0 and a uzram device are configured alike (lzo, 64M) and
# given the same data; then zramctl's table (default, --bytes, --raw,
# --noheadings, --output-all, -o lists) must equal uzram ctl's, column for
# column, once the NAME column is set aside: zramctl names /dev/zram0, uzram
# ctl the device, zram0 (uzram has no /dev node). With lzo the two devices'
# mm_stat agree to the byte (t_fuse_kernel_diff.sh), so TOTAL and COMPR agree
# too; STREAMS is empty on both (max_comp_streams left the kernel in 6.15).
# `uzram ctl --sysfs /sys/block` reads the kernel's own device and must print
# exactly what zramctl prints, MOUNTPOINT included. Human units are compared
# over a range of disksizes. --find and --reset are compared with zramctl's
# (hot_add of the next device; reset and hot_remove), error messages too.
# Without a kernel zram or zramctl, only uzram ctl's own checks run.
. "$(dirname "$0")/fuse_lib.sh"
fuse_require
serve_start --size 0 --devices 1
U=$MNT/zram0
K=/sys/block/zram0
KC=/sys/class/zram-control
UCTL=("$UZRAM" ctl --control "$CTL")

KERNEL=0
if [ -d "$K" ] && [ -d "$KC" ] && command -v zramctl >/dev/null; then
	if [ "$(cat $K/initstate)" = 0 ] && [ "$(ls -d /sys/block/zram* | wc -l)" = 1 ]; then
		KERNEL=1
	else
		echo "note: the kernel's zram is in use: zramctl comparisons skipped"
	fi
else
	echo "note: no kernel zram or no zramctl here: zramctl comparisons skipped"
fi

settle() { command -v udevadm >/dev/null && udevadm settle -t 5 2>/dev/null; true; }
kernel_reset() {
	local i
	settle
	for i in $(seq 50); do echo 1 > "$K/reset" 2>/dev/null && return 0; sleep 0.1; done
	fail "could not reset the kernel's zram0"
}
KMNT=
KADDED=		# the kernel's device zramctl --find hot-added for this test
kernel_restore() {
	[ -n "$KMNT" ] && umount "$KMNT"
	[ -d "$K" ] || cat "$KC/hot_add" >/dev/null
	kernel_reset
	# only the device this test added: another one is someone else's
	if [ -n "$KADDED" ] && [ -d "/sys/block/$KADDED" ]; then
		echo 1 > "/sys/block/$KADDED/reset" 2>/dev/null
		echo "${KADDED#zram}" > "$KC/hot_remove"
	fi
}
[ "$KERNEL" = 1 ] && CLEANUPS+=(kernel_restore)

# zramctl's output with NAME set aside: the first column and its separator
# (NAME is the first column of every comparison below).
strip_name() { sed -E 's|^(/dev/)?zram[0-9]+ *||; s|^NAME +||'; }
strip_name_raw() { sed -E 's|^(/dev/)?zram[0-9]+ ||; s|^NAME ||'; }

# ---- the same numbers ----
for i in $(seq 60000); do echo "line $i of a compressible text"; done | head -c 2097152 > "$T/mix"
head -c 1048576 /dev/urandom >> "$T/mix"
head -c 1048576 /dev/zero | tr '\0' 'a' >> "$T/mix"
echo lzo > "$U/comp_algorithm"
echo 64M > "$U/disksize"
dd if="$T/mix" of="$U/disk" bs=1M oflag=direct conv=notrunc status=none || fail "write $U/disk"

if [ "$KERNEL" = 1 ]; then
	echo lzo > "$K/comp_algorithm"
	echo 64M > "$K/disksize"
	dd if="$T/mix" of=/dev/zram0 bs=1M oflag=direct status=none || fail "write /dev/zram0"
	# With lzo both devices hold the same to the byte, so every column must
	# agree; should the allocators or codecs ever part, the values (COMPR,
	# TOTAL, MEM-USED) are masked and the layout alone compared.
	MASK=cat
	if [ "$(cat "$U/mm_stat")" != "$(cat "$K/mm_stat")" ]; then
		echo "note: mm_stat differs: uzram '$(cat "$U/mm_stat")', kernel '$(cat "$K/mm_stat")'"
		echo "note: comparing the tables' layout, not their values"
		MASK="sed -E 's/[0-9][0-9.]*[BKMGTPE]?/#/g; s/ +/ /g'"
	fi
	for opts in "" "--bytes" "--noheadings" "--output-all" "--output-all --bytes" \
		    "-o NAME,ZERO-PAGES,MEM-LIMIT,MEM-USED,MIGRATED" "-o name,total,data,algorithm" \
		    "-n -b -o NAME,DISKSIZE,COMPR"; do
		# shellcheck disable=SC2086
		same "$("${UCTL[@]}" $opts | strip_name | eval "$MASK")" \
			"$(zramctl $opts | strip_name | eval "$MASK")" \
			"uzram ctl $opts vs zramctl $opts"
		# shellcheck disable=SC2086
		same "$("$UZRAM" ctl --sysfs /sys/block $opts | strip_name)" "$(zramctl $opts | strip_name)" \
			"uzram ctl --sysfs /sys/block $opts vs zramctl $opts (the same device)"
	done
	for opts in "--raw" "--raw --bytes" "--raw --output-all"; do
		# shellcheck disable=SC2086
		same "$("${UCTL[@]}" $opts | strip_name_raw | eval "$MASK")" \
			"$(zramctl $opts | strip_name_raw | eval "$MASK")" \
			"uzram ctl $opts vs zramctl $opts"
	done
	echo "zramctl:";        zramctl | sed 's/^/    /'
	echo "uzram ctl:";      "${UCTL[@]}" | sed 's/^/    /'

	# MOUNTPOINT: the kernel's device mounted, read through /sys/block
	mkfs.ext4 -q /dev/zram0 && mkdir -p "$T/k m" && mount /dev/zram0 "$T/k m" && KMNT="$T/k m"
	same "$("$UZRAM" ctl --sysfs /sys/block -o NAME,MOUNTPOINT | strip_name)" \
		"$(zramctl -o NAME,MOUNTPOINT | strip_name)" "MOUNTPOINT of the kernel's zram0"
	same "$("$UZRAM" ctl --sysfs /sys/block --raw -o MOUNTPOINT,NAME)" \
		"$(zramctl --raw -o MOUNTPOINT,NAME | sed 's|/dev/zram|zram|')" "MOUNTPOINT in --raw (\\x20)"
	umount "$KMNT"; KMNT=
	kernel_reset

	# human units over a range of sizes: DISKSIZE of both devices
	for sz in 4096 8192 1044480 1048576 1052672 1101824 1126400 1572864 1609728 2093056 \
		  10481664 104853504 1073737728 1073741824 1181116416 1610612736 8589930496; do
		echo "$sz" > "$K/disksize"
		echo 1 > "$U/reset"; echo "$sz" > "$U/disksize"
		same "$("${UCTL[@]}" -n -o DISKSIZE zram0)" "$(zramctl -n -o DISKSIZE /dev/zram0)" \
			"DISKSIZE of $sz bytes"
		kernel_reset
	done
	echo 1 > "$U/reset"

	# --find: the first unused device, else a hot-added one; --reset removes it
	echo 64M > "$U/disksize"
	echo 64M > "$K/disksize"
	ufound=$("${UCTL[@]}" --find --size 32M --algorithm lz4)
	KADDED=$(zramctl --find --size 32M --algorithm lz4 | sed 's|/dev/||')
	same "$ufound" "$KADDED" "--find --size --algorithm"
	# zramctl lists in the order of readdir(/dev); uzram ctl in id order
	same "$("${UCTL[@]}" -n -o NAME,ALGORITHM,DISKSIZE | sort | strip_name)" \
		"$(zramctl -n -o NAME,ALGORITHM,DISKSIZE | sort | strip_name)" "the table after --find"
	same "$("${UCTL[@]}" -n -o NAME | tr '\n' ' ')" "zram0 zram1 " "uzram ctl lists zram0 and zram1"
	same "$("${UCTL[@]}" --reset zram1 2>&1; echo "rc=$?")" \
		"$(zramctl --reset /dev/zram1 2>&1 | sed 's|/dev/||'; echo "rc=${PIPESTATUS[0]}")" "--reset zram1"
	same "$(ls "$MNT" | tr '\n' ' ')" "zram-control zram0 " "--reset removed zram1 (as zramctl does)"
	[ -d /sys/block/zram1 ] && fail "zramctl --reset left the kernel's zram1"
	# errors, word for word but for the program's name and /dev/
	err_of() { "$@" 2>&1 >/dev/null | sed 's|^zramctl:|uzram ctl:|; s|/dev/zram|zram|g'; echo "rc=${PIPESTATUS[0]}"; }
	same "$(err_of "${UCTL[@]}" -s abc zram0)" "$(err_of zramctl -s abc /dev/zram0)" "a bad size"
	same "$(err_of "${UCTL[@]}" -o FOO)" "$(err_of zramctl -o FOO)" "an unknown column"
	# uzram ctl has newer zramctl's -p, and its words for this error
	if zramctl --help | grep -q -- --algorithm-params; then
		same "$(err_of "${UCTL[@]}" -a lz4)" "$(err_of zramctl -a lz4)" "--algorithm without --size"
	else
		same "$(err_of "${UCTL[@]}" -a lz4)" "$(err_of zramctl -a lz4 |
			sed 's/--algorithm and --streams/--algorithm, --algorithm-params, and --streams/')" \
			"--algorithm without --size (zramctl before -p, its message brought up to date)"
	fi
	same "$(err_of "${UCTL[@]}" zram7)" "$(err_of zramctl /dev/zram7)" "a missing device"
	same "$(err_of "${UCTL[@]}" --reset zram7)" "$(err_of zramctl --reset /dev/zram7)" "reset of a missing device"
	same "$(err_of "${UCTL[@]}" -f -r zram0)" "$(err_of zramctl -f -r /dev/zram0)" "--find with --reset"
	exec 3</dev/zram0 4<"$U/disk"
	same "$(err_of "${UCTL[@]}" --reset zram0)" "$(err_of zramctl --reset /dev/zram0)" "reset of an open device"
	exec 3<&- 4<&-
	kernel_reset
	echo 1 > "$U/reset"
fi

# ---- uzram ctl's own interface, over the socket and over the tree ----
for via in "--control $CTL" "--sysfs $MNT"; do
	# shellcheck disable=SC2206
	C=("$UZRAM" ctl $via)
	echo 1 > "$U/reset" 2>/dev/null
	same "$("${C[@]}")" "NAME ALGORITHM DISKSIZE DATA COMPR TOTAL STREAMS MOUNTPOINT" \
		"$via: no initialised device, only the header"
	same "$("${C[@]}" --find --size 1.5G -a zstd)" "zram0" "$via: --find takes the unused zram0"
	same "$("${C[@]}" zram0 disksize)" "1610612736" "$via: zram0 disksize"
	same "$("${C[@]}" /dev/zram0 comp_algorithm)" "lzo-rle lzo lz4 lz4hc [zstd] deflate 842 " \
		"$via: /dev/zramN is accepted"
	same "$("${C[@]}" zram0 comp_algorithm=lzo 2>&1; echo "rc=$?")" \
		"uzram ctl: zram0: comp_algorithm: Device or resource busy
rc=1" "$via: a refused store"
	same "$("${C[@]}" zram0 mem_limit=64M 2>&1; echo "rc=$?")" "rc=0" "$via: a store"
	same "$(awk '{print $4}' "$U/mm_stat")" "67108864" "$via: the store reached the device"
	same "$("${C[@]}" zram0 nosuch 2>&1; echo "rc=$?")" \
		"uzram ctl: zram0: nosuch: No such file or directory
rc=1" "$via: an unknown attribute"
	same "$("${C[@]}" zram0 initstate=1 2>&1; echo "rc=$?")" \
		"uzram ctl: zram0: initstate: Permission denied
rc=1" "$via: storing a read-only attribute"
	same "$("${C[@]}" zram9 disksize 2>&1; echo "rc=$?")" \
		"uzram ctl: zram9: disksize: No such device
rc=1" "$via: an attribute of a missing device"
	printf 'block data' | dd of="$U/disk" bs=4096 seek=3 conv=sync,notrunc status=none
	same "$("${C[@]}" zram0 block_state | awk '{print $1, $3}')" "3 ......" "$via: block_state"
	same "$("${C[@]}" -n -o NAME,ALGORITHM,DISKSIZE,ZERO-PAGES --bytes)" "zram0 zstd      1610612736          0" \
		"$via: -o --bytes"
	same "$("${C[@]}" --json --bytes -o NAME,DISKSIZE,ALGORITHM,ZERO-PAGES,STREAMS,MOUNTPOINT)" '{
   "zramdevices": [
      {
         "name": "zram0",
         "disksize": 1610612736,
         "algorithm": "zstd",
         "zero-pages": 0,
         "streams": null,
         "mountpoint": null
      }
   ]
}' "$via: --json --bytes"
	id=$("${C[@]}" zram-control hot_add)
	same "$id" "1" "$via: zram-control hot_add"
	same "$("${C[@]}" --find)" "zram1" "$via: --find alone names the unused zram1"
	same "$("${C[@]}" --find --size 8M)" "zram1" "$via: --find --size configures zram1"
	same "$("${C[@]}" -n -o NAME,DISKSIZE)" "zram0     1.5G
zram1       8M" "$via: two devices"
	same "$("${C[@]}" --json -o NAME,DISKSIZE)" '{
   "zramdevices": [
      {
         "name": "zram0",
         "disksize": "1.5G"
      },{
         "name": "zram1",
         "disksize": "8M"
      }
   ]
}' "$via: --json, two devices"
	# the MOUNTPOINT of a loop device on the disk file
	L=$(loop_attach "$MNT/zram1/disk")
	mkfs.ext4 -q "$L" && mount_dev "$L" "$T/u m" || fail "$via: mkfs/mount on $L"
	same "$("${C[@]}" -o NAME,MOUNTPOINT zram1)" "NAME  MOUNTPOINT
zram1 $T/u m" "$via: MOUNTPOINT through the loop device"
	same "$("${C[@]}" --reset zram1 2>&1; echo "rc=$?")" \
		"uzram ctl: zram1: failed to reset: Device or resource busy
rc=1" "$via: --reset of a mounted device"
	umount_dir "$T/u m"
	loop_detach "$L"
	same "$("${C[@]}" --reset zram1 2>&1; echo "rc=$?")" "rc=0" "$via: --reset"
	same "$(ls "$MNT" | tr '\n' ' ')" "zram-control zram0 " "$via: --reset removed zram1"
	same "$("${C[@]}" zram0 --size 32M -a lz4; "${C[@]}" -n -o NAME,ALGORITHM,DISKSIZE)" \
		"zram0 lz4            32M" "$via: NAME --size --algorithm reconfigures"
	# -t: max_comp_streams is gone (6.15+, uzram): ignored, as newer zramctl
	# does; -p stores algorithm_params between the algorithm and disksize
	same "$("${C[@]}" zram0 -t 4 -s 16M -a zstd -p level=9 2>&1; echo "rc=$?"; "${C[@]}" -n -o NAME,ALGORITHM,DISKSIZE)" \
		"rc=0
zram0 zstd           16M" "$via: -t ignored, -p level=9 stored"
	same "$("${C[@]}" zram0 -s 16M -a lz4 -p level=0 2>&1; echo "rc=$?")" \
		"uzram ctl: zram0: failed to set disksize (16777216 bytes): Invalid argument
rc=1" "$via: -p level=0 for lz4 refused at disksize, as the kernel's backend does"
	same "$("${C[@]}" zram0 -s 16M -p "dict=/etc/hostname" 2>&1; echo "rc=$?")" \
		"uzram ctl: zram0: failed to set algorithm params: Operation not permitted
uzram ctl: uzram serve opens files only below its --allow-path directories: start it with --allow-path DIR, DIR holding the file (no symbolic link below DIR on the way)
rc=1" "$via: -p dict= outside --allow-path"
	same "$("${C[@]}" zram0 -p level=3 2>&1; echo "rc=$?")" \
		"uzram ctl: options --algorithm, --algorithm-params, and --streams must be combined with --size
rc=1" "$via: -p without --size"
	# hot_add and hot_remove=N alone, without zram-control
	same "$("${C[@]}" hot_add)" "1" "$via: hot_add alone"
	same "$("${C[@]}" hot_remove=1 2>&1; echo "rc=$?")" "rc=0" "$via: hot_remove=1 alone"
	same "$(ls "$MNT" | tr '\n' ' ')" "zram-control zram0 " "$via: hot_remove=1 removed zram1"
	"${C[@]}" zram0 -s 32M -a lz4 || fail "$via: zram0 back to lz4 32M"
done
same "$("$UZRAM" ctl --control "$T/nosuch.sock" 2>&1; echo "rc=$?")" \
	"uzram ctl: $T/nosuch.sock: No such file or directory
uzram ctl: no uzram serve answers at $T/nosuch.sock; start one, or point uzram ctl at it with --control PATH
rc=1" "a missing control socket"
echo "t_ctl_zramctl: done"
