/* Answers to the kernel.  Each records its call (result, trace) before the
 * reply, while the caller still waits, and frees it after. */
#include <config.h>
#include "reply.h"

#include <string.h>

#include "call_life.h"
#include "diofs.h"
#include "fuse_proto.h"
#include "identity.h"
#include "inode.h"
#include "interrupt.h"
#include "proto_fault.h"
#include "send.h"

/* Back to the daemon's identity (the op ran as the caller), record c,
 * send o (with its protocol fault, if a rule gave it one), free c; the
 * send's result. */
static void reply_undo(struct diofs_call *c, struct proto_out *o,
		       const struct send_undo *undo)
{
	identity_restore();
	interrupt_done(c);
	if (c->proto_fault) {
		proto_fault_reply(c, o, undo);
	} else {
		call_record(c);
		send_reply_undo(o, undo);
	}
	call_free(c);
}

static void reply(struct diofs_call *c, struct proto_out *o)
{
	reply_undo(c, o, NULL);
}

/* A refused entry: the kernel did not count the lookup. */
static void drop_lookup(void *arg, uint64_t nodeid)
{
	(void)arg;
	inode_unref(nodeid, 1);
}

void reply_err(struct diofs_call *c, int err)
{
	struct proto_out o;

	c->result_errno = err;
	proto_out_init(&o, c->unique, err);
	reply(c, &o);
}

void reply_entry(struct diofs_call *c, const struct fuse_entry_param *e)
{
	struct send_undo undo = { drop_lookup, NULL, e->ino };
	struct proto_out o;

	proto_out_init(&o, c->unique, 0);
	proto_put_entry(&o, e);
	reply_undo(c, &o, &undo);
}

void reply_create(struct diofs_call *c, const struct fuse_entry_param *e,
		  const struct fuse_file_info *fi, reply_undo_fn *undo_fn, void *arg)
{
	struct send_undo undo = { undo_fn, arg, e->ino };
	struct proto_out o;

	c->fopen_direct = fi->direct_io;
	c->fi.fh = fi->fh;
	proto_out_init(&o, c->unique, 0);
	proto_put_create(&o, e, fi->fh, proto_open_flags(fi, !diofs_cfg.no_parallel_direct_writes));
	reply_undo(c, &o, &undo);
}

void reply_attr(struct diofs_call *c, const struct stat *st, double timeout)
{
	struct proto_out o;

	proto_out_init(&o, c->unique, 0);
	proto_put_attr(&o, st, timeout);
	reply(c, &o);
}

void reply_readlink(struct diofs_call *c, const char *target)
{
	struct proto_out o;

	proto_out_init(&o, c->unique, 0);
	proto_put_data(&o, target, strlen(target));
	reply(c, &o);
}

void reply_open(struct diofs_call *c, const struct fuse_file_info *fi, reply_undo_fn *undo_fn,
		void *arg)
{
	struct send_undo undo = { undo_fn, arg, 0 };
	struct proto_out o;

	c->fopen_direct = fi->direct_io;
	c->fi.fh = fi->fh;
	proto_out_init(&o, c->unique, 0);
	proto_put_open(&o, fi->fh, proto_open_flags(fi, !diofs_cfg.no_parallel_direct_writes));
	reply_undo(c, &o, &undo);
}

/* A reply that is a byte count (put with put): a write's, an xattr's size. */
static void reply_count(struct diofs_call *c, size_t count,
			void (*put)(struct proto_out *o, size_t count))
{
	struct proto_out o;

	c->replied = count;
	proto_out_init(&o, c->unique, 0);
	put(&o, count);
	reply(c, &o);
}

void reply_write(struct diofs_call *c, size_t count)
{
	reply_count(c, count, proto_put_write);
}

void reply_buf(struct diofs_call *c, const char *buf, size_t size)
{
	struct proto_out o;

	c->replied = size;
	proto_out_init(&o, c->unique, 0);
	proto_put_data(&o, buf, size);
	reply(c, &o);
}

void reply_statfs(struct diofs_call *c, const struct statvfs *st)
{
	struct proto_out o;

	proto_out_init(&o, c->unique, 0);
	proto_put_statfs(&o, st);
	reply(c, &o);
}

void reply_xattr(struct diofs_call *c, size_t size)
{
	reply_count(c, size, proto_put_xattr_size);
}

void reply_lseek(struct diofs_call *c, off_t off)
{
	struct proto_out o;

	proto_out_init(&o, c->unique, 0);
	proto_put_lseek(&o, off);
	reply(c, &o);
}
