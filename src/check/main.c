/* diofs-check: run the suites that drive I/O through a diofs mount and
 * check what the kernel did, each case in a child of its own (the
 * harness's runner) inside diofs-check's fixture (fixture.h). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/check.h"
#include "check/fixture.h"
#include "check/known.h"
#include "check/report.h"
#include "check/stacked.h"
#include "check/verdict.h"
#include "harness/mount.h"

#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK_SUITE(name) extern const struct check_suite check_suite_##name;
#include "check/suites.h"
#undef CHECK_SUITE

static const struct check_suite *const all_suites[] = {
#define CHECK_SUITE(name) &check_suite_##name,
#include "check/suites.h"
#undef CHECK_SUITE
};
#define NSUITES (sizeof(all_suites) / sizeof(*all_suites))

#define MAX_FILTERS 32

static struct {
	const char *suites[MAX_FILTERS];
	int nsuites;
	const char *cases[MAX_FILTERS];
	int ncases;
	bool list, verdict, ktap, stacked;
	bool uring;             /* --transport uring */
	int stacked_loop;       /* --stacked=dio: 1, =nodio: 0, both: -1 */
	const char *xml, *tsv;
	unsigned int timeout;   /* seconds per case */
	struct fixture_config run;
} opt = { .timeout = 60, .stacked_loop = -1 };

/* What runs now, for the signal hook. */
static const struct check_suite *volatile running_suite;
static const struct check_case *volatile running_case;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: diofs-check [OPTION]...\n"
		"Run the diofs test suites: each mounts its own diofs over a fresh\n"
		"backing directory unless --mount names an existing one.\n"
		"\n"
		"  -s, --suite NAME      run this suite (repeatable; default: all)\n"
		"  -c, --case PATTERN    run the cases whose name or SUITE.CASE matches\n"
		"                        this fnmatch pattern (repeatable)\n"
		"  -l, --list            list the selected cases with what they check\n"
		"  -m, --mount MNT       use the diofs mounted at MNT\n"
		"      --socket PATH     ... and its control socket at PATH\n"
		"      --xml FILE        write an XML report as CUnit's (CUnit-Run.dtd)\n"
		"      --tsv FILE        write RESULT<TAB>SUITE<TAB>CASE<TAB>DETAIL lines\n"
		"      --ktap, --tap     write KTAP (kselftest's TAP) on stdout: a plan, then\n"
		"                        ok / not ok N SUITE.CASE per case\n"
		"      --known-bugs FILE kernel bugs and the conditions they show under\n"
		"                        (CASE-GLOB CONDITION... : WHY, see the file): a\n"
		"                        failure they explain is KNOWN, not counted as\n"
		"                        failed; a pass where one applies is KNOWN-FIXED?\n"
		"      --transport T     dev (default): diofs takes requests over /dev/fuse;\n"
		"                        uring: over FUSE-over-io_uring (-o io_uring on every\n"
		"                        mount; all skipped where the kernel cannot)\n"
		"  -t, --timeout SEC     fail a case that takes longer (default 60, 0: none):\n"
		"                        its FUSE connection is aborted, the run goes on\n"
		"      --verdict         say whether this kernel pins FUSE direct I/O, route by\n"
		"                        route, with the figures (--tsv: KEY VALUE DETAIL);\n"
		"                        exit 0 converted, 1 not (or a leak, or lost data),\n"
		"                        2 could not test\n"
		"      --stacked[=LOOP]  with --verdict: filesystems and the block device on a\n"
		"                        loop device over diofs, one line each (--tsv: stacked\n"
		"                        TARGET LOOP STATE PINS FORK DETAIL); LOOP dio or\n"
		"                        nodio: only with the loop driver's direct I/O on/off\n"
		"  -v, --verbose         say what is mounted and what each case checks\n"
		"  -h, --help\n"
		"  -V, --version\n"
		"\n"
		"Exit status: 0 if no case failed (KNOWN and KNOWN-FIXED? do not fail),\n"
		"1 if one did, 2 on a usage error, 77 if every case skipped or diofs\n"
		"cannot be mounted here (with --ktap: 4, kselftest's skip, and the plan\n"
		"says 1..0 # SKIP).\n");
}

/* --transport uring: can this kernel serve FUSE over io_uring now? */
static bool uring_usable(char *why, size_t len)
{
	static const char knob[] = "/sys/module/fuse/parameters/enable_uring";
	char c = 0;
	FILE *f = fopen(knob, "re");

	if (!f) {
		snprintf(why, len, "this kernel has no FUSE-over-io_uring (no %s: Linux 6.14+ "
			 "with CONFIG_FUSE_IO_URING)", knob);
		return false;
	}
	if (fread(&c, 1, 1, f) != 1)
		c = 0;
	fclose(f);
	if (c == 'Y')
		return true;
	snprintf(why, len, "enable_uring is off: echo Y > %s", knob);
	return false;
}

static bool suite_selected(const struct check_suite *s)
{
	if (!opt.nsuites)
		return true;
	for (int i = 0; i < opt.nsuites; i++)
		if (!strcmp(opt.suites[i], s->name))
			return true;
	return false;
}

static bool case_selected(const struct check_suite *s, const struct check_case *c)
{
	char full[256];

	if (!suite_selected(s))
		return false;
	if (!opt.ncases)
		return true;
	snprintf(full, sizeof(full), "%s.%s", s->name, c->name);
	for (int i = 0; i < opt.ncases; i++)
		if (!fnmatch(opt.cases[i], c->name, 0) || !fnmatch(opt.cases[i], full, 0))
			return true;
	return false;
}

static int parse_args(int argc, char **argv)
{
	enum { OPT_SOCKET = 256, OPT_XML, OPT_TSV, OPT_VERDICT, OPT_KNOWN, OPT_KTAP, OPT_STACKED,
	       OPT_TRANSPORT };
	static const struct option longopts[] = {
		{ "suite", required_argument, NULL, 's' },
		{ "case", required_argument, NULL, 'c' },
		{ "list", no_argument, NULL, 'l' },
		{ "mount", required_argument, NULL, 'm' },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "xml", required_argument, NULL, OPT_XML },
		{ "tsv", required_argument, NULL, OPT_TSV },
		{ "known-bugs", required_argument, NULL, OPT_KNOWN },
		{ "ktap", no_argument, NULL, OPT_KTAP },
		{ "tap", no_argument, NULL, OPT_KTAP },
		{ "timeout", required_argument, NULL, 't' },
		{ "verdict", optional_argument, NULL, OPT_VERDICT },
		{ "stacked", optional_argument, NULL, OPT_STACKED },
		{ "transport", required_argument, NULL, OPT_TRANSPORT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;

	while ((c = getopt_long(argc, argv, "s:c:lm:t:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
		case 'c':
			if ((c == 's' ? opt.nsuites : opt.ncases) == MAX_FILTERS) {
				fprintf(stderr, "diofs-check: more than %d -%c\n", MAX_FILTERS, c);
				return 2;
			}
			if (c == 's')
				opt.suites[opt.nsuites++] = optarg;
			else
				opt.cases[opt.ncases++] = optarg;
			break;
		case 'l': opt.list = true; break;
		case 'm': opt.run.mount = optarg; break;
		case OPT_SOCKET: opt.run.socket = optarg; break;
		case OPT_XML: opt.xml = optarg; break;
		case OPT_TSV: opt.tsv = optarg; break;
		case OPT_KTAP: opt.ktap = opt.run.ktap = true; break;
		case OPT_KNOWN: {
			char err[512];

			if (known_load(optarg, err, sizeof(err))) {
				fprintf(stderr, "diofs-check: --known-bugs %s\n", err);
				return 2;
			}
			break;
		}
		case 't':
			opt.timeout = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || !*optarg) {
				fprintf(stderr, "diofs-check: --timeout wants seconds, not %s\n", optarg);
				return 2;
			}
			break;
		case OPT_VERDICT:
			opt.verdict = true;
			break;
		case OPT_STACKED:
			opt.stacked = true;
			if (optarg && strcmp(optarg, "dio") && strcmp(optarg, "nodio")) {
				fprintf(stderr, "diofs-check: --stacked= takes dio or nodio, not %s\n",
					optarg);
				return 2;
			}
			opt.stacked_loop = optarg ? !strcmp(optarg, "dio") : -1;
			break;
		case OPT_TRANSPORT:
			if (strcmp(optarg, "dev") && strcmp(optarg, "uring")) {
				fprintf(stderr, "diofs-check: --transport dev or uring, not %s\n",
					optarg);
				return 2;
			}
			opt.uring = !strcmp(optarg, "uring");
			break;
		case 'v': opt.run.verbose = true; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("diofs-check %s\n", PACKAGE_VERSION); exit(0);
		default:
			/* getopt named the option; the help is one --help away */
			fprintf(stderr, "diofs-check: try --help\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "diofs-check: unexpected argument %s (try --help)\n", argv[optind]);
		return 2;
	}
	if (opt.ktap && (opt.verdict || opt.list)) {
		fprintf(stderr, "diofs-check: --ktap reports the cases' results, not --%s\n",
			opt.verdict ? "verdict" : "list");
		return 2;
	}
	if (opt.stacked && !opt.verdict) {
		fprintf(stderr, "diofs-check: --stacked goes with --verdict (the suite: --suite stacked)\n");
		return 2;
	}
	if (opt.run.socket && !opt.run.mount) {
		fprintf(stderr, "diofs-check: --socket goes with --mount\n");
		return 2;
	}
	for (int i = 0; i < opt.nsuites; i++) {
		size_t s = 0;
		while (s < NSUITES && strcmp(all_suites[s]->name, opt.suites[i]))
			s++;
		if (s == NSUITES) {
			fprintf(stderr, "diofs-check: no suite %s (--list shows them)\n", opt.suites[i]);
			return 2;
		}
	}
	return 0;
}

static unsigned int count_selected(void)
{
	unsigned int n = 0;

	for (size_t s = 0; s < NSUITES; s++)
		for (const struct check_case *c = all_suites[s]->cases; c->name; c++)
			n += case_selected(all_suites[s], c);
	return n;
}

static void list_cases(void)
{
	for (size_t s = 0; s < NSUITES; s++)
		for (const struct check_case *c = all_suites[s]->cases; c->name; c++)
			if (case_selected(all_suites[s], c))
				printf("%s.%s  %s%s%s%s\n", all_suites[s]->name, c->name, c->desc,
				       c->facts ? " {" : "", c->facts ? c->facts : "",
				       c->facts ? "}" : "");
}

/* Every case's facts are words the known-bug list knows. */
static int check_facts(void)
{
	for (size_t s = 0; s < NSUITES; s++)
		for (const struct check_case *c = all_suites[s]->cases; c->name; c++) {
			char why[256];

			if (known_facts_check(c->facts, why, sizeof(why)) < 0) {
				fprintf(stderr, "diofs-check: %s.%s: .facts: %s\n",
					all_suites[s]->name, c->name, why);
				return -1;
			}
		}
	return 0;
}

static const char *mount_opts_of(const struct check_suite *s, const struct check_case *c)
{
	return c->mount_opts ? c->mount_opts : s->mount_opts;
}

/* The options the case's diofs runs with, for the known-bug conditions. */
static const char *known_opts_of(const struct check_suite *s, const struct check_case *c)
{
	static char opts[512];
	const char *own = mount_opts_of(s, c);

	if (!opt.uring)
		return own;
	snprintf(opts, sizeof(opts), "%s%sio_uring", own ? own : "", own && *own ? "," : "");
	return opts;
}

/* In the harness's signal handler, before it unmounts: name the case that
 * was running when the run was ended. */
static void on_signal(int sig)
{
	const struct check_suite *s = running_suite;
	const struct check_case *c = running_case;

	if (s && c)
		report_abort(s->name, c->name, sig);
}

/* Does line start an entry of the runner's log: "NOTE: what" or
 * "FILE:LINE: what"?  If so, where the text of a failure starts in *what
 * (NULL for a note). */
static bool log_entry(const char *line, const char **what, unsigned long *no)
{
	const char *colon = strchr(line, ':');
	char *end = NULL;

	*what = NULL;
	if (!strncmp(line, "NOTE: ", 6))
		return true;
	if (colon && colon[1] >= '0' && colon[1] <= '9')
		*no = strtoul(colon + 1, &end, 10);
	if (!end || strncmp(end, ": ", 2))
		return false;
	*what = end + 2;
	return true;
}

/* The runner's log holds a line per failure and per NOTE; a line that
 * starts neither (a message with a newline) continues the one before.
 * The failures go to list, the notes are printed and joined in notes. */
static size_t parse_log(const struct check_suite *s, const struct check_case *c, char *log,
			struct check_failure *list, size_t max, char *notes, size_t notes_len)
{
	size_t n = 0, at = 0;
	const char *what;
	unsigned long no = 0;

	for (char *nl = strchr(log, '\n'); nl && nl[1]; nl = strchr(nl + 1, '\n'))
		if (!log_entry(nl + 1, &what, &no))
			*nl = ' ';
	notes[0] = '\0';
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
		if (!log_entry(line, &what, &no))
			continue;       /* the first line can only be an entry */
		if (!what) {
			report_note(s->name, c->name, line + 6);
			at += (size_t)snprintf(notes + at, at < notes_len ? notes_len - at : 0, "%s%s",
					       at ? "; " : "", line + 6);
		} else if (n < max) {
			*strchr(line, ':') = '\0';
			list[n++] = (struct check_failure){ .file = line, .line = (unsigned int)no,
							    .msg = what };
		}
	}
	return n;
}

static void report_result(const struct check_suite *s, const struct check_case *c,
			  struct test_result *r)
{
	struct check_failure list[32];
	char notes[sizeof(r->log)];
	struct case_report rep = { .suite = s->name, .name = c->name, .failures = list };

	rep.nfailures = parse_log(s, c, r->log, list, sizeof(list) / sizeof(*list) - 1, notes,
				  sizeof(notes));
	/* what the parent saw: a hang, a crash */
	if (r->status == TEST_FAIL && (!r->failures || !r->ended))
		list[rep.nfailures++] = (struct check_failure){ .msg = r->reason };
	rep.note = notes;
	rep.skip = r->status == TEST_SKIP ? r->reason : "";
	rep.result = r->status == TEST_FAIL ? RESULT_FAIL :
		     r->status == TEST_SKIP ? RESULT_SKIP : RESULT_PASS;
	rep.known = known_bug(s->name, c->name, c->facts, known_opts_of(s, c));
	if (rep.result == RESULT_FAIL && rep.known)
		rep.result = RESULT_KNOWN;
	else if (rep.result == RESULT_PASS && rep.known)
		rep.result = RESULT_KNOWN_FIXED;
	report_case(&rep);
}

/* A case that could not start. */
static void report_unrun(const struct check_suite *s, const struct check_case *c,
			 int setup, const char *why)
{
	char msg[1200];
	struct check_failure f = { .msg = msg };
	struct case_report r = { .suite = s->name, .name = c->name };

	if (setup > 0) {
		r.result = RESULT_SKIP;
		r.skip = why;
	} else {
		snprintf(msg, sizeof(msg), "setup: %s", why);
		r.result = RESULT_FAIL;
		r.failures = &f;
		r.nfailures = 1;
	}
	report_case(&r);
}

static void run_case(const struct check_suite *s, const struct check_case *c)
{
	char why[1024], name[256];
	/* --timeout 0: none (as good as) */
	struct test_run_opts run = { .timeout_s = opt.timeout ? opt.timeout : UINT_MAX / 2 };
	struct test_case tc = { .name = name, .fn = fixture_case_body };
	struct test_result r;
	int setup;

	if (opt.run.verbose) {
		printf("# %s.%s: %s\n", s->name, c->name, c->desc);
		fflush(stdout);
	}
	snprintf(name, sizeof(name), "%s.%s", s->name, c->name);
	running_suite = s;
	running_case = c;
	setup = fixture_case_setup(s, c, why, sizeof(why));
	if (setup == 0) {
		test_run_case(&tc, &run, &r);
		fixture_case_after(&r);
		report_result(s, c, &r);
	} else {
		report_unrun(s, c, setup, why);
	}
	running_case = NULL;
}

static void run_suite(const struct check_suite *s)
{
	for (const struct check_case *c = s->cases; c->name; c++)
		if (case_selected(s, c))
			run_case(s, c);
	fixture_suite_end();
}

int main(int argc, char **argv)
{
	char err[1024];
	int ret = parse_args(argc, argv);

	if (ret)
		return ret;
	if (check_facts() < 0)
		return 1;
	if (opt.verdict && opt.stacked)
		return stk_verdict_run(stdout, opt.tsv, opt.stacked_loop);
	if (opt.verdict)
		return verdict_run(stdout, opt.tsv, &opt.run, opt.timeout);
	if (!count_selected()) {
		fprintf(stderr, "diofs-check: no case matches (--list shows them)\n");
		return 2;
	}
	if (opt.list) {
		list_cases();
		return 0;
	}
	if (!opt.run.mount) {
		const char *why = diofs_mount_unavailable();
		char uring_why[512];

		if (!why && opt.uring && !uring_usable(uring_why, sizeof(uring_why)))
			why = uring_why;
		if (why) {
			char all[1024];

			snprintf(all, sizeof(all), "cannot mount diofs here: %s", why);
			report_skip_all(opt.ktap, all);
			return opt.ktap ? EXIT_KTAP_SKIP : EXIT_ALL_SKIPPED;
		}
	}
	/* Each case is a process of its own: without these, glibc would hand
	 * the big buffers back to the kernel and every case's child fault
	 * them in anew (costly in a VM), where one process kept them. */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	if (opt.uring)
		diofs_mount_set_extra_opts("io_uring");
	/* a daemon dying mid-command must fail a case, not kill the run */
	signal(SIGPIPE, SIG_IGN);
	diofs_mount_install_handlers(on_signal);
	if (report_open(opt.tsv, opt.xml, opt.ktap, count_selected(), err, sizeof(err)) < 0 ||
	    fixture_begin(&opt.run, err, sizeof(err)) < 0) {
		fprintf(stderr, "diofs-check: %s\n", err);
		return 1;
	}
	if (opt.run.verbose)
		printf("# diofs: %s\n", opt.run.mount ? opt.run.mount : diofs_binary());
	for (size_t s = 0; s < NSUITES; s++)
		if (suite_selected(all_suites[s]))
			run_suite(all_suites[s]);
	fixture_end();
	ret = report_close();
	known_free();
	return ret;
}
