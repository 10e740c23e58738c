/* Every answer to the kernel goes through these: they record the result in
 * the call, hand it to the trace, and free a deferred call's storage.  After
 * a reply_* the call must not be touched.  Replies that hand the kernel a
 * reference (entry, open, create) return the reply's result (0 or -errno): if the
 * kernel refused it (the caller was interrupted meanwhile), the reference
 * was never taken and the operation must drop it. */
#ifndef DIOFS_REPLY_H
#define DIOFS_REPLY_H

#include "call.h"
#include <sys/statvfs.h>

void reply_err(struct diofs_call *c, int err); /* err 0: success, no data */
int reply_entry(struct diofs_call *c, const struct fuse_entry_param *e);
int reply_create(struct diofs_call *c, const struct fuse_entry_param *e,
		  const struct fuse_file_info *fi);
void reply_attr(struct diofs_call *c, const struct stat *st, double timeout);
void reply_readlink(struct diofs_call *c, const char *target);
int reply_open(struct diofs_call *c, const struct fuse_file_info *fi);
void reply_write(struct diofs_call *c, size_t count);
void reply_buf(struct diofs_call *c, const char *buf, size_t size);
void reply_statfs(struct diofs_call *c, const struct statvfs *st);
void reply_xattr(struct diofs_call *c, size_t size);
void reply_lseek(struct diofs_call *c, off_t off);

#endif
