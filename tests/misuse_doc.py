#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every test docs/misuse.md names exists.

usage: misuse_doc.py SOURCE_ROOT MESON BUILD_ROOT

A name like test_foo must be a function in tests/*.c; a name like
memcheck-sees-leak must be a test meson knows (meson test --list), unless it
needs Valgrind or a sanitizer that this build has no test of.
"""
import json
import pathlib
import re
import subprocess
import sys

src, meson, build = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
doc = (src / "docs" / "misuse.md").read_text()
rows = [line for line in doc.splitlines() if line.startswith("|") and not line.startswith("|---")]
named = set()
for row in rows:
    last = row.rstrip("|").split("|")[-1]
    named.update(re.findall(r"`([a-z][a-z0-9_-]+)`", last))
functions = set()
for c in (src / "tests").glob("*.c"):
    functions.update(re.findall(r"^static void (test_\w+)\(void \*\*state\)", c.read_text(), re.M))
intro = subprocess.run([meson, "introspect", "--tests", build], capture_output=True, text=True, check=True).stdout
tests = {t["name"]: t["cmd"] for t in json.loads(intro)}


def tool(name):
    """The debugger or sanitizer a test needs, or None: memcheck-* and asan-*
    are tests/debuggers (built only with Valgrind client requests, or only
    where ASan links), *-valgrind and *-tsan the runs of other tests;
    stress* need the stress tool (built with the pthread adapter)."""
    for prefix in ("memcheck-", "asan-"):
        if name.startswith(prefix):
            return prefix
    m = re.search(r"-(valgrind|tsan|asan)(?:-|$)", name)
    if m is not None:
        return m.group(1)
    return "amonesize-stress" if name.startswith("stress") else None


# A test that needs a tool this build lacks is not registered here (at most
# a stand-in that runs skip.sh to say why); it is checked on builds with it.
tools_here = {tool(n) for n, cmd in tests.items() if not any("skip.sh" in c for c in cmd)} - {None}
missing = []
for name in sorted(named):
    if name.startswith("test_"):
        if name not in functions:
            missing.append(name)
    elif "-" in name and name not in tests and (tool(name) is None or tool(name) in tools_here):
        missing.append(name)
if missing:
    print("FAIL: docs/misuse.md names tests that do not exist:", ", ".join(missing))
    sys.exit(1)
print(f"ok: {len(named)} names in docs/misuse.md, {len(rows)} rows; every test exists")
