#!/bin/sh
# bench-quick: the benchmark's self-checks, never a timing assertion.
# --list exits 1 if a row whose library could be loaded is refused (its
# functions resolve to another file than the one it names); --quick exits 1
# if a block went missing or a pool did not end full.
set -e
"$1" --list
"$1" --quick
