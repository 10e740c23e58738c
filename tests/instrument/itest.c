/* What the instrument's mount tests share (see itest.h). */
#include <config.h>
#include "itest.h"

#include <CUnit/Basic.h>
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
#include <sys/prctl.h>
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

/* Extra mounts of the case (itest_cleanup_mount), also for the handler. */
#define MAX_EXTRA 4
static char extra_mounts[MAX_EXTRA][300];
static volatile sig_atomic_t nextra;

static const struct itest_case *the_cases;
static size_t the_ncases;
static const char *volatile case_name = "(none)";
static struct own_daemon *volatile own_live;
static bool skipped;

/* ---- assertions ---- */

bool itest_check(bool ok, const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (ok) {
		CU_assertImplementation(CU_TRUE, line, "", file, "", CU_FALSE);
		return true;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  FAIL %s:%d [%s]: %s\n", file, line, case_name, msg);
	CU_assertImplementation(CU_FALSE, line, msg, file, "", CU_FALSE);
	return false;
}

void itest_skip(const char *why)
{
	fprintf(stderr, "\n  SKIP [%s]: %s\n", case_name, why);
	skipped = true;
}

uint64_t itest_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

pid_t itest_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

const char *itest_errname(int err)
{
	static __thread char buf[8][24];
	static __thread unsigned int next;
	const char *name;
	char *b;

	if (err == 0)
		return "0";
	name = errno_name(err);
	if (name && strcmp(name, "E?") != 0)
		return name;
	b = buf[next++ % 8];
	snprintf(b, sizeof(buf[0]), "errno %d", err);
	return b;
}

/* ---- cleanup ---- */

static void remember_free(void *p)
{
	if (cur.nfrees < MAX_FREES)
		cur.frees[cur.nfrees++] = p;
}

/* Stop what the case left: daemons first (a thread blocked in a held call
 * is answered when its daemon stops), then threads, fds, connections. */
static void case_cleanup(void)
{
	for (int i = 0; i < nextra; i++)
		umount2(extra_mounts[i], MNT_DETACH);
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
				fprintf(stderr, "  [%s] an I/O thread is still blocked after its "
					"daemon stopped\n", case_name);
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

/* ---- running ---- */

static void on_fatal_signal(int sig)
{
	static const char pre[] = "\n  itest: ";
	const char *what = sig == SIGALRM ? ": timed out (hang), cleaning up\n"
					  : ": killed by a signal, cleaning up\n";
	const char *name = case_name;
	struct own_daemon *d = own_live;

	if (write(STDERR_FILENO, pre, sizeof(pre) - 1) < 0 ||
	    write(STDERR_FILENO, name, strlen(name)) < 0 ||
	    write(STDERR_FILENO, what, strlen(what)) < 0) {
		/* nothing to do */
	}
	for (int i = 0; i < nextra; i++)
		umount2(extra_mounts[i], MNT_DETACH);
	if (d && d->pid > 0) {
		umount2(d->mnt, MNT_DETACH);
		kill(d->pid, SIGTERM);
	}
}

/* The watchdog: a thread of its own takes the cleanup signals (the others
 * block them), so that a hang is cleaned up even when the case's thread
 * sits in a FUSE request that only a fatal signal could interrupt. */
static const int cleanup_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGALRM };
static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv;
static struct timespec wd_deadline;
static bool wd_armed;
static unsigned long wd_gen;

static void cleanup_sigset(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(cleanup_signals) / sizeof(cleanup_signals[0]); i++)
		sigaddset(set, cleanup_signals[i]);
}

static void *watchdog(void *arg)
{
	sigset_t set;

	(void)arg;
	cleanup_sigset(&set);
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
			kill(getpid(), SIGALRM); /* only this thread takes it */
			for (;;)
				pause();
		}
	}
	return NULL;
}

static void watchdog_arm(bool on)
{
	pthread_mutex_lock(&wd_mu);
	if (on) {
		const char *env = getenv("ITEST_CASE_TIMEOUT");
		long secs = env && atol(env) > 0 ? atol(env) : ITEST_CASE_TIMEOUT_S;

		clock_gettime(CLOCK_MONOTONIC, &wd_deadline);
		wd_deadline.tv_sec += secs;
	}
	wd_armed = on;
	wd_gen++;
	pthread_cond_signal(&wd_cv);
	pthread_mutex_unlock(&wd_mu);
}

static void run_case(void)
{
	CU_pTest t = CU_get_current_test();
	const struct itest_case *c = NULL;
	uint64_t t0;

	for (size_t i = 0; t && i < the_ncases; i++)
		if (strcmp(the_cases[i].name, t->pName) == 0)
			c = &the_cases[i];
	if (!c) {
		CU_FAIL("no such case");
		return;
	}
	case_name = c->name;
	skipped = false;
	t0 = itest_now_ns();
	watchdog_arm(true);
	c->fn();
	case_cleanup();
	watchdog_arm(false);
	fprintf(stderr, "  [%s: %.3f s%s]\n", c->name, (itest_now_ns() - t0) / 1e9,
		skipped ? ", skipped" : "");
	case_name = "(between cases)";
}

int itest_main(const char *suite_name, const struct itest_case *cases, size_t n)
{
	const char *why = diofs_mount_unavailable();
	CU_pSuite suite;
	unsigned int failed;
	uint64_t t0 = itest_now_ns();

	if (why) {
		fprintf(stderr, "%s: skipped: %s\n", suite_name, why);
		return 77;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Cleanup on a hang (SIGALRM) or a crash, hook first; the cleanup
	 * signals go to the watchdog thread only. */
	diofs_mount_install_handlers(on_fatal_signal);
	signal(SIGPIPE, SIG_IGN);
	{
		pthread_condattr_t ca;
		pthread_t wd;
		sigset_t set;

		cleanup_sigset(&set);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&wd_cv, &ca);
		pthread_condattr_destroy(&ca);
		if (pthread_create(&wd, NULL, watchdog, NULL) != 0) {
			fprintf(stderr, "%s: cannot start the watchdog thread\n", suite_name);
			return 99;
		}
		pthread_detach(wd);
	}
	the_cases = cases;
	the_ncases = n;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	suite = CU_add_suite(suite_name, NULL, NULL);
	if (!suite)
		return 99;
	for (size_t i = 0; i < n; i++)
		if (!CU_add_test(suite, cases[i].name, run_case))
			return 99;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
		 CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	fprintf(stderr, "%s: %.2f s\n", suite_name, (itest_now_ns() - t0) / 1e9);
	return failed ? 1 : 0;
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
	uint64_t deadline = itest_now_ns() + (uint64_t)ITEST_WAIT_MS * 1000000u;

	while (!connectable(sock)) {
		if (itest_now_ns() >= deadline)
			return false;
		poll(NULL, 0, 1);
	}
	return true;
}

struct diofs_mount *itest_mount(const char *opts)
{
	struct diofs_mount *m;
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
	return m;
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

void itest_fill(void *buf, size_t len, uint64_t off, unsigned int seed)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = itest_byte(off + i, seed);
}

long itest_mismatch(const void *buf, size_t len, uint64_t off, unsigned int seed)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != itest_byte(off + i, seed))
			return (long)i;
	return -1;
}

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

		itest_fill(buf, n, off, seed);
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
	io->t0 = itest_now_ns();
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
	io->t1 = itest_now_ns();
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
	itest_fill(io->buf, len, (uint64_t)off, seed);
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

enum {
	F_START = 1 << 0, F_END = 1 << 1, F_UNIQUE = 1 << 2, F_OP = 1 << 3,
	F_NODEID = 1 << 4, F_PATH = 1 << 5, F_OFF = 1 << 6, F_SIZE = 1 << 7,
	F_REPLIED = 1 << 8, F_ERRNO = 1 << 9, F_ERR = 1 << 10, F_PID = 1 << 11,
	F_UID = 1 << 12, F_RULE = 1 << 13, F_ODIRECT = 1 << 14, F_FDIO = 1 << 15,
	F_FH = 1 << 16,
	F_ALWAYS = (1 << 14) - 1,
};

/* A JSON string at *p (after the quote) into out; false if malformed. */
static bool json_string(const char **pp, char *out, size_t len)
{
	const char *p = *pp;
	size_t n = 0;

	for (;;) {
		unsigned int ch = (unsigned char)*p++;

		if (ch == '\0' || ch < 0x20)
			return false;
		if (ch == '"')
			break;
		if (ch == '\\') {
			switch (*p++) {
			case '"': ch = '"'; break;
			case '\\': ch = '\\'; break;
			case '/': ch = '/'; break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'n': ch = '\n'; break;
			case 'r': ch = '\r'; break;
			case 't': ch = '\t'; break;
			case 'u': {
				unsigned int v = 0;

				for (int i = 0; i < 4; i++) {
					char h = *p++;

					v <<= 4;
					if (h >= '0' && h <= '9')
						v |= (unsigned int)(h - '0');
					else if (h >= 'a' && h <= 'f')
						v |= (unsigned int)(h - 'a' + 10);
					else if (h >= 'A' && h <= 'F')
						v |= (unsigned int)(h - 'A' + 10);
					else
						return false;
				}
				if (v > 0xff)
					return false; /* the trace only escapes bytes */
				ch = v;
				break;
			}
			default:
				return false;
			}
		}
		if (n + 1 < len)
			out[n++] = (char)ch;
	}
	out[n] = '\0';
	*pp = p;
	return true;
}

bool trace_parse_line(const char *line, struct trace_rec *r, char *why, size_t whylen)
{
	static const struct {
		const char *key;
		unsigned int bit;
	} keys[] = {
		{ "start", F_START }, { "end", F_END }, { "unique", F_UNIQUE },
		{ "op", F_OP }, { "nodeid", F_NODEID }, { "path", F_PATH },
		{ "off", F_OFF }, { "size", F_SIZE }, { "replied", F_REPLIED },
		{ "errno", F_ERRNO }, { "err", F_ERR }, { "pid", F_PID },
		{ "uid", F_UID }, { "rule", F_RULE }, { "o_direct", F_ODIRECT },
		{ "fopen_direct_io", F_FDIO }, { "fh", F_FH },
	};
	const char *p = line;
	unsigned int seen = 0;

	memset(r, 0, sizeof(*r));
	snprintf(r->line, sizeof(r->line), "%s", line);
	if (*p++ != '{') {
		snprintf(why, whylen, "does not start with {");
		return false;
	}
	for (;;) {
		char key[32], sval[512];
		unsigned int bit = 0;
		bool is_str = false, bval = false, is_bool = false;
		long long num = 0;
		unsigned long long unum = 0;

		if (*p++ != '"' || !json_string(&p, key, sizeof(key)) || *p++ != ':') {
			snprintf(why, whylen, "bad key near offset %td", p - line);
			return false;
		}
		if (*p == '"') {
			p++;
			if (!json_string(&p, sval, sizeof(sval))) {
				snprintf(why, whylen, "bad string for %s", key);
				return false;
			}
			is_str = true;
		} else if (strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0) {
			bval = *p == 't';
			p += bval ? 4 : 5;
			is_bool = true;
		} else {
			char *end;

			errno = 0;
			if (*p == '-') {
				num = strtoll(p, &end, 10);
				unum = (unsigned long long)num;
			} else {
				unum = strtoull(p, &end, 10);
				num = (long long)unum;
			}
			if (end == p || errno) {
				snprintf(why, whylen, "bad value for %s", key);
				return false;
			}
			p = end;
		}
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcmp(keys[i].key, key) == 0)
				bit = keys[i].bit;
		if (bit & seen) {
			snprintf(why, whylen, "%s twice", key);
			return false;
		}
		seen |= bit;
		bool want_str = bit == F_OP || bit == F_PATH || bit == F_ERR;
		bool want_bool = bit == F_ODIRECT || bit == F_FDIO;

		if (bit && (want_str != is_str || want_bool != is_bool)) {
			snprintf(why, whylen, "%s has the wrong type", key);
			return false;
		}
		switch (bit) {
		case F_START: r->start = unum; break;
		case F_END: r->end = unum; break;
		case F_UNIQUE: r->unique = unum; break;
		case F_OP: snprintf(r->op, sizeof(r->op), "%.31s", sval); break;
		case F_NODEID: r->nodeid = unum; break;
		case F_PATH: snprintf(r->path, sizeof(r->path), "%s", sval); break;
		case F_OFF: r->off = num; break;
		case F_SIZE: r->size = unum; break;
		case F_REPLIED: r->replied = unum; break;
		case F_ERRNO: r->err_no = (int)num; break;
		case F_ERR: snprintf(r->err, sizeof(r->err), "%.31s", sval); break;
		case F_PID: r->pid = (int)num; break;
		case F_UID: r->uid = (unsigned int)unum; break;
		case F_RULE: r->rule = (int)num; break;
		case F_ODIRECT: r->o_direct = bval; r->has_dio = true; break;
		case F_FDIO: r->fopen_direct_io = bval; break;
		case F_FH: r->fh = unum; r->has_fh = true; break;
		default: break; /* a field added later */
		}
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p++ != '}' || *p) {
			snprintf(why, whylen, "junk after the object");
			return false;
		}
		break;
	}
	if ((seen & F_ALWAYS) != F_ALWAYS) {
		snprintf(why, whylen, "fields missing (have %#x of %#x)", seen & F_ALWAYS,
			 F_ALWAYS);
		return false;
	}
	if (!!(seen & F_ODIRECT) != !!(seen & F_FDIO)) {
		snprintf(why, whylen, "o_direct and fopen_direct_io not together");
		return false;
	}
	return true;
}

int trace_load(const char *path, struct trace_rec **out)
{
	FILE *f = fopen(path, "re");
	struct trace_rec *recs = NULL;
	size_t n = 0, cap = 0, lineno = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	bool ok = true;

	*out = NULL;
	if (!CHECK(f, "opening the trace %s: %s", path, strerror(errno)))
		return -1;
	while ((len = getline(&line, &lcap, f)) > 0) {
		char why[128];

		lineno++;
		if (!CHECK(line[len - 1] == '\n', "trace line %zu: no newline at its end: %s",
			   lineno, line)) {
			ok = false;
			break;
		}
		line[len - 1] = '\0';
		/* Every trace file starts with what INIT negotiated. */
		if (lineno == 1) {
			if (!CHECK(!strncmp(line, "{\"init\":{\"kernel\":\"7.", 21) &&
				   strstr(line, "\"proto\":\"7.") && strstr(line, "\"flags\":\""),
				   "trace line 1: %s, wanted the INIT record", line)) {
				ok = false;
				break;
			}
			continue;
		}
		if (n == cap) {
			struct trace_rec *nr;

			cap = cap ? 2 * cap : 256;
			nr = realloc(recs, cap * sizeof(*recs));
			if (!CHECK(nr, "out of memory")) {
				ok = false;
				break;
			}
			recs = nr;
		}
		if (!CHECK(trace_parse_line(line, &recs[n], why, sizeof(why)),
			   "trace line %zu: %s: saw %s, wanted a complete trace record",
			   lineno, why, line)) {
			ok = false;
			break;
		}
		n++;
	}
	free(line);
	fclose(f);
	if (!ok) {
		free(recs);
		return -1;
	}
	remember_free(recs);
	*out = recs;
	return (int)n;
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

bool itest_wait_pid(pid_t pid, int timeout_ms, int *status)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	uint64_t deadline = itest_now_ns() + (uint64_t)timeout_ms * 1000000u;
	bool gone = false;

	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			if (status)
				*status = st;
			gone = true;
			break;
		}
		if (r < 0)
			break;
		uint64_t now = itest_now_ns();

		if (now >= deadline)
			break;
		int left = (int)((deadline - now) / 1000000u) + 1;
		struct pollfd p = { .fd = pidfd, .events = POLLIN };

		/* Woken by the exit itself; without a pidfd, look again soon. */
		poll(&p, pidfd >= 0 ? 1 : 0, pidfd >= 0 ? left : (left < 10 ? left : 10));
	}
	if (pidfd >= 0)
		close(pidfd);
	return gone;
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
	int opipe[2], epipe[2], status;
	size_t on = 0, en = 0;
	uint64_t deadline = itest_now_ns() + (uint64_t)ITEST_WAIT_MS * 1000000u;
	pid_t pid;

	if (pipe2(opipe, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(epipe, O_CLOEXEC) < 0) {
		close(opipe[0]);
		close(opipe[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(opipe[1], STDOUT_FILENO);
		dup2(epipe[1], STDERR_FILENO);
		execv(argv[0], argv);
		dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(opipe[1]);
	close(epipe[1]);
	if (pid < 0) {
		close(opipe[0]);
		close(epipe[0]);
		return -1;
	}
	if (outlen)
		out[0] = '\0';
	if (errlen)
		errout[0] = '\0';
	/* Both pipes until both close, within the deadline. */
	struct pollfd p[2] = { { .fd = opipe[0], .events = POLLIN },
			       { .fd = epipe[0], .events = POLLIN } };
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		uint64_t now = itest_now_ns();

		if (now >= deadline)
			break;
		if (poll(p, 2, (int)((deadline - now) / 1000000u) + 1) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			char buf[4096];
			ssize_t r;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			r = read(p[i].fd, buf, sizeof(buf));
			if (r <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				continue;
			}
			for (ssize_t k = 0; k < r; k++) {
				if (i == 0 && on + 1 < outlen)
					out[on++] = buf[k];
				if (i == 1 && en + 1 < errlen)
					errout[en++] = buf[k];
			}
			if (outlen)
				out[on] = '\0';
			if (errlen)
				errout[en] = '\0';
		}
	}
	for (int i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	if (!itest_wait_pid(pid, (int)(deadline > itest_now_ns() ?
				       (deadline - itest_now_ns()) / 1000000u : 0) + 1, &status)) {
		kill(pid, SIGKILL);
		itest_wait_pid(pid, ITEST_WAIT_MS, NULL);
		return -1;
	}
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
		if (!itest_wait_pid(d->pid, ITEST_WAIT_MS, NULL)) {
			kill(d->pid, SIGKILL);
			itest_wait_pid(d->pid, ITEST_WAIT_MS, NULL);
		}
		d->pid = 0;
	}
	if (diofs_fuse_mounted_at(d->mnt))
		umount2(d->mnt, MNT_DETACH);
	if (d->root[0])
		diofs_remove_tree(d->root);
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
	int logfd, mountinfo;

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
	logfd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (!CHECK(logfd >= 0, "%s: %s", d->log, strerror(errno)))
		goto fail;
	mountinfo = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);

	pid_t parent = getpid();

	d->pid = fork();
	if (d->pid == 0) {
		char *argv[8];
		int argc = 0;
		sigset_t none;

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		argv[argc++] = (char *)bin;
		argv[argc++] = "-f";
		if (opts && *opts) {
			argv[argc++] = "-o";
			argv[argc++] = (char *)opts;
		}
		argv[argc++] = d->backing;
		argv[argc++] = d->mnt;
		argv[argc] = NULL;
		execvp(bin, argv);
		dprintf(STDERR_FILENO, "cannot run %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(logfd);
	if (!CHECK(d->pid > 0, "fork: %s", strerror(errno))) {
		d->pid = 0;
		if (mountinfo >= 0)
			close(mountinfo);
		goto fail;
	}

	/* Ready when mounted (and the socket is there); the mount table wakes
	 * us (POLLPRI), a daemon that exits too. */
	deadline = itest_now_ns() + (uint64_t)ITEST_WAIT_MS * 1000000u;
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
		uint64_t now = itest_now_ns();

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
