/* An open file as diofs keeps it: the state behind fuse_file_info.fh,
 * made by open and create (ops_file.c), read wherever a call names its
 * file (the call's path, the trace). */
#ifndef DIOFS_FILE_H
#define DIOFS_FILE_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>

#include "open_list.h"

struct caller_ids; /* identity.h */

struct diofs_file {
	struct open_link link; /* every open file, freed at exit */
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

#endif
