#!/bin/bash
# t_serve_cli.sh - `uzram serve`'s command line as a new user meets it
# (issue 21): --help on stdout; a usage error names the option and the rule
# and points to --help instead of printing the whole usage (exit 2); --listen
# refuses ports outside 0..65535 (getaddrinfo would take them modulo
# 65536); the banner prints what disksize became, in zramctl's units, and
# says when zram0 is left uninitialised.
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"

out=$("$UZRAM" serve --help 2>"$T/err") || fail "serve --help exits $?"
[[ $out == "usage: uzram serve"* ]] && [ ! -s "$T/err" ] || fail "serve --help: $(cat "$T/err")"

serve_usage_error "--devices abc: not a number from 1 to 1024" --devices abc
serve_usage_error "--devices 0: not a number from 1 to 1024" --devices 0
serve_usage_error "--max-connections 0: not a number from 1 to 1048576" --max-connections 0
serve_usage_error "unknown option '--bogus'" --bogus
serve_usage_error "--size needs a value" --size
serve_usage_error "--tls-verify-peer needs --tls-certificates DIR (DIR/ca-cert.pem signs the clients' certificates)" \
	--tls-verify-peer

for p in 99999 65536 abc 127.0.0.1:-1 "127.0.0.1:"; do
	out=$(timeout 10 "$UZRAM" serve --size 0 --socket "$T/u.sock" --control "$T/u.ctl" \
		--listen "$p" 2>&1 </dev/null) && fail "--listen $p accepted"
	[[ $out == *"--listen $p: port ${p##*:} is not a number from 1 to 65535 (or 0: any free port)"* ]] ||
		fail "--listen $p: $out"
	[ ! -e "$T/u.sock" ] || fail "--listen $p left its unix socket behind"
done
echo "--listen: 99999, 65536, abc, -1 and an empty port refused"

banner() {	# EXPECTED ARGS...
	local want=$1
	shift
	start_server "$@"
	grep -qx "uzram serve: 1 device, zram0 $want" "$T/server.log" ||
		fail "serve $*: banner $(grep 'device' "$T/server.log")"
	stop_server
	echo "serve $*: zram0 $want"
}
banner "8K, lzo-rle" --size 5000		# rounded up to a page, as disksize does
banner "1.5G, lz4" --size 1536M --algorithm lz4
banner "uninitialised, lzo-rle" --size 0G
banner "uninitialised, lzo-rle" --size 0
echo "PASS"
