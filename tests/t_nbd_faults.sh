#!/bin/bash
# t_nbd_faults.sh - `uzram serve` under faults, with a witness connection
# that must notice none of them:
#   - truncated handshakes (every place a client can vanish before
#     transmission), and clients killed (SIGKILL) in the middle of a
#     request, with half a WRITE payload sent and READ replies unread: the
#     half write is not applied, and each connection's descriptor and
#     thread are given back (the server's counts return to where they were);
#   - a client that stops reading its replies, then dies: the others are
#     served meanwhile, and its connection is freed;
#   - hundreds of idle connections (in the greeting, in option haggling,
#     after GO) held while other clients do verified I/O; the server's RSS
#     per idle connection is printed; --max-connections is enforced (one
#     more is closed before the greeting) and said in the log;
#   - SIGTERM under load: 4 connections with 16 requests in flight each
#     (writes of 512 B to 256 KiB, partial pages, reads checked against the
#     acknowledged writes; every region also checked over another
#     connection before the signal): every request wholly sent gets its
#     reply, every read matches, and the server exits 0.
# make test (UZRAM_LONG) holds 4000 idle connections instead of 500.
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"
need nbdsh nbdinfo fio
fio --enghelp=nbd >/dev/null 2>&1 || { echo "SKIP: fio lacks the nbd engine"; exit 77; }

if [ "${UZRAM_LONG:-}" = 1 ]; then IDLE=4000; else IDLE=$((500 / SCALE)); fi
MAXC=$((IDLE + 4))
# The idle connections include hundreds held in the handshake for the whole
# test: neither --max-handshakes nor --handshake-timeout may close them
# (t_nbd_handshake_limits.sh tests those).
start_server --size 256M --threads 2 --max-connections $MAXC \
	--max-handshakes $MAXC --handshake-timeout 0

server_fds() { ls "/proc/$SERVER_PID/fd" | wc -l; }
server_threads() { awk '/^Threads/ { print $2 }' "/proc/$SERVER_PID/status"; }
# Wait until the server holds what it held at the start (connections gone).
settled() {
	local what=$1
	for _ in $(seq 200); do
		[ "$(server_fds)" = "$FDS0" ] && [ "$(server_threads)" = "$THREADS0" ] && return 0
		sleep 0.05
	done
	fail "$what: the server holds $(server_fds) descriptors and $(server_threads) threads, not $FDS0 and $THREADS0"
}

echo "== a witness connection, open through everything below"
start_witness 250
faults_cleanup() { witness_cleanup; [ -n "${IDLER:-}" ] && kill "$IDLER" 2>/dev/null; }
CLEANUP_HOOK=faults_cleanup
sleep 0.2
FDS0=$(server_fds) THREADS0=$(server_threads)
echo "server: $FDS0 descriptors, $THREADS0 threads with the witness connected"

echo "== truncated handshakes"
"$PY" - "$SRCDIR/tests" "$SOCK" <<'EOF' || fail "truncated handshakes"
import socket, struct, sys, time
sys.path.insert(0, sys.argv[1])
import nbd_raw as n
path = sys.argv[2]
opt = lambda o, d=b"", ln=None: struct.pack(">QII", n.IHAVEOPT, o, len(d) if ln is None else ln) + d
cases = {
    "connect and close": None,
    "greeting read, nothing sent": b"",
    "half the client flags": b"\0\0",
    "half an option header": struct.pack(">I", 3) + opt(n.OPT_LIST)[:10],
    "half an option's data": struct.pack(">I", 3) + opt(n.OPT_GO, b"\0\0\0\5zra", ln=11),
    "half an EXPORT_NAME": struct.pack(">I", 3) + opt(n.OPT_EXPORT_NAME, b"zr", ln=5),
    "STARTTLS on a plain server, then gone": struct.pack(">I", 3) + opt(n.OPT_STARTTLS),
    "GO, then half a request header": None,
}
for name, data in cases.items():
    if name.startswith("GO"):
        r = n.Raw(path)
        r.go()
        r.send(struct.pack(">IHHQ", n.REQ_MAGIC, 0, n.CMD_READ, 1))
        r.close()
    else:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        if data is not None:
            s.recv(18)
            s.sendall(data)
        s.close()
    print("ok", name)
EOF
settled "truncated handshakes"

echo "== clients killed (SIGKILL) in the middle of requests"
"$PY" - "$SRCDIR/tests" "$SOCK" >"$T/victim.out" 2>&1 <<'EOF' &
import struct, sys, time
sys.path.insert(0, sys.argv[1])
import nbd_raw as n
r = n.Raw(sys.argv[2])
r.go()
for i in range(16):                      # replies left unread
    r.req(n.CMD_READ, i << 20, 1 << 20, cookie=100 + i)
r.req(n.CMD_WRITE, 200 << 20, 4 << 20, cookie=1, payload=b"\xee" * (1 << 20))
print("ready", flush=True)
time.sleep(60)
EOF
VICTIM=$!
$NBDSH -u "$URI" -c '
import sys
buf = bytearray(1 << 20)
while True:                              # a busy client, killed below
    h.aio_pwrite(bytes(buf), 180 << 20)
    h.aio_pread(nbd.Buffer(1 << 20), 180 << 20)
    while h.aio_in_flight() > 16:
        h.poll(-1)
    sys.stdout.write("x"); sys.stdout.flush()
' >"$T/busy.out" 2>&1 &
BUSY=$!
for _ in $(seq 100); do grep -q ready "$T/victim.out" && [ -s "$T/busy.out" ] && break; sleep 0.05; done
grep -q ready "$T/victim.out" || fail "victim did not start: $(cat "$T/victim.out")"
sleep 0.2
kill -KILL "$VICTIM" "$BUSY"
wait "$VICTIM" "$BUSY" 2>/dev/null
settled "killed clients"
$NBDSH --base-allocation -u "$URI" -c '
ext = []
h.block_status(4 << 20, 200 << 20, lambda c, o, e, err: ext.extend(e))
assert ext == [4 << 20, 3], ("a half-received write was applied", ext)
' || fail "half a write was applied"

echo "== a client that stops reading its replies, then dies"
$NBDSH -u "$URI" -c 'h.pwrite(bytes(range(256)) * (128 << 10), 0)' || fail "fill 32 MiB"
rss0=$(server_rss_kb)
"$PY" - "$SRCDIR/tests" "$SOCK" "$URI" "$SERVER_PID" <<'EOF' || fail "stalled reader"
import os, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
import nbd_raw
r, sent = nbd_raw.case_stalled_reader(sys.argv[2], 200)
print("queued %d READs of 32 MiB without reading" % sent)
assert sent >= 3, sent
t0 = time.time()
subprocess.run(["/usr/bin/nbdinfo", "--size", sys.argv[3]], check=True, timeout=20,
               stdout=subprocess.DEVNULL)
subprocess.run(["/usr/bin/env", "PATH=/usr/bin", "nbdsh", "-u", sys.argv[3], "-c",
                "h.pwrite(b'S' * 65536, 1 << 20); assert h.pread(65536, 1 << 20) == b'S' * 65536"],
               check=True, timeout=30)
print("another client served in %.2f s" % (time.time() - t0))
time.sleep(0.3)
rss = [l.split()[1] for l in open("/proc/%s/status" % sys.argv[4]) if l.startswith("VmRSS")][0]
open(os.environ["T"] + "/rss", "w").write(rss)
r.close()
EOF
rss1=$(cat "$T/rss")
echo "server RSS $rss0 kB before, $rss1 kB with the stalled client"
# its 64 MiB of request buffers and socket buffers, no more (sanitizers'
# shadow memory multiplies what is touched: no bound there)
if [ -z "${SAN:-}" ]; then
	[ $((rss1 - rss0)) -lt $((100 * 1024)) ] || fail "a stalled client grew the server by $((rss1 - rss0)) kB"
fi
settled "stalled reader"

echo "== $IDLE idle connections held while others do verified I/O"
rss0=$(server_rss_kb)
"$PY" - "$SRCDIR/tests" "$SOCK" "$IDLE" >"$T/idle.out" 2>&1 <<'EOF' &
import resource, socket, struct, sys, time
sys.path.insert(0, sys.argv[1])
import nbd_raw as n
path, count = sys.argv[2], int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held = []
for i in range(count):
    if i % 4 == 0:                         # in the greeting
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.recv(18)
        held.append(s)
    elif i % 4 == 1:                       # in option haggling
        r = n.Raw(path)
        r.greeting()
        t, _ = r.opt_final(n.OPT_STRUCTURED_REPLY)
        assert t == n.REP_ACK
        held.append(r)
    else:                                  # in transmission
        r = n.Raw(path)
        r.go()
        held.append(r)
print("held %d" % count, flush=True)
time.sleep(3600)                           # until the test kills this process
EOF
IDLER=$!
for _ in $(seq 1200); do grep -q held "$T/idle.out" && break; kill -0 $IDLER 2>/dev/null || break; sleep 0.05; done
grep -q held "$T/idle.out" || fail "could not hold $IDLE connections: $(tail -3 "$T/idle.out")"
sleep 0.3
rss1=$(server_rss_kb)
echo "server RSS: $rss0 kB before, $rss1 kB with $IDLE idle connections" \
	"($(( (rss1 - rss0) * 1024 / IDLE )) bytes each), $(server_threads) threads"
"$PY" - "$SRCDIR/tests" "$SOCK" "$T/server.log" <<'EOF' || fail "--max-connections"
import sys, time
sys.path.insert(0, sys.argv[1])
import nbd_raw as n
extra = []
for i in range(3):                        # the witness and these fill the limit
    r = n.Raw(sys.argv[2])
    r.greeting()
    extra.append(r)
r = n.Raw(sys.argv[2])
try:
    r.greeting()
    raise SystemExit("a connection beyond --max-connections was served")
except (n.Closed, ConnectionResetError):
    pass
time.sleep(0.2)
assert "--max-connections" in open(sys.argv[3]).read(), "the refusal is not in the log"
print("ok: one connection more than --max-connections is closed before the greeting")
for r in extra:
    r.close()
EOF
sleep 0.2
mb=$((16 / SCALE))
fio --name=verify --ioengine=nbd --uri="$URI" --rw=randwrite --bsrange=512-256k \
	--iodepth=16 --numjobs=2 --size=${mb}M --offset=64M --offset_increment=${mb}M \
	--verify=crc32c --verify_state_save=0 --do_verify=1 --verify_fatal=1 \
	--buffer_compress_percentage=50 --refill_buffers --randseed=77 --output="$T/fio.out" \
	|| { cat "$T/fio.out"; fail "fio verify beside the idle connections"; }
grep -E "WRITE:" "$T/fio.out"
kill "$IDLER" 2>/dev/null
wait "$IDLER" 2>/dev/null
IDLER=
settled "idle connections"

echo "== the witness saw nothing"
check_witness

echo "== SIGTERM under load: every request answered, every read checked, exit 0"
"$PY" - "$SRCDIR/tests" "$SOCK" "$SERVER_PID" <<'EOF' || fail "SIGTERM under load"
import os, signal, sys, time
sys.path.insert(0, sys.argv[1])
import nbd_load
path, pid = sys.argv[2], int(sys.argv[3])
clients = [nbd_load.LoadClient(path, (100 + 8 * i) << 20, 8 << 20, seed=1000 + i) for i in range(4)]
for c in clients:
    c.start()
time.sleep(0.8)
for c in clients:                        # each region, over another connection
    c.quiesce()
    bad = nbd_load.verify_region(path, c)
    assert bad is None, bad
    c.resume()
time.sleep(0.5)
os.kill(pid, signal.SIGTERM)
for c in clients:
    c.join()
bad = [b for c in clients for b in c.check()]
assert not bad, bad
print("%d requests sent, %d answered (%d cut while being sent); %d bytes acknowledged, "
      "%d bytes read back and checked" % (
      sum(c.sent for c in clients), sum(c.replied for c in clients),
      sum(len(c.maybe) for c in clients), sum(c.acked_bytes for c in clients),
      sum(c.verified_bytes for c in clients)))
EOF
server_exited "after SIGTERM under load"
echo "PASS"
