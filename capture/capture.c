/* libpcap front end, see capture.h. */
#include "capture.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Kernel buffer: a burst of handshakes (each costs keyprov tens of
 * microseconds) must not overflow it; tcpdump's default is 2 MiB. */
#define DEFAULT_BUFFER_KIB (32 * 1024)
#define DEFAULT_SNAPLEN 262144

struct kp_capture {
    pcap_t *p;
    char source[512];
    bool live;
    volatile sig_atomic_t stop;
    uint64_t delivered, count;
    kp_capture_cb cb;
    void *user;
    void (*idle)(void *user);
    void *idle_user;
    uint64_t file_size;
};

static void clip(char *s)
{
    /* libpcap messages sometimes end with a newline */
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
}

static struct kp_capture *open_file(const struct kp_capture_opts *o, char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    struct kp_capture *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "%s: out of memory", o->file);
        return NULL;
    }
    snprintf(c->source, sizeof(c->source), "%s", strcmp(o->file, "-") == 0 ? "<stdin>" : o->file);
    struct stat sb;
    if (strcmp(o->file, "-") != 0) {
        if (stat(o->file, &sb) != 0) {
            snprintf(err, errlen, "%s: %s", o->file, strerror(errno));
            free(c);
            return NULL;
        }
        if (S_ISDIR(sb.st_mode)) {
            snprintf(err, errlen, "%s: is a directory, not a capture file", o->file);
            free(c);
            return NULL;
        }
        if (S_ISREG(sb.st_mode)) {
            c->file_size = (uint64_t)sb.st_size;
        }
        if (S_ISREG(sb.st_mode) && sb.st_size == 0) {
            snprintf(err, errlen, "%s: empty file, not a pcap or pcapng capture", o->file);
            free(c);
            return NULL;
        }
    }
    c->p = pcap_open_offline_with_tstamp_precision(o->file, PCAP_TSTAMP_PRECISION_MICRO, perr);
    if (c->p == NULL) {
        clip(perr);
        if (strstr(perr, "unknown file format") != NULL) {
            snprintf(err, errlen, "%s: not a pcap or pcapng capture (unknown file format)",
                     c->source);
        } else if (strstr(perr, "truncated") != NULL) {
            snprintf(err, errlen, "%s: truncated capture header (%s)", c->source, perr);
        } else {
            snprintf(err, errlen, "%s: %s", c->source, perr);
        }
        free(c);
        return NULL;
    }
    return c;
}

static struct kp_capture *open_live(const struct kp_capture_opts *o, char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    struct kp_capture *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "%s: out of memory", o->iface);
        return NULL;
    }
    snprintf(c->source, sizeof(c->source), "%s", o->iface);
    c->live = true;
    c->p = pcap_create(o->iface, perr);
    if (c->p == NULL) {
        clip(perr);
        snprintf(err, errlen, "interface %s: %s", o->iface, perr);
        free(c);
        return NULL;
    }
    pcap_set_snaplen(c->p, o->snaplen > 0 ? o->snaplen : DEFAULT_SNAPLEN);
    pcap_set_promisc(c->p, o->promisc ? 1 : 0);
    /* Not immediate mode: the kernel hands over blocks of packets (TPACKET_V3)
     * at most 100 ms apart, one wake-up per block instead of per packet, as
     * tcpdump -w does.  keyprov's events are not that urgent. */
    pcap_set_immediate_mode(c->p, 0);
    pcap_set_timeout(c->p, 100);
    pcap_set_buffer_size(c->p, (o->buffer_kib > 0 ? o->buffer_kib : DEFAULT_BUFFER_KIB) * 1024);
    int rc = pcap_activate(c->p);
    if (rc < 0) {
        char *pe = pcap_geterr(c->p);
        clip(pe);
        switch (rc) {
        case PCAP_ERROR_NO_SUCH_DEVICE:
            snprintf(err, errlen, "interface %s: no such device", o->iface);
            break;
        case PCAP_ERROR_PERM_DENIED:
            snprintf(err, errlen,
                     "interface %s: permission denied (run as root or grant CAP_NET_RAW and CAP_NET_ADMIN)",
                     o->iface);
            break;
        case PCAP_ERROR_IFACE_NOT_UP:
            snprintf(err, errlen, "interface %s: interface is down", o->iface);
            break;
        default:
            snprintf(err, errlen, "interface %s: %s", o->iface,
                     pe[0] != '\0' ? pe : pcap_statustostr(rc));
            break;
        }
        pcap_close(c->p);
        free(c);
        return NULL;
    }
    return c;
}

struct kp_capture *kp_capture_open(const struct kp_capture_opts *o, char *err, size_t errlen)
{
    struct kp_capture *c = o->file != NULL ? open_file(o, err, errlen) : open_live(o, err, errlen);
    if (c == NULL) {
        return NULL;
    }
    if (o->filter != NULL && o->filter[0] != '\0') {
        struct bpf_program prog;
        bpf_u_int32 net = 0, mask = PCAP_NETMASK_UNKNOWN;
        if (c->live) {
            char perr[PCAP_ERRBUF_SIZE];
            if (pcap_lookupnet(o->iface, &net, &mask, perr) != 0) {
                net = 0;
                mask = PCAP_NETMASK_UNKNOWN;
            }
        }
        if (pcap_compile(c->p, &prog, o->filter, 1, mask) != 0) {
            char *pe = pcap_geterr(c->p);
            clip(pe);
            snprintf(err, errlen, "bad filter expression '%s': %s", o->filter, pe);
            kp_capture_close(c);
            return NULL;
        }
        int rc = pcap_setfilter(c->p, &prog);
        pcap_freecode(&prog);
        if (rc != 0) {
            char *pe = pcap_geterr(c->p);
            clip(pe);
            snprintf(err, errlen, "%s: cannot set filter: %s", c->source, pe);
            kp_capture_close(c);
            return NULL;
        }
    }
    return c;
}

void kp_capture_close(struct kp_capture *c)
{
    if (c == NULL) {
        return;
    }
    if (c->p != NULL) {
        pcap_close(c->p);
    }
    free(c);
}

int kp_capture_linktype(const struct kp_capture *c) { return pcap_datalink(c->p); }

const char *kp_capture_linktype_name(const struct kp_capture *c)
{
    const char *n = pcap_datalink_val_to_name(pcap_datalink(c->p));
    return n != NULL ? n : "unknown";
}

const char *kp_capture_source(const struct kp_capture *c) { return c->source; }

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    struct kp_capture *c = (struct kp_capture *)(void *)user;
    uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
    c->cb(ts, data, h->caplen, h->len, c->user);
    c->delivered++;
    if (c->count != 0 && c->delivered >= c->count) {
        pcap_breakloop(c->p);
    }
}

enum kp_capture_end kp_capture_run(struct kp_capture *c, uint64_t count, kp_capture_cb cb,
                                   void *user, char *err, size_t errlen)
{
    c->cb = cb;
    c->user = user;
    c->count = count;
    for (;;) {
        if (c->stop) {
            return KP_CAP_STOPPED;
        }
        int n = pcap_dispatch(c->p, -1, on_packet, (u_char *)(void *)c);
        if (c->live && c->idle != NULL) {
            c->idle(c->idle_user); /* after each kernel buffer or 100 ms timeout */
        }
        if (count != 0 && c->delivered >= count) {
            return KP_CAP_COUNT;
        }
        if (n == PCAP_ERROR_BREAK) {
            return c->stop ? KP_CAP_STOPPED : KP_CAP_STOPPED;
        }
        if (n == PCAP_ERROR) {
            char *pe = pcap_geterr(c->p);
            clip(pe);
            if (!c->live && strstr(pe, "truncated") != NULL) {
                snprintf(err, errlen, "%s: capture is truncated after %llu packets (%s)",
                         c->source, (unsigned long long)c->delivered, pe);
            } else {
                snprintf(err, errlen, "%s: %s", c->source, pe);
            }
            return KP_CAP_ERROR;
        }
        if (n == 0 && !c->live) {
            return KP_CAP_EOF;
        }
    }
}

void kp_capture_on_idle(struct kp_capture *c, void (*fn)(void *user), void *user)
{
    c->idle = fn;
    c->idle_user = user;
}

void kp_capture_stop(struct kp_capture *c)
{
    if (c != NULL) {
        c->stop = 1;
        pcap_breakloop(c->p);
    }
}

bool kp_capture_kernel_stats(struct kp_capture *c, uint64_t *recv, uint64_t *drop,
                             uint64_t *ifdrop)
{
    struct pcap_stat ps;
    if (!c->live || pcap_stats(c->p, &ps) != 0) {
        return false;
    }
    *recv = ps.ps_recv;
    *drop = ps.ps_drop;
    *ifdrop = ps.ps_ifdrop;
    return true;
}

void kp_capture_progress(struct kp_capture *c, uint64_t *pos, uint64_t *total)
{
    *total = c->file_size;
    *pos = 0;
    if (!c->live) {
        FILE *fp = pcap_file(c->p);
        long off = fp != NULL ? ftell(fp) : -1;
        *pos = off > 0 ? (uint64_t)off : 0;
    }
}
