#!/bin/sh
# The shared library exports exactly the functions the public headers declare
# with AM_API, has the soname libamonesize.so.0, and never calls a heap
# allocator (it imports none).
# usage: exports.sh LIBRARY.so HEADER...
set -eu
so=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$so" | awk '$2 ~ /^[TtWi]$/ { print $3 }' | sed 's/@.*//' | sort -u >"$tmp/exported"
grep -h 'AM_API' "$@" | grep -o 'am_onesize_[a-z0-9_]*(' | tr -d '(' | sort -u >"$tmp/declared"
if ! diff -u "$tmp/declared" "$tmp/exported"; then
    echo "FAIL: exported symbols (+) differ from the headers (-)"
    exit 1
fi
readelf -d "$so" | grep -q 'SONAME.*\[libamonesize\.so\.0\]' || { echo "FAIL: soname"; exit 1; }
heap=$(nm -D --undefined-only "$so" | awk '{ print $2 }' | sed 's/@.*//' |
    grep -Ex 'malloc|calloc|realloc|reallocarray|free|aligned_alloc|posix_memalign|memalign|valloc|pvalloc|strdup|strndup' || true)
if [ -n "$heap" ]; then
    echo "FAIL: the library calls a heap allocator: $heap"
    exit 1
fi
echo "ok: $(wc -l <"$tmp/exported") symbols, all declared; soname libamonesize.so.0; no heap allocator imported"
