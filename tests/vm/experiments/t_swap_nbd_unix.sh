#!/bin/bash
# t_swap_nbd_unix.sh - swap over nbd-client on a unix socket (swap_nbd.sh).
# vm-timeout: 240
TRANSPORT=unix
. tests/vm/experiments/swap_nbd.sh
