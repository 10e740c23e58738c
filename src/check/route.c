/* The I/O engine in a case (route.h): its assertions, held calls by
 * path, thread states. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/route.h"
#include "check/check.h"
#include "check/premise.h"
#include "harness/proc.h"
#include "proto/errnames.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* A case's I/O: the engine's, and the runner-joined thread its call runs in. */
struct route_io {
	struct dio io;
	struct held_io *h;
	struct route_io *kept_next;  /* on the kept list (route_free) */
};

/* What the engine saw go wrong at completion, as the case's failure. */
static void report_failure(struct route_io *rio)
{
	const char *what = dio_failure(&rio->io);

	if (what)
		CHECK_FAILF("%s", what);
}

struct route_io *route_submit(enum io_route r, int fd, enum io_dir dir, void *buf,
			      size_t len, off_t off)
{
	const char *why = dio_route_unavailable(r);
	struct route_io *rio;
	char err[512];
	int prepared;

	if (why)
		SKIP("%s: %s", dio_route_name(r), why);
	if (r == ROUTE_URING_FIXED)
		PREMISE_REQUIRE(premise_memlock, len);  /* registering counts as locking */
	/* ... and so does every ring, per user: a refusal is judged when it
	 * comes (DIO_PREMISE_FALSE) */
	rio = calloc(1, sizeof(*rio));
	if (!rio)
		CHECK_FATALF("route_submit: out of memory");
	rio->io = (struct dio){ .route = r, .dir = dir, .fd = fd, .buf = buf, .len = len,
				.off = off, .flags = DIO_SCATTER };
	prepared = dio_prepare(&rio->io, err, sizeof(err));
	if (prepared == DIO_PREMISE_FALSE) {
		route_free(rio);
		SKIP("%s: %s", dio_route_name(r), err);
	}
	if (prepared < 0 && !dio_submit_err(&rio->io)) {
		route_free(rio);
		CHECK_FATALF("%s", err);
	}
	if (prepared == 0) {    /* else a refused fixed buffer: the result */
		rio->h = held_call(dio_run, &rio->io);
		dio_wait_running(&rio->io);
	}
	return rio;
}

bool route_submit_returned(struct route_io *io)
{
	return dio_call_returned(&io->io);
}

bool route_submit_wait(struct route_io *io, int timeout_ms)
{
	return dio_call_wait(&io->io, timeout_ms);
}

int route_submit_err(struct route_io *io)
{
	return dio_submit_err(&io->io);
}

bool route_wait(struct route_io *io, int timeout_ms, ssize_t *res)
{
	bool done = dio_wait(&io->io, timeout_ms, res);

	report_failure(io);
	return done;
}

bool route_poll(struct route_io *io, ssize_t *res)
{
	return route_wait(io, 0, res);
}

unsigned int route_more_completions(struct route_io *io)
{
	unsigned int n = dio_more_completions(&io->io);

	report_failure(io);
	return n;
}

bool route_thread(struct route_io *io, pthread_t *thread)
{
	return dio_thread_of(&io->io, thread);
}

pid_t route_tid(struct route_io *io)
{
	return dio_tid(&io->io);
}

int route_ctx_destroy(struct route_io *io)
{
	return dio_ctx_destroy(&io->io);
}

/* I/Os that cannot be freed yet: their thread or the kernel may still use
 * them.  Kept reachable until exit (not leaked), never freed under them. */
static struct route_io *kept;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;

void route_free(struct route_io *io)
{
	if (!io)
		return;
	if (dio_busy(&io->io)) {
		/* the runner joins the thread; the kernel may still complete */
		pthread_mutex_lock(&kept_lock);
		io->kept_next = kept;
		kept = io;
		pthread_mutex_unlock(&kept_lock);
		return;
	}
	if (io->h)
		held_io_join(io->h, NULL);
	dio_cleanup(&io->io);
	free(io);
}

ssize_t route_rw(enum io_route r, int fd, enum io_dir dir, void *buf, size_t len, off_t off)
{
	struct route_io *io = route_submit(r, fd, dir, buf, len, off);
	unsigned int more;
	ssize_t res;

	if (!route_wait(io, ROUTE_WAIT_MS, &res)) {
		CHECK_FAILF("%s of %zu bytes at %jd: no completion within %d ms",
			    dio_call_name(r, dir), len, (intmax_t)off, ROUTE_WAIT_MS);
		route_free(io);
		return -ETIME;
	}
	more = route_more_completions(io);
	if (more)
		CHECK_FAILF("%s of %zu bytes at %jd: %u completions more than the one",
			    dio_call_name(r, dir), len, (intmax_t)off, more);
	route_free(io);
	return res;
}

/* ---- any call in a thread ---------------------------------------------- */

bool route_call_wait(struct held_io *c, int timeout_ms, ssize_t *ret, int *err)
{
	return dio_thread_wait(held_io_thread(c), timeout_ms, ret, err);
}

pid_t route_call_tid(struct held_io *c)
{
	return dio_thread_tid(held_io_thread(c));
}

void route_call_free(struct held_io *c)
{
	if (c && route_call_wait(c, 0, NULL, NULL))
		held_io_join(c, NULL);
}

char task_state(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	/* "TID (comm) S ...": comm may hold anything, the state follows the
	 * last ')' */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] ? p[2] : '?';
}

bool task_wait_state(pid_t tid, char state, int timeout_ms, bool (*done)(void *arg), void *arg)
{
	int64_t deadline = diofs_now_ms() + timeout_ms;

	/* The thread is on its way into the kernel wait: look until it is
	 * there.  Not a sleep for a race: only how long the look lasts. */
	while (diofs_now_ms() < deadline) {
		if (task_state(tid) == state)
			return true;
		if (done && done(arg))
			return false;
		sched_yield();
	}
	return false;
}

/* ---- held calls, by path ---------------------------------------------- */

#define HELD_MAX 256

static int held_cmp(const void *a, const void *b)
{
	const struct diofs_held *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* The calls of list[0, n) that match, moved to its front, sorted. */
static int held_filter(struct diofs_held *list, int n, const char *fuse_path, const char *op)
{
	int m = 0;

	for (int i = 0; i < n && i < HELD_MAX; i++) {
		if (strcmp(list[i].path, fuse_path) || (op && strcmp(list[i].op, op)))
			continue;
		list[m++] = list[i];
	}
	qsort(list, (size_t)m, sizeof(*list), held_cmp);
	return m;
}

static int held_out(struct diofs_held *list, int m, struct diofs_held *out, size_t max)
{
	for (int i = 0; i < m && (size_t)i < max; i++)
		out[i] = list[i];
	return m;
}

int route_held_now(const char *fuse_path, const char *op, struct diofs_held *out, size_t max)
{
	static struct diofs_held list[HELD_MAX];
	int n = CHECK_CTL(diofsctl_held(check_ctl(), 0, 0, list, HELD_MAX));

	if (n < 0)
		return 0;
	return held_out(list, held_filter(list, n, fuse_path, op), out, max);
}

int route_held_wait_at(const char *fuse_path, const char *op, unsigned int n,
		       struct diofs_held *out, size_t max, int timeout_ms,
		       const char *file, unsigned int line)
{
	static struct diofs_held list[HELD_MAX];
	struct diofsctl *ctl = check_ctl_at(file, line);
	int64_t deadline = diofs_now_ms() + timeout_ms;
	unsigned int want = n;

	for (;;) {
		int64_t left = deadline - diofs_now_ms();
		int got = left > 0 ? diofsctl_held(ctl, want, (int)left, list, HELD_MAX) : -1;
		int m;

		if (got < 0) {
			got = diofsctl_held(ctl, 0, 0, list, HELD_MAX);
			m = got < 0 ? 0 : held_filter(list, got, fuse_path, op);
			expect_failf(file, line, false, "diofs holds %d %s call%s on %s after %d ms, "
				    "want %u (%d held in all)", m, op ? op : "", m == 1 ? "" : "s",
				    fuse_path, timeout_ms, n, got);
			return held_out(list, m, out, max);
		}
		m = held_filter(list, got, fuse_path, op);
		if ((unsigned int)m >= n)
			return held_out(list, m, out, max);
		want = (unsigned int)got + 1;
	}
}

/* ---- the running kernel ----------------------------------------------- */

const char *kernel_release(void)
{
	static struct utsname u;

	if (!u.release[0] && uname(&u) < 0)
		strcpy(u.release, "?");
	return u.release;
}

bool kernel_at_least(int major, int minor)
{
	int ma = 0, mi = 0;

	if (sscanf(kernel_release(), "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}
