#!/bin/sh
# SPDX-License-Identifier: MIT
# report.sh: runs every measurement docs/performance.md shows and prints that
# document, Markdown, on standard output. Regenerate it with
#
#     bench/report.sh > docs/performance.md
#
# on a machine that is otherwise idle (the document records the load average
# before and after). It builds the current tree and the 0.1 release through
# bench/compare.sh, then runs the current benchmark: one full run, the
# callgrind counts (at 16, 64 and 256 bytes, and with no block kept live), the
# cross-check, the standalone loop with each way of touching the block, and
# callgrind's per-function counts for the rows the targets name (issues 11,
# 14 and 15). Needs git, meson, ninja, python3, valgrind (callgrind_annotate);
# about forty minutes on 2 cores.
set -eu

usage() {
    cat <<EOF
usage: bench/report.sh [--quick] [--reps N] [--rounds N] [--rev REV] [--out DIR]
       bench/report.sh --render DIR
  --quick       a short run to check the script (--quick benchmarks, 2 rounds)
  --reps N      repetitions of the full run (default 7)
  --rounds N    rounds of bench/compare.sh (default 5)
  --rev REV     the revision compared with (default 3f3380a, the 0.1 release)
  --out DIR     keep the builds and raw files in DIR (default: a temporary
                directory, removed at the end)
  --render DIR  measure nothing: print the document again from the files an
                earlier --out DIR kept (after changing the text or tables.py)
EOF
}

quick=
reps=7
rounds=5
rev=3f3380a
out=
render=
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || case $1 in --reps | --rounds | --rev | --out | --render) usage >&2; exit 2 ;; esac
    case $1 in
    --quick) quick=--quick; rounds=2; shift ;;
    --reps) reps=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --rev) rev=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --render) render=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

here=$(cd "$(dirname "$0")" && pwd)
src=$(git -C "$here" rev-parse --show-toplevel)
if [ -n "$render" ]; then
    work=$(cd "$render" && pwd)
elif [ -n "$out" ]; then
    mkdir -p "$out"
    work=$(cd "$out" && pwd)
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/amonesize-report-XXXXXX")
    trap 'rm -rf "$work"' EXIT
fi
trap 'exit 130' INT TERM
tables() { python3 "$here/tables.py" "$@"; }
# Profiles side by side, the engine's inline code by its function:
# [--what-if] "labels" row...
breakdown() {
    opt=
    [ "$1" != --what-if ] || { opt=$1; shift; }
    labels=$1
    shift
    files=
    for r in "$@"; do files="$files $work/cg-$r-keep4.out"; done
    # shellcheck disable=SC2086
    tables breakdown "$cgiters" --files $files --labels $labels --source "$work"/src/inline.h \
        "$work"/src/lock.h "$work"/src/internal.h $opt
}
say() { echo "report: $*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?"; }

B="$work/cmp/new/bench/amonesize-bench"
cgiters=100000
measure() {
    load_before=$(load)
    say "bench/compare.sh --rounds $rounds $quick (builds $rev and the current tree)"
    # shellcheck disable=SC2086
    "$here/compare.sh" --rev "$rev" --rounds "$rounds" $quick --out "$work/cmp" >"$work/compare.md"

    say "full run, --reps $reps"
    # shellcheck disable=SC2086
    "$B" $quick --reps "$reps" --csv "$work/full.csv" >"$work/full.txt"
    say "instruction counts"
    "$B" --callgrind --sizes 16,64,256 --csv "$work/cg.csv" >"$work/cg.txt"
    "$B" --callgrind --keep 0 --csv "$work/cg0.csv" >"$work/cg0.txt"
    say "cross-check"
    xstatus=0
    "$B" --crosscheck >"$work/crosscheck.txt" 2>"$work/crosscheck.err" || xstatus=$?

    # The standalone loop with each way of touching the block before freeing it,
    # in turns: repetition r of every allocator and every write before r + 1.
    say "standalone loop by --touch"
    echo "pattern,allocator,size,repetition,ns_per_pair" >"$work/touch.csv"
    r=1
    while [ "$r" -le "$treps" ]; do
        for t in none word byte; do
            for a in onesize mimalloc glibc jemalloc tcmalloc; do
                v=$("$B" --standalone "$a" --touch "$t" --reps 1 | sed -n 's/.*: \([0-9.]*\) ns per.*/\1/p')
                [ -z "$v" ] || echo "touch-$t,$a,64,$r,$v" >>"$work/touch.csv"
            done
        done
        r=$((r + 1))
    done

    # callgrind's own per-function counts, for the rows the targets name: the
    # benchmark's --callgrind-case child, collection on the measured loop only.
    say "per-function counts"
    profile() { # $1 row, $2 kept blocks
        AMONESIZE_BENCH_TLS=1 GLIBC_TUNABLES=glibc.rtld.optional_static_tls=16384 \
            valgrind --tool=callgrind --collect-atstart=no --instr-atstart=no --log-file=/dev/null \
            --callgrind-out-file="$work/cg-$1-keep$2.out" "$B" --callgrind-case "$1" --iterations "$cgiters" \
            --reps 1 --keep "$2" >/dev/null
    }
    for row in onesize onesize_mutex bare_list_mutex mimalloc onesize_state onesize_check_freed \
        onesize_hardened onesize_sync onesize_shared; do
        profile "$row" 4
    done
    profile mimalloc 0
    # The sources whose inline functions the breakdowns name, as measured.
    mkdir -p "$work/src"
    cp "$src/include/amonesize/inline.h" "$src/lib/lock.h" "$src/lib/internal.h" "$work/src/"
    load_after=$(load)
    # What the document needs to say about the run, for --render.
    cat >"$work/meta" <<META
load_before='$load_before'
load_after='$load_after'
desc='$(git -C "$src" describe --always --dirty 2>/dev/null || echo "?")'
rev='$rev'
reps='$reps'
quick='$quick'
treps='$treps'
xstatus='$xstatus'
META
}
treps=$([ -n "$quick" ] && echo 2 || echo 5)
desc='?'
[ -n "$render" ] || measure
# shellcheck disable=SC1091
. "$work/meta"

# Which package each competitor's file comes from (the files --list resolves).
versions() {
    "$B" --list 2>/dev/null | awk '$NF ~ /^\// { print $NF }' | sort -u | while read -r f; do
        case $f in */amonesize-bench | */libamonesize.so*) continue ;; esac
        real=$(readlink -f "$f")
        # merged /usr: dpkg may know the file under /lib rather than /usr/lib
        pkg=$({ dpkg -S "$real" || dpkg -S "${real#/usr}"; } 2>/dev/null | head -1 | sed 's/: .*//') || pkg=
        if [ -n "$pkg" ]; then
            ver=$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null || echo "?")
            echo "- \`$(basename "$f")\` ($real): Debian package $pkg $ver"
        else
            echo "- \`$(basename "$f")\` ($real): not from a Debian package"
        fi
    done
}
# Why callgrind names mimalloc's functions malloc and free, if it does.
mimalloc_names() {
    f=$("$B" --list 2>/dev/null | awk '$1 == "mi_free" { print $NF }')
    [ -n "$f" ] || return 0
    nm -D "$f" 2>/dev/null | awk -v f="$(basename "$f")" '
        $3 == "mi_free" { a = $1 } $3 == "free" { b = $1 }
        $3 == "mi_malloc" { c = $1 } $3 == "malloc" { d = $1 }
        END { if (a != "" && a == b && c != "" && c == d)
            printf "In %s, mi_malloc and mi_free are the same functions as its malloc and free\n" \
                "(same addresses in `nm -D`), so callgrind names them malloc and free; the row\n" \
                "calls them through dlsym(), not through the process'"'"'s malloc.\n", f }'
}
lscpu_field() { lscpu | sed -n "s/^$1:[[:space:]]*//p" | head -1; }

# ---- the document ------------------------------------------------------------
cat <<EOF
# Performance

What \`amonesize-bench\` measures, on what, and what it found. Every table below is
printed by \`bench/report.sh\`; regenerate this file with
\`bench/report.sh > docs/performance.md\` rather than editing the figures.

Measured: the tree at \`$desc\`, against the 0.1 release (\`$rev\`).
Load average (1, 5, 15 min) before the runs: $load_before; after: $load_after.
Timings move with the machine's load; instruction counts do not.

## What is measured, and how

- **Rows.** \`onesize\`: a pool without locking. \`onesize+cache\`: a per-thread cache
  (\`amonesize_cache.h\`) in front of a mutex pool. \`onesize+mutex\`: a pool locked
  by the pthread adapter (\`am_onesize_pthread_set_crit()\`). \`onesize+sync\`: the same
  with a mutex and a condition variable (\`am_onesize_pthread_set_sync()\`), a pool that
  can wait. \`onesize+spin\`: a pool locked by the benchmark's own spin-lock callbacks.
  \`onesize+state\`, \`onesize+check-freed\`, \`onesize+hardened\`: unlocked pools in the
  hardened mode, with a state bitmap (\`cfg.state\`), with freed blocks filled and
  checked (\`AM_ONESIZE_CHECK_FREED\`), and with both. \`onesize+shared\`: a pool shared
  between processes (\`amonesize_shared.h\`), laid out in an \`mmap\`ed
  \`MAP_SHARED | MAP_ANONYMOUS\` region and attached by the benchmark process; it
  runs the single-thread cases only (see "Shared pools"). \`bare-list\`: an unchecked
  free list, no lock; \`bare-list+mutex\`: the same behind a \`pthread_mutex_t\`
  locked inline, the floor \`onesize+mutex\` is held to; \`bare-list+callbacks\`: the
  same list locked through the adapter's callbacks called through pointers.
  \`none\`: no allocator at all (each thread cycles through a static array): the
  floor of the loop itself. \`glibc\`: \`malloc\`/\`free\` of \`libc.so.6\`.
  \`mimalloc\` (\`mi_malloc\`/\`mi_free\`), \`jemalloc\` (its \`malloc\`/\`free\`) and
  \`tcmalloc\` (\`tc_malloc\`/\`tc_free\`).
- **Competitors are isolated.** None is linked in: each is loaded with
  \`dlopen(RTLD_LOCAL)\` and called through its own entry points, so none can
  replace glibc's \`malloc\` for the rest of the process. At start-up \`dladdr()\`
  checks that every function each row calls lives in the file the row names;
  a row that fails is refused and never printed (\`amonesize-bench --list\`).
- **Cases.** \`lifo\`: allocate one block, free it, repeat (2 000 000 pairs).
  \`burst-reverse\` / \`burst-shuffled\`: allocate 1 000 blocks, free them in reverse
  or in a fixed shuffled order (2 000 rounds). \`contended\`: every thread (as many
  as online CPUs) runs the lifo loop on the shared allocator, 1 000 000 pairs
  each; the figure is wall time over all pairs (throughput). \`handoff\`: one
  thread allocates and passes each block through a 1 024-slot ring to another,
  which frees it (1 000 000 blocks). \`scale\`: onesize's lifo and burst with pools
  of 10^3, 10^5 and 10^7 blocks. Request sizes 16, 64 and 256 bytes; the pools'
  block size is the request size.
- **Other blocks stay live.** Every single-thread case (lifo, burst, scale, the
  callgrind loop, the standalone loop) first allocates 4 blocks from the
  allocator it measures and frees them after the measured loop, for every row
  alike (\`--keep\`). Applications always have other live blocks; without them
  mimalloc's page empties on every free and it runs its page-retire path each
  time (see the \`--keep 0\` column below). The threaded cases keep none.
- **Timing.** \`clock_gettime(CLOCK_MONOTONIC)\` around each loop; ns per
  allocate+free pair. Repetitions are interleaved (every row once, then every
  row again), so drift hits all rows alike; the tables give the median and the
  range. The benchmark checks its own work: every block handed out is written
  or checked, every pool must end full; a failed check voids the run.
- **Instructions.** \`valgrind --tool=callgrind\`, collection on the measured
  lifo loop only (16, 64 and 256-byte blocks, 100 000 pairs, after 1 000 pairs of warm-up),
  the cost of an empty loop subtracted, calls included. Deterministic: the
  figures to compare across machines and commits. Hardware counters are not
  available on this machine (\`perf stat -e instructions\` reports them as not
  supported under its hypervisor), so callgrind is the only instruction count.
- **Cross-check.** A minimal loop written out by hand (\`--standalone NAME\`) in a
  fresh process that loads only that allocator, with the same kept blocks,
  compared with the benchmark's loop (\`--crosscheck\`).

## Machine and build

- CPU: $(lscpu_field "Model name") (family $(lscpu_field "CPU family"), model $(lscpu_field "Model")), $(lscpu_field "CPU(s)") CPUs, $(lscpu_field "Thread(s) per core") thread(s) per core; $(grep -m1 'cpu MHz' /proc/cpuinfo | sed 's/.*: *//') MHz as /proc/cpuinfo reports it
- Virtualisation: $(lscpu_field "Hypervisor vendor") ($(lscpu_field "Virtualization type"))
- Caches: L1d $(lscpu_field "L1d cache"), L2 $(lscpu_field "L2 cache"), L3 $(lscpu_field "L3 cache")
- Kernel: $(uname -sr); C library: glibc $(ldd --version 2>/dev/null | sed -n '1s/.* //p')
- Compiler: $(${CC:-cc} --version | head -1); Meson $(meson --version); Valgrind $(valgrind --version 2>/dev/null | sed 's/valgrind-//')
- Build: the project's default build type (debugoptimized), no tests or tools:
$(tables flags "$work/cmp/new" | sed 's/^/  /')
- Competitors, as \`--list\` resolves them:
$(versions | sed 's/^/  /')

## How to run it

\`\`\`sh
meson setup build && meson compile -C build
./build/bench/amonesize-bench              # every case, 7 interleaved repetitions (minutes)
./build/bench/amonesize-bench --quick      # under 10 s: 64-byte blocks, fewer iterations
./build/bench/amonesize-bench --filter lifo/ --csv out.csv   # some cases; raw numbers
./build/bench/amonesize-bench --callgrind  # instructions per pair
./build/bench/amonesize-bench --list       # what each row calls, and where that lives
./build/bench/amonesize-bench --crosscheck # each competitor against a standalone loop
bench/compare.sh                           # 0.1 against the current tree, in turns
bench/report.sh > docs/performance.md      # everything on this page
\`\`\`

\`--sizes 16,64,256\` picks the block sizes of a run (\`--callgrind\` alone measures
64 bytes). \`meson test --suite bench\` runs \`--list\` and \`--quick\` as a self-check (every row
verified, every block returned); it asserts nothing about timings.

## Targets of issue 11

Time ratios from the full run below (medians), instruction counts from the
callgrind table, "not worse than 0.1" from the comparison with 0.1 (medians of
runs taken in turns; a ratio above 1.00 is reported as missed even when it is
within the spread of the runs, which the verdict then says).

$(tables targets --run "$work/full.csv" --cg "$work/cg.csv" --old "$work"/cmp/old-[0-9]*.csv --new "$work"/cmp/new-[0-9]*.csv)

## Hardened mode: the price

Issue 14 asks that the price of the hardened mode be published, with a target:
the state bitmap costs at most 25% over the default pool's lifo. \`onesize\` is
the default pool; \`onesize+state\` the same with a state bitmap,
\`onesize+check-freed\` with freed blocks filled and checked, \`onesize+hardened\`
with both; all unlocked. Single-thread lifo: time from the full run below
(median ns per pair), instructions per pair from callgrind, each against the
default pool at the same block size.

$(tables hardened --run "$work/full.csv" --cg "$work/cg.csv")

### What limits it

callgrind's counts of the lifo loop, 64-byte blocks, per pair, side by side.
The engine's inline code (\`include/amonesize/inline.h\`) is counted under the
function it is written in, whatever it was inlined into, so the bitmap's work
shows under the engine functions that do it: \`am_onesize_impl_pop\` and
\`am_onesize_impl_put\` take and give the block and read and write its bit
(\`put\` judges a free by the bit alone, without reading the block),
\`am_onesize_impl_index\` computes the block's index for the bit as it is
popped, and \`am_onesize_allocate\` and \`am_onesize_free\` are the public fast
paths, which try the default pool's list first and then choose the path of a
pool with a bitmap. Everything else is counted under the function callgrind
finds it in. "all" includes the benchmark's loop. The default pool's fast path
must not pay for the bitmap (its count is the first column), so a bitmap pool
pays for that first try and for the choice of path (the rows of the two
public fast paths) before its own work, while the 25% target allows a
quarter of the default pool's count for all of it: that dispatch alone
takes more.

$(breakdown "onesize onesize+state" onesize onesize_state)

The checked fill has no inline path: every call is a library call
(\`am_onesize_impl_allocate\` and \`am_onesize_impl_free\` in \`pool.c\`, with the
helpers of \`lib/lock.h\` and \`lib/internal.h\` they inline), and
\`am_onesize_impl_fill\` writes every word of a freed block beyond its two list
words and reads them all back when the block is taken again, so its part grows
with the block size (compare the 16, 64 and 256-byte columns above).

$(breakdown "onesize onesize+check-freed onesize+hardened" onesize onesize_check_freed onesize_hardened)

## Shared pools

Issue 15 asks for the uncontended allocate+free pair of a shared pool within
1.3x of the threaded pthread-adapter pool, measured side by side.
\`onesize+shared\` calls \`am_onesize_shared_allocate()\` and
\`am_onesize_shared_free()\` on a pool that \`am_onesize_shared_create()\` laid out in
an \`mmap\`ed \`MAP_SHARED | MAP_ANONYMOUS\` region, attached by the benchmark
process. It is compared with \`onesize+sync\`, the adapter pool made with
\`am_onesize_pthread_set_sync()\`: like a shared pool it has a mutex and a
condition variable and can wait. \`onesize+mutex\` (\`am_onesize_pthread_set_crit()\`,
a mutex only) is beside it: sync / mutex near 1.00 says that a pool that can
wait costs the same as one that cannot. The benchmark's self-check of the
shared pool is \`am_onesize_shared_get_stats()\` (every block back, nothing
rejected, one owner, nothing in transit, no recovery) and
\`am_onesize_shared_check()\`.

Only the single-thread cases are measured: \`amonesize_shared.h\` says that a
handle belongs to the process that attached it and that a second attach from
that process is refused, but not that threads of one process may share a
handle, so the benchmark's two-thread cases (which would share one) are not
run for it.

$(tables shared --run "$work/full.csv" --cg "$work/cg.csv")

### What limits it

callgrind's counts of the lifo loop, 64-byte blocks, per pair, as above. The
shared pool's mutex is process-shared and robust, so that a process that dies
holding it does not hang the others; glibc locks and unlocks a robust mutex in
its general functions (\`__pthread_mutex_lock_full\`, \`__pthread_mutex_unlock_full\`,
which also record the mutex on the thread's robust list), where the sync pool's
default mutex takes the short path (\`pthread_mutex_trylock\`,
\`__pthread_mutex_unlock_usercnt\`). The shared pool's own code is out of line:
each call checks the handle, enters and leaves the region's lock (\`enter\`, which
also fixes the pool's addresses for this process), and keeps the block's owner
entry; the sync pool's list work is inline in the caller, between the adapter's
calls. "by owner" splits the difference between glibc's mutex and the library,
and the last sentence says what the ratio would be with either part as cheap as
in the sync pool. Time ratios come out lower than instruction ratios: both pools
pay for the same atomic read-modify-write instructions in each lock and unlock,
which take longer than the plain instructions around them (the usual
explanation, not measured here: this machine exposes no hardware counters).

$(breakdown --what-if "onesize+sync onesize+shared" onesize_sync onesize_shared)

## One full run

\`amonesize-bench --reps $reps $quick\`: ns per allocate+free pair, median and range
of $reps interleaved repetitions; "glibc / this" above 1 means this row is faster
than glibc. \`contended\` and \`handoff\` run two threads on this two-CPU machine
and handoff's two threads busy-wait on the ring for each other, so any other
runnable process takes CPU time from them; their ranges show how much they
moved in this run.

$(tables run "$work/full.csv")

## Instructions per pair

Single-thread lifo, under callgrind (\`--callgrind --sizes 16,64,256\`), by block
size. The last column is the 64-byte loop with no other block live (\`--keep 0\`):
the state the benchmark no longer measures.

$(tables callgrind "$work/cg.csv" --keep0 "$work/cg0.csv")

### Where the instructions go

callgrind's own count per function (\`callgrind_annotate --inclusive=no\`),
divided by the 100 000 measured pairs; inline code is counted in the function it
was inlined into, under the source file it came from. "all" includes the
benchmark's loop.

onesize:

$(tables annotate "$work/cg-onesize-keep4.out" "$cgiters")

onesize+mutex and bare-list+mutex: the same glibc lock and unlock behind both,
so the difference between the two tables is what the pool adds to them.

onesize+mutex:

$(tables annotate "$work/cg-onesize_mutex-keep4.out" "$cgiters")

bare-list+mutex:

$(tables annotate "$work/cg-bare_list_mutex-keep4.out" "$cgiters")

$(mimalloc_names)

mimalloc, 4 other blocks live:

$(tables annotate "$work/cg-mimalloc-keep4.out" "$cgiters")

mimalloc, no other block live (\`--keep 0\`):

$(tables annotate "$work/cg-mimalloc-keep0.out" "$cgiters")

## Cross-check

\`amonesize-bench --crosscheck\` (exit status $xstatus): the benchmark's lifo loop, with
every competitor loaded, against the standalone loop in a fresh process that
loads only the one allocator. Both keep 4 blocks live and neither writes into
a block before freeing it (the same loop on both sides; what such a write
costs each allocator is the next table's).

$(tables crosscheck "$work/crosscheck.txt")

### What the standalone loop writes before the free

The standalone loop alone (\`--standalone NAME --touch W\`), ns per pair, median
of $treps repetitions taken in turns: writing nothing, the block's first word
(8 bytes), or its first byte. onesize's free reads the block's first two words
(the free-pattern check of its double-free detection, \`include/amonesize/inline.h\`),
so it loads the very bytes the program has just stored. The table measures what
each write costs each allocator; that a one-byte store followed by a wider load
of the same bytes defeats store-to-load forwarding is the usual explanation, not
measured here (this machine exposes no hardware counters).

$(tables touch "$work/touch.csv")

## 0.1 against the current tree

$(sed '1{/^## /d}' "$work/compare.md" | sed '/./,$!d')
EOF
