#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every test docs/misuse.md names exists.

usage: misuse_doc.py SOURCE_ROOT MESON BUILD_ROOT

A name like test_foo must be a function in tests/*.c; a name like
memcheck-sees-leak must be a test meson knows (meson test --list).
"""
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
listed = subprocess.run([meson, "test", "--list", "-C", build], capture_output=True, text=True, check=True).stdout
tests = {line.split(" / ")[-1].strip() for line in listed.splitlines() if " / " in line}
missing = []
for name in sorted(named):
    if name.startswith("test_"):
        if name not in functions:
            missing.append(name)
    elif "-" in name and name not in tests:
        missing.append(name)
if missing:
    print("FAIL: docs/misuse.md names tests that do not exist:", ", ".join(missing))
    sys.exit(1)
print(f"ok: {len(named)} names in docs/misuse.md, {len(rows)} rows; every test exists")
