/* Unit tests of the control protocol helpers and the errno names. */
#include <config.h>

#include "lib/diofsctl.h"
#include "proto/ctl.h"
#include "proto/ctldir.h"
#include "proto/errnames.h"
#include "proto/escape.h"
#include "proto/held.h"
#include "proto/number.h"
#include "proto/release.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
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

/* ---- terminal escaping ---- */

static void check_escape(const char *in, const char *want)
{
	char out[256];
	size_t n = term_escape(out, sizeof(out), in);

	CU_ASSERT_STRING_EQUAL(out, want);
	CU_ASSERT_EQUAL(n, strlen(want));
	if (strcmp(out, want) != 0)
		printf("\n  term_escape: saw \"%s\", wanted \"%s\"\n", out, want);
}

static void test_escape(void)
{
	char small[8];

	check_escape("/plain/name.txt", "/plain/name.txt");
	check_escape("/e\x1b[31mred\x1b[0m", "/e\\x1b[31mred\\x1b[0m");
	check_escape("a\tb\nc\rd\x7f", "a\\x09b\\x0ac\\x0dd\\x7f");
	check_escape("back\\slash", "back\\\\slash");
	check_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* Not UTF-8: a lone byte, a cut sequence, an overlong form, a
	 * surrogate. */
	check_escape("\xff", "\\xff");
	check_escape("x\xc3", "x\\xc3");
	check_escape("\xc0\xaf", "\\xc0\\xaf");
	check_escape("\xed\xa0\x80", "\\xed\\xa0\\x80");
	/* C1 controls as UTF-8 (U+009B is CSI), but U+00A0 stays. */
	check_escape("\xc2\x9b" "2J", "\\xc2\\x9b2J");
	check_escape("\xc2\xa0", "\xc2\xa0");
	/* Cut to the buffer like snprintf, the length still whole. */
	CU_ASSERT_EQUAL(term_escape(small, sizeof(small), "\x1b\x1b\x1b"), 12);
	CU_ASSERT_STRING_EQUAL(small, "\\x1b\\x1");
	CU_ASSERT_EQUAL(term_escape(NULL, 0, "\x1b"), 4);
}

/* Every byte string: the result has no control byte and stays within
 * 4 bytes per input byte. */
static void test_escape_random(void)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	char in[32], out[4 * sizeof(in) + 1];

	for (int i = 0; i < 50000; i++) {
		size_t len = (s ^= s << 13, s ^= s >> 7, s ^= s << 17) % sizeof(in);
		size_t n;

		for (size_t j = 0; j < len; j++) {
			s ^= s << 13, s ^= s >> 7, s ^= s << 17;
			in[j] = (char)(s % 255 + 1);
		}
		in[len] = '\0';
		n = term_escape(out, sizeof(out), in);
		CU_ASSERT(n <= 4 * len && n == strlen(out));
		for (size_t j = 0; j < n; j++)
			CU_ASSERT((unsigned char)out[j] >= 0x20 && out[j] != 0x7f);
	}
}

/* ---- the socket's directory, and who serves it ---- */

#define USER 4242      /* the daemon's user in these cases */
#define OTHER 4243     /* another local user */

static char dirbase[64];

/* base/name made with mode and owner; false (said) if it cannot be. */
static bool plant(const char *name, mode_t mode, uid_t uid, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", dirbase, name);
	if (mkdir(path, mode) < 0 || chmod(path, mode) < 0 || chown(path, uid, uid) < 0) {
		printf("\n  planting %s: %s\n", path, strerror(errno));
		return false;
	}
	return true;
}

static void check_dir(const char *path, int want, const char *want_why)
{
	char why[512] = "";
	int ret = ctl_check_dir(path, USER, why, sizeof(why));

	CU_ASSERT_EQUAL(ret, want);
	if (want_why)
		CU_ASSERT_PTR_NOT_NULL(strstr(why, want_why));
	if (ret != want || (want_why && !strstr(why, want_why)))
		printf("\n  ctl_check_dir(%s, uid %d): saw %d \"%s\", wanted %d \"%s\"\n", path,
		       USER, ret, why, want, want_why ? want_why : "");
}

static void test_socket_dir(void)
{
	char good[128], planted[128], sub[160], open_[128], sticky[128], loose[128];
	char link[160], file[128];
	int fd;

	if (geteuid() != 0) {
		printf("\n  SKIP: planting directories of other uids needs root\n");
		return;
	}
	snprintf(dirbase, sizeof(dirbase), "/tmp/diofs-test-ctldir-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(dirbase) != NULL);
	CU_ASSERT_FATAL(chmod(dirbase, 0755) == 0);

	/* The user's own 0700 directory under root's: fit. */
	CU_ASSERT_FATAL(plant("good", 0700, USER, good, sizeof(good)));
	check_dir(good, 0, NULL);
	/* What /tmp/diofs-UID becomes when another user makes it first: the
	 * socket's directory inside it, however private, is theirs to move. */
	CU_ASSERT_FATAL(plant("planted", 0755, OTHER, planted, sizeof(planted)));
	snprintf(sub, sizeof(sub), "%s/diofs", planted);
	CU_ASSERT_FATAL(mkdir(sub, 0700) == 0 && chown(sub, USER, USER) == 0);
	check_dir(sub, -EPERM, "is owned by uid 4243, not by root or uid 4242");
	check_dir(planted, -EPERM, "owned by uid 4243");
	/* Writable by others, not sticky: anyone may rename what is in it. */
	CU_ASSERT_FATAL(plant("open", 0777, 0, open_, sizeof(open_)));
	snprintf(sub, sizeof(sub), "%s/d", open_);
	CU_ASSERT_FATAL(mkdir(sub, 0700) == 0 && chown(sub, USER, USER) == 0);
	check_dir(sub, -EPERM, "writable by others (mode 0777) and not sticky");
	/* Sticky like /tmp: fine on the way, not as the socket's directory. */
	CU_ASSERT_FATAL(plant("sticky", 01777, 0, sticky, sizeof(sticky)));
	snprintf(sub, sizeof(sub), "%s/d", sticky);
	CU_ASSERT_FATAL(mkdir(sub, 0700) == 0 && chown(sub, USER, USER) == 0);
	check_dir(sub, 0, NULL);
	check_dir(sticky, -EPERM, "must be owned by uid 4242 with mode 0700");
	/* The user's, but open to the group. */
	CU_ASSERT_FATAL(plant("loose", 0750, USER, loose, sizeof(loose)));
	check_dir(loose, -EPERM, "mode 0750");
	/* A symbolic link on the way is its owner's to turn elsewhere. */
	snprintf(link, sizeof(link), "%s/link", sticky);
	CU_ASSERT_FATAL(symlink(good, link) == 0 && lchown(link, OTHER, OTHER) == 0);
	check_dir(link, -EPERM, "link is owned by uid 4243");
	CU_ASSERT_FATAL(lchown(link, USER, USER) == 0);
	check_dir(link, 0, NULL);
	/* Where it leads is judged too. */
	CU_ASSERT_FATAL(unlink(link) == 0 && symlink(loose, link) == 0 &&
			lchown(link, USER, USER) == 0);
	check_dir(link, -EPERM, "loose must be owned");
	/* Not a directory; not there; not absolute. */
	snprintf(file, sizeof(file), "%s/file", dirbase);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	check_dir(file, -EPERM, "file is not a directory");
	snprintf(sub, sizeof(sub), "%s/none", dirbase);
	check_dir(sub, -ENOENT, "none");
	check_dir("relative/dir", -EINVAL, "not an absolute path");

	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dirbase);
		CU_ASSERT(system(cmd) == 0);
	}
}

/* A socket served by another uid (planted where diofsctl looks) is refused
 * by its credentials before a command goes out. */
static void test_fake_server(void)
{
	char dir[] = "/tmp/diofs-test-fake-XXXXXX", path[64], err[512];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct diofsctl *ctl;
	int ready[2], lfd;
	pid_t pid;
	char ch;

	if (geteuid() != 0) {
		printf("\n  SKIP: serving a socket as another uid needs root\n");
		return;
	}
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL && chown(dir, OTHER, OTHER) == 0);
	snprintf(path, sizeof(path), "%s/fake.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CU_ASSERT_FATAL(pipe2(ready, O_CLOEXEC) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		/* The other user: listen, answer anything with "ok 0". */
		close(ready[0]);
		lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (setgroups(0, NULL) < 0 || setgid(OTHER) < 0 || setuid(OTHER) < 0 ||
		    lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    chmod(path, 0777) < 0 || listen(lfd, 4) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;) {
			int c = accept(lfd, NULL, NULL);
			char buf[256];

			if (c < 0)
				_exit(1);
			if (read(c, buf, sizeof(buf)) > 0 && write(c, "ok 0\n", 5) != 5)
				_exit(1);
			close(c);
		}
	}
	close(ready[1]);
	{
		struct pollfd p = { .fd = ready[0], .events = POLLIN };

		CU_ASSERT(poll(&p, 1, 10000) == 1 && read(ready[0], &ch, 1) == 1);
	}
	close(ready[0]);

	ctl = diofsctl_connect(path, err, sizeof(err));
	CU_ASSERT_PTR_NULL(ctl);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is served by uid 4243"));
	if (ctl || !strstr(err, "is served by uid 4243"))
		printf("\n  connecting to a socket of uid %d: saw %s (\"%s\"), wanted a "
		       "refusal naming uid %d\n", OTHER, ctl ? "a connection" : "a failure",
		       err, OTHER);
	diofsctl_close(ctl);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(path);
	rmdir(dir);
}

/* ---- numbers, the held line, release modes ---- */

static void test_numbers(void)
{
	static const struct {
		const char *s;
		bool units;
		enum num_status st;
		uint64_t v;
	} cases[] = {
		{ "0", false, NUM_OK, 0 },
		{ "4096", false, NUM_OK, 4096 },
		{ "0x1F", false, NUM_OK, 31 },
		{ "64k", true, NUM_OK, 64 << 10 },
		{ "3M", true, NUM_OK, UINT64_C(3) << 20 },
		{ "0x2g", true, NUM_OK, UINT64_C(2) << 30 },
		{ "18446744073709551615", false, NUM_OK, UINT64_MAX },
		{ "18446744073709551616", false, NUM_RANGE, 0 },
		{ "17179869184g", true, NUM_RANGE, 0 },
		{ "64k", false, NUM_BAD, 0 },
		{ "k", true, NUM_BAD, 0 },
		{ "0x", false, NUM_BAD, 0 },
		{ "", false, NUM_BAD, 0 },
		{ "-1", false, NUM_BAD, 0 },
		{ " 1", false, NUM_BAD, 0 },
		{ "1kk", true, NUM_BAD, 0 },
		{ "12a", false, NUM_BAD, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		enum num_status st = parse_number(cases[i].s, cases[i].units, &v);

		CU_ASSERT_EQUAL(st, cases[i].st);
		CU_ASSERT_EQUAL(v, st == NUM_OK ? cases[i].v : 12345);
		if (st != cases[i].st)
			fprintf(stderr, "parse_number(\"%s\"): %d, wanted %d\n", cases[i].s, st,
				cases[i].st);
	}
}

static void test_held_round_trip(void)
{
	static const char *paths[] = { "/f", "/a dir/with  spaces=and=equals", "?" };
	struct diofs_held h;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char *line = ctl_held_format(UINT64_MAX, "write", UINT64_C(1) << 40, 65536,
					     4242, 77, paths[i]);

		CU_ASSERT_PTR_NOT_NULL_FATAL(line);
		CU_ASSERT_EQUAL_FATAL(ctl_held_parse(line, &h), 0);
		CU_ASSERT_EQUAL(h.id, UINT64_MAX);
		CU_ASSERT_STRING_EQUAL(h.op, "write");
		CU_ASSERT_EQUAL(h.off, UINT64_C(1) << 40);
		CU_ASSERT_EQUAL(h.size, 65536);
		CU_ASSERT_EQUAL(h.pid, 4242);
		CU_ASSERT_EQUAL(h.unique, 77);
		CU_ASSERT_STRING_EQUAL(h.path, paths[i]);
		free(line);
	}
	/* The daemon's words, as it has always written them. */
	CU_ASSERT_EQUAL(ctl_held_parse("id=3 op=read off=0 size=4096 pid=1 unique=9 path=/x",
				       &h), 0);
	CU_ASSERT_EQUAL(h.id, 3);
	CU_ASSERT_STRING_EQUAL(h.path, "/x");
	CU_ASSERT_EQUAL(ctl_held_parse("op=read path=/x", &h), -1);   /* no id */
	CU_ASSERT_EQUAL(ctl_held_parse("id=1 path=/x", &h), -1);      /* no op */
	CU_ASSERT_EQUAL(ctl_held_parse("id=1 op=read", &h), -1);      /* no path */
	CU_ASSERT_EQUAL(ctl_held_parse("", &h), -1);
}

static void test_release_modes(void)
{
	struct ctl_release r;
	char why[128];

	CU_ASSERT_EQUAL(ctl_release_parse("reply", &r, why, sizeof(why)), CTL_RELEASE_OK);
	CU_ASSERT_EQUAL(r.mode, CTL_RELEASE_REPLY);
	CU_ASSERT_EQUAL(ctl_release_parse("errno=enodata", &r, why, sizeof(why)),
			CTL_RELEASE_OK);
	CU_ASSERT(r.mode == CTL_RELEASE_ERRNO && r.arg == ENODATA);
	CU_ASSERT_EQUAL(ctl_release_parse("errno=5", &r, why, sizeof(why)), CTL_RELEASE_OK);
	CU_ASSERT(r.mode == CTL_RELEASE_ERRNO && r.arg == 5);
	CU_ASSERT_EQUAL(ctl_release_parse("short=4k", &r, why, sizeof(why)), CTL_RELEASE_OK);
	CU_ASSERT(r.mode == CTL_RELEASE_SHORT && r.arg == 4096);
	CU_ASSERT_EQUAL(ctl_release_parse("short=0", &r, why, sizeof(why)), CTL_RELEASE_OK);
	CU_ASSERT(r.mode == CTL_RELEASE_SHORT && r.arg == 0);

	CU_ASSERT_EQUAL(ctl_release_parse("errno=NOTANERRNO", &r, why, sizeof(why)),
			CTL_RELEASE_BAD_ARG);
	CU_ASSERT_STRING_EQUAL(why, "unknown errno name: NOTANERRNO");
	CU_ASSERT_EQUAL(ctl_release_parse("short=x", &r, why, sizeof(why)), CTL_RELEASE_BAD_ARG);
	CU_ASSERT_STRING_EQUAL(why, "bad length: x");
	CU_ASSERT_EQUAL(ctl_release_parse("short=99999999999999999999", &r, why, sizeof(why)),
			CTL_RELEASE_BAD_ARG);
	CU_ASSERT_EQUAL(ctl_release_parse("bogus", &r, why, sizeof(why)), CTL_RELEASE_NO_MODE);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "bad reply: bogus"));
	CU_ASSERT_EQUAL(ctl_release_parse("Reply", &r, NULL, 0), CTL_RELEASE_NO_MODE);
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
		{ "terminal escaping", test_escape },
		{ "terminal escaping, random bytes", test_escape_random },
		{ "socket directory: owners and modes on the way", test_socket_dir },
		{ "a socket served by another uid is refused", test_fake_server },
		{ "numbers: decimal, 0x hex, k/m/g units", test_numbers },
		{ "the held line formats and parses back", test_held_round_trip },
		{ "release modes: reply, errno=NAME, short=N", test_release_modes },
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
