/* diofs-check's results: one line per case on stdout, the summary line,
 * the TSV the kernel matrix reads, and CUnit's XML report. */
#ifndef DIOFS_CHECK_REPORT_H
#define DIOFS_CHECK_REPORT_H

#include <stddef.h>

/* RESULT_KNOWN: failed, as a listed kernel bug on this kernel (known.h). */
enum check_result { RESULT_PASS, RESULT_FAIL, RESULT_SKIP, RESULT_KNOWN };

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
	const char *note;       /* check_note()s, or NULL */
	const char *known;      /* why, if listed as a kernel bug here */
	const struct check_failure *failures;
	size_t nfailures;
	unsigned int asserts;
};

/* tsv and xml may be NULL.  The TSV is written as cases complete, so a run
 * killed by its timeout still leaves every finished case in it. */
int report_open(const char *tsv, const char *xml, char *err, size_t errlen);
/* Print, append to the TSV, keep (copied) for the XML. */
void report_case(const struct case_report *r);
/* From a signal handler, while suite.name runs: its FAIL line (hung: the
 * alarm; else the signal), in the TSV too, then the summary line. */
void report_abort(const char *suite, const char *name, int sig, unsigned int timeout);
/* The summary line, the XML; the process's exit status: 0, 1 if a case
 * failed, 77 if every case skipped. */
int report_close(void);

#endif
