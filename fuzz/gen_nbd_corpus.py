#!/usr/bin/python3
"""gen_nbd_corpus.py - writes the seed corpus of fuzz_nbd (fuzz/corpus/fuzz_nbd).

Each seed is [config byte][client bytes]: config 0 a plain server, 1 read-only,
2 --tls=require, 3 --tls=on (see fuzz_nbd.c). The seeds are whole sessions
real clients send (handshakes with GO, EXPORT_NAME, INFO, LIST, structured
replies and meta contexts, then every command) and the malformed ones of
peers-and-nbd.md section 2.4, so the fuzzer starts deep in the protocol.

    fuzz/gen_nbd_corpus.py [DIR]     (default fuzz/corpus/fuzz_nbd)
"""
import os
import struct
import sys

IHAVEOPT = 0x49484156454F5054
REQ_MAGIC = 0x25609513
(EXPORT_NAME, ABORT, LIST, STARTTLS, INFO, GO, SR, LIST_META, SET_META,
 EXT_HDR) = 1, 2, 3, 5, 6, 7, 8, 9, 10, 11
READ, WRITE, DISC, FLUSH, TRIM, CACHE, ZEROES, BLOCK_STATUS = range(8)
FUA, NO_HOLE, DF, REQ_ONE, FAST_ZERO = 1, 2, 4, 8, 16


def cflags(f=3):
    return struct.pack(">I", f)


def opt(o, data=b"", length=None):
    return struct.pack(">QII", IHAVEOPT, o, len(data) if length is None else length) + data


def info(name=b"zram0", infos=(1, 2, 3)):
    return struct.pack(">I", len(name)) + name + struct.pack(">H", len(infos)) + \
        b"".join(struct.pack(">H", i) for i in infos)


def meta(name=b"zram0", queries=(b"base:allocation",)):
    return struct.pack(">I", len(name)) + name + struct.pack(">I", len(queries)) + \
        b"".join(struct.pack(">I", len(q)) + q for q in queries)


def req(cmd, off=0, length=0, flags=0, cookie=1, payload=b""):
    return struct.pack(">IHHQQI", REQ_MAGIC, flags, cmd, cookie, off, length) + payload


def go_session(name=b"zram0", sr=True, set_meta=True):
    s = cflags()
    if sr:
        s += opt(SR)
    if set_meta:
        s += opt(SET_META, meta(name))
    return s + opt(GO, info(name))


def text(n, seed=0):
    words = b"zram page compressed block device lzo zstd lz4 "
    return (words * (n // len(words) + 1))[seed % 7:seed % 7 + n]


ALL_COMMANDS = (
    req(WRITE, 0, 4096, cookie=1, payload=text(4096)) +
    req(WRITE, 8192, 4096, flags=FUA, cookie=2, payload=bytes(4096)) +
    req(WRITE, 512, 512, cookie=3, payload=b"\xaa" * 512) +
    req(READ, 0, 4096, cookie=4) +
    req(READ, 0, 65536, flags=DF, cookie=5) +
    req(READ, 65536, 4096, cookie=6) +
    req(BLOCK_STATUS, 0, 1 << 20, cookie=7) +
    req(BLOCK_STATUS, 0, 1 << 20, flags=REQ_ONE, cookie=8) +
    req(TRIM, 0, 8192, cookie=9) +
    req(ZEROES, 16384, 8192, cookie=10) +
    req(ZEROES, 32768, 4096, flags=NO_HOLE, cookie=11) +
    req(ZEROES, 40960, 4096, flags=FAST_ZERO, cookie=12) +
    req(FLUSH, cookie=13) +
    req(CACHE, 0, 4096, cookie=14) +
    req(READ, 0, 16384, cookie=15) +
    req(DISC)
)

BAD_REQUESTS = (
    req(99, 0, 512, cookie=20) +
    req(READ, 0, 0, cookie=21) +
    req(READ, 1, 511, cookie=22) +
    req(READ, 1 << 20, 4096, cookie=23) +
    req(READ, 2**63 - 1, 512, cookie=24) +
    req(WRITE, (1 << 20) - 512, 4096, cookie=25, payload=bytes(4096)) +
    req(WRITE, 0, 512, flags=1 << 9, cookie=26, payload=bytes(512)) +
    req(READ, 0, 512, flags=REQ_ONE, cookie=27) +
    req(FLUSH, 4096, 0, cookie=28) +
    req(TRIM, 0, 0, cookie=29) +
    req(ZEROES, 1 << 20, 4096, cookie=30) +
    req(READ, 0, 33 << 20, cookie=31) +
    req(BLOCK_STATUS, 0, 4096, cookie=32) +
    req(READ, 0, 4096, cookie=33)
)


def seeds():
    yield "session_go_all_commands", 0, go_session() + ALL_COMMANDS
    yield "session_go_bad_requests", 0, go_session() + BAD_REQUESTS + req(DISC)
    yield "session_simple_replies", 0, go_session(sr=False, set_meta=False) + \
        req(WRITE, 4096, 8192, payload=text(8192, 3)) + req(READ, 4096, 8192, cookie=2) + \
        req(READ, 0, 4096, flags=DF, cookie=3) + req(BLOCK_STATUS, 0, 4096, cookie=4) + req(DISC)
    yield "session_export_name_zeroes", 0, cflags(1) + opt(EXPORT_NAME, b"") + \
        req(WRITE, 0, 4096, payload=text(4096, 1)) + req(READ, 0, 4096, cookie=2)
    yield "session_export_name_zram2", 0, cflags() + opt(EXPORT_NAME, b"zram2") + \
        req(WRITE, 0, 65536, payload=text(65536, 2)) + req(READ, 32768, 32768, cookie=2) + \
        req(WRITE, 65536, 512, cookie=3, payload=bytes(512)) + req(DISC)
    yield "session_export_name_unknown", 0, cflags() + opt(EXPORT_NAME, b"zram1")
    yield "options_list_info", 0, cflags() + opt(LIST) + opt(INFO, info()) + \
        opt(INFO, info(b"zram1")) + opt(INFO, info(b"zram9")) + opt(INFO, info(b"", ())) + \
        opt(SR) + opt(LIST_META, meta(b"zram0", ())) + opt(LIST_META, meta(b"zram0", (b"base:",))) + \
        opt(SET_META, meta(b"zram2")) + opt(SET_META, meta(b"zram0", ())) + opt(ABORT)
    yield "options_malformed", 0, cflags() + opt(0x7654321, b"abcd") + opt(LIST, b"junk") + \
        opt(INFO, struct.pack(">I", 100) + b"zram0" + struct.pack(">H", 0)) + \
        opt(GO, struct.pack(">I", 5) + b"zram0" + struct.pack(">H", 3) + b"\0\1") + \
        opt(GO, b"\0\0") + opt(SET_META, meta()) + opt(SR, b"x") + opt(SR) + opt(SR) + \
        opt(SET_META, struct.pack(">I", 0) + struct.pack(">II", 1, 200) + b"base:") + \
        opt(LIST_META, struct.pack(">I", 9)) + opt(EXT_HDR) + opt(STARTTLS) + \
        opt(GO, bytes(70000)) + opt(GO, info())
    yield "option_too_long", 0, cflags() + opt(GO, b"", length=0xFFFFFFFF)
    yield "client_flags_unknown", 0, cflags(0x83)
    yield "client_not_fixed", 0, cflags(0) + opt(LIST)
    yield "client_not_fixed_export", 0, cflags(0) + opt(EXPORT_NAME, b"zram0") + bytes(8)
    yield "option_bad_magic", 0, cflags() + struct.pack(">QII", 0x1234, LIST, 0)
    yield "request_bad_magic", 0, go_session() + struct.pack(">IHHQQI", 0x12345678, 0, 0, 1, 0, 512)
    yield "request_oversize_write", 0, go_session() + req(WRITE, 0, (32 << 20) + 512)
    yield "request_half_write", 0, go_session() + req(WRITE, 0, 65536, payload=text(1000))
    yield "pipelined_writes", 0, go_session() + b"".join(
        req(WRITE, (i % 16) * 4096, 4096, cookie=i, payload=bytes([i]) * 4096) for i in range(80)) + \
        b"".join(req(READ, i * 65536, 65536, cookie=100 + i) for i in range(16)) + req(DISC)
    yield "readonly_writes", 1, go_session() + req(WRITE, 0, 4096, payload=text(4096)) + \
        req(TRIM, 0, 4096, cookie=2) + req(ZEROES, 0, 4096, cookie=3) + \
        req(ZEROES, 0, 4096, flags=NO_HOLE, cookie=4) + req(READ, 0, 4096, cookie=5) + \
        req(BLOCK_STATUS, 0, 65536, cookie=6) + req(FLUSH, cookie=7) + req(DISC)
    yield "readonly_export_name", 1, cflags() + opt(EXPORT_NAME, b"zram0") + \
        req(WRITE, 0, 512, payload=bytes(512)) + req(READ, 0, 512, cookie=2)
    yield "tls_require_plaintext", 2, cflags() + opt(LIST) + opt(SR) + opt(INFO, info()) + \
        opt(GO, info()) + opt(0x7654321) + opt(STARTTLS, b"x") + opt(ABORT)
    yield "tls_require_export_name", 2, cflags() + opt(EXPORT_NAME, b"zram0")
    yield "tls_require_starttls", 2, cflags() + opt(STARTTLS)
    yield "tls_on_plaintext", 3, go_session() + ALL_COMMANDS
    yield "tls_on_starttls_injection", 3, cflags() + opt(STARTTLS) + opt(SR) + opt(GO, info())
    yield "tls_on_starttls_hello", 3, cflags() + opt(STARTTLS) + \
        b"\x16\x03\x01\x00\x2e\x01\x00\x00\x2a\x03\x03" + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "fuzz_nbd")
    os.makedirs(out, exist_ok=True)
    n = 0
    for name, config, stream in seeds():
        with open(os.path.join(out, "seed_" + name), "wb") as f:
            f.write(bytes([config]) + stream)
        n += 1
    print("%d seeds in %s" % (n, out))


if __name__ == "__main__":
    main()
