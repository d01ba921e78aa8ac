#!/usr/bin/env python3
"""Resource bounds under attack (issue #7).

Generates hostile captures (deterministic, seeded) mixed by time with the
legitimate sessions of samples/citizenlab-2020.pcap, runs
`keyprov --json --flag @CN` on each while measuring its peak RSS (wait4's
ru_maxrss), wall and CPU time, and checks that memory stays under the caps
of tests/hostile/README.md, that time grows linearly with the input, that the
counters show the attack, and that the two legitimate key records (issuers
52.81.151.250, flagged @CN, and 170.114.128.20) are still reported intact.

usage: hostile_test.py KEYPROV SRCDIR

Prints one line per check and 'N passed, M failed' at the end; exits 1 on a
failure.  A check marked KNOWN is a limit of keyprov this test found and the
README lists: it is printed but does not fail the run unless
KP_HOSTILE_STRICT=1.  KP_SLOW=1 (set automatically when keyprov is built with
AddressSanitizer) scales the time bounds and uses the sanitizer RSS caps.
KP_HOSTILE_KEEP=1 keeps the generated captures and outputs.
"""
import base64
import hashlib
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostilepcap as hp  # noqa: E402

KEYPROV, SRC = sys.argv[1:3]
CITIZEN = os.path.join(SRC, 'samples', 'citizenlab-2020.pcap')
STRICT = os.environ.get('KP_HOSTILE_STRICT') == '1'
KEEP = os.environ.get('KP_HOSTILE_KEEP') == '1'


def _is_asan(exe):
    """`ldd keyprov | grep asan` (GCC links libasan dynamically); clang links
    its runtime statically, whose symbols are then in the file."""
    try:
        out = subprocess.run(['ldd', exe], capture_output=True, timeout=30).stdout.decode()
        if 'asan' in out:
            return True
        with open(exe, 'rb') as f:
            return b'__asan_init' in f.read()
    except (OSError, subprocess.SubprocessError):
        return False


if _is_asan(KEYPROV):
    os.environ['KP_SLOW'] = '1'
    # AddressSanitizer keeps up to 256 MiB of freed memory in quarantine,
    # which would hide what keyprov itself holds: keep 32 MiB.
    if 'quarantine_size_mb' not in os.environ.get('ASAN_OPTIONS', ''):
        os.environ['ASAN_OPTIONS'] = ':'.join(
            x for x in (os.environ.get('ASAN_OPTIONS', ''), 'quarantine_size_mb=32') if x)
SLOW = os.environ.get('KP_SLOW') == '1'
TIME_SCALE = 6 if SLOW else 1

# Peak RSS caps in MiB, (plain build, sanitizer build): the measurements of
# README.md with a margin.  The sanitizer build keeps freed memory in
# quarantine (256 MiB by default; this test keeps 32 MiB) and adds shadow
# memory and red zones.
CAPS = {
    'baseline': (32, 64),      # measured 16.6 / 28.2
    'syn': (32, 64),           # 16.8 / 28.6, both sizes
    'syn-workers': (64, 128),  # 42 / -- with -j 2: each new and evicted flow is a record in
                               # flight to the delivery stage, bounded by the 2 MiB rings
    'tls': (32, 64),           # 16.6 / 28.3
    'hello': (96, 160),        # 38 / -- 100,000 waiting handshakes, --max-flows 200000
    'hello-workers': (128, 256),  # 43 / -- the same with -j 2 and 3: records stream out
    'frag': (32, 64),          # 16.7 / 28.2
    'quic': (256, 400),        # 175.6 / 280.7 (50,000 datagrams)
    'quic-limited': (40, 96),  # 23.7 / 64.5 (--mem-limit 8)
    'stun': (32, 64),          # 17.0 / 29.2
    'sip': (32, 64),           # 17.0 / 28.7
    'quadratic': (32, 64),     # 16.7 / 28.4
}

TMP = tempfile.mkdtemp(prefix='kp-hostile-')
results = {'passed': 0, 'failed': 0, 'known': 0}

CN_IP, US_IP, CLIENT_IP = '52.81.151.250', '170.114.128.20', '142.150.190.10'
LEGIT = hp.sample_packets(CITIZEN)
T_FIRST, T_LAST = LEGIT[0][0], LEGIT[-1][0]
# the attacks are spread from one second before the first legitimate packet
# to one second after the last
A_FIRST, A_LAST = T_FIRST - 1000000, T_LAST + 1000000


def check(name, ok, detail=''):
    if ok:
        results['passed'] += 1
        print('ok   %s' % name, flush=True)
    else:
        results['failed'] += 1
        print('FAIL %s %s' % (name, str(detail)[:2000]), flush=True)


def known(name, ok, why, detail=''):
    """A property issue #7 asks for that keyprov does not have yet (see the
    README's known issues): reported, failing only in strict mode."""
    if ok:
        results['passed'] += 1
        print('ok   %s' % name, flush=True)
    elif STRICT:
        check(name, False, '%s %s' % (why, detail))
    else:
        results['known'] += 1
        print('KNOWN %s -- %s %s' % (name, why, str(detail)[:300]), flush=True)


class Run:
    pass


# keyprov is started by a small helper process that exists before this
# script's memory grows: Linux counts the RSS a process had before exec in
# its ru_maxrss, and a child of this script would start with the script's
# (hundreds of MiB after generating a capture).  The helper's own ~10 MiB is
# the floor of every measurement.
_SPAWNER_CODE = r"""
import json, os, subprocess, sys, threading, time
for line in sys.stdin:
    req = json.loads(line)
    t0 = time.monotonic()
    with open(req['out'], 'wb') as fo, open(req['err'], 'wb') as fe:
        p = subprocess.Popen(req['cmd'], stdout=fo, stderr=fe)
        timer = threading.Timer(req['timeout'], p.kill)
        timer.start()
        _, status, ru = os.wait4(p.pid, 0)
        timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
    print(json.dumps({'rc': p.returncode, 'wall': time.monotonic() - t0,
                      'cpu': ru.ru_utime + ru.ru_stime, 'maxrss_kib': ru.ru_maxrss}), flush=True)
"""
_SPAWNER = subprocess.Popen([sys.executable, '-S', '-c', _SPAWNER_CODE], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def _spawn(cmd, out, err, timeout):
    req = {'cmd': cmd, 'out': out, 'err': err, 'timeout': timeout}
    _SPAWNER.stdin.write(json.dumps(req) + '\n')
    _SPAWNER.stdin.flush()
    return json.loads(_SPAWNER.stdout.readline())


MAX_FLOWS = 65536


def run(tag, pcap, *args, timeout=120, repeat=1):
    """Run keyprov --json --flag @CN --max-flows 65536 [args] -r pcap and
    measure it.  --max-flows 65536 (an 8 MiB table) keeps the flow table from
    dominating the RSS of the smaller attacks; args may set another.  With
    repeat > 1 the run is repeated and the least CPU and wall time kept (the
    machine is shared: timing needs the undisturbed run)."""
    out_path = os.path.join(TMP, tag + '.jsonl')
    err_path = os.path.join(TMP, tag + '.err')
    if '--max-flows' not in args:
        args = ('--max-flows', str(MAX_FLOWS)) + args
    if '-j' not in args:
        # one analysis thread: memory figures (mem_peak is summed over
        # workers) compare between runs; test_syn_flood_workers runs -j 2
        args = ('-j', '1') + args
    cmd = [KEYPROV, '--json', '--flag', '@CN'] + list(args) + ['-r', pcap]
    m = [_spawn(cmd, out_path, err_path, timeout * TIME_SCALE) for _ in range(repeat)]
    r = Run()
    r.cmd, r.out_path, r.err_path, r.timeout = cmd, out_path, err_path, timeout * TIME_SCALE
    r.rc = m[0]['rc']
    r.wall = min(x['wall'] for x in m)
    r.cpu = min(x['cpu'] for x in m)
    r.rss_mib = max(x['maxrss_kib'] for x in m) / 1024.0  # Linux: KiB
    r.tag = tag
    with open(err_path, 'rb') as f:
        r.err = f.read().decode('utf-8', 'replace')
    r.events, r.bad_lines = [], 0
    with open(out_path, 'rb') as f:
        r.out_bytes = f.read()
    for line in r.out_bytes.decode('utf-8', 'replace').splitlines():
        try:
            r.events.append(json.loads(line))
        except ValueError:
            r.bad_lines += 1
    r.keys = [e for e in r.events if e.get('event_type') == 'key']
    r.sessions = [e for e in r.events if e.get('event_type') == 'session']
    r.anomalies = [e for e in r.events if e.get('event_type') == 'anomaly']
    st = [e for e in r.events if e.get('event_type') == 'stats']
    r.stats = st[-1] if st else {}
    print('     %-26s rc=%d  wall %6.2f s  cpu %6.2f s  peak RSS %7.1f MiB  packets %s'
          % (tag, r.rc, r.wall, r.cpu, r.rss_mib, r.stats.get('packets')), flush=True)
    return r


def remeasure(runs, rounds=1):
    """Run each of `runs` again, in turn, `rounds` times, keeping the least
    CPU and wall time: the runs of a timing comparison interleave, so that a
    busy moment of the shared machine does not fall on one size only."""
    for _ in range(rounds):
        for r in runs:
            m = _spawn(r.cmd, r.out_path, r.err_path, r.timeout)
            r.cpu, r.wall = min(r.cpu, m['cpu']), min(r.wall, m['wall'])
            r.rss_mib = max(r.rss_mib, m['maxrss_kib'] / 1024.0)
    if not KEEP:
        for r in runs:
            remove(r.out_path)
    print('     (timing again: %s)' % ', '.join('%s cpu %.2f s' % (r.tag, r.cpu) for r in runs))


def sane(r, what):
    """No crash, no sanitizer report, every line JSON, a final stats line."""
    bad = ('AddressSanitizer' in r.err or 'runtime error' in r.err or 'LeakSanitizer' in r.err)
    check('%s: exits normally (status %d), no sanitizer report, every line JSON, stats last'
          % (what, r.rc),
          r.rc in (0, 1) and not bad and r.bad_lines == 0 and r.stats.get('truncated') is False
          and r.events and r.events[-1].get('event_type') == 'stats', r.err[-1500:])


def cap(r, what, kind):
    c = CAPS[kind][1 if SLOW else 0]
    check('%s: peak RSS %.1f MiB < %d MiB' % (what, r.rss_mib, c), r.rss_mib < c)


STABLE_ISSUER = ('ip', 'port', 'country', 'asn', 'sni', 'cert_subject', 'cert_issuer',
                 'cert_sha256')


def stable(k):
    d = {f: k.get(f) for f in ('service', 'mechanism', 'proto', 'flagged', 'reason', 'confidence')}
    d['client'] = k.get('client')
    d['issuer'] = {f: k.get('issuer', {}).get(f) for f in STABLE_ISSUER}
    d['tls'] = {f: k.get('tls', {}).get(f) for f in ('version', 'cipher', 'alpn', 'ja4')}
    return d


BASE = {}


def legit(r, what, ips=(CN_IP, US_IP), verdict=True):
    """The legitimate key records are reported once each, equal to those of
    the unmodified sample, and the session is a violation."""
    for ip in ips:
        recs = [k for k in r.keys if k['issuer']['ip'] == ip and k['proto'] == 'tcp']
        check('%s: key record of %s reported once, intact%s'
              % (what, ip, ' and flagged @CN' if ip == CN_IP else ''),
              len(recs) == 1 and stable(recs[0]) == BASE[ip],
              json.dumps([stable(k) for k in recs])[:1500])
    verdicts = [s['verdict'] for s in r.sessions
                if s['client']['ip'] == CLIENT_IP and s['service'] == 'zoom']
    if not verdict:
        print('     (the zoom session of %s: %s)' % (CLIENT_IP, verdicts))
        return
    check('%s: the zoom session of %s is a violation' % (what, CLIENT_IP),
          verdicts == ['violation'], verdicts)


def no_wrong_cn_record(r, what):
    """Any record for the CN flow names the real server, the real server
    name (or none) and the real certificate (or none): never bytes an
    attacker slipped in."""
    base = BASE[CN_IP]['issuer']
    bad = [k for k in r.keys if k['client']['port'] == 50415 and (
        k['issuer']['ip'] != CN_IP or k['issuer']['sni'] not in (None, base['sni']) or
        k['issuer']['cert_subject'] not in (None, base['cert_subject']) or
        k['issuer']['cert_sha256'] not in (None, base['cert_sha256']))]
    check('%s: no key record with bytes that were not the real handshake\'s' % what,
          not bad, json.dumps(bad)[:1500])


def cn_records(r):
    return [k for k in r.keys if k['issuer']['ip'] == CN_IP and k['proto'] == 'tcp']


def remove(path):
    if not KEEP and os.path.exists(path):
        os.unlink(path)


def pcap_path(name):
    return os.path.join(TMP, name + '.pcap')


def write_plain(path, pkts):
    w = hp.PcapWriter(path)
    for ts, data in sorted(pkts, key=lambda p: p[0]):
        w.add(ts, data)
    w.close()


def ratio(a, b):
    return b / a if a > 0 else float('inf')


# ------------------------------------------------------------ baseline

def test_baseline():
    r = run('baseline', CITIZEN, repeat=2)
    sane(r, 'baseline (sample alone)')
    for ip in (CN_IP, US_IP):
        recs = [k for k in r.keys if k['issuer']['ip'] == ip]
        if len(recs) == 1:
            BASE[ip] = stable(recs[0])
    ok = (len(BASE) == 2 and BASE[CN_IP]['flagged'] is True and BASE[US_IP]['flagged'] is False
          and BASE[CN_IP]['issuer']['sni'] == 'zc01.zoom.us'
          and BASE[US_IP]['issuer']['sni'] == 'us04web.zoom.us' and r.rc == 1)
    check('baseline: two key records, 52.81.151.250 flagged @CN, 170.114.128.20 not', ok,
          '(geolocation databases in geodata/? geo/fetch-geodata) %s %s'
          % (json.dumps([stable(k) for k in r.keys]), r.err[-500:]))
    if not ok:
        return None
    legit(r, 'baseline')
    cap(r, 'baseline', 'baseline')
    return r


# ------------------------------------------------------------ 1. SYN flood

def test_syn_flood_workers():
    """The same flood through two workers: bounded memory, the same flows
    evicted and the same legitimate records as one worker."""
    n = int(os.environ.get('KP_HOSTILE_SYN', '1000000,2000000').split(',')[0])
    path = pcap_path('syn-%d' % n)
    if not os.path.exists(path):
        hp.write_merged(path, LEGIT, hp.syn_flood(n, A_FIRST, A_LAST, 7,
                                                  [CN_IP, US_IP, '203.0.113.9']))
    r = run('syn-%d-j2' % n, path, '--max-flows', '65536', '-j', '2')
    what = 'SYN flood %d SYNs, --max-flows 65536, -j 2' % n
    sane(r, what)
    legit(r, what)
    st = r.stats
    check('%s: flows %d, evicted full %d (> 0), tcp %d' % (
        what, st.get('flows', 0), st.get('flows_evicted_full', 0), st.get('tcp', 0)),
        st.get('flows', 0) >= n and st.get('flows_evicted_full', 0) >= n - 65536
        and st.get('tcp') == n + 38, st)
    cap(r, what, 'syn-workers')


def test_syn_flood():
    sizes = [int(x) for x in os.environ.get('KP_HOSTILE_SYN', '1000000,2000000').split(',')]
    runs = {}
    for n in sizes:
        path = pcap_path('syn-%d' % n)
        hp.write_merged(path, LEGIT, hp.syn_flood(n, A_FIRST, A_LAST, 7,
                                                  [CN_IP, US_IP, '203.0.113.9']))
        r = run('syn-%d' % n, path, '--max-flows', '65536')
        what = 'SYN flood %d SYNs, --max-flows 65536' % n
        sane(r, what)
        legit(r, what)
        st = r.stats
        active = (st.get('flows', 0) - st.get('flows_evicted_full', 0) -
                  st.get('flows_evicted_idle', 0))
        check('%s: flows %d, evicted full %d (> 0), at most 65536 left in the table'
              % (what, st.get('flows', 0), st.get('flows_evicted_full', 0)),
              st.get('flows', 0) >= n and st.get('flows_evicted_full', 0) >= n - 65536
              and 0 < active <= 65536 and st.get('tcp') == n + 38, st)
        check('%s: a SYN allocates no analysis state (mem_peak %d B as for the sample alone)'
              % (what, st.get('mem_peak', -1)), 0 < st.get('mem_peak', 0) <= 256 * 1024, st)
        cap(r, what, 'syn')
        check('%s: wall time %.1f s < %d s' % (what, r.wall, 20 * TIME_SCALE),
              r.wall < 20 * TIME_SCALE)
        runs[n] = r
        if n == sizes[0]:
            dense(path, n)
    if len(sizes) >= 2:
        remeasure([runs[n] for n in sizes])
    for n in sizes:
        remove(pcap_path('syn-%d' % n))
    if len(sizes) >= 2:
        a, b = runs[sizes[0]], runs[sizes[-1]]
        k = sizes[-1] / sizes[0]
        check('SYN flood: CPU time x%.2f for x%g the SYNs (< %.1f: linear)'
              % (ratio(a.cpu, b.cpu), k, 1.5 * k), ratio(a.cpu, b.cpu) < 1.5 * k,
              (a.cpu, b.cpu))
        check('SYN flood: peak RSS %.1f -> %.1f MiB, flat (within 8 MiB) beyond the flow table'
              % (a.rss_mib, b.rss_mib), b.rss_mib - a.rss_mib < 8)


def test_hello_flood():
    """Half-open handshakes: each flow a SYN and the sample's ClientHello to
    a server that never answers.  Every one is analysed (none skipped for
    memory) and each costs a bounded amount of analysis state while it
    waits: the ClientHello's summary, not its bytes (issue #6: a million
    pending handshakes in well under 512 MiB)."""
    n = int(os.environ.get('KP_HOSTILE_HELLO', '100000'))
    cn = [fr for _, fr in LEGIT if _cn_flow(fr)]
    hello = next(t[9] for t in map(hp.parse_tcp, cn) if t[3] == 443 and t[9])
    if hello[:1] != b'\x16' or len(hello) < 100:
        check('hello flood: the sample starts its CN flow with a ClientHello', False, hello[:16])
        return
    rng = random.Random(11)
    base = struct.unpack('!I', socket.inet_aton('198.18.0.0'))[0]
    step = (A_LAST - A_FIRST) / (2 * n)

    def gen():
        for i in range(n):
            src = socket.inet_aton(socket.inet_ntoa(struct.pack('!I', base + (i >> 6))))
            sport, seq = 20000 + (i & 63), rng.getrandbits(32)
            dst = ('203.0.113.9', '198.51.100.7', '192.0.2.44')[i % 3]
            t = A_FIRST + int(2 * i * step)
            yield t, hp.tcp_frame(src, dst, sport, 443, seq, 0, hp.TCP_SYN)
            yield t + int(step), hp.tcp_frame(src, dst, sport, 443, seq + 1, 1, 0x18, hello)
    path = pcap_path('hello-%d' % n)
    hp.write_merged(path, LEGIT, gen())
    r = run('hello-%d' % n, path, '--max-flows', str(2 * n))
    # with workers: the final flush releases every flow at once, and the
    # workers' records must stream out in order without piling up
    rj = {j: run('hello-%d-j%d' % (n, j), path, '--max-flows', str(2 * n), '-j', str(j))
          for j in (2, 3)}
    remove(path)
    what = 'half-open handshake flood, %d ClientHellos' % n
    for j, x in rj.items():
        sane(x, '%s, -j %d' % (what, j))
        same = [e for e in x.events if e.get('event_type') != 'stats'] == \
            [e for e in r.events if e.get('event_type') != 'stats']
        check('%s, -j %d: the same %d events in the same order as -j 1'
              % (what, j, len(r.events) - 1), same)
        cap(x, '%s, -j %d' % (what, j), 'hello-workers')
    sane(r, what)
    legit(r, what)
    st, base_st = r.stats, BASE_RUN.stats
    hs = st.get('tls_handshakes', 0) - base_st.get('tls_handshakes', 0)
    check('%s: every ClientHello analysed (%d), none skipped for memory (mem_limited %d)'
          % (what, hs, st.get('mem_limited', -1)), hs == n and st.get('mem_limited') == 0, st)
    per = (st.get('mem_peak', 0) - base_st.get('mem_peak', 0)) / n
    check('%s: %.0f bytes of analysis state per waiting handshake (<= 256)' % (what, per),
          0 < per <= 256, st)
    cap(r, what, 'hello')


def dense(path, n):
    """The same flood against a table too small for the handshake's round
    trip: 52.81.151.250 answers the ClientHello 181 ms later, after ~28,000
    new flows, so with 16384 slots its flow is evicted mid-handshake."""
    r = run('syn-%d-dense' % n, path, '--max-flows', '16384')
    what = 'SYN flood %d SYNs, --max-flows 16384' % n
    sane(r, what)
    cns = cn_records(r)
    check('%s: 52.81.151.250 still reported, every record of it flagged @CN, session violation'
          % what, cns and all(k['flagged'] for k in cns) and
          [s['verdict'] for s in r.sessions if s['client']['ip'] == CLIENT_IP
           and s['service'] == 'zoom'] == ['violation'], json.dumps([stable(k) for k in cns]))
    no_wrong_cn_record(r, what)
    legit(r, what, ips=(US_IP,))
    known('%s: the handshake evicted between ClientHello and certificate still gives one '
          'complete record' % what,
          len(cns) == 1 and stable(cns[0]) == BASE[CN_IP],
          'LRU eviction drops a flow with a handshake in progress in favour of SYN-only flows; '
          'its two halves become two records (one without the certificate, one without the '
          'server name):', [(k['issuer']['sni'], k['issuer']['cert_subject'] is not None,
                            k['evidence']) for k in cns])
    cap(r, what, 'syn')


# ---------------------------------------- 2./3. TLS segmentation and overlaps

def _cn_flow(frame):
    t = hp.parse_tcp(frame)
    return t is not None and socket.inet_aton(CN_IP) in (t[0], t[1])


def _one_byte_segments(rng, window=None):
    """The CN flow's payload segments cut into 1-byte segments, spread over the
    time until the flow's next packet; within each original segment shuffled
    in windows of `window` (None: in order).  Returns (other packets,
    {dir: [(ts, frame)]}) with dir 1 for the server's bytes."""
    idx = [i for i, (_, fr) in enumerate(LEGIT) if _cn_flow(fr)]
    segs = {0: [], 1: []}
    for k, i in enumerate(idx):
        ts, fr = LEGIT[i]
        t = hp.parse_tcp(fr)
        pl = t[9]
        if not pl:
            continue
        nxt = LEGIT[idx[k + 1]][0] if k + 1 < len(idx) else ts + 1000
        step = (nxt - ts) / (len(pl) + 1)
        s = [(ts + int(j * step), hp.retcp(fr, t[4] + j, pl[j:j + 1])) for j in range(len(pl))]
        if window:
            for w in range(0, len(s), window):
                chunk = s[w:w + window]
                frames = [c[1] for c in chunk]
                rng.shuffle(frames)
                s[w:w + window] = [(chunk[m][0], frames[m]) for m in range(len(chunk))]
        segs[1 if t[2] == 443 else 0].extend(s)
    other = [(ts, fr) for ts, fr in LEGIT if not (_cn_flow(fr) and hp.parse_tcp(fr)[9])]
    return other, segs


def test_tls_segments():
    rng = random.Random(11)
    # windows of 8: at most 7 holes at a time, within the 16 keyprov keeps
    other, segs = _one_byte_segments(rng, window=8)
    path = pcap_path('tls-1byte-window8')
    write_plain(path, other + segs[0] + segs[1])
    r = run('tls-1byte-window8', path)
    what = 'TLS of 52.81.151.250 in %d 1-byte segments, shuffled in windows of 8' % (
        len(segs[0]) + len(segs[1]))
    sane(r, what)
    legit(r, what)
    cap(r, what, 'tls')
    remove(path)

    # fully random order over each direction of the whole connection
    other, segs = _one_byte_segments(rng)
    for d in (0, 1):
        frames = [f for _, f in segs[d]]
        rng.shuffle(frames)
        segs[d] = [(segs[d][m][0], frames[m]) for m in range(len(frames))]
    path = pcap_path('tls-1byte-random')
    write_plain(path, other + segs[0] + segs[1])
    r = run('tls-1byte-random', path)
    what = 'TLS of 52.81.151.250 in 1-byte segments, fully random order'
    sane(r, what)
    no_wrong_cn_record(r, what)
    legit(r, what, ips=(US_IP,), verdict=False)
    cap(r, what, 'tls')
    cns = cn_records(r)
    print('     (random order: %s)' % (
        'record of 52.81.151.250 lost: more than 16 holes, later bytes dropped (documented limit)'
        if not cns else 'record of 52.81.151.250 reported: %s' % json.dumps(stable(cns[0]))))
    known('%s: the dropped segments are reported (an anomaly or a counter)' % what,
          bool(cns) or any(a['anomaly'].startswith(('tcp.', 'memory.')) for a in r.anomalies),
          'segments beyond the 16 holes are dropped silently: no anomaly, no counter, the '
          'session reads ok', [s['verdict'] for s in r.sessions])

    # ... then the sender retransmits every segment in order (RTO, 200 ms later)
    rtx = [(ts + 200000, fr) for ts, fr in LEGIT if _cn_flow(fr) and hp.parse_tcp(fr)[9]]
    write_plain(path, other + segs[0] + segs[1] + rtx)
    r = run('tls-1byte-random-rtx', path)
    what = 'TLS in 1-byte segments in random order, then retransmitted in order'
    sane(r, what)
    check('%s: the retransmissions fill the holes: record of 52.81.151.250 intact' % what,
          len(cn_records(r)) == 1 and stable(cn_records(r)[0]) == BASE[CN_IP],
          json.dumps([stable(k) for k in cn_records(r)]))
    legit(r, what)
    remove(path)


def test_overlaps():
    def build(order, dirs):
        rng = random.Random(13)
        out = []
        for ts, fr in LEGIT:
            t = hp.parse_tcp(fr)
            if _cn_flow(fr) and t[9] and (1 if t[2] == 443 else 0) in dirs:
                g = hp.retcp(fr, t[4], rng.randbytes(len(t[9])))
                out += [(ts, fr), (ts, g)] if order == 'after' else [(ts, g), (ts, fr)]
            else:
                out.append((ts, fr))
        return out

    path = pcap_path('overlap')
    write_plain(path, build('after', (0, 1)))
    r = run('overlap-garbage-after', path)
    what = 'every TLS segment of 52.81.151.250 re-sent with other bytes after the original'
    sane(r, what)
    legit(r, what)
    check('%s: the copies cost no memory (mem_peak %d B, %d B for the sample alone)'
          % (what, r.stats.get('mem_peak', 0), BASE_RUN.stats.get('mem_peak', 0)),
          r.stats.get('mem_peak', 1 << 40) <= BASE_RUN.stats.get('mem_peak', 0) * 1.1)
    print('     (anomalies for the conflicting copies: %s)'
          % (sorted({a['anomaly'] for a in r.anomalies}) or 'none'))

    write_plain(path, build('first', (0, 1)))
    r = run('overlap-garbage-first', path)
    what = 'garbage copy of every TLS segment of 52.81.151.250 before the original'
    sane(r, what)
    no_wrong_cn_record(r, what)
    legit(r, what, ips=(US_IP,), verdict=False)
    cns = cn_records(r)
    check('%s: first copy wins, so the record is lost or malformed, never made of garbage'
          % what, not cns or all('tls.malformed_message' in k['evidence'] or
                                 k['issuer']['sni'] == 'zc01.zoom.us' for k in cns),
          json.dumps(cns)[:1000])
    print('     (garbage first: %s)' % ('no record for 52.81.151.250: its first bytes are not '
                                         'TLS, the flow is bypassed' if not cns else
                                         json.dumps(stable(cns[0]))))

    # One garbage segment in place of the ClientHello, with a wrong TCP
    # checksum: the server's stack drops it, keyprov (which does not check
    # TCP checksums) keeps it; the server's flight is intact.
    out = []
    rng = random.Random(31)
    inserted = False
    for ts, fr in LEGIT:
        t = hp.parse_tcp(fr)
        if not inserted and _cn_flow(fr) and t[9] and t[3] == 443:
            g = bytearray(hp.retcp(fr, t[4], rng.randbytes(len(t[9]))))
            g[50] ^= 0xff  # TCP checksum (Ethernet 14 + IPv4 20 + 16)
            out.append((ts - 1, bytes(g)))
            inserted = True
        out.append((ts, fr))
    write_plain(path, out)
    r = run('overlap-insertion', path)
    what = 'one garbage segment (bad TCP checksum) before the ClientHello of 52.81.151.250'
    sane(r, what)
    no_wrong_cn_record(r, what)
    legit(r, what, ips=(US_IP,), verdict=False)
    cns = cn_records(r)
    known('%s: the server\'s intact flight still gives the record (certificate, flagged)' % what,
          len(cns) == 1 and cns[0]['issuer']['cert_sha256'] == BASE[CN_IP]['issuer']['cert_sha256']
          and cns[0]['flagged'] is True,
          'the first bytes of the client side are not TLS, so the whole flow is bypassed before '
          'the server speaks; TCP checksums are not verified, so a segment the server never '
          'accepts blinds keyprov to the connection: records of',
          sorted({k['issuer']['ip'] for k in r.keys}))

    # the garbage precedes only the server's segments: the ClientHello stands
    write_plain(path, build('first', (1,)))
    r = run('overlap-garbage-first-server', path)
    what = 'garbage before each server segment of 52.81.151.250'
    sane(r, what)
    no_wrong_cn_record(r, what)
    cns = cn_records(r)
    check('%s: record from the ClientHello alone: right server name, no certificate, flagged'
          % what, len(cns) == 1 and cns[0]['issuer']['sni'] == 'zc01.zoom.us'
          and cns[0]['issuer']['cert_subject'] is None and cns[0]['flagged'] is True
          and 'tls.server_hello.not_seen' in cns[0]['evidence'], json.dumps(cns)[:1000])
    remove(path)


# ------------------------------------------------------------ 4. fragments

def test_fragments(base):
    rng = random.Random(17)
    n = 10000
    times = hp.spread(n, A_FIRST, A_LAST)
    dsts = [CN_IP, US_IP, CLIENT_IP, '198.51.100.7']
    att = []
    for i in range(n):
        src = '100.64.%d.%d' % (rng.randrange(256), rng.randrange(1, 255))
        more = rng.random() < 0.8
        off = rng.randrange(0, 8000)
        size = 8 * rng.randrange(1, 185)
        if i % 10 == 0:
            # a first fragment that looks like UDP to 443 carrying a QUIC Initial
            off, more = 0, True
            payload = struct.pack('!HHHH', rng.randrange(1024, 65536), 443, 1208, 0) + \
                hp.quic_initial(rng.randbytes(8), b'', payload=rng.randbytes(1100))
        else:
            payload = rng.randbytes(size)
        proto = (17, 6, 1)[i % 3]
        att.append((times[i], hp.ipv4_fragment(src, rng.choice(dsts), rng.randrange(65536), off,
                                               more, payload, proto)))
    path = pcap_path('fragments')
    hp.write_merged(path, LEGIT, att)
    r = run('fragments-10000', path)
    what = '10,000 IPv4 fragments'
    sane(r, what)
    legit(r, what)
    st = r.stats
    check('%s: ip_fragments == 10000, no flow or undecodable count from them' % what,
          st.get('ip_fragments') == n and st.get('flows') == base.stats.get('flows')
          and st.get('undecodable') == 0 and st.get('packets') == n + len(LEGIT), st)
    check('%s: peak RSS %.1f MiB, flat (within 4 MiB of the sample alone, %.1f MiB)'
          % (what, r.rss_mib, base.rss_mib), r.rss_mib - base.rss_mib < 4)
    cap(r, what, 'frag')
    remove(path)


# ------------------------------------------------------------ 5. QUIC

QUIC_KINDS = ('len_over', 'token_huge', 'dcid_255', 'truncated', 'short_len', 'undecryptable',
              'coalesced', 'grease', 'vn_odd')
QUIC_ANOMALOUS = ('short_len', 'undecryptable', 'coalesced')  # parse, then fail RFC 9001 5.3


def quic_datagram(kind, rng):
    dcid, scid = rng.randbytes(8), rng.randbytes(8)
    if kind == 'len_over':  # Length far beyond the datagram
        return hp.quic_initial(dcid, scid, payload=rng.randbytes(1150), length=(1 << 30) - 1,
                               length_size=4)
    if kind == 'token_huge':  # Token Length 2^62 - 1
        return hp.quic_initial(dcid, scid, token_len=(1 << 62) - 1, payload=rng.randbytes(1150))
    if kind == 'dcid_255':  # RFC 9000 17.2: v1 connection IDs are at most 20 bytes
        return b'\xc3\x00\x00\x00\x01\xff' + rng.randbytes(255) + b'\x00\x00' + \
            hp.quic_varint(900) + rng.randbytes(900)
    if kind == 'truncated':
        whole = hp.quic_initial(dcid, scid, payload=rng.randbytes(1162))
        return whole[:rng.randrange(1, 26)]
    if kind == 'short_len':  # Length 4: the packet number only, no room for the sample
        return hp.quic_initial(dcid, scid, payload=rng.randbytes(4)) + b'\0' * 1150
    if kind == 'undecryptable':  # every length right, the payload random
        return hp.quic_initial(dcid, scid, payload=rng.randbytes(1162))
    if kind == 'coalesced':  # 25 tiny Initials in one datagram
        return b''.join(hp.quic_initial(dcid, scid, payload=rng.randbytes(24)) for _ in range(25))
    if kind == 'grease':  # a reserved version (RFC 9000 15)
        return hp.quic_initial(dcid, scid, payload=rng.randbytes(1162), version=0x1a2a3a4a)
    # Version Negotiation whose version list is not a multiple of 4 bytes
    return b'\x80\x00\x00\x00\x00\x08' + dcid + b'\x08' + scid + rng.randbytes(4 * 10 + 3)


def quic_capture(n, path, per_source=5):
    rng = random.Random(19)
    times = hp.spread(n, A_FIRST, A_LAST)
    counts = dict.fromkeys(QUIC_KINDS, 0)
    dsts = [CN_IP, US_IP, '142.250.64.78']
    att = []
    for i in range(n):
        s = i // per_source
        src = '100.%d.%d.%d' % (64 + (s >> 16), (s >> 8) & 255, s & 255)
        kind = QUIC_KINDS[rng.randrange(len(QUIC_KINDS))]
        counts[kind] += 1
        att.append((times[i], hp.udp_frame(src, dsts[s % 3], 40000 + s % 20000, 443,
                                           quic_datagram(kind, rng))))
    hp.write_merged(path, LEGIT, att)
    return counts


def test_quic():
    sizes = (25000, 50000)
    runs = {}
    for n in sizes:
        path = pcap_path('quic-%d' % n)
        counts = quic_capture(n, path)
        r = run('quic-%d' % n, path)
        what = '%d bogus QUIC Initials from %d sources' % (n, n // 5)
        sane(r, what)
        legit(r, what)
        want = sum(counts[k] for k in QUIC_ANOMALOUS)
        got = sum(1 for a in r.anomalies if a['anomaly'] == 'quic.initial_undecryptable')
        # An Initial that fails authentication ends the QUIC analysis of its
        # flow (no state is kept for it): one anomaly per such flow, at most
        # one per failing datagram.
        check('%s: %d quic.initial_undecryptable anomalies, at most one per source flow and '
              'per datagram that fails authentication (%d)' % (what, got, want),
              0 < got <= min(want, n // 5) and len(r.anomalies) == got,
              {a['anomaly'] for a in r.anomalies})
        check('%s: udp %d, no key record from them, mem_peak %.1f MiB within --mem-limit'
              % (what, r.stats.get('udp', 0), r.stats.get('mem_peak', 0) / 1048576),
              r.stats.get('udp') == n + 366 and len(r.keys) == 2
              and r.stats.get('mem_peak', 1 << 62) <= 512 << 20 and r.stats.get('mem_limited') == 0,
              r.stats)
        cap(r, what, 'quic')
        runs[n] = r
        # The same capture with analysis memory capped at 8 MiB (about 440
        # flows' QUIC state): the cap is reached before the legitimate
        # handshakes start.
        r = run('quic-%d-mem8' % n, path, '--mem-limit', '8')
        what8 = what + ', --mem-limit 8'
        sane(r, what8)
        check('%s: mem_peak %.1f MiB <= 8 MiB (undecryptable Initials keep no state)'
              % (what8, r.stats.get('mem_peak', 0) / 1048576),
              r.stats.get('mem_peak', 1 << 62) <= 8 << 20, r.stats)
        cap(r, what8, 'quic-limited')
        runs['mem8-%d' % n] = r
        legit_ok = len(cn_records(r)) == 1 and stable(cn_records(r)[0]) == BASE[CN_IP]
        known('%s: the legitimate key records are still reported' % what8, legit_ok,
              'each undecryptable Initial pins 18 KiB of QUIC state until its flow ends; once '
              'they fill --mem-limit, new TLS handshakes are not analysed (mem_limited, no '
              'anomaly): key records of', sorted({k['issuer']['ip'] for k in r.keys}))
    remeasure([runs[n] for n in sizes])
    for n in sizes:
        remove(pcap_path('quic-%d' % n))
    a, b = runs[sizes[0]], runs[sizes[1]]
    check('QUIC: CPU time x%.2f for x2 the datagrams (< 3: linear)' % ratio(a.cpu, b.cpu),
          ratio(a.cpu, b.cpu) < 3, (a.cpu, b.cpu))
    a, b = runs['mem8-%d' % sizes[0]], runs['mem8-%d' % sizes[1]]
    check('QUIC with --mem-limit 8: peak RSS %.1f -> %.1f MiB for x2 the input (flat: within '
          '8 MiB)' % (a.rss_mib, b.rss_mib), b.rss_mib - a.rss_mib < 8)


# ------------------------------------------------------------ 6. STUN / TURN

def stun_datagram(kind, rng):
    txid = rng.randbytes(16)
    if kind == 'zero_len':  # 16,000 attributes of length 0 (64,020 bytes)
        types = (0x8022, 0x0006, 0x7fff, 0xc057, 0x0014, 0x4001, 0x0000)
        attrs = b''.join(struct.pack('!HH', types[rng.randrange(len(types))], 0)
                         for _ in range(16000))
        return hp.stun_message(0x001, 0, txid, attrs)
    if kind == 'software':  # 8,000 SOFTWARE attributes
        return hp.stun_message(0x001, 2, txid, hp.stun_attr(0x8022, b'kp!!') * 8000)
    if kind == 'overrun':  # the last attribute claims 65,535 bytes
        attrs = hp.stun_attr(0x0006, b'user') * 7999 + struct.pack('!HH', 0x0006, 0xffff)
        return hp.stun_message(0x001, 0, txid, attrs)
    if kind == 'bad_length':  # header length beyond the datagram
        return hp.stun_message(0x003, 0, txid, hp.stun_attr(0x0019, b'\x11\0\0\0') * 4000,
                               length=65000)
    if kind == 'classic':  # RFC 3489 header (no cookie), 16,000 attributes
        return hp.stun_message(0x001, 0, txid, struct.pack('!HH', 0x0001, 0) * 16000, cookie=False)
    if kind == 'fingerprint':  # 15,999 attributes then a valid FINGERPRINT
        return hp.stun_fingerprint(hp.stun_message(0x001, 0, txid,
                                                   struct.pack('!HH', 0x8029, 0) * 15999))
    # unpadded odd lengths (MS-TURN style), 9,000 of them
    return hp.stun_message(0x001, 0, txid, hp.stun_attr(0x8055, b'abc', pad=False) * 9000)


STUN_KINDS = ('zero_len', 'software', 'overrun', 'bad_length', 'classic', 'fingerprint', 'unpadded')


def test_stun():
    rng = random.Random(23)
    n_big = 350
    att = []
    times = hp.spread(n_big, A_FIRST, A_LAST)
    cache = {}
    for i in range(n_big):
        kind = STUN_KINDS[i % len(STUN_KINDS)]
        if kind not in cache:
            cache[kind] = stun_datagram(kind, rng)
        # a fresh transaction ID per datagram; the rest of each kind is shared
        d = cache[kind]
        if kind != 'fingerprint':
            d = d[:8] + rng.randbytes(12) + d[20:]
        s = i // 4
        att.append((times[i], hp.udp_frame('100.80.%d.%d' % (s >> 8, s & 255), '203.0.113.50',
                                           50000 + s, 3478, d)))
    # TURN: 20 clients bind channel 0x4001 to a peer, then send ChannelData garbage
    n_turn = 0
    for c in range(20):
        cli, srv = '100.81.0.%d' % (c + 1), '203.0.113.50'
        t = A_FIRST + c * (A_LAST - A_FIRST) // 20
        txid = rng.randbytes(12)
        bind = hp.stun_message(0x009, 0, txid, hp.stun_attr(0x000c, b'\x40\x01\0\0') +
                               hp.stun_attr(0x0012, hp.xor_address('198.51.100.200', 3000)))
        ok = hp.stun_message(0x009, 2, txid, b'')
        att.append((t, hp.udp_frame(cli, srv, 50000, 3478, bind)))
        att.append((t + 20000, hp.udp_frame(srv, cli, 3478, 50000, ok)))
        n_turn += 2
        for j in range(100):
            data = bytes([rng.randrange(20, 64)]) + rng.randbytes(rng.randrange(0, 1400))
            chan = 0x4001 if j % 2 == 0 else 0x4000 + rng.randrange(0x1000)
            length = (len(data), rng.randrange(65536), 0)[j % 3]
            att.append((t + 40000 + 1000 * j, hp.udp_frame(cli, srv, 50000, 3478,
                                                           hp.channel_data(chan, data, length))))
            n_turn += 1
    att.sort(key=lambda p: p[0])
    path = pcap_path('stun')
    hp.write_merged(path, LEGIT, att)
    r = run('stun', path)
    what = ('STUN with up to 16,000 attributes (%d datagrams of up to 64 KB) and ChannelData '
            'garbage' % n_big)
    sane(r, what)
    legit(r, what)
    check('%s: every datagram counted (udp %d), no key record from them'
          % (what, r.stats.get('udp', 0)),
          r.stats.get('udp') == n_big + n_turn + 366 and len(r.keys) == 2, r.stats)
    names = [a['anomaly'] for a in r.anomalies]
    print('     (anomalies reported: %s)' % {k: names.count(k) for k in set(names)})
    check('%s: the DTLS-looking ChannelData garbage on the bound channel gives dtls.malformed '
          'anomalies (%d)' % (what, names.count('dtls.malformed')),
          0 < names.count('dtls.malformed') <= 20 * 50
          and len(names) == names.count('dtls.malformed'))
    cap(r, what, 'stun')
    check('%s: wall time %.1f s < %d s' % (what, r.wall, 10 * TIME_SCALE),
          r.wall < 10 * TIME_SCALE)
    remove(path)


# ------------------------------------------------------------ 7. SIP / SDP

def sdes_sdp(ip, key, lines=0, media=0):
    sdp = 'v=0\r\no=alice 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n' % (ip, ip)
    sdp += ''.join('m=audio %d RTP/AVP 0\r\n' % (20000 + 2 * i) for i in range(media))
    sdp += ''.join('a=x%04d\r\n' % i for i in range(lines))
    sdp += 'm=audio 40000 RTP/SAVP 0\r\n'
    if key is not None:
        sdp += ('a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^31\r\n'
                % base64.b64encode(key).decode())
    return sdp


def test_sip():
    rng = random.Random(29)
    key1, key2 = rng.randbytes(30), rng.randbytes(30)
    dst = '198.51.100.7'
    att = []
    n = 400
    times = hp.spread(n, A_FIRST, A_LAST)
    big_headers = ''.join('X-Kp-Pad-%04d: %s\r\n' % (i, 'h' * 44) for i in range(960))
    big_headers += ''.join('Via: SIP/2.0/UDP 10.0.%d.1;branch=z9hG4bKv%d\r\n' % (i, i)
                           for i in range(60))
    big_headers += 'X-Folded: a\r\n' + ''.join(' b%d\r\n' % i for i in range(300))
    for i in range(n):
        src = '100.90.%d.%d' % (i // 200, i % 200 + 1)
        if i % 2 == 0:  # about 60 KB of headers
            key = key1 if i == 100 else None
            sdp = sdes_sdp(src, key) if key is not None else ''
            msg = hp.sip_invite(src, dst, 'kp-big-hdr-%d' % i, big_headers, sdp)
        else:  # SDP with 5,200 lines (200 of them m= lines), the a=crypto line last
            key = key2 if i == 301 else None
            msg = hp.sip_invite(src, dst, 'kp-big-sdp-%d' % i, '',
                                sdes_sdp(src, key, lines=5000, media=200))
        assert len(msg) <= 65507, len(msg)
        att.append((times[i], hp.udp_frame(src, dst, 5060, 5060, msg)))
    path = pcap_path('sip')
    hp.write_merged(path, LEGIT, att)
    r = run('sip', path)
    what = 'SIP over UDP: %d INVITEs with %.1f KiB of headers or 5,200 SDP lines' % (
        n, len(hp.sip_invite('100.90.0.1', dst, 'kp-big-hdr-0', big_headers)) / 1024)
    sane(r, what)
    legit(r, what)
    sdes = [k for k in r.keys if k['mechanism'] == 'sdes-cleartext']
    want = {('100.90.0.101', hashlib.sha256(key1).hexdigest()[:32]),
            ('100.90.1.102', hashlib.sha256(key2).hexdigest()[:32])}
    got = {(k['issuer']['ip'], k.get('sdes', {}).get('key_sha256_128')) for k in sdes}
    check('%s: both a=crypto keys reported as sdes-cleartext (suite, key hash, issuer)' % what,
          got == want and len(sdes) == 2 and all(
              k['sdes']['suite'] == 'AES_CM_128_HMAC_SHA1_80' for k in sdes), json.dumps(sdes))
    check('%s: both flagged, key exposed in cleartext' % what,
          sdes and all(k['flagged'] and k['reason'].startswith('SRTP key exposed') for k in sdes))
    sv = [s['verdict'] for s in r.sessions if s['service'] == 'sip']
    check('%s: the sip session of the SDES keys is a violation' % what,
          sv == ['violation'], sv)
    text = r.out_bytes.decode('utf-8', 'replace') + r.err
    leaked = [k for k in (key1, key2) if base64.b64encode(k).decode()[:16] in text or
              k.hex()[:16] in text]
    check('%s: no key text in the output' % what, not leaked)
    cap(r, what, 'sip')
    check('%s: wall time %.1f s < %d s' % (what, r.wall, 10 * TIME_SCALE),
          r.wall < 10 * TIME_SCALE)
    remove(path)


# ---------------------------- linearity of small segments (stream parsers)

def one_flow(src, dst, dport, data, seg, t0, t1):
    """A TCP connection from src:40000 to dst:dport carrying `data` in
    segments of `seg` bytes, spread over [t0, t1]."""
    pk = [(t0, hp.tcp_frame(src, dst, 40000, dport, 1000, 0, hp.TCP_SYN)),
          (t0 + 10, hp.tcp_frame(dst, src, dport, 40000, 5000, 1001, hp.TCP_SYN | hp.TCP_ACK))]
    nseg = (len(data) + seg - 1) // seg
    step = (t1 - t0 - 20) / max(nseg, 1)
    for i in range(nseg):
        pk.append((t0 + 20 + int(i * step),
                   hp.tcp_frame(src, dst, 40000, dport, 1001 + i * seg, 5001, hp.TCP_ACK,
                                data[i * seg:(i + 1) * seg])))
    return pk


def tls_one_byte_records(size):
    """A ClientHello-sized handshake message of `size` bytes sent as one TLS
    record per byte (RFC 8446 5.1 allows any fragmentation)."""
    msg = b'\x01' + (size - 4).to_bytes(3, 'big') + b'\x03\x03' + b'\x11' * (size - 6)
    return b''.join(b'\x16\x03\x01\x00\x01' + msg[i:i + 1] for i in range(size))


def sip_big_headers(size):
    h = ('INVITE sip:bob@198.51.100.7 SIP/2.0\r\n'
         'Via: SIP/2.0/TCP 100.91.0.1:5060;branch=z9hG4bK1\r\n')
    h += ''.join('X-Kp-Pad-%05d: %s\r\n' % (i, 'h' * 40) for i in range(size // 56 + 1))
    return h.encode()[:size]


def test_small_segments():
    cases = (
        ('tls-1byte-records', 'TLS handshake as 1-byte records in 1-byte TCP segments', 443,
         lambda n: tls_one_byte_records(n // 6), ('--all',)),
        ('sip-tcp-1byte', 'SIP over TCP: one message of enormous headers in 1-byte segments',
         5060, sip_big_headers, ()),
    )
    for tag, desc, port, make, args in cases:
        runs = {}
        for size in (24000, 48000):
            data = make(size)
            path = pcap_path('%s-%d' % (tag, size))
            write_plain(path, LEGIT + one_flow('100.91.0.1', '198.51.100.99', port, data, 1,
                                               A_FIRST, A_LAST))
            r = run('%s-%d' % (tag, size), path, *args)
            what = '%s, %d bytes' % (desc, len(data))
            sane(r, what)
            legit(r, what)
            cap(r, what, 'quadratic')
            runs[size] = r
        remeasure([runs[24000], runs[48000]])
        for size in (24000, 48000):
            remove(pcap_path('%s-%d' % (tag, size)))
        a, b = runs[24000], runs[48000]
        # subtract the fixed start-up cost (the sample alone) before comparing
        base = BASE_RUN.cpu
        x = ratio(max(a.cpu - base, 0.01), max(b.cpu - base, 0.01))
        known('%s: CPU time x%.2f for x2 the bytes (< 3: linear)' % (desc, x), x < 3,
              'each new in-order byte re-parses the stream from its first byte (quadratic): %.2f s '
              'then %.2f s of CPU' % (a.cpu, b.cpu))


BASE_RUN = None


def main():
    global BASE_RUN
    t0 = time.monotonic()
    print('keyprov %s%s; captures in %s' % (KEYPROV, ' (sanitizers: KP_SLOW=1)' if SLOW else '',
                                            TMP), flush=True)
    try:
        BASE_RUN = test_baseline()
        if BASE_RUN is None:
            return
        for t in (test_syn_flood, test_syn_flood_workers, test_hello_flood, test_tls_segments, test_overlaps,
                  lambda: test_fragments(BASE_RUN), test_quic, test_stun, test_sip,
                  test_small_segments):
            try:
                t()
            except Exception:  # a broken generator or run: report it, go on
                check('%s runs to the end' % getattr(t, '__name__', 'test'), False,
                      traceback.format_exc())
    finally:
        _SPAWNER.stdin.close()
        _SPAWNER.wait()
        if not KEEP:
            shutil.rmtree(TMP, ignore_errors=True)
        total = time.monotonic() - t0
        check('whole run: %.0f s < %d s' % (total, 240 * TIME_SCALE), total < 240 * TIME_SCALE)
        if results['known']:
            print('%d known issues (README.md; KP_HOSTILE_STRICT=1 makes them failures)'
                  % results['known'])
        print('%d passed, %d failed' % (results['passed'], results['failed']), flush=True)


if __name__ == '__main__':
    main()
    sys.exit(1 if results['failed'] else 0)
