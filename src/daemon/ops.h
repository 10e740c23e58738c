/* The passthrough operations.  Each answers its call exactly once through
 * reply.h, with the backing filesystem's errno on failure. */
#ifndef DIOFS_OPS_H
#define DIOFS_OPS_H

#include "call.h"
#include "identity.h"

/* Per-open state, stored in fuse_file_info.fh. */
struct diofs_file {
	struct diofs_file *prev, *next; /* every open file, freed at exit */
	int fd;
	int open_flags;       /* the caller's flags, O_DIRECT included */
	bool fopen_direct;    /* answered with FOPEN_DIRECT_IO */
	char *path;           /* relative to the root, resolved at open */
	struct caller_ids *opener; /* who opened it (NULL: root, unknown) */
};

static inline struct diofs_file *diofs_file_of(const struct fuse_file_info *fi)
{
	return (struct diofs_file *)(uintptr_t)fi->fh;
}

/* The session's start (INIT: 0 or -errno), end, and the kernel's
 * forgetting of nlookup lookups of ino. */
int ops_init(void);
void ops_destroy(void);
void ops_forget(fuse_ino_t ino, uint64_t nlookup);

/* Runs call c now; c->op says which operation. */
void ops_run(struct diofs_call *c);
/* For a release or releasedir answered without running it: close and free
 * the file or directory it releases (nothing for other operations). */
void ops_drop_handle(struct diofs_call *c);

/* The path of ino relative to the root ("/" for the root), malloc'ed, or
 * NULL.  Informational only (trace, rule matching): the daemon itself never
 * resolves a string path. */
char *ops_path_of(fuse_ino_t ino);

#endif
