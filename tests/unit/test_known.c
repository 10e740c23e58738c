/* Unit tests of diofs-check's known-bug list: the entry format, its errors
 * (FILE:LINE), and which case instances an entry applies to on which
 * kernel. */
#include <config.h>

#include "check/known.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[] = "/tmp/test_known.XXXXXX";

/* Write text to the temporary list and load it: known_load's result. */
static int load(const char *text, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
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
	CU_ASSERT_NSTRING_EQUAL(err, path, plen);
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

static void test_kernel_range(void)
{
	char err[256];

	CU_ASSERT_EQUAL_FATAL(load(ENTRIES, err, sizeof(err)), 0);
	/* O_DIRECT reads: from 6.1, open-ended (7.x too) */
	CU_ASSERT_PTR_NULL(why_on("6.0.9", "c.retry_r", READ_ODIRECT, FDIO_SYNC));
	CU_ASSERT_STRING_EQUAL(why_on("6.1.0-57-cloud-amd64", "c.retry_r", READ_ODIRECT, FDIO_SYNC),
			       "read bug");
	CU_ASSERT_STRING_EQUAL(why_on("6.12.117+deb12-amd64", "c.retry_r", READ_ODIRECT, FDIO_SYNC),
			       "read bug");
	CU_ASSERT_STRING_EQUAL(why_on("7.3.0-rc7", "c.retry_r", READ_ODIRECT, FDIO_SYNC),
			       "read bug");
	/* reads without O_DIRECT: from 6.13 */
	CU_ASSERT_PTR_NULL(why_on("6.12.117", "c.retry_r", READ_PLAIN, FDIO_SYNC));
	CU_ASSERT_STRING_EQUAL(why_on("6.13", "c.retry_r", READ_PLAIN, FDIO_SYNC),
			       "read bug, no O_DIRECT");
	CU_ASSERT_STRING_EQUAL(why_on("6.18.44", "c.retry_r", READ_PLAIN, FDIO_SYNC),
			       "read bug, no O_DIRECT");
	/* kernel<6.9: fixed there */
	CU_ASSERT_PTR_NULL(why_on("5.4", "old", NULL, NULL));
	CU_ASSERT_STRING_EQUAL(why_on("6.1.0", "old", NULL, NULL), "not pinned");
	CU_ASSERT_STRING_EQUAL(why_on("6.8.12", "old", NULL, NULL), "not pinned");
	CU_ASSERT_PTR_NULL(why_on("6.9", "old", NULL, NULL));
	known_set_release(NULL);
}

static void test_case_facts(void)
{
	char err[256];

	CU_ASSERT_EQUAL_FATAL(load(ENTRIES, err, sizeof(err)), 0);
	/* the mount gives fopen_direct_io and async_dio */
	CU_ASSERT_PTR_NULL(why_on("6.18", "c.retry_r", READ_ODIRECT, "dio=none,async_dio=0"));
	CU_ASSERT_PTR_NULL(why_on("6.18", "c.retry_r", READ_ODIRECT, "dio=all,async_dio=1"));
	CU_ASSERT_PTR_NULL(why_on("6.18", "c.retry_r", READ_ODIRECT, "dio=all"));
	CU_ASSERT_PTR_NOT_NULL(why_on("6.18", "c.retry_r", READ_ODIRECT,
				      "async_dio=0,dio=odirect"));
	CU_ASSERT_PTR_NULL(why_on("6.18", "c.retry_r", READ_PLAIN, "async_dio=0,dio=odirect"));
	/* a fact the case does not state matches no condition on it */
	CU_ASSERT_PTR_NULL(why_on("6.18", "c.retry_r", "route=io_uring io=read", FDIO_SYNC));
	CU_ASSERT_PTR_NULL(why_on("6.18", "c.retry_w", "route=io_uring io=write o_direct=yes",
				  FDIO_SYNC));
	CU_ASSERT_PTR_NULL(why_on("6.18", "c.retry_r", "route=libaio io=read o_direct=yes",
				  FDIO_SYNC));
	/* the name glob */
	CU_ASSERT_PTR_NULL(why_on("6.18", "c.other", READ_ODIRECT, FDIO_SYNC));
	known_set_release(NULL);
}

static void test_entry_and_line(void)
{
	char err[256];
	const struct known_bug *b;
	char where[64];

	CU_ASSERT_EQUAL_FATAL(load(ENTRIES, err, sizeof(err)), 0);
	known_set_release("6.5");
	b = known_bug("pins", "old", NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	snprintf(where, sizeof(where), "%s:5", path);
	CU_ASSERT_STRING_EQUAL(b->where, where);
	CU_ASSERT_STRING_EQUAL(b->conditions, "kernel>=5.10 kernel<6.9");
	known_set_release(NULL);
}

static void test_errors(void)
{
	CU_ASSERT_STRING_EQUAL(load_error("a.b kernel>=6.1 read bug\n"),
			       ":1: no ':' before the description (CASE-GLOB CONDITION... : WHY)");
	CU_ASSERT_STRING_EQUAL(load_error("\n# c\na.b kernel>=6.1 :\n"),
			       ":3: no description after ':'");
	CU_ASSERT_STRING_EQUAL(load_error("ab kernel>=6.1 : x\n"),
			       ":1: want SUITE.CASE (a glob) first");
	CU_ASSERT_STRING_EQUAL(load_error("a.b : x\n"),
			       ":1: no condition: say when the bug shows (kernel>=A.B ...)");
	CU_ASSERT_STRING_EQUAL(load_error("a.b kernel>=6 : x\n"),
			       ":1: 'kernel>=6': want a version A.B or A.B.C");
	CU_ASSERT_STRING_EQUAL(load_error("a.b kernel>=6.9 kernel<6.1 : x\n"),
			       ":1: the kernel range is empty");
	CU_ASSERT_STRING_EQUAL(load_error("a.b kernel>=6.1 kernel>=6.2 : x\n"),
			       ":1: kernel>=6.2: a second bound on the same side");
	CU_ASSERT_STRING_EQUAL(load_error("a.b route=uring : x\n"),
			       ":1: 'route=uring': route is one of sync libaio io_uring");
	CU_ASSERT_STRING_EQUAL(load_error("a.b io=read io=write : x\n"), ":1: io stated twice");
	CU_ASSERT_STRING_EQUAL(load_error("a.b 6.1* : x\n"),
			       ":1: '6.1*': not a condition (kernel>=A.B, kernel<A.B, route=, io=, "
			       "o_direct=, fopen_direct_io=, async_dio=, transport=)");
}

static void test_facts_check(void)
{
	char err[256];

	CU_ASSERT_EQUAL(known_facts_check(NULL, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(known_facts_check("route=io_uring io=write o_direct=no", err,
					  sizeof(err)), 0);
	CU_ASSERT_EQUAL(known_facts_check("o_direct=maybe", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "'o_direct=maybe': o_direct is one of yes no");
}

/* The project's own list loads. */
static void test_project_list(void)
{
	const char *srcdir = getenv("srcdir");
	char list[4096], err[512] = "";

	snprintf(list, sizeof(list), "%s/tests/known-kernel-bugs", srcdir ? srcdir : ".");
	known_free();
	CU_ASSERT_EQUAL(known_load(list, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "%s\n", err);
}

int main(void)
{
	int fd = mkstemp(path), failed;
	CU_pSuite s;

	if (fd < 0)
		return 99;
	close(fd);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	s = CU_add_suite("known", NULL, NULL);
	CU_add_test(s, "kernel_range", test_kernel_range);
	CU_add_test(s, "case_facts", test_case_facts);
	CU_add_test(s, "entry_and_line", test_entry_and_line);
	CU_add_test(s, "errors", test_errors);
	CU_add_test(s, "facts_check", test_facts_check);
	CU_add_test(s, "project_list", test_project_list);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	known_free();
	unlink(path);
	return failed ? 1 : 0;
}
