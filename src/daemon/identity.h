/* Creating objects as the caller.  A root daemon switches the worker
 * thread's filesystem uid/gid and supplementary groups to the caller's
 * around a creating syscall, so the new object gets the caller's owner and
 * group (setgid directories included) and the backing filesystem checks
 * permissions as the kernel did.  All three are per-thread on Linux when
 * set by raw syscall.  Not root: only the umask part (see identity.c). */
#ifndef DIOFS_IDENTITY_H
#define DIOFS_IDENTITY_H

#include "call.h"
#include <stdbool.h>

struct saved_identity {
	bool active;
};

/* 0, or an errno (nothing changed then). */
int identity_become(const struct diofs_call *c, struct saved_identity *s);
/* Back to the daemon's identity; aborts if that fails. */
void identity_restore(struct saved_identity *s);

#endif
