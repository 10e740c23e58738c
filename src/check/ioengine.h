/* The test clients' I/O engine: one read or write into a file by a route
 * (pread, preadv, libaio, io_uring, io_uring fixed, splice, sendfile), its
 * call made in a thread of its own, its completion seen from the caller;
 * and any call in a thread of its own (dio_thread).  diofs-check's suites
 * (route.h adds their assertions), its pin measurements (pinwatch.h), the
 * runner's held calls, the instrument tests and diofs-demo all use it.
 *
 * As fio's engines/: one ops table per route (ioengine_ops.h), one file
 * per engine (ioengine_sync.c, ioengine_libaio.c, ioengine_uring.c,
 * ioengine_pipe.c); nothing outside the tables looks at the route.
 *
 *   struct dio io = { .route = ROUTE_AIO, .dir = IO_READ, .fd = fd,
 *                     .buf = buf, .len = len, .off = 0 };
 *   if (dio_prepare(&io, why, sizeof(why)) == 0 &&  // rings, contexts, pipes
 *       dio_start(&io, why, sizeof(why)) == 0) {    // the call, in its thread
 *           ...diofs holds the request: dio_poll(&io, &res) is false...
 *           dio_join(&io);                          // io.ret, io.err
 *   }
 *   dio_cleanup(&io);
 *
 * The call's thread stays until the I/O completed for io_uring (the
 * submitting task reaps the CQE: io_uring cancels an exiting task's io-wq
 * work, which would interrupt a held FUSE request); for libaio it returns
 * from io_submit and the caller reaps with io_getevents.  Every async I/O
 * has a context of its own (an io_context_t, a ring): completions are
 * counted per I/O, and destroying the context with the I/O in flight is
 * one call (dio_ctx_destroy).
 *
 * No CUnit here: failures come back as -1 with a reason in the caller's
 * buffer, or DIO_PREMISE_FALSE when a premise the caller does not control
 * did not hold (io_uring refused a ring or a fixed buffer for the
 * locked-memory limit: premise_memlock_refused); what the engine sees go
 * wrong at completion (a bad io_getevents, bytes written into preadv's
 * guard gaps) waits in dio_failure() for the caller to report. */
#ifndef DIOFS_CHECK_IOENGINE_H
#define DIOFS_CHECK_IOENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Each route has the names diofs-check's messages, the verdict's keys and
 * tests/known-kernel-bugs use (dio_route_name: "pread", "aio",
 * "uring-fixed"; dio_route_label: "libaio", "io_uring fixed";
 * dio_route_key: "io_uring_fixed"). */
enum io_route {
	ROUTE_PREAD,            /* pread(2) / pwrite(2) */
	ROUTE_PREADV,           /* preadv(2) / pwritev(2): two halves, or
				 * DIO_SCATTER's many uneven iovecs */
	ROUTE_AIO,              /* libaio io_submit IOCB_CMD_PREAD/PWRITE */
	ROUTE_URING,            /* io_uring IORING_OP_READ / WRITE */
	ROUTE_URING_FIXED,      /* io_uring READ_FIXED / WRITE_FIXED, the
				 * buffer registered by dio_prepare */
	ROUTE_SPLICE,           /* splice file -> pipe / pipe -> file */
	ROUTE_SENDFILE,         /* sendfile file -> memfd / memfd -> file */
	DIO_NROUTES
};

enum io_dir { IO_READ, IO_WRITE };

/* Short name, as the completion suites print it: "pread", "preadv",
 * "aio", "uring", "uring-fixed", "splice", "sendfile". */
const char *dio_route_name(enum io_route r);
/* Prose name, as the pins suite and the verdict print it: "libaio",
 * "io_uring fixed"...; and its key for the verdict's "key=value" lines:
 * "io_uring_fixed". */
const char *dio_route_label(enum io_route r);
const char *dio_route_key(enum io_route r);
/* The call that makes the I/O: "pwritev", "io_submit(IOCB_CMD_PREAD)",
 * "IORING_OP_WRITE_FIXED"... */
const char *dio_call_name(enum io_route r, enum io_dir dir);
/* "read", "write" */
const char *dio_dir_name(enum io_dir dir);
/* Does the kernel see an async kiocb (!is_sync_kiocb)?  AIO and io_uring. */
bool dio_route_async(enum io_route r);
/* Does the route hand the kernel user memory (pinned per I/O once FUSE
 * direct I/O pins)?  False: fixed buffers (pinned at registration) and
 * splice/sendfile (ITER_BVEC: pages listed, not pinned). */
bool dio_route_user_pages(enum io_route r);
/* Why route r cannot run on this machine (no AIO, io_uring disabled, a
 * locked-memory limit below a 64 KiB fixed buffer), or NULL. */
const char *dio_route_unavailable(enum io_route r);

/* ---- one I/O ---------------------------------------------------------- */

/* preadv/pwritev over up to 64 iovecs of uneven lengths in an area of
 * their own, guard gaps between them that the kernel must not touch
 * (checked at completion), copied back after a read; an unmapped buffer
 * (EFAULT checks) is covered by the iovecs directly. */
#define DIO_SCATTER 0x1

/* Not a failure: a premise was false (see the top); why says which. */
#define DIO_PREMISE_FALSE (-2)
/* A timeout that never ends. */
#define DIO_FOREVER (-1)

struct dio_state;

struct dio {
	/* what to do: set before dio_prepare */
	enum io_route route;
	enum io_dir dir;
	int fd;
	void *buf;
	size_t len;
	off_t off;
	unsigned int flags;     /* DIO_SCATTER */
	/* The held request is not this I/O's own but one it caused (a loop
	 * device's, for a filesystem stacked on diofs): its size may be any.
	 * For the one who watches it (pinwatch.h); the engine ignores it. */
	bool indirect;

	/* once completed: syscall-style, bytes or -1 with err */
	ssize_t ret;
	int err;
	/* ROUTE_URING_FIXED: pins in flight the registration added, and what
	 * remained of them after unregistering (dio_cleanup) */
	int64_t reg_pins, unreg_left;
	bool reg_measured, unreg_measured;

	struct dio_state *s;    /* the engine's, from dio_prepare on */
};

/* What must not fall inside a measurement: contexts, rings, buffer
 * registration, pipes, the scatter area.  0, -1 with why, or
 * DIO_PREMISE_FALSE.  A fixed buffer the kernel refused for another reason
 * than the limit is the I/O's result (dio_submit_err), and -1. */
int dio_prepare(struct dio *io, char *why, size_t len);
/* Make the call in a thread of the engine's own (dio_run there); returns
 * once the thread runs (dio_tid known).  0, or -1 with why. */
int dio_start(struct dio *io, char *why, size_t len);
/* The body of that thread, for a caller that runs it in a thread of its
 * own making (the runner's held_call): arg is the struct dio.  The call,
 * and for io_uring the wait for the CQE; its result, errno set. */
ssize_t dio_run(void *arg);
/* Prepare, make the call in the calling thread, wait for the completion,
 * clean up: io->ret (bytes, or -1 with errno = io->err).  For a thread
 * that is itself the I/O's (-1 with why also when it cannot be set up). */
ssize_t dio_do(struct dio *io, char *why, size_t len);
/* Wait until dio_run runs (after a caller started it itself). */
void dio_wait_running(struct dio *io);

/* Has the call returned: pread... itself, io_submit, io_uring_submit? */
bool dio_call_returned(struct dio *io);
/* Wait up to timeout_ms (DIO_FOREVER) for it; true if it returned. */
bool dio_call_wait(struct dio *io, int timeout_ms);
/* The submission's own error: the errno of a failed io_submit,
 * io_uring_submit or io_uring_register_buffers (and of a failed pread...,
 * whose call is its completion); 0 if it worked or has not returned. */
int dio_submit_err(struct dio *io);

/* The completion, waiting up to timeout_ms (0: just look; DIO_FOREVER):
 * true with the result in *res (bytes or -errno; res may be NULL) and in
 * io->ret/io->err once the I/O completed.  From the caller's thread only. */
bool dio_wait(struct dio *io, int timeout_ms, ssize_t *res);
static inline bool dio_poll(struct dio *io, ssize_t *res)
{
	return dio_wait(io, 0, res);
}
/* Wait for the completion (no time limit: release the request first) and
 * for the engine's thread; io->ret, errno = io->err. */
ssize_t dio_join(struct dio *io);
/* Completions seen after the first one, plus any visible now: 0 if the
 * I/O completed exactly once. */
unsigned int dio_more_completions(struct dio *io);
/* What went wrong that the engine saw at completion (io_getevents
 * failed, an event for another iocb, bytes in preadv's gaps), or NULL;
 * cleared by reading. */
const char *dio_failure(struct dio *io);

/* The thread that makes the call, for signals, and its tid (what diofs
 * reports as the caller's pid for pread and io_submit, and for io_uring
 * when the kernel issues the request inline).  False / 0 before it runs
 * or without one (a refused fixed buffer). */
bool dio_thread_of(struct dio *io, pthread_t *thread);
pid_t dio_tid(struct dio *io);
/* CLOCK_MONOTONIC ns just before the call and just after it returned
 * (0 until then). */
uint64_t dio_call_start_ns(struct dio *io);
uint64_t dio_call_end_ns(struct dio *io);

/* Tear down the async context with the I/O possibly in flight: io_destroy
 * (which waits for the I/O in flight: run it in a thread of its own), or,
 * for io_uring, end the submitting thread (io_uring cancels what that task
 * has in io-wq) and io_uring_queue_exit (a request in FUSE's background
 * queue stays in flight until the server answers).  Not while
 * io_uring_submit is still blocked inline.  0 or -errno; afterwards
 * dio_wait sees no completion.  No-op (0) for the synchronous routes. */
int dio_ctx_destroy(struct dio *io);
/* Is the I/O still in use: its thread not done, or an async I/O not
 * completed with its context alive (the kernel may still write into buf)? */
bool dio_busy(struct dio *io);
/* Join the engine's thread (waiting), tear down what dio_prepare set up.
 * A busy I/O's state is kept until exit, never freed under the kernel or
 * a thread; io itself must then stay too. */
void dio_cleanup(struct dio *io);

/* ---- any call in a thread --------------------------------------------- */

/* fn(arg) in a thread of its own: for the calls that may block on a held
 * request (pread, close, io_destroy, open...).  fn returns a
 * syscall-style result and leaves errno. */
struct dio_thread;
/* Returns once the thread runs (its tid known); NULL with why if it
 * cannot start. */
struct dio_thread *dio_thread_start(ssize_t (*fn)(void *arg), void *arg, char *why, size_t len);
pid_t dio_thread_tid(const struct dio_thread *t);
bool dio_thread_returned(struct dio_thread *t);
/* Wait up to timeout_ms (DIO_FOREVER) for fn to return: true with its
 * result and errno (ret, err may be NULL). */
bool dio_thread_wait(struct dio_thread *t, int timeout_ms, ssize_t *ret, int *err);
/* Send sig to the thread; 0 or an errno. */
int dio_thread_kill(struct dio_thread *t, int sig);
/* Wait up to timeout_ms for fn to return, join and free the thread: true
 * with its result and errno; false (nothing freed) on timeout. */
bool dio_thread_join(struct dio_thread *t, int timeout_ms, ssize_t *ret, int *err);

/* ---- whole transfers -------------------------------------------------- */

/* Read (IO_READ) or write exactly len bytes from or to a pipe or socket,
 * as long as it takes, past EINTR; false on an error or an early end.
 * Async-signal-safe (a forked child of a threaded process may use it). */
bool dio_full(int fd, void *buf, size_t len, enum io_dir dir);

#endif
