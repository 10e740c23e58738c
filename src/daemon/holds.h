/* Parked calls: held until released, or delayed until a deadline.  A parked
 * call keeps its fuse_req_t and occupies no thread.  A held call whose
 * caller is interrupted is answered EINTR (FUSE_INTERRUPT). */
#ifndef DIOFS_HOLDS_H
#define DIOFS_HOLDS_H

#include "call.h"
#include "dispatch.h"
#include <stdint.h>

int holds_init(void);
void holds_shutdown(int err); /* answer every parked call with err */

/* Park heap call c.  deadline_ns 0: held until released; otherwise run at
 * deadline_ns (CLOCK_MONOTONIC). */
void holds_park(struct diofs_call *c, uint64_t deadline_ns);

/* Release id (0: all held calls).  Returns the number released, or
 * -ENOENT if id is not held. */
int holds_release(uint64_t id, enum release_how how, long arg);

/* Wait until at least min calls are held; 0, or -ETIMEDOUT. */
int holds_wait(unsigned int min, int timeout_ms);

/* One line per held call:
 * "id=N op=NAME off=N size=N pid=N unique=N path=PATH" */
typedef void (*holds_line_fn)(void *ctx, const char *line);
void holds_list(holds_line_fn fn, void *ctx);
unsigned int holds_count(void);

#endif
