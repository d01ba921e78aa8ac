/* Fuzz target: whole frames through the engine's public API
 * (kp_engine_feed), with one engine and so one flow table kept across
 * inputs, the way a capture feeds it.
 *
 * Input: byte 0 picks the link type (low 4 bits, an index into k_linktypes)
 * and options (bit 6: jump the clock 10 s forward first, past the idle
 * timeout; bit 7: call kp_engine_finish at the end, which flushes every
 * flow and session).  Then frames, each behind a 2-byte big-endian length
 * (a last, shorter piece is fed as it is); the clock advances 1 ms per
 * frame.  Events are rendered as JSON and read field by field.
 *
 * State carried between inputs means a crash may need the inputs before it:
 * replay the corpus in order (tests/fuzz/run, or the replay build) with the
 * reproducer last.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "keyprov.h"

static const int k_linktypes[] = {1, 0, 101, 113, 276, 228, 229, 108, 12, 14, 9, 50,
                                  1, 1, 1, 1};

static struct kp_engine *g_eng;
static uint64_t g_now_us = 1585836000000000ull; /* 2020-04-02 14:00:00 UTC */

static void on_event(const struct kp_event *ev, void *user)
{
    (void)user;
    char small[16], big[8192];
    (void)kp_event_type(ev);
    (void)kp_event_json(ev, small, sizeof(small));
    (void)kp_event_json(ev, big, sizeof(big));
    (void)kp_event_json(ev, NULL, 0);
    for (int f = KP_F_SERVICE; f <= KP_F_REASONS_N; f++) {
        (void)kp_event_str(ev, (enum kp_field)f);
        (void)kp_event_int(ev, (enum kp_field)f);
    }
    int64_t holders = kp_event_int(ev, KP_F_HOLDERS_N);
    for (int64_t i = 0; i <= holders && i < 64; i++) {
        (void)kp_event_holder_str(ev, (size_t)i, KP_F_ISSUER_IP);
        (void)kp_event_holder_int(ev, (size_t)i, KP_F_FLAGGED);
    }
    int64_t reasons = kp_event_int(ev, KP_F_REASONS_N);
    for (int64_t i = 0; i <= reasons && i < 64; i++) {
        (void)kp_event_reason(ev, (size_t)i);
    }
}

static void free_engine(void)
{
    kp_engine_free(g_eng);
    g_eng = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_eng == NULL) {
        struct kp_config cfg;
        char err[256];
        kp_config_init(&cfg);
        cfg.max_flows = 64;
        cfg.idle_timeout_s = 5;
        cfg.reasm_limit = 16384;
        cfg.report_all = 1;
        cfg.on_event = on_event;
        cfg.hash_seed = 0x6b657970726f76ull; /* fixed: runs repeat */
        if (kp_engine_new(&g_eng, &cfg, err, sizeof(err)) != KP_OK) {
            __builtin_trap();
        }
        atexit(free_engine);
    }
    if (size < 1) {
        return 0;
    }
    uint8_t opt = data[0];
    int lt = k_linktypes[opt & 0x0f];
    if (opt & 0x40) {
        g_now_us += 10000000u;
    }
    size_t off = 1;
    while (off < size) {
        size_t len = size - off;
        if (len >= 2) {
            size_t want = (size_t)data[off] << 8 | data[off + 1];
            if (want <= len - 2) {
                off += 2;
                len = want;
            }
        }
        g_now_us += 1000;
        /* An exact copy, so that ASan sees reads past the frame. */
        uint8_t *frame = malloc(len > 0 ? len : 1);
        if (frame == NULL) {
            break;
        }
        if (len > 0) {
            memcpy(frame, data + off, len);
        }
        (void)kp_engine_feed(g_eng, lt, g_now_us, frame, len, len + (opt & 0x20 ? 100 : 0));
        free(frame);
        off += len;
    }
    if (opt & 0x80) {
        kp_engine_finish(g_eng);
    }
    struct kp_stats st = KP_STATS_INIT;
    kp_engine_stats(g_eng, &st);
    return 0;
}
