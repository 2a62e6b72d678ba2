#!/bin/sh
# SPDX-License-Identifier: MIT
# bench-quick: the benchmark's self-checks, never a timing assertion.
# --list exits 1 if a row whose library could be loaded is refused (its
# functions resolve to another file than the one it names); --quick exits 1
# if a block went missing or a pool did not end full; --standalone exits
# nonzero if its loop (kept blocks included) could not allocate. The times
# they print are not looked at.
set -e
"$1" --list
"$1" --quick
"$1" --standalone onesize --reps 1 --iterations 100000
"$1" --standalone glibc --reps 1 --iterations 100000
