/* Unit tests of the control protocol helpers and the errno names. */
#include <config.h>

#include "proto/ctl.h"
#include "proto/errnames.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- ctl_split ---- */

static void test_split_words(void)
{
	char line[] = "  rule add\tfail=EIO  op=read \r\n";
	char *argv[8];

	CU_ASSERT_EQUAL_FATAL(ctl_split(line, argv, 8), 4);
	CU_ASSERT_STRING_EQUAL(argv[0], "rule");
	CU_ASSERT_STRING_EQUAL(argv[1], "add");
	CU_ASSERT_STRING_EQUAL(argv[2], "fail=EIO");
	CU_ASSERT_STRING_EQUAL(argv[3], "op=read");
	/* In place: the words point into the line. */
	CU_ASSERT(argv[0] >= line && argv[3] < line + sizeof(line));
}

static void test_split_empty(void)
{
	char empty[] = "", blanks[] = " \t \r\n";
	char *argv[2];

	CU_ASSERT_EQUAL(ctl_split(empty, argv, 2), 0);
	CU_ASSERT_EQUAL(ctl_split(blanks, argv, 2), 0);
	CU_ASSERT_EQUAL(ctl_split(blanks, argv, 0), 0);
}

static void test_split_max(void)
{
	char exact[] = "a b c", over[] = "a b c d", one[] = "ping";
	char *argv[3];

	CU_ASSERT_EQUAL(ctl_split(exact, argv, 3), 3);
	CU_ASSERT_STRING_EQUAL(argv[2], "c");
	CU_ASSERT_EQUAL(ctl_split(over, argv, 3), -1);
	CU_ASSERT_EQUAL(ctl_split(one, argv, 0), -1);
}

static void test_split_random(void)
{
	uint64_t s = 88172645463325252ULL;
	char line[64], *argv[8];

	for (int i = 0; i < 20000; i++) {
		size_t len = (s ^= s << 13, s ^= s >> 7, s ^= s << 17) % sizeof(line);
		int n;

		for (size_t j = 0; j < len; j++) {
			s ^= s << 13, s ^= s >> 7, s ^= s << 17;
			line[j] = "ab \t\r\n"[s % 6];
		}
		line[len] = '\0';
		n = ctl_split(line, argv, 8);
		CU_ASSERT(n >= -1 && n <= 8);
		for (int k = 0; k < n; k++)
			CU_ASSERT(argv[k][0] && !strpbrk(argv[k], " \t\r\n"));
	}
}

/* ---- errno names ---- */

#define E(name) { name, #name }
static const struct {
	int err;
	const char *name;
} common[] = {
	E(EIO), E(ENOSPC), E(EDQUOT), E(EFBIG), E(EINTR), E(EAGAIN), E(ENOMEM),
	E(EACCES), E(EPERM), E(ENOENT), E(EEXIST), E(EINVAL), E(EROFS),
	E(ENOTCONN), E(ECONNABORTED), E(ETIMEDOUT), E(EBUSY), E(ENODEV), E(ENXIO),
	E(EBADF), E(EFAULT), E(ENAMETOOLONG), E(ENOTEMPTY), E(ENOTDIR), E(EISDIR),
	E(EXDEV), E(EMFILE), E(ENFILE), E(ENOSYS), E(EOPNOTSUPP), E(ESTALE),
	E(EOVERFLOW), E(ENODATA), E(ERANGE), E(E2BIG), E(ECANCELED), E(ELOOP),
	E(EMLINK), E(ETXTBSY), E(ESPIPE), E(EPIPE), E(EDEADLK), E(ENOLCK),
	E(EILSEQ), E(EREMOTEIO), E(ENOMEDIUM), E(EHWPOISON), E(ENOTRECOVERABLE),
	E(EOWNERDEAD),
};
#undef E

static void test_errno_names(void)
{
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
		CU_ASSERT_EQUAL(errno_from_name(common[i].name), common[i].err);
		CU_ASSERT_STRING_EQUAL(errno_name(common[i].err), common[i].name);
	}
}

static void test_errno_aliases(void)
{
	CU_ASSERT_EQUAL(errno_from_name("EWOULDBLOCK"), EAGAIN);
	CU_ASSERT_EQUAL(errno_from_name("EDEADLOCK"), EDEADLK);
	CU_ASSERT_EQUAL(errno_from_name("ENOTSUP"), EOPNOTSUPP);
	/* The usual name is the one given back. */
	CU_ASSERT_STRING_EQUAL(errno_name(EWOULDBLOCK), "EAGAIN");
	CU_ASSERT_STRING_EQUAL(errno_name(ENOTSUP), "EOPNOTSUPP");
	CU_ASSERT_STRING_EQUAL(errno_name(EDEADLOCK), "EDEADLK");
	CU_ASSERT_EQUAL(errno_from_name("eio"), EIO);
	CU_ASSERT_EQUAL(errno_from_name("eNoSpC"), ENOSPC);
}

static void test_errno_numbers(void)
{
	CU_ASSERT_EQUAL(errno_from_name("5"), 5);
	CU_ASSERT_EQUAL(errno_from_name("1"), 1);
	CU_ASSERT_EQUAL(errno_from_name("999"), 999);
	CU_ASSERT_EQUAL(errno_from_name("007"), 7);
	CU_ASSERT_EQUAL(errno_from_name("0"), -1);
	CU_ASSERT_EQUAL(errno_from_name("1000"), -1);
	CU_ASSERT_EQUAL(errno_from_name("99999999999999999999"), -1);
	CU_ASSERT_EQUAL(errno_from_name("-5"), -1);
	CU_ASSERT_EQUAL(errno_from_name("+5"), -1);
	CU_ASSERT_EQUAL(errno_from_name("5x"), -1);
	CU_ASSERT_EQUAL(errno_from_name(" 5"), -1);
	CU_ASSERT_EQUAL(errno_from_name(""), -1);
	CU_ASSERT_EQUAL(errno_from_name(NULL), -1);
	CU_ASSERT_EQUAL(errno_from_name("EFOO"), -1);
	CU_ASSERT_EQUAL(errno_from_name("EIO "), -1);
	CU_ASSERT_STRING_EQUAL(errno_name(0), "E?");
	CU_ASSERT_STRING_EQUAL(errno_name(-5), "E?");
	CU_ASSERT_STRING_EQUAL(errno_name(500), "E?");
}

/* Every errno the C library knows a name for has one here, and it reads back. */
static void test_errno_complete(void)
{
	int named = 0;

	for (int e = 1; e < 200; e++) {
		const char *name = errno_name(e);

		if (strcmp(name, "E?") == 0)
			continue;
		named++;
		CU_ASSERT_EQUAL(errno_from_name(name), e);
	}
	CU_ASSERT(named >= 131); /* EPERM (1) .. EHWPOISON (133), less two holes */
	for (int e = 1; e <= EHWPOISON; e++) {
		if (e == 41 || e == 58) /* the two holes in Linux's numbering */
			continue;
		if (strcmp(errno_name(e), "E?") == 0) {
			fprintf(stderr, "\n  no name for errno %d (%s)", e, strerror(e));
			CU_FAIL("missing errno name");
		}
	}
}

/* ---- socket paths ---- */

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void test_fnv_vectors(void)
{
	/* Published FNV-1a 64 test vectors keep the helper above honest. */
	CU_ASSERT_EQUAL(fnv1a64(""), 0xcbf29ce484222325ULL);
	CU_ASSERT_EQUAL(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
	CU_ASSERT_EQUAL(fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

static char saved_xdg[PATH_MAX];
static bool had_xdg;

static void save_xdg(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	had_xdg = xdg != NULL;
	if (xdg)
		snprintf(saved_xdg, sizeof(saved_xdg), "%s", xdg);
}

static void restore_xdg(void)
{
	if (had_xdg)
		setenv("XDG_RUNTIME_DIR", saved_xdg, 1);
	else
		unsetenv("XDG_RUNTIME_DIR");
}

static void test_default_dir(void)
{
	char buf[PATH_MAX], want[PATH_MAX];

	save_xdg();
	if (geteuid() == 0) {
		setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
		CU_ASSERT_EQUAL(ctl_default_dir(buf, sizeof(buf)), 0);
		CU_ASSERT_STRING_EQUAL(buf, "/run/diofs");
	} else {
		setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
		CU_ASSERT_EQUAL(ctl_default_dir(buf, sizeof(buf)), 0);
		CU_ASSERT_STRING_EQUAL(buf, "/run/user/1000/diofs");

		snprintf(want, sizeof(want), "/tmp/diofs-%u/diofs", (unsigned int)geteuid());
		unsetenv("XDG_RUNTIME_DIR");
		CU_ASSERT_EQUAL(ctl_default_dir(buf, sizeof(buf)), 0);
		CU_ASSERT_STRING_EQUAL(buf, want);
		setenv("XDG_RUNTIME_DIR", "", 1);
		CU_ASSERT_EQUAL(ctl_default_dir(buf, sizeof(buf)), 0);
		CU_ASSERT_STRING_EQUAL(buf, want);
		/* A relative one would depend on the cwd: not used. */
		setenv("XDG_RUNTIME_DIR", "run/user", 1);
		CU_ASSERT_EQUAL(ctl_default_dir(buf, sizeof(buf)), 0);
		CU_ASSERT_STRING_EQUAL(buf, want);
	}
	CU_ASSERT_EQUAL(ctl_default_dir(buf, 5), -ENAMETOOLONG);
	restore_xdg();
}

static void test_default_path(void)
{
	char tmpl[] = "/tmp/diofs-test-mnt-XXXXXX", link[64], dir[PATH_MAX];
	char buf[PATH_MAX], want[PATH_MAX + 64], *real;

	CU_ASSERT_FATAL(mkdtemp(tmpl) != NULL);
	real = realpath(tmpl, NULL);
	CU_ASSERT_FATAL(real != NULL);
	CU_ASSERT_EQUAL_FATAL(ctl_default_dir(dir, sizeof(dir)), 0);

	snprintf(want, sizeof(want), "%s/%016" PRIx64 ".sock", dir, fnv1a64(real));
	CU_ASSERT_EQUAL(ctl_default_path(tmpl, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, want);

	/* The same mount point by another name gives the same socket. */
	snprintf(link, sizeof(link), "%s.link", tmpl);
	CU_ASSERT_EQUAL_FATAL(symlink(tmpl, link), 0);
	CU_ASSERT_EQUAL(ctl_default_path(link, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, want);
	snprintf(link + strlen(link), sizeof(link) - strlen(link), "/");
	CU_ASSERT_EQUAL(ctl_default_path(link, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, want);
	link[strlen(link) - 1] = '\0';
	unlink(link);

	snprintf(want, sizeof(want), "%s/%016" PRIx64 ".sock", dir, fnv1a64("/"));
	CU_ASSERT_EQUAL(ctl_default_path("/", buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, want);

	/* Too small a buffer. */
	CU_ASSERT_EQUAL(ctl_default_path(tmpl, buf, strlen(want)), -ENAMETOOLONG);

	rmdir(tmpl);
	CU_ASSERT_EQUAL(ctl_default_path(tmpl, buf, sizeof(buf)), -ENOENT);
	free(real);
}

/* The result must fit sockaddr_un even when the caller's buffer is larger. */
static void test_default_path_sun_path(void)
{
	char xdg[200], buf[PATH_MAX];

	if (geteuid() == 0) /* root's directory is fixed and short */
		return;
	save_xdg();
	memset(xdg, 'x', sizeof(xdg) - 1);
	xdg[0] = '/';
	xdg[sizeof(xdg) - 1] = '\0';
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	CU_ASSERT_EQUAL(ctl_default_path("/", buf, sizeof(buf)), -ENAMETOOLONG);
	/* Just fitting: dir + "/diofs/" + 16 + ".sock" + NUL == sun_path. */
	xdg[sizeof(((struct sockaddr_un *)0)->sun_path) - 1 - 6 - 1 - 16 - 5] = '\0';
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	CU_ASSERT_EQUAL(ctl_default_path("/", buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(strlen(buf), sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	restore_xdg();
}

int main(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{ "split words", test_split_words },
		{ "split empty lines", test_split_empty },
		{ "split at most max words", test_split_max },
		{ "split random lines", test_split_random },
		{ "errno names both ways", test_errno_names },
		{ "errno aliases and case", test_errno_aliases },
		{ "errno numbers", test_errno_numbers },
		{ "errno table complete", test_errno_complete },
		{ "FNV-1a vectors", test_fnv_vectors },
		{ "default directory", test_default_dir },
		{ "default socket path", test_default_path },
		{ "default path fits sun_path", test_default_path_sun_path },
	};
	CU_pSuite suite;
	unsigned int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	suite = CU_add_suite("ctl_proto", NULL, NULL);
	if (!suite)
		return 99;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(suite, tests[i].name, tests[i].fn))
			return 99;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
		 CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
