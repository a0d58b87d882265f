#!/bin/bash
# t_nbd_slow_clients.sh - clients that read their replies slowly, late or
# never (tests/nbd_slow_clients.py): 900 READs of 256 KiB with more in
# flight than the server has request slots, read back slowly in small
# pieces and checked page by page; clients that leave without reading or
# are cut halfway through a reply, and afterwards the bytes still queued in
# the cut client's socket checked unchanged while other connections are
# served; a client that never reads costs the server at most 40 ms of CPU
# in 3 s. The server then stops cleanly (SIGTERM, exit 0).
. "${UZRAM_SRCDIR:-.}/tests/nbd_common.sh"

seed=${SEED:-$RANDOM}
echo "seed $seed (SEED=$seed reproduces)"
export UZRAM_SRCDIR=${UZRAM_SRCDIR:-$(pwd)}
start_server --size 64M --algorithm lz4 --threads 2
"$PY" "$UZRAM_SRCDIR/tests/nbd_slow_clients.py" "$SOCK" "$seed" "$SERVER_PID" ||
	fail "checks (seed $seed)"
stop_server
echo "ok"
