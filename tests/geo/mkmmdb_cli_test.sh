#!/bin/sh
# kp-mkmmdb's command line: exit codes, one-line errors naming FILE:LINE,
# stdin/stdout, reproducible output.
# usage: mkmmdb_cli_test.sh KP_MKMMDB
set -u
mk=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kp-mkmmdb-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0

# expect CODE STDERR_SUBSTRING CMD...: exit code and (if non-empty) a
# one-line stderr containing the text.
expect() {
    code=$1
    text=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -ne "$code" ]; then
        echo "FAIL: $*: exit $rc, want $code; stderr: $(cat "$tmp/err")"
        fail=1
        return
    fi
    if [ -n "$text" ]; then
        if ! grep -qF -- "$text" "$tmp/err"; then
            echo "FAIL: $*: stderr [$(cat "$tmp/err")] lacks [$text]"
            fail=1
        fi
    fi
}

one_line() {
    n=$(wc -l <"$tmp/err")
    if [ "$n" -ne 1 ]; then
        echo "FAIL: $1: $n lines on stderr, want 1"
        fail=1
    fi
}

printf '10.0.0.0/8 cc=US\n# comment\n10.0.0.1/8 cc=US\n' >"$tmp/bad.spec"
printf '10.0.0.0/8 cc=US as_org="Amazon.com, Inc."\n2001:db8::/32 country.iso_code=DE\n' >"$tmp/good.spec"
printf '1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."\n1.0.1.0,1.0.0.255,1,x\n' >"$tmp/bad.csv"

expect 2 "usage:" "$mk"
expect 0 "" "$mk" --help
expect 2 "no output" "$mk" --spec "$tmp/good.spec"
expect 2 "unknown argument: --bogus" "$mk" --bogus
expect 2 "missing value for: -o" "$mk" --spec "$tmp/good.spec" -o
expect 2 "kp-mkmmdb: $tmp/bad.spec:3: bad network '10.0.0.1/8': host bits set" \
    "$mk" --spec "$tmp/bad.spec" -o "$tmp/x.mmdb"
one_line bad.spec
[ -e "$tmp/x.mmdb" ] && { echo "FAIL: output written despite the error"; fail=1; }
expect 2 "kp-mkmmdb: $tmp/bad.csv:2: end address is below start address" \
    "$mk" --asn-csv "$tmp/bad.csv" -o "$tmp/x.mmdb"
one_line bad.csv
expect 2 "kp-mkmmdb: $tmp/none.spec: cannot open: No such file or directory" \
    "$mk" --spec "$tmp/none.spec" -o "$tmp/x.mmdb"
one_line none.spec
expect 2 "kp-mkmmdb: $tmp/no/dir/x.mmdb: cannot create" \
    "$mk" --spec "$tmp/good.spec" -o "$tmp/no/dir/x.mmdb"
one_line no-dir
expect 2 "build-epoch" "$mk" --spec "$tmp/good.spec" -o "$tmp/x.mmdb" --build-epoch 0
expect 2 "build-epoch" "$mk" --spec "$tmp/good.spec" -o "$tmp/x.mmdb" --build-epoch 12x
expect 2 "record-size" "$mk" --spec "$tmp/good.spec" -o "$tmp/x.mmdb" --record-size 26
expect 2 "stdin" "$mk" --spec - --spec - -o "$tmp/x.mmdb"

# stdin in, file out; and the same through stdout: identical bytes
expect 0 "" sh -c "\"$mk\" --spec - -o \"$tmp/a.mmdb\" --build-epoch 1781654400 <\"$tmp/good.spec\""
expect 0 "" sh -c "\"$mk\" --spec \"$tmp/good.spec\" -o - --build-epoch 1781654400 >\"$tmp/b.mmdb\""
cmp -s "$tmp/a.mmdb" "$tmp/b.mmdb" || { echo "FAIL: stdout output differs from file output"; fail=1; }
grep -q "MaxMind.com" "$tmp/a.mmdb" || { echo "FAIL: no metadata marker"; fail=1; }

# reproducible: SOURCE_DATE_EPOCH stands in for --build-epoch
expect 0 "" env SOURCE_DATE_EPOCH=1781654400 "$mk" --spec "$tmp/good.spec" -o "$tmp/c.mmdb"
cmp -s "$tmp/a.mmdb" "$tmp/c.mmdb" || { echo "FAIL: SOURCE_DATE_EPOCH output differs"; fail=1; }

# -v prints one summary line
expect 0 "networks" "$mk" -v --spec "$tmp/good.spec" -o "$tmp/d.mmdb" --build-epoch 1
one_line verbose

[ $fail -eq 0 ] && echo "kp-mkmmdb command line ok"
exit $fail
