/* geo.c: country and ASN lookups in MaxMind DB files through libmaxminddb.
 *
 * Format references ("spec §...") are to the MaxMind DB File Format
 * Specification v2.0, https://maxmind.github.io/MaxMind-DB/.
 *
 * Databases are opened with MMDB_MODE_MMAP and never written: every lookup
 * works on the const struct, so the handle is shared across threads.  All
 * strings that leave this file are copied out of the mapping with a bound
 * (MMDB strings are not NUL-terminated and die with the database).
 */
#include "geo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <maxminddb.h>

enum { GEO_COUNTRY = 0, GEO_ASN = 1, GEO_N = 2 };

struct kp_geo {
    MMDB_s db[GEO_N];
    bool open[GEO_N];
    char *path[GEO_N];
};

static const char *const geo_label[GEO_N] = {"country", "asn"};

/* Where the country code is, most specific layout first:
 * ip-location-db writes {country_code}, MaxMind GeoLite2/GeoIP2 and DB-IP
 * write {country: {iso_code}}, and registered_country is the fallback for
 * networks MaxMind cannot place (anycast, satellite). */
static const char *const country_path_cc[] = {"country_code", NULL};
static const char *const country_path_iso[] = {"country", "iso_code", NULL};
static const char *const country_path_reg[] = {"registered_country", "iso_code", NULL};
static const char *const *const country_paths[] = {country_path_cc, country_path_iso,
                                                   country_path_reg};

/* GeoLite2-ASN layout (also what kp-mkmmdb writes). */
static const char *const asn_path_num[] = {"autonomous_system_number", NULL};
static const char *const asn_path_org[] = {"autonomous_system_organization", NULL};

static void geo_err(char *err, size_t errlen, const char *path, const char *what,
                    const char *detail)
{
    if (err != NULL && errlen != 0) {
        snprintf(err, errlen, "geo: %s: %s%s%s%s", path, what, detail != NULL ? " (" : "",
                 detail != NULL ? detail : "", detail != NULL ? ")" : "");
    }
}

/* Length of the valid UTF-8 sequence at s (RFC 3629 §4: no overlongs, no
 * surrogates, at most U+10FFFF), 0 if invalid. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t k;
    uint32_t cp;
    uint32_t min;
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        k = 1;
        cp = c & 0x1Fu;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 2;
        cp = c & 0x0Fu;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 3;
        cp = c & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n - 1 < k) {
        return 0;
    }
    for (size_t j = 1; j <= k; j++) {
        if ((s[j] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[j] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return k + 1;
}

/* Copy n bytes of database text into dst (dstlen >= 1) as a C string that
 * is valid UTF-8 and safe to print on one line: stops at a NUL, control
 * characters become ' ', invalid bytes '?', and a character that does not
 * fit is left out whole.  The spec (§"UTF-8 string - 2") promises UTF-8,
 * but a hostile file promises nothing. */
static void copy_text(char *dst, size_t dstlen, const char *src, size_t n)
{
    const uint8_t *s = (const uint8_t *)src;
    size_t o = 0;
    size_t i = 0;
    while (i < n && s[i] != 0) {
        size_t k = utf8_seq(s + i, n - i);
        if (k == 0 || k == 1) {
            if (o + 1 >= dstlen) {
                break;
            }
            uint8_t c = s[i];
            dst[o++] = k == 0 ? '?' : (c < 0x20 || c == 0x7F) ? ' ' : (char)c;
            i++;
            continue;
        }
        if (o + k >= dstlen) {
            break;
        }
        memcpy(dst + o, s + i, k);
        o += k;
        i += k;
    }
    dst[o] = '\0';
}

static int open_one(struct kp_geo *geo, int i, const char *path, char *err, size_t errlen)
{
    struct stat st;
    int status;

    /* stat first: libmaxminddb would block on a FIFO and reports a
     * directory or an empty file only as "IO error". */
    if (stat(path, &st) != 0) {
        geo_err(err, errlen, path, "cannot open", strerror(errno));
        return KP_EIO;
    }
    if (S_ISDIR(st.st_mode)) {
        geo_err(err, errlen, path, "is a directory, not a MaxMind DB file", NULL);
        return KP_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        geo_err(err, errlen, path, "not a regular file", NULL);
        return KP_EIO;
    }
    if (st.st_size == 0) {
        geo_err(err, errlen, path, "empty file (0 bytes), not a MaxMind DB file", NULL);
        return KP_EFORMAT;
    }
    errno = 0;
    status = MMDB_open(path, MMDB_MODE_MMAP, &geo->db[i]);
    switch (status) {
    case MMDB_SUCCESS:
        break;
    case MMDB_FILE_OPEN_ERROR:
        geo_err(err, errlen, path, "cannot open", errno != 0 ? strerror(errno) : NULL);
        return KP_EIO;
    case MMDB_IO_ERROR:
        geo_err(err, errlen, path, "read error", errno != 0 ? strerror(errno) : NULL);
        return KP_EIO;
    case MMDB_OUT_OF_MEMORY_ERROR:
        geo_err(err, errlen, path, "out of memory", NULL);
        return KP_ENOMEM;
    case MMDB_INVALID_METADATA_ERROR:
        /* No metadata marker in the last 128 KiB (spec §"Database
         * Metadata"), or a metadata map that does not decode: a text file,
         * a truncated database, or something else entirely. */
        geo_err(err, errlen, path, "not a MaxMind DB file", "invalid metadata");
        return KP_EFORMAT;
    case MMDB_UNKNOWN_DATABASE_FORMAT_ERROR:
        geo_err(err, errlen, path, "unsupported MaxMind DB format version", NULL);
        return KP_EFORMAT;
    default:
        geo_err(err, errlen, path, "corrupt MaxMind DB file", MMDB_strerror(status));
        return KP_EFORMAT;
    }
    if (geo->db[i].metadata.ip_version != 4 && geo->db[i].metadata.ip_version != 6) {
        MMDB_close(&geo->db[i]);
        geo_err(err, errlen, path, "corrupt MaxMind DB file", "ip_version is neither 4 nor 6");
        return KP_EFORMAT;
    }
    geo->open[i] = true;
    geo->path[i] = strdup(path);
    if (geo->path[i] == NULL) {
        geo_err(err, errlen, path, "out of memory", NULL);
        return KP_ENOMEM;
    }
    return KP_OK;
}

KP_API void kp_geo_free(struct kp_geo *geo)
{
    if (geo == NULL) {
        return;
    }
    for (int i = 0; i < GEO_N; i++) {
        if (geo->open[i]) {
            MMDB_close(&geo->db[i]);
        }
        free(geo->path[i]);
    }
    free(geo);
}

KP_API int kp_geo_open(struct kp_geo **out, const char *country_path, const char *asn_path,
                       char *err, size_t errlen)
{
    const char *paths[GEO_N] = {country_path, asn_path};
    struct kp_geo *geo;

    if (err != NULL && errlen != 0) {
        err[0] = '\0';
    }
    if (out == NULL) {
        geo_err(err, errlen, "(none)", "bad argument", NULL);
        return KP_EINVAL;
    }
    *out = NULL;
    geo = calloc(1, sizeof(*geo));
    if (geo == NULL) {
        geo_err(err, errlen, "(none)", "out of memory", NULL);
        return KP_ENOMEM;
    }
    for (int i = 0; i < GEO_N; i++) {
        if (paths[i] == NULL) {
            continue;
        }
        int rc = open_one(geo, i, paths[i], err, errlen);
        if (rc != KP_OK) {
            kp_geo_free(geo);
            return rc;
        }
    }
    *out = geo;
    return KP_OK;
}

/* The data record for sa, or false.  Errors (an IPv6 address in an IPv4
 * database, a corrupt tree) mean "nothing known", not failure. */
static bool lookup_entry(const MMDB_s *db, const struct sockaddr *sa, MMDB_entry_s *entry)
{
    int mmdb_error = MMDB_SUCCESS;
    MMDB_lookup_result_s r = MMDB_lookup_sockaddr(db, sa, &mmdb_error);
    if (mmdb_error != MMDB_SUCCESS || !r.found_entry) {
        return false;
    }
    *entry = r.entry;
    return true;
}

static void get_country(MMDB_entry_s *entry, char cc[3])
{
    for (size_t i = 0; i < sizeof(country_paths) / sizeof(country_paths[0]); i++) {
        MMDB_entry_data_s d;
        if (MMDB_aget_value(entry, &d, country_paths[i]) != MMDB_SUCCESS || !d.has_data ||
            d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size != 2) {
            continue;
        }
        /* ISO 3166-1 alpha-2: two letters.  Anything else is not a country
         * code we can flag on. */
        char a = d.utf8_string[0];
        char b = d.utf8_string[1];
        bool ok = ((a >= 'A' && a <= 'Z') || (a >= 'a' && a <= 'z')) &&
                  ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z'));
        if (!ok) {
            continue;
        }
        cc[0] = (char)(a & ~0x20);
        cc[1] = (char)(b & ~0x20);
        cc[2] = '\0';
        return;
    }
}

static void get_asn(MMDB_entry_s *entry, uint32_t *asn, char *org, size_t orglen)
{
    MMDB_entry_data_s d;
    if (MMDB_aget_value(entry, &d, asn_path_num) == MMDB_SUCCESS && d.has_data) {
        /* The spec allows any integer type; GeoLite2-ASN uses uint32. */
        switch (d.type) {
        case MMDB_DATA_TYPE_UINT16:
            *asn = d.uint16;
            break;
        case MMDB_DATA_TYPE_UINT32:
            *asn = d.uint32;
            break;
        case MMDB_DATA_TYPE_UINT64:
            *asn = d.uint64 <= UINT32_MAX ? (uint32_t)d.uint64 : 0;
            break;
        case MMDB_DATA_TYPE_INT32:
            *asn = d.int32 > 0 ? (uint32_t)d.int32 : 0;
            break;
        default:
            break;
        }
    }
    if (MMDB_aget_value(entry, &d, asn_path_org) == MMDB_SUCCESS && d.has_data &&
        d.type == MMDB_DATA_TYPE_UTF8_STRING) {
        copy_text(org, orglen, d.utf8_string, d.data_size);
    }
}

int kp_geo_lookup_addr(const struct kp_geo *geo, const struct kp_addr *a, struct kp_geo_info *out)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    const struct sockaddr *sa;

    if (out == NULL) {
        return KP_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    if (a == NULL) {
        return KP_EINVAL;
    }
    if (geo == NULL) {
        return KP_OK;
    }
    if (kp_addr_is_v4(a)) {
        /* IPv4-mapped → plain IPv4: libmaxminddb then walks the ::/96
         * subtree (spec §"IPv4 addresses in an IPv6 tree"), which every
         * IPv6 database fills, alias or not. */
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        memcpy(&sin.sin_addr, a->b + 12, 4);
        sa = (const struct sockaddr *)&sin;
    } else {
        memset(&sin6, 0, sizeof(sin6));
        sin6.sin6_family = AF_INET6;
        memcpy(&sin6.sin6_addr, a->b, 16);
        sa = (const struct sockaddr *)&sin6;
    }
    MMDB_entry_s entry;
    if (geo->open[GEO_COUNTRY] && lookup_entry(&geo->db[GEO_COUNTRY], sa, &entry)) {
        get_country(&entry, out->country);
    }
    if (geo->open[GEO_ASN] && lookup_entry(&geo->db[GEO_ASN], sa, &entry)) {
        get_asn(&entry, &out->asn, out->as_org, sizeof(out->as_org));
    }
    return KP_OK;
}

KP_API int kp_geo_lookup(const struct kp_geo *geo, const char *ip, struct kp_geo_info *out)
{
    struct kp_addr a;
    char tmp[64];

    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (ip == NULL || out == NULL) {
        return KP_EINVAL;
    }
    size_t n = strnlen(ip, sizeof(tmp));
    if (n == 0 || n == sizeof(tmp)) {
        return KP_EINVAL;
    }
    memcpy(tmp, ip, n + 1);
    memset(&a, 0, sizeof(a));
    if (strchr(tmp, ':') != NULL) {
        if (inet_pton(AF_INET6, tmp, a.b) != 1) {
            return KP_EINVAL;
        }
    } else {
        a.b[10] = 0xff;
        a.b[11] = 0xff;
        if (inet_pton(AF_INET, tmp, a.b + 12) != 1) {
            return KP_EINVAL;
        }
    }
    return kp_geo_lookup_addr(geo, &a, out);
}

KP_API int kp_geo_describe(const struct kp_geo *geo, int n, char *buf, size_t len)
{
    char desc[256];
    char type[128];
    char date[32];

    if (buf != NULL && len != 0) {
        buf[0] = '\0';
    }
    if (geo == NULL || n < 0 || n >= GEO_N || !geo->open[n] || buf == NULL || len == 0) {
        return KP_EINVAL;
    }
    const MMDB_metadata_s *m = &geo->db[n].metadata;

    /* description is an optional map of language → text (spec §"description");
     * prefer English, else the first one, else name the file. */
    const char *d = NULL;
    for (size_t i = 0; i < m->description.count; i++) {
        const MMDB_description_s *e = m->description.descriptions[i];
        if (e == NULL || e->description == NULL || e->description[0] == '\0') {
            continue;
        }
        if (d == NULL || (e->language != NULL && strcmp(e->language, "en") == 0)) {
            d = e->description;
        }
    }
    if (d == NULL) {
        d = geo->path[n];
    }
    copy_text(desc, sizeof(desc), d, strlen(d));
    copy_text(type, sizeof(type), m->database_type != NULL ? m->database_type : "",
              m->database_type != NULL ? strlen(m->database_type) : 0);

    /* build_epoch is a uint64 (spec §"build_epoch"); anything past year
     * 9999 is nonsense we do not hand to gmtime. */
    struct tm tm;
    time_t t = (time_t)m->build_epoch;
    if (m->build_epoch <= 253402300799u && gmtime_r(&t, &tm) != NULL &&
        strftime(date, sizeof(date), "%Y-%m-%d", &tm) != 0) {
        /* date set */
    } else {
        snprintf(date, sizeof(date), "unknown date");
    }
    snprintf(buf, len, "%s: %s, built %s (database_type \"%s\")", geo_label[n], desc, date, type);
    return KP_OK;
}
