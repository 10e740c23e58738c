/* The control socket: an acknowledged line protocol (see proto/ctl.h). */
#ifndef DIOFS_CTL_SERVER_H
#define DIOFS_CTL_SERVER_H

int ctl_server_start(const char *path); /* 0 or -errno */
void ctl_server_stop(void);

#endif
