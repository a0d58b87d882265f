#!/bin/bash
# t_layers.sh - the layering of docs/design.md holds in the code: no file
# includes or calls into a higher layer, the only cycle between files is
# zram_drv.c <-> writeback.c, and functions stay short (tests/layers.py).
set -u
cd "${UZRAM_SRCDIR:-.}"
if ! command -v nm >/dev/null || ! command -v python3 >/dev/null; then
	echo "SKIP: needs nm (binutils) and python3"
	exit 77
fi
exec python3 tests/layers.py "${BUILD:-build/default}"
