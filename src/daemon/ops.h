/* The passthrough operations.  Each answers its call exactly once through
 * reply.h, with the backing filesystem's errno on failure. */
#ifndef DIOFS_OPS_H
#define DIOFS_OPS_H

#include "call.h"

/* The session's start (INIT: 0 or -errno), end, and the kernel's
 * forgetting of nlookup lookups of ino. */
int ops_init(void);
void ops_destroy(void);
void ops_forget(fuse_ino_t ino, uint64_t nlookup);

/* Runs call c now; c->op says which operation. */
void ops_run(struct diofs_call *c);
/* For a release or releasedir answered without running it: close and free
 * the file or directory it releases (nothing for other operations). */
void ops_drop_handle(struct diofs_call *c);

#endif
