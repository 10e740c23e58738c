/* diofs-check's results: one line per case on stdout (or KTAP), the
 * summary, the TSV the kernel matrix reads, and an XML report as CUnit
 * writes it. */
#ifndef DIOFS_CHECK_REPORT_H
#define DIOFS_CHECK_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "check/known.h"

enum check_result {
	RESULT_PASS,
	RESULT_FAIL,
	RESULT_SKIP,
	RESULT_KNOWN,           /* failed, as a listed kernel bug here (known.h) */
	RESULT_KNOWN_FIXED,     /* passed, though a listed kernel bug applies */
};

struct check_failure {
	const char *file;       /* NULL: not at a place in a case (setup) */
	unsigned int line;
	const char *msg;
};

struct case_report {
	const char *suite;
	const char *name;
	enum check_result result;
	const char *skip;       /* the reason, for RESULT_SKIP */
	const char *note;       /* its NOTEs, "; " between, or NULL */
	const struct known_bug *known; /* the entry that applies here, or NULL */
	const struct check_failure *failures;
	size_t nfailures;
};

/* tsv and xml may be NULL.  The TSV is written as cases complete, so a run
 * ended by a signal still leaves every finished case in it.  ktap:
 * stdout is KTAP (the kselftest format) for planned cases. */
int report_open(const char *tsv, const char *xml, bool ktap, unsigned int planned,
		char *err, size_t errlen);
/* With KTAP, a run that cannot start: the plan "1..0 # SKIP why". */
void report_skip_all(bool ktap, const char *why);
/* A case's NOTE, as it is reported: "NOTE suite.case: text" ("# " first
 * with KTAP); report_case keeps the notes as the detail. */
void report_note(const char *suite, const char *name, const char *text);
/* Print, append to the TSV, keep (copied) for the XML. */
void report_case(const struct case_report *r);
/* From a signal handler, while suite.name runs: its FAIL line (the run was
 * ended by the signal), in the TSV too, then the summary line (KTAP:
 * "Bail out!"). */
void report_abort(const char *suite, const char *name, int sig);
/* The summary, the XML; the process's exit status: 0, 1 if a case failed,
 * 77 if every case skipped (KTAP: 4, kselftest's skip). */
int report_close(void);

/* Exit statuses for "every case skipped". */
#define EXIT_ALL_SKIPPED 77
#define EXIT_KTAP_SKIP 4

#endif
