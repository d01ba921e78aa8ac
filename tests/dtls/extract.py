#!/usr/bin/env python3
"""Cut the capture-derived DTLS test vectors out of ../shared/pcaps.

The captures must never be copied into the project, not even in part, so
these vectors are not stored in the tree: ../vectors_run.py calls extract_all()
at test time and dtls_test reads the result from the build folder
(KP_DTLS_VECTORS).  The expected values are asserted in dtls_test.c.

Each output file holds UDP payloads, one datagram per line: a direction
letter ('c' for datagrams from the client ports listed for the vector below,
's' for the others, i.e. the server), a space, the payload in hex.  Lines
starting with '#' are comments; the comment before each datagram gives its
frame number ("# frame N: ...", which dtls_test.c reads) and tshark's reading
of it (record versions and epochs, handshake types, message_seq, fragment
offset and length, message length).  Datagrams tunnelled in GTP-U carry two
UDP headers: the inner payload is kept.  Every frame listed below must be in
the capture with a UDP payload, or extraction fails: the tests' expectations
depend on these exact datagrams.

One tshark run per capture, two at a time; the output depends only on the
captures (files are written in a fixed order, with no time stamps).

Usage: extract.py PCAP_DIR OUT_DIR
"""
import concurrent.futures
import os
import subprocess
import sys


class ExtractError(Exception):
    pass


FIELDS = ['frame.number', 'udp.srcport', 'udp.payload', 'dtls.record.version',
          'dtls.record.epoch', 'dtls.handshake.type', 'dtls.handshake.message_seq',
          'dtls.handshake.fragment_offset', 'dtls.handshake.fragment_length',
          'dtls.handshake.length', '_ws.col.Info']

# (output file, capture, frames, client UDP ports, description)
VECTORS = [
    ('dtls12_zeek.hex', 'dtls12_zeek.pcap', range(1, 17), (60934,),
     'DTLS 1.2 full handshake: fragmented ClientHello, HelloVerifyRequest, ServerHello,\n'
     'Certificate in 5 fragments, ServerKeyExchange in 3, NewSessionTicket, then epoch 1'),
    ('dtls10_zeek.hex', 'dtls10_zeek.pcap', range(1, 12), (63721,),
     'DTLS 1.0 full handshake, server flight in one datagram, application data'),
    ('dtls_srtp_ndpi.hex', 'dtls_srtp_ndpi.pcap', [1, 3, 6, 7, 8], (40739, 54162, 40983),
     'ClientHello with use_srtp 0x0001 (frames 1, 3: the latter inside GTP-U), a cleartext\n'
     'alert (frame 6), then a DTLS 1.3 ClientHello and HelloRetryRequest (frames 7, 8;\n'
     'client port 40983)'),
    ('meet_dtls.hex', 'meet_stun_dtls_srtp_ndpi.pcapng', [9, 12, 13, 14, 29, 30], (38152,),
     'Google Meet: Chrome ClientHello (use_srtp 0x0001,0x0008,0x0007), Google\'s server flight\n'
     '(ServerHello use_srtp 0x0008, Certificate CN=hangouts, ...), client and server\n'
     'finishing flights, then epoch-1 application data'),
    ('dtls_cert_frag_opera.hex', 'dtls_certificate_fragments_ndpi.pcap', range(1, 8), (39347,),
     'DTLS 1.0 to an Opera Max server: Certificate split over two datagrams (frames 4, 5)'),
    ('dtls_cert_frag_discord.hex', 'dtls_certificate_fragments_ndpi.pcap', range(21, 27),
     (43594,),
     'DTLS 1.2 to a Discord server: ClientHello sent twice, Certificate (CN=*.discord.gg) in\n'
     '8 fragments over two datagrams, ServerKeyExchange in 3, NewSessionTicket in 2'),
    ('dtls_frag_ch_mercury.hex', 'dtls_fragmented_client_hello_mercury.pcap', [1, 2], (60934,),
     'A ClientHello (message_seq 1) in two fragments'),
    ('dtls13_wolfssl.hex', 'dtls13_wolfssl_zeek.pcap', range(1, 16), (33714,),
     'DTLS 1.3 (wolfSSL): ClientHello, HelloRetryRequest, ClientHello, ServerHello, then\n'
     'unified-header records (tshark 4.0 does not decode them)'),
    ('dtls13_cid.hex', 'dtls13_cid_zeek.pcap', range(4, 19), (57488,),
     'DTLS 1.3 with connection IDs: the client asks for "I am a client CID" (17 bytes), the\n'
     'server for "fancy server CID" (16 bytes); unified headers with the C bit follow'),
    ('dtls_old_version.hex', 'dtls_old_version_ndpi.pcapng', range(1, 8), (56453,),
     'OpenSSL pre-0.9.8f DTLS (version 0x0100): ClientHello, HelloVerifyRequest,\n'
     'ClientHello with cookie, ServerHello + ChangeCipherSpec + epoch-1 Finished'),
]


def captures():
    """Every capture the vectors come from, sorted."""
    return sorted({v[1] for v in VECTORS})


def sources():
    """Files besides this one whose content the vectors depend on."""
    return []


def tshark(pcap, *args):
    if not os.path.isfile(pcap):
        raise ExtractError('%s: no such capture' % pcap)
    p = subprocess.run(['tshark', '-n', '-r', pcap] + list(args), capture_output=True, text=True)
    if p.returncode != 0:
        why = ' '.join(l.strip() for l in p.stderr.splitlines()
                       if l.strip() and not l.startswith('Running as user'))
        raise ExtractError('tshark -r %s failed (exit %d): %s' % (pcap, p.returncode, why))
    return p.stdout


def rows(pcap, frames):
    """{frame number: tshark's fields} for the UDP frames listed."""
    out = tshark(pcap, '-Y', 'udp and frame.number in {%s}' % ','.join(str(f) for f in frames),
                 '-T', 'fields', '-E', 'occurrence=a',
                 *[a for f in FIELDS for a in ('-e', f)])
    res = {}
    for line in out.splitlines():
        r = dict(zip(FIELDS, line.split('\t')))
        res[int(r['frame.number'])] = r
    return res


def _from_capture(pcaps, cap):
    """[(file, text)] for every vector of one capture."""
    vecs = [v for v in VECTORS if v[1] == cap]
    got = rows(os.path.join(pcaps, cap), sorted({f for v in vecs for f in v[2]}))
    res = []
    for name, _, frames, client_ports, what in vecs:
        lines = ['# ' + w for w in what.splitlines()]
        lines.append('# source: ../shared/pcaps/%s, frames %s, UDP payloads (the innermost)'
                     % (cap, ','.join(str(f) for f in frames)))
        lines.append('# made at test time by tests/dtls/extract.py (tshark); never commit this '
                     'file')
        for n in frames:
            r = got.get(n)
            payload = r['udp.payload'].split(',')[-1] if r is not None else ''
            if not payload:
                raise ExtractError('%s frame %d: no UDP payload (vector %s)' % (cap, n, name))
            port = int(r['udp.srcport'].split(',')[-1])
            d = 'c' if port in client_ports else 's'
            hs = ' | '.join('%s=%s' % (k.split('.')[-1], r[k]) for k in FIELDS[3:10] if r[k])
            lines.append('# frame %d: %s' % (n, r['_ws.col.Info']))
            if hs:
                lines.append('#   tshark: ' + hs)
            lines.append('%s %s' % (d, payload.replace(':', '')))
        res.append((name, '\n'.join(lines) + '\n'))
    return res


def extract_all(pcaps, outdir):
    """Write every vector into outdir (which must exist).  Raises
    ExtractError (or OSError) if a capture or frame is missing or tshark
    fails."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        per_cap = list(pool.map(lambda c: _from_capture(pcaps, c), captures()))
    for vectors in per_cap:
        for name, text in vectors:
            with open(os.path.join(outdir, name), 'w') as f:
                f.write(text)


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
