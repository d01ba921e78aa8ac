/* html_mkreport: write the HTML report of a capture (for render_check.sh).
 *   html_mkreport [--country DB] [--asn DB] [--flag SPEC] [--map FILE]
 *                 [--extra FILE.jsonl] [--title T] -o OUT.html CAPTURE */
#include <stdio.h>
#include <string.h>

#include "report_util.h"

int main(int argc, char **argv)
{
    struct report_opts o = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (strcmp(a, "--country") == 0) {
            dst = &o.country_db;
        } else if (strcmp(a, "--asn") == 0) {
            dst = &o.asn_db;
        } else if (strcmp(a, "--flag") == 0) {
            dst = &o.flag;
        } else if (strcmp(a, "--map") == 0) {
            dst = &o.map;
        } else if (strcmp(a, "--extra") == 0) {
            dst = &o.extra_jsonl;
        } else if (strcmp(a, "--title") == 0) {
            dst = &o.title;
        } else if (strcmp(a, "-o") == 0) {
            dst = &o.out;
        } else if (a[0] != '-' && o.pcap == NULL) {
            o.pcap = a;
            continue;
        }
        if (dst == NULL || i + 1 >= argc) {
            fprintf(stderr, "usage: html_mkreport [--country DB] [--asn DB] [--flag SPEC] "
                            "[--map FILE] [--extra FILE] [--title T] -o OUT CAPTURE\n");
            return 2;
        }
        *dst = argv[++i];
    }
    if (o.pcap == NULL || o.out == NULL) {
        fprintf(stderr, "html_mkreport: need -o OUT and a capture\n");
        return 2;
    }
    char err[512];
    if (make_report(&o, err, sizeof(err)) != 0) {
        fprintf(stderr, "html_mkreport: %s\n", err);
        return 1;
    }
    return 0;
}
