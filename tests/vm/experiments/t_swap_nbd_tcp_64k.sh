#!/bin/bash
# t_swap_nbd_tcp_64k.sh - swap over nbd-client (tcp), requests of 64 KiB at
# most (max_sectors_kb), so --mlock's buffers hold every payload (swap_nbd.sh).
# vm-timeout: 240
TRANSPORT=tcp
MAX_KB=64
. tests/vm/experiments/swap_nbd.sh
