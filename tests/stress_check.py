#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run amonesize-stress briefly and assert on what it reports.

usage: stress_check.py runs TOOL [WRAPPER...]      every pattern x lock, JSON asserted; SIGINT
                                                   and SIGTERM mid-run end with a summary
                                                   (STRESS_CACHE=N: through per-thread caches,
                                                   and a 1-block pool must progress, or fail
                                                   with --hoard)
       stress_check.py broken TOOL [WRAPPER...]    a lock that locks nothing must fail
       stress_check.py options TOOL                bad options: one-line error, usage, exit 2;
                                                   --seed, --alignment 0, --blocks honoured; the
                                                   man page documents every option
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PATTERNS = ["lifo", "burst", "random", "handoff", "mixed"]


def run(cmd, timeout=120):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def fail(msg, proc=None):
    print("FAIL:", msg)
    if proc is not None:
        print("stdout:", proc.stdout[-3000:])
        print("stderr:", proc.stderr[-3000:])
    sys.exit(1)


def check_runs(tool, wrapper):
    slow = bool(wrapper)
    ops = "1500" if slow else "20000"
    cache = int(os.environ.get("STRESS_CACHE", "0"))
    for lock in ["mutex", "spin"]:
        for pattern in PATTERNS:
            cmd = wrapper + [tool, "--pattern", pattern, "--lock", lock, "--ops", ops,
                             "--blocks", "200", "--seed", "42", "--json", "--cache", str(cache)]
            if pattern != "mixed":
                cmd += ["--threads", "3" if slow else "4"]
            p = run(cmd, timeout=600)
            where = f"{pattern}/{lock}" + (f"/cache {cache}" if cache else "")
            if p.returncode != 0:
                fail(f"{where}: exit status {p.returncode}", p)
            s = json.loads(p.stdout)
            checks = {
                "ok": s["ok"] is True,
                "no violations": s["total"]["violations"] == 0,
                "every block back": s["nfree_end"] == s["nblocks"] == 200,
                "allocations == frees": s["allocations"] == s["frees"] > 0,
                "iteration visits nothing at the end": s["iterated_at_end"] == 0,
                "counts reconciled": s["reconciles"] >= 1,
                "seed echoed, as a string": s["seed"] == "42",
                "lock echoed": s["lock"] == lock,
                "cache echoed": s["cache"] == cache,
                "low-water mark below capacity": s["nfree_min"] < s["nblocks"],
            }
            if pattern == "mixed":
                checks["all patterns ran"] = all(
                    s["patterns"].get(k, {}).get("ops", 0) > 0 for k in PATTERNS[:4])
                checks["diagnostics reconciled while running"] = s["reconciles"] > 1
            else:
                checks["the pattern ran"] = s["patterns"][pattern]["ops"] > 0
            bad = [k for k, v in checks.items() if not v]
            if bad:
                fail(f"{where}: {', '.join(bad)}: {p.stdout}", p)
            print(f"ok: {where}: {s['total']['ops']} ops, nfree_min {s['nfree_min']}, "
                  f"{s['reconciles']} reconciliations")
    check_signals(tool, wrapper, cache)
    if cache:
        check_progress(tool, wrapper, cache)


def started(proc, slow):
    """Wait until the tool has started a worker thread (it catches SIGINT and
    SIGTERM before it starts any), then let it run a moment."""
    deadline = time.monotonic() + (120 if slow else 30)
    task_dir = f"/proc/{proc.pid}/task"
    # main + one worker; a ThreadSanitizer build has one helper thread more
    while os.path.isdir(task_dir) and len(os.listdir(task_dir)) < 3:
        if proc.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    if not os.path.isdir(task_dir):
        time.sleep(10 if slow else 2)  # no /proc: give it ample time
    time.sleep(3 if slow else 0.5)


def finish(proc, cmd, limit, what):
    """communicate(), but a tool that does not stop is killed and fails."""
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        fail(f"{what}: still running {limit} s after the signal",
             subprocess.CompletedProcess(cmd, proc.returncode, out, err))
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def check_signals(tool, wrapper, cache):
    """SIGINT or SIGTERM mid-run: the threads stop, everything is verified,
    the summary is complete, the exit status is the verdict's."""
    slow = bool(wrapper)
    limit = 600 if slow else 60
    # timed, JSON to a file (a redirected --json must be complete), SIGINT
    with tempfile.TemporaryFile(mode="w+") as out:
        cmd = wrapper + [tool, "--pattern", "mixed", "--threads", "4", "--seconds", "300", "--blocks", "200",
                         "--cache", str(cache), "--json"]
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True)
        started(proc, slow)
        t = time.monotonic()
        proc.send_signal(signal.SIGINT)
        p = finish(proc, cmd, limit, "SIGINT mid-run")
        took = time.monotonic() - t
        out.seek(0)
        text = p.stdout = out.read()
    if proc.returncode != 0:
        fail(f"SIGINT mid-run: exit status {proc.returncode}, expected 0", p)
    try:
        s = json.loads(text)
    except ValueError:
        fail("SIGINT mid-run: the --json output is not one complete JSON object", p)
    checks = {
        "ok": s["ok"] is True,
        "interrupted by SIGINT": s["interrupted"] == "SIGINT",
        "stopped early": s["seconds"] < 250,
        "every block back": s["nfree_end"] == s["nblocks"] == 200,
        "allocations == frees": s["allocations"] == s["frees"] > 0,
        "iteration visits nothing at the end": s["iterated_at_end"] == 0,
        "something ran": s["total"]["ops"] > 0,
    }
    bad = [k for k, v in checks.items() if not v]
    if bad:
        fail(f"SIGINT mid-run: {', '.join(bad)}: {text}", p)
    print(f"ok: SIGINT after {s['seconds']:.2f} s: complete JSON, every block back, exit 0 "
          f"({took:.2f} s to stop)")
    # --ops, text summary, SIGTERM
    cmd = wrapper + [tool, "--pattern", "handoff", "--threads", "4", "--ops", "1000000000000",
                     "--blocks", "64", "--cache", str(cache)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started(proc, slow)
    proc.send_signal(signal.SIGTERM)
    p = finish(proc, cmd, limit, "SIGTERM mid-run")
    if proc.returncode != 0:
        fail(f"SIGTERM mid-run: exit status {proc.returncode}, expected 0", p)
    for want in ["interrupted by SIGTERM after", "end: 64 of 64 blocks free", "PASS: no violation"]:
        if want not in p.stdout:
            fail(f"SIGTERM mid-run: the summary lacks {want!r}", p)
    print("ok: SIGTERM during an --ops run: summary printed, every block back, exit 0")


def check_progress(tool, wrapper, cache):
    """A pool the caches can hold entirely (one block): the tool has the
    other threads flush their caches when one finds the pool empty, so the
    run progresses; with --hoard it does not ask, the producer starves, and
    the run must fail for want of progress rather than pass."""
    slow = bool(wrapper)
    ops = 300 if slow else 2000
    base = [tool, "--pattern", "handoff", "--threads", "2", "--blocks", "1", "--cache", str(cache), "--json"]
    p = run(wrapper + base + ["--ops", str(ops)], timeout=600)
    if p.returncode != 0:
        fail(f"handoff, 1 block, cache {cache}: exit {p.returncode}, expected 0", p)
    s = json.loads(p.stdout)
    if not (s["ok"] is True and s["allocations"] >= ops and s["nfree_end"] == 1):
        fail(f"handoff, 1 block, cache {cache}: expected {ops} allocations through flushed caches: "
             f"{p.stdout}", p)
    print(f"ok: handoff through caches of {cache} over 1 block progresses: {s['allocations']} allocations")
    if wrapper and "valgrind" in os.path.basename(wrapper[0]):
        print("skip: --hoard under Valgrind: caches pass every call to the pool there, nothing is hoarded")
        return
    # --ops: failed allocations do not count, so only the progress watch ends it
    try:
        p = run(wrapper + base + ["--ops", str(ops), "--hoard"], timeout=600 if slow else 120)
    except subprocess.TimeoutExpired:
        fail(f"handoff, 1 block, cache {cache}, --hoard: still running after the time out: a thread "
             "without progress was not caught")
    checks = {
        "exit status 1": p.returncode == 1,
        "'no progress' reported": "VIOLATION" in p.stderr and "no progress" in p.stderr,
    }
    if checks["exit status 1"]:
        s = json.loads(p.stdout)
        checks["JSON not ok, the violation on handoff"] = (
            s["ok"] is False and s["patterns"]["handoff"]["violations"] >= 1)
        checks["every block back all the same"] = s["nfree_end"] == 1 and s["allocations"] == s["frees"]
    bad = [k for k, v in checks.items() if not v]
    if bad:
        fail(f"handoff, 1 block, cache {cache}, --hoard: {', '.join(bad)}", p)
    print(f"ok: --hoard: no progress reported, exit 1: {p.stderr.strip().splitlines()[0][:150]}...")


def check_broken(tool, wrapper):
    # A race may take a moment to show: up to 3 runs; each must not pass
    # silently. The tool's checks (or ThreadSanitizer) must report it.
    for attempt in range(3):
        p = run(wrapper + [tool, "--broken-lock", "--pattern", "random", "--threads", "2",
                           "--seconds", "2", "--blocks", "64", "--quiet"], timeout=300)
        if p.returncode == 2:
            fail("--broken-lock was rejected as an option", p)
        if p.returncode != 0:
            what = "ThreadSanitizer" if "ThreadSanitizer" in p.stderr else "the tool's checks"
            if "VIOLATION" not in p.stderr and "ThreadSanitizer" not in p.stderr and p.returncode > 0:
                fail("failed without saying what it saw", p)
            print(f"ok: a critical section that locks nothing was caught by {what} "
                  f"(exit {p.returncode}, attempt {attempt + 1})")
            return
    fail("three runs with a broken lock passed: the checks do not bite")


def quick_json(tool, args):
    p = run([tool, "--pattern", "lifo", "--threads", "2", "--ops", "50", "--json"] + args)
    if p.returncode != 0:
        fail(f"{args}: exit {p.returncode}", p)
    s = json.loads(p.stdout)
    if s["ok"] is not True:
        fail(f"{args}: not ok", p)
    return s


def check_sizes(tool):
    """--alignment 0 is the library's default; --blocks N builds exactly N
    blocks whatever the block size and alignment (the tool itself fails if
    the library builds another count)."""
    s = quick_json(tool, ["--alignment", "0"])
    default = quick_json(tool, []).get("alignment", 0)
    if s.get("alignment") != default or default < 8 or default & (default - 1):
        fail(f"--alignment 0: alignment {s['alignment']}, expected the default {default}")
    print(f"ok: --alignment 0 accepted: the default alignment, {default}")
    for blocks in [1, 2, 7, 100, 1000]:
        for alignment in [0, 1, 8, 16, 64, 4096]:
            for block_size in [1, 24, 64, 100, 4096, 10000]:
                args = ["--blocks", str(blocks), "--alignment", str(alignment), "--block-size", str(block_size)]
                s = quick_json(tool, args)
                # below a pointer's alignment (at most 8) the library raises it
                got = s["alignment"]
                checks = {
                    "nblocks == --blocks": s["nblocks"] == s["blocks"] == s["nfree_end"] == blocks,
                    "alignment echoed": got == (alignment or default)
                    or (alignment < 8 and alignment <= got <= 8 and got & (got - 1) == 0),
                    "block size a multiple of it, at least what was asked":
                        s["block_size"] % s["alignment"] == 0 and s["block_size"] >= block_size
                        and s["block_size"] - block_size < max(s["alignment"], 16),
                }
                bad = [k for k, v in checks.items() if not v]
                if bad:
                    fail(f"{' '.join(args)}: {', '.join(bad)}: {s}")
    print("ok: --blocks N is exactly N for N in 1..1000 x alignment 0..4096 x block size 1..10000")


def check_options(tool):
    bad = [
        ["--bogus"], ["--threads", "0"], ["--threads", "abc"], ["--threads", "-3"],
        ["--threads"], ["--block-size", "0"], ["--blocks", "0"], ["--blocks", "1x"],
        ["--seconds", "0"], ["--seconds", "soon"], ["--ops", "0"], ["--ops", "-1"],
        ["--lock", "rwlock"], ["--pattern", "fifo"], ["--alignment", "3"], ["--alignment", "6"],
        ["--alignment", "-1"],
        ["--alignment", "8192"], ["--seed", "x"], ["--seconds", "1", "--ops", "5"],
        ["extra"], ["--pattern", "handoff", "--threads", "1"], ["--cache", "513"],
        ["--cache", "x"],
    ]
    for args in bad:
        p = run([tool] + args, timeout=30)
        lines = p.stderr.strip().splitlines()
        if p.returncode != 2:
            fail(f"{args}: exit {p.returncode}, expected 2", p)
        if not lines or not lines[0].startswith("amonesize-stress: ") or "usage:" not in p.stderr:
            fail(f"{args}: expected a one-line error then usage", p)
        if p.stdout:
            fail(f"{args}: printed on stdout", p)
        print(f"ok: {' '.join(args)!r} -> {lines[0]}")
    # The seed is a string in the JSON: above 2**53 a JSON number loses
    # precision in jq and JavaScript. It must round-trip exactly.
    for seed in ["9007199254740993", "18446744073709551615", "0"]:
        p = run([tool, "--seed", seed, "--pattern", "lifo", "--threads", "2", "--ops", "100", "--json"])
        if p.returncode != 0:
            fail(f"--seed {seed}: exit {p.returncode}", p)
        if f'"seed": "{seed}"' not in p.stdout or json.loads(p.stdout)["seed"] != seed:
            fail(f"--seed {seed}: not echoed exactly as a JSON string", p)
        print(f"ok: --seed {seed} echoed exactly, as a JSON string")
    check_sizes(tool)
    p = run([tool, "--help"])
    if p.returncode != 0 or "usage:" not in p.stdout:
        fail("--help", p)
    usage = p.stdout
    p = run([tool, "--version"])
    if p.returncode != 0 or not p.stdout.startswith("amonesize-stress "):
        fail("--version", p)
    print("ok: --help and --version")
    check_manual(usage)


def check_manual(usage):
    """The man page documents every option of --help and renders without a
    warning."""
    page = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "amonesize-stress.1")
    with open(page) as f:
        roff = f.read().replace("\\-", "-")
    options = sorted(set(re.findall(r"--[a-z][a-z-]*", usage)))
    missing = [o for o in options if not re.search(r"^\.(B|BI|BR|OP|TP)?\s*" + re.escape(o) + r"\b", roff,
                                                   re.MULTILINE)]
    if len(options) < 15 or missing:
        fail(f"the man page does not document {missing} (of {options})")
    print(f"ok: the man page documents all {len(options)} options of --help")
    groff = shutil.which("groff")
    if groff is None:
        print("skip: groff is not installed: the man page was not rendered")
        return
    p = run([groff, "-man", "-ww", "-z", "-Tutf8", page])
    if p.returncode != 0 or p.stderr:
        fail("groff -man -ww reports on the man page", p)
    print("ok: groff -man -ww renders the man page without a warning")


def main():
    what, tool, wrapper = sys.argv[1], sys.argv[2], sys.argv[3:]
    if what == "runs":
        check_runs(tool, wrapper)
    elif what == "broken":
        check_broken(tool, wrapper)
    elif what == "options":
        check_options(tool)
    else:
        fail("unknown check " + what)


if __name__ == "__main__":
    main()
