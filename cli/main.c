/* keyprov: the command-line host.  It uses only the public API
 * (include/keyprov.h) and the capture front end. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <inttypes.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <maxminddb.h>
#include <openssl/opensslv.h>

#include "capture.h"
#include "eve.h"
#include "html.h"
#include "keyprov.h"

#ifndef KP_GEODATA_DIRS
#define KP_GEODATA_DIRS "/usr/local/share/keyprov/geodata"
#endif

enum { EXIT_CLEAN = 0, EXIT_FLAGGED = 1, EXIT_USAGE = 2 };

struct cli {
    int json;
    int quiet;
    int verbose;
    uint64_t keys, flagged, anomalies, media, media_linked;
    uint64_t sessions, s_violation, s_review, s_ok;
    int color;
    char countries[64][3];
    size_t ncountries;
    FILE *out;
    int out_broken;
    int out_errno;             /* why the output broke (EPIPE: the reader left) */
    struct kp_eve *eve;
    struct kp_html *html;
};

/* The running capture, for the signal handler (the only global). */
static struct kp_capture *g_capture;

static void on_signal(int sig)
{
    (void)sig;
    kp_capture_stop(g_capture);
}

static void usage(FILE *fp)
{
    fputs("usage: keyprov [options] (-r FILE | -i IFACE) [BPF filter expression]\n"
          "Report who issued each conferencing session key, where that server is, and flag\n"
          "keys from jurisdictions you name.\n\n"
          "input:\n"
          "  -r FILE            read a pcap or pcapng file ('-' reads standard input)\n"
          "  -i IFACE           capture live on IFACE (-D lists interfaces)\n"
          "  -c COUNT           stop after COUNT packets\n"
          "  -s SNAPLEN         live snapshot length (default 262144)\n"
          "  -p                 live: do not put the interface in promiscuous mode\n"
          "  -B KIB             live: kernel capture buffer size in KiB (default 32768)\n"
          "  -Z USER            drop root privileges to USER once the capture is open\n"
          "policy:\n"
          "  --flag LIST        flag keys issued in these places: ISO country codes, @GROUPs\n"
          "                     (@CN @EU @EEA @FVEY @NATO @RU) and ASNs, e.g. CN,HK or AS55960\n"
          "  --allow LIST       flag keys issued anywhere but these countries/@GROUPs\n"
          "  --policy FILE      rules per service, cleartext and unknown keys (docs/policy.md)\n"
          "  --all              also report TLS handshakes of services the rules do not know\n"
          "  --rules FILE       service rules (default: built in, data/services.rules)\n"
          "output:\n"
          "  --json             JSON Lines events (schema in docs/events.md); --flows adds one per flow\n"
          "  --eve FILE         Suricata-EVE records: alerts for violations, keyprov records\n"
          "  --html FILE        a self-contained HTML report with a map of key holders\n"
          "  -q                 no summary and no progress line\n"
          "  -v                 also each key record, media flow and anomaly\n"
          "  --color WHEN       never, always or auto (default: when stdout is a terminal)\n"
          "geolocation:\n"
          "  --geo-country PATH country database (MaxMind DB); env KEYPROV_GEO_COUNTRY\n"
          "  --geo-asn PATH     ASN database (MaxMind DB); env KEYPROV_GEO_ASN\n"
          "                     default: country.mmdb and asn.mmdb in $KEYPROV_GEODATA or\n"
          "                     " KP_GEODATA_DIRS "\n"
          "  --no-geo           do not geolocate\n"
          "limits:\n"
          "  -j N               analysis threads, flow-affine (default: one per core, at most 8;\n"
          "                     -j 1 analyses in the capture thread); same results for any N\n"
          "  --max-flows N      flow table capacity (default 262144)\n"
          "  --mem-limit MIB    memory for handshake analysis state (default 512)\n"
          "  -V, --version      versions and geolocation database dates\n"
          "  -h, --help         this help\n"
          "exit status: 0 nothing flagged, 1 a key was flagged, 2 usage or input error\n",
          fp);
}

static void die_usage(const char *msg)
{
    fprintf(stderr, "keyprov: %s (try keyprov --help)\n", msg);
    exit(EXIT_USAGE);
}

/* Print bytes from a packet safely on a terminal: printable ASCII as is,
 * everything else as \xNN (no terminal escapes from the wire). */
static void put_safe(FILE *fp, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '\\') {
            fputc(*p, fp);
        } else {
            fprintf(fp, "\\x%02x", *p);
        }
    }
}

static void note_country(struct cli *c, const char *cc)
{
    if (cc == NULL || cc[0] == '\0') {
        return;
    }
    for (size_t i = 0; i < c->ncountries; i++) {
        if (strcmp(c->countries[i], cc) == 0) {
            return;
        }
    }
    if (c->ncountries < 64) {
        snprintf(c->countries[c->ncountries++], 3, "%s", cc);
    }
}

static void print_key_human(struct cli *c, const struct kp_event *ev)
{
    FILE *fp = c->out;
    int flagged = (int)kp_event_int(ev, KP_F_FLAGGED);
    const char *cc = kp_event_str(ev, KP_F_ISSUER_COUNTRY);
    const char *scope = kp_event_str(ev, KP_F_ISSUER_SCOPE);
    const char *org = kp_event_str(ev, KP_F_ISSUER_AS_ORG);
    const char *sni = kp_event_str(ev, KP_F_SNI);
    const char *subj = kp_event_str(ev, KP_F_CERT_SUBJECT);
    int64_t asn = kp_event_int(ev, KP_F_ISSUER_ASN);
    const char *cip = kp_event_str(ev, KP_F_CLIENT_IP);
    const char *iip = kp_event_str(ev, KP_F_ISSUER_IP);
    int v6c = strchr(cip, ':') != NULL, v6i = strchr(iip, ':') != NULL;

    fprintf(fp, "%-7s %-10s %-20s %s%s%s:%" PRId64 " -> %s%s%s:%" PRId64 "  %s", flagged ? "FLAGGED" : "ok",
            kp_event_str(ev, KP_F_SERVICE), kp_event_str(ev, KP_F_MECHANISM), v6c ? "[" : "", cip,
            v6c ? "]" : "", kp_event_int(ev, KP_F_CLIENT_PORT), v6i ? "[" : "", iip, v6i ? "]" : "",
            kp_event_int(ev, KP_F_ISSUER_PORT),
            cc[0] != '\0' ? cc : scope[0] != '\0' ? scope : "??");
    if (asn != 0) {
        fprintf(fp, " AS%" PRId64, asn);
        if (org[0] != '\0') {
            fputs(" (", fp);
            put_safe(fp, org);
            fputc(')', fp);
        }
    }
    fputs("  sni=", fp);
    put_safe(fp, sni[0] != '\0' ? sni : "-");
    fprintf(fp, "  confidence=%s\n", kp_event_str(ev, KP_F_CONFIDENCE));
    if (flagged) {
        fputs("        reason: ", fp);
        put_safe(fp, kp_event_str(ev, KP_F_REASON));
        fputc('\n', fp);
    }
    if (c->verbose) {
        fputs("        certificate: ", fp);
        put_safe(fp, subj[0] != '\0' ? subj : "(not visible)");
        fputs("  tls: ", fp);
        put_safe(fp, kp_event_str(ev, KP_F_TLS_VERSION));
        fputs("  ja4: ", fp);
        put_safe(fp, kp_event_str(ev, KP_F_JA4));
        fputc('\n', fp);
    }
}

#define C_RED "\033[1;31m"
#define C_YEL "\033[1;33m"
#define C_GRN "\033[32m"
#define C_OFF "\033[0m"

static void holder_text(FILE *fp, const struct kp_event *ev, size_t i)
{
    const char *ip = kp_event_holder_str(ev, i, KP_F_ISSUER_IP);
    const char *cc = kp_event_holder_str(ev, i, KP_F_ISSUER_COUNTRY);
    const char *scope = kp_event_holder_str(ev, i, KP_F_ISSUER_SCOPE);
    const char *org = kp_event_holder_str(ev, i, KP_F_ISSUER_AS_ORG);
    int64_t asn = kp_event_holder_int(ev, i, KP_F_ISSUER_ASN);
    fprintf(fp, strchr(ip, ':') != NULL ? "[%s]:%" PRId64 " " : "%s:%" PRId64 " ", ip,
            kp_event_holder_int(ev, i, KP_F_ISSUER_PORT));
    fputs(cc[0] != '\0' ? cc : scope[0] != '\0' ? scope : "??", fp);
    if (asn != 0) {
        fprintf(fp, " AS%" PRId64, asn);
        if (org[0] != '\0') {
            fputs(" (", fp);
            put_safe(fp, org);
            fputc(')', fp);
        }
    }
}

/* One line per session, verdict first: what a security officer reads. */
static void print_session_human(struct cli *c, const struct kp_event *ev)
{
    FILE *fp = c->out;
    const char *verdict = kp_event_str(ev, KP_F_VERDICT);
    const char *holder = kp_event_str(ev, KP_F_HOLDER);
    bool viol = strcmp(verdict, "violation") == 0, review = strcmp(verdict, "review") == 0;
    const char *col = viol ? C_RED : review ? C_YEL : C_GRN;
    fprintf(fp, "%s%-9s%s  %-10s %-15s  ", c->color ? col : "", viol ? "VIOLATION" : review ? "REVIEW" : "OK",
            c->color ? C_OFF : "", kp_event_str(ev, KP_F_SERVICE), kp_event_str(ev, KP_F_CLIENT_IP));
    size_t n = (size_t)kp_event_int(ev, KP_F_HOLDERS_N);
    /* the holder that decided the verdict first */
    size_t first = 0;
    for (size_t i = 0; i < n; i++) {
        if (kp_event_holder_int(ev, i, KP_F_FLAGGED)) {
            first = i;
            break;
        }
    }
    if (strcmp(holder, "server") == 0 && n > 0) {
        fputs("key held by server ", fp);
        holder_text(fp, ev, first);
        fprintf(fp, " via %s", kp_event_holder_str(ev, first, KP_F_MECHANISM));
        if (n > 1) {
            fprintf(fp, " (+%zu more)", n - 1);
        }
    } else if (strcmp(holder, "endpoints") == 0) {
        fputs("keys held by the endpoints only (end to end)", fp);
    } else if (strcmp(holder, "anyone-on-path") == 0) {
        fputs("key EXPOSED to anyone on the path (SDES in clear)", fp);
    } else {
        fputs("key exchange not visible (media only)", fp);
    }
    size_t nr = (size_t)kp_event_int(ev, KP_F_REASONS_N);
    if (nr > 0 && (viol || review)) {
        fputs("  rule: ", fp);
        put_safe(fp, kp_event_reason(ev, 0));
    }
    fputc('\n', fp);
    if (c->verbose) {
        for (size_t i = 0; i < n; i++) {
            fprintf(fp, "           holder: ");
            holder_text(fp, ev, i);
            fprintf(fp, "  %s, %s confidence%s\n", kp_event_holder_str(ev, i, KP_F_MECHANISM),
                    kp_event_holder_str(ev, i, KP_F_CONFIDENCE),
                    kp_event_holder_int(ev, i, KP_F_FLAGGED) ? ", FLAGGED" : "");
        }
        for (size_t i = 1; i < nr; i++) {
            fputs("           also: ", fp);
            put_safe(fp, kp_event_reason(ev, i));
            fputc('\n', fp);
        }
    }
}

static void on_event(const struct kp_event *ev, void *user)
{
    struct cli *c = user;
    enum kp_event_type t = kp_event_type(ev);
    if (t == KP_EV_KEY) {
        c->keys++;
        c->flagged += kp_event_int(ev, KP_F_FLAGGED) ? 1 : 0;
        note_country(c, kp_event_str(ev, KP_F_ISSUER_COUNTRY));
    } else if (t == KP_EV_MEDIA) {
        c->media++;
        c->media_linked += kp_event_str(ev, KP_F_LINKED_ISSUER_IP)[0] != '\0' ? 1 : 0;
    } else if (t == KP_EV_SESSION) {
        const char *v = kp_event_str(ev, KP_F_VERDICT);
        c->sessions++;
        c->s_violation += strcmp(v, "violation") == 0;
        c->s_review += strcmp(v, "review") == 0;
        c->s_ok += strcmp(v, "ok") == 0;
    } else {
        c->anomalies++;
    }
    if (c->html != NULL) {
        kp_html_event(c->html, ev);
    }
    if (c->eve != NULL) {
        kp_eve_event(c->eve, ev);
        if (kp_eve_failed(c->eve)) {
            kp_capture_stop(g_capture);
        }
    }
    if (c->out_broken) {
        return;
    }
    if (c->json) {
        char buf[8192];
        size_t n = kp_event_json(ev, buf, sizeof(buf));
        if (n >= sizeof(buf)) {
            char *big = malloc(n + 1);
            if (big != NULL) {
                kp_event_json(ev, big, n + 1);
                fputs(big, c->out);
                fputc('\n', c->out);
                free(big);
            }
        } else {
            fputs(buf, c->out);
            fputc('\n', c->out);
        }
    } else if (t == KP_EV_SESSION) {
        print_session_human(c, ev);
    } else if (t == KP_EV_KEY && c->verbose) {
        print_key_human(c, ev);
    } else if (t == KP_EV_MEDIA && c->verbose) {
        const char *sip = kp_event_str(ev, KP_F_ISSUER_IP);
        const char *cc = kp_event_str(ev, KP_F_ISSUER_COUNTRY);
        const char *link = kp_event_str(ev, KP_F_LINKED_ISSUER_IP);
        fprintf(c->out, "media   %-10s %-20s %s:%" PRId64 " <-> %s:%" PRId64 "  %s  %" PRId64
                        " packets  keys from %s\n",
                kp_event_str(ev, KP_F_SERVICE), kp_event_str(ev, KP_F_MEDIA_KIND),
                kp_event_str(ev, KP_F_CLIENT_IP), kp_event_int(ev, KP_F_CLIENT_PORT), sip,
                kp_event_int(ev, KP_F_ISSUER_PORT), cc[0] != '\0' ? cc : "??",
                kp_event_int(ev, KP_F_PACKETS), link[0] != '\0' ? link : "(not seen)");
    } else if (t == KP_EV_ANOMALY && c->verbose) {
        fprintf(c->out, "anomaly %s ", kp_event_str(ev, KP_F_ANOMALY));
        put_safe(c->out, kp_event_str(ev, KP_F_REASON));
        fputc('\n', c->out);
    }
    if (ferror(c->out) && !c->out_broken) {
        c->out_broken = 1;
        c->out_errno = errno;
        kp_capture_stop(g_capture);
    }
}

/* With one analysis thread, frames are copied out of libpcap's buffer and
 * fed BATCH_FRAMES at a time (kp_engine_feed_batch fetches the flow-table
 * memory of the frames ahead).  With workers the dispatcher copies each
 * frame once into a worker's ring anyway: no batch. */
#define BATCH_FRAMES 32
#define BATCH_BYTES (256u * 1024u)

struct feed_ctx {
    struct kp_engine *eng;
    int linktype;
    int progress;             /* draw a progress line on stderr */
    struct kp_capture *cap;
    uint64_t packets, bytes;
    double start, last_draw;
    uint8_t *arena;           /* NULL: no batching */
    size_t arena_used, nbatch;
    struct kp_frame batch[BATCH_FRAMES];
};

static void flush_batch(struct feed_ctx *f)
{
    if (f->nbatch > 0) {
        (void)kp_engine_feed_batch(f->eng, f->linktype, f->batch, f->nbatch);
        f->nbatch = 0;
        f->arena_used = 0;
    }
}

static void feed(struct feed_ctx *f, uint64_t ts_us, const uint8_t *data, size_t caplen,
                 size_t wirelen)
{
    if (f->arena == NULL || caplen > BATCH_BYTES) {
        flush_batch(f);
        (void)kp_engine_feed(f->eng, f->linktype, ts_us, data, caplen, wirelen);
        return;
    }
    if (caplen > BATCH_BYTES - f->arena_used) {
        flush_batch(f);
    }
    uint8_t *copy = f->arena + f->arena_used;
    memcpy(copy, data, caplen);
    f->arena_used += (caplen + 63u) & ~(size_t)63u; /* each frame on its own cache lines */
    if (f->arena_used > BATCH_BYTES) {
        f->arena_used = BATCH_BYTES;
    }
    f->batch[f->nbatch++] = (struct kp_frame){ts_us, copy, caplen, wirelen};
    if (f->nbatch == BATCH_FRAMES) {
        flush_batch(f);
    }
}

/* Live: events the workers have ready are written even when no packet
 * comes; frames waiting in a batch are analysed at the end of each
 * kernel buffer. */
static void on_capture_idle(void *user)
{
    struct feed_ctx *f = user;
    flush_batch(f);
    kp_engine_poll(f->eng);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void draw_progress(struct feed_ctx *f, double now)
{
    uint64_t pos, total;
    kp_capture_progress(f->cap, &pos, &total);
    double el = now - f->start > 1e-6 ? now - f->start : 1e-6;
    if (total > 0) {
        fprintf(stderr, "\r\033[Kkeyprov: %5.1f%%  %" PRIu64 " packets  %.1f MB  %.0f kpkt/s  %.1f MB/s",
                100.0 * (double)pos / (double)total, f->packets, (double)f->bytes / 1e6,
                (double)f->packets / el / 1e3, (double)f->bytes / el / 1e6);
    } else {
        fprintf(stderr, "\r\033[Kkeyprov: %" PRIu64 " packets  %.1f MB  %.0f kpkt/s", f->packets,
                (double)f->bytes / 1e6, (double)f->packets / el / 1e3);
    }
    f->last_draw = now;
}

static void on_packet(uint64_t ts_us, const uint8_t *data, size_t caplen, size_t wirelen,
                      void *user)
{
    struct feed_ctx *f = user;
    feed(f, ts_us, data, caplen, wirelen);
    f->packets++;
    f->bytes += wirelen;
    /* look at the clock only every 4096 packets: no syscall per packet */
    if (f->progress && (f->packets & 4095) == 0) {
        double now = now_s();
        if (now - f->last_draw >= 0.25) {
            draw_progress(f, now);
        }
    }
}

/* Join the remaining arguments into one BPF expression, as tcpdump does. */
static char *join_args(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++) {
        len += strlen(argv[i]) + 1;
    }
    char *s = calloc(1, len);
    if (s == NULL) {
        return NULL;
    }
    for (int i = 0; i < argc; i++) {
        if (i > 0) {
            strcat(s, " ");
        }
        strcat(s, argv[i]);
    }
    return s;
}

static int file_exists(const char *p) { return access(p, R_OK) == 0; }

/* Default geolocation databases: the first folder that has country.mmdb. */
static void default_geo(char *country, char *asn, size_t len)
{
    country[0] = asn[0] = '\0';
    const char *env = getenv("KEYPROV_GEODATA");
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s%s%s", env != NULL ? env : "", env != NULL ? ":" : "",
             KP_GEODATA_DIRS);
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
        char cpath[PATH_MAX];
        snprintf(cpath, sizeof(cpath), "%s/country.mmdb", d);
        if (file_exists(cpath)) {
            snprintf(country, len, "%s", cpath);
            char apath[PATH_MAX];
            snprintf(apath, sizeof(apath), "%s/asn.mmdb", d);
            if (file_exists(apath)) {
                snprintf(asn, len, "%s", apath);
            }
            return;
        }
    }
}

/* The world map for --html: worldmap.json beside the country database, or
 * in the first default geodata folder that has one (geo/fetch-worldmap). */
static void map_path(const char *country_db, char *out, size_t len)
{
    out[0] = '\0';
    if (country_db != NULL) {
        const char *slash = strrchr(country_db, '/');
        int dl = slash != NULL ? (int)(slash - country_db) : 1;
        snprintf(out, len, "%.*s/worldmap.json", dl, slash != NULL ? country_db : ".");
        if (file_exists(out)) {
            return;
        }
    }
    const char *env = getenv("KEYPROV_GEODATA");
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s%s%s", env != NULL ? env : "", env != NULL ? ":" : "",
             KP_GEODATA_DIRS);
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, len, "%s/worldmap.json", d);
        if (file_exists(out)) {
            return;
        }
    }
    out[0] = '\0';
}

static void print_version(const struct kp_geo *geo, const char *country_path)
{
    printf("keyprov %s (event schema %d)\n", kp_version(), KP_EVENT_SCHEMA_VERSION);
    printf("  %s\n  %s\n  libmaxminddb %s\n", pcap_lib_version(), OPENSSL_VERSION_TEXT,
           MMDB_lib_version());
    if (geo == NULL) {
        printf("  geolocation: no databases found (run geo/fetch-geodata, or see --help)\n");
        return;
    }
    char buf[512];
    for (int i = 0; i < 2; i++) {
        if (kp_geo_describe(geo, i, buf, sizeof(buf)) == KP_OK) {
            printf("  %s\n", buf);
        }
    }
    /* credits written by geo/fetch-geodata beside the databases */
    if (country_path != NULL) {
        char cred[PATH_MAX];
        snprintf(cred, sizeof(cred), "%s", country_path);
        char *slash = strrchr(cred, '/');
        if (slash != NULL) {
            snprintf(slash + 1, sizeof(cred) - (size_t)(slash + 1 - cred), "CREDITS");
            FILE *fp = fopen(cred, "r");
            if (fp != NULL) {
                char line[512];
                /* the summary part; the verbatim upstream notices follow it */
                while (fgets(line, sizeof(line), fp) != NULL &&
                       strncmp(line, "Upstream", 8) != 0) {
                    printf("  %s", line);
                }
                printf("  (full notices: %s)\n", cred);
                fclose(fp);
            }
        }
    }
}

/* Like tcpdump -Z: give up root once the capture is open.  Returns false
 * with a message if the drop could not be completed and verified. */
static bool drop_privileges(const char *user, char *err, size_t errlen)
{
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        snprintf(err, errlen, "-Z: no such user '%s'", user);
        return false;
    }
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        snprintf(err, errlen, "-Z %s: cannot switch to the user: %s", user, strerror(errno));
        return false;
    }
    /* verify: the ids are the user's and root cannot be taken back */
    if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid || getgid() != pw->pw_gid ||
        (pw->pw_uid != 0 && setuid(0) == 0)) {
        snprintf(err, errlen, "-Z %s: privileges were not dropped", user);
        return false;
    }
    return true;
}

static unsigned long parse_num(const char *s, const char *what, unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v > max || s[0] == '-') {
        fprintf(stderr, "keyprov: %s: '%s' is not a number between 0 and %lu\n", what, s, max);
        exit(EXIT_USAGE);
    }
    return v;
}

int main(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_ALL, OPT_FLAG, OPT_ALLOW, OPT_GEO_C, OPT_GEO_A, OPT_NO_GEO,
           OPT_RULES, OPT_MAX_FLOWS, OPT_POLICY, OPT_COLOR, OPT_EVE, OPT_MEM, OPT_HTML,
           OPT_FLOWS };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"all", no_argument, NULL, OPT_ALL},
        {"flag", required_argument, NULL, OPT_FLAG},
        {"allow", required_argument, NULL, OPT_ALLOW},
        {"geo-country", required_argument, NULL, OPT_GEO_C},
        {"geo-asn", required_argument, NULL, OPT_GEO_A},
        {"no-geo", no_argument, NULL, OPT_NO_GEO},
        {"rules", required_argument, NULL, OPT_RULES},
        {"policy", required_argument, NULL, OPT_POLICY},
        {"color", required_argument, NULL, OPT_COLOR},
        {"eve", required_argument, NULL, OPT_EVE},
        {"html", required_argument, NULL, OPT_HTML},
        {"flows", no_argument, NULL, OPT_FLOWS},
        {"colour", required_argument, NULL, OPT_COLOR},
        {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
        {"mem-limit", required_argument, NULL, OPT_MEM},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct kp_capture_opts copt = {.promisc = 1};
    struct cli cli = {.out = stdout};
    struct kp_config cfg;
    kp_config_init(&cfg);
    const char *geo_c = getenv("KEYPROV_GEO_COUNTRY"), *geo_a = getenv("KEYPROV_GEO_ASN");
    int no_geo = 0, want_version = 0, list_ifaces = 0;
    uint64_t count = 0;
    char err[512];
    struct kp_policy *pol = NULL;
    if (kp_policy_new(&pol) != KP_OK) {
        fprintf(stderr, "keyprov: out of memory\n");
        return EXIT_USAGE;
    }
    int has_policy = 0;
    int color_mode = -1;
    int opt;
    opterr = 0; /* our own one-line messages */
    const char *drop_user = NULL;
    const char *eve_path = NULL;
    const char *html_path = NULL;
    while ((opt = getopt_long(argc, argv, "+:r:i:c:s:pB:qvVhDZ:j:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'r': copt.file = optarg; break;
        case 'i': copt.iface = optarg; break;
        case 'c': count = parse_num(optarg, "-c", ULONG_MAX); if (count == 0) { die_usage("-c needs a count of at least 1"); } break;
        case 's': copt.snaplen = (int)parse_num(optarg, "-s", 262144); break;
        case 'p': copt.promisc = 0; break;
        case 'j': cfg.workers = (unsigned)parse_num(optarg, "-j", 256); if (cfg.workers == 0) { die_usage("-j needs at least 1 thread"); } break;
        case 'B': copt.buffer_kib = (int)parse_num(optarg, "-B", 4 * 1024 * 1024); break;
        case 'q': cli.quiet = 1; break;
        case 'v': cli.verbose = 1; break;
        case 'V': want_version = 1; break;
        case 'D': list_ifaces = 1; break;
        case 'Z': drop_user = optarg; break;
        case 'h': usage(stdout); kp_policy_free(pol); return EXIT_CLEAN;
        case OPT_JSON: cli.json = 1; break;
        case OPT_ALL: cfg.report_all = 1; break;
        case OPT_FLAG:
        case OPT_ALLOW:
            if ((opt == OPT_FLAG ? kp_policy_flag : kp_policy_allow)(pol, optarg, err, sizeof(err)) != KP_OK) {
                fprintf(stderr, "keyprov: %s: %s\n", opt == OPT_FLAG ? "--flag" : "--allow", err);
                kp_policy_free(pol);
                return EXIT_USAGE;
            }
            has_policy = 1;
            break;
        case OPT_POLICY:
            if (kp_policy_load(pol, optarg, err, sizeof(err)) != KP_OK) {
                fprintf(stderr, "keyprov: %s\n", err);
                kp_policy_free(pol);
                return EXIT_USAGE;
            }
            has_policy = 1;
            break;
        case OPT_EVE: eve_path = optarg; break;
        case OPT_HTML: html_path = optarg; break;
        case OPT_FLOWS: cfg.report_flows = 1; break;
        case OPT_COLOR:
            if (strcmp(optarg, "auto") == 0) {
                color_mode = -1;
            } else if (strcmp(optarg, "always") == 0) {
                color_mode = 1;
            } else if (strcmp(optarg, "never") == 0) {
                color_mode = 0;
            } else {
                die_usage("--color takes never, always or auto");
            }
            break;
        case OPT_GEO_C: geo_c = optarg; break;
        case OPT_GEO_A: geo_a = optarg; break;
        case OPT_NO_GEO: no_geo = 1; break;
        case OPT_RULES: cfg.rules_path = optarg; break;
        case OPT_MAX_FLOWS: cfg.max_flows = (uint32_t)parse_num(optarg, "--max-flows", 1u << 26); break;
        case OPT_MEM: cfg.mem_limit = (uint64_t)parse_num(optarg, "--mem-limit", 1u << 20) << 20; if (cfg.mem_limit == 0) { die_usage("--mem-limit needs at least 1 MiB"); } break;
        case ':':
            fprintf(stderr, "keyprov: option '%s' needs an argument (try keyprov --help)\n",
                    argv[optind - 1]);
            kp_policy_free(pol);
            return EXIT_USAGE;
        default:
            if (optopt != 0) {
                fprintf(stderr, "keyprov: unrecognized option '-%c' (try keyprov --help)\n", optopt);
            } else {
                fprintf(stderr, "keyprov: unrecognized option '%s' (try keyprov --help)\n",
                        argv[optind - 1]);
            }
            kp_policy_free(pol);
            return EXIT_USAGE;
        }
    }

    /* geolocation databases */
    char dc[PATH_MAX], da[PATH_MAX];
    struct kp_geo *geo = NULL;
    if (!no_geo) {
        int explicit_geo = geo_c != NULL || geo_a != NULL;
        if (!explicit_geo) {
            default_geo(dc, da, sizeof(dc));
            geo_c = dc[0] != '\0' ? dc : NULL;
            geo_a = da[0] != '\0' ? da : NULL;
        }
        if (geo_c != NULL || geo_a != NULL) {
            if (kp_geo_open(&geo, geo_c, geo_a, err, sizeof(err)) != KP_OK) {
                fprintf(stderr, "keyprov: %s\n", err);
                kp_policy_free(pol);
                return EXIT_USAGE;
            }
        } else if (!want_version && !list_ifaces) {
            fprintf(stderr, "keyprov: warning: no geolocation databases found; issuer countries "
                            "will be unknown (run geo/fetch-geodata or use --geo-country)\n");
        }
    }
    if (want_version) {
        print_version(geo, geo_c);
        kp_geo_free(geo);
        kp_policy_free(pol);
        return EXIT_CLEAN;
    }
    if (list_ifaces) {
        pcap_if_t *all;
        char perr[PCAP_ERRBUF_SIZE];
        if (pcap_findalldevs(&all, perr) != 0) {
            fprintf(stderr, "keyprov: cannot list interfaces: %s\n", perr);
            kp_geo_free(geo);
            kp_policy_free(pol);
            return EXIT_USAGE;
        }
        int i = 1;
        for (pcap_if_t *d = all; d != NULL; d = d->next) {
            printf("%d.%s%s%s%s\n", i++, d->name, d->description ? " (" : "",
                   d->description ? d->description : "", d->description ? ")" : "");
        }
        pcap_freealldevs(all);
        kp_geo_free(geo);
        kp_policy_free(pol);
        return EXIT_CLEAN;
    }
    if ((copt.file == NULL) == (copt.iface == NULL)) {
        kp_geo_free(geo);
        kp_policy_free(pol);
        die_usage("give exactly one of -r FILE or -i IFACE");
    }
    char *filter = optind < argc ? join_args(argc - optind, argv + optind) : NULL;
    copt.filter = filter;

    struct kp_capture *cap = kp_capture_open(&copt, err, sizeof(err));
    if (cap == NULL) {
        fprintf(stderr, "keyprov: %s\n", err);
        free(filter);
        kp_geo_free(geo);
        kp_policy_free(pol);
        return EXIT_USAGE;
    }
    int lt = kp_capture_linktype(cap);
    if (!kp_linktype_supported(lt)) {
        fprintf(stderr, "keyprov: %s: unsupported link type %s (%d); supported: Ethernet, Linux SLL/SLL2, raw IP, BSD loopback, PPP\n",
                kp_capture_source(cap), kp_capture_linktype_name(cap), lt);
        kp_capture_close(cap);
        free(filter);
        kp_geo_free(geo);
        kp_policy_free(pol);
        return EXIT_USAGE;
    }

    if (color_mode < 0) {
        const char *term = getenv("TERM");
        color_mode = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL && term != NULL &&
                     strcmp(term, "dumb") != 0;
    }
    cli.color = color_mode;
    /* Output files are opened before privileges are dropped (and refused
     * now, not after the capture, if they cannot be written). */
    if (eve_path != NULL) {
        if (strcmp(eve_path, "-") == 0 && cli.json) {
            fprintf(stderr, "keyprov: --eve - and --json would both write to standard output\n");
            kp_capture_close(cap);
            free(filter);
            kp_geo_free(geo);
            kp_policy_free(pol);
            return EXIT_USAGE;
        }
        if (strcmp(eve_path, "-") == 0) {
            cli.quiet = 1;
            cli.out = stderr; /* the report must not mix with EVE lines */
        }
        cli.eve = kp_eve_open(eve_path, err, sizeof(err));
        if (cli.eve == NULL) {
            fprintf(stderr, "keyprov: %s\n", err);
            kp_capture_close(cap);
            free(filter);
            kp_geo_free(geo);
            kp_policy_free(pol);
            return EXIT_USAGE;
        }
    }
    if (html_path != NULL) {
        char map[PATH_MAX];
        map_path(geo_c, map, sizeof(map));
        cli.html = kp_html_open(html_path, map[0] != '\0' ? map : NULL, err, sizeof(err));
        if (cli.html == NULL) {
            fprintf(stderr, "keyprov: %s\n", err);
            kp_eve_close(cli.eve, err, sizeof(err));
            kp_capture_close(cap);
            free(filter);
            kp_geo_free(geo);
            kp_policy_free(pol);
            return EXIT_USAGE;
        }
    }
    /* Everything that needs privileges is open (capture, databases): drop
     * them now, before any packet is parsed. */
    if (drop_user != NULL && !drop_privileges(drop_user, err, sizeof(err))) {
        fprintf(stderr, "keyprov: %s\n", err);
        kp_capture_close(cap);
        free(filter);
        kp_geo_free(geo);
        kp_policy_free(pol);
        return EXIT_USAGE;
    }
    if (drop_user == NULL && copt.iface != NULL && geteuid() == 0) {
        fprintf(stderr, "keyprov: warning: parsing packets as root; use -Z USER to drop "
                        "privileges after the capture is open\n");
    }
    if (cfg.workers == 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        cfg.workers = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (unsigned)ncpu;
    }
    cfg.geo = geo;
    cfg.policy = has_policy ? pol : NULL;
    cfg.on_event = on_event;
    cfg.user = &cli;
    struct kp_engine *eng = NULL;
    if (kp_engine_new(&eng, &cfg, err, sizeof(err)) != KP_OK) {
        fprintf(stderr, "keyprov: %s\n", err);
        kp_capture_close(cap);
        free(filter);
        kp_geo_free(geo);
        kp_policy_free(pol);
        return EXIT_USAGE;
    }

    g_capture = cap;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct feed_ctx fc = {.eng = eng, .linktype = lt, .cap = cap};
    if (cfg.workers == 1) {
        fc.arena = malloc(BATCH_BYTES); /* without it, frames go one at a time */
    }
    kp_capture_on_idle(cap, on_capture_idle, &fc);
    fc.progress = !cli.quiet && copt.file != NULL && isatty(STDERR_FILENO);
    fc.start = fc.last_draw = now_s();
    char cap_err[512] = "";
    enum kp_capture_end end = kp_capture_run(cap, count, on_packet, &fc, cap_err, sizeof(cap_err));
    flush_batch(&fc);
    free(fc.arena);
    fc.arena = NULL;
    if (fc.progress && fc.last_draw > fc.start) {
        fputs("\r\033[K", stderr); /* clear the progress line */
    }
    kp_engine_finish(eng);
    if ((fflush(cli.out) != 0 || ferror(cli.out)) && !cli.out_broken) {
        cli.out_broken = 1;
        cli.out_errno = errno;
    }

    struct kp_stats st = KP_STATS_INIT;
    kp_engine_stats(eng, &st);
    uint64_t krecv = 0, kdrop = 0, kifdrop = 0;
    int have_kstats = kp_capture_kernel_stats(cap, &krecv, &kdrop, &kifdrop);
    char stats[2048];
    int sn = snprintf(stats, sizeof(stats),
             "{\"event_type\":\"stats\",\"schema\":%d,\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
             ",\"ipv4\":%" PRIu64 ",\"ipv6\":%" PRIu64 ",\"tcp\":%" PRIu64 ",\"udp\":%" PRIu64
             ",\"ip_fragments\":%" PRIu64 ",\"undecodable\":%" PRIu64 ",\"flows\":%" PRIu64
             ",\"flows_evicted_idle\":%" PRIu64 ",\"flows_evicted_full\":%" PRIu64
             ",\"tls_handshakes\":%" PRIu64 ",\"reasm_overflow\":%" PRIu64
             ",\"key_records\":%" PRIu64 ",\"flagged\":%" PRIu64 ",\"media_flows\":%" PRIu64
             ",\"sessions\":%" PRIu64 ",\"sessions_violation\":%" PRIu64
             ",\"mem_peak\":%" PRIu64 ",\"mem_limited\":%" PRIu64 ",\"reasm_dropped\":%" PRIu64
             ",\"certs_decoded\":%" PRIu64 ",\"cert_cache_hits\":%" PRIu64,
             KP_EVENT_SCHEMA_VERSION, st.packets, st.bytes, st.ipv4, st.ipv6, st.tcp, st.udp,
             st.ip_fragments, st.undecodable, st.flows_created, st.flows_evicted_idle,
             st.flows_evicted_full, st.tls_handshakes, st.reasm_overflow, st.key_records,
             st.flagged, st.media_flows, st.sessions, st.sessions_violation, st.mem_peak,
             st.mem_limited, st.reasm_dropped, st.certs_decoded, st.cert_cache_hits);
    if (have_kstats && sn > 0 && (size_t)sn < sizeof(stats)) {
        sn += snprintf(stats + sn, sizeof(stats) - (size_t)sn,
                       ",\"kernel_received\":%" PRIu64 ",\"kernel_dropped\":%" PRIu64
                       ",\"interface_dropped\":%" PRIu64, krecv, kdrop, kifdrop);
    }
    if (sn > 0 && (size_t)sn < sizeof(stats)) {
        snprintf(stats + sn, sizeof(stats) - (size_t)sn, ",\"truncated\":%s}",
                 end == KP_CAP_ERROR ? "true" : "false");
    }
    if (!cli.out_broken && cli.json) {
        printf("%s\n", stats);
    } else if (!cli.out_broken && !cli.quiet) {
        if (cli.keys == 0 && cli.media > 0) {
            printf("no key exchange visible: only media (%" PRIu64 " flows); the keys were agreed "
                   "outside this capture or end to end\n", cli.media);
        } else if (cli.keys == 0) {
            printf("no conferencing key exchange seen%s\n",
                   cfg.report_all ? "" : " (--all reports every TLS handshake)");
        }
        printf("\n%" PRIu64 " session%s: %" PRIu64 " violation, %" PRIu64 " review, %" PRIu64
               " ok; ", cli.sessions, cli.sessions == 1 ? "" : "s", cli.s_violation, cli.s_review,
               cli.s_ok);
        printf("%" PRIu64 " key record%s, %" PRIu64 " flagged", cli.keys, cli.keys == 1 ? "" : "s",
               cli.flagged);
        if (cli.ncountries > 0) {
            printf("; issuers in");
            for (size_t i = 0; i < cli.ncountries; i++) {
                printf(" %s", cli.countries[i]);
            }
        }
        if (cli.media > 0) {
            printf("\n%" PRIu64 " media flow%s, %" PRIu64 " tied to a key exchange seen here (-v lists them)",
                   cli.media, cli.media == 1 ? "" : "s", cli.media_linked);
        }
        printf("\n%" PRIu64 " packets, %" PRIu64 " flows, %" PRIu64 " TLS handshakes from %s\n",
               st.packets, st.flows_created, st.tls_handshakes, kp_capture_source(cap));
        if (st.mem_limited > 0) {
            printf("WARNING: %" PRIu64 " analyses skipped because --mem-limit was reached: "
                   "key exchanges may be missing from this report\n", st.mem_limited);
        }
        if (st.ip_fragments > 0 || st.undecodable > 0 || st.flows_evicted_full > 0) {
            printf("%" PRIu64 " IP fragments (not reassembled), %" PRIu64
                   " undecodable packets, %" PRIu64 " flows evicted (table full)\n",
                   st.ip_fragments, st.undecodable, st.flows_evicted_full);
        }
    }
    if (fflush(stdout) != 0 && !cli.out_broken) {
        cli.out_broken = 1;
        cli.out_errno = errno;
    }
    if (have_kstats) {
        fprintf(stderr, "keyprov: %s: %" PRIu64 " packets received by filter, %" PRIu64
                        " dropped by kernel, %" PRIu64 " dropped by interface\n",
                kp_capture_source(cap), krecv, kdrop, kifdrop);
    }
    int rc = st.flagged > 0 || st.sessions_violation > 0 ? EXIT_FLAGGED : EXIT_CLEAN;
    if (cli.html != NULL &&
        kp_html_close(cli.html, kp_capture_source(cap), stats, err, sizeof(err)) != 0) {
        fprintf(stderr, "keyprov: %s\n", err);
        rc = EXIT_USAGE;
    }
    if (cli.eve != NULL && kp_eve_close(cli.eve, err, sizeof(err)) != 0) {
        fprintf(stderr, "keyprov: %s\n", err);
        rc = EXIT_USAGE;
    }
    if (end == KP_CAP_ERROR) {
        fprintf(stderr, "keyprov: %s\n", cap_err);
        rc = EXIT_USAGE;
    }
    /* A reader that went away (keyprov ... | head) ends the run quietly; any
     * other write failure (a full disk) is an error. */
    if (cli.out_broken && cli.out_errno != EPIPE) {
        fprintf(stderr, "keyprov: standard output: %s\n",
                cli.out_errno != 0 ? strerror(cli.out_errno) : "write error");
        rc = EXIT_USAGE;
    }
    kp_engine_free(eng);
    kp_capture_close(cap);
    g_capture = NULL;
    free(filter);
    kp_geo_free(geo);
    kp_policy_free(pol);
    return rc;
}
