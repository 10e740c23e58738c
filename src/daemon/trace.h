/* The request trace: one JSON object per line per completed call, written
 * from per-thread buffers with no global lock on the request path. */
#ifndef DIOFS_TRACE_H
#define DIOFS_TRACE_H

#include "call.h"
#include <stdbool.h>

int trace_open(const char *path);   /* 0 or -errno (-EINVAL: the file would be
                                     * inside the mount); starts tracing */
void trace_set(bool on);            /* needs an open trace file */
bool trace_is_on(void);
void trace_call(struct diofs_call *c, uint64_t end_ns);
int trace_flush(void);              /* all threads' buffers to the file; 0,
                                     * -EBADF: no file, -errno: it failed */
void trace_close(void);
/* Is path fit for a trace, outside diofs_cfg.mountpoint?  0 or -EINVAL (said
 * on stderr), -errno if its directory cannot be resolved.  Creates nothing:
 * call it before mounting, when resolving cannot reach the mount itself. */
int trace_check_path(const char *path);

#endif
