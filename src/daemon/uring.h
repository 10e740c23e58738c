/* The io_uring transport (FUSE-over-io_uring, kernel 6.14+): after INIT,
 * one thread per CPU queue of the kernel's ring, pinned to that CPU, with
 * an io_uring of its own holding q_depth ring entries registered on the
 * /dev/fuse fd.  Requests arrive as completions and go to engine_handle
 * (given to uring_start); replies (send.c, through uring_reply) are
 * committed to the entry the request came in (and the entry fetches the
 * next request).  Interrupts and forgets still come over
 * /dev/fuse (loop.c).  See uring.c for who may submit. */
#ifndef DIOFS_URING_H
#define DIOFS_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct send_undo; /* send.h */

/* uring_wait_begin's answer for a request that came over /dev/fuse. */
#define URING_NO_QUEUE (-1)

/* Where a request read from a ring entry goes: len bytes at buf, read at
 * start_ns, as engine_handle takes them. */
typedef void (*uring_request_fn)(const void *buf, size_t len, uint64_t start_ns);

#ifdef HAVE_LIBURING
/* The kernel's switch: 1 on, 0 off (why says how to turn it on), -1 no
 * FUSE-over-io_uring in this kernel (why says so).  Reads
 * /sys/module/fuse/parameters/enable_uring: fuse must be loaded. */
int uring_available(char *why, size_t len);

/* Register the queues on /dev/fuse fd dev_fd (after the INIT reply): one
 * per possible CPU, q_depth entries each with payload bytes of buffer.
 * Each request is handed to handle (engine_handle).  0 or -errno; the
 * threads report their own errors later. */
int uring_start(int dev_fd, unsigned int q_depth, size_t payload, uring_request_fn handle);

/* Is unique a request that came through a ring entry and awaits its
 * reply?  If so, commit the reply (iov as proto_out_iov made it) to its
 * entry and return 0; undo (may be NULL) runs if the kernel refuses the
 * commit.  1 if it is not (the reply goes to /dev/fuse). */
int uring_reply(uint64_t unique, const struct iovec *iov, int n,
		const struct send_undo *undo);

/* proto=errno:N: commit a header with that error in unique's entry (the
 * kernel ends the request with EINVAL; the reply that follows is committed
 * bare, to be refused).  0, or 1 if unique did not come through a ring
 * entry. */
int uring_commit_error(uint64_t unique, int32_t error);

/* Parked waits that a caller can cause (lock waits) keep their ring
 * entry, so each queue lends them only a quarter of its entries, a user
 * half of that (see uring.c).  Before such a wait of caller uid parks
 * request unique: the queue to give back with uring_wait_end (>= 0),
 * URING_NO_QUEUE if unique did not come through a ring entry (nothing to
 * count), or -ENOLCK if the queue's or the user's share is in use. */
int uring_wait_begin(uint64_t unique, uid_t uid);
void uring_wait_end(int qid, uid_t uid);

/* -o io_uring_hold_register: let the held queue register; false if no
 * queue waits for it (yet, or any more). */
bool uring_register_release(void);

/* Stop the queue threads and close their rings (idempotent). */
void uring_stop(void);

/* "queues=N q_depth=N payload=N registered=N" for info and stats
 * (registered: the queues whose entries went to the kernel; the ring
 * serves requests once that is every queue). */
void uring_describe(char *buf, size_t len);
#else
/* Built without liburing (configure --disable-tests without it): no
 * io_uring transport, and -o io_uring says why. */
#include <errno.h>
#include <stdio.h>
static inline int uring_available(char *why, size_t len)
{
	snprintf(why, len, "diofs was built without liburing (install liburing-dev and "
		 "rebuild)");
	return -1;
}
static inline int uring_start(int dev_fd, unsigned int q_depth, size_t payload,
			      uring_request_fn handle)
{
	(void)dev_fd, (void)q_depth, (void)payload, (void)handle;
	return -ENOSYS;
}
static inline int uring_reply(uint64_t unique, const struct iovec *iov, int n,
			      const struct send_undo *undo)
{
	(void)unique, (void)iov, (void)n, (void)undo;
	return 1;
}
static inline int uring_commit_error(uint64_t unique, int32_t error)
{
	(void)unique, (void)error;
	return 1;
}
static inline int uring_wait_begin(uint64_t unique, uid_t uid)
{
	(void)unique, (void)uid;
	return URING_NO_QUEUE;
}
static inline void uring_wait_end(int qid, uid_t uid)
{
	(void)qid, (void)uid;
}
static inline bool uring_register_release(void)
{
	return false;
}
static inline void uring_stop(void) {}
static inline void uring_describe(char *buf, size_t len)
{
	snprintf(buf, len, "%s", "");
}
#endif

#endif
