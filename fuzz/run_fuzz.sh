#!/bin/sh
# SPDX-License-Identifier: MIT
# Run a libFuzzer target over the seed corpus for a fixed number of
# executions from a fixed seed (FUZZ_SEED, FUZZ_RUNS override them), so that
# `meson test` gives the same verdict on every run of one build; longer,
# random runs are for people (docs/fuzzing.md). SECONDS bounds the time on a
# slow machine. New inputs go to a temporary directory, never into the
# source tree. The exit status is the fuzzer's: any divergence from the
# model or sanitizer report fails.
# usage: run_fuzz.sh FUZZER CORPUS SECONDS
set -eu
fuzzer=$(realpath "$1") corpus=$(realpath "$2") seconds=$3
seed=${FUZZ_SEED:-20261126} runs=${FUZZ_RUNS:-20000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/new"
status=0
# libFuzzer's own status for a crash is 77, which meson would read as a
# skipped test: a finding must fail it.
"$fuzzer" -seed="$seed" -runs="$runs" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -error_exitcode=1 \
    -artifact_prefix="$tmp/" "$tmp/new" "$corpus" >"$tmp/log" 2>&1 || status=$?
tail -n 30 "$tmp/log"
for crash in "$tmp"/crash-* "$tmp"/timeout-* "$tmp"/oom-*; do
    [ -e "$crash" ] && { echo "artifact: $(basename "$crash"): $(od -An -tx1 "$crash" | tr -d '\n' | head -c 400)"; }
done
exit "$status"
