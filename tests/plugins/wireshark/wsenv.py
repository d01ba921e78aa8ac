"""Run tshark with keyprov's plugin from the build tree (helpers for the tests).

tshark 4.0 loads plugins from $WIRESHARK_PLUGIN_DIR/4.0/epan/, but ignores
that variable (and the personal plugin folder) when run as root; as root
tshark therefore runs as user nobody (setpriv), and everything it reads is
copied into a temporary folder nobody can read.  No extcap discovery
($WIRESHARK_EXTCAP_DIR empty): faster, and extcap tools hang under a
preloaded ASan runtime (sanitizer builds set KP_WS_LD_PRELOAD).
"""
import os
import shutil
import subprocess
import sys
import tempfile


def skip(msg):
    """Exit 77 (skipped), or 1 when $CI is set."""
    if os.environ.get("CI"):
        print(f"FAIL: {msg} (CI is set)")
        sys.exit(1)
    print(f"SKIP: {msg}")
    sys.exit(77)


def find_tshark():
    tshark = shutil.which("tshark")
    if tshark is None:
        skip("tshark is not installed (apt-get install tshark libwireshark-dev)")
    first = subprocess.run([tshark, "-v"], capture_output=True, text=True).stdout.splitlines()
    if not first or "(Wireshark) 4.0." not in first[0]:
        skip(f"the plugin is built for Wireshark 4.0; this tshark is: {first[:1]}")
    if os.environ.get("KP_WS_NO_ASAN_RUNTIME"):
        skip("sanitizer build: " + os.environ["KP_WS_NO_ASAN_RUNTIME"] + " into tshark")
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        skip("running as root without setpriv (util-linux): tshark ignores "
             "WIRESHARK_PLUGIN_DIR as root")
    return tshark


class Tshark:
    """A temporary folder with the plugin, and tshark set up to load it."""

    def __init__(self, plugin, libkeyprov, env=None):
        self.tshark = find_tshark()
        self.tmp = tempfile.mkdtemp(prefix="kp-wireshark-")
        pdir = os.path.join(self.tmp, "plugins", "4.0", "epan")
        ldir = os.path.join(self.tmp, "lib")
        self.home = os.path.join(self.tmp, "home")
        extcap = os.path.join(self.tmp, "extcap")
        for d in (pdir, ldir, self.home, extcap):
            os.makedirs(d)
        shutil.copy(plugin, os.path.join(pdir, "keyprov.so"))
        shutil.copy(libkeyprov, os.path.join(ldir, "libkeyprov.so.0"))
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.home,
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "WIRESHARK_PLUGIN_DIR": os.path.join(self.tmp, "plugins"),
            "WIRESHARK_EXTCAP_DIR": extcap,
            "LD_LIBRARY_PATH": ldir,
            "LC_ALL": "C",
        }
        self.env.update(env or {})
        for var in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if os.environ.get("KP_WS_" + var):
                self.env[var] = os.environ["KP_WS_" + var]
        self.prefix = []
        if os.geteuid() == 0:
            self.prefix = [shutil.which("setpriv"), "--reuid=65534", "--regid=65534",
                           "--clear-groups"]

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def copy_in(self, src, *dest):
        """Copy a file into the folder; returns its new path."""
        d = self.path(*dest)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.copy(src, d)
        return d

    def seal(self):
        """Make the folder readable by tshark's user (call after copying in)."""
        os.chmod(self.tmp, 0o755)
        for root, dirs, files in os.walk(self.tmp):
            for n in dirs:
                os.chmod(os.path.join(root, n), 0o755)
            for n in files:
                os.chmod(os.path.join(root, n), 0o644)
        os.chmod(self.home, 0o777)  # tshark may write its profile there

    def run(self, *args, stdin=None, timeout=300):
        r = subprocess.run(self.prefix + [self.tshark] + list(args), env=self.env,
                           capture_output=True, text=True, stdin=stdin, timeout=timeout)
        if r.returncode != 0:
            print(f"tshark {' '.join(args)}: exit {r.returncode}\n{r.stderr}")
        return r

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def session_tuples(sessions):
    """(proto, client ip, client port, server ip, server port) -> session, from
    keyprov's session events."""
    out = {}
    for s in sessions:
        for f in s["flows"]:
            host, port = f["server"].rsplit(":", 1)
            out[(f["proto"], s["client"]["ip"], f["client_port"], host.strip("[]"),
                 int(port))] = s
    return out


FLOW_FIELDS = ["frame.number", "frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
               "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport"]


def frame_tuples(lines, extra=0):
    """Parse `-T fields -E occurrence=l` output of FLOW_FIELDS (+ extra fields):
    yields (frame number, (proto, src, sport, dst, dport) or None, extras)."""
    for ln in lines:
        c = (ln.split("\t") + [""] * (10 + extra))[:10 + extra]
        num, protos = int(c[0]), c[1].split(":")
        src, dst = c[2] or c[4], c[3] or c[5]
        t = None
        # ICMP errors quote a UDP/TCP header: not a packet of that flow
        if "icmp" not in protos and "icmpv6" not in protos and src and dst:
            if c[6]:
                t = ("tcp", src, int(c[6]), dst, int(c[7]))
            elif c[8]:
                t = ("udp", src, int(c[8]), dst, int(c[9]))
        yield num, t, c[10:]


def lookup(tuples, t):
    """The value for a flow tuple in either direction, or None."""
    if t is None:
        return None
    return tuples.get(t) or tuples.get((t[0], t[3], t[4], t[1], t[2]))
