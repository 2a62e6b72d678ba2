#!/bin/sh
# SPDX-License-Identifier: MIT
# Coverage of lib/ by the fuzzer, with clang's source-based coverage.
#
# Builds both fuzzers (ASan: tracked pools; UBSan: caches, depot, inline
# paths) with -fprofile-instr-generate -fcoverage-mapping into their own
# build directory, grows a corpus from fuzz/corpus with each for SECONDS
# (the two run side by side), replays the grown corpora and
# fuzz/regressions once with profiling on, and prints llvm-cov's per-file
# report of lib/ (also written to BUILD/coverage.txt).
#
# usage: fuzz/coverage.sh SECONDS [BUILD]      (BUILD: build-coverage)
# Needs clang, libFuzzer, llvm-profdata and llvm-cov (Debian: clang-14,
# libclang-rt-14-dev, llvm-14).
set -eu
seconds=${1:?usage: coverage.sh SECONDS [BUILD]}
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${2:-build-coverage}")
profdata=$(command -v llvm-profdata-14 || command -v llvm-profdata)
cov=$(command -v llvm-cov-14 || command -v llvm-cov)

rev=$(git -C "$src" describe --always --dirty 2>/dev/null || echo unknown) # what is measured
if [ ! -d "$build" ]; then
    CC=clang meson setup "$build" "$src" -Dfuzz=enabled -Dtools=false -Dbench=disabled \
        -Dc_args='-fprofile-instr-generate -fcoverage-mapping' \
        -Dc_link_args='-fprofile-instr-generate -fcoverage-mapping' >/dev/null
fi
meson compile -C "$build" fuzz/fuzz_onesize_asan fuzz/fuzz_onesize_ubsan >/dev/null

rm -rf "$build/coverage"
mkdir -p "$build/coverage/profiles"
pids=
for v in asan ubsan; do
    mkdir -p "$build/coverage/corpus-$v"
    cp "$src"/fuzz/corpus/* "$build/coverage/corpus-$v/"
    # Growing the corpus needs no profile; only the replay below counts.
    LLVM_PROFILE_FILE=/dev/null "$build/fuzz/fuzz_onesize_$v" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$build/coverage/$v-" "$build/coverage/corpus-$v" \
        >"$build/coverage/grow-$v.log" 2>&1 &
    pids="$pids $!"
done
status=0
for pid in $pids; do
    wait "$pid" || status=$? # a divergence: the report still comes, the status says so
done
for v in asan ubsan; do
    tail -n 1 "$build/coverage/grow-$v.log"
    LLVM_PROFILE_FILE="$build/coverage/profiles/$v-%p.profraw" "$build/fuzz/fuzz_onesize_$v" -runs=0 \
        -artifact_prefix="$build/coverage/replay-$v-" "$build/coverage/corpus-$v" "$src/fuzz/regressions" \
        >"$build/coverage/replay-$v.log" 2>&1 || status=$?
done
"$profdata" merge -sparse "$build"/coverage/profiles/*.profraw -o "$build/coverage/lib.profdata"
{
    echo "Coverage of lib/ by fuzz/corpus grown for ${seconds} s per fuzzer (fuzz/coverage.sh ${seconds}),"
    echo "$(date -u +%Y-%m-%d), $rev, $(clang --version | head -n 1)"
    "$cov" report "$build/fuzz/fuzz_onesize_ubsan" -object "$build/fuzz/fuzz_onesize_asan" \
        -instr-profile="$build/coverage/lib.profdata" -ignore-filename-regex='/fuzz/|amonesize_cache.h' \
        "$src"/lib "$src"/include/amonesize
} | tee "$build/coverage.txt"
exit "$status"
