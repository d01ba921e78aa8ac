#!/usr/bin/env python3
"""Cut the media test vectors (RTP, RTCP, Zoom, SIP, SDES, ZRTP) out of the
captures they come from.

The captures in ../shared/pcaps must never be copied into the project, not
even in part, so the packet bytes are not stored in the tree: at test time
../vectors_run.py (--samples) calls extract_all() and extract_samples() and
the tests read the result from the build folder.  What tshark said about
those packets (sequence numbers, SSRCs, payload types, Call-IDs, SDES key
hashes...) is committed, without any packet bytes, in expected/<file>.exp;
the tests pair each record there with the bytes cut here, by name and in
order.

Two groups of vectors:
  - 'captures': cut from $KP_SHARED_PCAPS with tshark, one tshark run per
    capture (two more for the SIP-over-TLS capture, which tshark decrypts
    with the TLS secrets embedded in the pcapng), two captures at a time;
  - 'samples': the Zoom packets of the project's own samples/citizenlab-2020
    .pcap (written by kp-samplegen), read here without tshark, so that they
    are tested even where the shared captures or tshark are missing.

Every record names the frame (or TCP stream direction, or decrypted SIP
message) it comes from and its exact size: the tests depend on these exact
bytes, so anything missing or of another size is an error, never a
different vector.  The output depends only on the captures (files written in
a fixed order, with no time stamps).

The expectation files are made by `extract.py --expected`, for whoever
changes the vectors: never at test time.  It needs tshark and text2pcap
(Wireshark 4.0): values are tshark's (`-T json -e FIELD`), normalised
(integers in decimal, booleans 0/1, several occurrences joined with '|').
Zoom has no tshark dissector: its zoom.* keys are computed here from the
NOTES.md table (Michel et al. 2022) and the RTP/RTCP at the offset found is
handed to tshark (text2pcap, decode-as rtp/rtcp) for the rtp.*/rtcp.* keys.
For SDES, key.sha256_16 is SHA-256 over the decoded inline key||salt (first
16 bytes, hex): neither the key nor the decrypted SIP text is ever written
into the tree or printed.

File format (both the .exp files and the .vec files written here):
    @ NAME                  starts a record
    # ...                   comment
    = KEY VALUE             an expected value (.exp only)
    0123abcd...             the bytes, hex (.vec only)

Usage: extract.py PCAP_DIR OUT_DIR              the 'captures' vectors
       extract.py --samples SAMPLES_DIR OUT_DIR the 'samples' vectors
       extract.py --expected PCAP_DIR SAMPLES_DIR EXPECTED_DIR
"""
import base64
import concurrent.futures
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile


class ExtractError(Exception):
    pass


# ---- What is cut, from where ----------------------------------------------------------------
#
# A record: name, how ('udp': the innermost UDP payload of one frame;
# 'tcp': one direction of a TCP stream, in order; 'tls': one decrypted SIP
# message, found through the SIP fields tshark shows in one frame;
# 'sample': the UDP payload of one frame of a samples/ capture), where,
# exact size, and what it is.


def _base(cap):
    return cap.split('.')[0].replace('-', '_')


def udp(cap, frame, size, what, name=None, **opt):
    return dict(name=name or '%s_%d' % (_base(cap), frame), how='udp', cap=cap, frame=frame,
                size=size, what=what, **opt)


def sample(cap, frame, size, what, **opt):
    return dict(name='%s_%d' % (_base(cap), frame), how='sample', cap=cap, frame=frame,
                size=size, what=what, **opt)


def tcp(cap, stream, sport, size, what):
    return dict(name='sip_over_tcp_%d' % sport, how='tcp', cap=cap, stream=stream, sport=sport,
                size=size, what=what)


def tls(cap, frame, size):
    return dict(name='sip_tls_sdes_%d' % frame, how='tls', cap=cap, frame=frame, size=size,
                what='one SIP message with a=crypto (SDES)')


OPUS = 'sip_rtp_opus_invite_bye_sipnab.pcap'
ZFONE = 'sip_zrtp_asterisk_zfone_wireshark.pcap'
WEBRTC = 'webrtc_rtp_rtcp_webrtchacks_netpix.pcap'
MEET = 'meet_stun_dtls_srtp_ndpi.pcapng'
VOIPSHARK = 'sip_rtp_voipshark.pcap'
CITIZENLAB = 'citizenlab-2020.pcap'
ZOOM = 'zoom_ndpi.pcap'
ZOOM_P2P = 'zoom_p2p_ndpi.pcapng'
SDES_TLS = 'sip_tls_sdes_srtp_voipshark_keylog_dsb.pcapng'
TOOL = 'tool: tshark 4.0 (-T json), tests/media/extract.py --expected'

# (file, group, header, records)
FILES = [
    ('rtp', 'captures', 'RTP headers, expected fields from tshark', [
        udp('rtp_ndpi.pcapng', 1, 1444, 'plain RTP, PT 34'),
        udp('rtp_ndpi.pcapng', 7, 124, 'P bit set'),
        udp('rtp_ndpi.pcapng', 55, 160, 'one-byte header extension (0xBEDE)'),
        udp('rtp_ndpi.pcapng', 58, 1103, 'one-byte header extension, PT 101'),
        udp('rtp_ndpi.pcapng', 84, 24, 'one CSRC'),
        udp(WEBRTC, 1, 283, 'WebRTC, extension, padding'),
        udp(WEBRTC, 10, 855, 'WebRTC video, extension'),
        udp(MEET, 69, 86, 'Google Meet SRTP, extension'),
        udp(MEET, 168, 264, 'Google Meet SRTP, padding'),
        udp(OPUS, 6, 92, 'Opus RTP after SIP'),
        udp('h323_rtp_netpix.pcap', 34, 252, 'PCMA RTP (H.323 call)'),
    ]),
    ('rtcp', 'captures', 'RTCP compounds, expected fields from tshark', [
        udp('rtcp_multi_pkts_ndpi.pcap', 1, 112, 'SR + SDES'),
        udp('rtcp_multi_pkts_ndpi.pcap', 2, 92, 'RR + SDES'),
        udp(WEBRTC, 31, 56, 'SR + SDES (muxed)'),
        udp(WEBRTC, 32, 56, 'RR'),
        udp('h323_rtp_netpix.pcap', 356, 52, 'SR + SDES'),
        udp(ZFONE, 21, 132, 'RR + SDES before SRTP'),
        udp(ZFONE, 252, 184, 'SRTCP: E flag, index 1, 32-bit tag'),
        udp(MEET, 56, 76, 'SRTCP from Meet (RTPFB first)'),
        udp(MEET, 105, 52, 'SRTCP from Meet (RR, PSFB)'),
    ]),
    ('stream', 'captures', 'RTP and SRTCP packet sequences for the validator',
     [udp(OPUS, f, 92, 'RTP, one SSRC', name='opus_%d' % f, stream='rtp')
      for f in (6, 7, 10, 12, 14, 16, 18, 20)] +
     [udp(ZFONE, f, 184, 'SRTCP, ZRTP-keyed, 32-bit tag', name='srtcp_%d' % f, stream='srtcp')
      for f in (252, 399, 556, 676, 901)]),
    ('zoom_samples', 'samples', 'Zoom media encapsulation (the project\'s sample): zoom.* '
     'computed from\nNOTES.md (Michel et al. 2022); rtp.*/rtcp.* from tshark on the bytes at '
     'zoom.rtp_off', [
         sample(CITIZENLAB, 30, 104, 'client hello 01 00 02 (kp-samplegen)', server=True),
         sample(CITIZENLAB, 31, 40, 'server hello 02 00 02', server=True),
         sample(CITIZENLAB, 32, 154, 'client audio: outer 05, type 15, RTP at +19', server=True),
         sample(CITIZENLAB, 33, 1033, 'client video: type 16, byte 20 = 2, RTP at +24',
                server=True),
         sample(CITIZENLAB, 36, 177, 'server audio, direction 0x04', server=True),
     ]),
    ('zoom', 'captures', 'Zoom media encapsulation: zoom.* computed from NOTES.md (Michel et '
     'al. 2022);\nrtp.*/rtcp.* from tshark on the bytes at zoom.rtp_off', [
         udp(ZOOM, 386, 107, 'client hello 01 00 02', server=True),
         udp(ZOOM, 395, 35, 'server hello 02 00 01 (not 02/03 as in the paper)', server=True),
         udp(ZOOM, 396, 13, 'server 03 keep-alive (13 bytes)', server=True),
         udp(ZOOM, 404, 1029, 'outer 05 with inner type 0x15 filler: unknown', server=True),
         udp(ZOOM, 689, 57, '1-byte outer 05, type 34 RTCP at inner +15', server=True),
         udp(ZOOM, 705, 88, 'GTP-U tunnelled flow: outer 05, dir 0x04, type 0x15', server=True),
         udp(ZOOM_P2P, 63, 85, 'P2P hello 1f 02 01, length-value list', server=False),
         udp(ZOOM_P2P, 79, 1218, 'P2P video: type 16, RTP at +24', server=False),
         udp(ZOOM_P2P, 85, 91, 'P2P audio: type 15, RTP at +19', server=False),
         udp(ZOOM_P2P, 193, 56, 'P2P RTCP: type 34 at +15', server=False),
         udp(ZOOM_P2P, 80, 1028, 'P2P type 0x15 filler: not media', server=False),
     ]),
    ('sip', 'captures', 'SIP over UDP with SDP, expected fields from tshark', [
        udp('sip_sdp_suricata.pcap', 1, 970, 'INVITE with SDP (RTP/AVP)'),
        udp('sip_sdp_suricata.pcap', 2, 993, '200 OK with SDP'),
        udp(OPUS, 1, 492, 'INVITE (Opus SDP)'),
        udp(OPUS, 4, 456, '200 OK with SDP'),
        udp(OPUS, 5, 305, 'ACK'),
        udp(OPUS, 310, 293, 'BYE'),
        udp('sip_ndpi.pcap', 1, 467, 'REGISTER'),
        udp('sip_ndpi.pcap', 5, 346, '403 Wrong password'),
        udp(VOIPSHARK, 7, 654, 'NOTIFY with a body'),
        udp(ZFONE, 1, 554, 'REGISTER (X-Lite)'),
        udp(VOIPSHARK, 62, 1038, 'message with SDP'),
        udp(VOIPSHARK, 74, 1332, 'message with SDP'),
        udp(VOIPSHARK, 77, 1043, 'message with SDP'),
        udp(ZFONE, 15, 978, 'message with SDP'),
        udp(ZFONE, 18, 1143, 'message with SDP'),
        udp(ZFONE, 23, 831, 'message with SDP'),
    ]),
    ('sip_tcp', 'captures', 'SIP over TCP: one direction of the stream; mN.* are message N\'s '
     'fields', [
         tcp('sip_over_tcp_rtp_sipnab.pcap', 0, 5060, 2234, 'server to client'),
         tcp('sip_over_tcp_rtp_sipnab.pcap', 0, 64802, 1801, 'client to server'),
     ]),
    ('sip_tls', 'captures', 'SIP over TLS, decrypted at test time: SDP with a=crypto (SDES).\n'
     'The bytes (made at test time only) hold a published lab SRTP key; the expected\n'
     'values name only its hash.', [
         tls(SDES_TLS, 66, 1456),
         tls(SDES_TLS, 109, 1108),
     ]),
    ('zrtp', 'captures', 'ZRTP packets, expected fields from tshark',
     [udp(ZFONE, f, size, 'ZRTP', name='zrtp_%d' % f)
      for f, size in ((32, 132), (38, 132), (39, 132), (40, 28), (42, 132), (43, 484),
                      (44, 484), (45, 92), (46, 92), (47, 28))]),
]

GROUPS = ('captures', 'samples')


def records(group):
    """[(file, record)] of one group, in file order."""
    return [(f, r) for f, g, _, recs in FILES if g == group for r in recs]


def group_captures(group):
    """Every capture (file name) the vectors of one group come from, sorted."""
    return sorted({r['cap'] for _, r in records(group)})


def captures():
    """The captures in $KP_SHARED_PCAPS the 'captures' vectors come from
    (for ../vectors_run.py's stamp)."""
    return group_captures('captures')


def samples():
    """The captures in samples/ the 'samples' vectors come from (for
    ../vectors_run.py --samples)."""
    return group_captures('samples')


def source_dir_name(group):
    return '../shared/pcaps' if group == 'captures' else 'samples'


# ---- Cutting ---------------------------------------------------------------------------------

def tshark(pcap, *args):
    if not os.path.isfile(pcap):
        raise ExtractError('%s: no such capture' % pcap)
    p = subprocess.run(['tshark', '-n', '-r', pcap] + list(args), capture_output=True, text=True)
    if p.returncode != 0:
        why = ' '.join(l.strip() for l in p.stderr.splitlines()
                       if l.strip() and not l.startswith('Running as user'))
        raise ExtractError('tshark -r %s failed (exit %d): %s' % (pcap, p.returncode, why))
    return p.stdout


def _hex(s):
    try:
        return bytes.fromhex(s.replace(':', ''))
    except ValueError:
        raise ExtractError('tshark printed bad hex') from None


def udp_payloads(pcap, frames):
    """{frame number: innermost UDP payload} for the given frames (a GTP-U
    frame carries two UDP layers)."""
    out = tshark(pcap, '-Y', 'frame.number in {%s}' % ','.join(str(f) for f in sorted(frames)),
                 '-T', 'fields', '-e', 'frame.number', '-e', 'udp.payload')
    res = {}
    for line in out.splitlines():
        frame, payload = line.split('\t')
        if payload:
            res[int(frame)] = _hex(payload.split(',')[-1])
    return res


def tcp_streams(pcap):
    """{(tcp.stream, source port): in-order bytes up to the first gap}."""
    out = tshark(pcap, '-Y', 'tcp.len>0', '-T', 'fields', '-e', 'tcp.stream', '-e', 'tcp.srcport',
                 '-e', 'tcp.seq', '-e', 'tcp.payload')
    segs = {}
    for line in out.splitlines():
        stream, sport, seq, payload = line.split('\t')
        segs.setdefault((int(stream), int(sport)), {}).setdefault(int(seq), _hex(payload))
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


def follow_tls(pcap, stream):
    """(first node's port, its decrypted bytes, the other node's bytes)."""
    out = tshark(pcap, '-q', '-z', 'follow,tls,raw,%d' % stream)
    port, c, s = None, bytearray(), bytearray()
    for line in out.splitlines():
        if line.startswith('Node 0: '):
            port = int(line.rsplit(':', 1)[1])
            continue
        if not line.strip() or not all(ch in '0123456789abcdef\t' for ch in line):
            continue
        (s if line.startswith('\t') else c).extend(_hex(line.strip()))
    if port is None:
        raise ExtractError('%s: tshark -z follow,tls gave no node for stream %d' % (pcap, stream))
    return port, bytes(c), bytes(s)


def find_message(data, start, call_id):
    """Offset of the SIP message that starts with `start` and carries
    Call-ID call_id, in data."""
    pos = 0
    while True:
        i = data.find(start, pos)
        if i < 0:
            return -1
        j = data.find(b'\r\n\r\n', i)
        if call_id in data[i:j if j >= 0 else len(data)]:
            return i
        pos = i + 1


def message_end(msg):
    j = msg.find(b'\r\n\r\n')
    if j < 0:
        return -1
    j += 4
    for line in msg[:j].split(b'\r\n'):
        if line.lower().startswith(b'content-length:'):
            try:
                return j + int(line.split(b':', 1)[1])
            except ValueError:
                return -1
    return j


def tls_messages(pcap, frames):
    """{frame: the decrypted SIP message tshark shows in that frame}."""
    out = tshark(pcap, '-Y', 'frame.number in {%s}' % ','.join(str(f) for f in sorted(frames)),
                 '-T', 'fields', '-E', 'occurrence=f', '-e', 'frame.number', '-e', 'tcp.stream',
                 '-e', 'tcp.srcport', '-e', 'sip.Method', '-e', 'sip.Status-Code',
                 '-e', 'sip.Call-ID')
    follows, res = {}, {}
    for line in out.splitlines():
        frame, stream, sport, method, status, call_id = line.split('\t')
        if not call_id or not (method or status):
            continue
        stream = int(stream)
        if stream not in follows:
            follows[stream] = follow_tls(pcap, stream)
        port0, c, s = follows[stream]
        data = c if int(sport) == port0 else s
        start = (method + ' ').encode() if method else ('SIP/2.0 ' + status).encode()
        i = find_message(data, start, call_id.encode())
        end = message_end(data[i:]) if i >= 0 else -1
        if end > 0 and i + end <= len(data):
            res[int(frame)] = data[i:i + end]
    return res


def sample_udp_payloads(pcap, frames):
    """{frame: UDP payload} from a classic pcap of Ethernet/IPv4/UDP frames
    (what kp-samplegen writes), read without tshark."""
    try:
        with open(pcap, 'rb') as f:
            data = f.read()
    except OSError as e:
        raise ExtractError('%s: %s' % (pcap, e.strerror)) from None
    if data[:4] not in (b'\xd4\xc3\xb2\xa1', b'\xa1\xb2\xc3\xd4') or len(data) < 24:
        raise ExtractError('%s: not a classic pcap file' % pcap)
    e = '<' if data[:4] == b'\xd4\xc3\xb2\xa1' else '>'
    if struct.unpack(e + 'I', data[20:24])[0] != 1:
        raise ExtractError('%s: not Ethernet' % pcap)
    res, off, frame = {}, 24, 0
    while off + 16 <= len(data):
        caplen = struct.unpack(e + 'I', data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        frame += 1
        if frame not in frames:
            continue
        where = '%s frame %d' % (pcap, frame)
        if len(pkt) != caplen or len(pkt) < 14 + 20 or pkt[12:14] != b'\x08\x00':
            raise ExtractError('%s: not a whole Ethernet/IPv4 frame' % where)
        ip = pkt[14:]
        ihl, tot = (ip[0] & 15) * 4, struct.unpack('>H', ip[2:4])[0]
        if ip[0] >> 4 != 4 or ihl < 20 or ip[9] != 17 or struct.unpack('>H', ip[6:8])[0] & 0x3fff:
            raise ExtractError('%s: not an unfragmented IPv4/UDP packet' % where)
        if tot > len(ip) or tot < ihl + 8:
            raise ExtractError('%s: bad IPv4 total length' % where)
        u = ip[ihl:tot]
        ulen = struct.unpack('>H', u[4:6])[0]
        if ulen < 8 or ulen > len(u):
            raise ExtractError('%s: bad UDP length' % where)
        res[frame] = u[8:ulen]
    return res


def where(r):
    d = source_dir_name('samples' if r['how'] == 'sample' else 'captures')
    if r['how'] == 'tcp':
        return '%s/%s TCP stream %d from port %d' % (d, r['cap'], r['stream'], r['sport'])
    if r['how'] == 'tls':
        return '%s/%s frame %d, TLS-decrypted with the embedded key log' % (d, r['cap'],
                                                                              r['frame'])
    return '%s/%s frame %d' % (d, r['cap'], r['frame'])


def _cut_capture(src_dir, cap, recs):
    """{record name: bytes} for the records recs, all from capture cap."""
    pcap = os.path.join(src_dir, cap)
    hows = {r['how'] for r in recs}
    frames = {r['frame'] for r in recs if r['how'] in ('udp', 'sample', 'tls')}
    got = {}
    if 'udp' in hows:
        got.update(udp_payloads(pcap, frames))
    if 'sample' in hows:
        got.update(sample_udp_payloads(pcap, frames))
    if 'tls' in hows:
        got.update(tls_messages(pcap, frames))
    streams = tcp_streams(pcap) if 'tcp' in hows else {}
    res = {}
    for r in recs:
        if r['how'] == 'tcp':
            data = streams.get((r['stream'], r['sport']))
        else:
            data = got.get(r['frame'])
        if data is None:
            raise ExtractError('%s: not found' % where(r))
        if len(data) != r['size']:
            raise ExtractError('%s: %d bytes, expected exactly %d' % (where(r), len(data),
                                                                      r['size']))
        res[r['name']] = data
    return res


def cut(group, src_dir):
    """{record name: bytes} for every record of one group."""
    recs = records(group)
    caps = group_captures(group)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        per_cap = list(pool.map(
            lambda c: _cut_capture(src_dir, c, [r for _, r in recs if r['cap'] == c]), caps))
    res = {}
    for d in per_cap:
        res.update(d)
    return res


def write_file(path, header, recs):
    """recs: [(name, comment, [(key, value)], bytes or None)]."""
    with open(path, 'w') as f:
        for line in header.strip().splitlines():
            f.write('# ' + line + '\n')
        for name, comment, exp, data in recs:
            f.write('\n@ %s\n' % name)
            for line in comment.strip().splitlines():
                f.write('# ' + line + '\n')
            for k, v in exp:
                f.write('= %s %s\n' % (k, v))
            if data is not None:
                h = data.hex()
                for i in range(0, len(h), 64):
                    f.write(h[i:i + 64] + '\n')


def comment(r):
    return 'source: %s\n%s\n%d bytes' % (where(r), r['what'], r['size'])


def extract_group(group, src_dir, outdir):
    """Write <file>.vec for every file of one group into outdir (which must
    exist).  Raises ExtractError (or OSError) if a capture, frame or message
    is missing, a vector has not the expected size, or tshark fails."""
    data = cut(group, src_dir)
    for fname, g, header, recs in FILES:
        if g != group:
            continue
        write_file(os.path.join(outdir, fname + '.vec'),
                   header + '\nmade at test time by tests/media/extract.py; never commit '
                   'this file', [(r['name'], comment(r), [], data[r['name']]) for r in recs])


def extract_all(pcaps, outdir):
    """The 'captures' vectors, from $KP_SHARED_PCAPS (with tshark)."""
    extract_group('captures', pcaps, outdir)


def extract_samples(samples_dir, outdir):
    """The 'samples' vectors, from the project's samples/ (no tshark)."""
    extract_group('samples', samples_dir, outdir)


# ---- --expected: the values the tests assert, from tshark -----------------------------------

def tshark_json(pcap, fields, filt=None, extra=()):
    args = ['-T', 'json'] + list(extra)
    if filt:
        args += ['-Y', filt]
    for f in fields:
        args += ['-e', f]
    out = tshark(pcap, *args)
    return [p['_source']['layers'] for p in json.loads(out or '[]')]


def norm(v):
    if v in ('True', 'true'):
        return '1'
    if v in ('False', 'false'):
        return '0'
    try:
        if v.startswith('0x'):
            return str(int(v, 16))
    except ValueError:
        pass
    return v


def fields_of(layers, fields):
    res = []
    for f in fields:
        if f in layers:
            res.append((f, '|'.join(norm(x) for x in layers[f])))
    return res


RTP_FIELDS = ['rtp.version', 'rtp.padding', 'rtp.ext', 'rtp.cc', 'rtp.marker', 'rtp.p_type',
              'rtp.seq', 'rtp.timestamp', 'rtp.ssrc', 'rtp.csrc.item', 'rtp.ext.profile',
              'rtp.ext.len', 'rtp.ext.rfc5285.id', 'rtp.padding.count']
RTCP_FIELDS = ['rtcp.pt', 'rtcp.rc', 'rtcp.length', 'rtcp.senderssrc', 'rtcp.timestamp.rtp',
               'rtcp.sender.packetcount', 'rtcp.sender.octetcount', 'rtcp.sdes.type',
               'rtcp.sdes.text', 'rtcp.app.name', 'srtcp.e', 'srtcp.index']
HEUR = ['--enable-heuristic', 'rtp_udp', '--enable-heuristic', 'rtcp_udp']
SIP_FIELDS = ['sip.Method', 'sip.r-uri', 'sip.Status-Code', 'sip.Call-ID', 'sip.From', 'sip.To',
              'sip.CSeq', 'sip.CSeq.seq', 'sip.CSeq.method', 'sip.Via', 'sip.Contact',
              'sip.Content-Type', 'sip.Content-Length', 'sip.User-Agent', 'sip.Server']
SDP_FIELDS = ['sdp.connection_info.address', 'sdp.media.media', 'sdp.media.port',
              'sdp.media.proto', 'sdp.crypto.tag', 'sdp.crypto.crypto_suite']
ZRTP_FIELDS = ['zrtp.sequence', 'zrtp.source_id', 'zrtp.type', 'zrtp.length', 'zrtp.version',
               'zrtp.client_source_id', 'zrtp.zid', 'zrtp.sigcap', 'zrtp.mitm', 'zrtp.passive',
               'zrtp.hc', 'zrtp.cc', 'zrtp.ac', 'zrtp.kc', 'zrtp.sc', 'zrtp.hash', 'zrtp.cipher',
               'zrtp.at', 'zrtp.keya', 'zrtp.sas', 'zrtp.checksum', 'zrtp.checksum.status']


def frame_fields(pcap, r, fields, extra=()):
    lay = tshark_json(pcap, fields, 'frame.number==%d' % r['frame'], extra)
    if not lay:
        raise ExtractError('%s: not found' % where(r))
    return lay[0]


def tshark_on_bytes(data, proto, fields):
    """tshark's view of bytes given to it as UDP/5004 decoded as proto."""
    with tempfile.TemporaryDirectory() as d:
        txt, pcap = os.path.join(d, 'in.txt'), os.path.join(d, 'in.pcap')
        with open(txt, 'w') as f:
            for i in range(0, len(data), 16):
                f.write('%06x %s\n' % (i, ' '.join('%02x' % b for b in data[i:i + 16])))
        subprocess.run(['text2pcap', '-q', '-u', '5004,5004', txt, pcap], check=True,
                       capture_output=True)
        lay = tshark_json(pcap, fields, None, ['-d', 'udp.port==5004,' + proto])
        return fields_of(lay[0], fields)


# NOTES.md table, relative to the inner header.
def zoom_expect(data, server):
    exp = []

    def media(inner, alt_layout):
        t = data[inner]
        cands = []
        if t == 15:
            cands = [(19, 'audio')]
        elif t == 16:
            f = data[inner + 20] == 2
            cands = [(24 if f else 20, 'video'), (20 if f else 24, 'video')]
        elif t == 13 and data[inner + 7] == 0x1e:
            cands = [(27, 'screen')]
        elif t == 30:
            cands = [(20, 'screen')]
        elif 33 <= t <= 35:
            cands = [(16, 'rtcp')]
        for i, (off, kind) in enumerate(cands):
            o = inner + off
            if o + 12 > len(data) or data[o] >> 6 != 2:
                continue
            if kind == 'rtcp':
                if not 200 <= data[o + 1] <= 206:
                    continue
            elif 64 <= data[o + 1] & 0x7f <= 95:
                continue
            return kind, o, alt_layout or i > 0, t
        return None

    if not server:
        if data[:3] == b'\x1f\x02\x01':
            return [('zoom.kind', 'p2p-hello')]
        m = media(0, False)
        if m is None:
            return [('zoom.res', 'not-mine')]
        kind, off, alt, t = m
    else:
        b0 = data[0]
        if b0 in (1, 2) and data[1] == 0 and 1 <= data[2] <= 3:
            return [('zoom.kind', 'control'), ('zoom.dir', 'to' if b0 == 1 else 'from')]
        if b0 in (3, 4):
            return [('zoom.kind', 'control')]
        assert b0 == 5
        exp += [('zoom.outer_seq', str(data[1] << 8 | data[2]))]
        dirs = {0: 'to', 1: 'to', 4: 'from', 5: 'from'}
        m = media(8, False)
        if m is None:
            m = media(1, True)
            if m is None:
                return exp + [('zoom.kind', 'unknown'), ('zoom.dir', dirs.get(data[7], 'unknown'))]
            exp = [('zoom.dir', 'unknown')]
        else:
            exp += [('zoom.dir', dirs.get(data[7], 'unknown'))]
        kind, off, alt, t = m
    exp += [('zoom.kind', kind), ('zoom.inner_type', str(t)), ('zoom.rtp_off', str(off)),
            ('zoom.rtp_alt', '1' if alt else '0')]
    if kind == 'rtcp':
        exp += tshark_on_bytes(data[off:], 'rtcp', RTCP_FIELDS)
    else:
        exp += tshark_on_bytes(data[off:], 'rtp', RTP_FIELDS)
    return exp


def sdp_attrs(layers):
    """tshark's session (s:) and media (m:) attribute strings for the
    attributes the parser reports."""
    res = []
    want = ('fingerprint', 'setup', 'zrtp-hash', 'rtcp-mux', 'ice-ufrag')
    for level, field in (('s', 'sdp.session_attr'), ('m', 'sdp.media_attr')):
        for a in layers.get(field, []):
            if a.split(':', 1)[0] in want:
                res.append(level + ':' + a)
    return [('sdp.attr', '|'.join(res))] if res else []


def expect_sip_tcp(pcap, r):
    lay = tshark_json(pcap, ['tcp.stream', 'tcp.srcport', 'frame.number'] + SIP_FIELDS +
                      SDP_FIELDS, 'sip')
    msgs = [l for l in lay if int(l['tcp.stream'][0]) == r['stream'] and
            int(l['tcp.srcport'][0]) == r['sport']]
    exp = [('stream.messages', str(len(msgs)))]
    for i, l in enumerate(msgs):
        exp += [('m%d.%s' % (i, k), v) for k, v in fields_of(l, SIP_FIELDS + SDP_FIELDS)]
    return exp, 'frames %s' % ','.join(l['frame.number'][0] for l in msgs)


def expect_sip_tls(pcap, r, msg):
    """The SIP/SDP fields and, per a=crypto line, its tag and the SHA-256 of
    the decoded inline key||salt.  Where tshark split key and salt, they
    must agree with the decode.  Nothing here prints a key."""
    l = frame_fields(pcap, r, ['sdp.crypto.master_key', 'sdp.crypto.master_salt'] +
                     SIP_FIELDS + SDP_FIELDS)
    exp = fields_of(l, SIP_FIELDS + SDP_FIELDS)
    tshark_keys = {_hex(k) + _hex(t) for k, t in zip(l.get('sdp.crypto.master_key', []),
                                                     l.get('sdp.crypto.master_salt', []))}
    hashes = []
    for line in msg[:message_end(msg)].split(b'\r\n'):
        if not line.startswith(b'a=crypto:'):
            continue
        tag, _suite, params = line[9:].split(b' ')[:3]
        raw = base64.b64decode(params.split(b';')[0][7:].split(b'|')[0])
        tshark_keys.discard(raw)
        hashes.append('%s:%s' % (tag.decode(), hashlib.sha256(raw).hexdigest()[:32]))
    if tshark_keys:
        raise ExtractError('%s: tshark saw a key the base64 decode did not give' % where(r))
    exp.append(('key.sha256_16', '|'.join(hashes)))
    return exp


def expect(fname, r, src_dir, data):
    """([(key, value)], extra comment) for one record."""
    pcap = os.path.join(src_dir, r['cap'])
    if fname == 'rtp':
        return fields_of(frame_fields(pcap, r, RTP_FIELDS, HEUR), RTP_FIELDS), ''
    if fname == 'rtcp':
        return fields_of(frame_fields(pcap, r, RTCP_FIELDS, HEUR), RTCP_FIELDS), ''
    if fname == 'stream' and r['stream'] == 'rtp':
        f = ['rtp.ssrc', 'rtp.seq']
        return fields_of(frame_fields(pcap, r, f, HEUR), f), ''
    if fname == 'stream':
        return fields_of(frame_fields(pcap, r, RTCP_FIELDS), RTCP_FIELDS), ''
    if fname in ('zoom', 'zoom_samples'):
        return [('zoom.server', '1' if r['server'] else '0')] + zoom_expect(data, r['server']), ''
    if fname == 'sip':
        l = frame_fields(pcap, r, SIP_FIELDS + SDP_FIELDS + ['sdp.media_attr',
                                                            'sdp.session_attr'])
        return fields_of(l, SIP_FIELDS + SDP_FIELDS) + sdp_attrs(l), ''
    if fname == 'sip_tcp':
        return expect_sip_tcp(pcap, r)
    if fname == 'sip_tls':
        return expect_sip_tls(pcap, r, data), ''
    if fname == 'zrtp':
        return fields_of(frame_fields(pcap, r, ZRTP_FIELDS), ZRTP_FIELDS), ''
    raise ExtractError('no expectations for %s' % fname)


def write_expected(pcaps, samples, outdir):
    """Write expected/<file>.exp for every file: no packet bytes."""
    dirs = {'captures': pcaps, 'samples': samples}
    data = {}
    for g in GROUPS:
        data.update(cut(g, dirs[g]))
    for fname, g, header, recs in FILES:
        out = []
        for r in recs:
            exp, more = expect(fname, r, dirs[g], data[r['name']])
            c = comment(r)
            if more:
                c = c.replace('\n', ', %s\n' % more, 1)
            out.append((r['name'], c, exp, None))
        write_file(os.path.join(outdir, fname + '.exp'),
                   header + '\n' + TOOL + '\nNo packet bytes: tests/media/extract.py cuts them '
                   'at test time.', out)


def main():
    try:
        if len(sys.argv) == 5 and sys.argv[1] == '--expected':
            write_expected(sys.argv[2], sys.argv[3], sys.argv[4])
        elif len(sys.argv) == 4 and sys.argv[1] == '--samples':
            os.makedirs(sys.argv[3], exist_ok=True)
            extract_samples(sys.argv[2], sys.argv[3])
        elif len(sys.argv) == 3:
            os.makedirs(sys.argv[2], exist_ok=True)
            extract_all(sys.argv[1], sys.argv[2])
        else:
            sys.exit('usage: extract.py PCAP_DIR OUT_DIR\n'
                     '       extract.py --samples SAMPLES_DIR OUT_DIR\n'
                     '       extract.py --expected PCAP_DIR SAMPLES_DIR EXPECTED_DIR')
    except ExtractError as e:
        sys.exit('extract.py: %s' % e)


if __name__ == '__main__':
    main()
