/* The rules' actions and the holds, as a client of a real mount sees them:
 * hold (wait, act, release in every mode), delay, fail, short, overlong,
 * abort, crash; hundreds of holds at once; a signal interrupting a held
 * read; stopping the daemon with requests held.  Ordering comes from the
 * holds ("held min=N" waits in the daemon), never from sleeping. */
#include <config.h>
#include "itest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#define FSIZE (64 * 1024)

static bool is_conn_error(int err)
{
	return err == ENOTCONN || err == ECONNABORTED;
}

/* A read's result: ret bytes of the seed's pattern at off. */
static void check_read(const struct io *io, ssize_t want, unsigned int seed, const char *what)
{
	long bad;

	if (!CHECK(io->ret == want, "%s: read returned %zd (%s), wanted %zd", what, io->ret,
		   expect_errname(io->err), want))
		return;
	bad = pattern_mismatch(io->buf, (size_t)want, (uint64_t)io->off, seed);
	CHECK(bad < 0, "%s: data differs at byte %ld of the read at %jd", what, bad,
	      (intmax_t)io->off);
}

/* The "done when": a client holds the read its own thread issued,
 * knows that it is held, acts, releases it and sees the completion. */
ITEST(held_read_is_listed_then_released)
{
	struct diofs_mount *m = itest_mount(NULL);
	struct diofs_held h[4];
	struct diofsctl *c;
	char buf[4096];
	uint64_t matched, acted;
	struct io *io;
	int id, n, fd;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", FSIZE, 1), "no file");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	REQUIRE((id = itest_rule(c, "hold op=read path=/f count=1")) > 0, "no rule");
	fd = itest_open(m, "f", O_RDONLY);
	REQUIRE(fd >= 0, "open f: %s", strerror(errno));

	REQUIRE((io = io_pread(fd, 4096, 8192)), "no reader thread");
	n = itest_held(c, 1, h, 4);
	REQUIRE(n == 1, "held: saw %d calls, wanted 1", n);
	CHECK(strcmp(h[0].op, "read") == 0, "held op: saw %s, wanted read", h[0].op);
	CHECK(strcmp(h[0].path, "/f") == 0, "held path: saw %s, wanted /f", h[0].path);
	CHECK(h[0].off == 8192, "held off: saw %ju, wanted 8192", (uintmax_t)h[0].off);
	CHECK(h[0].size == 4096, "held size: saw %ju, wanted 4096", (uintmax_t)h[0].size);
	CHECK(h[0].pid == atomic_load(&io->tid), "held pid: saw %d, wanted the reader "
	      "thread's id %d", (int)h[0].pid, (int)atomic_load(&io->tid));
	CHECK(h[0].unique != 0, "held unique: saw 0, wanted the kernel's request id");
	CHECK(h[0].id > 0, "held id: saw 0, wanted an id");

	/* Act while it is held: it has not completed (it cannot), and the same
	 * file is still served to others (count=1 spent). */
	CHECK(!atomic_load(&io->done), "the held read completed before its release");
	memset(buf, 0, sizeof(buf));
	ssize_t r = pread(fd, buf, sizeof(buf), 0);

	CHECK(r == (ssize_t)sizeof(buf), "a second read of f while one is held: saw %zd (%s), "
	      "wanted %zu", r, expect_errname(r < 0 ? errno : 0), sizeof(buf));
	CHECK(pattern_mismatch(buf, sizeof(buf), 0, 1) < 0, "second read: wrong data");
	n = itest_held_now(c, h + 1, 3);
	CHECK(n == 1, "held after the second read: saw %d, wanted 1", n);
	CHECK(!atomic_load(&io->done), "the held read completed before its release");

	n = diofsctl_release(c, h[0].id, NULL);
	CHECK(n == 1, "release %ju: saw %d (%s), wanted 1", (uintmax_t)h[0].id, n,
	      n < 0 ? diofsctl_error(c) : "");
	REQUIRE(io_join(io), "the released read did not complete");
	check_read(io, 4096, 1, "released read");
	n = itest_held_now(c, h, 4);
	CHECK(n == 0, "held after release: saw %d, wanted 0", n);
	CHECK(itest_rule_counts(c, id, &matched, &acted, NULL, 0), "rule %d not listed", id);
	CHECK(matched == 2 && acted == 1, "rule counters: saw matched=%ju acted=%ju, wanted "
	      "matched=2 acted=1", (uintmax_t)matched, (uintmax_t)acted);
}

/* Release one held call with how; return its io once completed. */
static struct io *hold_and_release(struct diofsctl *c, struct io *io, const char *how,
				   const char *op)
{
	struct diofs_held h[2];
	int n;

	if (!io)
		return NULL;
	n = itest_held(c, 1, h, 2);
	if (!CHECK(n == 1, "held (%s, release %s): saw %d, wanted 1", op, how ? how : "-", n))
		return NULL;
	CHECK(strcmp(h[0].op, op) == 0, "held op: saw %s, wanted %s", h[0].op, op);
	CHECK(!atomic_load(&io->done), "the held %s completed before its release", op);
	n = diofsctl_release(c, h[0].id, how);
	CHECK(n == 1, "release %ju %s: saw %d (%s), wanted 1", (uintmax_t)h[0].id,
	      how ? how : "", n, n < 0 ? diofsctl_error(c) : "");
	return io_join(io) ? io : NULL;
}

/* An open(O_RDONLY) of name on a thread of its own, held, then released
 * with mode; NULL if that failed (reported). */
static struct io *open_released(const struct diofs_mount *m, struct diofsctl *c,
				const char *name, const char *mode)
{
	struct io *io = io_new(IO_OPEN, -1, 0, 0);

	if (!io)
		return NULL;
	snprintf(io->path, sizeof(io->path), "%s", diofs_mnt_path(m, name));
	io->flags = O_RDONLY;
	return hold_and_release(c, io_start(io) ? io : NULL, mode, "open");
}

ITEST(release_answers_reply_errno_short_all)
{
	static const struct {
		const char *mode;
		int err;
	} errno_modes[] = {
		{ "errno=EPERM", EPERM }, { "errno=enodata", ENODATA }, { "errno=5", EIO },
	};
	struct diofs_mount *m = itest_mount(NULL);
	struct diofsctl *c;
	struct io *io;
	struct stat st;
	char buf[2048];
	int fd, wfd, n;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", FSIZE, 2) && itest_make_file(m, "w", 0, 0) &&
		itest_make_file(m, "o", 10, 0), "no files");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	/* Opened before the rule that would hold these opens too. */
	fd = itest_open(m, "f", O_RDONLY);
	wfd = itest_open(m, "w", O_WRONLY);
	REQUIRE(fd >= 0 && wfd >= 0, "open: %s", strerror(errno));
	REQUIRE(itest_rule(c, "hold op=read,write,open path=/[fwo]") > 0, "no rule");

	/* reply: the read as it would have been */
	io = hold_and_release(c, io_pread(fd, 4096, 4096), "reply", "read");
	if (io)
		check_read(io, 4096, 2, "release reply");
	/* no mode: the same */
	io = hold_and_release(c, io_pread(fd, 1000, 3), NULL, "read");
	if (io)
		check_read(io, 1000, 2, "release (no mode)");
	/* errno=NAME, any case, and a number */
	for (size_t i = 0; i < sizeof(errno_modes) / sizeof(errno_modes[0]); i++) {
		io = hold_and_release(c, io_pread(fd, 4096, 0), errno_modes[i].mode, "read");
		if (io)
			CHECK(io->ret == -1 && io->err == errno_modes[i].err, "release %s: read saw "
			      "%zd (%s), wanted -1 (%s)", errno_modes[i].mode, io->ret,
			      expect_errname(io->err), expect_errname(errno_modes[i].err));
	}
	/* short=N: a read of at most N bytes, a write acknowledged N */
	io = hold_and_release(c, io_pread(fd, 4096, 5000), "short=100", "read");
	if (io)
		check_read(io, 100, 2, "release short=100");
	io = hold_and_release(c, io_pread(fd, 4096, 5000), "short=0", "read");
	if (io)
		check_read(io, 0, 2, "release short=0");
	io = hold_and_release(c, io_pwrite(wfd, 4096, 0, 7), "short=1000", "write");
	if (io) {
		CHECK(io->ret == 1000, "release short=1000: write saw %zd (%s), wanted 1000",
		      io->ret, expect_errname(io->err));
		CHECK(stat(diofs_backing_path(m, "w"), &st) == 0 && st.st_size == 1000,
		      "backing w after a write acknowledged short: saw size %jd, wanted 1000",
		      (intmax_t)st.st_size);
	}
	io = hold_and_release(c, io_pwrite(wfd, 4096, 0, 7), "errno=EDQUOT", "write");
	if (io)
		CHECK(io->ret == -1 && io->err == EDQUOT, "release errno=EDQUOT: write saw %zd "
		      "(%s), wanted -1 (EDQUOT)", io->ret, expect_errname(io->err));
	io = hold_and_release(c, io_pwrite(wfd, 2048, 100, 8), "reply", "write");
	if (io) {
		CHECK(io->ret == 2048, "release reply: write saw %zd (%s), wanted 2048", io->ret,
		      expect_errname(io->err));
		int bfd = open(diofs_backing_path(m, "w"), O_RDONLY | O_CLOEXEC);

		CHECK(bfd >= 0 && pread(bfd, buf, 2048, 100) == 2048 &&
		      pattern_mismatch(buf, 2048, 100, 8) < 0,
		      "backing w does not hold the released write's data");
		if (bfd >= 0)
			close(bfd);
	}
	/* an open held, failed, then let through */
	io = open_released(m, c, "o", "errno=EACCES");
	if (io)
		CHECK(io->ret == -1 && io->err == EACCES, "release errno=EACCES: open saw %zd (%s), "
		      "wanted -1 (EACCES)", io->ret, expect_errname(io->err));
	io = open_released(m, c, "o", "reply");
	if (io)
		CHECK(io->ret >= 0, "release reply: open saw %zd (%s), wanted an fd", io->ret,
		      expect_errname(io->err));

	/* release all: every held call at once; with none held, 0 */
	struct io *a = io_pread(fd, 10, 0), *b = io_pread(fd, 20, 100);
	struct diofs_held h[4];

	n = itest_held(c, 2, h, 4);
	CHECK(n == 2, "held: saw %d, wanted 2", n);
	n = diofsctl_release(c, 0, "short=5");
	CHECK(n == 2, "release all short=5: saw %d (%s), wanted 2", n,
	      n < 0 ? diofsctl_error(c) : "");
	if (io_join(a))
		check_read(a, 5, 2, "release all short=5 (first)");
	if (io_join(b))
		check_read(b, 5, 2, "release all short=5 (second)");
	n = diofsctl_release(c, 0, NULL);
	CHECK(n == 0, "release all with nothing held: saw %d (%s), wanted 0", n,
	      n < 0 ? diofsctl_error(c) : "");
}

/* A forked child's read and a thread's read held together: each listed with
 * its own pid, offset, size and unique id; released one at a time, each
 * completes on its own release. */
ITEST(held_list_names_child_and_thread_reads)
{
	struct diofs_mount *m;
	struct diofs_held h[4], *hc = NULL, *ht = NULL;
	struct diofsctl *c;
	int fd, pipefd[2], n;
	struct io *io;
	pid_t child;

	m = itest_mount_file(NULL, "d/f", FSIZE, 3, &c, &fd);
	REQUIRE(m, "no mount with d/f");
	REQUIRE(itest_rule(c, "hold op=read") > 0, "no rule");
	REQUIRE(pipe2(pipefd, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));

	child = fork();
	if (child == 0) {
		char buf[1000];
		ssize_t r = pread(fd, buf, sizeof(buf), 12345);
		long res[2] = { (long)r, r == (ssize_t)sizeof(buf) ?
				pattern_mismatch(buf, sizeof(buf), 12345, 3) : -2 };

		if (write(pipefd[1], res, sizeof(res)) != sizeof(res))
			_exit(2);
		_exit(0);
	}
	close(pipefd[1]);
	if (!CHECK(child > 0, "fork: %s", strerror(errno))) {
		close(pipefd[0]);
		return;
	}
	io = io_pread(fd, 3000, 40000);
	n = itest_held(c, 2, h, 4);
	if (CHECK(n == 2, "held: saw %d, wanted 2 (the child's and the thread's)", n)) {
		for (int i = 0; i < 2; i++) {
			if (h[i].pid == child)
				hc = &h[i];
			else if (io && h[i].pid == atomic_load(&io->tid))
				ht = &h[i];
		}
		CHECK(hc && ht, "held pids: saw %d and %d, wanted the child %d and the thread %d",
		      (int)h[0].pid, (int)h[1].pid, (int)child, io ? (int)atomic_load(&io->tid) : 0);
	}
	if (hc && ht) {
		CHECK(hc->off == 12345 && hc->size == 1000, "child's held read: saw off=%ju "
		      "size=%ju, wanted off=12345 size=1000", (uintmax_t)hc->off,
		      (uintmax_t)hc->size);
		CHECK(ht->off == 40000 && ht->size == 3000, "thread's held read: saw off=%ju "
		      "size=%ju, wanted off=40000 size=3000", (uintmax_t)ht->off,
		      (uintmax_t)ht->size);
		CHECK(strcmp(hc->path, "/d/f") == 0 && strcmp(ht->path, "/d/f") == 0,
		      "held paths: saw %s and %s, wanted /d/f", hc->path, ht->path);
		CHECK(hc->id != ht->id && hc->unique != ht->unique && hc->unique && ht->unique,
		      "held ids %ju/%ju, uniques %ju/%ju: wanted distinct and set",
		      (uintmax_t)hc->id, (uintmax_t)ht->id, (uintmax_t)hc->unique,
		      (uintmax_t)ht->unique);

		/* The thread's first: the child stays held. */
		n = diofsctl_release(c, ht->id, NULL);
		CHECK(n == 1, "release %ju: saw %d, wanted 1", (uintmax_t)ht->id, n);
		if (io_join(io))
			check_read(io, 3000, 3, "thread's read");
		n = itest_held_now(c, h + 2, 2);
		CHECK(n == 1 && h[2].pid == child, "held after the thread's release: saw %d "
		      "(pid %d), wanted 1 (the child %d)", n, n > 0 ? (int)h[2].pid : 0, (int)child);
		n = diofsctl_release(c, hc->id, NULL);
		CHECK(n == 1, "release %ju: saw %d, wanted 1", (uintmax_t)hc->id, n);
	} else {
		diofsctl_release(c, 0, NULL);
	}

	long res[2] = { -3, -3 };
	struct pollfd p = { .fd = pipefd[0], .events = POLLIN };

	if (CHECK(poll(&p, 1, ITEST_WAIT_MS) == 1 && read(pipefd[0], res, sizeof(res)) ==
		  sizeof(res), "the child's read did not complete after its release"))
		CHECK(res[0] == 1000 && res[1] == -1, "child's read: saw %ld bytes, mismatch at "
		      "%ld; wanted 1000 bytes of the pattern", res[0], res[1]);
	close(pipefd[0]);
	int st;

	if (!diofs_wait_exit(child, ITEST_WAIT_MS, &st)) {
		kill(child, SIGKILL);
		diofs_wait_exit(child, ITEST_WAIT_MS, NULL);
	}
}

#define MANY 300

ITEST(many_holds_leave_other_files_served)
{
	struct diofs_mount *m = itest_mount(NULL);
	static struct diofs_held h[MANY + 1];
	static struct io *ios[MANY];
	static bool seen[MANY];
	struct diofsctl *c;
	char buf[FSIZE];
	int fd, ofd, n, done = 0;
	uint64_t count, errors;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "h", FSIZE, 4) && itest_make_file(m, "other", FSIZE, 5),
		"no files");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	REQUIRE(itest_rule(c, "hold op=read path=/h") > 0, "no rule");
	fd = itest_open(m, "h", O_RDONLY);
	REQUIRE(fd >= 0, "open h: %s", strerror(errno));

	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < MANY; i++)
		REQUIRE((ios[i] = io_pread(fd, 512, (off_t)i * 128)), "reader %d not started", i);
	n = itest_held(c, MANY, h, MANY + 1);
	REQUIRE(n == MANY, "held: saw %d, wanted %d", n, MANY);
	for (int i = 0; i < n; i++) {
		int k = (int)(h[i].off / 128);

		if (!CHECK(h[i].off % 128 == 0 && k < MANY && !seen[k] && h[i].size == 512 &&
			   h[i].pid == atomic_load(&ios[k]->tid) && strcmp(h[i].path, "/h") == 0,
			   "held entry %d: saw off=%ju size=%ju pid=%d path=%s, wanted one of the "
			   "%d reads (off k*128, size 512, its thread's id, /h) once", i,
			   (uintmax_t)h[i].off, (uintmax_t)h[i].size, (int)h[i].pid, h[i].path, MANY))
			break;
		seen[k] = true;
		for (int j = 0; j < i; j++)
			if (!CHECK(h[j].id != h[i].id && h[j].unique != h[i].unique,
				   "held entries %d and %d share id %ju or unique %ju", j, i,
				   (uintmax_t)h[i].id, (uintmax_t)h[i].unique))
				goto out_of_loop;
	}
out_of_loop:
	/* Other files are served meanwhile: read, write, create, list, stat. */
	ofd = itest_open(m, "other", O_RDWR);
	if (CHECK(ofd >= 0, "open other while %d are held: %s", MANY, strerror(errno))) {
		ssize_t r = pread(ofd, buf, sizeof(buf), 0);

		CHECK(r == FSIZE && pattern_mismatch(buf, FSIZE, 0, 5) < 0, "reading other while "
		      "%d are held: saw %zd (%s), wanted %d bytes of its data", MANY, r,
		      expect_errname(r < 0 ? errno : 0), FSIZE);
		pattern_fill(buf, 4096, 0, 6);
		r = pwrite(ofd, buf, 4096, 0);
		CHECK(r == 4096, "writing other while held: saw %zd (%s), wanted 4096", r,
		      expect_errname(r < 0 ? errno : 0));
		itest_close(ofd);
	}
	int nfd = itest_open(m, "new", O_CREAT | O_WRONLY);

	CHECK(nfd >= 0, "creating new while held: %s", strerror(errno));
	if (nfd >= 0)
		itest_close(nfd);
	DIR *dir = opendir(m->mnt);
	int entries = 0;

	if (CHECK(dir, "opendir while held: %s", strerror(errno))) {
		while (readdir(dir))
			entries++;
		closedir(dir);
		CHECK(entries == 5, "readdir while held: saw %d entries, wanted 5 (. .. h "
		      "other new)", entries);
	}
	for (int i = 0; i < MANY; i++)
		done += atomic_load(&ios[i]->done);
	CHECK(done == 0, "%d held reads completed before their release", done);

	CHECK(itest_op_stats(c, "read", &count, &errors), "no stats");
	n = diofsctl_release(c, 0, NULL);
	CHECK(n == MANY, "release all: saw %d (%s), wanted %d", n,
	      n < 0 ? diofsctl_error(c) : "", MANY);
	for (int i = 0; i < MANY; i++)
		if (io_join(ios[i]))
			check_read(ios[i], 512, 4, "one of the many");
	n = itest_held_now(c, h, 1);
	CHECK(n == 0, "held after release all: saw %d, wanted 0", n);
}

/* A field of /proc/PID/smaps_rollup, kB; -1 if absent. */
static long rollup_kb(pid_t pid, const char *field)
{
	char path[64], text[4096];
	const char *at;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if (!itest_read_text(path, text, sizeof(text)) || !(at = strstr(text, field)))
		return -1;
	return atol(at + strlen(field));
}

#define BIG_WRITES 16
#define BIG_WRITE (1024 * 1024)

/* Over io_uring, 16 writes of 1 MiB held at once take 16 ring entries and
 * fill their payload pages; once answered, those pages are given back
 * (MADV_FREE: LazyFree, reclaimable at once) instead of staying resident
 * for as long as the entries wait idle. */
ITEST(uring_gives_back_large_write_payload)
{
	char enable[8] = "";
	struct diofs_mount *m;
	struct io *ios[BIG_WRITES];
	struct diofsctl *c;
	long lazy0, lazy1, rss1;
	int fd, n;

	if (!itest_read_text("/sys/module/fuse/parameters/enable_uring", enable,
			     sizeof(enable)) || (enable[0] != 'Y' && enable[0] != '1')) {
		SKIP("FUSE-over-io_uring is off or absent (echo Y > "
		     "/sys/module/fuse/parameters/enable_uring)");
	}
	m = itest_mount("io_uring");
	REQUIRE(m, "no mount");
	lazy0 = rollup_kb(m->pid, "LazyFree:");
	if (lazy0 < 0) {
		SKIP("no LazyFree in /proc/PID/smaps_rollup: cannot tell given-back pages");
	}
	REQUIRE((c = itest_ctl(m)), "no control connection");
	/* Sized already: writes that do not extend it run in parallel. */
	REQUIRE(itest_make_file(m, "w", BIG_WRITES * BIG_WRITE, 1), "no file");
	/* An unaligned buffer's write comes as a big request and a small
	 * rest: only the big ones are held. */
	REQUIRE(itest_rule(c, "hold op=write path=/w size=512k-1m") > 0, "no rule");
	fd = itest_open(m, "w", O_RDWR);
	REQUIRE(fd >= 0, "open w: %s", strerror(errno));
	for (int i = 0; i < BIG_WRITES; i++)
		REQUIRE((ios[i] = io_pwrite(fd, BIG_WRITE, (off_t)i * BIG_WRITE, 7)),
			"writer %d not started", i);
	n = itest_held(c, BIG_WRITES, NULL, 0);
	REQUIRE(n == BIG_WRITES, "held: saw %d, wanted %d", n, BIG_WRITES);
	n = diofsctl_release(c, 0, NULL);
	REQUIRE(n == BIG_WRITES, "release all: saw %d (%s)", n, n < 0 ? diofsctl_error(c) : "");
	for (int i = 0; i < BIG_WRITES; i++)
		if (io_join(ios[i]))
			CHECK(ios[i]->ret == BIG_WRITE, "write %d: saw %zd (%s), wanted %d", i,
			      ios[i]->ret, expect_errname(ios[i]->err), BIG_WRITE);
	/* Only diofs's payload trim makes pages lazily free (malloc, and a
	 * sanitizer's allocator, give memory back with MADV_DONTNEED). */
	lazy1 = rollup_kb(m->pid, "LazyFree:");
	rss1 = rollup_kb(m->pid, "Rss:");
	CHECK(lazy1 - lazy0 >= BIG_WRITES * (BIG_WRITE / 1024) / 2, "after %d held 1 MiB "
	      "writes were answered the daemon gave back %ld kB of payload (LazyFree %ld -> "
	      "%ld kB, Rss %ld kB), wanted at least %d kB", BIG_WRITES, lazy1 - lazy0, lazy0,
	      lazy1, rss1, BIG_WRITES * (BIG_WRITE / 1024) / 2);
}

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1++;
}

ITEST(signal_interrupts_held_read)
{
	struct diofs_mount *m;
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	struct diofs_held h[2];
	struct diofsctl *c;
	uint64_t count0, err0, count1, err1;
	struct io *io;
	int fd, n;

	m = itest_mount_file(NULL, "f", FSIZE, 1, &c, &fd);
	REQUIRE(m, "no mount with f");
	REQUIRE(itest_rule(c, "hold op=read path=/f") > 0, "no rule");
	sigemptyset(&sa.sa_mask); /* no SA_RESTART */
	REQUIRE(sigaction(SIGUSR1, &sa, &old) == 0, "sigaction: %s", strerror(errno));
	got_usr1 = 0;
	CHECK(itest_op_stats(c, "read", &count0, &err0), "no stats");

	io = io_pread(fd, 4096, 0);
	n = itest_held(c, 1, h, 2);
	if (CHECK(n == 1, "held: saw %d, wanted 1", n) && io) {
		CHECK(io_kill(io, SIGUSR1) == 0, "pthread_kill failed");
		if (io_join(io))
			CHECK(io->ret == -1 && io->err == EINTR, "interrupted held read: saw %zd (%s), "
			      "wanted -1 (EINTR)", io->ret, expect_errname(io->err));
		CHECK(got_usr1 == 1, "SIGUSR1 handler ran %d times, wanted 1", (int)got_usr1);
		n = itest_held_now(c, h + 1, 1);
		CHECK(n == 0, "held after the interrupt: saw %d, wanted 0", n);
		n = diofsctl_release(c, h[0].id, NULL);
		CHECK(n < 0 && strstr(diofsctl_error(c), "not held"), "release of the interrupted "
		      "call: saw %d (%s), wanted err ... not held", n, diofsctl_error(c));
		CHECK(itest_op_stats(c, "read", &count1, &err1), "no stats");
		CHECK(count1 == count0 + 1 && err1 == err0 + 1, "read stats: saw count=%ju "
		      "errors=%ju, wanted count=%ju errors=%ju", (uintmax_t)count1,
		      (uintmax_t)err1, (uintmax_t)count0 + 1, (uintmax_t)err0 + 1);
	}
	/* The mount still serves, the rule still holds. */
	io = io_pread(fd, 100, 50);
	n = itest_held(c, 1, h, 2);
	CHECK(n == 1, "held after the interrupt: saw %d, wanted 1", n);
	n = diofsctl_release(c, 0, NULL);
	if (io && io_join(io))
		check_read(io, 100, 1, "read after the interrupt");
	sigaction(SIGUSR1, &old, NULL);
}

ITEST(delay_holds_back_completion)
{
	struct diofs_mount *m = itest_mount("threads=2");
	struct io *ios[12];
	struct diofsctl *c;
	char buf[4096];
	uint64_t t0, t1;
	ssize_t r;
	int fd, wfd;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", FSIZE, 1) && itest_make_file(m, "w", 0, 0), "no files");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	REQUIRE(itest_rule(c, "delay=150 op=read path=/f") > 0, "no rule");
	REQUIRE(itest_rule(c, "delay=120 op=write") > 0, "no rule");
	fd = itest_open(m, "f", O_RDONLY);
	wfd = itest_open(m, "w", O_WRONLY);
	REQUIRE(fd >= 0 && wfd >= 0, "open: %s", strerror(errno));

	t0 = diofs_now_ns();
	r = pread(fd, buf, sizeof(buf), 4096);
	t1 = diofs_now_ns();
	CHECK(r == 4096 && pattern_mismatch(buf, 4096, 4096, 1) < 0, "delayed read: saw %zd (%s), "
	      "wanted 4096 bytes of the file", r, expect_errname(r < 0 ? errno : 0));
	CHECK(t1 - t0 >= 150000000u, "delay=150: the read took %.3f ms, wanted at least 150",
	      (t1 - t0) / 1e6);

	pattern_fill(buf, sizeof(buf), 0, 9);
	t0 = diofs_now_ns();
	r = pwrite(wfd, buf, sizeof(buf), 0);
	t1 = diofs_now_ns();
	CHECK(r == 4096, "delayed write: saw %zd (%s), wanted 4096", r,
	      expect_errname(r < 0 ? errno : 0));
	CHECK(t1 - t0 >= 120000000u, "delay=120: the write took %.3f ms, wanted at least 120",
	      (t1 - t0) / 1e6);

	/* More delayed calls than the daemon has threads: each still waits its
	 * whole delay, none fails. */
	for (int i = 0; i < 12; i++)
		ios[i] = io_pread(fd, 1000, (off_t)i * 1000);
	for (int i = 0; i < 12; i++) {
		if (!ios[i] || !io_join(ios[i]))
			continue;
		check_read(ios[i], 1000, 1, "concurrent delayed read");
		CHECK(ios[i]->t1 - ios[i]->t0 >= 150000000u, "concurrent delayed read %d took "
		      "%.3f ms, wanted at least 150", i, (ios[i]->t1 - ios[i]->t0) / 1e6);
	}
}

ITEST(fail_answers_its_errno)
{
	struct diofs_mount *m = itest_mount(NULL);
	struct diofsctl *c;
	struct statvfs sv;
	char buf[4096];
	ssize_t r;
	int fd, wfd;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", FSIZE, 1) && itest_make_file(m, "w", 10, 1) &&
		itest_make_file(m, "locked", 10, 1), "no files");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	REQUIRE(itest_rule(c, "fail=EIO op=read path=/f") > 0 &&
		itest_rule(c, "fail=enospc op=write") > 0 &&
		itest_rule(c, "fail=13 op=open path=/locked") > 0 &&
		itest_rule(c, "fail=EROFS op=mkdir") > 0 &&
		itest_rule(c, "fail=ENOLINK op=statfs") > 0, "no rules");
	fd = itest_open(m, "f", O_RDONLY);
	wfd = itest_open(m, "w", O_WRONLY);
	REQUIRE(fd >= 0 && wfd >= 0, "open: %s", strerror(errno));

	r = pread(fd, buf, sizeof(buf), 0);
	CHECK(r == -1 && errno == EIO, "fail=EIO: read saw %zd (%s), wanted -1 (EIO)", r,
	      expect_errname(r < 0 ? errno : 0));
	r = pwrite(wfd, buf, 100, 0);
	CHECK(r == -1 && errno == ENOSPC, "fail=enospc: write saw %zd (%s), wanted -1 (ENOSPC)",
	      r, expect_errname(r < 0 ? errno : 0));
	r = itest_open(m, "locked", O_RDONLY);
	CHECK(r == -1 && errno == EACCES, "fail=13: open saw %zd (%s), wanted -1 (EACCES)", r,
	      expect_errname(r < 0 ? errno : 0));
	r = mkdir(diofs_mnt_path(m, "dir"), 0755);
	CHECK(r == -1 && errno == EROFS, "fail=EROFS: mkdir saw %zd (%s), wanted -1 (EROFS)", r,
	      expect_errname(r < 0 ? errno : 0));
	r = statvfs(m->mnt, &sv);
	CHECK(r == -1 && errno == ENOLINK, "fail=ENOLINK: statfs saw %zd (%s), wanted -1 "
	      "(ENOLINK)", r, expect_errname(r < 0 ? errno : 0));
	/* What no rule names still works. */
	struct stat st;

	CHECK(stat(diofs_mnt_path(m, "f"), &st) == 0 && st.st_size == FSIZE,
	      "stat f: saw %s, wanted size %d", strerror(errno), FSIZE);
	r = itest_open(m, "w", O_RDONLY);
	CHECK(r >= 0, "open w: saw %s, wanted an fd", strerror(errno));
	if (r >= 0) {
		ssize_t k = pread((int)r, buf, 10, 0);

		CHECK(k == 10, "read w: saw %zd (%s), wanted 10", k, expect_errname(k < 0 ? errno : 0));
	}
}

ITEST(short_cuts_read_and_write)
{
	struct diofs_mount *m = itest_mount(NULL);
	struct diofsctl *c;
	char buf[8192];
	struct stat st;
	ssize_t r;
	int fd, wfd;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", FSIZE, 1) && itest_make_file(m, "w", 0, 0), "no files");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	REQUIRE(itest_rule(c, "short=100 path=/f") > 0 && itest_rule(c, "short=1k path=/w") > 0,
		"no rules");
	fd = itest_open(m, "f", O_RDONLY);
	wfd = itest_open(m, "w", O_WRONLY);
	REQUIRE(fd >= 0 && wfd >= 0, "open: %s", strerror(errno));

	r = pread(fd, buf, 4096, 333);
	CHECK(r == 100 && pattern_mismatch(buf, 100, 333, 1) < 0, "short=100: read of 4096 saw "
	      "%zd (%s), wanted 100 bytes of the file", r, expect_errname(r < 0 ? errno : 0));
	r = pread(fd, buf, 50, 0);
	CHECK(r == 50 && pattern_mismatch(buf, 50, 0, 1) < 0, "short=100: read of 50 saw %zd, "
	      "wanted 50 (at most N)", r);
	pattern_fill(buf, 4096, 0, 3);
	r = pwrite(wfd, buf, 4096, 0);
	CHECK(r == 1024, "short=1k: write of 4096 saw %zd (%s), wanted 1024", r,
	      expect_errname(r < 0 ? errno : 0));
	CHECK(stat(diofs_backing_path(m, "w"), &st) == 0 && st.st_size == 1024,
	      "backing w after short=1k: saw size %jd, wanted 1024", (intmax_t)st.st_size);
}

ITEST(overlong_reply_is_eio_mount_survives)
{
	struct diofs_mount *m = itest_mount(NULL);
	struct diofsctl *c;
	char buf[8192];
	ssize_t r;
	int fd, wfd, id;
	uint64_t matched, acted;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", FSIZE, 1) && itest_make_file(m, "w", 0, 0), "no files");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	REQUIRE((id = itest_rule(c, "overlong op=read path=/f count=1")) > 0 &&
		itest_rule(c, "overlong=100 op=read path=/f count=1") > 0 &&
		itest_rule(c, "overlong=1 op=write path=/w count=1") > 0, "no rules");
	fd = itest_open(m, "f", O_RDONLY);
	wfd = itest_open(m, "w", O_WRONLY);
	REQUIRE(fd >= 0 && wfd >= 0, "open: %s", strerror(errno));

	r = pread(fd, buf, 4096, 0);
	CHECK(r == -1 && errno == EIO, "overlong: read saw %zd (%s), wanted -1 (EIO: the kernel "
	      "refuses a reply longer than asked)", r, expect_errname(r < 0 ? errno : 0));
	r = pread(fd, buf, 4096, 0);
	CHECK(r == -1 && errno == EIO, "overlong=100: read saw %zd (%s), wanted -1 (EIO)", r,
	      expect_errname(r < 0 ? errno : 0));
	pattern_fill(buf, 4096, 0, 2);
	r = pwrite(wfd, buf, 4096, 0);
	CHECK(r == -1 && errno == EIO, "overlong=1: write saw %zd (%s), wanted -1 (EIO: an ack "
	      "of more than was sent)", r, expect_errname(r < 0 ? errno : 0));
	/* The connection survives: the next calls are served. */
	r = pread(fd, buf, 4096, 4096);
	CHECK(r == 4096 && pattern_mismatch(buf, 4096, 4096, 1) < 0, "read after overlong: saw "
	      "%zd (%s), wanted 4096", r, expect_errname(r < 0 ? errno : 0));
	CHECK(itest_rule_counts(c, id, &matched, &acted, NULL, 0) && acted == 1,
	      "overlong rule acted %ju times, wanted 1", (uintmax_t)acted);
}

/* abort or crash on /boom while a read of /held is held. */
static void conn_killer(const char *action)
{
	struct diofs_mount *m = itest_mount(NULL);
	struct diofs_held h[2];
	struct diofsctl *c;
	char buf[4096];
	struct stat st;
	struct io *io;
	int hfd, bfd, n, status = -1;
	ssize_t r;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "held", FSIZE, 1) && itest_make_file(m, "boom", FSIZE, 1),
		"no files");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	REQUIRE(itest_rule(c, "hold op=read path=/held") > 0 &&
		itest_rule(c, "%s op=read path=/boom", action) > 0, "no rules");
	hfd = itest_open(m, "held", O_RDONLY);
	bfd = itest_open(m, "boom", O_RDONLY);
	REQUIRE(hfd >= 0 && bfd >= 0, "open: %s", strerror(errno));
	io = io_pread(hfd, 4096, 0);
	n = itest_held(c, 1, h, 2);
	REQUIRE(n == 1, "held: saw %d, wanted 1", n);

	r = pread(bfd, buf, sizeof(buf), 0);
	CHECK(r == -1 && is_conn_error(errno), "%s: the read that triggers it saw %zd (%s), "
	      "wanted -1 (ENOTCONN or ECONNABORTED)", action, r, expect_errname(r < 0 ? errno : 0));
	if (io_join(io))
		CHECK(io->ret == -1 && is_conn_error(io->err), "%s: the held read saw %zd (%s), "
		      "wanted -1 (ENOTCONN or ECONNABORTED)", action, io->ret,
		      expect_errname(io->err));
	r = stat(diofs_mnt_path(m, "held"), &st);
	CHECK(r == -1 && errno == ENOTCONN, "%s: a later stat saw %zd (%s), wanted -1 (ENOTCONN)",
	      action, r, expect_errname(r < 0 ? errno : 0));
	r = pread(hfd, buf, 10, 0);
	CHECK(r == -1 && is_conn_error(errno), "%s: a later read saw %zd (%s), wanted -1 "
	      "(ENOTCONN or ECONNABORTED)", action, r, expect_errname(r < 0 ? errno : 0));
	/* The daemon does not linger: crash kills it, abort ends its session. */
	if (CHECK(itest_daemon_exited(m, &status), "%s: the daemon still runs %d ms later", action,
		  ITEST_WAIT_MS) && strcmp(action, "crash") == 0)
		CHECK(status == SIGKILL, "crash: daemon status: saw %#x, wanted killed by SIGKILL",
		      status);
}

ITEST(abort_ends_clients_without_hang)
{
	/* Aborting goes through fusectl, which only root may write. */
	if (geteuid() != 0) {
		SKIP("the abort rule needs root (fusectl)");
	}
	conn_killer("abort");
}

ITEST(crash_ends_clients_without_hang)
{
	conn_killer("crash");
}

/* Stopping the daemon (unmount, SIGTERM: what fusermount -u and the
 * harness do) with calls held and delayed: each is answered with an error
 * and the daemon exits cleanly. */
ITEST(stop_with_held_calls_answers_eio)
{
	struct diofs_mount *m = itest_mount(NULL);
	struct diofs_held h[4];
	struct io *ios[3], *dio;
	struct diofsctl *c;
	int fd, n, did, status = -1;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "h", FSIZE, 1) && itest_make_file(m, "d", FSIZE, 1),
		"no files");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	REQUIRE(itest_rule(c, "hold op=read path=/h") > 0, "no rule");
	REQUIRE((did = itest_rule(c, "delay=600000 op=read path=/d")) > 0, "no rule");
	fd = itest_open(m, "h", O_RDONLY);
	int dfd = itest_open(m, "d", O_RDONLY);

	REQUIRE(fd >= 0 && dfd >= 0, "open: %s", strerror(errno));
	for (int i = 0; i < 3; i++)
		ios[i] = io_pread(fd, 1000, i * 1000);
	dio = io_pread(dfd, 1000, 0);
	n = itest_held(c, 3, h, 4);
	REQUIRE(n == 3, "held: saw %d, wanted 3", n);
	/* The delayed read is parked once its rule acted. */
	CHECK(itest_rule_acted(c, did, 1), "the delay rule did not act");

	/* Unmount as the harness does (lazily: the files are open), then ask
	 * the daemon to stop. */
	if (geteuid() == 0)
		CHECK(umount2(m->mnt, MNT_DETACH) == 0, "umount2 %s: %s", m->mnt, strerror(errno));
	CHECK(kill(m->pid, SIGTERM) == 0, "kill: %s", strerror(errno));
	for (int i = 0; i < 3; i++)
		if (io_join(ios[i]))
			CHECK(ios[i]->ret == -1 && ios[i]->err == EIO, "held read %d after the daemon "
			      "stopped: saw %zd (%s), wanted -1 (EIO from the daemon)", i, ios[i]->ret,
			      expect_errname(ios[i]->err));
	if (io_join(dio))
		CHECK(dio->ret == -1 && dio->err == EIO, "delayed read after the daemon stopped: "
		      "saw %zd (%s), wanted -1 (EIO from the daemon)", dio->ret,
		      expect_errname(dio->err));
	if (CHECK(itest_daemon_exited(m, &status), "the daemon still runs %d ms after SIGTERM",
		  ITEST_WAIT_MS))
		CHECK(status == 0, "daemon exit status: saw %#x, wanted 0 (clean)", status);
}

TEST_MAIN("test_inst_actions")
