/* The engines that move file data without user memory (ITER_BVEC: pages
 * listed, not pinned): splice file -> pipe / pipe -> file, and sendfile
 * file -> memfd / memfd -> file.  A write's data waits in the pipe or the
 * memfd from dio_prepare on; a read's is copied into buf at completion. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/ioengine_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <unistd.h>

struct pipe_ctx {
	int pipe[2];
	int memfd;
};

static struct pipe_ctx *pipe_ctx_new(struct dio_state *s)
{
	struct pipe_ctx *p = calloc(1, sizeof(*p));

	if (p)
		p->pipe[0] = p->pipe[1] = p->memfd = -1;
	s->ctx = p;
	return p;
}

static int splice_prepare(struct dio *io, struct dio_state *s, char *why, size_t len)
{
	struct pipe_ctx *p = pipe_ctx_new(s);

	if (!p)
		return dio_fail_errno(why, len, "splice", ENOMEM);
	if (pipe2(p->pipe, O_CLOEXEC) < 0)
		return dio_fail_errno(why, len, "pipe2", errno);
	if (io->len > 65536) {
		size_t ps = dio_page_size(), want = (io->len + ps - 1) & ~(ps - 1);

		if (fcntl(p->pipe[1], F_SETPIPE_SZ, (int)want) < 0)
			return dio_fail_errno(why, len, "F_SETPIPE_SZ", errno);
	}
	if (io->dir == IO_WRITE) {
		/* the data waits in the pipe: copied, no user page left */
		ssize_t w = write(p->pipe[1], io->buf, io->len);

		if (w != (ssize_t)io->len)
			return dio_fail_errno(why, len, "filling the pipe", w < 0 ? errno : EIO);
	}
	return 0;
}

static ssize_t splice_call(struct dio *io, struct dio_state *s)
{
	struct pipe_ctx *p = s->ctx;
	loff_t off = io->off;

	if (io->dir == IO_WRITE)
		return splice(p->pipe[0], NULL, io->fd, &off, io->len, 0);
	return splice(io->fd, &off, p->pipe[1], NULL, io->len, 0);
}

static int sendfile_prepare(struct dio *io, struct dio_state *s, char *why, size_t len)
{
	struct pipe_ctx *p = pipe_ctx_new(s);

	if (!p)
		return dio_fail_errno(why, len, "sendfile", ENOMEM);
	p->memfd = memfd_create("diofs-check-sendfile", MFD_CLOEXEC);
	if (p->memfd < 0)
		return dio_fail_errno(why, len, "memfd_create", errno);
	if (io->dir == IO_WRITE && pwrite(p->memfd, io->buf, io->len, 0) != (ssize_t)io->len)
		return dio_fail_errno(why, len, "filling the memfd", errno ? errno : EIO);
	return 0;
}

static ssize_t sendfile_call(struct dio *io, struct dio_state *s)
{
	struct pipe_ctx *p = s->ctx;
	off_t off = io->off, zero = 0;

	if (io->dir == IO_WRITE) {
		if (lseek(io->fd, io->off, SEEK_SET) < 0)
			return -1;
		return sendfile(io->fd, p->memfd, &zero, io->len);
	}
	return sendfile(p->memfd, io->fd, &off, io->len);
}

/* A read's bytes, from the pipe or the memfd into buf. */
static ssize_t pipe_finish(struct dio *io, struct dio_state *s, ssize_t res)
{
	struct pipe_ctx *p = s->ctx;
	ssize_t got;

	if (io->dir != IO_READ || res <= 0)
		return res;
	if (p->memfd >= 0)
		got = pread(p->memfd, io->buf, (size_t)res, 0);
	else
		got = read(p->pipe[0], io->buf, (size_t)res);
	if (got != res)
		return got < 0 ? -errno : -EIO;
	return res;
}

static void pipe_cleanup(struct dio *io, struct dio_state *s)
{
	struct pipe_ctx *p = s->ctx;

	(void)io;
	if (!p)
		return;
	for (int i = 0; i < 2; i++)
		if (p->pipe[i] >= 0)
			close(p->pipe[i]);
	if (p->memfd >= 0)
		close(p->memfd);
	free(p);
}

const struct dio_engine dio_engine_splice = {
	.prepare = splice_prepare, .call = splice_call, .finish = pipe_finish,
	.cleanup = pipe_cleanup,
};

const struct dio_engine dio_engine_sendfile = {
	.prepare = sendfile_prepare, .call = sendfile_call, .finish = pipe_finish,
	.cleanup = pipe_cleanup,
};
