/* Between the engine and the operations: consult the rules,
 * act (fail, delay, hold, shape the reply, abort, crash) or run the call. */
#ifndef DIOFS_DISPATCH_H
#define DIOFS_DISPATCH_H

#include "call.h"

/* How a held call is let go. */
enum release_how {
	RELEASE_RUN,   /* run the operation and reply as it would have */
	RELEASE_ERRNO, /* reply with the errno given */
	RELEASE_SHORT, /* run it with a short reply of the length given */
};

/* c lives on the caller's stack; it is copied if it must wait. */
void dispatch(struct diofs_call *c);
/* c could not take a file lock that it waits for: park it until a lock is
 * let go (holds_park_lock); generation as read before trying the lock. */
void dispatch_park_lock(struct diofs_call *c, uint64_t generation);
/* Called by holds.c for a parked (heap) call. */
void dispatch_resume(struct diofs_call *c, enum release_how how, long arg);

/* The end of a call, in two steps around the reply (reply.c): record it
 * (counters, trace) while the kernel still waits, so that the file it names
 * cannot be released under the trace; then free it. */
void call_record(struct diofs_call *c);
void call_free(struct diofs_call *c);

/* c's path relative to the root, resolved once and cached in the call. */
const char *call_path(struct diofs_call *c);

uint64_t now_ns(void); /* CLOCK_MONOTONIC */

/* Per-operation counters for the control server's "stats":
 * one line "op NAME count=N errors=N" per operation seen (lookup: also
 * negative=N, the lookups answered ENOENT, which errors does not count). */
typedef void (*dispatch_line_fn)(void *ctx, const char *line);
void dispatch_stats(dispatch_line_fn fn, void *ctx);

#endif
