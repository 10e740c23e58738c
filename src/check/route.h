/* The I/O engine (ioengine.h) in a case: the suites that drive one read
 * or write at a time and watch it complete, with the case's assertions.
 * Routes pread/pwrite, preadv/pwritev over many uneven iovecs with guard
 * gaps (DIO_SCATTER), libaio, io_uring READ/WRITE and READ_FIXED/WRITE_FIXED.
 *
 *   struct route_io *io = route_submit(ROUTE_AIO, fd, IO_READ, buf, len, off);
 *   route_held_wait(check_fuse_path("f"), "read", 1, &held, 1);
 *   CHECK_EQ(route_poll(io, &res), false);   // held: no completion yet
 *   diofsctl_release(check_ctl(), held.id, NULL);
 *   if (route_wait(io, ROUTE_WAIT_MS, &res)) CHECK_EQ(res, len);
 *   CHECK_EQ(route_more_completions(io), 0);
 *   route_free(io);
 *
 * route_submit never blocks on the I/O: the call is made in a thread of
 * its own the runner joins at the case's end (held_call).  A route that
 * cannot run here SKIPs the case, so does a ring or fixed buffer refused
 * for the locked-memory limit; what the engine sees go wrong at completion
 * (dio_failure) is recorded as a failure.
 *
 * Results are syscall-style: bytes (>= 0) or -errno, whether the error came
 * from the submission (io_submit, io_uring_submit, buffer registration) or
 * from the completion; route_submit_err() says which.
 *
 * Call everything from the case's thread (SKIP and REQUIRE end it), except
 * route_ctx_destroy, which a case may run in a held_call because
 * io_destroy waits for the I/O in flight. */
#ifndef DIOFS_CHECK_ROUTE_H
#define DIOFS_CHECK_ROUTE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "check/ioengine.h"
#include "lib/diofsctl.h"

/* The routes the completion suites run each case over: the first five of
 * enum io_route, the ones through the caller's buffer. */
#define ROUTE_COUNT (ROUTE_URING_FIXED + 1)

/* How long route_wait and route_held_wait wait when told ROUTE_WAIT_MS. */
#define ROUTE_WAIT_MS 10000

/* ---- one I/O ---------------------------------------------------------- */

struct route_io;

/* Start one read into / write from buf[0, len) at file offset off.  Ends
 * the case on a failure to set up (thread, context, memory); a failure of
 * the submission itself becomes the I/O's result. */
struct route_io *route_submit(enum io_route r, int fd, enum io_dir dir, void *buf,
			      size_t len, off_t off);

/* Has the submitting call returned: pread/preadv/pwrite/pwritev itself,
 * io_submit, io_uring_submit? */
bool route_submit_returned(struct route_io *io);
/* Wait up to timeout_ms for it; true if it returned. */
bool route_submit_wait(struct route_io *io, int timeout_ms);
/* The submission's own error: the errno of a failed io_submit,
 * io_uring_submit or io_uring_register_buffers (and of a failed pread...,
 * whose call is its completion); 0 if it worked or has not returned. */
int route_submit_err(struct route_io *io);

/* The completion, without blocking: true with the result in *res (bytes
 * or -errno) once the I/O completed; false while it has not.  For AIO this
 * is io_getevents with a zero timeout, for io_uring io_uring_peek_cqe, for
 * the synchronous routes whether the call returned. */
bool route_poll(struct route_io *io, ssize_t *res);
/* The same, waiting up to timeout_ms; false (nothing recorded) on timeout. */
bool route_wait(struct route_io *io, int timeout_ms, ssize_t *res);
/* Completions seen after the first one, plus any visible now (a zero
 * timeout io_getevents / CQE peek): 0 if the I/O completed exactly once. */
unsigned int route_more_completions(struct route_io *io);

/* The thread that makes the call (pread..., io_submit, io_uring_submit),
 * for signals, and its tid (what diofs reports as the caller's pid for
 * pread and io_submit, and for io_uring when the kernel issues the request
 * inline; io-wq workers have their own).  False / 0 for an io_uring I/O
 * whose fixed buffer was refused (no thread). */
bool route_thread(struct route_io *io, pthread_t *thread);
pid_t route_tid(struct route_io *io);

/* Tear down the async context with the I/O possibly in flight: io_destroy
 * (which waits for the I/O in flight: run it in a held_call), or, for
 * io_uring, end the submitting thread (io_uring cancels what that task has
 * in io-wq) and io_uring_queue_exit (a request in FUSE's background queue
 * stays in flight until the server answers).  Not while io_uring_submit is
 * still blocked inline.  0 or -errno; afterwards poll/wait see no
 * completion.  No-op (0) for the synchronous routes. */
int route_ctx_destroy(struct route_io *io);

/* Free io.  An I/O still in flight (a synchronous call not returned, an
 * async one not completed with its context alive) is left allocated: the
 * runner joins the thread at the case's end, and the kernel may still write
 * into the buffer. */
void route_free(struct route_io *io);

/* Submit, wait (ROUTE_WAIT_MS), free: the result, or -ETIME (recorded as
 * a failure) if it did not complete. */
ssize_t route_rw(enum io_route r, int fd, enum io_dir dir, void *buf, size_t len, off_t off);

/* ---- any call in a thread ---------------------------------------------- */

/* For a call started with held_call (check.h), in a thread of its own:
 * the calls that may block on a held request (close, io_destroy, fsync...).
 * true once fn returned, with its result and errno; false on timeout. */
struct held_io;
bool route_call_wait(struct held_io *c, int timeout_ms, ssize_t *ret, int *err);
pid_t route_call_tid(struct held_io *c);
/* Free c once fn returned (else leave it to the runner's teardown). */
void route_call_free(struct held_io *c);

/* The state letter of thread tid of this process (/proc/self/task/TID/stat:
 * 'R', 'S' interruptible sleep, 'D' uninterruptible...), '?' if gone. */
char task_state(pid_t tid);
/* Wait up to timeout_ms until thread tid sleeps in state ('S' or 'D'); true
 * if it does.  Gives up early (false) when done(arg) says the call it makes
 * has returned (done may be NULL). */
bool task_wait_state(pid_t tid, char state, int timeout_ms, bool (*done)(void *arg), void *arg);

/* ---- held calls, by path ---------------------------------------------- */

/* Wait up to timeout_ms until diofs holds at least n calls of op ("read",
 * "write", NULL: any) on fuse_path (check_fuse_path), then fill out (at
 * most max, sorted by offset) and return how many it holds.  On timeout
 * records a failure saying what was held, and returns that count. */
#define route_held_wait(path, op, n, out, max) \
	route_held_wait_at((path), (op), (n), (out), (max), ROUTE_WAIT_MS, __FILE__, __LINE__)
int route_held_wait_at(const char *fuse_path, const char *op, unsigned int n,
		       struct diofs_held *out, size_t max, int timeout_ms,
		       const char *file, unsigned int line);
/* What is held right now (no wait), as above. */
int route_held_now(const char *fuse_path, const char *op, struct diofs_held *out, size_t max);

/* ---- the running kernel ----------------------------------------------- */

/* Is the running kernel (uname -r) at least major.minor? */
bool kernel_at_least(int major, int minor);
const char *kernel_release(void);

#endif
