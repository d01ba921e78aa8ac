/* Bidirectional flow table: canonical keys, seeded hashing, bounded
 * capacity, idle timeout and eviction of the least recently seen flow.
 *
 * Flows live in one preallocated array (no allocation per packet); a
 * chained hash over 32-bit indices finds them.  Idle expiry runs on a timing
 * wheel: each flow sits in the slot of the tick (KP_FLOW_GRAIN_US, or an
 * eighth of the idle timeout if shorter) at which it would expire if it saw
 * no more packets.  A packet only updates the flow's last time; the flow is
 * moved to its new slot when its old slot comes up (at most once per idle
 * period).  kp_flow_table_expire(now) releases exactly the flows idle for
 * longer than the timeout at `now`, in a canonical order (first packet
 * time, then key), so that the result does not depend on which other flows
 * share the table: the engine calls it when the capture's time crosses a
 * tick, and flow-affine workers (workers.c) given the same ticks release
 * the same flows in the same order as one table would.  When the table is
 * full, the flow in the earliest slot is evicted; flows that saw packets
 * since they were put in their slot get a second chance.  The owner is told
 * about every flow that leaves the table through the release callback,
 * before its slot is reused, so that nothing the flow still holds (pending
 * key records) is lost.
 */
#ifndef KP_FLOW_H
#define KP_FLOW_H

#include "kp.h"

/* Canonical key: the lower (address, port) pair first; padding zeroed. */
struct kp_flow_key {
    struct kp_addr a, b;
    uint16_t pa, pb;
    uint8_t proto;
    uint8_t pad[3];
};

struct kp_flow {
    /* first cache line: what a lookup reads */
    struct kp_flow_key key;
    uint32_t hash;                 /* low bits of the key's hash (bucket and quick compare) */
    uint32_t hnext;                /* hash chain (index + 1, 0 = end) */
    uint64_t first_us, last_us;
    /* second cache line */
    uint64_t pkts[2], bytes[2];    /* per direction: 0 = from initiator */
    uint32_t wprev, wnext;         /* timing-wheel slot list (index + 1, 0 = end) */
    uint32_t wtick;                /* the tick of the wheel slot the flow is in (mod 2^32) */
    uint32_t syn_seq[2];           /* TCP: SYN sequence numbers, kept until analysis starts */
    unsigned init_is_a : 1;        /* the first packet came from key.a */
    unsigned in_use : 1;
    unsigned bypass : 1;           /* analysis finished: count only */
    unsigned touched : 1;          /* a packet came since the flow was put in its slot */
    unsigned in_wheel : 1;
    unsigned syn_seen : 2;         /* bit per direction: syn_seq is valid */
    uint8_t app_kind;
    uint16_t seen;                 /* KP_SEEN_*: protocols recognised on the flow */
    void *app;                     /* per-flow analysis state of kind app_kind (engine.h);
                                      NULL when none */
};

/* Fixed cost of a flow: 128 bytes (two cache lines) in the table, plus 4
 * bytes of hash bucket. */
_Static_assert(sizeof(struct kp_flow) <= 128, "struct kp_flow grew past two cache lines");

/* Protocols recognised on a flow (kp_flow.seen), for flow events. */
enum {
    KP_SEEN_TLS = 1u << 0,
    KP_SEEN_DTLS = 1u << 1,
    KP_SEEN_QUIC = 1u << 2,
    KP_SEEN_STUN = 1u << 3,
    KP_SEEN_RTP = 1u << 4,
    KP_SEEN_ZOOM = 1u << 5,
    KP_SEEN_SIP = 1u << 6,
    KP_SEEN_ZRTP = 1u << 7,
    KP_SEEN_TURN = 1u << 8
};

/* The timing wheel's tick: at most this, at most an eighth of the idle
 * timeout. */
#define KP_FLOW_GRAIN_US 1000000u

enum kp_flow_release { KP_FLOW_IDLE, KP_FLOW_EVICTED, KP_FLOW_FINISH };

typedef void (*kp_flow_release_fn)(struct kp_flow *f, enum kp_flow_release why, void *user);

struct kp_flow_table;

/* capacity >= 1; idle_us == 0 disables idle expiry. */
struct kp_flow_table *kp_flow_table_new(uint32_t capacity, uint64_t idle_us, uint64_t seed,
                                        kp_flow_release_fn release, void *user);
void kp_flow_table_free(struct kp_flow_table *t);

/* Find or create the flow of a packet from (src, sport) to (dst, dport).
 * *dir is set to 0 if the packet goes in the initiator's direction, 1
 * otherwise; *created tells whether the flow is new.  If the table is full,
 * evicts the least recently seen flow (approximately: see above).  Never
 * fails.  Does not expire idle flows: kp_flow_table_expire() does. */
struct kp_flow *kp_flow_lookup(struct kp_flow_table *t, const struct kp_addr *src,
                               uint16_t sport, const struct kp_addr *dst, uint16_t dport,
                               uint8_t proto, uint64_t now_us, int *dir, bool *created);

/* kp_flow_lookup for a key from kp_flow_key_make (src_is_a is what it
 * returned) and its kp_flow_table_hash. */
struct kp_flow *kp_flow_lookup_key(struct kp_flow_table *t, const struct kp_flow_key *k,
                                   uint32_t h, bool src_is_a, uint64_t now_us, int *dir,
                                   bool *created);
uint32_t kp_flow_table_hash(const struct kp_flow_table *t, const struct kp_flow_key *k);

/* Hints for a lookup to come (they change nothing): start loading the
 * hash bucket of h, and, once that has arrived, the first flow in it.  A
 * caller that knows its next packets issues the first a few packets ahead
 * and the second about half as far, so that the lookup finds both in cache. */
void kp_flow_prefetch_bucket(const struct kp_flow_table *t, uint32_t h);
void kp_flow_prefetch_flow(const struct kp_flow_table *t, uint32_t h);

/* Build the canonical key of a packet's flow; returns whether the sender
 * is key.a. */
bool kp_flow_key_make(struct kp_flow_key *k, const struct kp_addr *src, uint16_t sport,
                      const struct kp_addr *dst, uint16_t dport, uint8_t proto);

/* Release (KP_FLOW_IDLE) every flow whose last packet is more than the idle
 * timeout before now_us, ordered by first packet time, then key.  Nothing
 * if the table has no idle timeout. */
void kp_flow_table_expire(struct kp_flow_table *t, uint64_t now_us);

/* The wheel's tick in microseconds (the engine sweeps once per tick). */
uint64_t kp_flow_table_grain(const struct kp_flow_table *t);

/* Call fn for every flow in the table (no flow may be added or removed
 * meanwhile). */
void kp_flow_table_foreach(struct kp_flow_table *t, void (*fn)(const struct kp_flow *f, void *user),
                           void *user);

/* Release every flow (reason KP_FLOW_FINISH), ordered by first packet time,
 * then key. */
void kp_flow_table_flush(struct kp_flow_table *t);

struct kp_flow_counts {
    uint64_t created, idle, evicted, active;
};
void kp_flow_table_counts(const struct kp_flow_table *t, struct kp_flow_counts *c);

/* SipHash-1-3 of any bytes with a 128-bit key. */
uint64_t kp_siphash13(const uint8_t *in, size_t len, uint64_t k0, uint64_t k1);

/* The table's (seed-derived) hash keys, for other keyed hashes. */
void kp_flow_table_keys(const struct kp_flow_table *t, uint64_t *k0, uint64_t *k1);
/* Replace them (only while the table is empty): workers share the
 * dispatcher's keys, so that it hashes each frame's flow once for all. */
void kp_flow_table_set_keys(struct kp_flow_table *t, uint64_t k0, uint64_t k1);

/* Keyed 64-bit hash of a canonical key (SipHash-1-3 with a 128-bit key). */
uint64_t kp_flow_hash(const struct kp_flow_key *k, uint64_t k0, uint64_t k1);

#endif
