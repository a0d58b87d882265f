#!/bin/bash
# The embedding example builds with the public header and the library alone,
# and runs: it stores pages and prints mm_stat.
set -u
bin=${BUILD:-build/default}/examples/embed
[ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }
out=$("$bin") || { echo "FAIL: embed exited $?: $out"; exit 1; }
echo "$out"
echo "$out" | grep -q '^mm_stat:  4096000 ' || { echo "FAIL: orig_data_size"; exit 1; }
echo "$out" | grep -q ' 100 same-filled pages$' || { echo "FAIL: same pages"; exit 1; }
exit 0
