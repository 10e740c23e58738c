/* Shared by the ops_*.c files: the operations themselves and the helpers
 * they have in common.  Nothing here is used outside them. */
#ifndef DIOFS_OPS_INTERNAL_H
#define DIOFS_OPS_INTERNAL_H

#include "call.h"
#include "file.h"
#include "inode.h"
#include "ops.h"
#include "reply.h"

/* Attributes and entries are cached by the kernel for this long: real
 * caching, so that tests can make the kernel's idea of a file's size stale
 * by changing the backing file behind its back. */
#define ATTR_TIMEOUT 1.0
#define ENTRY_TIMEOUT 1.0

/* Look name up in parent, counting one lookup of the result; e is filled
 * for reply_entry.  0 or an errno (EXDEV: the entry is on another mount). */
int do_lookup(fuse_ino_t parent, const char *name, struct fuse_entry_param *e);
/* e for an inode the kernel already has one more lookup of. */
int fill_entry(struct diofs_inode *in, struct fuse_entry_param *e);

/* ops_node.c */
void op_lookup(struct diofs_call *c);
void op_getattr(struct diofs_call *c);
void op_setattr(struct diofs_call *c);
void op_readlink(struct diofs_call *c);
void op_mknod(struct diofs_call *c);
void op_mkdir(struct diofs_call *c);
void op_symlink(struct diofs_call *c);
void op_unlink(struct diofs_call *c);
void op_rmdir(struct diofs_call *c);
void op_rename(struct diofs_call *c);
void op_link(struct diofs_call *c);
void op_statfs(struct diofs_call *c);
void op_access(struct diofs_call *c);

/* ops_file.c */
void op_open(struct diofs_call *c);
void op_create(struct diofs_call *c);
void op_read(struct diofs_call *c);
void op_write(struct diofs_call *c);
void op_flush(struct diofs_call *c);
void op_release(struct diofs_call *c);
void op_fsync(struct diofs_call *c);
void op_fallocate(struct diofs_call *c);
void op_lseek(struct diofs_call *c);
void op_copy_file_range(struct diofs_call *c);
void op_flock(struct diofs_call *c);

/* ops_dir.c */
void op_opendir(struct diofs_call *c);
void op_readdir(struct diofs_call *c);
void op_readdirplus(struct diofs_call *c);
void op_releasedir(struct diofs_call *c);
void op_fsyncdir(struct diofs_call *c);

/* ops_xattr.c */
void op_setxattr(struct diofs_call *c);
void op_getxattr(struct diofs_call *c);
void op_listxattr(struct diofs_call *c);
void op_removexattr(struct diofs_call *c);

/* A backing open that another process's lease would block (ops_file.c):
 * open with O_NONBLOCK, then ops_lease_wait (1: c parked, to be run again)
 * and ops_lease_clear.  flags: what the caller asked. */
int ops_lease_wait(struct diofs_call *c, int fd, int flags, uint64_t generation);
int ops_lease_clear(int fd, int flags);

/* Close and free c's open file / directory (once: c's fh is then stale). */
void file_drop(struct diofs_call *c);
void dir_drop(struct diofs_call *c);

/* At the end of the session: close what the kernel never released. */
void ops_files_close_all(void);
void ops_dirs_close_all(void);

#endif
