/* Every answer to the kernel goes through these: they record the result in
 * the call, hand it to the trace, and free a deferred call's storage.  After
 * a reply_* the call must not be touched.  Replies that hand the kernel a
 * reference (entry, open, create) may be refused (the caller was
 * interrupted, the connection went away): the kernel never took it, and it
 * is dropped then, by the reply for an entry's lookup count, by the op's
 * undo(arg, nodeid) for an open file.  Over io_uring the refusal comes with
 * the commit's completion, after the reply returned (engine.h). */
#ifndef DIOFS_REPLY_H
#define DIOFS_REPLY_H

#include "call.h"
#include <sys/statvfs.h>

void reply_err(struct diofs_call *c, int err); /* err 0: success, no data */
typedef void reply_undo_fn(void *arg, uint64_t nodeid);
void reply_entry(struct diofs_call *c, const struct fuse_entry_param *e);
/* refused: undo(arg, e->ino), which drops the file and the entry's count */
void reply_create(struct diofs_call *c, const struct fuse_entry_param *e,
		  const struct fuse_file_info *fi, reply_undo_fn *undo, void *arg);
void reply_attr(struct diofs_call *c, const struct stat *st, double timeout);
void reply_readlink(struct diofs_call *c, const char *target);
/* refused: undo(arg, 0) */
void reply_open(struct diofs_call *c, const struct fuse_file_info *fi, reply_undo_fn *undo,
		void *arg);
void reply_write(struct diofs_call *c, size_t count);
void reply_buf(struct diofs_call *c, const char *buf, size_t size);
void reply_statfs(struct diofs_call *c, const struct statvfs *st);
void reply_xattr(struct diofs_call *c, size_t size);
void reply_lseek(struct diofs_call *c, off_t off);

#endif
