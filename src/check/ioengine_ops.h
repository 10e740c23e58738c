/* Inside the I/O engine (ioengine.h): what one route is, as an ops table
 * (fio's struct ioengine_ops), and the state the core keeps per I/O.  The
 * core (ioengine.c) calls the table; each engine file fills its tables and
 * keeps its own context behind state->ctx. */
#ifndef DIOFS_CHECK_IOENGINE_OPS_H
#define DIOFS_CHECK_IOENGINE_OPS_H

#include "check/ioengine.h"

#include <pthread.h>

struct dio_state;

/* What a route does; its names are in the route table (ioengine.c).  An
 * engine with reap is async: the kernel sees an async kiocb, the call
 * submits, the completion comes later. */
struct dio_engine {
	/* why the route cannot run here, or NULL (may be NULL: always can) */
	const char *(*unavailable)(void);
	/* set up what the call needs (dio_prepare); 0, -1, DIO_PREMISE_FALSE */
	int (*prepare)(struct dio *io, struct dio_state *s, char *why, size_t len);
	/* in the I/O's thread: the call.  Synchronous routes return its
	 * result; async ones 1 once submitted.  -1 with errno. */
	ssize_t (*call)(struct dio *io, struct dio_state *s);
	/* in the I/O's thread after a submission (may be NULL) */
	void (*after_call)(struct dio *io, struct dio_state *s);
	/* async: the completion (bytes or -errno), waiting up to timeout_ms
	 * (0: just look; DIO_FOREVER); false if none */
	bool (*reap)(struct dio_state *s, int timeout_ms, ssize_t *res);
	/* async: completions visible beyond the first */
	unsigned int (*extra)(struct dio_state *s);
	/* async: tear the context down under the I/O (s->ctx_up false
	 * after); 0 or -errno */
	int (*ctx_destroy)(struct dio_state *s);
	/* once completed, in the caller: what must follow the result (bytes
	 * back into buf, checks); the final result (may be NULL) */
	ssize_t (*finish)(struct dio *io, struct dio_state *s, ssize_t res);
	/* tear down what prepare set up, free ctx (may be NULL) */
	void (*cleanup)(struct dio *io, struct dio_state *s);
};

/* The engines (ioengine_sync.c, ioengine_libaio.c, ioengine_uring.c,
 * ioengine_pipe.c). */
extern const struct dio_engine dio_engine_pread, dio_engine_preadv, dio_engine_libaio,
	dio_engine_uring, dio_engine_uring_fixed, dio_engine_splice, dio_engine_sendfile;

/* How a call ended: when (CLOCK_MONOTONIC ns), its result, its errno. */
struct dio_call_end {
	uint64_t t;
	ssize_t ret;
	int err;
};

struct dio_state {
	const struct dio_engine *e;
	struct dio_state *kept_next;    /* kept until exit (dio_cleanup) */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* the thread that makes the call (under lock) */
	bool running, call_done, thread_done;
	pthread_t thread;
	pid_t tid;
	uint64_t t_call;
	struct dio_call_end end;
	struct dio_thread *own;         /* dio_start's */
	/* a submission refused before any call (a fixed buffer): errno */
	int submit_err;
	/* an async context is up: the kernel may complete into buf */
	bool ctx_up;
	/* the completion (the caller's thread) */
	bool completed;
	ssize_t res;
	unsigned int extra;
	char failure[256];
	bool failed;
	void *ctx;                      /* the engine's own */
};

/* For the engines: note what went wrong at completion (dio_failure). */
void dio_failf(struct dio_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* fn(what): errno_name(err) (strerror(err)) into why; -1. */
int dio_fail_errno(char *why, size_t len, const char *what, int err);
/* Wait on s->cond (lock taken here) until done(s) or timeout_ms
 * (DIO_FOREVER) passed; done(s). */
bool dio_state_wait(struct dio_state *s, bool (*done)(struct dio_state *s), int timeout_ms);
size_t dio_page_size(void);

#endif
