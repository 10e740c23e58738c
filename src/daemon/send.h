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

/* What a reply hands the kernel (a lookup count, an open file) and the
 * daemon must drop if the kernel refuses the reply: fn(arg, nodeid), run
 * once, on the refusal.  Over /dev/fuse that is the write(2)'s error, at
 * once; over io_uring the commit's completion (uring.c), later and on the
 * queue's thread; then send_reply_undo has returned 0 already. */
struct send_undo {
	void (*fn)(void *arg, uint64_t nodeid);
	void *arg;
	uint64_t nodeid;
};

/* Once requests may come through ring entries (after INIT with -o
 * io_uring): reply(unique, iov, n, undo) commits the reply to the entry
 * its request came in and returns 0, or 1 if no entry awaits that unique
 * (uring_reply); error(unique, error) commits a bare header with that
 * error likewise (uring_commit_error). */
typedef int (*send_ring_fn)(uint64_t unique, const struct iovec *iov, int n,
			    const struct send_undo *undo);
typedef int (*send_ring_error_fn)(uint64_t unique, int32_t error);
void send_set_ring(send_ring_fn reply, send_ring_error_fn error);

/* Write reply o where its request came from; 0, or -errno (-ENOENT: the
 * kernel no longer waits for it, the caller was interrupted or the
 * connection aborted). */
int send_reply(struct proto_out *o);
/* The same, undo (may be NULL) run if the kernel refuses it. */
int send_reply_undo(struct proto_out *o, const struct send_undo *undo);

/* A header with an error the kernel must refuse (proto=errno:N), for the
 * request unique: over /dev/fuse written as it is (the kernel refuses the
 * write, the request waits on); over io_uring committed in the request's
 * ring entry, where the kernel ends the request with EINVAL instead
 * (fs/fuse/dev_uring.c, fuse_uring_out_header_has_err) and the real reply
 * that follows is refused.  0 if written or committed, else -errno. */
int send_bad_error(uint64_t unique, int32_t error);

/* Write a message to /dev/fuse as it is, whatever its header says
 * (proto_fault.c's faulty messages): the bytes written, or -errno as the
 * kernel refused it. */
ssize_t send_raw(const struct iovec *iov, int n);

#endif
