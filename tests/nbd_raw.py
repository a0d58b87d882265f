#!/usr/bin/python3
"""nbd_raw.py - a raw NBD client for the tests of `uzram serve` (t_nbd_*.sh).

It sends what libnbd will not: unknown client flags and options, malformed
options, unknown commands, FLUSH with an offset, oversize payloads, and
writes cut off in the middle. Used as a module (import nbd_raw) or run as
`nbd_raw.py SOCKET CASE...` to run named cases from t_nbd_badinput.sh; a
failed case raises and the script exits 1.
"""
import socket
import struct
import sys
import time

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REP_MAGIC = 0x0003E889045565A9
REQ_MAGIC = 0x25609513
SIMPLE_MAGIC = 0x67446698
STRUCT_MAGIC = 0x668E33EF

OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS = 1, 2, 3, 5
OPT_INFO, OPT_GO, OPT_STRUCTURED_REPLY = 6, 7, 8
OPT_LIST_META, OPT_SET_META, OPT_EXTENDED_HEADERS = 9, 10, 11
REP_ACK, REP_SERVER, REP_INFO, REP_META = 1, 2, 3, 4
ERR_UNSUP, ERR_POLICY, ERR_INVALID = 2**31 + 1, 2**31 + 2, 2**31 + 3
ERR_TLS_REQD = 2**31 + 5
ERR_UNKNOWN, ERR_SHUTDOWN, ERR_TOO_BIG = 2**31 + 6, 2**31 + 7, 2**31 + 9

CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM = 0, 1, 2, 3, 4
CMD_CACHE, CMD_WRITE_ZEROES, CMD_BLOCK_STATUS = 5, 6, 7
EPERM, EIO, EINVAL, ENOSPC = 1, 5, 22, 28


class Closed(Exception):
    pass


class Raw:
    def __init__(self, path, timeout=20):
        """path: a unix socket, or "tcp:HOST:PORT"."""
        if path.startswith("tcp:"):
            host, port = path[4:].rsplit(":", 1)
            self.s = socket.create_connection((host, int(port)), timeout=timeout)
        else:
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.s.settimeout(timeout)
            self.s.connect(path)
        self.structured = False

    def starttls(self, context, hostname="localhost"):
        """NBD_OPT_STARTTLS, then the TLS handshake (ssl.SSLContext)."""
        t, _ = self.opt_final(OPT_STARTTLS)
        assert t == REP_ACK, "STARTTLS: %x" % t
        self.s = context.wrap_socket(self.s, server_hostname=hostname)

    def close(self):
        self.s.close()

    def recv(self, n):
        b = bytearray()
        while len(b) < n:
            chunk = self.s.recv(n - len(b))
            if not chunk:
                raise Closed("server closed the connection after %d of %d bytes" % (len(b), n))
            b += chunk
        return bytes(b)

    def send(self, data):
        self.s.sendall(data)

    def is_closed(self, timeout=5.0):
        """True if the server closes the connection (EOF or reset) in time."""
        self.s.settimeout(timeout)
        try:
            while True:
                b = self.s.recv(65536)
                if not b:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        except OSError as e:      # ssl: EOF in violation of the protocol
            if "EOF" in str(e) or "reset" in str(e).lower():
                return True
            raise

    # ---- handshake ----
    def greeting(self, cflags=3):
        magic, opt, hflags = struct.unpack(">QQH", self.recv(18))
        assert magic == NBDMAGIC and opt == IHAVEOPT, "bad greeting"
        self.hflags = hflags
        self.send(struct.pack(">I", cflags))
        return hflags

    def opt(self, opt, data=b"", length=None):
        self.send(struct.pack(">QII", IHAVEOPT, opt, len(data) if length is None else length) + data)

    def opt_reply(self):
        magic, opt, rtype, length = struct.unpack(">QIII", self.recv(20))
        assert magic == REP_MAGIC, "bad option reply magic %x" % magic
        return opt, rtype, self.recv(length)

    def opt_final(self, opt, data=b""):
        """Send an option; return (final reply type, [non-final replies])."""
        self.opt(opt, data)
        replies = []
        while True:
            o, t, d = self.opt_reply()
            assert o == opt, "reply for option %d, sent %d" % (o, opt)
            if t in (REP_SERVER, REP_INFO, REP_META):
                replies.append((t, d))
                continue
            return t, replies

    def go(self, name=b"", sr=True, meta=False, greet=True):
        if greet:
            self.greeting()
        if sr:
            t, _ = self.opt_final(OPT_STRUCTURED_REPLY)
            assert t == REP_ACK
            self.structured = True
        if meta:
            q = b"base:allocation"
            data = struct.pack(">I", len(name)) + name + struct.pack(">II", 1, len(q)) + q
            t, r = self.opt_final(OPT_SET_META, data)
            assert t == REP_ACK and len(r) == 1
        t, infos = self.opt_final(OPT_GO, struct.pack(">I", len(name)) + name + struct.pack(">H", 0))
        assert t == REP_ACK, "GO failed: %x" % t
        for it, d in infos:
            if struct.unpack(">H", d[:2])[0] == 0:
                self.size, self.eflags = struct.unpack(">QH", d[2:12])
        return self.size

    # ---- transmission ----
    def req(self, cmd, offset=0, length=0, flags=0, cookie=1, payload=b""):
        self.send(struct.pack(">IHHQQI", REQ_MAGIC, flags, cmd, cookie, offset, length) + payload)

    def reply(self):
        """One reply: (cookie, error, data); structured chunks are gathered."""
        magic = struct.unpack(">I", self.recv(4))[0]
        if magic == SIMPLE_MAGIC:
            err, cookie = struct.unpack(">IQ", self.recv(12))
            return cookie, err, None
        assert magic == STRUCT_MAGIC, "bad reply magic %x" % magic
        data, err = [], 0
        while True:
            flags, rtype, cookie, length = struct.unpack(">HHQI", self.recv(16))
            payload = self.recv(length)
            if rtype & 0x8000:
                err = struct.unpack(">I", payload[:4])[0]
            else:
                data.append((rtype, payload))
            if flags & 1:
                return cookie, err, data
            assert struct.unpack(">I", self.recv(4))[0] == STRUCT_MAGIC

    def read_data(self, offset, length):
        """READ through any structured chunks; returns the bytes."""
        self.req(CMD_READ, offset, length, cookie=0x77)
        cookie, err, chunks = self.reply()
        assert cookie == 0x77 and err == 0, "read error %d" % err
        if chunks is None:
            return self.recv(length)
        buf = bytearray(length)
        for t, p in chunks:
            off = struct.unpack(">Q", p[:8])[0] - offset
            if t == 1:
                buf[off:off + len(p) - 8] = p[8:]
            elif t == 2:
                n = struct.unpack(">I", p[8:12])[0]
                buf[off:off + n] = bytes(n)
        return bytes(buf)

    def expect(self, want_err, what):
        cookie, err, _ = self.reply()
        assert err == want_err, "%s: error %d, expected %d" % (what, err, want_err)


# ---- cases run by t_nbd_badinput.sh ----

def case_unknown_client_flags(path):
    r = Raw(path)
    r.greeting(cflags=3 | 0x80)
    assert r.is_closed(), "connection kept after unknown client flags"


def case_unknown_option(path):
    r = Raw(path)
    r.greeting()
    r.opt(0x7654321, b"abcd")
    o, t, d = r.opt_reply()
    assert o == 0x7654321 and t == ERR_UNSUP, "unknown option: %x" % t
    # parsing goes on past it
    t, servers = r.opt_final(OPT_LIST)
    assert t == REP_ACK and servers, "LIST after an unknown option"
    t, _ = r.opt_final(OPT_ABORT)
    assert t == REP_ACK


def case_list_with_data(path):
    r = Raw(path)
    r.greeting()
    t, _ = r.opt_final(OPT_LIST, b"junk")
    assert t == ERR_INVALID, "LIST with data: %x" % t
    t, servers = r.opt_final(OPT_LIST)
    names = [d[4:4 + struct.unpack(">I", d[:4])[0]] for _, d in servers]
    assert t == REP_ACK and b"zram0" in names, names


def case_info_malformed(path):
    r = Raw(path)
    r.greeting()
    # namelen larger than the option
    t, _ = r.opt_final(OPT_INFO, struct.pack(">I", 100) + b"zram0" + struct.pack(">H", 0))
    assert t == ERR_INVALID, "INFO namelen > optlen: %x" % t
    # request count not matching the length
    t, _ = r.opt_final(OPT_GO, struct.pack(">I", 5) + b"zram0" + struct.pack(">H", 3) + b"\0\1")
    assert t == ERR_INVALID, "GO nreq overrun: %x" % t
    # too short to hold anything
    t, _ = r.opt_final(OPT_GO, b"\0\0")
    assert t == ERR_INVALID
    # meta context with a query overrunning the option
    t, _ = r.opt_final(OPT_STRUCTURED_REPLY)
    assert t == REP_ACK
    bad = struct.pack(">I", 0) + struct.pack(">II", 1, 200) + b"base:"
    t, _ = r.opt_final(OPT_SET_META, bad)
    assert t == ERR_INVALID, "SET_META overrun: %x" % t
    t, _ = r.opt_final(OPT_LIST_META, struct.pack(">I", 9))
    assert t == ERR_INVALID
    # unknown export
    t, _ = r.opt_final(OPT_INFO, struct.pack(">I", 6) + b"nosuch" + struct.pack(">H", 0))
    assert t == ERR_UNKNOWN, "unknown export: %x" % t
    # the connection still works
    t, infos = r.opt_final(OPT_INFO, struct.pack(">I", 5) + b"zram0" + struct.pack(">H", 1) + b"\0\1")
    assert t == REP_ACK and len(infos) >= 2


def case_structured_twice(path):
    r = Raw(path)
    r.greeting()
    for _ in range(2):
        t, _ = r.opt_final(OPT_STRUCTURED_REPLY)
        assert t == REP_ACK
    t, _ = r.opt_final(OPT_STRUCTURED_REPLY, b"x")
    assert t == ERR_INVALID


def case_extended_headers_starttls(path):
    r = Raw(path)
    r.greeting()
    t, _ = r.opt_final(OPT_EXTENDED_HEADERS)
    assert t == ERR_UNSUP, "EXTENDED_HEADERS: %x" % t
    t, _ = r.opt_final(OPT_STARTTLS)
    assert t in (ERR_UNSUP, ERR_POLICY), "STARTTLS: %x" % t


def case_meta_before_sr(path):
    r = Raw(path)
    r.greeting()
    q = b"base:allocation"
    t, _ = r.opt_final(OPT_SET_META, struct.pack(">I", 0) + struct.pack(">II", 1, len(q)) + q)
    assert t == ERR_INVALID


def case_option_huge(path):
    """An option naming 4 GiB of data is dropped, not allocated."""
    r = Raw(path)
    r.greeting()
    r.opt(OPT_GO, b"", length=0xFFFFFFFF)
    assert r.is_closed(), "4 GiB option not refused"
    r = Raw(path)
    r.greeting()
    r.opt(OPT_GO, bytes(200000))
    o, t, _ = r.opt_reply()
    assert t == ERR_TOO_BIG, "200 KB option: %x" % t
    t, _ = r.opt_final(OPT_LIST)
    assert t == REP_ACK


def case_export_name_unknown(path):
    r = Raw(path)
    r.greeting()
    r.opt(OPT_EXPORT_NAME, b"zram77")
    assert r.is_closed(), "EXPORT_NAME of an unknown export: not closed"
    r = Raw(path)
    r.greeting(cflags=1)          # no NO_ZEROES: 124 zero bytes follow
    r.opt(OPT_EXPORT_NAME, b"")
    size, flags = struct.unpack(">QH", r.recv(10))
    assert r.recv(124) == bytes(124) and size > 0 and flags & 1


def case_tls_required(path):
    """--tls=require over TCP: every option but STARTTLS and ABORT gets
    ERR_TLS_REQD; EXPORT_NAME ends the connection."""
    r = Raw(path)
    r.greeting()
    go = struct.pack(">I", 5) + b"zram0" + struct.pack(">H", 0)
    meta = struct.pack(">I", 0) + struct.pack(">I", 0)
    for opt, data in ((OPT_LIST, b""), (OPT_STRUCTURED_REPLY, b""), (OPT_INFO, go),
                      (OPT_GO, go), (OPT_LIST_META, meta), (0x7654321, b"ab")):
        t, replies = r.opt_final(opt, data)
        assert t == ERR_TLS_REQD and not replies, "option %d without TLS: %x" % (opt, t)
    t, _ = r.opt_final(OPT_ABORT)
    assert t == REP_ACK
    r = Raw(path)
    r.greeting()
    r.opt(OPT_EXPORT_NAME, b"zram0")
    assert r.is_closed(), "EXPORT_NAME without TLS: not closed"


def case_unknown_command(path):
    r = Raw(path)
    r.go()
    r.req(99, 0, 512, cookie=5)
    cookie, err, _ = r.reply()
    assert cookie == 5 and err == EINVAL, "command 99: %d" % err
    r.req(CMD_FLUSH, 4096, 0, cookie=6)
    r.expect(EINVAL, "FLUSH with offset")
    r.req(CMD_FLUSH, 0, 512, cookie=7)
    r.expect(EINVAL, "FLUSH with length")
    r.req(CMD_FLUSH, cookie=8)
    r.expect(0, "FLUSH")
    r.req(CMD_WRITE, 0, 512, flags=1 << 9, payload=b"z" * 512)
    r.expect(EINVAL, "WRITE with an unknown flag")
    r.req(CMD_READ, 0, 512, flags=1 << 3)          # REQ_ONE on READ
    r.expect(EINVAL, "flag of another command")
    r.req(CMD_BLOCK_STATUS, 0, 4096)
    r.expect(EINVAL, "BLOCK_STATUS without a meta context")
    assert r.read_data(0, 512) is not None


def case_df_without_sr(path):
    r = Raw(path)
    r.go(sr=False)
    assert not r.eflags & (1 << 7), "SEND_DF advertised without structured replies"
    r.req(CMD_READ, 0, 4096, flags=1 << 2)
    r.expect(EINVAL, "DF without structured replies")
    r.req(CMD_READ, 0, 4096, cookie=9)
    cookie, err, _ = r.reply()
    assert err == 0 and cookie == 9
    assert r.recv(4096) is not None


def case_bad_magic(path):
    r = Raw(path)
    r.go()
    r.send(struct.pack(">IHHQQI", 0x12345678, 0, 0, 1, 0, 512))
    assert r.is_closed(), "bad request magic: not closed"


def case_oversize_write(path):
    """WRITE payloads: invalid ones up to 32 MiB are read and answered;
    beyond 32 MiB the connection is dropped."""
    r = Raw(path)
    size = r.go()
    big = bytes(32 << 20)
    r.req(CMD_WRITE, size - 4096, len(big), cookie=1, payload=big)
    r.expect(28, "32 MiB WRITE past the end")
    r.req(CMD_WRITE, 1, 4096, cookie=2, payload=bytes(4096))
    r.expect(EINVAL, "unaligned WRITE")
    assert r.read_data(0, 4096) is not None     # the stream is still in step
    r.req(CMD_WRITE, 0, (32 << 20) + 512, cookie=3)
    assert r.is_closed(), "33 MiB WRITE: not dropped"


def case_vanish_mid_write(path, offset):
    """Half a write payload, then gone: nothing may be applied."""
    r = Raw(path)
    r.go()
    r.req(CMD_WRITE, offset, 1 << 20, cookie=1, payload=b"\xee" * (512 << 10))
    time.sleep(0.2)
    r.close()


def case_stalled_reader(path, count):
    """Queue many 32 MiB READs and never read a reply."""
    r = Raw(path)
    r.go()
    r.s.setblocking(False)
    sent = 0
    hdr = struct.pack(">IHHQQI", REQ_MAGIC, 0, CMD_READ, 1, 0, 32 << 20)
    deadline = time.time() + 10
    while sent < count and time.time() < deadline:
        try:
            r.s.send(hdr)
            sent += 1
        except BlockingIOError:
            time.sleep(0.01)
    return r, sent


def main():
    path = sys.argv[1]
    for name in sys.argv[2:]:
        globals()["case_" + name](path)
        print("ok", name)


if __name__ == "__main__":
    main()
