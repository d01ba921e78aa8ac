/* Internal types shared by keyprov's modules (not part of the public API). */
#ifndef KP_KP_H
#define KP_KP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rd.h"

/* Result of a pure parser (STYLE.md): truncated is kept apart from invalid. */
enum kp_res {
    KP_RES_OK = 0,
    KP_RES_NOT_MINE,  /* these bytes are not this protocol */
    KP_RES_TRUNCATED, /* valid so far, more bytes needed */
    KP_RES_MALFORMED, /* violates the protocol */
    KP_RES_NOMEM
};

/* An IP address: IPv4 is stored IPv4-mapped (::ffff:a.b.c.d) so that both
 * families hash and compare the same way. */
struct kp_addr {
    uint8_t b[16];
};

static inline bool kp_addr_is_v4(const struct kp_addr *a)
{
    static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    for (int i = 0; i < 12; i++) {
        if (a->b[i] != pfx[i]) {
            return false;
        }
    }
    return true;
}

/* The special-purpose scope of an address (RFC 6890 registries): "private"
 * (RFC 1918, RFC 4193), "shared" (RFC 6598 carrier-grade NAT), "loopback",
 * "link-local", "multicast", "documentation", "reserved"; NULL for a
 * global address.  Geolocation databases have no meaning for these (the
 * default one even maps 192.168.0.0/16 to AU), so they are not looked up. */
const char *kp_addr_scope(const struct kp_addr *a);

/* Format as text (inet_ntop); buf needs 46 bytes. */
void kp_addr_str(const struct kp_addr *a, char *buf, size_t len);

#endif
