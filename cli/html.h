/* html.h: keyprov's HTML audit report (--html FILE).
 *
 * One self-contained file: it loads nothing (a Content-Security-Policy
 * forbids every network load), embeds the events as JSON, and shows
 *   - a verdict banner and summary counts, the violations, the key-issuer
 *     countries and a world map shaded by them (static HTML and SVG,
 *     written here in C, so they show without JavaScript);
 *   - per-session, key-record, media-flow and anomaly tables with the
 *     evidence of each row (rendered by inline JavaScript from the JSON).
 * Strings in events come from packets: every one is escaped where it is
 * written (HTML text, attributes, JSON inside <script>), and the script
 * inserts them with textContent only.
 *
 * Memory is bounded: at most KP_HTML_MAX_EVENTS events are kept (sessions
 * and flagged key records before others, anomalies at most
 * KP_HTML_MAX_ANOMALIES); the summary counts every event, and the report
 * says how many were left out.
 *
 * Not thread-safe; one report per handle.  Uses only the public API.
 */
#ifndef KP_CLI_HTML_H
#define KP_CLI_HTML_H

#include <stddef.h>

#include "keyprov.h"

#define KP_HTML_MAX_EVENTS 20000
#define KP_HTML_MAX_ANOMALIES 2000

struct kp_html;

/* Open the report.  The output file is created (truncated) now, so that
 * a bad path fails before the capture starts.  map_path names a world map
 * (worldmap.json from geo/fetch-worldmap); NULL, or a file that is
 * missing or unusable, gives a plain graticule with a note saying how to
 * install the map.  Returns NULL with a one-line message in err on
 * failure. */
struct kp_html *kp_html_open(const char *path, const char *map_path, char *err, size_t errlen);

/* Record one event (any type); uses kp_event_json().  h may be NULL. */
void kp_html_event(struct kp_html *h, const struct kp_event *ev);

/* Record one event given as a JSON object (as kp_event_json() writes it,
 * or a session event built by the host).  Text that is not one valid JSON
 * object is counted as malformed and left out.  h may be NULL. */
void kp_html_event_json(struct kp_html *h, const char *json, size_t len);

/* Write the report and close the file.  title: shown in the header (e.g.
 * the capture's name; any bytes, escaped); stats_json: the final stats
 * event (may be NULL).  Frees h in every case (h may be NULL: returns -1).
 * Returns 0, or -1 with a one-line message in err (e.g. disk full). */
int kp_html_close(struct kp_html *h, const char *title, const char *stats_json, char *err,
                  size_t errlen);

/* The escapers the report uses, for tests.  Both return a malloc'd,
 * NUL-terminated string (NULL if out of memory); the caller frees it.
 *
 * kp_html_script_json: JSON text made safe inside <script>: '<', '>' and
 * '&' become \u003c \u003e \u0026 and U+2028/U+2029 become \u2028/\u2029
 * (all inside JSON strings, where they mean the same); bytes that are not
 * UTF-8 become \ufffd.  Valid JSON stays valid and equal.
 *
 * kp_html_text: text for an HTML element or a quoted attribute: & < > " '
 * become entities, control characters and invalid UTF-8 become U+FFFD. */
char *kp_html_script_json(const char *json, size_t len);
char *kp_html_text(const char *s, size_t len);

#endif
