/* TCP reassembly of the first bytes of one direction of a connection.
 *
 * keyprov only needs the handshake at the start of each stream, so a
 * direction keeps at most `limit` bytes from its initial sequence number on.
 * Segments may arrive out of order, be retransmitted or overlap; for bytes
 * received twice the first copy wins (what most stacks deliver, and what an
 * attacker cannot change after the fact).  Memory grows with what has
 * actually arrived, never beyond the limit.
 */
#ifndef KP_REASM_H
#define KP_REASM_H

#include "kp.h"

#define KP_REASM_MAX_RANGES 16

struct kp_reasm {
    uint8_t *buf;
    uint32_t cap;        /* allocated bytes */
    uint32_t limit;      /* bytes kept at most */
    uint32_t isn;        /* sequence number of stream byte 0 */
    uint8_t isn_set;
    uint8_t overflow;    /* bytes past the limit were dropped */
    uint8_t gaps_full;   /* too many holes: a segment was dropped */
    uint8_t nranges;
    struct {
        uint32_t start, end; /* stream offsets, [start, end) */
    } ranges[KP_REASM_MAX_RANGES];
};

void kp_reasm_init(struct kp_reasm *r, uint32_t limit);
void kp_reasm_free(struct kp_reasm *r);

/* The SYN (or SYN-ACK) carries sequence number isn: stream byte 0 is isn+1. */
void kp_reasm_syn(struct kp_reasm *r, uint32_t isn);

/* Add a segment's payload.  Without a SYN the first segment seen starts the
 * stream.  Returns false only when memory could not be allocated. */
bool kp_reasm_add(struct kp_reasm *r, uint32_t seq, struct kp_rd payload);

/* Bytes available in order from stream offset 0. */
static inline struct kp_rd kp_reasm_contig(const struct kp_reasm *r)
{
    if (r->nranges > 0 && r->ranges[0].start == 0) {
        return kp_rd_make(r->buf, r->ranges[0].end);
    }
    return kp_rd_make(NULL, 0);
}

#endif
