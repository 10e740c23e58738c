/* fuse_lowlevel_ops entry points: arguments into a call, call to dispatch. */
#include <config.h>
#include "lowlevel.h"

#include <string.h>

#include "call.h"
#include "dispatch.h"
#include "ops.h"

__thread struct diofs_req_header diofs_cur_header;

static void call_init(struct diofs_call *c, enum diofs_op op, fuse_req_t req,
		      fuse_ino_t ino)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	memset(c, 0, sizeof(*c));
	c->op = op;
	c->req = req;
	c->ino = ino;
	c->unique = diofs_cur_header.unique;
	c->start_ns = diofs_cur_header.start_ns ? diofs_cur_header.start_ns : now_ns();
	c->pid = ctx->pid;
	c->uid = ctx->uid;
	c->gid = ctx->gid;
}

static void call_fi(struct diofs_call *c, struct fuse_file_info *fi)
{
	if (fi) {
		c->fi = *fi;
		c->has_fi = true;
	}
}

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_LOOKUP, req, parent);
	c.name = name;
	dispatch(&c);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_GETATTR, req, ino);
	call_fi(&c, fi);
	dispatch(&c);
}

static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_SETATTR, req, ino);
	c.attr = *attr;
	c.to_set = to_set;
	call_fi(&c, fi);
	dispatch(&c);
}

static void ll_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_READLINK, req, ino);
	dispatch(&c);
}

static void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_MKNOD, req, parent);
	c.name = name;
	c.mode = mode;
	c.rdev = rdev;
	dispatch(&c);
}

static void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_MKDIR, req, parent);
	c.name = name;
	c.mode = mode;
	dispatch(&c);
}

static void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_UNLINK, req, parent);
	c.name = name;
	dispatch(&c);
}

static void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_RMDIR, req, parent);
	c.name = name;
	dispatch(&c);
}

static void ll_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		       const char *name)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_SYMLINK, req, parent);
	c.name = name;
	c.newname = target;
	dispatch(&c);
}

static void ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_RENAME, req, parent);
	c.name = name;
	c.newparent = newparent;
	c.newname = newname;
	c.flags = flags;
	dispatch(&c);
}

static void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_LINK, req, ino);
	c.newparent = newparent;
	c.newname = newname;
	dispatch(&c);
}

static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_OPEN, req, ino);
	call_fi(&c, fi);
	c.flags = fi->flags;
	dispatch(&c);
}

static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_CREATE, req, parent);
	c.name = name;
	c.mode = mode;
	call_fi(&c, fi);
	c.flags = fi->flags;
	dispatch(&c);
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_READ, req, ino);
	call_fi(&c, fi);
	c.size = size;
	c.off = off;
	dispatch(&c);
}

static void ll_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in_buf,
			 off_t off, struct fuse_file_info *fi)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_WRITE, req, ino);
	call_fi(&c, fi);
	c.in_buf = in_buf;
	c.size = fuse_buf_size(in_buf);
	c.off = off;
	dispatch(&c);
}

static void ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_FLUSH, req, ino);
	call_fi(&c, fi);
	dispatch(&c);
}

static void ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_RELEASE, req, ino);
	call_fi(&c, fi);
	dispatch(&c);
}

static void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_FSYNC, req, ino);
	call_fi(&c, fi);
	c.datasync = datasync;
	dispatch(&c);
}

static void ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_OPENDIR, req, ino);
	call_fi(&c, fi);
	dispatch(&c);
}

static void ll_readdir_common(enum diofs_op op, fuse_req_t req, fuse_ino_t ino,
			      size_t size, off_t off, struct fuse_file_info *fi)
{
	struct diofs_call c;

	call_init(&c, op, req, ino);
	call_fi(&c, fi);
	c.size = size;
	c.off = off;
	dispatch(&c);
}

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	ll_readdir_common(DIOFS_OP_READDIR, req, ino, size, off, fi);
}

static void ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	ll_readdir_common(DIOFS_OP_READDIRPLUS, req, ino, size, off, fi);
}

static void ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_RELEASEDIR, req, ino);
	call_fi(&c, fi);
	dispatch(&c);
}

static void ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_FSYNCDIR, req, ino);
	call_fi(&c, fi);
	c.datasync = datasync;
	dispatch(&c);
}

static void ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_STATFS, req, ino);
	dispatch(&c);
}

static void ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_SETXATTR, req, ino);
	c.name = name;
	c.value = value;
	c.size = size;
	c.flags = flags;
	dispatch(&c);
}

static void ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_GETXATTR, req, ino);
	c.name = name;
	c.size = size;
	dispatch(&c);
}

static void ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_LISTXATTR, req, ino);
	c.size = size;
	dispatch(&c);
}

static void ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_REMOVEXATTR, req, ino);
	c.name = name;
	dispatch(&c);
}

static void ll_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_ACCESS, req, ino);
	c.mode = mask;
	dispatch(&c);
}

static void ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
			 off_t length, struct fuse_file_info *fi)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_FALLOCATE, req, ino);
	call_fi(&c, fi);
	c.mode = mode;
	c.off = off;
	c.size = length;
	dispatch(&c);
}

static void ll_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_LSEEK, req, ino);
	call_fi(&c, fi);
	c.off = off;
	c.whence = whence;
	dispatch(&c);
}

static void ll_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			       off_t off_out, struct fuse_file_info *fi_out,
			       size_t len, int flags)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_COPY_FILE_RANGE, req, ino_in);
	call_fi(&c, fi_in);
	c.off = off_in;
	c.ino_out = ino_out;
	c.off_out = off_out;
	c.fi_out = *fi_out;
	c.size = len;
	c.flags = flags;
	dispatch(&c);
}

static void ll_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
	struct diofs_call c;

	call_init(&c, DIOFS_OP_FLOCK, req, ino);
	call_fi(&c, fi);
	c.lock_op = op;
	dispatch(&c);
}

const struct fuse_lowlevel_ops diofs_ll_ops = {
	.init = ops_init,
	.destroy = ops_destroy,
	.forget = ops_forget,
	.forget_multi = ops_forget_multi,
	.lookup = ll_lookup,
	.getattr = ll_getattr,
	.setattr = ll_setattr,
	.readlink = ll_readlink,
	.mknod = ll_mknod,
	.mkdir = ll_mkdir,
	.unlink = ll_unlink,
	.rmdir = ll_rmdir,
	.symlink = ll_symlink,
	.rename = ll_rename,
	.link = ll_link,
	.open = ll_open,
	.create = ll_create,
	.read = ll_read,
	.write_buf = ll_write_buf,
	.flush = ll_flush,
	.release = ll_release,
	.fsync = ll_fsync,
	.opendir = ll_opendir,
	.readdir = ll_readdir,
	.readdirplus = ll_readdirplus,
	.releasedir = ll_releasedir,
	.fsyncdir = ll_fsyncdir,
	.statfs = ll_statfs,
	.setxattr = ll_setxattr,
	.getxattr = ll_getxattr,
	.listxattr = ll_listxattr,
	.removexattr = ll_removexattr,
	.access = ll_access,
	.fallocate = ll_fallocate,
	.lseek = ll_lseek,
	.copy_file_range = ll_copy_file_range,
	.flock = ll_flock,
};
