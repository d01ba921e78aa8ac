/* Flow table, see flow.h. */
#include "flow.h"

#include <stdlib.h>
#include <string.h>

#define WHEEL 4096u /* slots (power of two); a lap is 4096 ticks */

struct kp_flow_table {
    struct kp_flow *flows; /* capacity entries, 64-byte aligned */
    void *flows_mem;       /* what calloc returned */
    uint32_t fresh;        /* entries never used yet start here (index) */
    uint32_t *buckets;     /* index + 1 of the first flow in the chain */
    uint32_t nbuckets;     /* power of two */
    uint32_t capacity;
    uint32_t used;
    uint32_t free_head;    /* free list through hnext (index + 1) */
    uint32_t wheel[WHEEL]; /* first flow of each slot (index + 1) */
    uint64_t wbits[WHEEL / 64]; /* non-empty slots */
    uint64_t grain_us;     /* one tick */
    uint64_t idle_us;
    uint64_t swept;        /* ticks up to here have been swept (none yet: started == 0) */
    uint64_t now_tick;     /* the latest tick a packet was seen at */
    int started;
    uint32_t *batch;       /* flows to release in canonical order */
    size_t batch_cap;
    uint32_t *refile;      /* a slot's flows, while it is swept */
    size_t refile_cap;
    uint64_t k0, k1;
    kp_flow_release_fn release;
    void *user;
    struct kp_flow_counts counts;
};

/* SipHash-1-3 (Aumasson & Bernstein): keyed so that an attacker who cannot
 * see the seed cannot aim many flows at one bucket.  Written from the paper's
 * description; 1 compression and 3 finalisation rounds are enough for hash
 * tables (the choice of Rust's and Python's hash tables). */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                 \
    do {                                                                         \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                   \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                   \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                \
    } while (0)

static uint64_t load64le(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, sizeof(v)); /* one unaligned load */
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
#endif
}

uint64_t kp_siphash13(const uint8_t *in, size_t len, uint64_t k0, uint64_t k1)
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k1;
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load64le(in + i);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = full; i < len; i++) {
        b |= (uint64_t)in[i] << (8 * (i - full));
    }
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t kp_flow_hash(const struct kp_flow_key *k, uint64_t k0, uint64_t k1)
{
    return kp_siphash13((const uint8_t *)k, sizeof(*k), k0, k1);
}

static uint64_t mix64(uint64_t x)
{
    /* splitmix64 finaliser: derive the second SipHash key word from the seed */
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void kp_flow_table_set_keys(struct kp_flow_table *t, uint64_t k0, uint64_t k1)
{
    t->k0 = k0;
    t->k1 = k1;
}

void kp_flow_table_keys(const struct kp_flow_table *t, uint64_t *k0, uint64_t *k1)
{
    *k0 = t->k0;
    *k1 = t->k1;
}

struct kp_flow_table *kp_flow_table_new(uint32_t capacity, uint64_t idle_us, uint64_t seed,
                                        kp_flow_release_fn release, void *user)
{
    if (capacity == 0 || capacity > (UINT32_MAX >> 2)) {
        return NULL;
    }
    struct kp_flow_table *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    uint32_t nb = 16;
    while (nb < capacity) {
        nb <<= 1;
    }
    /* calloc, not malloc + memset: the kernel hands out zeroed pages as
     * they are first touched, so a large table costs nothing until used. */
    t->flows_mem = calloc((size_t)capacity + 1, sizeof(*t->flows));
    t->buckets = calloc(nb, sizeof(*t->buckets));
    if (t->flows_mem == NULL || t->buckets == NULL) {
        free(t->flows_mem);
        free(t->buckets);
        free(t);
        return NULL;
    }
    uintptr_t a = ((uintptr_t)t->flows_mem + 63) & ~(uintptr_t)63;
    t->flows = (struct kp_flow *)a;
    t->nbuckets = nb;
    t->capacity = capacity;
    t->idle_us = idle_us;
    t->grain_us = KP_FLOW_GRAIN_US;
    if (idle_us != 0 && idle_us / 8 < t->grain_us) {
        t->grain_us = idle_us / 8 > 0 ? idle_us / 8 : 1;
    }
    t->k0 = mix64(seed);
    t->k1 = mix64(seed ^ 0x5bd1e9955bd1e995ULL);
    t->release = release;
    t->user = user;
    return t;
}

void kp_flow_table_free(struct kp_flow_table *t)
{
    if (t == NULL) {
        return;
    }
    free(t->flows_mem);
    free(t->buckets);
    free(t->batch);
    free(t->refile);
    free(t);
}

uint64_t kp_flow_table_grain(const struct kp_flow_table *t) { return t->grain_us; }

static int addr_port_cmp(const struct kp_addr *a, uint16_t pa, const struct kp_addr *b,
                         uint16_t pb)
{
    int c = memcmp(a->b, b->b, sizeof(a->b));
    if (c != 0) {
        return c;
    }
    return (pa > pb) - (pa < pb);
}

bool kp_flow_key_make(struct kp_flow_key *k, const struct kp_addr *src, uint16_t sport,
                      const struct kp_addr *dst, uint16_t dport, uint8_t proto)
{
    memset(k, 0, sizeof(*k)); /* padding too: keys are hashed and compared as bytes */
    bool src_is_a = addr_port_cmp(src, sport, dst, dport) <= 0;
    k->a = src_is_a ? *src : *dst;
    k->pa = src_is_a ? sport : dport;
    k->b = src_is_a ? *dst : *src;
    k->pb = src_is_a ? dport : sport;
    k->proto = proto;
    return src_is_a;
}

/* ---- timing wheel ---------------------------------------------------- */

static uint64_t due_tick(const struct kp_flow_table *t, const struct kp_flow *f)
{
    return (f->last_us + t->idle_us) / t->grain_us;
}

static void wheel_insert(struct kp_flow_table *t, struct kp_flow *f, uint32_t idx1, uint64_t tick)
{
    uint32_t s = (uint32_t)(tick % WHEEL);
    f->wtick = (uint32_t)tick;
    f->touched = 0;
    f->in_wheel = 1;
    /* append at the end of the slot: within a slot, older flows first */
    uint32_t head = t->wheel[s];
    if (head == 0) {
        t->wheel[s] = idx1;
        f->wprev = idx1; /* the head's wprev is the slot's last flow */
        f->wnext = 0;
        t->wbits[s / 64] |= 1ull << (s % 64);
        return;
    }
    struct kp_flow *h = &t->flows[head - 1];
    uint32_t last = h->wprev;
    t->flows[last - 1].wnext = idx1;
    f->wprev = last;
    f->wnext = 0;
    h->wprev = idx1;
}

static void wheel_unlink(struct kp_flow_table *t, struct kp_flow *f, uint32_t idx1)
{
    if (!f->in_wheel) {
        return;
    }
    uint32_t s = f->wtick % WHEEL;
    uint32_t head = t->wheel[s];
    if (head == idx1) {
        t->wheel[s] = f->wnext;
        if (f->wnext != 0) {
            t->flows[f->wnext - 1].wprev = f->wprev;
        } else {
            t->wbits[s / 64] &= ~(1ull << (s % 64));
        }
    } else {
        t->flows[f->wprev - 1].wnext = f->wnext;
        if (f->wnext != 0) {
            t->flows[f->wnext - 1].wprev = f->wprev;
        } else {
            t->flows[head - 1].wprev = f->wprev;
        }
    }
    f->wprev = f->wnext = 0;
    f->in_wheel = 0;
}

/* The next non-empty slot at or after s (circularly); WHEEL if none. */
static uint32_t wheel_next(const struct kp_flow_table *t, uint32_t s)
{
    for (uint32_t n = 0; n <= WHEEL / 64; n++) {
        uint32_t w = ((s / 64) + n) % (WHEEL / 64);
        uint64_t bits = t->wbits[w];
        if (n == 0) {
            bits &= ~0ull << (s % 64);
        }
        if (bits != 0) {
            return w * 64 + (uint32_t)__builtin_ctzll(bits);
        }
    }
    /* the first word again, its bits below s % 64 */
    uint64_t bits = t->wbits[s / 64] & ~(~0ull << (s % 64));
    return bits != 0 ? (s / 64) * 64 + (uint32_t)__builtin_ctzll(bits) : WHEEL;
}

static void remove_flow(struct kp_flow_table *t, uint32_t idx1, enum kp_flow_release why)
{
    struct kp_flow *f = &t->flows[idx1 - 1];
    if (t->release != NULL) {
        t->release(f, why, t->user);
    }
    uint32_t b = f->hash & (t->nbuckets - 1);
    uint32_t *pp = &t->buckets[b];
    while (*pp != 0 && *pp != idx1) {
        pp = &t->flows[*pp - 1].hnext;
    }
    if (*pp == idx1) {
        *pp = f->hnext;
    }
    wheel_unlink(t, f, idx1);
    memset(f, 0, sizeof(*f));
    f->hnext = t->free_head;
    t->free_head = idx1;
    t->used--;
    if (why == KP_FLOW_IDLE) {
        t->counts.idle++;
    } else if (why == KP_FLOW_EVICTED) {
        t->counts.evicted++;
    }
}

/* ---- canonical release order ---------------------------------------- */

/* the table being sorted (qsort has no context argument; one per thread:
 * workers sort their own tables at the same time) */
static _Thread_local const struct kp_flow *sort_flows;

static int canon_cmp(const void *x, const void *y)
{
    const struct kp_flow *a = &sort_flows[*(const uint32_t *)x - 1];
    const struct kp_flow *b = &sort_flows[*(const uint32_t *)y - 1];
    if (a->first_us != b->first_us) {
        return a->first_us < b->first_us ? -1 : 1;
    }
    return memcmp(&a->key, &b->key, sizeof(a->key));
}

/* Make room for entry n of a growable index array. */
static bool grow(uint32_t **a, size_t *cap, size_t n)
{
    if (n < *cap) {
        return true;
    }
    size_t c = *cap == 0 ? 1024 : *cap * 2;
    uint32_t *na = realloc(*a, c * sizeof(*na));
    if (na == NULL) {
        return false;
    }
    *a = na;
    *cap = c;
    return true;
}

static void release_batch(struct kp_flow_table *t, size_t n, enum kp_flow_release why)
{
    if (n == 0) {
        return;
    }
    sort_flows = t->flows;
    qsort(t->batch, n, sizeof(t->batch[0]), canon_cmp);
    for (size_t i = 0; i < n; i++) {
        remove_flow(t, t->batch[i], why);
    }
}

void kp_flow_table_expire(struct kp_flow_table *t, uint64_t now_us)
{
    uint64_t now_tick = now_us / t->grain_us;
    if (now_tick > t->now_tick) {
        t->now_tick = now_tick;
    }
    if (t->idle_us == 0 || t->used == 0) {
        t->swept = now_tick > 0 ? now_tick - 1 : 0;
        t->started = 1;
        return;
    }
    /* slots from the one after the last swept to now's; all of them once
     * if more than a lap has passed (or on the first sweep) */
    uint64_t from = t->started && t->swept + 1 + WHEEL > now_tick ? t->swept + 1
                    : now_tick + 1 > WHEEL ? now_tick + 1 - WHEEL : 0;
    size_t n = 0;
    bool fits = true;
    uint64_t tick = from;
    for (; tick <= now_tick && fits; tick++) {
        uint32_t s = (uint32_t)(tick % WHEEL);
        if (!(t->wbits[s / 64] & (1ull << (s % 64)))) {
            continue;
        }
        /* The slot's flows: the idle ones stay where they are until
         * released (a release may look at the table: kp_flow_table_foreach
         * must still see the flows released after it), the others are
         * re-filed.  Listed first, as re-filing may append to this slot. */
        size_t m = 0;
        for (uint32_t i = t->wheel[s]; i != 0; i = t->flows[i - 1].wnext) {
            if (!grow(&t->refile, &t->refile_cap, m)) {
                fits = false;
                break;
            }
            t->refile[m++] = i;
        }
        for (size_t j = 0; j < m; j++) {
            uint32_t i = t->refile[j];
            struct kp_flow *f = &t->flows[i - 1];
            if (f->last_us + t->idle_us < now_us) {
                if (!grow(&t->batch, &t->batch_cap, n)) {
                    fits = false; /* no memory: the rest waits for the next sweep */
                    break;
                }
                t->batch[n++] = i;
            } else {
                uint64_t d = due_tick(t, f);
                /* still due this tick (later in it): look again next sweep */
                wheel_unlink(t, f, i);
                wheel_insert(t, f, i, d > now_tick ? d : now_tick);
            }
        }
    }
    release_batch(t, n, KP_FLOW_IDLE);
    /* now's slot is swept again next time (and, short of memory, the slot
     * that did not fit) */
    uint64_t last = fits ? now_tick : tick - 1;
    t->swept = last > 0 ? last - 1 : 0;
    t->started = 1;
}

/* ---- lookup ------------------------------------------------------------ */

static void evict_one(struct kp_flow_table *t)
{
    /* The earliest slot holds the flows idle the longest.  Flows touched
     * since they were put there are re-filed (second chance); among the
     * first untouched ones, prefer one with no analysis pending, so that a
     * flood of new flows does not push out a handshake waiting for its
     * server. */
    uint64_t base = t->idle_us != 0 && t->started ? t->swept + 1 : t->now_tick + 1;
    uint32_t s = (uint32_t)(base % WHEEL);
    uint32_t victim = 0;
    int moves = 0, looked = 0;
    for (int slots = 0; slots < (int)WHEEL && victim == 0; slots++) {
        s = wheel_next(t, s);
        if (s == WHEEL) {
            break;
        }
        uint32_t i = t->wheel[s];
        uint32_t first = 0;
        while (i != 0 && looked < 32) {
            struct kp_flow *f = &t->flows[i - 1];
            uint32_t next = f->wnext;
            if (f->touched && moves < 64) {
                moves++;
                wheel_unlink(t, f, i);
                uint64_t d = due_tick(t, f);
                uint64_t tick = t->idle_us != 0 ? d : f->last_us / t->grain_us;
                if ((uint32_t)(tick % WHEEL) == s) {
                    tick += WHEEL; /* same slot, next lap: do not meet it again now */
                }
                wheel_insert(t, f, i, tick);
            } else {
                looked++;
                if (first == 0) {
                    first = i;
                }
                if (f->app == NULL || f->bypass) {
                    victim = i;
                    break;
                }
            }
            i = next;
        }
        if (victim == 0 && first != 0) {
            victim = first;
        }
        s = (s + 1) % WHEEL;
    }
    if (victim == 0) {
        /* every flow was touched and re-filed: take any */
        s = wheel_next(t, 0);
        victim = t->wheel[s];
    }
    remove_flow(t, victim, KP_FLOW_EVICTED);
}

uint32_t kp_flow_table_hash(const struct kp_flow_table *t, const struct kp_flow_key *k)
{
    return (uint32_t)kp_flow_hash(k, t->k0, t->k1);
}

void kp_flow_prefetch_bucket(const struct kp_flow_table *t, uint32_t h)
{
    __builtin_prefetch(&t->buckets[h & (t->nbuckets - 1)]);
}

void kp_flow_prefetch_flow(const struct kp_flow_table *t, uint32_t h)
{
    uint32_t i = t->buckets[h & (t->nbuckets - 1)];
    if (i != 0) {
        __builtin_prefetch(&t->flows[i - 1]);
    }
}

struct kp_flow *kp_flow_lookup(struct kp_flow_table *t, const struct kp_addr *src,
                               uint16_t sport, const struct kp_addr *dst, uint16_t dport,
                               uint8_t proto, uint64_t now_us, int *dir, bool *created)
{
    struct kp_flow_key k;
    bool src_is_a = kp_flow_key_make(&k, src, sport, dst, dport, proto);
    return kp_flow_lookup_key(t, &k, kp_flow_table_hash(t, &k), src_is_a, now_us, dir, created);
}

struct kp_flow *kp_flow_lookup_key(struct kp_flow_table *t, const struct kp_flow_key *kp,
                                   uint32_t h, bool src_is_a, uint64_t now_us, int *dir,
                                   bool *created)
{
    const struct kp_flow_key k = *kp;
    uint32_t b = h & (t->nbuckets - 1);
    for (uint32_t i = t->buckets[b]; i != 0; i = t->flows[i - 1].hnext) {
        struct kp_flow *f = &t->flows[i - 1];
        if (f->hash == h && memcmp(&f->key, &k, sizeof(k)) == 0) {
            *dir = (src_is_a == (f->init_is_a != 0)) ? 0 : 1;
            *created = false;
            if (now_us > f->last_us) {
                f->last_us = now_us;
                f->touched = 1;
            }
            return f;
        }
    }

    uint64_t tick = now_us / t->grain_us;
    if (tick > t->now_tick) {
        t->now_tick = tick;
    }
    if (t->free_head == 0 && t->fresh == t->capacity) {
        evict_one(t);
    }
    uint32_t idx1;
    if (t->free_head != 0) {
        idx1 = t->free_head;
        t->free_head = t->flows[idx1 - 1].hnext;
    } else {
        idx1 = ++t->fresh;
    }
    struct kp_flow *f = &t->flows[idx1 - 1];
    memset(f, 0, sizeof(*f));
    f->key = k;
    f->hash = h;
    f->in_use = 1;
    f->init_is_a = src_is_a ? 1 : 0;
    f->first_us = f->last_us = now_us;
    f->hnext = t->buckets[b];
    t->buckets[b] = idx1;
    wheel_insert(t, f, idx1, t->idle_us != 0 ? due_tick(t, f) : tick);
    t->used++;
    t->counts.created++;
    *dir = 0;
    *created = true;
    return f;
}

void kp_flow_table_foreach(struct kp_flow_table *t, void (*fn)(const struct kp_flow *f, void *user),
                           void *user)
{
    for (uint32_t s = 0; s < WHEEL; s++) {
        for (uint32_t i = t->wheel[s]; i != 0; i = t->flows[i - 1].wnext) {
            fn(&t->flows[i - 1], user);
        }
    }
}

void kp_flow_table_flush(struct kp_flow_table *t)
{
    for (;;) {
        size_t n = 0;
        for (uint32_t s = 0; s < WHEEL; s++) {
            for (uint32_t i = t->wheel[s]; i != 0; i = t->flows[i - 1].wnext) {
                if (!grow(&t->batch, &t->batch_cap, n)) {
                    goto release; /* no memory: release what fits, then again */
                }
                t->batch[n++] = i;
            }
        }
    release:
        if (n == 0) {
            return;
        }
        release_batch(t, n, KP_FLOW_FINISH);
    }
}

void kp_flow_table_counts(const struct kp_flow_table *t, struct kp_flow_counts *c)
{
    *c = t->counts;
    c->active = t->used;
}
