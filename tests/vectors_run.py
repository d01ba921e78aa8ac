#!/usr/bin/env python3
"""Run one test executable with its capture-derived vectors (tls, quic,
dtls, stun, media).

usage: vectors_run.py [--samples VAR2] EXTRACT_PY VAR VECTOR_DIR TEST_EXECUTABLE [ARGS...]

EXTRACT_PY (the test folder's extract.py) cuts the vectors from the
real captures in $KP_SHARED_PCAPS (../shared/pcaps) at test time, into
VECTOR_DIR in the build folder: the captures are never copied into the
project.  They are made once and reused while the captures, tshark,
EXTRACT_PY and the files it reads (its sources()) are unchanged (a stamp
file records what they were made from), under a lock (so tests running in
parallel extract once), and put in place by an atomic rename (so a reader
never sees half of them).

With --samples VAR2 (tests/media), EXTRACT_PY also cuts vectors from the
project's own samples/ ($KP_SRCDIR/samples), without tshark, into
VECTOR_DIR-samples, made the same way (stamp, lock, rename); the executable
finds them through VAR2 (e.g. KP_MEDIA_SAMPLE_VECTORS), always set.  They
are made first, whether or not the captures are there: samples/ is part of
the project, so failing to cut them is an error (exit 1), CI or not.

EXTRACT_PY provides ExtractError, captures() (the file names it reads in
$KP_SHARED_PCAPS), extract_all(PCAP_DIR, OUT_DIR), optionally sources()
(more files whose contents the vectors depend on) and, for --samples,
samples() (the file names it reads in samples/) and
extract_samples(SAMPLES_DIR, OUT_DIR).

The executable finds the vectors through the environment variable VAR (e.g.
KP_DTLS_VECTORS).  When the captures or tshark are missing:
  - with CI set in the environment: one FAIL line, exit 1;
  - otherwise the executable runs with VAR_MISSING set (e.g.
    KP_DTLS_VECTORS_MISSING): it skips (cmocka skip()) the capture-derived
    cases with a "SKIP: ..." line and runs the hand-built / RFC (and
    samples) ones; if they pass the exit status is 77, so meson reports SKIP
    rather than OK for a partial run.
A capture folder that exists but lacks a capture, frame or stream the
vectors need is an error (exit 1) in both cases.
"""
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))

MEANS = 'capture-derived vectors not tested'
USAGE = ('usage: vectors_run.py [--samples VAR2] EXTRACT_PY VAR VECTOR_DIR '
         'TEST_EXECUTABLE [ARGS...]')


def load_extract(path):
    name = 'kp_extract_' + os.path.basename(os.path.dirname(os.path.abspath(path)))
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def missing_reason(pcaps):
    """None if the vectors can be made, else (what is missing, detail)."""
    if not pcaps or not os.path.isdir(pcaps):
        return ('../shared/pcaps missing',
                'KP_SHARED_PCAPS=%s is not a folder' % (pcaps or '(unset)'))
    if shutil.which('tshark') is None:
        return 'tshark missing', 'tshark is not in PATH'
    return None


def digest(path):
    try:
        with open(path, 'rb') as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def file_stamp(path):
    s = os.stat(path)
    return [os.path.realpath(path), s.st_size, s.st_mtime_ns]


def stamp(extract, names, src, tshark):
    """What the vectors are made from: the extractor and the files it reads,
    tshark (if it is used), and each source capture's path, size and
    modification time."""
    caps = {}
    for cap in names:
        try:
            caps[cap] = file_stamp(os.path.join(src, cap))
        except OSError:
            caps[cap] = None
    extra = extract.sources() if hasattr(extract, 'sources') else []
    srcs = {os.path.basename(p): digest(p) for p in [extract.__file__] + extra}
    what = {'sources': srcs, 'captures': caps}
    if tshark:
        what['tshark'] = file_stamp(shutil.which('tshark'))
    return json.dumps(what, sort_keys=True, indent=1) + '\n'


def ensure_vectors(extract, samples, src, vec_dir):
    """Make vec_dir (from the captures, or with samples from samples/)
    unless an up-to-date copy is there.  Raises extract.ExtractError or
    OSError."""
    parent = os.path.dirname(os.path.abspath(vec_dir))
    os.makedirs(parent, exist_ok=True)
    with open(vec_dir + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if samples:
            want = stamp(extract, extract.samples(), src, tshark=False)
        else:
            want = stamp(extract, extract.captures(), src, tshark=True)
        stamp_file = os.path.join(vec_dir, 'STAMP')
        try:
            with open(stamp_file) as f:
                if f.read() == want:
                    return
        except OSError:
            pass
        tmp = vec_dir + '.tmp'
        shutil.rmtree(tmp, ignore_errors=True)
        os.mkdir(tmp)
        try:
            if samples:
                extract.extract_samples(src, tmp)
            else:
                extract.extract_all(src, tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        with open(os.path.join(tmp, 'STAMP'), 'w') as f:
            f.write(want)
        shutil.rmtree(vec_dir, ignore_errors=True)
        os.rename(tmp, vec_dir)


def main():
    args = sys.argv[1:]
    sample_var = None
    if args[:1] == ['--samples']:
        if len(args) < 2:
            sys.exit(USAGE)
        sample_var, args = args[1], args[2:]
    if len(args) < 4:
        sys.exit(USAGE)
    extract_py, var, vec_dir, cmd = args[0], args[1], args[2], args[3:]
    extract = load_extract(extract_py)
    if sample_var is not None and not hasattr(extract, 'extract_samples'):
        sys.exit('vectors_run.py: --samples: %s has no extract_samples()' % extract_py)
    name = os.path.basename(cmd[0])
    pcaps = os.environ.get('KP_SHARED_PCAPS', '')
    env = dict(os.environ)
    for k in (var, var + '_MISSING', sample_var):
        if k is not None:
            env.pop(k, None)
    if sample_var is not None:
        samples = os.path.join(os.environ.get('KP_SRCDIR') or os.path.join(HERE, '..'),
                               'samples')
        sample_dir = vec_dir.rstrip('/') + '-samples'
        try:
            ensure_vectors(extract, True, samples, sample_dir)
        except (extract.ExtractError, OSError) as e:
            print('FAIL: cannot cut the vectors of %s from %s: %s' % (name, samples, e),
                  flush=True)
            return 1
        env[sample_var] = os.path.abspath(sample_dir)
    missing = missing_reason(pcaps)
    if missing is not None:
        what, detail = missing
        if os.environ.get('CI'):
            print('FAIL: %s (%s): %s needs the capture-derived vectors when CI is set'
                  % (what, detail, name), flush=True)
            return 1
        print('SKIP: %s (%s) — %s' % (what, detail, MEANS), flush=True)
        env[var + '_MISSING'] = what
    else:
        try:
            ensure_vectors(extract, False, pcaps, vec_dir)
        except (extract.ExtractError, OSError) as e:
            print('FAIL: cannot cut the vectors of %s from %s: %s' % (name, pcaps, e), flush=True)
            return 1
        env[var] = os.path.abspath(vec_dir)
    rc = subprocess.run(cmd, env=env).returncode
    if rc < 0:
        # Die of the same signal, so that meson reports it.
        signal.signal(-rc, signal.SIG_DFL)
        os.kill(os.getpid(), -rc)
    if rc == 0 and missing is not None:
        return 77
    return rc


if __name__ == '__main__':
    sys.exit(main())
