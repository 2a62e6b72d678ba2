#!/usr/bin/env python3
"""Markdown tables from amonesize-bench's raw numbers, for compare.sh and report.sh.

Every input is a --csv file of amonesize-bench (pattern,allocator,size,repetition,value)
or the text --crosscheck prints. A median is taken over every repetition of a row in
all the files given for one side, so several interleaved runs pool into one figure.

  tables.py run CSV...                     one full run: every case, every row
  tables.py callgrind CSV [--keep0 CSV]    instructions per pair (and with --keep 0)
  tables.py compare --old CSV... --new CSV... [--old-cg CSV --new-cg CSV]
  tables.py crosscheck TXT                 the --crosscheck table
  tables.py touch CSV                      the standalone loop by what it writes (--touch)
  tables.py annotate FILE ITERS [--top N]  callgrind_annotate, per pair
  tables.py flags BUILDDIR                 compiler and flags of the benchmark and the library
  tables.py targets --run CSV... --cg CSV --old CSV... --new CSV...
"""
import argparse
import csv
import json
import re
import shlex
import statistics
import subprocess
import sys

# Rows whose meaning did not change between 0.1 and now: the library's own and the
# floors. 0.1's "glibc" was mimalloc through its malloc override and its competitors
# were linked in, so competitor rows come from the current binary only.
SAME_IN_BOTH = ("onesize", "onesize+cache", "onesize+mutex", "onesize+spin", "bare-list",
                "bare-list+mutex", "bare-list+callbacks", "none")
SIZES = (16, 64, 256)


def load(paths):
    """{(pattern, size, allocator): [values]} and the order rows first appeared in."""
    rows, order = {}, []
    for path in paths:
        with open(path, newline="") as f:
            for rec in csv.DictReader(f):
                key = (rec["pattern"], int(rec["size"]), rec["allocator"])
                if key not in rows:
                    rows[key] = []
                    order.append(key)
                rows[key].append(float(rec["ns_per_pair"]))
    return rows, order


def med(values):
    return statistics.median(values) if values else None


def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


def table(header, body, left=1):
    """A Markdown table; the first `left` columns are text, the others numbers."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i < left else "---:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in body]
    return "\n".join(out)


def spread(values):
    return f"{min(values):.2f}-{max(values):.2f}"


def case_name(pattern):
    return {"contended": "contended (all threads)", "handoff": "handoff (2 threads)"}.get(pattern, pattern)


def cmd_run(a):
    rows, order = load(a.csv)
    body = []
    for (pattern, size, alloc) in order:
        if pattern.startswith("callgrind"):
            continue
        v = rows[(pattern, size, alloc)]
        m = med(v)
        g = med(rows.get((pattern, size, "glibc"), []))
        mi = med(rows.get((pattern, size, "mimalloc"), []))
        body.append([case_name(pattern), size, alloc, fmt(m), spread(v), len(v),
                     fmt(g / m if g and m else None) + ("x" if g and m else ""),
                     fmt(mi / m if mi and m else None) + ("x" if mi and m else "")])
    print(table(["case", "block bytes", "allocator", "median ns/pair", "min-max", "reps", "glibc / this",
                 "mimalloc / this"], body, left=3))


def cmd_callgrind(a):
    rows, order = load([a.csv])
    k0 = load([a.keep0])[0] if a.keep0 else {}
    header = ["allocator", "instructions per pair"]
    if a.keep0:
        header.append("with --keep 0")
    body = []
    for key in order:
        r = [key[2], fmt(med(rows[key]), 1)]
        if a.keep0:
            r.append(fmt(med(k0.get(key, [])), 1))
        body.append(r)
    print(table(header, body))


def cmd_compare(a):
    old, _ = load(a.old)
    new, order = load(a.new)
    body = []
    for key in order:
        pattern, size, alloc = key
        n = med(new[key])
        if alloc in SAME_IN_BOTH and key in old:
            o = med(old[key])
            body.append([case_name(pattern), size, alloc, fmt(o), spread(old[key]), fmt(n), spread(new[key]),
                         f"{n / o:.2f}x"])
        else:
            body.append([case_name(pattern), size, alloc, "(not compared)", "", fmt(n), spread(new[key]), "-"])
    print("Time, ns per allocate+free pair: median of every repetition of every round "
          f"({len(a.old)} runs of 0.1, {len(a.new)} of the current tree, taken in turns).\n"
          "current / 0.1 below 1.00 means the current tree is faster.\n")
    print(table(["case", "block bytes", "allocator", "0.1 median", "0.1 min-max", "current median",
                 "current min-max", "current / 0.1"], body, left=3))
    if a.old_cg and a.new_cg:
        ocg, _ = load([a.old_cg])
        ncg, corder = load([a.new_cg])
        cbody = []
        for key in corder:
            n = med(ncg[key])
            if key[2] in SAME_IN_BOTH and key in ocg:
                o = med(ocg[key])
                cbody.append([key[2], fmt(o, 1), fmt(n, 1), f"{n / o:.2f}x" if o else "-"])
            else:
                cbody.append([key[2], "(not compared)", fmt(n, 1), "-"])
        print("\nInstructions per allocate+free pair, single-thread lifo, 64-byte blocks "
              "(callgrind, each binary's own empty loop subtracted):\n")
        print(table(["allocator", "0.1", "current", "current / 0.1"], cbody))


def cmd_crosscheck(a):
    text = open(a.txt).read()
    pat = re.compile(r"^\s+(\S+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x(.*)$")
    body = []
    for line in text.splitlines():
        m = pat.match(line)
        if m:
            note = m.group(8).replace("<-", "").strip()
            body.append([m.group(1), m.group(2), m.group(3), m.group(4) + "x", m.group(5), m.group(6),
                         m.group(7) + "x", note])
        elif re.match(r"^\s+\S+\s+(not found|REFUSED|failed)", line):
            body.append([line.split()[0], " ".join(line.split()[1:])] + [""] * 6)
    print(table(["allocator", "bench instr", "standalone instr", "ratio", "bench ns", "standalone ns", "ratio",
                 "note"], body).replace("|---:|\n", "|---|\n", 1))
    verdict = [l for l in text.splitlines() if l.startswith("cross-check ")]
    if verdict:
        print("\n" + verdict[-1])


def cmd_touch(a):
    """The standalone loop by what it writes before the free: one row per allocator."""
    rows, order = load([a.csv])
    allocs = []
    for (_, _, alloc) in order:
        if alloc not in allocs:
            allocs.append(alloc)
    body = []
    for alloc in allocs:
        m = {w: med(rows.get((f"touch-{w}", 64, alloc), [])) for w in ("none", "word", "byte")}
        ratio = lambda w: f"{m[w] / m['none']:.2f}x" if m[w] and m["none"] else "-"
        body.append([alloc, fmt(m["none"]), fmt(m["word"]), fmt(m["byte"]), ratio("word"), ratio("byte")])
    print(table(["allocator", "nothing", "first word", "first byte", "word / nothing", "byte / nothing"], body))


def cmd_annotate(a):
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", "--auto=no", a.file],
                         capture_output=True, text=True, check=True).stdout
    body, total = [], None
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(.*?)\s*$", line)
        if not m:
            continue
        n, what = int(m.group(1).replace(",", "")), m.group(2)
        if "PROGRAM TOTALS" in what:
            total = n
            continue
        # "source:function [object]": inline code is counted in the function it
        # was inlined into, under the source file it came from.
        m2 = re.match(r"^(.*?):(\S+)(?:\s+\[(.*)\])?$", what)
        if not m2:
            continue
        src, fn, obj = m2.group(1), m2.group(2), m2.group(3) or ""
        if src == "???" and fn.startswith("0x"):
            fn = f"(no symbol, {fn})"  # a PLT stub or a function the library does not name
        body.append((n, fn, src.rsplit("/", 1)[-1], obj.rsplit("/", 1)[-1]))
    body.sort(key=lambda r: -r[0])
    rows = [[fn, src, obj or "(the benchmark)", f"{n / a.iters:.1f}"] for n, fn, src, obj in body[: a.top]
            if n / a.iters >= 0.05]
    if total is not None:
        rows.append(["all, the benchmark's loop included", "", "", f"{total / a.iters:.1f}"])
    print(table(["function", "source", "object", "instructions per pair"], rows, left=3))


def cmd_flags(a):
    """The compiler and flags of the benchmark and of the library, from compile_commands.json."""
    with open(f"{a.builddir}/compile_commands.json") as f:
        cmds = json.load(f)
    seen = set()
    for c in cmds:
        name = c["file"].rsplit("/", 1)[-1]
        what = "benchmark" if name == "bench.c" else "library" if "/lib/" in c["file"] and name == "pool.c" else None
        if what is None or what in seen:
            continue
        seen.add(what)
        words = shlex.split(c["command"])
        keep, skip = [], False
        for w in words:
            if skip:
                skip = False
                continue
            if w in ("-o", "-MF", "-MQ", "-c"):
                skip = True
                continue
            if w.startswith(("-I", "-MD", "-fdiagnostics-color")) or w.endswith(".c"):
                continue
            keep.append(w)
        print(f"- {what}: `{' '.join(keep)}`")


def verdict(value, target, higher_is_better=True):
    ok = value >= target if higher_is_better else value <= target
    if ok:
        return "met"
    if higher_is_better:
        return f"missed by {target - value:.2f} ({(target - value) / target * 100:.0f}% short)"
    return f"missed by {value - target:.2f} ({(value - target) / target * 100:.0f}% over)"


def cmd_targets(a):
    run, _ = load(a.run)
    cg, _ = load([a.cg])
    body = []

    def m(rows, pattern, size, alloc):
        return med(rows.get((pattern, size, alloc), []))

    for size in SIZES:
        o = m(run, "lifo", size, "onesize")
        for comp, goal in (("mimalloc", 1.5), ("glibc", 2.5)):
            c = m(run, "lifo", size, comp)
            if o and c:
                r = c / o
                body.append([f"unlocked lifo, {size} B: {comp} / onesize >= {goal}x (time)", f"{r:.2f}x",
                             verdict(r, goal)])
            else:
                body.append([f"unlocked lifo, {size} B: {comp} / onesize >= {goal}x (time)", "not measured",
                             "-"])
    oi, mi = m(cg, "callgrind-lifo", 64, "onesize"), m(cg, "callgrind-lifo", 64, "mimalloc")
    if oi is not None and mi:
        body.append(["instructions per pair, lifo 64 B: onesize <= 2/3 of mimalloc "
                     f"({mi:.1f} x 2/3 = {mi * 2 / 3:.1f})", f"{oi:.1f} ({oi / mi:.2f}x mimalloc)",
                     verdict(oi, mi * 2 / 3, higher_is_better=False)])
    t_os, t_bare = m(run, "lifo", 64, "onesize+mutex"), m(run, "lifo", 64, "bare-list+mutex")
    if t_os and t_bare:
        body.append(["onesize+mutex / bare-list+mutex <= 1.2x, lifo 64 B, time", f"{t_os / t_bare:.2f}x",
                     verdict(t_os / t_bare, 1.2, higher_is_better=False)])
    i_os, i_bare = m(cg, "callgrind-lifo", 64, "onesize+mutex"), m(cg, "callgrind-lifo", 64, "bare-list+mutex")
    if i_os and i_bare:
        body.append(["onesize+mutex / bare-list+mutex <= 1.2x, lifo 64 B, instructions",
                     f"{i_os:.1f} / {i_bare:.1f} = {i_os / i_bare:.2f}x",
                     verdict(i_os / i_bare, 1.2, higher_is_better=False)])
    old, _ = load(a.old)
    new, _ = load(a.new)
    for pattern in ("contended", "handoff"):
        for size in SIZES:
            for alloc in ("onesize+mutex", "onesize+spin", "onesize+cache"):
                ov, nv = old.get((pattern, size, alloc)), new.get((pattern, size, alloc))
                if not ov or not nv:
                    continue
                o, n = med(ov), med(nv)
                r = n / o
                if r <= 1.0:
                    v = "met"
                else:
                    overlap = min(nv) <= max(ov)
                    v = f"missed: {(r - 1) * 100:.0f}% slower" + (
                        " (the two runs' ranges overlap)" if overlap else "")
                body.append([f"{pattern}, {size} B, {alloc}: not worse than 0.1", f"{o:.1f} -> {n:.1f} ns "
                             f"({r:.2f}x)", v])
    print(table(["target (issue 11)", "measured", "verdict"], body, left=3))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("run")
    s.add_argument("csv", nargs="+")
    s = sub.add_parser("callgrind")
    s.add_argument("csv")
    s.add_argument("--keep0")
    s = sub.add_parser("compare")
    s.add_argument("--old", nargs="+", required=True)
    s.add_argument("--new", nargs="+", required=True)
    s.add_argument("--old-cg")
    s.add_argument("--new-cg")
    s = sub.add_parser("crosscheck")
    s.add_argument("txt")
    s = sub.add_parser("touch")
    s.add_argument("csv")
    s = sub.add_parser("annotate")
    s.add_argument("file")
    s.add_argument("iters", type=int)
    s.add_argument("--top", type=int, default=12)
    s = sub.add_parser("flags")
    s.add_argument("builddir")
    s = sub.add_parser("targets")
    s.add_argument("--run", nargs="+", required=True)
    s.add_argument("--cg", required=True)
    s.add_argument("--old", nargs="+", required=True)
    s.add_argument("--new", nargs="+", required=True)
    a = p.parse_args()
    {"run": cmd_run, "callgrind": cmd_callgrind, "compare": cmd_compare, "crosscheck": cmd_crosscheck,
     "touch": cmd_touch, "annotate": cmd_annotate, "flags": cmd_flags, "targets": cmd_targets}[a.cmd](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
