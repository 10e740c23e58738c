/* Answers to the kernel, each recorded in its call before the call ends. */
#include <config.h>
#include "reply.h"

#include "dispatch.h"

void reply_err(struct diofs_call *c, int err)
{
	c->result_errno = err;
	fuse_reply_err(c->req, err);
	call_finish(c);
}

void reply_none(struct diofs_call *c)
{
	fuse_reply_none(c->req);
	call_finish(c);
}

void reply_entry(struct diofs_call *c, const struct fuse_entry_param *e)
{
	fuse_reply_entry(c->req, e);
	call_finish(c);
}

void reply_create(struct diofs_call *c, const struct fuse_entry_param *e,
		  const struct fuse_file_info *fi)
{
	c->fopen_direct = fi->direct_io;
	c->fi.fh = fi->fh;
	fuse_reply_create(c->req, e, fi);
	call_finish(c);
}

void reply_attr(struct diofs_call *c, const struct stat *st, double timeout)
{
	fuse_reply_attr(c->req, st, timeout);
	call_finish(c);
}

void reply_readlink(struct diofs_call *c, const char *target)
{
	fuse_reply_readlink(c->req, target);
	call_finish(c);
}

void reply_open(struct diofs_call *c, const struct fuse_file_info *fi)
{
	c->fopen_direct = fi->direct_io;
	c->fi.fh = fi->fh;
	fuse_reply_open(c->req, fi);
	call_finish(c);
}

void reply_write(struct diofs_call *c, size_t count)
{
	c->replied = count;
	fuse_reply_write(c->req, count);
	call_finish(c);
}

void reply_buf(struct diofs_call *c, const char *buf, size_t size)
{
	c->replied = size;
	fuse_reply_buf(c->req, buf, size);
	call_finish(c);
}

void reply_data(struct diofs_call *c, struct fuse_bufvec *bufv)
{
	c->replied = fuse_buf_size(bufv);
	fuse_reply_data(c->req, bufv, FUSE_BUF_SPLICE_MOVE);
	call_finish(c);
}

void reply_statfs(struct diofs_call *c, const struct statvfs *st)
{
	fuse_reply_statfs(c->req, st);
	call_finish(c);
}

void reply_xattr(struct diofs_call *c, size_t size)
{
	c->replied = size;
	fuse_reply_xattr(c->req, size);
	call_finish(c);
}

void reply_lseek(struct diofs_call *c, off_t off)
{
	fuse_reply_lseek(c->req, off);
	call_finish(c);
}
