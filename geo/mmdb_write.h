/* mmdb_write.h: a MaxMind DB (binary format 2.0) writer and its text inputs.
 *
 * Spec: https://maxmind.github.io/MaxMind-DB/ ("MaxMind DB File Format
 * Specification", v2.0).  Not part of libkeyprov: a separate static library
 * (kp_mmdbw) used by the kp-mkmmdb tool and by tests that build fixtures.
 *
 * What it writes
 *   - An IPv6 search tree (metadata ip_version 6).  IPv4 networks live at
 *     ::/96 (spec: "IPv4 addresses in an IPv6 tree") and are ALSO reachable
 *     through ::ffff:0:0/96: that subtree is an alias whose record points at
 *     the ::/96 node, so IPv4-mapped lookups find the IPv4 data.  Nothing
 *     else is aliased (no 6to4 / Teredo).
 *   - Record size 24, 28 or 32 bits: the smallest that can hold
 *     node_count + 16 + data section size, unless the caller forces one.
 *   - A data section of maps, UTF-8 strings, uint16 and uint32.  Identical
 *     records are stored once; repeated keys, strings and sub-maps inside the
 *     data section become pointers to their first copy when that is shorter.
 *     Map keys are written in byte order, so {a,b} and {b,a} are one record.
 *   - Metadata: binary_format_major_version 2, binary_format_minor_version 0,
 *     build_epoch, database_type, description {en}, ip_version 6,
 *     languages [] (records are not localised), node_count, record_size.
 *   - Output is a pure function of the inserts (in order) and the metadata:
 *     same input, same bytes.
 *
 * Overlapping networks (the rule)
 *   Every address gets the record of the LONGEST inserted network that
 *   contains it, whatever the order of insertion; for the very same network
 *   inserted twice, the later insert replaces the earlier.  So a /24 inside a
 *   /16 wins for its 256 addresses whether it came first or last.  Ranges are
 *   cut into CIDR blocks first (blocks are either nested or disjoint), so the
 *   same rule applies to overlapping ranges block by block.
 *   Adjacent blocks that end up with the same record are merged in the
 *   output tree (so a lookup may report a shorter prefix than was inserted).
 *
 * Addresses in this API are 16 bytes, network byte order; an IPv4 address or
 * network is given IPv4-mapped (::ffff:a.b.c.d, prefix length 96 + n), like
 * struct kp_addr.  An IPv4-compatible ::a.b.c.d is the same place in the tree.
 *
 * Errors: functions return KP_OK or a negative KP_E* code from keyprov.h:
 * KP_EINVAL bad argument or input, KP_ENOMEM allocation failed or a limit
 * below was reached, KP_EIO read/write failure.  Nothing aborts or exits; a
 * failed call leaves the writer as it was, except that an insert_range that
 * fails half way has inserted its first blocks.
 *
 * Objects are not thread-safe; use one writer per thread.
 */
#ifndef KP_MMDB_WRITE_H
#define KP_MMDB_WRITE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "keyprov.h"

/* Limits.  Anything beyond them is refused with KP_EINVAL (input) or
 * KP_ENOMEM (size). */
#define KP_MMDBW_MAX_NODES (1u << 28)        /* search tree nodes in memory */
#define KP_MMDBW_MAX_DATA ((size_t)1 << 31)  /* data section bytes */
#define KP_MMDBW_REC_MAX_ENTRIES 256         /* keys + values in one record */
#define KP_MMDBW_REC_MAX_BYTES (1u << 20)     /* key and string bytes in one record */
#define KP_MMDBW_REC_MAX_DEPTH 8             /* nesting of maps in a record */
#define KP_MMDBW_MAX_META_STR 4096           /* database_type, description */
#define KP_MMDBW_MAX_LINE 65536              /* one spec line or CSV record */
#define KP_MMDBW_CSV_MAX_FIELDS 32

/* ------------------------------------------------------------ records */

struct kp_mmdbw_rec;

/* A new, empty record (a map).  KP_ENOMEM on allocation failure. */
int kp_mmdbw_rec_new(struct kp_mmdbw_rec **out);
void kp_mmdbw_rec_free(struct kp_mmdbw_rec *rec);

/* Empty the record, keeping its memory for reuse. */
void kp_mmdbw_rec_clear(struct kp_mmdbw_rec *rec);

/* Set a value at a dotted path: "country.iso_code" creates the map
 * "country" if needed and sets its key "iso_code".  Keys are 1..255 bytes
 * of valid UTF-8 without '.'.  A path that already holds a value, or that
 * runs through a non-map value, is KP_EINVAL; so is a string that is not
 * valid UTF-8, or a record past the KP_MMDBW_REC_* limits. */
int kp_mmdbw_rec_set_str(struct kp_mmdbw_rec *rec, const char *path, const char *s, size_t len);
int kp_mmdbw_rec_set_u32(struct kp_mmdbw_rec *rec, const char *path, uint32_t v);
int kp_mmdbw_rec_set_u16(struct kp_mmdbw_rec *rec, const char *path, uint16_t v);

/* ------------------------------------------------------------- writer */

struct kp_mmdbw;

int kp_mmdbw_new(struct kp_mmdbw **out);
void kp_mmdbw_free(struct kp_mmdbw *w);

/* Give the network net/plen (plen 0..128, host bits must be zero) the
 * record rec (copied; rec may be reused at once).  KP_EINVAL for a bad
 * prefix length or host bits set, KP_ENOMEM if a limit is reached. */
int kp_mmdbw_insert(struct kp_mmdbw *w, const uint8_t net[16], unsigned plen,
                    const struct kp_mmdbw_rec *rec);

/* Give every address in the inclusive range [lo, hi] the record rec.  Both
 * ends must be IPv4-mapped or both not; KP_EINVAL if lo > hi. */
int kp_mmdbw_insert_range(struct kp_mmdbw *w, const uint8_t lo[16], const uint8_t hi[16],
                          const struct kp_mmdbw_rec *rec);

/* Counters since kp_mmdbw_new(). */
struct kp_mmdbw_counts {
    uint64_t networks;       /* CIDR blocks inserted (a range counts its blocks) */
    uint64_t records;        /* distinct records */
    uint64_t nodes;          /* search tree nodes in memory (before merging) */
};
void kp_mmdbw_counts(const struct kp_mmdbw *w, struct kp_mmdbw_counts *out);

/* Metadata and options of the file to write; zero-initialise, then set.
 * NULL strings are written as "" / no description.  record_size 0 chooses
 * automatically; 24, 28 or 32 forces it (KP_EINVAL if the database does not
 * fit).  build_epoch must not be 0: libmaxminddb refuses such files.
 * no_ipv4_alias nonzero leaves ::ffff:0:0/96 empty instead of
 * aliasing it to ::/96, like the ip-location-db files (for tests). */
struct kp_mmdbw_meta {
    const char *database_type;
    const char *description_en;
    uint64_t build_epoch;
    unsigned record_size;
    int no_ipv4_alias;
};

/* What was written. */
struct kp_mmdbw_info {
    uint32_t node_count;
    unsigned record_size;
    uint64_t tree_bytes;
    uint64_t data_bytes;
    uint64_t file_bytes;
};

/* Serialise the database to fp (which stays open; the caller checks fclose).
 * The writer is unchanged and may take more inserts and be written again.
 * info may be NULL.  KP_EIO on a write error. */
int kp_mmdbw_write(const struct kp_mmdbw *w, const struct kp_mmdbw_meta *meta, FILE *fp,
                   struct kp_mmdbw_info *info);

/* Write to path atomically (a temporary file in the same folder, then
 * rename), or to stdout if path is "-".  On failure writes a one-line
 * message naming the file to err. */
int kp_mmdbw_write_file(const struct kp_mmdbw *w, const struct kp_mmdbw_meta *meta,
                        const char *path, struct kp_mmdbw_info *info, char *err, size_t errlen);

/* The record size the writer chooses for a tree of node_count nodes and a
 * data section of data_bytes: the smallest of 24, 28, 32 such that every
 * record value (at most node_count + 16 + data_bytes) fits; 0 if none. */
unsigned kp_mmdbw_pick_record_size(uint64_t node_count, uint64_t data_bytes);

/* ------------------------------------------------------ address helpers */

/* Parse a textual IPv4 or IPv6 address (s need not be NUL-terminated) into
 * 16 bytes; IPv4 becomes IPv4-mapped.  *is_v4 (may be NULL) tells which it
 * was.  KP_EINVAL if unparsable. */
int kp_mmdbw_parse_ip(const char *s, size_t len, uint8_t ip[16], int *is_v4);

/* Parse "ADDR/LEN" or a bare address (a /32 or /128).  IPv4 prefix lengths
 * are 0..32 and come back as 96 + n.  On KP_EINVAL *why (may be NULL)
 * names the problem, e.g. "host bits set". */
int kp_mmdbw_parse_net(const char *s, size_t len, uint8_t net[16], unsigned *plen,
                       const char **why);

/* Called for each CIDR block of a range; a nonzero return stops the walk
 * and is returned by kp_mmdbw_range_cidrs. */
typedef int (*kp_mmdbw_cidr_cb)(const uint8_t net[16], unsigned plen, void *ctx);

/* Cut the inclusive range [lo, hi] into the fewest CIDR blocks, in ascending
 * order.  KP_EINVAL if lo > hi.  Pure: no allocation. */
int kp_mmdbw_range_cidrs(const uint8_t lo[16], const uint8_t hi[16], kp_mmdbw_cidr_cb cb,
                         void *ctx);

/* ------------------------------------------------------------- inputs */

/* One CSV field after unquoting; p points into the record passed in. */
struct kp_mmdbw_field {
    const char *p;
    size_t len;
};

/* Split one CSV record (RFC 4180: fields separated by ',', a field may be
 * quoted with '"', a quote inside a quoted field is doubled, quoted fields
 * may hold commas and line breaks).  Spaces and tabs around a field are
 * dropped.  The record is unquoted in place (rec is modified).  Returns
 * KP_OK with *n fields, or KP_EINVAL with *why set for an unterminated quote,
 * text after a closing quote, a quote inside an unquoted field, or more than
 * max fields. */
int kp_mmdbw_csv_split(char *rec, size_t len, struct kp_mmdbw_field *fields, size_t max,
                       size_t *n, const char **why);

/* Load a text spec: one network per line, "CIDR key=value key=value ...";
 * '#' starts a comment (outside quotes); blank lines are ignored.  A value
 * of digits only is a uint32, anything else a string; "..." quotes a value
 * (escapes \" and \\), so "123" is a string.  Dotted keys build nested maps.
 * name is used in messages: on failure err gets "NAME:LINE: what is wrong"
 * and the lines before it stay inserted. */
int kp_mmdbw_load_spec(struct kp_mmdbw *w, FILE *fp, const char *name, char *err,
                       size_t errlen);

/* Load an ip-location-db ASN CSV ("start,end,asn,organisation", inclusive
 * ranges of textual IPv4 or IPv6 addresses; an optional header line starting
 * "ip_range_start" is skipped).  Each range gets the GeoLite2-ASN layout
 * {autonomous_system_number: uint32, autonomous_system_organization: string}
 * (no organisation key if the field is empty).  Errors as for load_spec.
 * rows (may be NULL) is incremented per data row. */
int kp_mmdbw_load_asn_csv(struct kp_mmdbw *w, FILE *fp, const char *name, uint64_t *rows,
                          char *err, size_t errlen);

#endif
