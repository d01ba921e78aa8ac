#!/usr/bin/env python3
"""Run the quic test executable with its capture-derived vectors.

usage: run_test.py VECTOR_DIR TEST_EXECUTABLE [ARGS...]

The vectors are cut from the real captures in $KP_SHARED_PCAPS
(../shared/pcaps) by extract.py at test time, into VECTOR_DIR in the build
folder: the captures are never copied into the project.  They are made once
and reused while the captures, tshark and extract.py are unchanged (a stamp
file records what they were made from); they are made under a lock, so runs
in parallel on one build folder extract once.  (The RFC 9001 / RFC 9369
vectors are in tests/quic/data/ and need none of this.)

This is tests/tls/run_test.py with QUIC names; keep the two alike.

The executable finds the vectors through KP_QUIC_VECTORS.  When the captures
or tshark are missing:
  - with CI set in the environment: one FAIL line, exit 1;
  - otherwise the executable runs with KP_QUIC_VECTORS_MISSING set: it skips
    (cmocka skip()) the capture-derived cases with a "SKIP: ..." line and runs
    the RFC / hand-built ones; if they pass the exit status is 77, so
    meson reports SKIP rather than OK for a partial run.
A capture folder that exists but lacks a capture or a frame the vectors
need (or a payload of another size) is an error (exit 1) in both cases.
"""
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import extract  # noqa: E402

MEANS = 'capture-derived vectors not tested'


def missing_reason(pcaps):
    """None if the vectors can be made, else (what is missing, detail)."""
    if not pcaps or not os.path.isdir(pcaps):
        return ('../shared/pcaps missing',
                'KP_SHARED_PCAPS=%s is not a folder' % (pcaps or '(unset)'))
    if shutil.which('tshark') is None:
        return 'tshark missing', 'tshark is not in PATH'
    return None


def stamp(pcaps):
    """What the vectors are made from: extract.py, tshark, and each capture's
    path, size and modification time."""
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
    with open(extract.__file__, 'rb') as f:
        src = hashlib.sha256(f.read()).hexdigest()
    return json.dumps({'extract.py': src, 'tshark': [os.path.realpath(tshark), st.st_size,
                                                      st.st_mtime_ns], 'captures': caps},
                      sort_keys=True, indent=1) + '\n'


def ensure_vectors(pcaps, vec_dir):
    """Make vec_dir unless an up-to-date copy is there.  Raises
    extract.ExtractError or OSError."""
    parent = os.path.dirname(os.path.abspath(vec_dir))
    os.makedirs(parent, exist_ok=True)
    with open(vec_dir + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        want = stamp(pcaps)
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
    if len(sys.argv) < 3:
        sys.exit('usage: run_test.py VECTOR_DIR TEST_EXECUTABLE [ARGS...]')
    vec_dir, cmd = sys.argv[1], sys.argv[2:]
    name = os.path.basename(cmd[0])
    pcaps = os.environ.get('KP_SHARED_PCAPS', '')
    env = dict(os.environ)
    env.pop('KP_QUIC_VECTORS', None)
    env.pop('KP_QUIC_VECTORS_MISSING', None)
    missing = missing_reason(pcaps)
    if missing is not None:
        what, detail = missing
        if os.environ.get('CI'):
            print('FAIL: %s (%s): %s needs the capture-derived vectors when CI is set'
                  % (what, detail, name), flush=True)
            return 1
        print('SKIP: %s (%s) — %s' % (what, detail, MEANS), flush=True)
        env['KP_QUIC_VECTORS_MISSING'] = what
    else:
        try:
            ensure_vectors(pcaps, vec_dir)
        except (extract.ExtractError, OSError) as e:
            print('FAIL: cannot cut the QUIC vectors from %s: %s' % (pcaps, e), flush=True)
            return 1
        env['KP_QUIC_VECTORS'] = os.path.abspath(vec_dir)
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
