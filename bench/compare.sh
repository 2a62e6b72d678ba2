#!/bin/sh
# SPDX-License-Identifier: MIT
# compare.sh: the benchmark of an earlier revision against the current tree.
#
# Builds the library and amonesize-bench of REV (default: 3f3380a, the 0.1
# release) in a temporary git worktree, builds the current tree (uncommitted
# changes included) with the same options, runs the two benchmarks in turns
# (A B A B ..., ROUNDS rounds, so that the machine's load changes both alike)
# and prints, as Markdown, for every row (case x block size x allocator) the
# median of each and their ratio; then each one's callgrind instructions per
# pair. Needs git, meson, ninja, python3, and valgrind for the instructions.
#
# 0.1's benchmark is the old, unfair one: its "glibc" row was mimalloc through
# its malloc override, it linked the competitors into the process (jemalloc's
# row called mallocx/dallocx) and its single-thread loops kept no other block
# live. So only the rows that mean the same in both are compared (the onesize
# rows and the bare-list and none floors); competitor rows are shown from the
# current binary only.
set -eu

usage() {
    cat <<EOF
usage: bench/compare.sh [--rev REV] [--rounds N] [--reps N] [--quick] [--filter TEXT]
                        [--threads N] [--no-callgrind] [--out DIR]
  --rev REV       the revision to compare with (default 3f3380a, the 0.1 release)
  --rounds N      runs of each benchmark, taken in turns (default 5)
  --reps N        repetitions per case in each run (default 1)
  --quick         pass --quick to both (64-byte blocks, fewer iterations)
  --filter TEXT   pass --filter TEXT to both
  --threads N     pass --threads N to both
  --no-callgrind  skip the instruction counts
  --out DIR       keep the builds and the raw CSV files in DIR (old/, new/,
                  old-*.csv, new-*.csv, old-cg.csv, new-cg.csv); default: a
                  temporary directory, removed at the end
Environment: CC and CFLAGS are passed to both builds alike.
EOF
}

rev=3f3380a
rounds=5
reps=1
out=
filter=
callgrind=yes
args=
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || case $1 in --rev | --rounds | --reps | --filter | --threads | --out) usage >&2; exit 2 ;; esac
    case $1 in
    --rev) rev=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --quick) args="$args --quick"; shift ;;
    --filter) filter=$2; shift 2 ;;
    --threads) args="$args --threads $2"; shift 2 ;;
    --no-callgrind) callgrind=no; shift ;;
    --out) out=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

here=$(cd "$(dirname "$0")" && pwd)
src=$(git -C "$here" rev-parse --show-toplevel)
old_commit=$(git -C "$src" rev-parse --verify "$rev^{commit}")
new_desc=$(git -C "$src" describe --always --dirty 2>/dev/null || echo "?")

if [ -n "$out" ]; then
    mkdir -p "$out"
    work=$(cd "$out" && pwd)
    keep_work=yes
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/amonesize-compare-XXXXXX")
    keep_work=no
fi
wt="$work/old-src"
cleanup() {
    # Only this worktree: a prune would also drop the records of other
    # people's worktrees that happen to be missing at this moment.
    if [ -d "$wt" ] && ! git -C "$src" worktree remove --force "$wt" 2>/dev/null; then
        echo "compare.sh: could not remove the worktree $wt; 'git worktree remove --force $wt' will" >&2
    fi
    [ "$keep_work" = yes ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Both builds alike: the project's default build type (debugoptimized), no
# tests or tools, so that only the library and the benchmark are built.
build() { # $1 source, $2 build dir
    if ! meson setup "$2" "$1" -Dtests=false -Dtools=false -Dfuzz=disabled >"$2.log" 2>&1; then
        rm -rf "$2"
        meson setup "$2" "$1" >"$2.log" 2>&1 || { cat "$2.log" >&2; exit 1; }
    fi
    meson compile -C "$2" bench/amonesize-bench >>"$2.log" 2>&1 || { cat "$2.log" >&2; exit 1; }
}

echo "building $rev ($old_commit) in a temporary worktree..." >&2
rm -rf "$wt" "$work/old" "$work/new"
git -C "$src" worktree add --quiet --detach "$wt" "$old_commit"
build "$wt" "$work/old"
echo "building the current tree ($new_desc)..." >&2
build "$src" "$work/new"
A="$work/old/bench/amonesize-bench"
B="$work/new/bench/amonesize-bench"

run() { # $1 binary, $2 csv, the rest: options
    bin=$1 csv=$2
    shift 2
    if [ -n "$filter" ]; then
        "$bin" --reps "$reps" --csv "$csv" --filter "$filter" "$@" >"$csv.txt" 2>"$csv.err"
    else
        "$bin" --reps "$reps" --csv "$csv" "$@" >"$csv.txt" 2>"$csv.err"
    fi || { echo "$bin failed, see $csv.err:" >&2; cat "$csv.err" >&2; exit 1; }
}

rm -f "$work"/old-*.csv "$work"/new-*.csv
i=1
while [ "$i" -le "$rounds" ]; do
    echo "round $i of $rounds: $rev..." >&2
    # shellcheck disable=SC2086
    run "$A" "$work/old-$i.csv" $args
    echo "round $i of $rounds: current..." >&2
    # shellcheck disable=SC2086
    run "$B" "$work/new-$i.csv" $args
    i=$((i + 1))
done
cg=
if [ "$callgrind" = yes ] && command -v valgrind >/dev/null 2>&1; then
    echo "instruction counts under callgrind..." >&2
    run "$A" "$work/old-cg.csv" --callgrind
    run "$B" "$work/new-cg.csv" --callgrind
    cg="--old-cg $work/old-cg.csv --new-cg $work/new-cg.csv"
elif [ "$callgrind" = yes ]; then
    echo "valgrind not found: no instruction counts" >&2
fi

load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
cat <<EOF
## $rev ($(echo "$old_commit" | cut -c1-7)) against the current tree ($new_desc)

$rounds runs of each benchmark, taken in turns, --reps $reps${args:+,$args}${filter:+, --filter $filter};
load average at the end: $load.

0.1's benchmark is the old one: its "glibc" row was mimalloc through its malloc
override, it linked the competitors into the measuring process, and its
single-thread loops kept no other block live. Only the rows that mean the same
in both are compared between versions (the onesize rows and the bare-list and
none floors); competitor rows come from the current binary only.

EOF
old_csvs=$(ls "$work"/old-[0-9]*.csv)
new_csvs=$(ls "$work"/new-[0-9]*.csv)
# shellcheck disable=SC2086
python3 "$here/tables.py" compare --old $old_csvs --new $new_csvs $cg
