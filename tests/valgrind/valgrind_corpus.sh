#!/bin/sh
# Every capture of ../shared/pcaps through keyprov under valgrind memcheck:
# no invalid read or write, no use of uninitialised memory, no leak.
# usage: valgrind_corpus.sh KEYPROV PCAP_DIR
set -u
KEYPROV=$1
PCAPS=$2
if ! command -v valgrind >/dev/null 2>&1; then
    if [ -n "${CI:-}" ]; then echo "FAIL valgrind is not installed"; exit 1; fi
    echo "SKIP valgrind is not installed"; exit 77
fi
if [ ! -d "$PCAPS" ]; then
    if [ -n "${CI:-}" ]; then echo "FAIL $PCAPS is missing"; exit 1; fi
    echo "SKIP $PCAPS is missing (../shared/pcaps beside the source tree)"; exit 77
fi
if ldd "$KEYPROV" 2>/dev/null | grep -q libasan; then
    echo "SKIP valgrind does not run sanitizer builds (this test runs in the plain build)"; exit 77
fi
pass=0
fail=0
LOG=$(mktemp)
for f in "$PCAPS"/*.pcap "$PCAPS"/*.pcapng; do
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --show-leak-kinds=definite,indirect "$KEYPROV" --json --all -r "$f" >/dev/null 2>"$LOG"
    rc=$?
    if [ $rc -eq 99 ] || [ $rc -gt 2 ]; then
        echo "FAIL $(basename "$f"): valgrind exit $rc"
        head -30 "$LOG"
        fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
done
rm -f "$LOG"
echo "valgrind: $pass captures clean, $fail with memory errors or leaks"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
