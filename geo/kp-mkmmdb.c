/* kp-mkmmdb: build a MaxMind DB file from text specs or ip-location-db ASN
 * CSV files, with keyprov's own writer (mmdb_write.h).
 *
 *   kp-mkmmdb --spec FILE -o OUT.mmdb [--type NAME] [--description TEXT]
 *             [--build-epoch N] [--record-size 24|28|32] [--no-ipv4-alias] [-v]
 *   kp-mkmmdb --asn-csv FILE [--asn-csv FILE ...] -o OUT.mmdb [...]
 *
 * Inputs are read in command-line order into one database; FILE "-" is
 * stdin, OUT "-" is stdout.  Exit 0 on success, 2 on any error, with one
 * line on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mmdb_write.h"

enum { IN_SPEC = 1, IN_ASN_CSV };

struct input {
    int kind;
    const char *path;
};

static const char usage_text[] =
    "usage: kp-mkmmdb (--spec FILE | --asn-csv FILE)... -o OUT.mmdb [--type NAME]\n"
    "                 [--description TEXT] [--build-epoch N] [--record-size 24|28|32]\n"
    "                 [--no-ipv4-alias] [-v]\n"
    "  --spec FILE       text spec: 'CIDR key=value ...' per line (dotted keys nest)\n"
    "  --asn-csv FILE    ip-location-db ASN CSV (start,end,asn,organisation)\n"
    "  -o OUT            output file ('-' for stdout), written atomically\n"
    "  --type NAME       metadata database_type (default keyprov-ASN / keyprov-spec)\n"
    "  --description T   metadata description.en\n"
    "  --build-epoch N   metadata build_epoch (default $SOURCE_DATE_EPOCH, else now)\n"
    "  --record-size N   force the record size (default: smallest that fits)\n"
    "  --no-ipv4-alias   leave ::ffff:0:0/96 empty (default: alias of the IPv4 tree)\n"
    "  -v                print a summary on stderr\n"
    "FILE '-' reads stdin.  Exit status: 0 ok, 2 error.\n";

static int fail_usage(const char *what, const char *arg)
{
    fprintf(stderr, "kp-mkmmdb: %s%s%s\n", what, arg != NULL ? ": " : "", arg != NULL ? arg : "");
    fputs(usage_text, stderr);
    return 2;
}

static int parse_u64(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    if (s == NULL || *s == '\0') {
        return -1;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10) {
            return -1;
        }
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/* "--opt VALUE" or "--opt=VALUE"; advances *i past what it used. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *matched)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    *matched = 0;
    if (strncmp(a, name, n) != 0) {
        return NULL;
    }
    if (a[n] == '=') {
        *matched = 1;
        return a + n + 1;
    }
    if (a[n] != '\0') {
        return NULL;
    }
    *matched = 1;
    if (*i + 1 >= argc) {
        return NULL;
    }
    (*i)++;
    return argv[*i];
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct input *in = calloc((size_t)argc, sizeof(*in));
    size_t n_in = 0;
    const char *out = NULL;
    struct kp_mmdbw_meta meta;
    int have_epoch = 0;
    int verbose = 0;
    int has_csv = 0;
    int stdin_used = 0;
    int status = 2;
    struct kp_mmdbw *w = NULL;
    uint64_t rows = 0;
    char err[512];

    memset(&meta, 0, sizeof(meta));
    if (in == NULL) {
        fprintf(stderr, "kp-mkmmdb: out of memory\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        int m = 0;
        const char *v;
        uint64_t num;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
            free(in);
            return 0;
        }
        if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            verbose = 1;
            continue;
        }
        if (strcmp(argv[i], "--no-ipv4-alias") == 0) {
            meta.no_ipv4_alias = 1;
            continue;
        }
        if (strcmp(argv[i], "-o") == 0) {
            if (i + 1 >= argc) {
                status = fail_usage("missing value for", "-o");
                goto out;
            }
            out = argv[++i];
            continue;
        }
        if ((v = opt_value(argc, argv, &i, "--output", &m)) != NULL || m) {
            if (v == NULL) {
                status = fail_usage("missing value for", "--output");
                goto out;
            }
            out = v;
            continue;
        }
        if ((v = opt_value(argc, argv, &i, "--spec", &m)) != NULL || m) {
            if (v == NULL) {
                status = fail_usage("missing value for", "--spec");
                goto out;
            }
            in[n_in].kind = IN_SPEC;
            in[n_in++].path = v;
            continue;
        }
        if ((v = opt_value(argc, argv, &i, "--asn-csv", &m)) != NULL || m) {
            if (v == NULL) {
                status = fail_usage("missing value for", "--asn-csv");
                goto out;
            }
            in[n_in].kind = IN_ASN_CSV;
            in[n_in++].path = v;
            has_csv = 1;
            continue;
        }
        if ((v = opt_value(argc, argv, &i, "--type", &m)) != NULL || m) {
            if (v == NULL) {
                status = fail_usage("missing value for", "--type");
                goto out;
            }
            meta.database_type = v;
            continue;
        }
        if ((v = opt_value(argc, argv, &i, "--description", &m)) != NULL || m) {
            if (v == NULL) {
                status = fail_usage("missing value for", "--description");
                goto out;
            }
            meta.description_en = v;
            continue;
        }
        if ((v = opt_value(argc, argv, &i, "--build-epoch", &m)) != NULL || m) {
            if (v == NULL || parse_u64(v, &num) != 0 || num == 0) {
                status = fail_usage("--build-epoch needs a number of seconds above 0", v);
                goto out;
            }
            meta.build_epoch = num;
            have_epoch = 1;
            continue;
        }
        if ((v = opt_value(argc, argv, &i, "--record-size", &m)) != NULL || m) {
            if (v == NULL || parse_u64(v, &num) != 0 || (num != 24 && num != 28 && num != 32)) {
                status = fail_usage("--record-size must be 24, 28 or 32", v);
                goto out;
            }
            meta.record_size = (unsigned)num;
            continue;
        }
        status = fail_usage("unknown argument", argv[i]);
        goto out;
    }
    if (n_in == 0) {
        status = fail_usage("no input (--spec or --asn-csv)", NULL);
        goto out;
    }
    if (out == NULL) {
        status = fail_usage("no output (-o OUT.mmdb)", NULL);
        goto out;
    }
    if (meta.database_type == NULL) {
        meta.database_type = has_csv ? "keyprov-ASN" : "keyprov-spec";
    }
    if (!have_epoch) {
        /* reproducible-builds.org convention, else the current time */
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        uint64_t e;
        meta.build_epoch =
            (sde != NULL && parse_u64(sde, &e) == 0 && e != 0) ? e : (uint64_t)time(NULL);
    }

    double t0 = now_s();
    if (kp_mmdbw_new(&w) != KP_OK) {
        fprintf(stderr, "kp-mkmmdb: out of memory\n");
        goto out;
    }
    for (size_t k = 0; k < n_in; k++) {
        const char *path = in[k].path;
        int is_stdin = strcmp(path, "-") == 0;
        const char *name = is_stdin ? "<stdin>" : path;
        FILE *fp;
        int rc;
        if (is_stdin) {
            if (stdin_used++) {
                fprintf(stderr, "kp-mkmmdb: stdin ('-') can be read only once\n");
                goto out;
            }
            fp = stdin;
        } else {
            fp = fopen(path, "rb");
            if (fp == NULL) {
                fprintf(stderr, "kp-mkmmdb: %s: cannot open: %s\n", path, strerror(errno));
                goto out;
            }
        }
        err[0] = '\0';
        if (in[k].kind == IN_SPEC) {
            rc = kp_mmdbw_load_spec(w, fp, name, err, sizeof(err));
        } else {
            rc = kp_mmdbw_load_asn_csv(w, fp, name, &rows, err, sizeof(err));
        }
        if (!is_stdin) {
            fclose(fp);
        }
        if (rc != KP_OK) {
            fprintf(stderr, "kp-mkmmdb: %s\n", err);
            goto out;
        }
    }
    double t1 = now_s();
    struct kp_mmdbw_info info;
    err[0] = '\0';
    if (kp_mmdbw_write_file(w, &meta, out, &info, err, sizeof(err)) != KP_OK) {
        fprintf(stderr, "kp-mkmmdb: %s\n", err);
        goto out;
    }
    double t2 = now_s();
    if (verbose) {
        struct kp_mmdbw_counts cnt;
        kp_mmdbw_counts(w, &cnt);
        fprintf(stderr,
                "kp-mkmmdb: %s: %" PRIu64 " CSV rows, %" PRIu64 " networks, %" PRIu64
                " distinct records; %" PRIu32 " nodes, record size %u; tree %" PRIu64
                " + data %" PRIu64 " = %" PRIu64 " bytes; read %.2f s, write %.2f s\n",
                out, rows, cnt.networks, cnt.records, info.node_count, info.record_size,
                info.tree_bytes, info.data_bytes, info.file_bytes, t1 - t0, t2 - t1);
    }
    status = 0;
out:
    kp_mmdbw_free(w);
    free(in);
    return status;
}
