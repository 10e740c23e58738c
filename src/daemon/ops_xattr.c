/* Extended attributes, through /proc/self/fd: the xattr syscalls take no
 * O_PATH fd.  Not on symlinks: the /proc link would lead to the symlink's
 * target, and there is no race-free way to name the symlink itself. */
#include <config.h>

#include "ops_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/xattr.h>

/* The /proc path of ino, or false (and the call answered) for a symlink. */
static bool xattr_path(struct diofs_call *c, char proc[PROC_FD_LEN])
{
	struct diofs_inode *in = inode_get(c->ino);

	if (in->type == S_IFLNK) {
		reply_err(c, ENOTSUP);
		return false;
	}
	proc_fd_path(proc, in->fd);
	return true;
}

void op_setxattr(struct diofs_call *c)
{
	char proc[PROC_FD_LEN];

	if (!xattr_path(c, proc))
		return;
	if (setxattr(proc, c->name, c->value, c->size, (int)c->flags) == -1)
		reply_err(c, errno);
	else
		reply_err(c, 0);
}

void op_removexattr(struct diofs_call *c)
{
	char proc[PROC_FD_LEN];

	if (!xattr_path(c, proc))
		return;
	if (removexattr(proc, c->name) == -1)
		reply_err(c, errno);
	else
		reply_err(c, 0);
}

/* getxattr and listxattr: size 0 asks for the length only. */
static void get_or_list(struct diofs_call *c, bool list)
{
	char proc[PROC_FD_LEN];
	char *buf = NULL;
	ssize_t n;

	if (!xattr_path(c, proc))
		return;
	if (c->size) {
		buf = malloc(c->size);
		if (!buf) {
			reply_err(c, ENOMEM);
			return;
		}
	}
	if (list)
		n = listxattr(proc, buf, c->size);
	else
		n = getxattr(proc, c->name, buf, c->size);
	if (n == -1)
		reply_err(c, errno);
	else if (c->size)
		reply_buf(c, buf, (size_t)n);
	else
		reply_xattr(c, (size_t)n);
	free(buf);
}

void op_getxattr(struct diofs_call *c)
{
	get_or_list(c, false);
}

void op_listxattr(struct diofs_call *c)
{
	get_or_list(c, true);
}
