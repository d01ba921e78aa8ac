/* Runs the engine over a capture and writes the HTML report, as keyprov
 * --html does (the tests use it until and besides the command line). */
#ifndef KP_TEST_REPORT_UTIL_H
#define KP_TEST_REPORT_UTIL_H

#include <stddef.h>

struct report_opts {
    const char *pcap;        /* capture to read */
    const char *country_db;  /* NULL: no geolocation */
    const char *asn_db;      /* may be NULL */
    const char *flag;        /* --flag spec, e.g. "@CN"; NULL: none */
    const char *map;         /* worldmap.json or NULL */
    const char *extra_jsonl; /* more events, one JSON object a line, or NULL */
    const char *out;         /* the HTML file */
    const char *title;       /* NULL: the capture's file name */
};

/* 0 on success; -1 with a message in err. */
int make_report(const struct report_opts *o, char *err, size_t errlen);

#endif
