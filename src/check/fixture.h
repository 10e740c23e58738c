/* diofs-check's fixture: what every case runs in, around the harness's
 * runner (harness/runner.h), which forks each case, times it out and
 * aborts its FUSE connection.  main.c drives the run; check.c keeps the
 * mount (made once per suite and per set of mount options, in the parent),
 * the control connection and the case's directory.
 *
 *   fixture_case_setup          parent: the mount the case needs, its directory
 *   test_run_case(fixture_case_body)   child: the case, then its teardown
 *   fixture_case_after          parent: tidy up after a case that hung or died */
#ifndef DIOFS_CHECK_FIXTURE_H
#define DIOFS_CHECK_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "check/check.h"
#include "harness/runner.h"

struct fixture_config {
	const char *mount;      /* --mount: an existing diofs; NULL: mount our own */
	const char *socket;     /* --socket: its control socket */
	bool verbose;
	bool ktap;              /* stdout is KTAP: other lines start with "# " */
};

/* With --mount: connect, make the run's directory in the mount. */
int fixture_begin(const struct fixture_config *cfg, char *err, size_t errlen);
/* Make ready for case c: the mount it needs, the connection, its directory.
 * 0; 1 to skip it; -1 if it cannot run; why says why. */
int fixture_case_setup(const struct check_suite *s, const struct check_case *c,
		       char *why, size_t len);
/* The runner's case function for every case: in the child, the case set up
 * last, then (however it ends) the rules cleared, what is held released
 * with EIO, the held_io threads joined, a mount of its own stopped. */
void fixture_case_body(void);
/* After the child: if it hung or died, drop the connection and the mount. */
void fixture_case_after(const struct test_result *r);
void fixture_suite_end(void);           /* stop our mount */
void fixture_end(void);

#endif
