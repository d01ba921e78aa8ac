#!/usr/bin/env python3
"""EVE output (cli/eve.c) checked with a real JSON parser and against Suricata.

    eve_check.py records  EVE_RUN   the records and alerts keyprov writes
    eve_check.py suricata EVE_RUN   the same lines next to Suricata 7's own

`records` runs eve_run (the engine through the public API, real geolocation
from geodata/) over samples/citizenlab-2020.pcap with several policies, and
over captures made here: a SIP INVITE with SDES keys in clear, the sample
with a hostile server name, and the sample with a broken TLS record.  Every
line must parse with Python's json, be valid UTF-8, and have the field types
of Suricata 7's EVE schema (SURICATA_FIELDS below, from etc/schema.json and
the userguide's "Eve JSON Format"; the top-level object and the alert and
anomaly objects are closed there, so only the "keyprov" object is added).

`suricata` runs real Suricata on the same sample with one rule on the same
TLS flow and compares its alert line with keyprov's: same 5-tuple values,
every top-level key of keyprov's line is one Suricata writes (keyprov apart),
the same alert object keys and types, tls.sni and tls.version equal, the same
timestamp format, the category text Suricata prints for the classtype.  When
a Suricata etc/schema.json is found (KP_SURICATA_SCHEMA, or beside
Suricata's files) both programs' lines are validated against it too.

Exit 0 pass, 1 fail, 77 skip (meson).  Missing geodata FAILS, unless
KP_ALLOW_MISSING_GEODATA=1; missing suricata (KP_SURICATA, else PATH) is a
skip, and FAILS when CI is set.
"""
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get('KP_SRCDIR', os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(SRC, 'tests', 'cli'))
import pcaptool  # noqa: E402  (the CLI tests' classic-pcap helpers)

CITIZEN = os.path.join(SRC, 'samples', 'citizenlab-2020.pcap')
CLIENT, CN_ISSUER, US_ISSUER = '142.150.190.10', '52.81.151.250', '170.114.128.20'

# Suricata's own timestamp pattern (etc/schema.json), and keyprov's exact form.
SURICATA_TS = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+[+\-]\d+$')
KEYPROV_TS = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+0000$')

INSTALL = ("echo 'deb http://deb.debian.org/debian bookworm-backports main' "
           "> /etc/apt/sources.list.d/backports.list && apt-get update && "
           "DEBIAN_FRONTEND=noninteractive apt-get install -y -t bookworm-backports suricata")

FAILED = []


def check(name, ok, detail=''):
    print('%s: %s' % ('ok  ' if ok else 'FAIL', name))
    if not ok:
        FAILED.append(name)
        if detail:
            print('      ' + str(detail)[:3000])
    return ok


# --------------------------------------------------------------- Suricata

# Field types of Suricata 7's EVE schema (etc/schema.json) for what keyprov
# writes and what Suricata writes on an alert: top-level fields, and the
# closed alert, anomaly and tls objects ("additionalProperties": false).
INT, STR, OBJ, ARR, BOOL = 'integer', 'string', 'object', 'array', 'boolean'
SURICATA_FIELDS = {
    'timestamp': STR, 'flow_id': INT, 'parent_id': INT, 'pcap_cnt': INT, 'event_type': STR,
    'src_ip': STR, 'src_port': INT, 'dest_ip': STR, 'dest_port': INT, 'proto': STR,
    'pkt_src': STR, 'tx_id': INT, 'app_proto': STR, 'direction': STR, 'community_id': STR,
    'vlan': ARR, 'ether': OBJ, 'flow': OBJ, 'metadata': OBJ, 'stream': INT, 'packet': STR,
    'payload': STR, 'payload_printable': STR, 'alert': OBJ, 'anomaly': OBJ, 'tls': OBJ,
    'icmp_type': INT, 'icmp_code': INT,
}
SURICATA_REQUIRED = ('timestamp', 'event_type')
SURICATA_ALERT = {
    'action': STR, 'gid': INT, 'signature_id': INT, 'rev': INT, 'signature': STR,
    'category': STR, 'severity': INT, 'rule': STR, 'xff': STR, 'metadata': OBJ,
    'source': OBJ, 'target': OBJ,
}
SURICATA_ANOMALY = {'type': STR, 'event': STR, 'layer': STR, 'app_proto': STR}
SURICATA_TLS = {
    'sni': STR, 'version': STR, 'subject': STR, 'issuerdn': STR, 'serial': STR,
    'fingerprint': STR, 'notbefore': STR, 'notafter': STR, 'session_resumed': BOOL,
    'from_proto': STR, 'ja3': OBJ, 'ja3s': OBJ, 'ja4': STR,
}
EXTENSION = 'keyprov'  # keyprov's own object, as a plugin's app-layer object


def jtype(v):
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, int):
        return INT
    if isinstance(v, float):
        return 'number'
    if isinstance(v, str):
        return STR
    if isinstance(v, list):
        return ARR
    if isinstance(v, dict):
        return OBJ
    return 'null'


def closed_object(obj, fields, where):
    errs = []
    for k, v in obj.items():
        if k not in fields:
            errs.append('%s.%s: not in Suricata\'s schema' % (where, k))
        elif jtype(v) != fields[k]:
            errs.append('%s.%s: %s, Suricata has %s' % (where, k, jtype(v), fields[k]))
    return errs


def suricata_shape_errors(d, extension=True):
    """What in this line Suricata's EVE schema would reject."""
    errs = []
    for k in SURICATA_REQUIRED:
        if k not in d:
            errs.append('%s missing' % k)
    for k, v in d.items():
        if k == EXTENSION and extension:
            if not isinstance(v, dict):
                errs.append('keyprov is not an object')
            continue
        if k not in SURICATA_FIELDS:
            errs.append('%s: not a Suricata field' % k)
        elif jtype(v) != SURICATA_FIELDS[k]:
            errs.append('%s: %s, Suricata has %s' % (k, jtype(v), SURICATA_FIELDS[k]))
    if isinstance(d.get('timestamp'), str) and not SURICATA_TS.match(d['timestamp']):
        errs.append('timestamp %r does not match Suricata\'s pattern' % d['timestamp'])
    if isinstance(d.get('flow_id'), int) and not 0 < d['flow_id'] < 2 ** 53:
        errs.append('flow_id %d outside 1..2^53' % d['flow_id'])
    for name, fields in (('alert', SURICATA_ALERT), ('anomaly', SURICATA_ANOMALY),
                         ('tls', SURICATA_TLS)):
        if isinstance(d.get(name), dict):
            errs += closed_object(d[name], fields, name)
    for port in ('src_port', 'dest_port'):
        if isinstance(d.get(port), int) and not 0 <= d[port] <= 65535:
            errs.append('%s %d out of range' % (port, d[port]))
    return errs


# A small JSON-Schema checker (the subset Suricata's etc/schema.json uses:
# type, properties, required, Suricata's "optional": false, additionalProperties,
# items, pattern, $ref to #/$defs), for when that file is available.
def schema_errors(v, s, root, path='$'):
    if '$ref' in s:
        ref = s['$ref']
        node = root
        for part in ref.lstrip('#/').split('/'):
            node = node[part]
        return schema_errors(v, node, root, path)
    errs = []
    t = s.get('type')
    if t is not None:
        types = t if isinstance(t, list) else [t]
        vt = jtype(v)
        if not (vt in types or (vt == INT and 'number' in types)):
            return ['%s: %s, schema wants %s' % (path, vt, '/'.join(types))]
    if isinstance(v, str) and 'pattern' in s and not re.search(s['pattern'], v):
        errs.append('%s: %r does not match %s' % (path, v, s['pattern']))
    if isinstance(v, dict):
        props = s.get('properties', {})
        for k in s.get('required', []):
            if k not in v:
                errs.append('%s.%s: required' % (path, k))
        for k, sub in props.items():
            if isinstance(sub, dict) and sub.get('optional') is False and k not in v:
                errs.append('%s.%s: required (optional: false)' % (path, k))
        extra = s.get('additionalProperties', True)
        for k, x in v.items():
            if k in props:
                errs += schema_errors(x, props[k], root, '%s.%s' % (path, k))
            elif extra is False:
                errs.append('%s.%s: not allowed (additionalProperties false)' % (path, k))
            elif isinstance(extra, dict):
                errs += schema_errors(x, extra, root, '%s.%s' % (path, k))
    if isinstance(v, list) and isinstance(s.get('items'), dict):
        for i, x in enumerate(v):
            errs += schema_errors(x, s['items'], root, '%s[%d]' % (path, i))
    return errs


def find_schema():
    env = os.environ.get('KP_SURICATA_SCHEMA')
    if env:
        return env
    for p in ('/usr/share/suricata/schema.json', '/usr/share/doc/suricata/schema.json',
              '/etc/suricata/schema.json', '/usr/local/share/suricata/schema.json'):
        if os.path.isfile(p):
            return p
    return None


# ------------------------------------------------------------- running

def geodata():
    gd = os.environ.get('KP_GEODATA') or os.path.join(SRC, 'geodata')
    if all(os.path.isfile(os.path.join(gd, f)) for f in ('country.mmdb', 'asn.mmdb')):
        return gd
    msg = ('geolocation databases missing in %s: run geo/fetch-geodata build geodata '
           '(or ./setup)' % gd)
    if os.environ.get('KP_ALLOW_MISSING_GEODATA') == '1':
        print('SKIP: ' + msg)
        sys.exit(77)
    print('FAIL: ' + msg)
    sys.exit(1)


def run_eve(eve_run, tmp, name, pcap, *policy, geo=True):
    out = os.path.join(tmp, name + '.eve.json')
    args = [eve_run] + (['--geo', geodata()] if geo else []) + list(policy) + [pcap, out]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if not check('%s: eve_run exits 0' % name, p.returncode == 0 and os.path.isfile(out),
                 p.stderr):
        return [], b''
    raw = open(out, 'rb').read()
    return parse_lines(name, raw), raw


def parse_lines(name, raw):
    """Every line: valid UTF-8, one JSON object, nothing else."""
    lines, bad = [], []
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as e:
        check('%s: output is valid UTF-8' % name, False, e)
        return []
    if text and not text.endswith('\n'):
        bad.append('last line has no newline')
    for i, line in enumerate(text.split('\n')[:-1] if text else []):
        try:
            d = json.loads(line, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        except ValueError as e:
            bad.append('line %d: %s: %r' % (i + 1, e, line[:200]))
            continue
        if not isinstance(d, dict):
            bad.append('line %d is not an object' % (i + 1))
            continue
        lines.append(d)
    check('%s: %d lines, each one JSON object (python json)' % (name, len(lines)),
          not bad and lines, bad)
    shape = ['line %d: %s' % (i + 1, e) for i, d in enumerate(lines) for e in suricata_shape_errors(d)]
    check('%s: every line has Suricata\'s EVE field types' % name, not shape, shape)
    ts = [d.get('timestamp') for d in lines if not KEYPROV_TS.match(str(d.get('timestamp')))]
    check('%s: timestamps are Suricata\'s form, microseconds, +0000' % name, not ts, ts)
    return lines


def by_type(lines, t, kp=None):
    return [d for d in lines if d.get('event_type') == t
            and (kp is None or d.get('keyprov', {}).get('event_type') == kp)]


def common_agrees(d):
    """The Suricata fields say what the keyprov object says."""
    k = d['keyprov']
    if k.get('event_type') == 'key':
        srv = k['issuer']
    elif k.get('event_type') == 'media':
        srv = k['server']
    elif k.get('event_type') == 'anomaly':
        return (d.get('src_ip') == k['src_ip'] and d.get('dest_ip') == k['dest_ip']
                and d.get('src_port') == k['src_port'] and d.get('dest_port') == k['dest_port']
                and d.get('proto') == k['proto'].upper())
    else:
        return d.get('src_ip') == k.get('client', {}).get('ip')
    return (d.get('src_ip') == k['client']['ip'] and d.get('src_port') == k['client']['port']
            and d.get('dest_ip') == srv['ip'] and d.get('dest_port') == srv['port']
            and d.get('proto') == k['proto'].upper()
            and d['timestamp'] == k['ts'][:-1] + '+0000')


# ------------------------------------------------------------- records

def test_citizenlab_cn(eve_run, tmp):
    lines, _ = run_eve(eve_run, tmp, 'citizenlab @CN', CITIZEN, '--flag', '@CN')
    alerts = by_type(lines, 'alert')
    keys = by_type(lines, 'keyprov', 'key')
    check('@CN: exactly one alert', len(alerts) == 1, alerts)
    check('@CN: two keyprov key records', len(keys) == 2, keys)
    if len(alerts) != 1:
        return lines
    a = alerts[0]
    al = a.get('alert', {})
    check('@CN alert: signature_id 9810001, gid 1, rev 1, action allowed, severity 2',
          al.get('signature_id') == 9810001 and al.get('gid') == 1 and al.get('rev') == 1
          and al.get('action') == 'allowed' and al.get('severity') == 2, al)
    check('@CN alert: signature and category',
          al.get('signature') == 'KEYPROV key issued in flagged jurisdiction CN (zoom, tls-control-channel)'
          and al.get('category') == 'Potential Corporate Privacy Violation', al)
    check('@CN alert: 142.150.190.10 -> 52.81.151.250:443 TCP, app_proto tls, to_server',
          a.get('src_ip') == CLIENT and a.get('dest_ip') == CN_ISSUER and a.get('dest_port') == 443
          and a.get('proto') == 'TCP' and a.get('app_proto') == 'tls'
          and a.get('direction') == 'to_server', a)
    check('@CN alert: keyprov.issuer.country CN, the whole key record inside',
          a.get('keyprov', {}).get('issuer', {}).get('country') == 'CN'
          and a['keyprov'].get('event_type') == 'key' and a['keyprov'].get('flagged') is True, a)
    check('@CN alert: tls.sni and tls.version as Suricata writes them',
          a.get('tls') == {'sni': 'zc01.zoom.us', 'version': 'TLS 1.2'}, a.get('tls'))
    same = [k for k in keys if k['dest_ip'] == CN_ISSUER]
    check('@CN: the alert and the keyprov record of the flow share flow_id and community_id',
          len(same) == 1 and same[0]['flow_id'] == a['flow_id'] and same[0]['keyprov'] == a['keyprov']
          and re.match(r'^1:[A-Za-z0-9+/]{27}=$', a.get('community_id', ''))
          and same[0]['community_id'] == a['community_id'],
          same)
    other = [k for k in keys if k['dest_ip'] == US_ISSUER]
    check('@CN: the other flow has another flow_id',
          len(other) == 1 and other[0]['flow_id'] != a['flow_id'], other)
    bad = [d for d in lines if 'keyprov' in d and 'src_port' in d and not common_agrees(d)]
    check('@CN: timestamp, 5-tuple and proto agree with the keyprov object', not bad, bad)
    ts = a['timestamp']
    check('@CN: timestamp is Suricata\'s, e.g. 2020-04-02T14:00:00.455150+0000',
          SURICATA_TS.match(ts) and ts == '2020-04-02T14:00:00.455150+0000', ts)
    media = by_type(lines, 'keyprov', 'media')
    check('@CN: the media flow is a keyprov record too (UDP, app_proto zoom)',
          len(media) == 1 and media[0].get('proto') == 'UDP' and media[0].get('app_proto') == 'zoom'
          and isinstance(media[0].get('flow_id'), int), media)
    sessions = by_type(lines, 'keyprov', 'session')
    check('@CN: a session is a keyprov record with the client as src_ip and no flow_id',
          all(s.get('src_ip') == CLIENT and 'flow_id' not in s and 'dest_ip' not in s
              for s in sessions), sessions)
    p = subprocess.run([eve_run, '--geo', geodata(), '--flag', '@CN', CITIZEN, '-'],
                       capture_output=True, timeout=60)
    check('@CN: "-" writes the same lines to standard output',
          p.returncode == 0 and p.stdout == open(os.path.join(tmp, 'citizenlab @CN.eve.json'), 'rb').read(),
          p.stderr)
    others = [d for d in lines if d.get('event_type') not in ('alert', 'keyprov', 'anomaly')]
    check('@CN: only alert, keyprov and anomaly lines', not others, others)
    return lines


def sole_alert(name, lines, sid, signature):
    alerts = by_type(lines, 'alert')
    ok = (len(alerts) == 1 and alerts[0]['alert']['signature_id'] == sid
          and alerts[0]['alert']['signature'] == signature and alerts[0]['dest_ip'] == CN_ISSUER)
    check('%s: one alert, %d "%s"' % (name, sid, signature), ok, alerts)


def test_policies(eve_run, tmp):
    lines, _ = run_eve(eve_run, tmp, 'AS55960', CITIZEN, '--flag', 'AS55960')
    sole_alert('--flag AS55960', lines, 9810002,
               'KEYPROV key issued from flagged network AS55960 (zoom, tls-control-channel)')
    lines, _ = run_eve(eve_run, tmp, 'allow US,CA', CITIZEN, '--allow', 'US,CA')
    sole_alert('--allow US,CA', lines, 9810003,
               'KEYPROV key issued outside allowed jurisdictions: CN (zoom, tls-control-channel)')
    lines, _ = run_eve(eve_run, tmp, 'no policy', CITIZEN)
    check('no policy: no alert, two key records',
          not by_type(lines, 'alert') and len(by_type(lines, 'keyprov', 'key')) == 2, lines)
    lines, _ = run_eve(eve_run, tmp, 'no geo', CITIZEN, '--flag', '@CN', geo=False)
    check('no geolocation: nothing to flag, two key records with country null',
          not by_type(lines, 'alert') and [k['keyprov']['issuer']['country'] for k in
                                           by_type(lines, 'keyprov', 'key')] == [None, None], lines)


def test_sdes_exposed(eve_run, tmp):
    """SIP over UDP with a=crypto, written by the CN server: exposure
    (9810004, severity 1) and jurisdiction (9810001), one alert each; the
    key never appears."""
    key = os.urandom(30)
    b64 = base64.b64encode(key).decode()
    sdp = ('v=0\r\no=alice 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n'
           'm=audio 40000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^31\r\n'
           % (CN_ISSUER, CN_ISSUER, b64))
    sip = ('INVITE sip:bob@198.51.100.7 SIP/2.0\r\nVia: SIP/2.0/UDP %s:5060;branch=z9hG4bK1\r\n'
           'From: <sip:alice@%s>;tag=1\r\nTo: <sip:bob@198.51.100.7>\r\nCall-ID: kp-eve-1\r\n'
           'CSeq: 1 INVITE\r\nContact: <sip:alice@%s>\r\nContent-Type: application/sdp\r\n'
           'Content-Length: %d\r\n\r\n%s' % (CN_ISSUER, CN_ISSUER, CN_ISSUER, len(sdp), sdp)).encode()
    frame = pcaptool.udp_frame(CN_ISSUER, '198.51.100.7', 5060, 5060, sip)
    path = os.path.join(tmp, 'sdes.pcap')
    pcaptool.write_pcap(path, 1, [(1700000000, 0, len(frame), frame)])
    lines, raw = run_eve(eve_run, tmp, 'SDES in clear', path, '--flag', '@CN')
    alerts = by_type(lines, 'alert')
    got = sorted((a['alert']['signature_id'], a['alert']['severity'], a['alert']['category'])
                 for a in alerts)
    check('SDES: alerts 9810004 (severity 1, Information Leak) and 9810001 (severity 2)',
          got == [(9810001, 2, 'Potential Corporate Privacy Violation'),
                  (9810004, 1, 'Information Leak')], alerts)
    sig = [a['alert']['signature'] for a in alerts if a['alert']['signature_id'] == 9810004]
    check('SDES: signature names the exposure',
          sig == ['KEYPROV SRTP key exposed in cleartext SDP (sip, sdes-cleartext)'], sig)
    check('SDES: proto UDP, app_proto sip, one flow_id for the alerts and the record',
          all(d.get('proto') == 'UDP' and d.get('app_proto') == 'sip' for d in lines if 'keyprov' in d
              and d['keyprov'].get('event_type') == 'key')
          and len({d['flow_id'] for d in lines if 'flow_id' in d and d['keyprov'].get('event_type') == 'key'}) == 1,
          lines)
    check('SDES: the key itself is nowhere in the EVE output',
          b64.encode() not in raw and b64[:16].encode() not in raw and key.hex().encode() not in raw
          and hashlib.sha256(key).hexdigest()[:32].encode() in raw)


# 12 bytes instead of "zc01.zoom.us": quote, backslash, ESC, a UTF-16
# surrogate, U+2028, a byte that is never UTF-8, NUL, and a letter.
HOSTILE_SNI = b'"\\\x1b\xed\xa0\x80\xe2\x80\xa8\xff\x00z'


def test_hostile_sni(eve_run, tmp):
    lt, pkts = pcaptool.read_pcap(CITIZEN)
    n = 0
    out = []
    for s, us, orig, data in pkts:
        if b'zc01.zoom.us' in data:
            n += data.count(b'zc01.zoom.us')
            data = data.replace(b'zc01.zoom.us', HOSTILE_SNI)
            src = data[26:30] if len(data) >= 34 and data[12:14] == b'\x08\x00' else None
            if src is not None:
                data = pcaptool.rewrite_ipv4(data, src, src)  # checksums
        out.append((s, us, orig, data))
    path = os.path.join(tmp, 'hostile.pcap')
    pcaptool.write_pcap(path, lt, out)
    check('hostile SNI: the server name was replaced in the ClientHello', n >= 1, n)
    lines, raw = run_eve(eve_run, tmp, 'hostile SNI', path, '--flag', '@CN')
    ctl = [b for b in raw if b < 0x20 and b != 0x0a]
    check('hostile SNI: no raw control byte in the file', not ctl, ctl[:10])
    alerts = by_type(lines, 'alert')
    want_tls = HOSTILE_SNI.split(b'\0')[0].decode('utf-8', 'replace')
    want_kp = HOSTILE_SNI.decode('utf-8', 'replace')
    check('hostile SNI: still one alert, on the CN flow',
          len(alerts) == 1 and alerts[0]['dest_ip'] == CN_ISSUER, alerts)
    if alerts:
        a = alerts[0]
        check('hostile SNI: tls.sni is the name up to NUL, invalid UTF-8 as U+FFFD',
              a.get('tls', {}).get('sni') == want_tls, (a.get('tls'), want_tls))
        check('hostile SNI: keyprov.issuer.sni keeps every byte (NUL escaped)',
              a['keyprov']['issuer']['sni'] == want_kp, (a['keyprov']['issuer']['sni'], want_kp))
        heads = [h for h in (ln.split(b'"keyprov":')[0] for ln in raw.split(b'\n'))
                 if b'"tls":' in h and b'\\u001b' in h]
        check('hostile SNI: U+2028 is escaped in EVE\'s own fields',
              heads and all(b'\\u2028' in h and b'\xe2\x80\xa8' not in h for h in heads), heads)


def test_anomaly(eve_run, tmp):
    """A TLS record from the CN server whose length exceeds 2^14+2048
    (RFC 8446 5.2): an anomaly line in Suricata's shape."""
    lt, pkts = pcaptool.read_pcap(CITIZEN)
    out, done = [], False
    cn = bytes(int(x) for x in CN_ISSUER.split('.'))
    for s, us, orig, data in pkts:
        if (not done and len(data) > 60 and data[12:14] == b'\x08\x00' and data[23] == 6
                and data[26:30] == cn):
            ip = 14 + (data[14] & 0x0f) * 4
            pl = ip + (data[ip + 12] >> 4) * 4
            if data[pl:pl + 3] == b'\x16\x03\x03':
                b = bytearray(data)
                b[pl + 3:pl + 5] = b'\xff\xff'
                data = pcaptool.rewrite_ipv4(bytes(b), cn, cn)
                done = True
        out.append((s, us, orig, data))
    path = os.path.join(tmp, 'malformed.pcap')
    pcaptool.write_pcap(path, lt, out)
    check('anomaly: a ServerHello record from the CN server was broken', done)
    lines, _ = run_eve(eve_run, tmp, 'malformed TLS', path, '--flag', '@CN')
    an = by_type(lines, 'anomaly')
    check('anomaly: one anomaly line', len(an) == 1, an)
    if an:
        a = an[0]
        check('anomaly: Suricata\'s anomaly object {type applayer, event, layer proto_parser, app_proto tls}',
              a.get('anomaly') == {'type': 'applayer', 'event': 'tls.malformed_record',
                                   'layer': 'proto_parser', 'app_proto': 'tls'}
              and a.get('app_proto') == 'tls', a)
        check('anomaly: the packet\'s 5-tuple, and the keyprov anomaly object with its detail',
              common_agrees(a) and a['keyprov'].get('detail'), a)
        flows = {d['flow_id'] for d in lines if d.get('dest_ip') == CN_ISSUER or d.get('src_ip') == CN_ISSUER}
        check('anomaly: shares the flow_id of the CN flow\'s other lines', len(flows) == 1, flows)


def test_checker_rejects():
    """The checks above would catch a wrong line (a checker that passes
    everything proves nothing)."""
    good = {'timestamp': '2020-04-02T14:00:00.455150+0000', 'flow_id': 5, 'event_type': 'alert',
            'src_ip': CLIENT, 'src_port': 1, 'dest_ip': CN_ISSUER, 'dest_port': 443, 'proto': 'TCP',
            'alert': {'action': 'allowed', 'gid': 1, 'signature_id': 9810001, 'rev': 1,
                      'signature': 's', 'category': 'c', 'severity': 2}, 'keyprov': {}}
    check('checker: a well-formed line passes', not suricata_shape_errors(good),
          suricata_shape_errors(good))
    bad = [
        ('flow_id as a string', dict(good, flow_id='5')),
        ('flow_id above 2^53', dict(good, flow_id=2 ** 53 + 1)),
        ('severity as a boolean', dict(good, alert=dict(good['alert'], severity=True))),
        ('an unknown alert member', dict(good, alert=dict(good['alert'], reason='x'))),
        ('an unknown top-level member', dict(good, reason='x')),
        ('RFC 3339 "Z" timestamp', dict(good, timestamp='2020-04-02T14:00:00.455150Z')),
        ('no event_type', {k: v for k, v in good.items() if k != 'event_type'}),
        ('port out of range', dict(good, dest_port=70000)),
    ]
    missed = [name for name, d in bad if not suricata_shape_errors(d)]
    check('checker: rejects %d kinds of wrong line' % len(bad), not missed, missed)
    schema = {'type': 'object', 'additionalProperties': False,
              'properties': {'timestamp': {'type': 'string', 'optional': False, 'pattern': SURICATA_TS.pattern},
                             'flow_id': {'type': 'integer'}, 'alert': {'$ref': '#/$defs/a'}},
              '$defs': {'a': {'type': 'object', 'additionalProperties': False,
                              'properties': {'gid': {'type': 'integer'}}}}}
    cases = [({'timestamp': good['timestamp'], 'flow_id': 1, 'alert': {'gid': 1}}, 0),
             ({'flow_id': 1}, 1), ({'timestamp': 'x', 'flow_id': 1.5}, 2),
             ({'timestamp': good['timestamp'], 'alert': {'gid': 1, 'x': 2}}, 1),
             ({'timestamp': good['timestamp'], 'other': 1}, 1)]
    wrong = [(d, len(schema_errors(d, schema, schema)), n) for d, n in cases
             if len(schema_errors(d, schema, schema)) != n]
    check('checker: the JSON-Schema subset (type, pattern, optional, $ref, additionalProperties)',
          not wrong, wrong)


# ------------------------------------------------------------ suricata

def suricata_bin():
    """KP_SURICATA (a path), else suricata on PATH; None when absent."""
    env = os.environ.get('KP_SURICATA')
    if env:
        return env if os.access(env, os.X_OK) else None
    return shutil.which('suricata')


def run_suricata(tmp):
    exe = suricata_bin()
    rules = os.path.join(tmp, 'kp.rules')
    with open(rules, 'w') as f:
        f.write('alert tls any any -> %s 443 (msg:"keyprov comparison: TLS to the 2020 Beijing key '
                'server"; flow:established,to_server; tls.sni; content:"zc01.zoom.us"; '
                'classtype:policy-violation; sid:9819998; rev:1;)\n' % CN_ISSUER)
        f.write('alert tls any any -> %s 443 (msg:"keyprov comparison: Information Leak '
                'category"; flow:established,to_server; tls.sni; content:"us04web.zoom.us"; '
                'classtype:successful-recon-limited; sid:9819999; rev:1;)\n' % US_ISSUER)
    classification = '/etc/suricata/classification.config'
    conf = os.path.join(tmp, 'suricata.yaml')
    with open(conf, 'w') as f:
        f.write('%YAML 1.1\n---\n'
                + 'default-log-dir: %s\n' % tmp
                + ('classification-file: %s\n' % classification if os.path.isfile(classification) else '')
                + 'outputs:\n  - eve-log:\n      enabled: yes\n      filetype: regular\n'
                  '      filename: eve.json\n      community-id: yes\n      types:\n        - alert\n        - tls\n'
                  'logging:\n  outputs:\n    - console:\n        enabled: no\n')
    env = dict(os.environ, TZ='UTC')
    p = subprocess.run([exe, '-c', conf, '-r', CITIZEN, '-S', rules, '-l', tmp, '-k', 'none',
                        '--runmode', 'single'], capture_output=True, text=True, env=env, timeout=120)
    eve = os.path.join(tmp, 'eve.json')
    if not check('suricata -r citizenlab-2020.pcap writes eve.json', p.returncode == 0
                 and os.path.isfile(eve), (p.returncode, p.stdout[-1500:], p.stderr[-1500:])):
        return None, []
    version = subprocess.run([exe, '-V'], capture_output=True, text=True).stdout.strip()
    print('      ' + version)
    m = re.search(r'version (\d+)\.', version)
    if not check('Suricata 7 or later (the EVE format compared here)', m and int(m.group(1)) >= 7,
                 '%s; install: %s' % (version, INSTALL)):
        return None, []
    return version, [json.loads(l) for l in open(eve) if l.strip()]


def test_against_suricata(eve_run, tmp):
    if not suricata_bin():
        msg = 'suricata not installed; install it with: ' + INSTALL
        if os.environ.get('CI'):
            check(msg, False)
            return
        print('SKIP: ' + msg)
        sys.exit(77)
    version, sur = run_suricata(tmp)
    if version is None:
        return
    ours = by_type(run_eve(eve_run, tmp, 'citizenlab @CN', CITIZEN, '--flag', '@CN')[0], 'alert')
    s_alerts = [d for d in sur if d.get('event_type') == 'alert']
    s_cn = [d for d in s_alerts if d.get('dest_ip') == CN_ISSUER]
    s_us = [d for d in s_alerts if d.get('dest_ip') == US_ISSUER]
    if not (check('Suricata alerts once on each TLS flow', len(s_cn) == 1 and len(s_us) == 1, s_alerts)
            and check('keyprov alerts once', len(ours) == 1, ours)):
        return
    s, k = s_cn[0], ours[0]
    print('      suricata: ' + json.dumps(s)[:600])
    print('      keyprov:  ' + json.dumps({x: y for x, y in k.items() if x != 'keyprov'}))
    check('Suricata\'s own alert passes the Suricata field-type check used on keyprov\'s lines',
          not suricata_shape_errors(s, extension=False), suricata_shape_errors(s, extension=False))
    tup = ('src_ip', 'src_port', 'dest_ip', 'dest_port', 'proto', 'app_proto', 'direction', 'event_type')
    check('same 5-tuple, proto, app_proto, direction as Suricata\'s alert',
          all(s.get(f) == k.get(f) for f in tup), [(f, s.get(f), k.get(f)) for f in tup])
    extra = sorted(set(k) - set(s) - {EXTENSION})
    check('every top-level key of keyprov\'s alert is one Suricata writes (keyprov apart)',
          not extra, 'keyprov only: %s; Suricata only: %s' % (extra, sorted(set(s) - set(k))))
    print('      Suricata writes, keyprov does not: %s' % sorted(set(s) - set(k)))
    diff = [(f, jtype(s[f]), jtype(k[f])) for f in set(s) & set(k) if jtype(s[f]) != jtype(k[f])]
    check('same JSON type for every shared top-level field (flow_id integer, ...)', not diff, diff)
    sa, ka = s['alert'], k['alert']
    check('alert object: the same keys as Suricata\'s',
          set(sa) == set(ka), (sorted(sa), sorted(ka)))
    check('alert object: the same types',
          all(jtype(sa[f]) == jtype(ka.get(f)) for f in sa), (sa, ka))
    check('alert action and gid as Suricata\'s', sa.get('action') == ka.get('action')
          and sa.get('gid') == ka.get('gid'), (sa, ka))
    check('category "Potential Corporate Privacy Violation" is Suricata\'s text for policy-violation',
          sa.get('category') == ka.get('category') == 'Potential Corporate Privacy Violation', (sa, ka))
    check('category "Information Leak" is Suricata\'s text for successful-recon-limited',
          s_us[0]['alert'].get('category') == 'Information Leak', s_us[0]['alert'])
    st, kt = s.get('tls', {}), k.get('tls', {})
    check('tls.sni and tls.version: the same values as Suricata\'s',
          kt and all(st.get(f) == v for f, v in kt.items()), (st, kt))
    check('timestamps: both Suricata\'s pattern, the same length (microseconds, +hhmm)',
          SURICATA_TS.match(s['timestamp']) and SURICATA_TS.match(k['timestamp'])
          and len(s['timestamp']) == len(k['timestamp']) and s['timestamp'][:19] == k['timestamp'][:19],
          (s['timestamp'], k['timestamp']))
    k_us = [d for d in run_eve(eve_run, tmp, 'citizenlab', CITIZEN)[0] if d.get('dest_ip') == US_ISSUER
            and d['keyprov'].get('event_type') == 'key']
    check('community_id: the same as Suricata\'s for both TLS flows',
          s.get('community_id') and s.get('community_id') == k.get('community_id')
          and len(k_us) == 1 and s_us[0].get('community_id') == k_us[0].get('community_id'),
          (s.get('community_id'), k.get('community_id'), s_us[0].get('community_id'),
           k_us[0].get('community_id') if k_us else None))
    check('flow_id: an integer in 1..2^53 in both', all(isinstance(x.get('flow_id'), int)
                                                       and 0 < x['flow_id'] < 2 ** 53 for x in (s, k)),
          (s.get('flow_id'), k.get('flow_id')))

    schema_path = find_schema()
    if schema_path is None:
        print('note: no Suricata etc/schema.json here (Debian\'s suricata package and its source '
              'tarball do not ship it); set KP_SURICATA_SCHEMA=/path/to/suricata/etc/schema.json '
              'to validate against it as well')
        return
    schema = json.load(open(schema_path))
    print('      schema: %s' % schema_path)
    s_errs = [e for d in sur for e in schema_errors(d, schema, schema)]
    check('Suricata\'s own lines pass etc/schema.json (the checker is sound)', not s_errs, s_errs[:20])
    k_lines = run_eve(eve_run, tmp, 'citizenlab @CN (schema)', CITIZEN, '--flag', '@CN')[0]
    k_errs = []
    for d in k_lines:
        rest = {x: y for x, y in d.items() if x != EXTENSION}
        k_errs += schema_errors(rest, schema, schema)
    check('keyprov\'s lines pass etc/schema.json, the keyprov extension object aside',
          not k_errs, k_errs[:20])


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ('records', 'suricata'):
        print(__doc__)
        return 2
    mode, eve_run = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix='kp-eve-') as tmp:
        if mode == 'records':
            test_checker_rejects()
            test_citizenlab_cn(eve_run, tmp)
            test_policies(eve_run, tmp)
            test_sdes_exposed(eve_run, tmp)
            test_hostile_sni(eve_run, tmp)
            test_anomaly(eve_run, tmp)
        else:
            test_against_suricata(eve_run, tmp)
    print('%d failed' % len(FAILED) if FAILED else 'all passed')
    return 1 if FAILED else 0


if __name__ == '__main__':
    sys.exit(main())
