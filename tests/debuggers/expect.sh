#!/bin/sh
# SPDX-License-Identifier: MIT
# Run a program under a memory debugger and check what the debugger said.
# usage: expect.sh report PATTERN -- CMD...   the run fails and stderr matches PATTERN
#        expect.sh clean  -        -- CMD...   the run succeeds with no report at all
set -u
want=$1 pattern=$2
shift 3
out=$("$@" 2>&1)
rc=$?
reports='ERROR SUMMARY: [1-9]|AddressSanitizer|Invalid (read|write)|uninitialised|definitely lost|possibly lost'
if [ "$want" = report ]; then
    if [ $rc -ne 0 ] && printf '%s\n' "$out" | grep -Eq "$pattern"; then
        echo "ok: reported ($(printf '%s\n' "$out" | grep -Em1 "$pattern" | sed 's/^==[0-9]*== //'))"
        exit 0
    fi
    printf '%s\n' "$out"
    echo "FAIL: expected a report matching '$pattern' and a failing exit (exit was $rc): the debugger stayed silent"
    exit 1
fi
if [ $rc -eq 0 ] && ! printf '%s\n' "$out" | grep -Eq "$reports"; then
    echo "ok: clean run, no report"
    exit 0
fi
printf '%s\n' "$out"
echo "FAIL: a clean program produced a report (exit $rc)"
exit 1
