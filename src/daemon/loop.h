/* The worker threads: the /dev/fuse transport.  Each reads one request at
 * a time into its own buffer and hands it to the engine; replies are
 * written by whichever thread answers the call (send.c).  The pool
 * has a fixed size: a held request keeps no thread. */
#ifndef DIOFS_LOOP_H
#define DIOFS_LOOP_H

#include <fuse_lowlevel.h>

/* Serve se's /dev/fuse fd with n threads until the session exits
 * (unmount, a signal); 0, or the error that stopped it (negative errno). */
int loop_run(struct fuse_session *se, unsigned int n);

#endif
