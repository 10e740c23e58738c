/* Rule matching through a real mount: op sets, path globs, offset and size
 * ranges, pid (a forked child against its parent), nth, count, prob with a
 * seed (the sequence checked against the documented splitmix64 draw), the
 * first-match order; rule list/del/clear, stats, and rules loaded from a
 * file at start (a bad file: one clear error, nothing mounted). */
#include <config.h>
#include "itest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FSIZE (64 * 1024)

/* One read's errno: 0 if it returned len bytes of the pattern. */
static int read_err(int fd, size_t len, off_t off, unsigned int seed)
{
	char buf[8192];
	ssize_t r = pread(fd, buf, len, off);

	if (r < 0)
		return errno;
	if ((size_t)r != len || pattern_mismatch(buf, len, (uint64_t)off, seed) >= 0)
		return -1; /* wrong data: no errno says that */
	return 0;
}

static void expect_read(int fd, size_t len, off_t off, unsigned int seed, int want,
			const char *what)
{
	int err = read_err(fd, len, off, seed);

	CHECK(err == want, "%s: read of %zu at %jd saw %s, wanted %s", what, len, (intmax_t)off,
	      err == -1 ? "wrong data or length" : expect_errname(err), expect_errname(want));
}

static void expect_counts(struct diofsctl *c, int id, uint64_t matched, uint64_t acted)
{
	uint64_t m = 0, a = 0;

	if (CHECK(itest_rule_counts(c, id, &m, &a, NULL, 0), "rule %d is not listed", id))
		CHECK(m == matched && a == acted, "rule %d: saw matched=%ju acted=%ju, wanted "
		      "matched=%ju acted=%ju", id, (uintmax_t)m, (uintmax_t)a, (uintmax_t)matched,
		      (uintmax_t)acted);
}

static struct diofs_mount *mount_with(const char *const *files, struct diofsctl **c)
{
	struct diofs_mount *m = itest_mount(NULL);

	if (!m)
		return NULL;
	for (; *files; files++)
		if (!itest_make_file(m, *files, FSIZE, 1))
			return NULL;
	*c = itest_ctl(m);
	return *c ? m : NULL;
}

ITEST(op_set_matches_only_its_ops)
{
	static const char *const files[] = { "f", NULL };
	struct diofsctl *c;
	struct diofs_mount *m = mount_with(files, &c);
	char buf[100];
	ssize_t r;
	int fd, id;

	REQUIRE(m, "no mount");
	fd = itest_open(m, "f", O_RDWR);
	REQUIRE(fd >= 0, "open f: %s", strerror(errno));
	REQUIRE((id = itest_rule(c, "fail=EIO op=read,write")) > 0 &&
		itest_rule(c, "fail=EPERM op=mkdir,unlink") > 0, "no rules");
	expect_read(fd, 100, 0, 1, EIO, "op=read,write");
	pattern_fill(buf, sizeof(buf), 0, 1);
	r = pwrite(fd, buf, sizeof(buf), 0);
	CHECK(r == -1 && errno == EIO, "op=read,write: write saw %zd (%s), wanted -1 (EIO)", r,
	      expect_errname(r < 0 ? errno : 0));
	r = mkdir(diofs_mnt_path(m, "d"), 0755);
	CHECK(r == -1 && errno == EPERM, "op=mkdir,unlink: mkdir saw %zd (%s), wanted -1 (EPERM)",
	      r, expect_errname(r < 0 ? errno : 0));
	r = unlink(diofs_mnt_path(m, "f"));
	CHECK(r == -1 && errno == EPERM, "op=mkdir,unlink: unlink saw %zd (%s), wanted -1 "
	      "(EPERM)", r, expect_errname(r < 0 ? errno : 0));
	/* Ops no rule names: open, create, rename, statfs. */
	r = itest_open(m, "f", O_RDONLY);
	CHECK(r >= 0, "open (no rule): saw %s, wanted an fd", strerror(errno));
	r = itest_open(m, "g", O_CREAT | O_WRONLY);
	CHECK(r >= 0, "create (no rule): saw %s, wanted an fd", strerror(errno));
	r = rename(diofs_mnt_path(m, "g"), diofs_mnt_path(m, "h"));
	CHECK(r == 0, "rename (no rule): saw %s, wanted success", strerror(errno));
	expect_counts(c, id, 2, 2);
}

ITEST(path_glob_stops_at_slash)
{
	static const char *const files[] = {
		"d/f1", "d/fa", "d/g1", "d/gg1", "d/fx/f2", "f1", "e/f1", NULL,
	};
	static const struct {
		const char *name;
		int err;
	} cases[] = {
		{ "d/f1", EIO }, { "d/fa", EIO }, { "d/fx/f2", 0 }, { "f1", 0 }, { "e/f1", 0 },
		{ "d/g1", ENOSPC }, { "d/gg1", 0 },
	};
	struct diofsctl *c;
	struct diofs_mount *m = mount_with(files, &c);

	REQUIRE(m, "no mount");
	/* "*" and "?" stop at "/"; the leading "/" is optional. */
	REQUIRE(itest_rule(c, "fail=EIO op=read path=/d/f*") > 0 &&
		itest_rule(c, "fail=ENOSPC op=read path=d/g?") > 0, "no rules");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = itest_open(m, cases[i].name, O_RDONLY);
		char what[128];

		if (!CHECK(fd >= 0, "open %s: %s", cases[i].name, strerror(errno)))
			continue;
		snprintf(what, sizeof(what), "path=/d/f* or d/g?, file %s", cases[i].name);
		expect_read(fd, 10, 0, 1, cases[i].err, what);
		itest_close(fd);
	}
}

ITEST(offset_and_size_ranges_inclusive)
{
	static const char *const files[] = { "f", "g", "w", NULL };
	struct diofsctl *c;
	struct diofs_mount *m = mount_with(files, &c);
	char buf[2048];
	int fd, gfd, wfd;
	ssize_t r;

	REQUIRE(m, "no mount");
	fd = itest_open(m, "f", O_RDONLY);
	gfd = itest_open(m, "g", O_RDONLY);
	wfd = itest_open(m, "w", O_WRONLY);
	REQUIRE(fd >= 0 && gfd >= 0 && wfd >= 0, "open: %s", strerror(errno));
	REQUIRE(itest_rule(c, "fail=EIO op=read path=/f offset=8k-12287") > 0 &&
		itest_rule(c, "fail=EIO op=read path=/g offset=60000-") > 0 &&
		itest_rule(c, "fail=ENOSPC op=read path=/f size=100-200") > 0 &&
		itest_rule(c, "fail=EFBIG op=write size=1k") > 0, "no rules");

	expect_read(fd, 10, 0, 1, 0, "offset=8k-12287");
	expect_read(fd, 10, 8191, 1, 0, "offset=8k-12287");
	expect_read(fd, 10, 8192, 1, EIO, "offset=8k-12287");
	expect_read(fd, 10, 12287, 1, EIO, "offset=8k-12287");
	expect_read(fd, 10, 12288, 1, 0, "offset=8k-12287");
	expect_read(gfd, 10, 59999, 1, 0, "offset=60000-");
	expect_read(gfd, 10, 60000, 1, EIO, "offset=60000-");
	expect_read(gfd, 10, 65000, 1, EIO, "offset=60000-");
	expect_read(fd, 99, 0, 1, 0, "size=100-200");
	expect_read(fd, 100, 0, 1, ENOSPC, "size=100-200");
	expect_read(fd, 200, 0, 1, ENOSPC, "size=100-200");
	expect_read(fd, 201, 0, 1, 0, "size=100-200");
	/* An offset the first rule takes is not seen by the size rule. */
	expect_read(fd, 150, 9000, 1, EIO, "offset and size both match");

	pattern_fill(buf, sizeof(buf), 0, 1);
	r = pwrite(wfd, buf, 1024, 0);
	CHECK(r == -1 && errno == EFBIG, "size=1k: write of 1024 saw %zd (%s), wanted -1 (EFBIG)",
	      r, expect_errname(r < 0 ? errno : 0));
	r = pwrite(wfd, buf, 1023, 0);
	CHECK(r == 1023, "size=1k: write of 1023 saw %zd (%s), wanted 1023", r,
	      expect_errname(r < 0 ? errno : 0));
	r = pwrite(wfd, buf, 1025, 0);
	CHECK(r == 1025, "size=1k: write of 1025 saw %zd (%s), wanted 1025", r,
	      expect_errname(r < 0 ? errno : 0));
}

/* A forked child that reads fd once per byte on its command pipe and
 * answers with the errno (read_err). */
struct child {
	pid_t pid;
	int cmd, res;
};

static bool child_start(struct child *ch, int fd)
{
	int cmd[2], res[2];

	if (pipe2(cmd, O_CLOEXEC) || pipe2(res, O_CLOEXEC))
		return CHECK(false, "pipe: %s", strerror(errno));
	ch->pid = fork();
	if (ch->pid == 0) {
		char go;

		close(cmd[1]);
		close(res[0]);
		while (read(cmd[0], &go, 1) == 1) {
			int err = read_err(fd, 100, 0, 1);

			if (write(res[1], &err, sizeof(err)) != sizeof(err))
				_exit(2);
		}
		_exit(0);
	}
	close(cmd[0]);
	close(res[1]);
	ch->cmd = cmd[1];
	ch->res = res[0];
	return CHECK(ch->pid > 0, "fork: %s", strerror(errno));
}

static int child_read(struct child *ch)
{
	struct pollfd p = { .fd = ch->res, .events = POLLIN };
	int err = -2;

	if (write(ch->cmd, "g", 1) != 1 || poll(&p, 1, ITEST_WAIT_MS) != 1 ||
	    read(ch->res, &err, sizeof(err)) != sizeof(err))
		CHECK(false, "the child did not answer");
	return err;
}

static void child_stop(struct child *ch)
{
	close(ch->cmd);
	close(ch->res);
	if (!diofs_wait_exit(ch->pid, ITEST_WAIT_MS, NULL)) {
		kill(ch->pid, SIGKILL);
		diofs_wait_exit(ch->pid, ITEST_WAIT_MS, NULL);
	}
}

ITEST(pid_matches_only_that_process)
{
	static const char *const files[] = { "f", NULL };
	struct diofsctl *c;
	struct diofs_mount *m = mount_with(files, &c);
	struct child ch = { .pid = -1, .cmd = -1, .res = -1 };
	int fd, id, err;

	REQUIRE(m, "no mount");
	fd = itest_open(m, "f", O_RDONLY);
	REQUIRE(fd >= 0, "open f: %s", strerror(errno));
	REQUIRE(child_start(&ch, fd), "no child");

	/* The child's pid: its reads fail, the parent's do not. */
	id = itest_rule(c, "fail=EIO op=read pid=%d", (int)ch.pid);
	if (id > 0) {
		err = child_read(&ch);
		CHECK(err == EIO, "pid=child: the child's read saw %s, wanted EIO",
		      expect_errname(err));
		expect_read(fd, 100, 0, 1, 0, "pid=child, the parent");
		err = child_read(&ch);
		CHECK(err == EIO, "pid=child: the child's second read saw %s, wanted EIO",
		      expect_errname(err));
		expect_counts(c, id, 2, 2);
		CHECK(diofsctl_rule_del(c, id) == 0, "rule del %d: %s", id, diofsctl_error(c));
	}
	/* The parent's pid (this thread: the kernel sends the caller's thread
	 * id, which is the pid in a process's first thread). */
	id = itest_rule(c, "fail=ENXIO op=read pid=%d", (int)getpid());
	if (id > 0) {
		expect_read(fd, 100, 0, 1, ENXIO, "pid=parent, the parent");
		err = child_read(&ch);
		CHECK(err == 0, "pid=parent: the child's read saw %s, wanted success",
		      expect_errname(err));
		expect_counts(c, id, 1, 1);
	}
	child_stop(&ch);
}

ITEST(nth_and_count_pick_calls)
{
	static const char *const files[] = { "f", "g", NULL };
	struct diofsctl *c;
	struct diofs_mount *m = mount_with(files, &c);
	int fd, gfd, nid = 0, cid = 0;
	char what[64];

	REQUIRE(m, "no mount");
	fd = itest_open(m, "f", O_RDONLY);
	gfd = itest_open(m, "g", O_RDONLY);
	REQUIRE(fd >= 0 && gfd >= 0, "open: %s", strerror(errno));
	REQUIRE((nid = itest_rule(c, "fail=EIO op=read path=/f nth=3")) > 0 &&
		(cid = itest_rule(c, "fail=EIO op=read path=/g count=2")) > 0, "no rules");
	for (int i = 1; i <= 5; i++) {
		snprintf(what, sizeof(what), "nth=3, read %d", i);
		expect_read(fd, 10, i, 1, i == 3 ? EIO : 0, what);
	}
	expect_counts(c, nid, 5, 1);
	for (int i = 1; i <= 4; i++) {
		snprintf(what, sizeof(what), "count=2, read %d", i);
		expect_read(gfd, 10, i, 1, i <= 2 ? EIO : 0, what);
	}
	expect_counts(c, cid, 4, 2);
}

/* The draw rules.h documents: splitmix64 of the seed, one draw per match,
 * act if the draw (53 bits in [0,1)) is below prob. */
static double model_draw(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53;
}

#define DRAWS 64

/* The reads that fail under prob/seed/count, as the model says. */
static void model(double prob, uint64_t seed, uint64_t count, bool out[DRAWS])
{
	uint64_t state = seed, acted = 0;

	for (int i = 0; i < DRAWS; i++) {
		bool act = prob >= 1.0 || model_draw(&state) < prob;

		if (count && acted >= count)
			act = false;
		acted += act;
		out[i] = act;
	}
}

/* Add the rule, read DRAWS times, delete it; which reads failed. */
static bool observe(struct diofsctl *c, int fd, const char *rule, bool out[DRAWS])
{
	int id = itest_rule(c, "%s", rule);
	bool ok = true;

	if (id < 0)
		return false;
	for (int i = 0; i < DRAWS; i++) {
		int err = read_err(fd, 10, i, 1);

		ok &= CHECK(err == 0 || err == EIO, "%s: read %d saw %s, wanted 0 or EIO", rule, i,
			    expect_errname(err));
		out[i] = err == EIO;
	}
	CHECK(diofsctl_rule_del(c, id) == 0, "rule del %d: %s", id, diofsctl_error(c));
	return ok;
}

static void pattern(const bool v[DRAWS], char s[DRAWS + 1])
{
	for (int i = 0; i < DRAWS; i++)
		s[i] = v[i] ? 'x' : '.';
	s[DRAWS] = '\0';
}

static void expect_sequence(struct diofsctl *c, int fd, const char *rule, double prob,
			    uint64_t seed, uint64_t count)
{
	bool seen[DRAWS], want[DRAWS];
	char s[DRAWS + 1], w[DRAWS + 1];

	if (!observe(c, fd, rule, seen))
		return;
	model(prob, seed, count, want);
	pattern(seen, s);
	pattern(want, w);
	CHECK(strcmp(s, w) == 0, "%s: failed reads (x) saw %s, wanted %s", rule, s, w);
}

ITEST(prob_seed_is_reproducible)
{
	static const char *const files[] = { "p", NULL };
	struct diofsctl *c;
	struct diofs_mount *m = mount_with(files, &c);
	bool a[DRAWS], b[DRAWS];
	char sa[DRAWS + 1], sb[DRAWS + 1];
	int fd, n = 0;

	REQUIRE(m, "no mount");
	fd = itest_open(m, "p", O_RDONLY);
	REQUIRE(fd >= 0, "open p: %s", strerror(errno));

	expect_sequence(c, fd, "fail=EIO op=read prob=0.5 seed=42", 0.5, 42, 0);
	/* The same seed again: the same sequence. */
	if (observe(c, fd, "fail=EIO op=read prob=0.5 seed=42", a) &&
	    observe(c, fd, "fail=EIO op=read prob=0.5 seed=42", b)) {
		pattern(a, sa);
		pattern(b, sb);
		CHECK(strcmp(sa, sb) == 0, "seed=42 twice: saw %s then %s, wanted the same", sa, sb);
		for (int i = 0; i < DRAWS; i++)
			n += a[i];
		CHECK(n > 0 && n < DRAWS, "prob=0.5: %d of %d reads failed, wanted some but not "
		      "all", n, DRAWS);
	}
	expect_sequence(c, fd, "fail=EIO op=read prob=0.5 seed=7", 0.5, 7, 0);
	expect_sequence(c, fd, "fail=EIO op=read prob=0.25", 0.25, 1, 0); /* seed 1 */
	expect_sequence(c, fd, "fail=EIO op=read prob=0.5 seed=42 count=3", 0.5, 42, 3);
	expect_sequence(c, fd, "fail=EIO op=read prob=0", 0.0, 1, 0);
	expect_sequence(c, fd, "fail=EIO op=read prob=1", 1.0, 1, 0);
}

ITEST(first_acting_rule_takes_call)
{
	static const char *const files[] = { "f", NULL };
	struct diofsctl *c;
	struct diofs_mount *m = mount_with(files, &c);
	int fd, a = 0, b = 0;

	REQUIRE(m, "no mount");
	fd = itest_open(m, "f", O_RDONLY);
	REQUIRE(fd >= 0, "open f: %s", strerror(errno));
	REQUIRE((a = itest_rule(c, "fail=EIO op=read count=1")) > 0 &&
		(b = itest_rule(c, "fail=ENOSPC op=read")) > 0, "no rules");
	expect_read(fd, 10, 0, 1, EIO, "first rule (count=1)");
	expect_read(fd, 10, 0, 1, ENOSPC, "second rule, the first spent");
	expect_read(fd, 10, 0, 1, ENOSPC, "second rule, the first spent");
	expect_counts(c, a, 3, 1);
	expect_counts(c, b, 2, 2);
}

ITEST(rule_ids_never_reused)
{
	static const char *const files[] = { "f", NULL };
	struct diofsctl *c;
	struct diofs_mount *m = mount_with(files, &c);
	uint64_t mt, ac;
	char text[256], **lines;
	int fd, id[3] = { 0 }, n, later;

	REQUIRE(m, "no mount");
	fd = itest_open(m, "f", O_RDONLY);
	REQUIRE(fd >= 0, "open f: %s", strerror(errno));
	n = diofsctl_cmd(c, &lines, "rule list");
	CHECK(n == 0, "rule list of a fresh mount: saw %d lines, wanted 0", n);
	diofsctl_free_lines(lines);

	REQUIRE((id[0] = itest_rule(c, "delay=1 op=write")) > 0 &&
		(id[1] = itest_rule(c, "fail=EIO op=read path=/f")) > 0 &&
		(id[2] = itest_rule(c, "hold op=mkdir")) > 0, "no rules");
	CHECK(id[0] < id[1] && id[1] < id[2], "ids: saw %d %d %d, wanted increasing", id[0],
	      id[1], id[2]);
	n = diofsctl_cmd(c, &lines, "rule list");
	if (CHECK(n == 3, "rule list: saw %d lines (%s), wanted 3", n,
		  n < 0 ? diofsctl_error(c) : "")) {
		for (int i = 0; i < 3; i++) {
			int rid = 0;

			sscanf(lines[i], "%d", &rid);
			CHECK(rid == id[i], "rule list line %d: saw \"%s\", wanted rule %d in order",
			      i, lines[i], id[i]);
		}
	}
	diofsctl_free_lines(lines);
	expect_read(fd, 10, 0, 1, EIO, "rule listed");
	if (CHECK(itest_rule_counts(c, id[1], &mt, &ac, text, sizeof(text)), "rule %d not "
		  "listed", id[1])) {
		CHECK(mt == 1 && ac == 1, "rule %d: saw matched=%ju acted=%ju, wanted 1 1", id[1],
		      (uintmax_t)mt, (uintmax_t)ac);
		CHECK(strstr(text, "fail=EIO") && strstr(text, "op=read") && strstr(text, "path=/f"),
		      "rule %d listed as \"%s\", wanted fail=EIO op=read path=/f", id[1], text);
	}

	CHECK(diofsctl_rule_del(c, id[1]) == 0, "rule del %d: %s", id[1], diofsctl_error(c));
	expect_read(fd, 10, 0, 1, 0, "rule deleted");
	n = diofsctl_cmd(c, &lines, "rule list");
	CHECK(n == 2 && lines && atoi(lines[0]) == id[0] && atoi(lines[1]) == id[2],
	      "rule list after del %d: saw %d lines (%s / %s), wanted rules %d and %d", id[1], n,
	      n > 0 ? lines[0] : "-", n > 1 ? lines[1] : "-", id[0], id[2]);
	diofsctl_free_lines(lines);
	n = diofsctl_rule_del(c, id[1]);
	CHECK(n < 0 && strstr(diofsctl_error(c), "no rule"), "rule del %d twice: saw %d (%s), "
	      "wanted err ... no rule", id[1], n, diofsctl_error(c));

	CHECK(diofsctl_rule_clear(c) == 0, "rule clear: %s", diofsctl_error(c));
	n = diofsctl_cmd(c, &lines, "rule list");
	CHECK(n == 0, "rule list after clear: saw %d lines, wanted 0", n);
	diofsctl_free_lines(lines);
	CHECK(mkdir(diofs_mnt_path(m, "dir"), 0755) == 0, "mkdir after clear (was held): %s",
	      strerror(errno));
	/* Ids are never reused. */
	later = itest_rule(c, "fail=EIO op=read path=/f");
	CHECK(later > id[2], "the id after clear: saw %d, wanted more than %d", later, id[2]);
	expect_read(fd, 10, 0, 1, EIO, "rule after clear");
}

ITEST(stats_count_ops_and_rules)
{
	static const char *const files[] = { "f", NULL };
	struct diofsctl *c;
	struct diofs_mount *m = mount_with(files, &c);
	uint64_t r0, re0, w0, we0, o0, oe0, r1, re1, w1, we1, o1, oe1;
	char buf[100], **lines;
	int fd, id, n;
	bool found_rule = false, found_held = false;

	REQUIRE(m, "no mount");
	fd = itest_open(m, "f", O_RDWR);
	REQUIRE(fd >= 0, "open f: %s", strerror(errno));
	REQUIRE((id = itest_rule(c, "fail=EIO op=read count=2")) > 0, "no rule");
	REQUIRE(itest_op_stats(c, "read", &r0, &re0) && itest_op_stats(c, "write", &w0, &we0) &&
		itest_op_stats(c, "open", &o0, &oe0), "no stats");
	for (int i = 0; i < 5; i++)
		expect_read(fd, 10, 0, 1, i < 2 ? EIO : 0, "count=2");
	pattern_fill(buf, sizeof(buf), 0, 1);
	for (int i = 0; i < 3; i++)
		CHECK(pwrite(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf), "write: %s",
		      strerror(errno));
	int fd2 = itest_open(m, "f", O_RDONLY);

	CHECK(fd2 >= 0, "open: %s", strerror(errno));
	REQUIRE(itest_op_stats(c, "read", &r1, &re1) && itest_op_stats(c, "write", &w1, &we1) &&
		itest_op_stats(c, "open", &o1, &oe1), "no stats");
	CHECK(r1 - r0 == 5 && re1 - re0 == 2, "read stats grew by count=%ju errors=%ju, wanted 5 "
	      "and 2", (uintmax_t)(r1 - r0), (uintmax_t)(re1 - re0));
	CHECK(w1 - w0 == 3 && we1 == we0, "write stats grew by count=%ju errors=%ju, wanted 3 "
	      "and 0", (uintmax_t)(w1 - w0), (uintmax_t)(we1 - we0));
	CHECK(o1 - o0 == 1 && oe1 == oe0, "open stats grew by count=%ju errors=%ju, wanted 1 "
	      "and 0", (uintmax_t)(o1 - o0), (uintmax_t)(oe1 - oe0));
	n = diofsctl_cmd(c, &lines, "stats");
	for (int i = 0; i < n; i++) {
		unsigned long long mt, ac;
		unsigned int held;
		int rid;

		if (sscanf(lines[i], "rule %d matched=%llu acted=%llu", &rid, &mt, &ac) == 3 &&
		    rid == id) {
			found_rule = true;
			CHECK(mt == 5 && ac == 2, "stats: \"%s\", wanted rule %d matched=5 acted=2",
			      lines[i], id);
		}
		if (sscanf(lines[i], "held %u", &held) == 1) {
			found_held = true;
			CHECK(held == 0, "stats: \"%s\", wanted held 0", lines[i]);
		}
	}
	CHECK(found_rule && found_held, "stats: the rule %d line%s and the held line%s missing",
	      id, found_rule ? " is there" : " is", found_held ? " is there" : " is");
	diofsctl_free_lines(lines);
}

/* A private directory for files the daemon reads at start. */
static bool scratch_dir(char *dir, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, len, "%s/diofs-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

static bool write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	bool ok = f && fputs(text, f) >= 0;

	if (f && fclose(f) != 0)
		ok = false;
	return CHECK(ok, "writing %s: %s", path, strerror(errno));
}

ITEST(rules_file_loaded_at_start)
{
	char dir[256], path[320], opts[400], text[256];
	struct diofs_held h[2];
	struct diofs_mount *m;
	struct diofsctl *c;
	uint64_t mt, ac;
	int fd, hfd, n;
	struct io *io;

	REQUIRE(scratch_dir(dir, sizeof(dir)), "no directory");
	snprintf(path, sizeof(path), "%s/rules", dir);
	if (!write_text(path, "# rules for the test\n\n   \n"
			"fail=EIO op=read path=/f nth=2\n"
			"  hold op=read path=/h   \n# the end\n"))
		goto out;
	snprintf(opts, sizeof(opts), "rules=%s", path);
	m = itest_mount(opts);
	if (!m)
		goto out;
	c = itest_ctl(m);
	if (!c || !itest_make_file(m, "f", FSIZE, 1) || !itest_make_file(m, "h", FSIZE, 1))
		goto out;
	n = diofsctl_cmd(c, NULL, "rule list");
	CHECK(n == 2, "rule list after -o rules: saw %d lines, wanted 2", n);
	CHECK(itest_rule_counts(c, 1, &mt, &ac, text, sizeof(text)) &&
	      strstr(text, "fail=EIO") && strstr(text, "nth=2"),
	      "rule 1: saw \"%s\", wanted the file's first rule", text);
	fd = itest_open(m, "f", O_RDONLY);
	hfd = itest_open(m, "h", O_RDONLY);
	if (!CHECK(fd >= 0 && hfd >= 0, "open: %s", strerror(errno)))
		goto out;
	expect_read(fd, 10, 0, 1, 0, "rules file, nth=2, first read");
	expect_read(fd, 10, 0, 1, EIO, "rules file, nth=2, second read");
	io = io_pread(hfd, 10, 0);
	n = itest_held(c, 1, h, 2);
	if (CHECK(n == 1 && strcmp(h[0].path, "/h") == 0, "held under the file's hold rule: saw "
		  "%d (%s), wanted 1 (/h)", n, n > 0 ? h[0].path : "-")) {
		CHECK(diofsctl_release(c, h[0].id, NULL) == 1, "release: %s", diofsctl_error(c));
		if (io_join(io))
			CHECK(io->ret == 10, "released read: saw %zd, wanted 10", io->ret);
	}
	expect_counts(c, 2, 1, 1);
out:
	unlink(path);
	rmdir(dir);
}

/* One run of diofs -o rules=FILE that must fail: exit 1, one line on
 * stderr naming want, nothing mounted. */
static void expect_bad_rules(const char *path, const char *want1, const char *want2)
{
	char opts[400], log[2048];
	struct own_daemon *d;
	int status = -1;

	snprintf(opts, sizeof(opts), "rules=%s", path);
	d = own_start(opts, false, true, &status);
	if (!d)
		return;
	itest_read_text(d->log, log, sizeof(log));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1, "-o %s: exit status saw %#x, "
	      "wanted 1", opts, status);
	CHECK(itest_count(log, "\n") == 1, "-o %s: stderr saw \"%s\", wanted one line", opts, log);
	CHECK(strstr(log, want1) && strstr(log, want2), "-o %s: stderr saw \"%s\", wanted it to "
	      "name \"%s\" and \"%s\"", opts, log, want1, want2);
	CHECK(!diofs_fuse_mounted_at(d->mnt), "-o %s: %s is mounted, wanted nothing mounted", opts,
	      d->mnt);
	own_stop(d);
}

ITEST(bad_rules_file_mounts_nothing)
{
	char dir[256], bad[320], bad2[320], missing[320], where[340];

	REQUIRE(scratch_dir(dir, sizeof(dir)), "no directory");
	snprintf(bad, sizeof(bad), "%s/bad", dir);
	snprintf(bad2, sizeof(bad2), "%s/bad2", dir);
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	if (write_text(bad, "# ok so far\nfail=EIO op=read\nexplode op=read\nhold\n")) {
		snprintf(where, sizeof(where), "%s:3", bad);
		expect_bad_rules(bad, where, "explode");
	}
	if (write_text(bad2, "hold op=read\nfail=EIO op=read frobnicate=1\n")) {
		snprintf(where, sizeof(where), "%s:2", bad2);
		expect_bad_rules(bad2, where, "frobnicate");
	}
	expect_bad_rules(missing, missing, "No such file");
	unlink(bad);
	unlink(bad2);
	rmdir(dir);
}

TEST_MAIN("test_inst_rules")
