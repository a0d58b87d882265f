#!/bin/bash
# uzram against the kernel's own zram, on the same real process memory
# (drivers/block/zram/zram_drv.c: mm_stat_show(), page_same_filled(),
# zram_write_page(); mm/zsmalloc.c): for each algorithm both offer, the
# same file goes into a fresh /dev/zram0 (dd, O_DIRECT) and into a fresh uzram
# device (uzram bench); then
#   same_pages are identical, huge_pages within 0.5% (lz4), compr_data_size
#   within 0.1% (lz4), and uzram's mem_used_total <= 1.01 x the kernel's.
# Needs root and an unused /sys/block/zram0; the kernel device is reset
# afterwards whatever happens.
set -u
UZRAM=${UZRAM:?}
Z=/sys/block/zram0
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to drive the kernel's zram"; exit 77; }
[ -w $Z/disksize ] || { echo "SKIP: no kernel zram here (/sys/block/zram0)"; exit 77; }
[ "$(cat $Z/initstate)" = 0 ] || { echo "SKIP: the kernel's zram0 is in use"; exit 77; }
grep -q '^/dev/zram0 ' /proc/swaps && { echo "SKIP: zram0 is swap"; exit 77; }

dir=$(mktemp -d /tmp/uzram-kcmp.XXXXXX)
child=
cleanup() {
	echo 1 > $Z/reset 2>/dev/null
	[ -n "$child" ] && kill "$child" 2>/dev/null && wait "$child" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# real process memory: a Python heap of dicts, strings and floats
. "${UZRAM_SRCDIR:-.}/tests/heap_pages.sh"
python_heap_pages "$dir/p.pages" 7 150000
size=$(stat -c %s "$dir/p.pages")
echo "page file: $((size / 4096)) pages"

kernel_algs=$(tr -d '[]' < $Z/comp_algorithm)
for alg in lz4 lzo-rle lzo; do
	case " $kernel_algs " in *" $alg "*) ;; *) echo "kernel lacks $alg"; continue ;; esac
	echo 1 > $Z/reset
	echo "$alg" > $Z/comp_algorithm || fail "kernel comp_algorithm $alg"
	echo "$size" > $Z/disksize || fail "kernel disksize"
	dd if="$dir/p.pages" of=/dev/zram0 bs=1M oflag=direct status=none || fail "dd"
	read -r k_orig k_compr k_used _ _ k_same _ k_huge _ < $Z/mm_stat
	echo 1 > $Z/reset
	out=$("$UZRAM" bench "$dir/p.pages" --algorithm "$alg" --json) || fail "uzram bench: $out"
	read -r u_orig u_compr u_used u_same u_huge < <(echo "$out" | /usr/bin/python3 -c '
import json, sys
m = json.load(sys.stdin)["mm_stat"]
print(m["orig_data_size"], m["compr_data_size"], m["mem_used_total"], m["same_pages"], m["huge_pages"])')
	echo "$alg kernel: orig $k_orig compr $k_compr used $k_used same $k_same huge $k_huge"
	echo "$alg uzram:  orig $u_orig compr $u_compr used $u_used same $u_same huge $u_huge"
	[ "$u_orig" = "$k_orig" ] || fail "$alg orig_data_size differs"
	[ "$u_same" = "$k_same" ] || fail "$alg same_pages differ"
	awk -v u="$u_used" -v k="$k_used" 'BEGIN { exit !(u <= 1.01 * k) }' ||
		fail "$alg mem_used_total $u_used > 1.01 x kernel $k_used"
	if [ "$alg" = lz4 ]; then
		awk -v u="$u_huge" -v k="$k_huge" 'BEGIN { d = u - k; if (d < 0) d = -d; exit !(d <= 0.005 * k + 0.5) }' ||
			fail "lz4 huge_pages $u_huge vs kernel $k_huge: more than 0.5% apart"
		awk -v u="$u_compr" -v k="$k_compr" 'BEGIN { d = u - k; if (d < 0) d = -d; exit !(d <= 0.001 * k) }' ||
			fail "lz4 compr_data_size $u_compr vs kernel $k_compr: more than 0.1% apart"
	fi
	awk -v u="$u_used" -v k="$k_used" -v a="$alg" 'BEGIN { printf "%s mem_used_total uzram/kernel = %.4f\n", a, u / k }'
done
exit 0
