/* The filesystem tests' runner and helpers (see fstest.h). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "fstest.h"
#include "lib/diofsctl.h"

#include <CUnit/TestDB.h>
#include <CUnit/TestRun.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_S 120
#define MAX_CASE_MOUNTS 8
#define MAX_EXTRA 8
#define MAX_ALLOCS 64

/* ---- state of the running case ---- */

static const struct fs_case *cases_;
static size_t ncases_;
static const struct fs_case *current;          /* the running case */
static struct diofs_mount case_mounts[MAX_CASE_MOUNTS];
static bool case_mount_used[MAX_CASE_MOUNTS];

/* Extra mounts: paths and daemons, read by the signal hook. */
static char extra_path[MAX_EXTRA][PATH_MAX];
static volatile pid_t extra_pid[MAX_EXTRA];
static volatile sig_atomic_t extra_used[MAX_EXTRA];

static char skip_why[256];                     /* fs_skip in the running case */
static unsigned int skipped_at_run;

static void *allocs[MAX_ALLOCS];
static char tempdirs[4][PATH_MAX];
static bool fds_at_start[1024];

/* The watchdog: a case that runs past its time is reported and the
 * process is stopped through the harness's SIGALRM cleanup. */
static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv;
static unsigned long wd_gen;        /* bumped at each case start and end */
static bool wd_armed;
static struct timespec wd_deadline;

static void say(const char *s)
{
	ssize_t r = write(STDERR_FILENO, s, strlen(s));
	(void)r;
}

const char *fs_errname(int err)
{
	static __thread char buf[32];
	const char *n = err ? strerrorname_np(err) : "0";

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

void fs_check(bool ok, bool fatal, const char *file, unsigned int line,
	      const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (ok) {
		CU_assertImplementation(CU_TRUE, line, "", file, "", CU_FALSE);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	CU_assertImplementation(CU_FALSE, line, msg, file, "", fatal ? CU_TRUE : CU_FALSE);
}

bool fs_check_mem(const void *got, const void *want, size_t n,
		  const char *file, unsigned int line, const char *fmt, ...)
{
	const unsigned char *g = got, *w = want;
	char what[1024];
	va_list ap;
	size_t i, bad = 0;

	for (i = 0; i < n && g[i] == w[i]; i++)
		;
	if (i == n) {
		CU_assertImplementation(CU_TRUE, line, "", file, "", CU_FALSE);
		return true;
	}
	for (size_t j = i; j < n; j++)
		bad += g[j] != w[j];
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fs_check(false, false, file, line,
		 "%s: %zu of %zu bytes differ, the first at offset %zu: got %#04x, want %#04x",
		 what, bad, n, i, g[i], w[i]);
	return false;
}

void *fs_alloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	REQUIRE(p != NULL, "malloc(%zu) failed", n);
	for (int i = 0; i < MAX_ALLOCS; i++)
		if (!allocs[i]) {
			allocs[i] = p;
			return p;
		}
	REQUIRE(false, "more than %d fs_alloc blocks in one case", MAX_ALLOCS);
	return NULL;
}

const char *fs_tempdir(void)
{
	const char *tmp = getenv("TMPDIR");

	for (int i = 0; i < 4; i++) {
		if (tempdirs[i][0])
			continue;
		snprintf(tempdirs[i], sizeof(tempdirs[i]), "%s/diofs-fstest.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(tempdirs[i])) {
			int e = errno;
			tempdirs[i][0] = '\0';
			REQUIRE(false, "mkdtemp: %s", fs_errname(e));
		}
		return tempdirs[i];
	}
	REQUIRE(false, "more than 4 temporary directories in one case");
	return NULL;
}

int fs_trace_count(const struct diofs_mount *m, const char *op, const char *path)
{
	char err[256], want_op[64], want_path[PATH_MAX + 16];
	struct diofsctl *ctl = diofsctl_connect(m->ctl, err, sizeof(err));
	char *text, *line, *save = NULL;
	size_t len;
	int n = 0;

	REQUIRE(m->trace[0], "the mount has no trace (mount it with \"trace\")");
	REQUIRE(ctl != NULL, "connecting to %s: %s", m->ctl, err);
	REQUIRE(diofsctl_trace(ctl, "flush") == 0, "trace flush: %s", diofsctl_error(ctl));
	diofsctl_close(ctl);
	text = fs_slurp(m->trace, &len);
	REQUIRE(text != NULL, "reading %s: %s", m->trace, fs_errname(errno));
	snprintf(want_op, sizeof(want_op), "\"op\":\"%s\"", op);
	snprintf(want_path, sizeof(want_path), "\"path\":\"%s\"", path ? path : "");
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, want_op) && (!path || strstr(line, want_path)))
			n++;
	return n;
}

bool fs_init_flag(const struct diofs_mount *m, const char *which, const char *flag)
{
	char err[256], key[32];
	struct diofsctl *ctl = diofsctl_connect(m->ctl, err, sizeof(err));
	char **lines = NULL;
	bool found = false, seen = false;
	size_t flen = strlen(flag);

	REQUIRE(ctl != NULL, "connecting to %s: %s", m->ctl, err);
	/* INIT is answered after mount(2) returned; a request waits for it */
	struct stat st;
	REQUIRE(stat(m->mnt, &st) == 0, "stat %s: %s", m->mnt, fs_errname(errno));
	REQUIRE(diofsctl_cmd(ctl, &lines, "info") >= 0, "info: %s", diofsctl_error(ctl));
	diofsctl_close(ctl);
	snprintf(key, sizeof(key), "init %s=", which);
	for (char **l = lines; l && *l; l++) {
		const char *p;

		if (strncmp(*l, key, strlen(key)))
			continue;
		seen = true;
		/* a whole name in the comma-separated list */
		for (p = *l + strlen(key); (p = strstr(p, flag)); p += flen)
			if ((p[-1] == '=' || p[-1] == ',') && (p[flen] == ',' || !p[flen]))
				found = true;
	}
	diofsctl_free_lines(lines);
	REQUIRE(seen, "diofsctl info has no \"%s\" line", key);
	return found;
}

/* ---- mounts ---- */

struct diofs_mount *fs_mount(const char *opts)
{
	char err[1024];

	for (int i = 0; i < MAX_CASE_MOUNTS; i++) {
		if (case_mount_used[i])
			continue;
		case_mount_used[i] = true;
		if (diofs_mount_start(&case_mounts[i], opts, err, sizeof(err)) < 0) {
			case_mount_used[i] = false;
			REQUIRE(false, "mounting diofs -o %s: %s", opts ? opts : "(none)", err);
		}
		return &case_mounts[i];
	}
	REQUIRE(false, "more than %d mounts in one case", MAX_CASE_MOUNTS);
	return NULL;
}

void fs_unmount(struct diofs_mount *m)
{
	for (int i = 0; i < MAX_CASE_MOUNTS; i++)
		if (m == &case_mounts[i] && case_mount_used[i]) {
			diofs_mount_stop(m);
			case_mount_used[i] = false;
		}
}

void fs_track_mount(const char *path, pid_t daemon)
{
	for (int i = 0; i < MAX_EXTRA; i++)
		if (!extra_used[i]) {
			snprintf(extra_path[i], sizeof(extra_path[i]), "%s", path);
			extra_pid[i] = daemon;
			extra_used[i] = 1;
			return;
		}
	REQUIRE(false, "more than %d extra mounts in one case", MAX_EXTRA);
}

/* Async-signal-safe: the signal hook runs it. */
static int detach_extra(int i)
{
	int ret = 0;

	if (!extra_used[i])
		return 0;
	/* Until nothing is mounted there any more (mounts can stack). */
	while (umount2(extra_path[i], MNT_DETACH) == 0)
		;
	if (errno != EINVAL && errno != ENOENT)
		ret = -errno;
	if (extra_pid[i] > 0)
		kill(extra_pid[i], SIGTERM);
	extra_used[i] = 0;
	return ret;
}

int fs_untrack_mount(const char *path)
{
	int ret = 0;

	for (int i = 0; i < MAX_EXTRA; i++)
		if (extra_used[i] && !strcmp(extra_path[i], path))
			ret = detach_extra(i);
	return ret;
}

static void unescape_mountinfo(char *s)
{
	char *w = s;

	for (const char *r = s; *r; w++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] && r[3]) {
			*w = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
			r += 4;
		} else {
			*w = *r++;
		}
	}
	*w = '\0';
}

int fs_mounted_at(const char *path, char *fstype, char *source)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, point[PATH_MAX], type[64], src[PATH_MAX];
	size_t cap = 0;
	int n = 0;

	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1 ||
		    sscanf(sep + 3, "%63s %4095s", type, src) != 2)
			continue;
		unescape_mountinfo(point);
		unescape_mountinfo(src);
		if (strcmp(point, path))
			continue;
		n++;
		if (fstype)
			snprintf(fstype, 64, "%s", type);
		if (source)
			snprintf(source, PATH_MAX, "%s", src);
	}
	free(line);
	fclose(f);
	return n;
}

/* ---- helpers ---- */

void fs_pattern(void *buf, size_t n, uint64_t seed, uint64_t pos)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < n; i++) {
		uint64_t x = (pos + i) * 0x9e3779b97f4a7c15ULL ^ seed * 0xbf58476d1ce4e5b9ULL;

		x ^= x >> 31;
		x *= 0x94d049bb133111ebULL;
		p[i] = (unsigned char)(x >> 40);
	}
}

int fs_put(const char *path, const void *buf, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t done = 0;
	int err = 0;

	if (fd < 0)
		return -errno;
	while (done < n) {
		ssize_t w = write(fd, (const char *)buf + done, n - done);
		if (w <= 0) {
			err = w < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)w;
	}
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

ssize_t fs_get(const char *path, void *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t done = 0;
	ssize_t err = 0;

	if (fd < 0)
		return -errno;
	while (done < cap) {
		ssize_t r = read(fd, (char *)buf + done, cap - done);
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	close(fd);
	return err ? err : (ssize_t)done;
}

char *fs_slurp(const char *path, size_t *n)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t done = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	buf = fs_alloc((size_t)st.st_size + 1);
	while (done < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + done, (size_t)st.st_size - done);
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	close(fd);
	buf[done] = '\0';
	*n = done;
	return buf;
}

int fs_as_user(uid_t uid, gid_t gid, mode_t mask, int (*fn)(void *), void *arg)
{
	return fs_as_user_groups(uid, gid, 0, NULL, mask, fn, arg);
}

/* Fork a child that becomes uid, gid, groups with umask mask and exits
 * with what fn returned (255: it could not change identity). */
static pid_t spawn_as(uid_t uid, gid_t gid, size_t ngroups, const gid_t *groups, mode_t mask,
		      int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid == 0) {
		umask(mask);
		if (setgroups(ngroups, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0) {
			dprintf(STDERR_FILENO, "fs_as_user(%u, %u): %s\n", (unsigned)uid,
				(unsigned)gid, strerror(errno));
			_exit(255);
		}
		_exit(fn(arg) & 0xff);
	}
	return pid;
}

/* What the child's wait status says: fn's result, or -1. */
static int child_result(int status)
{
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 255) {
		fprintf(stderr, "fs_as_user: the child ended with status %#x\n", status);
		return -1;
	}
	return WEXITSTATUS(status);
}

int fs_as_user_groups(uid_t uid, gid_t gid, size_t ngroups, const gid_t *groups, mode_t mask,
		      int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = spawn_as(uid, gid, ngroups, groups, mask, fn, arg);

	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return child_result(status);
}

pid_t fs_spawn_as_user(uid_t uid, gid_t gid, mode_t mask, int (*fn)(void *), void *arg)
{
	return spawn_as(uid, gid, 0, NULL, mask, fn, arg);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drain(int fd, char *buf, size_t cap, size_t *len)
{
	char tmp[4096];
	ssize_t r;

	while ((r = read(fd, tmp, sizeof(tmp))) > 0) {
		size_t take = (size_t)r;
		if (*len + take > cap - 1)
			take = cap - 1 - *len;
		memcpy(buf + *len, tmp, take);
		*len += take;
		buf[*len] = '\0';
	}
}

int fs_run(char *const argv[], char *const env[], int timeout_ms, struct fs_run *r)
{
	int out[2], err[2], status = -1, pidfd = -1;
	size_t olen = 0, elen = 0;
	int64_t deadline = now_ms() + timeout_ms;
	bool out_open = true, err_open = true;
	pid_t pid;

	r->out[0] = r->err[0] = '\0';
	r->timed_out = false;
	if (pipe2(out, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		sigset_t none;
		int null = open("/dev/null", O_RDONLY);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(null, STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		for (int i = 0; env && env[i]; i++)
			putenv(env[i]);
		execvp(argv[0], argv);
		dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	if (pid < 0) {
		close(out[0]);
		close(err[0]);
		return -1;
	}
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = out_open ? out[0] : -1, .events = POLLIN },
			{ .fd = err_open ? err[0] : -1, .events = POLLIN },
			{ .fd = pidfd, .events = POLLIN },
		};
		int64_t left = deadline - now_ms();

		if (waitpid(pid, &status, WNOHANG) == pid) {
			drain(out[0], r->out, sizeof(r->out), &olen);
			drain(err[0], r->err, sizeof(r->err), &elen);
			break;
		}
		if (left <= 0) {
			r->timed_out = true;
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		/* pidfd: wakes at the exit; without it, a bounded poll */
		if (poll(p, 3, pidfd >= 0 ? (int)left : (int)(left < 20 ? left : 20)) < 0 &&
		    errno != EINTR)
			break;
		if (p[0].revents) {
			size_t before = olen;
			drain(out[0], r->out, sizeof(r->out), &olen);
			if (olen == before && (p[0].revents & POLLHUP))
				out_open = false;
		}
		if (p[1].revents) {
			size_t before = elen;
			drain(err[0], r->err, sizeof(r->err), &elen);
			if (elen == before && (p[1].revents & POLLHUP))
				err_open = false;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	close(out[0]);
	close(err[0]);
	return status;
}

int fs_wait_child(pid_t pid, int timeout_ms, int *status)
{
	int64_t deadline = now_ms() + timeout_ms;
	int pidfd = -1, st;
	pid_t got;

#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	while ((got = waitpid(pid, &st, WNOHANG)) == 0) {
		int64_t left = deadline - now_ms();
		struct pollfd p = { .fd = pidfd, .events = POLLIN };

		if (left <= 0)
			break;
		/* pidfd: wakes at the exit; without it, a bounded poll */
		poll(&p, pidfd >= 0 ? 1 : 0, pidfd >= 0 ? (int)left : (int)(left < 20 ? left : 20));
	}
	if (pidfd >= 0)
		close(pidfd);
	if (got == 0)
		return -ETIMEDOUT;
	if (got < 0)
		return -1;
	if (status)
		*status = st;
	return WIFEXITED(st) && WEXITSTATUS(st) != 255 ? WEXITSTATUS(st) : -1;
}

int fs_count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

void fs_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(skip_why, sizeof(skip_why), fmt, ap);
	va_end(ap);
}

/* ---- the runner ---- */

static void note_fds(void)
{
	memset(fds_at_start, 0, sizeof(fds_at_start));
	for (int fd = 0; fd < (int)(sizeof(fds_at_start) / sizeof(*fds_at_start)); fd++)
		fds_at_start[fd] = fcntl(fd, F_GETFD) != -1;
}

/* Close what the case left open (a fatal assertion skips its closes):
 * an fd in a mount must not outlive the case. */
static void close_new_fds(void)
{
	for (int fd = 0; fd < (int)(sizeof(fds_at_start) / sizeof(*fds_at_start)); fd++)
		if (!fds_at_start[fd] && fcntl(fd, F_GETFD) != -1)
			close(fd);
}

static void case_cleanup(void)
{
	close_new_fds();
	for (int i = 0; i < MAX_EXTRA; i++)
		detach_extra(i);
	for (int i = 0; i < MAX_CASE_MOUNTS; i++)
		if (case_mount_used[i]) {
			diofs_mount_stop(&case_mounts[i]);
			case_mount_used[i] = false;
		}
	for (int i = 0; i < MAX_ALLOCS; i++) {
		free(allocs[i]);
		allocs[i] = NULL;
	}
	for (int i = 0; i < 4; i++)
		if (tempdirs[i][0]) {
			if (diofs_remove_tree(tempdirs[i]) < 0)
				fprintf(stderr, "fstest: could not remove %s\n", tempdirs[i]);
			tempdirs[i][0] = '\0';
		}
}

static void on_signal_hook(int sig)
{
	const struct fs_case *c = current;

	say("fstest: ");
	say(sig == SIGALRM ? "timeout" : strsignal(sig));
	if (c) {
		say(" in case ");
		say(c->name);
	}
	say(": cleaning up\n");
	for (int i = 0; i < MAX_EXTRA; i++)
		detach_extra(i);
}

static const struct fs_case *case_of(const CU_pTest t)
{
	for (size_t i = 0; i < ncases_; i++)
		if (!strcmp(cases_[i].name, t->pName))
			return &cases_[i];
	return NULL;
}

static void on_start(const CU_pTest t, const CU_pSuite s)
{
	const struct fs_case *c = case_of(t);
	unsigned int secs = c && c->timeout_s ? c->timeout_s : DEFAULT_TIMEOUT_S;

	(void)s;
	printf("  %-40s ", t->pName);
	fflush(stdout);
	note_fds();
	skip_why[0] = '\0';
	current = c;
	pthread_mutex_lock(&wd_mu);
	clock_gettime(CLOCK_MONOTONIC, &wd_deadline);
	wd_deadline.tv_sec += secs;
	wd_armed = true;
	wd_gen++;
	pthread_cond_signal(&wd_cv);
	pthread_mutex_unlock(&wd_mu);
}

static void on_complete(const CU_pTest t, const CU_pSuite s, const CU_pFailureRecord f)
{
	(void)s;
	pthread_mutex_lock(&wd_mu);
	wd_armed = false;
	wd_gen++;
	pthread_cond_signal(&wd_cv);
	pthread_mutex_unlock(&wd_mu);
	case_cleanup();
	current = NULL;
	if ((!f || f->pTest != t) && skip_why[0]) {
		printf("SKIP (%s)\n", skip_why);
		skipped_at_run++;
	} else if (!f || f->pTest != t) {
		printf("ok\n");
	} else {
		printf("FAILED\n");
		for (CU_pFailureRecord r = f; r && r->pTest == t; r = r->pNext)
			printf("      %s:%u: %s\n", r->strFileName, r->uiLineNumber,
			       r->strCondition);
	}
	fflush(stdout);
}

static void *watchdog(void *arg)
{
	sigset_t set;

	(void)arg;
	/* This thread takes the process's cleanup signals: the main thread
	 * may sit in an uninterruptible FUSE request. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	pthread_mutex_lock(&wd_mu);
	for (;;) {
		unsigned long gen = wd_gen;

		if (!wd_armed) {
			pthread_cond_wait(&wd_cv, &wd_mu);
			continue;
		}
		if (pthread_cond_timedwait(&wd_cv, &wd_mu, &wd_deadline) == ETIMEDOUT &&
		    wd_armed && gen == wd_gen) {
			pthread_mutex_unlock(&wd_mu);
			say("fstest: the case ran out of time\n");
			kill(getpid(), SIGALRM); /* only this thread takes it */
			for (;;)
				pause();
		}
	}
	return NULL;
}

int fs_main(const char *suite_name, const struct fs_case *cases, size_t n)
{
	const char *no_mount = diofs_mount_unavailable();
	bool root = geteuid() == 0;
	unsigned int skipped = 0, failed;
	pthread_condattr_t ca;
	pthread_t wd;
	sigset_t set;
	CU_pSuite suite;

	cases_ = cases;
	ncases_ = n;
	setvbuf(stdout, NULL, _IOLBF, 0);
	diofs_mount_install_handlers(on_signal_hook);

	/* Cleanup signals go to the watchdog thread only. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wd_cv, &ca);
	if (pthread_create(&wd, NULL, watchdog, NULL) != 0) {
		fprintf(stderr, "%s: cannot start the watchdog thread\n", suite_name);
		return 1;
	}
	pthread_detach(wd);

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite(suite_name, NULL, NULL);
	if (!suite)
		return 1;
	printf("%s:\n", suite_name);
	for (size_t i = 0; i < n; i++) {
		const char *why = NULL;

		if ((cases[i].needs & (FS_NEEDS_MOUNT | FS_NEEDS_ROOT)) && no_mount)
			why = no_mount;
		else if ((cases[i].needs & FS_NEEDS_ROOT) && !root)
			why = "needs root";
		if (why) {
			printf("  %-40s SKIP (%s)\n", cases[i].name, why);
			skipped++;
			continue;
		}
		if (!CU_add_test(suite, cases[i].name, cases[i].fn))
			return 1;
	}
	CU_set_test_start_handler(on_start);
	CU_set_test_complete_handler(on_complete);
	CU_run_all_tests();
	failed = CU_get_number_of_tests_failed();
	skipped += skipped_at_run;
	printf("%s: %u cases, %u failed, %u skipped\n", suite_name, (unsigned)n, failed,
	       skipped);
	CU_cleanup_registry();
	if (failed)
		return 1;
	if (skipped) {
		printf("%s: skipped cases: %s\n", suite_name,
		       no_mount ? no_mount : !root ? "not root" : "see above");
		return 77;
	}
	return 0;
}
