/* The faulty messages.  Each is the call's real reply with one thing
 * wrong, written with send_raw so that any transport's replies can
 * be faulted the same way.  The kernel (fs/fuse/dev.c, fuse_dev_do_write)
 * checks a reply's size, header length and error before it looks for the
 * request, so a refused message leaves the request waiting: the real reply
 * follows.  Only "double" sends the real reply first.  Under -o io_uring
 * the faulty message still goes to /dev/fuse, which checks it the same
 * way; the request itself waits in a ring entry, which /dev/fuse does not
 * search, so a well-formed faulty reply (double, unknown-unique) is ENOENT
 * there for that reason too.  Except errno:N, which the ring carries: it
 * is committed in the request's entry, where the kernel does not leave the
 * request waiting but ends it with EINVAL; the real reply's commit is then
 * refused, and what it handed the kernel dropped (send_reply_undo). */
#include <config.h>
#include "proto_fault.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include "call_life.h"
#include "send.h"

/* Flipped in a unique for "unknown-unique": the kernel counts uniques up
 * from 1 in steps of 2, it will not reach this one. */
#define FOREIGN_UNIQUE_BIT (UINT64_C(1) << 62)

enum outcome { OUT_ACCEPTED, OUT_EINVAL, OUT_ENOENT, OUT_OTHER, OUT_COUNT };

static _Atomic uint64_t outcomes[PROTO_FAULT_COUNT][OUT_COUNT];

static void count(enum diofs_proto_fault f, int res)
{
	enum outcome o = res == 0 ? OUT_ACCEPTED : res == -EINVAL ? OUT_EINVAL :
			 res == -ENOENT ? OUT_ENOENT : OUT_OTHER;

	atomic_fetch_add_explicit(&outcomes[f][o], 1, memory_order_relaxed);
}

/* o as c's fault makes it wrong; 0 if the kernel took it all, else -errno. */
static int write_faulty(const struct diofs_call *c, struct proto_out *o)
{
	struct iovec iov[3];
	int n = proto_out_iov(o, iov);
	struct fuse_out_header h = o->h;
	size_t total = h.len;
	ssize_t res;

	iov[0].iov_base = &h;
	switch (c->proto_fault) {
	case PROTO_FAULT_BADLEN:
		h.len = (uint32_t)((long)h.len + c->proto_arg);
		break;
	case PROTO_FAULT_SHORT_HEADER:
		iov[0].iov_len = (size_t)c->proto_arg;
		n = 1;
		total = iov[0].iov_len;
		break;
	case PROTO_FAULT_ERRNO:
		return send_bad_error(h.unique, (int32_t)c->proto_arg);
	case PROTO_FAULT_UNKNOWN_UNIQUE:
		h.unique ^= FOREIGN_UNIQUE_BIT;
		break;
	default: /* double: the reply as it is */
		break;
	}
	res = send_raw(iov, n);
	if (res < 0)
		return (int)res;
	return (size_t)res == total ? 0 : -EIO;
}

int proto_fault_reply(struct diofs_call *c, struct proto_out *o,
		      const struct send_undo *undo)
{
	int res;

	switch (c->proto_fault) {
	case PROTO_FAULT_DOUBLE:
		res = send_reply_undo(o, undo);
		c->proto_write = write_faulty(c, o);
		break;
	case PROTO_FAULT_LATE:
		res = send_reply_undo(o, undo);
		c->proto_write = res;
		break;
	default:
		c->proto_write = write_faulty(c, o);
		res = 1; /* not sent yet */
		break;
	}
	count(c->proto_fault, c->proto_write);
	call_record(c);
	if (res == 1)
		res = send_reply_undo(o, undo);
	return res;
}

void proto_fault_stats(proto_fault_line_fn fn, void *ctx)
{
	char line[200];

	for (int f = PROTO_FAULT_NONE + 1; f < PROTO_FAULT_COUNT; f++) {
		uint64_t n[OUT_COUNT], total = 0;

		for (int o = 0; o < OUT_COUNT; o++)
			total += n[o] = atomic_load_explicit(&outcomes[f][o],
							     memory_order_relaxed);
		if (!total)
			continue;
		snprintf(line, sizeof(line), "proto %s count=%llu accepted=%llu einval=%llu"
			 " enoent=%llu other=%llu", diofs_proto_fault_name(f),
			 (unsigned long long)total, (unsigned long long)n[OUT_ACCEPTED],
			 (unsigned long long)n[OUT_EINVAL], (unsigned long long)n[OUT_ENOENT],
			 (unsigned long long)n[OUT_OTHER]);
		fn(ctx, line);
	}
}
