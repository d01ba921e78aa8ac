#!/usr/bin/env python3
"""Cut the capture-derived TLS/DTLS test vectors out of ../shared/pcaps.

The captures must never be copied into the project, not even in part, so
these vectors are not stored in the tree: ../vectors_run.py calls
extract_all() at test time and the tests read the result from the build
folder.

Each vector is the start of one TCP direction's byte stream (TLS records),
rebuilt from `tshark -T fields -e tcp.seq -e tcp.payload` in sequence order,
or one UDP payload (DTLS).  Only handshake bytes are kept, plus a few bytes
after the point where the TLS walk must stop; the tests' expected offsets
and lengths depend on these exact cuts, so a stream shorter than its cut is
an error, never a shorter vector.

One tshark run per capture, two at a time; the output depends only on the
captures (files are written in a fixed order, with no time stamps).

Usage: extract.py PCAP_DIR OUT_DIR
"""
import collections
import concurrent.futures
import os
import subprocess
import sys


class ExtractError(Exception):
    pass


def tshark(pcap, *args):
    if not os.path.isfile(pcap):
        raise ExtractError('%s: no such capture' % pcap)
    p = subprocess.run(['tshark', '-n', '-r', pcap] + list(args), capture_output=True, text=True)
    if p.returncode != 0:
        why = ' '.join(l.strip() for l in p.stderr.splitlines()
                       if l.strip() and not l.startswith('Running as user'))
        raise ExtractError('tshark -r %s failed (exit %d): %s' % (pcap, p.returncode, why))
    return p.stdout


def tcp_streams(pcap):
    """{(tcp.stream, source port): in-order bytes up to the first gap}."""
    out = tshark(pcap, '-Y', 'tcp.len>0', '-T', 'fields', '-e', 'tcp.stream', '-e', 'tcp.srcport',
                 '-e', 'tcp.seq', '-e', 'tcp.payload')
    segs = collections.defaultdict(dict)
    for line in out.splitlines():
        stream, sport, seq, payload = line.split('\t')
        data = bytes.fromhex(payload.replace(':', ''))
        segs[(int(stream), int(sport))].setdefault(int(seq), data)
    res = {}
    for key, d in segs.items():
        buf, nxt = bytearray(), min(d)
        for seq in sorted(d):
            if seq > nxt:
                break
            buf += d[seq][nxt - seq:]
            nxt = max(nxt, seq + len(d[seq]))
        res[key] = bytes(buf)
    return res


def udp_payloads(pcap, frames):
    """{frame number: outermost UDP payload} for the given frames."""
    out = tshark(pcap, '-Y', 'frame.number in {%s}' % ','.join(str(f) for f in sorted(frames)),
                 '-T', 'fields', '-e', 'frame.number', '-e', 'udp.payload')
    res = {}
    for line in out.splitlines():
        frame, payload = line.split('\t')
        res[int(frame)] = bytes.fromhex(payload.split(',')[0].replace(':', ''))
    return res


def write(outdir, name, data, comment):
    with open(os.path.join(outdir, name), 'w') as f:
        for line in comment.strip().splitlines():
            f.write('# ' + line + '\n')
        f.write('# %d bytes\n' % len(data))
        h = data.hex()
        for i in range(0, len(h), 64):
            f.write(h[i:i + 64] + '\n')


# (file, capture, stream, source port, bytes kept, what)
TCP = [
    ('tls12_zeek_client.hex', 'tls12_zeek.pcap', 0, 56637, 595,
     'ClientHello, ClientKeyExchange, ChangeCipherSpec (the walk stops there)'),
    ('tls12_zeek_server.hex', 'tls12_zeek.pcap', 0, 443, 3933 + 16,
     'ServerHello, Certificate (3 certs), ServerHelloDone, ChangeCipherSpec + 16 bytes'),
    ('tls13_curl_arkime_client.hex', 'tls13_curl_arkime.pcap', 0, 46638, 523 + 16,
     'ClientHello, ChangeCipherSpec (compat), 16 bytes of application_data'),
    ('tls13_curl_arkime_server.hex', 'tls13_curl_arkime.pcap', 0, 443, 133 + 16,
     'ServerHello (TLS 1.3), ChangeCipherSpec, 16 bytes of application_data'),
    ('tls13_hrr_zeek_client.hex', 'tls13_hrr_zeek.pcap', 0, 63564, 486 + 16,
     'ClientHello, ChangeCipherSpec (compat), second ClientHello, 16 bytes of application_data'),
    ('tls13_hrr_zeek_server.hex', 'tls13_hrr_zeek.pcap', 0, 443, 259 + 16,
     'HelloRetryRequest, ChangeCipherSpec, ServerHello, 16 bytes of application_data'),
    ('tls13_ech_zeek_client.hex', 'tls13_ech_zeek.pcap', 1, 51066, 523,
     'ClientHello with encrypted_client_hello (outer), ChangeCipherSpec'),
    ('tls13_kyber_chrome_zeek_client.hex', 'tls13_kyber_chrome_zeek.pcap', 0, 13783, 1762,
     'Chrome ClientHello with X25519Kyber768 key share, ChangeCipherSpec'),
    ('tls13_arkime_client.hex', 'tls13_arkime.pcap', 0, 62510, 517,
     'ClientHello offering TLS 1.3 draft versions'),
    ('tls13_arkime_server.hex', 'tls13_arkime.pcap', 0, 443, 87 + 16,
     'ServerHello selecting a TLS 1.3 draft, 16 bytes of application_data'),
    ('tls_client_certificate_zeek_client.hex', 'tls_client_certificate_zeek.pcap', 0, 49480, 517,
     'ClientHello (offers TLS 1.3, server picks 1.2)'),
    ('tls_dhe_zeek_client.hex', 'tls_dhe_zeek.pcap', 0, 62277, 100,
     'ClientHello (DHE, no SNI)'),
    ('tls_ecdsa_cert_zeek_server.hex', 'tls_ecdsa_cert_zeek.pcap', 0, 443, 2422 + 16,
     'ServerHello, Certificate (ECDSA), ServerKeyExchange, ServerHelloDone, NewSessionTicket, '
     'ChangeCipherSpec + 16 bytes'),
    ('tls13_psk_zeek_client.hex', 'tls13_psk_zeek.pcap', 0, 54220, 413,
     'ClientHello with pre_shared_key, ChangeCipherSpec'),
    ('tls13_psk_zeek_server.hex', 'tls13_psk_zeek.pcap', 0, 443, 139,
     'ServerHello selecting PSK identity, ChangeCipherSpec'),
    ('tls_ocsp_stapling_zeek_client.hex', 'tls_ocsp_stapling_zeek.pcap', 0, 56253, 237,
     'TLS 1.0 ClientHello with extensions but no signature_algorithms'),
    ('skype_ndpi_hist_client.hex', 'skype_ndpi_hist.pcap', 2, 50028, 94,
     'TLS 1.0 ClientHello without any extension (Skype 2015)'),
]

# (file, capture, frame, bytes to skip before the DTLS record, bytes kept, what)
UDP = [
    ('dtls_srtp_ndpi_ch.hex', 'dtls_srtp_ndpi.pcap', 3, 36, 196,
     'DTLS record with a ClientHello offering use_srtp (inside GTP-U: 36 bytes skipped)'),
    ('dtls13_ndpi_ch.hex', 'dtls_srtp_ndpi.pcap', 9, 0, 595,
     'DTLS record with a DTLS 1.3 ClientHello (cookie extension)'),
    ('meet_dtls_client.hex', 'meet_stun_dtls_srtp_ndpi.pcapng', 9, 0, 157,
     'Google Meet (Chrome) DTLS 1.2 ClientHello offering use_srtp 0x0001,0x0008,0x0007'),
    ('meet_dtls_server.hex', 'meet_stun_dtls_srtp_ndpi.pcapng', 12, 0, 1203,
     'Google Meet media server DTLS 1.2 flight: ServerHello (use_srtp 0x0008), Certificate\n'
     '(self-signed CN=hangouts), ServerKeyExchange, CertificateRequest, ServerHelloDone'),
]


def captures():
    """Every capture the vectors come from, sorted."""
    return sorted({v[1] for v in TCP} | {v[1] for v in UDP})


def _cut(data, keep, where):
    if len(data) < keep:
        raise ExtractError('%s: %d bytes, the vector needs %d' % (where, len(data), keep))
    return data[:keep]


def _from_capture(pcaps, cap):
    """[(file, bytes, comment)] for every vector of one capture."""
    path = os.path.join(pcaps, cap)
    res = []
    tcp = [v for v in TCP if v[1] == cap]
    if tcp:
        streams = tcp_streams(path)
        for name, _, stream, sport, keep, what in tcp:
            where = '%s TCP stream %d from port %d' % (cap, stream, sport)
            if (stream, sport) not in streams:
                raise ExtractError('%s: not found' % where)
            data = _cut(streams[(stream, sport)], keep, where)
            res.append((name, data, '%s\nsource: ../shared/pcaps/%s, TCP stream %d from port %d, '
                        'first %d bytes' % (what, cap, stream, sport, keep)))
    udp = [v for v in UDP if v[1] == cap]
    if udp:
        payloads = udp_payloads(path, {v[2] for v in udp})
        for name, _, frame, skip, keep, what in udp:
            where = '%s frame %d UDP payload from byte %d' % (cap, frame, skip)
            if frame not in payloads:
                raise ExtractError('%s: not found' % where)
            data = _cut(payloads[frame][skip:], keep, where)
            if len(payloads[frame]) - skip != keep:
                raise ExtractError('%s: %d bytes, expected exactly %d'
                                   % (where, len(payloads[frame]) - skip, keep))
            res.append((name, data, '%s\nsource: ../shared/pcaps/%s, frame %d, UDP payload from '
                        'byte %d' % (what, cap, frame, skip)))
    return res


def extract_all(pcaps, outdir):
    """Write every vector into outdir (which must exist).  Raises
    ExtractError (or OSError) if a capture, stream or frame is missing or
    too short, or tshark fails."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        per_cap = list(pool.map(lambda c: _from_capture(pcaps, c), captures()))
    for vectors in per_cap:
        for name, data, comment in vectors:
            write(outdir, name, data, comment + '\nmade at test time by tests/tls/extract.py '
                  '(tshark); never commit this file')


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: extract.py PCAP_DIR OUT_DIR')
    os.makedirs(sys.argv[2], exist_ok=True)
    try:
        extract_all(sys.argv[1], sys.argv[2])
    except ExtractError as e:
        sys.exit('extract.py: %s' % e)


if __name__ == '__main__':
    main()
