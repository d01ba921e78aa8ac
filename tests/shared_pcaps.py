"""What a test does when ../shared/pcaps is missing: it says so in one line,
and fails under CI (CI has the folder), or skips (exit 77) elsewhere."""
import os
import sys


def require(d, test):
    if os.path.isdir(d):
        return
    msg = ('%s: %s is missing: the test needs ../shared/pcaps beside the source tree '
           '(or -Dshared_pcaps=DIR)' % (test, d))
    if os.environ.get('CI'):
        print('FAIL ' + msg)
        sys.exit(1)
    print('SKIP ' + msg)
    sys.exit(77)
