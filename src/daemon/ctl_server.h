/* The control socket: an acknowledged line protocol (see proto/ctl.h). */
#ifndef DIOFS_CTL_SERVER_H
#define DIOFS_CTL_SERVER_H

#include <stddef.h>

/* Make the socket at path, listening: before mounting, so that a socket
 * that cannot be made is an error the user sees.  0 or -errno:
 * -EADDRINUSE another daemon serves path, -EEXIST path is not a socket,
 * -EPERM a directory on its path is not safe (why says which and how, see
 * proto/ctldir.h), -ENAMETOOLONG path does not fit a Unix socket address. */
int ctl_server_listen(const char *path, char *why, size_t whylen);
/* Start serving it (threads: after fuse_daemonize's fork).  0 or -errno. */
int ctl_server_run(void);
void ctl_server_stop(void);

#endif
