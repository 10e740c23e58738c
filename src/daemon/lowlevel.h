/* The fuse_lowlevel_ops table: each entry turns its arguments into a
 * struct diofs_call and dispatches it. */
#ifndef DIOFS_LOWLEVEL_H
#define DIOFS_LOWLEVEL_H

#include <fuse_lowlevel.h>

extern const struct fuse_lowlevel_ops diofs_ll_ops;

/* The kernel's header of the request this thread is processing; loop.c
 * sets it before handing the buffer to libfuse (libfuse 3.14 does not
 * expose the request's unique id). */
struct diofs_req_header {
	uint64_t unique;
	uint64_t start_ns;
};
extern __thread struct diofs_req_header diofs_cur_header;

#endif
