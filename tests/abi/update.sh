#!/bin/sh
# SPDX-License-Identifier: MIT
# Records the ABI baseline that check.sh compares against: run it, from the
# top of the source tree, when a release deliberately changes the ABI (and
# the soname with it), and commit tests/abi/libamonesize.abi.
#
# usage: tests/abi/update.sh [BUILD_DIR]   (default: a fresh debug build)
set -eu
build=${1:-}
if [ -z "$build" ]; then
    build=$(mktemp -d)
    trap 'rm -rf "$build"' EXIT
    meson setup "$build" -Dbuildtype=debug -Dtests=disabled -Dtools=false -Dbench=disabled -Dfuzz=disabled >/dev/null
    ninja -C "$build" >/dev/null
fi
abidw --no-corpus-path --no-show-locs --out-file tests/abi/libamonesize.abi "$build/lib/libamonesize.so"
echo "wrote tests/abi/libamonesize.abi ($(grep -c '<elf-symbol ' tests/abi/libamonesize.abi) symbols)"
