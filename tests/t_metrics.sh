#!/bin/bash
# t_metrics.sh - `uzram serve --metrics`: the address rules (loopback unless
# --metrics-allow-remote, ports as --listen's), /metrics linted by promtool,
# its values against the control socket's mm_stat and the traffic sent, the
# front ends' counters (NBD; the FUSE disk file as root), 404/405, a real
# Prometheus scraping it and answering a query through its HTTP API, and
# malformed, oversized, trickling and flooding HTTP clients refused by
# libmicrohttpd while NBD and /metrics go on serving.
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"
need nbdcopy nbdsh promtool prometheus
HTTP="$PY $SRCDIR/tests/metrics_http.py"
PROM_PID=

prom_cleanup() { [ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null; wait 2>/dev/null; }
CLEANUP_HOOK=prom_cleanup

metrics_port() {
	local port
	port=$(sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$T/server.log")
	[ -n "$port" ] || fail "no metrics address in the server's log"
	echo "$port"
}

# scrape NAME: GET /metrics into $T/NAME.txt (the body), checking 200 and the type
scrape() {
	$HTTP "$PORT" get /metrics >"$T/$1.raw" || fail "GET /metrics"
	head -1 "$T/$1.raw" | grep -qx '200 text/plain; version=0.0.4; charset=utf-8' ||
		fail "GET /metrics: $(head -1 "$T/$1.raw")"
	tail -n +2 "$T/$1.raw" >"$T/$1.txt"
}

# value FILE SERIES: the value of a sample, exactly as exported
value() {
	awk -v s="$2" '$1 == s { print $2; found = 1 } END { exit !found }' "$1" ||
		fail "no sample $2"
}

echo "== the build has libmicrohttpd"
"$UZRAM" serve --socket "$T/x.sock" --control "$T/x.ctl" --metrics 0 2>"$T/probe.log" &
pid=$!
for _ in $(seq 50); do grep -q "metrics on\|no libmicrohttpd" "$T/probe.log" && break; sleep 0.1; done
kill "$pid" 2>/dev/null; wait "$pid"
if grep -q "no libmicrohttpd" "$T/probe.log"; then echo "SKIP: built without libmicrohttpd"; exit 77; fi

echo "== addresses: loopback unless --metrics-allow-remote; ports checked as --listen's"
for bad in 70000 -1 x 127.0.0.1: ; do
	"$UZRAM" serve --socket "$T/x.sock" --metrics "$bad" 2>"$T/bad.log" && fail "--metrics $bad accepted"
	grep -q "^uzram serve: --metrics $bad: port .* is not a number from 1 to 65535" "$T/bad.log" ||
		fail "--metrics $bad: $(cat "$T/bad.log")"
done
for remote in 0.0.0.0:0 "[::]:0"; do
	"$UZRAM" serve --socket "$T/x.sock" --metrics "$remote" 2>"$T/bad.log" &&
		fail "--metrics $remote accepted without --metrics-allow-remote"
	grep -q "is not a loopback address; give --metrics-allow-remote" "$T/bad.log" ||
		fail "--metrics $remote: $(cat "$T/bad.log")"
done
[ -e "$T/x.sock" ] && fail "a refused --metrics left the NBD socket behind"
"$UZRAM" serve --socket "$T/x.sock" --control "$T/x.ctl" --metrics 0.0.0.0:0 \
	--metrics-allow-remote 2>"$T/remote.log" &
pid=$!
for _ in $(seq 50); do grep -q "metrics on" "$T/remote.log" && break; sleep 0.1; done
grep -q "metrics on http://0.0.0.0:[0-9]*/metrics" "$T/remote.log" ||
	fail "--metrics-allow-remote: $(cat "$T/remote.log")"
kill "$pid"; wait "$pid" || fail "the server with --metrics-allow-remote exited $?"

fuse=()
if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ]; then
	mkdir "$T/mnt" && fuse=(--mount "$T/mnt")
fi
start_server --size 64M --algorithm lz4 --metrics 127.0.0.1:0 "${fuse[@]}"
PORT=$(metrics_port)

echo "== traffic: 16 MiB written and read back over NBD, one invalid read"
seq 3000000 | head -c 16M >"$T/data"
nbdcopy "$T/data" "$URI" || fail "nbdcopy to the device"
nbdcopy "$URI" "$T/back" && cmp -s <(head -c 16M "$T/back") "$T/data" || fail "read back"
$NBDSH -u "$URI" -c '
h.set_strict_mode(0)
try:
    h.pread(4096, h.get_size())
    raise SystemExit("a read past the end succeeded")
except nbd.Error:
    pass
' || fail "nbdsh invalid read"
if [ ${#fuse[@]} -gt 0 ]; then
	dd if="$T/data" of="$T/mnt/zram0/disk" bs=1M count=4 seek=32 oflag=direct \
		conv=notrunc status=none || fail "dd to the FUSE disk file"
	dd if="$T/mnt/zram0/disk" of=/dev/null bs=1M count=4 skip=32 iflag=direct status=none ||
		fail "dd from the FUSE disk file"
fi

echo "== /metrics: promtool's lint, and the values"
scrape m1
promtool check metrics <"$T/m1.txt" >"$T/lint.txt" 2>&1 || { cat "$T/lint.txt"; fail "promtool check metrics"; }
[ -s "$T/lint.txt" ] && { cat "$T/lint.txt"; fail "promtool check metrics: not lint clean"; }
mm=$(ctl_request show zram0 mm_stat) || fail "mm_stat: $mm"
read -r orig compr used limit umax same compacted huge hsince <<<"$mm"
d='{device="zram0"}'
for pair in orig_data_bytes:$orig compr_data_bytes:$compr mem_used_bytes:$used \
	mem_limit_bytes:$limit mem_used_max_bytes:$umax same_pages:$same \
	compacted_pages_total:$compacted huge_pages:$huge huge_pages_stored_total:$hsince; do
	got=$(value "$T/m1.txt" "uzram_${pair%%:*}$d")
	[ "$got" = "${pair#*:}" ] || fail "uzram_${pair%%:*} is $got, mm_stat says ${pair#*:}"
done
[ "$(value "$T/m1.txt" "uzram_disksize_bytes$d")" = 67108864 ] || fail "disksize"
grep -qx 'uzram_device_info{device="zram0",comp_algorithm="lz4"} 1' "$T/m1.txt" || fail "device_info"
read -r rios _ rsec _ wios _ wsec _ <<<"$(ctl_request show zram0 stat)"
[ "$(value "$T/m1.txt" "uzram_written_bytes_total$d")" = $((wsec * 512)) ] || fail "written bytes"
[ "$(value "$T/m1.txt" "uzram_reads_completed_total$d")" = "$rios" ] || fail "read I/Os"
nbd='{frontend="nbd"'
[ "$(value "$T/m1.txt" "uzram_frontend_received_bytes_total$nbd}")" = $((16 << 20)) ] ||
	fail "NBD received bytes: not the 16 MiB written"
sent=$(value "$T/m1.txt" "uzram_frontend_sent_bytes_total$nbd}")
[ "$sent" -ge $((16 << 20)) ] || fail "NBD sent bytes $sent: less than the 16 MiB read"
[ "$(value "$T/m1.txt" "uzram_frontend_requests_total$nbd,op=\"read\",result=\"invalid\"}")" = 1 ] ||
	fail "the invalid read is not counted"
wok=$(value "$T/m1.txt" "uzram_frontend_requests_total$nbd,op=\"write\",result=\"ok\"}")
[ "$wok" -gt 0 ] || fail "no NBD write counted"
[ "$(value "$T/m1.txt" "uzram_frontend_request_duration_seconds_count$nbd,op=\"write\"}")" = "$wok" ] ||
	fail "the write histogram's count is not the writes done"
[ "$(value "$T/m1.txt" "uzram_frontend_connections_total$nbd}")" -ge 3 ] || fail "NBD connections"
[ "$(value "$T/m1.txt" "uzram_frontend_connections_open$nbd}")" = 0 ] || fail "NBD connections open"
if [ ${#fuse[@]} -gt 0 ]; then
	[ "$(value "$T/m1.txt" 'uzram_frontend_received_bytes_total{frontend="fuse"}')" = $((4 << 20)) ] ||
		fail "FUSE disk received bytes"
	[ "$(value "$T/m1.txt" 'uzram_frontend_connections_total{frontend="fuse"}')" -ge 2 ] ||
		fail "FUSE disk opens"
else
	echo "(FUSE part skipped: needs root and /dev/fuse)"
fi

echo "== only GET and HEAD of /metrics"
for req in "/ GET 404" "/metrics/x GET 404" "/metrics POST 405" "/metrics PUT 405" \
	"/metrics HEAD 200"; do
	set -- $req
	$HTTP "$PORT" get "$1" "$2" >"$T/status.txt" || fail "$2 $1"
	st=$(head -1 "$T/status.txt" | cut -d' ' -f1)
	[ "$st" = "$3" ] || fail "$2 $1 answered $st, not $3"
done

echo "== a real Prometheus scrapes it; its query API gives the control socket's values"
ppath=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: uzram
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
	--web.listen-address="127.0.0.1:$ppath" >"$T/prom.log" 2>&1 &
PROM_PID=$!
query() {
	$PY - "$ppath" "$1" <<'EOF'
import json, sys, urllib.parse, urllib.request
url = "http://127.0.0.1:%s/api/v1/query?query=%s" % (sys.argv[1], urllib.parse.quote(sys.argv[2]))
try:
    r = json.load(urllib.request.urlopen(url, timeout=5))
except Exception as e:
    sys.exit("query failed: %s" % e)
res = r["data"]["result"]
print(res[0]["value"][1] if res else "none")
EOF
}
ratio=
for _ in $(seq 60); do
	kill -0 "$PROM_PID" 2>/dev/null || { tail "$T/prom.log"; fail "prometheus exited"; }
	ratio=$(query 'uzram_orig_data_bytes{device="zram0"} / uzram_mem_used_bytes{device="zram0"}' 2>/dev/null)
	[ -n "$ratio" ] && [ "$ratio" != none ] && break
	sleep 0.5
done
[ -n "$ratio" ] && [ "$ratio" != none ] || { tail "$T/prom.log"; fail "Prometheus has no sample of uzram"; }
sleep 3		# a few more scrapes
[ "$(query 'up{job="uzram"}')" = 1 ] || fail "Prometheus says the target is down"
expect=$($PY -c "print(repr($orig / $used))")
$PY -c "import sys; sys.exit(abs(float('$ratio') - $expect) > 1e-9 * $expect)" ||
	fail "orig_data_size / mem_used_total through Prometheus: $ratio, mm_stat gives $expect"
[ "$(query 'uzram_orig_data_bytes{device="zram0"}')" = "$orig" ] || fail "orig_data_size through Prometheus"
echo "Prometheus: orig_data_size / mem_used_total = $ratio (mm_stat: $expect)"
kill "$PROM_PID"; wait "$PROM_PID" 2>/dev/null; PROM_PID=

echo "== malformed, oversized, trickling and flooding clients, while NBD serves"
start_witness 48
$HTTP "$PORT" garbage || { ss -tnp | grep ":$PORT " >&2; fail "malformed requests"; }
$HTTP "$PORT" slow 4 3 || fail "trickling clients"
$HTTP "$PORT" flood 40 || fail "a flood of idle connections"
scrape m2
promtool check metrics <"$T/m2.txt" >/dev/null 2>&1 || fail "promtool after the bad clients"
check_witness
nbdcopy "$URI" "$T/back2" && cmp -s <(head -c 16M "$T/back2") "$T/data" ||
	fail "the data after the bad clients"
kill -0 "$SERVER_PID" || fail "the server died"
stop_server
grep -qi "error\|assert" "$T/server.log" && { cat "$T/server.log"; fail "the server logged an error"; }
echo "PASS"
