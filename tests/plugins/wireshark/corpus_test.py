#!/usr/bin/env python3
"""keyprov's Wireshark plugin agrees with the keyprov command on real captures.

usage: corpus_test.py PLUGIN.so LIBKEYPROV.so KEYPROV PCAP_DIR

For every capture in PCAP_DIR (../shared/pcaps), with the default
geolocation databases and --flag @CN on both sides:
  - every packet of a flow that a session event of `keyprov --json` lists
    carries that session's number and verdict in tshark, and keyprov.flagged
    exactly when the verdict is violation;
  - every other packet the plugin marks belongs to a session whose event
    lists only part of its flows (sessions list 16; the plugin also places
    the key records and media flows beyond those).
Packets quoted inside ICMP errors are not packets of a flow, for either.

Skips (77) when the folder or tshark 4.0 is missing, unless $CI is set.
"""
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsenv  # noqa: E402


def main():
    plugin, libkeyprov, keyprov, pcaps = sys.argv[1:5]
    if not os.path.isdir(pcaps):
        wsenv.skip(f"no capture corpus at {pcaps} (meson option shared_pcaps)")
    files = sorted(f for f in os.listdir(pcaps) if f.endswith((".pcap", ".pcapng")))
    if not files:
        wsenv.skip(f"no .pcap or .pcapng files in {pcaps}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYPROV_GEO_")}
    ts = wsenv.Tshark(plugin, libkeyprov)
    for k in ("KEYPROV_GEODATA",):
        if k in env:
            ts.env[k] = env[k]
    fails = 0
    totals = [0, 0, 0]
    try:
        for name in files:
            ts.copy_in(os.path.join(pcaps, name), "pcaps", name)
        ts.seal()
        for name in files:
            path = ts.path("pcaps", name)
            r = subprocess.run([keyprov, "-r", path, "--flag", "@CN", "--json"],
                               capture_output=True, text=True, env=env)
            sessions = [e for e in (json.loads(ln) for ln in r.stdout.splitlines()
                                    if ln.startswith("{"))
                        if e["event_type"] == "session"]
            by_id = {s["session_id"]: s for s in sessions}
            listed = {}
            for s in sessions:
                for t in wsenv.session_tuples([s]):
                    listed.setdefault(t, []).append(s)
            r = ts.run("-r", path, "-o", "keyprov.flag:@CN", "-T", "fields",
                       "-E", "occurrence=l",
                       *[a for f in wsenv.FLOW_FIELDS for a in ("-e", f)],
                       "-e", "keyprov.session", "-e", "keyprov.verdict", "-e", "keyprov.flagged")
            problems = []
            if r.returncode != 0:
                problems.append(f"tshark exit {r.returncode}: {r.stderr.strip()[:200]}")
            for num, t, (sid, verdict, flagged) in wsenv.frame_tuples(r.stdout.splitlines(), 3):
                cands = wsenv.lookup(listed, t) or []
                if cands:
                    totals[0] += 1
                    ok = any(str(s["session_id"]) == sid and s["verdict"] == verdict
                             and bool(flagged) == (s["verdict"] == "violation") for s in cands)
                    if not ok:
                        problems.append(f"frame {num} {t}: plugin session={sid!r} "
                                        f"verdict={verdict!r} flagged={flagged!r}, keyprov "
                                        f"session {[s['session_id'] for s in cands]} "
                                        f"{[s['verdict'] for s in cands]}")
                elif sid or verdict or flagged:
                    totals[1] += 1
                    s = by_id.get(int(sid)) if sid.isdigit() else None
                    if s is None or s["flows_total"] <= len(s["flows"]):
                        problems.append(f"frame {num} {t}: marked (session {sid!r}) but in no "
                                        f"flow of a keyprov session")
                totals[2] += 1 if flagged else 0
            if problems:
                fails += 1
                print(f"FAIL {name}: {len(problems)} problem(s)")
                for p in problems[:5]:
                    print(f"     {p}")
            else:
                print(f"ok   {name}: {len(sessions)} session(s)")
    finally:
        ts.close()
    print(f"{len(files)} captures: {totals[0]} packets in listed flows agree, {totals[1]} "
          f"more in flows beyond a session's list, {totals[2]} flagged; {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
