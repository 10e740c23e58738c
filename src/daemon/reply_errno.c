#include <config.h>
#include "reply_errno.h"

#include <errno.h>
#include <stddef.h>

#include "call.h"

#define OPENS (DIOFS_OP_BIT(OPEN) | DIOFS_OP_BIT(OPENDIR))

const char *reply_errno_refusal(uint64_t ops, int err)
{
	if (err < 1 || err > REPLY_ERRNO_MAX)
		return "the kernel accepts errors 1-511 only (it refuses any other reply "
		       "and its caller would wait forever)";
	/* fuse_do_open() takes ENOSYS from OPEN/OPENDIR as "this filesystem
	 * needs no open": it never opens again on this connection, so every
	 * later open gets file handle 0 and no FOPEN_DIRECT_IO. */
	if (err == ENOSYS && (ops & OPENS))
		return "ENOSYS cannot answer open or opendir (the kernel would stop "
		       "opening files on this mount for good: no_open)";
	return NULL;
}
