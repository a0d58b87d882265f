#!/usr/bin/python3
"""nbd_slow_clients.py SOCKET SEED [PID] - clients that read their replies
slowly, late or never, against the server's 64 request slots per
connection and its buffers:

  fill      32 MiB in 128 blocks of 256 KiB, every page stamped with its
            block and page number;
  stalled   (given the server's PID) a client that queues 96 READs and
            never reads costs the server at most 40 ms of CPU in 3 s;
  slow      600 READs of random blocks with up to 96 in flight (more than
            the slots, so the server's reader waits for the client to
            read), the replies read a few KiB at a time with pauses; every
            reply must be its block, page by page;
  abandon   a client queues 64 READs and leaves without reading; another
            queues 64 READs, reads half a reply and then sends garbage (the
            server cuts it); a third queues READs and sends DISC;
  after     the slow case again on a new connection, then the bytes still
            queued in the cut client's socket: exactly the blocks it asked
            for, whatever the server did with its buffers since.
"""
import os
import random
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nbd_raw as n  # noqa: E402

BLOCK = 256 << 10
NBLOCKS = 128
PAGE = 4096


def block_bytes(b):
    """Block b: each page its (block, page) stamp, then filler of its own."""
    out = bytearray()
    for p in range(BLOCK // PAGE):
        stamp = struct.pack(">QQ", b, p)
        filler = bytes(((b * 131 + p * 7 + i) & 0xff) for i in range(48))
        out += (stamp + filler) * (PAGE // 64)
    return bytes(out)


BLOCKS = [block_bytes(b) for b in range(NBLOCKS)]


def fill(path):
    r = n.Raw(path)
    r.go()
    for b in range(NBLOCKS):
        r.req(n.CMD_WRITE, b * BLOCK, BLOCK, cookie=b, payload=BLOCKS[b])
        r.expect(0, "write block %d" % b)
    r.close()


class Reader:
    """Receives replies in small pieces, with pauses."""

    def __init__(self, raw, rand):
        self.r, self.rand, self.buf = raw, rand, bytearray()

    def need(self, k):
        while len(self.buf) < k:
            chunk = self.r.s.recv(self.rand.choice((512, 1000, 4096, 16384)))
            if not chunk:
                raise n.Closed("server closed the connection")
            self.buf += chunk
            if self.rand.random() < 0.02:
                time.sleep(0.002)

    def take(self, k):
        self.need(k)
        out = bytes(self.buf[:k])
        del self.buf[:k]
        return out

    def read_reply(self):
        """(cookie, data) of one structured READ reply."""
        magic, flags, rtype, cookie, length = struct.unpack(">IHHQI", self.take(20))
        assert magic == n.STRUCT_MAGIC, "bad reply magic %x" % magic
        assert flags & 1, "a READ reply in several chunks"
        payload = self.take(length)
        assert rtype == 1, "reply type %d (error %r)" % (rtype, payload[:4])
        return cookie, payload[8:], struct.unpack(">Q", payload[:8])[0]


def slow(path, seed, count=600, depth=96):
    rand = random.Random(seed)
    r = n.Raw(path, timeout=60)
    r.go()
    rd = Reader(r, rand)
    want, sent, done = {}, 0, 0
    while done < count:
        while sent < count and len(want) < depth:
            b = rand.randrange(NBLOCKS)
            want[sent] = b
            r.req(n.CMD_READ, b * BLOCK, BLOCK, cookie=sent)
            sent += 1
        if done == 0:
            time.sleep(0.3)     # let the server fill the socket and wait
        cookie, data, off = rd.read_reply()
        b = want.pop(cookie)
        assert off == b * BLOCK, "reply %d: offset %d, asked %d" % (cookie, off, b * BLOCK)
        if data != BLOCKS[b]:
            at = next(i for i in range(len(data)) if data[i] != BLOCKS[b][i])
            p = at - at % PAGE
            got = struct.unpack(">QQ", data[p:p + 16])
            raise AssertionError("reply %d for block %d differs at byte %d: page %d there "
                                 "carries block %d page %d (seed %d)"
                                 % (cookie, b, at, p // PAGE, got[0], got[1], seed))
        done += 1
    r.req(n.CMD_DISC)
    r.close()
    return done


def queue_reads(path, k):
    r = n.Raw(path)
    r.go()
    for i in range(k):
        r.req(n.CMD_READ, (i % NBLOCKS) * BLOCK, BLOCK, cookie=i)
    return r


def abandon(path):
    """Returns the cut connection, what it read of its first reply, and
    that reply's cookie (replies may come in any order)."""
    r = queue_reads(path, 64)
    time.sleep(0.2)
    r.close()                               # leaves, nothing read
    r = queue_reads(path, 64)
    time.sleep(0.2)
    head = r.recv(28 + 1000)                # half a reply
    cookie0 = struct.unpack(">Q", head[8:16])[0]
    r.send(b"\xde\xad" * 14)                # garbage: the server cuts it
    held = r                                # ... but this socket stays open
    r = queue_reads(path, 32)
    r.req(n.CMD_DISC)
    time.sleep(0.2)
    r.close()
    return held, head, cookie0


def cpu_ticks(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])          # utime + stime


def stalled(path, pid, secs=3.0):
    """A client that queues more READs than there are slots and never reads:
    the server's reader waits for a slot; it must not spin."""
    r = queue_reads(path, 96)
    time.sleep(0.5)                         # replies sent, the socket full
    before = cpu_ticks(pid)
    time.sleep(secs)
    spent = (cpu_ticks(pid) - before) * 1000 // os.sysconf("SC_CLK_TCK")
    r.close()
    assert spent <= 40, "a client that never reads cost the server %d ms of CPU in %.0f s" \
        % (spent, secs)
    return spent


def main():
    path, seed = sys.argv[1], int(sys.argv[2])
    fill(path)
    if len(sys.argv) > 3:
        print("stalled: a client that never reads cost the server %d ms of CPU in 3 s"
              % stalled(path, int(sys.argv[3])))
    print("slow: %d replies checked" % slow(path, seed))
    held, head, cookie0 = abandon(path)
    print("abandon: three clients gone")
    print("after: %d replies checked" % slow(path, seed + 1, count=300))
    # What the cut connection had not read is still in its socket: it must
    # be the blocks it asked for, untouched by the requests served since.
    rest = bytearray()
    held.s.settimeout(5)
    try:
        while True:
            chunk = held.s.recv(1 << 20)
            if not chunk:
                break
            rest += chunk
    except OSError:
        pass
    held.close()
    first = BLOCKS[cookie0 % NBLOCKS]
    assert head[28:] == first[:1000], "cut connection: reply %d's start" % cookie0
    tail = first[1000:]
    assert bytes(rest[:len(tail)]) == tail[:len(rest)], \
        "cut connection: reply %d changed after the cut" % cookie0
    pos, whole = len(tail), 0
    while pos + 28 <= len(rest):
        magic, flags, rtype, cookie, length = struct.unpack(">IHHQI", rest[pos:pos + 20])
        assert magic == n.STRUCT_MAGIC, "cut connection: a reply header at %d" % pos
        data = bytes(rest[pos + 28:pos + 20 + length])
        assert data == BLOCKS[cookie % NBLOCKS][:len(data)], \
            "cut connection: reply %d changed after the cut" % cookie
        pos += 20 + length
        whole += 1
    print("cut connection: %d bytes read after the cut (%d more replies), all as sent"
          % (len(rest), whole))


if __name__ == "__main__":
    main()
