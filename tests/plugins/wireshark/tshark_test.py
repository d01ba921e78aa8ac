#!/usr/bin/env python3
"""tshark with keyprov's Wireshark plugin on the samples.

usage: tshark_test.py PLUGIN.so LIBKEYPROV.so KEYPROV KP_MKMMDB SAMPLES_DIR
       tshark_test.py --missing WHY      (the plugin could not be built)

How tshark loads the plugin: see wsenv.py.  Ground truth comes from keyprov
itself: the flows of the sessions in the keyprov command's --json output;
`-Y keyprov.flagged` must print exactly the frames of the flows of the
violating session.  Geolocation: $KEYPROV_GEO_COUNTRY and $KEYPROV_GEO_ASN
(fixtures).  Exit 77 (skipped) when tshark 4.0 is missing, unless $CI is
set (then 1).
"""
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsenv  # noqa: E402

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def main():
    if sys.argv[1] == "--missing":
        wsenv.skip(sys.argv[2])
    plugin, libkeyprov, keyprov, mkmmdb, samples = sys.argv[1:6]
    geo_vars = ("KEYPROV_GEO_COUNTRY", "KEYPROV_GEO_ASN")
    ts = wsenv.Tshark(plugin, libkeyprov)
    try:
        cap = {n: ts.copy_in(os.path.join(samples, n), "samples", n)
               for n in ("citizenlab-2020.pcap", "clean-meeting.pcap")}
        geo = {v: ts.copy_in(os.environ[v], v.lower() + ".mmdb") for v in geo_vars}
        ts.env.update(geo)
        # a geolocation folder for keyprov.geo_dir that puts AWS Beijing in RU
        geodir = ts.path("geodir")
        os.makedirs(geodir)
        with open(os.path.join(geodir, "country.spec"), "w") as fh:
            fh.write("52.80.0.0/15 country_code=RU\n170.114.0.0/16 country_code=US\n")
        subprocess.run([mkmmdb, "--spec", os.path.join(geodir, "country.spec"), "-o",
                        os.path.join(geodir, "country.mmdb"), "--build-epoch", "1781654400"],
                       check=True)
        ts.copy_in(geo["KEYPROV_GEO_ASN"], "geodir", "asn.mmdb")
        ts.seal()
        run_checks(ts, cap, geo, geodir, keyprov)
    finally:
        ts.close()
    if FAILS:
        print(f"{len(FAILS)} check(s) failed")
        return 1
    return 0


def run_checks(ts, cap, geo, geodir, keyprov):
    def frames(*args, stdin=None):
        r = ts.run(*args, "-T", "fields", "-e", "frame.number", stdin=stdin)
        return [int(x) for x in r.stdout.split()], r

    # 1. the plugin loads and registers its fields
    r = ts.run("-G", "plugins")
    check("keyprov.so" in r.stdout, "tshark -G plugins lists keyprov.so"
          + ("" if "keyprov.so" in r.stdout else f": {r.stderr.strip()}"))
    if FAILS:
        return
    r = ts.run("-G", "fields")
    fields = {ln.split("\t")[2] for ln in r.stdout.splitlines() if ln.startswith("F\t")}
    for f in ("keyprov.service", "keyprov.mechanism", "keyprov.issuer",
              "keyprov.issuer_country", "keyprov.issuer_asn", "keyprov.flagged",
              "keyprov.reason", "keyprov.verdict"):
        check(f in fields, f"field {f} is registered")

    # 2. ground truth: keyprov's own sessions
    def sessions(name, flag):
        r = subprocess.run([keyprov, "-r", cap[name], "--flag", flag, "--json"],
                           capture_output=True, text=True, env=dict(os.environ, **geo))
        return [e for e in map(json.loads, r.stdout.splitlines())
                if e["event_type"] == "session"]

    def frames_of(name, sess):
        tuples = wsenv.session_tuples(sess)
        r = ts.run("-r", cap[name], "-T", "fields", "-E", "occurrence=l",
                   *[a for f in wsenv.FLOW_FIELDS for a in ("-e", f)])
        return [n for n, t, _ in wsenv.frame_tuples(r.stdout.splitlines())
                if wsenv.lookup(tuples, t) is not None]

    cl = sessions("citizenlab-2020.pcap", "@CN")
    bad = [s for s in cl if s["verdict"] == "violation"]
    check(len(bad) == 1 and all(s["flows_total"] == len(s["flows"]) for s in bad),
          "keyprov: one violating session in citizenlab-2020, all its flows listed")
    servers = {f["server"] for s in bad for f in s["flows"]}
    check({"52.81.151.250:443", "170.114.128.20:443", "170.114.128.50:8801"} <= servers,
          f"that session holds the CN key exchange, the US control channel and the "
          f"media flow ({sorted(servers)})")
    want = frames_of("citizenlab-2020.pcap", bad)
    check(len(want) == 400, f"ground truth: {len(want)} frames in its flows (400 expected)")

    # 3. -Y keyprov.flagged on the 2020 sample: exactly those frames
    got, r = frames("-r", cap["citizenlab-2020.pcap"], "-o", "keyprov.flag:@CN",
                    "-Y", "keyprov.flagged")
    check(r.returncode == 0 and got == want,
          f"citizenlab -Y keyprov.flagged: {len(got)} frames, the session's {len(want)}"
          + ("" if got == want else
             f"; missing {sorted(set(want) - set(got))[:10]} "
             f"extra {sorted(set(got) - set(want))[:10]}"))
    got2, _ = frames("-2", "-r", cap["citizenlab-2020.pcap"], "-o", "keyprov.flag:@CN",
                     "-Y", "keyprov.flagged")
    check(got2 == want, "the same with tshark -2")
    got3, _ = frames("-r", cap["citizenlab-2020.pcap"], "-Y", "keyprov.flagged")
    check(got3 == want, "the same with the default keyprov.flag (@CN)")

    cn, _ = frames("-r", cap["citizenlab-2020.pcap"], "-o", "keyprov.flag:@CN",
                   "-Y", 'keyprov.issuer_country == "CN"')
    cn_tcp = frames_of("citizenlab-2020.pcap", [{"client": {"ip": "142.150.190.10"}, "flows": [
        {"proto": "tcp", "client_port": 50415, "server": "52.81.151.250:443"}]}])
    check(len(cn) > 0 and set(cn_tcp) <= set(cn),
          f'keyprov.issuer_country == "CN": {len(cn)} frames, incl. the CN key exchange')

    r = ts.run("-r", cap["citizenlab-2020.pcap"], "-o", "keyprov.flag:@CN",
               "-Y", "keyprov.key_flagged", "-T", "fields", "-E", "separator=|",
               "-e", "keyprov.service", "-e", "keyprov.mechanism", "-e", "keyprov.issuer",
               "-e", "keyprov.issuer_country", "-e", "keyprov.issuer_asn",
               "-e", "keyprov.verdict", "-e", "keyprov.reason", "-e", "keyprov.sni")
    lines = set(r.stdout.splitlines())
    check(lines == {"zoom|tls-control-channel|52.81.151.250|CN|55960|violation|"
                    "issuer country CN is in flagged group @CN|zc01.zoom.us"},
          f"fields of the flagged key's flow: {sorted(lines)}")
    ek, _ = frames("-r", cap["citizenlab-2020.pcap"], "-Y", "keyprov.expert.key_flagged")
    es, _ = frames("-r", cap["citizenlab-2020.pcap"], "-Y", "keyprov.expert.session_flagged")
    check(ek == cn_tcp and sorted(ek + es) == want,
          "expert info: key_flagged on the CN flow, session_flagged on the others")
    r = ts.run("-r", cap["citizenlab-2020.pcap"], "-Y", "keyprov.flagged")
    check("[keyprov: FLAGGED]" in r.stdout, "the Info column says [keyprov: FLAGGED]")

    # 4. the clean sample: nothing flagged, but the session's packets are keyprov's
    cm = sessions("clean-meeting.pcap", "@CN")
    check(len(cm) == 1 and cm[0]["verdict"] == "ok", "keyprov: clean-meeting is one ok session")
    want_clean = frames_of("clean-meeting.pcap", cm)
    got, r = frames("-r", cap["clean-meeting.pcap"], "-o", "keyprov.flag:@CN",
                    "-Y", "keyprov.flagged")
    check(r.returncode == 0 and got == [], f"clean -Y keyprov.flagged prints nothing ({len(got)})")
    got, _ = frames("-r", cap["clean-meeting.pcap"], "-o", "keyprov.flag:@CN", "-Y", "keyprov")
    check(got == want_clean and len(got) > 0,
          f"clean -Y keyprov: the session's {len(want_clean)} frames ({len(got)})")
    got, _ = frames("-r", cap["clean-meeting.pcap"], "-Y", 'keyprov.verdict == "ok"')
    check(got == want_clean, 'clean -Y keyprov.verdict == "ok": the same frames')

    # 5. the policy is the preference
    got, _ = frames("-r", cap["clean-meeting.pcap"], "-o", "keyprov.flag:US",
                    "-Y", "keyprov.flagged")
    check(got == want_clean, "-o keyprov.flag:US flags the clean session")
    got, _ = frames("-r", cap["citizenlab-2020.pcap"], "-o", "keyprov.flag:RU",
                    "-Y", "keyprov.flagged")
    check(got == [], "-o keyprov.flag:RU flags nothing in citizenlab-2020")
    got, _ = frames("-r", cap["citizenlab-2020.pcap"], "-o", "keyprov.flag:",
                    "-o", "keyprov.allow:US,CA", "-Y", "keyprov.flagged")
    check(got == want, "-o keyprov.allow:US,CA flags the 2020 session")
    r = ts.run("-r", cap["citizenlab-2020.pcap"], "-o", "keyprov.flag:@NOPE",
               "-Y", "keyprov.notice", "-T", "fields", "-e", "keyprov.notice")
    check("keyprov.flag" in r.stdout and "@NOPE" in r.stderr,
          f"a bad flag list is reported: {r.stdout.splitlines()[:1]}")

    # 6. keyprov.geo_dir wins over the environment
    r = ts.run("-r", cap["citizenlab-2020.pcap"], "-o", "keyprov.geo_dir:" + geodir,
               "-o", "keyprov.flag:@RU", "-Y", "keyprov.key_flagged", "-T", "fields",
               "-e", "keyprov.issuer_country", "-e", "keyprov.reason")
    check(set(r.stdout.splitlines()) == {"RU\tissuer country RU is in flagged group @RU"},
          f"-o keyprov.geo_dir: {sorted(set(r.stdout.splitlines()))}")
    r = ts.run("-r", cap["citizenlab-2020.pcap"], "-o", "keyprov.geo_dir:" + ts.path("none"),
               "-Y", "keyprov.notice", "-T", "fields", "-e", "keyprov.notice")
    check("none/country.mmdb" in r.stdout,
          f"an unreadable geo_dir is reported: {r.stdout.splitlines()[:1]}")

    # 7. finding the capture, or not
    r = ts.run("-r", cap["citizenlab-2020.pcap"], "-Y", "keyprov", "-T", "fields",
               "-e", "keyprov.analysis")
    check(r.stdout.startswith("whole capture read ahead: " + cap["citizenlab-2020.pcap"]),
          f"keyprov.analysis names the file read ahead: {r.stdout.splitlines()[:1]}")
    with open(cap["citizenlab-2020.pcap"], "rb") as fh:
        got, r = frames("-r", "-", "-o", "keyprov.flag:@CN", "-Y", "keyprov.flagged", stdin=fh)
    check(got == want, "tshark -r - < file: found through standard input and read ahead")
    # through a pipe nothing can be read ahead: only packets after the key
    # record are marked
    cat = subprocess.Popen(["cat", cap["citizenlab-2020.pcap"]], stdout=subprocess.PIPE)
    got, r = frames("-r", "-", "-o", "keyprov.flag:@CN", "-Y", "keyprov.flagged",
                    stdin=cat.stdout)
    cat.wait()
    check(0 < len(got) < len(want) and set(got) <= set(cn_tcp),
          f"through a pipe: {len(got)} frames, all of the CN flow after its key record")
    got_off, _ = frames("-r", cap["citizenlab-2020.pcap"], "-o", "keyprov.read_ahead:FALSE",
                        "-Y", "keyprov.flagged")
    check(got_off == got, f"-o keyprov.read_ahead:FALSE: {len(got_off)} frames, as through a pipe")
    # a file named in keyprov.capture_file that is another capture is ignored
    got, _ = frames("-r", cap["citizenlab-2020.pcap"], "-o",
                    "keyprov.capture_file:" + cap["clean-meeting.pcap"], "-Y", "keyprov.flagged")
    check(got == want, "keyprov.capture_file naming another capture is not used")
    cat = subprocess.Popen(["cat", cap["citizenlab-2020.pcap"]], stdout=subprocess.PIPE)
    got, _ = frames("-r", "-", "-o", "keyprov.capture_file:" + cap["citizenlab-2020.pcap"],
                    "-Y", "keyprov.flagged", stdin=cat.stdout)
    cat.wait()
    check(got == want, "through a pipe with keyprov.capture_file: read ahead")


if __name__ == "__main__":
    sys.exit(main())
