#!/usr/bin/python3
"""nbd_load.py - a checked load for the fault tests of `uzram serve`.

A LoadClient owns one connection (tests/nbd_raw.py) and a region of the
device, and keeps up to `depth` requests in flight from a sender thread:
writes of 512 B to 256 KiB at 512-byte aligned offsets (partial pages
included) and reads, never two at once on the same 4 KiB page, so the
expected content of every read is exact. A receiver thread takes the
replies and checks them against the model of acknowledged writes. The
sender stops when told (stop()) or when the server stops taking requests;
the receiver reads until the server closes. Afterwards:

  - every request that was wholly sent got exactly one reply,
  - every write was acknowledged (no errors: there is no mem_limit),
  - every read returned what the acknowledged writes put there,

and the model can be compared with the device over another connection
(verify_region). quiesce() waits until nothing is in flight, so another
connection can check the region while the load is paused.
"""
import os
import random
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nbd_raw as n  # noqa: E402

PAGE = 4096


class LoadClient:
    def __init__(self, path, offset, length, seed, depth=16):
        self.r = n.Raw(path, timeout=60)
        self.r.go()
        self.off, self.len = offset, length
        self.rand = random.Random(seed)
        self.model = bytearray(length)          # zeros: the device starts empty
        self.busy = set()
        self.inflight = {}                       # cookie -> (kind, off, len, data)
        self.maybe = set()                       # cut in the middle of sending
        self.cookie = 0
        self.depth = depth
        self.cv = threading.Condition()
        self.stopping = False
        self.paused = False
        self.errors = []
        self.sent = self.replied = 0
        self.acked_bytes = self.verified_bytes = 0
        self.send_error = None
        self.sender = threading.Thread(target=self._send_loop, daemon=True)
        self.receiver = threading.Thread(target=self._recv_loop, daemon=True)

    def start(self):
        self.sender.start()
        self.receiver.start()

    def stop(self):
        with self.cv:
            self.stopping = True
            self.cv.notify_all()

    def quiesce(self):
        """Pause sending and wait until nothing is in flight."""
        with self.cv:
            self.paused = True
            while self.inflight and not self.receiver_done():
                self.cv.wait(1)

    def resume(self):
        with self.cv:
            self.paused = False
            self.cv.notify_all()

    def receiver_done(self):
        return not self.receiver.is_alive() and self.receiver.ident is not None

    def join(self, timeout=60):
        self.sender.join(timeout)
        self.receiver.join(timeout)
        assert not self.receiver.is_alive(), "the server never closed the connection"

    # ---- the sender ----
    def _pick(self):
        """A free range: (kind, off, len), off/len multiples of 512."""
        for _ in range(50):
            if self.rand.random() < 0.6:
                if self.rand.random() < 0.3:                # inside one page
                    page = self.rand.randrange(self.len // PAGE)
                    s = self.rand.randrange(8)
                    e = self.rand.randrange(s + 1, 9)
                    off, ln = page * PAGE + s * 512, (e - s) * 512
                else:
                    ln = self.rand.randrange(1, 513) * 512  # up to 256 KiB
                    off = self.rand.randrange((self.len - ln) // 512 + 1) * 512
                kind = "w"
            else:
                ln = self.rand.randrange(1, 129) * 512
                off = self.rand.randrange((self.len - ln) // 512 + 1) * 512
                kind = "r"
            pages = set(range(off // PAGE, (off + ln - 1) // PAGE + 1))
            if not pages & self.busy:
                return kind, off, ln, pages
        return None

    def _send_loop(self):
        while True:
            with self.cv:
                while not self.stopping and (self.paused or len(self.inflight) >= self.depth):
                    self.cv.wait()
                if self.stopping:
                    return
                pick = self._pick()
                if pick is None:
                    self.cv.wait(0.01)
                    continue
                kind, off, ln, pages = pick
                self.busy |= pages
                self.cookie += 1
                c = self.cookie
                data = None
                if kind == "w":
                    data = os.urandom(ln // 2) + bytes([c & 255]) * (ln - ln // 2)
                self.inflight[c] = (kind, off, ln, data, pages)
            try:
                if kind == "w":
                    self.r.req(n.CMD_WRITE, self.off + off, ln, cookie=c, payload=data)
                else:
                    self.r.req(n.CMD_READ, self.off + off, ln, cookie=c)
            except OSError as e:                      # the server stopped reading
                with self.cv:
                    self.maybe.add(c)
                    self.send_error = e
                    self.cv.notify_all()
                return
            with self.cv:
                self.sent += 1

    # ---- the receiver ----
    def _recv_loop(self):
        while True:
            try:
                cookie, err, chunks = self.r.reply()
            except (n.Closed, OSError):
                with self.cv:
                    self.stopping = True            # nothing more will be answered
                    self.cv.notify_all()
                return
            with self.cv:
                req = self.inflight.pop(cookie, None)
                if req is None:
                    self.errors.append("a reply for cookie %d, which is not in flight" % cookie)
                    continue
                kind, off, ln, data, pages = req
                if err:
                    self.errors.append("%s %d+%d: error %d" % (kind, off, ln, err))
                elif kind == "w":
                    self.model[off:off + ln] = data
                    self.acked_bytes += ln
                else:
                    got = bytearray(ln)
                    for t, p in chunks:
                        o = struct.unpack(">Q", p[:8])[0] - self.off - off
                        if t == 1:
                            got[o:o + len(p) - 8] = p[8:]
                    if got != self.model[off:off + ln]:
                        self.errors.append("read %d+%d does not match the acknowledged writes" % (off, ln))
                    else:
                        self.verified_bytes += ln
                self.replied += 1
                self.maybe.discard(cookie)
                self.busy -= pages
                self.cv.notify_all()

    def check(self):
        """After join(): the lists of what went wrong (empty = fine)."""
        bad = list(self.errors)
        unanswered = set(self.inflight) - self.maybe
        if unanswered:
            bad.append("%d wholly sent requests got no reply" % len(unanswered))
        return bad


def verify_region(path, client):
    """Read the client's region over another connection: the model's bytes."""
    r = n.Raw(path, timeout=60)
    r.go()
    step = 1 << 20
    for o in range(0, client.len, step):
        ln = min(step, client.len - o)
        got = r.read_data(client.off + o, ln)
        if got != bytes(client.model[o:o + ln]):
            return "region %d+%d differs from the acknowledged writes" % (client.off + o, ln)
    r.close()
    return None
