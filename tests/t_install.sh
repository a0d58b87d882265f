#!/bin/bash
# t_install.sh - `make install` into a temporary DESTDIR: the program, the
# static and the shared library (SONAME libuzram.so.MAJOR, exporting exactly
# the functions of include/uzram.h), the header, uzram.pc, the systemd units
# and the man pages; examples/embed.c built against the installed header with
# pkg-config, dynamically and statically, runs; `make uninstall` leaves
# nothing behind.
set -u
src=${UZRAM_SRCDIR:-.}
BUILD=${BUILD:-build/default}
if [ -n "${SAN:-}" ]; then
	echo "SKIP: the install test runs on the default build, not under SAN=$SAN"
	exit 77
fi
for t in pkg-config cc nm readelf; do
	command -v $t >/dev/null || { echo "SKIP: needs $t"; exit 77; }
done
tmp=$(mktemp -d /tmp/uzram-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
dest=$tmp/root prefix=/usr
make -s -C "$src" BUILD="$BUILD" DESTDIR="$dest" PREFIX=$prefix install >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "make install"; }
version=$(sed -n 's/^#define UZRAM_VERSION "\(.*\)"/\1/p' "$src/include/uzram.h")
major=${version%%.*}
lib=$dest$prefix/lib
for f in bin/uzram lib/libuzram.a lib/libuzram.so.$version include/uzram.h \
	lib/pkgconfig/uzram.pc lib/systemd/system/uzram.service lib/systemd/system/uzram.socket; do
	[ -f "$dest$prefix/$f" ] || fail "$f not installed"
done
[ "$(readlink "$lib/libuzram.so.$major")" = "libuzram.so.$version" ] || fail "libuzram.so.$major link"
[ "$(readlink "$lib/libuzram.so")" = "libuzram.so.$major" ] || fail "libuzram.so link"
"$dest$prefix/bin/uzram" --version | grep -qx "uzram $version" || fail "installed uzram --version"
for m in "$src"/man/*.[1-9]; do
	[ -e "$m" ] || continue
	s=${m##*.}
	[ -f "$dest$prefix/share/man/man$s/${m##*/}" ] || fail "man page ${m##*/} not installed"
done
grep -qx "ExecStart=$prefix/bin/uzram serve --control /run/uzram/control.sock" \
	"$dest$prefix/lib/systemd/system/uzram.service" || fail "uzram.service: ExecStart"

# The SONAME, and the exports: every function the header declares, nothing else.
readelf -d "$lib/libuzram.so.$version" | grep -q "SONAME.*\[libuzram.so.$major\]" || fail "SONAME"
nm -D --defined-only "$lib/libuzram.so.$version" | awk '$2 ~ /^[TDBRW]$/ {print $3}' |
	sed 's/@.*//' | sort -u >"$tmp/exported"
sed -n 's/^[a-z].*[ *]\(uzram_[a-z0-9_]*\)(.*/\1/p' "$src/include/uzram.h" | sort -u >"$tmp/declared"
[ -s "$tmp/declared" ] || fail "no function found in uzram.h"
if ! diff -u "$tmp/declared" "$tmp/exported"; then
	fail "libuzram.so exports other than the API of uzram.h (- declared, + exported)"
fi
echo "libuzram.so.$version (SONAME libuzram.so.$major) exports $(wc -l <"$tmp/exported") symbols, all of uzram.h"

# examples/embed.c against the installed files, through pkg-config.
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
cflags=$(pkg-config --cflags uzram) && libs=$(pkg-config --libs uzram) || fail "pkg-config uzram"
case $cflags in *"$dest$prefix/include"*) ;; *) fail "pkg-config --cflags: $cflags" ;; esac
cc -o "$tmp/embed-shared" "$src/examples/embed.c" $cflags $libs || fail "build against libuzram.so"
out=$(LD_LIBRARY_PATH=$lib "$tmp/embed-shared") || fail "embed (shared) exited $?: $out"
echo "$out" | grep -q '^mm_stat:  4096000 ' || fail "embed (shared): $out"
LD_LIBRARY_PATH=$lib ldd "$tmp/embed-shared" | grep -q "libuzram.so.$major => $lib/" ||
	fail "embed-shared does not load the installed libuzram.so.$major"
static_libs=$(pkg-config --static --libs uzram | sed 's/-luzram//')
cc -o "$tmp/embed-static" "$src/examples/embed.c" $cflags "$lib/libuzram.a" $static_libs ||
	fail "build against libuzram.a with pkg-config --static"
out=$("$tmp/embed-static") || fail "embed (static) exited $?: $out"
echo "$out" | grep -q '^mm_stat:  4096000 ' || fail "embed (static): $out"
echo "examples/embed.c built with pkg-config against the installed library: shared and static both run"

make -s -C "$src" BUILD="$BUILD" DESTDIR="$dest" PREFIX=$prefix uninstall >/dev/null 2>&1 || fail "make uninstall"
left=$(find "$dest" ! -type d)
[ -z "$left" ] || fail "left after uninstall: $left"
echo "make uninstall removed every file"
