/* diofs-check's results.  stdout is flushed after every line and the TSV is
 * written with write(2) as cases complete: report_abort, which runs in a
 * signal handler, can then add its line to both without stdio.
 *
 * KTAP (--ktap) is what kselftests print: "TAP version 13" (the header
 * kselftest's own harness prints; KTAP parsers and automake's TAP driver
 * read it), the plan, then per case "ok N suite.case", "ok N suite.case #
 * SKIP why", "not ok N suite.case" after "# " lines saying what failed, and
 * a known kernel bug as "not ok N suite.case # TODO known kernel bug: why"
 * (an expected failure to TAP harnesses). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/report.h"
#include "harness/ktap.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct kept_case {
	char *suite, *name;
	enum check_result result;
	char *skip;
	struct check_failure *failures;
	size_t nfailures;
};

static int tsv_fd = -1;
static char *xml_path;
static struct kept_case *kept;
static size_t nkept;
static unsigned int passed, failed, skipped, known, known_fixed;
static bool ktap;
static volatile unsigned int case_no; /* KTAP's test number of the last case */

int report_open(const char *tsv, const char *xml, bool as_ktap, unsigned int planned,
		char *err, size_t errlen)
{
	if (tsv) {
		tsv_fd = open(tsv, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (tsv_fd < 0) {
			snprintf(err, errlen, "%s: %s", tsv, strerror(errno));
			return -1;
		}
	}
	if (xml) {
		/* fail now rather than after the run */
		FILE *f = fopen(xml, "w");
		if (!f) {
			snprintf(err, errlen, "%s: %s", xml, strerror(errno));
			return -1;
		}
		fclose(f);
		xml_path = strdup(xml);
	}
	ktap = as_ktap;
	if (ktap)
		ktap_start(stdout, planned);
	return 0;
}

void report_skip_all(bool as_ktap, const char *why)
{
	if (as_ktap) {
		ktap_skip_all(stdout, why);
		return;
	}
	printf("SKIP: %s\n", why);
	fflush(stdout);
}

static const char *result_word(enum check_result r)
{
	static const char *const words[] = {
		[RESULT_PASS] = "PASS", [RESULT_FAIL] = "FAIL",
		[RESULT_SKIP] = "SKIP", [RESULT_KNOWN] = "KNOWN",
		[RESULT_KNOWN_FIXED] = "KNOWN-FIXED",
	};

	return words[r];
}

/* Append s to buf, on one line: tabs and newlines become spaces. */
static size_t put(char *buf, size_t at, size_t size, const char *s)
{
	for (; *s && at + 1 < size; s++)
		buf[at++] = (*s == '\t' || *s == '\n') ? ' ' : *s;
	buf[at] = '\0';
	return at;
}

static size_t put_uint(char *buf, size_t at, size_t size, unsigned long v)
{
	char digits[24];
	int n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < (int)sizeof(digits));
	while (n && at + 1 < size)
		buf[at++] = digits[--n];
	buf[at] = '\0';
	return at;
}

static size_t put_failure(char *buf, size_t at, size_t size, const struct check_failure *f)
{
	at = put(buf, at, size, f->msg);
	if (f->file) {
		at = put(buf, at, size, " (");
		at = put(buf, at, size, f->file);
		at = put(buf, at, size, ":");
		at = put_uint(buf, at, size, f->line);
		at = put(buf, at, size, ")");
	}
	return at;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* "result\tsuite\tcase\tdetail": the fields made tab-free, the result in
 * lower case (the kernel matrix reads this). */
static void tsv_line(const char *result, const char *suite, const char *name, const char *detail)
{
	const char *fields[] = { result, suite, name, detail };
	char line[4096];
	size_t at = 0;

	if (tsv_fd < 0)
		return;
	for (size_t i = 0; i < 4; i++) {
		size_t start;

		if (i)
			line[at++] = '\t';
		start = at;
		at = put(line, at, sizeof(line) - 1, fields[i]);
		if (i == 0)
			for (size_t j = start; j < at; j++)
				line[j] = (char)tolower((unsigned char)line[j]);
	}
	line[at++] = '\n';
	write_all(tsv_fd, line, at);
}

static void keep(const struct case_report *r)
{
	struct kept_case *k;

	kept = realloc(kept, (nkept + 1) * sizeof(*kept));
	if (!kept)
		abort();
	k = &kept[nkept++];
	k->suite = strdup(r->suite);
	k->name = strdup(r->name);
	k->result = r->result;
	k->skip = r->skip ? strdup(r->skip) : NULL;
	k->nfailures = r->nfailures;
	k->failures = calloc(r->nfailures ? r->nfailures : 1, sizeof(*k->failures));
	if (!k->failures)
		abort();
	for (size_t i = 0; i < r->nfailures; i++) {
		k->failures[i].file = r->failures[i].file ? strdup(r->failures[i].file) : NULL;
		k->failures[i].line = r->failures[i].line;
		k->failures[i].msg = strdup(r->failures[i].msg);
	}
}

/* The lines of a human-readable report. */
static void print_case(const struct case_report *r, const char *first)
{
	switch (r->result) {
	case RESULT_PASS:
		printf("PASS %s.%s\n", r->suite, r->name);
		break;
	case RESULT_KNOWN_FIXED:
		printf("KNOWN-FIXED? %s.%s: the known kernel bug of %s (%s) did not reproduce "
		       "here: fixed?\n", r->suite, r->name, r->known->where, r->known->conditions);
		break;
	case RESULT_SKIP:
		printf("SKIP %s.%s: %s\n", r->suite, r->name, r->skip);
		break;
	case RESULT_KNOWN:
		printf("KNOWN %s.%s: kernel bug (%s): %s\n", r->suite, r->name, r->known->where,
		       r->known->why);
		break;
	case RESULT_FAIL:
		printf("FAIL %s.%s: %s\n", r->suite, r->name, first);
		break;
	}
}

/* KTAP: the diagnostics, then the result line. */
static void print_ktap_case(const struct case_report *r, unsigned int n)
{
	char name[512], why[1024];

	snprintf(name, sizeof(name), "%s.%s", r->suite, r->name);
	switch (r->result) {
	case RESULT_PASS:
		ktap_result(stdout, n, name, KTAP_PASS, NULL);
		break;
	case RESULT_KNOWN_FIXED:
		ktap_diag(stdout, "known bug %s (%s) did not reproduce here: fixed?", r->known->where,
			  r->known->conditions);
		ktap_result(stdout, n, name, KTAP_PASS, NULL);
		break;
	case RESULT_SKIP:
		ktap_result(stdout, n, name, KTAP_SKIP, r->skip);
		break;
	case RESULT_KNOWN:
		snprintf(why, sizeof(why), "known kernel bug (%s): %s", r->known->where, r->known->why);
		ktap_result(stdout, n, name, KTAP_XFAIL, why);
		break;
	case RESULT_FAIL:
		ktap_result(stdout, n, name, KTAP_FAIL, NULL);
		break;
	}
}

void report_note(const char *suite, const char *name, const char *text)
{
	if (ktap)
		ktap_diag(stdout, "NOTE %s.%s: %s", suite, name, text);
	else
		printf("NOTE %s.%s: %s\n", suite, name, text);
	fflush(stdout);
}

void report_case(const struct case_report *r)
{
	char detail[4096] = "";
	size_t at = 0;

	if (r->result == RESULT_FAIL || r->result == RESULT_KNOWN) {
		/* each failure, on stdout: "# suite.case: what" (KTAP),
		 * "  saw:"/"  also:" below the first line otherwise */
		for (size_t i = 0; i < r->nfailures; i++) {
			char one[1024];

			put_failure(one, 0, sizeof(one), &r->failures[i]);
			if (ktap)
				ktap_diag(stdout, "%s.%s: %s", r->suite, r->name, one);
			else if (i == 0)
				print_case(r, one);
			if (!ktap && (i > 0 || r->result == RESULT_KNOWN))
				printf("  %s: %s\n", r->result == RESULT_KNOWN ? "saw" : "also", one);
			at = put(detail, at, sizeof(detail), i ? "; " : "");
			at = put(detail, at, sizeof(detail), one);
		}
	} else if (r->result == RESULT_SKIP) {
		put(detail, 0, sizeof(detail), r->skip);
	} else if (r->result == RESULT_KNOWN_FIXED) {
		at = put(detail, at, sizeof(detail), "the known bug of ");
		at = put(detail, at, sizeof(detail), r->known->where);
		at = put(detail, at, sizeof(detail), " did not reproduce: fixed?");
	}
	if ((r->result == RESULT_PASS || r->result == RESULT_KNOWN_FIXED) && r->note && *r->note) {
		at = put(detail, at, sizeof(detail), at ? "; " : "");
		put(detail, at, sizeof(detail), r->note);
	}
	switch (r->result) {
	case RESULT_PASS: passed++; break;
	case RESULT_KNOWN_FIXED: known_fixed++; break;
	case RESULT_SKIP: skipped++; break;
	case RESULT_KNOWN: known++; break;
	case RESULT_FAIL: failed++; break;
	}
	case_no++;
	if (ktap)
		print_ktap_case(r, case_no);
	else if (!r->nfailures || (r->result != RESULT_FAIL && r->result != RESULT_KNOWN))
		print_case(r, "");
	fflush(stdout);
	tsv_line(result_word(r->result), r->suite, r->name, detail);
	keep(r);
}

/* Async-signal-safe: put() and write() only. */
void report_abort(const char *suite, const char *name, int sig)
{
	char what[512], why[256], line[1024];
	size_t at = 0, w = 0;

	w = put(what, w, sizeof(what), suite);
	w = put(what, w, sizeof(what), ".");
	put(what, w, sizeof(what), name);
	w = put(why, 0, sizeof(why), "the run was ended by SIG");
	put(why, w, sizeof(why), sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
	tsv_line("FAIL", suite, name, why);

	if (ktap) {
		/* "# CASE: WHY", "not ok N CASE", "Bail out! WHY" */
		at = put(line, at, sizeof(line), "# ");
		at = put(line, at, sizeof(line), what);
		at = put(line, at, sizeof(line), ": ");
		at = put(line, at, sizeof(line), why);
		at = put(line, at, sizeof(line), "\nnot ok ");
		at = put_uint(line, at, sizeof(line), case_no + 1);
		at = put(line, at, sizeof(line), " ");
		at = put(line, at, sizeof(line), what);
		at = put(line, at, sizeof(line), "\nBail out! ");
	} else {
		at = put(line, at, sizeof(line), "FAIL ");
		at = put(line, at, sizeof(line), what);
		at = put(line, at, sizeof(line), ": ");
	}
	at = put(line, at, sizeof(line) - 1, why);
	line[at++] = '\n';
	if (!ktap) {
		at = put_uint(line, at, sizeof(line), passed);
		at = put(line, at, sizeof(line), " passed, ");
		at = put_uint(line, at, sizeof(line), failed + 1);
		at = put(line, at, sizeof(line), " failed, ");
		at = put_uint(line, at, sizeof(line), skipped);
		at = put(line, at, sizeof(line) - 1, " skipped");
		line[at++] = '\n';
	}
	write_all(STDOUT_FILENO, line, at);
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void xml_summary_record(FILE *f, const char *type, unsigned int total, unsigned int run,
			       const char *succeeded, unsigned int nfailed, const char *inactive)
{
	fprintf(f, "    <CUNIT_RUN_SUMMARY_RECORD> \n"
		   "      <TYPE> %s </TYPE> \n"
		   "      <TOTAL> %u </TOTAL> \n"
		   "      <RUN> %u </RUN> \n"
		   "      <SUCCEEDED> %s </SUCCEEDED> \n"
		   "      <FAILED> %u </FAILED> \n"
		   "      <INACTIVE> %s </INACTIVE> \n"
		   "    </CUNIT_RUN_SUMMARY_RECORD> \n",
		type, total, run, succeeded, nfailed, inactive);
}

/* CUnit-Run.xml as CUnit's CU_automated_run_tests writes it (CUnit-Run.dtd),
 * for the tools that read that.  A skipped case is a success with a comment
 * saying why, and counts as inactive. */
static int write_xml(const char *path)
{
	FILE *f = fopen(path, "w");
	unsigned int suites = 0, suites_failed = 0, asserts_failed = 0;
	char num[2][16], when[64];
	time_t now = time(NULL);
	bool suite_failed = false;

	if (!f)
		return -1;
	fputs("<?xml version=\"1.0\" ?> \n"
	      "<?xml-stylesheet type=\"text/xsl\" href=\"CUnit-Run.xsl\" ?> \n"
	      "<!DOCTYPE CUNIT_TEST_RUN_REPORT SYSTEM \"CUnit-Run.dtd\"> \n"
	      "<CUNIT_TEST_RUN_REPORT> \n"
	      "  <CUNIT_HEADER/> \n"
	      "  <CUNIT_RESULT_LISTING> \n", f);
	for (size_t i = 0; i < nkept; i++) {
		const struct kept_case *k = &kept[i];
		bool first = i == 0 || strcmp(kept[i - 1].suite, k->suite);
		bool last = i + 1 == nkept || strcmp(kept[i + 1].suite, k->suite);

		if (first) {
			suites++;
			suite_failed = false;
			fputs("    <CUNIT_RUN_SUITE> \n      <CUNIT_RUN_SUITE_SUCCESS> \n"
			      "        <SUITE_NAME> ", f);
			xml_text(f, k->suite);
			fputs(" </SUITE_NAME> \n", f);
		}
		asserts_failed += (unsigned int)k->nfailures;
		/* CUnit's XML has no "expected failure": a known kernel bug
		 * is the failure it is. */
		suite_failed |= k->result == RESULT_FAIL || k->result == RESULT_KNOWN;
		for (size_t j = 0; j < k->nfailures; j++) {
			fputs("        <CUNIT_RUN_TEST_RECORD> \n          <CUNIT_RUN_TEST_FAILURE> \n"
			      "            <TEST_NAME> ", f);
			xml_text(f, k->name);
			fputs(" </TEST_NAME> \n            <FILE_NAME> ", f);
			xml_text(f, k->failures[j].file ? k->failures[j].file : "diofs-check");
			fprintf(f, " </FILE_NAME> \n            <LINE_NUMBER> %u </LINE_NUMBER> \n"
				   "            <CONDITION> ", k->failures[j].line);
			xml_text(f, k->failures[j].msg);
			fputs(" </CONDITION> \n          </CUNIT_RUN_TEST_FAILURE> \n"
			      "        </CUNIT_RUN_TEST_RECORD> \n", f);
		}
		if (k->result == RESULT_PASS || k->result == RESULT_SKIP ||
		    k->result == RESULT_KNOWN_FIXED) {
			fputs("        <CUNIT_RUN_TEST_RECORD> \n          <CUNIT_RUN_TEST_SUCCESS> \n"
			      "            <TEST_NAME> ", f);
			xml_text(f, k->name);
			fputs(" </TEST_NAME> \n", f);
			if (k->result == RESULT_SKIP) {
				/* "--" may not appear in a comment */
				fputs("            <!-- skipped: ", f);
				for (const char *s = k->skip; *s; s++)
					fputc(s[0] == '-' && s[1] == '-' ? '_' : s[0], f);
				fputs(" --> \n", f);
			}
			if (k->result == RESULT_KNOWN_FIXED)
				fputs("            <!-- a listed known kernel bug did not reproduce here: "
				      "fixed? --> \n", f);
			fputs("          </CUNIT_RUN_TEST_SUCCESS> \n        </CUNIT_RUN_TEST_RECORD> \n", f);
		}
		if (last) {
			suites_failed += suite_failed;
			fputs("      </CUNIT_RUN_SUITE_SUCCESS> \n    </CUNIT_RUN_SUITE> \n", f);
		}
	}
	fputs("  </CUNIT_RESULT_LISTING>\n  <CUNIT_RUN_SUMMARY> \n", f);
	snprintf(num[0], sizeof(num[0]), "%u", passed + known_fixed);
	snprintf(num[1], sizeof(num[1]), "%u", skipped);
	xml_summary_record(f, "Suites", suites, suites, "- NA -", suites_failed, "0");
	xml_summary_record(f, "Test Cases", passed + known_fixed + failed + known + skipped,
			   passed + known_fixed + failed + known, num[0], failed + known, num[1]);
	/* the runner counts the checks that failed, not those that held */
	xml_summary_record(f, "Assertions", asserts_failed, asserts_failed, "n/a", asserts_failed,
			   "n/a");
	strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", localtime(&now));
	fprintf(f, "  </CUNIT_RUN_SUMMARY> \n"
		   "  <CUNIT_FOOTER> File Generated By diofs-check " PACKAGE_VERSION " - %s </CUNIT_FOOTER> \n"
		   "</CUNIT_TEST_RUN_REPORT>\n", when);
	return fclose(f);
}

int report_close(void)
{
	const char *c = ktap ? "# " : "";

	if (known)
		printf("%s%u known kernel bug%s (KNOWN above: failed as listed, not counted)\n", c,
		       known, known == 1 ? "" : "s");
	if (known_fixed)
		printf("%s%u known kernel bug%s did not reproduce (KNOWN-FIXED? above: fixed, or "
		       "the list is wrong)\n", c, known_fixed, known_fixed == 1 ? "" : "s");
	printf("%s%u passed, %u failed, %u skipped\n", c, passed + known_fixed, failed, skipped);
	if (ktap)
		ktap_totals(stdout, &(struct ktap_totals){ .pass = passed + known_fixed,
							  .fail = failed, .xfail = known,
							  .skip = skipped });
	fflush(stdout);
	if (xml_path && write_xml(xml_path) < 0)
		fprintf(stderr, "diofs-check: writing %s: %s\n", xml_path, strerror(errno));
	if (tsv_fd >= 0)
		close(tsv_fd);
	if (failed)
		return 1;
	if (passed + known_fixed + known == 0 && skipped > 0)
		return ktap ? EXIT_KTAP_SKIP : EXIT_ALL_SKIPPED;
	return 0;
}
