/* The worker threads.  diofs runs its own loop rather than libfuse's so
 * that each request's kernel header (its unique id) and arrival time are
 * known to the call, and the pool has a fixed size: a held request keeps no
 * thread, so the pool need not grow. */
#ifndef DIOFS_LOOP_H
#define DIOFS_LOOP_H

#include <fuse_lowlevel.h>

/* Serve se with n threads until the session exits (unmount, a signal);
 * 0, or the error that stopped it (negative errno). */
int loop_run(struct fuse_session *se, unsigned int n);

#endif
