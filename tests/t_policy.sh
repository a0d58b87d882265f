#!/bin/bash
# The idle policies of uzram serve (issue 7): --writeback-idle SECONDS and
# --recompress-idle SECONDS do periodically what an administrator would do
# by hand (idle=SECONDS, then writeback=idle / recompress=type=idle), and the
# effects show in bd_stat, mm_stat and block_state.
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"
need nbdcopy
ctl() { "$UZRAM" ctl --control "$CTL" "$@"; }

mkdir -p "$T/store"
truncate -s 64M "$T/store/backing"
/usr/bin/python3 - "$T/data" <<'EOF2'
import random, sys
random.seed(3)
words = [b"alpha ", b"beta ", b"gamma ", b"zram ", b"page\n"]
with open(sys.argv[1], "wb") as f:
    for i in range(4096):	# 16 MiB of text-like pages
        b = bytearray()
        while len(b) < 4096:
            b += random.choice(words)
        f.write(bytes(b[:4096]))
EOF2

# --- writeback of pages idle 2 s, to a backing file the allow-list admits
start_server --size 0 --allow-path "$T/store" --writeback-idle 2
ctl zram0 backing_dev="$T/store/backing" || fail "backing_dev"
ctl zram0 comp_algorithm=lz4 || fail "comp_algorithm"
ctl zram0 disksize=16M || fail "disksize"
nbdcopy "$T/data" "$URI" || fail "nbdcopy in"
read -r _ _ used_before _ < <(ctl zram0 mm_stat)
[ "$(ctl zram0 bd_stat | awk '{ print $3 }')" = 0 ] || fail "written back before the pages were idle"
for _ in $(seq 60); do
	[ "$(ctl zram0 bd_stat | awk '{ print $3 }')" -ge 4096 ] && break
	sleep 0.25
done
read -r bd_count _ bd_writes < <(ctl zram0 bd_stat)
read -r orig compr used _ < <(ctl zram0 mm_stat)
echo "after the policy: bd_stat $bd_count $bd_writes; mm_stat orig $orig compr $compr used $used (before $used_before)"
[ "$bd_writes" = 4096 ] || fail "writeback policy wrote $bd_writes pages, want 4096"
[ "$orig" = $((16 << 20)) ] || fail "orig_data_size $orig"
[ "$compr" = 0 ] || fail "compr_data_size $compr after all pages went to the backing file"
nbdcopy "$URI" "$T/back" || fail "nbdcopy out"
cmp "$T/data" "$T/back" || fail "data read back from the backing file differs"
stop_server

# --- a refused idle writeback is reported, once, for any device id (the
# report table was 64 ids: zram64 and up were never reported)
start_server --size 0 --devices 70 --allow-path "$T/store" --writeback-idle 1
rm -f "$T/store/backing"; truncate -s 64M "$T/store/backing"
ctl zram69 backing_dev="$T/store/backing" || fail "zram69 backing_dev"
ctl zram69 writeback_limit_enable=1 || fail "writeback_limit_enable"
ctl zram69 disksize=16M || fail "zram69 disksize"
nbdcopy "$T/data" "nbd+unix:///zram69?socket=$SOCK" || fail "nbdcopy in zram69"
for _ in $(seq 40); do grep -q "zram69: idle writeback" "$T/server.log" && break; sleep 0.25; done
sleep 2	# more passes: still one line
grep "zram69: idle writeback" "$T/server.log"
[ "$(grep -c "uzram serve: zram69: idle writeback: Input/output error (writeback_limit reached)" "$T/server.log")" = 1 ] ||
	fail "zram69's refused writeback reported $(grep -c "zram69: idle" "$T/server.log") times, want once: $(cat "$T/server.log")"
stop_server

# --- recompression of pages idle 2 s with the secondary algorithm
start_server --size 0 --recompress-idle 2
ctl zram0 comp_algorithm=lz4 || fail "comp_algorithm"
ctl zram0 recomp_algorithm=algo=zstd || fail "recomp_algorithm"
ctl zram0 disksize=16M || fail "disksize"
nbdcopy "$T/data" "$URI" || fail "nbdcopy in"
read -r _ compr_before _ < <(ctl zram0 mm_stat)
for _ in $(seq 60); do
	[ "$(ctl zram0 block_state | grep -c 'r.$')" -gt 0 ] && break
	sleep 0.25
done
sleep 1
read -r _ compr_after _ < <(ctl zram0 mm_stat)
recompressed=$(ctl zram0 block_state | grep -c 'r.$')
echo "recompressed $recompressed pages: compr_data_size $compr_before -> $compr_after"
[ "$recompressed" -gt 0 ] || fail "no page was recompressed"
[ "$compr_after" -lt "$compr_before" ] || fail "recompression did not shrink compr_data_size"
nbdcopy "$URI" "$T/back" || fail "nbdcopy out"
cmp "$T/data" "$T/back" || fail "data read back after recompression differs"
stop_server

# --- a path outside the allow-list is refused from the control socket
start_server --size 0
ctl zram0 backing_dev="$T/store/backing" 2>"$T/err" && fail "backing_dev accepted without --allow-path"
grep -q "Operation not permitted" "$T/err" || fail "refusal message: $(cat "$T/err")"
stop_server
exit 0
