#!/bin/sh
# SPDX-License-Identifier: MIT
# Coverage of lib/ by the fuzzers, with clang's source-based coverage.
#
# Builds both fuzzers, fuzz_onesize (the pool, bulk calls, caches) and
# fuzz_shared (pools shared between processes), each in its two variants
# (ASan: tracked pools; UBSan: caches, depot, inline paths) with
# -fprofile-instr-generate -fcoverage-mapping into their own build
# directory, grows a corpus from each fuzzer's seeds with each build for
# SECONDS (the two variants of a fuzzer side by side; with
# COVERAGE_SERIAL=1 one process at a time, for a machine shared with
# others), replays the grown corpora and the reproducers once with
# profiling on, and prints llvm-cov's per-file report of lib/ (also written
# to BUILD/coverage.txt).
#
# usage: [COVERAGE_SERIAL=1] fuzz/coverage.sh SECONDS [BUILD]  (BUILD: build-coverage)
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
meson compile -C "$build" fuzz/fuzz_onesize_asan fuzz/fuzz_onesize_ubsan fuzz/fuzz_shared_asan \
    fuzz/fuzz_shared_ubsan >/dev/null

rm -rf "$build/coverage"
mkdir -p "$build/coverage/profiles"
status=0
# fuzzer, its seeds, its reproducers
for spec in "onesize corpus regressions" "shared corpus_shared regressions_shared"; do
    set -- $spec
    f=$1 seeds=$src/fuzz/$2
    pids=
    for v in asan ubsan; do
        mkdir -p "$build/coverage/corpus-$f-$v"
        cp "$seeds"/* "$build/coverage/corpus-$f-$v/"
        # Growing the corpus needs no profile; only the replay below counts.
        LLVM_PROFILE_FILE=/dev/null "$build/fuzz/fuzz_${f}_$v" -max_total_time="$seconds" -timeout=10 \
            -rss_limit_mb=2048 -artifact_prefix="$build/coverage/$f-$v-" "$build/coverage/corpus-$f-$v" \
            >"$build/coverage/grow-$f-$v.log" 2>&1 &
        if [ "${COVERAGE_SERIAL:-0}" = 1 ]; then
            wait "$!" || status=$? # a divergence: the report still comes, the status says so
        else
            pids="$pids $!"
        fi
    done
    for pid in $pids; do
        wait "$pid" || status=$?
    done
done
objects=
for spec in "onesize regressions" "shared regressions_shared"; do
    set -- $spec
    for v in asan ubsan; do
        tail -n 1 "$build/coverage/grow-$1-$v.log"
        LLVM_PROFILE_FILE="$build/coverage/profiles/$1-$v-%p.profraw" "$build/fuzz/fuzz_${1}_$v" -runs=0 \
            -artifact_prefix="$build/coverage/replay-$1-$v-" "$build/coverage/corpus-$1-$v" "$src/fuzz/$2" \
            >"$build/coverage/replay-$1-$v.log" 2>&1 || status=$?
        objects="$objects -object $build/fuzz/fuzz_${1}_$v"
    done
done
"$profdata" merge -sparse "$build"/coverage/profiles/*.profraw -o "$build/coverage/lib.profdata"
{
    echo "Coverage of lib/ by the seeds grown for ${seconds} s per fuzzer build (fuzz/coverage.sh ${seconds}),"
    echo "$(date -u +%Y-%m-%d), $rev, $(clang --version | head -n 1)"
    # shellcheck disable=SC2086 # one word per -object and path
    "$cov" report "$build/fuzz/fuzz_onesize_ubsan" $objects \
        -instr-profile="$build/coverage/lib.profdata" -ignore-filename-regex='/fuzz/|amonesize_cache.h' \
        "$src"/lib "$src"/include/amonesize
} | tee "$build/coverage.txt"
exit "$status"
