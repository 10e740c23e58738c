/* Unit tests of diofs-check's known-bug list: the entry format, its errors
 * (FILE:LINE), and which case instances an entry applies to on which
 * kernel. */
#include <config.h>

#include "check/known.h"
#include "harness/runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[] = "/tmp/test_known.XXXXXX";

/* Write text to the temporary list and load it: known_load's result. */
static int load(const char *text, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f != NULL, "f is not NULL");
	fputs(text, f);
	fclose(f);
	known_free();
	err[0] = '\0';
	return known_load(path, err, errlen);
}

/* The error for a one-entry list, without the "FILE:" prefix. */
static const char *load_error(const char *text)
{
	static char err[512];
	size_t plen = strlen(path);

	if (load(text, err, sizeof(err)) == 0)
		return "(loaded)";
	CHECK(strncmp(err, path, plen) == 0, "first plen bytes of err == path");
	return err + plen;
}

#define ENTRIES \
	"# comment\n" \
	"\n" \
	"completion.retry_*  kernel>=6.1  route=io_uring io=read o_direct=yes " \
	"fopen_direct_io=yes async_dio=off : read bug\n" \
	"  completion.retry_*  kernel>=6.13 route=io_uring io=read o_direct=no " \
	"fopen_direct_io=yes async_dio=off : read bug, no O_DIRECT\n" \
	"pins.old  kernel>=5.10 kernel<6.9 : not pinned\n"

#define READ_ODIRECT "route=io_uring io=read o_direct=yes"
#define READ_PLAIN "route=io_uring io=read o_direct=no"
#define FDIO_SYNC "dio=all,async_dio=0"

static const char *why_on(const char *release, const char *name, const char *facts,
			  const char *opts)
{
	const struct known_bug *b;

	known_set_release(release);
	b = known_bug(strchr(name, '.') ? "completion" : "pins",
		      strchr(name, '.') ? strchr(name, '.') + 1 : name, facts, opts);
	return b ? b->why : NULL;
}

/* A case, the kernel it ran on, what it states and the mount's options,
 * and the known bug's why that applies (NULL: none). */
struct why_case {
	const char *release, *name, *facts, *opts, *why;
};

static void check_whys(const struct why_case *w, size_t n)
{
	char err[256];

	REQUIRE_EQ(load(ENTRIES, err, sizeof(err)), 0);
	for (size_t i = 0; i < n; i++) {
		const char *why = why_on(w[i].release, w[i].name, w[i].facts, w[i].opts);

		CHECK(w[i].why ? why && strcmp(why, w[i].why) == 0 : !why,
		      "%s on %s (%s; %s): %s, want %s", w[i].name, w[i].release,
		      w[i].facts ? w[i].facts : "no facts", w[i].opts ? w[i].opts : "no options",
		      why ? why : "none", w[i].why ? w[i].why : "none");
	}
	known_set_release(NULL);
}

TEST(entry_applies_within_its_kernel_range)
{
	static const struct why_case whys[] = {
		/* O_DIRECT reads: from 6.1, open-ended (7.x too) */
		{ "6.0.9", "c.retry_r", READ_ODIRECT, FDIO_SYNC, NULL },
		{ "6.1.0-57-cloud-amd64", "c.retry_r", READ_ODIRECT, FDIO_SYNC, "read bug" },
		{ "6.12.117+deb12-amd64", "c.retry_r", READ_ODIRECT, FDIO_SYNC, "read bug" },
		{ "7.3.0-rc7", "c.retry_r", READ_ODIRECT, FDIO_SYNC, "read bug" },
		/* reads without O_DIRECT: from 6.13 */
		{ "6.12.117", "c.retry_r", READ_PLAIN, FDIO_SYNC, NULL },
		{ "6.13", "c.retry_r", READ_PLAIN, FDIO_SYNC, "read bug, no O_DIRECT" },
		{ "6.18.44", "c.retry_r", READ_PLAIN, FDIO_SYNC, "read bug, no O_DIRECT" },
		/* kernel<6.9: fixed there */
		{ "5.4", "old", NULL, NULL, NULL },
		{ "6.1.0", "old", NULL, NULL, "not pinned" },
		{ "6.8.12", "old", NULL, NULL, "not pinned" },
		{ "6.9", "old", NULL, NULL, NULL },
	};

	check_whys(whys, sizeof(whys) / sizeof(whys[0]));
}

TEST(entry_applies_by_case_facts_and_name_glob)
{
	static const struct why_case whys[] = {
		/* the mount gives fopen_direct_io and async_dio */
		{ "6.18", "c.retry_r", READ_ODIRECT, "dio=none,async_dio=0", NULL },
		{ "6.18", "c.retry_r", READ_ODIRECT, "dio=all,async_dio=1", NULL },
		{ "6.18", "c.retry_r", READ_ODIRECT, "dio=all", NULL },
		{ "6.18", "c.retry_r", READ_ODIRECT, "async_dio=0,dio=odirect", "read bug" },
		{ "6.18", "c.retry_r", READ_PLAIN, "async_dio=0,dio=odirect", NULL },
		/* a fact the case does not state matches no condition on it */
		{ "6.18", "c.retry_r", "route=io_uring io=read", FDIO_SYNC, NULL },
		{ "6.18", "c.retry_w", "route=io_uring io=write o_direct=yes", FDIO_SYNC, NULL },
		{ "6.18", "c.retry_r", "route=libaio io=read o_direct=yes", FDIO_SYNC, NULL },
		/* the name glob */
		{ "6.18", "c.other", READ_ODIRECT, FDIO_SYNC, NULL },
	};

	check_whys(whys, sizeof(whys) / sizeof(whys[0]));
}

TEST(entry_knows_its_file_and_line)
{
	char err[256];
	const struct known_bug *b;
	char where[64];

	REQUIRE_EQ(load(ENTRIES, err, sizeof(err)), 0);
	known_set_release("6.5");
	b = known_bug("pins", "old", NULL, NULL);
	REQUIRE(b != NULL, "b is not NULL");
	snprintf(where, sizeof(where), "%s:5", path);
	CHECK_STR(b->where, where);
	CHECK_STR(b->conditions, "kernel>=5.10 kernel<6.9");
	known_set_release(NULL);
}

TEST(bad_entries_refused_with_file_and_line)
{
	CHECK_STR(load_error("a.b kernel>=6.1 read bug\n"),
		  ":1: no ':' before the description (CASE-GLOB CONDITION... : WHY)");
	CHECK_STR(load_error("\n# c\na.b kernel>=6.1 :\n"),
		  ":3: no description after ':'");
	CHECK_STR(load_error("ab kernel>=6.1 : x\n"),
		  ":1: want SUITE.CASE (a glob) first");
	CHECK_STR(load_error("a.b : x\n"),
		  ":1: no condition: say when the bug shows (kernel>=A.B ...)");
	CHECK_STR(load_error("a.b kernel>=6 : x\n"),
		  ":1: 'kernel>=6': want a version A.B or A.B.C");
	CHECK_STR(load_error("a.b kernel>=6.9 kernel<6.1 : x\n"),
		  ":1: the kernel range is empty");
	CHECK_STR(load_error("a.b kernel>=6.1 kernel>=6.2 : x\n"),
		  ":1: kernel>=6.2: a second bound on the same side");
	CHECK_STR(load_error("a.b route=uring : x\n"),
		  ":1: 'route=uring': route is one of sync libaio io_uring");
	CHECK_STR(load_error("a.b io=read io=write : x\n"), ":1: io stated twice");
	CHECK_STR(load_error("a.b 6.1* : x\n"),
		  ":1: '6.1*': not a condition (kernel>=A.B, kernel<A.B, route=, io=, "
		  "o_direct=, fopen_direct_io=, async_dio=, transport=)");
}

TEST(facts_checked_against_the_conditions)
{
	char err[256];

	CHECK_EQ(known_facts_check(NULL, err, sizeof(err)), 0);
	CHECK_EQ(known_facts_check("route=io_uring io=write o_direct=no", err,
				   sizeof(err)), 0);
	CHECK_EQ(known_facts_check("o_direct=maybe", err, sizeof(err)), -1);
	CHECK_STR(err, "'o_direct=maybe': o_direct is one of yes no");
}

/* The project's own list loads. */
TEST(project_list_loads)
{
	const char *srcdir = getenv("srcdir");
	char list[4096], err[512] = "";

	snprintf(list, sizeof(list), "%s/tests/known-kernel-bugs", srcdir ? srcdir : ".");
	known_free();
	CHECK(known_load(list, err, sizeof(err)) == 0, "%s: %s", list, err);
}

/* The list each case loads is a file made here, once. */
int main(int argc, char **argv)
{
	int fd = mkstemp(path), ret;

	if (fd < 0) {
		perror("mkstemp");
		return 99;
	}
	close(fd);
	ret = test_main(argc, argv, "test_known", test_registered(), test_registered_count());
	unlink(path);
	return ret;
}
