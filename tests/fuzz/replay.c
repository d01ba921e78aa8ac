/* Replay main() for the fuzz targets when they are built without libFuzzer
 * (-Dfuzzing=false): run LLVMFuzzerTestOneInput once on every regular file
 * of each folder (in name order) or file given on the command line, the
 * way libFuzzer runs a seed corpus.  A crash or sanitizer report ends the
 * process; the inputs that could not be read are counted as failures.
 * Usage: fuzz_NAME CORPUS_DIR_OR_FILE...
 * Prints "N passed, M failed" and exits 0 only if M is 0 and N > 0.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    int rc = 0;
    for (;;) {
        if (buf == NULL) {
            fprintf(stderr, "%s: out of memory\n", path);
            rc = -1;
            goto close_file;
        }
        size_t n = fread(buf + len, 1, cap - len, fp);
        len += n;
        if (n == 0 || len < cap) {
            break;
        }
        cap *= 2;
        uint8_t *nb = realloc(buf, cap);
        if (nb == NULL) {
            free(buf);
        }
        buf = nb;
    }
    if (ferror(fp)) {
        fprintf(stderr, "%s: read error\n", path);
        rc = -1;
        goto free_buf;
    }
    /* An exact-size copy, so that ASan catches a read one byte past the
     * input as libFuzzer's own copy would. */
    uint8_t *exact = malloc(len > 0 ? len : 1);
    if (exact == NULL) {
        rc = -1;
        goto free_buf;
    }
    if (len > 0) {
        memcpy(exact, buf, len);
    }
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
free_buf:
    free(buf);
close_file:
    fclose(fp);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    unsigned long passed = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            failed++;
            continue;
        }
        if (!S_ISDIR(sb.st_mode)) {
            if (run_file(argv[i]) == 0) {
                passed++;
            } else {
                failed++;
            }
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (d == NULL) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            failed++;
            continue;
        }
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') {
                continue;
            }
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                char **nn = realloc(names, cap * sizeof(*names));
                if (nn == NULL) {
                    break;
                }
                names = nn;
            }
            size_t plen = strlen(argv[i]) + strlen(e->d_name) + 2;
            names[n] = malloc(plen);
            if (names[n] == NULL) {
                break;
            }
            snprintf(names[n], plen, "%s/%s", argv[i], e->d_name);
            n++;
        }
        closedir(d);
        if (n > 0) {
            qsort(names, n, sizeof(*names), by_name);
        }
        for (size_t k = 0; k < n; k++) {
            struct stat fb;
            if (stat(names[k], &fb) == 0 && S_ISREG(fb.st_mode)) {
                if (run_file(names[k]) == 0) {
                    passed++;
                } else {
                    failed++;
                }
            }
            free(names[k]);
        }
        free(names);
    }
    printf("%lu passed, %lu failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
