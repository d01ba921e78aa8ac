/* packet-keyprov.c: keyprov as a Wireshark/tshark 4.0 epan plugin.
 *
 * A post-dissector that adds keyprov.* fields to the packets of every flow
 * keyprov attributes to a conferencing session: the service, the key
 * exchange mechanism, the issuer of the key that protects the flow (address,
 * country, ASN), and the session's verdict under the user's policy, so that
 * `tshark -Y keyprov.flagged` prints every packet of a flagged session.
 *
 * A session's verdict is known only once its key exchanges are complete,
 * but a display filter is applied to each packet as it is read.  So, on the
 * first frame of a capture file, the plugin finds the file Wireshark is
 * reading (the keyprov.capture_file preference, $KEYPROV_PCAP, or the
 * capture file among the process's open files), checks that it is the same
 * capture (the frame being dissected must be identical in the file), and
 * runs keyprov's engine over all of it before answering; each packet then
 * looks up its 5-tuple.  When no file can be read ahead (a live capture, a
 * pipe), frames are fed to the engine as they are dissected and a result
 * marks packets from the frame at which keyprov reported it (see README.md).
 *
 * keyprov is used through include/keyprov.h only (via kpws.c).
 */
#define WS_BUILD_DLL
#define WS_LOG_DOMAIN "keyprov"

#include <wireshark.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <epan/expert.h>
#include <epan/packet.h>
#include <epan/prefs.h>
#include <epan/proto.h>
#include <wiretap/pcap-encap.h>
#include <wiretap/wtap.h>
#include <wsutil/buffer.h>

#include "keyprov.h"
#include "kpws.h"

#ifndef KPWS_GEODATA_DIRS
#define KPWS_GEODATA_DIRS "/usr/local/share/keyprov/geodata"
#endif
#ifndef KPWS_VERSION
#define KPWS_VERSION KP_VERSION_STRING
#endif

/* The plugin interface of Wireshark 4.0 (doc/README.plugins): a plugin built
 * for 4.0 loads only into 4.0.x. */
WS_DLL_PUBLIC_DEF const char plugin_version[] = KPWS_VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;
WS_DLL_PUBLIC void plugin_register(void);

static int proto_keyprov = -1;
static int hf_service = -1;
static int hf_flagged = -1;
static int hf_verdict = -1;
static int hf_reason = -1;
static int hf_session = -1;
static int hf_holder = -1;
static int hf_role = -1;
static int hf_link = -1;
static int hf_media_kind = -1;
static int hf_mechanism = -1;
static int hf_issuer = -1;
static int hf_issuer_port = -1;
static int hf_issuer_country = -1;
static int hf_issuer_scope = -1;
static int hf_issuer_asn = -1;
static int hf_issuer_org = -1;
static int hf_sni = -1;
static int hf_confidence = -1;
static int hf_key_flagged = -1;
static int hf_analysis = -1;
static int hf_notice = -1;
static gint ett_keyprov = -1;
static gint ett_key = -1;
static expert_field ei_key_flagged = EI_INIT;
static expert_field ei_session_flagged = EI_INIT;
static expert_field ei_notice = EI_INIT;

/* Preferences (Edit > Preferences > Protocols > keyprov, or -o keyprov.NAME:VALUE). */
static const char *pref_flag = "@CN";
static const char *pref_allow = "";
static const char *pref_policy = "";
static const char *pref_geo_dir = "";
static const char *pref_capture_file = "";
static gboolean pref_read_ahead = TRUE;
static gboolean pref_all = FALSE;

/* What the plugin knows about the capture file being dissected: reset by
 * the init routine each time Wireshark opens or re-dissects a file. */
struct kp_file_state {
    int started;
    struct kp_geo *geo;
    struct kp_policy *policy;
    struct kpws *ahead;   /* the whole file, read ahead; NULL if not possible */
    uint32_t ahead_frames;/* records the read-ahead saw */
    struct kpws *inc;     /* frames fed as dissected (those the read-ahead did not see) */
    GHashTable *dlt_of_encap; /* WTAP_ENCAP_* -> LINKTYPE_* the engine decodes */
    char analysis[1200];  /* how the results were obtained */
    char notice[512];     /* configuration problems, "" if none */
};

static struct kp_file_state kp_state;

static void kp_note(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Add a line to the notice shown on keyprov's packets, and log it once. */
static void kp_note(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ws_log(WS_LOG_DOMAIN, LOG_LEVEL_WARNING, "%s", line);
    size_t used = strlen(kp_state.notice);
    snprintf(kp_state.notice + used, sizeof(kp_state.notice) - used, "%s%s", used > 0 ? "; " : "",
             line);
}

static void kp_reset(void)
{
    kpws_free(kp_state.ahead);
    kpws_free(kp_state.inc);
    kp_policy_free(kp_state.policy);
    kp_geo_free(kp_state.geo);
    if (kp_state.dlt_of_encap != NULL) {
        g_hash_table_destroy(kp_state.dlt_of_encap);
    }
    memset(&kp_state, 0, sizeof(kp_state));
}

/* ------------------------------------------------------------ settings */

static int file_exists(const char *path)
{
    struct stat st;
    return path != NULL && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* country.mmdb or asn.mmdb: the keyprov.geo_dir preference, else
 * $KEYPROV_GEO_COUNTRY / $KEYPROV_GEO_ASN, else the first of $KEYPROV_GEODATA
 * and the built-in folders that has the file (as the keyprov command). */
static char *kp_geo_path(const char *file, const char *env)
{
    if (pref_geo_dir != NULL && pref_geo_dir[0] != '\0') {
        return g_build_filename(pref_geo_dir, file, NULL);
    }
    const char *e = g_getenv(env);
    if (e != NULL && e[0] != '\0') {
        return g_strdup(e);
    }
    const char *dirs_env = g_getenv("KEYPROV_GEODATA");
    char *dirs = g_strconcat(dirs_env != NULL && dirs_env[0] != '\0' ? dirs_env : "",
                             dirs_env != NULL && dirs_env[0] != '\0' ? ":" : "",
                             KPWS_GEODATA_DIRS, NULL);
    char **list = g_strsplit(dirs, ":", -1);
    char *found = NULL;
    for (char **d = list; *d != NULL && found == NULL; d++) {
        if ((*d)[0] == '\0') {
            continue;
        }
        char *p = g_build_filename(*d, file, NULL);
        if (file_exists(p)) {
            found = p;
        } else {
            g_free(p);
        }
    }
    g_strfreev(list);
    g_free(dirs);
    return found;
}

static void kp_open_settings(void)
{
    char err[256];
    if (kp_policy_new(&kp_state.policy) != KP_OK) {
        kp_note("keyprov: out of memory");
        return;
    }
    if (pref_flag != NULL && pref_flag[0] != '\0' &&
        kp_policy_flag(kp_state.policy, pref_flag, err, sizeof(err)) != KP_OK) {
        kp_note("keyprov.flag \"%s\": %s", pref_flag, err);
    }
    if (pref_allow != NULL && pref_allow[0] != '\0' &&
        kp_policy_allow(kp_state.policy, pref_allow, err, sizeof(err)) != KP_OK) {
        kp_note("keyprov.allow \"%s\": %s", pref_allow, err);
    }
    if (pref_policy != NULL && pref_policy[0] != '\0' &&
        kp_policy_load(kp_state.policy, pref_policy, err, sizeof(err)) != KP_OK) {
        kp_note("keyprov.policy: %s", err);
    }

    char *country = kp_geo_path("country.mmdb", "KEYPROV_GEO_COUNTRY");
    char *asn = kp_geo_path("asn.mmdb", "KEYPROV_GEO_ASN");
    if (country == NULL && asn == NULL) {
        kp_note("no geolocation database found (set keyprov.geo_dir or KEYPROV_GEODATA): "
                "issuer countries are unknown");
    } else if (kp_geo_open(&kp_state.geo, country, asn, err, sizeof(err)) != KP_OK) {
        kp_note("geolocation: %s", err);
        kp_state.geo = NULL;
    }
    g_free(country);
    g_free(asn);

    /* Wiretap numbers link types its own way (WTAP_ENCAP_*); map back to
     * the pcap LINKTYPE_ values keyprov's engine decodes. */
    kp_state.dlt_of_encap = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (int lt = 0; lt < 300; lt++) {
        if (!kp_linktype_supported(lt)) {
            continue;
        }
        int encap = wtap_pcap_encap_to_wtap_encap(lt);
        if (encap > 0 && !g_hash_table_contains(kp_state.dlt_of_encap, GINT_TO_POINTER(encap))) {
            g_hash_table_insert(kp_state.dlt_of_encap, GINT_TO_POINTER(encap),
                                GINT_TO_POINTER(lt + 1));
        }
    }
}

/* The LINKTYPE_ value of a WTAP_ENCAP_, or -1. */
static int kp_linktype(int encap)
{
    gpointer v = g_hash_table_lookup(kp_state.dlt_of_encap, GINT_TO_POINTER(encap));
    return v != NULL ? GPOINTER_TO_INT(v) - 1 : -1;
}

/* --------------------------------------------------- the capture file */

/* Wireshark and tshark capture live through a dumpcap child writing a
 * temporary file that they read as it grows: such a file cannot be read
 * ahead. */
static int kp_live_capture_running(void)
{
    DIR *d = opendir("/proc");
    if (d == NULL) {
        return 0;
    }
    int live = 0;
    pid_t me = getpid();
    struct dirent *de;
    while (!live && (de = readdir(d)) != NULL) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') {
            continue;
        }
        char path[300], buf[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        FILE *fp = fopen(path, "r");
        if (fp == NULL) {
            continue;
        }
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        buf[n] = '\0';
        /* "pid (comm) state ppid ...": comm may hold spaces and parentheses */
        char *open = strchr(buf, '(');
        char *close = strrchr(buf, ')');
        long ppid = 0;
        char state;
        if (open == NULL || close == NULL || close < open ||
            sscanf(close + 1, " %c %ld", &state, &ppid) != 2) {
            continue;
        }
        *close = '\0';
        if (ppid == (long)me && strcmp(open + 1, "dumpcap") == 0) {
            live = 1;
        }
    }
    closedir(d);
    return live;
}

/* Whether record rec is the frame being dissected. */
static int kp_same_frame(const wtap_rec *rec, const packet_info *pinfo)
{
    if (rec->ts.secs != pinfo->abs_ts.secs || rec->ts.nsecs != pinfo->abs_ts.nsecs) {
        return 0;
    }
    if (rec->rec_type == REC_TYPE_PACKET) {
        return rec->rec_header.packet_header.caplen == pinfo->fd->cap_len &&
               rec->rec_header.packet_header.len == pinfo->fd->pkt_len;
    }
    return 1;
}

/* Read the capture at path through wiretap (the reader Wireshark itself
 * uses, so records and frame numbers agree) and feed all of it to a new
 * engine.  Succeeds only if the record numbered like the frame being
 * dissected is that frame. */
static struct kpws *kp_read_ahead(const char *path, packet_info *pinfo, uint32_t *frames,
                                  char *why, size_t whylen)
{
    int err = 0;
    gchar *err_info = NULL;
    wtap *wth = wtap_open_offline(path, WTAP_TYPE_AUTO, &err, &err_info, FALSE);
    if (wth == NULL) {
        snprintf(why, whylen, "not a capture file wiretap can read (error %d)", err);
        g_free(err_info);
        return NULL;
    }
    struct kpws *w = NULL;
    char kerr[256];
    if (kpws_new(&w, KPWS_READ_AHEAD, kp_state.geo, kp_state.policy, pref_all, kerr,
                 sizeof(kerr)) != KP_OK) {
        snprintf(why, whylen, "%s", kerr);
        wtap_close(wth);
        return NULL;
    }
    wtap_rec rec;
    Buffer buf;
    gint64 offset;
    uint32_t n = 0;
    int verified = 0;
    wtap_rec_init(&rec);
    ws_buffer_init(&buf, 2048);
    while (wtap_read(wth, &rec, &buf, &err, &err_info, &offset)) {
        n++;
        if (n == pinfo->num) {
            verified = kp_same_frame(&rec, pinfo);
            if (!verified) {
                break;
            }
        }
        if (rec.rec_type == REC_TYPE_PACKET) {
            int lt = kp_linktype(rec.rec_header.packet_header.pkt_encap);
            uint64_t ts_us = (uint64_t)rec.ts.secs * 1000000u + (uint64_t)rec.ts.nsecs / 1000u;
            if (lt >= 0) {
                (void)kpws_feed(w, lt, ts_us, ws_buffer_start_ptr(&buf),
                                rec.rec_header.packet_header.caplen,
                                rec.rec_header.packet_header.len, n);
            }
        }
        wtap_rec_reset(&rec);
    }
    /* A read error (e.g. a truncated last record) ends the file as it ends
     * for Wireshark. */
    g_free(err_info);
    wtap_rec_cleanup(&rec);
    ws_buffer_free(&buf);
    wtap_close(wth);
    if (!verified) {
        snprintf(why, whylen, "it is not the capture being dissected");
        kpws_free(w);
        return NULL;
    }
    kpws_finish(w);
    *frames = n;
    return w;
}

/* Whether file descriptor fd is a regular file open for reading. */
static int kp_readable_regular_fd(const char *fd)
{
    char path[64], line[128];
    struct stat st;
    snprintf(path, sizeof(path), "/proc/self/fd/%s", fd);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", fd);
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        return 0;
    }
    int ok = 0;
    while (fgets(line, sizeof(line), fp) != NULL) {
        unsigned long flags;
        if (sscanf(line, "flags: %lo", &flags) == 1) {
            ok = (flags & O_ACCMODE) != O_WRONLY;
            break;
        }
    }
    fclose(fp);
    return ok;
}

/* Find the capture file and read it ahead.  Sets kp_state.ahead and the
 * analysis text. */
static void kp_find_and_read(packet_info *pinfo)
{
    char why[256] = "";
    const char *env = g_getenv("KEYPROV_PCAP");
    const char *named[2] = {pref_capture_file, env};
    const char *named_what[2] = {"keyprov.capture_file", "KEYPROV_PCAP"};

    if (kp_live_capture_running()) {
        snprintf(kp_state.analysis, sizeof(kp_state.analysis),
                 "live capture: frames analysed as they arrive");
        return;
    }
    for (int i = 0; i < 2; i++) {
        if (named[i] == NULL || named[i][0] == '\0') {
            continue;
        }
        kp_state.ahead = kp_read_ahead(named[i], pinfo, &kp_state.ahead_frames, why, sizeof(why));
        if (kp_state.ahead != NULL) {
            snprintf(kp_state.analysis, sizeof(kp_state.analysis), "whole capture read ahead: %s",
                     named[i]);
            return;
        }
        kp_note("%s %s: %s", named_what[i], named[i], why);
    }
    /* The file Wireshark is reading is one of this process's open files
     * (Linux /proc; elsewhere set keyprov.capture_file). */
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        GPtrArray *fds = g_ptr_array_new_with_free_func(g_free);
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] >= '0' && de->d_name[0] <= '9') {
                g_ptr_array_add(fds, g_strdup(de->d_name));
            }
        }
        closedir(d);
        for (guint i = 0; i < fds->len && kp_state.ahead == NULL; i++) {
            const char *fd = g_ptr_array_index(fds, i);
            if (!kp_readable_regular_fd(fd)) {
                continue;
            }
            char path[64], real[1024];
            snprintf(path, sizeof(path), "/proc/self/fd/%s", fd);
            kp_state.ahead = kp_read_ahead(path, pinfo, &kp_state.ahead_frames, why, sizeof(why));
            if (kp_state.ahead != NULL) {
                ssize_t n = readlink(path, real, sizeof(real) - 1);
                real[n > 0 ? n : 0] = '\0';
                snprintf(kp_state.analysis, sizeof(kp_state.analysis),
                         "whole capture read ahead: %s", n > 0 ? real : path);
            }
        }
        g_ptr_array_unref(fds);
    }
    if (kp_state.ahead == NULL) {
        snprintf(kp_state.analysis, sizeof(kp_state.analysis),
                 "capture file not readable ahead (pipe or standard input?): frames analysed as "
                 "they are dissected; set keyprov.capture_file or KEYPROV_PCAP");
    }
}

static void kp_start(packet_info *pinfo)
{
    kp_state.started = 1;
    kp_open_settings();
    if (pref_read_ahead) {
        kp_find_and_read(pinfo);
    } else {
        snprintf(kp_state.analysis, sizeof(kp_state.analysis),
                 "read-ahead off (keyprov.read_ahead): frames analysed as they are dissected");
    }
}

/* ------------------------------------------------------------ dissect */

static int kp_addr_of(const address *a, struct kpws_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (a->type == AT_IPv4 && a->len == 4) {
        out->family = 4;
        memcpy(out->b, a->data, 4);
        return 1;
    }
    if (a->type == AT_IPv6 && a->len == 16) {
        out->family = 6;
        memcpy(out->b, a->data, 16);
        return 1;
    }
    return 0;
}

static void kp_feed_frame(tvbuff_t *tvb, packet_info *pinfo)
{
    if (pinfo->rec == NULL || pinfo->rec->rec_type != REC_TYPE_PACKET) {
        return;
    }
    int lt = kp_linktype(pinfo->rec->rec_header.packet_header.pkt_encap);
    if (lt < 0) {
        return;
    }
    if (kp_state.inc == NULL) {
        char err[256];
        if (kpws_new(&kp_state.inc, KPWS_INCREMENTAL, kp_state.geo, kp_state.policy, pref_all, err,
                     sizeof(err)) != KP_OK) {
            kp_note("keyprov: %s", err);
            return;
        }
        if (kp_state.ahead != NULL) {
            /* the file grew after it was read ahead */
            size_t used = strlen(kp_state.analysis);
            snprintf(kp_state.analysis + used, sizeof(kp_state.analysis) - used,
                     "; frames after %u analysed as they are dissected", kp_state.ahead_frames);
        }
    }
    guint len = tvb_captured_length(tvb);
    const guint8 *data = len > 0 ? tvb_get_ptr(tvb, 0, (gint)len) : NULL;
    uint64_t ts_us = (uint64_t)pinfo->abs_ts.secs * 1000000u + (uint64_t)pinfo->abs_ts.nsecs / 1000u;
    (void)kpws_feed(kp_state.inc, lt, ts_us, data, len, tvb_reported_length(tvb), pinfo->num);
}

static void kp_add_str(proto_tree *t, int hf, tvbuff_t *tvb, const char *s)
{
    if (s != NULL && s[0] != '\0') {
        proto_item_set_generated(proto_tree_add_string(t, hf, tvb, 0, 0, s));
    }
}

static int dissect_keyprov(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    (void)data;
    if (!kp_state.started) {
        kp_start(pinfo);
    }
    if (!PINFO_FD_VISITED(pinfo) && (kp_state.ahead == NULL || pinfo->num > kp_state.ahead_frames)) {
        kp_feed_frame(tvb, pinfo);
    }

    struct kpws_addr src, dst;
    int ipproto = pinfo->ptype == PT_TCP ? 6 : pinfo->ptype == PT_UDP ? 17 : 0;
    if (ipproto == 0 || !kp_addr_of(&pinfo->src, &src) || !kp_addr_of(&pinfo->dst, &dst)) {
        if (ipproto == 0 || !kp_addr_of(&pinfo->net_src, &src) ||
            !kp_addr_of(&pinfo->net_dst, &dst)) {
            return 0;
        }
    }
    int64_t ts_us = (int64_t)pinfo->abs_ts.secs * 1000000 + pinfo->abs_ts.nsecs / 1000;
    const struct kpws_flow *f = NULL;
    if (kp_state.ahead != NULL && pinfo->num <= kp_state.ahead_frames) {
        f = kpws_lookup(kp_state.ahead, ipproto, &src, (uint16_t)pinfo->srcport, &dst,
                        (uint16_t)pinfo->destport, ts_us, pinfo->num);
    } else {
        f = kpws_lookup(kp_state.inc, ipproto, &src, (uint16_t)pinfo->srcport, &dst,
                        (uint16_t)pinfo->destport, ts_us, pinfo->num);
        if (f == NULL && kp_state.ahead != NULL) {
            f = kpws_lookup(kp_state.ahead, ipproto, &src, (uint16_t)pinfo->srcport, &dst,
                            (uint16_t)pinfo->destport, ts_us, pinfo->num);
        }
    }
    if (f == NULL) {
        return 0;
    }

    const struct kpws_session *s = f->session;
    const struct kpws_key *k = f->key;
    proto_item *ti = proto_tree_add_item(tree, proto_keyprov, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(ti);
    proto_item_append_text(ti, ": %s%s%s", f->flagged ? "FLAGGED " : "", f->service,
                           s != NULL ? "" : " (no session yet)");
    if (s != NULL) {
        proto_item_append_text(ti, ", session %u %s", s->id, s->verdict);
    }
    if (k != NULL) {
        proto_item_append_text(ti, ", key from %s (%s)", k->issuer_ip,
                               k->country[0] != '\0' ? k->country
                               : k->scope[0] != '\0' ? k->scope : "??");
    }
    proto_tree *st = proto_item_add_subtree(ti, ett_keyprov);

    kp_add_str(st, hf_service, tvb, f->service);
    if (f->flagged) {
        /* present only when true, so that the bare filter keyprov.flagged
         * (a presence test) selects exactly the flagged packets */
        proto_item_set_generated(proto_tree_add_boolean(st, hf_flagged, tvb, 0, 0, TRUE));
    }
    if (s != NULL) {
        kp_add_str(st, hf_verdict, tvb, s->verdict);
        kp_add_str(st, hf_reason, tvb, s->reason);
        proto_item_set_generated(proto_tree_add_uint(st, hf_session, tvb, 0, 0, s->id));
        kp_add_str(st, hf_holder, tvb, s->holder);
    } else if (k != NULL && k->flagged) {
        kp_add_str(st, hf_reason, tvb, k->reason);
    }
    kp_add_str(st, hf_role, tvb, f->role);
    kp_add_str(st, hf_link, tvb, f->link);
    kp_add_str(st, hf_media_kind, tvb, f->media_kind);
    if (k != NULL) {
        proto_item *ki = proto_tree_add_string(st, hf_mechanism, tvb, 0, 0, k->mechanism);
        proto_item_set_generated(ki);
        proto_tree *kt = proto_item_add_subtree(ki, ett_key);
        kp_add_str(kt, hf_issuer, tvb, k->issuer_ip);
        proto_item_set_generated(proto_tree_add_uint(kt, hf_issuer_port, tvb, 0, 0, k->issuer_port));
        kp_add_str(kt, hf_issuer_country, tvb, k->country);
        kp_add_str(kt, hf_issuer_scope, tvb, k->scope);
        if (k->asn != 0) {
            proto_item_set_generated(proto_tree_add_uint(kt, hf_issuer_asn, tvb, 0, 0, k->asn));
        }
        kp_add_str(kt, hf_issuer_org, tvb, k->as_org);
        kp_add_str(kt, hf_sni, tvb, k->sni);
        kp_add_str(kt, hf_confidence, tvb, k->confidence);
        if (f->key_flagged) {
            proto_item_set_generated(proto_tree_add_boolean(kt, hf_key_flagged, tvb, 0, 0, TRUE));
        }
    }
    kp_add_str(st, hf_analysis, tvb, kp_state.analysis);
    if (kp_state.notice[0] != '\0') {
        proto_item *ni = proto_tree_add_string(st, hf_notice, tvb, 0, 0, kp_state.notice);
        proto_item_set_generated(ni);
        expert_add_info_format(pinfo, ni, &ei_notice, "keyprov: %s", kp_state.notice);
    }

    if (f->flagged) {
        col_append_str(pinfo->cinfo, COL_INFO, " [keyprov: FLAGGED]");
        if (f->key_flagged && k != NULL) {
            expert_add_info_format(pinfo, ti, &ei_key_flagged,
                                   "%s key issued by %s (%s AS%u): %s", f->service, k->issuer_ip,
                                   k->country[0] != '\0' ? k->country : "??", k->asn, k->reason);
        } else {
            expert_add_info_format(pinfo, ti, &ei_session_flagged,
                                   "flow of a flagged %s session: %s", f->service,
                                   s != NULL && s->reason[0] != '\0' ? s->reason
                                   : k != NULL ? k->reason : "violation");
        }
    }
    return (int)tvb_captured_length(tvb);
}

/* ------------------------------------------------------------ register */

static void kp_prefs_changed(void)
{
    /* Wireshark re-dissects after a change; start over then. */
    kp_reset();
}

static void proto_register_keyprov(void)
{
    static hf_register_info hf[] = {
        {&hf_service, {"Service", "keyprov.service", FT_STRING, BASE_NONE, NULL, 0x0,
                       "Conferencing service of the session this flow belongs to", HFILL}},
        {&hf_flagged, {"Flagged", "keyprov.flagged", FT_BOOLEAN, BASE_NONE, NULL, 0x0,
                       "Present (true) on every packet of a session whose verdict is violation "
                       "under the keyprov policy", HFILL}},
        {&hf_verdict, {"Verdict", "keyprov.verdict", FT_STRING, BASE_NONE, NULL, 0x0,
                       "Session verdict: violation, review or ok", HFILL}},
        {&hf_reason, {"Reason", "keyprov.reason", FT_STRING, BASE_NONE, NULL, 0x0,
                      "The rule or finding that decided the verdict", HFILL}},
        {&hf_session, {"Session", "keyprov.session", FT_UINT32, BASE_DEC, NULL, 0x0,
                       "keyprov session number (one client, one service)", HFILL}},
        {&hf_holder, {"Key holder", "keyprov.holder", FT_STRING, BASE_NONE, NULL, 0x0,
                      "Who can decrypt the media: server, endpoints, anyone-on-path, unknown",
                      HFILL}},
        {&hf_role, {"Flow role", "keyprov.role", FT_STRING, BASE_NONE, NULL, 0x0,
                    "key-exchange, relayed-key-exchange, relay, media or control+media", HFILL}},
        {&hf_link, {"Why in session", "keyprov.link", FT_STRING, BASE_NONE, NULL, 0x0,
                    "Why keyprov put this flow in the session", HFILL}},
        {&hf_media_kind, {"Media", "keyprov.media_kind", FT_STRING, BASE_NONE, NULL, 0x0,
                          "zoom, rtp or srtp", HFILL}},
        {&hf_mechanism, {"Key mechanism", "keyprov.mechanism", FT_STRING, BASE_NONE, NULL, 0x0,
                         "How the key protecting this flow was established", HFILL}},
        {&hf_issuer, {"Issuer", "keyprov.issuer", FT_STRING, BASE_NONE, NULL, 0x0,
                      "Address of the party that issued or negotiated the key", HFILL}},
        {&hf_issuer_port, {"Issuer port", "keyprov.issuer_port", FT_UINT16, BASE_DEC, NULL, 0x0,
                           NULL, HFILL}},
        {&hf_issuer_country, {"Issuer country", "keyprov.issuer_country", FT_STRING, BASE_NONE,
                              NULL, 0x0, "ISO 3166-1 alpha-2 country of the issuer", HFILL}},
        {&hf_issuer_scope, {"Issuer scope", "keyprov.issuer_scope", FT_STRING, BASE_NONE, NULL,
                            0x0, "Special-purpose address (private, loopback, ...), not geolocated",
                            HFILL}},
        {&hf_issuer_asn, {"Issuer ASN", "keyprov.issuer_asn", FT_UINT32, BASE_DEC, NULL, 0x0,
                          "Autonomous system of the issuer", HFILL}},
        {&hf_issuer_org, {"Issuer AS organisation", "keyprov.issuer_org", FT_STRING, BASE_NONE,
                          NULL, 0x0, NULL, HFILL}},
        {&hf_sni, {"Server name", "keyprov.sni", FT_STRING, BASE_NONE, NULL, 0x0,
                   "Server name the client asked for", HFILL}},
        {&hf_confidence, {"Confidence", "keyprov.confidence", FT_STRING, BASE_NONE, NULL, 0x0,
                          "high, medium or low", HFILL}},
        {&hf_key_flagged, {"Key flagged", "keyprov.key_flagged", FT_BOOLEAN, BASE_NONE, NULL, 0x0,
                           "Present (true) when this flow's own key record is flagged", HFILL}},
        {&hf_analysis, {"Analysis", "keyprov.analysis", FT_STRING, BASE_NONE, NULL, 0x0,
                        "How keyprov obtained this result", HFILL}},
        {&hf_notice, {"Notice", "keyprov.notice", FT_STRING, BASE_NONE, NULL, 0x0,
                      "A configuration problem", HFILL}},
    };
    static gint *ett[] = {&ett_keyprov, &ett_key};
    static ei_register_info ei[] = {
        {&ei_key_flagged, {"keyprov.expert.key_flagged", PI_SECURITY, PI_WARN,
                           "Session key issued in a flagged jurisdiction", EXPFILL}},
        {&ei_session_flagged, {"keyprov.expert.session_flagged", PI_SECURITY, PI_WARN,
                               "Flow of a flagged session", EXPFILL}},
        {&ei_notice, {"keyprov.expert.notice", PI_PROTOCOL, PI_WARN, "keyprov configuration",
                      EXPFILL}},
    };

    proto_keyprov = proto_register_protocol("keyprov: session key provenance", "keyprov",
                                            "keyprov");
    proto_register_field_array(proto_keyprov, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    expert_module_t *em = expert_register_protocol(proto_keyprov);
    expert_register_field_array(em, ei, array_length(ei));

    module_t *m = prefs_register_protocol(proto_keyprov, kp_prefs_changed);
    prefs_register_string_preference(m, "flag", "Flag keys issued in",
        "Comma-separated ISO 3166 country codes, @groups (@CN @EU @EEA @FVEY @NATO @RU) and "
        "ASNs (AS55960), as keyprov --flag", &pref_flag);
    prefs_register_string_preference(m, "allow", "Allow only keys issued in",
        "Flag keys issued outside these countries/@groups, as keyprov --allow (empty: off)",
        &pref_allow);
    prefs_register_filename_preference(m, "policy", "Policy file",
        "keyprov policy file (docs/policy.md), as keyprov --policy (empty: none)", &pref_policy,
        FALSE);
    prefs_register_directory_preference(m, "geo_dir", "Geolocation folder",
        "Folder with country.mmdb and asn.mmdb (empty: $KEYPROV_GEO_COUNTRY/$KEYPROV_GEO_ASN, "
        "$KEYPROV_GEODATA, then " KPWS_GEODATA_DIRS ")", &pref_geo_dir);
    prefs_register_bool_preference(m, "all", "Report unknown services",
        "Also key records for TLS handshakes of services the rules do not know, as keyprov --all",
        &pref_all);
    prefs_register_bool_preference(m, "read_ahead", "Read the capture ahead",
        "On the first frame, run keyprov over the whole capture file so that every packet of a "
        "flagged session is marked, including those before its key exchange completed",
        &pref_read_ahead);
    prefs_register_filename_preference(m, "capture_file", "Capture file (fallback)",
        "Path of the capture being read, when the plugin cannot find it itself (non-Linux); "
        "also $KEYPROV_PCAP.  Ignored unless it holds the frames being dissected",
        &pref_capture_file, FALSE);

    register_postdissector(create_dissector_handle(dissect_keyprov, proto_keyprov));
    register_init_routine(kp_reset);
    register_cleanup_routine(kp_reset);
}

void plugin_register(void)
{
    static proto_plugin plug;
    plug.register_protoinfo = proto_register_keyprov;
    plug.register_handoff = NULL;
    proto_register_plugin(&plug);
}
