#!/bin/sh
# SPDX-License-Identifier: MIT
# The ABI check: the library just built against the committed baseline of
# this release's ABI (tests/abi/libamonesize.abi, written by update.sh).
#
# Functions may be added; nothing else may change while the soname stays
# the same: no function removed, no parameter or return type changed, and
# no change to the layout of a type the headers show (struct am_onesize is
# read by the inline fast paths compiled into applications, so its layout is
# ABI as much as any function is).  A build whose soname differs from the
# baseline's is an intended break: the check is skipped and says so, until
# update.sh records the new baseline.
#
# usage: check.sh LIBRARY.so BASELINE COMPILER_ID
# Exit: 0 compatible, 1 incompatible, 77 cannot check here (with the reason).
set -eu
so=$1
base=$2
compiler=$3
skip() { echo "SKIP: $*"; exit 77; }
command -v abidiff >/dev/null 2>&1 || skip "abidiff not installed (Debian: abigail-tools)"
# Compilers describe the same types differently in DWARF (clang does not
# record which functions were declared inline), so only a build by the
# baseline's compiler is compared.
[ "$compiler" = gcc ] || skip "the baseline was written from a gcc build; this is a $compiler build"
[ -f "$base" ] || skip "no baseline $base"
# The baseline was written from an x86-64 build with debug information;
# other architectures lay the types out differently by design.
machine=$(readelf -h "$so" | sed -n 's/^ *Machine: *//p')
case $machine in
*X86-64*) ;;
*) skip "the baseline is for x86-64; this library is for $machine" ;;
esac
# The C library's types (uint64_t, pid_t, pthread_mutex_t) are part of the
# ABI too: the baseline is glibc's.
readelf -d "$so" | grep -q 'Shared library: \[libc\.so\.6\]' ||
    skip "the baseline is for glibc; this library links another C library (musl?)"
readelf -S "$so" | grep -q '\.debug_info' || skip "the library has no debug information (buildtype without -g)"
soname=$(readelf -d "$so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
base_soname=$(sed -n 's/.*soname=.\([^"'"'"']*\).*/\1/p' "$base" | head -n 1)
if [ "$soname" != "$base_soname" ]; then
    skip "soname $soname differs from the baseline's $base_soname: an intended ABI break; run tests/abi/update.sh"
fi
# Exports the build can leave out (-Dpthread=disabled) would read as removed.
for f in $(sed -n "s/.*<elf-symbol name='\([a-z0-9_]*\)'.*/\1/p" "$base" | sort -u); do
    nm -D --defined-only "$so" | grep -q " $f\(@\|\$\)" || skip "this build leaves out $f (a configuration option), so it cannot be compared"
done
set +e
abidiff --no-added-syms --harmless "$base" "$so"
rc=$?
set -e
if [ "$rc" -eq 0 ]; then
    echo "ok: the ABI of $soname matches the baseline (additions allowed)"
    exit 0
fi
if [ $((rc & 3)) -ne 0 ]; then
    echo "FAIL: abidiff could not compare (exit $rc)"
    exit 1
fi
echo "FAIL: the ABI changed without a soname change (abidiff exit $rc, report above)."
echo "Either undo the change or bump soversion in lib/meson.build and run tests/abi/update.sh."
exit 1
