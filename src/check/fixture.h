/* The runner's side of the case context: main.c drives the run, check.c
 * keeps the mount, the control connection and the case's directory. */
#ifndef DIOFS_CHECK_RUNNER_H
#define DIOFS_CHECK_RUNNER_H

#include <stdbool.h>
#include <stddef.h>

#include "check/check.h"

struct runner_config {
	const char *mount;      /* --mount: an existing diofs; NULL: mount our own */
	const char *socket;     /* --socket: its control socket */
	bool verbose;
	bool ktap;              /* stdout is KTAP: other lines start with "# " */
};

/* With --mount: connect, make the run's directory in the mount. */
int runner_begin(const struct runner_config *cfg, char *err, size_t errlen);
/* Make ready for case c: the mount it needs, the connection, its directory.
 * 0; 1 to skip it; -1 if it cannot run; why says why. */
int runner_case_setup(const struct check_suite *s, const struct check_case *c,
		      char *why, size_t len);
/* The CUnit test function of every case: runs the current one, catches SKIP. */
void runner_case_run(void);
const char *runner_skip_reason(void);   /* "" unless the case skipped */
const char *runner_note(void);          /* the case's check_note()s, or "" */
/* Clear the rules, release what is held, join the threads left behind. */
void runner_case_teardown(void);
void runner_suite_end(void);            /* stop our mount */
void runner_end(void);

#endif
