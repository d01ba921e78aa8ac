#!/bin/sh
# libkeyprov exports only kp_* symbols (STYLE.md), and every one of them is
# declared in include/keyprov.h.
set -u
LIB=$1
HDR=$2
syms=$(nm -D --defined-only "$LIB" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort)
bad=$(echo "$syms" | grep -v '^kp_' || true)
fail=0
if [ -n "$bad" ]; then
    echo "FAIL symbols outside kp_*: $bad"
    fail=1
fi
for s in $syms; do
    grep -q "\\b$s(" "$HDR" || { echo "FAIL $s is exported but not declared in keyprov.h"; fail=1; }
done
n=$(echo "$syms" | wc -l)
[ "$n" -ge 20 ] || { echo "FAIL only $n exported symbols"; fail=1; }
echo "$n symbols exported, all kp_* and declared"
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
