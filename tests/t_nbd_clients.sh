#!/bin/bash
# t_nbd_clients.sh - `uzram serve` with real clients: nbdinfo (--json, --list,
# --map), nbdcopy round trips compared with cmp, qemu-img (compare, map,
# convert), qemu-io patterns, nbdsh, TCP, --stdio, socket activation,
# --read-only, the control socket, SIGTERM and the pidfile.
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"
need nbdinfo nbdcopy nbdsh qemu-img qemu-io cmp
set -o pipefail

start_server --size 256M --devices 2 --algorithm lz4 --pidfile "$T/pid" --listen 127.0.0.1:0
[ "$(cat "$T/pid")" = "$SERVER_PID" ] || fail "pidfile holds '$(cat "$T/pid")', not $SERVER_PID"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "NBD socket mode $(stat -c %a "$SOCK"), not 600"
[ "$(stat -c %a "$CTL")" = 600 ] || fail "control socket mode $(stat -c %a "$CTL"), not 600"

echo "== nbdinfo --json: flags and sizes"
nbdinfo --json "$URI" >"$T/info.json" || fail "nbdinfo --json"
"$PY" - "$T/info.json" <<'EOF' || fail "nbdinfo --json contents"
import json, sys
e = json.load(open(sys.argv[1]))["exports"][0]
want = {"export-name": "zram0", "export-size": 268435456, "is_read_only": False,
        "can_multi_conn": True, "can_trim": True, "can_zero": True, "can_fast_zero": True,
        "can_df": True, "can_cache": True, "can_flush": True, "can_fua": True,
        "block_size_minimum": 512, "block_size_preferred": 4096,
        "block_size_maximum": 33554432}
bad = {k: (e.get(k), v) for k, v in want.items() if e.get(k) != v}
assert not bad, bad
assert "base:allocation" in e["contexts"], e["contexts"]
assert "lz4" in e["description"], e["description"]
EOF
[ "$(nbdinfo --size "nbd+unix:///?socket=$SOCK")" = 268435456 ] || fail "the empty export name is not zram0"

echo "== LIST: initialised devices only; a device initialised later becomes an export"
nbdinfo --list --json "$URI" >"$T/list.json" || fail "nbdinfo --list"
"$PY" -c 'import json,sys; n=[e["export-name"] for e in json.load(open(sys.argv[1]))["exports"]]; assert n==["zram0"], n' \
	"$T/list.json" || fail "LIST before zram1 is initialised"
nbdinfo --size "nbd+unix:///zram1?socket=$SOCK" >/dev/null 2>&1 && fail "uninitialised zram1 is served"
ctl_request store zram1 comp_algorithm zstd >/dev/null || fail "control: store comp_algorithm"
ctl_request store zram1 disksize 64M >/dev/null || fail "control: store disksize"
[ "$(ctl_request show zram1 disksize)" = 67108864 ] || fail "control: show disksize"
[ "$(ctl_request list | tr '\n' ' ')" = "zram0 zram1 " ] || fail "control: list"
out=$(ctl_request store zram1 disksize 128M) && fail "disksize of an initialised device stored"
[[ $out == "err 16 "* ]] || fail "control: store on an initialised device gave '$out', not EBUSY"
[ "$(nbdinfo --size "nbd+unix:///zram1?socket=$SOCK")" = 67108864 ] || fail "zram1 not served after init"
nbdinfo --list --json "$URI" >"$T/list.json" || fail "nbdinfo --list"
"$PY" -c 'import json,sys; n=[e["export-name"] for e in json.load(open(sys.argv[1]))["exports"]]; assert n==["zram0","zram1"], n' \
	"$T/list.json" || fail "LIST after zram1 is initialised"
ctl_out=$("$UZRAM" ctl --control "$CTL" zram1 disksize 2>&1)
if [[ $ctl_out != *"not available"* ]]; then
	[ "$("$UZRAM" ctl --control "$CTL" zram1 disksize)" = 67108864 ] || fail "uzram ctl --control ... zram1 disksize"
fi

echo "== nbdinfo --map: empty, then after writes, zeroes, trims"
[ "$(nbdinfo --map "$URI" | awk '{print $1, $2, $3}')" = "0 268435456 3" ] || fail "map of an empty device: $(nbdinfo --map "$URI")"
qemu-io -f raw "$URI" -c 'write -P 0xab 0 1M' -c 'write -z 1M 1M' -c 'write -P 0x33 3M 1M' \
	-c 'write -z -u 3M 512k' -c 'discard 3584k 512k' -c 'write -P 0x5a 8M 4k' \
	-c 'write -P 0 12M 8k' >/dev/null || fail "qemu-io writes"
nbdinfo --map "$URI" | awk '{print $1, $2, $3}' >"$T/map"
cat >"$T/map.want" <<EOF
0 1048576 0
1048576 1048576 2
2097152 6291456 3
8388608 4096 0
8392704 4190208 3
12582912 8192 2
12591104 255844352 3
EOF
diff "$T/map.want" "$T/map" || fail "map after writes"
qemu-io -f raw "$URI" -c 'read -P 0xab 0 1M' -c 'read -P 0 1M 7M' -c 'read -P 0x5a 8M 4k' \
	-c 'read -P 0 8196k 4M' >"$T/qio" || fail "qemu-io read back: $(grep -i fail "$T/qio")"
grep -qi "pattern verification failed" "$T/qio" && fail "qemu-io pattern mismatch"
qemu-img map --output=json -f raw "$URI" >"$T/qmap.json" || fail "qemu-img map"
"$PY" - "$T/qmap.json" <<'EOF' || fail "qemu-img map contents"
import json, sys
m = json.load(open(sys.argv[1]))
first = m[0]
assert first["start"] == 0 and first["length"] == 1048576 and first["data"] and not first["zero"], first
z = [e for e in m if e["start"] == 2097152][0]
assert z["zero"] and not z["data"], z
EOF

echo "== qemu-io: FUA, async writes, flush, partial pages"
qemu-io -f raw "$URI" -c 'write -f -P 0x11 20M 4k' -c 'aio_write -P 0x22 21M 64k' \
	-c 'aio_write -P 0x23 22M 1536' -c 'aio_flush' -c 'write -P 0x24 22M 512' \
	-c 'read -P 0x11 20M 4k' -c 'read -P 0x22 21M 64k' -c 'read -P 0x24 22M 512' \
	-c 'read -P 0x23 23069184 1024' >"$T/qio" || fail "qemu-io FUA/aio"
grep -qi "fail" "$T/qio" && fail "qemu-io: $(grep -i fail "$T/qio")"

echo "== nbdcopy round trips"
mb=$((48 / SCALE))
"$PY" - "$T/src.img" "$mb" <<'EOF'
import os, random, sys
random.seed(7)
words = b"the quick brown fox jumps over the lazy dog 0123456789 zram uzram page ".split()
out = bytearray()
for i in range(int(sys.argv[2]) * 256):
    r = random.random()
    if r < 0.2:
        out += bytes(4096)
    elif r < 0.4:
        out += os.urandom(4096)
    elif r < 0.45:
        out += bytes([i & 255]) * 4096
    else:
        page = b" ".join(random.choice(words) for _ in range(700))
        out += page[:4096].ljust(4096, b".")
open(sys.argv[1], "wb").write(out)
EOF
size=$(stat -c %s "$T/src.img")
$NBDSH -u "$URI" -c 'h.trim(h.get_size(), 0)' || fail "trim the whole device"
nbdcopy "$T/src.img" "$URI" || fail "nbdcopy file -> nbd"
nbdcopy "$URI" "$T/back.img" || fail "nbdcopy nbd -> file"
cmp -n "$size" "$T/src.img" "$T/back.img" || fail "nbdcopy round trip differs"
cmp -n $((268435456 - size)) -i "$size:0" "$T/back.img" /dev/zero || fail "beyond the copy the device is not zero"
nbdcopy --connections=4 --requests=8 --request-size=1048576 --flush "$T/src.img" \
	"nbd+unix:///zram1?socket=$SOCK" || fail "nbdcopy -C 4 into zram1"
nbdcopy --synchronous "nbd+unix:///zram1?socket=$SOCK" "$T/back1.img" || fail "nbdcopy --synchronous"
cmp -n "$size" "$T/src.img" "$T/back1.img" || fail "zram1 round trip differs"
nbdcopy "$URI" "nbd+unix:///zram1?socket=$SOCK" 2>/dev/null && fail "nbdcopy of 256M into 64M succeeded"

echo "== qemu-img compare and convert"
qemu-img compare -f raw -F raw "$T/back.img" "$URI" >/dev/null || fail "qemu-img compare: differs"
qemu-io -f raw "$URI" -c 'write -P 0x99 100M 512' >/dev/null || fail "qemu-io write"
qemu-img compare -f raw -F raw "$T/back.img" "$URI" >/dev/null && fail "qemu-img compare missed a difference"
qemu-img convert -n -f raw -O raw "$T/back.img" "$URI" || fail "qemu-img convert"
qemu-img compare -f raw -F raw "$T/back.img" "$URI" >/dev/null || fail "qemu-img compare after convert"

echo "== TCP"
port=$(sed -n 's/.*NBD on tcp 127.0.0.1:\([0-9]*\).*/\1/p' "$T/server.log")
[ -n "$port" ] || fail "no TCP port in the log"
[ "$(nbdinfo --size "nbd://127.0.0.1:$port/zram0")" = 268435456 ] || fail "nbdinfo over TCP"
qemu-img compare -f raw -F raw "$T/back.img" "nbd://127.0.0.1:$port/zram0" >/dev/null || fail "compare over TCP"

echo "== nbdsh: structured replies, DF, FUA, multi-conn"
$NBDSH --base-allocation -u "$URI" -c '
assert h.get_structured_replies_negotiated()
assert h.can_multi_conn() and h.can_df() and h.can_fast_zero()
h.pwrite(b"\x42" * 65536, 64 << 20, nbd.CMD_FLAG_FUA)
chunks = []
h.pread_structured(65536, 64 << 20, lambda buf, off, st, err: chunks.append((st, len(buf))), nbd.CMD_FLAG_DF)
assert chunks == [(nbd.READ_DATA, 65536)], chunks
chunks = []
h.pread_structured(65536, 200 << 20, lambda buf, off, st, err: chunks.append((st, len(buf))))
assert [c[0] for c in chunks] == [nbd.READ_HOLE], chunks
h.zero(65536, 64 << 20, nbd.CMD_FLAG_FAST_ZERO | nbd.CMD_FLAG_NO_HOLE)
assert h.pread(65536, 64 << 20) == bytes(65536)
ext = []
h.block_status(1 << 20, 64 << 20, lambda ctx, off, e, err: ext.extend(e), nbd.CMD_FLAG_REQ_ONE)
assert ext == [65536, 2], ext
h.flush()
' || fail "nbdsh checks"

echo "== --stdio and socket activation"
$NBDSH -c "
h.connect_command(['$UZRAM', 'serve', '--stdio', '--size', '16M'])
assert h.get_size() == 16 << 20
h.pwrite(b'stdio' * 100 + bytes(12), 4096)
assert h.pread(512, 4096) == b'stdio' * 100 + bytes(12)
h.shutdown()
" || fail "nbdsh connect_command --stdio"
[ "$(nbdinfo --size -- [ "$UZRAM" serve --size 32M ])" = 33554432 ] || fail "socket activation (nbdinfo [ uzram serve ])"

echo "== SIGTERM: exit 0, sockets and pidfile removed"
stop_server
[ ! -e "$T/pid" ] || fail "pidfile left behind"

echo "== SIGHUP, SIGQUIT: drain and clean up as SIGTERM does (issue 20)"
for sig in HUP QUIT; do
	start_server --size 16M --pidfile "$T/pid"
	$NBDSH -u "$URI" -c 'h.pwrite(b"x" * 4096, 0)' || fail "write before SIG$sig"
	kill -$sig "$SERVER_PID" || fail "server gone before SIG$sig"
	server_exited "after SIG$sig"
	[ ! -e "$T/pid" ] || fail "pidfile left behind after SIG$sig"
	grep -q "shutting down" "$T/server.log" || fail "SIG$sig: no orderly shutdown"
done

echo "== --read-only"
start_server --size 64M --read-only
nbdinfo --json "$URI" >"$T/info.json" || fail "nbdinfo --json (read-only)"
"$PY" -c 'import json,sys; e=json.load(open(sys.argv[1]))["exports"][0]; assert e["is_read_only"] and not e["can_trim"] and not e["can_zero"], e' \
	"$T/info.json" || fail "read-only flags"
$NBDSH --base-allocation -u "$URI" -c '
h.set_strict_mode(0)
assert h.pread(4096, 0) == bytes(4096)
for f in (lambda: h.pwrite(b"x" * 512, 0), lambda: h.trim(4096, 0), lambda: h.zero(4096, 0)):
    try:
        f()
        raise SystemExit("a write succeeded on a read-only export")
    except nbd.Error as e:
        assert e.errno == "EPERM", e.errno
' || fail "read-only refusals"
stop_server
echo "PASS"
