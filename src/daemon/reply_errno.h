/* Which errno values a reply may carry, checked in one place for the rule
 * parser (fail=) and the control server (release errno=). */
#ifndef DIOFS_REPLY_ERRNO_H
#define DIOFS_REPLY_ERRNO_H

#include <stdint.h>

/* The kernel takes errors 1..511 only: fuse_dev_do_write() refuses a reply
 * with oh.error <= -512 (ERESTARTSYS and the other kernel-internal codes)
 * or > 0 with EINVAL, and the caller then waits for an answer forever. */
#define REPLY_ERRNO_MAX 511

/* NULL if err may answer each operation in ops (bit 1 << op), else a
 * sentence saying why not. */
const char *reply_errno_refusal(uint64_t ops, int err);

#endif
