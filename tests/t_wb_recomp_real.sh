#!/bin/bash
# Writeback and recompression on real process memory (issue 7): a live
# Python heap, dumped with uzram dump, goes into a device; idle writeback
# must take mem_used_total below 20% of its value, recompressing lz4 pages
# with zstd must shrink compr_data_size (by about a third), and every page
# must read back identical after both.
set -u
UZRAM=${UZRAM:?}
BIN=$(dirname "$UZRAM")/bench/wb_recomp
[ -x "$BIN" ] || { echo "FAIL: $BIN is not built"; exit 1; }
dir=$(mktemp -d /tmp/uzram-wbrc.XXXXXX)
child=
cleanup() {
	[ -n "$child" ] && kill "$child" 2>/dev/null && wait "$child" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

. "${UZRAM_SRCDIR:-.}/tests/heap_pages.sh"
python_heap_pages "$dir/p.pages" 11 120000

"$BIN" --dir "$dir" --json "$dir/p.pages" >"$dir/out.json" || fail "wb_recomp: $(cat "$dir/out.json")"
cat "$dir/out.json"
/usr/bin/python3 - "$dir/out.json" <<'PY' || fail "figures out of bounds"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["verified"] is True, "data read back differs"
assert o["mem_used_after_writeback"] < 0.2 * o["mem_used_before_writeback"], o
assert o["written_back"] > 0.9 * o["pages"], o
assert o["recompress_saving"] > 0.25, o
assert o["mem_used_after_recompress"] < o["mem_used_before_recompress"], o
print("writeback: mem_used_total %d -> %d; recompression saved %.1f%% of compr_data_size"
      % (o["mem_used_before_writeback"], o["mem_used_after_writeback"], 100 * o["recompress_saving"]))
PY
exit 0
