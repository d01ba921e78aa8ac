#!/usr/bin/env python3
"""Mutation test: every capture in ../shared/pcaps, mutated (seeded bit
flips, byte overwrites, truncations, length-field smashes), through keyprov.
No crash, no hang, no sanitizer report; every run ends with a report
(exit 0 or 1, valid JSON) or a one-line error (exit 2).

Time-bounded: variants are made round-robin over the captures until the
budget (KP_MUTATION_SECONDS, default 90 s) is spent, at least one per
capture.  usage: mutation_test.py KEYPROV PCAP_DIR
"""
import json
import os
import random
import subprocess
import sys
import tempfile
import time

KEYPROV, PCAPS = sys.argv[1], sys.argv[2]
BUDGET = float(os.environ.get('KP_MUTATION_SECONDS', '90'))
HANG = 30.0


def packet_ranges(data):
    """(start, end) of each packet's bytes in a classic pcap; [] otherwise."""
    import struct
    if len(data) < 24 or data[:4] not in (b'\xd4\xc3\xb2\xa1', b'\xa1\xb2\xc3\xd4',
                                          b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d'):
        return []
    e = '<' if data[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + 'I', data[off + 8:off + 12])[0]
        if off + 16 + incl > len(data):
            break
        if incl > 0:
            out.append((off + 16, off + 16 + incl))
        off += 16 + incl
    return out


def pick(rng, b, ranges, lo):
    """An offset to mutate: inside a packet 90 % of the time (so the frame
    structure survives and the bytes reach the parsers), anywhere else."""
    if ranges and rng.random() < 0.9:
        s, e = ranges[rng.randrange(len(ranges))]
        return rng.randrange(s, e)
    return rng.randrange(lo, len(b))


def mutate(data, rng, ranges):
    b = bytearray(data)
    kind = rng.randrange(5)
    # keep the file header intact most of the time, so packets get parsed
    lo = 24 if rng.random() < 0.9 and len(b) > 64 else 0
    if kind == 0:  # bit flips, ratio 0.1 %-2 %
        n = max(1, int(len(b) * rng.uniform(0.001, 0.02)))
        for _ in range(n):
            i = pick(rng, b, ranges, lo)
            b[i] ^= 1 << rng.randrange(8)
    elif kind == 1:  # random bytes overwritten
        for _ in range(rng.randrange(1, 200)):
            i = pick(rng, b, ranges, lo)
            b[i] = rng.randrange(256)
    elif kind == 2:  # 16-bit fields set to extremes (lengths, ports, counts)
        for _ in range(rng.randrange(1, 100)):
            i = min(pick(rng, b, ranges, lo), len(b) - 2)
            b[i:i + 2] = rng.choice([b'\xff\xff', b'\x00\x00', b'\x00\x01', b'\x7f\xff'])
    elif kind == 3:  # truncation: mostly inside the last packet's bytes, sometimes anywhere
        del b[pick(rng, b, ranges[-1:], lo):]
    else:  # a block of one packet copied over another's bytes (same length)
        i = pick(rng, b, ranges, lo)
        j = pick(rng, b, ranges, lo)
        n = min(rng.randrange(1, 400), len(b) - max(i, j))
        b[j:j + n] = b[i:i + n]
    return bytes(b)


def main():
    if not os.path.isdir(PCAPS):
        msg = 'mutation: %s is missing (../shared/pcaps beside the source tree)' % PCAPS
        if os.environ.get('CI'):
            print('FAIL ' + msg)
            return 1
        print('SKIP ' + msg)
        return 77
    caps = sorted(f for f in os.listdir(PCAPS) if f.endswith(('.pcap', '.pcapng')))
    datas = [open(os.path.join(PCAPS, c), 'rb').read() for c in caps]
    ranges = [packet_ranges(d) for d in datas]
    rng = random.Random(20261127)
    start = time.monotonic()
    runs = fails = 0
    rcs = {0: 0, 1: 0, 2: 0}
    with tempfile.TemporaryDirectory(prefix='kp-mut-') as tmp:
        path = os.path.join(tmp, 'm.pcap')
        i = 0
        while i < len(caps) or time.monotonic() - start < BUDGET:
            k = i % len(caps)
            i += 1
            m = mutate(datas[k], rng, ranges[k])
            with open(path, 'wb') as f:
                f.write(m)
            runs += 1
            try:
                p = subprocess.run([KEYPROV, '--json', '--all', '--no-geo', '-r', path],
                                   capture_output=True, timeout=HANG)
            except subprocess.TimeoutExpired:
                keep = os.path.join(os.environ.get('KP_BUILDDIR', tmp), 'mutation-hang-%s' % caps[k])
                open(keep, 'wb').write(m)
                print('FAIL %s variant %d: hang (> %.0f s), kept as %s' % (caps[k], i, HANG, keep))
                fails += 1
                continue
            err = p.stderr.decode('utf-8', 'replace')
            bad = None
            if p.returncode not in (0, 1, 2):
                bad = 'exit status %d' % p.returncode
            elif 'ERROR: AddressSanitizer' in err or 'runtime error:' in err:
                bad = 'sanitizer report: ' + err.strip().splitlines()[0]
            else:
                try:
                    for line in p.stdout.decode('utf-8').splitlines():
                        json.loads(line)
                except ValueError as e:
                    bad = 'invalid JSON output: %s' % e
                if p.returncode == 2 and len([l for l in err.splitlines() if l.startswith('keyprov:')]) != 1:
                    bad = 'exit 2 without exactly one error line: %r' % err[:300]
            if bad:
                keep = os.path.join(os.environ.get('KP_BUILDDIR', tmp), 'mutation-fail-%d-%s' % (i, caps[k]))
                open(keep, 'wb').write(m)
                print('FAIL %s variant %d: %s (kept as %s)' % (caps[k], i, bad, keep))
                fails += 1
            else:
                rcs[p.returncode] += 1
    print('mutation: %d variants of %d captures in %.0f s: %d reports (exit 0), %d flagged (exit 1), '
          '%d clean errors (exit 2), %d failures'
          % (runs, len(caps), time.monotonic() - start, rcs[0], rcs[1], rcs[2], fails))
    print('%d passed, %d failed' % (runs - fails, fails))
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
