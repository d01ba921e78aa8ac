#!/usr/bin/env python3
"""Cut the capture-derived STUN test vectors out of ../shared/pcaps.

The captures must never be copied into the project, not even in part, so
the message bytes are not stored in the tree: ../vectors_run.py calls
extract_all() at test time and stun_test reads the result from the build
folder (KP_STUN_VECTORS).

What is stored, in tests/stun/expected/<capture>.tsv, is which messages to
take and what tshark read in each (field values tshark printed, never packet
bytes); stun_test.c compares every field with its own parse.  One line per
message, tab-separated:

  frame  kind  type  attrs  ipv4s  ipv6s  ports  software  realm  username
  lifetime  channel  error  crc  unknown

kind is 'stun' (tshark's stun dissector read it), 'classic' (tshark's
classicstun dissector), 'channel' (a TURN ChannelData message; type then
holds the channel number and attrs its length), 'tshark-malformed' (tshark
flagged the message as malformed: MS-TURN and WhatsApp leave attributes
unpadded, which tshark 4.0 does not follow; only the type is compared),
'raw' (STUN with the magic cookie that tshark does not dissect, e.g.
WhatsApp's message types 0x0800..; nothing is compared) or 'tcp' (frame is
"stream<tcp.stream>:<source port>", the message is one direction of that TCP
connection up to its first gap; type holds the number of STUN messages
tshark found in it).  The remaining columns are tshark's values
(comma-separated lists for repeated fields, in wire order), '-' for none:
the message type, the attribute types, the IPv4 and IPv6 addresses and the
ports of every address attribute (un-XORed), SOFTWARE, REALM, USERNAME,
LIFETIME, CHANNEL-NUMBER, the ERROR-CODE (class * 100 + number), the
FINGERPRINT status (1 good, 0 bad) and the attribute types tshark does not
know (its "Unknown attribute 0x...." expert messages: tshark leaves them out
of the attribute type list).  Identical (type, attribute list) combinations
are kept at most MAX_SAME times per capture.

At test time (extract_all) each listed message is cut out again: the UDP
payload of the frame (the inner one for datagrams tunnelled in GTP-U), or
the TCP stream rebuilt from tcp.seq and tcp.payload.  The output is one
file per capture, <capture>.hex, of "frame<TAB>hex" lines.  A listed frame
or stream that is missing is an error: the expectations are for these exact
messages.  One tshark run per capture, two at a time; the output depends
only on the captures and the expectations.

Usage: extract.py PCAP_DIR OUT_DIR
       extract.py --expectations PCAP_DIR EXPECTED_DIR
         (maintainers: rewrite the expectation files from tshark's reading
         of the captures; review the diff before committing it)
"""
import collections
import concurrent.futures
import os
import re
import subprocess
import sys

MAX_SAME = 3

CAPTURES = [
    'stun_classic_ndpi.pcap', 'teams_ndpi.pcap', 'meet_stun_dtls_srtp_ndpi.pcapng',
    'hangouts_stun_ndpi_hist.pcap', 'zoom_p2p_ndpi.pcapng', 'zoom_ndpi.pcap',
    'whatsapp_voice_ndpi.pcap', 'whatsapp_video_ndpi.pcap', 'whatsapp_stun_call_ndpi.pcapng',
    'stun_coturn_dtls_ndpi.pcap', 'stun_ipv6_ndpi.pcapng', 'ice_stun_netpix.pcapng',
    'skype_conference_call_ndpi.pcap', 'telegram_videocall_ndpi.pcapng',
]
TCP_CAPTURES = ['stun_tcp_multi_msgs_ndpi.pcap', 'stun_coturn_dtls_ndpi.pcap']

EXPECTED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'expected')
COLUMNS = ('frame kind type attrs ipv4s ipv6s ports software realm username lifetime channel '
           'error crc unknown')
N_COLUMNS = len(COLUMNS.split())

FIELDS = ['frame.number', 'udp.payload', '_ws.col.Protocol', 'stun.type', 'classicstun.type',
          'stun.att.type', 'classicstun.att.type', 'stun.att.ipv4', 'classicstun.att.ipv4',
          'stun.att.ipv6', 'classicstun.att.ipv6', 'stun.att.port', 'classicstun.att.port',
          'stun.att.software', 'stun.att.realm', 'stun.att.username', 'stun.att.lifetime',
          'classicstun.att.lifetime', 'stun.att.channelnum', 'stun.att.error.class',
          'stun.att.error', 'stun.att.crc32.status', 'stun.channel', 'stun.length',
          'stun.wrong_msglen', '_ws.malformed', '_ws.expert.message']


class ExtractError(Exception):
    pass


def captures():
    """Every capture the vectors come from, sorted."""
    return sorted(set(CAPTURES) | set(TCP_CAPTURES))


def stem(cap):
    return cap.rsplit('.', 1)[0]


def expected_file(cap, expected_dir=EXPECTED_DIR):
    return os.path.join(expected_dir, stem(cap) + '.tsv')


def sources():
    """Files besides this one whose content the vectors depend on."""
    return [expected_file(c) for c in captures()]


def tshark(pcap, *args):
    if not os.path.isfile(pcap):
        raise ExtractError('%s: no such capture' % pcap)
    p = subprocess.run(['tshark', '-n', '-r', pcap] + list(args), capture_output=True, text=True)
    if p.returncode != 0:
        why = ' '.join(l.strip() for l in p.stderr.splitlines()
                       if l.strip() and not l.startswith('Running as user'))
        raise ExtractError('tshark -r %s failed (exit %d): %s' % (pcap, p.returncode, why))
    return p.stdout


def rebuild(segs):
    """In-order bytes of one TCP direction ({seq: payload}) up to the first gap."""
    buf, nxt = bytearray(), min(segs)
    for seq in sorted(segs):
        if seq > nxt:
            break
        buf += segs[seq][nxt - seq:]
        nxt = max(nxt, seq + len(segs[seq]))
    return bytes(buf)


# ---- Test time: cut the listed messages -----------------------------------

def read_expected(cap):
    """The frame keys listed for a capture, in file order."""
    path = expected_file(cap)
    keys = []
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.rstrip('\n')
                if not line or line.startswith('#'):
                    continue
                cols = line.split('\t')
                if len(cols) != N_COLUMNS:
                    raise ExtractError('%s:%d: %d columns, expected %d'
                                       % (path, n, len(cols), N_COLUMNS))
                keys.append(cols[0])
    except OSError as e:
        raise ExtractError('cannot read %s: %s' % (path, e.strerror))
    return keys


def _cut(pcaps, cap):
    """(file, text) holding every message listed for one capture."""
    keys = read_expected(cap)
    frames = sorted({int(k) for k in keys if not k.startswith('stream')})
    streams = {k for k in keys if k.startswith('stream')}
    filt = []
    if frames:
        filt.append('(udp and frame.number in {%s})' % ','.join(str(f) for f in frames))
    if streams:
        filt.append('tcp.len>0')
    out = tshark(os.path.join(pcaps, cap), '-Y', ' or '.join(filt), '-T', 'fields',
                 '-E', 'occurrence=a', '-e', 'frame.number', '-e', 'udp.payload',
                 '-e', 'tcp.stream', '-e', 'tcp.srcport', '-e', 'tcp.seq', '-e', 'tcp.payload')
    got = {}
    segs = collections.defaultdict(dict)
    for line in out.splitlines():
        frame, udp, stream, sport, seq, tcp = line.split('\t')
        if tcp:
            segs['stream%s:%s' % (stream, sport)].setdefault(int(seq),
                                                             bytes.fromhex(tcp.replace(':', '')))
        elif udp:
            got[frame] = udp.split(',')[-1].replace(':', '')
    for key, d in segs.items():
        if key in streams:
            got[key] = rebuild(d).hex()
    lines = ['# Messages listed in tests/stun/expected/%s.tsv, cut from ../shared/pcaps/%s'
             % (stem(cap), cap),
             '# made at test time by tests/stun/extract.py (tshark); never commit this file']
    for k in keys:
        if not got.get(k):
            raise ExtractError('%s: %s %s not found' % (cap, 'TCP' if k in streams else 'frame', k))
        lines.append('%s\t%s' % (k, got[k]))
    return stem(cap) + '.hex', '\n'.join(lines) + '\n'


def extract_all(pcaps, outdir):
    """Write every vector into outdir (which must exist).  Raises
    ExtractError (or OSError) if a capture, frame or stream is missing, an
    expectation file is unreadable, or tshark fails."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        files = list(pool.map(lambda c: _cut(pcaps, c), captures()))
    for name, text in files:
        with open(os.path.join(outdir, name), 'w') as f:
            f.write(text)


# ---- Maintainers: tshark's reading of the captures -------------------------

def rows(pcap):
    out = tshark(pcap, '-Y', 'udp', '-T', 'fields', '-E', 'occurrence=a',
                 *[a for f in FIELDS for a in ('-e', f)])
    for line in out.splitlines():
        yield dict(zip(FIELDS, line.split('\t')))


def v(r, *names):
    for n in names:
        if r.get(n):
            return r[n]
    return '-'


def error_code(r):
    if not r['stun.att.error.class']:
        return '-'
    return str(int(r['stun.att.error.class'].split(',')[0]) * 100 +
               int(r['stun.att.error'].split(',')[0]))


def text(r, name):
    """A string tshark printed, or '*' if it is not printable ASCII (tshark
    shows binary values, such as MS-TURN's NONCE read as REALM, with escapes
    and replacement characters): those are packet bytes, never stored, and
    stun_test.c does not compare them."""
    s = v(r, name)
    if any(c < ' ' or c > '~' or c == '\\' for c in s):
        return '*'
    return s


def unknown_attrs(r):
    found = re.findall(r'Unknown attribute (0x[0-9a-fA-F]{4})', r['_ws.expert.message'])
    return ','.join(found) if found else '-'


def udp_lines(pcap):
    seen = collections.Counter()
    for r in rows(pcap):
        payload = r['udp.payload'].split(',')[-1]
        if not payload:
            continue
        b = bytes.fromhex(payload)
        proto = r['_ws.col.Protocol']
        if r['stun.channel']:
            kind = 'channel'
            key = ('channel', r['stun.channel'])
        elif r['stun.type'] or r['classicstun.type']:
            kind = 'stun' if r['stun.type'] else 'classic'
            if r['stun.wrong_msglen'] or r['_ws.malformed']:
                kind = 'tshark-malformed'
            key = (v(r, 'stun.type', 'classicstun.type'),
                   v(r, 'stun.att.type', 'classicstun.att.type'))
        elif len(b) >= 20 and b[4:8] == bytes.fromhex('2112a442') and b[0] < 0x40:
            kind = 'raw'
            key = ('raw', b[0:2].hex())
        else:
            continue
        if proto not in ('STUN', 'CLASSIC-STUN', 'UDP', 'DTLS', 'RTP', 'RTCP'):
            # Another dissector claimed it: do not guess.
            if kind == 'raw':
                continue
        seen[key] += 1
        if seen[key] > MAX_SAME:
            continue
        if kind == 'channel':
            cols = [r['stun.channel'], r['stun.length'].split(',')[0]] + ['-'] * 11
        else:
            cols = [v(r, 'stun.type', 'classicstun.type'),
                    v(r, 'stun.att.type', 'classicstun.att.type'),
                    v(r, 'stun.att.ipv4', 'classicstun.att.ipv4'),
                    v(r, 'stun.att.ipv6', 'classicstun.att.ipv6'),
                    v(r, 'stun.att.port', 'classicstun.att.port'),
                    text(r, 'stun.att.software'), text(r, 'stun.att.realm'),
                    text(r, 'stun.att.username'),
                    v(r, 'stun.att.lifetime', 'classicstun.att.lifetime'),
                    v(r, 'stun.att.channelnum'), error_code(r), v(r, 'stun.att.crc32.status'),
                    unknown_attrs(r)]
        yield '\t'.join([r['frame.number'], kind] + cols)


def tcp_lines(pcap):
    out = tshark(pcap, '-Y', 'tcp.len>0', '-T', 'fields', '-E', 'occurrence=a', '-e', 'tcp.stream',
                 '-e', 'tcp.srcport', '-e', 'tcp.payload', '-e', 'stun.type')
    keys = []
    counts = collections.Counter()
    for line in out.splitlines():
        stream, sport, _, types = line.split('\t')
        key = 'stream%s:%s' % (stream, sport)
        if key not in counts:
            keys.append(key)
        counts[key] += len(types.split(',')) if types else 0
    for key in keys:
        yield '\t'.join([key, 'tcp', str(counts[key])] + ['-'] * 12)


def write_expectations(pcaps, expected_dir):
    version = subprocess.run(['tshark', '--version'], capture_output=True, text=True,
                             check=True).stdout.split()[2]
    for cap in CAPTURES + [p for p in TCP_CAPTURES if p not in CAPTURES]:
        path = os.path.join(pcaps, cap)
        lines = ['# What tshark %s read in ../shared/pcaps/%s (field values only, never'
                 % (version, cap),
                 '# packet bytes); made by tests/stun/extract.py --expectations, read by '
                 'extract.py and stun_test.c.',
                 '# ' + COLUMNS]
        if cap in CAPTURES:
            lines += list(udp_lines(path))
        if cap in TCP_CAPTURES:
            lines += list(tcp_lines(path))
        with open(expected_file(cap, expected_dir), 'w') as f:
            f.write('\n'.join(lines) + '\n')


def main():
    args = sys.argv[1:]
    maint = args[:1] == ['--expectations']
    if maint:
        args = args[1:]
    if len(args) != 2:
        sys.exit('usage: extract.py PCAP_DIR OUT_DIR\n'
               '       extract.py --expectations PCAP_DIR EXPECTED_DIR')
    os.makedirs(args[1], exist_ok=True)
    try:
        if maint:
            write_expectations(args[0], args[1])
        else:
            extract_all(args[0], args[1])
    except ExtractError as e:
        sys.exit('extract.py: %s' % e)


if __name__ == '__main__':
    main()
