#!/bin/bash
# t_nbd_stdio_shutdown.sh - SIGTERM ends `uzram serve --stdio` within its
# documented bound (uzram-serve(1), SIGNALS: requests in flight get 30 s,
# then the connections still busy are cut) when the client has stopped
# reading the server's standard output: the client (Python, on pipes)
# finishes the handshake, queues 100 READs of 4 MiB and reads no reply, so
# the writer thread is blocked on a full pipe and the reader waits for a
# free slot. After SIGTERM the server must say it cuts the connection and
# exit 0 within 30 s plus a margin; it is killed (by PID) after 60 s.
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"

"$PY" - "$SRCDIR/tests" "$UZRAM" "$T/server.log" <<'EOF' || fail "SIGTERM with a --stdio client that stopped reading"
import os, signal, struct, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
import nbd_raw as n
uzram, log = sys.argv[2], sys.argv[3]
BOUND, MARGIN = 30, 10

class PipeRaw(n.Raw):
    """nbd_raw's client on the server's standard input and output."""
    def __init__(self, proc):
        self.proc, self.structured = proc, False
    def recv(self, k):
        b = bytearray()
        while len(b) < k:
            chunk = os.read(self.proc.stdout.fileno(), k - len(b))
            if not chunk:
                raise n.Closed("server closed its output after %d of %d bytes" % (len(b), k))
            b += chunk
        return bytes(b)
    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

proc = subprocess.Popen([uzram, "serve", "--stdio", "--size", "64M", "--threads", "2"],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=open(log, "w"))
try:
    r = PipeRaw(proc)
    assert r.go(sr=False) == 64 << 20     # simple replies: holes are read as data
    for i in range(100):                   # 400 MiB of replies nobody reads
        r.req(n.CMD_READ, (i % 16) << 22, 4 << 20, cookie=i)
    time.sleep(1)
    assert proc.poll() is None, "the server ended early"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=BOUND + 30)
    except subprocess.TimeoutExpired:
        raise SystemExit("still running %d s after SIGTERM" % (BOUND + 30))
    took = time.monotonic() - t0
    print("exit %d, %.1f s after SIGTERM" % (rc, took))
    text = open(log).read()
    assert "cutting them" in text, "no cut in the log:\n" + text
    assert rc == 0, "exit status %d" % rc
    assert took <= BOUND + MARGIN, "shutdown took %.1f s, the bound is %d s" % (took, BOUND)
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
EOF
echo "PASS"
