/* TCP handshake-byte reassembly, see reasm.h. */
#include "reasm.h"

#include <stdlib.h>
#include <string.h>

void kp_reasm_init(struct kp_reasm *r, uint32_t limit)
{
    memset(r, 0, sizeof(*r));
    r->limit = limit;
}

void kp_reasm_free(struct kp_reasm *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
    r->nranges = 0;
}

void kp_reasm_syn(struct kp_reasm *r, uint32_t isn)
{
    if (!r->isn_set) {
        r->isn = isn + 1; /* RFC 9293 3.4: the SYN occupies one sequence number */
        r->isn_set = 1;
    }
}

static bool reserve(struct kp_reasm *r, uint32_t need)
{
    if (need <= r->cap) {
        return true;
    }
    uint32_t ncap = r->cap ? r->cap : (r->limit < 2048 ? r->limit : 2048);
    while (ncap < need) {
        ncap = (ncap > r->limit / 2) ? r->limit : ncap * 2;
    }
    uint8_t *nb = realloc(r->buf, ncap);
    if (nb == NULL) {
        return false;
    }
    r->buf = nb;
    r->cap = ncap;
    return true;
}

/* Insert [s, e) into the sorted, disjoint range list, merging neighbours;
 * copy only bytes not already held (first copy wins). */
static bool insert_range(struct kp_reasm *r, uint32_t s, uint32_t e, const uint8_t *data)
{
    uint32_t pos = s;
    int i = 0;
    /* copy the uncovered parts */
    while (pos < e) {
        while (i < r->nranges && r->ranges[i].end <= pos) {
            i++;
        }
        uint32_t stop = e;
        if (i < r->nranges && r->ranges[i].start <= pos) {
            pos = r->ranges[i].end; /* covered already */
            continue;
        }
        if (i < r->nranges && r->ranges[i].start < stop) {
            stop = r->ranges[i].start;
        }
        memcpy(r->buf + pos, data + (pos - s), stop - pos);
        pos = stop;
    }
    /* merge [s, e) into the list */
    int first = 0;
    while (first < r->nranges && r->ranges[first].end < s) {
        first++;
    }
    int last = first;
    uint32_t ns = s, ne = e;
    while (last < r->nranges && r->ranges[last].start <= e) {
        if (r->ranges[last].start < ns) {
            ns = r->ranges[last].start;
        }
        if (r->ranges[last].end > ne) {
            ne = r->ranges[last].end;
        }
        last++;
    }
    int merged = last - first; /* ranges replaced by the new one */
    if (merged == 0 && r->nranges == KP_REASM_MAX_RANGES) {
        r->gaps_full = 1;
        return true; /* bytes copied, but the hole list is full: drop it */
    }
    int delta = 1 - merged;
    memmove(&r->ranges[first + 1], &r->ranges[last],
            (size_t)(r->nranges - last) * sizeof(r->ranges[0]));
    r->ranges[first].start = ns;
    r->ranges[first].end = ne;
    r->nranges = (uint8_t)(r->nranges + delta);
    return true;
}

bool kp_reasm_add(struct kp_reasm *r, uint32_t seq, struct kp_rd payload)
{
    if (payload.len == 0) {
        return true;
    }
    if (!r->isn_set) {
        r->isn = seq;
        r->isn_set = 1;
    }
    /* Offsets are relative to the ISN modulo 2^32; anything that lands in
     * the upper half is before the stream start (an old retransmission). */
    uint32_t off = seq - r->isn;
    uint64_t s = off, e;
    if (off >= 0x80000000u) {
        uint32_t before = r->isn - seq;
        if (before >= payload.len) {
            return true;
        }
        payload.p += before;
        payload.len -= before;
        s = 0;
    }
    if (s >= r->limit) {
        r->overflow = 1;
        return true;
    }
    e = s + payload.len;
    if (e > r->limit) {
        e = r->limit;
        r->overflow = 1;
    }
    if (!reserve(r, (uint32_t)e)) {
        return false;
    }
    return insert_range(r, (uint32_t)s, (uint32_t)e, payload.p);
}
