#!/usr/bin/env python3
"""Cut the capture-derived QUIC test vectors out of ../shared/pcaps.

The captures must never be copied into the project, not even in part, so
these vectors are not stored in the tree: ../vectors_run.py calls extract_all()
at test time and quic_test.c reads the result from the build folder.  (The
RFC 9001 / RFC 9369 Appendix A vectors in tests/quic/data/ are copied from
the RFC text and stay in the tree.)

Each vector is the whole UDP payload of one frame (one datagram, possibly
several coalesced QUIC packets).  quic_test.c depends on these exact bytes,
so a frame that is missing or whose payload is not exactly the expected size
is an error, never a different vector.

One tshark run per capture, two at a time; the output depends only on the
captures (files are written in a fixed order, with no time stamps).

The expected values asserted in quic_test.c (SNI and ALPN as tshark 4.0
decodes them, and a JA4 computed here from tshark's own field values,
independently of keyprov's ja4.c) are printed by `extract.py --expected`;
that is for whoever updates quic_test.c, never run at test time.

Usage: extract.py PCAP_DIR OUT_DIR
       extract.py --expected PCAP_DIR
"""
import concurrent.futures
import hashlib
import os
import subprocess
import sys
import xml.etree.ElementTree as ET


class ExtractError(Exception):
    pass


# (output name, capture, [(frame, UDP payload bytes)], frame whose
#  ClientHello --expected decodes or None, what)
# A vector of several frames is written as <name>_1.hex, <name>_2.hex, ...
VECTORS = [
    ('v1_curl_google', 'quic_curl_http3_google_zeek.pcap', [(1, 1200)], 1,
     'curl HTTP/3 client Initial, QUIC v1'),
    ('v1_curl_google_server', 'quic_curl_http3_google_zeek.pcap', [(2, 1200)], None,
     'server Initial (keys from the client DCID of frame 1)'),
    ('v1_chromium_cirrus_server', 'quic_chromium_cirrus_cn_zeek.pcap', [(2, 1250)], None,
     'server Initial coalesced with a Handshake packet (keys from the client DCID of frame 1)'),
    ('v1_firefox_cloudflare', 'quic_firefox_cloudflare_zeek.pcap', [(1, 1357)], 1,
     'Firefox client Initial, QUIC v1'),
    ('v1_chromium_cirrus', 'quic_chromium_cirrus_cn_zeek.pcap', [(1, 1250)], 1,
     'Chromium client Initial, CRYPTO frames out of order inside one packet'),
    ('v1_multi_frag', 'quic_multi_initial_frag_zeek.pcap', [(1, 1230), (2, 1230), (3, 1230)], 3,
     'ClientHello spread over three Initial packets'),
    ('v1_fragmented', 'quic_fragmented_mercury.pcap', [(1, 1250), (2, 1250)], 2,
     'ClientHello spread over two Initial packets'),
    ('v2_mercury', 'quic_v2_mercury.pcap', [(1, 1200)], 1, 'QUIC v2 client Initial'),
    ('v2_ndpi', 'quic_v2_ndpi.pcapng', [(1, 1232)], 1, 'QUIC v2 client Initial'),
    ('d29_hangouts', 'google_quic_hangouts_signaler_mercury.pcap', [(1, 1330)], 1,
     'draft-29 client Initial (Chrome)'),
    ('mvfst_faceb002', 'google_quic_hangouts_signaler_mercury.pcap', [(15, 1232)], 15,
     'mvfst 0xfaceb002 client Initial'),
    ('d28_0rtt', 'quic_0rtt_ndpi.pcap', [(1, 1232)], 1,
     'draft-28 client Initial coalesced with a 0-RTT packet'),
    ('v1_retry_initial', 'quic_go_retry_zeek.pcap', [(5, 1252)], 5,
     'quic-go client Initial answered by a Retry'),
    ('v1_retry', 'quic_go_retry_zeek.pcap', [(6, 125)], None,
     'Retry packet (ODCID = DCID of frame 5)'),
    ('gquic_q046', 'quic046_ndpi.pcap', [(1, 1350)], None, 'Google QUIC Q046 CHLO in clear'),
    ('gquic_q024', 'quic_ndpi.pcap', [(1, 1350)], None, 'Google QUIC Q024 CHLO in clear'),
    ('gquic_q050', 'gquic_ndpi.pcap', [(1, 1350)], None, 'Google QUIC Q050 (encrypted Initial)'),
]


def tshark(pcap, *args):
    if not os.path.isfile(pcap):
        raise ExtractError('%s: no such capture' % pcap)
    p = subprocess.run(['tshark', '-n', '-r', pcap] + list(args), capture_output=True, text=True)
    if p.returncode != 0:
        why = ' '.join(l.strip() for l in p.stderr.splitlines()
                       if l.strip() and not l.startswith('Running as user'))
        raise ExtractError('tshark -r %s failed (exit %d): %s' % (pcap, p.returncode, why))
    return p.stdout


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


def file_names(name, frames):
    """The .hex file of each frame of one vector."""
    if len(frames) == 1:
        return [name + '.hex']
    return ['%s_%d.hex' % (name, i + 1) for i in range(len(frames))]


def captures():
    """Every capture the vectors come from, sorted."""
    return sorted({v[1] for v in VECTORS})


def _from_capture(pcaps, cap):
    """[(file, bytes, comment)] for every vector of one capture."""
    vecs = [v for v in VECTORS if v[1] == cap]
    payloads = udp_payloads(os.path.join(pcaps, cap), {f for v in vecs for f, _ in v[2]})
    res = []
    for name, _, frames, _, what in vecs:
        for fn, (frame, size) in zip(file_names(name, frames), frames):
            where = '%s frame %d UDP payload' % (cap, frame)
            if frame not in payloads:
                raise ExtractError('%s: not found' % where)
            data = payloads[frame]
            if len(data) != size:
                raise ExtractError('%s: %d bytes, expected exactly %d' % (where, len(data), size))
            res.append((fn, data, '%s\nsource: ../shared/pcaps/%s, frame %d, UDP payload'
                        % (what, cap, frame)))
    return res


def extract_all(pcaps, outdir):
    """Write every vector into outdir (which must exist).  Raises
    ExtractError (or OSError) if a capture or frame is missing, a payload
    has not the expected size, or tshark fails."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        per_cap = list(pool.map(lambda c: _from_capture(pcaps, c), captures()))
    for vectors in per_cap:
        for name, data, comment in vectors:
            write(outdir, name, data, comment + '\nmade at test time by tests/quic/extract.py '
                  '(tshark); never commit this file')


# ---- --expected: the SNI, ALPN and JA4 that quic_test.c asserts ----------------------------

def grease(v):
    return (v & 0x0f0f) == 0x0a0a and (v >> 8) == (v & 0xff)


def fields(pcap, frame, name):
    out = tshark(pcap, '-Y', 'frame.number==%d' % frame, '-T', 'fields', '-E', 'occurrence=a',
                 '-E', 'separator=;', '-E', 'aggregator=,', '-e', name).strip()
    return [x for x in out.split(',') if x != ''] if out else []


def sigalgs_13(pcap, frame):
    root = ET.fromstring(tshark(pcap, '-Y', 'frame.number==%d' % frame, '-T', 'pdml'))
    for el in root.iter('field'):
        kids = list(el)
        if any(k.get('name') == 'tls.handshake.extension.type' and k.get('show') == '13'
               for k in kids):
            return [int(f.get('show'), 16) for f in el.iter('field')
                    if f.get('name') == 'tls.handshake.sig_hash_alg']
    return []


def ja4(pcap, frame):
    ciphers = [int(x, 16) for x in fields(pcap, frame, 'tls.handshake.ciphersuite')]
    exts = [int(x) for x in fields(pcap, frame, 'tls.handshake.extension.type')]
    vers = [int(x, 16) for x in fields(pcap, frame, 'tls.handshake.extensions.supported_version')]
    alpn = fields(pcap, frame, 'tls.handshake.extensions_alpn_str')
    # signature_algorithms (13) only: tshark names the entries of every
    # extension that carries signature schemes (delegated_credentials,
    # signature_algorithms_cert) alike, so take them from the PDML subtree of
    # extension 13.
    sig = sigalgs_13(pcap, frame)
    c = [x for x in ciphers if not grease(x)]
    e = [x for x in exts if not grease(x)]
    v = [x for x in vers if not grease(x)]
    ver = {0x0304: '13', 0x0303: '12'}.get(max(v) if v else 0x0303, '00')
    sni = 'd' if 0 in exts else 'i'
    a = alpn[0] if alpn else ''
    if not a:
        ap = '00'
    elif a[0].isalnum() and a[-1].isalnum() and a.isascii():
        ap = a[0] + a[-1]
    else:
        ap = '%x%x' % (ord(a[0]) >> 4, ord(a[-1]) & 15)
    h1 = ','.join('%04x' % x for x in sorted(c))
    es = ','.join('%04x' % x for x in sorted(x for x in e if x not in (0, 16)))
    if sig:
        es += '_' + ','.join('%04x' % x for x in sig)
    hh = lambda s: hashlib.sha256(s.encode()).hexdigest()[:12] if s else '000000000000'
    return 'q%s%s%02d%02d%s_%s_%s' % (ver, sni, min(len(c), 99), min(len(e), 99), ap, hh(h1),
                                       hh(es))


def print_expected(pcaps):
    for name, cap, _, ch_frame, _ in VECTORS:
        if ch_frame is None:
            continue
        pcap = os.path.join(pcaps, cap)
        sni = ';'.join(fields(pcap, ch_frame, 'tls.handshake.extensions_server_name'))
        alpn = ','.join(fields(pcap, ch_frame, 'tls.handshake.extensions_alpn_str'))
        print('%-24s sni=%s alpn=%s ja4=%s' % (name, sni, alpn, ja4(pcap, ch_frame)))


def main():
    try:
        if len(sys.argv) == 3 and sys.argv[1] == '--expected':
            print_expected(sys.argv[2])
        elif len(sys.argv) == 3:
            os.makedirs(sys.argv[2], exist_ok=True)
            extract_all(sys.argv[1], sys.argv[2])
        else:
            sys.exit('usage: extract.py PCAP_DIR OUT_DIR\n'
                     '       extract.py --expected PCAP_DIR')
    except ExtractError as e:
        sys.exit('extract.py: %s' % e)


if __name__ == '__main__':
    main()
