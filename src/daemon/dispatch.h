/* Between the engine and the operations: consult the rules, act (fail,
 * delay, hold, shape the reply, abort, crash, a protocol fault) or run the
 * call. */
#ifndef DIOFS_DISPATCH_H
#define DIOFS_DISPATCH_H

#include "call.h"
#include "holds.h"

/* c lives on the caller's stack; it is copied if it must wait. */
void dispatch(struct diofs_call *c);
/* A parked (heap) call let go: holds.c calls it (holds_init). */
void dispatch_resume(struct diofs_call *c, enum release_how how, long arg);

#endif
