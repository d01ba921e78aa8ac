#!/usr/bin/env python3
"""keyprov command tests: the verdicts the README promises, exit codes, bad
input, BPF filters, stdin, golden records on the samples, regenerated
samples, and a real Zoom capture with its server moved to Beijing.

usage: cli_test.py KEYPROV KP_SAMPLEGEN SRCDIR SHARED_PCAPS
Prints one line per check and 'N passed, M failed' at the end.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaptool  # noqa: E402

KEYPROV, SAMPLEGEN, SRC, SHARED = sys.argv[1:5]
CITIZEN = os.path.join(SRC, 'samples', 'citizenlab-2020.pcap')
CLEAN = os.path.join(SRC, 'samples', 'clean-meeting.pcap')
TMP = tempfile.mkdtemp(prefix='kp-cli-')
results = {'passed': 0, 'failed': 0}


def check(name, ok, detail=''):
    if ok:
        results['passed'] += 1
        print('ok   %s' % name)
    else:
        results['failed'] += 1
        print('FAIL %s %s' % (name, detail))


def kp(*args, stdin=None, env=None):
    p = subprocess.run([KEYPROV] + list(args), capture_output=True, stdin=stdin, env=env,
                       timeout=120)
    return p.returncode, p.stdout.decode('utf-8'), p.stderr.decode('utf-8', 'replace')


def events(out, kind='key'):
    return [e for e in (json.loads(l) for l in out.splitlines()) if e['event_type'] == kind]


STABLE = ('service', 'mechanism', 'proto', 'confidence', 'evidence', 'flagged', 'reason', 'ts')
STABLE_ISSUER = ('ip', 'port', 'country', 'asn', 'sni', 'cert_subject', 'cert_issuer', 'cert_country')


def stable(k):
    """The fields of a key record that do not depend on the TLS randomness."""
    d = {f: k.get(f) for f in STABLE}
    d['client'] = k['client']
    d['issuer'] = {f: k['issuer'].get(f) for f in STABLE_ISSUER}
    d['tls'] = {f: k.get('tls', {}).get(f) for f in ('version', 'cipher', 'alpn', 'ja4', 'cert_sans')}
    return d


def one_line_error(name, rc, out, err, want):
    lines = [l for l in err.splitlines() if l.strip()]
    check(name, rc == 2 and len(lines) == 1 and lines[0].startswith('keyprov: ') and want in lines[0],
          'rc=%d stderr=%r' % (rc, err))


def test_geodata_present():
    rc, out, _ = kp('--version')
    ok = rc == 0 and 'country:' in out and 'asn:' in out
    check('default geolocation databases found (run geo/fetch-geodata)', ok, out)
    return ok


def test_citizenlab_flag():
    rc, out, err = kp('--json', '-r', CITIZEN, '--flag', 'CN')
    keys = events(out)
    cn = [k for k in keys if k['issuer']['ip'] == '52.81.151.250']
    check('citizenlab --flag CN exits 1', rc == 1, 'rc=%d %s' % (rc, err))
    check('citizenlab: one key record issued by 52.81.151.250', len(cn) == 1, out)
    if cn:
        k = cn[0]
        check('52.81.151.250 -> CN, AS55960, flagged',
              k['issuer']['country'] == 'CN' and k['issuer']['asn'] == 55960 and k['flagged'] is True,
              json.dumps(k))
        check('reason names the rule', k.get('reason') == 'issuer country CN is flagged', k.get('reason'))
        check('service zoom, tls-control-channel, high confidence',
              (k['service'], k['mechanism'], k['confidence']) == ('zoom', 'tls-control-channel', 'high'))
        check('client is the Canadian participant',
              k['client']['ip'] == '142.150.190.10' and k['issuer']['port'] == 443)
    us = [k for k in keys if k['issuer']['ip'] == '170.114.128.20']
    check('US control server not flagged', len(us) == 1 and us[0]['flagged'] is False
          and us[0]['issuer']['country'] == 'US')
    stats = events(out, 'stats')
    check('stats event last', len(stats) == 1 and stats[0]['key_records'] == 2 and stats[0]['flagged'] == 1)
    rc, out, _ = kp('--json', '-r', CITIZEN, '--flag', 'RU')
    check('citizenlab --flag RU exits 0', rc == 0 and all(not k['flagged'] for k in events(out)))
    rc, out, _ = kp('--json', '-r', CITIZEN, '--flag', 'AS55960')
    r = [k.get('reason') for k in events(out) if k['flagged']]
    check('--flag AS55960 flags by ASN', rc == 1 and r == ['issuer network AS55960 is flagged'], str(r))
    rc, out, _ = kp('--json', '-r', CITIZEN, '--allow', 'US,CA')
    r = [k.get('reason') for k in events(out) if k['flagged']]
    check('--allow US,CA flags the CN issuer only', rc == 1 and r == ['issuer country CN is outside allowed US,CA'], str(r))
    rc, out, _ = kp('-r', CITIZEN, '--flag', '@CN')
    line = [l for l in out.splitlines() if l.startswith('VIOLATION')]
    check('human report: one VIOLATION line for the session naming issuer, country, ASN and rule',
          rc == 1 and len(line) == 1 and 'zoom' in line[0] and '52.81.151.250:443' in line[0]
          and ' CN ' in line[0] and 'AS55960' in line[0]
          and 'rule: issuer country CN is in flagged group @CN' in line[0], out)
    check('human report: no colour codes when stdout is not a terminal', '\033[' not in out)
    rc, out, _ = kp('-r', CITIZEN, '--flag', '@CN', '--color=always')
    check('--color=always colours the verdict', '\033[1;31mVIOLATION' in out, out)
    rc, out, _ = kp('-v', '-r', CITIZEN, '--flag', '@CN')
    flagged = [l for l in out.splitlines() if l.startswith('FLAGGED')]
    check('-v: the key records too, the flagged one marked', len(flagged) == 1
          and '52.81.151.250:443' in flagged[0], out)
    rc, out, _ = kp('-r', CLEAN, '--flag', '@CN')
    check('clean meeting --flag @CN exits 0', rc == 0 and 'VIOLATION' not in out
          and out.startswith('OK '), out)
    rc, out, _ = kp('--json', '-r', CITIZEN, '--flag', '@CN')
    ss = events(out, 'session')
    check('one session event: violation, server holder, both key holders, media flow linked',
          len(ss) == 1 and ss[0]['verdict'] == 'violation' and ss[0]['holder'] == 'server'
          and {h['ip'] for h in ss[0]['key_holders']} == {'52.81.151.250', '170.114.128.20'}
          and any(f['role'] == 'media' and f['server'] == '170.114.128.50:8801' for f in ss[0]['flows'])
          and ss[0]['reasons'] == ['issuer country CN is in flagged group @CN'], json.dumps(ss))
    cn = [k for k in events(out) if k['issuer']['ip'] == '52.81.151.250']
    check('corroboration reports the disagreement: IP in CN, certificate C=US',
          cn and cn[0]['corroboration']['agree'] is False
          and cn[0]['corroboration']['note'] == 'IP in CN, certificate C=US', json.dumps(cn))
    rc, out, _ = kp('--policy', os.path.join(SRC, 'samples', 'policy-example.conf'), '-r', CLEAN)
    check('--policy samples/policy-example.conf on the clean meeting exits 0', rc == 0, out)
    rc, out, _ = kp('--policy', os.path.join(SRC, 'samples', 'policy-example.conf'), '-r', CITIZEN)
    check('--policy samples/policy-example.conf on citizenlab-2020 exits 1', rc == 1 and
          'VIOLATION' in out, out)
    rc, out, _ = kp('-r', CLEAN, '--allow', 'US')
    check('clean meeting --allow US exits 0', rc == 0, out)
    rc, out, _ = kp('-r', CITIZEN)
    check('no policy: nothing flagged, exit 0', rc == 0 and 'VIOLATION' not in out)


def test_golden():
    for name in ('citizenlab-2020', 'clean-meeting'):
        golden = os.path.join(SRC, 'tests', 'cli', 'golden', name + '.jsonl')
        rc, out, _ = kp('--json', '-r', os.path.join(SRC, 'samples', name + '.pcap'), '--flag', '@CN')
        got = [stable(k) for k in events(out)]
        want = [json.loads(l) for l in open(golden, encoding='utf-8')]
        check('golden key records: ' + name, got == want,
              '\n got: %s\nwant: %s' % (json.dumps(got), json.dumps(want)))


def test_regenerated_samples():
    for name, path in (('citizenlab-2020', CITIZEN), ('clean-meeting', CLEAN)):
        out_pcap = os.path.join(TMP, name + '.pcap')
        p = subprocess.run([SAMPLEGEN, name, '-o', out_pcap], capture_output=True)
        if p.returncode != 0:
            check('regenerate ' + name, False, p.stderr.decode())
            continue
        _, a, _ = kp('--json', '-r', path, '--flag', '@CN')
        _, b, _ = kp('--json', '-r', out_pcap, '--flag', '@CN')
        ka = [stable(k) for k in events(a)]
        kb = [stable(k) for k in events(b)]
        check('regenerated %s gives the same key records' % name, ka == kb and len(ka) == 2,
              '\n%s\n%s' % (ka, kb))


def test_real_zoom_moved_to_beijing():
    src = os.path.join(SHARED, 'zoom_ndpi.pcap')
    if not os.path.exists(src):
        if os.environ.get('CI'):
            check('real Zoom capture present (%s)' % src, False, 'missing: ../shared/pcaps is needed')
        else:
            print('SKIP real Zoom capture: %s is missing (../shared/pcaps beside the source tree)' % src)
        return
    classic = os.path.join(TMP, 'zoom.pcap')
    subprocess.run(['editcap', '-F', 'pcap', src, classic], check=True, capture_output=True)
    lt, pkts = pcaptool.read_pcap(classic)
    old, new = bytes([213, 19, 144, 104]), bytes([52, 81, 151, 250])
    moved = os.path.join(TMP, 'zoom-beijing.pcap')
    pcaptool.write_pcap(moved, lt, [(s, us, o, pcaptool.rewrite_ipv4(d, old, new)) for s, us, o, d in pkts])
    rc, out, _ = kp('--json', '-r', src, '--flag', 'CN')
    check('real Zoom capture, unmodified: nothing flagged', rc == 0
          and not any(k['flagged'] for k in events(out)) and len(events(out)) >= 8, out[:500])
    rc, out, _ = kp('--json', '-r', moved, '--flag', 'CN')
    fl = [k for k in events(out) if k['flagged']]
    check('real Zoom capture, server 213.19.144.104 moved to 52.81.151.250: flagged', rc == 1
          and len(fl) == 1 and fl[0]['issuer']['ip'] == '52.81.151.250'
          and fl[0]['issuer']['sni'] == 'zoomam104zc.zoom.us' and fl[0]['service'] == 'zoom'
          and fl[0]['issuer']['asn'] == 55960, json.dumps(fl))


def test_sdes_cleartext():
    """SIP over UDP with a=crypto: the key is exposed, reported by suite and
    hash, always flagged, and never printed."""
    import base64
    import hashlib
    key = os.urandom(30)  # AES_CM_128 master key (16) + salt (14)
    b64 = base64.b64encode(key).decode()
    sdp = ('v=0\r\no=alice 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n'
           'm=audio 40000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^31\r\n' % b64)
    sip = ('INVITE sip:bob@198.51.100.7 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK1\r\n'
           'From: <sip:alice@203.0.113.5>;tag=1\r\nTo: <sip:bob@198.51.100.7>\r\nCall-ID: kp-test-1\r\n'
           'CSeq: 1 INVITE\r\nContact: <sip:alice@203.0.113.5>\r\nContent-Type: application/sdp\r\n'
           'Content-Length: %d\r\n\r\n%s' % (len(sdp), sdp)).encode()
    frame = pcaptool.udp_frame('203.0.113.5', '198.51.100.7', 5060, 5060, sip)
    path = os.path.join(TMP, 'sdes.pcap')
    pcaptool.write_pcap(path, 1, [(1700000000, 0, len(frame), frame), (1700000000, 500, len(frame), frame)])
    rc, out, err = kp('--json', '-r', path)
    ks = events(out)
    want = hashlib.sha256(key).hexdigest()[:32]
    check('SDES in cleartext SIP: one sdes-cleartext record, flagged without any policy, exit 1',
          rc == 1 and len(ks) == 1 and ks[0]['mechanism'] == 'sdes-cleartext' and ks[0]['flagged'] is True
          and ks[0]['reason'].startswith('SRTP key exposed in cleartext SDP'), out)
    if ks:
        check('SDES record: suite and key hash, issuer = the SDP writer',
              ks[0].get('sdes', {}).get('suite') == 'AES_CM_128_HMAC_SHA1_80'
              and ks[0]['sdes']['key_sha256_128'] == want and ks[0]['issuer']['ip'] == '203.0.113.5',
              json.dumps(ks[0]))
    rc2, out2, err2 = kp('-v', '-r', path)
    leaked = [t for t in (out, err, out2, err2) if b64 in t or b64[:16] in t or key.hex() in t]
    check('the SDES key never appears in any output', not leaked and 'FLAGGED' in out2
          and 'VIOLATION  sip' in out2 and 'EXPOSED' in out2, out2)


def test_long_call_one_session():
    """A 12-minute call: the key exchange at the start, media until the end.
    The session must not expire (and split) while its media flow lives."""
    lt, pkts = pcaptool.read_pcap(CITIZEN)
    media = [p for p in pkts if len(p[3]) > 37 and p[3][36:38] == b'\x22\x61']  # dport 8801
    base = pkts[-1][0]
    extra = []
    for i in range(1, 25):  # one packet every 30 s for 12 minutes
        s0, us, orig, data = media[i % len(media)]
        extra.append((base + 30 * i, us, orig, data))
    path = os.path.join(TMP, 'long-call.pcap')
    pcaptool.write_pcap(path, lt, pkts + extra)
    rc, out, _ = kp('--json', '-r', path, '--flag', '@CN')
    ss = events(out, 'session')
    check('a 12-minute call stays one session (key exchange + media)', len(ss) == 1
          and ss[0]['keys'] == 2 and ss[0]['media'] == 1, json.dumps(ss)[:800])


def test_eve():
    path = os.path.join(TMP, 'eve.json')
    rc, out, err = kp('-r', CITIZEN, '--flag', '@CN', '--eve', path)
    lines = [json.loads(l) for l in open(path, encoding='utf-8')]
    alerts = [l for l in lines if l['event_type'] == 'alert']
    check('--eve: an alert (9810001) for the CN key, keyprov records for every key, exit 1',
          rc == 1 and len(alerts) == 1 and alerts[0]['alert']['signature_id'] == 9810001
          and alerts[0]['dest_ip'] == '52.81.151.250'
          and sum(1 for l in lines if l['event_type'] == 'keyprov'
                  and l['keyprov']['event_type'] == 'key') == 2, str(lines)[:600])
    one_line_error('--eve into a missing folder', *kp('-r', CITIZEN, '--eve', os.path.join(TMP, 'no', 'x.json')),
                   want='x.json')
    rc, out, err = kp('-r', CITIZEN, '--eve', '/dev/full')
    check('--eve on a full disk: one-line error, exit 2', rc == 2 and 'No space left on device' in err
          and len(err.strip().splitlines()) == 1, err)
    one_line_error('--eve - with --json', *kp('-r', CITIZEN, '--eve', '-', '--json'), want='standard output')


def test_output_errors():
    big = os.path.join(SHARED, 'teams_ndpi.pcap')
    if not os.path.exists(big):
        big = CITIZEN
    p = subprocess.Popen([KEYPROV, '--json', '--all', '-r', big], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.readline()
    p.stdout.close()  # the reader goes away, like `keyprov ... | head -1`
    err = p.stderr.read().decode()
    rc = p.wait(timeout=60)
    check('a reader that goes away (| head): quiet exit, no error', rc in (0, 1) and err == '',
          'rc=%d err=%r' % (rc, err))
    with open('/dev/full', 'w') as full:
        p = subprocess.run([KEYPROV, '--json', '-r', CITIZEN], stdout=full, stderr=subprocess.PIPE,
                           timeout=60)
    err = p.stderr.decode()
    check('standard output on a full disk: one-line error, exit 2', p.returncode == 2
          and err.strip() == 'keyprov: standard output: No space left on device', repr(err))


def test_flow_events():
    rc, out, _ = kp('--json', '--flows', '-r', CITIZEN)
    fl = events(out, 'flow')
    st = events(out, 'stats')[0]
    by_port = {(f['proto'], f['server']['port']): f for f in fl}
    zoom = by_port.get(('udp', 8801))
    check('--flows: one flow event per flow, protocols recognised',
          len(fl) == st['flows'] == 5 and by_port[('tcp', 443)]['protocols'] == ['tls']
          and zoom is not None and zoom['protocols'] == ['zoom'] and zoom['pkts_toserver'] > 100
          and by_port[('udp', 53)]['protocols'] == [], json.dumps(fl)[:600])
    rc, out, _ = kp('--json', '-r', CITIZEN)
    check('no flow events without --flows', not events(out, 'flow'))


def test_inputs():
    with open(CITIZEN, 'rb') as f:
        rc, out, _ = kp('--json', '-r', '-', stdin=f)
    check('-r - reads standard input', rc == 0 and len(events(out)) == 2)
    rc, out, _ = kp('--json', '-r', CITIZEN, '--flag', 'CN', 'host', '170.114.128.20')
    ks = events(out)
    check('trailing BPF filter keeps only matching packets', rc == 0 and len(ks) == 1
          and ks[0]['issuer']['ip'] == '170.114.128.20', out)
    rc, out, _ = kp('--json', '-r', CITIZEN, '-c', '10')
    st = events(out, 'stats')
    check('-c 10 stops after 10 packets', rc == 0 and st and st[0]['packets'] == 10, out)
    # a pcapng copy reads the same
    ng = os.path.join(TMP, 'c.pcapng')
    subprocess.run(['editcap', '-F', 'pcapng', CITIZEN, ng], check=True, capture_output=True)
    _, a, _ = kp('--json', '-r', CITIZEN)
    _, b, _ = kp('--json', '-r', ng)
    check('pcapng and pcap give the same records', [stable(k) for k in events(a)] == [stable(k) for k in events(b)])


def test_bad_input():
    one_line_error('missing file', *kp('-r', os.path.join(TMP, 'nope.pcap')), want='nope.pcap: No such file')
    txt = os.path.join(TMP, 'notes.txt')
    open(txt, 'w').write('this is not a capture\n' * 10)
    one_line_error('text file', *kp('-r', txt), want='not a pcap or pcapng capture')
    empty = os.path.join(TMP, 'empty.pcap')
    open(empty, 'wb').close()
    one_line_error('empty file', *kp('-r', empty), want='empty file')
    one_line_error('directory', *kp('-r', TMP), want='is a directory')
    # truncated in the middle of a packet: report what was read, say so, exit 2
    data = open(CITIZEN, 'rb').read()
    trunc = os.path.join(TMP, 'trunc.pcap')
    open(trunc, 'wb').write(data[:len(data) // 2 + 7])
    rc, out, err = kp('--json', '-r', trunc, '--flag', 'CN')
    st = events(out, 'stats')
    check('truncated capture: records read so far, truncated flag, one-line error, exit 2',
          rc == 2 and len(events(out)) >= 1 and st and st[0]['truncated'] is True
          and len(err.strip().splitlines()) == 1 and 'truncated' in err, 'rc=%d %s %s' % (rc, out[-300:], err))
    short = os.path.join(TMP, 'short.pcap')
    open(short, 'wb').write(data[:10])
    one_line_error('capture with a cut header', *kp('-r', short), want='short.pcap')
    lt, pkts = pcaptool.read_pcap(CITIZEN)
    wifi = os.path.join(TMP, 'wifi.pcap')
    pcaptool.write_pcap(wifi, 105, pkts[:3])
    one_line_error('unsupported link type', *kp('-r', wifi), want='unsupported link type IEEE802_11')
    one_line_error('unknown interface', *kp('-i', 'nosuchif0'), want='interface nosuchif0')
    one_line_error('bad BPF filter', *kp('-r', CITIZEN, 'port', 'banana'), want="bad filter expression 'port banana'")
    one_line_error('bad --flag', *kp('-r', CITIZEN, '--flag', 'CHN'), want="--flag: 'CHN' is not a two-letter")
    one_line_error('bad --flag group', *kp('-r', CITIZEN, '--flag', '@MARS'), want='unknown group')
    pol = os.path.join(TMP, 'bad.conf')
    open(pol, 'w').write('flag CN\nservice zoom allow US, CHN\n')
    one_line_error('bad policy file: file, line and column', *kp('-r', CITIZEN, '--policy', pol),
                   want="bad.conf:2:20: 'CHN' is not a two-letter country code")
    one_line_error('bad --color', *kp('-r', CITIZEN, '--color=sometimes'), want='--color takes never')
    one_line_error('-Z unknown user', *kp('-Z', 'nosuchuser', '-r', CITIZEN), want="-Z: no such user 'nosuchuser'")
    if os.geteuid() == 0:
        rc, out, err = kp('-Z', 'nobody', '--json', '-r', CITIZEN)
        check('-Z nobody: drops root and still reads the capture', rc == 0 and len(events(out)) == 2, err)
    one_line_error('-r and -i together', *kp('-r', CITIZEN, '-i', 'lo'), want='exactly one of -r FILE or -i IFACE')
    one_line_error('no input', *kp(), want='exactly one of')
    one_line_error('bad -c', *kp('-r', CITIZEN, '-c', 'x'), want="-c: 'x' is not a number")
    one_line_error('missing --geo-country', *kp('-r', CITIZEN, '--geo-country', os.path.join(TMP, 'x.mmdb')),
                   want='x.mmdb')
    one_line_error('corrupt --geo-country', *kp('-r', CITIZEN, '--geo-country', txt), want='notes.txt')
    one_line_error('unknown option', *kp('--bogus'), want="unrecognized option '--bogus'")
    one_line_error('missing option argument', *kp('-r'), want="option '-r' needs an argument")
    rules = os.path.join(TMP, 'bad.rules')
    open(rules, 'w').write('zoom sni zoom.us\nzoom regex x\n')
    one_line_error('bad rules file', *kp('-r', CITIZEN, '--rules', rules), want='bad.rules:2:6: unknown rule kind')
    if os.geteuid() == 0 and shutil.which('setpriv'):
        p = subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
                            '--inh-caps=-all', KEYPROV, '-i', 'lo'], capture_output=True, timeout=30)
        one_line_error('no permission to capture', p.returncode, '', p.stderr.decode(),
                       want='permission denied')
    elif os.geteuid() != 0:
        one_line_error('no permission to capture', *kp('-i', 'lo'), want='permission denied')
    else:
        check('no permission to capture (setpriv missing)', False)


def test_help_version():
    rc, out, _ = kp('--help')
    check('--help exits 0 and fits one screen', rc == 0 and len(out.splitlines()) <= 45, str(len(out.splitlines())))


def main():
    try:
        test_help_version()
        if test_geodata_present():
            test_citizenlab_flag()
            test_golden()
            test_regenerated_samples()
            test_real_zoom_moved_to_beijing()
        test_sdes_cleartext()
        test_eve()
        test_long_call_one_session()
        test_output_errors()
        test_flow_events()
        test_inputs()
        test_bad_input()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print('%d passed, %d failed' % (results['passed'], results['failed']))
    return 1 if results['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())
