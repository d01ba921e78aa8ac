#!/usr/bin/env python3
"""keyprov's Suricata plugin inside the real Suricata 7.0.

usage: suricata_plugin_test.py PLUGIN.so KP_MKMMDB KEYPROV

Runs `suricata -r` with the plugin loaded, a minimal suricata.yaml (no
rules, runmode single) and small geolocation fixtures built here with
kp-mkmmdb, then reads eve.json with Python's json:

 1. samples/citizenlab-2020.pcap, `flag: "@CN"` in the eve-log type's own
    settings: an alert with signature_id 9810001 and a keyprov key record for
    the issuer 52.81.151.250 (CN, flagged); the unflagged Zoom record; both
    carry Suricata's own flow_id and the community_id of Suricata's flow
    record for the same flow.
 2. ../shared/pcaps/meet_stun_dtls_srtp_ndpi.pcapng, settings from the
    top-level `keyprov:` section via --set: a keyprov record with mechanism
    dtls-srtp and issuer 142.250.82.76:19305 (UDP traffic Suricata itself
    does not parse).
 In both, the keyprov objects in eve.json are exactly the events
 `keyprov --json` writes for the same capture and settings (the same
 analysis), and each line carries Suricata's flow_id and community_id for
 its flow.  3. A bad setting stops Suricata at start-up with keyprov's
 message.

Exit 77 (skip) with the reason when the plugin was not built, suricata is
missing or the capture folder is absent; when the environment has CI set,
those are failures (exit 1).  Any wrong record is a failure.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

FAILURES = []


def skip(reason):
    if os.environ.get("CI"):
        print(f"FAIL: {reason} (CI is set: the Suricata plugin must be tested)")
        sys.exit(1)
    print(f"SKIP: {reason}")
    sys.exit(77)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)
    return cond


def sanitizer_env(env):
    """A plugin built with -Db_sanitize=address/undefined runs inside an
    uninstrumented suricata only with the sanitizer runtimes preloaded."""
    san = os.environ.get("KP_SC_SANITIZE", "none")
    if san in ("", "none"):
        return env
    cc = os.environ.get("KP_SC_CC", "cc")
    libs = []
    for part, lib in (("address", "libasan.so"), ("undefined", "libubsan.so")):
        if part in san:
            path = subprocess.run([cc, f"-print-file-name={lib}"], capture_output=True,
                                  text=True).stdout.strip()
            if not os.path.isabs(path):
                skip(f"{cc} has no {lib} to preload into suricata for the {san} build")
            libs.append(path)
    env["LD_PRELOAD"] = ":".join(libs)
    # checked: Suricata 7.0.10 itself leaks nothing on these runs, so leaks
    # are the plugin's (flow states handed between threads)
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1:verify_asan_link_order=0"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


YAML = """%YAML 1.1
---
plugins:
  - {plugin}
default-log-dir: {logdir}
logging:
  default-log-level: info
  outputs:
    - console:
        enabled: yes
unix-command:
  enabled: no
stats:
  enabled: no
outputs:
  - eve-log:
      enabled: yes
      filetype: regular
      filename: eve.json
      community-id: yes
      types:
        - alert
        - flow
        - keyprov{keyprov}
"""


def run_suricata(suricata, plugin, pcap, tmp, name, keyprov_settings, extra_args,
                 expect_ok=True):
    logdir = os.path.join(tmp, name)
    os.mkdir(logdir)
    conf = os.path.join(logdir, "suricata.yaml")
    with open(conf, "w") as f:
        f.write(YAML.format(plugin=plugin, logdir=logdir, keyprov=keyprov_settings))
    cmd = [suricata, "-c", conf, "-r", pcap, "-l", logdir, "--runmode", "single", "-k", "none",
           "-S", "/dev/null", "-v"] + extra_args
    env = sanitizer_env(dict(os.environ))
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=100)
    secs = time.monotonic() - t0
    print(f"---- {' '.join(cmd)}  ({secs:.2f} s, exit {proc.returncode})")
    for line in (proc.stdout + proc.stderr).splitlines():
        if "keyprov" in line or "rror" in line or "arning" in line:
            print("  | " + line)
    if not expect_ok:
        return proc
    check(proc.returncode == 0, f"{name}: suricata exits 0")
    eve = os.path.join(logdir, "eve.json")
    lines = []
    if check(os.path.isfile(eve), f"{name}: eve.json written"):
        with open(eve, encoding="utf-8") as f:
            for n, text in enumerate(f, 1):
                try:
                    lines.append(json.loads(text))
                except ValueError as e:
                    check(False, f"{name}: eve.json line {n} is JSON ({e})")
    return lines, secs


def flow_records(lines):
    return [r for r in lines if r.get("event_type") == "flow"]


def suricata_flow_of(lines, rec):
    """Suricata's own flow record for the 5-tuple of rec (either direction)."""
    a = (rec.get("src_ip"), rec.get("src_port"))
    b = (rec.get("dest_ip"), rec.get("dest_port"))
    for f in flow_records(lines):
        fa = (f.get("src_ip"), f.get("src_port"))
        fb = (f.get("dest_ip"), f.get("dest_port"))
        if f.get("proto") == rec.get("proto") and {fa, fb} == {a, b}:
            return f
    return None


def canonical(obj):
    """A keyprov event as comparable text; a session's flows and key
    holders are sets (the order flows end in differs between hosts)."""
    if obj.get("event_type") == "session":
        obj = dict(obj)
        for k in ("flows", "key_holders"):
            if isinstance(obj.get(k), list):
                obj[k] = sorted(json.dumps(x, sort_keys=True) for x in obj[k])
    return json.dumps(obj, sort_keys=True)


def check_same_as_cli(name, keyprov, args, pcap, lines):
    proc = subprocess.run([keyprov, "--json"] + args + ["-r", pcap], capture_output=True,
                          text=True)
    want = sorted(canonical(json.loads(x)) for x in proc.stdout.splitlines()
                  if json.loads(x).get("event_type") != "stats")
    got = sorted(canonical(r["keyprov"]) for r in lines
                 if r.get("event_type") in ("keyprov", "anomaly") and "keyprov" in r)
    if not check(got == want and len(want) > 0,
                 f"{name}: the {len(got)} keyprov objects are the {len(want)} events of "
                 f"keyprov --json {' '.join(args)}"):
        for x in sorted(set(want) - set(got)):
            print("     only keyprov --json: " + x[:300])
        for x in sorted(set(got) - set(want)):
            print("     only in eve.json:    " + x[:300])


def check_common(name, rec, lines):
    ts = rec.get("timestamp", "")
    check(isinstance(ts, str) and len(ts) >= 26 and ts[10] == "T" and ts[19] == "." and
          ts[-5] in "+-", f"{name}: Suricata's timestamp form ({ts})")
    check(isinstance(rec.get("keyprov"), dict), f"{name}: a keyprov object")
    flow = suricata_flow_of(lines, rec)
    if check(flow is not None, f"{name}: Suricata has a flow record for the same flow"):
        check(rec.get("community_id") == flow.get("community_id"),
              f"{name}: community_id {rec.get('community_id')} is Suricata's "
              f"{flow.get('community_id')}")
        check(rec.get("flow_id") == flow.get("flow_id"),
              f"{name}: flow_id {rec.get('flow_id')} is Suricata's {flow.get('flow_id')}")


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    plugin, mkmmdb, keyprov = sys.argv[1], sys.argv[2], sys.argv[3]
    if not plugin:
        skip("the Suricata plugin was not built: "
             + (os.environ.get("KP_SC_WHY_NOT_BUILT") or "unknown reason"))
    suricata = shutil.which("suricata")
    if suricata is None:
        skip("suricata is not installed (apt-get install -t bookworm-backports suricata)")
    src = os.environ.get("KP_SRCDIR", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    here = os.path.join(src, "tests", "plugins", "suricata")
    sample = os.path.join(src, "samples", "citizenlab-2020.pcap")
    pcaps = os.environ.get("KP_SHARED_PCAPS", os.path.join(src, "..", "shared", "pcaps"))
    meet = os.path.join(pcaps, "meet_stun_dtls_srtp_ndpi.pcapng")

    with tempfile.TemporaryDirectory(prefix="kp-suricata-") as tmp:
        country = os.path.join(tmp, "country.mmdb")
        asn = os.path.join(tmp, "asn.mmdb")
        for spec, out in (("country.spec", country), ("asn.spec", asn)):
            subprocess.run([mkmmdb, "--spec", os.path.join(here, spec), "-o", out,
                            "--build-epoch", "1781654400"], check=True)

        # 1. the 2020 sample, settings in the eve-log type's own mapping
        settings = (f':\n            flag: "@CN"\n            geo-country: {country}\n'
                    f"            geo-asn: {asn}\n")
        lines, secs1 = run_suricata(suricata, plugin, sample, tmp, "citizenlab", settings, [])
        keys = [r for r in lines if r.get("event_type") == "keyprov"
                and r["keyprov"].get("event_type") == "key"]
        cn = [r for r in keys if r["keyprov"].get("issuer", {}).get("ip") == "52.81.151.250"]
        if check(len(cn) == 1, "citizenlab: one keyprov key record for issuer 52.81.151.250"):
            r, k = cn[0], cn[0]["keyprov"]
            check(k["issuer"].get("country") == "CN", "citizenlab: issuer country CN")
            check(k["issuer"].get("asn") == 55960, "citizenlab: issuer AS55960")
            check(k.get("flagged") is True, "citizenlab: flagged")
            check(k.get("reason") == "issuer country CN is in flagged group @CN",
                  f"citizenlab: reason ({k.get('reason')})")
            check(r.get("src_ip") == "142.150.190.10" and r.get("dest_ip") == "52.81.151.250"
                  and r.get("dest_port") == 443 and r.get("proto") == "TCP",
                  "citizenlab: client -> issuer as src -> dest, TCP")
            check(r.get("app_proto") == "tls" and r.get("tls", {}).get("sni") == "zc01.zoom.us",
                  "citizenlab: app_proto tls, tls.sni zc01.zoom.us")
            check_common("citizenlab record", r, lines)
        alerts = [r for r in lines if r.get("event_type") == "alert"
                  and r.get("alert", {}).get("signature_id") == 9810001]
        if check(len(alerts) == 1, "citizenlab: one alert with signature_id 9810001"):
            a = alerts[0]
            check(a["alert"].get("signature") ==
                  "KEYPROV key issued in flagged jurisdiction CN (zoom, tls-control-channel)",
                  f"citizenlab: alert signature ({a['alert'].get('signature')})")
            check(a["alert"].get("gid") == 1 and a["alert"].get("rev") == 1
                  and a["alert"].get("severity") == 2 and a["alert"].get("action") == "allowed"
                  and a["alert"].get("category") == "Potential Corporate Privacy Violation",
                  "citizenlab: alert gid/rev/severity/action/category")
            check(a["keyprov"].get("issuer", {}).get("ip") == "52.81.151.250",
                  "citizenlab: the alert carries the key record")
            check(a.get("direction") == "to_server", "citizenlab: alert direction to_server")
            check_common("citizenlab alert", a, lines)
        ok = [r for r in keys if r["keyprov"].get("issuer", {}).get("ip") == "170.114.128.20"]
        check(len(ok) == 1 and ok[0]["keyprov"].get("flagged") is False
              and ok[0]["keyprov"]["issuer"].get("country") == "US",
              "citizenlab: the US Zoom record is there, not flagged")
        check(len([r for r in lines if r.get("event_type") == "alert"]) == 1,
              "citizenlab: no other alert")
        geo_args = ["--geo-country", country, "--geo-asn", asn]
        check_same_as_cli("citizenlab", keyprov, ["--flag", "@CN"] + geo_args, sample, lines)
        for r in lines:
            if r.get("event_type") in ("keyprov", "alert") and "dest_ip" in r:
                flow = suricata_flow_of(lines, r)
                if not (flow and r.get("flow_id") == flow.get("flow_id")):
                    check(False, f"citizenlab: {r['event_type']} line of {r.get('src_ip')}:"
                                 f"{r.get('src_port')} has Suricata's flow_id")

        # 2. a real Meet call: DTLS-SRTP over UDP, settings from --set
        if not os.path.isfile(meet):
            if os.environ.get("CI"):
                check(False, f"{meet} exists (CI is set)")
            else:
                print(f"SKIP (part 2): {meet} not found")
            secs2 = 0.0
        else:
            sets = ["--set", f"keyprov.geo-country={country}", "--set", f"keyprov.geo-asn={asn}"]
            lines, secs2 = run_suricata(suricata, plugin, meet, tmp, "meet", "", sets)
            dtls = [r for r in lines if r.get("event_type") == "keyprov"
                    and r["keyprov"].get("mechanism") == "dtls-srtp"]
            if check(len(dtls) >= 1, "meet: a keyprov record with mechanism dtls-srtp"):
                r = dtls[0]
                k = r["keyprov"]
                check(k.get("issuer", {}).get("ip") == "142.250.82.76"
                      and k["issuer"].get("port") == 19305,
                      f"meet: issuer 142.250.82.76:19305 ({k.get('issuer', {}).get('ip')}:"
                      f"{k.get('issuer', {}).get('port')})")
                check(k.get("service") == "meet", f"meet: service meet ({k.get('service')})")
                check(r.get("proto") == "UDP" and r.get("app_proto") == "dtls",
                      "meet: proto UDP, app_proto dtls")
                check(k["issuer"].get("country") == "US", "meet: issuer country US")
                check_common("meet record", r, lines)
            check(not [r for r in lines if r.get("event_type") == "alert"],
                  "meet: no alert (nothing flagged)")
            check_same_as_cli("meet", keyprov, geo_args, meet, lines)
            media = [r for r in lines if r.get("event_type") == "keyprov"
                     and r["keyprov"].get("event_type") == "media"]
            check(len(media) >= 1 and all(
                (suricata_flow_of(lines, r) or {}).get("flow_id") == r.get("flow_id")
                for r in media), f"meet: the {len(media)} media records (written when their "
                                 "flows end) carry Suricata's flow_id")

        # 3. a bad setting stops Suricata with keyprov's message
        proc = run_suricata(suricata, plugin, sample, tmp, "bad-flag",
                            ':\n            flag: "@XX"\n', [], expect_ok=False)
        out = proc.stdout + proc.stderr
        check(proc.returncode != 0 and "unknown group '@XX'" in out,
              "bad-flag: suricata stops at start-up, naming the bad group")
        print(f"suricata -r times: citizenlab {secs1:.2f} s, meet {secs2:.2f} s")

    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        return 1
    print("keyprov's records and alerts are in Suricata's EVE output")
    return 0


if __name__ == "__main__":
    sys.exit(main())
