/* The synchronous engines: pread/pwrite, and preadv/pwritev (the buffer
 * in two halves, or DIO_SCATTER: many uneven iovecs with guard gaps).
 * The call is the completion. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/ioengine_ops.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static ssize_t pread_call(struct dio *io, struct dio_state *s)
{
	(void)s;
	return io->dir == IO_READ ? pread(io->fd, io->buf, io->len, io->off)
				  : pwrite(io->fd, io->buf, io->len, io->off);
}

const struct dio_engine dio_engine_pread = { .call = pread_call };

/* ---- preadv/pwritev --------------------------------------------------- */

/* DIO_SCATTER: at most this many iovecs, each followed by a gap the kernel
 * must not touch. */
#define SCATTER_MAX 64
#define SCATTER_GAP 40
#define GAP_BYTE 0x5a

struct vec {
	struct iovec iov[SCATTER_MAX];
	int iovcnt;
	void *area;             /* DIO_SCATTER: the iovecs' own memory */
	char *scatter;          /* in it, starting as buf does in its page */
};

/* Uneven segment lengths: single bytes, page-crossing odd sizes, whole
 * pages, a segment larger than a FUSE request's share of a page array. */
static const size_t seg_len[] = {
	4095, 1, 512, 4096 + 7, 3, 65536, 100, 8192, 33, 131072 + 9, 4096, 17,
};

/* Can this process read and write all of [buf, buf+len)?  (An unmapped
 * or PROT_NONE buffer, for the EFAULT checks, must not be touched here.)
 * One byte of each page is read and written back through
 * process_vm_readv/writev, which fail with EFAULT instead of faulting. */
static bool accessible(const void *buf, size_t len)
{
	size_t page = dio_page_size();
	uintptr_t p = (uintptr_t)buf, end = (uintptr_t)buf + len;
	struct iovec local[256], remote[256];
	unsigned char bytes[256];
	pid_t self = getpid();

	while (p < end) {
		size_t n = 0;

		for (; p < end && n < 256; n++) {
			remote[n] = (struct iovec){ (void *)p, 1 };
			local[n] = (struct iovec){ &bytes[n], 1 };
			p = (p & ~(uintptr_t)(page - 1)) + page;
		}
		if (process_vm_readv(self, local, n, remote, n, 0) != (ssize_t)n ||
		    process_vm_writev(self, local, n, remote, n, 0) != (ssize_t)n)
			return false;
	}
	return true;
}

static int scatter_setup(struct dio *io, struct vec *v, char *why, size_t len)
{
	size_t page = dio_page_size(), misalign = (uintptr_t)io->buf & (page - 1);
	size_t left = io->len, pos = 0, area_len;
	int n = 0;

	/* the iovec lengths first, then one area holding them with gaps */
	while (left || n == 0) {
		size_t l = seg_len[n % (sizeof(seg_len) / sizeof(*seg_len))];

		if (l > left || n == SCATTER_MAX - 1)
			l = left;
		v->iov[n].iov_len = l;
		left -= l;
		n++;
		if (!left)
			break;
	}
	v->iovcnt = n;
	if (!accessible(io->buf, io->len)) {
		/* an unmapped buffer (EFAULT checks): the iovecs cover it
		 * directly, nothing is copied */
		for (int i = 0; i < n; i++) {
			v->iov[i].iov_base = (char *)io->buf + pos;
			pos += v->iov[i].iov_len;
		}
		return 0;
	}
	area_len = io->len + (size_t)n * SCATTER_GAP;
	if (posix_memalign(&v->area, page, misalign + area_len))
		return dio_fail_errno(why, len, "the preadv scatter area", ENOMEM);
	v->scatter = (char *)v->area + misalign;
	memset(v->scatter, GAP_BYTE, area_len);
	for (int i = 0; i < n; i++) {
		v->iov[i].iov_base = v->scatter + pos;
		/* the segment starts as the caller's buffer does (data to write,
		 * or what a read must overwrite) */
		memcpy(v->iov[i].iov_base, (char *)io->buf + (pos - (size_t)i * SCATTER_GAP),
		       v->iov[i].iov_len);
		pos += v->iov[i].iov_len + SCATTER_GAP;
	}
	return 0;
}

static int preadv_prepare(struct dio *io, struct dio_state *s, char *why, size_t len)
{
	struct vec *v = calloc(1, sizeof(*v));
	size_t half = io->len / 2;

	if (!v)
		return dio_fail_errno(why, len, "preadv", ENOMEM);
	s->ctx = v;
	if (io->flags & DIO_SCATTER)
		return scatter_setup(io, v, why, len);
	v->iov[0] = (struct iovec){ .iov_base = io->buf, .iov_len = half };
	v->iov[1] = (struct iovec){ .iov_base = (char *)io->buf + half, .iov_len = io->len - half };
	v->iovcnt = 2;
	return 0;
}

static ssize_t preadv_call(struct dio *io, struct dio_state *s)
{
	struct vec *v = s->ctx;

	return io->dir == IO_READ ? preadv(io->fd, v->iov, v->iovcnt, io->off)
				  : pwritev(io->fd, v->iov, v->iovcnt, io->off);
}

/* After the call: the segments back into the caller's buffer, as a direct
 * read would have left it; the gaps must be untouched. */
static ssize_t preadv_finish(struct dio *io, struct dio_state *s, ssize_t res)
{
	struct vec *v = s->ctx;
	size_t done = 0, bad = 0, first = 0;

	if (!v->scatter)
		return res;
	for (int i = 0; i < v->iovcnt; i++) {
		const unsigned char *gap = (unsigned char *)v->iov[i].iov_base + v->iov[i].iov_len;

		if (io->dir == IO_READ)
			memcpy((char *)io->buf + done, v->iov[i].iov_base, v->iov[i].iov_len);
		done += v->iov[i].iov_len;
		for (size_t g = 0; g < SCATTER_GAP; g++)
			if (gap[g] != GAP_BYTE && !bad++)
				first = done;
	}
	if (bad)
		dio_failf(s, "%s of %zu bytes in %d iovecs wrote %zu bytes into the gaps between "
			  "iovecs, first after buffer byte %zu", dio_call_name(io->route, io->dir),
			  io->len, v->iovcnt, bad, first);
	return res;
}

static void preadv_cleanup(struct dio *io, struct dio_state *s)
{
	struct vec *v = s->ctx;

	(void)io;
	if (v)
		free(v->area);
	free(v);
}

const struct dio_engine dio_engine_preadv = {
	.prepare = preadv_prepare, .call = preadv_call, .finish = preadv_finish,
	.cleanup = preadv_cleanup,
};
