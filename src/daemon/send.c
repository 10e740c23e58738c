/* Replies and raw messages to the kernel, by the transport the request
 * came in (send.h). */
#include <config.h>
#include "send.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "diofs.h"

static int dev_fd = -1;
static _Atomic(send_ring_fn) ring_reply; /* NULL: /dev/fuse only */

void send_set_fd(int fd)
{
	dev_fd = fd;
}

void send_set_ring(send_ring_fn ring)
{
	atomic_store(&ring_reply, ring);
}

static void debug_reply(const struct proto_out *o)
{
	fprintf(stderr, "diofs:    unique=%" PRIu64 " error=%d len=%" PRIu32 "\n",
		(uint64_t)o->h.unique, o->h.error, o->h.len);
}

int send_reply(struct proto_out *o)
{
	send_ring_fn ring = atomic_load(&ring_reply);
	struct iovec iov[3];
	int n = proto_out_iov(o, iov);
	ssize_t res;

	if (diofs_cfg.debug)
		debug_reply(o);
	/* The reply goes where its request came from: a ring entry (its
	 * result, the commit's, is the ring's to see), else /dev/fuse. */
	if (ring && ring(o->h.unique, iov, n) == 0)
		return 0;
	res = writev(dev_fd, iov, n);
	if (res == (ssize_t)o->h.len)
		return 0;
	if (res >= 0)
		return -EIO;
	/* ENOENT: the caller was interrupted and the kernel answered it;
	 * ENODEV: unmounted or aborted.  Both are the kernel's to decide. */
	if (errno != ENOENT && errno != ENODEV)
		fprintf(stderr, "diofs: reply to request %" PRIu64 ": %s\n",
			(uint64_t)o->h.unique, strerror(errno));
	return -errno;
}

ssize_t send_raw(const struct iovec *iov, int n)
{
	ssize_t res = writev(dev_fd, iov, n);

	return res < 0 ? -errno : res;
}
