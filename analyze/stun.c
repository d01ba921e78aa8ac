/* STUN/TURN message, ChannelData and TCP framing parsers.  See stun.h for
 * the contracts; comments here say why, citing the RFC section enforced. */
#include "stun.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* ---- CRC-32 ------------------------------------------------------------- */

/* FINGERPRINT is the CRC-32 of ISO 3309 / ITU-T V.42 (RFC 8489 14.7), the
 * one zlib computes.  A nibble-wide table keeps this to a few lines instead
 * of adding zlib as a dependency of the whole library for one checksum. */
static const uint32_t crc32_nibble[16] = {
    0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
    0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
    0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu,
};

static uint32_t crc32_rd(struct kp_rd r)
{
    uint32_t crc = 0xffffffffu;
    uint8_t b = 0;
    while (kp_rd_u8(&r, &b)) {
        crc ^= b;
        crc = (crc >> 4) ^ crc32_nibble[crc & 0x0f];
        crc = (crc >> 4) ^ crc32_nibble[crc & 0x0f];
    }
    return crc ^ 0xffffffffu;
}

uint32_t kp_stun_crc32(const uint8_t *p, size_t len)
{
    return crc32_rd(kp_rd_make(p, len));
}

/* ---- Names -------------------------------------------------------------- */

const char *kp_stun_method_name(uint16_t method)
{
    switch (method) {
    case KP_STUN_M_BINDING:
        return "Binding";
    case KP_STUN_M_SHARED_SECRET:
        return "SharedSecret";
    case KP_STUN_M_ALLOCATE:
        return "Allocate";
    case KP_STUN_M_REFRESH:
        return "Refresh";
    case KP_STUN_M_SEND:
        return "Send";
    case KP_STUN_M_DATA:
        return "Data";
    case KP_STUN_M_CREATE_PERMISSION:
        return "CreatePermission";
    case KP_STUN_M_CHANNEL_BIND:
        return "ChannelBind";
    case KP_STUN_M_CONNECT:
        return "Connect";
    case KP_STUN_M_CONNECTION_BIND:
        return "ConnectionBind";
    case KP_STUN_M_CONNECTION_ATTEMPT:
        return "ConnectionAttempt";
    case KP_STUN_M_GOOG_PING:
        return "GoogPing";
    default:
        return NULL;
    }
}

const char *kp_stun_class_name(uint8_t cls)
{
    switch (cls) {
    case KP_STUN_CLASS_REQUEST:
        return "Request";
    case KP_STUN_CLASS_INDICATION:
        return "Indication";
    case KP_STUN_CLASS_SUCCESS:
        return "Success Response";
    case KP_STUN_CLASS_ERROR:
        return "Error Response";
    default:
        return NULL;
    }
}

struct attr_name {
    uint16_t type;
    const char *name;
};

static const struct attr_name attr_names[] = {
    {0x0001, "MAPPED-ADDRESS"},
    {0x0002, "RESPONSE-ADDRESS"},
    {0x0003, "CHANGE-REQUEST"},
    {0x0004, "SOURCE-ADDRESS"},
    {0x0005, "CHANGED-ADDRESS"},
    {0x0006, "USERNAME"},
    {0x0007, "PASSWORD"},
    {0x0008, "MESSAGE-INTEGRITY"},
    {0x0009, "ERROR-CODE"},
    {0x000a, "UNKNOWN-ATTRIBUTES"},
    {0x000b, "REFLECTED-FROM"},
    {0x000c, "CHANNEL-NUMBER"},
    {0x000d, "LIFETIME"},
    {0x000e, "MS-ALTERNATE-SERVER"},
    {0x000f, "MS-MAGIC-COOKIE"},
    {0x0010, "BANDWIDTH"},
    {0x0011, "DESTINATION-ADDRESS"},
    {0x0012, "XOR-PEER-ADDRESS"},
    {0x0013, "DATA"},
    {0x0014, "REALM"},
    {0x0015, "NONCE"},
    {0x0016, "XOR-RELAYED-ADDRESS"},
    {0x0017, "REQUESTED-ADDRESS-FAMILY"},
    {0x0018, "EVEN-PORT"},
    {0x0019, "REQUESTED-TRANSPORT"},
    {0x001a, "DONT-FRAGMENT"},
    {0x001b, "ACCESS-TOKEN"},
    {0x001c, "MESSAGE-INTEGRITY-SHA256"},
    {0x001d, "PASSWORD-ALGORITHM"},
    {0x001e, "USERHASH"},
    {0x0020, "XOR-MAPPED-ADDRESS"},
    {0x0022, "RESERVATION-TOKEN"},
    {0x0024, "PRIORITY"},
    {0x0025, "USE-CANDIDATE"},
    {0x0026, "PADDING"},
    {0x0027, "RESPONSE-PORT"},
    {0x002a, "CONNECTION-ID"},
    {0x0101, "ZOOM-0101"},
    {0x0103, "ZOOM-0103"},
    {0x8000, "ADDITIONAL-ADDRESS-FAMILY"},
    {0x8001, "ADDRESS-ERROR-CODE"},
    {0x8002, "PASSWORD-ALGORITHMS"},
    {0x8003, "ALTERNATE-DOMAIN"},
    {0x8004, "ICMP"},
    {0x8008, "MS-VERSION"},
    {0x8020, "MS-XOR-MAPPED-ADDRESS"},
    {0x8022, "SOFTWARE"},
    {0x8023, "ALTERNATE-SERVER"},
    {0x8025, "TRANSACTION-TRANSMIT-COUNTER"},
    {0x8027, "CACHE-TIMEOUT"},
    {0x8028, "FINGERPRINT"},
    {0x8029, "ICE-CONTROLLED"},
    {0x802a, "ICE-CONTROLLING"},
    {0x802b, "RESPONSE-ORIGIN"},
    {0x802c, "OTHER-ADDRESS"},
    {0x802d, "ECN-CHECK-STUN"},
    {0x802e, "THIRD-PARTY-AUTHORIZATION"},
    {0x8030, "MOBILITY-TICKET"},
    {0x8032, "MS-ALTERNATE-HOST-NAME"},
    {0x8037, "MS-APP-ID"},
    {0x8039, "MS-SECURE-TAG"},
    {0x8050, "MS-SEQUENCE-NUMBER"},
    {0x8054, "MS-CANDIDATE-IDENTIFIER"},
    {0x8055, "MS-SERVICE-QUALITY"},
    {0x8070, "MS-IMPLEMENTATION-VERSION"},
    {0x8090, "MS-ALT-MAPPED-ADDRESS"},
    {0x8095, "MS-MULTIPLEXED-TURN-SESSION-ID"},
    {0xc000, "CISCO-STUN-FLOWDATA"},
    {0xc001, "ENF-FLOW-DESCRIPTION"},
    {0xc002, "ENF-NETWORK-STATUS"},
    {0xc057, "GOOG-NETWORK-INFO"},
    {0xc058, "GOOG-LAST-ICE-CHECK-RECEIVED"},
    {0xc059, "GOOG-MISC-INFO"},
    {0xc05a, "GOOG-OBSOLETE-1"},
    {0xc05b, "GOOG-CONNECTION-ID"},
    {0xc05c, "GOOG-DELTA"},
    {0xc05d, "GOOG-DELTA-ACK"},
    {0xc060, "GOOG-MESSAGE-INTEGRITY-32"},
    {0xff03, "GOOG-FF03"},
    {0xff04, "GOOG-MULTI-MAPPING"},
    {0xff05, "GOOG-LOGGING-ID"},
};

const char *kp_stun_attr_name(uint16_t type)
{
    for (size_t i = 0; i < sizeof attr_names / sizeof attr_names[0]; i++) {
        if (attr_names[i].type == type) {
            return attr_names[i].name;
        }
    }
    return NULL;
}

/* ---- Vendor evidence ---------------------------------------------------- */

static bool is_microsoft_attr(uint16_t t)
{
    /* MS-TURN 2.2.2, MS-ICE2 2.2.2, MS-TURNBWM 2.2 (0x8056..0x8068). */
    switch (t) {
    case KP_STUN_A_MS_VERSION:
    case 0x8032:
    case KP_STUN_A_MS_APP_ID:
    case 0x8039:
    case KP_STUN_A_MS_SEQUENCE_NUMBER:
    case KP_STUN_A_MS_CANDIDATE_IDENTIFIER:
    case KP_STUN_A_MS_SERVICE_QUALITY:
    case KP_STUN_A_MS_IMPLEMENTATION_VERSION:
    case KP_STUN_A_MS_ALT_MAPPED_ADDRESS:
    case KP_STUN_A_MS_MULTIPLEXED_TURN_SESSION_ID:
        return true;
    default:
        return t >= 0x8056 && t <= 0x8068;
    }
}

/* Case-insensitive search for "google.com" in a realm. */
static bool realm_is_google(struct kp_rd realm)
{
    static const char needle[] = "google.com";
    const size_t n = sizeof needle - 1;
    while (realm.len >= n) {
        struct kp_rd t = realm;
        size_t i = 0;
        uint8_t c = 0;
        while (i < n && kp_rd_u8(&t, &c)) {
            if (c >= 'A' && c <= 'Z') {
                c = (uint8_t)(c - 'A' + 'a');
            }
            if (c != (uint8_t)needle[i]) {
                break;
            }
            i++;
        }
        if (i == n) {
            return true;
        }
        if (!kp_rd_skip(&realm, 1)) {
            break;
        }
    }
    return false;
}

static void note_vendor(struct kp_stun_msg *m, uint16_t t)
{
    if (is_microsoft_attr(t)) {
        m->vendor_microsoft = true;
    }
    if (t >= KP_STUN_A_GOOG_FF03 && t <= KP_STUN_A_GOOG_LOGGING_ID) {
        m->vendor_google = true;
    }
    if (t >= KP_STUN_A_GOOG_NETWORK_INFO && t <= KP_STUN_A_GOOG_MESSAGE_INTEGRITY_32) {
        m->vendor_libwebrtc = true;
    }
    if (t == KP_STUN_A_ZOOM_0101 || t == KP_STUN_A_ZOOM_0103) {
        m->vendor_zoom = true;
    }
    if (t >= KP_STUN_A_WHATSAPP_FIRST && t <= KP_STUN_A_WHATSAPP_LAST) {
        m->vendor_whatsapp = true;
    }
    if (t >= KP_STUN_A_CISCO_FLOWDATA && t <= 0xc002) {
        m->vendor_cisco = true;
    }
}

/* ---- Addresses ---------------------------------------------------------- */

/* Bytes 4..19 of the header: the XOR key of RFC 8489 14.2 (the cookie, then
 * the transaction ID).  Classic messages have no cookie; their 128-bit
 * transaction ID sits in the same place, so the same bytes are used. */
static void xor_key(const struct kp_stun_msg *m, uint8_t key[16])
{
    if (m->classic) {
        memcpy(key, m->txid, 16);
        return;
    }
    key[0] = (uint8_t)(m->cookie >> 24);
    key[1] = (uint8_t)(m->cookie >> 16);
    key[2] = (uint8_t)(m->cookie >> 8);
    key[3] = (uint8_t)m->cookie;
    memcpy(key + 4, m->txid, 12);
}

/* 0: not an address attribute, 1: plain address, 2: XOR address. */
static int addr_kind(const struct kp_stun_msg *m, uint16_t t)
{
    switch (t) {
    case KP_STUN_A_MAPPED_ADDRESS:
    case KP_STUN_A_RESPONSE_ADDRESS:
    case KP_STUN_A_SOURCE_ADDRESS:
    case KP_STUN_A_CHANGED_ADDRESS:
    case KP_STUN_A_REFLECTED_FROM:
    case KP_STUN_A_MS_ALTERNATE_SERVER:
    case KP_STUN_A_DESTINATION_ADDRESS:
    case KP_STUN_A_ALTERNATE_SERVER:
    case KP_STUN_A_RESPONSE_ORIGIN:
    case KP_STUN_A_OTHER_ADDRESS:
    case KP_STUN_A_MS_ALT_MAPPED_ADDRESS:
    case KP_STUN_A_ZOOM_0103:
        return 1;
    case KP_STUN_A_XOR_PEER_ADDRESS:
        /* MS-TURN and the pre-RFC 5389 TURN drafts called 0x0012
         * REMOTE-ADDRESS and did not XOR it. */
        return (m->ms_turn || m->classic) ? 1 : 2;
    case KP_STUN_A_XOR_RELAYED_ADDRESS:
    case KP_STUN_A_XOR_MAPPED_ADDRESS:
    case 0x0027: /* XOR-RESPONSE-TARGET (nat-behavior-discovery drafts) */
    case 0x0028: /* XOR-REFLECTED-FROM (idem) */
    case KP_STUN_A_MS_XOR_MAPPED_ADDRESS:
        return 2;
    default:
        return 0;
    }
}

/* RFC 8489 14.1: 8 bits ignored, family (0x01 IPv4, 0x02 IPv6), port,
 * address of 4 or 16 bytes; 14.2: port XOR the cookie's high 16 bits,
 * address XOR the cookie (IPv4) or cookie and transaction ID (IPv6). */
static bool decode_addr(struct kp_rd v, bool xor, const uint8_t key[16], struct kp_stun_addr *out)
{
    memset(out, 0, sizeof *out);
    uint8_t reserved = 0, family = 0;
    uint16_t port = 0;
    uint8_t ip[16];
    if (!kp_rd_u8(&v, &reserved) || !kp_rd_u8(&v, &family) || !kp_rd_u16(&v, &port)) {
        return false;
    }
    size_t n;
    if (family == 0x01) {
        n = 4;
    } else if (family == 0x02) {
        n = 16;
    } else {
        return false;
    }
    if (v.len != n || !kp_rd_copy(&v, ip, n)) {
        return false;
    }
    if (xor) {
        port ^= (uint16_t)((key[0] << 8) | key[1]);
        for (size_t i = 0; i < n; i++) {
            ip[i] ^= key[i];
        }
    }
    out->present = true;
    out->family = family;
    out->port = port;
    if (n == 4) {
        out->addr.b[10] = 0xff;
        out->addr.b[11] = 0xff;
        memcpy(out->addr.b + 12, ip, 4);
    } else {
        memcpy(out->addr.b, ip, 16);
    }
    return true;
}

bool kp_stun_attr_address(const struct kp_stun_msg *m, size_t i, struct kp_stun_addr *out)
{
    memset(out, 0, sizeof *out);
    if (i >= m->n_attrs) {
        return false;
    }
    int kind = addr_kind(m, m->attrs[i].type);
    if (kind == 0) {
        return false;
    }
    uint8_t key[16];
    xor_key(m, key);
    return decode_addr(m->attrs[i].value, kind == 2, key, out);
}

/* ---- Messages ----------------------------------------------------------- */

/* Result of a trial walk over the attribute block. */
struct walk_check {
    bool ok;        /* the attributes fill the block exactly */
    bool zero_type; /* an attribute of type 0 */
    bool odd;       /* an attribute length not a multiple of 4 */
};

static struct walk_check walk_check(struct kp_rd a, bool padded)
{
    struct walk_check w = {false, false, false};
    while (a.len > 0) {
        uint16_t t = 0, len = 0;
        if (!kp_rd_u16(&a, &t) || !kp_rd_u16(&a, &len) || !kp_rd_skip(&a, len)) {
            return w;
        }
        /* RFC 8489 14: values are padded to a multiple of 4 bytes, and the
         * padding is counted in the message length. */
        if (padded && !kp_rd_skip(&a, (4u - (len & 3u)) & 3u)) {
            return w;
        }
        w.zero_type |= t == 0;
        w.odd |= (len & 3u) != 0;
    }
    w.ok = true;
    return w;
}

/* The two zero bits, then the 14-bit type (RFC 8489 5):
 * M11..M7 C1 M6..M4 C0 M3..M0. */
static uint16_t type_method(uint16_t t)
{
    return (uint16_t)((t & 0x000fu) | ((t & 0x00e0u) >> 1) | ((t & 0x3e00u) >> 2));
}

static uint8_t type_class(uint16_t t)
{
    return (uint8_t)(((t & 0x0100u) >> 7) | ((t & 0x0010u) >> 4));
}

static bool text_attr(struct kp_stun_msg *m, bool *has, struct kp_rd *dst, struct kp_rd v,
                      size_t max)
{
    if (*has) {
        m->anomalies |= KP_STUN_ANOM_DUPLICATE;
        return false;
    }
    *has = true;
    *dst = v;
    if (v.len > max) {
        m->anomalies |= KP_STUN_ANOM_LONG_TEXT;
    }
    return true;
}

static void addr_attr(struct kp_stun_msg *m, struct kp_stun_addr *dst, struct kp_rd v, int kind)
{
    if (dst->present) {
        m->anomalies |= KP_STUN_ANOM_DUPLICATE;
        return;
    }
    uint8_t key[16];
    xor_key(m, key);
    if (!decode_addr(v, kind == 2, key, dst)) {
        m->anomalies |= KP_STUN_ANOM_BAD_VALUE;
    }
}

static bool u32_value(struct kp_stun_msg *m, struct kp_rd v, uint32_t *out)
{
    if (v.len != 4 || !kp_rd_u32(&v, out)) {
        m->anomalies |= KP_STUN_ANOM_BAD_VALUE;
        return false;
    }
    return true;
}

/* Decode one attribute (not after MESSAGE-INTEGRITY or FINGERPRINT) whose
 * header starts at `off` in the message. */
static void decode_attr(struct kp_stun_msg *m, uint16_t t, struct kp_rd v, size_t off)
{
    /* MS-TURN 2.2.2: NONCE is 0x0014 and REALM 0x0015, swapped from RFC
     * 8489 14.9 and 14.10. */
    uint16_t realm_type = m->ms_turn ? KP_STUN_A_NONCE : KP_STUN_A_REALM;
    uint16_t nonce_type = m->ms_turn ? KP_STUN_A_REALM : KP_STUN_A_NONCE;
    if (t == realm_type) {
        /* RFC 8489 14.9: fewer than 128 characters, at most 763 bytes. */
        (void)text_attr(m, &m->has_realm, &m->realm, v, 763);
        return;
    }
    if (t == nonce_type) {
        (void)text_attr(m, &m->has_nonce, &m->nonce, v, 763);
        return;
    }
    switch (t) {
    case KP_STUN_A_MAPPED_ADDRESS:
        addr_attr(m, &m->mapped, v, 1);
        break;
    case KP_STUN_A_XOR_MAPPED_ADDRESS:
        addr_attr(m, &m->xor_mapped, v, 2);
        break;
    case KP_STUN_A_MS_XOR_MAPPED_ADDRESS:
        /* The RFC 3489bis-era code point that MS-TURN kept; used only when
         * the standard one is absent. */
        if (!m->xor_mapped.present) {
            addr_attr(m, &m->xor_mapped, v, 2);
        }
        break;
    case KP_STUN_A_XOR_RELAYED_ADDRESS:
        addr_attr(m, &m->xor_relayed, v, 2);
        break;
    case KP_STUN_A_XOR_PEER_ADDRESS:
        /* RFC 8656 16.1 allows several; the first is decoded. */
        m->xor_peer_total++;
        if (!m->xor_peer.present) {
            addr_attr(m, &m->xor_peer, v, addr_kind(m, t));
        }
        break;
    case KP_STUN_A_ALTERNATE_SERVER:
        addr_attr(m, &m->alternate, v, 1);
        break;
    case KP_STUN_A_ZOOM_0103:
        addr_attr(m, &m->zoom_addr, v, 1);
        break;
    case KP_STUN_A_USERNAME:
        /* RFC 8489 14.3: fewer than 509 bytes (RFC 5389 15.3: 513). */
        (void)text_attr(m, &m->has_username, &m->username, v, 512);
        break;
    case KP_STUN_A_SOFTWARE:
        /* RFC 8489 14.14: fewer than 128 characters, at most 763 bytes. */
        (void)text_attr(m, &m->has_software, &m->software, v, 763);
        break;
    case KP_STUN_A_ERROR_CODE: {
        /* RFC 8489 14.8: 21 reserved bits, class (3 bits, 3..6), number
         * (0..99), reason phrase. */
        if (m->has_error_code) {
            m->anomalies |= KP_STUN_ANOM_DUPLICATE;
            break;
        }
        uint16_t reserved = 0;
        uint8_t cls = 0, num = 0;
        if (!kp_rd_u16(&v, &reserved) || !kp_rd_u8(&v, &cls) || !kp_rd_u8(&v, &num) ||
            (cls & 0x07) < 3 || (cls & 0x07) > 6 || num > 99) {
            m->anomalies |= KP_STUN_ANOM_BAD_VALUE;
            break;
        }
        m->has_error_code = true;
        m->error_code = (uint16_t)((cls & 0x07) * 100 + num);
        m->error_reason = v;
        break;
    }
    case KP_STUN_A_LIFETIME:
        if (m->has_lifetime) {
            m->anomalies |= KP_STUN_ANOM_DUPLICATE;
        } else {
            m->has_lifetime = u32_value(m, v, &m->lifetime);
        }
        break;
    case KP_STUN_A_CHANNEL_NUMBER: {
        /* RFC 8656 14.1: channel number, then 16 bits RFFU. */
        uint16_t ch = 0, rffu = 0;
        if (m->has_channel_number) {
            m->anomalies |= KP_STUN_ANOM_DUPLICATE;
        } else if (v.len != 4 || !kp_rd_u16(&v, &ch) || !kp_rd_u16(&v, &rffu)) {
            m->anomalies |= KP_STUN_ANOM_BAD_VALUE;
        } else {
            m->has_channel_number = true;
            m->channel_number = ch;
        }
        break;
    }
    case KP_STUN_A_REQUESTED_TRANSPORT: {
        /* RFC 8656 14.7: protocol number, then 24 bits RFFU. */
        uint8_t proto = 0;
        if (m->has_requested_transport) {
            m->anomalies |= KP_STUN_ANOM_DUPLICATE;
        } else if (v.len != 4 || !kp_rd_u8(&v, &proto)) {
            m->anomalies |= KP_STUN_ANOM_BAD_VALUE;
        } else {
            m->has_requested_transport = true;
            m->requested_transport = proto;
        }
        break;
    }
    case KP_STUN_A_DATA:
        if (m->has_data) {
            m->anomalies |= KP_STUN_ANOM_DUPLICATE;
        } else {
            m->has_data = true;
            m->data = v;
        }
        break;
    case KP_STUN_A_MESSAGE_INTEGRITY:
        m->has_message_integrity = true;
        m->message_integrity = v;
        m->message_integrity_offset = off;
        break;
    case KP_STUN_A_MESSAGE_INTEGRITY_SHA256:
        m->has_message_integrity_sha256 = true;
        break;
    default:
        break;
    }
}

/* The real walk, after walk_check chose the mode. */
static void walk_decode(struct kp_stun_msg *m, struct kp_rd a, bool padded)
{
    bool seen_mi = false, seen_fp = false;
    size_t off = KP_STUN_HEADER_LEN;
    while (a.len > 0) {
        uint16_t t = 0, len = 0;
        struct kp_rd v;
        if (!kp_rd_u16(&a, &t) || !kp_rd_u16(&a, &len) || !kp_rd_sub(&a, &v, len)) {
            return; /* cannot happen: walk_check accepted this block */
        }
        size_t pad = padded ? ((4u - (len & 3u)) & 3u) : 0;
        if (!kp_rd_skip(&a, pad)) {
            return;
        }
        if (m->n_attrs < KP_STUN_MAX_ATTRS) {
            m->attrs[m->n_attrs].type = t;
            m->attrs[m->n_attrs].value = v;
            m->n_attrs++;
        }
        m->attrs_total++;
        if (t == 0) {
            m->anomalies |= KP_STUN_ANOM_ZERO_TYPE;
        }
        note_vendor(m, t);
        if (seen_fp) {
            m->anomalies |= KP_STUN_ANOM_AFTER_FINGERPRINT;
        } else if (t == KP_STUN_A_FINGERPRINT) {
            seen_fp = true;
            uint32_t fp = 0;
            struct kp_rd raw = m->raw, before;
            if (u32_value(m, v, &fp) && kp_rd_sub(&raw, &before, off)) {
                m->has_fingerprint = true;
                m->fingerprint = fp;
                m->fingerprint_ok = (crc32_rd(before) ^ KP_STUN_FINGERPRINT_XOR) == fp;
                if (!m->fingerprint_ok) {
                    m->anomalies |= KP_STUN_ANOM_FINGERPRINT_BAD;
                }
            }
        } else if (seen_mi && t != KP_STUN_A_MESSAGE_INTEGRITY_SHA256) {
            /* RFC 8489 14.5: everything after MESSAGE-INTEGRITY but
             * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT is ignored. */
            m->anomalies |= KP_STUN_ANOM_AFTER_INTEGRITY;
        } else {
            decode_attr(m, t, v, off);
            seen_mi |= t == KP_STUN_A_MESSAGE_INTEGRITY;
        }
        off += 4 + len + pad;
    }
}

/* Plausibility of a classic (RFC 3489) header, the only evidence there is
 * when the magic cookie is absent. */
static bool classic_plausible(uint16_t type, uint16_t length)
{
    /* RFC 3489 11.1 defines methods 1 (Binding) and 2 (Shared Secret); the
     * TURN drafts that MS-TURN follows used up to 0x00c. */
    return type_method(type) <= KP_STUN_M_CONNECTION_ATTEMPT && (length & 3u) == 0;
}

enum kp_res kp_stun_parse(struct kp_stun_msg *out, struct kp_rd datagram)
{
    memset(out, 0, sizeof *out);
    struct kp_rd d = datagram;
    uint8_t b0 = 0;
    if (!kp_rd_peek_u8(&d, 0, &b0)) {
        return KP_RES_TRUNCATED;
    }
    /* RFC 8489 5: the two most significant bits are zero (RFC 7983: first
     * byte 0..3). */
    if ((b0 & 0xc0) != 0) {
        return KP_RES_NOT_MINE;
    }
    uint16_t type = 0, length = 0;
    uint32_t cookie = 0;
    if (!kp_rd_u16(&d, &type) || !kp_rd_u16(&d, &length)) {
        return KP_RES_TRUNCATED;
    }
    if (!kp_rd_u32(&d, &cookie)) {
        return classic_plausible(type, length) ? KP_RES_TRUNCATED : KP_RES_NOT_MINE;
    }
    bool classic = cookie != KP_STUN_MAGIC_COOKIE;
    if (classic && !classic_plausible(type, length)) {
        return KP_RES_NOT_MINE;
    }
    out->type = type;
    out->method = type_method(type);
    out->cls = type_class(type);
    out->length = length;
    out->cookie = cookie;
    out->classic = classic;
    out->txid_len = classic ? 16 : 12;
    if (classic) {
        out->txid[0] = (uint8_t)(cookie >> 24);
        out->txid[1] = (uint8_t)(cookie >> 16);
        out->txid[2] = (uint8_t)(cookie >> 8);
        out->txid[3] = (uint8_t)cookie;
        if (!kp_rd_copy(&d, out->txid + 4, 12)) {
            return KP_RES_TRUNCATED;
        }
    } else if (!kp_rd_copy(&d, out->txid, 12)) {
        return KP_RES_TRUNCATED;
    }
    struct kp_rd block;
    if (!kp_rd_sub(&d, &block, length)) {
        return KP_RES_TRUNCATED;
    }
    struct kp_rd whole = datagram;
    if (!kp_rd_sub(&whole, &out->raw, KP_STUN_HEADER_LEN + (size_t)length)) {
        return KP_RES_TRUNCATED;
    }
    out->trailing = d.len;
    if (d.len > 0) {
        /* A datagram holds one message (RFC 8489 6.1).  Without the cookie,
         * trailing bytes mean this is not STUN at all. */
        if (classic) {
            return KP_RES_NOT_MINE;
        }
        out->anomalies |= KP_STUN_ANOM_TRAILING;
    }
    if ((length & 3u) != 0) {
        out->anomalies |= KP_STUN_ANOM_LENGTH_NOT_4;
    }

    /* MS-TURN 2.2.2: the MAGIC-COOKIE attribute comes first. */
    struct kp_rd first = block;
    uint16_t at = 0, al = 0;
    uint32_t av = 0;
    out->ms_turn = kp_rd_u16(&first, &at) && kp_rd_u16(&first, &al) &&
                   kp_rd_u32(&first, &av) && at == KP_STUN_A_MS_MAGIC_COOKIE && al == 4 &&
                   av == KP_STUN_MS_TURN_COOKIE;
    if (out->ms_turn) {
        out->vendor_microsoft = true;
    }

    /* Padded (RFC 8489 14) or not (MS-TURN, WhatsApp): prefer the padded
     * walk unless it fails, or only succeeds by reading zero padding as
     * type-0 attributes where the unpadded walk is clean. */
    struct walk_check wp = walk_check(block, true);
    struct walk_check wu = walk_check(block, false);
    bool padded;
    if (out->ms_turn && wu.ok) {
        padded = false;
    } else if (wp.ok && !(wp.zero_type && wu.ok && !wu.zero_type)) {
        padded = true;
    } else if (wu.ok) {
        padded = false;
    } else {
        return classic ? KP_RES_NOT_MINE : KP_RES_MALFORMED;
    }
    out->unpadded = !padded && wu.odd;
    if (out->unpadded) {
        out->anomalies |= KP_STUN_ANOM_UNPADDED;
    }
    walk_decode(out, block, padded);

    if (out->method == KP_STUN_M_GOOG_PING && !classic) {
        out->vendor_libwebrtc = true;
    }
    /* WhatsApp's own methods: message types 0x0800 upwards. */
    if (out->method >= 0x200 && out->method <= 0x20f && !classic) {
        out->vendor_whatsapp = true;
    }
    if (out->has_realm && realm_is_google(out->realm)) {
        out->vendor_google = true;
    }
    return KP_RES_OK;
}

bool kp_stun_check_integrity(const struct kp_stun_msg *m, const uint8_t *key, size_t key_len)
{
    if (!m->has_message_integrity || m->message_integrity.len != 20 ||
        m->message_integrity_offset < KP_STUN_HEADER_LEN ||
        m->message_integrity_offset > m->raw.len) {
        return false;
    }
    /* RFC 8489 14.5: the HMAC covers the message up to the attribute, with
     * the header length adjusted to end just after MESSAGE-INTEGRITY. */
    struct kp_rd r = m->raw;
    uint8_t hdr[KP_STUN_HEADER_LEN];
    struct kp_rd rest;
    uint8_t expect[20];
    struct kp_rd mi = m->message_integrity;
    if (!kp_rd_copy(&r, hdr, sizeof hdr) ||
        !kp_rd_sub(&r, &rest, m->message_integrity_offset - KP_STUN_HEADER_LEN) ||
        !kp_rd_copy(&mi, expect, sizeof expect)) {
        return false;
    }
    size_t covered = m->message_integrity_offset - KP_STUN_HEADER_LEN + 4 + 20;
    hdr[2] = (uint8_t)(covered >> 8);
    hdr[3] = (uint8_t)covered;

    bool ok = false;
    uint8_t mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    char digest[] = "SHA1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    ERR_set_mark();
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = hmac != NULL ? EVP_MAC_CTX_new(hmac) : NULL;
    if (ctx == NULL) {
        goto out_free;
    }
    if (EVP_MAC_init(ctx, key, key_len, params) != 1 ||
        EVP_MAC_update(ctx, hdr, sizeof hdr) != 1 ||
        (rest.len > 0 && EVP_MAC_update(ctx, rest.p, rest.len) != 1) ||
        EVP_MAC_final(ctx, mac, &mac_len, sizeof mac) != 1) {
        goto out_free;
    }
    ok = mac_len == sizeof expect && CRYPTO_memcmp(mac, expect, sizeof expect) == 0;
out_free:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(hmac);
    ERR_pop_to_mark();
    return ok;
}

/* ---- TURN ChannelData --------------------------------------------------- */

enum kp_res kp_stun_parse_channel_data(struct kp_stun_channel_data *out, struct kp_rd in,
                                       bool tcp)
{
    memset(out, 0, sizeof *out);
    struct kp_rd d = in;
    uint8_t b0 = 0;
    if (!kp_rd_peek_u8(&d, 0, &b0)) {
        return KP_RES_TRUNCATED;
    }
    uint16_t channel = 0, length = 0;
    if (!kp_rd_u16(&d, &channel)) {
        /* One byte: 01xxxxxx may be ChannelData (0xff10 needs two). */
        return (b0 & 0xc0) == 0x40 || b0 == 0xff ? KP_RES_TRUNCATED : KP_RES_NOT_MINE;
    }
    /* RFC 8656 12.4: first bits 01 (0x4000..0x7fff, RFC 5766 11 range);
     * MS-TURN multiplexes on 0xff10. */
    if ((channel & 0xc000) != 0x4000 && channel != KP_STUN_CHANNEL_MS_TURN) {
        return KP_RES_NOT_MINE;
    }
    if (!kp_rd_u16(&d, &length)) {
        return KP_RES_TRUNCATED;
    }
    struct kp_rd data;
    if (!kp_rd_sub(&d, &data, length)) {
        return KP_RES_TRUNCATED;
    }
    size_t wire = 4 + (size_t)length;
    if (tcp) {
        /* RFC 8656 12.5: over TCP the message is padded to 4 bytes. */
        size_t pad = (4u - (length & 3u)) & 3u;
        if (!kp_rd_skip(&d, pad)) {
            return KP_RES_TRUNCATED;
        }
        wire += pad;
    }
    out->channel = channel;
    out->length = length;
    out->data = data;
    out->wire_len = wire;
    out->trailing = d.len;
    out->reserved_channel = channel >= 0x5000 && channel <= 0x7fff;
    if (channel == KP_STUN_CHANNEL_MS_TURN && data.len >= 8) {
        /* MS-TURN 2.2.3: an 8-byte session ID precedes the data. */
        out->ms_turn = true;
        if (!kp_rd_sub(&out->data, &out->ms_session_id, 8)) {
            return KP_RES_TRUNCATED;
        }
    }
    return KP_RES_OK;
}

/* ---- STUN over TCP ------------------------------------------------------ */

/* A STUN header with the magic cookie at the front of s, whose message
 * length is *len. */
static bool stun_header_at(struct kp_rd s, uint16_t *len)
{
    uint16_t type = 0;
    uint32_t cookie = 0;
    return kp_rd_u16(&s, &type) && (type & 0xc000) == 0 && kp_rd_u16(&s, len) &&
           kp_rd_u32(&s, &cookie) && cookie == KP_STUN_MAGIC_COOKIE;
}

static enum kp_res next_bare(struct kp_stun_tcp_frame *out, struct kp_rd *stream)
{
    struct kp_rd s = *stream;
    uint8_t b0 = 0;
    if (!kp_rd_peek_u8(&s, 0, &b0)) {
        return KP_RES_TRUNCATED;
    }
    if ((b0 & 0xc0) == 0x40) {
        /* RFC 8656 12.5: ChannelData, padded to 4 bytes over TCP. */
        struct kp_stun_channel_data cd;
        enum kp_res r = kp_stun_parse_channel_data(&cd, s, true);
        if (r != KP_RES_OK) {
            return r;
        }
        struct kp_rd t = s;
        if (!kp_rd_sub(&t, &out->msg, 4 + (size_t)cd.length)) {
            return KP_RES_TRUNCATED;
        }
        out->kind = KP_STUN_FRAME_CHANNEL_DATA;
        out->wire_len = cd.wire_len;
    } else {
        /* RFC 8489 6.2.2: messages back to back, delimited by their
         * length fields. */
        if (s.len < 8) {
            return (b0 & 0xc0) == 0 ? KP_RES_TRUNCATED : KP_RES_MALFORMED;
        }
        uint16_t len = 0;
        if (!stun_header_at(s, &len)) {
            return KP_RES_MALFORMED;
        }
        out->kind = KP_STUN_FRAME_STUN;
        out->wire_len = KP_STUN_HEADER_LEN + (size_t)len;
        if (!kp_rd_sub(&s, &out->msg, out->wire_len)) {
            return KP_RES_TRUNCATED;
        }
    }
    if (!kp_rd_skip(stream, out->wire_len)) {
        return KP_RES_TRUNCATED;
    }
    return KP_RES_OK;
}

static enum kp_res next_rfc4571(struct kp_stun_tcp_frame *out, struct kp_rd *stream)
{
    /* RFC 4571 2: a 16-bit length, then the frame. */
    struct kp_rd s = *stream;
    struct kp_rd frame;
    if (!kp_rd_vec16(&s, &frame)) {
        return KP_RES_TRUNCATED;
    }
    uint16_t len = 0;
    uint8_t b0 = 0;
    out->kind = KP_STUN_FRAME_OTHER;
    if (stun_header_at(frame, &len) && KP_STUN_HEADER_LEN + (size_t)len == frame.len) {
        out->kind = KP_STUN_FRAME_STUN;
    } else if (kp_rd_peek_u8(&frame, 0, &b0) && (b0 & 0xc0) == 0x40) {
        struct kp_stun_channel_data cd;
        if (kp_stun_parse_channel_data(&cd, frame, false) == KP_RES_OK) {
            out->kind = KP_STUN_FRAME_CHANNEL_DATA;
        }
    }
    out->msg = frame;
    out->wire_len = 2 + frame.len;
    *stream = s;
    return KP_RES_OK;
}

enum kp_res kp_stun_tcp_next(struct kp_stun_tcp_frame *out, struct kp_rd *stream,
                             enum kp_stun_framing *framing)
{
    memset(out, 0, sizeof *out);
    if (*framing == KP_STUN_FRAMING_UNKNOWN) {
        struct kp_rd s = *stream;
        uint16_t prefix = 0, len = 0;
        struct kp_rd after = s;
        if (kp_rd_u16(&after, &prefix) && stun_header_at(after, &len) &&
            prefix == KP_STUN_HEADER_LEN + (size_t)len) {
            *framing = KP_STUN_FRAMING_RFC4571;
        } else if (stun_header_at(s, &len)) {
            *framing = KP_STUN_FRAMING_BARE;
        } else {
            /* ChannelData needs a ChannelBind first (RFC 8656 12), so a
             * connection opens with a STUN message: accept nothing else. */
            uint8_t b0 = 0;
            if (!kp_rd_peek_u8(&s, 0, &b0)) {
                return KP_RES_TRUNCATED;
            }
            if ((b0 & 0xc0) != 0 || s.len >= 10) {
                return KP_RES_NOT_MINE;
            }
            /* Too short to see either the cookie or a prefixed one. */
            return KP_RES_TRUNCATED;
        }
    }
    if (*framing == KP_STUN_FRAMING_RFC4571) {
        return next_rfc4571(out, stream);
    }
    return next_bare(out, stream);
}
