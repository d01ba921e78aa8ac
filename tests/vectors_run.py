#!/usr/bin/env python3
"""Run one test executable with its capture-derived vectors (tls, quic,
dtls, stun).

usage: vectors_run.py EXTRACT_PY VAR VECTOR_DIR TEST_EXECUTABLE [ARGS...]

EXTRACT_PY (the test folder's extract.py) cuts the vectors from the
real captures in $KP_SHARED_PCAPS (../shared/pcaps) at test time, into
VECTOR_DIR in the build folder: the captures are never copied into the
project.  They are made once and reused while the captures, tshark,
EXTRACT_PY and the files it reads (its sources()) are unchanged (a stamp
file records what they were made from), under a lock, and put in place by
an atomic rename.

The executable finds the vectors through the environment variable VAR (e.g.
KP_DTLS_VECTORS).  When the captures or tshark are missing:
  - with CI set in the environment: one FAIL line, exit 1;
  - otherwise the executable runs with VAR_MISSING set (e.g.
    KP_DTLS_VECTORS_MISSING): it skips (cmocka skip()) the capture-derived
    cases with a "SKIP: ..." line and runs the hand-built / RFC ones; if they
    pass the exit status is 77, so meson reports SKIP rather than OK for a
    partial run.
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

MEANS = 'capture-derived vectors not tested'


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


def stamp(extract, pcaps):
    """What the vectors are made from: the extractor and the files it reads,
    tshark, and each capture's path, size and modification time."""
    tshark = shutil.which('tshark')
    st = os.stat(tshark)
    caps = {}
    for cap in extract.captures():
        p = os.path.join(pcaps, cap)
        try:
            s = os.stat(p)
            caps[cap] = [os.path.realpath(p), s.st_size, s.st_mtime_ns]
        except OSError:
            caps[cap] = None
    extra = extract.sources() if hasattr(extract, 'sources') else []
    srcs = {os.path.basename(p): digest(p) for p in [extract.__file__] + extra}
    return json.dumps({'sources': srcs, 'tshark': [os.path.realpath(tshark), st.st_size,
                                                    st.st_mtime_ns], 'captures': caps},
                      sort_keys=True, indent=1) + '\n'


def ensure_vectors(extract, pcaps, vec_dir):
    """Make vec_dir unless an up-to-date copy is there.  Raises
    extract.ExtractError or OSError."""
    parent = os.path.dirname(os.path.abspath(vec_dir))
    os.makedirs(parent, exist_ok=True)
    with open(vec_dir + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        want = stamp(extract, pcaps)
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
            extract.extract_all(pcaps, tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        with open(os.path.join(tmp, 'STAMP'), 'w') as f:
            f.write(want)
        shutil.rmtree(vec_dir, ignore_errors=True)
        os.rename(tmp, vec_dir)


def main():
    if len(sys.argv) < 5:
        sys.exit('usage: run_test.py EXTRACT_PY VAR VECTOR_DIR TEST_EXECUTABLE [ARGS...]')
    extract_py, var, vec_dir, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    extract = load_extract(extract_py)
    name = os.path.basename(cmd[0])
    pcaps = os.environ.get('KP_SHARED_PCAPS', '')
    env = dict(os.environ)
    env.pop(var, None)
    env.pop(var + '_MISSING', None)
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
            ensure_vectors(extract, pcaps, vec_dir)
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
