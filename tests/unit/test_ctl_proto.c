/* Unit tests of the control protocol helpers and the errno names. */
#include <config.h>

#include "harness/runner.h"
#include "lib/diofsctl.h"
#include "proto/ctl.h"
#include "proto/ctldir.h"
#include "proto/errnames.h"
#include "proto/escape.h"
#include "proto/held.h"
#include "proto/number.h"
#include "proto/release.h"
#include "proto/trace.h"

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

TEST(split_words)
{
	char line[] = "  rule add\tfail=EIO  op=read \r\n";
	char *argv[8];

	REQUIRE_EQ(ctl_split(line, argv, 8), 4);
	CHECK_STR(argv[0], "rule");
	CHECK_STR(argv[1], "add");
	CHECK_STR(argv[2], "fail=EIO");
	CHECK_STR(argv[3], "op=read");
	/* In place: the words point into the line. */
	CHECK(argv[0] >= line && argv[3] < line + sizeof(line),
	      "argv[0] >= line && argv[3] < line + sizeof(line)");
}

TEST(split_empty_lines)
{
	char empty[] = "", blanks[] = " \t \r\n";
	char *argv[2];

	CHECK_EQ(ctl_split(empty, argv, 2), 0);
	CHECK_EQ(ctl_split(blanks, argv, 2), 0);
	CHECK_EQ(ctl_split(blanks, argv, 0), 0);
}

TEST(split_at_most_max_words)
{
	char exact[] = "a b c", over[] = "a b c d", one[] = "ping";
	char *argv[3];

	CHECK_EQ(ctl_split(exact, argv, 3), 3);
	CHECK_STR(argv[2], "c");
	CHECK_EQ(ctl_split(over, argv, 3), -1);
	CHECK_EQ(ctl_split(one, argv, 0), -1);
}

TEST(split_random_lines)
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
		CHECK(n >= -1 && n <= 8, "n >= -1 && n <= 8");
		for (int k = 0; k < n; k++)
			CHECK(argv[k][0] && !strpbrk(argv[k], " \t\r\n"),
			      "argv[k][0] && !strpbrk(argv[k], \" \\t\\r\\n\")");
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

TEST(errno_names_both_ways)
{
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
		CHECK_EQ(errno_from_name(common[i].name), common[i].err);
		CHECK_STR(errno_name(common[i].err), common[i].name);
	}
}

TEST(errno_aliases_and_case)
{
	CHECK_EQ(errno_from_name("EWOULDBLOCK"), EAGAIN);
	CHECK_EQ(errno_from_name("EDEADLOCK"), EDEADLK);
	CHECK_EQ(errno_from_name("ENOTSUP"), EOPNOTSUPP);
	/* The usual name is the one given back. */
	CHECK_STR(errno_name(EWOULDBLOCK), "EAGAIN");
	CHECK_STR(errno_name(ENOTSUP), "EOPNOTSUPP");
	CHECK_STR(errno_name(EDEADLOCK), "EDEADLK");
	CHECK_EQ(errno_from_name("eio"), EIO);
	CHECK_EQ(errno_from_name("eNoSpC"), ENOSPC);
}

TEST(errno_numbers)
{
	CHECK_EQ(errno_from_name("5"), 5);
	CHECK_EQ(errno_from_name("1"), 1);
	CHECK_EQ(errno_from_name("999"), 999);
	CHECK_EQ(errno_from_name("007"), 7);
	CHECK_EQ(errno_from_name("0"), -1);
	CHECK_EQ(errno_from_name("1000"), -1);
	CHECK_EQ(errno_from_name("99999999999999999999"), -1);
	CHECK_EQ(errno_from_name("-5"), -1);
	CHECK_EQ(errno_from_name("+5"), -1);
	CHECK_EQ(errno_from_name("5x"), -1);
	CHECK_EQ(errno_from_name(" 5"), -1);
	CHECK_EQ(errno_from_name(""), -1);
	CHECK_EQ(errno_from_name(NULL), -1);
	CHECK_EQ(errno_from_name("EFOO"), -1);
	CHECK_EQ(errno_from_name("EIO "), -1);
	CHECK_STR(errno_name(0), "E?");
	CHECK_STR(errno_name(-5), "E?");
	CHECK_STR(errno_name(500), "E?");
}

/* Every errno the C library knows a name for has one here, and it reads back. */
TEST(errno_table_complete)
{
	int named = 0;

	for (int e = 1; e < 200; e++) {
		const char *name = errno_name(e);

		if (strcmp(name, "E?") == 0)
			continue;
		named++;
		CHECK_EQ(errno_from_name(name), e);
	}
	CHECK(named >= 131,
	      "named >= 131"); /* EPERM (1) .. EHWPOISON (133), less two holes */
	for (int e = 1; e <= EHWPOISON; e++) {
		if (e == 41 || e == 58) /* the two holes in Linux's numbering */
			continue;
		CHECK(strcmp(errno_name(e), "E?") != 0, "no name for errno %d (%s)", e,
		      strerror(e));
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

TEST(fnv_1a_test_vectors)
{
	/* Published FNV-1a 64 test vectors keep the helper above honest. */
	CHECK_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
	CHECK_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
	CHECK_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
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

TEST(default_directory)
{
	char buf[PATH_MAX], want[PATH_MAX];

	save_xdg();
	if (geteuid() == 0) {
		setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
		CHECK_EQ(ctl_default_dir(buf, sizeof(buf)), 0);
		CHECK_STR(buf, "/run/diofs");
	} else {
		setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
		CHECK_EQ(ctl_default_dir(buf, sizeof(buf)), 0);
		CHECK_STR(buf, "/run/user/1000/diofs");

		snprintf(want, sizeof(want), "/tmp/diofs-%u/diofs", (unsigned int)geteuid());
		unsetenv("XDG_RUNTIME_DIR");
		CHECK_EQ(ctl_default_dir(buf, sizeof(buf)), 0);
		CHECK_STR(buf, want);
		setenv("XDG_RUNTIME_DIR", "", 1);
		CHECK_EQ(ctl_default_dir(buf, sizeof(buf)), 0);
		CHECK_STR(buf, want);
		/* A relative one would depend on the cwd: not used. */
		setenv("XDG_RUNTIME_DIR", "run/user", 1);
		CHECK_EQ(ctl_default_dir(buf, sizeof(buf)), 0);
		CHECK_STR(buf, want);
	}
	CHECK_EQ(ctl_default_dir(buf, 5), -ENAMETOOLONG);
	restore_xdg();
}

TEST(default_socket_path)
{
	char tmpl[] = "/tmp/diofs-test-mnt-XXXXXX", link[64], dir[PATH_MAX];
	char buf[PATH_MAX], want[PATH_MAX + 64], *real;

	REQUIRE(mkdtemp(tmpl) != NULL, "mkdtemp(tmpl) != NULL");
	real = realpath(tmpl, NULL);
	REQUIRE(real != NULL, "real != NULL");
	REQUIRE_EQ(ctl_default_dir(dir, sizeof(dir)), 0);

	snprintf(want, sizeof(want), "%s/%016" PRIx64 ".sock", dir, fnv1a64(real));
	CHECK_EQ(ctl_default_path(tmpl, buf, sizeof(buf)), 0);
	CHECK_STR(buf, want);

	/* The same mount point by another name gives the same socket. */
	snprintf(link, sizeof(link), "%s.link", tmpl);
	REQUIRE_EQ(symlink(tmpl, link), 0);
	CHECK_EQ(ctl_default_path(link, buf, sizeof(buf)), 0);
	CHECK_STR(buf, want);
	snprintf(link + strlen(link), sizeof(link) - strlen(link), "/");
	CHECK_EQ(ctl_default_path(link, buf, sizeof(buf)), 0);
	CHECK_STR(buf, want);
	link[strlen(link) - 1] = '\0';
	unlink(link);

	snprintf(want, sizeof(want), "%s/%016" PRIx64 ".sock", dir, fnv1a64("/"));
	CHECK_EQ(ctl_default_path("/", buf, sizeof(buf)), 0);
	CHECK_STR(buf, want);

	/* Too small a buffer. */
	CHECK_EQ(ctl_default_path(tmpl, buf, strlen(want)), -ENAMETOOLONG);

	rmdir(tmpl);
	CHECK_EQ(ctl_default_path(tmpl, buf, sizeof(buf)), -ENOENT);
	free(real);
}

/* The result must fit sockaddr_un even when the caller's buffer is larger. */
TEST(default_path_fits_sun_path)
{
	char xdg[200], buf[PATH_MAX];

	if (geteuid() == 0) /* root's directory is fixed and short */
		return;
	save_xdg();
	memset(xdg, 'x', sizeof(xdg) - 1);
	xdg[0] = '/';
	xdg[sizeof(xdg) - 1] = '\0';
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	CHECK_EQ(ctl_default_path("/", buf, sizeof(buf)), -ENAMETOOLONG);
	/* Just fitting: dir + "/diofs/" + 16 + ".sock" + NUL == sun_path. */
	xdg[sizeof(((struct sockaddr_un *)0)->sun_path) - 1 - 6 - 1 - 16 - 5] = '\0';
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	CHECK_EQ(ctl_default_path("/", buf, sizeof(buf)), 0);
	CHECK_EQ(strlen(buf), sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	restore_xdg();
}

/* ---- terminal escaping ---- */

static void check_escape(const char *in, const char *want)
{
	char out[256];
	size_t n = term_escape(out, sizeof(out), in);

	CHECK_STR(out, want);
	CHECK_EQ(n, strlen(want));
}

TEST(terminal_escaping)
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
	CHECK_EQ(term_escape(small, sizeof(small), "\x1b\x1b\x1b"), 12);
	CHECK_STR(small, "\\x1b\\x1");
	CHECK_EQ(term_escape(NULL, 0, "\x1b"), 4);
}

/* Every byte string: the result has no control byte and stays within
 * 4 bytes per input byte. */
TEST(terminal_escaping_random_bytes)
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
		CHECK(n <= 4 * len && n == strlen(out), "n <= 4 * len && n == strlen(out)");
		for (size_t j = 0; j < n; j++)
			CHECK((unsigned char)out[j] >= 0x20 && out[j] != 0x7f,
			      "(unsigned char)out[j] >= 0x20 && out[j] != 0x7f");
	}
}

/* ---- the socket's directory, and who serves it ---- */

#define USER 4242      /* the daemon's user in these cases */
#define OTHER 4243     /* another local user */

static char dirbase[64];

/* dir/name made with mode and owner, into path; the case ends if it
 * cannot be. */
static void plant(const char *dir, const char *name, mode_t mode, uid_t uid, char *path,
		  size_t len)
{
	snprintf(path, len, "%s/%s", dir, name);
	REQUIRE(mkdir(path, mode) == 0 && chmod(path, mode) == 0 &&
		chown(path, uid, uid) == 0, "planting %s: %s", path, strerror(errno));
}

static void check_dir(const char *path, int want, const char *want_why)
{
	char why[512] = "";
	int ret = ctl_check_dir(path, USER, why, sizeof(why));

	CHECK(ret == want && (!want_why || strstr(why, want_why)),
	      "ctl_check_dir(%s, uid %d): saw %d \"%s\", wanted %d \"%s\"", path, USER, ret,
	      why, want, want_why ? want_why : "");
}

TEST(socket_directory_owners_and_modes_checked_on_the_way, .needs = TEST_NEEDS_ROOT)
{
	char good[128], planted[128], sub[160], open_[128], sticky[128], loose[128];
	char link[160], file[128];
	int fd;

	snprintf(dirbase, sizeof(dirbase), "/tmp/diofs-test-ctldir-XXXXXX");
	REQUIRE(mkdtemp(dirbase) != NULL, "mkdtemp(dirbase) != NULL");
	REQUIRE(chmod(dirbase, 0755) == 0, "chmod(dirbase, 0755) == 0");

	/* The user's own 0700 directory under root's: fit. */
	plant(dirbase, "good", 0700, USER, good, sizeof(good));
	check_dir(good, 0, NULL);
	/* What /tmp/diofs-UID becomes when another user makes it first: the
	 * socket's directory inside it, however private, is theirs to move. */
	plant(dirbase, "planted", 0755, OTHER, planted, sizeof(planted));
	plant(planted, "diofs", 0700, USER, sub, sizeof(sub));
	check_dir(sub, -EPERM, "is owned by uid 4243, not by root or uid 4242");
	check_dir(planted, -EPERM, "owned by uid 4243");
	/* Writable by others, not sticky: anyone may rename what is in it. */
	plant(dirbase, "open", 0777, 0, open_, sizeof(open_));
	plant(open_, "d", 0700, USER, sub, sizeof(sub));
	check_dir(sub, -EPERM, "writable by others (mode 0777) and not sticky");
	/* Sticky like /tmp: fine on the way, not as the socket's directory. */
	plant(dirbase, "sticky", 01777, 0, sticky, sizeof(sticky));
	plant(sticky, "d", 0700, USER, sub, sizeof(sub));
	check_dir(sub, 0, NULL);
	check_dir(sticky, -EPERM, "must be owned by uid 4242 with mode 0700");
	/* The user's, but open to the group. */
	plant(dirbase, "loose", 0750, USER, loose, sizeof(loose));
	check_dir(loose, -EPERM, "mode 0750");
	/* A symbolic link on the way is its owner's to turn elsewhere. */
	snprintf(link, sizeof(link), "%s/link", sticky);
	REQUIRE(symlink(good, link) == 0 && lchown(link, OTHER, OTHER) == 0,
	        "symlink(good, link) == 0 && lchown(link, OTHER, OTHER) == 0");
	check_dir(link, -EPERM, "link is owned by uid 4243");
	REQUIRE(lchown(link, USER, USER) == 0, "lchown(link, USER, USER) == 0");
	check_dir(link, 0, NULL);
	/* Where it leads is judged too. */
	REQUIRE(unlink(link) == 0 && symlink(loose, link) == 0 &&
		lchown(link, USER, USER) == 0, "relinking %s to %s", link, loose);
	check_dir(link, -EPERM, "loose must be owned");
	/* Not a directory; not there; not absolute. */
	snprintf(file, sizeof(file), "%s/file", dirbase);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0, "fd >= 0");
	close(fd);
	check_dir(file, -EPERM, "file is not a directory");
	snprintf(sub, sizeof(sub), "%s/none", dirbase);
	check_dir(sub, -ENOENT, "none");
	check_dir("relative/dir", -EINVAL, "not an absolute path");

	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dirbase);
		CHECK(system(cmd) == 0, "system(cmd) == 0");
	}
}

/* A socket served by another uid (planted where diofsctl looks) is refused
 * by its credentials before a command goes out. */
TEST(socket_served_by_another_uid_refused, .needs = TEST_NEEDS_ROOT)
{
	char dir[] = "/tmp/diofs-test-fake-XXXXXX", path[64], err[512];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct diofsctl *ctl;
	int ready[2], lfd;
	pid_t pid;
	char ch;

	REQUIRE(mkdtemp(dir) != NULL && chown(dir, OTHER, OTHER) == 0,
	        "mkdtemp(dir) != NULL && chown(dir, OTHER, OTHER) == 0");
	snprintf(path, sizeof(path), "%s/fake.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	REQUIRE(pipe2(ready, O_CLOEXEC) == 0, "pipe2(ready, O_CLOEXEC) == 0");
	pid = fork();
	REQUIRE(pid >= 0, "pid >= 0");
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

		CHECK(poll(&p, 1, 10000) == 1 && read(ready[0], &ch, 1) == 1,
		      "poll(&p, 1, 10000) == 1 && read(ready[0], &ch, 1) == 1");
	}
	close(ready[0]);

	ctl = diofsctl_connect(path, err, sizeof(err));
	CHECK(!ctl && strstr(err, "is served by uid 4243"), "connecting to a socket of uid "
	      "%d: saw %s (\"%s\"), wanted a refusal naming uid %d", OTHER,
	      ctl ? "a connection" : "a failure", err, OTHER);
	diofsctl_close(ctl);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(path);
	rmdir(dir);
}

/* ---- numbers, the held line, release modes ---- */

TEST(numbers_decimal_hex_and_k_m_g_units)
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

		CHECK(st == cases[i].st, "parse_number(\"%s\"): %d, wanted %d", cases[i].s, st,
		      cases[i].st);
		CHECK_EQ(v, st == NUM_OK ? cases[i].v : 12345);
	}
}

TEST(held_line_formats_and_parses_back)
{
	static const char *paths[] = { "/f", "/a dir/with  spaces=and=equals", "?" };
	struct diofs_held h;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char *line = ctl_held_format(UINT64_MAX, "write", UINT64_C(1) << 40, 65536,
					     4242, 77, paths[i]);

		REQUIRE(line != NULL, "line is not NULL");
		REQUIRE_EQ(ctl_held_parse(line, &h), 0);
		CHECK_EQ(h.id, UINT64_MAX);
		CHECK_STR(h.op, "write");
		CHECK_EQ(h.off, UINT64_C(1) << 40);
		CHECK_EQ(h.size, 65536);
		CHECK_EQ(h.pid, 4242);
		CHECK_EQ(h.unique, 77);
		CHECK_STR(h.path, paths[i]);
		free(line);
	}
	/* The daemon's words, as it has always written them. */
	CHECK_EQ(ctl_held_parse("id=3 op=read off=0 size=4096 pid=1 unique=9 path=/x",
				&h), 0);
	CHECK_EQ(h.id, 3);
	CHECK_STR(h.path, "/x");
	CHECK_EQ(ctl_held_parse("op=read path=/x", &h), -1);   /* no id */
	CHECK_EQ(ctl_held_parse("id=1 path=/x", &h), -1);      /* no op */
	CHECK_EQ(ctl_held_parse("id=1 op=read", &h), -1);      /* no path */
	CHECK_EQ(ctl_held_parse("", &h), -1);
}

TEST(release_modes_reply_errno_and_short)
{
	struct ctl_release r;
	char why[128];

	CHECK_EQ(ctl_release_parse("reply", &r, why, sizeof(why)), CTL_RELEASE_OK);
	CHECK_EQ(r.mode, CTL_RELEASE_REPLY);
	CHECK_EQ(ctl_release_parse("errno=enodata", &r, why, sizeof(why)),
		 CTL_RELEASE_OK);
	CHECK(r.mode == CTL_RELEASE_ERRNO && r.arg == ENODATA,
	      "r.mode == CTL_RELEASE_ERRNO && r.arg == ENODATA");
	CHECK_EQ(ctl_release_parse("errno=5", &r, why, sizeof(why)), CTL_RELEASE_OK);
	CHECK(r.mode == CTL_RELEASE_ERRNO && r.arg == 5,
	      "r.mode == CTL_RELEASE_ERRNO && r.arg == 5");
	CHECK_EQ(ctl_release_parse("short=4k", &r, why, sizeof(why)), CTL_RELEASE_OK);
	CHECK(r.mode == CTL_RELEASE_SHORT && r.arg == 4096,
	      "r.mode == CTL_RELEASE_SHORT && r.arg == 4096");
	CHECK_EQ(ctl_release_parse("short=0", &r, why, sizeof(why)), CTL_RELEASE_OK);
	CHECK(r.mode == CTL_RELEASE_SHORT && r.arg == 0,
	      "r.mode == CTL_RELEASE_SHORT && r.arg == 0");

	CHECK_EQ(ctl_release_parse("errno=NOTANERRNO", &r, why, sizeof(why)),
		 CTL_RELEASE_BAD_ARG);
	CHECK_STR(why, "unknown errno name: NOTANERRNO");
	CHECK_EQ(ctl_release_parse("short=x", &r, why, sizeof(why)), CTL_RELEASE_BAD_ARG);
	CHECK_STR(why, "bad length: x");
	CHECK_EQ(ctl_release_parse("short=99999999999999999999", &r, why, sizeof(why)),
		 CTL_RELEASE_BAD_ARG);
	CHECK_EQ(ctl_release_parse("bogus", &r, why, sizeof(why)), CTL_RELEASE_NO_MODE);
	CHECK(strstr(why, "bad reply: bogus") != NULL,
	      "strstr(why, \"bad reply: bogus\") is not NULL");
	CHECK_EQ(ctl_release_parse("Reply", &r, NULL, 0), CTL_RELEASE_NO_MODE);
}

/* ---- the trace's record ---- */

/* r formatted, then parsed back from a copy: every field as it was. */
static void trace_round_trip(const struct trace_rec *r)
{
	size_t max = trace_rec_size(r);
	char *line = malloc(max + 1), *end, why[128] = "";
	struct trace_rec back;

	REQUIRE(line != NULL, "out of memory");
	end = trace_rec_format(line, r);
	REQUIRE((size_t)(end - line) <= max, "wrote %zu bytes, trace_rec_size said %zu", (size_t)(end - line), max);
	REQUIRE_EQ(end[-1], '\n');
	end[-1] = '\0';
	/* one line, no raw control byte */
	for (const char *p = line; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f, "raw byte %#x in %s", (unsigned char)*p, line);
	REQUIRE(trace_rec_parse(line, &back, why, sizeof(why)), "trace_rec_parse: %s", why);
	CHECK(back.start == r->start && back.end == r->end && back.unique == r->unique &&
		  back.nodeid == r->nodeid && back.off == r->off && back.size == r->size &&
		  back.replied == r->replied && back.err_no == r->err_no && back.pid == r->pid &&
		  back.uid == r->uid && back.rule == r->rule, "numbers differ after a round trip: %s", line);
	CHECK_STR(back.op, r->op);
	CHECK_MEM(back.path, r->path, strlen(r->path) + 1, "path after a round trip: %s", line);
	CHECK_STR(back.err, r->err);
	CHECK_EQ(back.has_fh, r->has_fh);
	CHECK(!r->has_fh || back.fh == r->fh, "fh %ju, wanted %ju", (uintmax_t)back.fh, (uintmax_t)r->fh);
	CHECK_EQ(back.has_dio, r->has_dio);
	CHECK(!r->has_dio || (back.o_direct == r->o_direct &&
			      back.fopen_direct_io == r->fopen_direct_io), "o_direct/fopen_direct_io differ: %s", line);
	CHECK_EQ(!back.proto, !r->proto);
	if (r->proto && back.proto) {
		CHECK_STR(back.proto, r->proto);
		CHECK_STR(back.proto_write, r->proto_write);
	}
	free(line);
}

TEST(trace_records_format_and_parse_back)
{
	static const char *paths[] = {
		"/f", "", "/a \"quoted\" \\ name", "/ctl\x01\x1b[31m\x7f", "/\xff\xfe lone bytes",
		"/caf\xc3\xa9 \xe2\x82\xac", "/\xc2\x85 C1",
	};
	struct trace_rec r = {
		.start = UINT64_MAX, .end = 1, .unique = UINT64_C(1) << 63, .op = "read",
		.nodeid = 1, .off = INT64_MIN, .size = 0, .replied = 4096, .err_no = 0,
		.err = "", .pid = INT32_MAX, .uid = UINT32_MAX, .rule = -1,
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		r.path = paths[i];
		r.has_fh = i & 1;
		r.fh = UINT64_MAX - i;
		r.has_dio = i & 2;
		r.o_direct = i & 4;
		r.fopen_direct_io = !(i & 4);
		r.proto = i & 4 ? "unknown-unique" : NULL;
		r.proto_write = i & 4 ? "ENOENT" : NULL;
		r.err_no = i & 1 ? EIO : 0;
		r.err = i & 1 ? "EIO" : "";
		trace_round_trip(&r);
	}
	for (int i = 0; i < 1000; i++) {
		char path[64];

		for (size_t k = 0; k + 1 < sizeof(path); k++)
			path[k] = (char)(1 + rand() % 255);
		path[rand() % sizeof(path)] = '\0';
		path[sizeof(path) - 1] = '\0';
		r.path = path;
		r.off = (int64_t)rand() - RAND_MAX / 2;
		trace_round_trip(&r);
	}
}

/* The line as readers outside C (jq, the soak's and the demo's readers)
 * see it: keys in this order, no spaces. */
TEST(trace_record_text_keys_in_order_no_spaces)
{
	struct trace_rec r = {
		.start = 10, .end = 20, .unique = 3, .op = "read", .nodeid = 1, .path = "/d/f\"",
		.has_fh = true, .fh = 7, .off = 0, .size = 4096, .replied = 4096, .err_no = 0,
		.err = "", .has_dio = true, .o_direct = true, .pid = 42, .uid = 0, .rule = 2,
	};
	char line[1024], *end = trace_rec_format(line, &r);

	*end = '\0';
	CHECK_STR(line, "{\"start\":10,\"end\":20,\"unique\":3,\"op\":\"read\","
			       "\"nodeid\":1,\"path\":\"/d/f\\\"\",\"fh\":7,\"off\":0,\"size\":4096,"
			       "\"replied\":4096,\"errno\":0,\"err\":\"\",\"o_direct\":true,"
			       "\"fopen_direct_io\":false,\"pid\":42,\"uid\":0,\"rule\":2}\n");
	r.has_fh = r.has_dio = false;
	r.off = -1;
	r.err_no = ENOENT;
	r.err = "ENOENT";
	r.proto = "errno";
	r.proto_write = "EINVAL";
	r.path = "\x1b";
	*trace_rec_format(line, &r) = '\0';
	CHECK_STR(line, "{\"start\":10,\"end\":20,\"unique\":3,\"op\":\"read\","
			       "\"nodeid\":1,\"path\":\"\\u001b\",\"off\":-1,\"size\":4096,"
			       "\"replied\":4096,\"errno\":2,\"err\":\"ENOENT\",\"pid\":42,\"uid\":0,"
			       "\"rule\":2,\"proto\":\"errno\",\"proto_write\":\"EINVAL\"}\n");
}

TEST(trace_records_refused_malformed_missing_wrong_type)
{
#define BASE "\"start\":1,\"end\":2,\"unique\":3,\"op\":\"read\",\"nodeid\":1,\"path\":\"/f\"," \
	     "\"off\":0,\"size\":1,\"replied\":1,\"errno\":0,\"err\":\"\",\"pid\":1,\"uid\":0," \
	     "\"rule\":0"
	static const struct {
		const char *line, *why;
	} bad[] = {
		{ "", "does not start with {" },
		{ "[" BASE "]", "does not start with {" },
		{ "{" BASE "} ", "junk after the object" },
		{ "{" BASE ",\"start\":1}", "start twice" },
		{ "{" BASE ",\"o_direct\":true}", "fopen_direct_io missing from its group" },
		{ "{" BASE ",\"proto_write\":\"ok\"}", "proto missing from its group" },
		{ "{" BASE ",\"fh\":\"7\"}", "bad value for fh" },
		{ "{" BASE ",\"fh\":-7}", "bad value for fh" },
		{ "{" BASE ",\"o_direct\":1,\"fopen_direct_io\":true}", "bad value for o_direct" },
		{ "{" BASE ",\"fh\":18446744073709551616}", "bad value for fh" },
		{ "{" BASE ",\"x\":\"\\u0100\"}", "bad value for x" },
		{ "{" BASE ",\"x\":\"\\q\"}", "bad value for x" },
		{ "{" BASE ",\"x\":\"\x01\"}", "bad value for x" },
		{ "{" BASE ",\"x\":nul}", "bad value for x" },
		{ "{" BASE ",x:1}", "no key at offset" },
		{ "{\"end\":2}", "no start" },
	};
	struct trace_rec r;
	char line[512], why[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "%s", bad[i].line);
		why[0] = '\0';
		CHECK(!trace_rec_parse(line, &r, why, sizeof(why)), "%s: parsed", bad[i].line);
		/* the reason, up to the offset it may name */
		CHECK(strncmp(why, bad[i].why, strlen(bad[i].why)) == 0, "%s: \"%s\", wanted \"%s\"",
		      bad[i].line, why, bad[i].why);
	}
	/* A field added later is passed over; a pid that does not fit an int
	 * is refused; strings come back unescaped. */
	snprintf(line, sizeof(line), "{" BASE ",\"later\":\"\\u00ff\\n\",\"more\":-1,\"b\":false}");
	CHECK(trace_rec_parse(line, &r, why, sizeof(why)), "a field added later: %s", why);
	CHECK(!r.has_fh && !r.has_dio && !r.proto, "optional groups seen where there were none");
	snprintf(line, sizeof(line), "{" BASE ",\"path\":\"/\\u00ff\\\"\\/\\t\"}");
	CHECK(!trace_rec_parse(line, &r, why, sizeof(why)), "path twice: parsed");
	snprintf(line, sizeof(line), "%s",
		 "{\"start\":1,\"end\":2,\"unique\":3,\"op\":\"read\",\"nodeid\":1,"
		 "\"path\":\"/\\u00ff\\\"\\/\\t\",\"off\":0,\"size\":1,\"replied\":1,\"errno\":0,"
		 "\"err\":\"\",\"pid\":2147483648,\"uid\":0,\"rule\":0}");
	CHECK(!trace_rec_parse(line, &r, why, sizeof(why)), "pid 2147483648: parsed");
	CHECK_STR(why, "bad value for pid");
	snprintf(line, sizeof(line), "%s",
		 "{\"start\":1,\"end\":2,\"unique\":3,\"op\":\"read\",\"nodeid\":1,"
		 "\"path\":\"/\\u00ff\\\"\\/\\t\",\"off\":0,\"size\":1,\"replied\":1,\"errno\":0,"
		 "\"err\":\"\",\"pid\":-2147483648,\"uid\":0,\"rule\":0}");
	REQUIRE(trace_rec_parse(line, &r, why, sizeof(why)), "pid -2147483648: %s", why);
	CHECK_EQ(r.pid, INT32_MIN);
	CHECK_STR(r.path, "/\xff\"/\t");
#undef BASE
}

TEST_MAIN("test_ctl_proto")
