/* The way out to the kernel: every message diofs writes on its FUSE
 * connection goes through here, to /dev/fuse or, for a request that came
 * through an io_uring ring entry, to that entry. */
#ifndef DIOFS_SEND_H
#define DIOFS_SEND_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "fuse_proto.h"

/* The /dev/fuse fd to write to; before the first request. */
void send_set_fd(int fd);

/* Once requests may come through ring entries (after INIT with -o
 * io_uring): ring(unique, iov, n) commits the reply to the entry its
 * request came in and returns 0, or 1 if no entry awaits that unique
 * (uring_reply). */
typedef int (*send_ring_fn)(uint64_t unique, const struct iovec *iov, int n);
void send_set_ring(send_ring_fn ring);

/* Write reply o where its request came from; 0, or -errno (-ENOENT: the
 * kernel no longer waits for it, the caller was interrupted or the
 * connection aborted). */
int send_reply(struct proto_out *o);

/* Write a message to /dev/fuse as it is, whatever its header says
 * (proto_fault.c's faulty messages): the bytes written, or -errno as the
 * kernel refused it. */
ssize_t send_raw(const struct iovec *iov, int n);

#endif
