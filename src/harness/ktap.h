/* Writing KTAP, the TAP dialect kselftests print (the kernel's
 * Documentation/dev-tools/ktap.rst) and automake's TAP driver reads:
 *
 *     TAP version 13
 *     1..3
 *     # diagnostics: any text, each line after "# "
 *     ok 1 name
 *     ok 2 name # SKIP reason
 *     not ok 3 name                       (or "# TODO reason": an XFAIL)
 *     # Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0
 *
 * The test runner (runner.h) and diofs-check's reports both write it here. */
#ifndef DIOFS_HARNESS_KTAP_H
#define DIOFS_HARNESS_KTAP_H

#include <stdio.h>

enum ktap_result {
	KTAP_PASS,      /* ok N name */
	KTAP_FAIL,      /* not ok N name */
	KTAP_SKIP,      /* ok N name # SKIP reason */
	KTAP_XFAIL,     /* not ok N name # TODO reason: an expected failure */
};

/* The header and the plan: n results follow. */
void ktap_start(FILE *out, unsigned int n);
/* The header and an empty plan that skips everything: "1..0 # SKIP why". */
void ktap_skip_all(FILE *out, const char *why);
/* Diagnostics: "# " before each line of the formatted text. */
void ktap_diag(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Result number n of the plan.  reason: SKIP's or TODO's text (may be NULL
 * for PASS and FAIL; ignored there). */
void ktap_result(FILE *out, unsigned int n, const char *name, enum ktap_result r,
		 const char *reason);
/* The closing counts, as kselftest prints them. */
struct ktap_totals {
	unsigned int pass, fail, xfail, xpass, skip, error;
};
void ktap_totals(FILE *out, const struct ktap_totals *t);
/* Stop the whole run: "Bail out! why" (the TAP driver reports an error). */
void ktap_bail_out(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
