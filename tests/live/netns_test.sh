#!/bin/sh
# Live capture for real: a veth pair whose far end lives in a network
# namespace of its own; tcpreplay sends captures into it while
# `keyprov -i` listens on the near end.  The key records must equal those of
# `keyprov -r` on the same files, and the kernel drop counter is reported.
# Skips (77) with a message where namespaces or tcpreplay are not available.
set -u
KEYPROV=$1
SRC=$2
PCAPS=$3
skip() {
    if [ -n "${CI:-}" ]; then echo "FAIL $1"; exit 1; fi
    echo "SKIP $1"; exit 77
}
[ "$(id -u)" -eq 0 ] || skip "live netns test needs root"
command -v tcpreplay >/dev/null 2>&1 || skip "tcpreplay is not installed"
NS=kp$$
A=kpa$$
B=kpb$$
cleanup() {
    [ -n "${KP:-}" ] && kill "$KP" 2>/dev/null
    ip link del "$A" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    rm -rf "$T"
}
T=$(mktemp -d)
trap cleanup EXIT
ip netns add "$NS" 2>/dev/null || skip "network namespaces are not allowed here"
ip link add "$A" type veth peer name "$B" || skip "cannot create a veth pair"
ip link set "$B" netns "$NS"
# captures hold frames larger than 1500 bytes (offloaded segments)
ip link set "$A" mtu 9000 up
ip netns exec "$NS" ip link set "$B" mtu 9000 up

FILES="$SRC/samples/citizenlab-2020.pcap"
[ -f "$PCAPS/zoom_ndpi.pcap" ] && FILES="$FILES $PCAPS/zoom_ndpi.pcap"
[ -f "$PCAPS/meet_stun_dtls_srtp_ndpi.pcapng" ] && FILES="$FILES $PCAPS/meet_stun_dtls_srtp_ndpi.pcapng"

"$KEYPROV" -i "$A" -B 8192 -Z nobody --json --flag @CN >"$T/live.json" 2>"$T/live.err" &
KP=$!
sleep 1.5
for f in $FILES; do
    ip netns exec "$NS" tcpreplay -q -i "$B" --pps 3000 "$f" >/dev/null 2>&1 ||
        { echo "FAIL tcpreplay of $f"; exit 1; }
done
sleep 1
kill -INT "$KP"
wait "$KP"
RC=$?
KP=
for f in $FILES; do
    "$KEYPROV" -r "$f" --json --flag @CN >>"$T/file.json" 2>/dev/null
done
python3 - "$T/live.json" "$T/file.json" "$T/live.err" "$RC" <<'PY'
import json, sys
def keys(path):
    out = set()
    for line in open(path):
        e = json.loads(line)
        if e['event_type'] == 'key':
            out.add((e['service'], e['mechanism'], e['client']['ip'], e['client']['port'],
                     e['issuer']['ip'], e['issuer']['port'], e['issuer']['sni'], e['flagged']))
    return out
live, ref = keys(sys.argv[1]), keys(sys.argv[2])
err = open(sys.argv[3]).read()
rc = int(sys.argv[4])
fails = 0
def check(name, ok, detail=''):
    global fails
    print(('ok   ' if ok else 'FAIL ') + name + ('' if ok else ' ' + detail))
    fails += 0 if ok else 1
check('keyprov -i exited 1 (a flagged key) after SIGINT', rc == 1, 'rc=%d %s' % (rc, err))
check('live key records equal those of -r on the same captures (%d)' % len(ref), live == ref and len(ref) >= 3,
      '\nonly live: %s\nonly file: %s' % (sorted(live - ref)[:5], sorted(ref - live)[:5]))
check("the kernel drop counter is reported", "dropped by kernel" in err, err)
print(err.strip().splitlines()[-1] if err.strip() else "")
print('%d passed, %d failed' % (3 - fails, fails))
sys.exit(1 if fails else 0)
PY
