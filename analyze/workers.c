/* Flow-affine worker threads, see workers.h. */
#include "workers.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h"

#define RING_BYTES (2u << 20) /* per worker: frames in flight */
#define BATCH 256             /* messages a worker handles between two publications */
#define DRAIN_EVERY 1024      /* frames the dispatcher feeds between two deliveries */
/* Shares of the flows: worker 0 runs in the calling thread, which also
 * reads and dispatches every frame, so it takes one part for each
 * THREAD_SHARE parts a worker thread takes (measured on the 1 GiB
 * benchmark capture: reading and dispatching cost about as much as
 * analysing a quarter of the flows). */
#define CALLER_SHARE 1u
#define THREAD_SHARE 4u
#define WAKE_BYTES (256u << 10) /* a sleeping worker is woken when this much is waiting
                                  (or at the next delivery): one wake-up per batch, not
                                  one per frame */

enum msg_type { MSG_PAD = 0, MSG_PACKET, MSG_TICK, MSG_FINISH, MSG_STOP };

/* A message in a worker's ring; a frame's bytes follow the header. */
struct msg {
    uint32_t len; /* whole message, header included, multiple of 8 */
    uint8_t type;
    int32_t linktype;
    uint64_t seq, now_us, ts_us;
    uint32_t caplen, wirelen;
    uint32_t hash;     /* MSG_PACKET of a flow (has_hash): its flow-table hash */
    uint8_t has_hash;
};

enum { PH_TICK = 0, PH_PACKET = 1, PH_FINISH = 2 };

struct kp_rec {
    struct kp_rec *next;
    uint64_t seq;
    uint8_t phase;
    uint8_t type;
    uint64_t now_us;
    uint64_t first_us;      /* the released flow's, in tick and finish phases */
    struct kp_flow_key key; /* idem */
    _Alignas(max_align_t) unsigned char body[];
};

struct expect_body {
    struct kp_addr a;
    uint16_t port;
    bool srtp, sdes;
};

struct ends_body {
    struct kp_addr a, b;
};

struct kp_worker {
    struct kp_workers *ws;
    unsigned id;
    struct kp_engine *eng;
    pthread_t th;
    int started;
    int in_caller;       /* worker 0: runs in the calling thread, no ring, no thread */
    /* the ring: written by the dispatcher, read by the worker */
    uint8_t *ring;
    /* head, tail: bytes written, bytes consumed (both only grow), each on
     * a cache line of its own, with what only its writer touches: a line
     * written by both threads would move between the cores on every
     * frame */
    _Alignas(64) _Atomic uint64_t head;
    uint64_t tail_seen;   /* the dispatcher's last look at tail */
    uint64_t sent_msgs;   /* the dispatcher's */
    struct kp_rec *pend_head, *pend_tail; /* the dispatcher's */
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) _Atomic int sleeping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* published by the worker under mu */
    struct kp_rec *out_head, *out_tail;
    uint64_t done_msgs, done_seq;
    uint8_t done_phase;
    /* within message done_seq (a tick or the final flush releasing many
     * flows): released up to this flow, in canonical order; all of it
     * when done_msgs counts the message */
    uint64_t done_first_us;
    struct kp_flow_key done_key;
    int exited;
    struct kp_stats st;
    /* the worker's own */
    struct kp_rec *loc_head, *loc_tail;
    uint64_t msgs;
    uint64_t cur_seq, cur_now;
    uint8_t cur_phase;
    const struct kp_flow *cur_flow;
    unsigned released; /* flows released since the last publication */
    uint64_t produced; /* records made */
    _Atomic uint64_t delivered; /* of them, delivered (written by the dispatcher) */
    int in_message;    /* in_caller: handling a message (drain must not
                          publish it as done) */
};

struct addr_slot {
    struct kp_addr a;
    uint32_t n; /* 0: empty */
};

struct kp_workers {
    struct kp_engine *eng; /* the dispatcher and delivery stage */
    unsigned n;
    uint64_t share_sum;   /* CALLER_SHARE + (n - 1) * THREAD_SHARE */
    uint64_t clock_us;    /* latest frame time fed */
    struct kp_worker *w;
    uint64_t seq;
    uint64_t next_sweep_us;
    uint64_t grain_us;
    uint64_t k0, k1;
    uint64_t since_drain;
    int finished;
    /* flows in the workers' tables, per address (open addressing) */
    struct addr_slot *addrs;
    size_t addr_cap, addr_used;
};

/* ---- records (worker side) ---------------------------------------------- */

void kp_worker_put(struct kp_engine *eng, enum kp_rec_type type, const void *body, size_t len)
{
    struct kp_worker *w = eng->wctx;
    struct kp_rec *r = malloc(sizeof(*r) + len);
    if (r == NULL) {
        eng->st.mem_limited++;
        return;
    }
    memset(r, 0, sizeof(*r));
    r->seq = w->cur_seq;
    r->phase = w->cur_phase;
    r->type = (uint8_t)type;
    r->now_us = w->cur_now;
    if (w->cur_flow != NULL && w->cur_phase != PH_PACKET) {
        r->first_us = w->cur_flow->first_us;
        r->key = w->cur_flow->key;
    }
    memcpy(r->body, body, len);
    w->produced++;
    if (w->loc_tail != NULL) {
        w->loc_tail->next = r;
    } else {
        w->loc_head = r;
    }
    w->loc_tail = r;
}

void kp_worker_flow_release_begin(struct kp_engine *eng, const struct kp_flow *f)
{
    eng->wctx->cur_flow = f;
}

/* Flows released in one message between two publications: a sweep of
 * many idle flows, or the final flush of a million, would otherwise hold
 * every record in memory until it ends. */
#define RELEASE_PUBLISH 256

static void publish_at(struct kp_worker *w, const struct kp_flow *mid_flow);
static bool drain(struct kp_engine *eng);
static void pause_briefly(void);

/* Records a worker may have made and not yet seen delivered: a worker
 * that releases flows faster than the calling thread can deliver their
 * records (the final flush of a million handshakes) waits, rather than
 * holding them all in memory.  The worker furthest behind in the merge
 * order always has its records deliverable, so some worker always
 * progresses. */
#define MAX_UNDELIVERED 4096

static void wait_for_delivery(struct kp_worker *w)
{
    while (w->produced - atomic_load_explicit(&w->delivered, memory_order_acquire) >
           MAX_UNDELIVERED) {
        if (w->in_caller) {
            drain(w->ws->eng); /* the delivery stage is this thread */
        }
        if (w->produced - atomic_load_explicit(&w->delivered, memory_order_acquire) >
            MAX_UNDELIVERED) {
            pause_briefly();
        }
    }
}

void kp_worker_flow_release_end(struct kp_engine *eng, const struct kp_flow *f)
{
    struct kp_worker *w = eng->wctx;
    struct ends_body e = {.a = f->key.a, .b = f->key.b};
    kp_worker_put(eng, KP_REC_CLOSE, &e, sizeof(e));
    w->cur_flow = NULL;
    if (w->cur_phase != PH_PACKET && ++w->released >= RELEASE_PUBLISH) {
        w->released = 0;
        publish_at(w, f);
        if (w->in_caller) {
            drain(w->ws->eng); /* deliver meanwhile (the delivery stage is
                                  this thread, and not in this engine) */
        }
        wait_for_delivery(w);
    }
}

void kp_worker_flow_open(struct kp_engine *eng, const struct kp_flow *f)
{
    struct ends_body e = {.a = f->key.a, .b = f->key.b};
    kp_worker_put(eng, KP_REC_OPEN, &e, sizeof(e));
}

void kp_worker_expect(struct kp_engine *eng, const struct kp_addr *a, uint16_t port, bool srtp,
                      bool sdes)
{
    struct expect_body e;
    memset(&e, 0, sizeof(e));
    e.a = *a;
    e.port = port;
    e.srtp = srtp;
    e.sdes = sdes;
    kp_worker_put(eng, KP_REC_EXPECT, &e, sizeof(e));
}

/* ---- the worker thread --------------------------------------------------- */

/* Hand the worker's records to the dispatcher.  mid_flow: in the middle of
 * a message (a sweep or the final flush), right after releasing that flow:
 * the records of every flow before it in canonical order are out. */
static void publish_at(struct kp_worker *w, const struct kp_flow *mid_flow)
{
    struct kp_stats st = KP_STATS_INIT;
    kp_engine_stats(w->eng, &st);
    pthread_mutex_lock(&w->mu);
    if (w->loc_head != NULL) {
        if (w->out_tail != NULL) {
            w->out_tail->next = w->loc_head;
        } else {
            w->out_head = w->loc_head;
        }
        w->out_tail = w->loc_tail;
        w->loc_head = w->loc_tail = NULL;
    }
    w->done_msgs = mid_flow != NULL ? w->msgs - 1 : w->msgs;
    w->done_seq = w->cur_seq;
    w->done_phase = w->cur_phase;
    if (mid_flow != NULL) {
        w->done_first_us = mid_flow->first_us;
        w->done_key = mid_flow->key;
    } else {
        w->done_first_us = UINT64_MAX;
        memset(&w->done_key, 0xff, sizeof(w->done_key));
    }
    w->st = st;
    pthread_mutex_unlock(&w->mu);
}

static void publish(struct kp_worker *w) { publish_at(w, NULL); }

/* Handle one message (a frame's bytes at data); false when the worker is
 * to end. */
static bool handle(struct kp_worker *w, const struct msg *m, const uint8_t *data)
{
    struct kp_engine *eng = w->eng;
    if (m->type == MSG_PAD) {
        return true;
    }
    w->msgs++;
    w->cur_seq = m->seq;
    w->cur_now = m->now_us;
    eng->now_us = m->now_us;
    switch (m->type) {
    case MSG_PACKET:
        w->cur_phase = PH_PACKET;
        kp_engine_feed_hashed(eng, m->linktype, m->ts_us, data, m->caplen, m->wirelen,
                              m->has_hash != 0, m->hash);
        return true;
    case MSG_TICK:
        w->cur_phase = PH_TICK;
        kp_flow_table_expire(eng->flows, m->now_us);
        return true;
    case MSG_FINISH:
        w->cur_phase = PH_FINISH;
        kp_flow_table_flush(eng->flows);
        return false;
    default: /* MSG_STOP */
        return false;
    }
}

#define AHEAD_BUCKET 8
#define AHEAD_FLOW 4
#define AHEAD_SLOTS 16

static void *worker_main(void *arg)
{
    struct kp_worker *w = arg;
    bool run = true;
    /* frames looked at ahead of the one handled: ring offset, counts */
    uint64_t ahead = atomic_load_explicit(&w->tail, memory_order_relaxed);
    uint64_t peeked = 0, handled = 0;
    uint32_t pf_hash[AHEAD_SLOTS];
    bool pf_ok[AHEAD_SLOTS];
    while (run) {
        uint64_t tail = atomic_load_explicit(&w->tail, memory_order_relaxed);
        uint64_t head = atomic_load_explicit(&w->head, memory_order_acquire);
        if (tail == head) {
            publish(w);
            /* Sleep until the dispatcher has WAKE_BYTES of frames for us
             * or delivers: spinning (sched_yield) while it reads the file
             * cost more system time than the wake-ups it saved. */
            pthread_mutex_lock(&w->mu);
            atomic_store(&w->sleeping, 1);
            while (atomic_load(&w->head) == tail) {
                pthread_cond_wait(&w->cv, &w->mu);
            }
            atomic_store(&w->sleeping, 0);
            pthread_mutex_unlock(&w->mu);
            continue;
        }
        for (int n = 0; n < BATCH && tail != head && run; n++) {
            /* flow-table memory of the frames ahead (engine.c
             * kp_engine_feed_batch does the same for one engine) */
            while (ahead != head && peeked - handled < AHEAD_BUCKET) {
                const struct msg *a = (const struct msg *)(w->ring + ahead % RING_BYTES);
                uint32_t slot = (uint32_t)(peeked % AHEAD_SLOTS);
                /* a padding message may be shorter than a header: only
                 * its len and type are there */
                pf_ok[slot] = a->type == MSG_PACKET && a->has_hash;
                pf_hash[slot] = pf_ok[slot] ? a->hash : 0;
                if (pf_ok[slot]) {
                    kp_flow_prefetch_bucket(w->eng->flows, a->hash);
                }
                ahead += a->len;
                peeked++;
            }
            if (peeked - handled > AHEAD_FLOW && pf_ok[(handled + AHEAD_FLOW) % AHEAD_SLOTS]) {
                kp_flow_prefetch_flow(w->eng->flows, pf_hash[(handled + AHEAD_FLOW) % AHEAD_SLOTS]);
            }
            const struct msg *m = (const struct msg *)(w->ring + tail % RING_BYTES);
            run = handle(w, m, (const uint8_t *)(m + 1));
            tail += m->len;
            handled++;
            if ((handled & 31) == 0) {
                atomic_store_explicit(&w->tail, tail, memory_order_release);
            }
        }
        atomic_store_explicit(&w->tail, tail, memory_order_release);
        publish(w);
    }
    pthread_mutex_lock(&w->mu);
    w->exited = 1;
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- the dispatcher ------------------------------------------------------ */

static int rec_cmp(const struct kp_rec *a, const struct kp_rec *b)
{
    if (a->seq != b->seq) {
        return a->seq < b->seq ? -1 : 1;
    }
    if (a->phase != b->phase) {
        return a->phase < b->phase ? -1 : 1;
    }
    if (a->first_us != b->first_us) {
        return a->first_us < b->first_us ? -1 : 1;
    }
    return memcmp(&a->key, &b->key, sizeof(a->key));
}

static size_t addr_find(const struct kp_workers *ws, const struct kp_addr *a)
{
    size_t i = (size_t)kp_siphash13(a->b, sizeof(a->b), ws->k0, ws->k1) & (ws->addr_cap - 1);
    while (ws->addrs[i].n != 0 && memcmp(&ws->addrs[i].a, a, sizeof(*a)) != 0) {
        i = (i + 1) & (ws->addr_cap - 1);
    }
    return i;
}

static void addr_add(struct kp_workers *ws, const struct kp_addr *a)
{
    if ((ws->addr_used + 1) * 2 > ws->addr_cap) {
        size_t cap = ws->addr_cap * 2;
        struct addr_slot *old = ws->addrs, *nw = calloc(cap, sizeof(*nw));
        if (nw == NULL) {
            return; /* keeps the old table: sessions may close a little early */
        }
        size_t oldcap = ws->addr_cap;
        ws->addrs = nw;
        ws->addr_cap = cap;
        for (size_t i = 0; i < oldcap; i++) {
            if (old[i].n != 0) {
                ws->addrs[addr_find(ws, &old[i].a)] = old[i];
            }
        }
        free(old);
    }
    size_t i = addr_find(ws, a);
    if (ws->addrs[i].n == 0) {
        ws->addrs[i].a = *a;
        ws->addr_used++;
    }
    ws->addrs[i].n++;
}

static void addr_del(struct kp_workers *ws, const struct kp_addr *a)
{
    size_t i = addr_find(ws, a);
    if (ws->addrs[i].n == 0 || --ws->addrs[i].n > 0) {
        return;
    }
    ws->addr_used--;
    /* backward-shift deletion keeps linear probing chains unbroken */
    size_t j = i;
    for (;;) {
        j = (j + 1) & (ws->addr_cap - 1);
        if (ws->addrs[j].n == 0) {
            break;
        }
        size_t home =
            (size_t)kp_siphash13(ws->addrs[j].a.b, 16, ws->k0, ws->k1) & (ws->addr_cap - 1);
        /* move j to i if its home is not cyclically in (i, j] */
        bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            ws->addrs[i] = ws->addrs[j];
            i = j;
        }
    }
    memset(&ws->addrs[i], 0, sizeof(ws->addrs[i]));
}

bool kp_workers_addr_active(const struct kp_engine *eng, const struct kp_addr *a)
{
    const struct kp_workers *ws = eng->workers;
    return ws->addrs[addr_find(ws, a)].n > 0;
}

static void deliver(struct kp_engine *eng, struct kp_rec *r)
{
    struct kp_workers *ws = eng->workers;
    eng->now_us = r->now_us;
    switch (r->type) {
    case KP_REC_KEY:
        kp_engine_emit_key(eng, (struct kp_key_rec *)(void *)r->body);
        break;
    case KP_REC_MEDIA:
        kp_engine_emit_media(eng, (struct kp_media_rec *)(void *)r->body);
        break;
    case KP_REC_EXPECT: {
        const struct expect_body *e = (const struct expect_body *)(const void *)r->body;
        kp_engine_expect(eng, &e->a, e->port, e->srtp, e->sdes);
        break;
    }
    case KP_REC_ANOMALY:
        if (eng->cfg.on_event != NULL) {
            struct kp_event ev = {.type = KP_EV_ANOMALY,
                                  .anomaly = (const struct kp_anomaly *)(const void *)r->body};
            eng->cfg.on_event(&ev, eng->cfg.user);
        }
        break;
    case KP_REC_FLOW:
        if (eng->cfg.on_event != NULL) {
            struct kp_event ev = {.type = KP_EV_FLOW,
                                  .flow = (const struct kp_flow_rec *)(const void *)r->body};
            eng->cfg.on_event(&ev, eng->cfg.user);
        }
        break;
    case KP_REC_OPEN:
    case KP_REC_CLOSE: {
        const struct ends_body *e = (const struct ends_body *)(const void *)r->body;
        if (r->type == KP_REC_OPEN) {
            addr_add(ws, &e->a);
            addr_add(ws, &e->b);
        } else {
            addr_del(ws, &e->a);
            addr_del(ws, &e->b);
        }
        break;
    }
    default:
        break;
    }
}

/* Deliver every record no worker can still precede.  Returns whether all
 * workers have exited. */
static void wake(struct kp_worker *w);

static bool drain(struct kp_engine *eng)
{
    struct kp_workers *ws = eng->workers;
    ws->since_drain = 0;
    for (unsigned i = 0; i < ws->n; i++) {
        wake(&ws->w[i]); /* frames below WAKE_BYTES may be waiting */
    }
    /* the point no worker that is behind can still precede: a record
     * placed (seq, phase, first_us, key) as rec_cmp orders them */
    struct kp_rec safe;
    memset(&safe, 0xff, sizeof(safe));
    bool all_exited = true;
    for (unsigned i = 0; i < ws->n; i++) {
        struct kp_worker *w = &ws->w[i];
        if (w->in_caller && !w->in_message) {
            publish(w); /* caught up: only its records to collect */
        }
        pthread_mutex_lock(&w->mu);
        if (w->out_head != NULL) {
            if (w->pend_tail != NULL) {
                w->pend_tail->next = w->out_head;
            } else {
                w->pend_head = w->out_head;
            }
            w->pend_tail = w->out_tail;
            w->out_head = w->out_tail = NULL;
        }
        bool caught_up = w->done_msgs == w->sent_msgs;
        struct kp_rec done;
        memset(&done, 0, sizeof(done));
        done.seq = w->done_seq;
        done.phase = w->done_phase;
        done.first_us = w->done_first_us;
        done.key = w->done_key;
        all_exited = all_exited && (w->exited || !w->started);
        pthread_mutex_unlock(&w->mu);
        if (!caught_up && rec_cmp(&done, &safe) < 0) {
            safe = done;
        }
    }
    for (;;) {
        struct kp_worker *best = NULL;
        for (unsigned i = 0; i < ws->n; i++) {
            struct kp_worker *w = &ws->w[i];
            if (w->pend_head != NULL && (best == NULL || rec_cmp(w->pend_head, best->pend_head) < 0)) {
                best = w;
            }
        }
        if (best == NULL) {
            break;
        }
        struct kp_rec *r = best->pend_head;
        if (rec_cmp(r, &safe) > 0) {
            break;
        }
        best->pend_head = r->next;
        if (best->pend_head == NULL) {
            best->pend_tail = NULL;
        }
        deliver(eng, r);
        atomic_fetch_add_explicit(&best->delivered, 1, memory_order_release);
        free(r);
    }
    return all_exited;
}

static void pause_briefly(void)
{
    struct timespec ts = {0, 50000};
    nanosleep(&ts, NULL);
}

/* Wake a worker if it sleeps (it sleeps only with an empty ring). */
static void wake(struct kp_worker *w)
{
    if (!w->in_caller && atomic_load(&w->sleeping)) {
        pthread_mutex_lock(&w->mu);
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
}

/* Append a message to a worker's ring (waiting for room if needed). */
static void put_msg(struct kp_engine *eng, struct kp_worker *w, const struct msg *m,
                    const uint8_t *data)
{
    if (w->in_caller) {
        w->sent_msgs++;
        w->in_message = 1;
        (void)handle(w, m, data); /* analysed here and now */
        w->in_message = 0;
        return;
    }
    uint32_t len = (uint32_t)((sizeof(*m) + m->caplen + 7) & ~(size_t)7);
    uint64_t head = atomic_load_explicit(&w->head, memory_order_relaxed);
    for (;;) {
        uint64_t off = head % RING_BYTES;
        uint64_t pad = off + len > RING_BYTES ? RING_BYTES - off : 0;
        if (head + pad + len - w->tail_seen > RING_BYTES) {
            /* look at the worker's tail only when the ring seems full */
            w->tail_seen = atomic_load_explicit(&w->tail, memory_order_acquire);
        }
        if (head + pad + len - w->tail_seen <= RING_BYTES) {
            if (pad > 0) {
                struct msg p;
                memset(&p, 0, sizeof(p));
                p.type = MSG_PAD;
                p.len = (uint32_t)pad;
                memcpy(w->ring + off, &p, sizeof(p) < pad ? sizeof(p) : pad);
                head += pad;
            }
            break;
        }
        drain(eng); /* the ring is full: deliver meanwhile */
        pause_briefly();
    }
    struct msg hdr = *m;
    hdr.len = len;
    memcpy(w->ring + head % RING_BYTES, &hdr, sizeof(hdr));
    if (m->caplen > 0) {
        memcpy(w->ring + head % RING_BYTES + sizeof(hdr), data, m->caplen);
    }
    atomic_store(&w->head, head + len);
    w->sent_msgs++;
    if (m->type != MSG_PACKET) {
        wake(w);
    } else if (head + len - w->tail_seen >= WAKE_BYTES &&
               atomic_load_explicit(&w->sleeping, memory_order_relaxed)) {
        w->tail_seen = atomic_load_explicit(&w->tail, memory_order_acquire); /* final: it sleeps */
        if (head + len - w->tail_seen >= WAKE_BYTES) {
            wake(w);
        }
    }
}

int kp_workers_feed(struct kp_engine *eng, int linktype, uint64_t ts_us, const uint8_t *data,
                    size_t caplen, size_t wirelen)
{
    struct kp_workers *ws = eng->workers;
    if (ws->finished || caplen > UINT32_MAX - 64 || caplen > RING_BYTES / 4) {
        return KP_EINVAL;
    }
    ws->seq++;
    /* the capture's clock, as a single engine keeps it (the latest frame
     * time); not eng->now_us, which delivery sets to each record's time */
    if (ts_us > ws->clock_us) {
        ws->clock_us = ts_us;
    }
    eng->now_us = ws->clock_us;
    /* the worker of the frame's flow; frames that are no flow's go by
     * address (fragments) or to worker 0 (undecodable: only counted) */
    struct kp_pkt pkt;
    struct kp_flow_key k;
    unsigned target = 0;
    bool flow_pkt = false, src_is_a = false;
    uint64_t h = 0;
    enum kp_res r = kp_decode(linktype, data, caplen, &pkt);
    if (r == KP_RES_OK) {
        if (!pkt.fragment && (pkt.proto == KP_PROTO_TCP || pkt.proto == KP_PROTO_UDP)) {
            flow_pkt = true;
            src_is_a = kp_flow_key_make(&k, &pkt.src, pkt.sport, &pkt.dst, pkt.dport, pkt.proto);
        } else {
            kp_flow_key_make(&k, &pkt.src, 0, &pkt.dst, 0, 0);
        }
        /* the high half picks the worker, the low half its bucket */
        h = kp_flow_hash(&k, ws->k0, ws->k1);
        uint64_t x = ((h >> 32) * ws->share_sum) >> 32; /* in [0, share_sum) */
        target = x < CALLER_SHARE ? 0 : 1 + (unsigned)((x - CALLER_SHARE) / THREAD_SHARE);
    }
    struct msg m;
    memset(&m, 0, sizeof(m));
    m.seq = ws->seq;
    m.now_us = ws->clock_us;
    if (flow_pkt && ws->clock_us >= ws->next_sweep_us) {
        /* the sweep a single engine would run before this frame (engine.c
         * kp_engine_tick) */
        m.type = MSG_TICK;
        /* worker 0 (this thread) last: while it sweeps it delivers, and
         * the others must have the tick by then, or they would count as
         * caught up and their releases could come out of order */
        for (unsigned i = ws->n; i-- > 0;) {
            put_msg(eng, &ws->w[i], &m, NULL);
        }
        ws->next_sweep_us = (ws->clock_us / ws->grain_us + 1) * ws->grain_us;
    }
    m.type = MSG_PACKET;
    m.linktype = linktype;
    m.ts_us = ts_us;
    m.caplen = (uint32_t)caplen;
    m.wirelen = (uint32_t)(wirelen > UINT32_MAX ? UINT32_MAX : wirelen);
    m.hash = (uint32_t)h;
    m.has_hash = flow_pkt;
    struct kp_worker *w = &ws->w[target];
    if (w->in_caller) {
        /* analysed here, from this decoding (what handle() does with a
         * message) */
        w->sent_msgs++;
        w->msgs++;
        w->cur_seq = m.seq;
        w->cur_now = m.now_us;
        w->cur_phase = PH_PACKET;
        w->eng->now_us = m.now_us;
        kp_engine_feed_decoded(w->eng, r, &pkt, ts_us, m.wirelen, &k, m.hash, src_is_a);
    } else {
        put_msg(eng, w, &m, data);
    }
    if (++ws->since_drain >= DRAIN_EVERY) {
        drain(eng);
    }
    return KP_OK;
}

void kp_workers_poll(struct kp_engine *eng) { drain(eng); }

static void stop_all(struct kp_engine *eng, uint8_t type)
{
    struct kp_workers *ws = eng->workers;
    struct msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.seq = ws->seq + 1;
    m.now_us = ws->clock_us > eng->now_us ? ws->clock_us : eng->now_us;
    for (unsigned i = ws->n; i-- > 0;) { /* worker 0 last, as for ticks */
        if (ws->w[i].started || ws->w[i].in_caller) {
            put_msg(eng, &ws->w[i], &m, NULL);
        }
    }
    while (!drain(eng)) {
        pause_briefly();
    }
    for (unsigned i = 0; i < ws->n; i++) {
        if (ws->w[i].started) {
            pthread_join(ws->w[i].th, NULL);
            ws->w[i].started = 0;
        }
    }
    drain(eng); /* everything is caught up now */
    ws->finished = 1;
}

void kp_workers_finish(struct kp_engine *eng)
{
    if (!eng->workers->finished) {
        stop_all(eng, MSG_FINISH);
    }
}

static void free_list(struct kp_rec *r)
{
    while (r != NULL) {
        struct kp_rec *n = r->next;
        free(r);
        r = n;
    }
}

void kp_workers_free(struct kp_engine *eng)
{
    struct kp_workers *ws = eng->workers;
    if (ws == NULL) {
        return;
    }
    if (!ws->finished) {
        /* no event after kp_engine_free: drop what the workers produce */
        kp_event_cb cb = eng->cfg.on_event;
        eng->cfg.on_event = NULL;
        stop_all(eng, MSG_STOP);
        eng->cfg.on_event = cb;
    }
    for (unsigned i = 0; i < ws->n; i++) {
        struct kp_worker *w = &ws->w[i];
        if (w->eng != NULL) {
            w->eng->wctx = NULL; /* flushing drops records, as kp_engine_free does events */
            kp_engine_free(w->eng);
        }
        free_list(w->out_head);
        free_list(w->pend_head);
        free_list(w->loc_head);
        free(w->ring);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
    }
    free(ws->w);
    free(ws->addrs);
    free(ws);
    eng->workers = NULL;
}

void kp_workers_stats(const struct kp_engine *eng, struct kp_stats *st)
{
    struct kp_workers *ws = eng->workers;
    st->flows_created = st->flows_evicted_idle = st->flows_evicted_full = st->flows_active = 0;
    for (unsigned i = 0; i < ws->n; i++) {
        struct kp_worker *w = &ws->w[i];
        pthread_mutex_lock(&w->mu);
        const struct kp_stats *s = &w->st;
        /* every counter is kept by either the workers or the delivery stage */
        const size_t first = offsetof(struct kp_stats, packets);
        const size_t n = (sizeof(struct kp_stats) - first) / sizeof(uint64_t);
        for (size_t j = 0; j < n; j++) {
            uint64_t v;
            memcpy(&v, (const char *)s + first + j * sizeof(uint64_t), sizeof(v));
            uint64_t *dst = (uint64_t *)(void *)((char *)st + first + j * sizeof(uint64_t));
            *dst += v;
        }
        pthread_mutex_unlock(&w->mu);
    }
}

int kp_workers_start(struct kp_engine *eng, unsigned n, char *err, size_t errlen)
{
    struct kp_workers *ws = calloc(1, sizeof(*ws));
    if (ws == NULL) {
        snprintf(err, errlen, "out of memory");
        return KP_ENOMEM;
    }
    eng->workers = ws;
    ws->eng = eng;
    ws->n = n;
    ws->share_sum = CALLER_SHARE + (uint64_t)(n - 1) * THREAD_SHARE;
    ws->grain_us = kp_flow_table_grain(eng->flows);
    kp_flow_table_keys(eng->flows, &ws->k0, &ws->k1);
    ws->addr_cap = 1024;
    ws->addrs = calloc(ws->addr_cap, sizeof(*ws->addrs));
    ws->w = aligned_alloc(64, n * sizeof(*ws->w)); /* its cache-line-aligned fields */
    if (ws->w != NULL) {
        memset(ws->w, 0, n * sizeof(*ws->w));
    }
    if (ws->addrs == NULL || ws->w == NULL) {
        snprintf(err, errlen, "out of memory");
        return KP_ENOMEM;
    }
    for (unsigned i = 0; i < n; i++) {
        struct kp_worker *w = &ws->w[i];
        w->ws = ws;
        w->id = i;
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
    }
    for (unsigned i = 0; i < n; i++) {
        struct kp_worker *w = &ws->w[i];
        struct kp_config cfg = eng->cfg;
        cfg.workers = 0;
        cfg.on_event = NULL;
        cfg.user = NULL;
        cfg.rules_path = NULL;
        /* the flow table and memory budget in proportion to the share */
        uint64_t share = i == 0 ? CALLER_SHARE : THREAD_SHARE;
        cfg.max_flows = (uint32_t)((eng->cfg.max_flows * share + ws->share_sum - 1) / ws->share_sum);
        cfg.max_flows = cfg.max_flows > 0 ? cfg.max_flows : 1;
        cfg.mem_limit = eng->cfg.mem_limit * share / ws->share_sum;
        cfg.mem_limit = cfg.mem_limit > 0 ? cfg.mem_limit : 1;
        cfg.hash_seed = ws->k0; /* its table's keys become the dispatcher's below */
        int rc = kp_engine_new(&w->eng, &cfg, err, errlen);
        if (rc != KP_OK) {
            return rc;
        }
        kp_rules_free(w->eng->rules); /* the delivery stage's rules, shared read-only */
        w->eng->rules = eng->rules;
        w->eng->rules_borrowed = 1;
        w->eng->wctx = w;
        kp_flow_table_set_keys(w->eng->flows, ws->k0, ws->k1);
        if (i == 0) {
            /* The calling thread reads and dispatches the frames anyway:
             * it analyses worker 0's share itself, so that N workers
             * keep N cores busy, not N + 1 threads on N cores. */
            w->in_caller = 1;
            continue;
        }
        w->ring = malloc(RING_BYTES);
        if (w->ring == NULL) {
            snprintf(err, errlen, "out of memory for worker %u", i);
            return KP_ENOMEM;
        }
        /* signals are the caller's business: workers block them all */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int prc = pthread_create(&w->th, NULL, worker_main, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (prc != 0) {
            snprintf(err, errlen, "cannot start worker thread %u", i);
            return KP_ENOMEM;
        }
        w->started = 1;
    }
    return KP_OK;
}
