/* The control socket: an acknowledged line protocol (see proto/ctl.h). */
#ifndef DIOFS_CTL_SERVER_H
#define DIOFS_CTL_SERVER_H

/* 0 or -errno: -EADDRINUSE another daemon serves path, -EEXIST path is not
 * a socket, -EPERM the default directory is not private to us,
 * -ENAMETOOLONG path does not fit a Unix socket address. */
int ctl_server_start(const char *path);
void ctl_server_stop(void);

#endif
