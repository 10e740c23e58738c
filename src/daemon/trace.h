/* The request trace: one JSON object per line per completed call, written
 * from per-thread buffers with no global lock on the request path. */
#ifndef DIOFS_TRACE_H
#define DIOFS_TRACE_H

#include "call.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The trace file at path (absolute), opened by whoever calls: a new file,
 * mode 0600, O_EXCL and O_NOFOLLOW; with overwrite an existing regular file
 * is emptied and made 0600 instead (never followed through a symbolic
 * link, never a FIFO or device).  The fd, or -errno with why saying what
 * was wrong. */
int trace_create(const char *path, bool overwrite, char *why, size_t whylen);
/* Trace to fd (trace_create's), named path; the old file is closed.  0 or
 * -errno (fd then still the caller's). */
int trace_start(int fd, const char *path);
/* trace_check_path, trace_create and trace_start: 0, or -errno with why. */
int trace_open(const char *path, bool overwrite, char *why, size_t whylen);
void trace_set(bool on);            /* needs an open trace file */
bool trace_is_on(void);
/* One line for c, answered at end_ns; path: call_path(c), or NULL. */
void trace_call(struct diofs_call *c, const char *path, uint64_t end_ns);
int trace_flush(void);              /* all threads' buffers to the file; 0,
                                     * -EBADF: no file, -errno: it failed */
void trace_close(void);
/* Did the last trace file fail?  Its path and why into why. */
bool trace_failure(char *why, size_t len);
/* The record every trace file starts with (what INIT negotiated, one JSON
 * object): written now to the open file, and first to any opened later. */
void trace_set_header(const char *json);
/* Is path fit for a trace, outside diofs_cfg.mountpoint?  0 or -EINVAL (said
 * on stderr), -errno if its directory cannot be resolved.  Creates nothing:
 * call it before mounting, when resolving cannot reach the mount itself. */
int trace_check_path(const char *path);

#endif
