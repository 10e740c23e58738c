/* The life of a call below dispatch (call_life.c): what rules, holds and
 * replies need of it, so that none of them includes dispatch.h.  A request
 * goes one way, and so do the includes (tests/unit/include-circles checks
 * that no module reaches back up): loop -> engine -> dispatch -> rules,
 * holds, ops -> reply -> proto_fault, send, interrupt, call_life -> trace.
 * What must call back up is given a function at start: holds resumes a
 * parked call through the dispatch_resume that holds_init was given; the
 * io_uring queues (uring.c, started by the engine) hand their requests to
 * the engine_handle that uring_start was given, and send.c commits a reply
 * to its ring entry through the uring_reply that the engine set. */
#ifndef DIOFS_CALL_LIFE_H
#define DIOFS_CALL_LIFE_H

#include <stdint.h>

#include "call.h"

/* c's path relative to the root, resolved once and cached in the call. */
const char *call_path(struct diofs_call *c);

/* c itself if it is on the heap already (c->deferred), else a copy on the
 * heap that outlives the request's thread (names, xattr value and write
 * data with it; c is then done with); NULL, c untouched, if there is no
 * memory.  Whoever keeps a call past its thread (holds.c) calls it. */
struct diofs_call *call_to_heap(struct diofs_call *c);

/* The end of a call, in two steps around the reply (reply.c): record it
 * (counters, trace) while the kernel still waits, so that the file it names
 * cannot be released under the trace; then free it. */
void call_record(struct diofs_call *c);
void call_free(struct diofs_call *c);

/* Per-operation counters for the control server's "stats":
 * one line "op NAME count=N errors=N" per operation seen (lookup: also
 * negative=N, the lookups answered ENOENT, which errors does not count). */
typedef void (*call_line_fn)(void *ctx, const char *line);
void call_stats(call_line_fn fn, void *ctx);

#endif
