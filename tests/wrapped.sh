#!/bin/sh
# SPDX-License-Identifier: MIT
# Start the program $EXE through the exe wrapper $EXE_WRAPPER (words, e.g.
# "qemu-aarch64"), for scripts that start a program themselves and know
# nothing of wrappers (stress_check.py options).
# usage: EXE=PROGRAM EXE_WRAPPER='WRAPPER ARGS' wrapped.sh ARGS...
# shellcheck disable=SC2086
exec $EXE_WRAPPER "$EXE" "$@"
