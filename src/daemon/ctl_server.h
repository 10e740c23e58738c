/* The control socket: an acknowledged line protocol (see proto/ctl.h). */
#ifndef DIOFS_CTL_SERVER_H
#define DIOFS_CTL_SERVER_H

/* Make the socket at path, listening: before mounting, so that a socket
 * that cannot be made is an error the user sees.  0 or -errno:
 * -EADDRINUSE another daemon serves path, -EEXIST path is not a socket,
 * -EPERM the default directory is not private to us, -ENAMETOOLONG path
 * does not fit a Unix socket address. */
int ctl_server_listen(const char *path);
/* Start serving it (threads: after fuse_daemonize's fork).  0 or -errno. */
int ctl_server_run(void);
void ctl_server_stop(void);

#endif
