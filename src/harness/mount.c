/* Mounting diofs for a test.  Everything that can run from a signal handler
 * (stop_mount and what it calls) uses async-signal-safe calls only: a run
 * killed by its timeout or a crash must still leave nothing mounted. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "harness/mount.h"
#include "harness/proc.h"
#include "harness/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FUSERMOUNT3_PATH
#define FUSERMOUNT3_PATH "fusermount3"
#endif
#ifndef DIOFS_BUILDDIR
#define DIOFS_BUILDDIR "."
#endif

#define START_TIMEOUT_MS 10000
#define RESTART_TIMEOUT_MS 15000
#define EXIT_TIMEOUT_MS 5000
#define MAX_LIVE 16

static struct diofs_mount *live[MAX_LIVE];
static pid_t owner;                      /* the process whose mounts these are */
static void (*signal_hook)(int sig);
static char fusermount3[PATH_MAX];      /* resolved before any handler needs it */
static const int cleanup_signals[] = {
	SIGINT, SIGTERM, SIGHUP, SIGALRM, SIGSEGV, SIGABRT, SIGBUS, SIGFPE,
};

static void say(const char *s)
{
	ssize_t r = write(STDERR_FILENO, s, strlen(s));
	(void)r;
}

static bool exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* Reap pid within timeout_ms; true if it is gone.  A pidfd makes this a
 * wait for the event, not a sleep loop (polling remains for old kernels). */
bool diofs_wait_exit(pid_t pid, int timeout_ms, int *status)
{
	int64_t deadline = diofs_now_ms() + timeout_ms;
	int pidfd = -1;
	bool gone = false;

#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid) {
			gone = true;
			break;
		}
		/* Not our child (a forked test case waits for its parent's
		 * daemon): gone once its pidfd says it exited. */
		if (r < 0 && errno == ECHILD && (pidfd < 0 || exited(pidfd))) {
			gone = true;
			break;
		}
		int64_t left = deadline - diofs_now_ms();
		if (left <= 0)
			break;
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		poll(&p, 1, pidfd >= 0 ? (int)left : (int)(left < 10 ? left : 10));
	}
	if (pidfd >= 0)
		close(pidfd);
	return gone;
}

static void unmount(const char *mnt)
{
	if (geteuid() == 0) {
		/* Detach: never blocks, and works on an aborted connection. */
		umount2(mnt, MNT_DETACH);
		return;
	}
	if (!fusermount3[0])
		return;
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execl(fusermount3, "fusermount3", "-u", "-z", mnt, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		diofs_wait_exit(pid, EXIT_TIMEOUT_MS, NULL);
}

static void remove_tree_at(int parent, const char *name, dev_t dev, int depth)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || st.st_dev != dev || depth > 64) {
		close(fd);      /* another filesystem: a mount we must not enter */
		return;
	}
	for (;;) {
		char buf[4096];
		long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct linux_dirent64 {
				uint64_t d_ino;
				int64_t d_off;
				unsigned short d_reclen;
				unsigned char d_type;
				char d_name[];
			} *d = (void *)(buf + off);
			off += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			if (unlinkat(fd, d->d_name, 0) < 0 && errno == EISDIR)
				remove_tree_at(fd, d->d_name, dev, depth + 1);
		}
	}
	close(fd);
	unlinkat(parent, name, AT_REMOVEDIR);
}

int diofs_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	remove_tree_at(AT_FDCWD, path, st.st_dev, 0);
	return access(path, F_OK) == 0 ? -ENOTEMPTY : 0;
}

/* Only ever remove a directory this library created. */
static bool ours(const char *root)
{
	const char *base = strrchr(root, '/');

	return base && !strncmp(base + 1, "diofs-test.", 11);
}

static void stop_mount(struct diofs_mount *m)
{
	if (m->on_stop)
		m->on_stop(m->on_stop_arg);
	m->on_stop = NULL;
	if (m->mnt[0])
		unmount(m->mnt);
	if (m->pid > 0) {
		kill(m->pid, SIGTERM);
		if (!diofs_wait_exit(m->pid, EXIT_TIMEOUT_MS, NULL)) {
			kill(m->pid, SIGKILL);
			if (!diofs_wait_exit(m->pid, EXIT_TIMEOUT_MS, NULL))
				say("diofs harness: the daemon survived SIGKILL\n");
		}
		m->pid = 0;
	}
	/* -ENOENT: gone already (a forked test case stopped its parent's mount) */
	int removed = m->root[0] && ours(m->root) ? diofs_remove_tree(m->root) : 0;
	if (removed < 0 && removed != -ENOENT) {
		say("diofs harness: could not remove ");
		say(m->root);
		say("\n");
	}
	m->root[0] = '\0';
	m->mnt[0] = '\0';
}

static void block_cleanup_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(cleanup_signals) / sizeof(*cleanup_signals); i++)
		sigaddset(&set, cleanup_signals[i]);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

static bool register_live(struct diofs_mount *m)
{
	sigset_t old;
	bool done = false;

	block_cleanup_signals(&old);
	for (int i = 0; i < MAX_LIVE && !done; i++)
		if (!live[i]) {
			live[i] = m;
			done = true;
		}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return done;
}

static void unregister_live(struct diofs_mount *m)
{
	sigset_t old;

	block_cleanup_signals(&old);
	for (int i = 0; i < MAX_LIVE; i++)
		if (live[i] == m)
			live[i] = NULL;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void stop_all(void)
{
	if (getpid() != owner)
		return;         /* a forked test child: the mounts are not its */
	for (int i = 0; i < MAX_LIVE; i++)
		if (live[i]) {
			stop_mount(live[i]);
			live[i] = NULL;
		}
}

static void on_signal(int sig)
{
	static atomic_int cleaning;

	if (getpid() == owner) {
		if (atomic_exchange(&cleaning, 1))
			for (;;)
				pause(); /* another thread cleans up, then ends us */
		if (signal_hook)
			signal_hook(sig);
		for (int i = 0; i < MAX_LIVE; i++)
			if (live[i]) {
				say("diofs harness: SIG");
				say(sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
				say(": unmounting ");
				say(live[i]->mnt);
				say("\n");
				break;
			}
		stop_all();
	}
	/* Die of the signal as if we had not caught it. */
	signal(sig, SIG_DFL);
	raise(sig);
}

void diofs_mount_install_handlers(void (*hook)(int sig))
{
	static bool installed;

	if (hook)
		signal_hook = hook;
	if (installed)
		return;
	installed = true;
	owner = getpid();
	atexit(stop_all);

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(cleanup_signals) / sizeof(*cleanup_signals); i++)
		sigaddset(&sa.sa_mask, cleanup_signals[i]);
	for (size_t i = 0; i < sizeof(cleanup_signals) / sizeof(*cleanup_signals); i++)
		sigaction(cleanup_signals[i], &sa, NULL);
}

void diofs_mount_forget_parent(void)
{
	sigset_t old;

	block_cleanup_signals(&old);
	for (int i = 0; i < MAX_LIVE; i++)
		live[i] = NULL;
	owner = getpid();
	signal_hook = NULL;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static bool find_fusermount3(char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (strchr(FUSERMOUNT3_PATH, '/') && access(FUSERMOUNT3_PATH, X_OK) == 0)
		return snprintf(out, len, "%s", FUSERMOUNT3_PATH) < (int)len;
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");
		if (n && (size_t)snprintf(out, len, "%.*s/fusermount3", (int)n, p) < len &&
		    access(out, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	out[0] = '\0';
	return false;
}

const char *diofs_mount_unavailable(void)
{
	static char why[128];
	char path[PATH_MAX];
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return "no /dev/fuse";
		snprintf(why, sizeof(why), "cannot open /dev/fuse: %s", strerrorname_np(errno));
		return why;
	}
	close(fd);
	if (geteuid() != 0 && !find_fusermount3(path, sizeof(path)))
		return "not root and no fusermount3";
	return NULL;
}

const char *diofs_binary(void)
{
	const char *env = getenv("DIOFS");

	if (env && *env)
		return env;
	if (access(DIOFS_BUILDDIR "/src/daemon/diofs", X_OK) == 0)
		return DIOFS_BUILDDIR "/src/daemon/diofs";
	return "diofs";
}

static const char *ring_path(const char *dir, const char *name)
{
	static __thread char ring[8][PATH_MAX];
	static __thread unsigned int next;
	char *buf = ring[next++ % 8];

	snprintf(buf, PATH_MAX, "%s/%s", dir, name);
	return buf;
}

const char *diofs_mnt_path(const struct diofs_mount *m, const char *name)
{
	return ring_path(m->mnt, name);
}

const char *diofs_backing_path(const struct diofs_mount *m, const char *name)
{
	return ring_path(m->backing, name);
}

bool diofs_mount_alive(struct diofs_mount *m)
{
	struct statfs st;

	if (m->pid <= 0)
		return false;
	if (waitpid(m->pid, NULL, WNOHANG) == m->pid) {
		m->pid = 0;
		return false;
	}
	/* An aborted connection leaves the daemon running.  statfs, unlike
	 * stat, is never answered from the kernel's cache. */
	return statfs(m->mnt, &st) == 0;
}

/* mountinfo escapes space, tab, newline and backslash in octal */
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

int diofs_mountinfo_at(const char *path, struct diofs_mountinfo *top)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, point[PATH_MAX];
	struct diofs_mountinfo e;
	size_t cap = 0;
	int n = 0;

	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %u:%u %*s %4095s", &e.major, &e.minor, point) != 3 ||
		    sscanf(sep + 3, "%63s %4095s", e.fstype, e.source) != 2)
			continue;
		unescape_mountinfo(point);
		if (strcmp(point, path))
			continue;
		unescape_mountinfo(e.source);
		n++;
		if (top)
			*top = e;       /* later lines are mounted on top */
	}
	free(line);
	fclose(f);
	return n;
}

bool diofs_fuse_mounted_at(const char *mnt)
{
	struct diofs_mountinfo top;

	/* "fuse.diofs" normally; any FUSE type lets a wrapper stand in */
	return diofs_mountinfo_at(mnt, &top) > 0 &&
	       (!strcmp(top.fstype, "fuse") || !strncmp(top.fstype, "fuse.", 5));
}

static bool is_socket(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* The end of daemon.log on one line, to quote in an error. */
static void log_tail(const struct diofs_mount *m, char *out, size_t len)
{
	char path[PATH_MAX], buf[512];
	int fd;
	ssize_t n = 0;

	snprintf(path, sizeof(path), "%s/daemon.log", m->root);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		off_t size = lseek(fd, 0, SEEK_END);
		off_t from = size >= (off_t)sizeof(buf) ? size - (off_t)sizeof(buf) + 1 : 0;
		n = pread(fd, buf, sizeof(buf) - 1, from);
		close(fd);
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	if (n <= 0) {
		snprintf(out, len, "(daemon.log is empty)");
		return;
	}
	buf[n] = '\0';
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = '|';
	snprintf(out, len, "daemon.log: %s", buf);
}

static void describe_status(int status, char *out, size_t len)
{
	if (WIFEXITED(status))
		snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, len, "was killed by %s", strsignal(WTERMSIG(status)));
	else
		snprintf(out, len, "stopped (status %#x)", status);
}

static const char *extra_opts;

void diofs_mount_set_extra_opts(const char *opts)
{
	extra_opts = opts;
}

/* "ctl=ROOT/ctl.sock[,EXTRA][,trace=ROOT/trace.jsonl][,OPTS]"; backing=DIR
 * is the harness's, not diofs's: it replaces ROOT/backing in m. */
static int build_options(struct diofs_mount *m, const char *opts, char *out, size_t len)
{
	const char *extra = extra_opts ? extra_opts : getenv("DIOFS_MOUNT_OPTS");
	char copy[1024], *save = NULL;
	size_t used = (size_t)snprintf(out, len, "ctl=%s", m->ctl);

	if (snprintf(copy, sizeof(copy), "%s%s%s", extra ? extra : "",
		     extra && *extra && opts && *opts ? "," : "", opts ? opts : "") >=
	    (int)sizeof(copy))
		return -1;
	for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (!strncmp(o, "backing=", 8)) {
			if (snprintf(m->backing, sizeof(m->backing), "%s", o + 8) >=
			    (int)sizeof(m->backing))
				return -1;
		} else if (!strcmp(o, "trace")) {
			snprintf(m->trace, sizeof(m->trace), "%s/trace.jsonl", m->root);
			used += (size_t)snprintf(out + used, used < len ? len - used : 0,
						 ",trace=%s", m->trace);
		} else {
			used += (size_t)snprintf(out + used, used < len ? len - used : 0, ",%s", o);
		}
	}
	return used < len ? 0 : -1;
}

static int make_dirs(struct diofs_mount *m, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	char templ[PATH_MAX], real[PATH_MAX];

	snprintf(templ, sizeof(templ), "%s/diofs-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(templ)) {
		snprintf(err, errlen, "mkdtemp %s: %s", templ, strerror(errno));
		return -1;
	}
	/* the mount table names the real path */
	if (!realpath(templ, real) || strlen(real) >= sizeof(m->root)) {
		snprintf(err, errlen, "realpath %s: %s", templ,
			 errno ? strerror(errno) : "too long");
		rmdir(templ);
		return -1;
	}
	strcpy(m->root, real);
	snprintf(m->backing, sizeof(m->backing), "%s/backing", m->root);
	snprintf(m->mnt, sizeof(m->mnt), "%s/mnt", m->root);
	snprintf(m->ctl, sizeof(m->ctl), "%s/ctl.sock", m->root);
	if (strlen(m->ctl) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errlen, "socket path %s is too long for a unix socket (set TMPDIR)",
			 m->ctl);
		return -1;
	}
	if (mkdir(m->backing, 0755) < 0 || mkdir(m->mnt, 0755) < 0) {
		snprintf(err, errlen, "mkdir in %s: %s", m->root, strerror(errno));
		return -1;
	}
	return 0;
}

pid_t diofs_daemon_spawn(const char *backing, const char *mnt, const char *options,
			 const char *log)
{
	const char *bin = diofs_binary();
	char *argv[] = { (char *)bin, "-f", "-o", (char *)options, NULL, NULL, NULL };
	pid_t parent = getpid();

	if (options) {
		argv[4] = (char *)backing;
		argv[5] = (char *)mnt;
	} else {
		argv[2] = (char *)backing;
		argv[3] = (char *)mnt;
	}
	int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t none;
		/* If the test process dies unhandled (SIGKILL), the daemon is
		 * told to stop, which unmounts. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int null = open("/dev/null", O_RDONLY);
		dup2(null, STDIN_FILENO);
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		execvp(bin, argv);
		dprintf(STDERR_FILENO, "cannot run %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(logfd);
	return pid;
}

/* Wait, without a fixed sleep, for the daemon to mount MNT and create its
 * control socket: the mount table, the root directory and the child's exit
 * each wake us when they change. */
static int wait_ready(struct diofs_mount *m, int mountinfo, int inotify, int timeout_ms,
		      char *err, size_t errlen)
{
	int64_t deadline = diofs_now_ms() + timeout_ms;
	int pidfd = -1;
	char why[256], tail[600];
	int status;

#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, m->pid, 0);
#endif
	for (;;) {
		if (waitpid(m->pid, &status, WNOHANG) == m->pid) {
			m->pid = 0;
			describe_status(status, why, sizeof(why));
			log_tail(m, tail, sizeof(tail));
			snprintf(err, errlen, "%s %s: %s", diofs_binary(), why, tail);
			break;
		}
		bool mounted = diofs_fuse_mounted_at(m->mnt);
		bool sock = is_socket(m->ctl);
		if (mounted && sock) {
			if (pidfd >= 0)
				close(pidfd);
			return 0;
		}
		int64_t left = deadline - diofs_now_ms();
		if (left <= 0) {
			log_tail(m, tail, sizeof(tail));
			snprintf(err, errlen, "%s did not %s within %d s: %s", diofs_binary(),
				 mounted ? "create its control socket" : "mount", timeout_ms / 1000,
				 tail);
			break;
		}
		struct pollfd p[3] = {
			{ .fd = mountinfo, .events = POLLPRI },
			{ .fd = inotify, .events = POLLIN },
			{ .fd = pidfd, .events = POLLIN },
		};
		if (poll(p, 3, pidfd >= 0 ? (int)left : (int)(left < 20 ? left : 20)) > 0 &&
		    (p[1].revents & POLLIN)) {
			char drain[4096];
			while (read(inotify, drain, sizeof(drain)) > 0)
				;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return -1;
}

/* Start the daemon on m's directories with options (its log ROOT/daemon.log
 * started afresh) and wait until it serves; the watches are opened before
 * the fork so that no change can be missed. */
static int spawn_and_wait(struct diofs_mount *m, const char *options, int timeout_ms,
			  char *err, size_t errlen)
{
	char log[PATH_MAX];
	int mountinfo = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	int inotify = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	int ret = -1;

	if (mountinfo < 0 || inotify < 0 ||
	    inotify_add_watch(inotify, m->root, IN_CREATE | IN_MOVED_TO) < 0) {
		snprintf(err, errlen, "watching for the mount: %s", strerror(errno));
		goto out;
	}
	snprintf(log, sizeof(log), "%s/daemon.log", m->root);
	m->pid = diofs_daemon_spawn(m->backing, m->mnt, options, log);
	if (m->pid < 0) {
		m->pid = 0;
		snprintf(err, errlen, "starting %s: %s", diofs_binary(), strerror(errno));
		goto out;
	}
	ret = wait_ready(m, mountinfo, inotify, timeout_ms, err, errlen);
out:
	if (mountinfo >= 0)
		close(mountinfo);
	if (inotify >= 0)
		close(inotify);
	return ret;
}

int diofs_mount_start(struct diofs_mount *m, const char *opts,
		      char *err, size_t errlen)
{
	const char *why = diofs_mount_unavailable();
	char options[2048];
	int ret = -1;

	memset(m, 0, sizeof(*m));
	if (why) {
		snprintf(err, errlen, "cannot mount here: %s", why);
		return -1;
	}
	diofs_mount_install_handlers(NULL);
	if (geteuid() != 0 && !fusermount3[0])
		find_fusermount3(fusermount3, sizeof(fusermount3));
	if (!register_live(m)) {
		snprintf(err, errlen, "more than %d mounts at once", MAX_LIVE);
		return -1;
	}
	if (make_dirs(m, err, errlen) < 0)
		goto out;
	if (build_options(m, opts, options, sizeof(options)) < 0) {
		snprintf(err, errlen, "mount options too long: %s", opts);
		goto out;
	}
	ret = spawn_and_wait(m, options, START_TIMEOUT_MS, err, errlen);
	/* the runner's safety net, should the case hang or die */
	if (ret == 0)
		test_track_mount(m->mnt, m->pid, m->root);
out:
	if (ret < 0)
		diofs_mount_stop(m);
	return ret;
}

int diofs_mount_restart(struct diofs_mount *m, const char *opts, char *err, size_t errlen)
{
	char options[2048];

	/* A restarted daemon starts its trace afresh. */
	if (snprintf(options, sizeof(options), "ctl=%s%s%s%s%s%s", m->ctl,
		     m->trace[0] ? ",trace=" : "", m->trace, m->trace[0] ? ",trace_overwrite" : "",
		     opts && *opts ? "," : "", opts ? opts : "") >= (int)sizeof(options)) {
		snprintf(err, errlen, "options too long");
		return -1;
	}
	unlink(m->ctl); /* the dead daemon's: "exists" must mean the new one's */
	return spawn_and_wait(m, options, RESTART_TIMEOUT_MS, err, errlen);
}

void diofs_mount_stop(struct diofs_mount *m)
{
	char mnt[sizeof(m->mnt)];

	/* Stopped while still registered: a signal meanwhile only repeats
	 * harmless steps. */
	snprintf(mnt, sizeof(mnt), "%s", m->mnt);
	stop_mount(m);
	unregister_live(m);
	test_untrack_mount(mnt);
}
