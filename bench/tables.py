#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
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
  tables.py breakdown ITERS --files OUT... --labels NAME... --source FILE...
                                           callgrind files side by side, the engine's
                                           inline code split by the function it comes from
  tables.py hardened --run CSV... --cg CSV the price of the hardened mode (issue 14)
  tables.py shared --run CSV... --cg CSV   shared pool against the sync pool (issue 15)
  tables.py flags BUILDDIR                 compiler and flags of the benchmark and the library
  tables.py targets --run CSV... --cg CSV --old CSV... --new CSV...
"""
import argparse
import collections
import csv
import json
import os
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
    """One row per allocator, one column per block size measured (and --keep 0's)."""
    rows, order = load([a.csv])
    k0 = load([a.keep0])[0] if a.keep0 else {}
    sizes = sorted({key[1] for key in order})
    allocs = []
    for key in order:
        if key[2] not in allocs:
            allocs.append(key[2])
    header = ["allocator"] + [f"{s} B" for s in sizes]
    k0sizes = sorted({key[1] for key in k0})
    header += [f"{s} B, --keep 0" for s in k0sizes]
    body = []
    for alloc in allocs:
        r = [alloc] + [fmt(med(rows.get(("callgrind-lifo", s, alloc), [])), 1) for s in sizes]
        r += [fmt(med(k0.get(("callgrind-lifo", s, alloc), [])), 1) for s in k0sizes]
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
    body, total, objects = [], None, {}
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
        # callgrind_annotate leaves the object out of some lines (code inlined
        # from another file, for one): a function has one object, named on
        # another of its lines.
        if obj:
            objects[fn] = obj
        body.append((n, fn, src.rsplit("/", 1)[-1], obj))
    body.sort(key=lambda r: -r[0])
    rows = [[fn, src, (obj or objects.get(fn, "?")).rsplit("/", 1)[-1], f"{n / a.iters:.1f}"]
            for n, fn, src, obj in body[: a.top] if n / a.iters >= 0.05]
    if total is not None:
        rows.append(["all, the benchmark's loop included", "", "", f"{total / a.iters:.1f}"])
    print(table(["function", "source", "object", "instructions per pair"], rows, left=3))


def parse_callgrind(path):
    """Self cost (Ir) of a callgrind output file: {(source file, line, function, object): count}.

    The format is Valgrind's (docs: callgrind-format): name compression "(id) name", positions
    relative to the previous one ("+n", "-n", "*"), fi=/fe= switching the source file for code
    inlined from another file, and after each calls= line the call's inclusive cost, which is
    not self cost."""
    names = {"fl": {}, "fn": {}, "ob": {}}
    table_of = {"ob": "ob", "cob": "ob", "fn": "fn", "cfn": "fn", "fl": "fl", "fi": "fl", "fe": "fl", "cfl": "fl",
                "cfi": "fl"}
    cost = collections.Counter()
    ob = fl = fn = ""
    last = 0
    skip = False

    def position(tok, last):
        if tok == "*":
            return last
        if tok[0] in "+-":
            return last + int(tok)
        return int(tok)

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line[0] == "#":
                continue
            if skip:  # the inclusive cost of a call: its position still counts
                skip = False
                last = position(line.split()[0], last)
                continue
            m = re.match(r"^(ob|fl|fi|fe|fn|cob|cfl|cfi|cfn)=(?:\((\d+)\))?\s*(.*)$", line)
            if m:
                key, ident, name = m.groups()
                t = names[table_of[key]]
                if ident is not None and name:
                    t[ident] = name
                name = t.get(ident, name) if ident is not None else name
                if key == "ob":
                    ob = name
                elif key in ("fl", "fi", "fe"):
                    fl = name
                elif key == "fn":
                    fn = name
                continue
            if line.startswith("calls="):
                skip = True
                continue
            if line[0] in "0123456789+-*":
                toks = line.split()
                last = position(toks[0], last)
                if len(toks) > 1:
                    cost[(fl, last, fn, ob)] += int(toks[1])
    return cost


def enclosing_functions(path):
    """For a C source: the function each line is in ({line: name}), by where definitions start."""
    where, current = {}, None
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for n, text in enumerate(lines, 1):
        m = re.match(r"^[A-Za-z_][^;#=]*?\b([A-Za-z_]\w*)\(", text)
        if m and not text.startswith(("typedef", "struct", "enum", "union")):
            current = m.group(1)
        where[n] = current
    return where


def cmd_breakdown(a):
    """Where each profile's instructions go, side by side: the code of the given sources (the engine's
    inline functions) by the function it was written in, whatever it was inlined into; everything else
    by the function callgrind counts it in."""
    if len(a.files) != len(a.labels):
        sys.exit("breakdown: as many --labels as --files")
    sources = {os.path.basename(s): enclosing_functions(s) for s in a.source}
    per = []
    owners = []
    for path in a.files:
        rows = collections.Counter()
        owner = collections.Counter()
        for (fl, line, fn, ob), n in parse_callgrind(path).items():
            base, obj = os.path.basename(fl), os.path.basename(ob)
            if fn.startswith("callgrind_") and base == "bench.c":
                key = ("the benchmark's loop", "bench.c")
                owner["the benchmark's loop"] += n
                rows[key] += n
                continue
            if base in sources and sources[base] is not None:
                key = (sources[base].get(line) or "(outside functions)", base)
            elif base == "???" and fn.startswith("0x"):
                key = (f"(no symbol, {fn})", "a PLT stub, or code the object does not name")
            else:
                key = (fn or "?", f"{base or '?'} ({obj or '?'})")
            rows[key] += n
            if base in sources or obj.startswith("libamonesize"):
                owner["libamonesize (library and inline code)"] += n
            elif obj.startswith("libc.so") and "mutex" in fn:
                owner["glibc's mutex lock and unlock"] += n
            else:
                owner["other"] += n
        per.append(rows)
        owners.append(owner)
    keys = sorted({k for r in per for k in r}, key=lambda k: -max(r[k] for r in per))
    header = ["function", "source (object)"] + [f"{l}" for l in a.labels]
    two = len(per) == 2
    if two:
        header.append(f"{a.labels[1]} - {a.labels[0]}")
    body = []
    for k in keys:
        v = [r[k] / a.iters for r in per]
        if max(v) < 0.05:
            continue
        body.append([k[0], k[1]] + [fmt(x, 1) for x in v] + ([f"{v[1] - v[0]:+.1f}"] if two else []))
    tot = [sum(r.values()) / a.iters for r in per]
    body.append(["all, the benchmark's loop included", ""] + [fmt(x, 1) for x in tot] +
                ([f"{tot[1] - tot[0]:+.1f}"] if two else []))
    print(table(header, body, left=2))
    print()
    groups = ["libamonesize (library and inline code)", "glibc's mutex lock and unlock", "the benchmark's loop",
              "other"]
    gbody = []
    for g in groups:
        v = [o[g] / a.iters for o in owners]
        if max(v) < 0.05:
            continue
        gbody.append([g] + [fmt(x, 1) for x in v] + ([f"{v[1] - v[0]:+.1f}"] if two else []))
    print(table(["by owner"] + a.labels + ([f"{a.labels[1]} - {a.labels[0]}"] if two else []), gbody))
    if two:
        # The difference in one sentence: what adds the most, and what the second runs less of.
        diff = sorted((((per[1][k] - per[0][k]) / a.iters, k) for k in keys), key=lambda x: -x[0])

        def listed(items, total):
            shown = [(d, k) for d, k in items if abs(d) >= 1.0][:6]
            rest = total - sum(d for d, _ in shown)
            return ", ".join([f"`{k[0]}` {d:+.1f}" for d, k in shown] +
                             ([f"the rest {rest:+.1f}"] if abs(rest) >= 0.05 else []))

        more = [(d, k) for d, k in diff if d > 0]
        less = [(d, k) for d, k in reversed(diff) if d < 0]
        text = (f"\n{a.labels[1]} runs {tot[1] - tot[0]:+.1f} instructions per pair against {a.labels[0]}; "
                f"more in {listed(more, sum(d for d, _ in more))}")
        if less:
            text += f"; less in {listed(less, sum(d for d, _ in less))}"
        print(text + ".")
        if a.what_if:
            # The ratio net of the benchmark's loop, and what it would be if one owner's part
            # cost in the second what it costs in the first: which part limits the ratio.
            net = [sum(v for g, v in o.items() if g != "the benchmark's loop") / a.iters for o in owners]
            text = (f"\nNet of the benchmark's loop, {a.labels[1]} / {a.labels[0]} = {net[1]:.1f} / {net[0]:.1f} = "
                    f"{net[1] / net[0]:.2f}x.")
            for g in groups[:2]:  # the library's part, glibc's mutex
                d = (owners[1][g] - owners[0][g]) / a.iters
                if abs(d) >= 1.0:
                    text += (f" Were {g} to cost in {a.labels[1]} what it costs in {a.labels[0]}, the ratio would be "
                             f"{(net[1] - d) / net[0]:.2f}x.")
            print(text)


def over(r, goal):
    """A ratio against a ceiling: met, or by how much it is missed."""
    if r <= goal:
        return "met"
    got, allowed = (r - 1) * 100, (goal - 1) * 100
    d = 0 if got - allowed >= 10 else 1  # near the ceiling, a tenth: never "missed by 0"
    return f"missed by {got - allowed:.{d}f} points: +{got:.{d}f}% against +{allowed:.0f}% allowed"


HARDENED = ("onesize", "onesize+state", "onesize+check-freed", "onesize+hardened")


def cmd_hardened(a):
    """Issue 14: the hardened rows against the default pool, time and instructions, each size."""
    run, _ = load(a.run)
    cg, _ = load([a.cg])
    body, verdicts = [], []
    for size in SIZES:
        t0 = med(run.get(("lifo", size, "onesize"), []))
        i0 = med(cg.get(("callgrind-lifo", size, "onesize"), []))
        for alloc in HARDENED:
            t = med(run.get(("lifo", size, alloc), []))
            i = med(cg.get(("callgrind-lifo", size, alloc), []))
            body.append([size, alloc, fmt(t), f"{t / t0:.2f}x" if t and t0 else "-", fmt(i, 1),
                         f"{i / i0:.2f}x" if i and i0 else "-"])
        t = med(run.get(("lifo", size, "onesize+state"), []))
        i = med(cg.get(("callgrind-lifo", size, "onesize+state"), []))
        if t and t0:
            verdicts.append([f"state / default <= 1.25x, lifo {size} B, time", f"{t / t0:.2f}x", over(t / t0, 1.25)])
        else:
            verdicts.append([f"state / default <= 1.25x, lifo {size} B, time", "not measured", "-"])
        if i and i0:
            verdicts.append([f"state / default <= 1.25x, lifo {size} B, instructions",
                             f"{i:.1f} / {i0:.1f} = {i / i0:.2f}x", over(i / i0, 1.25)])
        else:
            verdicts.append([f"state / default <= 1.25x, lifo {size} B, instructions", "not measured", "-"])
    print(table(["block bytes", "allocator", "median ns/pair", "/ onesize", "instructions/pair", "/ onesize"], body,
                left=2))
    print()
    print(table(["target (issue 14)", "measured", "verdict"], verdicts, left=3))


def cmd_shared(a):
    """Issue 15: the shared pool against the sync pool (and the sync pool against the mutex pool)."""
    run, _ = load(a.run)
    cg, _ = load([a.cg])
    body, verdicts = [], []
    cases = [p for p in ("lifo", "burst-reverse", "burst-shuffled") if any(k[0] == p for k in run)]
    for pattern in cases + ["callgrind-lifo"]:
        rows = cg if pattern == "callgrind-lifo" else run
        for size in SIZES:
            v = {x: med(rows.get((pattern, size, x), [])) for x in ("onesize+mutex", "onesize+sync", "onesize+shared")}
            if not any(v.values()):
                continue
            digits = 1 if pattern == "callgrind-lifo" else 2
            ss = v["onesize+shared"] / v["onesize+sync"] if v["onesize+shared"] and v["onesize+sync"] else None
            sm = v["onesize+sync"] / v["onesize+mutex"] if v["onesize+sync"] and v["onesize+mutex"] else None
            name = "lifo, instructions/pair" if pattern == "callgrind-lifo" else f"{pattern}, ns/pair"
            body.append([name, size, fmt(v["onesize+mutex"], digits), fmt(v["onesize+sync"], digits),
                         fmt(v["onesize+shared"], digits), f"{ss:.2f}x" if ss else "-", f"{sm:.2f}x" if sm else "-"])
            if pattern in ("lifo", "callgrind-lifo"):
                what = "instructions" if pattern == "callgrind-lifo" else "time"
                measured = "not measured"
                if ss and pattern == "callgrind-lifo":
                    measured = f"{v['onesize+shared']:.1f} / {v['onesize+sync']:.1f} = {ss:.2f}x"
                elif ss:
                    measured = f"{ss:.2f}x"
                verdicts.append([f"shared / sync <= 1.3x, lifo {size} B, {what}", measured, over(ss, 1.3) if ss else "-"])
    print(table(["case", "block bytes", "onesize+mutex", "onesize+sync", "onesize+shared", "shared / sync",
                 "sync / mutex"], body, left=2))
    print()
    print(table(["target (issue 15)", "measured", "verdict"], verdicts, left=3))


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
    bare = m(cg, "callgrind-lifo", 64, "bare-list")
    if oi is not None and mi and bare is not None:
        print()
        print(f"What limits the instruction count: an unchecked free list costs {bare:.1f} instructions per pair "
              f"(`bare-list`); onesize's other {oi - bare:.1f} are its checks (the pointer's block index and "
              "bounds, the free pattern written at free and verified at allocation, the counters behind "
              "nfree, the low-water mark and the statistics; `include/amonesize/inline.h`). Two thirds of "
              f"mimalloc, {mi * 2 / 3:.1f}, would leave {mi * 2 / 3 - bare:.1f} for checks that take {oi - bare:.1f} "
              "now; every check the README promises stays, so this target is missed.")
    if oi is not None and i_os and i_bare and bare is not None:
        floor = i_bare - bare + oi
        print()
        print(f"What limits the locked path: behind the same glibc mutex, the pool does the unlocked engine's "
              f"work ({oi:.1f} instructions per pair) where the bare list does {bare:.1f}, so with nothing else "
              f"added the floor is {i_bare:.1f} - {bare:.1f} + {oi:.1f} = {floor:.1f}, {floor / i_bare:.2f}x "
              f"the bare locked list: 1.2x cannot be met with the checks on. The other {i_os - floor:.1f} are "
              "the adapter's two frames per call (`am_onesize_pthread_enter` and `_exit`, called through the "
              "pool's pointers), glibc's trylock in place of lock, and the fast path's choice of path "
              "(the per-function table under \"Where the instructions go\").")


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
    s = sub.add_parser("breakdown")
    s.add_argument("iters", type=int)
    s.add_argument("--files", nargs="+", required=True)
    s.add_argument("--labels", nargs="+", required=True)
    s.add_argument("--source", nargs="*", default=[])
    s.add_argument("--what-if", action="store_true", help="the ratio with each owner's part as in the first")
    for name in ("hardened", "shared"):
        s = sub.add_parser(name)
        s.add_argument("--run", nargs="+", required=True)
        s.add_argument("--cg", required=True)
    s = sub.add_parser("flags")
    s.add_argument("builddir")
    s = sub.add_parser("targets")
    s.add_argument("--run", nargs="+", required=True)
    s.add_argument("--cg", required=True)
    s.add_argument("--old", nargs="+", required=True)
    s.add_argument("--new", nargs="+", required=True)
    a = p.parse_args()
    {"run": cmd_run, "callgrind": cmd_callgrind, "compare": cmd_compare, "crosscheck": cmd_crosscheck,
     "touch": cmd_touch, "annotate": cmd_annotate, "flags": cmd_flags, "targets": cmd_targets,
     "breakdown": cmd_breakdown, "hardened": cmd_hardened, "shared": cmd_shared}[a.cmd](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
