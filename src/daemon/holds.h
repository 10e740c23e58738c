/* Parked calls: held until released, delayed until a deadline, or waiting
 * for a file lock.  A parked call keeps its request's unique id and
 * occupies no thread; its caller's interrupt (FUSE_INTERRUPT: a signal,
 * SIGKILL) answers it with EINTR, and stopping the daemon answers it at
 * once. */
#ifndef DIOFS_HOLDS_H
#define DIOFS_HOLDS_H

#include "call.h"
#include <stdint.h>

/* How a held call is let go. */
enum release_how {
	RELEASE_RUN,   /* run the operation and reply as it would have */
	RELEASE_ERRNO, /* reply with the errno given */
	RELEASE_SHORT, /* run it with a short reply of the length given */
};

/* What lets a parked call go (and answers one that cannot park):
 * dispatch_resume, given by the one above. */
typedef void (*holds_resume_fn)(struct diofs_call *c, enum release_how how, long arg);

int holds_init(holds_resume_fn resume);
void holds_shutdown(int err); /* answer every parked call with err */

/* Park call c (on the heap, or copied there: it may be on the caller's
 * stack; ENOMEM answers it if there is no memory).  deadline_ns 0: held
 * until released; otherwise run at deadline_ns (CLOCK_MONOTONIC). */
void holds_park(struct diofs_call *c, uint64_t deadline_ns);

/* File locks.  A worker never waits for a lock: it tries without blocking
 * and, if the lock is taken, parks the call here to be run again (and try
 * again) when a lock may have been let go through diofs (holds_locks_changed:
 * unlock, close) or, for locks held outside the mount, after a retry time
 * that grows from 10 ms to 1 s.  Read the generation before trying the lock:
 * a change since then runs the call again at once, so no wakeup is lost.
 * c is kept as holds_park keeps it. */
uint64_t holds_lock_generation(void);
void holds_park_lock(struct diofs_call *c, uint64_t generation);
void holds_locks_changed(void);

/* Release id (0: all held calls).  Returns the number released, -ENOENT if
 * id is not held, or -EINVAL (nothing released, *why says why) if errno
 * arg cannot answer one of them (reply_errno.h). */
int holds_release(uint64_t id, enum release_how how, long arg, const char **why);

/* Wait until at least min calls are held; 0, or -ETIMEDOUT. */
int holds_wait(unsigned int min, int timeout_ms);

/* One line per held call (proto/held.h). */
typedef void (*holds_line_fn)(void *ctx, const char *line);
void holds_list(holds_line_fn fn, void *ctx);
unsigned int holds_count(void);

#endif
