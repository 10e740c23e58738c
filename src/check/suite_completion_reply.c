/* completion, the server's reply: short, over-long, errors; and what
 * io_uring makes of a short synchronous result. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/suite_completion.h"
#include "proto/errnames.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SEED_FILE 21
#define SEED_WRITE 22
#define REPLY_FILE ((size_t)4 * REQ_MAX)
#define SHORT 1000

static const char *dir_op(enum io_dir dir)
{
	return dir == IO_READ ? "read" : "write";
}

/* After an I/O: its data where it went, for the bytes it reports. */
static void check_data(enum io_dir dir, const char *name, const char *buf, ssize_t res,
		       off_t off, unsigned int wseed, const char *ctx)
{
	if (res <= 0)
		return;
	if (dir == IO_READ)
		data_check(buf, (size_t)res, (uint64_t)off, SEED_FILE, ctx);
	else
		backing_check(name, (size_t)res, (uint64_t)off, wseed, ctx);
}

/* An I/O whose request at a nonzero offset (the second of a split one)
 * diofs holds and then releases with how; *off2 is that request's offset.
 * Returns the I/O's result. */
static ssize_t second_request(enum io_route r, int fd, enum io_dir dir, const char *name,
			      char *buf, size_t len, const char *how, uint64_t *off2)
{
	struct diofs_held held;
	struct route_io *io;
	ssize_t res = -ETIME;
	int rule = REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold op=%s path=%s offset=1- count=1",
						 dir_op(dir), check_fuse_path(name)));

	io = route_submit(r, fd, dir, buf, len, 0);
	*off2 = 0;
	if (route_held_wait(check_fuse_path(name), dir_op(dir), 1, &held, 1) >= 1) {
		*off2 = held.off;
		CHECK_CTL(diofsctl_release(check_ctl(), held.id, how));
	}
	if (!route_wait(io, ROUTE_WAIT_MS, &res))
		CHECK_FAILF("%s: no completion after the release", dio_call_name(r, dir));
	else if (route_more_completions(io))
		CHECK_FAILF("%s: more than one completion", dio_call_name(r, dir));
	route_free(io);
	diofsctl_rule_del(check_ctl(), rule);
	return res;
}

/* ---- short replies ---------------------------------------------------- */

/* Each (mode, route, direction) has a file of its own: on a_ops the
 * buffered fallback leaves page cache behind, which must not meet a file
 * rewritten behind the kernel's back. */
static int reply_file(const struct mode *m, const char *name)
{
	backing_create(name, REPLY_FILE, SEED_FILE);
	return open_mode(m, name, 0);
}

static void short_reply_one(const struct cfg *c, const struct mode *m, enum io_route rt,
			    enum io_dir dir, const char *name)
{
	size_t len = 65536, big = 3 * REQ_MAX;
	char *buf = check_buf_alloc(big, 0);
	const char *ctx = io_ctx(rt, dir, len, 0, buf, m);
	struct expect e;
	uint64_t off2;
	ssize_t res, want;
	int fd;

	expect_of(c, m, rt, dir, false, &e);
	if (uring_sync_fdio(&e, rt)) {
		note("%s: left to %s", ctx, uring_short_retry_case(m, dir));
		check_buf_free(buf);
		return;
	}
	fd = reply_file(m, name);
	data_fill(buf, big, 0, SEED_WRITE);

	/* one request, answered short: the sync paths return
	 * the short count; async: a write -EIO
	 * (fuse_get_res_by_io), a read the prefix
	 * (fuse_aio_complete's pos); a_ops: a short result
	 * that direct_IO returns (not -EIOCBQUEUED) is
	 * completed by buffered I/O (generic_file_read_iter,
	 * direct_write_fallback) */
	REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "short=%d op=%s path=%s count=1",
				      SHORT, dir_op(dir), check_fuse_path(name)));
	if (dir == IO_WRITE && kp_async(e.path))
		want = -EIO;
	else if (e.aops && e.path != KP_ASYNC)
		want = (ssize_t)len;
	else
		want = SHORT;
	res = route_rw(rt, fd, dir, buf, len, 0);
	EXPECT_RES(res, want, "%s, diofs answered %d bytes: %s: %s", ctx, SHORT,
		   kpath_name(e.path), e.why);
	check_data(dir, name, buf, res, 0, SEED_WRITE, ctx);
	CHECK_CTL(diofsctl_rule_clear(check_ctl()));

	/* split in three, the second answered short: the
	 * sync path stops there; async reads return the
	 * contiguous prefix, async writes -EIO */
	data_fill(buf, big, 0, SEED_WRITE + 1);
	ctx = io_ctx(rt, dir, big, 0, buf, m);
	res = second_request(rt, fd, dir, name, buf, big, "short=1000", &off2);
	if (dir == IO_WRITE && kp_async(e.path))
		want = -EIO;
	else if (e.aops && e.path != KP_ASYNC)
		want = (ssize_t)big;
	else
		want = (ssize_t)off2 + SHORT;
	EXPECT_RES(res, want, "%s, diofs answered the request at %ju with %d "
		   "bytes: %s: %s", ctx, (uintmax_t)off2, SHORT,
		   kpath_name(e.path), e.why);
	check_data(dir, name, buf, res, 0, SEED_WRITE + 1, ctx);
	close(fd);
	check_buf_free(buf);
}

static void short_reply(const struct cfg *c)
{
	note_version_dependent(c);
	each_combo(c, short_reply_one);
}
CFG_CASE_DEFS(short_reply)

/* ---- errors ----------------------------------------------------------- */

static void errors_one(const struct cfg *c, const struct mode *m, enum io_route rt,
		       enum io_dir dir, const char *name)
{
	static const int errs[] = { EIO, ENOSPC, EDQUOT, EFBIG, EINTR };
	size_t len = 65536, big = 3 * REQ_MAX;
	char *buf = check_buf_alloc(big, 0);
	const char *ctx = io_ctx(rt, dir, len, 4096, buf, m);
	struct expect e;
	uint64_t off2;
	ssize_t res, want;
	int fd = reply_file(m, name);

	expect_of(c, m, rt, dir, false, &e);
	data_fill(buf, big, 0, SEED_WRITE);

	/* the server's errno is the caller's, as is */
	for (size_t i = 0; i < sizeof(errs) / sizeof(*errs); i++) {
		REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "fail=%s op=%s path=%s "
					      "count=1", errno_name(errs[i]),
					      dir_op(dir), check_fuse_path(name)));
		res = route_rw(rt, fd, dir, buf, len, 4096);
		EXPECT_RES(res, -errs[i], "%s, diofs answered %s: %s", ctx,
			   errno_name(errs[i]), kpath_name(e.path));
		CHECK_CTL(diofsctl_rule_clear(check_ctl()));
	}

	/* a reply longer than asked: copy_out_args() refuses
	 * a read's (-EIO), fuse_send_write() and
	 * fuse_aio_complete_req() a write's */
	REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "overlong op=%s path=%s count=1",
				      dir_op(dir), check_fuse_path(name)));
	res = route_rw(rt, fd, dir, buf, len, 4096);
	EXPECT_RES(res, -EIO, "%s, diofs answered 4096 bytes more than asked: %s",
		   ctx, kpath_name(e.path));
	CHECK_CTL(diofsctl_rule_clear(check_ctl()));

	/* split in three, the second failing: the sync path
	 * returns the bytes before it (fuse_direct_io: res > 0
	 * ? res : err), a_ops completes the rest by buffered
	 * I/O, the async path returns the error (io->err) */
	ctx = io_ctx(rt, dir, big, 0, buf, m);
	if (uring_sync_fdio(&e, rt)) {
		note("%s, failing late: left to %s", ctx,
		     uring_short_retry_case(m, dir));
	} else {
		data_fill(buf, big, 0, SEED_WRITE + 1);
		res = second_request(rt, fd, dir, name, buf, big, "errno=ENOSPC",
				     &off2);
		if (kp_async(e.path))
			want = -ENOSPC;
		else
			want = e.aops ? (ssize_t)big : (ssize_t)off2;
		EXPECT_RES(res, want, "%s, diofs failed the request at %ju with "
			   "ENOSPC: %s: %s", ctx, (uintmax_t)off2,
			   kpath_name(e.path), e.why);
		check_data(dir, name, buf, res, 0, SEED_WRITE + 1, ctx);
	}
	close(fd);
	check_buf_free(buf);
}

static void errors(const struct cfg *c)
{
	each_combo(c, errors_one);
}
CFG_CASE_DEFS(errors)

/* ---- io_uring and a short synchronous result -------------------------- */

/* the io_uring cases' routes */
static const enum io_route uring_routes[] = { ROUTE_URING, ROUTE_URING_FIXED };

/* The open mode of the FOPEN_DIRECT_IO cases with O_DIRECT or without, in
 * *m; false if there is none such. */
static bool fdio_sync_mode(bool odirect, struct mode *m)
{
	struct mode modes[2];
	int nm = cfg_modes(&cfg_fdio_sync, modes);

	for (int mi = 0; mi < nm; mi++)
		if (modes[mi].odirect == odirect) {
			*m = modes[mi];
			return true;
		}
	return false;
}

/* io_uring retries a short read or write of a regular file that it issued
 * inline (io_uring/rw.c, need_complete_io()), from iocb->ki_pos.  On
 * FOPEN_DIRECT_IO with async DIO off, fuse_direct_read_iter() and
 * fuse_direct_write_iter() hand an async kiocb to fuse_direct_IO(), which
 * returns the synchronous result without advancing ki_pos (the a_ops path
 * has generic_file_read_iter and generic_file_direct_write do it).  Either
 * outcome is right: the short count, or the whole I/O retried from where
 * it ended; not a retry from the start.
 *
 * One case per direction and open mode, so that the known-bug list can say
 * which show the bug on which kernel (their .facts): before 6.13 only
 * O_DIRECT opens reach fuse_direct_IO() from io_uring; a write without
 * O_DIRECT is punted to io-wq (FUSE has no FOP_BUFFER_WASYNC). */
static void short_retry(bool odirect, enum io_dir dir)
{
	struct mode m;

	if (!fdio_sync_mode(odirect, &m))
		return;
	for (size_t r = 0; r < 2; r++) {
		/* reads: crossing EOF, then short mid-file */
		for (int d = dir == IO_READ ? 0 : 1; d < 2; d++) {
			bool at_eof = d == 0 && dir == IO_READ;
			size_t len = 65536, fsize = at_eof ? 10000 : REPLY_FILE;
			char *buf = check_buf_alloc(len, 0);
			const char *ctx = io_ctx(uring_routes[r], dir, len, 0, buf, &m);
			ssize_t res, first = at_eof ? 10000 : SHORT;
			int fd, at0;
			long n0;

			backing_create("f", fsize, SEED_FILE);
			fd = open_mode(&m, "f", 0);
			if (dir == IO_WRITE)
				data_fill(buf, len, 0, SEED_WRITE);
			at0 = REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold nth=1g op=%s path=%s "
							    "offset=0-0", dir_op(dir),
							    check_fuse_path("f")));
			if (!at_eof)
				REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "short=%d op=%s path=%s "
							      "count=1", SHORT, dir_op(dir),
							      check_fuse_path("f")));
			res = route_rw(uring_routes[r], fd, dir, buf, len, 0);
			n0 = counter_get(at0);
			if (at_eof)
				EXPECT_RES(res, 10000, "%s, file of 10000 bytes", ctx);
			else if (res != first && res != (ssize_t)len)
				CHECK_FAILF("%s, diofs answered %d bytes: got %s, want %d (no "
					    "retry) or %zu (retried)", ctx, SHORT, res_str(res),
					    SHORT, len);
			if (n0 != 1)
				CHECK_FAILF("%s: %ld FUSE_%s requests at offset 0 for one I/O whose "
					    "first reply had %zd bytes, want 1: io_uring retried the "
					    "short %s from iocb->ki_pos, which fuse_direct_IO() did "
					    "not advance (kernel %s)", ctx, n0,
					    dir == IO_READ ? "READ" : "WRITE", first, dir_op(dir),
					    kernel_release());
			if (res > 0 && dir == IO_READ)
				data_check(buf, (size_t)(res < 10000 || !at_eof ? res : 10000), 0,
					   SEED_FILE, ctx);
			else if (res > 0)
				backing_check("f", (size_t)res, 0, SEED_WRITE, ctx);
			CHECK_CTL(diofsctl_rule_clear(check_ctl()));
			close(fd);
			check_buf_free(buf);
		}
	}
}

void uring_short_retry_read(void) { short_retry(false, IO_READ); }
void uring_short_retry_read_odirect(void) { short_retry(true, IO_READ); }
void uring_short_retry_write(void) { short_retry(false, IO_WRITE); }
void uring_short_retry_write_odirect(void) { short_retry(true, IO_WRITE); }

/* The same root cause at offset -1: io_uring reads from f_pos and stores
 * iocb->ki_pos back into f_pos when the I/O completes (io_uring/rw.c,
 * REQ_F_CUR_POS), so a kiocb that fuse_direct_IO() did not advance leaves
 * f_pos where it was.  A full reply: nothing is retried, only the file
 * position is wrong (the next read at -1 reads the same bytes again). */
static void fpos_read(bool odirect)
{
	struct mode m;

	if (!fdio_sync_mode(odirect, &m))
		return;
	for (size_t r = 0; r < 2; r++) {
		size_t len = 4096;
		char *buf = check_buf_alloc(len, 0);
		const char *ctx = io_ctx(uring_routes[r], IO_READ, len, -1, buf, &m);
		ssize_t res;
		off_t pos;
		int fd;

		backing_create("f", 3 * len, SEED_FILE);
		fd = open_mode(&m, "f", 0);
		/* from 4096, so that a position left at the start of the
		 * read differs from one never set */
		REQUIRE_OK(lseek(fd, (off_t)len, SEEK_SET));
		res = route_rw(uring_routes[r], fd, IO_READ, buf, len, -1);
		pos = lseek(fd, 0, SEEK_CUR);
		if (EXPECT_RES(res, (ssize_t)len, "%s, the file position at %zu, file of %zu",
			       ctx, len, 3 * len))
			data_check(buf, len, len, SEED_FILE, ctx);
		if (res == (ssize_t)len && pos != (off_t)(2 * len))
			CHECK_FAILF("%s: read %zd bytes from the file position %zu, which is "
				    "%jd afterwards, want %zu: io_uring stores iocb->ki_pos back "
				    "into f_pos, and fuse_direct_IO() did not advance it "
				    "(kernel %s)", ctx, res, len, (intmax_t)pos, 2 * len,
				    kernel_release());
		close(fd);
		check_buf_free(buf);
	}
}

void uring_fpos_read(void) { fpos_read(false); }
void uring_fpos_read_odirect(void) { fpos_read(true); }
