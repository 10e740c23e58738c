/* The I/O routes of route.h. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/route.h"
#include "check/check.h"
#include "check/premise.h"
#include "proto/errnames.h"

#include <fcntl.h>
#include <libaio.h>
#include <sched.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* preadv/pwritev: at most this many iovecs, each followed by a gap the
 * kernel must not touch. */
#define SCATTER_MAX 64
#define SCATTER_GAP 40
#define GAP_BYTE 0x5a

struct route_io {
	struct route_io *kept_next;  /* on the kept list (route_free) */
	enum io_route route;
	enum io_dir dir;
	int fd;
	void *buf;
	size_t len;
	off_t off;

	/* the thread that makes a synchronous call (and io_submit) */
	struct held_io *h;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool thread_known, call_done;
	pthread_t thread;
	pid_t tid;
	ssize_t call_ret;
	int call_err;

	/* preadv/pwritev */
	struct iovec iov[SCATTER_MAX];
	int iovcnt;
	char *scatter;
	size_t scatter_len;

	/* libaio */
	io_context_t aio;
	struct iocb iocb;
	bool aio_up;

	/* io_uring: the thread that submits stays until the CQE (io_uring
	 * cancels an exiting task's io-wq work), reaping through an eventfd */
	struct io_uring ring;
	bool ring_up;
	int submit_err;         /* io_uring_register_buffers: errno */
	int cq_efd, quit_efd;
	bool cqe_done, owner_done;
	ssize_t cqe_res;

	/* the completion */
	bool completed;
	ssize_t res;
	unsigned int extra;
};

static const struct {
	const char *name, *read, *write;
	bool async;
} routes[ROUTE_COUNT] = {
	[ROUTE_PREAD] = { "pread", "pread", "pwrite", false },
	[ROUTE_PREADV] = { "preadv", "preadv", "pwritev", false },
	[ROUTE_AIO] = { "aio", "io_submit(IOCB_CMD_PREAD)", "io_submit(IOCB_CMD_PWRITE)", true },
	[ROUTE_URING] = { "uring", "IORING_OP_READ", "IORING_OP_WRITE", true },
	[ROUTE_URING_FIXED] = { "uring-fixed", "IORING_OP_READ_FIXED", "IORING_OP_WRITE_FIXED",
				true },
};

const char *route_name(enum io_route r)
{
	return r < ROUTE_COUNT ? routes[r].name : "?";
}

const char *route_call_name(enum io_route r, enum io_dir dir)
{
	if (r >= ROUTE_COUNT)
		return "?";
	return dir == IO_READ ? routes[r].read : routes[r].write;
}

bool route_is_async(enum io_route r)
{
	return r < ROUTE_COUNT && routes[r].async;
}

const char *route_unavailable(enum io_route r)
{
	static char aio_why[128], uring_why[512];
	static int aio_state, uring_state; /* 0 unknown, 1 works, -1 does not */

	if (r == ROUTE_AIO) {
		if (!aio_state) {
			io_context_t ctx = 0;
			int err = io_setup(1, &ctx);

			aio_state = err ? -1 : 1;
			if (err)
				snprintf(aio_why, sizeof(aio_why), "io_setup: %s (no CONFIG_AIO, "
					 "or fs.aio-max-nr reached)", errno_name(-err));
			else
				io_destroy(ctx);
		}
		return aio_state < 0 ? aio_why : NULL;
	}
	if (r == ROUTE_URING || r == ROUTE_URING_FIXED) {
		if (!uring_state)
			uring_state = premise_io_uring(NULL, NULL, uring_why, sizeof(uring_why))
				      == PREMISE_HOLDS ? 1 : -1;
		return uring_state < 0 ? uring_why : NULL;
	}
	return NULL;
}

/* ---- the calling thread ----------------------------------------------- */

/* The submitting thread of an io_uring I/O, after io_uring_submit: wait
 * for the CQE (the completion's task_work runs in this task), record it,
 * and return; or return when told to (route_ctx_destroy).  Only this
 * thread reads the CQ ring until it returns. */
static void uring_owner_wait(struct route_io *io)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = io->cq_efd, .events = POLLIN },
				       { .fd = io->quit_efd, .events = POLLIN } };
		struct io_uring_cqe *cqe;
		uint64_t v;

		/* the timeout only guards against a lost eventfd wakeup: the
		 * CQ is looked at again each round */
		if (poll(p, 2, 1000) < 0)
			continue;       /* EINTR: task_work, a signal */
		if (p[1].revents)
			return;
		if (p[0].revents && read(io->cq_efd, &v, sizeof(v)) < 0)
			continue;
		if (io_uring_peek_cqe(&io->ring, &cqe))
			continue;
		pthread_mutex_lock(&io->lock);
		io->cqe_res = cqe->res;
		io->cqe_done = true;
		pthread_cond_broadcast(&io->cond);
		pthread_mutex_unlock(&io->lock);
		io_uring_cqe_seen(&io->ring, cqe);
		return;
	}
}

static ssize_t call_thread(void *arg)
{
	struct route_io *io = arg;
	struct iocb *iocbs[1] = { &io->iocb };
	ssize_t r = -1;
	int err;

	pthread_mutex_lock(&io->lock);
	io->thread = pthread_self();
	io->tid = gettid();
	io->thread_known = true;
	pthread_cond_broadcast(&io->cond);
	pthread_mutex_unlock(&io->lock);

	switch (io->route) {
	case ROUTE_PREAD:
		r = io->dir == IO_READ ? pread(io->fd, io->buf, io->len, io->off)
				       : pwrite(io->fd, io->buf, io->len, io->off);
		break;
	case ROUTE_PREADV:
		r = io->dir == IO_READ ? preadv(io->fd, io->iov, io->iovcnt, io->off)
				       : pwritev(io->fd, io->iov, io->iovcnt, io->off);
		break;
	case ROUTE_AIO: {
		int n = io_submit(io->aio, 1, iocbs); /* libaio: -errno */

		if (n != 1) {
			errno = n < 0 ? -n : EAGAIN;
			r = -1;
		} else {
			r = 1;
		}
		break;
	}
	case ROUTE_URING:
	case ROUTE_URING_FIXED: {
		int n = io_uring_submit(&io->ring); /* -errno */

		if (n != 1) {
			errno = n < 0 ? -n : EAGAIN;
			r = -1;
		} else {
			r = 1;
		}
		break;
	}
	default:
		errno = EINVAL;
	}
	err = r < 0 ? errno : 0;

	pthread_mutex_lock(&io->lock);
	io->call_ret = r;
	io->call_err = err;
	io->call_done = true;
	pthread_cond_broadcast(&io->cond);
	pthread_mutex_unlock(&io->lock);
	if (r == 1 && (io->route == ROUTE_URING || io->route == ROUTE_URING_FIXED))
		uring_owner_wait(io);
	pthread_mutex_lock(&io->lock);
	io->owner_done = true;
	pthread_cond_broadcast(&io->cond);
	pthread_mutex_unlock(&io->lock);
	errno = err;
	return r;
}

static void deadline_after(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Wait for the thread's call to return: true if it did. */
static bool call_wait(struct route_io *io, int timeout_ms)
{
	struct timespec ts;
	bool done;

	deadline_after(&ts, timeout_ms);
	pthread_mutex_lock(&io->lock);
	while (!io->call_done && timeout_ms > 0)
		if (pthread_cond_timedwait(&io->cond, &io->lock, &ts))
			break;
	done = io->call_done;
	pthread_mutex_unlock(&io->lock);
	return done;
}

static void start_thread(struct route_io *io)
{
	io->h = held_call(call_thread, io);
	pthread_mutex_lock(&io->lock);
	while (!io->thread_known)
		pthread_cond_wait(&io->cond, &io->lock);
	pthread_mutex_unlock(&io->lock);
}

/* ---- preadv/pwritev --------------------------------------------------- */

/* Uneven segment lengths: single bytes, page-crossing odd sizes, whole
 * pages, a segment larger than a FUSE request's share of a page array. */
static const size_t seg_len[] = {
	4095, 1, 512, 4096 + 7, 3, 65536, 100, 8192, 33, 131072 + 9, 4096, 17,
};

/* Can this process read and write all of [buf, buf+len)?  (An unmapped
 * or PROT_NONE buffer, for the EFAULT checks, must not be touched here.)
 * One byte of each page is read and written back through
 * process_vm_readv/writev, which fail with EFAULT instead of faulting. */
static bool accessible(const void *buf, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t p = (uintptr_t)buf, end = (uintptr_t)buf + len;
	struct iovec local[256], remote[256];
	unsigned char bytes[256];
	pid_t self = getpid();

	while (p < end) {
		size_t n = 0;

		for (; p < end && n < 256; n++) {
			remote[n] = (struct iovec){ (void *)p, 1 };
			local[n] = (struct iovec){ &bytes[n], 1 };
			p = (p & ~(uintptr_t)(page - 1)) + page;
		}
		if (process_vm_readv(self, local, n, remote, n, 0) != (ssize_t)n ||
		    process_vm_writev(self, local, n, remote, n, 0) != (ssize_t)n)
			return false;
	}
	return true;
}

static void scatter_setup(struct route_io *io)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t left = io->len, pos = 0;
	int n = 0;

	/* the iovec lengths first, then one area holding them with gaps */
	while (left || n == 0) {
		size_t l = seg_len[n % (sizeof(seg_len) / sizeof(*seg_len))];

		if (l > left || n == SCATTER_MAX - 1)
			l = left;
		io->iov[n].iov_len = l;
		left -= l;
		n++;
		if (!left)
			break;
	}
	io->iovcnt = n;
	if (!accessible(io->buf, io->len)) {
		/* an unmapped buffer (EFAULT checks): the iovecs cover it
		 * directly, nothing is copied */
		for (int i = 0; i < n; i++) {
			io->iov[i].iov_base = (char *)io->buf + pos;
			pos += io->iov[i].iov_len;
		}
		return;
	}
	io->scatter_len = io->len + (size_t)n * SCATTER_GAP;
	io->scatter = check_buf_alloc(io->scatter_len, (uintptr_t)io->buf & (page - 1));
	memset(io->scatter, GAP_BYTE, io->scatter_len);
	for (int i = 0; i < n; i++) {
		io->iov[i].iov_base = io->scatter + pos;
		/* the segment starts as the caller's buffer does (data to write,
		 * or what a read must overwrite) */
		memcpy(io->iov[i].iov_base, (char *)io->buf + (pos - (size_t)i * SCATTER_GAP),
		       io->iov[i].iov_len);
		pos += io->iov[i].iov_len + SCATTER_GAP;
	}
}

/* After a read: the segments back into the caller's buffer, as a direct
 * read would have left it; the gaps must be untouched. */
static void scatter_finish(struct route_io *io)
{
	size_t done = 0, bad = 0, first = 0;

	if (!io->scatter)
		return;
	for (int i = 0; i < io->iovcnt; i++) {
		const unsigned char *gap = (unsigned char *)io->iov[i].iov_base + io->iov[i].iov_len;

		if (io->dir == IO_READ)
			memcpy((char *)io->buf + done, io->iov[i].iov_base, io->iov[i].iov_len);
		done += io->iov[i].iov_len;
		for (size_t g = 0; g < SCATTER_GAP; g++)
			if (gap[g] != GAP_BYTE && !bad++)
				first = done;
	}
	if (bad)
		CHECK_FAILF("%s of %zu bytes in %d iovecs wrote %zu bytes into the gaps between "
			    "iovecs, first after buffer byte %zu", route_call_name(io->route, io->dir),
			    io->len, io->iovcnt, bad, first);
}

/* ---- submission ------------------------------------------------------- */

struct route_io *route_submit(enum io_route r, int fd, enum io_dir dir, void *buf,
			      size_t len, off_t off)
{
	const char *why = route_unavailable(r);
	struct route_io *io;
	int err;

	if (why)
		SKIP("%s: %s", route_name(r), why);
	if (r == ROUTE_URING_FIXED)
		PREMISE_REQUIRE(premise_memlock, len);  /* registering counts as locking */
	/* ... and so does every ring, per user: a refusal is judged when it
	 * comes (premise_memlock_refused) */
	io = calloc(1, sizeof(*io));
	if (!io)
		CHECK_FATALF("route_submit: out of memory");
	io->route = r;
	io->dir = dir;
	io->fd = fd;
	io->buf = buf;
	io->len = len;
	io->off = off;
	pthread_mutex_init(&io->lock, NULL);
	pthread_cond_init(&io->cond, NULL);

	switch (r) {
	case ROUTE_PREADV:
		scatter_setup(io);
		/* fall through */
	case ROUTE_PREAD:
		start_thread(io);
		break;
	case ROUTE_AIO:
		err = io_setup(4, &io->aio);
		if (err)
			CHECK_FATALF("io_setup: %s", errno_name(-err));
		io->aio_up = true;
		if (dir == IO_READ)
			io_prep_pread(&io->iocb, fd, buf, len, off);
		else
			io_prep_pwrite(&io->iocb, fd, buf, len, off);
		start_thread(io);
		break;
	case ROUTE_URING:
	case ROUTE_URING_FIXED: {
		struct io_uring_sqe *sqe;
		char mwhy[512], what[64];

		err = io_uring_queue_init(4, &io->ring, 0);
		if (err && premise_memlock_refused(err, "a 4-entry ring", mwhy, sizeof(mwhy))) {
			route_free(io);
			SKIP("%s: %s", route_name(r), mwhy);
		}
		if (err)
			CHECK_FATALF("io_uring_queue_init: %s", errno_name(-err));
		io->ring_up = true;
		io->cq_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		io->quit_efd = eventfd(0, EFD_CLOEXEC);
		if (io->cq_efd < 0 || io->quit_efd < 0)
			CHECK_FATALF("eventfd: %s", errno_name(errno));
		err = io_uring_register_eventfd(&io->ring, io->cq_efd);
		if (err)
			CHECK_FATALF("io_uring_register_eventfd: %s", errno_name(-err));
		if (r == ROUTE_URING_FIXED) {
			struct iovec v = { .iov_base = buf, .iov_len = len };

			err = io_uring_register_buffers(&io->ring, &v, 1);
			if (err) {
				io->submit_err = -err;
				snprintf(what, sizeof(what), "%zu bytes of fixed buffers", len);
				if (premise_memlock_refused(err, what, mwhy, sizeof(mwhy))) {
					route_free(io);
					SKIP("%s: %s", route_name(r), mwhy);
				}
				break;
			}
		}
		sqe = io_uring_get_sqe(&io->ring);
		if (r == ROUTE_URING_FIXED && dir == IO_READ)
			io_uring_prep_read_fixed(sqe, fd, buf, (unsigned int)len, (uint64_t)off, 0);
		else if (r == ROUTE_URING_FIXED)
			io_uring_prep_write_fixed(sqe, fd, buf, (unsigned int)len, (uint64_t)off, 0);
		else if (dir == IO_READ)
			io_uring_prep_read(sqe, fd, buf, (unsigned int)len, (uint64_t)off);
		else
			io_uring_prep_write(sqe, fd, buf, (unsigned int)len, (uint64_t)off);
		start_thread(io);
		break;
	}
	default:
		CHECK_FATALF("route_submit: no route %d", (int)r);
	}
	return io;
}

bool route_submit_returned(struct route_io *io)
{
	return io->h ? call_wait(io, 0) : true;
}

bool route_submit_wait(struct route_io *io, int timeout_ms)
{
	return io->h ? call_wait(io, timeout_ms) : true;
}

int route_submit_err(struct route_io *io)
{
	if (io->submit_err)
		return io->submit_err;
	return io->h && call_wait(io, 0) && io->call_ret < 0 ? io->call_err : 0;
}

/* ---- completion ------------------------------------------------------- */

static void complete(struct route_io *io, ssize_t res)
{
	if (io->completed) {
		io->extra++;
		return;
	}
	io->completed = true;
	io->res = res;
	if (io->route == ROUTE_PREADV)
		scatter_finish(io);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libaio: reap at most one event, waiting up to timeout_ms (0: just look,
 * io_getevents with a zero timeout).  True if one was reaped. */
static bool aio_reap(struct route_io *io, int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000 };
	struct io_event ev;
	int n;

	if (!io->aio_up)
		return false;
	do
		n = io_getevents(io->aio, timeout_ms ? 1 : 0, 1, &ev, &ts);
	while (n == -EINTR);
	if (n < 0)
		CHECK_FAILF("io_getevents: %s", errno_name(-n));
	if (n != 1)
		return false;
	if (ev.obj != &io->iocb)
		CHECK_FAILF("io_getevents: an event for iocb %p, want %p", (void *)ev.obj,
			    (void *)&io->iocb);
	complete(io, (ssize_t)(long)ev.res);
	return true;
}

/* io_uring: the CQE the submitting thread reaped, waiting up to
 * timeout_ms for it. */
static bool uring_reap(struct route_io *io, int timeout_ms)
{
	struct timespec ts;
	bool done;

	/* A CQE in the ring is a completion, reaped or not yet: the
	 * submitting thread takes it at once (reading the tail from here is
	 * safe while it consumes) */
	if (!timeout_ms && io->ring_up && io_uring_cq_ready(&io->ring))
		timeout_ms = ROUTE_WAIT_MS;
	deadline_after(&ts, timeout_ms);
	pthread_mutex_lock(&io->lock);
	while (!io->cqe_done && !io->owner_done && timeout_ms > 0)
		if (pthread_cond_timedwait(&io->cond, &io->lock, &ts))
			break;
	done = io->cqe_done;
	pthread_mutex_unlock(&io->lock);
	if (done)
		complete(io, io->cqe_res);
	return done;
}

/* io_uring, once the submitting thread is gone: CQEs beyond the first. */
static unsigned int uring_extra(struct route_io *io)
{
	struct io_uring_cqe *cqe;
	unsigned int n = 0;

	if (!io->ring_up)
		return 0;
	if (io->h) {
		pthread_mutex_lock(&io->lock);
		while (!io->owner_done)
			pthread_cond_wait(&io->cond, &io->lock);
		pthread_mutex_unlock(&io->lock);
	}
	while (io_uring_peek_cqe(&io->ring, &cqe) == 0) {
		n++;
		io_uring_cqe_seen(&io->ring, cqe);
	}
	return n;
}

bool route_wait(struct route_io *io, int timeout_ms, ssize_t *res)
{
	int64_t deadline = now_ms() + timeout_ms;
	int left;

	if (io->completed)
		goto done;
	if (io->submit_err) {           /* the fixed buffer was refused */
		complete(io, -io->submit_err);
		goto done;
	}
	switch (io->route) {
	case ROUTE_PREAD:
	case ROUTE_PREADV:
		if (!call_wait(io, timeout_ms))
			return false;
		complete(io, io->call_ret < 0 ? -io->call_err : io->call_ret);
		break;
	case ROUTE_AIO:
		/* an event can be there while io_submit is still on its way
		 * out (the kernel completed the I/O inline): look first, then
		 * wait for the submission */
		if (aio_reap(io, 0))
			break;
		if (!call_wait(io, timeout_ms))
			return false;
		if (io->call_ret < 0) {
			complete(io, -io->call_err);
			break;
		}
		left = (int)(deadline - now_ms());
		if (!aio_reap(io, left > 0 ? left : 0))
			return false;
		break;
	default:
		if (uring_reap(io, timeout_ms))
			break;
		if (call_wait(io, 0) && io->call_ret < 0) {
			complete(io, -io->call_err);
			break;
		}
		return false;
	}
done:
	*res = io->res;
	return true;
}

bool route_poll(struct route_io *io, ssize_t *res)
{
	return route_wait(io, 0, res);
}

unsigned int route_more_completions(struct route_io *io)
{
	if (io->route == ROUTE_AIO)
		while (aio_reap(io, 0))
			;
	else if (io->route == ROUTE_URING || io->route == ROUTE_URING_FIXED)
		io->extra += uring_extra(io);
	return io->extra;
}

bool route_thread(struct route_io *io, pthread_t *thread)
{
	if (!io->h)
		return false;
	*thread = io->thread;
	return true;
}

pid_t route_tid(struct route_io *io)
{
	return io->h ? io->tid : 0;
}

static bool owner_finished(struct route_io *io)
{
	bool done;

	pthread_mutex_lock(&io->lock);
	done = io->owner_done;
	pthread_mutex_unlock(&io->lock);
	return done;
}

int route_ctx_destroy(struct route_io *io)
{
	uint64_t one = 1;
	int err = 0;

	if (io->aio_up) {
		io->aio_up = false;
		err = io_destroy(io->aio);
	} else if (io->ring_up) {
		/* the submitting thread stops reading the CQ ring, and ends */
		if (io->h && write(io->quit_efd, &one, sizeof(one)) == sizeof(one)) {
			pthread_mutex_lock(&io->lock);
			while (!io->owner_done)
				pthread_cond_wait(&io->cond, &io->lock);
			pthread_mutex_unlock(&io->lock);
		}
		io->ring_up = false;
		io_uring_queue_exit(&io->ring);
	}
	return err;
}

/* I/Os that cannot be freed yet: their thread or the kernel may still use
 * them.  Kept reachable until exit (not leaked), never freed under them. */
static struct route_io *kept;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;

static void keep_until_exit(struct route_io *io)
{
	pthread_mutex_lock(&kept_lock);
	io->kept_next = kept;
	kept = io;
	pthread_mutex_unlock(&kept_lock);
}

void route_free(struct route_io *io)
{
	bool in_flight;

	if (!io)
		return;
	if (io->h && !owner_finished(io)) {
		keep_until_exit(io);    /* the runner joins the thread */
		return;
	}
	in_flight = !io->completed && !io->submit_err && (io->aio_up || io->ring_up) &&
		    !(io->h && io->call_ret < 0);
	if (in_flight) {
		keep_until_exit(io);    /* the kernel may still complete it */
		return;
	}
	if (io->h)
		held_io_join(io->h, NULL);
	route_ctx_destroy(io);
	if (io->cq_efd > 0)
		close(io->cq_efd);
	if (io->quit_efd > 0)
		close(io->quit_efd);
	check_buf_free(io->scatter);
	pthread_cond_destroy(&io->cond);
	pthread_mutex_destroy(&io->lock);
	free(io);
}

ssize_t route_rw(enum io_route r, int fd, enum io_dir dir, void *buf, size_t len, off_t off)
{
	struct route_io *io = route_submit(r, fd, dir, buf, len, off);
	ssize_t res;

	if (!route_wait(io, ROUTE_WAIT_MS, &res)) {
		CHECK_FAILF("%s of %zu bytes at %jd: no completion within %d ms",
			    route_call_name(r, dir), len, (intmax_t)off, ROUTE_WAIT_MS);
		route_free(io);
		return -ETIME;
	}
	if (route_more_completions(io))
		CHECK_FAILF("%s of %zu bytes at %jd: %u completions more than the one",
			    route_call_name(r, dir), len, (intmax_t)off, io->extra);
	route_free(io);
	return res;
}

/* ---- any call in a thread ---------------------------------------------- */

struct route_call {
	ssize_t (*fn)(void *arg);
	void *arg;
	struct held_io *h;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started, done;
	pid_t tid;
	ssize_t ret;
	int err;
};

static ssize_t route_call_thread(void *arg)
{
	struct route_call *c = arg;
	ssize_t r;
	int err;

	pthread_mutex_lock(&c->lock);
	c->tid = gettid();
	c->started = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	r = c->fn(c->arg);
	err = r < 0 ? errno : 0;
	pthread_mutex_lock(&c->lock);
	c->ret = r;
	c->err = err;
	c->done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	errno = err;
	return r;
}

struct route_call *route_call_start(ssize_t (*fn)(void *arg), void *arg)
{
	struct route_call *c = calloc(1, sizeof(*c));

	if (!c)
		CHECK_FATALF("route_call_start: out of memory");
	c->fn = fn;
	c->arg = arg;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->h = held_call(route_call_thread, c);
	pthread_mutex_lock(&c->lock);
	while (!c->started)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	return c;
}

bool route_call_wait(struct route_call *c, int timeout_ms, ssize_t *ret, int *err)
{
	struct timespec ts;
	bool done;

	deadline_after(&ts, timeout_ms);
	pthread_mutex_lock(&c->lock);
	while (!c->done && timeout_ms > 0)
		if (pthread_cond_timedwait(&c->cond, &c->lock, &ts))
			break;
	done = c->done;
	pthread_mutex_unlock(&c->lock);
	if (done && ret)
		*ret = c->ret;
	if (done && err)
		*err = c->err;
	return done;
}

pid_t route_call_tid(struct route_call *c)
{
	return c->tid;
}

void route_call_free(struct route_call *c)
{
	if (!c || !route_call_wait(c, 0, NULL, NULL))
		return;
	held_io_join(c->h, NULL);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
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
	int64_t deadline = now_ms() + timeout_ms;

	/* The thread is on its way into the kernel wait: look until it is
	 * there.  Not a sleep for a race: only how long the look lasts. */
	while (now_ms() < deadline) {
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
	int64_t deadline = now_ms() + timeout_ms;
	unsigned int want = n;

	for (;;) {
		int64_t left = deadline - now_ms();
		int got = left > 0 ? diofsctl_held(ctl, want, (int)left, list, HELD_MAX) : -1;
		int m;

		if (got < 0) {
			got = diofsctl_held(ctl, 0, 0, list, HELD_MAX);
			m = got < 0 ? 0 : held_filter(list, got, fuse_path, op);
			check_failf(file, line, false, "diofs holds %d %s call%s on %s after %d ms, "
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
