#!/bin/bash
# t_nbd_badinput.sh - every kind of bad input the NBD protocol (NBD's
# doc/proto.md) lets a client send, against `uzram serve`: nbdsh with strict
# mode off for requests, opt mode for options, and the raw client
# tests/nbd_raw.py for what libnbd cannot send. Also: a client vanishing in the middle of a write changes
# nothing; a connection held open through all of it never notices. (A
# client that never reads its replies: t_nbd_faults.sh.)
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"
need nbdsh
RAW="$PY $SRCDIR/tests/nbd_raw.py"

start_server --size 128M --threads 2

echo "== a witness connection, open through every bad client below"
start_witness 120

echo "== handshake and options (raw)"
$RAW "$SOCK" unknown_client_flags unknown_option list_with_data info_malformed \
	structured_twice extended_headers_starttls meta_before_sr option_huge \
	export_name_unknown || fail "option cases"

echo "== options through libnbd's opt mode"
$NBDSH --opt-mode -u "$URI" -c '
assert h.get_structured_replies_negotiated()
names = []
h.opt_list(lambda n, d: names.append(n))
assert names == ["zram0"], names
ctx = []
h.opt_list_meta_context(lambda c: ctx.append(c))
assert ctx == ["base:allocation"], ctx
h.set_export_name("zram9")
try:
    h.opt_info()
    raise SystemExit("INFO of zram9 succeeded")
except nbd.Error:
    pass
h.set_export_name("zram0")
h.set_full_info(True)
h.opt_info()
assert h.get_size() == 128 << 20 and h.get_canonical_export_name() == "zram0"
assert h.get_block_size(nbd.SIZE_MINIMUM) == 512 and h.get_block_size(nbd.SIZE_MAXIMUM) == 32 << 20
h.opt_abort()
' || fail "opt mode"

echo "== requests with strict mode off (nbdsh)"
$NBDSH -u "$URI" -c '
h.set_strict_mode(0)
size = h.get_size()
def expect(name, want, f):
    try:
        f()
        got = "OK"
    except nbd.Error as e:
        got = e.errno
    assert got in want.split("|"), "%s: %s, expected %s" % (name, got, want)
    print("ok", name, got)
expect("READ len 0", "EINVAL", lambda: h.pread(0, 0))
expect("READ past end", "EINVAL", lambda: h.pread(4096, size))
expect("READ across end", "EINVAL", lambda: h.pread(8192, size - 4096))
expect("READ at 2^63-1", "EINVAL", lambda: h.pread(512, 2**63 - 1))
expect("WRITE past end", "ENOSPC", lambda: h.pwrite(b"x" * 4096, size))
expect("WRITE_ZEROES past end", "ENOSPC", lambda: h.zero(4096, size))
expect("TRIM past end", "EINVAL", lambda: h.trim(4096, size))
expect("BLOCK_STATUS past end", "EINVAL", lambda: h.block_status(4096, size, lambda *a: 0))
expect("TRIM len 0", "EINVAL", lambda: h.trim(0, 0))
expect("BLOCK_STATUS len 0", "EINVAL", lambda: h.block_status(0, 0, lambda *a: 0))
expect("unknown flag", "EINVAL", lambda: h.pread(512, 0, 1 << 10))
expect("NO_HOLE on WRITE", "EINVAL", lambda: h.pwrite(b"x" * 512, 0, nbd.CMD_FLAG_NO_HOLE))
expect("unaligned READ", "EINVAL", lambda: h.pread(1, 1))
expect("unaligned WRITE", "EINVAL", lambda: h.pwrite(b"x" * 100, 512))
expect("FUA on READ", "OK", lambda: h.pread(512, 0, nbd.CMD_FLAG_FUA))
expect("FUA on TRIM", "OK", lambda: h.trim(4096, 1 << 20, nbd.CMD_FLAG_FUA))
chunks = []
expect("READ 64 KiB DF", "OK", lambda: h.pread_structured(65536, 0,
       lambda b, o, s, e: chunks.append(len(b)), nbd.CMD_FLAG_DF))
assert chunks == [65536], chunks
expect("READ 33 MiB", "EINVAL", lambda: h.pread(33 << 20, 0))
expect("WRITE_ZEROES 100 MiB", "OK", lambda: h.zero(100 << 20, 16 << 20))
expect("TRIM 100 MiB", "OK", lambda: h.trim(100 << 20, 16 << 20))
expect("CACHE", "OK", lambda: h.cache(1 << 20, 0))
expect("CACHE past end", "EINVAL", lambda: h.cache(4096, size))
expect("FLUSH", "OK", lambda: h.flush())
expect("16 MiB WRITE past end", "ENOSPC", lambda: h.pwrite(b"y" * (16 << 20), size - 4096))
expect("still in step", "OK", lambda: h.pread(512, 0))
# dropped: libnbd sees EOF or a reset, depending on when the server closes
expect("WRITE 33 MiB", "ENOTCONN|ECONNRESET", lambda: h.pwrite(b"y" * (33 << 20), 0))
' >"$T/strict.out" 2>&1 || { cat "$T/strict.out"; fail "strict-mode requests"; }
cat "$T/strict.out"
$NBDSH -u "$URI" -c '
h.set_strict_mode(0)
try:
    h.block_status(4096, 0, lambda *a: 0)
    raise SystemExit("BLOCK_STATUS without a meta context succeeded")
except nbd.Error as e:
    assert e.errno in ("EINVAL", "ENOTSUP"), e.errno
' || fail "unadvertised BLOCK_STATUS"
$NBDSH -c "
h.set_request_structured_replies(False)
h.connect_uri('$URI')
assert not h.get_structured_replies_negotiated() and not h.can_df()
h.set_strict_mode(0)
try:
    h.pread(4096, 0, nbd.CMD_FLAG_DF)
    raise SystemExit('DF without structured replies succeeded')
except nbd.Error as e:
    assert e.errno == 'EINVAL', e.errno
assert h.pread(4096, 120 << 20) == b'W' * 4096
" || fail "simple replies"

echo "== commands, flags and magic libnbd cannot send (raw)"
$RAW "$SOCK" unknown_command df_without_sr bad_magic oversize_write || fail "raw request cases"

echo "== DISC finishes in-flight requests, then closes"
$NBDSH -u "$URI" -c '
cookies = [h.aio_pwrite(bytes([i]) * (1 << 20), (32 + i) << 20) for i in range(8)]
h.shutdown()      # NBD_CMD_DISC after the writes are queued
' || fail "aio writes + DISC"
$NBDSH -u "$URI" -c '
for i in range(8):
    assert h.pread(1 << 20, (32 + i) << 20) == bytes([i]) * (1 << 20), i
' || fail "writes before DISC were not all applied"

echo "== a client vanishing in the middle of a write changes nothing"
"$PY" -c "import sys; sys.path.insert(0, '$SRCDIR/tests'); import nbd_raw; nbd_raw.case_vanish_mid_write('$SOCK', 96 << 20)" \
	|| fail "vanish client"
sleep 0.2
$NBDSH --base-allocation -u "$URI" -c '
ext = []
h.block_status(1 << 20, 96 << 20, lambda c, o, e, err: ext.extend(e))
assert ext == [1 << 20, 3], ("a half-received write was applied", ext)
assert h.pread(1 << 20, 96 << 20) == bytes(1 << 20)
' || fail "half a write was applied"

echo "== the witness saw nothing"
check_witness
stop_server
echo "PASS"
