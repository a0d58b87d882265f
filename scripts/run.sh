#!/bin/bash
# run.sh - `make run`: start `uzram serve` with its defaults (zram0, 1G,
# lzo-rle, NBD on the default unix socket, the control socket beside it)
# and print how to connect. The Makefile has already installed the
# dependencies (scripts/deps.sh) and built ./uzram. Extra arguments go to
# `uzram serve` (e.g. scripts/run.sh --size 4G --algorithm zstd).
set -eu
cd "$(dirname "$0")/.."
UZRAM=${UZRAM:-./uzram}
[ -x "$UZRAM" ] || { echo "run.sh: $UZRAM is missing: run make first" >&2; exit 1; }

# The default socket directory, as control_runtime_dir() in src/control/control.c.
if [ "$(id -u)" = 0 ]; then
	dir=/run/uzram
elif [ -n "${XDG_RUNTIME_DIR:-}" ]; then
	dir=$XDG_RUNTIME_DIR/uzram
else
	dir=/tmp/uzram-$(id -u)
fi
sock=$dir/nbd.sock ctl=$dir/control.sock
uri="nbd+unix:///zram0?socket=$sock"

cat <<EOF
Starting: $UZRAM serve $*
  NBD export zram0 on $sock (mode 0600), control socket $ctl.
  Ctrl-C (or SIGTERM) finishes in-flight requests, removes the sockets and exits.

Connect with:
  size, flags, block sizes:    nbdinfo '$uri'
  allocation map:              nbdinfo --map '$uri'
  copy a file or image in:     nbdcopy FILE '$uri'
  ... and out:                 nbdcopy '$uri' OUT.img
  QEMU:                        qemu-img info '$uri'
                               qemu-system-x86_64 ... -drive file=nbd:unix:$sock:exportname=zram0,format=raw,if=virtio
  kernel NBD (modprobe nbd):   nbd-client -unix $sock -N zram0 -b 4096 /dev/nbd0
  a file (then losetup, mkfs): mkdir -p /tmp/zram0 && nbdfuse /tmp/zram0/disk --unix $sock &
  load:                        fio --name=w --ioengine=nbd --uri='$uri' --rw=randwrite --bs=4k --iodepth=16 --size=256M
  zramctl's table:             $UZRAM ctl --control $ctl
  one attribute:               $UZRAM ctl --control $ctl zram0 mm_stat

EOF
exec "$UZRAM" serve "$@"
