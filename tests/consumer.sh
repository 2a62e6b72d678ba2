#!/bin/sh
# SPDX-License-Identifier: MIT
# How users link the library: install into a temporary destdir, then build
# every example with `pkg-config --cflags --libs amonesize`, shared and
# static, run them, build them with CMake through the installed package
# (find_package(amonesize)), and compile the installed headers as strict C
# and C++.
# usage: [HAVE_PTHREAD=0|1] [REQUIRE_STRESS=0|1] [CMAKE=cmake]
#        consumer.sh MESON BUILD_ROOT SOURCE_ROOT CC
# HAVE_PTHREAD=0: the library has no pthread adapter (-Dpthread=disabled),
# so the examples that use it (threads, pipeline, shared) are not built. CMAKE empty: the CMake
# check is not run, and the output says so.
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

examples=
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
    case $name in threads | pipeline | shared)
        if [ "${HAVE_PTHREAD:-1}" = 0 ]; then
            echo "note: examples/$name.c needs the pthread adapter, which this build does not have: not built"
            continue
        fi
        ;;
    esac
    examples="$examples $name"
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

# CMake: the installed package config, found through CMAKE_PREFIX_PATH as a
# user's project finds it.
if [ -z "${CMAKE:-}" ]; then
    echo "note: cmake was not found: the CMake package (find_package(amonesize)) was not tested"
else
    prefix=$tmp/root$(PKG_CONFIG_SYSROOT_DIR='' pkg-config --variable=prefix amonesize)
    proj=$tmp/cmake-project
    mkdir "$proj"
    {
        echo 'cmake_minimum_required(VERSION 3.13)'
        echo 'project(amonesize_consumer C)'
        echo 'find_package(amonesize 0.2 REQUIRED)'
        echo 'find_package(amonesize 99 QUIET)'
        echo 'if(amonesize_FOUND)'
        echo '  message(FATAL_ERROR "find_package(amonesize 99) accepted version ${amonesize_VERSION}")'
        echo 'endif()'
        echo 'find_package(amonesize 0.2 REQUIRED)'
        for name in $examples; do
            echo "add_executable($name \"$src/examples/$name.c\")"
            echo "target_link_libraries($name PRIVATE amonesize::amonesize)"
            echo "add_executable($name-static \"$src/examples/$name.c\")"
            echo "target_link_libraries($name-static PRIVATE amonesize::amonesize_static)"
        done
    } >"$proj/CMakeLists.txt"
    if ! "$CMAKE" -S "$proj" -B "$proj/build" -G Ninja -DCMAKE_C_COMPILER="$cc" \
        -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/cmake.log" 2>&1 ||
        ! "$CMAKE" --build "$proj/build" >>"$tmp/cmake.log" 2>&1; then
        cat "$tmp/cmake.log"
        echo "FAIL: a CMake project could not build with find_package(amonesize)"
        exit 1
    fi
    for name in $examples; do
        LD_LIBRARY_PATH="$libdir" "$proj/build/$name" >/dev/null
        "$proj/build/$name-static" >/dev/null
        if ! readelf -d "$proj/build/$name" | grep -q 'NEEDED.*libamonesize\.so\.0'; then
            echo "FAIL: CMake's $name is not linked against libamonesize.so.0"; exit 1
        fi
        if readelf -d "$proj/build/$name-static" | grep -q 'NEEDED.*libamonesize'; then
            echo "FAIL: CMake's $name-static (amonesize::amonesize_static) needs the shared library"; exit 1
        fi
    done
    echo "ok: CMake: find_package(amonesize 0.2) and amonesize::amonesize(_static) build and run:$examples"
fi

# The headers alone: strict C11, C99, and C++.
for h in $(find "$tmp/root" -name 'amonesize*.h' | sort); do
    printf '#include "%s"\n' "$h" >"$tmp/h.c"
    "$cc" -std=c11 -pedantic-errors -Wall -Wextra -Werror -fsyntax-only "$tmp/h.c"
    "$cc" -std=c99 -pedantic-errors -Wall -Wextra -Werror -fsyntax-only "$tmp/h.c"
    if command -v c++ >/dev/null; then
        c++ -x c++ -std=c++11 -pedantic-errors -Wall -Wextra -Werror -fsyntax-only "$tmp/h.c"
    else
        echo "note: no c++ compiler, C++ header check not run"
    fi
    echo "ok: $(basename "$h") compiles as strict C11, C99 and C++"
done
