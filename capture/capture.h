/* Capture front end: libpcap live capture or a saved file (pcap, pcapng). */
#ifndef KP_CAPTURE_H
#define KP_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kp_capture_opts {
    const char *file;    /* -r: path or "-" for stdin */
    const char *iface;   /* -i */
    int snaplen;         /* 0: 262144 */
    int promisc;         /* live: promiscuous mode */
    int buffer_kib;      /* live: kernel buffer, 0 = libpcap default */
    const char *filter;  /* BPF expression or NULL */
};

struct kp_capture;

/* Open and configure; on failure returns NULL with a one-line message (naming
 * the file or interface) in err. */
struct kp_capture *kp_capture_open(const struct kp_capture_opts *o, char *err, size_t errlen);
void kp_capture_close(struct kp_capture *c);

int kp_capture_linktype(const struct kp_capture *c);
const char *kp_capture_linktype_name(const struct kp_capture *c);
/* "file" or "interface" name, for messages. */
const char *kp_capture_source(const struct kp_capture *c);

typedef void (*kp_capture_cb)(uint64_t ts_us, const uint8_t *data, size_t caplen, size_t wirelen,
                              void *user);

enum kp_capture_end { KP_CAP_EOF, KP_CAP_STOPPED, KP_CAP_COUNT, KP_CAP_ERROR };

/* Deliver packets until end of file, `count` packets (0: no limit),
 * kp_capture_stop() or an error (message in err; a truncated file is an
 * error after all complete packets were delivered). */
enum kp_capture_end kp_capture_run(struct kp_capture *c, uint64_t count, kp_capture_cb cb,
                                   void *user, char *err, size_t errlen);

/* Live captures: call fn after each batch the kernel hands over (at least
 * every 100 ms while capturing), for work that must not wait for the next
 * packet. */
void kp_capture_on_idle(struct kp_capture *c, void (*fn)(void *user), void *user);

/* Ask a running capture to stop: async-signal-safe. */
void kp_capture_stop(struct kp_capture *c);

/* Live captures: packets received and dropped by the kernel (false for files). */
bool kp_capture_kernel_stats(struct kp_capture *c, uint64_t *recv, uint64_t *drop,
                             uint64_t *ifdrop);

/* Bytes read / total size of a regular capture file (0 total if unknown). */
void kp_capture_progress(struct kp_capture *c, uint64_t *pos, uint64_t *total);

#endif
