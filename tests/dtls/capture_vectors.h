/* Capture-derived vectors of the dtls and stun tests (shared: tests/stun
 * compiles this folder's capture_vectors.c).
 *
 * The captures in ../shared/pcaps must never be copied into the project,
 * not even in part, so these vectors are not stored in the tree: ../vectors_run.py
 * (in this folder) has the test folder's extract.py cut them out with tshark
 * at test time into <build>/tests/<dtls|stun>/vectors, and names that folder
 * in an environment variable (KP_DTLS_VECTORS, KP_STUN_VECTORS).  To run a
 * test executable by hand, set that variable after one `meson test --suite
 * dtls --suite stun`. */
#ifndef KP_CAPTURE_VECTORS_H
#define KP_CAPTURE_VECTORS_H

#include <stdio.h>

/* Call first in every test case that uses capture-derived vectors, before
 * allocating: a skip leaves the test at once.  Returns if the environment
 * variable `var` names the vector folder; otherwise fails the test if CI is
 * set, and else prints "SKIP: <what is missing> — capture-derived vectors
 * not tested" and skips the case (what is missing comes from <var>_MISSING,
 * set by ../vectors_run.py). */
void cv_need_captures(const char *var);

/* Open <$var>/<name> for reading; calls cv_need_captures(var) first.  Fails
 * the test if the file cannot be opened.  fclose() the result. */
FILE *cv_open(const char *var, const char *name);

#endif
