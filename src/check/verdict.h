/* diofs-check --verdict: does the running kernel pin FUSE direct I/O?
 * Measured, not assumed from the version: diofs is mounted, one 64 KiB
 * read per route is held in it while the pins in flight are counted, a
 * read is held across fork, and every request's pins must be released
 * after completion.  A short verdict on out; with tsv_path, KEY<TAB>VALUE
 * <TAB>DETAIL lines for the kernel matrix (tests/kernels/check-kernels):
 *   verdict          converted | not-converted | untestable
 *   route            NAME=pinned|not-pinned|no-pin-expected|disturbed|error
 *   fork_lost_pages  N   "of M"
 *   pin_leak         N
 * Returns the exit status: 0 converted and nothing wrong; 1 not converted,
 * or pins leak, or fork loses data; 2 could not test (the reason is said). */
#ifndef DIOFS_CHECK_VERDICT_H
#define DIOFS_CHECK_VERDICT_H

#include <stdio.h>

#include "check/fixture.h"

int verdict_run(FILE *out, const char *tsv_path, const struct fixture_config *cfg,
		unsigned int timeout);

#endif
