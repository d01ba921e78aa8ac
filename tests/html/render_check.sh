#!/bin/sh
# render_check.sh MKREPORT KEYPROV PNG_CHECK SESSIONS_JSONL [COUNTRY_DB ASN_DB]
#
# Renders keyprov's HTML report in headless Chromium, as a reader would
# see it, and checks what came out:
#   A  the report of samples/citizenlab-2020.pcap --flag @CN (written by
#      `keyprov --html` when the command has it, else by MKREPORT through the
#      same code): the violation row, China red and the US blue on the map,
#      a screenshot that is a real picture (size, colours, the violation red);
#   B  the same capture plus SESSIONS_JSONL (sessions, and hostile strings
#      from "packets"): every hostile string stays text (no <img> element,
#      the title unchanged), the sessions render;
#   C  report A without its script: the summary, the violation and the
#      map are still there.
# The JSON blocks of both files must parse (python3).
#
# Needs chromium (Debian: apt-get install chromium): without it the test is
# skipped (exit 77), but fails when CI is set.  Needs the world map from
# geo/fetch-worldmap in $KP_GEODATA or $KP_SRCDIR/geodata: without it the
# test fails, unless KP_ALLOW_MISSING_GEODATA=1 (then the map checks are
# skipped).  Geolocation: the default databases there, else COUNTRY_DB and
# ASN_DB (the test fixtures).  Screenshots and reports are left in
# $KP_BUILDDIR/tests/html/ (report-*.png, report-*.html) for a person to look at.
set -eu

if [ $# -lt 4 ]; then
    echo "usage: render_check.sh MKREPORT KEYPROV PNG_CHECK SESSIONS_JSONL [COUNTRY_DB ASN_DB]" >&2
    exit 2
fi
mkreport=$1
keyprov=$2
png_check=$3
sessions=$4
fx_country=${5:-}
fx_asn=${6:-}
src=${KP_SRCDIR:?KP_SRCDIR not set}
pcap=$src/samples/citizenlab-2020.pcap
PYTHON=${PYTHON:-python3}

fail() {
    echo "FAIL: $*"
    exit 1
}

chromium=${CHROMIUM:-}
if [ -z "$chromium" ]; then
    for c in chromium chromium-browser google-chrome-stable google-chrome; do
        if command -v "$c" >/dev/null 2>&1; then
            chromium=$c
            break
        fi
    done
fi
if [ -z "$chromium" ]; then
    if [ -n "${CI:-}" ]; then
        fail "chromium is not installed, and CI must run this check (Debian: apt-get install chromium)"
    fi
    echo "SKIP: chromium is not installed (Debian: apt-get install chromium); the HTML report was not rendered"
    exit 77
fi

geodata=${KP_GEODATA:-$src/geodata}
map=$geodata/worldmap.json
have_map=1
if [ ! -f "$map" ]; then
    if [ "${KP_ALLOW_MISSING_GEODATA:-}" != 1 ]; then
        fail "$map is missing: run geo/fetch-worldmap build geodata (./setup does); KP_ALLOW_MISSING_GEODATA=1 skips the map checks"
    fi
    echo "note: $map is missing: the map checks are skipped (KP_ALLOW_MISSING_GEODATA=1)"
    have_map=0
fi
if [ -f "$geodata/country.mmdb" ] && [ -f "$geodata/asn.mmdb" ]; then
    set -- --country "$geodata/country.mmdb" --asn "$geodata/asn.mmdb"
elif [ -n "$fx_country" ]; then
    set -- --country "$fx_country" --asn "$fx_asn"
else
    fail "no geolocation database (neither $geodata nor test fixtures)"
fi
if [ "$have_map" = 1 ]; then
    set -- "$@" --map "$map"
fi

out=${KP_BUILDDIR:-.}/tests/html
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kp-render.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

# --- A: the sample's report
report_a=$out/report-citizenlab.html
rm -f "$report_a"
if "$keyprov" --help 2>&1 | grep -q -- '--html'; then
    echo "report A: $keyprov --html"
    rc=0
    KEYPROV_GEODATA=$geodata "$keyprov" -r "$pcap" --flag @CN --html "$report_a" >"$tmp/keyprov.out" 2>&1 || rc=$?
    [ "$rc" -le 1 ] || { cat "$tmp/keyprov.out"; fail "keyprov --html exited $rc"; }
else
    echo "report A: keyprov has no --html yet, using $mkreport"
    "$mkreport" "$@" --flag @CN -o "$report_a" "$pcap" || fail "html_mkreport failed"
fi
[ -s "$report_a" ] || fail "no report written at $report_a"

# --- B: with sessions and hostile strings
report_b=$out/report-hostile.html
"$mkreport" "$@" --flag @CN --extra "$sessions" --title "citizenlab-2020.pcap + sessions.jsonl" \
    -o "$report_b" "$pcap" || fail "html_mkreport (hostile) failed"

# The JSON blocks parse, and nothing but the SVG namespace names a URL.
"$PYTHON" - "$report_a" "$report_b" <<'EOF' || fail "embedded JSON or offline check"
import json, re, sys
for path in sys.argv[1:]:
    html = open(path, encoding="utf-8").read()
    blocks = re.findall(r'<script type="application/json" id="([a-z-]+)">(.*?)</script>', html, re.S)
    names = [n for n, _ in blocks]
    assert names == ["kp-events", "kp-stats", "kp-countries", "kp-meta"], names
    for name, body in blocks:
        json.loads(body)
    assert html.count("<script") == html.count("</script>") == 5, "script elements"
    urls = re.findall(r"(?:https?:)?//[^\s\"'<>]+", html)
    assert set(urls) <= {"http://www.w3.org/2000/svg"}, urls
    print("%s: %d bytes, %d events, JSON ok, offline" % (path, len(html.encode()),
          len(json.loads(blocks[0][1]))))
EOF

run_chromium() { # run_chromium LOG ARGS...: headless, no network, fresh profile
    log=$1
    shift
    profile=$(mktemp -d "$tmp/profile.XXXXXX")
    timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --disable-extensions \
        --hide-scrollbars --user-data-dir="$profile" "$@" 2>"$log"
}

for r in citizenlab hostile; do
    html=$out/report-$r.html
    png=$out/report-$r.png
    rm -f "$png"
    run_chromium "$tmp/$r.shot.log" --screenshot="$png" --window-size=1400,1800 "file://$html" \
        >/dev/null || { cat "$tmp/$r.shot.log"; fail "chromium --screenshot failed on $html"; }
    [ -f "$png" ] || { cat "$tmp/$r.shot.log"; fail "chromium wrote no screenshot of $html"; }
    run_chromium "$tmp/$r.dom.log" --dump-dom --window-size=1400,1800 "file://$html" \
        >"$tmp/$r.dom" || { cat "$tmp/$r.dom.log"; fail "chromium --dump-dom failed on $html"; }
    echo "rendered $html -> $png"
done
# C: the page as a browser without JavaScript shows it.  (Chromium's own
# switch for that also stops --dump-dom and --screenshot, so the page's
# script is taken out of a copy instead.)
"$PYTHON" - "$report_a" "$tmp/nojs.html" <<'EOF' || fail "cannot strip the script"
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
stripped, n = re.subn(r"<script>\n.*?</script>", "", html, flags=re.S)
assert n == 1, n
open(sys.argv[2], "w", encoding="utf-8").write(stripped)
EOF
rm -f "$out/report-nojs.png"
run_chromium "$tmp/nojs.log" --screenshot="$out/report-nojs.png" --window-size=1400,1800 \
    "file://$tmp/nojs.html" >/dev/null || { cat "$tmp/nojs.log"; fail "chromium (no JS) failed"; }
run_chromium "$tmp/nojs.dom.log" --dump-dom "file://$tmp/nojs.html" >"$tmp/nojs.dom" ||
    { cat "$tmp/nojs.dom.log"; fail "chromium --dump-dom (no JS) failed"; }

# The screenshot is a picture: > 20 KB, many colours, the violation red.
if [ "$have_map" = 1 ]; then
    "$PYTHON" "$png_check" "$out/report-citizenlab.png" 20000 64 220,38,38 37,99,235 ||
        fail "screenshot of report A"
else
    "$PYTHON" "$png_check" "$out/report-citizenlab.png" 20000 64 220,38,38 || fail "screenshot of report A"
fi
"$PYTHON" "$png_check" "$out/report-hostile.png" 20000 64 220,38,38 || fail "screenshot of report B"
# C: without JavaScript the banner, the violation and the map still show.
"$PYTHON" "$png_check" "$out/report-nojs.png" 20000 64 220,38,38 || fail "screenshot of report A without JS"

# What the browser built.
"$PYTHON" - "$tmp/citizenlab.dom" "$tmp/hostile.dom" "$tmp/nojs.dom" "$have_map" <<'EOF' || fail "rendered DOM"
import re, sys
a, b, nojs = (open(p, encoding="utf-8").read() for p in sys.argv[1:4])
have_map = sys.argv[4] == "1"
errors = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        errors.append(what)
def rows(dom, table_id):
    m = re.search(r'<table class="data" id="%s">(.*?)</table>' % table_id, dom, re.S)
    return re.findall(r'<tr class="row ([a-z ]*)"[^>]*>(.*?)</tr>', m.group(1), re.S) if m else []
def map_fill(dom, cc):
    m = re.search(r'<path [^>]*id="map-%s"[^>]*>' % cc, dom)
    f = re.search(r'fill="([^"]+)"', m.group(0)) if m else None
    return f.group(1) if f else None

# A: the sample
keys = rows(a, "keys-table")
check(any("violation" in c and "52.81.151.250:443" in t and "FLAGGED" in t.upper() for c, t in keys),
      "A: key-record row for 52.81.151.250:443, flagged, in the violation style")
check(any("violation" not in c and "170.114.128.20:443" in t for c, t in keys), "A: the US key record is ok")
sess = rows(a, "sessions-table")
if sess:
    check(any("violation" in c and "52.81.151.250:443" in t for c, t in sess),
          "A: session row in violation naming 52.81.151.250")
check('id="violations-table"' in a and "52.81.151.250:443" in a.split('id="violations-table"')[1][:4000],
      "A: the summary lists the violation")
check(re.search(r'<section class="verdict v-violation"', a) is not None, "A: verdict banner says violation")
check('class="toolbar panel"' in a, "A: the script ran (toolbar, tables)")
if have_map:
    check(map_fill(a, "CN") == "#dc2626", "A: SVG path for CN in the violation red (%s)" % map_fill(a, "CN"))
    check(map_fill(a, "US") == "#2563eb", "A: SVG path for US in the issuer blue (%s)" % map_fill(a, "US"))
    check(map_fill(a, "FR") == "#dfe4ea", "A: a country without issuer stays grey")
    check('data-label="China (CN)' in a, "A: map hover labels prepared")

# B: hostile strings stay text
check(re.search(r"<img\b", b, re.I) is None, "B: no <img> element was injected")
check(re.search(r"<title>keyprov report: citizenlab-2020\.pcap \+ sessions\.jsonl</title>", b) is not None,
      "B: the document title is unchanged (no script ran from the data)")
check("&lt;/script&gt;&lt;img src=x onerror=" in b, "B: the hostile string is shown as text")
check(b.count("<script") == 5, "B: no script element was added")
sb = rows(b, "sessions-table")
check(any("violation" in c and "203.0.113.9:5060" in t and ">HK<" in t for c, t in sb),
      "B: the hostile session renders as a violation with its HK key holder")
check(sum(1 for c, _ in sb if "ok" in c.split()) >= 1, "B: an ok session renders")
if have_map:
    check(re.search(r'<circle class="mark v" data-cc="HK"', b) is not None,
          "B: a red marker for Hong Kong (no shape at this scale)")

# C: without JavaScript, the summary is still there
check('<section class="verdict v-violation"' in nojs, "C: no JS: verdict banner")
check('id="violations-table"' in nojs and "52.81.151.250:443" in nojs, "C: no JS: violations table")
check('id="country-table"' in nojs, "C: no JS: country table")
if have_map:
    check(map_fill(nojs, "CN") == "#dc2626", "C: no JS: the map, CN red")
check('class="toolbar panel"' not in nojs, "C: no JS: the tables need the script (not rendered)")
sys.exit(1 if errors else 0)
EOF
echo "PASS: screenshots in $out/report-citizenlab.png and $out/report-hostile.png"
