/* Fuzz target: the capture front end (capture/capture.c over libpcap's
 * pcap and pcapng readers) feeding an engine.
 *
 * The input is a capture file: it is written to an in-memory file
 * (memfd, else a temporary file) opened by path with kp_capture_open, as
 * `keyprov -r FILE` does, and every packet read goes through a fresh engine
 * (kp_engine_feed, then kp_engine_finish).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture.h"
#include "fuzz.h"
#include "keyprov.h"

static int g_fd = -1;
static char g_path[64];

static int open_file(void)
{
    if (g_fd >= 0) {
        return 0;
    }
#ifdef MFD_CLOEXEC
    g_fd = memfd_create("kp-fuzz-pcap", MFD_CLOEXEC);
    if (g_fd >= 0) {
        snprintf(g_path, sizeof(g_path), "/proc/self/fd/%d", g_fd);
        return 0;
    }
#endif
    const char *dir = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/kp-fuzz-pcap-XXXXXX", dir != NULL ? dir : "/tmp");
    g_fd = mkstemp(tmpl);
    if (g_fd < 0) {
        return -1;
    }
    unlink(tmpl);
    snprintf(g_path, sizeof(g_path), "/proc/self/fd/%d", g_fd);
    return 0;
}

struct feed {
    struct kp_engine *eng;
    int linktype;
};

static void on_packet(uint64_t ts_us, const uint8_t *data, size_t caplen, size_t wirelen,
                      void *user)
{
    struct feed *f = user;
    (void)kp_engine_feed(f->eng, f->linktype, ts_us, data, caplen, wirelen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (open_file() != 0 || ftruncate(g_fd, 0) != 0) {
        return 0;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(g_fd, data + done, size - done, (off_t)done);
        if (n <= 0) {
            return 0;
        }
        done += (size_t)n;
    }

    char err[512];
    struct kp_capture_opts o;
    memset(&o, 0, sizeof(o));
    o.file = g_path;
    struct kp_capture *c = kp_capture_open(&o, err, sizeof(err));
    if (c == NULL) {
        return 0;
    }
    (void)kp_capture_linktype_name(c);
    (void)kp_capture_source(c);
    struct feed f = {NULL, kp_capture_linktype(c)};
    struct kp_config cfg;
    kp_config_init(&cfg);
    cfg.max_flows = 64;
    cfg.report_all = 1;
    cfg.hash_seed = 1;
    if (kp_linktype_supported(f.linktype) && kp_engine_new(&f.eng, &cfg, err, sizeof(err)) == KP_OK) {
        /* A bound on packets keeps a huge snaplen-0 file from looping long. */
        (void)kp_capture_run(c, 100000, on_packet, &f, err, sizeof(err));
        uint64_t pos, total;
        kp_capture_progress(c, &pos, &total);
        kp_engine_finish(f.eng);
        kp_engine_free(f.eng);
    }
    kp_capture_close(c);
    return 0;
}
