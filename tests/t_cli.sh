#!/bin/bash
# uzram dump and uzram bench: a live process's anonymous memory becomes a page
# file holding what the process wrote; bench stores it, reads it back,
# verifies it, and prints its JSON object (src/tools/bench.c).
set -u
UZRAM=${UZRAM:?}
dir=$(mktemp -d /tmp/uzram-cli.XXXXXX)
child=
cleanup() {
	[ -n "$child" ] && kill "$child" 2>/dev/null && wait "$child" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# a process with a recognisable heap: 2000 copies of a marker string
marker="uzram-dump-marker-$$-"
perl -e '$m = shift; @a = map { $m . $_ . ("x" x 100) } 1..20000; open(F, ">", shift); print F "ready\n"; close F; sleep 600' \
	"$marker" "$dir/ready" &
child=$!
for _ in $(seq 100); do [ -s "$dir/ready" ] && break; sleep 0.1; done
[ -s "$dir/ready" ] || fail "the test process did not start"

"$UZRAM" dump --pid "$child" "$dir/p.pages" 2>"$dir/dump.err" || fail "dump: $(cat "$dir/dump.err")"
size=$(stat -c %s "$dir/p.pages")
[ "$size" -gt 0 ] && [ $((size % 4096)) -eq 0 ] || fail "page file size $size is not a positive multiple of 4096"
count=$(grep -ac "$marker" "$dir/p.pages")
[ "$count" -gt 0 ] || fail "the process's heap is not in the dump"
grep -q "pages" "$dir/dump.err" || fail "dump prints what it did"
echo "dump: $((size / 4096)) pages, marker found"

# errors name the thing and the reason
"$UZRAM" dump --pid 999999999 "$dir/x" 2>"$dir/err" && fail "dump of a missing process succeeded"
grep -q "process 999999999: no such process" "$dir/err" || fail "dump error names the process: $(cat "$dir/err")"
"$UZRAM" dump 2>/dev/null; [ $? -eq 2 ] || fail "dump without arguments: usage, exit 2"

for alg in lzo-rle lz4 zstd; do
	out=$("$UZRAM" bench "$dir/p.pages" --algorithm "$alg" --threads 2 --json) || fail "bench $alg: $out"
	echo "$out"
	echo "$out" | python3 -c '
import json, sys
o = json.load(sys.stdin)
alg, pages = sys.argv[1], int(sys.argv[2])
assert o["algorithm"] == alg, o
assert o["threads"] == 2 and o["pages"] == pages, o
assert o["verified"] is True, o
assert o["write_mbps"] > 0 and o["read_mbps"] > 0, o
m = o["mm_stat"]
for k in ("orig_data_size", "compr_data_size", "mem_used_total", "mem_limit", "mem_used_max",
          "same_pages", "pages_compacted", "huge_pages", "huge_pages_since"):
    assert k in m, k
assert m["orig_data_size"] == pages * 4096, m
assert 0 < m["mem_used_total"] < pages * 4096, m
assert m["mem_used_max"] >= m["mem_used_total"], m
' "$alg" $((size / 4096)) || fail "bench $alg JSON"
done

# Steady state (issue 23): --passes writes the file again over the full
# device, --churn discards and writes random pages; the figures exist and are
# sane, every pass replaces what it finds (orig_data_size stays the file's,
# zsmalloc reuses what it freed: no growth), and the data read back is what
# was written last.
for t in 1 2; do
	out=$("$UZRAM" bench "$dir/p.pages" --algorithm lz4 --threads $t --passes 4 --churn --json) ||
		fail "bench --passes 4 --churn (threads $t): $out"
	echo "$out"
	echo "$out" | python3 -c '
import json, sys
o = json.load(sys.stdin)
pages = int(sys.argv[1])
assert o["passes"] == 4 and o["verified"] is True, o
p = o["pass_mbps"]
assert len(p) == 4 and all(v > 0 for v in p) and p[0] == o["write_mbps"], o
assert sorted(p[1:])[1] <= o["rewrite_mbps"] <= sorted(p[1:])[2], o
assert o["churn_pps"] > 0, o
first, last, churn = o["mm_stat"], o["mm_stat_last"], o["mm_stat_churn"]
for m in (last, churn):
    assert m["orig_data_size"] == pages * 4096, m
# the same data again: the same objects, in the room the old ones left
assert last["compr_data_size"] == first["compr_data_size"], (first, last)
assert last["same_pages"] == first["same_pages"], (first, last)
assert last["mem_used_total"] <= first["mem_used_total"] * 1.01 + 4 * 65536, (first, last)
assert last["huge_pages_since"] == 4 * first["huge_pages_since"], (first, last)
' $((size / 4096)) || fail "bench --passes --churn JSON (threads $t)"
done
out=$("$UZRAM" bench "$dir/p.pages" --json) || fail "bench: $out"
echo "$out" | python3 -c '
import json, sys
o = json.load(sys.stdin)
assert o["passes"] == 1 and o["rewrite_mbps"] is None and o["churn_pps"] is None, o
assert "mm_stat_churn" not in o and o["mm_stat_last"] == o["mm_stat"], o
' || fail "bench without --passes: $out"
out=$("$UZRAM" bench "$dir/p.pages" --passes 3 --churn) || fail "bench --passes 3 --churn text"
for l in "^rewrite     [0-9.]* MB/s (median of passes 2..3: [0-9.]* [0-9.]*)$" \
	 "^churn       [0-9]* pages/s" "^after pass  orig_data_size $size " \
	 "^after churn orig_data_size $size " "^verified    yes"; do
	echo "$out" | grep -q "$l" || fail "bench --passes --churn text: no /$l/ in: $out"
done

# analyze: its mem_used_total is what bench then measures (within 3%). One
# writer thread, as analyze: with more, zsmalloc spreads them over per-CPU
# shards, each with its own partly used zspages - about 1 MiB per shard, a
# large share of this small file (docs/attributes.md).
"$UZRAM" analyze "$dir/p.pages" --json > "$dir/an.json" || fail "analyze"
"$UZRAM" analyze --pid $$ --algorithm lz4 > "$dir/an.txt" || fail "analyze --pid"
grep -q '^lz4 ' "$dir/an.txt" || fail "analyze --pid output: $(cat "$dir/an.txt")"
for alg in lzo-rle lz4 zstd; do
	"$UZRAM" bench "$dir/p.pages" --algorithm "$alg" --json > "$dir/b.json" || fail "bench"
	/usr/bin/python3 - "$alg" "$dir/an.json" "$dir/b.json" <<'PY' || fail "analyze vs bench ($alg)"
import json, sys
alg, an, b = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
names = [o["algorithm"] for o in an]
assert names == ["lzo-rle", "lzo", "lz4", "lz4hc", "zstd", "deflate", "842"], names
a = next(o for o in an if o["algorithm"] == alg)
m = b["mm_stat"]
print(alg, "analyze", a["mem_used_total"], "bench", m["mem_used_total"])
assert abs(a["mem_used_total"] - m["mem_used_total"]) <= 0.03 * m["mem_used_total"]
assert a["same_pages"] == m["same_pages"] and a["huge_pages"] == m["huge_pages"]
assert a["compr_data_size"] == m["compr_data_size"]
assert a["compress_mbps"] > 0 and a["decompress_mbps"] > 0
PY
done

out=$("$UZRAM" bench "$dir/p.pages" --algorithm nope 2>&1) && fail "unknown algorithm accepted"
echo "$out" | grep -q "nope" || fail "unknown algorithm error names it: $out"
head -c 1000 /dev/zero > "$dir/bad"
out=$("$UZRAM" bench "$dir/bad" 2>&1) && fail "a non-page file accepted"
echo "$out" | grep -q "page file" || fail "bad file error: $out"
out=$("$UZRAM" bench "$dir/p.pages") || fail "bench text output"
echo "$out" | grep -q "^verified    yes" || fail "text output: $out"

# Usage (issue 21): --help prints the usage on stdout and exits 0; a usage
# error names the argument and the rule, points to --help, exits 2, and does
# nothing else (analyze reads no page first).
for c in dump bench analyze; do
	out=$("$UZRAM" $c --help 2>"$dir/err") || fail "$c --help exits $?"
	[[ $out == "usage: uzram $c"* ]] && [ ! -s "$dir/err" ] || fail "$c --help: $out / $(cat "$dir/err")"
done
expect_usage() {	# EXPECTED-MESSAGE ARGS...
	local want=$1 out rc
	shift
	out=$("$UZRAM" "$@" 2>&1 >"$dir/stdout"); rc=$?
	[ $rc = 2 ] || fail "uzram $*: exit $rc, not 2: $out"
	[[ $out == *"$want"* ]] || fail "uzram $*: no \"$want\" in: $out"
	[[ $out == *"Try 'uzram $1 --help' for more information."* ]] || fail "uzram $*: no pointer to --help: $out"
	[ "$(echo "$out" | wc -l)" -le 3 ] || fail "uzram $*: more than a message: $out"
	[ ! -s "$dir/stdout" ] || fail "uzram $*: printed on stdout: $(cat "$dir/stdout")"
	echo "uzram $*: ${out%%$'\n'*}"
}
expect_usage "--threads 0: not a number from 1 to 1024" bench "$dir/p.pages" --threads 0
expect_usage "--threads abc: not a number from 1 to 1024" bench "$dir/p.pages" --threads abc
expect_usage "--threads abc: not a number from 1 to 1024" bench "$dir/p.pages" --threads=abc
expect_usage "unknown option '--bogus'" bench "$dir/p.pages" --bogus
expect_usage "--threads needs a value" bench "$dir/p.pages" --threads
expect_usage "--passes 0: not a number from 1 to 1000" bench "$dir/p.pages" --passes 0
expect_usage "--passes 1001: not a number from 1 to 1000" bench "$dir/p.pages" --passes=1001
expect_usage "FILE is missing" bench
expect_usage "one FILE only" bench "$dir/p.pages" "$dir/p.pages"
expect_usage "unknown option '--bogus'" dump --bogus
expect_usage "--pid abc: not a process id" dump --pid abc "$dir/x"
expect_usage "OUT is missing" dump --pid $$
expect_usage "--algorithm nosuch: no such algorithm (one of: lzo-rle" analyze --pid $$ --algorithm nosuch
expect_usage "--pid 0: not a process id" analyze --pid 0
expect_usage "--pid PID or FILE is needed" analyze
expect_usage "one or the other" analyze --pid $$ "$dir/p.pages"
[ ! -e "$dir/x" ] || fail "dump made its output after a usage error"
out=$("$UZRAM" nosuch 2>&1); rc=$?
[ $rc = 2 ] && [ "$out" = "uzram: unknown command 'nosuch' (one of: serve ctl bench dump analyze version)
Try 'uzram --help' for more information." ] || fail "uzram nosuch: exit $rc: $out"

# Errors name what failed: the output file, not the process.
out=$("$UZRAM" dump --pid $$ "$dir/no/such/dir" 2>&1) && fail "dump into a missing directory succeeded"
[[ $out == "uzram dump: $dir/no/such/dir: No such file or directory" ]] || fail "dump names the output: $out"
out=$("$UZRAM" analyze --pid 999999999 2>&1) && fail "analyze of a missing process succeeded"
[[ $out == *"process 999999999: no such process"* ]] || fail "analyze --pid 999999999: $out"
# The = form, as every other command takes it.
"$UZRAM" analyze --pid=$$ --algorithm=lz4 >"$dir/an.txt" || fail "analyze --pid=PID --algorithm=lz4"
grep -q '^lz4 ' "$dir/an.txt" || fail "analyze --pid=: $(cat "$dir/an.txt")"
# ... and it ends with a recommendation.
grep -q '^best ratio  lz4' "$dir/an.txt" && grep -q '^for swap    lz4: ' "$dir/an.txt" ||
	fail "analyze recommends nothing: $(cat "$dir/an.txt")"

# Same-filled pages are the best case: the ratio is "inf", not 0.
head -c $((64 * 4096)) /dev/zero >"$dir/zero.pages"
out=$("$UZRAM" bench "$dir/zero.pages") || fail "bench of zero pages: $out"
echo "$out" | grep -q "^ratio       inf (every page is same-filled" || fail "bench ratio of zero pages: $out"
out=$("$UZRAM" analyze "$dir/zero.pages" --algorithm lz4) || fail "analyze of zero pages: $out"
echo "$out" | grep -Eq '^lz4 +inf +0 +0 +64 +0 +- +-$' || fail "analyze of zero pages: $out"
echo "$out" | grep -q "^for swap    any: every page is same-filled" || fail "analyze of zero pages: $out"
"$UZRAM" analyze "$dir/zero.pages" --algorithm lz4 --json | python3 -c '
import json, sys
r = json.load(sys.stdin)[0]
assert r["ratio"] is None and r["compress_mbps"] is None and r["same_pages"] == 64, r
' || fail "analyze --json of zero pages"
exit 0
