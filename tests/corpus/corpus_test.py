#!/usr/bin/env python3
"""Corpus test: keyprov on every real capture in ../shared/pcaps.

1. No capture makes keyprov crash, hang or report an input error (exit 2),
   and every output line is valid JSON.
2. For every TLS capture, the server names and server-certificate subjects
   keyprov reports (--all) equal those tshark + openssl saw
   (tls_expected.tsv, written once by make-expected and reviewed).
   Known, explained differences are listed in KNOWN_DIFFERENCES.

3. For every capture with a UDP key exchange, the DTLS servers (and their
   mechanism: dtls-srtp when an SRTP profile was negotiated or, without a
   server reply, offered) and the QUIC server names keyprov reports equal
   those tshark saw (media_expected.tsv, written by make-expected-media).

4. The key records and media flows of keys_expected.tsv are reported with
   the default options (the service, mechanism and issuer a user reads).

5. With --flag @CN, each capture's sessions (service, client, verdict, key
   holder) equal sessions_expected.tsv, and no other capture has one.

usage: corpus_test.py KEYPROV PCAP_DIR EXPECTED_TSV MEDIA_EXPECTED_TSV KEYS_EXPECTED_TSV SESSIONS_TSV
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from shared_pcaps import require  # noqa: E402

# capture -> {(kind, value): why keyprov's answer differs from tshark's}
KNOWN_DIFFERENCES = {
    # Inside GTP-U, both peers of one 5-tuple send a DTLS ClientHello and
    # neither answers: tshark counts the receiver of each as a server;
    # keyprov reports one record per association, the first ClientHello's
    # receiver (157.240.16.128:3478) as the issuer.
    'dtls_srtp_ndpi.pcap': {('dtls-srtp', '10.191.227.13:54162'): 'both peers sent ClientHello'},
}


def run(keyprov, path, extra=()):
    cmd = [keyprov, '--json', '--all', '--no-geo', '-r', path] + list(extra)
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None, 'timeout (hang?)', []
    events = []
    for n, line in enumerate(p.stdout.decode('utf-8', 'strict').splitlines(), 1):
        try:
            events.append(json.loads(line))
        except ValueError as e:
            return p, 'line %d is not valid JSON: %s' % (n, e), []
    return p, None, events


def endpoint(e):
    ip = e['ip']
    return ('[%s]:%d' % (ip, e['port'])) if ':' in ip else ('%s:%d' % (ip, e['port']))


def compare_media(cap, events, want):
    keys = [e for e in events if e['event_type'] == 'key' and e['proto'] == 'udp']
    got = set()
    for k in keys:
        if k['mechanism'] in ('dtls', 'dtls-srtp'):
            got.add((k['mechanism'], endpoint(k['issuer'])))
        elif k['mechanism'] == 'quic' and k['issuer']['sni']:
            got.add(('quic', k['issuer']['sni']))
    exp = set()
    for kind, value in want:
        if kind.startswith('dtls'):
            exp.add(('dtls-srtp' if 'srtp' in kind else 'dtls', value))
        elif kind == 'quic-sni':
            exp.add(('quic', value))
    known = KNOWN_DIFFERENCES.get(cap, {})
    n = 0
    for m, v in sorted(exp - got):
        if (m, v) not in known:
            print('FAIL %s: tshark sees %s with %s, keyprov does not' % (cap, m, v))
            n += 1
    for m, v in sorted(got - exp):
        if (m, v) not in known:
            print('FAIL %s: keyprov reports %s with %s, tshark does not' % (cap, m, v))
            n += 1
    return n


def check_keys(keyprov, pcap_dir, keys_tsv):
    rows = [l.rstrip('\n').split('\t') for l in open(keys_tsv, encoding='utf-8')
            if l.strip() and not l.startswith('#')]
    outputs = {}
    fails = 0
    for cap, ev, svc, mech, who, extra in rows:
        if cap not in outputs:
            p = subprocess.run([keyprov, '--json', '-r', os.path.join(pcap_dir, cap)],
                               capture_output=True, timeout=120)
            outputs[cap] = [json.loads(l) for l in p.stdout.decode().splitlines()]
        evs = outputs[cap]
        if ev == 'none':
            bad = [e for e in evs if e['event_type'] == 'key']
            if bad:
                print('FAIL %s: expected no key record, got %s' % (cap, bad[0]))
                fails += 1
            continue
        found = False
        for e in evs:
            if e['event_type'] != ev or e['service'] != svc:
                continue
            if ev == 'key':
                if e['mechanism'] != mech or (who != '*' and endpoint(e['issuer']) != who):
                    continue
                if extra.startswith('sni=') and e['issuer']['sni'] != extra[4:]:
                    continue
                if extra.startswith('relay=') and e.get('relay', {}).get('ip') != extra[6:]:
                    continue
            elif e['kind'] != mech or endpoint(e['server']) != who:
                continue
            found = True
            break
        if not found:
            print('FAIL %s: no %s event %s %s %s %s' % (cap, ev, svc, mech, who, extra))
            fails += 1
    return len(rows), fails


def check_sessions(keyprov, pcap_dir, captures, tsv):
    want = {}
    for line in open(tsv, encoding='utf-8'):
        if line.startswith('#') or not line.strip():
            continue
        cap, svc, client, verdict, holder = line.rstrip('\n').split('\t')
        want.setdefault(cap, set()).add((svc, client, verdict, holder))
    fails = 0
    for cap in captures:
        p = subprocess.run([keyprov, '--json', '--flag', '@CN', '-r', os.path.join(pcap_dir, cap)],
                           capture_output=True, timeout=120)
        got = set()
        for l in p.stdout.decode().splitlines():
            e = json.loads(l)
            if e['event_type'] == 'session':
                got.add((e['service'], e['client']['ip'], e['verdict'], e['holder']))
        exp = want.get(cap, set())
        for x in sorted(exp - got):
            print('FAIL %s: expected session %s' % (cap, '/'.join(x)))
            fails += 1
        for x in sorted(got - exp):
            print('FAIL %s: unexpected session %s' % (cap, '/'.join(x)))
            fails += 1
    return sum(len(v) for v in want.values()), fails


def main():
    keyprov, pcap_dir, expected_tsv, media_tsv, keys_tsv, sessions_tsv = sys.argv[1:7]
    require(pcap_dir, 'corpus')
    expected = {}
    for line in open(expected_tsv, encoding='utf-8'):
        if line.startswith('#') or not line.strip():
            continue
        cap, kind, value = line.rstrip('\n').split('\t', 2)
        e = expected.setdefault(cap, {'sni': set(), 'cert': set()})
        if kind in ('sni', 'cert'):
            e[kind].add(value)
    media = {}
    for line in open(media_tsv, encoding='utf-8'):
        if line.startswith('#') or not line.strip():
            continue
        cap, kind, value = line.rstrip('\n').split('\t', 2)
        media.setdefault(cap, set()).add((kind, value))
    captures = sorted(f for f in os.listdir(pcap_dir) if f.endswith(('.pcap', '.pcapng')))
    if len(captures) < 50:
        print('FAIL corpus: only %d captures in %s' % (len(captures), pcap_dir))
        return 1
    failures = 0
    checked_tls = 0
    checked_media = 0
    for cap in captures:
        p, err, events = run(keyprov, os.path.join(pcap_dir, cap))
        if err is None and p.returncode not in (0, 1):
            err = 'exit status %d: %s' % (p.returncode, p.stderr.decode(errors='replace').strip())
        if err is None and (not events or events[-1].get('event_type') != 'stats'):
            err = 'no stats event at the end'
        if err:
            print('FAIL %s: %s' % (cap, err))
            failures += 1
            continue
        if cap in media:
            checked_media += 1
            failures += compare_media(cap, events, media[cap])
        if cap not in expected:
            continue
        checked_tls += 1
        keys = [e for e in events if e['event_type'] == 'key' and e['proto'] == 'tcp']
        got = {'sni': {k['issuer']['sni'] for k in keys if k['issuer']['sni']},
               'cert': {k['issuer']['cert_subject'] for k in keys if k['issuer']['cert_subject']}}
        known = KNOWN_DIFFERENCES.get(cap, {})
        for kind in ('sni', 'cert'):
            missing = {v for v in expected[cap][kind] - got[kind] if (kind, v) not in known}
            extra = {v for v in got[kind] - expected[cap][kind] if (kind, v) not in known}
            for v in sorted(missing):
                print('FAIL %s: tshark sees %s %r, keyprov does not' % (cap, kind, v))
                failures += 1
            for v in sorted(extra):
                print('FAIL %s: keyprov reports %s %r, tshark does not' % (cap, kind, v))
                failures += 1
    nkeys, kfail = check_keys(keyprov, pcap_dir, keys_tsv)
    failures += kfail
    nsess, sfail = check_sessions(keyprov, pcap_dir, captures, sessions_tsv)
    failures += sfail
    print('corpus: %d captures run, %d TLS and %d UDP key-exchange captures compared with tshark, '
          '%d expected key/media records and %d session verdicts checked, %d failures'
          % (len(captures), checked_tls, checked_media, nkeys, nsess, failures))
    print('%d passed, %d failed' % (len(captures) - failures if failures < len(captures) else 0,
                                    failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
