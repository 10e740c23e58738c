/* The test runner (see runner.h).  The parent forks one child per case and
 * waits for it with sigtimedwait (SIGCHLD, and SIGINT/SIGTERM/SIGHUP to
 * stop); no watchdog thread.  What the child records (failures, notes, the
 * skip reason) and what it tracks (mounts, daemons, directories) lives in
 * one MAP_SHARED region made before the first fork, so the parent can read
 * it and clean up after a child that hung or died. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "harness/runner.h"
#include "harness/ktap.h"
#include "harness/mount.h"
#include "harness/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_REGISTERED 256
#define MAX_TRACKED 16
#define MAX_DEFERRED 64
#define REAP_TIMEOUT_MS 10000

struct tracked {
	bool used;
	char mnt[PATH_MAX];      /* "": a directory only */
	char dir[PATH_MAX];      /* "": none */
	pid_t daemon;
	int fuse_conn;           /* /sys/fs/fuse/connections/N; -1: not FUSE */
};

struct shared {
	pthread_mutex_t mu;     /* process-shared: the case may fork helpers */
	struct test_result result;
	bool skipped;
	char skip_reason[sizeof(((struct test_result *)0)->reason)];
	struct tracked tracked[MAX_TRACKED];
};

static struct shared *shared;
static bool in_case;                /* this process is a case's child, or its fork */
static pid_t case_pid;              /* the case's child */
static bool echo;
/* Where the child's diagnostics go: the KTAP stream (the parent's stdout).
 * The case's own stdout goes to stderr: a printf must not break a line. */
static FILE *ktap_out;
static struct {
	void (*fn)(void *arg);
	void *arg;
} deferred[MAX_DEFERRED];
static int ndeferred;

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };

/* ---- in the child ------------------------------------------------------ */

bool test_in_case(void)
{
	return in_case;
}

static void append_log(const char *prefix, const char *text)
{
	struct test_result *r = &shared->result;
	size_t used = strlen(r->log), need = strlen(prefix) + strlen(text) + 1;

	if (used + need < sizeof(r->log))
		snprintf(r->log + used, sizeof(r->log) - used, "%s%s\n", prefix, text);
	else
		r->log_full = true;
	if (echo)
		ktap_diag(ktap_out ? ktap_out : stdout, "%s%s", prefix, text);
}

void test_record_failure(const char *text)
{
	pthread_mutex_lock(&shared->mu);
	if (!shared->result.failures++)
		snprintf(shared->result.reason, sizeof(shared->result.reason), "%s", text);
	append_log("", text);
	pthread_mutex_unlock(&shared->mu);
}

void test_record_note(const char *text)
{
	pthread_mutex_lock(&shared->mu);
	append_log("NOTE: ", text);
	pthread_mutex_unlock(&shared->mu);
}

void test_record_skip(const char *reason)
{
	pthread_mutex_lock(&shared->mu);
	if (!shared->skipped) {
		shared->skipped = true;
		snprintf(shared->skip_reason, sizeof(shared->skip_reason), "%s", reason);
	}
	pthread_mutex_unlock(&shared->mu);
}

unsigned int test_failures(void)
{
	return in_case ? shared->result.failures : 0;
}

void test_defer(void (*fn)(void *arg), void *arg)
{
	if (ndeferred == MAX_DEFERRED) {
		expect_failf(__FILE__, __LINE__, true, "more than %d deferred cleanups",
			     MAX_DEFERRED);
		return;
	}
	deferred[ndeferred].fn = fn;
	deferred[ndeferred].arg = arg;
	ndeferred++;
}

/* The deferred cleanups, last first, then exit.  A REQUIRE failing in a
 * cleanup comes back here and goes on with the next one; another thread
 * ending the case meanwhile waits to be ended with the process. */
void test_end_case(void)
{
	static atomic_bool ending;
	static pthread_t ender;

	if (!in_case)
		exit(shared && shared->result.failures ? 1 : 0);
	if (getpid() != case_pid) {
		/* a process the case forked: only it ends, its failure counted */
		fflush(NULL);
		_exit(255);
	}
	if (atomic_exchange(&ending, true) && !pthread_equal(ender, pthread_self()))
		for (;;)
			pause();
	ender = pthread_self();
	while (ndeferred > 0) {
		ndeferred--;
		deferred[ndeferred].fn(deferred[ndeferred].arg);
	}
	shared->result.ended = true;
	fflush(NULL);
	/* _exit: the parent's atexit handlers (reports) are not the child's */
	_exit(0);
}

static struct tracked *find_tracked(const char *mnt, const char *dir)
{
	for (int i = 0; i < MAX_TRACKED; i++) {
		struct tracked *t = &shared->tracked[i];

		if (t->used && ((mnt && !strcmp(t->mnt, mnt)) || (dir && !strcmp(t->dir, dir))))
			return t;
	}
	return NULL;
}

static void track(const char *mnt, pid_t daemon, const char *dir)
{
	struct diofs_mountinfo top;

	for (int i = 0; i < MAX_TRACKED; i++) {
		struct tracked *t = &shared->tracked[i];

		if (t->used)
			continue;
		snprintf(t->mnt, sizeof(t->mnt), "%s", mnt ? mnt : "");
		snprintf(t->dir, sizeof(t->dir), "%s", dir ? dir : "");
		t->daemon = daemon;
		/* now, while the mount answers: after a hang the table is
		 * still readable, but better not to depend on it */
		t->fuse_conn = -1;
		if (mnt && diofs_mountinfo_at(mnt, &top) > 0 &&
		    (!strcmp(top.fstype, "fuse") || !strncmp(top.fstype, "fuse.", 5)))
			t->fuse_conn = (int)top.minor;
		t->used = true;
		return;
	}
	expect_failf(__FILE__, __LINE__, true, "more than %d mounts and directories tracked",
		     MAX_TRACKED);
}

void test_track_mount(const char *mnt, pid_t daemon, const char *dir)
{
	if (in_case)
		track(mnt, daemon, dir);
}

void test_untrack_mount(const char *mnt)
{
	struct tracked *t;

	if (in_case && (t = find_tracked(mnt, NULL)))
		t->used = false;
}

void test_track_dir(const char *dir)
{
	if (in_case)
		track(NULL, 0, dir);
}

void test_untrack_dir(const char *dir)
{
	struct tracked *t;

	if (in_case && (t = find_tracked(NULL, dir)) && !t->mnt[0])
		t->used = false;
}

/* ---- in the parent ----------------------------------------------------- */

const char *test_unmet_needs(const struct test_case *c)
{
	const char *no_mount;

	if ((c->needs & (TEST_NEEDS_MOUNT | TEST_NEEDS_ROOT)) &&
	    (no_mount = diofs_mount_unavailable()))
		return no_mount;
	if ((c->needs & TEST_NEEDS_ROOT) && geteuid() != 0)
		return "needs root";
	return NULL;
}

static void abort_fuse(int conn)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%d/abort", conn);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;         /* gone with its daemon already, or no fusectl */
	if (write(fd, "1", 1) < 0)
		ktap_diag(stdout, "runner: aborting FUSE connection %d: %s", conn,
			  strerror(errno));
	close(fd);
}

/* What the case left behind: kill its process group (while the child is
 * a zombie or alive, so its id cannot name another group), abort its FUSE
 * connections (a task blocked in a request wakes up, and dies of the
 * pending SIGKILL before it runs another line), kill its daemons. */
static void stop_case_processes(pid_t child)
{
	kill(-child, SIGKILL);
	for (int i = 0; i < MAX_TRACKED; i++) {
		struct tracked *t = &shared->tracked[i];

		if (t->used && t->fuse_conn >= 0)
			abort_fuse(t->fuse_conn);
		if (t->used && t->daemon > 0)
			kill(t->daemon, SIGKILL);
	}
}

/* Detach the case's mounts (every one stacked there), remove its
 * directories, say what was done. */
static void remove_case_leftovers(const char *name)
{
	int err;

	for (int i = MAX_TRACKED - 1; i >= 0; i--) {
		struct tracked *t = &shared->tracked[i];

		if (!t->used)
			continue;
		if (t->mnt[0]) {
			int n = 0;

			while (umount2(t->mnt, MNT_DETACH) == 0)
				n++;
			if (n)
				ktap_diag(stdout, "%s: the case left %s mounted: detached", name,
					  t->mnt);
		}
		if (t->dir[0] && (err = diofs_remove_tree(t->dir)) < 0 && err != -ENOENT)
			ktap_diag(stdout, "%s: could not remove %s: %s", name, t->dir,
				  strerror(-err));
		t->used = false;
	}
}

/* A stop signal the process ignores (a background job's SIGINT) is no
 * reason to stop the case. */
static bool ignored(int sig)
{
	struct sigaction sa;

	return sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

/* Wait for the child to end (not reaping it), the time to run out or a
 * stop signal: 0, ETIMEDOUT, or the signal. */
static int wait_case(pid_t child, int64_t deadline_ms, const sigset_t *set)
{
	for (;;) {
		siginfo_t si = { 0 };
		int64_t left = deadline_ms - diofs_now_ms();
		struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = left % 1000 * 1000000 };
		int sig;

		if (waitid(P_PID, (id_t)child, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == child)
			return 0;
		if (left <= 0)
			return ETIMEDOUT;
		sig = sigtimedwait(set, NULL, &ts);
		if (sig > 0 && sig != SIGCHLD && !ignored(sig))
			return sig;
	}
}

static void describe_exit(int status, char *out, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(out, len, "killed by SIG%s (%s)",
			 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?",
			 strsignal(WTERMSIG(status)));
	else
		snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
}

static void fail_result(struct test_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail_result(struct test_result *r, const char *fmt, ...)
{
	va_list ap;

	r->status = TEST_FAIL;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

/* A clean region for the next case (its lock shared with the processes
 * the case may fork): the top one, or in a case that runs a case of its
 * own (the runner's own tests) a second one. */
static bool reset_shared(void)
{
	static struct shared *regions[2];
	struct shared **region = &regions[in_case];
	pthread_mutexattr_t attr;
	void *p;

	if (!*region) {
		p = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return false;
		*region = p;
	}
	shared = *region;
	memset(shared, 0, sizeof(*shared));
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&shared->mu, &attr);
	pthread_mutexattr_destroy(&attr);
	return true;
}

/* The case's child: a process group of its own, the parent's mounts not
 * its to stop, its stdout on stderr (its diagnostics on a copy of the
 * KTAP stream), the caller's signal mask back. */
static void run_child(const struct test_case *c, const sigset_t *mask)
	__attribute__((noreturn));
static void run_child(const struct test_case *c, const sigset_t *mask)
{
	int fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);

	if (fd >= 0 && (ktap_out = fdopen(fd, "w"))) {
		setvbuf(ktap_out, NULL, _IOLBF, 0);
		dup2(STDERR_FILENO, STDOUT_FILENO);
	}
	setpgid(0, 0);
	in_case = true;
	case_pid = getpid();
	ndeferred = 0;          /* a case run by a case: not the outer's */
	diofs_mount_forget_parent();
	pthread_sigmask(SIG_SETMASK, mask, NULL);
	c->fn();
	test_end_case();
}

/* What the case came to: why the wait ended (0, ETIMEDOUT, a signal),
 * how the child ended, what it recorded. */
static void judge(struct test_result *r, int why, int status, unsigned int timeout)
{
	*r = shared->result;
	r->status = TEST_FAIL;
	if (why == ETIMEDOUT)
		fail_result(r, "timed out after %u s", timeout);
	else if (why)
		fail_result(r, "stopped by SIG%s", sigabbrev_np(why));
	else if (WIFSIGNALED(status) || WEXITSTATUS(status))
		describe_exit(status, r->reason, sizeof(r->reason));
	else if (r->failures)
		return;         /* the reason: the first failure */
	else if (shared->skipped) {
		r->status = TEST_SKIP;
		snprintf(r->reason, sizeof(r->reason), "%s", shared->skip_reason);
	} else {
		r->status = TEST_PASS;
	}
}

void test_run_case(const struct test_case *c, const struct test_run_opts *opts,
		   struct test_result *r)
{
	unsigned int timeout = opts && opts->timeout_s ? opts->timeout_s :
			       c->timeout_s ? c->timeout_s : TEST_DEFAULT_TIMEOUT_S;
	int64_t start = diofs_now_ms();
	struct shared *outer = shared;  /* in a case that runs a case */
	bool outer_echo = echo;
	sigset_t set, old;
	int status = 0, why;
	pid_t child;

	memset(r, 0, sizeof(*r));
	if (in_case && getpid() != case_pid) {
		fail_result(r, "a case runs a case only from its own process");
		return;
	}
	if (!reset_shared()) {
		fail_result(r, "mmap of the shared region: %s", strerror(errno));
		return;
	}
	echo = opts && opts->echo;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(*stop_signals); i++)
		sigaddset(&set, stop_signals[i]);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	fflush(NULL);
	child = fork();
	if (child == 0)
		run_child(c, &old);
	if (child < 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		fail_result(r, "fork: %s", strerror(errno));
		return;
	}
	setpgid(child, child);  /* either of us may get there first */
	why = wait_case(child, start + (int64_t)timeout * 1000, &set);
	/* Nothing of the case outlives it: after a hang or a crash this is
	 * the cleanup; after a normal end, the safety net. */
	stop_case_processes(child);
	if (!diofs_wait_exit(child, REAP_TIMEOUT_MS, &status))
		ktap_diag(stdout, "%s: the child %d did not die within %d s of SIGKILL", c->name,
			  (int)child, REAP_TIMEOUT_MS / 1000);
	remove_case_leftovers(c->name);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	judge(r, why, status, timeout);
	r->seconds = (double)(diofs_now_ms() - start) / 1000;
	if (in_case) {
		shared = outer;
		echo = outer_echo;
	}
	if (why && why != ETIMEDOUT)
		raise(why);     /* the caller's handlers, or the default action */
}

/* ---- TEST's registry ---------------------------------------------------- */

static struct test_case registered[MAX_REGISTERED];
static size_t nregistered;

void test_register(const struct test_case *c)
{
	if (nregistered == MAX_REGISTERED) {
		fprintf(stderr, "runner: more than %d TESTs in one program\n", MAX_REGISTERED);
		abort();
	}
	registered[nregistered++] = *c;
}

const struct test_case *test_registered(void)
{
	return registered;
}

size_t test_registered_count(void)
{
	return nregistered;
}

/* ---- test_main ---------------------------------------------------------- */

static void usage(FILE *out, const char *prog)
{
	fprintf(out, "usage: %s [--list] [--case GLOB]... [--timeout S] [-v]\n"
		"  --list         the case names, one a line\n"
		"  --case GLOB    only the cases matching GLOB (repeatable)\n"
		"  --timeout S    every case's time limit in seconds\n"
		"  -v             say each case's start and duration\n"
		"Writes KTAP on stdout.  Exit status: 0 no case failed, 1 a case failed,\n"
		"2 usage error, 77 every case skipped.\n", prog);
}

static bool chosen(const char *name, char **globs, int nglobs)
{
	if (!nglobs)
		return true;
	for (int i = 0; i < nglobs; i++)
		if (!fnmatch(globs[i], name, 0))
			return true;
	return false;
}

int test_main(int argc, char **argv, const char *suite,
	      const struct test_case *cases, size_t n)
{
	struct test_run_opts opts = { .echo = true };
	struct ktap_totals totals = { 0 };
	char **globs = calloc((size_t)argc + 1, sizeof(*globs));
	bool list = false, verbose = false, *run = calloc(n + 1, sizeof(*run));
	unsigned int planned = 0, no = 0;
	int nglobs = 0;

	if (!globs || !run)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--list")) {
			list = true;
		} else if (!strcmp(argv[i], "--case") && i + 1 < argc) {
			globs[nglobs++] = argv[++i];
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			char *end;
			unsigned long s = strtoul(argv[++i], &end, 10);

			if (*end || !s || s > 86400) {
				fprintf(stderr, "%s: --timeout wants seconds, not %s\n", suite, argv[i]);
				return 2;
			}
			opts.timeout_s = (unsigned int)s;
		} else if (!strcmp(argv[i], "-v")) {
			verbose = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout, argv[0]);
			return 0;
		} else {
			usage(stderr, argv[0]);
			return 2;
		}
	}
	for (size_t i = 0; i < n; i++)
		if ((run[i] = chosen(cases[i].name, globs, nglobs)))
			planned++;
	if (list) {
		for (size_t i = 0; i < n; i++)
			if (run[i])
				printf("%s\n", cases[i].name);
		return 0;
	}
	if (!planned) {
		fprintf(stderr, "%s: no case matches\n", suite);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	ktap_start(stdout, planned);
	for (size_t i = 0; i < n; i++) {
		const struct test_case *c = &cases[i];
		const char *unmet;
		struct test_result r;

		if (!run[i])
			continue;
		no++;
		if ((unmet = test_unmet_needs(c))) {
			ktap_result(stdout, no, c->name, KTAP_SKIP, unmet);
			totals.skip++;
			continue;
		}
		if (verbose)
			ktap_diag(stdout, "RUN %s", c->name);
		test_run_case(c, &opts, &r);
		if (verbose)
			ktap_diag(stdout, "%s: %.2f s", c->name, r.seconds);
		switch (r.status) {
		case TEST_PASS:
			ktap_result(stdout, no, c->name, KTAP_PASS, NULL);
			totals.pass++;
			break;
		case TEST_SKIP:
			ktap_result(stdout, no, c->name, KTAP_SKIP, r.reason);
			totals.skip++;
			break;
		case TEST_FAIL:
			/* the child said its failures; the parent says the rest */
			if (!r.failures || strcmp(r.reason, shared->result.reason))
				ktap_diag(stdout, "%s: %s", c->name, r.reason);
			ktap_result(stdout, no, c->name, KTAP_FAIL, NULL);
			totals.fail++;
			break;
		}
	}
	ktap_diag(stdout, "%s: %u cases, %u failed, %u skipped", suite, planned, totals.fail,
		  totals.skip);
	ktap_totals(stdout, &totals);
	free(globs);
	free(run);
	if (totals.fail)
		return 1;
	return totals.skip == planned ? 77 : 0;
}
