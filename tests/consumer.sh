#!/bin/sh
# How users link the library: install into a temporary destdir, then build
# every example with `pkg-config --cflags --libs amonesize`, shared and
# static, run them, and compile the installed headers as strict C and C++.
# usage: consumer.sh MESON BUILD_ROOT SOURCE_ROOT CC
set -eu
meson=$1 build=$2 src=$3 cc=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$meson" install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
pc=$(find "$tmp/root" -name amonesize.pc | head -n 1)
[ -n "$pc" ] || { echo "FAIL: amonesize.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$tmp/root"
libdir=$(dirname "$(dirname "$pc")")
echo "installed: $(cd "$tmp/root" && find . -type f | sort | tr '\n' ' ')"

stress=$(find "$tmp/root" -path '*/bin/amonesize-stress' | head -n 1)
if [ -n "$stress" ]; then
    LD_LIBRARY_PATH="$libdir" "$stress" --version
    LD_LIBRARY_PATH="$libdir" "$stress" --ops 2000 --quiet
    echo "ok: bin/amonesize-stress installed and runs"
elif [ "${REQUIRE_STRESS:-1}" = 1 ]; then
    echo "FAIL: bin/amonesize-stress was not installed"; exit 1
fi

# The static library holds machine code, not only a compiler's
# intermediate form (gcc's slim LTO objects link only with that gcc).
static_lib=$(find "$tmp/root" -name libamonesize.a | head -n 1)
if [ -n "$static_lib" ] &&
    ! readelf -S -W "$static_lib" | sed 's/^ *\[ *[0-9]*\] *//' | awk '$1 == ".text" && $5 !~ /^0+$/' | grep -q .; then
    echo "FAIL: libamonesize.a has no machine code (slim LTO objects?): other compilers cannot link it"
    exit 1
fi

for ex in "$src"/examples/*.c; do
    name=$(basename "$ex" .c)
    # shellcheck disable=SC2046
    "$cc" -std=c11 -Wall -Wextra -Werror -pedantic $(pkg-config --cflags amonesize) "$ex" \
        -o "$tmp/$name" $(pkg-config --libs amonesize) -pthread
    LD_LIBRARY_PATH="$libdir" "$tmp/$name" >"$tmp/$name.out"
    if ! readelf -d "$tmp/$name" | grep -q 'NEEDED.*libamonesize\.so\.0'; then
        echo "FAIL: $name is not linked against libamonesize.so.0"; exit 1
    fi
    # shellcheck disable=SC2046
    "$cc" -std=c11 -Wall -Wextra -Werror -pedantic $(pkg-config --cflags amonesize) "$ex" \
        -o "$tmp/$name-static" -static $(pkg-config --static --libs amonesize)
    "$tmp/$name-static" >/dev/null
    if readelf -d "$tmp/$name-static" 2>/dev/null | grep -q NEEDED; then
        echo "FAIL: $name-static has dynamic dependencies"; exit 1
    fi
    echo "ok: $name (shared and static)"
done

# The headers alone: strict C11, C99, and C++.
for h in $(find "$tmp/root" -name 'amonesize*.h' | sort); do
    printf '#include "%s"\n' "$h" >"$tmp/h.c"
    for std in c11 c99; do
        "$cc" -std=$std -pedantic-errors -Wall -Wextra -Werror -fsyntax-only "$tmp/h.c"
    done
    if command -v c++ >/dev/null; then
        c++ -x c++ -std=c++11 -pedantic-errors -Wall -Wextra -Werror -fsyntax-only "$tmp/h.c"
    else
        echo "note: no c++ compiler, C++ header check not run"
    fi
    echo "ok: $(basename "$h") compiles as strict C11, C99 and C++"
done
