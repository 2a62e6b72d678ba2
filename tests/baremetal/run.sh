#!/bin/sh
# SPDX-License-Identifier: MIT
# The core on bare metal: build main.c with the core's sources for a
# Cortex-M4 (arm-none-eabi-gcc, newlib's rdimon for semihosting), run it on
# qemu's mps2-an386, and check its result line and exit status, with the
# header's inline fast paths and without them. Then report the size of the
# core: each core object (arm-none-eabi-size) and the .text a program that
# calls every core function keeps of them, linked with --gc-sections.
# usage: run.sh SOURCE_ROOT WORK_DIR CORE_SOURCE...
# Skips (77), saying which, where arm-none-eabi-gcc, newlib or
# qemu-system-arm is missing.
set -eu
src=$1 work=$2
shift 2
here=$src/tests/baremetal

cc=arm-none-eabi-gcc
command -v "$cc" >/dev/null || { echo "SKIP: $cc was not found (Debian: gcc-arm-none-eabi)"; exit 77; }
arch="-mcpu=cortex-m4 -mthumb"
# shellcheck disable=SC2086
specs=$("$cc" $arch -print-file-name=rdimon.specs)
[ -f "$specs" ] || { echo "SKIP: newlib's rdimon.specs was not found (Debian: libnewlib-arm-none-eabi)"; exit 77; }
command -v qemu-system-arm >/dev/null ||
    { echo "SKIP: qemu-system-arm was not found (Debian: qemu-system-arm)"; exit 77; }
if ! qemu-system-arm -M help | grep -q '^mps2-an386 '; then
    echo "SKIP: this qemu-system-arm has no mps2-an386 machine"
    exit 77
fi

rm -rf "$work"
mkdir -p "$work"
warn="-std=c11 -Wall -Wextra -Werror"
# The core as the issue states it: freestanding, -Os, one section per
# function so that a link keeps only what it uses.
cflags="$arch -Os -g -ffunction-sections -fdata-sections $warn -I$src/include -I$src/lib"
objs=
for c in "$@"; do
    o=$work/$(basename "$c" .c).o
    # shellcheck disable=SC2086
    "$cc" $cflags -ffreestanding -c "$c" -o "$o"
    objs="$objs $o"
done
# shellcheck disable=SC2086
"$cc" $cflags -c "$here/startup.c" -o "$work/startup.o"
# Two programs: "inline" as users get it (the fast paths inline in main.o),
# and "calls" with AM_ONESIZE_NO_INLINE, every core function called in the
# core's objects: its link map gives the size of the whole core.
status=0
for variant in inline calls; do
    extra=
    [ $variant = inline ] || extra=-DAM_ONESIZE_NO_INLINE
    # shellcheck disable=SC2086
    "$cc" $cflags $extra -c "$here/main.c" -o "$work/main-$variant.o"
    # shellcheck disable=SC2086
    "$cc" $arch --specs=rdimon.specs -nostartfiles -T "$here/mps2-an386.ld" -Wl,--gc-sections \
        -Wl,-Map="$work/$variant.map" "$work/startup.o" "$work/main-$variant.o" $objs -o "$work/$variant.elf"
    rc=0
    timeout 120 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -kernel "$work/$variant.elf" >"$work/$variant.out" 2>&1 ||
        rc=$?
    printf '%s: ' "$variant"
    cat "$work/$variant.out"
    if [ $rc -eq 124 ]; then
        echo "FAIL: $variant: the program did not end within 120 s"
        status=1
    elif [ $rc -ne 0 ]; then
        echo "FAIL: $variant: qemu exited with status $rc (the program's verdict, or a fault)"
        status=1
    elif ! grep -q '^baremetal: PASS' "$work/$variant.out"; then
        echo "FAIL: $variant: no PASS line from the program"
        status=1
    fi
done

echo "-- the core for a Cortex-M4, -Os -ffreestanding (arm-none-eabi-size, bytes):"
# shellcheck disable=SC2086
arm-none-eabi-size $objs | sed "s|$work/||"
# The .text each core object contributes to the "calls" program: the input
# sections of its link map that come from it (after --gc-sections).
awk -v objs="$objs" '
    function hex(s,    v, i, c) {
        v = 0
        s = tolower(s)
        sub(/^0x/, "", s)
        for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
        return v
    }
    BEGIN { n = split(objs, o, " "); for (i = 1; i <= n; i++) { sub(".*/", "", o[i]); core[o[i]] = 1 } }
    /^Linker script and memory map/ { map = 1; next }
    !map { next }
    /^ \.text/ {
        if (NF >= 4) { size = $3; file = $4 } else { pending = 1; next }
    }
    pending && NF == 3 { size = $2; file = $3; pending = 0 }
    file != "" {
        sub(".*/", "", file)
        if (file in core) { kept[file] += hex(size); total += hex(size) }
        file = ""
    }
    END {
        printf "-- .text a program calling every core function keeps of it (--gc-sections):"
        for (f in kept) printf " %s %d,", f, kept[f]
        printf " total %d bytes\n", total
    }' "$work/calls.map"
echo "-- the whole programs, newlib's printf and semihosting included:"
arm-none-eabi-size "$work/inline.elf" "$work/calls.elf" | sed "s|$work/||"
exit $status
