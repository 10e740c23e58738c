/* What the instrument's mount tests share (see itest.h).  Each case runs
 * in a child of its own (the harness's runner): what it set up is taken
 * down by one deferred cleanup, case_cleanup, on every path; mounts are
 * also tracked with the runner, whose parent takes them down if the case
 * hangs or dies. */
#include <config.h>
#include "itest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/ctl.h"
#include "proto/errnames.h"

#ifndef DIOFS_BUILDDIR
#define DIOFS_BUILDDIR "."
#endif

#define MAX_MOUNTS 8
#define MAX_CTLS 32
#define MAX_FDS 64
#define MAX_IOS 1024
#define MAX_FREES 64

/* What the current case made, undone after it. */
static struct {
	struct diofs_mount *mounts[MAX_MOUNTS];
	struct diofsctl *ctls[MAX_CTLS];
	int fds[MAX_FDS];
	struct io *ios[MAX_IOS];
	void *frees[MAX_FREES];
	unsigned int nmounts, nctls, nfds, nios, nfrees;
} cur;

/* Extra mounts of the case (itest_cleanup_mount). */
#define MAX_EXTRA 4
static char extra_mounts[MAX_EXTRA][300];
static int nextra;

static struct own_daemon *own_live;

pid_t itest_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* ---- cleanup ---- */

static void remember_free(void *p)
{
	if (cur.nfrees < MAX_FREES)
		cur.frees[cur.nfrees++] = p;
}

/* Stop what the case left: daemons first (a thread blocked in a held call
 * is answered when its daemon stops), then threads, fds, connections. */
static void case_cleanup(void *arg)
{
	(void)arg;
	for (int i = 0; i < nextra; i++) {
		umount2(extra_mounts[i], MNT_DETACH);
		test_untrack_mount(extra_mounts[i]);
	}
	nextra = 0;
	if (own_live)
		own_stop(own_live);
	for (unsigned int i = 0; i < cur.nmounts; i++) {
		diofs_mount_stop(cur.mounts[i]);
		free(cur.mounts[i]);
	}
	for (unsigned int i = 0; i < cur.nios; i++) {
		struct io *io = cur.ios[i];

		if (io->started && !io->joined) {
			if (!dio_thread_join(io->th, ITEST_WAIT_MS, NULL, NULL)) {
				/* Nothing more can be done: leave it, say so. */
				NOTE("an I/O thread is still blocked after its daemon stopped");
				continue;
			}
			io->joined = true;
		}
		if (io->op == IO_OPEN && io->ret >= 0)
			close((int)io->ret);
		free(io->buf);
		free(io);
	}
	for (unsigned int i = 0; i < cur.nfds; i++)
		if (cur.fds[i] >= 0)
			close(cur.fds[i]);
	for (unsigned int i = 0; i < cur.nctls; i++)
		diofsctl_close(cur.ctls[i]);
	for (unsigned int i = 0; i < cur.nfrees; i++)
		free(cur.frees[i]);
	memset(&cur, 0, sizeof(cur));
}

/* Deferred first: it runs last, after what the case deferred itself. */
void itest_case_start(void)
{
	test_defer(case_cleanup, NULL);
}

/* ---- mounts ---- */

/* Can a client connect to sock yet?  The daemon binds, then chmods, then
 * listens: a socket that exists may still refuse (and not be 0600 yet). */
static bool connectable(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return false;
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return ret == 0;
}

/* Wait until sock accepts connections (a readiness check, bounded). */
static bool wait_connectable(const char *sock)
{
	uint64_t deadline = diofs_now_ns() + (uint64_t)ITEST_WAIT_MS * 1000000u;

	while (!connectable(sock)) {
		if (diofs_now_ns() >= deadline)
			return false;
		poll(NULL, 0, 1);
	}
	return true;
}

struct diofs_mount *itest_mount(const char *opts)
{
	struct diofs_mount *m;
	struct stat st;
	char err[1024];

	if (!CHECK(cur.nmounts < MAX_MOUNTS, "more than %d mounts in one case", MAX_MOUNTS))
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!CHECK(m, "out of memory"))
		return NULL;
	if (!CHECK(diofs_mount_start(m, opts, err, sizeof(err)) == 0,
		   "mounting diofs -o %s: saw failure (%s), wanted a mount",
		   opts ? opts : "(none)", err)) {
		free(m);
		return NULL;
	}
	cur.mounts[cur.nmounts++] = m;
	/* The harness returns once the socket file exists; it may not listen
	 * yet (see connectable). */
	if (!CHECK(wait_connectable(m->ctl), "%s does not accept connections", m->ctl))
		return NULL;
	/* INIT is answered after mount(2) returned, and a request waits for
	 * it: from here on the mount is negotiated (a trace started now gets
	 * its INIT line at once). */
	if (!CHECK(stat(m->mnt, &st) == 0, "stat %s: %s", m->mnt, strerror(errno)))
		return NULL;
	return m;
}

struct diofs_mount *itest_mount_file(const char *opts, const char *name, size_t size,
				     unsigned int seed, struct diofsctl **c, int *fd)
{
	struct diofs_mount *m = itest_mount(opts);

	if (!m || !itest_make_file(m, name, size, seed) || !(*c = itest_ctl(m)))
		return NULL;
	*fd = itest_open(m, name, O_RDONLY);
	return CHECK(*fd >= 0, "open %s: %s", name, strerror(errno)) ? m : NULL;
}

void itest_unmount(struct diofs_mount *m)
{
	diofs_mount_stop(m);
}

void itest_cleanup_mount(const char *path)
{
	if (!CHECK(nextra < MAX_EXTRA, "more than %d extra mounts", MAX_EXTRA))
		return;
	snprintf(extra_mounts[nextra], sizeof(extra_mounts[0]), "%s", path);
	nextra++;
	test_track_mount(path, 0, NULL);
}

struct diofsctl *itest_ctl_path(const char *sock)
{
	struct diofsctl *c;
	char err[512];

	if (!CHECK(cur.nctls < MAX_CTLS, "more than %d connections in one case", MAX_CTLS))
		return NULL;
	c = diofsctl_connect(sock, err, sizeof(err));
	if (!CHECK(c, "connecting to %s: saw %s, wanted a connection", sock, err))
		return NULL;
	cur.ctls[cur.nctls++] = c;
	return c;
}

struct diofsctl *itest_ctl(const struct diofs_mount *m)
{
	return itest_ctl_path(m->ctl);
}

/* ---- files ---- */

static bool mkdirs_for(const char *path)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = strchr(tmp + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return false;
		*p = '/';
	}
	return true;
}

bool itest_make_file(const struct diofs_mount *m, const char *name, size_t size,
		     unsigned int seed)
{
	const char *path = diofs_backing_path(m, name);
	char buf[8192];
	int fd;

	if (!CHECK(mkdirs_for(path), "mkdir for %s: %s", path, strerror(errno)))
		return false;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (!CHECK(fd >= 0, "creating %s: %s", path, strerror(errno)))
		return false;
	for (size_t off = 0; off < size;) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
		ssize_t w;

		pattern_fill(buf, n, off, seed);
		w = pwrite(fd, buf, n, (off_t)off);
		if (!CHECK(w == (ssize_t)n, "writing %s: %s", path, strerror(errno))) {
			close(fd);
			return false;
		}
		off += n;
	}
	close(fd);
	return true;
}

int itest_open(const struct diofs_mount *m, const char *name, int flags)
{
	int fd = open(diofs_mnt_path(m, name), flags | O_CLOEXEC, 0644);

	if (fd >= 0 && cur.nfds < MAX_FDS)
		cur.fds[cur.nfds++] = fd;
	return fd;
}

void itest_close(int fd)
{
	for (unsigned int i = 0; i < cur.nfds; i++)
		if (cur.fds[i] == fd)
			cur.fds[i] = -1;
	close(fd);
}

/* ---- I/O threads ---- */

struct io *io_new(enum io_op op, int fd, size_t len, off_t off)
{
	struct io *io;

	if (!CHECK(cur.nios < MAX_IOS, "more than %d I/O threads in one case", MAX_IOS))
		return NULL;
	io = calloc(1, sizeof(*io));
	if (!CHECK(io, "out of memory"))
		return NULL;
	io->op = op;
	io->fd = fd;
	io->len = len;
	io->off = off;
	io->ret = -2;
	if (len) {
		io->buf = malloc(len);
		if (!CHECK(io->buf, "out of memory")) {
			free(io);
			return NULL;
		}
		memset(io->buf, 0xee, len);
	}
	cur.ios[cur.nios++] = io;
	return io;
}

/* The call, in the io's thread: a read or write by the I/O engine. */
static ssize_t io_main(void *arg)
{
	struct io *io = arg;
	struct dio rw = { .route = ROUTE_PREAD, .dir = io->op == IO_PWRITE ? IO_WRITE : IO_READ,
			  .fd = io->fd, .buf = io->buf, .len = io->len, .off = io->off };
	char why[256];
	ssize_t ret = -1;
	struct stat st;

	atomic_store(&io->tid, itest_gettid());
	io->t0 = diofs_now_ns();
	switch (io->op) {
	case IO_PREAD:
	case IO_PWRITE:
		ret = dio_do(&rw, why, sizeof(why));
		break;
	case IO_OPEN:
		ret = open(io->path, io->flags | O_CLOEXEC, 0644);
		break;
	case IO_STAT:
		ret = stat(io->path, &st);
		break;
	}
	io->err = ret < 0 ? errno : 0;
	io->t1 = diofs_now_ns();
	io->ret = ret;
	atomic_store(&io->done, true);
	return ret;
}

bool io_start(struct io *io)
{
	char why[256];

	if (!io)
		return false;
	io->th = dio_thread_start(io_main, io, why, sizeof(why));
	if (!CHECK(io->th, "%s", why))
		return false;
	io->started = true;
	return true;
}

struct io *io_pread(int fd, size_t len, off_t off)
{
	struct io *io = io_new(IO_PREAD, fd, len, off);

	return io_start(io) ? io : NULL;
}

struct io *io_pwrite(int fd, size_t len, off_t off, unsigned int seed)
{
	struct io *io = io_new(IO_PWRITE, fd, len, off);

	if (!io)
		return NULL;
	pattern_fill(io->buf, len, (uint64_t)off, seed);
	return io_start(io) ? io : NULL;
}

bool io_join(struct io *io)
{
	if (!io || !io->started)
		return false;
	if (io->joined)
		return true;
	if (!CHECK(dio_thread_join(io->th, ITEST_WAIT_MS, NULL, NULL), "the I/O thread (op %d "
		   "off %jd) still blocked after %d ms: saw no completion, wanted one",
		   (int)io->op, (intmax_t)io->off, ITEST_WAIT_MS))
		return false;
	io->joined = true;
	return true;
}

int io_kill(struct io *io, int sig)
{
	return dio_thread_kill(io->th, sig);
}

/* ---- the control channel ---- */

static int held_cmd(struct diofsctl *c, unsigned int min, int timeout, struct diofs_held *out,
		    size_t max)
{
	int n = diofsctl_held(c, min, timeout, out, max);

	if (!CHECK(n >= 0, "held min=%u: saw \"%s\", wanted a list of at least %u",
		   min, diofsctl_error(c), min))
		return -1;
	return n;
}

int itest_held(struct diofsctl *c, unsigned int min, struct diofs_held *out, size_t max)
{
	return held_cmd(c, min, ITEST_WAIT_MS, out, max);
}

int itest_held_now(struct diofsctl *c, struct diofs_held *out, size_t max)
{
	return held_cmd(c, 0, 0, out, max);
}

int itest_rule(struct diofsctl *c, const char *fmt, ...)
{
	char rule[1024];
	va_list ap;
	int id;

	va_start(ap, fmt);
	vsnprintf(rule, sizeof(rule), fmt, ap);
	va_end(ap);
	id = diofsctl_rule_add(c, "%s", rule);
	CHECK(id > 0, "rule add %s: saw \"%s\", wanted an id", rule,
	      id > 0 ? "" : diofsctl_error(c));
	return id > 0 ? id : -1;
}

bool itest_op_stats(struct diofsctl *c, const char *op, uint64_t *count, uint64_t *errors)
{
	char **lines;
	int n = diofsctl_cmd(c, &lines, "stats");

	*count = *errors = 0;
	if (!CHECK(n >= 0, "stats: saw \"%s\", wanted ok", diofsctl_error(c)))
		return false;
	for (int i = 0; i < n; i++) {
		unsigned long long cn, en;
		char name[32];

		if (sscanf(lines[i], "op %31s count=%llu errors=%llu", name, &cn, &en) == 3 &&
		    strcmp(name, op) == 0) {
			*count = cn;
			*errors = en;
		}
	}
	diofsctl_free_lines(lines);
	return true;
}

bool itest_rule_counts(struct diofsctl *c, int id, uint64_t *matched, uint64_t *acted,
		       char *text, size_t textlen)
{
	char **lines;
	int n = diofsctl_cmd(c, &lines, "rule list");
	bool found = false;

	if (!CHECK(n >= 0, "rule list: saw \"%s\", wanted ok", diofsctl_error(c)))
		return false;
	for (int i = 0; i < n && !found; i++) {
		unsigned long long m, a;
		int rid, pos = 0;

		if (sscanf(lines[i], "%d matched=%llu acted=%llu %n", &rid, &m, &a, &pos) >= 3 &&
		    rid == id) {
			*matched = m;
			*acted = a;
			if (text)
				snprintf(text, textlen, "%s", pos ? lines[i] + pos : "");
			found = true;
		}
	}
	diofsctl_free_lines(lines);
	return found;
}

bool itest_rule_acted(struct diofsctl *c, int id, uint64_t want)
{
	uint64_t matched = 0, acted = 0;

	/* Each look is a round trip to the daemon; the failsafe bounds it. */
	for (uint64_t t0 = diofs_now_ns(); acted < want &&
	     diofs_now_ns() - t0 < (uint64_t)ITEST_WAIT_MS * 1000000u;)
		if (!itest_rule_counts(c, id, &matched, &acted, NULL, 0))
			break;
	return CHECK(acted == want, "rule %d acted %ju times, wanted %ju", id, (uintmax_t)acted,
		     (uintmax_t)want);
}

int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = ITEST_WAIT_MS / 1000 };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (cur.nfds < MAX_FDS)
		cur.fds[cur.nfds++] = fd;
	return fd;
}

bool raw_line(int fd, char *out, size_t len)
{
	size_t n = 0;

	/* A byte at a time: the next answer stays in the socket. */
	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (len)
				out[n < len ? n : len - 1] = '\0';
			return false;
		}
		if (ch == '\n')
			break;
		if (n + 1 < len)
			out[n++] = ch;
	}
	if (len)
		out[n] = '\0';
	return true;
}


/* ---- the trace ---- */

int trace_load(const char *path, struct trace_rec **out)
{
	char why[512];
	int n = diofs_trace_load(path, out, why, sizeof(why));

	if (!CHECK(n >= 0, "the trace %s: %s; wanted complete trace records", path, why))
		return -1;
	remember_free(*out);
	return n;
}

const char *trace_text(const struct trace_rec *r)
{
	static __thread char buf[2][1024];
	static __thread unsigned int next;
	char *b = buf[next++ % 2], *line;

	line = malloc(trace_rec_size(r));
	if (!line)
		return "(out of memory)";
	trace_rec_format(line, r)[-1] = '\0'; /* its newline */
	snprintf(b, sizeof(buf[0]), "%s", line);
	free(line);
	return b;
}

/* ---- processes ---- */

/* The daemon of m has exited: wait for it (failsafe limit), keep its status,
 * let the harness know (diofs_mount_alive reaps it). */
bool itest_daemon_exited(struct diofs_mount *m, int *status)
{
	int pidfd = (int)syscall(SYS_pidfd_open, m->pid, 0);
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	siginfo_t si = { 0 };
	bool gone;

	if (!CHECK(pidfd >= 0, "pidfd_open(%d): %s", (int)m->pid, strerror(errno)))
		return false;
	gone = poll(&p, 1, ITEST_WAIT_MS) == 1;
	close(pidfd);
	if (!gone)
		return false;
	if (waitid(P_PID, (id_t)m->pid, &si, WEXITED | WNOWAIT) == 0 && status)
		*status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8
						   : (si.si_status & 0x7f);
	CHECK(!diofs_mount_alive(m), "the daemon exited but could not be reaped");
	return true;
}

/* Read what fd gives until EOF into out (cut to len). */
static void drain(int fd, char *out, size_t len, size_t *n)
{
	char buf[4096];
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (ssize_t i = 0; i < r; i++)
			if (*n + 1 < len)
				out[(*n)++] = buf[i];
	}
	if (len)
		out[*n] = '\0';
}

int itest_run(char *const argv[], char *out, size_t outlen, char *errout, size_t errlen)
{
	struct diofs_run *r = malloc(sizeof(*r));
	int status;

	if (!CHECK(r, "out of memory"))
		return -1;
	status = diofs_run(argv, NULL, ITEST_WAIT_MS, r);
	snprintf(out, outlen, "%s", r->out);
	snprintf(errout, errlen, "%s", r->err);
	if (r->timed_out)
		status = -1;
	free(r);
	return status;
}

const char *itest_diofsctl(void)
{
	const char *env = getenv("DIOFSCTL");

	if (env && *env)
		return env;
	return DIOFS_BUILDDIR "/src/ctl/diofsctl";
}

bool itest_read_text(const char *path, char *out, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;

	if (fd < 0) {
		if (len)
			out[0] = '\0';
		return false;
	}
	drain(fd, out, len, &n);
	close(fd);
	return true;
}

int itest_count(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* ---- a daemon started by hand ---- */

void own_stop(struct own_daemon *d)
{
	if (!d)
		return;
	if (d->pid > 0) {
		umount2(d->mnt, MNT_DETACH);
		kill(d->pid, SIGTERM);
		if (!diofs_wait_exit(d->pid, ITEST_WAIT_MS, NULL)) {
			kill(d->pid, SIGKILL);
			diofs_wait_exit(d->pid, ITEST_WAIT_MS, NULL);
		}
		d->pid = 0;
	}
	if (diofs_fuse_mounted_at(d->mnt))
		umount2(d->mnt, MNT_DETACH);
	if (d->root[0])
		diofs_remove_tree(d->root);
	test_untrack_mount(d->mnt);
	if (own_live == d)
		own_live = NULL;
	free(d);
}

struct own_daemon *own_start(const char *opts, bool default_sock, bool expect_failure,
			     int *status)
{
	const char *tmp = getenv("TMPDIR");
	const char *bin = diofs_binary();
	struct own_daemon *d;
	char templ[PATH_MAX], *real;
	uint64_t deadline;
	int mountinfo;

	if (!CHECK(!own_live, "one hand-started daemon at a time"))
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!CHECK(d, "out of memory"))
		return NULL;
	snprintf(templ, sizeof(templ), "%s/diofs-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!CHECK(mkdtemp(templ), "mkdtemp %s: %s", templ, strerror(errno))) {
		free(d);
		return NULL;
	}
	real = realpath(templ, NULL);
	snprintf(d->root, sizeof(d->root), "%.255s", real ? real : templ);
	free(real);
	snprintf(d->backing, sizeof(d->backing), "%s/backing", d->root);
	snprintf(d->mnt, sizeof(d->mnt), "%s/mnt", d->root);
	snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->root);
	own_live = d;
	if (!CHECK(mkdir(d->backing, 0755) == 0 && mkdir(d->mnt, 0755) == 0,
		   "mkdir in %s: %s", d->root, strerror(errno)))
		goto fail;
	if (default_sock) {
		int err = ctl_default_path(d->mnt, d->sock, sizeof(d->sock));

		if (!CHECK(err == 0, "the default socket of %s: %s", d->mnt, strerror(-err)))
			goto fail;
	}
	mountinfo = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	d->pid = diofs_daemon_spawn(d->backing, d->mnt, opts && *opts ? opts : NULL, d->log);
	if (!CHECK(d->pid > 0, "starting %s: %s", bin, strerror(errno))) {
		d->pid = 0;
		if (mountinfo >= 0)
			close(mountinfo);
		goto fail;
	}
	test_track_mount(d->mnt, d->pid, d->root);

	/* Ready when mounted (and the socket is there); the mount table wakes
	 * us (POLLPRI), a daemon that exits too. */
	deadline = diofs_now_ns() + (uint64_t)ITEST_WAIT_MS * 1000000u;
	for (;;) {
		struct stat st;
		int wst;

		if (waitpid(d->pid, &wst, WNOHANG) == d->pid) {
			d->pid = 0;
			if (status)
				*status = wst;
			if (!expect_failure) {
				char log[1024];

				itest_read_text(d->log, log, sizeof(log));
				CHECK(false, "%s exited before mounting (status %#x): %s", bin, wst,
				      log);
			}
			break;
		}
		if (diofs_fuse_mounted_at(d->mnt) &&
		    (!default_sock || (stat(d->sock, &st) == 0 && S_ISSOCK(st.st_mode) &&
				       connectable(d->sock)))) {
			if (mountinfo >= 0)
				close(mountinfo);
			CHECK(!expect_failure, "%s -o %s mounted: saw a mount, wanted a failure",
			      bin, opts ? opts : "");
			return d; /* stopped by the caller or after the case */
		}
		uint64_t now = diofs_now_ns();

		if (!CHECK(now < deadline, "%s did not mount within %d ms", bin, ITEST_WAIT_MS))
			break;
		struct pollfd p = { .fd = mountinfo, .events = POLLPRI };

		/* The socket comes after the mount: look again soon. */
		poll(&p, mountinfo >= 0 ? 1 : 0, 5);
	}
	if (mountinfo >= 0)
		close(mountinfo);
	if (expect_failure && d->pid == 0)
		return d; /* the caller looks at the log, then own_stop */
fail:
	own_stop(d);
	return NULL;
}
