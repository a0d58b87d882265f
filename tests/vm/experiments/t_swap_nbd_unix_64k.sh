#!/bin/bash
# t_swap_nbd_unix_64k.sh - swap over nbd-client (unix), requests of 64 KiB at
# most (max_sectors_kb), so --mlock's buffers hold every payload (swap_nbd.sh).
# vm-timeout: 240
TRANSPORT=unix
MAX_KB=64
. tests/vm/experiments/swap_nbd.sh
