/* Answers to the kernel.  Each records its call (result, trace) before the
 * reply, while the caller still waits, and frees it after. */
#include <config.h>
#include "reply.h"

#include "dispatch.h"
#include "identity.h"

/* Back to the daemon's identity (the op ran as the caller), record c, send
 * the reply expression, free c; the reply's result. */
#define REPLY(c, expr) ({                 \
	int reply_res_;                   \
	identity_restore();               \
	call_record(c);                   \
	reply_res_ = (expr);              \
	call_free(c);                     \
	reply_res_; })

void reply_err(struct diofs_call *c, int err)
{
	c->result_errno = err;
	REPLY(c, fuse_reply_err(c->req, err));
}

int reply_entry(struct diofs_call *c, const struct fuse_entry_param *e)
{
	return REPLY(c, fuse_reply_entry(c->req, e));
}

int reply_create(struct diofs_call *c, const struct fuse_entry_param *e,
		 const struct fuse_file_info *fi)
{
	c->fopen_direct = fi->direct_io;
	c->fi.fh = fi->fh;
	return REPLY(c, fuse_reply_create(c->req, e, fi));
}

void reply_attr(struct diofs_call *c, const struct stat *st, double timeout)
{
	REPLY(c, fuse_reply_attr(c->req, st, timeout));
}

void reply_readlink(struct diofs_call *c, const char *target)
{
	REPLY(c, fuse_reply_readlink(c->req, target));
}

int reply_open(struct diofs_call *c, const struct fuse_file_info *fi)
{
	c->fopen_direct = fi->direct_io;
	c->fi.fh = fi->fh;
	return REPLY(c, fuse_reply_open(c->req, fi));
}

void reply_write(struct diofs_call *c, size_t count)
{
	c->replied = count;
	REPLY(c, fuse_reply_write(c->req, count));
}

void reply_buf(struct diofs_call *c, const char *buf, size_t size)
{
	c->replied = size;
	REPLY(c, fuse_reply_buf(c->req, buf, size));
}

void reply_statfs(struct diofs_call *c, const struct statvfs *st)
{
	REPLY(c, fuse_reply_statfs(c->req, st));
}

void reply_xattr(struct diofs_call *c, size_t size)
{
	c->replied = size;
	REPLY(c, fuse_reply_xattr(c->req, size));
}

void reply_lseek(struct diofs_call *c, off_t off)
{
	REPLY(c, fuse_reply_lseek(c->req, off));
}
