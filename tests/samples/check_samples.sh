#!/bin/bash
# Regenerates every sample with kp-samplegen and checks it with tshark:
# same packets as the committed samples/*.pcap (count, times, addresses,
# ports, TCP numbers, lengths, UDP payloads: everything but TLS bytes), the
# expected SNIs, certificate subjects and server addresses, a well-formed
# Zoom media flow, and no checksum error or expert warning.
#
# usage: check_samples.sh PATH/TO/kp-samplegen   (env: KP_SRCDIR)
# exit: 0 pass, 1 fail, 77 skip (no tshark)
set -u
export LC_ALL=C

gen=${1:?usage: check_samples.sh KP_SAMPLEGEN}
src=${KP_SRCDIR:?KP_SRCDIR not set}

for tool in tshark capinfos; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "SKIP: $tool not found (Debian: apt-get install tshark)"
		exit 77
	fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

ts() {
	# tshark without the "running as root" chatter on stderr.
	tshark "$@" 2>"$tmp/tshark.err"
	local rc=$?
	if [ $rc -ne 0 ]; then
		cat "$tmp/tshark.err" >&2
	fi
	return $rc
}

# Compares what tshark shows ($3) with what is expected ($2) for scenario $1.
same() {
	local what=$1 expected=$2 actual=$3
	if [ "$expected" != "$actual" ]; then
		fail "$what differs"
		diff <(printf '%s\n' "$expected") <(printf '%s\n' "$actual") | sed 's/^/    /'
	else
		echo "ok: $what"
	fi
}

# Everything kp-samplegen keeps identical from run to run: all but the TLS bytes.
stable_fields() {
	ts -r "$1" -d udp.port==8801,data -T fields -E separator='|' \
		-e frame.time_epoch -e frame.len -e eth.src -e eth.dst -e ip.src -e ip.dst -e ip.id -e ip.ttl \
		-e tcp.srcport -e tcp.dstport -e tcp.seq_raw -e tcp.ack_raw -e tcp.flags -e tcp.window_size_value \
		-e tcp.len -e tcp.options -e udp.srcport -e udp.dstport -e udp.length -e dns -e data.data
}

subjects() {
	# "server-address subject" for every certificate sent, in capture order.
	ts -r "$1" -Y tls.handshake.type==11 -V | awk '
		/^Internet Protocol Version 4, Src: / { src = $6; sub(/,$/, "", src) }
		/^ *subject: rdnSequence/ { want = 1; next }
		want && /rdnSequence: [0-9]+ items \(/ {
			s = $0; sub(/^[^(]*\(/, "", s); sub(/\)$/, "", s); print src " " s; want = 0 }'
}

# Checks the Zoom multimedia-router flow (UDP 8801) against the layout in shared NOTES.
media_report() {
	ts -r "$1" -Y 'udp.port==8801' -d udp.port==8801,data -T fields -e udp.dstport -e data.data | awk '
		function byte(h, i) { return substr(h, 2 * i + 1, 2) }
		{
			dir = ($1 == 8801) ? "to" : "from"
			h = $2
			n[dir]++
			if (n[dir] == 1) { first[dir] = substr(h, 1, 6); next }
			if (byte(h, 0) != "05") { bad++; next }
			if (byte(h, 7) != (dir == "to" ? "00" : "04")) { bad++; next }
			t = byte(h, 8)
			if (t == "0f") { rtp = 8 + 19; audio[dir]++ }
			else if (t == "10") { rtp = (byte(h, 8 + 20) == "02") ? 8 + 24 : 8 + 20; video[dir]++ }
			else { bad++; next }
			# RTP version 2 (RFC 3550 5.1); one SSRC per stream and direction.
			if (byte(h, rtp) != "80") { bad++; next }
			ssrc[dir " " t " " substr(h, 2 * (rtp + 8) + 1, 8)] = 1
		}
		END {
			nssrc = 0; for (k in ssrc) nssrc++
			printf "to-zoom first=%s audio=%d video=%d\n", first["to"], audio["to"], video["to"]
			printf "from-zoom first=%s audio=%d video=%d\n", first["from"], audio["from"], video["from"]
			printf "ssrcs=%d malformed=%d\n", nssrc, bad
		}'
}

check_scenario() {
	local name=$1 client=$2 exp_sni=$3 exp_subjects=$4 exp_peers=$5 exp_media=$6
	local out="$tmp/$name.pcap" committed="$src/samples/$name.pcap"

	echo "== $name"
	if ! "$gen" "$name" -o "$out"; then
		fail "$name: kp-samplegen failed"
		return
	fi
	if [ ! -f "$committed" ]; then
		fail "$name: $committed missing (ninja -C BUILD samples)"
	else
		same "$name packet count (capinfos -c) vs committed" \
			"$(capinfos -c -M "$committed" | awk '/Number of packets/ { print $NF }')" \
			"$(capinfos -c -M "$out" | awk '/Number of packets/ { print $NF }')"
		stable_fields "$committed" >"$tmp/committed.txt"
		stable_fields "$out" >"$tmp/regen.txt"
		if cmp -s "$tmp/committed.txt" "$tmp/regen.txt"; then
			echo "ok: $name regenerates the committed packets (all but TLS bytes)"
		else
			fail "$name: regenerated packets differ from $committed (run ninja -C BUILD samples if intended)"
			diff "$tmp/committed.txt" "$tmp/regen.txt" | head -10 | sed 's/^/    /'
		fi
	fi

	for f in "$out" "$committed"; do
		[ -f "$f" ] || continue
		local bad
		bad=$(ts -r "$f" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE \
			-Y 'ip.checksum.status==0 or tcp.checksum.status==0 or udp.checksum.status==0 or _ws.expert.severity>=warning')
		if [ -n "$bad" ]; then
			fail "$f: checksum errors or expert warnings"
			printf '%s\n' "$bad" | head -10 | sed 's/^/    /'
		else
			echo "ok: $(basename "$f") has no checksum error or expert warning"
		fi
	done

	same "$name SNIs" "$exp_sni" \
		"$(ts -r "$out" -Y tls.handshake.extensions_server_name -T fields -e ip.dst -e tls.handshake.extensions_server_name -e tls.handshake.extensions_alpn_str)"
	same "$name certificate subjects" "$exp_subjects" "$(subjects "$out")"
	same "$name TLS version and cipher" \
		"$(printf '0x0303 0xc02f\n0x0303 0xc02f')" \
		"$(ts -r "$out" -Y tls.handshake.type==2 -T fields -e tls.handshake.version -e tls.handshake.ciphersuite | tr '\t' ' ')"
	same "$name servers the client talks to" "$exp_peers" \
		"$(ts -r "$out" -Y "ip.src==$client" -T fields -e ip.dst -e udp.dstport -e tcp.dstport | tr -s '\t' ' ' | sed 's/ $//' | sort -u)"
	same "$name Zoom media flow" "$exp_media" "$(media_report "$out")"
}

media="to-zoom first=010002 audio=150 video=30
from-zoom first=020002 audio=150 video=30
ssrcs=4 malformed=0"

check_scenario citizenlab-2020 142.150.190.10 \
"170.114.128.20	us04web.zoom.us	http/1.1
52.81.151.250	zc01.zoom.us	http/1.1" \
"170.114.128.20 id-at-commonName=*.zoom.us,id-at-organizationName=Zoom Video Communications, Inc.,id-at-localityName=San Jose,id-at-stateOrProvinceName=California,id-at-countryName=US
170.114.128.20 id-at-commonName=keyprov Sample Root CA,id-at-organizationName=keyprov samples
52.81.151.250 id-at-commonName=*.zoom.us,id-at-organizationName=Zoom Video Communications, Inc.,id-at-localityName=San Jose,id-at-stateOrProvinceName=California,id-at-countryName=US
52.81.151.250 id-at-commonName=keyprov Sample Root CA,id-at-organizationName=keyprov samples" \
"149.112.121.10 53
170.114.128.20 443
170.114.128.50 8801
52.81.151.250 443" \
"$media"

check_scenario clean-meeting 73.162.10.20 \
"170.114.128.20	us04web.zoom.us	http/1.1
3.235.82.1	zc02.zoom.us	http/1.1" \
"170.114.128.20 id-at-commonName=*.zoom.us,id-at-organizationName=Zoom Video Communications, Inc.,id-at-localityName=San Jose,id-at-stateOrProvinceName=California,id-at-countryName=US
170.114.128.20 id-at-commonName=keyprov Sample Root CA,id-at-organizationName=keyprov samples
3.235.82.1 id-at-commonName=*.zoom.us,id-at-organizationName=Zoom Video Communications, Inc.,id-at-localityName=San Jose,id-at-stateOrProvinceName=California,id-at-countryName=US
3.235.82.1 id-at-commonName=keyprov Sample Root CA,id-at-organizationName=keyprov samples" \
"170.114.128.20 443
170.114.128.50 8801
3.235.82.1 443
8.8.8.8 53" \
"$media"

# Bad usage exits 2 with one line on stderr.
"$gen" >/dev/null 2>"$tmp/usage.err"
rc=$?
if [ $rc -ne 2 ] || [ "$(wc -l <"$tmp/usage.err")" -ne 1 ]; then
	fail "kp-samplegen without arguments: exit $rc (want 2 and one line)"
else
	echo "ok: usage error exits 2"
fi
"$gen" no-such-scenario -o "$tmp/x.pcap" >/dev/null 2>&1
rc=$?
[ $rc -eq 2 ] && echo "ok: unknown scenario exits 2" || fail "unknown scenario: exit $rc (want 2)"

if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all sample checks passed"
