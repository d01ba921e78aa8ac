/* Flow-affine workers behind one engine (kp_config.workers > 1).
 *
 * The engine the caller holds becomes the dispatcher and the delivery
 * stage: kp_engine_feed() decodes a frame and hashes its flow's canonical
 * key.  Worker 0 runs in the calling thread and analyses its frames from
 * that decoding; a frame of another worker's flow is copied into that
 * worker thread's ring, with the hash (all workers' flow tables use the
 * dispatcher's hash keys, so a frame is hashed once).  Each
 * worker is an ordinary engine in "worker" mode: it analyses its flows and,
 * instead of delivering events, writes records (key, media, SDP
 * expectation, anomaly, flow, flow opened/closed) tagged with the sequence
 * number of the frame that produced them.  The calling thread merges the
 * workers' records in sequence order and runs everything that depends on
 * more than one flow (geolocation, policy, key-exchange links, SDP
 * expectations, sessions) exactly as a single engine would, then calls
 * on_event.
 *
 * Why the output equals one worker's: every record a frame produces comes
 * from the one worker its flow belongs to, and records are delivered in
 * frame order.  Idle expiry runs at ticks of the capture's time (the
 * dispatcher sends every worker the same ticks, before the same frame as a
 * single engine would sweep) and releases flows in canonical order
 * (flow.h); the merge interleaves the workers' releases of one tick in that
 * same order.  A record may be delivered once every worker has either
 * processed everything sent to it or gone past the record's place.
 * Exceptions: eviction when a worker's share of the flow table is full,
 * and the memory budget, are per worker.
 */
#ifndef KP_WORKERS_H
#define KP_WORKERS_H

#include "engine.h"

enum kp_rec_type {
    KP_REC_KEY = 1,
    KP_REC_MEDIA,
    KP_REC_EXPECT,
    KP_REC_ANOMALY,
    KP_REC_FLOW,
    KP_REC_OPEN,  /* a flow entered a worker's table */
    KP_REC_CLOSE  /* a flow left it */
};

/* Start n workers (n-1 threads) for engine eng (the caller's).  KP_OK or
 * an error with a message in err. */
int kp_workers_start(struct kp_engine *eng, unsigned n, char *err, size_t errlen);

/* kp_engine_feed with workers. */
int kp_workers_feed(struct kp_engine *eng, int linktype, uint64_t ts_us, const uint8_t *data,
                    size_t caplen, size_t wirelen);

/* Deliver what is ready. */
void kp_workers_poll(struct kp_engine *eng);

/* End of input: the workers flush their tables, everything is delivered,
 * the threads end. */
void kp_workers_finish(struct kp_engine *eng);

/* Stop the threads without delivering anything; free everything. */
void kp_workers_free(struct kp_engine *eng);

/* Add the workers' counters to st. */
void kp_workers_stats(const struct kp_engine *eng, struct kp_stats *st);

/* Whether a flow with this address at either end is in a worker's table
 * (sessions stay open while one is). */
bool kp_workers_addr_active(const struct kp_engine *eng, const struct kp_addr *a);

/* In a worker: hand a record to the delivery stage (copies len bytes of
 * body). */
void kp_worker_put(struct kp_engine *eng, enum kp_rec_type type, const void *body, size_t len);

/* In a worker: a flow entered the table; a flow's release begins (its
 * records are ordered by the flow during sweeps) and ends. */
void kp_worker_flow_open(struct kp_engine *eng, const struct kp_flow *f);
void kp_worker_flow_release_begin(struct kp_engine *eng, const struct kp_flow *f);
void kp_worker_flow_release_end(struct kp_engine *eng, const struct kp_flow *f);

/* In a worker: media endpoints announced in SDP. */
void kp_worker_expect(struct kp_engine *eng, const struct kp_addr *a, uint16_t port, bool srtp,
                      bool sdes);

#endif
