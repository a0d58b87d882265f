#!/bin/bash
# t_swap_nbd_tcp.sh - swap over nbd-client on TCP loopback (swap_nbd.sh).
# vm-timeout: 240
TRANSPORT=tcp
. tests/vm/experiments/swap_nbd.sh
