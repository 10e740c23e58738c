/* The I/O engine's core (ioengine.h): the route table, one I/O's life
 * from prepare to cleanup, and any call in a thread of its own.  What a
 * route does is in its engine's ops (ioengine_ops.h); nothing here looks
 * at the route. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/ioengine_ops.h"
#include "harness/proc.h"
#include "proto/errnames.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The route table: each route's names, whether it hands the kernel user
 * memory, and its engine. */
static const struct route {
	const char *name, *label, *key, *call_name[2];
	bool user_pages;
	const struct dio_engine *e;
} routes[DIO_NROUTES] = {
	[ROUTE_PREAD] = { "pread", "pread", "pread", { "pread", "pwrite" }, true,
			  &dio_engine_pread },
	[ROUTE_PREADV] = { "preadv", "preadv", "preadv", { "preadv", "pwritev" }, true,
			   &dio_engine_preadv },
	[ROUTE_AIO] = { "aio", "libaio", "libaio",
			{ "io_submit(IOCB_CMD_PREAD)", "io_submit(IOCB_CMD_PWRITE)" }, true,
			&dio_engine_libaio },
	[ROUTE_URING] = { "uring", "io_uring", "io_uring", { "IORING_OP_READ", "IORING_OP_WRITE" },
			  true, &dio_engine_uring },
	[ROUTE_URING_FIXED] = { "uring-fixed", "io_uring fixed", "io_uring_fixed",
				{ "IORING_OP_READ_FIXED", "IORING_OP_WRITE_FIXED" }, false,
				&dio_engine_uring_fixed },
	[ROUTE_SPLICE] = { "splice", "splice", "splice", { "splice", "splice" }, false,
			   &dio_engine_splice },
	[ROUTE_SENDFILE] = { "sendfile", "sendfile", "sendfile", { "sendfile", "sendfile" }, false,
			     &dio_engine_sendfile },
};

static const struct route *route(enum io_route r)
{
	return (unsigned int)r < DIO_NROUTES ? &routes[r] : NULL;
}

const char *dio_route_name(enum io_route r)
{
	return route(r) ? route(r)->name : "?";
}

const char *dio_route_label(enum io_route r)
{
	return route(r) ? route(r)->label : "?";
}

const char *dio_route_key(enum io_route r)
{
	return route(r) ? route(r)->key : "?";
}

const char *dio_call_name(enum io_route r, enum io_dir dir)
{
	return route(r) ? route(r)->call_name[dir == IO_WRITE] : "?";
}

const char *dio_dir_name(enum io_dir dir)
{
	return dir == IO_WRITE ? "write" : "read";
}

bool dio_route_async(enum io_route r)
{
	return route(r) && route(r)->e->reap;
}

bool dio_route_user_pages(enum io_route r)
{
	return route(r) && route(r)->user_pages;
}

const char *dio_route_unavailable(enum io_route r)
{
	if (!route(r))
		return "no such route";
	return route(r)->e->unavailable ? route(r)->e->unavailable() : NULL;
}

bool dio_full(int fd, void *buf, size_t len, enum io_dir dir)
{
	char *p = buf;

	while (len) {
		ssize_t n = dir == IO_READ ? read(fd, p, len) : write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Wait on cond until done(arg) (checked under lock), for timeout_ms or
 * without end (DIO_FOREVER); done(arg). */
static bool cond_wait_until(pthread_mutex_t *lock, pthread_cond_t *cond, bool (*done)(void *arg),
			    void *arg, int timeout_ms)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (timeout_ms > 0) {
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
	}
	pthread_mutex_lock(lock);
	while (!(ok = done(arg)) && timeout_ms != 0) {
		if (timeout_ms < 0)
			pthread_cond_wait(cond, lock);
		else if (pthread_cond_timedwait(cond, lock, &ts))
			break;
	}
	ok = done(arg);
	pthread_mutex_unlock(lock);
	return ok;
}

/* ---- any call in a thread --------------------------------------------- */

struct dio_thread {
	ssize_t (*fn)(void *arg);
	void *arg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running, returned;
	pid_t tid;
	struct dio_call_end end;
};

/* *flag = true under lock (taken by the caller), waking the waiters;
 * unlocks. */
static void raise_flag(pthread_mutex_t *lock, pthread_cond_t *cond, bool *flag)
{
	*flag = true;
	pthread_cond_broadcast(cond);
	pthread_mutex_unlock(lock);
}

/* The call returned r with err: recorded, *flag raised. */
static void end_call(pthread_mutex_t *lock, pthread_cond_t *cond, struct dio_call_end *end,
		     ssize_t r, int err, bool *flag)
{
	pthread_mutex_lock(lock);
	end->t = diofs_now_ns();
	end->ret = r;
	end->err = err;
	raise_flag(lock, cond, flag);
}

static void *thread_main(void *arg)
{
	struct dio_thread *t = arg;
	ssize_t r;

	pthread_mutex_lock(&t->lock);
	t->tid = gettid();
	raise_flag(&t->lock, &t->cond, &t->running);
	r = t->fn(t->arg);
	end_call(&t->lock, &t->cond, &t->end, r, r < 0 ? errno : 0, &t->returned);
	return NULL;
}

static bool thread_running(void *arg)
{
	return ((struct dio_thread *)arg)->running;
}

static bool thread_returned(void *arg)
{
	return ((struct dio_thread *)arg)->returned;
}

struct dio_thread *dio_thread_start(ssize_t (*fn)(void *arg), void *arg, char *why, size_t len)
{
	struct dio_thread *t = calloc(1, sizeof(*t));
	int err;

	if (!t) {
		dio_fail_errno(why, len, "dio_thread_start", ENOMEM);
		return NULL;
	}
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	err = pthread_create(&t->thread, NULL, thread_main, t);
	if (err) {
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->lock);
		free(t);
		dio_fail_errno(why, len, "pthread_create", err);
		return NULL;
	}
	cond_wait_until(&t->lock, &t->cond, thread_running, t, DIO_FOREVER);
	return t;
}

pid_t dio_thread_tid(const struct dio_thread *t)
{
	return t->tid;          /* set before dio_thread_start returned */
}

bool dio_thread_returned(struct dio_thread *t)
{
	return dio_thread_wait(t, 0, NULL, NULL);
}

bool dio_thread_wait(struct dio_thread *t, int timeout_ms, ssize_t *ret, int *err)
{
	if (!cond_wait_until(&t->lock, &t->cond, thread_returned, t, timeout_ms))
		return false;
	if (ret)
		*ret = t->end.ret;
	if (err)
		*err = t->end.err;
	return true;
}

int dio_thread_kill(struct dio_thread *t, int sig)
{
	return pthread_kill(t->thread, sig);
}

bool dio_thread_join(struct dio_thread *t, int timeout_ms, ssize_t *ret, int *err)
{
	if (!dio_thread_wait(t, timeout_ms, ret, err))
		return false;
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
	return true;
}

/* ---- for the engines -------------------------------------------------- */

void dio_failf(struct dio_state *s, const char *fmt, ...)
{
	va_list ap;

	if (s->failed)
		return;         /* the first one says it */
	va_start(ap, fmt);
	vsnprintf(s->failure, sizeof(s->failure), fmt, ap);
	va_end(ap);
	s->failed = true;
}

int dio_fail_errno(char *why, size_t len, const char *what, int err)
{
	snprintf(why, len, "%s: %s (%s)", what, errno_name(err), strerror(err));
	return -1;
}

bool dio_state_wait(struct dio_state *s, bool (*done)(struct dio_state *s), int timeout_ms)
{
	return cond_wait_until(&s->lock, &s->cond, (bool (*)(void *))done, s, timeout_ms);
}

size_t dio_page_size(void)
{
	static size_t ps;

	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

/* ---- one I/O ---------------------------------------------------------- */

int dio_prepare(struct dio *io, char *why, size_t len)
{
	struct dio_state *s = calloc(1, sizeof(*s));

	io->ret = -1;
	io->err = 0;
	io->reg_pins = io->unreg_left = 0;
	io->reg_measured = io->unreg_measured = false;
	io->s = s;
	if (!s)
		return dio_fail_errno(why, len, "dio_prepare", ENOMEM);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->e = route(io->route) ? route(io->route)->e : NULL;
	if (!s->e) {
		snprintf(why, len, "no route %d", (int)io->route);
		return -1;
	}
	return s->e->prepare ? s->e->prepare(io, s, why, len) : 0;
}

ssize_t dio_run(void *arg)
{
	struct dio *io = arg;
	struct dio_state *s = io->s;
	ssize_t r;
	int err;

	pthread_mutex_lock(&s->lock);
	s->thread = pthread_self();
	s->tid = gettid();
	s->t_call = diofs_now_ns();
	raise_flag(&s->lock, &s->cond, &s->running);
	r = s->e->call(io, s);
	err = r < 0 ? errno : 0;
	end_call(&s->lock, &s->cond, &s->end, r, err, &s->call_done);
	if (r >= 0 && s->e->after_call)
		s->e->after_call(io, s);
	pthread_mutex_lock(&s->lock);
	raise_flag(&s->lock, &s->cond, &s->thread_done);
	errno = err;
	return r;
}

static bool is_running(struct dio_state *s)
{
	return s->running;
}

static bool is_call_done(struct dio_state *s)
{
	return s->call_done;
}

static bool is_thread_done(struct dio_state *s)
{
	return s->thread_done;
}

void dio_wait_running(struct dio *io)
{
	dio_state_wait(io->s, is_running, DIO_FOREVER);
}

int dio_start(struct dio *io, char *why, size_t len)
{
	io->s->own = dio_thread_start(dio_run, io, why, len);
	if (!io->s->own)
		return -1;
	dio_wait_running(io);
	return 0;
}

ssize_t dio_do(struct dio *io, char *why, size_t len)
{
	if (dio_prepare(io, why, len) == 0) {
		dio_run(io);
		dio_join(io);
	} else if (!io->err) {
		io->err = EINVAL;
	}
	dio_cleanup(io);
	errno = io->err;
	return io->ret;
}

/* Has a thread ever run the call? */
static bool started(struct dio_state *s)
{
	return dio_state_wait(s, is_running, 0);
}

bool dio_call_wait(struct dio *io, int timeout_ms)
{
	if (!started(io->s))
		return io->s->submit_err != 0;  /* no call: refused before it */
	return dio_state_wait(io->s, is_call_done, timeout_ms);
}

bool dio_call_returned(struct dio *io)
{
	return dio_call_wait(io, 0);
}

int dio_submit_err(struct dio *io)
{
	struct dio_state *s = io->s;

	if (!s)
		return 0;
	if (s->submit_err)
		return s->submit_err;
	return started(s) && dio_call_wait(io, 0) && s->end.ret < 0 ? s->end.err : 0;
}

static void complete(struct dio *io, ssize_t res)
{
	struct dio_state *s = io->s;

	if (s->completed) {
		s->extra++;
		return;
	}
	s->completed = true;
	if (s->e->finish)
		res = s->e->finish(io, s, res);
	s->res = res;
	io->ret = res < 0 ? -1 : res;
	io->err = res < 0 ? (int)-res : 0;
}

bool dio_wait(struct dio *io, int timeout_ms, ssize_t *res)
{
	struct dio_state *s = io->s;
	int64_t deadline = diofs_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	ssize_t r;

	if (s->completed)
		goto done;
	if (s->submit_err) {            /* the fixed buffer was refused */
		complete(io, -s->submit_err);
		goto done;
	}
	if (!started(s))
		return false;
	if (!s->e->reap) {              /* the call is the completion */
		if (!dio_call_wait(io, timeout_ms))
			return false;
		complete(io, s->end.ret < 0 ? -s->end.err : s->end.ret);
		goto done;
	}
	/* an async completion can be there while the submitting call is
	 * still on its way out (the kernel completed the I/O inline): look
	 * first, then wait for the submission, then for the completion */
	if (s->e->reap(s, 0, &r)) {
		complete(io, r);
		goto done;
	}
	if (!dio_call_wait(io, timeout_ms))
		return false;
	if (s->end.ret < 0) {
		complete(io, -s->end.err);
		goto done;
	}
	if (timeout_ms > 0) {
		int64_t left = deadline - diofs_now_ms();

		timeout_ms = left > 0 ? (int)left : 0;
	}
	if (!s->e->reap(s, timeout_ms, &r))
		return false;
	complete(io, r);
done:
	if (res)
		*res = s->res;
	return true;
}

ssize_t dio_join(struct dio *io)
{
	struct dio_state *s = io->s;

	if (!s)
		return io->ret;
	if (started(s) || s->submit_err)
		dio_wait(io, DIO_FOREVER, NULL);
	if (s->own) {
		dio_thread_join(s->own, DIO_FOREVER, NULL, NULL);
		s->own = NULL;
	}
	errno = io->err;
	return io->ret;
}

unsigned int dio_more_completions(struct dio *io)
{
	struct dio_state *s = io->s;

	if (s->e->extra)
		s->extra += s->e->extra(s);
	return s->extra;
}

const char *dio_failure(struct dio *io)
{
	if (!io->s || !io->s->failed)
		return NULL;
	io->s->failed = false;
	return io->s->failure;
}

bool dio_thread_of(struct dio *io, pthread_t *thread)
{
	if (!started(io->s))
		return false;
	*thread = io->s->thread;
	return true;
}

pid_t dio_tid(struct dio *io)
{
	return started(io->s) ? io->s->tid : 0;
}

uint64_t dio_call_start_ns(struct dio *io)
{
	return started(io->s) ? io->s->t_call : 0;
}

uint64_t dio_call_end_ns(struct dio *io)
{
	return dio_call_returned(io) ? io->s->end.t : 0;
}

int dio_ctx_destroy(struct dio *io)
{
	return io->s->e->ctx_destroy ? io->s->e->ctx_destroy(io->s) : 0;
}

static bool busy(struct dio_state *s)
{
	if (!started(s))
		return false;
	if (!dio_state_wait(s, is_thread_done, 0))
		return true;
	if (s->completed || s->submit_err || !s->ctx_up)
		return false;
	return !(dio_state_wait(s, is_call_done, 0) && s->end.ret < 0);
}

bool dio_busy(struct dio *io)
{
	return io->s && busy(io->s);
}

/* State that cannot be freed yet: its thread or the kernel may still use
 * it.  Kept reachable until exit (not leaked), never freed under them. */
static struct dio_state *kept;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;

void dio_cleanup(struct dio *io)
{
	struct dio_state *s = io->s;

	if (!s)
		return;
	if (s->own && dio_thread_join(s->own, DIO_FOREVER, NULL, NULL))
		s->own = NULL;
	io->s = NULL;
	if (busy(s)) {
		pthread_mutex_lock(&kept_lock);
		s->kept_next = kept;
		kept = s;
		pthread_mutex_unlock(&kept_lock);
		return;
	}
	if (s->e && s->e->cleanup) {
		io->s = s;
		s->e->cleanup(io, s);
		io->s = NULL;
	}
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
