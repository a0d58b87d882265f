#!/bin/sh
# Install the Debian 12 packages uzram's build and tests need, when they are missing.
# As root this runs apt-get; otherwise it prints the exact command to run.
set -eu

# build: compiler, pkg-config and the -dev packages of the libraries we link
BUILD_PKGS="build-essential pkg-config liblz4-dev libzstd-dev liblzo2-dev zlib1g-dev
libfuse3-dev liburing-dev libgnutls28-dev"
# tests: real NBD clients, a reference server, FUSE, filesystems, fuzzing, TLS tooling
TEST_PKGS="clang libclang-rt-14-dev fuse3 libnbd-bin python3-libnbd nbdkit qemu-utils fio
e2fsprogs util-linux gnutls-bin procps psmisc"

missing=""
for p in $BUILD_PKGS $TEST_PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages:$missing" >&2
	echo "deps.sh: run: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || apt-get update
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
