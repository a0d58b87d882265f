#!/bin/bash
# t_nbd_handshake_limits.sh - connections that never finish the NBD
# handshake cannot hold the server (docs/security.md, "Limits"), on a server
# with --tls=require over TCP, --handshake-timeout 2, --max-handshakes 4 and
# --max-connections 8:
#   (a) a TCP client that connects and sends nothing, one that trickles a
#       byte every 0.3 s, one that stops after STARTTLS's ACK and one that
#       stops in the middle of its ClientHello are all closed 2 s after
#       they connected (give or take scheduling), not after GnuTLS's own
#       60 s or never;
#   (b) 20 silent TCP peers: 4 get the greeting, the other 16 are closed at
#       once (the log names --max-handshakes); the 4 are closed at the
#       timeout; meanwhile the 20 stay open on the client side, and a real
#       client (nbdinfo over TLS with PSK) is served within the timeout and
#       a margin: the silent peers never take the --max-connections slots;
#   (c) clients through the handshake (nbdsh over TLS on TCP, and in
#       plaintext on the unix socket) idle in transmission for twice the
#       timeout, then read back what they wrote: they are not cut.
# The server then stops with SIGTERM and exits 0.
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"
need nbdinfo nbdsh psktool
$NBDSH -c 'import sys; sys.exit(0 if h.supports_tls() else 1)' ||
	{ echo "SKIP: libnbd is built without TLS"; exit 77; }
out=$(timeout 10 "$UZRAM" serve --tls=on --tls-psk /dev/null --socket "$T/x.sock" 2>&1)
[[ $out == *"not available in this build"* ]] && { echo "SKIP: uzram is built without GnuTLS"; exit 77; }

psktool -u alice -p "$T/keys.psk" >/dev/null 2>&1 || fail "psktool"
chmod 0600 "$T/keys.psk"
HS=2 MAXH=4 MAXC=8
start_server --size 64M --listen 127.0.0.1:0 --tls=require --tls-psk "$T/keys.psk" \
	--handshake-timeout $HS --max-handshakes $MAXH --max-connections $MAXC
PORT=$(server_tcp_port)
PSK="nbds://alice@127.0.0.1:$PORT/zram0?tls-psk-file=$T/keys.psk"

echo "== (a) silent, trickling and stalled-in-TLS clients are closed after ${HS} s"
"$PY" - "$SRCDIR/tests" "$PORT" "$HS" <<'EOF' || fail "(a) handshake timeout"
import socket, struct, sys, threading, time
sys.path.insert(0, sys.argv[1])
import nbd_raw as n
port, hs = int(sys.argv[2]), float(sys.argv[3])

def closed_after(name, work):
    """Connect, run work(raw); the seconds until the server closed it."""
    t0 = time.monotonic()
    r = n.Raw("tcp:127.0.0.1:%d" % port)
    try:
        work(r)
    except (n.Closed, ConnectionResetError, BrokenPipeError):
        pass
    assert r.is_closed(timeout=hs + 8), "%s: still open after %.1f s" % (name, hs + 8)
    took = time.monotonic() - t0
    assert hs - 0.3 <= took <= hs + 3, "%s: closed after %.2f s, not ~%.0f s" % (name, took, hs)
    print("ok %s: closed after %.2f s" % (name, took))

def trickle(r):
    r.recv(18)
    data = struct.pack(">I", 3) + struct.pack(">QII", n.IHAVEOPT, n.OPT_LIST, 0)
    for b in data * 4:                     # never reaches the end in time
        r.send(bytes([b]))
        time.sleep(0.3)

def after_ack(r):
    r.greeting()
    t, _ = r.opt_final(n.OPT_STARTTLS)
    assert t == n.REP_ACK

def mid_hello(r):
    after_ack(r)
    r.send(b"\x16\x03\x01\x00\xc8\x01\x00")    # a record of 200 bytes: 2 sent

cases = [("connects and sends nothing", lambda r: None),
         ("reads the greeting, sends nothing", lambda r: r.recv(18)),
         ("trickles a byte every 0.3 s", trickle),
         ("stops after STARTTLS's ACK", after_ack),
         ("stops in the middle of its ClientHello", mid_hello)]
errors = []
def run(c):
    try:
        closed_after(*c)
    except BaseException as e:
        errors.append(repr(e))
for batch in (cases[:3], cases[3:]):       # fewer at once than --max-handshakes
    threads = [threading.Thread(target=run, args=(c,)) for c in batch]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
assert not errors, errors
EOF

echo "== (b) 20 silent peers: $MAXH held until the timeout, the rest closed at once"
"$PY" - "$PORT" "$HS" "$MAXH" "$PSK" "$T/server.log" <<'EOF' || fail "(b) --max-handshakes"
import socket, subprocess, sys, time
port, hs, maxh, uri, log = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
t0 = time.monotonic()
peers = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
greeted = 0
for s in peers:                            # each: the greeting, or EOF at once
    s.settimeout(hs / 2)
    got = b""
    while len(got) < 18:
        b = s.recv(18 - len(got))
        if not b:
            break
        got += b
    greeted += len(got) == 18
assert greeted == maxh, "%d of 20 silent peers got the greeting, not %d" % (greeted, maxh)
time.sleep(0.2)
assert "--max-handshakes" in open(log).read(), "the refusals are not in the log"
print("ok %d greeted, %d closed before the greeting" % (greeted, 20 - greeted))
# A real client, while the 20 stay open on this side: refused while the
# held ones fill the handshakes, served once they are timed out.
while True:
    p = subprocess.run(["/usr/bin/nbdinfo", "--size", uri], capture_output=True, timeout=30)
    took = time.monotonic() - t0
    if p.returncode == 0:
        break
    assert took < hs + 5, "nbdinfo still refused %.1f s after the flood: %s" % (took, p.stderr)
    time.sleep(0.2)
assert p.stdout.strip() == b"%d" % (64 << 20), p.stdout
print("ok nbdinfo over TLS served %.2f s after the flood, 20 silent peers still open" % took)
for s in peers:
    s.close()
EOF

echo "== (c) transmission outlasting the timeout is not cut (TLS over TCP, plain on unix)"
pids=()
for i in 0 1; do
	uri=$PSK; [ $i = 1 ] && uri=$URI
	$NBDSH -c "
import time
h.set_uri_allow_local_file(True)
h.connect_uri('$uri')
h.pwrite(b'$i' * 65536, $i << 20)
time.sleep(2 * $HS + 0.5)
assert h.pread(65536, $i << 20) == b'$i' * 65536
h.shutdown()
print('ok $uri')
" &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "(c) a connection idle in transmission for $((2 * HS)) s was cut"
done

stop_server
echo "PASS"
