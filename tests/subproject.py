#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""libamonesize as a Meson subproject of a parent project.

usage: subproject.py MESON SOURCE_ROOT CC...

A parent project with this tree as subprojects/amonesize (and the .wrap a
user would write) builds examples/basic.c against dependency('amonesize'),
once with default_library=static and once shared. Asserted:
- the parent has no tests, and nothing of ours but the library is built by
  default (no tests, tools, benchmark, fuzzer or examples);
- default_library is honoured: static, the program has no NEEDED
  libamonesize; shared, it needs libamonesize.so.0; either way it runs;
- meson install installs nothing of ours but the library, its headers, the
  pkg-config file and the CMake package.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

WRAP = """[wrap-git]
url = https://example.invalid/libamonesize.git
revision = v0.2.0
depth = 1

[provide]
dependency_names = amonesize
"""

PARENT = """project('parent', 'c', default_options: ['c_std=c11'])
amonesize = dependency('amonesize')
executable('app', 'basic.c', dependencies: amonesize, install: true)
"""

# What a subproject may install, relative to the prefix: the parent's own
# program, and the library's files.
INSTALLABLE = [
    r"bin/app",
    r"lib(/[^/]+)?/libamonesize\.(a|so(\.\d+)*)",
    r"lib(/[^/]+)?/pkgconfig/amonesize\.pc",
    r"lib(/[^/]+)?/cmake/amonesize/amonesizeConfig(Version)?\.cmake",
    r"include/amonesize(_[a-z]+)?\.h",
    r"include/amonesize/[a-z_]+\.h",
]


def fail(msg, out=None):
    if out:
        print(out[-4000:])
    print("FAIL:", msg)
    sys.exit(1)


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        fail(f"{' '.join(cmd)}: exit {p.returncode}", p.stdout + p.stderr)
    return p.stdout


def main():
    meson, src, cc = sys.argv[1], sys.argv[2], sys.argv[3:]
    with tempfile.TemporaryDirectory() as tmp:
        parent = os.path.join(tmp, "parent")
        os.makedirs(os.path.join(parent, "subprojects"))
        os.symlink(os.path.abspath(src), os.path.join(parent, "subprojects", "amonesize"))
        with open(os.path.join(parent, "subprojects", "amonesize.wrap"), "w") as f:
            f.write(WRAP)
        with open(os.path.join(parent, "meson.build"), "w") as f:
            f.write(PARENT)
        with open(os.path.join(src, "examples", "basic.c")) as fin, \
                open(os.path.join(parent, "basic.c"), "w") as fout:
            fout.write(fin.read())
        env = dict(os.environ, CC=" ".join(cc))
        for lib in ["static", "shared"]:
            build = os.path.join(tmp, "build-" + lib)
            # --force-fallback-for: an amonesize installed on this machine
            # must not stand in for the subproject.
            run([meson, "setup", build, parent, "--prefix=/usr", "-Ddefault_library=" + lib,
                 "--force-fallback-for=amonesize"], env=env)
            tests = json.loads(run([meson, "introspect", "--tests", build]))
            if tests:
                fail(f"{lib}: the parent has tests of ours: {[t['name'] for t in tests]}")
            targets = json.loads(run([meson, "introspect", "--targets", build]))
            built = sorted({t["name"] for t in targets if t["build_by_default"]} - {"app"})
            if built != ["amonesize"]:
                fail(f"{lib}: the subproject builds more than the library by default: {built}")
            run([meson, "compile", "-C", build])
            app = os.path.join(build, "app")
            dyn = run(["readelf", "-d", app])
            needs = re.search(r"NEEDED.*libamonesize", dyn) is not None
            if needs != (lib == "shared"):
                fail(f"default_library={lib}: app {'needs' if needs else 'does not need'} "
                     "the shared library", dyn)
            out = run([app])
            if "after free_all" not in out:
                fail(f"{lib}: the program did not run to the end", out)
            dest = os.path.join(tmp, "dest-" + lib)
            run([meson, "install", "-C", build, "--destdir", dest, "--no-rebuild"])
            files = sorted(os.path.relpath(os.path.join(d, f), os.path.join(dest, "usr"))
                           for d, _, fs in os.walk(dest) for f in fs)
            extra = [f for f in files if not any(re.fullmatch(p, f) for p in INSTALLABLE)]
            if extra:
                fail(f"{lib}: the subproject installs more than the library: {extra}")
            for want in [r".*/libamonesize\.a", r"include/amonesize\.h", r".*/amonesize\.pc",
                         r".*/amonesizeConfig\.cmake"]:
                if not any(re.fullmatch(want, f) for f in files):
                    fail(f"{lib}: {want} was not installed: {files}")
            print(f"ok: default_library={lib}: app {'needs' if needs else 'has no NEEDED'} "
                  f"libamonesize; no tests; installed: {' '.join(files)}")


if __name__ == "__main__":
    main()
