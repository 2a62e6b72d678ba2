#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run amonesize-stress briefly and assert on what it reports.

usage: stress_check.py runs TOOL [WRAPPER...]      every pattern x lock, JSON asserted, also
                                                   --hardened; SIGINT and SIGTERM mid-run end
                                                   with a summary; waiting with impossible
                                                   deadlines times out but passes; worker
                                                   processes sharing a pool, killed and
                                                   replaced, give every block back
                                                   (STRESS_CACHE=N: through per-thread caches,
                                                   and a 1-block pool must progress, or fail
                                                   with --hoard)
       stress_check.py broken TOOL [WRAPPER...]    a lock that locks nothing must fail, and so
                                                   must a crit_wait that breaks its deadline, a
                                                   write into a freed block (--hardened), and a
                                                   supervisor that does not reap
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

PATTERNS = ["lifo", "burst", "random", "handoff", "wait", "mixed"]


def run(cmd, timeout=120):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def fail(msg, proc=None):
    print("FAIL:", msg)
    if proc is not None:
        print("stdout:", proc.stdout[-3000:])
        print("stderr:", proc.stderr[-3000:])
    sys.exit(1)


def wait_checks(s, waited):
    """What the JSON of a run with wait threads must say: every call
    accounted for, nothing returned past its deadline by more than the
    tolerance, no timeout before its deadline. waited: the run was designed
    to wait."""
    w = s["wait"]
    if w is None:
        return {"wait threads ran": False}
    checks = {
        "wait threads ran": w["threads"] >= 1 and w["calls"] > 0,
        "waits <= calls, timeouts <= calls": w["waits"] <= w["calls"] and w["timeouts"] <= w["calls"],
        "timeouts are the wait pattern's failed allocations":
            s["patterns"]["wait"]["failed_allocations"] == w["timeouts"],
        "nothing past its deadline by more than the tolerance":
            0 <= w["worst_timeout_lateness_ms"] <= w["worst_lateness_ms"] <= w["tolerance_ms"],
        "no timeout before its deadline": w["earliest_timeout_ms"] == 0,
        "deadline as asked": w["deadline_ms"] == 200,
    }
    if waited:
        checks["threads waited (the run was designed to)"] = w["waits"] > 0 and w["longest_wait_ms"] > 0
    return checks


def check_runs(tool, wrapper):
    cache = int(os.environ.get("STRESS_CACHE", "0"))
    check_patterns(tool, wrapper, cache, hardened=False)
    check_patterns(tool, wrapper, cache, hardened=True)
    check_impossible_deadlines(tool, wrapper)
    check_signals(tool, wrapper, cache)
    if cache:
        check_progress(tool, wrapper, cache)
        print("skip: worker processes: they use no caches, and the run without STRESS_CACHE runs them")
    elif under_qemu(wrapper):
        print(f"skip: worker processes: {QEMU_WHY}")
    else:
        check_processes(tool, wrapper)


def check_patterns(tool, wrapper, cache, hardened):
    """Every pattern x lock, its JSON asserted; --hardened: the same with a
    state bitmap and AM_ONESIZE_CHECK_FREED, fewer operations, and the pool's
    freed_writes and retired 0."""
    slow = bool(wrapper)
    ops = ("500" if slow else "5000") if hardened else ("1500" if slow else "20000")
    for lock in ["mutex", "spin"]:
        for pattern in PATTERNS:
            threads = 3 if slow else 4
            cmd = wrapper + [tool, "--pattern", pattern, "--lock", lock, "--seed", "42", "--json",
                             "--cache", str(cache)] + (["--hardened"] if hardened else [])
            if pattern == "wait":
                # the default pool, a quarter of the threads: 1 block, so
                # they wait; every pair takes a hold, hence fewer of them
                cmd += ["--ops", ("200" if slow else "600") if hardened else ("600" if slow else "2000")]
            else:
                cmd += ["--ops", ops, "--blocks", "200"]
            if pattern != "mixed":
                cmd += ["--threads", str(threads)]
            blocks = max(1, threads // 4) if pattern == "wait" else 200
            p = run(cmd, timeout=600)
            where = f"{pattern}/{lock}" + (f"/cache {cache}" if cache else "") + ("/hardened" if hardened else "")
            if p.returncode != 0:
                fail(f"{where}: exit status {p.returncode}", p)
            s = json.loads(p.stdout)
            checks = {
                "ok": s["ok"] is True,
                "no violations": s["total"]["violations"] == 0,
                "every block back": s["nfree_end"] == s["nblocks"] == blocks,
                "allocations == frees": s["allocations"] == s["frees"] > 0,
                "iteration visits nothing at the end": s["iterated_at_end"] == 0,
                "counts reconciled": s["reconciles"] >= 1,
                "seed echoed, as a string": s["seed"] == "42",
                "lock echoed": s["lock"] == lock,
                "cache echoed": s["cache"] == cache,
                "low-water mark below capacity": s["nfree_min"] < s["nblocks"],
                "threads mode": s["mode"] == "threads" and s["processes"] is None and s["shared"] is None,
            }
            if hardened:
                h = s["hardened"] or {}
                checks["hardened: a state bitmap and the fill check"] = (
                    h.get("check_freed") is True and h.get("state_bytes", 0) * 8 >= blocks)
                checks["hardened: no write into a freed block, none retired"] = (
                    h.get("freed_writes") == 0 and h.get("retired") == 0)
            else:
                checks["not hardened"] = s["hardened"] is None
            if pattern == "mixed":
                # both locks can wait (spin through a futex): wait joins
                checks["all patterns ran"] = all(
                    s["patterns"].get(k, {}).get("ops", 0) > 0 for k in PATTERNS[:5])
                checks["diagnostics reconciled while running"] = s["reconciles"] > 1
                checks.update(wait_checks(s, waited=False))
            elif pattern == "wait":
                checks["the pattern ran"] = s["patterns"][pattern]["ops"] > 0
                checks.update(wait_checks(s, waited=True))
            else:
                checks["the pattern ran"] = s["patterns"][pattern]["ops"] > 0
                checks["no wait threads"] = s["wait"] is None
            bad = [k for k, v in checks.items() if not v]
            if bad:
                fail(f"{where}: {', '.join(bad)}: {p.stdout}", p)
            waits = (f", {s['wait']['waits']} waits, {s['wait']['timeouts']} timeouts, longest "
                     f"{s['wait']['longest_wait_ms']:.1f} ms, at worst {s['wait']['worst_lateness_ms']:.1f} ms "
                     f"late (tolerance {s['wait']['tolerance_ms']} ms)" if s["wait"] else "")
            print(f"ok: {where}: {s['total']['ops']} ops, nfree_min {s['nfree_min']}, "
                  f"{s['reconciles']} reconciliations{waits}")


def processes_checks(s, processes, blocks):
    """What the JSON of every --processes run must say: every block back,
    nothing left in transit or attached, the reaps' count the pool's, no
    violation."""
    sh = s["shared"]
    return {
        "ok": s["ok"] is True,
        "no violations": s["total"]["violations"] == 0,
        "processes mode": s["mode"] == "processes" and s["processes"] == processes and s["threads"] is None,
        "every block back": s["nfree_end"] == s["nblocks"] == blocks,
        "allocations == frees": s["allocations"] == s["frees"] > 0,
        "nothing in transit after the rings were drained": sh["in_transit_after"] == 0,
        "the rings held what was in transit": sh["drained_end"] == sh["in_transit_end"],
        "only the supervisor attached at the end": sh["owners_end"] == 1,
        "am_onesize_shared_check passes at the end": sh["check_end"] == 0,
        "the last reap brings back nothing": sh["reaped_at_end"] == 0,
        "no worker died but those killed": sh["deaths"] == 0,
        "each killed worker replaced": sh["started"] == processes + sh["kills"],
        "recoveries >= 0, at most one per death": 0 <= sh["recoveries"] <= sh["kills"],
        # a waiter may sleep in the pool through every reconciliation: the
        # counts are then reconciled give or take a block per sleeper
        "counts reconciled while running": s["reconciles"] >= 1 and (
            sh["reconciles_exact"] >= 1 or s["pattern"] == "wait"),
        "the pool mapped at several addresses": sh["distinct_addresses"] >= 2,
    }


def check_processes(tool, wrapper):
    """Worker processes sharing a pool in a memfd, each mapping it itself:
    killed (SIGKILL) and replaced every 0.3 s, their blocks must come back
    by reaping, none may get two owners, the gifts of a killed giver must
    still be taken, and at the end every block is free.

    The wait pattern runs killed too: a process killed while it sleeps in
    am_onesize_shared_allocate_wait() must strand no other (the tool
    reports a stuck pool as "the pool hangs"); its workers mostly wait, so
    a killed one need not have held a block.

    Under Valgrind every worker process runs under it too (fork keeps it),
    about ten times slower but well within the time: the runs are longer
    there, and a worker with a memcheck error ends with Valgrind's exit
    status, which the supervisor reports as a death."""
    slow = bool(wrapper)
    secs = "6" if slow else "3"
    runs = [
        ("mixed, killed every 0.3 s", ["--seconds", secs, "--kill-every", "0.3"], 4, 1024, True),
        ("handoff, killed every 0.3 s", ["--pattern", "handoff", "--seconds", secs, "--kill-every", "0.3",
                                         "--blocks", "256"], 4, 256, True),
        ("wait, not killed", ["--pattern", "wait", "--processes", "8", "--seconds", "2"], 8, 2, False),
        ("wait, killed every 0.3 s", ["--pattern", "wait", "--processes", "8", "--seconds", secs,
                                      "--kill-every", "0.3"], 8, 2, True),
    ]
    for where, args, processes, blocks, killing in runs:
        cmd = wrapper + [tool, "--seed", "42", "--json"] + args
        if "--processes" not in args:
            cmd += ["--processes", str(processes)]
        p = run(cmd, timeout=600)
        if p.returncode != 0:
            fail(f"processes, {where}: exit status {p.returncode}", p)
        s = json.loads(p.stdout)
        sh = s["shared"]
        checks = processes_checks(s, processes, blocks)
        if killing:
            checks["kills > 0"] = sh["kills"] > 0
            checks["killed workers' blocks came back by reaping"] = (
                sh["reclaimed"] > 0 or "wait" in where) and sh["reaps"] > sh["kills"]
        else:
            checks["nobody killed"] = sh["kills"] == 0 and sh["kill_every"] is None
        if "handoff" in where:
            checks["gifts given and taken"] = sh["gives"] > 0 and sh["takes"] > 0
        if "wait" in where:
            checks["the wait pattern ran"] = s["patterns"]["wait"]["ops"] > 0
            checks.update(wait_checks(s, waited=True))
        bad = [k for k, v in checks.items() if not v]
        if bad:
            fail(f"processes, {where}: {', '.join(bad)}: {p.stdout}", p)
        print(f"ok: {processes} processes, {where}: {sh['kills']} killed, {sh['recoveries']} recoveries, "
              f"{sh['reclaimed']} blocks reaped ({sh['reused_after_reap']} reused), {sh['gives']} gives "
              f"({sh['taken_after_giver_died']} taken after their giver died), {sh['distinct_addresses']} "
              f"addresses, {s['reconciles']} reconciliations; every block back")
    check_processes_signal(tool, wrapper)


def check_processes_signal(tool, wrapper):
    """SIGINT to the supervisor mid-run (as Ctrl-C would, to the whole
    process group): the workers stop, the summary is complete, every block
    is back."""
    slow = bool(wrapper)
    cmd = wrapper + [tool, "--processes", "4", "--kill-every", "0.2", "--seconds", "300", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    time.sleep(6 if slow else 1.5)
    os.killpg(proc.pid, signal.SIGINT)
    p = finish(proc, cmd, 600 if slow else 60, "processes, SIGINT mid-run")
    if proc.returncode != 0:
        fail(f"processes, SIGINT mid-run: exit status {proc.returncode}, expected 0", p)
    s = json.loads(p.stdout)
    checks = processes_checks(s, 4, 1024)
    checks["interrupted by SIGINT"] = s["interrupted"] == "SIGINT"
    checks["stopped early"] = s["seconds"] < 250
    bad = [k for k, v in checks.items() if not v]
    if bad:
        fail(f"processes, SIGINT mid-run: {', '.join(bad)}: {p.stdout}", p)
    print(f"ok: processes, SIGINT to the process group after {s['seconds']:.2f} s: complete JSON, every block "
          f"back, exit 0")


def check_impossible_deadlines(tool, wrapper):
    """Deadlines no call can meet (0 ms) on one block shared by 8 threads:
    most calls time out, which is legal, so the run passes; each thread
    still completes its pairs. The same in mixed, on 2 blocks.

    With deadline 0 no thread ever sleeps: every call fights for the lock,
    and an unfair lock can leave one thread without it for long (1.5 s seen
    under ThreadSanitizer beside another such test). That delay counts as
    lateness but is the lock's, not a missed deadline, so these runs allow
    10 s: they are about timeouts being legal; lateness is asserted by the
    runs designed to wait and by the broken checks."""
    slow = bool(wrapper)
    ops = 200 if slow else 2000
    hot = ["--wait-tolerance", "10000"]
    for lock in ["mutex", "spin"]:
        cmd = wrapper + [tool, "--pattern", "wait", "--lock", lock, "--deadline-ms", "0", "--blocks", "1",
                         "--threads", "8", "--ops", str(ops), "--seed", "42", "--json"] + hot
        p = run(cmd, timeout=600)
        where = f"wait/{lock}, --deadline-ms 0, 1 block, 8 threads"
        if p.returncode != 0:
            fail(f"{where}: exit status {p.returncode}, expected 0: timeouts are legal", p)
        s = json.loads(p.stdout)
        w = s["wait"]
        checks = {
            "ok": s["ok"] is True,
            "no violations": s["total"]["violations"] == 0,
            "timeouts reported": w["timeouts"] > 0,
            "every timeout is a failed allocation": s["total"]["failed_allocations"] == w["timeouts"],
            "no timeout before its deadline": w["earliest_timeout_ms"] == 0,
            "nothing later than the tolerance": w["worst_lateness_ms"] <= w["tolerance_ms"],
            "every thread completed its pairs": s["allocations"] == s["frees"] >= 8 * ops // 2,
            "every block back": s["nfree_end"] == s["nblocks"] == 1,
        }
        bad = [k for k, v in checks.items() if not v]
        if bad:
            fail(f"{where}: {', '.join(bad)}: {p.stdout}", p)
        print(f"ok: {where}: {w['timeouts']} timeouts of {w['calls']} calls, at worst "
              f"{w['worst_lateness_ms']:.1f} ms late, passed")
        # mixed on 2 blocks: the wait thread times out whenever the others
        # hold both, and that must not fail the run either
        cmd = wrapper + [tool, "--pattern", "mixed", "--lock", lock, "--deadline-ms", "0", "--blocks", "2",
                         "--ops", str(ops * 5), "--seed", "42", "--json"] + hot
        p = run(cmd, timeout=600)
        where = f"mixed/{lock}, --deadline-ms 0, 2 blocks"
        if p.returncode != 0:
            fail(f"{where}: exit status {p.returncode}, expected 0: timeouts are legal", p)
        s = json.loads(p.stdout)
        checks = wait_checks(s, waited=False)
        checks["ok"] = s["ok"] is True
        checks["every block back"] = s["nfree_end"] == s["nblocks"] == 2
        del checks["deadline as asked"]
        bad = [k for k, v in checks.items() if not v]
        if bad:
            fail(f"{where}: {', '.join(bad)}: {p.stdout}", p)
        print(f"ok: {where}: the wait thread timed out {s['wait']['timeouts']} times of "
              f"{s['wait']['calls']} calls, at worst {s['wait']['worst_lateness_ms']:.1f} ms late, passed")


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


# Shared pools between processes rely on the kernel's robust futex lists
# (a process that dies holding the lock is reported to the next locker).
QEMU_WHY = ("qemu-user does not implement robust futex lists (set_robust_list fails with ENOSYS), "
            "so a worker killed holding the pool's lock would never be reported; shared pools are "
            "tested on the host")


def under_qemu(wrapper):
    return any("qemu" in os.path.basename(w) for w in wrapper)


def check_broken(tool, wrapper):
    check_broken_lock(tool, wrapper)
    check_broken_wait(tool, wrapper)
    check_broken_free_write(tool, wrapper)
    if under_qemu(wrapper):
        print(f"skip: --broken-reap (worker processes): {QEMU_WHY}")
    else:
        check_broken_reap(tool, wrapper)


def check_broken_free_write(tool, wrapper):
    """--hardened: one write into a freed block must be found by the pool's
    fill check when it hands the block out again, reported in the JSON and
    fail the run."""
    cmd = wrapper + [tool, "--hardened", "--broken-free-write", "--pattern", "lifo", "--threads", "1",
                     "--ops", "1000", "--json"]
    p = run(cmd, timeout=300)
    if p.returncode == 2:
        fail("--broken-free-write was rejected as an option", p)
    checks = {"exit status 1": p.returncode == 1, "a violation reported": "VIOLATION" in p.stderr}
    if p.returncode == 1:
        s = json.loads(p.stdout)
        h = s["hardened"]
        checks["JSON not ok"] = s["ok"] is False
        checks["freed_writes 1, retired 1"] = h["freed_writes"] == 1 and h["retired"] == 1
    bad = [k for k, v in checks.items() if not v]
    if bad:
        fail(f"--broken-free-write: {', '.join(bad)}", p)
    line = next(x for x in p.stderr.splitlines() if "freed blocks" in x)
    print(f"ok: --hardened --broken-free-write: exit 1: {line[:150]}")


def check_broken_reap(tool, wrapper):
    """A supervisor that kills workers but never reaps: their blocks never
    come back, and the run must fail saying so."""
    cmd = wrapper + [tool, "--processes", "4", "--kill-every", "0.3", "--seconds", "3", "--broken-reap",
                     "--json"]
    p = run(cmd, timeout=300)
    if p.returncode == 2:
        fail("--broken-reap was rejected as an option", p)
    checks = {
        "exit status 1": p.returncode == 1,
        "blocks reported lost": "VIOLATION" in p.stderr and "blocks were lost" in p.stderr,
    }
    if p.returncode == 1:
        s = json.loads(p.stdout)
        checks["JSON not ok"] = s["ok"] is False
        checks["kills, no reap, blocks missing"] = (s["shared"]["kills"] > 0 and s["shared"]["reaps"] == 0
                                                    and s["nfree_end"] < s["nblocks"])
    bad = [k for k, v in checks.items() if not v]
    if bad:
        fail(f"--broken-reap: {', '.join(bad)}", p)
    line = next(x for x in p.stderr.splitlines() if "blocks were lost" in x)
    print(f"ok: --broken-reap: exit 1: {line[:150]}")


def check_broken_wait(tool, wrapper):
    """A crit_wait that times out early, oversleeps or never returns: the
    deadline checks must fail the run, and say which promise broke."""
    expect = {
        "early": "before its deadline",
        "late": "more than the tolerance",
        "stuck": "stuck: ",
    }
    for mode, phrase in expect.items():
        cmd = wrapper + [tool, "--pattern", "wait", "--broken-wait", mode, "--seconds", "10", "--json"]
        p = run(cmd, timeout=300)
        if p.returncode == 2:
            fail(f"--broken-wait {mode} was rejected as an option", p)
        checks = {
            "exit status 1": p.returncode == 1,
            f"a violation saying {phrase!r}": "VIOLATION" in p.stderr and phrase in p.stderr,
        }
        if p.returncode == 1:
            s = json.loads(p.stdout)
            checks["JSON not ok, the violations on wait"] = (
                s["ok"] is False and s["patterns"]["wait"]["violations"] >= 1)
            checks["stopped early"] = mode != "stuck" or s["seconds"] < 9
            checks["every block back all the same"] = s["nfree_end"] == s["nblocks"]
        bad = [k for k, v in checks.items() if not v]
        if bad:
            fail(f"--broken-wait {mode}: {', '.join(bad)}", p)
        line = next(x for x in p.stderr.splitlines() if phrase in x)
        print(f"ok: --broken-wait {mode}: exit 1: {line[:150]}")


def check_broken_lock(tool, wrapper):
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


def check_wait_options(tool):
    """The wait pattern's pool is a quarter of the threads unless --blocks
    says otherwise; its options are honoured and echoed; the tolerance is
    stated in --help and in the summary."""
    for threads, blocks in [(1, 1), (3, 1), (8, 2), (13, 3)]:
        p = run([tool, "--pattern", "wait", "--threads", str(threads), "--ops", "20", "--json"])
        s = json.loads(p.stdout) if p.returncode == 0 else fail(f"wait, {threads} threads: exit", p)
        if s["nblocks"] != blocks or s["wait"]["threads"] != threads:
            fail(f"wait, {threads} threads: {s['nblocks']} blocks, expected {blocks}: {p.stdout}")
    s = json.loads(run([tool, "--pattern", "wait", "--threads", "4", "--blocks", "3", "--ops", "20",
                        "--json"]).stdout)
    if s["nblocks"] != 3:
        fail(f"wait --blocks 3: {s['nblocks']} blocks")
    print("ok: wait: a quarter of the threads in blocks, at least 1, unless --blocks says otherwise")
    args = ["--deadline-ms", "7", "--hold-us", "0", "--wait-tolerance", "1234"]
    p = run([tool, "--pattern", "wait", "--threads", "4", "--ops", "20", "--json"] + args)
    s = json.loads(p.stdout) if p.returncode == 0 else fail(f"{args}: exit {p.returncode}", p)
    w = s["wait"]
    if (w["deadline_ms"], w["hold_us"], w["tolerance_ms"]) != (7, 0, 1234):
        fail(f"{args}: not echoed: {w}")
    p = run([tool, "--pattern", "wait", "--threads", "4", "--ops", "20", "--wait-tolerance", "1234"])
    if p.returncode != 0 or "tolerance 1234 ms (--wait-tolerance)" not in p.stdout:
        fail("the summary does not state the tolerance and why", p)
    p = run([tool, "--pattern", "wait", "--threads", "4", "--ops", "20"])
    if p.returncode != 0 or not re.search(r"tolerance \d+ ms \(the default", p.stdout):
        fail("the summary does not state the default tolerance", p)
    print("ok: --deadline-ms, --hold-us and --wait-tolerance honoured; the summary states the tolerance")


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
        ["--pattern", "wait", "--deadline-ms", "-1"], ["--pattern", "wait", "--deadline-ms", "60001"],
        ["--pattern", "wait", "--hold-us", "100001"], ["--pattern", "wait", "--wait-tolerance", "x"],
        ["--pattern", "wait", "--broken-wait", "sometimes"], ["--pattern", "wait", "--broken-lock"],
        ["--pattern", "lifo", "--deadline-ms", "5"], ["--pattern", "handoff", "--hold-us", "5"],
        ["--pattern", "mixed", "--broken-lock", "--wait-tolerance", "5"],
        ["--processes", "0"], ["--processes", "65"], ["--processes", "x"], ["--kill-every", "1"],
        ["--processes", "2", "--kill-every", "0"], ["--processes", "2", "--kill-every", "soon"],
        ["--processes", "2", "--threads", "2"], ["--processes", "2", "--lock", "mutex"],
        ["--processes", "2", "--cache", "8"], ["--processes", "2", "--hardened"],
        ["--processes", "2", "--broken-lock"], ["--processes", "1", "--pattern", "handoff"],
        ["--broken-reap"], ["--broken-free-write"], ["--hardened", "--broken-free-write"],
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
    check_wait_options(tool)
    p = run([tool, "--help"])
    if p.returncode != 0 or "usage:" not in p.stdout:
        fail("--help", p)
    if not re.search(r"--wait-tolerance MS .*default 250 ms", p.stdout):
        fail("--help does not state the default tolerance", p)
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
