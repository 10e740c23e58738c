/* The FUSE connection itself: what the abort and crash actions do. */
#ifndef DIOFS_CONN_H
#define DIOFS_CONN_H

#include <stdbool.h>
#include <sys/types.h>

/* Abort the connection through fusectl, as `echo 1 > .../abort` would:
 * every pending request fails with ECONNABORTED, later ones ENOTCONN.
 * 0 or -errno. */
int conn_abort(void);
/* Is dev (a st_dev) this connection's device, that is, is the file on
 * this mount, under any of its paths (bind mounts included)?  Read from
 * mountinfo: no request goes through the mount. */
bool conn_is_device(dev_t dev);
/* Die at once, as a crashing daemon would. */
_Noreturn void conn_crash(void);

#endif
