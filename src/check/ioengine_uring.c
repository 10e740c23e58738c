/* The io_uring engines: IORING_OP_READ/WRITE, and READ_FIXED/WRITE_FIXED
 * over a buffer registered by dio_prepare (the pins the registration adds
 * measured around it).  One ring per I/O.  io_uring_submit is made in the
 * I/O's thread (a FUSE read or write issued inline from io_uring_enter
 * blocks it on a synchronous path: seen on 6.18), and that thread stays
 * until the CQE, reaping it through an eventfd: io_uring ties a request to
 * its submitting task and cancels an exiting task's io-wq work (a held
 * FUSE request would be interrupted). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/ioengine_ops.h"
#include "check/premise.h"
#include "harness/pins.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* How long a look at the completion waits for the submitting thread to
 * take a CQE already in the ring. */
#define CQE_TAKE_MS 10000
/* The largest fixed buffer a case or the verdict registers. */
#define FIXED_MAX (64 * 1024)

struct ring {
	struct io_uring ring;
	int cq_efd, quit_efd;
	bool cqe_done;          /* under the state's lock */
	ssize_t cqe_res;
};

static const char *uring_why(bool fixed)
{
	static char why[2][512];
	static int state[2];    /* 0 unknown, 1 works, -1 does not */

	if (!state[fixed]) {
		enum premise p = premise_io_uring(NULL, NULL, why[fixed], sizeof(why[fixed]));

		if (p == PREMISE_HOLDS && fixed)
			p = premise_memlock(FIXED_MAX, why[fixed], sizeof(why[fixed]));
		state[fixed] = p == PREMISE_HOLDS ? 1 : -1;
	}
	return state[fixed] < 0 ? why[fixed] : NULL;
}

static const char *uring_unavailable(void)
{
	return uring_why(false);
}

static const char *uring_fixed_unavailable(void)
{
	return uring_why(true);
}

/* Register buf as the ring's one fixed buffer, counting the pins in flight
 * it adds.  0, -1 (the refusal is the I/O's result), DIO_PREMISE_FALSE. */
static int register_buffer(struct dio *io, struct dio_state *s, struct ring *r, char *why,
			   size_t len)
{
	struct iovec v = { .iov_base = io->buf, .iov_len = io->len };
	struct pin_counts a, b;
	bool counted = pins_read(&a) == 0;
	char what[64];
	int err = io_uring_register_buffers(&r->ring, &v, 1);

	if (!err) {
		if (counted && pins_read(&b) == 0) {
			io->reg_pins = pins_in_flight(&b) - pins_in_flight(&a);
			io->reg_measured = true;
		}
		return 0;
	}
	snprintf(what, sizeof(what), "%zu bytes of fixed buffers", io->len);
	if (premise_memlock_refused(err, what, why, len) == PREMISE_FALSE)
		return DIO_PREMISE_FALSE;
	s->submit_err = -err;
	return dio_fail_errno(why, len, "io_uring_register_buffers", -err);
}

static int uring_prepare(struct dio *io, struct dio_state *s, char *why, size_t len)
{
	bool fixed = io->route == ROUTE_URING_FIXED;
	struct io_uring_sqe *sqe;
	struct ring *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return dio_fail_errno(why, len, "io_uring", ENOMEM);
	r->cq_efd = r->quit_efd = -1;
	s->ctx = r;
	err = io_uring_queue_init(4, &r->ring, 0);
	if (err) {
		if (premise_memlock_refused(err, "a 4-entry ring", why, len) == PREMISE_FALSE)
			return DIO_PREMISE_FALSE;
		return dio_fail_errno(why, len, "io_uring_queue_init", -err);
	}
	s->ctx_up = true;
	r->cq_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->quit_efd = eventfd(0, EFD_CLOEXEC);
	if (r->cq_efd < 0 || r->quit_efd < 0)
		return dio_fail_errno(why, len, "eventfd", errno);
	err = io_uring_register_eventfd(&r->ring, r->cq_efd);
	if (err)
		return dio_fail_errno(why, len, "io_uring_register_eventfd", -err);
	if (fixed && (err = register_buffer(io, s, r, why, len)))
		return err;
	sqe = io_uring_get_sqe(&r->ring);
	if (fixed && io->dir == IO_READ)
		io_uring_prep_read_fixed(sqe, io->fd, io->buf, (unsigned int)io->len,
					 (uint64_t)io->off, 0);
	else if (fixed)
		io_uring_prep_write_fixed(sqe, io->fd, io->buf, (unsigned int)io->len,
					  (uint64_t)io->off, 0);
	else if (io->dir == IO_READ)
		io_uring_prep_read(sqe, io->fd, io->buf, (unsigned int)io->len, (uint64_t)io->off);
	else
		io_uring_prep_write(sqe, io->fd, io->buf, (unsigned int)io->len, (uint64_t)io->off);
	return 0;
}

static ssize_t uring_call(struct dio *io, struct dio_state *s)
{
	struct ring *r = s->ctx;
	int n = io_uring_submit(&r->ring);     /* -errno */

	(void)io;
	if (n != 1) {
		errno = n < 0 ? -n : EAGAIN;
		return -1;
	}
	return 1;
}

/* The submitting thread, after io_uring_submit: wait for the CQE (the
 * completion's task_work runs in this task), record it, and return; or
 * return when told to (dio_ctx_destroy).  Only this thread reads the CQ
 * ring until it returns. */
static void uring_after_call(struct dio *io, struct dio_state *s)
{
	struct ring *r = s->ctx;

	(void)io;
	for (;;) {
		struct pollfd p[2] = { { .fd = r->cq_efd, .events = POLLIN },
				       { .fd = r->quit_efd, .events = POLLIN } };
		struct io_uring_cqe *cqe;
		uint64_t v;

		/* the timeout only guards against a lost eventfd wakeup: the
		 * CQ is looked at again each round */
		if (poll(p, 2, 1000) < 0)
			continue;       /* EINTR: task_work, a signal */
		if (p[1].revents)
			return;
		if (p[0].revents && read(r->cq_efd, &v, sizeof(v)) < 0)
			continue;
		if (io_uring_peek_cqe(&r->ring, &cqe))
			continue;
		pthread_mutex_lock(&s->lock);
		r->cqe_res = cqe->res;
		r->cqe_done = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		io_uring_cqe_seen(&r->ring, cqe);
		return;
	}
}

static bool cqe_or_gone(struct dio_state *s)
{
	return ((struct ring *)s->ctx)->cqe_done || s->thread_done;
}

static bool thread_gone(struct dio_state *s)
{
	return s->thread_done;
}

/* The CQE the submitting thread reaped, waiting up to timeout_ms for it. */
static bool uring_reap(struct dio_state *s, int timeout_ms, ssize_t *res)
{
	struct ring *r = s->ctx;
	bool done;

	/* A CQE in the ring is a completion, reaped or not yet: the
	 * submitting thread takes it at once (reading the tail from here is
	 * safe while it consumes) */
	if (!timeout_ms && s->ctx_up && io_uring_cq_ready(&r->ring))
		timeout_ms = CQE_TAKE_MS;
	dio_state_wait(s, cqe_or_gone, timeout_ms);
	pthread_mutex_lock(&s->lock);
	done = r->cqe_done;
	*res = r->cqe_res;
	pthread_mutex_unlock(&s->lock);
	return done;
}

/* Once the submitting thread is gone: CQEs beyond the first. */
static unsigned int uring_extra(struct dio_state *s)
{
	struct ring *r = s->ctx;
	struct io_uring_cqe *cqe;
	unsigned int n = 0;

	if (!s->ctx_up)
		return 0;
	if (s->running)
		dio_state_wait(s, thread_gone, DIO_FOREVER);
	while (io_uring_peek_cqe(&r->ring, &cqe) == 0) {
		n++;
		io_uring_cqe_seen(&r->ring, cqe);
	}
	return n;
}

static int uring_ctx_destroy(struct dio_state *s)
{
	struct ring *r = s->ctx;
	uint64_t one = 1;

	if (!s->ctx_up)
		return 0;
	/* the submitting thread stops reading the CQ ring, and ends */
	if (s->running && write(r->quit_efd, &one, sizeof(one)) == sizeof(one))
		dio_state_wait(s, thread_gone, DIO_FOREVER);
	s->ctx_up = false;
	io_uring_queue_exit(&r->ring);
	return 0;
}

static void uring_cleanup(struct dio *io, struct dio_state *s)
{
	struct ring *r = s->ctx;

	if (!r)
		return;
	if (s->ctx_up) {
		struct pin_counts a, b;
		bool counted = io->reg_measured && pins_read(&a) == 0;

		if (io->reg_measured)
			io_uring_unregister_buffers(&r->ring);
		io_uring_queue_exit(&r->ring);
		s->ctx_up = false;
		if (counted && pins_read(&b) == 0) {
			io->unreg_left = io->reg_pins + pins_in_flight(&b) - pins_in_flight(&a);
			io->unreg_measured = true;
		}
	}
	if (r->cq_efd >= 0)
		close(r->cq_efd);
	if (r->quit_efd >= 0)
		close(r->quit_efd);
	free(r);
}

#define URING_OPS .prepare = uring_prepare, .call = uring_call, \
	.after_call = uring_after_call, .reap = uring_reap, .extra = uring_extra, \
	.ctx_destroy = uring_ctx_destroy, .cleanup = uring_cleanup

const struct dio_engine dio_engine_uring = { .unavailable = uring_unavailable, URING_OPS };
const struct dio_engine dio_engine_uring_fixed = { .unavailable = uring_fixed_unavailable,
						   URING_OPS };
