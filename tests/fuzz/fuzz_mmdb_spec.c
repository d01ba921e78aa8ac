/* Fuzz target: the MaxMind DB writer's text inputs (geo/mmdb_write.c).
 *
 * The input is loaded as a text spec (kp_mmdbw_load_spec) into one writer
 * and as an ASN CSV (kp_mmdbw_load_asn_csv) into another; whatever loaded
 * is written (kp_mmdbw_write) to an in-memory file, which libmaxminddb must
 * then open and answer lookups on without error: for a few fixed addresses
 * and for the first address of the first lines of the input.  A database
 * libmaxminddb refuses, or a lookup error, is a writer bug: the target traps.
 */
#define _GNU_SOURCE
#include <maxminddb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "mmdb_write.h"

static const char *const k_addrs[] = {
    "0.0.0.0", "1.2.3.4", "10.0.0.1", "52.81.151.250", "255.255.255.255",
    "::", "::1", "::ffff:1.2.3.4", "2001:db8::1", "2001:4860::8888",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
};

static int g_fd = -1;
static char g_path[64];

static int open_file(void)
{
    if (g_fd >= 0) {
        return 0;
    }
    g_fd = memfd_create("kp-fuzz-mmdb", MFD_CLOEXEC);
    if (g_fd < 0) {
        const char *dir = getenv("TMPDIR");
        char tmpl[4096];
        snprintf(tmpl, sizeof(tmpl), "%s/kp-fuzz-mmdb-XXXXXX", dir != NULL ? dir : "/tmp");
        g_fd = mkstemp(tmpl);
        if (g_fd < 0) {
            return -1;
        }
        unlink(tmpl);
    }
    snprintf(g_path, sizeof(g_path), "/proc/self/fd/%d", g_fd);
    return 0;
}

static void lookup(const MMDB_s *db, const char *ip)
{
    int gai_error = 0, mmdb_error = MMDB_SUCCESS;
    MMDB_lookup_result_s res = MMDB_lookup_string(db, ip, &gai_error, &mmdb_error);
    if (gai_error != 0) {
        return; /* not an address: nothing to ask */
    }
    if (mmdb_error != MMDB_SUCCESS) {
        fprintf(stderr, "lookup %s: %s\n", ip, MMDB_strerror(mmdb_error));
        __builtin_trap();
    }
    if (res.found_entry) {
        MMDB_entry_data_list_s *list = NULL;
        int st = MMDB_get_entry_data_list(&res.entry, &list);
        MMDB_free_entry_data_list(list);
        if (st != MMDB_SUCCESS) {
            fprintf(stderr, "record of %s: %s\n", ip, MMDB_strerror(st));
            __builtin_trap();
        }
    }
}

/* The text before the first separator of each of the first lines: the
 * network or range start the line inserted, if any. */
static void lookup_input(const MMDB_s *db, const uint8_t *data, size_t size)
{
    size_t off = 0;
    for (int line = 0; line < 4 && off < size; line++) {
        char ip[64];
        size_t n = 0;
        while (off < size && data[off] != '\n' && data[off] != ' ' && data[off] != '\t' &&
               data[off] != ',' && data[off] != '/' && n < sizeof(ip) - 1) {
            ip[n++] = (char)data[off++];
        }
        ip[n] = '\0';
        if (n > 0 && memchr(ip, '\0', n) == NULL) {
            lookup(db, ip);
        }
        while (off < size && data[off] != '\n') {
            off++;
        }
        off++;
    }
}

static void write_and_read(const struct kp_mmdbw *w, const uint8_t *data, size_t size)
{
    if (open_file() != 0 || ftruncate(g_fd, 0) != 0 || lseek(g_fd, 0, SEEK_SET) != 0) {
        return;
    }
    int fd = dup(g_fd);
    FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (fp == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    struct kp_mmdbw_meta meta = {
        .database_type = "keyprov-fuzz",
        .description_en = "fuzz",
        .build_epoch = 1585836000,
    };
    struct kp_mmdbw_info info;
    int rc = kp_mmdbw_write(w, &meta, fp, &info);
    if (fclose(fp) != 0 || rc != KP_OK) {
        return; /* out of memory or a limit: nothing to check */
    }
    MMDB_s db;
    int st = MMDB_open(g_path, MMDB_MODE_MMAP, &db);
    if (st != MMDB_SUCCESS) {
        fprintf(stderr, "libmaxminddb refuses the database written: %s\n", MMDB_strerror(st));
        __builtin_trap();
    }
    for (size_t i = 0; i < sizeof(k_addrs) / sizeof(k_addrs[0]); i++) {
        lookup(&db, k_addrs[i]);
    }
    lookup_input(&db, data, size);
    MMDB_close(&db);
}

static void load(const uint8_t *data, size_t size, bool csv)
{
    char *copy = malloc(size);
    struct kp_mmdbw *w = NULL;
    if (copy == NULL || kp_mmdbw_new(&w) != KP_OK) {
        goto free_all;
    }
    memcpy(copy, data, size);
    FILE *fp = fmemopen(copy, size, "r");
    if (fp == NULL) {
        goto free_all;
    }
    char err[256];
    uint64_t rows = 0;
    if (csv) {
        (void)kp_mmdbw_load_asn_csv(w, fp, "fuzz.csv", &rows, err, sizeof(err));
    } else {
        (void)kp_mmdbw_load_spec(w, fp, "fuzz.spec", err, sizeof(err));
    }
    fclose(fp);
    struct kp_mmdbw_counts counts;
    kp_mmdbw_counts(w, &counts);
    write_and_read(w, data, size);
free_all:
    kp_mmdbw_free(w);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    load(data, size, false);
    load(data, size, true);
    return 0;
}
