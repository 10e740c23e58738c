/* Every backing system call runs as the caller.  A root daemon switches the
 * worker thread to the caller's filesystem uid and gid and supplementary
 * groups, and for a non-root caller also empties the thread's effective
 * capability set, so that the backing filesystem checks modes, ACLs,
 * sticky directories, reserved blocks and quotas as it would for the
 * caller itself, and new objects get the caller's owner and group.  All of
 * it is per-thread on Linux when set by raw syscall.  ops_run switches
 * around every operation; the reply goes out as the daemon again.
 * Not root: nothing to switch. */
#ifndef DIOFS_IDENTITY_H
#define DIOFS_IDENTITY_H

#include "call.h"

/* A caller's uid, gid, supplementary groups and effective capabilities
 * (those of the daemon's it has) as read for a switch. */
struct caller_ids {
	uid_t uid;
	gid_t gid;
	uint64_t caps;
	int ngroups;
	gid_t groups[];
};

/* Become c's caller: 0, or an errno (nothing changed then).  Free when the
 * thread already is that identity (a root caller in the daemon's group).
 * known, if not NULL and of c's uid and gid, gives the groups instead of
 * /proc (the one costly step: an open, two reads and a close). */
int identity_become(const struct diofs_call *c, const struct caller_ids *known);
/* What the thread switched to, malloc'ed (NULL: not switched, or too many
 * groups, or no memory): an open file keeps its opener's. */
struct caller_ids *identity_keep(void);
/* While switched without capabilities: give the thread back just cap
 * (e.g. CAP_DAC_READ_SEARCH, which linkat(fd, "", AT_EMPTY_PATH) asks of
 * a hard link made from an O_PATH fd), until identity_cap_drop.  0 or an
 * errno; nothing to do (0) when the thread kept its capabilities. */
int identity_cap_raise(int cap);
void identity_cap_drop(void);
/* Give the thread c's umask, for a call that creates (mknod, mkdir,
 * create): the backing filesystem applies it, or the parent directory's
 * default ACL instead, as natively.  The kernel leaves both to diofs
 * (FUSE_CAP_DONT_MASK); where it masked the mode already, masking again
 * changes nothing. */
void identity_umask(const struct diofs_call *c);
/* Back to the daemon's identity, if the thread switched; aborts if that
 * fails (a worker left with a caller's identity is worse). */
void identity_restore(void);

#endif
