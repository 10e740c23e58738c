/* Interrupts (FUSE_INTERRUPT), as libfuse's fuse_req_interrupt_func: a call
 * that waits (holds.c) registers, the engine passes on what the kernel
 * interrupts, and the call's reply (reply.c) ends the registration. */
#ifndef DIOFS_INTERRUPT_H
#define DIOFS_INTERRUPT_H

#include <stdint.h>

#include "call.h"

/* fn(data) is called once if the kernel interrupts c, at once (from
 * interrupt_func itself) if that happened before; registering again
 * replaces fn and data.  Never with a lock of this table held, so fn may
 * reply. */
typedef void (*interrupt_fn)(void *data);
void interrupt_func(struct diofs_call *c, interrupt_fn fn, void *data);
/* c is answered: forget it, and an interrupt that came for it. */
void interrupt_done(struct diofs_call *c);
/* The kernel interrupted the request with this unique (not 0). */
void interrupt_received(uint64_t unique);

#endif
