#!/bin/sh
# Live capture on the loopback interface: a real OpenSSL TLS 1.2 handshake
# to a Zoom-named server while `keyprov -i lo` listens; SIGINT must end the
# capture cleanly with the key record, the stats and the kernel counters.
# Needs root (or CAP_NET_RAW) and the openssl command; skips (77) otherwise.
set -u
KEYPROV=$1
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP live: capturing on lo needs root"
    exit 77
fi
if ! command -v openssl >/dev/null 2>&1; then
    echo "SKIP live: openssl command not installed"
    exit 77
fi
T=$(mktemp -d)
PORT=$((20000 + $$ % 20000))
cleanup() {
    kill "$SRV" 2>/dev/null
    kill "$KP" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=*.zoom.us/O=Zoom Video Communications, Inc./C=US" \
    -addext "subjectAltName=DNS:*.zoom.us,DNS:zoom.us" -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
openssl s_server -quiet -accept "127.0.0.1:$PORT" -cert "$T/cert.pem" -key "$T/key.pem" -tls1_2 -www \
    >/dev/null 2>&1 &
SRV=$!
"$KEYPROV" -i lo -Z nobody --json --no-geo "tcp port $PORT" >"$T/out.json" 2>"$T/err.txt" &
KP=$!
sleep 1.5
UIDLINE=$(grep '^Uid:' /proc/$KP/status 2>/dev/null)
for i in 1 2; do
    echo "GET / HTTP/1.0" | openssl s_client -connect "127.0.0.1:$PORT" -servername "zc0$i.zoom.us" \
        -tls1_2 -quiet >/dev/null 2>&1
done
sleep 1
kill -INT "$KP"
wait "$KP"
RC=$?
fail=0
check() {
    if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=$((fail + 1)); fi
}
check "keyprov exited 0 after SIGINT (rc=$RC)" "[ $RC -eq 0 ]"
check "-Z nobody: capturing process runs as uid 65534 ($UIDLINE)" "echo '$UIDLINE' | grep -q '65534.*65534.*65534'"
check "two key records from the live handshakes" \
    "[ \$(grep -c '\"event_type\":\"key\"' $T/out.json) -eq 2 ]"
check "service zoom, issuer 127.0.0.1:$PORT, SNI zc01.zoom.us" \
    "grep '\"sni\":\"zc01.zoom.us\"' $T/out.json | grep -q '\"service\":\"zoom\".*\"issuer\":{\"ip\":\"127.0.0.1\",\"port\":$PORT'"
check "certificate subject seen live" "grep -q 'CN=\\*.zoom.us' $T/out.json"
check "stats event with kernel counters" "grep '\"event_type\":\"stats\"' $T/out.json | grep -q '\"kernel_dropped\":'"
check "kernel received/dropped reported on stderr" "grep -q 'packets received by filter' $T/err.txt"
cat "$T/err.txt"
echo "$((7 - fail)) passed, $fail failed"
[ $fail -eq 0 ]
