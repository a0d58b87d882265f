#!/usr/bin/env python3
"""metrics_http.py - HTTP clients for tests/t_metrics.sh, good and bad.

usage: metrics_http.py PORT get PATH [METHOD]   prints the status, then the body
       metrics_http.py PORT garbage             malformed requests: each must get an
                                                error (4xx, 5xx) or a closed connection
       metrics_http.py PORT slow N SECONDS      N clients trickle a header a byte at a
                                                time while /metrics is scraped
       metrics_http.py PORT flood N             N idle connections held, then closed

Exits 1 with a message when the server does what it must not (hangs, answers
garbage with 200, stops answering /metrics).
"""
import http.client
import socket
import sys
import time

HOST = "127.0.0.1"


def get(port, path, method="GET"):
    c = http.client.HTTPConnection(HOST, port, timeout=10)
    c.request(method, path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), body


def raw(port, data, wait=15.0):
    """Send data; the status line of the answer, or "closed"."""
    s = socket.create_connection((HOST, port), timeout=wait)
    try:
        s.sendall(data)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    except socket.timeout:
        sys.exit(f"no answer within {wait} s to {data[:60]!r}")
    finally:
        s.close()
    return buf.split(b"\r\n")[0].decode(errors="replace") if buf else "closed"


GARBAGE = [
    b"\x00\xff\xfe garbage \x01\x02\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /metrics\r\n\r\n",                          # HTTP/0.9 style, no version
    b"GET /metrics HTTP/9.9\r\n\r\n",
    b"G\x00T /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"A" * 200000 + b"\r\n\r\n",
    b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-H: y\r\n" * 5000 + b"\r\n",
    b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nabc",
    b"POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
]


def garbage(port):
    for g in GARBAGE:
        st = raw(port, g)
        print(f"{len(g):7d} bytes {g[:24]!r}: {st}")
        if st != "closed" and not (st.startswith("HTTP/") and st.split()[1][0] in "45"):
            sys.exit(f"malformed request answered {st!r}, not an error or a close: {g[:60]!r}")
        status, _, _ = get(port, "/metrics")
        if status != 200:
            sys.exit(f"/metrics answers {status} after {g[:60]!r}")


def slow(port, n, seconds):
    socks = [socket.create_connection((HOST, port), timeout=5) for _ in range(n)]
    req = b"GET /metrics HTTP/1.1\r\nHost: slow\r\nX-Slow: " + b"s" * 1000
    end, i, scrapes = time.time() + seconds, 0, 0
    while time.time() < end:
        for s in socks:
            try:
                s.send(req[i % len(req):i % len(req) + 1])
            except OSError:
                pass
        i += 1
        status, _, _ = get(port, "/metrics")
        if status != 200:
            sys.exit(f"/metrics answered {status} while {n} clients trickled")
        scrapes += 1
        time.sleep(0.2)
    for s in socks:
        s.close()
    print(f"{scrapes} scrapes answered while {n} clients trickled for {seconds} s")


def flood(port, n):
    socks = []
    for _ in range(n):
        try:
            socks.append(socket.create_connection((HOST, port), timeout=5))
        except OSError as e:
            print(f"connection {len(socks)} refused: {e}")
            break
    print(f"{len(socks)} idle connections held")
    time.sleep(1)
    for s in socks:
        s.close()
    time.sleep(0.5)
    status, _, _ = get(port, "/metrics")
    if status != 200:
        sys.exit(f"/metrics answered {status} after the flood")


def main():
    port, cmd = int(sys.argv[1]), sys.argv[2]
    if cmd == "get":
        method = sys.argv[4] if len(sys.argv) > 4 else "GET"
        status, ctype, body = get(port, sys.argv[3], method)
        print(status, ctype)
        sys.stdout.write(body.decode())
    elif cmd == "garbage":
        garbage(port)
    elif cmd == "slow":
        slow(port, int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "flood":
        flood(port, int(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
