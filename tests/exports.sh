#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared library exports exactly the functions the installed headers
# declare with AM_ONESIZE_API: the API under version node AMONESIZE_0.2 and
# what the inline code calls (am_onesize_impl_*) under AMONESIZE_IMPL_0.2.
# It has the soname libamonesize.so.0 and never calls a heap allocator (it
# imports none).
# usage: [NM=nm for the library's target] exports.sh LIBRARY.so HEADER...
set -eu
nm=${NM:-nm}
so=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$nm" -D --defined-only "$so" | awk '$2 ~ /^[TtWi]$/ { print $3 }' | sort -u >"$tmp/versioned"
sed 's/@.*//' "$tmp/versioned" >"$tmp/exported"
cat "$@" | tr '\n' ' ' | grep -o 'AM_ONESIZE_API[^;{]*(' | grep -o 'am_onesize_[a-z0-9_]*($' | tr -d '(' |
    sort -u >"$tmp/declared"
if ! diff -u "$tmp/declared" "$tmp/exported"; then
    echo "FAIL: exported symbols (+) differ from the headers (-)"
    exit 1
fi
bad=$(grep -v -E '^am_onesize_impl_[a-z0-9_]+@@AMONESIZE_IMPL_0\.2$|^am_onesize_[a-z0-9_]+@@AMONESIZE_0\.2$' "$tmp/versioned" |
    grep -v '^$' || true)
impl_in_api=$(grep -E '^am_onesize_impl_.*@@AMONESIZE_0\.2$' "$tmp/versioned" || true)
if [ -n "$bad$impl_in_api" ]; then
    echo "FAIL: symbols in the wrong version node: $bad $impl_in_api"
    exit 1
fi
readelf -d "$so" | grep -q 'SONAME.*\[libamonesize\.so\.0\]' || { echo "FAIL: soname"; exit 1; }
heap=$("$nm" -D --undefined-only "$so" | awk '{ print $2 }' | sed 's/@.*//' |
    grep -Ex 'malloc|calloc|realloc|reallocarray|free|aligned_alloc|posix_memalign|memalign|valloc|pvalloc|strdup|strndup' || true)
if [ -n "$heap" ]; then
    echo "FAIL: the library calls a heap allocator: $heap"
    exit 1
fi
echo "ok: $(wc -l <"$tmp/exported") symbols, all declared, each in its version node; soname libamonesize.so.0; no heap allocator imported"
