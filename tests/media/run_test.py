#!/usr/bin/env python3
"""Run one rtp/zoom/sip/zrtp test executable with its vectors.

usage: run_test.py VECTOR_DIR TEST_EXECUTABLE [ARGS...]

The vectors are cut by extract.py at test time into the build folder: the
captures are never copied into the project.
  - VECTOR_DIR: from the real captures in $KP_SHARED_PCAPS (../shared/pcaps),
    with tshark;
  - VECTOR_DIR-samples: from the project's own samples/ (no tshark needed).
Each folder is made once and reused while what it is made from (extract.py,
tshark, each capture) is unchanged (a stamp file records it); it is made
under a lock, so the four tests running in parallel extract once, and moved
into place by a rename, so a reader never sees half of it.  The expected
values are in tests/media/expected/ and need none of this.

This is tests/quic/run_test.py with media names, plus the samples folder;
keep them alike.

The executable finds the vectors through KP_MEDIA_VECTORS and
KP_MEDIA_SAMPLE_VECTORS.  When the captures or tshark are missing:
  - with CI set in the environment: one FAIL line, exit 1;
  - otherwise the executable runs with KP_MEDIA_VECTORS_MISSING set: it
    skips (cmocka skip()) the capture-derived cases with a "SKIP: ..." line
    and runs the hand-built and samples ones; if they pass the exit status
    is 77, so meson reports SKIP rather than OK for a partial run.
A capture folder that exists but lacks a capture, a frame or a message the
vectors need (or one of another size) is an error (exit 1) in both cases.
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
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
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


def file_stamp(path):
    s = os.stat(path)
    return [os.path.realpath(path), s.st_size, s.st_mtime_ns]


def stamp(group, src):
    """What one group's vectors are made from: extract.py, tshark (captures
    only), and each source capture's path, size and modification time."""
    caps = {}
    for cap in extract.sources(group):
        try:
            caps[cap] = file_stamp(os.path.join(src, cap))
        except OSError:
            caps[cap] = None
    with open(extract.__file__, 'rb') as f:
        what = {'extract.py': hashlib.sha256(f.read()).hexdigest(), 'captures': caps}
    if group == 'captures':
        what['tshark'] = file_stamp(shutil.which('tshark'))
    return json.dumps(what, sort_keys=True, indent=1) + '\n'


def ensure_vectors(group, src, vec_dir):
    """Make vec_dir unless an up-to-date copy is there.  Raises
    extract.ExtractError or OSError."""
    parent = os.path.dirname(os.path.abspath(vec_dir))
    os.makedirs(parent, exist_ok=True)
    with open(vec_dir + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        want = stamp(group, src)
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
            extract.extract_all(group, src, tmp)
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
    sample_dir = vec_dir.rstrip('/') + '-samples'
    name = os.path.basename(cmd[0])
    pcaps = os.environ.get('KP_SHARED_PCAPS', '')
    samples = os.path.join(os.environ.get('KP_SRCDIR') or os.path.join(HERE, '..', '..'),
                           'samples')
    env = dict(os.environ)
    for k in ('KP_MEDIA_VECTORS', 'KP_MEDIA_VECTORS_MISSING', 'KP_MEDIA_SAMPLE_VECTORS'):
        env.pop(k, None)
    try:
        ensure_vectors('samples', samples, sample_dir)
    except (extract.ExtractError, OSError) as e:
        print('FAIL: cannot cut the media vectors from %s: %s' % (samples, e), flush=True)
        return 1
    env['KP_MEDIA_SAMPLE_VECTORS'] = os.path.abspath(sample_dir)
    missing = missing_reason(pcaps)
    if missing is not None:
        what, detail = missing
        if os.environ.get('CI'):
            print('FAIL: %s (%s): %s needs the capture-derived vectors when CI is set'
                  % (what, detail, name), flush=True)
            return 1
        print('SKIP: %s (%s) — %s' % (what, detail, MEANS), flush=True)
        env['KP_MEDIA_VECTORS_MISSING'] = what
    else:
        try:
            ensure_vectors('captures', pcaps, vec_dir)
        except (extract.ExtractError, OSError) as e:
            print('FAIL: cannot cut the media vectors from %s: %s' % (pcaps, e), flush=True)
            return 1
        env['KP_MEDIA_VECTORS'] = os.path.abspath(vec_dir)
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
