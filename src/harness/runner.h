/* The runner of every test program, after the kernel's kselftest harness
 * (tools/testing/selftests/kselftest_harness.h): a table of cases, each run
 * in a forked child under a timeout, the results written as KTAP.
 *
 *     TEST(unlinked_file_stays_readable, .needs = TEST_NEEDS_MOUNT)
 *     {
 *             ...CHECK, REQUIRE, SKIP (expect.h)...
 *     }
 *     TEST_MAIN("test_ops")
 *
 * TEST defines the case and registers it before main (in the order of the
 * file), as kselftest's TEST does; a program can also hand test_main a
 * table of its own (struct test_case[]).
 *
 * A case's child is a process group of its own.  When it runs out of time
 * or dies by a signal, the parent aborts the FUSE connection of every mount
 * the case told it about (test_track_mount; the harness's diofs_mount_start
 * does), kills the group and the daemons by PID, detaches the mounts,
 * removes the directories, and fails the case ("timed out after N s").
 * The assertions (expect.h) end the case through the same path: REQUIRE and
 * SKIP run the case's deferred cleanups (test_defer) and exit the child.
 * In a process the case forked (another uid, say) a failure counts for the
 * case too; REQUIRE and SKIP there end only that process (exit 255).
 *
 * Command line of a test program:
 *     --list           the case names, one a line
 *     --case GLOB      only the cases matching GLOB (fnmatch; repeatable)
 *     --timeout S      every case's time limit, in seconds
 *     -v               say each case's start and duration ("# " lines)
 * Exit status: 0 no case failed, 1 a case failed, 2 usage error, 77 every
 * case was skipped (automake's "skipped"; kselftest says 4).  make check
 * reads the KTAP through automake's TAP driver: see Makefile.am, KTAP_TESTS. */
#ifndef DIOFS_HARNESS_RUNNER_H
#define DIOFS_HARNESS_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness/expect.h"

/* What a case needs from the machine; without it the case is skipped with
 * the reason. */
#define TEST_NEEDS_MOUNT 1u  /* /dev/fuse and the right to mount */
#define TEST_NEEDS_ROOT  2u  /* root (other uids, bind mounts, mount(8)) */

#define TEST_DEFAULT_TIMEOUT_S 120

struct test_case {
	const char *name;        /* the behaviour it shows, in words_like_these */
	void (*fn)(void);
	unsigned int needs;      /* TEST_NEEDS_* */
	unsigned int timeout_s;  /* 0: TEST_DEFAULT_TIMEOUT_S */
};

#define TEST_COUNT(cases) (sizeof(cases) / sizeof((cases)[0]))

/* Define and register case name (an identifier that says the behaviour);
 * the options are the rest of struct test_case, designated:
 *     TEST(huge_write_is_split, .needs = TEST_NEEDS_MOUNT, .timeout_s = 300)
 * The case's function is test_NAME. */
#define TEST(name_, ...)                                                      \
	static void test_##name_(void);                                       \
	__attribute__((constructor)) static void test_register_##name_(void)  \
	{                                                                     \
		static const struct test_case c = {                           \
			.name = #name_, .fn = test_##name_, __VA_ARGS__       \
		};                                                            \
		test_register(&c);                                            \
	}                                                                     \
	static void test_##name_(void)

/* main() of a program whose cases are TESTs. */
#define TEST_MAIN(suite)                                                      \
	int main(int argc, char **argv)                                       \
	{                                                                     \
		return test_main(argc, argv, (suite), test_registered(),  \
				 test_registered_count());                   \
	}

/* TEST's registry: add c; the cases so far, in the order registered, and
 * their number. */
void test_register(const struct test_case *c);
const struct test_case *test_registered(void);
size_t test_registered_count(void);

/* Parse the command line, run the chosen cases, print KTAP on stdout;
 * returns the exit status (above).  suite names the program in messages. */
int test_main(int argc, char **argv, const char *suite,
	      const struct test_case *cases, size_t n);

/* ---- one case at a time: for a runner with reports of its own ---------- */

enum test_status { TEST_PASS, TEST_FAIL, TEST_SKIP };

struct test_result {
	enum test_status status;
	unsigned int failures;   /* failed checks */
	/* SKIP's reason; for a failure the first one ("file:line: what"), or
	 * "timed out after N s", "killed by SIGSEGV". */
	char reason[512];
	/* Every failure and NOTE in order, a line each ("file:line: what",
	 * "NOTE: what"); cut short when full (log_full). */
	char log[16384];
	bool log_full;
	double seconds;
	/* The child ended the case itself (returned, REQUIRE, SKIP) and its
	 * deferred cleanups ran: false after a hang or a crash. */
	bool ended;
};

struct test_run_opts {
	unsigned int timeout_s;  /* 0: the case's own, else the default */
	/* Print each failure and NOTE as a KTAP diagnostic ("# ...") on
	 * stdout as it happens (test_main does). */
	bool echo;
};

/* Why the machine lacks what c needs (a static string), or NULL. */
const char *test_unmet_needs(const struct test_case *c);
/* Run c in a forked child (its needs are not checked: test_unmet_needs)
 * and clean up after it; the outcome in *r.  A SIGINT, SIGTERM or SIGHUP
 * that arrives meanwhile stops the case, cleans up, and is then raised
 * again in the caller (its handlers, or the default action).  A case may
 * run one more level of cases so, from its own process (the runner's own
 * tests do: tests/harness). */
void test_run_case(const struct test_case *c, const struct test_run_opts *opts,
		   struct test_result *r);

/* ---- in a case ---------------------------------------------------------- */

/* Is this process a case's child? */
bool test_in_case(void);
/* Run fn(arg) when the case ends, on every path in the child (return,
 * REQUIRE, SKIP), the last deferred first.  Not after a timeout or a crash:
 * then the parent takes down what was tracked below.  At most 64. */
void test_defer(void (*fn)(void *arg), void *arg);
/* Tell the parent about a mount the case made at mnt (a FUSE mount's
 * connection is aborted first), the daemon serving it (> 0: killed by PID)
 * and a directory to remove afterwards (NULL: none), for when the case
 * hangs or dies.  The harness's mounts (diofs_mount_start) are tracked by
 * the harness.  Outside a case these do nothing.  At most 16 at once. */
void test_track_mount(const char *mnt, pid_t daemon, const char *dir);
/* Forget mnt again (after unmounting it). */
void test_untrack_mount(const char *mnt);
/* A directory removed (without crossing into mounts) if the case dies. */
void test_track_dir(const char *dir);
void test_untrack_dir(const char *dir);

/* What expect.c reports through (case code uses expect.h's macros):
 * record a failure ("file:line: what") or a note; end the case now. */
void test_record_failure(const char *text);
void test_record_note(const char *text);
void test_record_skip(const char *reason);
void test_end_case(void) __attribute__((noreturn));
/* How many failures the running case has recorded so far (0 outside a
 * case): did a step of it add one? */
unsigned int test_failures(void);

#endif
