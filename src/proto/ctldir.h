/* Is a directory fit to hold a control socket of uid?  Another user who
 * can create, rename or replace an entry anywhere along its path could
 * serve a socket of their own there.  So every directory on the way, as
 * written and as resolved, must be owned by root or uid and not writable by
 * others unless sticky (a symbolic link on the way: owned by root or uid);
 * the directory itself must be owned by uid and closed to everyone else
 * (no group or other bits). */
#ifndef DIOFS_PROTO_CTLDIR_H
#define DIOFS_PROTO_CTLDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* 0, or -EPERM with why saying which path fails and how; -errno (and why)
 * if a path cannot be examined.  dir must be absolute. */
int ctl_check_dir(const char *dir, uid_t uid, char *why, size_t whylen);

/* One entry on such a path, as st describes it: owned by root or uid, a
 * directory (or, if link_ok, a symbolic link) not writable by others
 * unless sticky.  0, or -EPERM with why. */
int ctl_check_entry(const char *path, const struct stat *st, uid_t uid, bool link_ok,
		    char *why, size_t whylen);

#endif
