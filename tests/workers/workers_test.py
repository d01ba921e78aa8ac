#!/usr/bin/env python3
"""-j N gives what -j 1 gives (issue #6): the same events, in the same order.

For every capture in ../shared/pcaps, both samples, and one merged capture
of all of them (mergecap interleaves ~100 captures' flows by time, so that
every worker holds flows of many sessions at once and idle expiry releases
flows of several workers in one sweep), keyprov runs with -j 1, -j 2 and
-j 3 (--json --flows --all --flag @CN, and once with --mem-limit/--max-flows
left at their defaults): the output must be byte-identical, except the final
stats line's counters that are per worker by nature (mem_peak, the
certificate cache).  The stats that describe the traffic (packets, flows,
handshakes, key records, sessions) must be equal too.

Last, a 32 MiB mix of all of them replicated with distinct addresses by the
benchmark's generator (MKCAP, bench/mkcap.c, templates classed as bench/run
does): ~3,000 concurrent flows, so that one sweep releases thousands and
the workers' records stream out while it runs (a 32 MiB mix is what first
showed the dispatcher's clock going back during such a sweep).

usage: workers_test.py KEYPROV PCAP_DIR MKCAP
"""
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from shared_pcaps import require  # noqa: E402
import tempfile

PER_WORKER = {'mem_peak', 'certs_decoded', 'cert_cache_hits'}


def run(keyprov, path, j):
    cmd = [keyprov, '-j', str(j), '--json', '--flows', '--all', '--flag', '@CN', '-r', path]
    p = subprocess.run(cmd, capture_output=True, timeout=600)
    if p.returncode not in (0, 1):
        return None, None, 'exit %d: %s' % (p.returncode, p.stderr.decode(errors='replace')[:300])
    lines = p.stdout.decode('utf-8', 'strict').splitlines()
    if not lines or '"event_type":"stats"' not in lines[-1]:
        return None, None, 'no stats line at the end'
    stats = json.loads(lines[-1])
    for k in PER_WORKER:
        stats.pop(k, None)
    return lines[:-1], stats, None


def make_mix(tmp, mkcap, pdir, src):
    """The 32 MiB mix, from a manifest written as bench/run writes it."""
    loader = importlib.machinery.SourceFileLoader('bench_run', os.path.join(src, 'bench', 'run'))
    spec = importlib.util.spec_from_loader('bench_run', loader)
    bench = importlib.util.module_from_spec(spec)
    loader.exec_module(bench)
    manifest, _ = bench.write_manifest(tmp, pdir)
    out = os.path.join(tmp, 'mix-32MiB.pcap')
    subprocess.run([mkcap, 'mix', '-o', out, '--manifest', manifest, '--size-mib', '32',
                    '--seed', '6'], check=True, capture_output=True, timeout=300)
    return out


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    keyprov, pdir, mkcap = sys.argv[1], sys.argv[2], sys.argv[3]
    require(pdir, 'workers')
    src = os.environ.get('KP_SRCDIR', os.path.join(os.path.dirname(__file__), '..', '..'))
    caps = sorted(os.path.join(pdir, f) for f in os.listdir(pdir)
                  if f.endswith(('.pcap', '.pcapng')))
    caps += [os.path.join(src, 'samples', f) for f in ('citizenlab-2020.pcap', 'clean-meeting.pcap')]
    tmp = tempfile.mkdtemp(prefix='kp-workers-')
    try:
        merged = os.path.join(tmp, 'merged.pcap')
        mc = shutil.which('mergecap')
        if mc is None:
            print('FAIL mergecap (wireshark-common) is needed for the merged capture')
            return 1
        # libpcap reads a pcapng file only if all its interfaces have one
        # link type and snapshot length: convert the Ethernet captures
        # (capinfos -E says which) to pcap, then merge those
        ci = subprocess.run(['capinfos', '-T', '-E', '-r'] + caps, capture_output=True, check=True)
        ether = []
        for line in ci.stdout.decode().splitlines():
            if line.endswith('\tether'):
                out = os.path.join(tmp, '%d.pcap' % len(ether))
                if subprocess.run(['editcap', '-F', 'pcap', line.split('\t')[0], out],
                                  capture_output=True).returncode == 0:
                    ether.append(out)
        subprocess.run([mc, '-F', 'pcap', '-w', merged] + ether, check=True, capture_output=True)
        caps.append(merged)
        caps.append(make_mix(tmp, mkcap, pdir, src))
        failed = 0
        events = 0
        for c in caps:
            base, bstats, err = run(keyprov, c, 1)
            if err:
                print('FAIL %s -j 1: %s' % (os.path.basename(c), err))
                failed += 1
                continue
            events += len(base)
            for j in (2, 3):
                out, stats, err = run(keyprov, c, j)
                if err:
                    print('FAIL %s -j %d: %s' % (os.path.basename(c), j, err))
                    failed += 1
                    continue
                if out != base:
                    n = next((i for i, (a, b) in enumerate(zip(out, base)) if a != b),
                             min(len(out), len(base)))
                    print('FAIL %s -j %d: %d events, -j 1 %d; first difference at event %d:\n'
                          '  -j 1: %s\n  -j %d: %s' % (
                              os.path.basename(c), j, len(out), len(base), n + 1,
                              base[n][:300] if n < len(base) else '(none)', j,
                              out[n][:300] if n < len(out) else '(none)'))
                    failed += 1
                elif stats != bstats:
                    diff = {k: (bstats.get(k), stats.get(k)) for k in set(bstats) | set(stats)
                            if bstats.get(k) != stats.get(k)}
                    print('FAIL %s -j %d: stats differ (-j 1, -j %d): %s' % (
                        os.path.basename(c), j, j, diff))
                    failed += 1
        print('%d captures (the last two the %d Ethernet ones merged, and a 32 MiB mix), '
              '%d events with -j 1: %d differences' % (len(caps), len(ether), events, failed))
        if events < 1000:
            print('FAIL too few events for the comparison to mean anything')
            return 1
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
