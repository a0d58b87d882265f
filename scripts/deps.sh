#!/bin/sh
# Install the Debian 12 packages uzram's build and tests need, when they are missing.
# As root this runs apt-get; otherwise it prints the exact command to run.
# It also adds bookworm-backports to apt's sources (as root, once): the VM tests
# (make vmcheck) boot that suite's kernel, fetched by scripts/vm-kernel.sh.
set -eu

# build: compiler, pkg-config and the -dev packages of the libraries we link
BUILD_PKGS="build-essential pkg-config liblz4-dev libzstd-dev liblzo2-dev zlib1g-dev
libfuse3-dev liburing-dev libgnutls28-dev libmicrohttpd-dev"
# tests: real NBD clients, a reference server, FUSE, filesystems, fuzzing, TLS tooling,
# Universal Ctags for the function lengths of tests/layers.py, and Prometheus
# (promtool and a real server scraping --metrics)
TEST_PKGS="clang libclang-rt-14-dev fuse3 libnbd-bin python3-libnbd nbdkit qemu-utils fio
e2fsprogs util-linux gnutls-bin procps psmisc universal-ctags mandoc prometheus"
# VM tests: the emulator, the initramfs (busybox, cpio, modprobe, xz), the NBD client
VM_PKGS="qemu-system-x86 busybox-static cpio nbd-client kmod xz-utils"

# bookworm-backports in apt's sources (never used to install packages here:
# scripts/vm-kernel.sh only downloads and unpacks its kernel).
BPO_LINE="deb http://deb.debian.org/debian bookworm-backports main"
update=""
if ! cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	/etc/apt/sources.list.d/*.sources 2>/dev/null | grep -q '^[^#]*bookworm-backports'; then
	if ! grep -qs '^VERSION_CODENAME=bookworm' /etc/os-release; then
		echo "deps.sh: not Debian 12: no bookworm-backports source (make vmcheck needs its kernel)" >&2
	elif [ "$(id -u)" -ne 0 ]; then
		echo "deps.sh: make vmcheck needs bookworm-backports in apt's sources; as root run:" >&2
		echo "deps.sh:   echo '$BPO_LINE' >/etc/apt/sources.list.d/uzram-backports.list && apt-get update" >&2
	else
		echo "deps.sh: adding bookworm-backports to apt's sources" >&2
		echo "$BPO_LINE" >/etc/apt/sources.list.d/uzram-backports.list
		update=y
	fi
fi

missing=""
for p in $BUILD_PKGS $TEST_PKGS $VM_PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	[ -n "$update" ] && { apt-get update -qq >/dev/null 2>&1 || apt-get update; }
	exit 0
fi

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
# Under systemd, prometheus's package starts a system-wide server on port 9090;
# the tests start their own on a free port, so stop the one just installed.
case " $missing " in
*" prometheus "*)
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now prometheus >/dev/null 2>&1 || true
	fi ;;
esac
