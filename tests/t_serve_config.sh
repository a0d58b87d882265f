#!/bin/bash
# t_serve_config.sh - devices set up at start (issue 21): `uzram serve
# --device zramN:KEY=VALUE,...` and `--config FILE` (zram-generator.conf(5)).
#  1. --device's syntax errors are usage errors (exit 2, the option and the
#     reason, then the pointer to --help); so is --size with zram0's size=;
#  2. --device for zram0 and zram2: disksize, comp_algorithm, mem_limit
#     (mm_stat), algorithm-params reaching the algorithm, recomp_algorithm;
#     zram1 between them is created, uninitialised; the banner lists them;
#     backing-dev from the command line needs no --allow-path, while a client
#     of the control socket still gets EPERM for the same directory;
#  3. --config: a zram-size expression (computed here from /proc/meminfo),
#     recompression with parameters, zram-resident-limit, writeback-device,
#     the default size, a section skipped by host-memory-limit, the warnings
#     (ignored keys once, unknown key, other section, global recompression
#     parameters), and --device winning over the file;
#  4. errors at start (exit 1): unknown algorithms, a syntax error and a bad
#     expression naming FILE:LINE, a missing file.
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"

ctl() { "$UZRAM" ctl --control "$CTL" "$@" || fail "uzram ctl $*"; }
# the selected algorithm of "lzo-rle [zstd] lz4 ..." (or of "#1: ..." lines)
selected() { sed -n 's/.*\[\([^]]*\)\].*/\1/p'; }
mem_limit() { ctl "$1" mm_stat | awk '{ print $4 }'; }

echo "== 1. usage errors"
serve_usage_error "--device zram1:colour=red: unknown key; the keys are size, algorithm, algorithm-params, mem-limit, backing-dev, recomp-algorithm" \
	--device zram1:size=1M,colour=red
serve_usage_error "--device zram1:size=1Q: not a size (e.g. 1G, 512M, 0)" --device zram1:size=1Q
serve_usage_error "--device zram1:mem-limit=lots: not a size (e.g. 1G, 512M, 0)" --device zram1:mem-limit=lots
serve_usage_error "--device zram1:size: KEY=VALUE expected, e.g. size=1G" --device zram1:size
serve_usage_error "--device zram1:size=1M,: an empty KEY=VALUE (pairs are separated by single commas)" \
	--device zram1:size=1M,
serve_usage_error "--device zram1024:size=1M: not zramN[:KEY=VALUE,...] with N from 0 to 1023" \
	--device zram1024:size=1M
serve_usage_error "--device nbd0: not zramN[:KEY=VALUE,...] with N from 0 to 1023" --device nbd0
serve_usage_error "--device zram1:recomp-algorithm=lz4: at most 3 recompression algorithms" \
	--device zram1:recomp-algorithm=zstd,recomp-algorithm=lz4hc,recomp-algorithm=deflate,recomp-algorithm=lz4
serve_usage_error "--size and --device zram0:size=2M both set zram0's disksize: give one" \
	--size 1M --device zram0:size=2M

echo "== 2. --device"
mkdir "$T/wb"
truncate -s 16M "$T/wb/zram3.img" "$T/wb/other.img"
start_server --device zram0:size=32M,algorithm=lz4 \
	--device zram2:size=16M,algorithm=zstd,algorithm-params=level=5,mem-limit=8M \
	--device zram3:recomp-algorithm=zstd,backing-dev="$T/wb/zram3.img",size=4M
[ "$(ctl_request list | tr '\n' ' ')" = "zram0 zram1 zram2 zram3 " ] ||
	fail "devices: $(ctl_request list | tr '\n' ' ')"
[ "$(ctl zram0 disksize)" = 33554432 ] || fail "zram0 disksize $(ctl zram0 disksize)"
[ "$(ctl zram0 comp_algorithm | selected)" = lz4 ] || fail "zram0: $(ctl zram0 comp_algorithm)"
[ "$(ctl zram1 initstate)" = 0 ] || fail "zram1 initialised"
[ "$(ctl zram2 disksize)" = 16777216 ] || fail "zram2 disksize $(ctl zram2 disksize)"
[ "$(ctl zram2 comp_algorithm | selected)" = zstd ] || fail "zram2: $(ctl zram2 comp_algorithm)"
[ "$(mem_limit zram2)" = 8388608 ] || fail "zram2 mem_limit $(mem_limit zram2)"
[ "$(ctl zram3 recomp_algorithm | selected)" = zstd ] || fail "zram3: $(ctl zram3 recomp_algorithm)"
[ "$(ctl zram3 backing_dev)" = "$T/wb/zram3.img" ] || fail "zram3 backing_dev $(ctl zram3 backing_dev)"
# the allow-list (none given: every path refused) still binds clients
out=$(ctl_request store zram1 backing_dev "$T/wb/other.img") && fail "client backing_dev accepted"
[[ $out == "err 1 "* ]] || fail "client backing_dev: $out"
for line in "4 devices, zram0 32M, lz4" "zram2 16M, zstd" "zram3 4M, lzo-rle"; do
	grep -qx "uzram serve: $line" "$T/server.log" || fail "banner lacks '$line'"
done
stop_server
echo "zram0, zram2, zram3 as --device said; zram1 created uninitialised; clients still held to --allow-path"
# algorithm-params reach the algorithm: lzo takes no level
out=$(timeout 10 "$UZRAM" serve --socket "$T/u.sock" --control "$T/u.ctl" \
	--device zram1:algorithm=lzo,algorithm-params=level=3,size=1M 2>&1 </dev/null) &&
	fail "lzo with level=3 accepted"
[[ $out == *"--device zram1:size=1M: the algorithm refuses the parameters of --device zram1:algorithm-params=level=3"* ]] ||
	fail "lzo level=3: $out"

echo "== 3. --config"
ram=$(( $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024 ))	# MiB, as zram-generator
want0=$(( ram / 64 < 65536 ? ram * 16384 : 65536 << 20 ))	# ram / 64 MiB, in bytes
default2=$(( ram / 2 < 4096 ? ram << 19 : 4096 << 20 ))	# min(ram / 2, 4096) MiB
cat >"$T/z.conf" <<EOF
# zram-generator.conf, as zram users write it
[zram0]
zram-size = min(ram / 64, 65536) + (8 - 2 * 4)
compression-algorithm = lz4 zstd(level=3) lz4hc (type=idle)
swap-priority = 100
mount-point = /mnt/zram0
; a comment

[other]
zram-size = 1

[zram1]
zram-size = 24
zram-resident-limit = 8
writeback-device = $T/wb/zram3.img
compression-algorithm = deflate
no-such-key = 1

[zram2]

[zram3]
host-memory-limit = 1
EOF
start_server --config "$T/z.conf" --device zram1:algorithm=lz4hc
[ "$(ctl_request list | tr '\n' ' ')" = "zram0 zram1 zram2 " ] ||
	fail "devices: $(ctl_request list | tr '\n' ' ') (zram3 is skipped)"
[ "$(ctl zram0 disksize)" = "$want0" ] || fail "zram0 disksize $(ctl zram0 disksize), not $want0 (ram $ram MiB)"
[ "$(ctl zram0 comp_algorithm | selected)" = lz4 ] || fail "zram0: $(ctl zram0 comp_algorithm)"
[ "$(ctl zram0 recomp_algorithm | selected | tr '\n' ' ')" = "zstd lz4hc " ] ||
	fail "zram0 recomp_algorithm: $(ctl zram0 recomp_algorithm)"
[ "$(ctl zram1 disksize)" = 25165824 ] || fail "zram1 disksize $(ctl zram1 disksize)"
[ "$(mem_limit zram1)" = 8388608 ] || fail "zram1 mem_limit $(mem_limit zram1)"
[ "$(ctl zram1 backing_dev)" = "$T/wb/zram3.img" ] || fail "zram1 backing_dev $(ctl zram1 backing_dev)"
[ "$(ctl zram1 comp_algorithm | selected)" = lz4hc ] || fail "zram1: --device's algorithm lost: $(ctl zram1 comp_algorithm)"
[ "$(ctl zram2 disksize)" = "$default2" ] || fail "zram2 disksize $(ctl zram2 disksize), not $default2"
log=$T/server.log
[ "$(grep -c "ignored: swap-priority, mount-point, fs-type and options" "$log")" = 1 ] ||
	fail "ignored keys: not warned once: $(grep ignored "$log")"
grep -q "^uzram serve: warning: $T/z.conf:5: swap-priority ignored:" "$log" || fail "no warning for swap-priority"
grep -qx "uzram serve: warning: $T/z.conf:17: unknown key no-such-key in \[zram1\]: ignored" "$log" ||
	fail "no warning for the unknown key: $(grep unknown "$log")"
grep -qx "uzram serve: warning: $T/z.conf:9: section \[other\] ignored (devices are \[zramN\])" "$log" ||
	fail "no warning for [other]"
grep -q "^uzram serve: warning: $T/z.conf:4: compression-algorithm: (type=idle): global recompression parameters are not applied" "$log" ||
	fail "no warning for (type=idle)"
grep -qx "uzram serve: $T/z.conf:21: \[zram3\] skipped: MemTotal is $ram MiB, above host-memory-limit 1" "$log" ||
	fail "no note of the skipped [zram3]: $(grep skipped "$log")"
stop_server
echo "zram0 $want0 bytes (ram $ram MiB), lz4 + zstd, lz4hc; zram1 24M, mem_limit 8M, backing_dev, --device's lz4hc; zram2 $default2 (default); zram3 skipped"

echo "== 4. errors at start"
start_error() {	# PATTERN ARGS...
	local pat=$1 out rc
	shift
	out=$(timeout 10 "$UZRAM" serve --socket "$T/u.sock" --control "$T/u.ctl" "$@" 2>&1 </dev/null); rc=$?
	[ $rc = 1 ] || fail "serve $*: exit $rc, not 1: $out"
	[[ $out == *"$pat"* ]] || fail "serve $*: '$out' lacks '$pat'"
	[ ! -e "$T/u.sock" ] || fail "serve $*: left its socket"
	echo "serve ${*##*/}: $pat"
}
start_error "uzram serve: --device zram2:algorithm=lz5: unknown algorithm" --device zram2:algorithm=lz5
printf '[zram1]\nzram-size = 16\ncompression-algorithm = lzo-rle zstdx\n' >"$T/bad1.conf"
start_error "uzram serve: $T/bad1.conf:3: compression-algorithm = lzo-rle zstdx: unknown algorithm" \
	--config "$T/bad1.conf"
printf '# ok\n[zram1]\nzram-size 16\n' >"$T/bad2.conf"
start_error "uzram serve: $T/bad2.conf:3: 'zram-size 16': not a [section], KEY = VALUE or a comment" \
	--config "$T/bad2.conf"
printf '[zram1\n' >"$T/bad3.conf"
start_error "uzram serve: $T/bad3.conf:1: '[zram1': a section header without ']'" --config "$T/bad3.conf"
printf '[zram1]\nzram-size = ram / 0\n' >"$T/bad4.conf"
start_error "uzram serve: $T/bad4.conf:2: zram-size = ram / 0: at column 7: division by zero" \
	--config "$T/bad4.conf"
printf '[zram1]\nzram-size = log(ram)\n' >"$T/bad5.conf"
start_error "uzram serve: $T/bad5.conf:2: zram-size = log(ram): at column 1: unknown name" \
	--config "$T/bad5.conf"
start_error "uzram serve: --config $T/none.conf: No such file or directory" --config "$T/none.conf"
echo "PASS"
