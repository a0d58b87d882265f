#!/bin/bash
# t_fuse_tree.sh - the FUSE tree of `uzram serve --mount DIR` (src/fuse/fuse.c):
# its layout and modes, attribute files that read as show and write as store
# with the attribute's errno, zram-control's hot_add/hot_remove, and each
# device's disk file (buffered, O_DIRECT, unaligned, fsync, fallocate, its
# size following disksize and reset, EBUSY while open). The control socket
# and the tree must show the same thing.
. "$(dirname "$0")/fuse_lib.sh"
fuse_require
serve_start --devices 2 --size 64M --algorithm lzo-rle

# ---- layout and modes ----
same "$(ls "$MNT" | tr '\n' ' ')" "zram-control zram0 zram1 " "--devices 2: the root directory"
same "$(ls "$MNT/zram-control" | tr '\n' ' ')" "hot_add hot_remove " "zram-control's files"
same "$(stat -c '%a %s' "$MNT/zram-control/hot_add" "$MNT/zram-control/hot_remove" | tr '\n' ' ')" \
	"400 4096 200 4096 " "hot_add 0400, hot_remove 0200 (sysfs's modes and size)"
# the kernel's modes (drivers/block/zram/zram_drv.c): DEVICE_ATTR_RO/WO/RW
declare -A MODE=(
	[disksize]=644 [initstate]=444 [reset]=200 [compact]=200 [mem_limit]=200
	[mem_used_max]=200 [idle]=200 [comp_algorithm]=644 [io_stat]=444 [mm_stat]=444
	[debug_stat]=444 [recomp_algorithm]=644 [recompress]=200 [algorithm_params]=200
	[bd_stat]=444 [backing_dev]=644 [writeback]=200 [writeback_limit]=644
	[writeback_limit_enable]=644 [writeback_batch_size]=644 [compressed_writeback]=644
	[stat]=444 [block_state]=400 [disk]=600
	[size]=444 [dev]=444 [ro]=444 [removable]=444 [alignment_offset]=444
	[discard_alignment]=444 [queue]=755
)
for f in "$MNT"/zram0/*; do
	n=${f##*/}
	if [ -z "${MODE[$n]:-}" ]; then
		echo "note: zram0/$n is not in the kernel's attribute list"
		continue
	fi
	same "$(stat -c %a "$f")" "${MODE[$n]}" "mode of zram0/$n"
	[ "$n" = disk ] || [ "$n" = queue ] ||
		same "$(stat -c %s "$f")" "4096" "size of zram0/$n (sysfs's 4096)"
done
# queue/: the block layer's queue files, read-only (docs/attributes.md)
same "$(ls "$MNT/zram0/queue" | wc -l)" 24 "zram0/queue has 24 files"
same "$(stat -c '%a %s' "$MNT"/zram0/queue/* | sort -u)" "444 4096" "queue/ files: 0444, 4096"
same "$(stat -c %h "$MNT/zram0" "$MNT/zram0/queue" | tr '\n' ' ')" "3 2 " "links: zram0 has queue/"
same "$(cat "$MNT/zram0/queue/logical_block_size" "$MNT/zram0/queue/rotational" \
	"$MNT/zram0/queue/write_cache")" "4096
0
write through" "queue/ values"
same "$(shell_write "$MNT/zram0" queue/rotational 1)" "queue/rotational: Permission denied
rc=1" "a queue file takes no store"
[ ! -e "$MNT/zram0/queue/disk" ] && [ ! -e "$MNT/zram0/rotational" ] ||
	fail "queue/ and zram0/ keep their own files"
same "$(cat "$MNT/zram0/size" "$MNT/zram1/size" | tr '\n' ' ')" "131072 0 " \
	"size: disksize in 512-byte sectors"
same "$(cat "$MNT/zram0/dev" "$MNT/zram1/dev" | tr '\n' ' ')" "512:0 512:1 " \
	"dev: UZRAM_DEV_MAJOR and the id"
same "$(stat -c '%a %s' "$MNT/zram0/disk")" "600 67108864" "zram0/disk: 0600, disksize bytes"
same "$(stat -c '%s' "$MNT/zram1/disk")" "0" "zram1/disk of an uninitialised device: 0 bytes"
for a in disksize initstate comp_algorithm algorithm_params mm_stat io_stat debug_stat reset stat; do
	[ -e "$MNT/zram0/$a" ] || fail "zram0/$a missing"
done

# ---- show and store ----
same "$(cat "$MNT/zram0/disksize")" "67108864" "zram0 disksize (--size 64M)"
same "$(cat "$MNT/zram1/disksize")" "0" "zram1 disksize"
same "$(cat "$MNT/zram0/initstate") $(cat "$MNT/zram1/initstate")" "1 0" "initstate"
same "$(cat "$MNT/zram0/comp_algorithm")" "[lzo-rle] lzo lz4 lz4hc zstd deflate 842 " "comp_algorithm"
same "$(shell_write "$MNT/zram0" comp_algorithm lzo)" \
	"echo: write error: Device or resource busy
rc=1" "echo lzo > comp_algorithm on an initialised device"
same "$(shell_write "$MNT/zram1" comp_algorithm foo)" \
	"echo: write error: Invalid argument
rc=1" "an unknown algorithm"
same "$(shell_write "$MNT/zram1" comp_algorithm zstd)" "rc=0" "comp_algorithm zstd"
same "$(cat "$MNT/zram1/comp_algorithm")" "lzo-rle lzo lz4 lz4hc [zstd] deflate 842 " "zstd selected"
same "$(shell_write "$MNT/zram0" initstate 1)" "initstate: Permission denied
rc=1" "writing a read-only attribute (root too, as sysfs)"
same "$(shell_read "$MNT/zram0" reset)" "cat: reset: Permission denied
rc=1" "reading a write-only attribute"
same "$(shell_read "$MNT/zram1" block_state)" \
	"cat: block_state: Invalid argument
rc=1" "block_state of an uninitialised device: EINVAL"
same "$(shell_write "$MNT/zram1" disksize 0)" "echo: write error: Invalid argument
rc=1" "disksize 0"
# a store is one write(2) of at most a page: a long write stores its first page
same "$(head -c 5000 /dev/zero | tr '\0' 'x' | (cd "$MNT/zram1" && dd of=comp_algorithm bs=5000 2>&1 >/dev/null) | grep -c 'Argument list too long')" \
	"1" "a 5000-byte write stores 4096 bytes: E2BIG from comp_algorithm"
touch "$MNT/zram0/newfile" 2>/dev/null && fail "creating a file in a device directory succeeded"
mkdir "$MNT/zram9" 2>/dev/null && fail "mkdir in the root succeeded"
rm "$MNT/zram0/disksize" 2>/dev/null && fail "removing an attribute succeeded"
# truncation (echo's O_TRUNC) is accepted and changes nothing, as in sysfs
: > "$MNT/zram0/mem_limit" || fail ": > mem_limit failed"
# a read at offset 0 shows afresh; a read elsewhere continues that text
same "$(dd if="$MNT/zram0/disksize" bs=1 skip=2 count=4 2>/dev/null)" "1088" "a read at an offset"

# ---- the control socket shows the same ----
for a in disksize initstate comp_algorithm mm_stat io_stat debug_stat stat size dev \
	queue/logical_block_size queue/zoned; do
	same "$("$UZRAM" ctl --control "$CTL" zram0 "$a")" "$(cat "$MNT/zram0/$a")" \
		"uzram ctl zram0 $a (socket) vs the tree"
	same "$("$UZRAM" ctl --sysfs "$MNT" zram0 "$a")" "$(cat "$MNT/zram0/$a")" \
		"uzram ctl --sysfs zram0 $a vs the tree"
done

# ---- hot_add and hot_remove ----
same "$(cat "$MNT/zram-control/hot_add")" "2" "hot_add shows the new id"
same "$(ls "$MNT" | tr '\n' ' ')" "zram-control zram0 zram1 zram2 " "zram2 appeared"
same "$(cat "$MNT/zram2/disksize") $(stat -c %s "$MNT/zram2/disk")" "0 0" "zram2 uninitialised"
same "$(shell_write "$MNT/zram-control" hot_remove 2)" "rc=0" "hot_remove 2"
same "$(ls "$MNT" | tr '\n' ' ')" "zram-control zram0 zram1 " "zram2 gone"
[ -e "$MNT/zram2/disksize" ] && fail "zram2/disksize still there"
same "$(shell_write "$MNT/zram-control" hot_remove 2)" "echo: write error: No such device
rc=1" "hot_remove of a removed device"
same "$(shell_write "$MNT/zram-control" hot_remove abc)" "echo: write error: Invalid argument
rc=1" "hot_remove abc"
same "$(shell_write "$MNT/zram-control" hot_remove -1)" "echo: write error: Invalid argument
rc=1" "hot_remove -1"
same "$(shell_read "$MNT/zram-control" hot_remove)" "cat: hot_remove: Permission denied
rc=1" "reading hot_remove"
same "$(shell_write "$MNT/zram-control" hot_add 1)" "hot_add: Permission denied
rc=1" "writing hot_add"

# ---- disk: the device as a regular file ----
D=$MNT/zram0/disk
head -c 3145728 /dev/urandom > "$T/rand"
for i in $(seq 2000); do echo "line $i of a compressible text, zram0"; done > "$T/text"
dd if="$T/rand" of="$D" bs=1M conv=notrunc,fsync status=none || fail "buffered write"
cmp -n 3145728 "$D" "$T/rand" || fail "buffered read-back"
dd if="$T/text" of="$D" bs=1M seek=8 oflag=direct conv=notrunc status=none || fail "O_DIRECT write"
dd if="$D" bs=1M skip=8 count=1 iflag=direct status=none | cmp -n "$(stat -c %s "$T/text")" - "$T/text" ||
	fail "O_DIRECT read-back"
# unaligned writes: a read-modify-write of the covering sectors
printf 'hello' | dd of="$D" bs=1 seek=4099 conv=notrunc status=none
same "$(dd if="$D" bs=1 skip=4097 count=9 status=none | od -An -c | tr -s ' ')" \
	"$(head -c 4106 "$T/rand" | tail -c 9 | { head -c 2; printf hello; tail -c 2; } | od -An -c | tr -s ' ')" \
	"an unaligned 5-byte write lands between its neighbours"
# fallocate: PUNCH_HOLE discards (partial pages zeroed), ZERO_RANGE writes zeros
before=$(awk '{print $1}' "$MNT/zram0/mm_stat")
fallocate -p -o 1048576 -l 1048576 "$D" || fail "fallocate --punch-hole"
after=$(awk '{print $1}' "$MNT/zram0/mm_stat")
same "$((before - after))" "1048576" "punching 1 MiB frees 256 pages of orig_data_size"
same "$(dd if="$D" bs=1M skip=1 count=1 status=none | tr -d '\0' | wc -c)" "0" "the hole reads as zeros"
check '[ "$(awk "{print \$4}" "$MNT/zram0/io_stat")" -ge 256 ]' "notify_free counts the discarded pages"
fallocate -p -o 100 -l 5000 "$D" || fail "unaligned punch"
same "$(dd if="$D" bs=1 skip=100 count=5000 status=none | tr -d '\0' | wc -c)" "0" "unaligned punch reads zeros"
same "$(dd if="$D" bs=1 skip=99 count=1 status=none | od -An -tx1)" "$(head -c 100 "$T/rand" | tail -c 1 | od -An -tx1)" \
	"the byte before an unaligned punch is kept"
same "$(dd if="$D" bs=1 skip=5100 count=1 status=none | od -An -tx1)" "$(head -c 5101 "$T/rand" | tail -c 1 | od -An -tx1)" \
	"the byte after an unaligned punch is kept"
fallocate -z -o 2097152 -l 12345 "$D" || fail "fallocate --zero-range"
same "$(dd if="$D" bs=1 skip=2097152 count=12345 status=none | tr -d '\0' | wc -c)" "0" "zero range reads zeros"
cmp -s -n 100 "$D" "$T/rand" || fail "data outside the fallocate ranges changed"
# the end of the device
same "$(dd if=/dev/zero of="$D" bs=4096 seek=16384 count=1 conv=notrunc 2>&1 | grep -c 'No space left')" "1" \
	"a write past the end: ENOSPC, as on a block device"
same "$(dd if="$D" bs=4096 skip=16384 count=1 status=none | wc -c)" "0" "a read past the end: EOF"
# block_state: the kernel's debugfs lines, one per allocated slot
bs=$(cat "$MNT/zram0/block_state")
same "$(grep -cvE '^ {0,11}[0-9]+ {0,11}[0-9]+\.000000 [s.][w.][h.][i.][r.][n.]$' <<<"$bs")" "0" \
	"block_state lines in the kernel's format"
same "$(awk 'length($0) != 39' <<<"$bs" | wc -l)" "0" "block_state lines are 40 bytes with the newline"
same "$(awk '$1 == 8 {print $3}' <<<"$bs")" "..h..." "slot 8 (random data) is huge"
same "$("$UZRAM" ctl --control "$CTL" zram0 block_state | md5sum)" "$(md5sum <<<"$bs")" \
	"block_state over the control socket"
same "$(dd if="$MNT/zram0/block_state" bs=7 status=none | md5sum)" "$(md5sum <<<"$bs")" \
	"block_state read 7 bytes at a time"
# du shows what the device costs: blocks are mem_used_total
same "$(($(stat -c %b "$D") * 512))" "$(awk '{print $3}' "$MNT/zram0/mm_stat")" "disk's blocks = mem_used_total"
truncate -s 1M "$D" 2>/dev/null && fail "truncating disk to another size succeeded"

# each device is its own disk
D1=$MNT/zram1/disk
same "$(shell_write "$MNT/zram1" disksize 16M)" "rc=0" "zram1 disksize 16M"
same "$(stat -c %s "$D1")" "16777216" "disk's size follows disksize"
dd if="$T/text" of="$D1" conv=notrunc status=none || fail "write zram1/disk"
cmp -n 3145728 "$D" "$T/rand" >/dev/null 2>&1 && fail "zram1's write showed up in zram0"
cmp -n "$(stat -c %s "$T/text")" "$D1" "$T/text" || fail "zram1 read-back"
check '[ "$(awk "{print \$1}" "$MNT/zram1/mm_stat")" -gt 0 ]' "zram1 stores data"

# an open disk holds the device open: reset and hot_remove are EBUSY
exec 3<>"$D1"
same "$(shell_write "$MNT/zram1" reset 1)" "echo: write error: Device or resource busy
rc=1" "reset while disk is open"
same "$(shell_write "$MNT/zram-control" hot_remove 1)" "echo: write error: Device or resource busy
rc=1" "hot_remove while disk is open"
exec 3>&-
# ... and once closed (FUSE releases asynchronously: the store waits for it)
same "$(shell_write "$MNT/zram1" reset 1)" "rc=0" "reset right after the close"
same "$(stat -c %s "$D1") $(cat "$MNT/zram1/disksize") $(cat "$MNT/zram1/initstate")" "0 0 0" \
	"after reset: disk is empty, the device uninitialised"
same "$(cat "$MNT/zram1/comp_algorithm")" "[lzo-rle] lzo lz4 lz4hc zstd deflate 842 " \
	"reset restores the default algorithm"
dd if=/dev/zero of="$D1" bs=4096 count=1 2>/dev/null && fail "writing an uninitialised device succeeded"

# mem_limit reached: the disk file's write fails with EIO, as a write to the
# kernel's /dev/zramN does (zram_write_page's -ENOMEM ends the bio with an
# I/O error); NBD answers ENOSPC instead (t_nbd_serve.sh). docs/security.md.
same "$(shell_write "$MNT/zram1" disksize 16M)" "rc=0" "zram1 disksize 16M again"
same "$(shell_write "$MNT/zram1" mem_limit 256K)" "rc=0" "zram1 mem_limit 256K"
same "$(dd if="$T/rand" of="$D1" bs=1M count=2 oflag=direct conv=notrunc 2>&1 | grep -c 'Input/output error')" "1" \
	"a write beyond mem_limit: EIO"
check '[ "$(awk "{print \$2}" "$MNT/zram1/io_stat")" -gt 0 ]' "failed_writes counts the refused write"
same "$(shell_write "$MNT/zram1" reset 1)" "rc=0" "reset zram1"

# a second server does not mount over a live tree (its devices would vanish
# from sight): it says so and exits, and the first tree keeps working
out=$(timeout 20 "$UZRAM" serve --size 0 --mount "$MNT" --control "$T/c2.sock" \
	--socket "$T/n2.sock" 2>&1 </dev/null); rc=$?
same "$rc $(grep -c "uzram serve: --mount $MNT: another uzram serve's tree is mounted there" <<<"$out")" \
	"1 1" "--mount over a live uzram tree is refused"
[ ! -e "$T/c2.sock" ] && [ ! -e "$T/n2.sock" ] || fail "the refused server left its sockets"
same "$(cat "$MNT/zram0/initstate")" "1" "the first tree still answers"

echo "t_fuse_tree: done"
