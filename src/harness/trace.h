/* A trace file read back (diofs -o trace=FILE): its records parsed with
 * the protocol's grammar (proto/trace.h), for the tests to check. */
#ifndef DIOFS_HARNESS_TRACE_H
#define DIOFS_HARNESS_TRACE_H

#include <stddef.h>

#include "proto/trace.h"

/* Every record of trace file path, after its first line (which must be the
 * INIT record).  Returns how many, with the records in *out (NULL if
 * none), or -1 with a reason in why: the file cannot be read, line 1 is
 * not INIT, a line does not parse or has no newline.  *out and the strings
 * its records point to are one allocation: free(*out). */
int diofs_trace_load(const char *path, struct trace_rec **out, char *why, size_t whylen);

#endif
