#!/bin/sh
# Cross-check: libmaxminddb's own mmdblookup (Debian mmdb-bin) reads what
# kp-mkmmdb writes as the specs say, at every record size.
# usage: mmdblookup_check.sh KP_MKMMDB FIXTURES_DIR
# Exit 0 pass, 1 fail, 77 skip (no mmdblookup).
set -eu
mk=$1
fx=$2
if ! command -v mmdblookup >/dev/null 2>&1; then
    echo "SKIP: mmdblookup not found (Debian: apt-get install mmdb-bin)"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kp-mmdblookup.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0

# check FILE IP WANT [PATH...]: WANT is what mmdblookup prints before the
# type tag, e.g. "CN" with quotes or 55960; empty for no entry.
check() {
    f=$1
    ip=$2
    want=$3
    shift 3
    got=$(mmdblookup --file "$f" --ip "$ip" "$@" 2>/dev/null |
        sed -n 's/^ *\(.*[^ ]\) *<[a-z0-9_]*>$/\1/p' | head -n 1)
    if [ "$got" != "$want" ]; then
        echo "FAIL: ${f##*/} $ip $*: got [$got], want [$want]"
        fail=1
    fi
}

# meta FILE PATTERN: a line of 'mmdblookup --verbose' matches
meta() {
    if ! mmdblookup --file "$1" --ip 1.1.1.1 --verbose 2>/dev/null | grep -q -- "$2"; then
        echo "FAIL: ${1##*/}: metadata has no line matching '$2'"
        fail=1
    fi
}

for rs in auto 24 28 32; do
    opt=
    [ "$rs" = auto ] || opt="--record-size $rs"
    f=$tmp/asn-$rs.mmdb
    # shellcheck disable=SC2086
    "$mk" --spec "$fx/asn.spec" -o "$f" --type kp-xcheck --description "cross-check $rs" \
        --build-epoch 1781654400 $opt
    check "$f" 52.81.151.250 55960 autonomous_system_number
    check "$f" 52.81.151.250 '"Beijing Guanghuan Xinwang Digital"' autonomous_system_organization
    check "$f" ::ffff:52.81.151.250 55960 autonomous_system_number
    check "$f" 3.7.35.1 16509 autonomous_system_number
    check "$f" 3.200.0.1 '' autonomous_system_number
    check "$f" 170.114.200.1 30103 autonomous_system_number
    check "$f" 2001:4860:4864:5::1 '"Google LLC"' autonomous_system_organization
    check "$f" 2001:4861::1 '' autonomous_system_number
    meta "$f" "Binary format: 2.0"
    meta "$f" "Build epoch:   1781654400"
    meta "$f" "Type:          kp-xcheck"
    meta "$f" "IP version:    IPv6"
    meta "$f" "cross-check $rs"
    [ "$rs" = auto ] || meta "$f" "Record size:   $rs bits"
done

f=$tmp/geolite.mmdb
"$mk" --spec "$fx/geolite.spec" -o "$f" --build-epoch 1781654400
check "$f" 52.81.151.250 '"CN"' country iso_code
check "$f" 52.81.151.250 '"China"' country names en
check "$f" 81.2.69.160 '"GB"' registered_country iso_code
check "$f" 2a02:ff0::1 2921044 country geoname_id

f=$tmp/country.mmdb
"$mk" --spec "$fx/country.spec" -o "$f" --build-epoch 1781654400 --no-ipv4-alias
check "$f" 52.81.151.250 '"CN"' country_code
check "$f" ::ffff:52.81.151.250 '' country_code
check "$f" 2400:cb00:2048::1 '"SG"' country_code
check "$f" 2400:cb00:2049::1 '"AU"' country_code

f=$tmp/csv.mmdb
"$mk" --asn-csv "$fx/asn-sample.csv" -o "$f" --build-epoch 1781654400
check "$f" 1.0.0.1 '"Cloudflare, Inc."' autonomous_system_organization
check "$f" 2.26.210.1 201907 autonomous_system_number
check "$f" 215.0.0.1 721 autonomous_system_number
check "$f" 214.200.0.1 749 autonomous_system_number
check "$f" 2c0f:fff0::1 '"Layer3 Limited"' autonomous_system_organization

[ $fail -eq 0 ] && echo "mmdblookup agrees with kp-mkmmdb output"
exit $fail
