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
static _Atomic(send_ring_error_fn) ring_error;

void send_set_fd(int fd)
{
	dev_fd = fd;
}

void send_set_ring(send_ring_fn reply, send_ring_error_fn error)
{
	atomic_store(&ring_error, error);
	atomic_store(&ring_reply, reply);
}

static void debug_reply(const struct proto_out *o)
{
	fprintf(stderr, "diofs:    unique=%" PRIu64 " error=%d len=%" PRIu32 "\n",
		(uint64_t)o->h.unique, o->h.error, o->h.len);
}

int send_reply_undo(struct proto_out *o, const struct send_undo *undo)
{
	send_ring_fn ring = atomic_load(&ring_reply);
	struct iovec iov[3];
	int n = proto_out_iov(o, iov);
	ssize_t res;

	if (diofs_cfg.debug)
		debug_reply(o);
	/* The reply goes where its request came from: a ring entry (the
	 * commit's completion refuses it or not, later: uring.c runs undo),
	 * else /dev/fuse. */
	if (ring && ring(o->h.unique, iov, n, undo) == 0)
		return 0;
	res = writev(dev_fd, iov, n);
	if (res == (ssize_t)o->h.len)
		return 0;
	res = res >= 0 ? -EIO : -errno;
	/* ENOENT: the caller was interrupted and the kernel answered it;
	 * ENODEV: unmounted or aborted.  Both are the kernel's to decide. */
	if (res != -ENOENT && res != -ENODEV)
		fprintf(stderr, "diofs: reply to request %" PRIu64 ": %s\n",
			(uint64_t)o->h.unique, strerror((int)-res));
	if (undo && undo->fn)
		undo->fn(undo->arg, undo->nodeid);
	return (int)res;
}

int send_reply(struct proto_out *o)
{
	return send_reply_undo(o, NULL);
}

int send_bad_error(uint64_t unique, int32_t error)
{
	send_ring_error_fn ring = atomic_load(&ring_error);
	struct fuse_out_header h = { .len = sizeof(h), .error = error, .unique = unique };
	struct iovec iov = { &h, sizeof(h) };
	ssize_t res;

	if (ring && ring(unique, error) == 0)
		return 0;
	res = writev(dev_fd, &iov, 1);
	if (res < 0)
		return -errno;
	return res == (ssize_t)sizeof(h) ? 0 : -EIO;
}

ssize_t send_raw(const struct iovec *iov, int n)
{
	ssize_t res = writev(dev_fd, iov, n);

	return res < 0 ? -errno : res;
}
