/* The libaio engine: io_submit IOCB_CMD_PREAD/PWRITE in the I/O's
 * thread (the kernel completes it inline when it takes a synchronous
 * path), the event reaped by the caller with io_getevents.  One
 * io_context_t per I/O at a time: a context whose one I/O was reaped is
 * kept for the next, since io_destroy waits for an RCU grace period
 * (measured: 78 ms a context here, 9 s for test_dio's 120-write matrix). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/ioengine_ops.h"
#include "proto/errnames.h"

#include <errno.h>
#include <libaio.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct aio {
	io_context_t ctx;
	struct iocb iocb;
	bool reaped;            /* its event came back through libaio_reap */
};

/* The context kept for the next I/O, with the process that made it: a
 * forked child cannot use its parent's. */
static struct {
	pthread_mutex_t lock;
	io_context_t ctx;
	pid_t pid;
} spare = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };

static int context_get(io_context_t *ctx)
{
	pthread_mutex_lock(&spare.lock);
	*ctx = spare.pid == getpid() ? spare.ctx : 0;
	spare.ctx = 0;
	pthread_mutex_unlock(&spare.lock);
	return *ctx ? 0 : io_setup(4, ctx);
}

/* Keep ctx for the next I/O if nothing is left in it and no context is
 * kept yet; else destroy it.  0 or io_destroy's -errno. */
static int context_put(io_context_t ctx, bool idle)
{
	struct io_event ev;
	struct timespec now = { 0, 0 };

	if (idle && io_getevents(ctx, 0, 1, &ev, &now) == 0) {
		pthread_mutex_lock(&spare.lock);
		if (!spare.ctx || spare.pid != getpid()) {
			spare.ctx = ctx;
			spare.pid = getpid();
			ctx = 0;
		}
		pthread_mutex_unlock(&spare.lock);
		if (!ctx)
			return 0;
	}
	return io_destroy(ctx);
}

static const char *libaio_unavailable(void)
{
	static char why[128];
	static int state;       /* 0 unknown, 1 works, -1 does not */

	if (!state) {
		io_context_t ctx = 0;
		int err = io_setup(1, &ctx);

		state = err ? -1 : 1;
		if (err)
			snprintf(why, sizeof(why), "io_setup: %s (no CONFIG_AIO, "
				 "or fs.aio-max-nr reached)", errno_name(-err));
		else
			io_destroy(ctx);
	}
	return state < 0 ? why : NULL;
}

static int libaio_prepare(struct dio *io, struct dio_state *s, char *why, size_t len)
{
	struct aio *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return dio_fail_errno(why, len, "libaio", ENOMEM);
	s->ctx = a;
	err = context_get(&a->ctx);
	if (err)
		return dio_fail_errno(why, len, "io_setup", -err);
	s->ctx_up = true;
	if (io->dir == IO_READ)
		io_prep_pread(&a->iocb, io->fd, io->buf, io->len, io->off);
	else
		io_prep_pwrite(&a->iocb, io->fd, io->buf, io->len, io->off);
	return 0;
}

static ssize_t libaio_call(struct dio *io, struct dio_state *s)
{
	struct aio *a = s->ctx;
	struct iocb *iocbs[1] = { &a->iocb };
	int n = io_submit(a->ctx, 1, iocbs);     /* libaio: -errno */

	(void)io;
	if (n != 1) {
		errno = n < 0 ? -n : EAGAIN;
		return -1;
	}
	return 1;
}

/* Reap at most one event, waiting up to timeout_ms (0: just look,
 * io_getevents with a zero timeout; DIO_FOREVER). */
static bool libaio_reap(struct dio_state *s, int timeout_ms, ssize_t *res)
{
	struct aio *a = s->ctx;
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000 };
	struct io_event ev;
	int n;

	if (!s->ctx_up)
		return false;
	do
		n = io_getevents(a->ctx, timeout_ms ? 1 : 0, 1, &ev, timeout_ms < 0 ? NULL : &ts);
	while (n == -EINTR);
	if (n < 0)
		dio_failf(s, "io_getevents: %s", errno_name(-n));
	if (n != 1)
		return false;
	if (ev.obj != &a->iocb)
		dio_failf(s, "io_getevents: an event for iocb %p, want %p", (void *)ev.obj,
			  (void *)&a->iocb);
	*res = (ssize_t)(long)ev.res;
	a->reaped = true;
	return true;
}

static unsigned int libaio_extra(struct dio_state *s)
{
	unsigned int n = 0;
	ssize_t res;

	while (libaio_reap(s, 0, &res))
		n++;
	return n;
}

static int libaio_ctx_destroy(struct dio_state *s)
{
	struct aio *a = s->ctx;

	if (!s->ctx_up)
		return 0;
	s->ctx_up = false;
	return io_destroy(a->ctx);
}

static void libaio_cleanup(struct dio *io, struct dio_state *s)
{
	struct aio *a = s->ctx;

	(void)io;
	if (a && s->ctx_up) {
		s->ctx_up = false;
		context_put(a->ctx, a->reaped);
	}
	free(a);
}

const struct dio_engine dio_engine_libaio = {
	.unavailable = libaio_unavailable, .prepare = libaio_prepare, .call = libaio_call,
	.reap = libaio_reap, .extra = libaio_extra, .ctx_destroy = libaio_ctx_destroy,
	.cleanup = libaio_cleanup,
};
