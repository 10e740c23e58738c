/* The FUSE connection itself: what the abort and crash actions do. */
#ifndef DIOFS_CONN_H
#define DIOFS_CONN_H

/* Abort the connection through fusectl, as `echo 1 > .../abort` would:
 * every pending request fails with ECONNABORTED, later ones ENOTCONN.
 * 0 or -errno. */
int conn_abort(void);
/* Die at once, as a crashing daemon would. */
_Noreturn void conn_crash(void);

#endif
