/*
 * mkcap — builds the captures that bench/run times (a benchmark helper, not part of
 * `meson test`; bench/run compiles it with cc).
 *
 *   mkcap mix -o OUT --manifest FILE --size-mib N [--seed S] [--span-s S]
 *             [--gap-cap-ms MS] [--share CLASS=F,...]
 *   mkcap flows -o OUT --flows N [--seed S]
 *
 * mix: reads the template captures listed in FILE (one "CLASS PATH" a line), converts
 * every packet to Ethernet, and writes replicas of them until the output holds about N
 * MiB. Each replica gets its own client addresses (private addresses and the capture's
 * vantage host become distinct 10.0.0.0/8 or fd00::/8 addresses; public servers keep
 * theirs, so geolocation and service detection still work), a start time drawn in
 * [0, span) and the template's own packet timing (gaps longer than gap-cap are
 * shortened, since some public captures are stitched from sessions years apart). The
 * replicas are merged by time. IPv4 header and TCP/UDP/ICMPv6 checksums are updated
 * for the new addresses (RFC 1624 incremental update, so a checksum that was valid stays
 * valid, and one that was not (offload) stays as it was). Classes are filled to their
 * share of bytes; within a class every template is equally likely.
 *
 * flows: N TCP flows with distinct 5-tuples, all open at once: N SYNs, then one data
 * packet per flow carrying a TLS ClientHello (SNI cycling through web and conferencing
 * names), never answered.
 *
 * The same arguments and templates give the same bytes (fixed-seed PRNG, no clock, no
 * hash randomisation). A JSON summary goes to standard output.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* u_int and friends in <pcap/bpf.h> */
#endif
#include <pcap/pcap.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETH_HLEN 14u
#define MAX_CLASSES 8
#define OUT_BUF (1u << 22)

struct addr {
    uint8_t ver;      /* 4 or 6 */
    uint8_t a[16];    /* IPv4 in the first 4 bytes */
    bool rewrite;     /* replaced per replica */
};

struct tpkt {
    uint64_t off;     /* frame bytes in tmpl.data */
    uint32_t caplen;
    uint32_t len;
    int64_t t_us;     /* from the template's first packet, gaps capped */
    uint16_t l3;      /* offset of the IP header, 0 = not IP */
    uint16_t l4;      /* offset of the L4 header, 0 = none (or not first fragment) */
    uint8_t ipver;
    uint8_t proto;
    int32_t src;      /* index into tmpl.addrs, -1 = none */
    int32_t dst;
    uint16_t sport;
    uint16_t dport;
};

struct tmpl {
    char *path;
    int cls;
    uint8_t *data;
    uint64_t data_len;
    uint64_t data_cap;
    struct tpkt *pkts;
    size_t npkts;
    size_t pkts_cap;
    struct addr *addrs;
    size_t naddrs;
    size_t addrs_cap;
    size_t nrewrite;
    uint64_t rec_bytes;   /* bytes it adds to a pcap file (records and headers) */
    int64_t dur_us;
    uint64_t used;        /* replicas made */
};

struct replica {
    uint32_t t;           /* template index */
    uint32_t next;        /* next packet */
    int64_t start_us;
    uint64_t map_base;    /* first address counter value of this replica */
};

struct out {
    FILE *f;
    uint8_t *buf;
    size_t used;
    uint64_t file_bytes;
    uint64_t packets;
    uint64_t wire_bytes;
    uint64_t cap_bytes;
    uint64_t fnv;
};

static void die(const char *msg, const char *arg)
{
    fprintf(stderr, "mkcap: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(2);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        die("out of memory", NULL);
    }
    return q;
}

/* splitmix64: small, fixed, and the same everywhere. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* ---- output ---------------------------------------------------------------------- */

static void out_write(struct out *o, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        o->fnv = (o->fnv ^ b[i]) * 0x100000001b3ull;
    }
    if (o->used + n > OUT_BUF) {
        if (fwrite(o->buf, 1, o->used, o->f) != o->used) {
            die("write failed", strerror(errno));
        }
        o->used = 0;
    }
    memcpy(o->buf + o->used, p, n);
    o->used += n;
    o->file_bytes += n;
}

static void out_open(struct out *o, const char *path)
{
    memset(o, 0, sizeof(*o));
    o->f = fopen(path, "wb");
    if (o->f == NULL) {
        die("cannot create output", path);
    }
    o->buf = xrealloc(NULL, OUT_BUF);
    o->fnv = 0xcbf29ce484222325ull;
    uint8_t h[24];
    put32le(h, 0xa1b2c3d4u);                  /* microsecond pcap, little-endian */
    h[4] = 2, h[5] = 0, h[6] = 4, h[7] = 0;   /* version 2.4 */
    put32le(h + 8, 0);
    put32le(h + 12, 0);
    put32le(h + 16, 262144);
    put32le(h + 20, DLT_EN10MB);
    out_write(o, h, sizeof(h));
}

static void out_packet(struct out *o, int64_t t_us, const uint8_t *p, uint32_t caplen,
                       uint32_t len)
{
    uint8_t h[16];
    put32le(h, (uint32_t)(t_us / 1000000));
    put32le(h + 4, (uint32_t)(t_us % 1000000));
    put32le(h + 8, caplen);
    put32le(h + 12, len);
    out_write(o, h, sizeof(h));
    out_write(o, p, caplen);
    o->packets++;
    o->wire_bytes += len;
    o->cap_bytes += caplen;
}

static void out_close(struct out *o)
{
    if (fwrite(o->buf, 1, o->used, o->f) != o->used || fclose(o->f) != 0) {
        die("write failed", strerror(errno));
    }
    free(o->buf);
}

/* ---- templates ------------------------------------------------------------------- */

static bool addr_special(const struct addr *a)
{
    if (a->ver == 4) {
        uint32_t v = ((uint32_t)a->a[0] << 24) | ((uint32_t)a->a[1] << 16) |
                     ((uint32_t)a->a[2] << 8) | a->a[3];
        return v == 0 || v == 0xffffffffu || (v >> 28) == 0xe;   /* any, broadcast, multicast */
    }
    static const uint8_t zero[16];
    return a->a[0] == 0xff || memcmp(a->a, zero, 16) == 0;
}

static bool addr_private(const struct addr *a)
{
    const uint8_t *b = a->a;
    if (a->ver == 4) {
        return b[0] == 10 || b[0] == 127 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
               (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254) ||
               (b[0] == 100 && (b[1] & 0xc0) == 64);
    }
    static const uint8_t loop[16] = {[15] = 1};
    return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
           memcmp(b, loop, 16) == 0;
}

static int32_t tmpl_addr(struct tmpl *t, uint8_t ver, const uint8_t *a)
{
    size_t n = ver == 4 ? 4 : 16;
    for (size_t i = 0; i < t->naddrs; i++) {
        if (t->addrs[i].ver == ver && memcmp(t->addrs[i].a, a, n) == 0) {
            return (int32_t)i;
        }
    }
    if (t->naddrs == t->addrs_cap) {
        t->addrs_cap = t->addrs_cap ? 2 * t->addrs_cap : 16;
        t->addrs = xrealloc(t->addrs, t->addrs_cap * sizeof(*t->addrs));
    }
    struct addr *x = &t->addrs[t->naddrs];
    memset(x, 0, sizeof(*x));
    x->ver = ver;
    memcpy(x->a, a, n);
    return (int32_t)t->naddrs++;
}

/* Finds the IP and L4 headers of an Ethernet frame (802.1Q/802.1ad tags skipped). */
static void tmpl_dissect(struct tmpl *t, struct tpkt *k)
{
    const uint8_t *p = t->data + k->off;
    uint32_t n = k->caplen;
    uint32_t o = 12;
    k->src = k->dst = -1;
    if (n < ETH_HLEN) {
        return;
    }
    uint16_t et = get16(p + o);
    while ((et == 0x8100 || et == 0x88a8 || et == 0x9100) && o + 6 <= n) {
        o += 4;
        et = get16(p + o);
    }
    o += 2;
    if (et == 0x0800 && o + 20 <= n && (p[o] >> 4) == 4) {
        uint32_t ihl = (p[o] & 0x0fu) * 4u;
        if (ihl < 20 || o + ihl > n) {
            return;
        }
        k->l3 = (uint16_t)o;
        k->ipver = 4;
        k->proto = p[o + 9];
        k->src = tmpl_addr(t, 4, p + o + 12);
        k->dst = tmpl_addr(t, 4, p + o + 16);
        if ((get16(p + o + 6) & 0x1fff) == 0) {   /* first fragment or whole datagram */
            k->l4 = (uint16_t)(o + ihl);
        }
    } else if (et == 0x86dd && o + 40 <= n && (p[o] >> 4) == 6) {
        k->l3 = (uint16_t)o;
        k->ipver = 6;
        k->src = tmpl_addr(t, 6, p + o + 8);
        k->dst = tmpl_addr(t, 6, p + o + 24);
        uint8_t nh = p[o + 6];
        uint32_t q = o + 40;
        bool first = true;
        /* RFC 8200 section 4: hop-by-hop, routing, fragment, destination options. */
        while ((nh == 0 || nh == 43 || nh == 44 || nh == 60) && q + 8 <= n) {
            if (nh == 44) {
                first = (get16(p + q + 2) & 0xfff8) == 0;
                nh = p[q];
                q += 8;
            } else {
                uint8_t next = p[q];
                q += 8u + 8u * p[q + 1];
                nh = next;
            }
        }
        k->proto = nh;
        if (first && q <= n && q <= UINT16_MAX) {
            k->l4 = (uint16_t)q;
        }
    } else {
        return;
    }
    if (k->l4 && (k->proto == 6 || k->proto == 17) && (uint32_t)k->l4 + 4 <= n) {
        k->sport = get16(p + k->l4);
        k->dport = get16(p + k->l4 + 2);
    }
}

/* Appends one frame as Ethernet; other link types get a synthetic Ethernet header. */
static void tmpl_add(struct tmpl *t, int dlt, const struct pcap_pkthdr *h, const uint8_t *p,
                     int64_t *last_us, int64_t gap_cap_us)
{
    uint32_t skip = 0;
    uint16_t et = 0;
    uint32_t n = h->caplen;
    switch (dlt) {
    case DLT_EN10MB:
        break;
    case DLT_LINUX_SLL:
        if (n < 16) {
            return;
        }
        skip = 16, et = get16(p + 14);
        break;
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2:
        if (n < 20) {
            return;
        }
        skip = 20, et = get16(p);
        break;
#endif
    case DLT_PPP:
        if (n >= 2 && p[0] == 0xff && p[1] == 0x03) {
            skip = 2;
        }
        if (skip + 2 > n) {
            return;
        }
        if (p[skip] & 1) {   /* RFC 1661 section 6.5: compressed one-byte protocol */
            et = p[skip] == 0x21 ? 0x0800 : p[skip] == 0x57 ? 0x86dd : 0;
            skip += 1;
        } else {
            uint16_t pr = get16(p + skip);
            et = pr == 0x0021 ? 0x0800 : pr == 0x0057 ? 0x86dd : 0;
            skip += 2;
        }
        break;
    case DLT_NULL:
    case DLT_LOOP: {
        if (n < 4) {
            return;
        }
        /* DLT_NULL's address family is in the writer's byte order, DLT_LOOP's in network order */
        uint32_t be = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        uint32_t le = (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
        uint32_t af = dlt == DLT_LOOP || le > 0xffff ? be : le;
        et = af == 2 ? 0x0800 : (af == 24 || af == 28 || af == 30) ? 0x86dd : 0;
        skip = 4;
        break;
    }
    default: /* raw IP: DLT_RAW, DLT_IPV4, DLT_IPV6 */
        if (n < 1) {
            return;
        }
        et = (p[0] >> 4) == 4 ? 0x0800 : (p[0] >> 4) == 6 ? 0x86dd : 0;
        break;
    }
    if (dlt != DLT_EN10MB && et == 0) {
        return;
    }
    uint32_t caplen = dlt == DLT_EN10MB ? n : n - skip + ETH_HLEN;
    uint32_t len = dlt == DLT_EN10MB ? h->len : h->len - skip + ETH_HLEN;
    if (t->data_len + caplen > t->data_cap) {
        t->data_cap = (t->data_cap + caplen) * 2;
        t->data = xrealloc(t->data, t->data_cap);
    }
    uint8_t *d = t->data + t->data_len;
    if (dlt == DLT_EN10MB) {
        memcpy(d, p, n);
    } else {
        static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
        memcpy(d, macs, 12);
        put16(d + 12, et);
        memcpy(d + ETH_HLEN, p + skip, n - skip);
    }
    if (t->npkts == t->pkts_cap) {
        t->pkts_cap = t->pkts_cap ? 2 * t->pkts_cap : 256;
        t->pkts = xrealloc(t->pkts, t->pkts_cap * sizeof(*t->pkts));
    }
    struct tpkt *k = &t->pkts[t->npkts];
    memset(k, 0, sizeof(*k));
    k->off = t->data_len;
    k->caplen = caplen;
    k->len = len;
    int64_t ts = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
    if (t->npkts == 0) {
        k->t_us = 0;
    } else {
        int64_t gap = ts - *last_us;
        gap = gap < 0 ? 0 : gap > gap_cap_us ? gap_cap_us : gap;
        k->t_us = t->pkts[t->npkts - 1].t_us + gap;
    }
    *last_us = ts;
    t->data_len += caplen;
    t->npkts++;
    t->rec_bytes += 16u + caplen;
    tmpl_dissect(t, k);
}

/*
 * Which addresses each replica replaces: private ones, the vantage host (the address
 * with the most peers, i.e. the capture's own host, even when it is public), and for a
 * flow where neither end is replaced, the end with the higher (ephemeral) port, so that
 * every flow of every replica has its own 5-tuple.
 */
static void tmpl_plan_rewrite(struct tmpl *t)
{
    size_t na = t->naddrs;
    if (na == 0) {
        return;
    }
    uint8_t *adj = xrealloc(NULL, na * na);
    memset(adj, 0, na * na);
    for (size_t i = 0; i < t->npkts; i++) {
        const struct tpkt *k = &t->pkts[i];
        if (k->src >= 0 && k->dst >= 0) {
            adj[(size_t)k->src * na + (size_t)k->dst] = 1;
            adj[(size_t)k->dst * na + (size_t)k->src] = 1;
        }
    }
    size_t best = 0, best_deg = 0;
    for (size_t i = 0; i < na; i++) {
        size_t deg = 0;
        for (size_t j = 0; j < na; j++) {
            deg += adj[i * na + j];
        }
        if (deg > best_deg && !addr_special(&t->addrs[i])) {
            best = i, best_deg = deg;
        }
        t->addrs[i].rewrite = addr_private(&t->addrs[i]);
    }
    free(adj);
    if (best_deg > 0) {
        t->addrs[best].rewrite = true;
    }
    for (size_t i = 0; i < t->npkts; i++) {
        const struct tpkt *k = &t->pkts[i];
        if (k->src < 0 || k->dst < 0) {
            continue;
        }
        struct addr *s = &t->addrs[k->src], *d = &t->addrs[k->dst];
        if (s->rewrite || d->rewrite) {
            continue;
        }
        if (addr_special(d) || (!addr_special(s) && k->sport >= k->dport)) {
            s->rewrite = !addr_special(s);
        } else {
            d->rewrite = true;
        }
    }
    t->nrewrite = 0;
    for (size_t i = 0; i < na; i++) {
        t->nrewrite += t->addrs[i].rewrite;
    }
}

static void tmpl_load(struct tmpl *t, int64_t gap_cap_us)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(t->path, err);
    if (pc == NULL) {
        die("cannot read template", err);
    }
    int dlt = pcap_datalink(pc);
    bool ok = dlt == DLT_EN10MB || dlt == DLT_LINUX_SLL || dlt == DLT_PPP || dlt == DLT_NULL ||
              dlt == DLT_LOOP || dlt == DLT_RAW || dlt == DLT_IPV4 || dlt == DLT_IPV6;
#ifdef DLT_LINUX_SLL2
    ok = ok || dlt == DLT_LINUX_SLL2;
#endif
    if (!ok) {
        fprintf(stderr, "mkcap: %s: link type %s not converted, skipped\n", t->path,
                pcap_datalink_val_to_name(dlt));
        pcap_close(pc);
        return;
    }
    struct pcap_pkthdr *h;
    const uint8_t *p;
    int64_t last = 0;
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &p)) == 1) {
        tmpl_add(t, dlt, h, p, &last, gap_cap_us);
    }
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "mkcap: %s: %s (kept %zu packets)\n", t->path, pcap_geterr(pc), t->npkts);
    }
    pcap_close(pc);
    t->dur_us = t->npkts ? t->pkts[t->npkts - 1].t_us : 0;
    tmpl_plan_rewrite(t);
}

/* ---- rewriting ------------------------------------------------------------------- */

/* The address that template address `a` becomes in the replica whose counter starts at
 * `base`: 10.0.0.0/8 hosts .1-.254, or fd00::/64 with the counter in the low bits. */
static void new_addr(const struct addr *a, uint64_t counter, uint8_t *out)
{
    if (a->ver == 4) {
        uint64_t host = counter % 254u + 1u, net = counter / 254u;
        out[0] = 10;
        out[1] = (uint8_t)(net >> 8);
        out[2] = (uint8_t)net;
        out[3] = (uint8_t)host;
    } else {
        memset(out, 0, 16);
        out[0] = 0xfd;
        for (int i = 0; i < 8; i++) {
            out[15 - i] = (uint8_t)(counter >> (8 * i));
        }
    }
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), over the 16-bit words that changed. */
static uint16_t csum_adjust(uint16_t hc, const uint8_t *old, const uint8_t *neu, size_t n)
{
    uint32_t s = (uint16_t)~hc;
    for (size_t i = 0; i + 1 < n; i += 2) {
        s += (uint16_t)~get16(old + i);
        s += get16(neu + i);
    }
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return (uint16_t)~s;
}

static void rewrite_packet(const struct tmpl *t, const struct tpkt *k, uint64_t base,
                           uint8_t *f)
{
    if (k->l3 == 0) {
        return;
    }
    size_t an = k->ipver == 4 ? 4 : 16;
    uint8_t *sa = f + k->l3 + (k->ipver == 4 ? 12 : 8);
    uint8_t old[32], neu[32];
    memcpy(old, sa, 2 * an);
    memcpy(neu, sa, 2 * an);
    bool changed = false;
    if (t->addrs[k->src].rewrite) {
        new_addr(&t->addrs[k->src], base + (uint64_t)k->src, neu);
        changed = true;
    }
    if (t->addrs[k->dst].rewrite) {
        new_addr(&t->addrs[k->dst], base + (uint64_t)k->dst, neu + an);
        changed = true;
    }
    if (!changed) {
        return;
    }
    memcpy(sa, neu, 2 * an);
    if (k->ipver == 4) {
        uint8_t *c = f + k->l3 + 10;
        put16(c, csum_adjust(get16(c), old, neu, 8));
    }
    if (k->l4 == 0) {
        return;
    }
    uint32_t co = 0;
    if (k->proto == 6) {
        co = 16;
    } else if (k->proto == 17) {
        co = 6;
    } else if (k->proto == 58 && k->ipver == 6) {
        co = 2;
    } else {
        return;
    }
    if ((uint32_t)k->l4 + co + 2 > k->caplen) {
        return;
    }
    uint8_t *c = f + k->l4 + co;
    uint16_t hc = get16(c);
    if (k->proto == 17 && hc == 0 && k->ipver == 4) {
        return;   /* RFC 768: no checksum */
    }
    uint16_t v = csum_adjust(hc, old, neu, 2 * an);
    if (k->proto == 17 && v == 0) {
        v = 0xffff;   /* RFC 768: a computed zero is sent as all ones */
    }
    put16(c, v);
}

/* ---- mix ------------------------------------------------------------------------- */

struct heap {
    struct replica *r;
    uint32_t *h;
    size_t n;
};

static int64_t rep_time(const struct heap *hp, const struct tmpl *ts, uint32_t i)
{
    const struct replica *r = &hp->r[i];
    return r->start_us + ts[r->t].pkts[r->next].t_us;
}

static bool rep_less(const struct heap *hp, const struct tmpl *ts, uint32_t a, uint32_t b)
{
    int64_t x = rep_time(hp, ts, a), y = rep_time(hp, ts, b);
    return x < y || (x == y && a < b);
}

static void heap_down(struct heap *hp, const struct tmpl *ts, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < hp->n && rep_less(hp, ts, hp->h[l], hp->h[m])) {
            m = l;
        }
        if (l + 1 < hp->n && rep_less(hp, ts, hp->h[l + 1], hp->h[m])) {
            m = l + 1;
        }
        if (m == i) {
            return;
        }
        uint32_t x = hp->h[i];
        hp->h[i] = hp->h[m];
        hp->h[m] = x;
        i = m;
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int run_mix(const char *outp, const char *manifest, double size_mib, uint64_t seed,
                   double span_s, double gap_cap_ms, const char *shares)
{
    char cls_name[MAX_CLASSES][32];
    double cls_share[MAX_CLASSES];
    int ncls = 0;
    /* --share media=0.86,web=0.10,control=0.04 */
    for (const char *s = shares; s && *s && ncls < MAX_CLASSES;) {
        const char *eq = strchr(s, '=');
        if (eq == NULL || eq - s >= 31) {
            die("bad --share", shares);
        }
        memcpy(cls_name[ncls], s, (size_t)(eq - s));
        cls_name[ncls][eq - s] = 0;
        char *end;
        cls_share[ncls] = strtod(eq + 1, &end);
        ncls++;
        s = *end == ',' ? end + 1 : end;
    }
    FILE *mf = fopen(manifest, "r");
    if (mf == NULL) {
        die("cannot read manifest", manifest);
    }
    struct tmpl *ts = NULL;
    size_t nt = 0;
    char line[4096];
    while (fgets(line, sizeof(line), mf)) {
        char cname[64], path[4000];
        if (line[0] == '#' || sscanf(line, "%63s %3999[^\n]", cname, path) != 2) {
            continue;
        }
        int c = -1;
        for (int i = 0; i < ncls; i++) {
            if (strcmp(cls_name[i], cname) == 0) {
                c = i;
            }
        }
        if (c < 0) {
            die("class without a share", cname);
        }
        ts = xrealloc(ts, (nt + 1) * sizeof(*ts));
        memset(&ts[nt], 0, sizeof(*ts));
        ts[nt].path = strdup(path);
        if (ts[nt].path == NULL) {
            die("out of memory", NULL);
        }
        ts[nt].cls = c;
        tmpl_load(&ts[nt], (int64_t)(gap_cap_ms * 1000.0));
        if (ts[nt].npkts > 0) {
            nt++;
        } else {   /* nothing usable (e.g. a link type it does not convert) */
            free(ts[nt].path);
            free(ts[nt].data);
            free(ts[nt].pkts);
            free(ts[nt].addrs);
        }
    }
    fclose(mf);
    /* Templates per class, in manifest order. */
    size_t *idx[MAX_CLASSES] = {0};
    size_t cnt[MAX_CLASSES] = {0};
    for (size_t i = 0; i < nt; i++) {
        int c = ts[i].cls;
        idx[c] = xrealloc(idx[c], (cnt[c] + 1) * sizeof(size_t));
        idx[c][cnt[c]++] = i;
    }
    /* Plan: give the next replica to the class furthest below its share of bytes. */
    uint64_t rng = seed;
    uint64_t target = (uint64_t)(size_mib * 1048576.0);
    uint64_t planned = 24, cls_bytes[MAX_CLASSES] = {0}, cls_reps[MAX_CLASSES] = {0};
    uint64_t cls_pkts[MAX_CLASSES] = {0};
    struct heap hp = {0};
    size_t nrep = 0, rep_cap = 0;
    uint64_t counter = 0;
    while (planned < target) {
        int c = -1;
        double best = 0;
        for (int i = 0; i < ncls; i++) {
            if (cnt[i] == 0 || cls_share[i] <= 0) {
                continue;
            }
            double fill = (double)cls_bytes[i] / cls_share[i];
            if (c < 0 || fill < best) {
                c = i, best = fill;
            }
        }
        if (c < 0) {
            die("no template has a class with a share", NULL);
        }
        size_t ti = idx[c][rng_next(&rng) % cnt[c]];
        if (nrep == rep_cap) {
            rep_cap = rep_cap ? 2 * rep_cap : 1024;
            hp.r = xrealloc(hp.r, rep_cap * sizeof(*hp.r));
        }
        struct replica *r = &hp.r[nrep++];
        r->t = (uint32_t)ti;
        r->next = 0;
        r->start_us = (int64_t)(rng_unit(&rng) * span_s * 1e6);
        r->map_base = counter;
        counter += ts[ti].naddrs;   /* one counter value per template address */
        ts[ti].used++;
        planned += ts[ti].rec_bytes;
        cls_bytes[c] += ts[ti].rec_bytes;
        cls_pkts[c] += ts[ti].npkts;
        cls_reps[c]++;
    }
    /* Most replicas alive at one time (start/end sweep). */
    int64_t *ev = xrealloc(NULL, 2 * nrep * sizeof(int64_t));
    for (size_t i = 0; i < nrep; i++) {
        ev[2 * i] = hp.r[i].start_us * 2 + 1;                            /* start */
        ev[2 * i + 1] = (hp.r[i].start_us + ts[hp.r[i].t].dur_us) * 2 + 2; /* end, after */
    }
    qsort(ev, 2 * nrep, sizeof(int64_t), cmp_i64);
    long alive = 0, max_alive = 0;
    for (size_t i = 0; i < 2 * nrep; i++) {
        alive += (ev[i] & 1) ? 1 : -1;
        max_alive = alive > max_alive ? alive : max_alive;
    }
    free(ev);
    /* Merge. Time 0 of the capture is 2026-01-01 00:00:00 UTC. */
    const int64_t epoch = 1767225600ll * 1000000;
    hp.h = xrealloc(NULL, nrep * sizeof(uint32_t));
    for (size_t i = 0; i < nrep; i++) {
        hp.h[i] = (uint32_t)i;
    }
    hp.n = nrep;
    for (size_t i = nrep / 2; i-- > 0;) {
        heap_down(&hp, ts, i);
    }
    struct out o;
    out_open(&o, outp);
    uint8_t *frame = xrealloc(NULL, 262144 + 64);
    int64_t last_t = 0;
    while (hp.n > 0) {
        uint32_t ri = hp.h[0];
        struct replica *r = &hp.r[ri];
        const struct tmpl *t = &ts[r->t];
        const struct tpkt *k = &t->pkts[r->next];
        memcpy(frame, t->data + k->off, k->caplen);
        rewrite_packet(t, k, r->map_base, frame);
        last_t = r->start_us + k->t_us;
        out_packet(&o, epoch + last_t, frame, k->caplen, k->len);
        if (++r->next == t->npkts) {
            hp.h[0] = hp.h[--hp.n];
        }
        heap_down(&hp, ts, 0);
    }
    out_close(&o);
    printf("{\"mode\":\"mix\",\"file_bytes\":%" PRIu64 ",\"packets\":%" PRIu64
           ",\"wire_bytes\":%" PRIu64 ",\"cap_bytes\":%" PRIu64 ",\"duration_s\":%.3f"
           ",\"replicas\":%zu,\"max_concurrent_replicas\":%ld,\"rewritten_addresses\":%" PRIu64
           ",\"fnv1a64\":\"%016" PRIx64 "\",\"seed\":%" PRIu64 ",\"span_s\":%g,\"gap_cap_ms\":%g"
           ",\"classes\":{",
           o.file_bytes, o.packets, o.wire_bytes, o.cap_bytes, (double)last_t / 1e6, nrep,
           max_alive, counter, o.fnv, seed, span_s, gap_cap_ms);
    for (int i = 0; i < ncls; i++) {
        printf("%s\"%s\":{\"share\":%g,\"templates\":%zu,\"replicas\":%" PRIu64
               ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
               i ? "," : "", cls_name[i], cls_share[i], cnt[i], cls_reps[i], cls_pkts[i],
               cls_bytes[i]);
    }
    printf("},\"templates\":[");
    for (size_t i = 0; i < nt; i++) {
        const char *base = strrchr(ts[i].path, '/');
        printf("%s{\"file\":\"%s\",\"class\":\"%s\",\"packets\":%zu,\"addresses\":%zu,"
               "\"rewritten\":%zu,\"duration_s\":%.3f,\"replicas\":%" PRIu64 "}",
               i ? "," : "", base ? base + 1 : ts[i].path, cls_name[ts[i].cls], ts[i].npkts,
               ts[i].naddrs, ts[i].nrewrite, (double)ts[i].dur_us / 1e6, ts[i].used);
    }
    printf("]}\n");
    free(frame);
    free(hp.h);
    free(hp.r);
    for (int i = 0; i < ncls; i++) {
        free(idx[i]);
    }
    for (size_t i = 0; i < nt; i++) {
        free(ts[i].path);
        free(ts[i].data);
        free(ts[i].pkts);
        free(ts[i].addrs);
    }
    free(ts);
    return 0;
}

/* ---- flows ----------------------------------------------------------------------- */

static const char *const flow_sni[] = {
    "www.example.com", "zoom.us", "cdn.example.net", "teams.microsoft.com",
    "api.example.org", "meet.google.com", "static.example.com", "webex.com",
};

/* A TLS 1.3 ClientHello (RFC 8446 section 4.1.2) with SNI, ALPN, groups, key_share. */
static size_t client_hello(uint8_t *b, const char *sni, uint64_t *rng)
{
    size_t n = 0, ext_len_at, hs_len_at, rec_len_at;
    size_t sl = strlen(sni);
    b[n++] = 22, b[n++] = 3, b[n++] = 1;                 /* handshake, legacy 0x0301 */
    rec_len_at = n, n += 2;
    b[n++] = 1;                                          /* client_hello */
    hs_len_at = n, n += 3;
    b[n++] = 3, b[n++] = 3;
    for (int i = 0; i < 32; i++) {
        b[n++] = (uint8_t)rng_next(rng);
    }
    b[n++] = 32;
    for (int i = 0; i < 32; i++) {
        b[n++] = (uint8_t)rng_next(rng);
    }
    static const uint8_t suites[] = {0, 6, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03};
    memcpy(b + n, suites, sizeof(suites)), n += sizeof(suites);
    b[n++] = 1, b[n++] = 0;                              /* null compression */
    ext_len_at = n, n += 2;
    put16(b + n, 0), put16(b + n + 2, (uint16_t)(sl + 5)), n += 4;   /* server_name */
    put16(b + n, (uint16_t)(sl + 3)), b[n + 2] = 0, put16(b + n + 3, (uint16_t)sl), n += 5;
    memcpy(b + n, sni, sl), n += sl;
    static const uint8_t rest[] = {
        0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, 'h', '2',             /* ALPN h2 */
        0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x1d,                 /* groups x25519 */
        0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x08, 0x04,                 /* rsa_pss_rsae_sha256 */
        0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04,                       /* versions: 1.3 */
        0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20,     /* key_share x25519 */
    };
    memcpy(b + n, rest, sizeof(rest)), n += sizeof(rest);
    for (int i = 0; i < 32; i++) {
        b[n++] = (uint8_t)rng_next(rng);
    }
    put16(b + ext_len_at, (uint16_t)(n - ext_len_at - 2));
    size_t hl = n - hs_len_at - 3;
    b[hs_len_at] = 0, put16(b + hs_len_at + 1, (uint16_t)hl);
    put16(b + rec_len_at, (uint16_t)(n - rec_len_at - 2));
    return n;
}

static uint16_t csum_fold(uint32_t s)
{
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return (uint16_t)~s;
}

static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        s += get16(p + i);
    }
    if (n & 1) {
        s += (uint32_t)p[n - 1] << 8;
    }
    return s;
}

/* Ethernet + IPv4 + TCP with full checksums. */
static size_t tcp_frame(uint8_t *f, const uint8_t cli[4], const uint8_t srv[4], uint16_t sport,
                        uint16_t dport, uint32_t seq, uint8_t flags, const uint8_t *opt,
                        size_t optlen, const uint8_t *pay, size_t paylen, uint16_t ipid)
{
    static const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
    memcpy(f, macs, 12);
    put16(f + 12, 0x0800);
    uint8_t *ip = f + ETH_HLEN;
    size_t thl = 20 + optlen, tot = 20 + thl + paylen;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)tot);
    put16(ip + 4, ipid);
    put16(ip + 6, 0x4000);   /* DF */
    ip[8] = 64, ip[9] = 6;
    memcpy(ip + 12, cli, 4);
    memcpy(ip + 16, srv, 4);
    put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
    uint8_t *tcp = ip + 20;
    memset(tcp, 0, 20);
    put16(tcp, sport);
    put16(tcp + 2, dport);
    tcp[4] = (uint8_t)(seq >> 24), tcp[5] = (uint8_t)(seq >> 16);
    tcp[6] = (uint8_t)(seq >> 8), tcp[7] = (uint8_t)seq;
    tcp[12] = (uint8_t)((thl / 4) << 4);
    tcp[13] = flags;
    put16(tcp + 14, 64240);
    if (optlen > 0) {
        memcpy(tcp + 20, opt, optlen);
    }
    if (paylen > 0) {
        memcpy(tcp + thl, pay, paylen);
    }
    uint32_t s = csum_add(0, ip + 12, 8);
    s += 6 + (uint32_t)(thl + paylen);
    s = csum_add(s, tcp, thl + paylen);
    put16(tcp + 16, csum_fold(s));
    return ETH_HLEN + tot;
}

static int run_flows(const char *outp, uint64_t nflows, uint64_t seed)
{
    static const uint8_t servers[8][4] = {
        {93, 184, 215, 14}, {170, 114, 52, 2},  {104, 18, 32, 7},   {52, 112, 0, 1},
        {151, 101, 1, 69},  {142, 250, 82, 78}, {185, 199, 108, 1}, {170, 72, 0, 10},
    };
    static const uint8_t syn_opt[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
                                        1, 3, 3, 7};
    struct out o;
    out_open(&o, outp);
    uint8_t frame[2048], hello[600];
    uint64_t rng = seed;
    const int64_t epoch = 1767225600ll * 1000000;
    /* Flow i: client 10.0.0.0/8 host i/100 + 1 (100 flows per client), port
     * 20000 + i%100, server i%8, port 443. Its ISN comes from the flow number, so the
     * second pass needs no table. */
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t i = 0; i < nflows; i++) {
            uint64_t h = i / 100u + 1u;
            uint8_t cli[4] = {10, (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h};
            uint16_t sport = (uint16_t)(20000u + i % 100u);
            uint32_t isn = (uint32_t)(i * 2654435761u);
            int64_t t = epoch + (int64_t)pass * 2000000 + (int64_t)i;   /* 1 us apart */
            size_t n;
            if (pass == 0) {
                n = tcp_frame(frame, cli, servers[i % 8], sport, 443, isn, 0x02, syn_opt,
                              sizeof(syn_opt), NULL, 0, (uint16_t)i);
            } else {
                size_t hl = client_hello(hello, flow_sni[i % 8], &rng);
                n = tcp_frame(frame, cli, servers[i % 8], sport, 443, isn + 1, 0x18, NULL, 0,
                              hello, hl, (uint16_t)(i + 1));
            }
            out_packet(&o, t, frame, (uint32_t)n, (uint32_t)n);
        }
    }
    out_close(&o);
    printf("{\"mode\":\"flows\",\"flows\":%" PRIu64 ",\"file_bytes\":%" PRIu64
           ",\"packets\":%" PRIu64 ",\"wire_bytes\":%" PRIu64 ",\"cap_bytes\":%" PRIu64
           ",\"fnv1a64\":\"%016" PRIx64 "\",\"seed\":%" PRIu64 "}\n",
           nflows, o.file_bytes, o.packets, o.wire_bytes, o.cap_bytes, o.fnv, seed);
    return 0;
}

/* ---- main ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "mix") != 0 && strcmp(argv[1], "flows") != 0)) {
        fprintf(stderr,
                "usage: mkcap mix -o OUT --manifest FILE --size-mib N [--seed S] [--span-s S]\n"
                "                 [--gap-cap-ms MS] [--share CLASS=F,...]\n"
                "       mkcap flows -o OUT --flows N [--seed S]\n");
        return 2;
    }
    const char *outp = NULL, *manifest = NULL;
    const char *shares = "media=0.86,web=0.10,control=0.04";
    double size_mib = 64, span_s = 60, gap_cap_ms = 2000;
    uint64_t seed = 6, nflows = 1000000;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            die("option needs a value", a);
        }
        const char *v = argv[++i];
        if (strcmp(a, "-o") == 0) {
            outp = v;
        } else if (strcmp(a, "--manifest") == 0) {
            manifest = v;
        } else if (strcmp(a, "--size-mib") == 0) {
            size_mib = strtod(v, NULL);
        } else if (strcmp(a, "--seed") == 0) {
            seed = strtoull(v, NULL, 0);
        } else if (strcmp(a, "--span-s") == 0) {
            span_s = strtod(v, NULL);
        } else if (strcmp(a, "--gap-cap-ms") == 0) {
            gap_cap_ms = strtod(v, NULL);
        } else if (strcmp(a, "--share") == 0) {
            shares = v;
        } else if (strcmp(a, "--flows") == 0) {
            nflows = strtoull(v, NULL, 0);
        } else {
            die("unknown option", a);
        }
    }
    if (outp == NULL) {
        die("-o OUT is required", NULL);
    }
    if (strcmp(argv[1], "flows") == 0) {
        return run_flows(outp, nflows, seed);
    }
    if (manifest == NULL || size_mib <= 0 || span_s < 0) {
        die("mix needs --manifest and a positive --size-mib", NULL);
    }
    return run_mix(outp, manifest, size_mib, seed, span_s, gap_cap_ms, shares);
}
