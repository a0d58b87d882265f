#!/bin/bash
# t_nbd_tls.sh - NBD over TLS (NBD_OPT_STARTTLS, GnuTLS): X.509 certificates
# and PSK made here with certtool and psktool; nbdinfo, nbdcopy and nbdsh
# over nbds:// and nbds+unix://; --tls=require refuses plaintext over TCP
# (ERR_TLS_REQD, EXPORT_NAME dropped) and still serves the unix socket;
# --tls=on serves both; a wrong key, an unknown identity, a client
# certificate of another CA (--tls-verify-peer) are refused; the protocol
# corners (a second STARTTLS, STARTTLS with data, bytes sent before the
# ACK, garbage instead of a handshake); SIGTERM with TLS clients connected.
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"
need nbdinfo nbdcopy nbdsh certtool psktool cmp
$NBDSH -c 'import sys; sys.exit(0 if h.supports_tls() else 1)' ||
	{ echo "SKIP: libnbd is built without TLS"; exit 77; }
out=$(timeout 10 "$UZRAM" serve --tls=on --tls-psk /dev/null --socket "$T/x.sock" 2>&1)
[[ $out == *"not available in this build"* ]] && { echo "SKIP: uzram is built without GnuTLS"; exit 77; }
set -o pipefail
RAW="$PY $SRCDIR/tests/nbd_raw.py"

echo "== credentials: a CA, a server certificate, a client certificate, keys"
P=$T/pki
mkdir -p "$P/server" "$P/client" "$P/other" "$P/nocert"
tmpl() { printf '%s\n' "$@" >"$P/tmpl"; }
certtool --generate-privkey --outfile "$P/ca-key.pem" >/dev/null 2>&1 || fail "certtool"
tmpl "cn = uzram test CA" ca cert_signing_key "expiration_days = 2"
certtool --generate-self-signed --load-privkey "$P/ca-key.pem" --template "$P/tmpl" \
	--outfile "$P/server/ca-cert.pem" >/dev/null 2>&1 || fail "CA certificate"
cp "$P/server/ca-cert.pem" "$P/client/"
cp "$P/server/ca-cert.pem" "$P/nocert/"
certtool --generate-privkey --outfile "$P/server/server-key.pem" >/dev/null 2>&1
tmpl "organization = uzram" "cn = localhost" "dns_name = localhost" "ip_address = 127.0.0.1" \
	tls_www_server encryption_key signing_key "expiration_days = 2"
certtool --generate-certificate --load-ca-certificate "$P/server/ca-cert.pem" \
	--load-ca-privkey "$P/ca-key.pem" --load-privkey "$P/server/server-key.pem" \
	--template "$P/tmpl" --outfile "$P/server/server-cert.pem" >/dev/null 2>&1 || fail "server certificate"
certtool --generate-privkey --outfile "$P/client/client-key.pem" >/dev/null 2>&1
tmpl "cn = uzram client" tls_www_client encryption_key signing_key "expiration_days = 2"
certtool --generate-certificate --load-ca-certificate "$P/server/ca-cert.pem" \
	--load-ca-privkey "$P/ca-key.pem" --load-privkey "$P/client/client-key.pem" \
	--template "$P/tmpl" --outfile "$P/client/client-cert.pem" >/dev/null 2>&1 || fail "client certificate"
# another CA: its client certificate must not pass --tls-verify-peer
certtool --generate-privkey --outfile "$P/other-ca-key.pem" >/dev/null 2>&1
tmpl "cn = some other CA" ca cert_signing_key "expiration_days = 2"
certtool --generate-self-signed --load-privkey "$P/other-ca-key.pem" --template "$P/tmpl" \
	--outfile "$P/other-ca.pem" >/dev/null 2>&1
cp "$P/server/ca-cert.pem" "$P/other/"
certtool --generate-privkey --outfile "$P/other/client-key.pem" >/dev/null 2>&1
tmpl "cn = intruder" tls_www_client encryption_key signing_key "expiration_days = 2"
certtool --generate-certificate --load-ca-certificate "$P/other-ca.pem" \
	--load-ca-privkey "$P/other-ca-key.pem" --load-privkey "$P/other/client-key.pem" \
	--template "$P/tmpl" --outfile "$P/other/client-cert.pem" >/dev/null 2>&1 || fail "other certificate"
psktool -u alice -p "$P/keys.psk" >/dev/null 2>&1 || fail "psktool"
psktool -u alice -p "$P/wrong.psk" >/dev/null 2>&1		# same name, another key
psktool -u mallory -p "$P/mallory.psk" >/dev/null 2>&1	# unknown identity
chmod 0600 "$P"/*.psk "$P"/*/*-key.pem

echo "== bad credentials are refused at start"
out=$(timeout 10 "$UZRAM" serve --socket "$T/x.sock" --control "$T/x.ctl" --tls=on \
	--tls-psk "$P/server/ca-cert.pem" 2>&1) && fail "served with a certificate as PSK file"
[[ $out == *"not a PSK file"* ]] || fail "bad PSK file: '$out'"
out=$(timeout 10 "$UZRAM" serve --socket "$T/x.sock" --control "$T/x.ctl" \
	--tls-certificates "$P/client" 2>&1) && fail "served without server-cert.pem"
[[ $out == *"server-cert.pem"* ]] || fail "missing server-cert.pem: '$out'"
out=$(timeout 10 "$UZRAM" serve --socket "$T/x.sock" --control "$T/x.ctl" \
	--tls-psk "$P/keys.psk" --tls-verify-peer 2>&1) && fail "--tls-verify-peer without certificates"
[[ $out == *"--tls-verify-peer needs"* ]] || fail "--tls-verify-peer alone: '$out'"

start_server --size 64M --listen 127.0.0.1:0 --tls=require \
	--tls-certificates "$P/server" --tls-psk "$P/keys.psk"
PORT=$(server_tcp_port)
X509="nbds://localhost:$PORT/zram0?tls-certificates=$P/client"
PSK="nbds://alice@127.0.0.1:$PORT/zram0?tls-psk-file=$P/keys.psk"

echo "== nbdinfo over nbds:// (X.509 and PSK)"
nbdinfo "$X509" >"$T/info" 2>&1 || fail "nbdinfo X.509: $(cat "$T/info")"
grep -q "with TLS" "$T/info" || fail "no TLS: $(head -2 "$T/info")"
grep -q "export-size: 67108864" "$T/info" || fail "size over TLS"
nbdinfo "$PSK" >"$T/info" 2>&1 || fail "nbdinfo PSK: $(cat "$T/info")"
grep -q "with TLS, using structured" "$T/info" || fail "PSK: $(head -2 "$T/info")"
[ "$(nbdinfo --list --json "$PSK" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["exports"]))')" = 1 ] ||
	fail "LIST over TLS"
[ "$(nbdinfo --map "$X509" | awk '{print $1, $2, $3}')" = "0 67108864 3" ] || fail "block status over TLS"

echo "== nbdcopy round trip: write with X.509, read with PSK"
mb=$((24 / SCALE))
"$PY" - "$T/src.img" "$mb" <<'EOF'
import os, random, sys
random.seed(11)
out = bytearray()
for i in range(int(sys.argv[2]) * 256):
    r = random.random()
    out += bytes(4096) if r < 0.2 else os.urandom(4096) if r < 0.5 else \
        ((b"tls page %d " % i) * 400)[:4096]
open(sys.argv[1], "wb").write(out)
EOF
nbdcopy --connections=4 --requests=16 "$T/src.img" "$X509" || fail "nbdcopy file -> nbds (X.509)"
nbdcopy "$PSK" "$T/back.img" || fail "nbdcopy nbds (PSK) -> file"
cmp -n "$(stat -c %s "$T/src.img")" "$T/src.img" "$T/back.img" || fail "TLS round trip differs"

echo "== nbdsh over TLS: queued writes and reads of every size, FUA, flush"
$NBDSH -c "
import os
h.set_uri_allow_local_file(True)
h.connect_uri('$PSK')
assert h.get_size() == 64 << 20 and h.can_multi_conn()
bufs = {}
for i, n in enumerate([512, 4096, 12288, 65536, 1 << 20, 4 << 20, 512, 16384 + 512]):
    b = os.urandom(n // 2) + bytes(n - n // 2)
    off = (24 << 20) + i * (5 << 20)
    bufs[off] = b
    h.aio_pwrite(b, off, flags=nbd.CMD_FLAG_FUA if i % 2 else 0)
while h.aio_in_flight():
    h.poll(-1)
h.flush()
cookies = {off: (nbd.Buffer(len(b)), ) for off, b in bufs.items()}
for off, (buf,) in cookies.items():
    h.aio_pread(buf, off)
while h.aio_in_flight():
    h.poll(-1)
for off, (buf,) in cookies.items():
    assert buf.to_bytearray() == bufs[off], off
h.shutdown()
" || fail "nbdsh over TLS"

echo "== --tls=require: plaintext over TCP is refused, the unix socket still serves"
nbdinfo --size "nbd://127.0.0.1:$PORT/zram0" >"$T/plain" 2>&1 && fail "plaintext TCP client served"
$RAW "tcp:127.0.0.1:$PORT" tls_required || fail "ERR_TLS_REQD over TCP"
[ "$(nbdinfo --size "$URI")" = 67108864 ] || fail "plaintext on the unix socket"
[ "$(nbdinfo --size "nbds+unix://alice@/zram0?socket=$SOCK&tls-psk-file=$P/keys.psk")" = 67108864 ] ||
	fail "nbds+unix:// with PSK"

echo "== wrong keys and unknown identities are refused"
nbdinfo --size "nbds://alice@127.0.0.1:$PORT/zram0?tls-psk-file=$P/wrong.psk" >/dev/null 2>&1 &&
	fail "a wrong PSK was accepted"
nbdinfo --size "nbds://mallory@127.0.0.1:$PORT/zram0?tls-psk-file=$P/mallory.psk" >/dev/null 2>&1 &&
	fail "an unknown PSK identity was accepted"

echo "== protocol corners (raw client, X.509 through Python's ssl)"
"$PY" - "$SRCDIR/tests" "tcp:127.0.0.1:$PORT" "$P/client/ca-cert.pem" <<'EOF' || fail "TLS protocol corners"
import ssl, struct, sys
sys.path.insert(0, sys.argv[1])
import nbd_raw as n
path, ca = sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)

# STARTTLS with data: ERR_INVALID, and still in plaintext haggling
r = n.Raw(path)
r.greeting()
t, _ = r.opt_final(n.OPT_STARTTLS, b"x")
assert t == n.ERR_INVALID, "STARTTLS with data: %x" % t
r.starttls(ctx)
# under TLS: a second STARTTLS is ERR_INVALID; structured replies were reset
t, _ = r.opt_final(n.OPT_STARTTLS)
assert t == n.ERR_INVALID, "second STARTTLS: %x" % t
size = r.go(greet=False)
assert size == 64 << 20 and r.structured
r.req(n.CMD_WRITE, 1 << 20, 8192, cookie=3, payload=b"T" * 8192)
r.expect(0, "WRITE under TLS")
assert r.read_data(1 << 20, 8192) == b"T" * 8192
r.req(n.CMD_DISC)
print("ok second STARTTLS, GO, I/O")

# negotiation before STARTTLS is forgotten after it
r = n.Raw(path)
r.greeting()
r.starttls(ctx)
size = r.go(sr=False, greet=False)
r.req(n.CMD_READ, 1 << 20, 512, cookie=4)
cookie, err, chunks = r.reply()
assert cookie == 4 and err == 0 and chunks is None, "simple reply expected"
assert r.recv(512) == b"T" * 512
print("ok simple replies under TLS")

# options sent after STARTTLS without waiting for its ACK: dropped
r = n.Raw(path)
r.greeting()
r.send(struct.pack(">QII", n.IHAVEOPT, n.OPT_STARTTLS, 0) +
       struct.pack(">QII", n.IHAVEOPT, n.OPT_STRUCTURED_REPLY, 0))
try:
    r.opt_reply()
except n.Closed:
    pass
assert r.is_closed(), "plaintext sent after STARTTLS was kept"
print("ok injection after STARTTLS")

# garbage instead of a ClientHello: dropped
r = n.Raw(path)
r.greeting()
t, _ = r.opt_final(n.OPT_STARTTLS)
assert t == n.REP_ACK
r.send(b"\x16\x03\x01\x00\x05hello" + bytes(100))
assert r.is_closed(), "garbage handshake kept"
print("ok garbage handshake")
EOF

echo "== SIGTERM with TLS connections open: exit 0"
mkfifo "$T/hold.in"
$NBDSH -c "
import sys
h.set_uri_allow_local_file(True)
h.connect_uri('$PSK')
h.pwrite(b'held' * 1024, 0)
print('open', flush=True)
sys.stdin.readline()
" <"$T/hold.in" >"$T/hold.out" 2>&1 &
HOLD=$!
exec 8>"$T/hold.in"
hold_cleanup() { exec 8>&- 2>/dev/null; kill "$HOLD" 2>/dev/null; }
CLEANUP_HOOK=hold_cleanup
for _ in $(seq 100); do grep -q open "$T/hold.out" && break; sleep 0.05; done
grep -q open "$T/hold.out" || fail "held TLS connection: $(cat "$T/hold.out")"
stop_server
exec 8>&-
wait "$HOLD" 2>/dev/null
CLEANUP_HOOK=

echo "== --tls=on: plaintext and TLS both served"
start_server --size 16M --listen 127.0.0.1:0 --tls=on --tls-psk "$P/keys.psk"
PORT=$(server_tcp_port)
[ "$(nbdinfo --size "nbd://127.0.0.1:$PORT/zram0")" = 16777216 ] || fail "--tls=on: plaintext"
nbdinfo "nbds://alice@127.0.0.1:$PORT/zram0?tls-psk-file=$P/keys.psk" | grep -q "with TLS" ||
	fail "--tls=on: TLS"
stop_server

echo "== --tls-verify-peer: client certificates of our CA only"
start_server --size 16M --listen 127.0.0.1:0 --tls=require --tls-certificates "$P/server" \
	--tls-verify-peer
PORT=$(server_tcp_port)
[ "$(nbdinfo --size "nbds://localhost:$PORT/zram0?tls-certificates=$P/client")" = 16777216 ] ||
	fail "a client certificate of our CA was refused"
nbdinfo --size "nbds://localhost:$PORT/zram0?tls-certificates=$P/nocert" >/dev/null 2>&1 &&
	fail "a client without a certificate was accepted"
nbdinfo --size "nbds://localhost:$PORT/zram0?tls-certificates=$P/other" >/dev/null 2>&1 &&
	fail "a client certificate of another CA was accepted"
stop_server
echo "PASS"
