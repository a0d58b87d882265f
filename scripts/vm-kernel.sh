#!/bin/sh
# vm-kernel.sh - fetch the kernel the VM tests boot (tests/vm/run) and print
# its directory.
#
# The kernel is Debian's bookworm-backports linux-image-amd64: the versioned
# package it depends on (linux-image-<kver>) is resolved with apt-cache,
# downloaded with `apt-get download` and unpacked with dpkg-deb into
#   ${UZRAM_VM_CACHE:-$HOME/.cache/uzram-vm}/<kver>/
# (boot/vmlinuz-<kver>, lib/modules/<kver>/ with modules.dep from depmod, and
# a file `kver`). Nothing is installed on the host. A complete cache entry is
# reused; when apt cannot resolve the package (offline, no backports source),
# the newest cached kernel is used, and without one this exits 1 saying why.
set -eu

SUITE=bookworm-backports
META=linux-image-amd64
CACHE=${UZRAM_VM_CACHE:-${HOME:-/root}/.cache/uzram-vm}

say() { echo "vm-kernel.sh: $*" >&2; }

# The versioned package linux-image-amd64/$SUITE depends on, or nothing.
resolve() {
	apt-cache depends "$META/$SUITE" 2>/dev/null |
		sed -n 's/^ *Depends: *\(linux-image-[0-9][^ ]*\) *$/\1/p' | head -n 1
}

# The newest complete cache entry, or nothing.
newest_cached() {
	[ -d "$CACHE" ] || return 0
	for d in "$CACHE"/*/; do
		[ -f "$d.complete" ] && basename "$d"
	done | sort -V | tail -n 1
}

pkg=$(resolve)
if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ] &&
   cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	/etc/apt/sources.list.d/*.sources 2>/dev/null | grep -q "^[^#]*$SUITE"; then
	# The suite is configured but its package list was never fetched.
	say "refreshing apt's package lists for $SUITE"
	apt-get update -qq >/dev/null 2>&1 || true
	pkg=$(resolve)
fi

if [ -z "$pkg" ]; then
	kver=$(newest_cached)
	if [ -n "$kver" ]; then
		say "apt cannot resolve $META/$SUITE; using the cached kernel $kver"
		echo "$CACHE/$kver"
		exit 0
	fi
	say "apt cannot provide $META from $SUITE, and no kernel is cached in $CACHE."
	say "Add 'deb http://deb.debian.org/debian $SUITE main' to apt's sources and run"
	say "apt-get update (scripts/deps.sh does both when run as root)."
	exit 1
fi

kver=${pkg#linux-image-}
dir=$CACHE/$kver
if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi

for c in apt-get dpkg-deb depmod; do
	command -v "$c" >/dev/null 2>&1 || { say "$c is not installed"; exit 1; }
done

mkdir -p "$CACHE"
tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# apt's download sandbox user must be able to write the directory.
chmod 755 "$tmp"
say "downloading $pkg from $SUITE"
if ! (cd "$tmp" && apt-get download -q "$pkg/$SUITE" >download.log 2>&1); then
	sed 's/^/    /' "$tmp/download.log" >&2
	say "apt-get download $pkg/$SUITE failed"
	exit 1
fi
deb=$(find "$tmp" -maxdepth 1 -name '*.deb' | head -n 1)
[ -n "$deb" ] || { say "apt-get download left no .deb"; exit 1; }
mkdir "$tmp/root"
dpkg-deb -x "$deb" "$tmp/root"
if [ ! -f "$tmp/root/boot/vmlinuz-$kver" ] || [ ! -d "$tmp/root/lib/modules/$kver" ]; then
	say "$deb has no boot/vmlinuz-$kver or lib/modules/$kver"
	exit 1
fi
depmod -b "$tmp/root" "$kver"
echo "$kver" >"$tmp/root/kver"
: >"$tmp/root/.complete"
rm -rf "$dir"
mv "$tmp/root" "$dir"
say "kernel $kver unpacked in $dir"
echo "$dir"
