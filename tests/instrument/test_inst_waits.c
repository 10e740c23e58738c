/* Nothing blocks a worker, every wait can be interrupted, no rule or
 * release value hangs or crashes anything (issue 13): flock storms, delayed
 * locks, a killed caller during a long delay, releases answered by a rule,
 * errno values the kernel refuses, a trace file through a bind mount.
 *
 * Callers that may block run in child processes, so that the test itself
 * never hangs and a caller can be SIGKILLed; each child's result is its exit
 * status (0, or the errno its call failed with).  A child is known to wait
 * in a call when /proc/PID/syscall shows it blocked there, and its request
 * is known to have reached the daemon when a later request (statfs) has
 * been answered: the kernel hands requests to the daemon in order.  Every
 * child is killed and reaped after its case, after the mount is stopped. */
#include <config.h>
#include "itest.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_KIDS 24

static pid_t kids[MAX_KIDS];
static int nkids;
static bool kids_deferred;
static struct diofs_mount *case_mount;

static struct diofs_mount *waits_mount(const char *opts)
{
	case_mount = itest_mount(opts);
	return case_mount;
}

/* When the case ends: kill what is left, stop the mount (which ends any
 * call still waiting in it), reap. */
static void kids_end(void *arg)
{
	(void)arg;
	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGKILL);
	if (case_mount)
		itest_unmount(case_mount);
	case_mount = NULL;
	for (int i = 0; i < nkids; i++)
		CHECK(diofs_wait_exit(kids[i], ITEST_WAIT_MS, NULL),
		      "child %d still runs after its mount stopped", (int)kids[i]);
	nkids = 0;
}

/* Run fn(arg) in a child process as id (NULL: as the test); its exit
 * status is fn's result. */
static pid_t spawn_as(const struct diofs_identity *id, int (*fn)(void *arg), void *arg)
{
	pid_t pid;

	if (!CHECK(nkids < MAX_KIDS, "more than %d children", MAX_KIDS))
		return -1;
	/* deferred after the mount's cleanup: it runs first */
	if (!kids_deferred)
		test_defer(kids_end, NULL);
	kids_deferred = true;
	pid = diofs_spawn(id, fn, arg);
	if (!CHECK(pid > 0, "fork: %s", strerror(errno)))
		return -1;
	kids[nkids++] = pid;
	return pid;
}

static pid_t spawn(int (*fn)(void *arg), void *arg)
{
	return spawn_as(NULL, fn, arg);
}

/* Wait for child pid's exit status (failsafe limit): its fn's result, or
 * -1 if it did not exit in time or died of a signal (in *sig). */
static int kid_result(pid_t pid, int *sig)
{
	int status, i;

	if (sig)
		*sig = 0;
	if (pid <= 0 || !diofs_wait_exit(pid, ITEST_WAIT_MS, &status))
		return -1;
	for (i = 0; i < nkids && kids[i] != pid; i++)
		;
	if (i < nkids)
		kids[i] = kids[--nkids];
	if (WIFSIGNALED(status) && sig)
		*sig = WTERMSIG(status);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Is pid blocked in system call nr?  Waits for it (failsafe limit); says
 * what it last saw if not. */
static bool blocked_in(pid_t pid, long nr)
{
	char path[64], text[256] = "";
	uint64_t t0 = diofs_now_ns();

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	while (diofs_now_ns() - t0 < (uint64_t)ITEST_WAIT_MS * 1000000u) {
		struct timespec ts = { 0, 1000000 };

		if (itest_read_text(path, text, sizeof(text)) && atol(text) == nr &&
		    text[0] >= '0' && text[0] <= '9')
			return true;
		nanosleep(&ts, NULL);
	}
	return CHECK(false, "%d not blocked in system call %ld: %s says %.40s", (int)pid, nr,
		     path, text);
}

/* Lock and unlock the parent's open file *arg (its own open file
 * description: the lock is not the holder's). */
static int child_flock_ex(void *arg)
{
	int fd = *(const int *)arg;

	if (flock(fd, LOCK_EX))
		return errno;
	return flock(fd, LOCK_UN) ? errno : 0;
}

static int child_unlock(void *arg)
{
	return flock(*(const int *)arg, LOCK_UN) ? errno : 0;
}

static int child_statfs(void *arg)
{
	struct statfs st;

	return statfs((const char *)arg, &st) ? errno : 0;
}

static int child_pread(void *arg)
{
	char buf[4096];
	int fd = open((const char *)arg, O_RDONLY);

	if (fd < 0)
		return errno;
	return pread(fd, buf, sizeof(buf), 0) < 0 ? errno : 0;
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* child_flock_ex / child_pread with a SIGUSR1 handler that does not restart
 * calls: a signal makes the call return EINTR if the daemon answers so. */
static int child_flock_intr(void *arg)
{
	struct sigaction sa = { .sa_handler = on_usr1 };

	sigaction(SIGUSR1, &sa, NULL);
	return child_flock_ex(arg);
}

static int child_pread_intr(void *arg)
{
	struct sigaction sa = { .sa_handler = on_usr1 };

	sigaction(SIGUSR1, &sa, NULL);
	return child_pread(arg);
}

/* A request through m is answered (in a child: a worker might never come). */
static bool round_trip(struct diofs_mount *m)
{
	char mnt[300];

	snprintf(mnt, sizeof(mnt), "%s", m->mnt);
	return kid_result(spawn(child_statfs, mnt), NULL) == 0;
}

/* Open name for a waiter (before any waiter: an open must not depend on a
 * free worker here), the fd in *fd. */
static bool waiter_open(struct diofs_mount *m, const char *name, int *fd)
{
	*fd = itest_open(m, name, O_RDWR);
	return CHECK(*fd >= 0, "open %s: %s", name, strerror(errno));
}

/* Start a child that waits for the lock on *fd; true once it waits. */
static bool start_waiter(int *fd, pid_t *pid)
{
	*pid = spawn(child_flock_ex, fd);
	return CHECK(*pid > 0 && blocked_in(*pid, SYS_flock),
		     "flock waiter %d is not blocked in flock", (int)*pid);
}

/* On a mount with 2 workers: f's lock held through *holder and three
 * waiters for it (w), the first known to wait in the daemon (a later
 * request came back) before the others start. */
static bool holder_and_three_waiters(struct diofs_mount *m, int *holder, pid_t w[3])
{
	int fds[3];

	if (!itest_make_file(m, "f", 4096, 1))
		return false;
	*holder = itest_open(m, "f", O_RDWR);
	if (!CHECK(*holder >= 0, "open f: %s", strerror(errno)))
		return false;
	for (int i = 0; i < 3; i++)
		if (!waiter_open(m, "f", &fds[i]))
			return false;
	return CHECK(flock(*holder, LOCK_EX | LOCK_NB) == 0, "holder's flock: %s",
		     strerror(errno)) &&
	       start_waiter(&fds[0], &w[0]) &&
	       CHECK(round_trip(m), "statfs with one flock waiter was not answered") &&
	       start_waiter(&fds[1], &w[1]) && start_waiter(&fds[2], &w[2]);
}

/* One holder and workers + 1 waiters: other requests are still answered, a
 * SIGKILLed waiter goes, the others get the lock in turn. */
ITEST(flock_waiters_leave_workers_free)
{
	struct diofs_mount *m = waits_mount("threads=2");
	int holder, res, sig;
	pid_t w[3];

	REQUIRE(m, "no mount");
	REQUIRE(holder_and_three_waiters(m, &holder, w), "no waiters");
	CHECK(round_trip(m), "statfs with 3 flock waiters on 2 workers was not answered in "
	      "%d ms: a waiting lock occupies a worker", ITEST_WAIT_MS);

	CHECK(kill(w[0], SIGKILL) == 0, "kill: %s", strerror(errno));
	res = kid_result(w[0], &sig);
	CHECK(sig == SIGKILL, "SIGKILLed flock waiter: saw result %d signal %d, wanted to be "
	      "gone (signal 9) within %d ms", res, sig, ITEST_WAIT_MS);

	res = kid_result(spawn(child_unlock, &holder), NULL);
	CHECK(res == 0, "holder's unlock: saw %d (%s), wanted 0", res,
	      res > 0 ? expect_errname(res) : "no exit");
	for (int i = 1; i < 3; i++) {
		res = kid_result(w[i], NULL);
		CHECK(res == 0, "waiter %d after the unlock: saw %d (%s), wanted the lock (0)", i,
		      res, res > 0 ? expect_errname(res) : "no exit");
	}
	CHECK(round_trip(m), "the mount no longer answers");
}

/* ---- io_uring: lock waits do not use up a queue's ring entries ---- */

#define URING_DEPTH 16
#define URING_WAIT_SHARE (URING_DEPTH / 4)   /* uring.c: a quarter of the entries */
#define URING_USER_SHARE (URING_WAIT_SHARE / 2) /* ... a user half of that */
#define URING_WAITERS URING_DEPTH             /* enough to fill the queue */
#define NOBODY 65534

/* Onto CPU 0: over io_uring the kernel queues a request on the
 * submitting CPU's ring queue, so all of these share queue 0. */
static int pin_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? errno : 0;
}

static int child_flock_cpu0(void *arg)
{
	int err = pin_cpu0();

	return err ? err : child_flock_ex(arg);
}

static int child_statfs_cpu0(void *arg)
{
	int err = pin_cpu0();

	return err ? err : child_statfs(arg);
}

/* FUSE-over-io_uring on, and CPU 0 ours to pin callers to (one queue);
 * else the test is skipped, saying why. */
static void skip_without_uring_cpu0(void)
{
	char enable[8] = "";
	cpu_set_t mine;

	if (!itest_read_text("/sys/module/fuse/parameters/enable_uring", enable,
			     sizeof(enable)) || (enable[0] != 'Y' && enable[0] != '1'))
		SKIP("FUSE-over-io_uring is off or absent (echo Y > "
		     "/sys/module/fuse/parameters/enable_uring)");
	if (sched_getaffinity(0, sizeof(mine), &mine) || !CPU_ISSET(0, &mine))
		SKIP("CPU 0 is not in this test's affinity: cannot pin callers to it");
}

static bool has_exited(pid_t pid)
{
	siginfo_t si = { 0 };

	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       si.si_pid == pid;
}

/* pid has exited (not reaped) or blocks in flock; waits for one of the two
 * (failsafe limit). */
static bool exited_or_in_flock(pid_t pid)
{
	char path[64], text[256] = "";
	uint64_t t0 = diofs_now_ns();

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	while (diofs_now_ns() - t0 < (uint64_t)ITEST_WAIT_MS * 1000000u) {
		struct timespec ts = { 0, 1000000 };

		if (has_exited(pid))
			return true;
		if (itest_read_text(path, text, sizeof(text)) && text[0] >= '0' &&
		    text[0] <= '9' && atol(text) == SYS_flock)
			return true;
		nanosleep(&ts, NULL);
	}
	return CHECK(false, "%d neither exited nor blocked in flock: %s says %.40s", (int)pid,
		     path, text);
}

/* Over io_uring a parked call keeps its ring entry.  An unprivileged user
 * starts more blocking flock waiters on one CPU than its queue has entries:
 * a user's part of the share waits, the rest are answered ENOLCK; root's
 * flock waits still park there, and another request from that CPU is still
 * answered (before, the waiters took every entry and it hung). */
ITEST(uring_flock_waiters_past_share_get_enolck)
{
	char mnt[300];
	struct diofs_mount *m;
	const struct diofs_identity nobody = { .uid = NOBODY, .gid = NOBODY, .umask = 022 };
	pid_t w[URING_WAITERS], r[URING_USER_SHARE];
	int holder, fds[URING_WAITERS], rfds[URING_USER_SHARE], res, got = 0, enolck = 0;

	skip_without_uring_cpu0();
	if (geteuid() != 0) {
		SKIP("a second user needs root");
	}
	m = waits_mount("allow_other,io_uring,io_uring_q_depth=16");
	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", 4096, 1), "no file");
	snprintf(mnt, sizeof(mnt), "%s", m->mnt);
	holder = itest_open(m, "f", O_RDWR);
	REQUIRE(holder >= 0, "open f: %s", strerror(errno));
	for (int i = 0; i < URING_WAITERS; i++)
		REQUIRE(waiter_open(m, "f", &fds[i]), "no fd");
	for (int i = 0; i < URING_USER_SHARE; i++)
		REQUIRE(waiter_open(m, "f", &rfds[i]), "no fd");
	REQUIRE(flock(holder, LOCK_EX | LOCK_NB) == 0, "holder's flock: %s", strerror(errno));

	for (int i = 0; i < URING_WAITERS; i++) {
		/* an unprivileged user (the fd was opened by the test) */
		w[i] = spawn_as(&nobody, child_flock_cpu0, &fds[i]);
		REQUIRE(w[i] > 0 && exited_or_in_flock(w[i]), "flock waiter %d", i);
	}
	for (int i = 0; i < URING_USER_SHARE; i++) {
		r[i] = spawn(child_flock_cpu0, &rfds[i]);
		REQUIRE(r[i] > 0 && exited_or_in_flock(r[i]), "root's flock waiter %d", i);
	}
	/* Queue 0 serves its requests in order: once this is answered, every
	 * waiter's flock was parked or refused. */
	REQUIRE(kid_result(spawn(child_statfs_cpu0, mnt), NULL) == 0, "statfs from CPU 0 with "
		"%d flock waiters on CPU 0 was not answered in %d ms: the waits took every "
		"ring entry of its queue (depth %d)", URING_WAITERS + URING_USER_SHARE,
		ITEST_WAIT_MS, URING_DEPTH);
	for (int i = 0; i < URING_USER_SHARE; i++)
		CHECK(!has_exited(r[i]), "root's flock waiter %d was answered (%d waiters of user "
		      "%d before it), wanted it to wait", i, URING_WAITERS, NOBODY);

	res = kid_result(spawn(child_unlock, &holder), NULL);
	CHECK(res == 0, "holder's unlock: saw %d (%s), wanted 0", res,
	      res > 0 ? expect_errname(res) : "no exit");
	for (int i = 0; i < URING_USER_SHARE; i++) {
		res = kid_result(r[i], NULL);
		CHECK(res == 0, "root's waiter %d: saw %d (%s), wanted the lock (0)", i, res,
		      res > 0 ? expect_errname(res) : "no exit");
	}
	for (int i = 0; i < URING_WAITERS; i++) {
		res = kid_result(w[i], NULL);
		got += res == 0;
		enolck += res == ENOLCK;
		CHECK(res == 0 || res == ENOLCK, "waiter %d: saw %d (%s), wanted the lock (0) or "
		      "ENOLCK", i, res, res > 0 ? expect_errname(res) : "no exit");
	}
	CHECK(got == URING_USER_SHARE && enolck == URING_WAITERS - URING_USER_SHARE,
	      "user %d's waiters that got the lock: %d, answered ENOLCK: %d; wanted %d and %d "
	      "(a user's waits may keep an eighth of the queue's %d entries)", NOBODY, got,
	      enolck, URING_USER_SHARE, URING_WAITERS - URING_USER_SHARE, URING_DEPTH);
}

/* SIGTERM stops the daemon while lock waiters are parked in it. */
ITEST(sigterm_stops_daemon_with_flock_waiters)
{
	struct diofs_mount *m = waits_mount("threads=2");
	int holder, status = -1, res;
	pid_t w[3];

	REQUIRE(m, "no mount");
	REQUIRE(holder_and_three_waiters(m, &holder, w), "no waiters");
	CHECK(round_trip(m), "statfs with 3 flock waiters on 2 workers was not answered");

	/* SIGTERM alone, the mount still in place and in use. */
	CHECK(kill(m->pid, SIGTERM) == 0, "kill: %s", strerror(errno));
	if (CHECK(itest_daemon_exited(m, &status), "the daemon still runs %d ms after SIGTERM "
		  "with flock waiters", ITEST_WAIT_MS))
		CHECK(status == 0, "daemon exit status: saw %#x, wanted 0 (clean)", status);
	for (int i = 0; i < 3; i++) {
		res = kid_result(w[i], NULL);
		CHECK(res == EIO, "flock waiter %d after the daemon stopped: saw %d (%s), wanted "
		      "EIO", i, res, res > 0 ? expect_errname(res) : "no exit");
	}
}

/* With flock delayed, a waiter's delayed flock must not keep the holder's
 * delayed unlock from running (one timer thread blocked in flock did). */
ITEST(delayed_flock_leaves_unlock_free)
{
	struct diofs_mount *m = waits_mount(NULL);
	struct diofsctl *c;
	pid_t w, u;
	int holder, fd, id, res;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", 4096, 1), "no file");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	REQUIRE((id = itest_rule(c, "delay=200 op=flock path=/f")) > 0, "no rule");
	holder = itest_open(m, "f", O_RDWR);
	REQUIRE(holder >= 0, "open f: %s", strerror(errno));
	REQUIRE(waiter_open(m, "f", &fd), "no fd");
	REQUIRE(flock(holder, LOCK_EX) == 0, "holder's flock: %s", strerror(errno));

	REQUIRE(start_waiter(&fd, &w), "no waiter");
	/* The waiter's flock is delayed once the rule acted on it too. */
	REQUIRE(itest_rule_acted(c, id, 2), "the delay rule did not act");
	u = spawn(child_unlock, &holder); /* the holder's unlock, delayed after it */

	res = kid_result(u, NULL);
	CHECK(res == 0, "delayed unlock: saw %d (%s), wanted 0 within %d ms", res,
	      res > 0 ? expect_errname(res) : "no exit", ITEST_WAIT_MS);
	res = kid_result(w, NULL);
	CHECK(res == 0, "delayed flock waiter: saw %d (%s), wanted the lock (0) within %d ms",
	      res, res > 0 ? expect_errname(res) : "no exit", ITEST_WAIT_MS);
}

/* A caller SIGKILLed during a 10-minute delay goes at once (the kernel sends
 * FUSE_INTERRUPT; the delay is answered EINTR), the mount still serves. */
ITEST(caller_killed_in_delay_goes_at_once)
{
	struct diofs_mount *m = waits_mount(NULL);
	struct diofsctl *c;
	char path[300];
	int id, res, sig;
	pid_t r;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", 4096, 1), "no file");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	snprintf(path, sizeof(path), "%s", diofs_mnt_path(m, "f"));
	REQUIRE((id = itest_rule(c, "delay=600000 op=read path=/f")) > 0, "no rule");
	r = spawn(child_pread, path);
	REQUIRE(r > 0, "no child");
	REQUIRE(itest_rule_acted(c, id, 1), "the delay rule did not act");

	CHECK(kill(r, SIGKILL) == 0, "kill: %s", strerror(errno));
	res = kid_result(r, &sig);
	CHECK(sig == SIGKILL, "reader SIGKILLed during a delay: saw result %d signal %d, "
	      "wanted to be gone (signal 9) within %d ms", res, sig, ITEST_WAIT_MS);
	CHECK(round_trip(m), "the mount no longer answers");
}

/* A signal (not fatal) ends a lock wait and a delay with EINTR. */
ITEST(signal_ends_lock_wait_and_delay)
{
	struct diofs_mount *m = waits_mount(NULL);
	struct diofsctl *c;
	char path[300];
	pid_t w, r;
	int holder, fd, id, res;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", 4096, 1) && itest_make_file(m, "g", 4096, 1),
		"no files");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	holder = itest_open(m, "f", O_RDWR);
	REQUIRE(holder >= 0, "open f: %s", strerror(errno));
	REQUIRE(waiter_open(m, "f", &fd), "no fd");
	REQUIRE(flock(holder, LOCK_EX | LOCK_NB) == 0, "holder's flock: %s", strerror(errno));
	w = spawn(child_flock_intr, &fd);
	REQUIRE(w > 0 && blocked_in(w, SYS_flock), "no waiter");
	REQUIRE(round_trip(m), "statfs with a flock waiter was not answered");
	CHECK(kill(w, SIGUSR1) == 0, "kill: %s", strerror(errno));
	res = kid_result(w, NULL);
	CHECK(res == EINTR, "flock wait after SIGUSR1: saw %d (%s), wanted EINTR", res,
	      res > 0 ? expect_errname(res) : "no exit");

	REQUIRE((id = itest_rule(c, "delay=600000 op=read path=/g")) > 0, "no rule");
	snprintf(path, sizeof(path), "%s", diofs_mnt_path(m, "g"));
	r = spawn(child_pread_intr, path);
	REQUIRE(r > 0, "no child");
	REQUIRE(itest_rule_acted(c, id, 1), "the delay rule did not act");
	CHECK(kill(r, SIGUSR1) == 0, "kill: %s", strerror(errno));
	res = kid_result(r, NULL);
	CHECK(res == EINTR, "delayed read after SIGUSR1: saw %d (%s), wanted EINTR", res,
	      res > 0 ? expect_errname(res) : "no exit");
}

/* Wait until the daemon has answered want calls of op in all. */
static bool op_count_reaches(struct diofsctl *c, const char *op, uint64_t want)
{
	uint64_t count = 0, errors;

	for (uint64_t t0 = diofs_now_ns(); count < want &&
	     diofs_now_ns() - t0 < (uint64_t)ITEST_WAIT_MS * 1000000u;)
		if (!itest_op_stats(c, op, &count, &errors))
			break;
	return CHECK(count >= want, "%s calls answered: %ju, wanted %ju", op,
		     (uintmax_t)count, (uintmax_t)want);
}

/* fail on release and releasedir: the kernel hears the error, the daemon
 * still closes the file (fds stable, flock locks gone). */
ITEST(failed_release_still_closes_file)
{
	struct diofs_mount *m = waits_mount(NULL);
	struct diofsctl *c;
	uint64_t rel0, reldir0, errs;
	char fpath[300], dpath[300];
	int n0 = -1, n1, fd, fd2;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", 4096, 1) && itest_make_file(m, "d/x", 1, 1), "no files");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	snprintf(fpath, sizeof(fpath), "%s", diofs_mnt_path(m, "f"));
	snprintf(dpath, sizeof(dpath), "%s", diofs_mnt_path(m, "d"));
	REQUIRE(itest_rule(c, "fail=EIO op=release path=/f") > 0 &&
		itest_rule(c, "fail=EIO op=releasedir path=/d") > 0, "no rules");
	REQUIRE(itest_op_stats(c, "release", &rel0, &errs) &&
		itest_op_stats(c, "releasedir", &reldir0, &errs), "no stats");
	/* One round first: the inodes' own fds are there from the first
	 * lookup on (rel0 and reldir0 count it). */
	for (int i = 0; i < 101; i++) {
		DIR *d;

		fd = open(fpath, O_RDONLY);
		REQUIRE(fd >= 0, "open f: %s", strerror(errno));
		close(fd);
		d = opendir(dpath);
		REQUIRE(d, "opendir d: %s", strerror(errno));
		closedir(d);
		if (i > 0)
			continue;
		REQUIRE(op_count_reaches(c, "release", ++rel0) &&
			op_count_reaches(c, "releasedir", ++reldir0), "releases not answered");
		n0 = diofs_count_fds(m->pid);
		REQUIRE(n0 > 0, "cannot count the daemon's fds: %s", strerror(errno));
	}
	REQUIRE(op_count_reaches(c, "release", rel0 + 100) &&
		op_count_reaches(c, "releasedir", reldir0 + 100), "releases not answered");
	n1 = diofs_count_fds(m->pid);
	CHECK(n1 == n0, "daemon fds after 100 opens and opendirs with fail on release: %d, "
	      "wanted %d as before", n1, n0);

	/* A lock taken on a file whose release failed is gone with it. */
	fd = open(fpath, O_RDWR);
	REQUIRE(fd >= 0, "open f: %s", strerror(errno));
	REQUIRE(flock(fd, LOCK_EX | LOCK_NB) == 0, "flock: %s", strerror(errno));
	close(fd);
	REQUIRE(op_count_reaches(c, "release", rel0 + 101), "release not answered");
	fd2 = itest_open(m, "f", O_RDWR);
	REQUIRE(fd2 >= 0, "open f: %s", strerror(errno));
	CHECK(flock(fd2, LOCK_EX | LOCK_NB) == 0, "flock after a closed holder's failed "
	      "release: %s, wanted the lock (the close let go of it)", strerror(errno));
}

/* The rule expects an error containing want. */
static void expect_refused(struct diofsctl *c, const char *rule, const char *want)
{
	int id = diofsctl_rule_add(c, "%s", rule);

	CHECK(id < 0 && strstr(diofsctl_error(c), want), "rule add %s: saw %d \"%s\", wanted "
	      "err ... %s", rule, id, id < 0 ? diofsctl_error(c) : "", want);
}

/* Errors the kernel refuses (512 and up), ENOSYS for open and opendir: no
 * rule and no release can carry them; the daemon keeps serving. */
ITEST(reply_errno_out_of_range_refused)
{
	struct diofs_mount *m = waits_mount(NULL);
	struct diofs_held h[2];
	struct diofsctl *c;
	struct io *io;
	int n, ret;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", 4096, 1), "no file");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	CHECK(itest_rule(c, "fail=511 op=read path=/nothing") > 0, "fail=511 refused");
	CHECK(itest_rule(c, "fail=ENOSYS op=read path=/nothing") > 0, "ENOSYS on read refused");
	expect_refused(c, "fail=512 op=read", "1-511");
	expect_refused(c, "fail=600", "1-511");
	expect_refused(c, "fail=999 op=write", "1-511");
	expect_refused(c, "fail=ENOSYS op=open", "no_open");
	expect_refused(c, "fail=ENOSYS op=opendir", "no_open");
	expect_refused(c, "fail=ENOSYS path=/f", "op=");

	REQUIRE(itest_rule(c, "hold op=open path=/f") > 0, "no rule");
	io = io_new(IO_OPEN, -1, 0, 0);
	REQUIRE(io, "no io");
	snprintf(io->path, sizeof(io->path), "%s", diofs_mnt_path(m, "f"));
	io->flags = O_RDONLY;
	REQUIRE(io_start(io), "no thread");
	n = itest_held(c, 1, h, 2);
	REQUIRE(n == 1, "held: saw %d, wanted 1", n);
	ret = diofsctl_release(c, h[0].id, "errno=ENOSYS");
	CHECK(ret < 0 && strstr(diofsctl_error(c), "no_open"), "release of an open with "
	      "errno=ENOSYS: saw %d \"%s\", wanted err ... no_open", ret,
	      ret < 0 ? diofsctl_error(c) : "");
	ret = diofsctl_release(c, 0, "errno=600");
	CHECK(ret < 0 && strstr(diofsctl_error(c), "1-511"), "release errno=600: saw %d \"%s\", "
	      "wanted err ... 1-511", ret, ret < 0 ? diofsctl_error(c) : "");
	n = itest_held_now(c, h, 2);
	CHECK(n == 1, "held after the refused releases: saw %d, wanted 1", n);
	ret = diofsctl_release(c, 0, "errno=EACCES");
	CHECK(ret == 1, "release errno=EACCES: saw %d (%s), wanted 1", ret,
	      ret < 0 ? diofsctl_error(c) : "");
	if (io_join(io))
		CHECK(io->ret == -1 && io->err == EACCES, "held open released with EACCES: saw "
		      "%zd (%s)", io->ret, expect_errname(io->err));
	CHECK(round_trip(m), "the mount no longer answers");
}

/* A trace file on the mount, reached through a bind mount of the mount
 * point (no path check sees it), is refused by its device. */
ITEST(trace_through_bind_mount_refused)
{
	struct diofs_mount *m = waits_mount(NULL);
	struct diofsctl *c;
	char bind[300], file[320];
	int ret;

	REQUIRE(m, "no mount");
	if (geteuid() != 0) {
		SKIP("a bind mount needs root");
	}
	REQUIRE((c = itest_ctl(m)), "no control connection");
	snprintf(bind, sizeof(bind), "%s/bind", m->root);
	REQUIRE(mkdir(bind, 0700) == 0, "mkdir %s: %s", bind, strerror(errno));
	REQUIRE(mount(m->mnt, bind, NULL, MS_BIND, NULL) == 0, "bind mount: %s", strerror(errno));
	itest_cleanup_mount(bind);
	snprintf(file, sizeof(file), "%s/trace.jsonl", bind);

	ret = diofsctl_cmd(c, NULL, "trace on %s", file);
	CHECK(ret < 0 && strstr(diofsctl_error(c), "inside the mount"), "trace on %s (the "
	      "mount through a bind mount): saw %d \"%s\", wanted err ... inside the mount",
	      file, ret, ret < 0 ? diofsctl_error(c) : "");
	CHECK(round_trip(m), "the mount no longer answers");
	CHECK(umount2(bind, MNT_DETACH) == 0, "umount %s: %s", bind, strerror(errno));
}

/* ---- a create that finds a leased file ---- */

static int lease_ready[2] = { -1, -1 }, lease_go[2] = { -1, -1 };

/* Hold a write lease on BACKING file arg until lease_go is written to or
 * closed; one byte on lease_ready once it is taken.  SIGIO (the break)
 * ignored: the lease goes when told. */
static int child_hold_lease(void *arg)
{
	char b;
	int fd;

	signal(SIGIO, SIG_IGN);
	fd = open((const char *)arg, O_RDONLY);
	if (fd < 0 || fcntl(fd, F_SETLEASE, F_WRLCK) < 0)
		return errno;
	if (write(lease_ready[1], "l", 1) != 1)
		return errno;
	while (read(lease_go[0], &b, 1) < 0 && errno == EINTR)
		;
	return fcntl(fd, F_SETLEASE, F_UNLCK) < 0 ? errno : 0;
}

/* A child holding a write lease on BACKING file bpath (child_hold_lease);
 * let go by writing to lease_go[1].  0 with it in *holder, else the
 * holder's error (it died, reaped), ENOLINK if it said nothing. */
static int start_lease_holder(char *bpath, pid_t *holder)
{
	char b;
	int n;

	if (pipe2(lease_ready, O_CLOEXEC) || pipe2(lease_go, O_CLOEXEC))
		return errno;
	*holder = spawn(child_hold_lease, bpath);
	close(lease_ready[1]);
	close(lease_go[0]);
	n = (int)read(lease_ready[0], &b, 1);
	close(lease_ready[0]);
	if (n == 1)
		return 0;
	close(lease_go[1]);
	n = kid_result(*holder, NULL);
	return n > 0 ? n : ENOLINK;
}

static int child_create(void *arg)
{
	int fd = open((const char *)arg, O_CREAT | O_WRONLY, 0644);

	return fd < 0 ? errno : 0;
}

/* A create whose name came to exist, leased, after the kernel looked it
 * up: the backing open would wait in the kernel for the lease break (up to
 * lease-break-time) on the thread that runs it, here the control server
 * that releases the held create.  It parks instead: the release is
 * answered at once, the mount serves, and the create completes once the
 * lease is let go. */
ITEST(create_meeting_lease_parks)
{
	struct diofs_mount *m = waits_mount(NULL);
	struct diofs_held h[2];
	char path[400], bpath[400], text[32] = "";
	struct diofsctl *c;
	pid_t creator, holder;
	uint64_t t0, took_ms;
	int n;

	REQUIRE(m, "no mount");
	if (!itest_read_text("/proc/sys/fs/lease-break-time", text, sizeof(text)) ||
	    atoi(text) < 10) {
		SKIP("lease-break-time is under 10 s: a blocked open would not show");
	}
	text[strcspn(text, "\n")] = '\0';
	REQUIRE((c = itest_ctl(m)), "no control connection");
	REQUIRE(itest_rule(c, "hold op=create path=/c count=1") > 0, "no rule");
	snprintf(path, sizeof(path), "%s/c", m->mnt);
	snprintf(bpath, sizeof(bpath), "%s/c", m->backing);
	creator = spawn(child_create, path);
	REQUIRE(creator > 0 && itest_held(c, 1, h, 2) == 1, "the create was not held");

	/* Meanwhile the name comes to exist in BACKING, leased. */
	REQUIRE(itest_make_file(m, "c", 4, 1), "no file");
	n = start_lease_holder(bpath, &holder);
	if (n) {
		SKIP("no write lease: %s", n == ENOLINK ? "the holder died" : expect_errname(n));
	}

	t0 = diofs_now_ns();
	n = diofsctl_release(c, h[0].id, NULL);
	took_ms = (diofs_now_ns() - t0) / 1000000u;
	CHECK(n == 1 && took_ms < 5000, "release of the create: saw %d (%s) after %ju ms, "
	      "wanted 1 at once (lease-break-time %s s)", n, n < 0 ? diofsctl_error(c) : "",
	      (uintmax_t)took_ms, text);
	CHECK(round_trip(m), "statfs with a create waiting for a lease was not answered");
	CHECK(blocked_in(creator, SYS_openat), "the create did not wait for the lease");

	CHECK(write(lease_go[1], "u", 1) == 1, "write: %s", strerror(errno));
	close(lease_go[1]);
	CHECK(kid_result(holder, NULL) == 0, "the lease holder's unlock failed");
	n = kid_result(creator, NULL);
	CHECK(n == 0, "the create after the lease went: saw %d (%s), wanted 0", n,
	      expect_errname(n > 0 ? n : 0));
}

static int child_open_cpu0(void *arg)
{
	int err = pin_cpu0(), fd;

	if (err)
		return err;
	fd = open((const char *)arg, O_RDONLY);
	return fd < 0 ? errno : 0;
}

/* Over io_uring an open that meets a lease on the backing file waits like
 * a lock (parked, keeping its ring entry) and takes the same share as lock
 * waits (diofs(8), -o io_uring_q_depth): with its user's part of the share
 * taken by flock waiters on the same CPU queue, it is answered ENOLCK; once
 * those waits end it waits for the lease and completes when the lease goes. */
ITEST(uring_lease_wait_takes_lock_share)
{
	char path[400], bpath[400];
	struct diofs_mount *m;
	pid_t w[URING_USER_SHARE], opener, holder;
	int lock_holder, fds[URING_USER_SHARE], res, n;

	skip_without_uring_cpu0();
	m = waits_mount("io_uring,io_uring_q_depth=16");
	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", 4096, 1) && itest_make_file(m, "g", 4, 1), "no files");
	snprintf(path, sizeof(path), "%s/g", m->mnt);
	snprintf(bpath, sizeof(bpath), "%s/g", m->backing);
	lock_holder = itest_open(m, "f", O_RDWR);
	REQUIRE(lock_holder >= 0, "open f: %s", strerror(errno));
	for (int i = 0; i < URING_USER_SHARE; i++)
		REQUIRE(waiter_open(m, "f", &fds[i]), "no fd");
	REQUIRE(flock(lock_holder, LOCK_EX | LOCK_NB) == 0, "flock: %s", strerror(errno));
	for (int i = 0; i < URING_USER_SHARE; i++) {
		w[i] = spawn(child_flock_cpu0, &fds[i]);
		REQUIRE(w[i] > 0 && exited_or_in_flock(w[i]), "flock waiter %d", i);
	}
	REQUIRE(kid_result(spawn(child_statfs_cpu0, m->mnt), NULL) == 0, "statfs from CPU 0 "
		"with %d flock waiters was not answered", URING_USER_SHARE);
	for (int i = 0; i < URING_USER_SHARE; i++)
		REQUIRE(!has_exited(w[i]), "flock waiter %d was answered: the premise (root's "
			"part of the share in use) does not hold", i);

	n = start_lease_holder(bpath, &holder);
	if (n) {
		CHECK(kid_result(spawn(child_unlock, &lock_holder), NULL) == 0, "unlock");
		for (int i = 0; i < URING_USER_SHARE; i++)
			kid_result(w[i], NULL);
		SKIP("no write lease: %s", n == ENOLINK ? "the holder died" : expect_errname(n));
	}

	res = kid_result(spawn(child_open_cpu0, path), NULL);
	CHECK(res == ENOLCK, "an open meeting a lease, with root's share of queue 0's lock "
	      "waits taken by %d flock waiters: saw %d (%s), wanted ENOLCK", URING_USER_SHARE,
	      res, res > 0 ? expect_errname(res) : "no exit");

	res = kid_result(spawn(child_unlock, &lock_holder), NULL);
	CHECK(res == 0, "holder's unlock: saw %d (%s)", res, res > 0 ? expect_errname(res) : "");
	for (int i = 0; i < URING_USER_SHARE; i++) {
		res = kid_result(w[i], NULL);
		CHECK(res == 0, "flock waiter %d after the unlock: saw %d (%s), wanted 0", i, res,
		      res > 0 ? expect_errname(res) : "no exit");
	}
	opener = spawn(child_open_cpu0, path);
	REQUIRE(opener > 0, "no opener");
	CHECK(blocked_in(opener, SYS_openat), "with the share free the open did not wait for "
	      "the lease");
	CHECK(write(lease_go[1], "u", 1) == 1, "write: %s", strerror(errno));
	close(lease_go[1]);
	CHECK(kid_result(holder, NULL) == 0, "the lease holder's unlock failed");
	res = kid_result(opener, NULL);
	CHECK(res == 0, "the open after the lease went: saw %d (%s), wanted 0", res,
	      res > 0 ? expect_errname(res) : "no exit");
}

TEST_MAIN("test_inst_waits")
