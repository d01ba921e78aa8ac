/* RTP, RTCP and SRTP/SRTCP recognition (RFC 3550, RFC 3711, RFC 5761,
 * RFC 8285).
 *
 * Pure parsers (kp_rtp_parse, kp_rtcp_parse): no allocation, no state, no
 * I/O.  Input is one datagram as a borrowed struct kp_rd; outputs hold
 * borrowed views (struct kp_rd) into that input, valid only as long as the
 * input bytes are.  No payload byte is copied.  Lists are capped arrays:
 * n_<list> entries are stored, <list>_total counts every entry on the wire.
 *
 * Results: KP_RES_OK, KP_RES_NOT_MINE (the first bytes cannot be this
 * protocol), KP_RES_TRUNCATED (a header or a length field runs past the end
 * of the bytes given: a short capture, or a lie), KP_RES_MALFORMED (the
 * structure is broken inside the bytes given).  On any result other than OK
 * the contents of *out are unspecified.  Oddities that do not break the
 * structure are KP_RES_OK plus bits in `anomalies`.
 *
 * One packet cannot prove it is RTP, nor that its payload is encrypted
 * (SRTP, RFC 3711 3.1, keeps the RTP header in clear and adds at most an
 * authentication tag that looks like payload).  struct kp_rtp_track is the
 * multi-packet validator the engine uses before calling a flow RTP: sequence
 * continuity, timestamp monotonicity and payload-type stability per SSRC,
 * and, for RTCP, SRTCP index continuity (RFC 3711 3.4).
 */
#ifndef KP_RTP_H
#define KP_RTP_H

#include "kp.h"

/* ---- Demultiplexing -------------------------------------------------------- */

enum kp_rtp_demux {
    KP_RTP_DEMUX_NONE = 0, /* first byte outside 128..191 (RFC 7983 7), or < 2 bytes */
    KP_RTP_DEMUX_RTP,      /* version 2 and second byte outside 192..223 */
    KP_RTP_DEMUX_RTCP      /* version 2 and second byte in 192..223 (RFC 5761 4) */
};

/* Classify a datagram that shares a port between RTP and RTCP by its first
 * two bytes only (RFC 7983 7 for the first byte, RFC 5761 4 for the second:
 * RTCP packet types 192..223 occupy the marker bit + payload types 64..95,
 * which muxed RTP must not use).  Says nothing about the rest. */
enum kp_rtp_demux kp_rtp_demux(struct kp_rd pkt);

/* ---- RTP (RFC 3550 5.1) ----------------------------------------------------- */

#define KP_RTP_HDR_LEN 12      /* fixed header */
#define KP_RTP_MAX_CSRC 15     /* CC is 4 bits */
#define KP_RTP_MAX_EXT_ELEMS 16

/* Extension block forms (RFC 3550 5.3.1; RFC 8285 4.2, 4.3). */
enum kp_rtp_ext_form {
    KP_RTP_EXT_NONE = 0,   /* X bit clear */
    KP_RTP_EXT_ONE_BYTE,   /* profile 0xBEDE: one-byte element headers */
    KP_RTP_EXT_TWO_BYTE,   /* profile 0x1000..0x100F: two-byte element headers */
    KP_RTP_EXT_OTHER       /* any other profile-defined 16-bit value: opaque */
};

/* Anomaly bits of struct kp_rtp. */
#define KP_RTP_ANOM_BAD_PADDING 0x0001u  /* P set but the last byte is 0 or larger than the
                                            payload (RFC 3550 5.1); expected with SRTP, where
                                            the last bytes are the authentication tag. The
                                            payload view then keeps every byte. */
#define KP_RTP_ANOM_EXT_ID15 0x0002u     /* one-byte extension element with ID 15: element
                                            parsing stopped there (RFC 8285 4.2) */
#define KP_RTP_ANOM_EXT_TRAILING 0x0004u /* element parsing stopped at bytes that are neither
                                            padding nor a whole element (RFC 8285 4.1-4.3):
                                            an element running past the block (Zoom sends
                                            such blocks), or ID 0 with a non-zero length */

/* One RFC 8285 header extension element. */
struct kp_rtp_ext_elem {
    uint8_t id;        /* 1..14 (one-byte form) or 1..255 (two-byte form) */
    struct kp_rd data; /* the element's bytes (may be empty in the two-byte form) */
};

/* A parsed RTP header.  Every field is valid after KP_RES_OK. */
struct kp_rtp {
    uint8_t version;      /* always 2 on OK */
    bool padding;         /* P bit */
    bool extension;       /* X bit */
    uint8_t csrc_count;   /* CC, 0..15 */
    bool marker;          /* M bit */
    uint8_t pt;           /* payload type, 7 bits; never 64..95 on OK (RFC 5761 4) */
    uint16_t seq;         /* sequence number */
    uint32_t ts;          /* timestamp */
    uint32_t ssrc;        /* synchronisation source */
    uint32_t csrc[KP_RTP_MAX_CSRC]; /* csrc_count entries */

    /* Header extension (valid when extension is true). */
    enum kp_rtp_ext_form ext_form;
    uint16_t ext_profile;   /* the 16-bit "defined by profile" field */
    uint16_t ext_words;     /* extension length field: 32-bit words after the 4-byte
                               extension header */
    struct kp_rd ext_data;  /* those ext_words * 4 bytes */
    uint8_t n_ext;          /* elements stored (one-/two-byte forms only) */
    uint16_t ext_total;     /* elements found (n_ext < ext_total: capped) */
    struct kp_rtp_ext_elem ext[KP_RTP_MAX_EXT_ELEMS];

    size_t header_len;      /* 12 + 4*CC + (X ? 4 + 4*ext_words : 0) */
    uint8_t pad_len;        /* padding bytes removed from the payload (0 if none or bad) */
    struct kp_rd payload;   /* bytes after the header, without valid padding */
    uint32_t anomalies;     /* KP_RTP_ANOM_* */
};

/* Parse the RTP header at the start of pkt (one whole datagram, or what the
 * capture kept of it: the padding check reads the last byte of pkt).
 * NOT_MINE: version != 2, or masked payload type 64..95 (RFC 5761 4: that is
 * RTCP, or an RTP packet muxing forbids).  TRUNCATED: pkt ends inside the
 * fixed header, the CSRC list or the extension block.  Never MALFORMED:
 * RFC 8285 elements that do not fit their block are an anomaly. */
enum kp_res kp_rtp_parse(struct kp_rtp *out, struct kp_rd pkt);

/* ---- RTCP (RFC 3550 6.4) ----------------------------------------------------- */

/* Packet types (IANA "RTCP Control Packet Types"). */
#define KP_RTCP_SR 200    /* RFC 3550 6.4.1 */
#define KP_RTCP_RR 201    /* RFC 3550 6.4.2 */
#define KP_RTCP_SDES 202  /* RFC 3550 6.5 */
#define KP_RTCP_BYE 203   /* RFC 3550 6.6 */
#define KP_RTCP_APP 204   /* RFC 3550 6.7 */
#define KP_RTCP_RTPFB 205 /* RFC 4585 6.2 */
#define KP_RTCP_PSFB 206  /* RFC 4585 6.3 */
#define KP_RTCP_XR 207    /* RFC 3611 */

#define KP_RTCP_SDES_CNAME 1 /* RFC 3550 6.5.1 */

#define KP_RTCP_MAX_PKTS 16
/* SRTCP trailer candidates: authentication tag lengths tried, in this
 * order: 10 (HMAC-SHA1-80, RFC 3711 5.2), 4 (HMAC-SHA1-32, RFC 4568 6.2) and
 * 0 (AEAD, RFC 7714 9.3: the tag is inside the ciphertext). */
#define KP_SRTCP_N_TAGS 3

/* Anomaly bits of struct kp_rtcp. */
#define KP_RTCP_ANOM_NOT_SR_RR_FIRST 0x0001u /* first packet is neither SR nor RR: a
                                                reduced-size packet (RFC 5506 3.1) */
#define KP_RTCP_ANOM_PADDING_NOT_LAST 0x0002u /* P set on a packet that is not the last of the
                                                 compound (RFC 3550 6.4.1, A.2) */
#define KP_RTCP_ANOM_BAD_BODY 0x0004u        /* an SR/RR/SDES/BYE/APP body whose length
                                                disagrees with its count (RFC 3550 6.4-6.7) */
#define KP_RTCP_ANOM_CAPPED 0x0008u          /* more than KP_RTCP_MAX_PKTS packets walked */

/* One packet of a compound. */
struct kp_rtcp_pkt {
    uint8_t pt;         /* packet type, 192..223 */
    uint8_t count;      /* RC / SC / FMT: the 5 bits after P */
    bool padding;       /* P bit */
    uint16_t length;    /* length field: 32-bit words minus one */
    size_t offset;      /* offset of the packet in the datagram */
    size_t size;        /* 4 * (length + 1) */
    bool has_ssrc;      /* size >= 8 */
    uint32_t ssrc;      /* first word after the header (sender / packet sender SSRC; for
                           SDES the first chunk's SSRC) */
    struct kp_rd body;  /* the size - 4 bytes after the 4-byte header (padding included) */
};

/* A candidate SRTCP trailer (RFC 3711 3.4: E flag, 31-bit SRTCP index, then
 * an optional MKI, which this module assumes absent, then the tag). */
struct kp_srtcp_cand {
    bool valid;         /* the trailer position fits: at or after the first packet's end and
                           a multiple of 4 from the start (an RTCP compound is whole words) */
    uint8_t tag_len;    /* 10, 4 or 0 */
    bool e;             /* E flag: payload encrypted */
    uint32_t index;     /* SRTCP index, 31 bits */
};

/* A parsed RTCP compound packet (RFC 3550 6.1). */
struct kp_rtcp {
    size_t n_pkts;      /* packets stored */
    uint32_t pkts_total; /* packets walked */
    struct kp_rtcp_pkt pkts[KP_RTCP_MAX_PKTS];
    size_t walked;      /* bytes covered by the walked packets */
    bool tiled;         /* walked == datagram length: plain RTCP.  False for SRTCP, whose
                           packets after the first are encrypted and are followed by the
                           trailer; then `tail` holds the rest and srtcp[] the candidates. */
    struct kp_rd tail;  /* bytes after the walked packets (empty when tiled) */
    struct kp_srtcp_cand srtcp[KP_SRTCP_N_TAGS]; /* all invalid when tiled */

    /* Decoded from the walked packets.  In SRTCP everything after the first
     * 8 bytes is ciphertext, so these are meaningful only when tiled. */
    bool has_sr;        /* the first SR's sender info (RFC 3550 6.4.1) */
    uint32_t sr_ssrc;
    uint64_t sr_ntp;    /* NTP timestamp, 64 bits */
    uint32_t sr_rtp_ts;
    uint32_t sr_packets;
    uint32_t sr_octets;
    bool has_cname;     /* the first CNAME item of the first SDES (RFC 3550 6.5.1) */
    uint32_t cname_ssrc;
    struct kp_rd cname;
    bool has_bye;       /* the first BYE (RFC 3550 6.6) */
    struct kp_rd bye_reason; /* empty when the BYE has no reason */
    bool has_app;       /* the first APP (RFC 3550 6.7) */
    struct kp_rd app_name; /* 4 ASCII bytes */
    uint32_t anomalies; /* KP_RTCP_ANOM_* */
};

/* Walk the compound RTCP packet in dgram.  The first packet decides: version
 * 2 and packet type 192..223 (else NOT_MINE), its length within dgram (else
 * TRUNCATED).  Later packets are walked while they have version 2, a type in
 * 192..223 and fit; the first that does not ends the walk (SRTCP ciphertext,
 * a trailer, or junk): the rest becomes `tail`.  Never MALFORMED. */
enum kp_res kp_rtcp_parse(struct kp_rtcp *out, struct kp_rd dgram);

/* "SR", "RR", "SDES", "BYE", "APP", "RTPFB", "PSFB", "XR"; NULL otherwise. */
const char *kp_rtcp_type_name(uint8_t pt);

/* ---- Multi-packet validator -------------------------------------------------- */

#define KP_RTP_TRACK_SLOTS 4        /* SSRCs followed at once (least recently used replaced) */
#define KP_RTP_TRACK_MIN 3          /* is_rtp after a run of this many packets of one SSRC,
                                       each consistent with the one before it */
#define KP_RTP_MAX_DROPOUT 3000     /* largest forward sequence jump (RFC 3550 A.1) */
#define KP_RTP_MAX_MISORDER 100     /* backward jumps up to this are reordering (A.1) */
#define KP_RTP_MAX_TS_JUMP 0x01000000u /* largest forward timestamp step counted consistent
                                          (about 186 s at 90 kHz) */

struct kp_rtp_track_slot {
    bool used;
    uint32_t ssrc;
    uint16_t seq;       /* highest sequence number seen */
    uint32_t ts;        /* timestamp of that packet */
    uint8_t pt;         /* payload type of that packet */
    uint32_t run;       /* consecutive consistent packets ending with the last one (the
                           first packet of a run counts 1) */
    uint32_t packets;   /* packets seen with this SSRC */
    uint32_t last_use;  /* t->packets when last updated (LRU) */
};

/* Accumulated evidence for one flow direction (or one flow).  Zero it, or
 * call kp_rtp_track_init, before the first update.  Holds no packet bytes. */
struct kp_rtp_track {
    struct kp_rtp_track_slot slot[KP_RTP_TRACK_SLOTS];
    uint32_t packets;       /* RTP headers fed */
    uint32_t consistent;    /* ... that continued their SSRC's stream */
    uint32_t inconsistent;  /* ... that broke it (sequence jump, timestamp backwards, payload
                               type change): the run restarts */
    uint32_t reordered;     /* ... duplicates or late packets (RFC 3550 A.1 misorder):
                               neither */
    bool is_rtp;            /* some SSRC reached KP_RTP_TRACK_MIN consecutive consistent
                               packets; sticky */
    uint32_t rtp_ssrc;      /* that SSRC */
    uint8_t rtp_pt;         /* its payload type then */

    /* SRTCP validator (kp_rtp_track_rtcp): per candidate tag length, the last
     * index seen and the run of packets whose index went up by 1..MAX_DROPOUT
     * with the same E flag. */
    uint32_t rtcp_packets;  /* compounds fed */
    bool srtcp_seen[KP_SRTCP_N_TAGS];
    uint32_t srtcp_last[KP_SRTCP_N_TAGS];
    bool srtcp_last_e[KP_SRTCP_N_TAGS];
    uint32_t srtcp_run[KP_SRTCP_N_TAGS];
    bool is_srtcp;          /* a candidate reached KP_RTP_TRACK_MIN; sticky */
    uint8_t srtcp_tag_len;  /* its tag length */
    bool srtcp_encrypted;   /* its E flag then */
};

void kp_rtp_track_init(struct kp_rtp_track *t);

/* Feed one parsed RTP header (from kp_rtp_parse, KP_RES_OK).  A packet is
 * consistent with its SSRC's stream when its sequence number is 1 to
 * KP_RTP_MAX_DROPOUT ahead (mod 2^16), its timestamp is 0 to
 * KP_RTP_MAX_TS_JUMP ahead (mod 2^32) and its payload type is unchanged.
 * Up to KP_RTP_MAX_MISORDER behind (or equal) counts as reordered and
 * changes nothing; anything else restarts the run.  Returns t->is_rtp. */
bool kp_rtp_track_rtp(struct kp_rtp_track *t, const struct kp_rtp *h);

/* Feed one parsed RTCP compound (kp_rtcp_parse, KP_RES_OK).  Untiled
 * compounds feed the SRTCP candidates: is_srtcp once one tag length shows
 * KP_RTP_TRACK_MIN consecutive trailers whose index rises by 1 to
 * KP_RTP_MAX_DROPOUT with a constant E flag.  Returns t->is_srtcp. */
bool kp_rtp_track_rtcp(struct kp_rtp_track *t, const struct kp_rtcp *c);

#endif
