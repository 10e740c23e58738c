/* The life of a call below dispatch (call_life.c): what rules, holds and
 * replies need of it, so that none of them includes dispatch.h.  A request
 * goes one way: dispatch -> rules, holds, ops -> reply -> call_life ->
 * trace; holds.c reaches dispatch_resume only as the function holds_init
 * was given.  (Still to straighten: ops_file.c's lock waits call
 * dispatch_park_lock, and engine.c both calls dispatch and sends replies.) */
#ifndef DIOFS_CALL_LIFE_H
#define DIOFS_CALL_LIFE_H

#include <stdint.h>

#include "call.h"

uint64_t now_ns(void); /* CLOCK_MONOTONIC */

/* c's path relative to the root, resolved once and cached in the call. */
const char *call_path(struct diofs_call *c);

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
