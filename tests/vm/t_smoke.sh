#!/bin/bash
# t_smoke.sh - the VM itself: the block drivers the other tests need are
# loaded, the host's programs run from the read-only root, /tmp and $VM_OUT
# are writable, the repository is not. Leaves smoke.ok in $VM_OUT, which the
# runner requires (proving the writable share reaches the host).
# vm-timeout: 120
# vm-expect-file: smoke.ok
. tests/vm/lib.sh

echo "kernel $(uname -r), $(nproc) CPUs, VM_MEM_MB=$VM_MEM_MB"
[ -c /dev/ublk-control ] || fail "/dev/ublk-control is missing (ublk_drv)"
[ -d /sys/module/nbd ] || fail "nbd is not loaded"
[ -b /dev/nbd0 ] || fail "/dev/nbd0 is missing"
[ -b /dev/zram0 ] || fail "/dev/zram0 is missing (zram)"
grep -qw ext4 /proc/filesystems || fail "ext4 is not registered"
for c in mkswap swapon mkfs.ext4 fio nbd-client timeout; do
	command -v "$c" >/dev/null || fail "$c is not found in the host's root"
done
"$UZRAM" --help >"$VM_OUT/help.txt" 2>&1 || fail "$UZRAM --help failed"
grep -q '^usage: uzram' "$VM_OUT/help.txt" || fail "unexpected $UZRAM --help output"
[ -x "$MEMFILL" ] || fail "$MEMFILL is not built"
"$MEMFILL" --mib 8 --passes 1 || fail "memfill failed"

# The repository is the host's, read only; /tmp is the VM's own.
if touch "$UZRAM_SRCDIR/.vm-write-probe" 2>/dev/null; then
	rm -f "$UZRAM_SRCDIR/.vm-write-probe"
	fail "the host's root is writable from the VM"
fi
echo probe >/tmp/probe || fail "/tmp is not writable"
[ "$(cat /tmp/probe)" = probe ] || fail "/tmp does not read back"
[ "$(stat -f -c %T /tmp)" = tmpfs ] || fail "/tmp is not a tmpfs"

echo "$(uname -r) $(date +%s)" >"$VM_OUT/smoke.ok" || fail "cannot write $VM_OUT"
echo "smoke: ok"
