/* The harness's runner, assertions, data pattern and KTAP writer: each
 * runner case runs an inner case through test_run_case and checks what it
 * came to and that nothing of it is left (a hung case's mount detached,
 * its directories removed). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "harness/ktap.h"
#include "harness/mount.h"
#include "harness/pattern.h"
#include "harness/runner.h"
#include "lib/diofsctl.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- inner cases ---- */

static struct diofs_mount inner_mount;
static char marker[PATH_MAX];   /* made by a deferred cleanup */

/* Mount diofs and say where ("NOTE: mnt=PATH" in the result's log). */
static void inner_mount_start(void)
{
	char err[1024];

	REQUIRE(diofs_mount_start(&inner_mount, NULL, err, sizeof(err)) == 0, "mount: %s", err);
	NOTE("mnt=%s", inner_mount.mnt);
}

/* A read that diofs holds: the case hangs in FUSE until it is stopped. */
static void inner_hangs_in_fuse(void)
{
	char err[256], buf[4096] __attribute__((aligned(4096)));
	struct diofsctl *ctl;
	int fd;

	inner_mount_start();
	fd = REQUIRE_OK(open(diofs_backing_path(&inner_mount, "f"), O_CREAT | O_WRONLY, 0644));
	REQUIRE_EQ(write(fd, buf, sizeof(buf)), sizeof(buf));
	close(fd);
	ctl = diofsctl_connect(inner_mount.ctl, err, sizeof(err));
	REQUIRE(ctl, "connecting: %s", err);
	REQUIRE(diofsctl_rule_add(ctl, "hold op=read path=/f") >= 0, "%s", diofsctl_error(ctl));
	fd = REQUIRE_OK(open(diofs_mnt_path(&inner_mount, "f"), O_RDONLY | O_DIRECT));
	CHECK_FAILF("the held read returned %zd", pread(fd, buf, sizeof(buf), 0));
}

static void inner_killed_with_a_mount(void)
{
	inner_mount_start();
	raise(SIGKILL);
}

static void make_marker(void *arg)
{
	(void)arg;
	close(open(marker, O_CREAT | O_WRONLY, 0644));
}

static void inner_requires(void)
{
	test_defer(make_marker, NULL);
	REQUIRE(false, "required and not so");
	CHECK_FAILF("ran on after a failed REQUIRE");
}

static void inner_fails_then_skips(void)
{
	CHECK_FAILF("first a failure");
	SKIP("then a reason to skip");
}

static void inner_skips(void)
{
	SKIP("no %s here", "widget");
}

static void inner_fails_in_a_fork(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		REQUIRE(false, "failed in the fork");
		_exit(0);
	}
	REQUIRE_OK(waitpid(pid, &status, 0));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 255,
	      "the fork's REQUIRE ended it with status %#x, want exit 255", status);
}

/* ---- what the runner made of them ---- */

/* The mount point an inner case noted; "" if it said none. */
static const char *noted_mnt(const struct test_result *r, char *out, size_t len)
{
	const char *at = strstr(r->log, "NOTE: mnt=");

	snprintf(out, len, "%.*s", at ? (int)strcspn(at + 10, "\n") : 0, at ? at + 10 : "");
	return out;
}

/* Nothing is mounted at mnt any more and its temporary directory is gone. */
static void check_mount_gone(const char *mnt)
{
	char root[PATH_MAX];
	struct stat st;

	REQUIRE(mnt[0], "the inner case noted no mount point");
	CHECK(!diofs_fuse_mounted_at(mnt), "%s is still mounted", mnt);
	snprintf(root, sizeof(root), "%s", mnt);
	*strrchr(root, '/') = '\0';
	CHECK_ERR(stat(root, &st), ENOENT);
}

/* Run fn as a case (timeout_s): it fails for reason, and the mount it made
 * is gone. */
static void check_fails_leaving_nothing(void (*fn)(void), unsigned int timeout_s,
					const char *reason)
{
	const struct test_case c = { "inner", fn, 0, timeout_s };
	char mnt[PATH_MAX];
	struct test_result r;

	test_run_case(&c, NULL, &r);
	CHECK_EQ(r.status, TEST_FAIL);
	CHECK_STR(r.reason, reason);
	CHECK(!strstr(r.log, "held read returned"), "the case ran on: %s", r.log);
	check_mount_gone(noted_mnt(&r, mnt, sizeof(mnt)));
}

TEST(hung_case_times_out_and_its_mount_goes, .needs = TEST_NEEDS_MOUNT)
{
	check_fails_leaving_nothing(inner_hangs_in_fuse, 2, "timed out after 2 s");
}

TEST(killed_case_fails_and_its_mount_goes, .needs = TEST_NEEDS_MOUNT)
{
	check_fails_leaving_nothing(inner_killed_with_a_mount, 0, "killed by SIGKILL (Killed)");
}

TEST(require_runs_deferred_cleanups_and_ends_the_case)
{
	const struct test_case c = { "requires", inner_requires, 0, 0 };
	struct test_result r;
	char dir[] = "/tmp/diofs-runner.XXXXXX";

	REQUIRE(mkdtemp(dir), "mkdtemp: %s", expect_errname(errno));
	snprintf(marker, sizeof(marker), "%s/marker", dir);
	test_run_case(&c, NULL, &r);
	CHECK_EQ(r.status, TEST_FAIL);
	CHECK_EQ(r.failures, 1);
	CHECK(strstr(r.reason, "required and not so") != NULL, "reason: %s", r.reason);
	CHECK(!strstr(r.log, "ran on"), "the case ran on: %s", r.log);
	CHECK_OK(unlink(marker));
	rmdir(dir);
}

TEST(skip_after_a_failure_still_fails)
{
	const struct test_case fails = { "fails_then_skips", inner_fails_then_skips, 0, 0 };
	const struct test_case skips = { "skips", inner_skips, 0, 0 };
	struct test_result r;

	test_run_case(&fails, NULL, &r);
	CHECK_EQ(r.status, TEST_FAIL);
	CHECK(strstr(r.reason, "first a failure") != NULL, "reason: %s", r.reason);
	test_run_case(&skips, NULL, &r);
	CHECK_EQ(r.status, TEST_SKIP);
	CHECK_STR(r.reason, "no widget here");
}

TEST(failure_in_a_forked_process_counts)
{
	const struct test_case c = { "fork", inner_fails_in_a_fork, 0, 0 };
	struct test_result r;

	test_run_case(&c, NULL, &r);
	CHECK_EQ(r.status, TEST_FAIL);
	CHECK_EQ(r.failures, 1);
	CHECK(strstr(r.reason, "failed in the fork") != NULL, "reason: %s", r.reason);
}

/* The pattern filled in odd pieces is the pattern filled at once; a
 * changed byte is found where it is, a zeroed range counted as zeros. */
TEST(pattern_depends_on_position_and_seed_only)
{
	static uint8_t whole[20000], pieces[20000];
	size_t at = 0, n = 1;

	pattern_fill(whole, sizeof(whole), 3, 42);
	while (at < sizeof(pieces)) {
		n = n * 7 % 1013 + 1;
		if (n > sizeof(pieces) - at)
			n = sizeof(pieces) - at;
		pattern_fill(pieces + at, n, 3 + at, 42);
		at += n;
	}
	CHECK_MEM(pieces, whole, sizeof(whole), "filled in pieces");
	CHECK_EQ(pattern_mismatch(whole, sizeof(whole), 3, 42), -1);
	CHECK(pattern_mismatch(whole, sizeof(whole), 3, 43) == 0 &&
	      pattern_mismatch(whole, sizeof(whole), 4, 42) == 0,
	      "another seed or offset matches the start of the pattern");
	whole[12345] ^= 0x10;
	CHECK_EQ(pattern_mismatch(whole, sizeof(whole), 3, 42), 12345);
	memset(whole + 100, 0, 50);
	size_t zeros, bad = pattern_count_bad(whole, sizeof(whole), 3, 42, &zeros);
	CHECK(bad >= 49 && bad <= 51 && zeros == bad - 1,
	      "%zu bytes differ, %zu of them zero; want 50 or so, all but one zero", bad, zeros);
}

/* KTAP as kselftest writes it and automake's TAP driver reads it. */
TEST(ktap_lines_as_kselftest_writes_them)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	const struct ktap_totals t = { .pass = 1, .fail = 1, .xfail = 1, .skip = 1 };

	REQUIRE(f, "open_memstream: %s", expect_errname(errno));
	ktap_start(f, 4);
	ktap_diag(f, "two\nlines");
	ktap_result(f, 1, "a", KTAP_PASS, NULL);
	ktap_result(f, 2, "b", KTAP_SKIP, "why");
	ktap_result(f, 3, "c", KTAP_FAIL, NULL);
	ktap_result(f, 4, "d", KTAP_XFAIL, "known kernel bug (x): y");
	ktap_totals(f, &t);
	fclose(f);
	CHECK_STR(text, "TAP version 13\n1..4\n# two\n# lines\nok 1 a\nok 2 b # SKIP why\n"
		  "not ok 3 c\nnot ok 4 d # TODO known kernel bug (x): y\n"
		  "# Totals: pass:1 fail:1 xfail:1 xpass:0 skip:1 error:0\n");
	free(text);
}

TEST_MAIN("test_runner")
