/* completion, around the I/O: extending and appending writes, fsync after
 * them, close and context teardown with I/O in flight, unmapped buffers,
 * and signals to a caller waiting for a held read. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/suite_completion.h"
#include "proto/errnames.h"

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEED_FILE 41
#define SEED_WRITE 42
#define MAX_HELD 16

static const char *dir_op(enum io_dir dir)
{
	return dir == IO_READ ? "read" : "write";
}

static off_t cached_size(const char *name)
{
	struct statx stx;

	REQUIRE_OK(statx(AT_FDCWD, check_path(name), AT_STATX_DONT_SYNC, STATX_SIZE, &stx));
	return (off_t)stx.stx_size;
}

/* The size of name as the kernel caches it and as the backing file has
 * it: both want. */
static void sizes_are(const char *name, off_t want, const char *ctx)
{
	off_t cached = cached_size(name), backing = backing_size(name);

	if (cached != want || backing != want)
		CHECK_FAILF("%s: file size %jd in the kernel's cache (statx DONT_SYNC), %jd in the "
			    "backing directory; want %jd in both", ctx, (intmax_t)cached,
			    (intmax_t)backing, (intmax_t)want);
}

/* ---- extending writes ------------------------------------------------- */

static void extending(const struct cfg *c)
{
	struct mode modes[2];
	int nm = cfg_modes(c, modes);

	for (int mi = 0; mi < nm; mi++) {
		for (int r = 0; r < ROUTE_COUNT; r++) {
			enum io_route rt = (enum io_route)r;
			const size_t start = 65536, len = 70000, len2 = REQ_MAX + 100;
			const off_t off = (off_t)start - 1000, off2 = off + (off_t)len + 5000;
			char *buf = check_buf_alloc(len2, 0);
			const char *ctx = io_ctx(rt, IO_WRITE, len, off, buf, &modes[mi]);
			struct diofs_held held;
			struct route_io *io;
			struct expect e;
			char name[32];
			ssize_t res;
			int fd;

			snprintf(name, sizeof(name), "f%d.%d", mi, r);
			backing_create(name, start, SEED_FILE);
			fd = open_mode(&modes[mi], name, 0);
			expect_of(c, &modes[mi], rt, IO_WRITE, true, &e);
			data_fill(buf, len, (uint64_t)off, SEED_WRITE);

			/* held: a waiting caller stays waiting; AIO included,
			 * since an extending write is never left in flight */
			REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold op=write path=%s",
						      check_fuse_path(name)));
			io = route_submit(rt, fd, IO_WRITE, buf, len, off);
			if (route_held_wait(check_fuse_path(name), "write", 1, &held, 1) == 1) {
				if (route_poll(io, &res))
					CHECK_FAILF("%s: completed (%s) while diofs holds it", ctx,
						    res_str(res));
				if (rt == ROUTE_AIO && route_submit_returned(io))
					CHECK_FAILF("%s: io_submit returned while diofs holds the extending "
						    "write, want it to wait: %s: %s", ctx,
						    kpath_name(e.path), e.why);
				CHECK_CTL(diofsctl_release(check_ctl(), held.id, NULL));
			}
			if (!route_wait(io, ROUTE_WAIT_MS, &res))
				CHECK_FAILF("%s: no completion after the release", ctx);
			else if (EXPECT_RES(res, (ssize_t)len, "%s", ctx))
				backing_check(name, len, (uint64_t)off, SEED_WRITE, ctx);
			route_free(io);
			CHECK_CTL(diofsctl_rule_clear(check_ctl()));
			/* fuse_write_update_attr(): the kernel's i_size follows */
			sizes_are(name, off + (off_t)len, ctx);

			/* past EOF, leaving a hole, in two requests */
			ctx = io_ctx(rt, IO_WRITE, len2, off2, buf, &modes[mi]);
			data_fill(buf, len2, (uint64_t)off2, SEED_WRITE);
			res = route_rw(rt, fd, IO_WRITE, buf, len2, off2);
			if (EXPECT_RES(res, (ssize_t)len2, "%s", ctx)) {
				backing_check(name, len2, (uint64_t)off2, SEED_WRITE, ctx);
				backing_check(name, 5000, (uint64_t)(off + (off_t)len), 0, ctx);
			}
			sizes_are(name, off2 + (off_t)len2, ctx);
			close(fd);
			check_buf_free(buf);
		}
	}
}
CFG_CASE_DEFS(extending)

/* ---- O_APPEND --------------------------------------------------------- */

static void append(const struct cfg *c)
{
	static const size_t lens[] = { 5000, 4096, 70000, REQ_MAX + 3 };
	struct mode modes[2];
	int nm = cfg_modes(c, modes);
	int ran = 0;

	for (int mi = 0; mi < nm; mi++) {
		if (!modes[mi].odirect)
			continue;
		for (int r = 0; r < ROUTE_COUNT; r++) {
			enum io_route rt = (enum io_route)r;
			char name[32], what[128];
			off_t end = 1000;
			int fd;

			snprintf(name, sizeof(name), "f%d.%d", mi, r);
			backing_create(name, (size_t)end, SEED_FILE);
			fd = open_mode(&modes[mi], name, O_APPEND);
			for (size_t i = 0; i < sizeof(lens) / sizeof(*lens); i++) {
				char *buf = check_buf_alloc(lens[i], 3);
				const char *ctx = io_ctx(rt, IO_WRITE, lens[i], 0, buf, &modes[mi]);
				ssize_t res;

				/* offset 0 named, end of file meant: generic_write_checks()
				 * sets ki_pos to i_size for IOCB_APPEND */
				data_fill(buf, lens[i], (uint64_t)end, SEED_WRITE);
				res = route_rw(rt, fd, IO_WRITE, buf, lens[i], 0);
				if (EXPECT_RES(res, (ssize_t)lens[i], "%s with O_APPEND, file of %jd", ctx,
					       (intmax_t)end))
					backing_check(name, lens[i], (uint64_t)end, SEED_WRITE, ctx);
				end += (off_t)lens[i];
				check_buf_free(buf);
			}
			backing_check(name, 1000, 0, SEED_FILE, "the file's first 1000 bytes after the "
				      "appends");
			snprintf(what, sizeof(what), "%s appends with O_APPEND on %s",
				 dio_call_name(rt, IO_WRITE), modes[mi].name);
			sizes_are(name, end, what);
			close(fd);
			ran++;
		}
	}
	if (ran != ROUTE_COUNT)
		CHECK_FAILF("appended on %d routes, want %d: no O_DIRECT mode in %s", ran,
			    ROUTE_COUNT, c->name);
}
CFG_CASE_DEFS(append)

/* ---- fsync ------------------------------------------------------------ */

static void fsync_after(const struct cfg *c)
{
	struct mode modes[2];
	int nm = cfg_modes(c, modes);

	for (int mi = 0; mi < nm; mi++) {
		char name[32];
		int fd, cnt;

		snprintf(name, sizeof(name), "f%d", mi);
		backing_create(name, 4 * 65536, SEED_FILE);
		fd = open_mode(&modes[mi], name, 0);
		cnt = counter_add("fsync", name);
		for (int r = 0; r < ROUTE_COUNT; r++) {
			enum io_route rt = (enum io_route)r;
			size_t len = 65536;
			off_t off = (off_t)r * 4096 + 17;
			char *buf = check_buf_alloc(len, 0);
			const char *ctx = io_ctx(rt, IO_WRITE, len, off, buf, &modes[mi]);
			long before = counter_get(cnt);

			data_fill(buf, len, (uint64_t)off, SEED_WRITE + (unsigned int)r);
			EXPECT_RES(route_rw(rt, fd, IO_WRITE, buf, len, off), (ssize_t)len, "%s", ctx);
			CHECK_OK(fsync(fd));
			CHECK_OK(fdatasync(fd));
			if (counter_get(cnt) - before != 2)
				CHECK_FAILF("%s, then fsync and fdatasync: %ld FUSE_FSYNCs reached diofs, "
					    "want 2", ctx, counter_get(cnt) - before);
			backing_check(name, len, (uint64_t)off, SEED_WRITE + (unsigned int)r, ctx);
			check_buf_free(buf);
		}
		/* the server's answer is fsync's */
		REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "fail=EIO op=fsync path=%s count=1",
					      check_fuse_path(name)));
		CHECK_ERR(fsync(fd), EIO);
		CHECK_OK(fsync(fd));
		CHECK_CTL(diofsctl_rule_clear(check_ctl()));
		close(fd);
	}
}
CFG_CASE_DEFS(fsync_after)

/* ---- close with I/O in flight ----------------------------------------- */

static ssize_t call_close(void *arg)
{
	return close(*(int *)arg);
}

/* close() sends FUSE_FLUSH and leaves the I/O its file reference.  A
 * write whose caller waits for the reply (every path but the queued async
 * one) holds i_rwsem until then, and on 6.1 and 6.12 fuse_flush() takes
 * i_rwsem before FUSE_FLUSH (fs/fuse/file.c of 6.1.192, 6.12.117): there
 * close waits for that write, on 6.18 it does not.  For such a write the
 * case releases it before it waits for close, and asserts the rest. */
static void close_in_flight_one(const struct cfg *c, const struct mode *m, enum io_route rt,
				enum io_dir dir, const char *name)
{
	size_t len = 65536;
	char *buf = check_buf_alloc(len, 0);
	const char *ctx = io_ctx(rt, dir, len, 0, buf, m);
	struct diofs_held held, rel;
	struct held_io *cl;
	struct route_io *io;
	struct expect e;
	ssize_t res, cret;
	int fd, cerr = 0;
	bool close_may_wait;

	expect_of(c, m, rt, dir, false, &e);
	close_may_wait = dir == IO_WRITE && e.path != KP_ASYNC;
	backing_create(name, 4 * len, SEED_FILE);
	fd = open_mode(m, name, 0);
	data_fill(buf, len, 0, dir == IO_READ ? SEED_FILE : SEED_WRITE);
	REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold op=%s,release path=%s",
				      dir_op(dir), check_fuse_path(name)));
	io = route_submit(rt, fd, dir, buf, len, 0);
	if (route_held_wait(check_fuse_path(name), dir_op(dir), 1, &held, 1) != 1) {
		route_free(io);
		check_buf_free(buf);
		return;
	}

	/* close: FUSE_FLUSH, not a wait for the I/O; the file
	 * stays open for the I/O, so no FUSE_RELEASE yet */
	cl = held_call(call_close, &fd);
	if (!close_may_wait && !route_call_wait(cl, ROUTE_WAIT_MS, &cret, &cerr))
		CHECK_FAILF("%s: close did not return within %d ms while the I/O "
			    "is held", ctx, ROUTE_WAIT_MS);
	else if (!close_may_wait && cret)
		CHECK_FAILF("%s: close with the I/O held: %s", ctx,
			    errno_name(cerr));
	if (route_held_now(check_fuse_path(name), "release", &rel, 1))
		CHECK_FAILF("%s: FUSE_RELEASE while the I/O is in flight", ctx);
	if (route_poll(io, &res))
		CHECK_FAILF("%s: completed (%s) at close, while diofs holds it",
			    ctx, res_str(res));

	CHECK_CTL(diofsctl_release(check_ctl(), held.id, NULL));
	if (close_may_wait && !route_call_wait(cl, ROUTE_WAIT_MS, &cret, &cerr))
		CHECK_FAILF("%s: close did not return within %d ms of the write's "
			    "release", ctx, ROUTE_WAIT_MS);
	else if (close_may_wait && cret)
		CHECK_FAILF("%s: close with the write in flight: %s", ctx,
			    errno_name(cerr));
	if (!route_wait(io, ROUTE_WAIT_MS, &res))
		CHECK_FAILF("%s: no completion after the release", ctx);
	else if (EXPECT_RES(res, (ssize_t)len, "%s, closed while in flight", ctx)) {
		if (dir == IO_READ)
			data_check(buf, len, 0, SEED_FILE, ctx);
		else
			backing_check(name, len, 0, SEED_WRITE, ctx);
	}
	/* the last reference was the I/O's: now the release */
	if (route_held_wait(check_fuse_path(name), "release", 1, &rel, 1) == 1)
		CHECK_CTL(diofsctl_release(check_ctl(), rel.id, NULL));
	route_call_free(cl);
	route_free(io);
	CHECK_CTL(diofsctl_rule_clear(check_ctl()));
	check_buf_free(buf);
}

static void close_in_flight(const struct cfg *c)
{
	each_combo(c, close_in_flight_one);
}
CFG_CASE_DEFS(close_in_flight)

/* ---- unmapped buffers ------------------------------------------------- */

/* Buffers the kernel cannot take pages of: one below vm.mmap_min_addr
 * (unmapped, and unlike a munmapped range no later mmap can reuse it), and
 * a PROT_NONE reservation (mapped, no access). */
struct bad_buf {
	char *buf;
	size_t len;
	const char *what;
};

static int bad_buffers(struct bad_buf *out)
{
	long page = sysconf(_SC_PAGESIZE), min_addr = 0;
	FILE *f = fopen("/proc/sys/vm/mmap_min_addr", "r");
	static char *none;
	int n = 0;

	if (f) {
		if (fscanf(f, "%ld", &min_addr) != 1)
			min_addr = 0;
		fclose(f);
	}
	if (min_addr >= 1024) {
		size_t len = min_addr >= 3 * page ? (size_t)page * 2 : (size_t)min_addr - 200;

		out[n++] = (struct bad_buf){ (char *)(uintptr_t)100, len,
					     "an unmapped buffer (below vm.mmap_min_addr)" };
	} else {
		note("vm.mmap_min_addr is %ld: no address is sure to stay unmapped; only the "
		     "PROT_NONE buffer", min_addr);
	}
	if (!none) {
		none = mmap(NULL, (size_t)page * 4, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (none == MAP_FAILED)
			CHECK_FATALF("mmap PROT_NONE: %s", errno_name(errno));
	}
	out[n++] = (struct bad_buf){ none + 100, (size_t)page * 2, "a PROT_NONE buffer" };
	return n;
}

static void efault(const struct cfg *c)
{
	struct mode modes[2];
	int nm = cfg_modes(c, modes);
	struct bad_buf bad[2];
	int nbad = bad_buffers(bad);

	backing_create("f", 65536, SEED_FILE);
	for (int mi = 0; mi < nm; mi++) {
		int fd = open_mode(&modes[mi], "f", 0);
		int rd = counter_add("read", "f"), wr = counter_add("write", "f");

		for (int r = 0; r < ROUTE_COUNT; r++) {
			for (int d = 0; d < 2; d++) {
				for (int b = 0; b < nbad; b++) {
					enum io_route rt = (enum io_route)r;
					enum io_dir dir = (enum io_dir)d;
					const char *ctx = io_ctx(rt, dir, bad[b].len, 0, bad[b].buf,
								 &modes[mi]);
					int cnt = dir == IO_READ ? rd : wr;
					long before = counter_get(cnt);
					struct expect e;

					/* fuse_get_user_pages() fails on the first page,
					 * so fuse_direct_io() returns -EFAULT having sent
					 * nothing; io_uring refuses to register such a
					 * fixed buffer */
					expect_of(c, &modes[mi], rt, dir, false, &e);
					EXPECT_RES(route_rw(rt, fd, dir, bad[b].buf, bad[b].len, 0),
						   -EFAULT, "%s, %s: %s", ctx, bad[b].what,
						   kpath_name(e.path));
					if (counter_get(cnt) != before)
						CHECK_FAILF("%s, %s: %ld FUSE requests reached diofs, "
							    "want none", ctx, bad[b].what,
							    counter_get(cnt) - before);
				}
			}
		}
		CHECK_CTL(diofsctl_rule_clear(check_ctl()));
		close(fd);
	}
}
CFG_CASE_DEFS(efault)

/* ---- context teardown with I/O in flight ------------------------------ */

static ssize_t call_ctx_destroy(void *arg)
{
	int err = route_ctx_destroy(arg);

	errno = -err;
	return err ? -1 : 0;
}

static bool call_done(void *arg)
{
	return route_call_wait(arg, 0, NULL, NULL);
}

/* io_destroy() waits until every request of the context is done ("Wait
 * until all IO for the context are done. Otherwise kernel keep using
 * user-space buffers even if user thinks the context is destroyed."). */
void aio_destroy_in_flight(void)
{
	const struct mode m = { "FOPEN_DIRECT_IO+O_DIRECT", O_DIRECT, true, true };
	size_t len = 65536;
	char *buf = check_buf_alloc(len, 0);
	const char *ctx = io_ctx(ROUTE_AIO, IO_READ, len, 0, buf, &m);
	struct diofs_held held;
	struct held_io *dc;
	struct route_io *io;
	ssize_t ret;
	int fd, err = 0;

	backing_create("f", len, SEED_FILE);
	fd = open_mode(&m, "f", 0);
	REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold op=read path=%s", check_fuse_path("f")));
	io = route_submit(ROUTE_AIO, fd, IO_READ, buf, len, 0);
	if (route_held_wait(check_fuse_path("f"), "read", 1, &held, 1) != 1)
		return;
	if (!route_submit_wait(io, ROUTE_WAIT_MS))
		CHECK_FATALF("%s: io_submit did not return while the read is held (want it queued: "
			     "fuse_direct_IO() async)", ctx);

	dc = held_call(call_ctx_destroy, io);
	/* io_destroy sleeps in wait_for_completion(): 'D' */
	if (!task_wait_state(route_call_tid(dc), 'D', ROUTE_WAIT_MS, call_done, dc))
		CHECK_FAILF("%s: io_destroy %s while the read is held, want it to wait for the "
			    "read", ctx, route_call_wait(dc, 0, &ret, &err) ? "returned" :
			    "did not sleep uninterruptibly");
	CHECK_CTL(diofsctl_release(check_ctl(), held.id, NULL));
	if (!route_call_wait(dc, ROUTE_WAIT_MS, &ret, &err))
		CHECK_FAILF("%s: io_destroy still waits after the release", ctx);
	else if (ret)
		CHECK_FAILF("%s: io_destroy: %s", ctx, errno_name(err));
	/* the read finished into the buffer before io_destroy returned */
	data_check(buf, len, 0, SEED_FILE, ctx);
	route_call_free(dc);
	route_free(io);
	close(fd);
	check_buf_free(buf);
}

/* io_uring_queue_exit() closes the ring; the ring's teardown cannot cancel
 * a request queued in FUSE's background queue: it completes when the
 * server answers, and the file is released after that. */
void uring_exit_in_flight(void)
{
	const struct mode m = { "FOPEN_DIRECT_IO+O_DIRECT", O_DIRECT, true, true };
	static const enum io_route uring[] = { ROUTE_URING, ROUTE_URING_FIXED };

	for (size_t r = 0; r < 2; r++) {
		size_t len = 65536;
		char *buf = check_buf_alloc(len, 0);
		const char *ctx = io_ctx(uring[r], IO_WRITE, len, 0, buf, &m);
		struct diofs_held held, rel;
		struct route_io *io;
		char name[32];
		ssize_t ret;
		int fd;

		snprintf(name, sizeof(name), "f%zu", r);
		backing_create(name, len, SEED_FILE);
		fd = open_mode(&m, name, 0);
		data_fill(buf, len, 0, SEED_WRITE);
		REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold op=write,release path=%s",
					      check_fuse_path(name)));
		io = route_submit(uring[r], fd, IO_WRITE, buf, len, 0);
		if (route_held_wait(check_fuse_path(name), "write", 1, &held, 1) != 1)
			continue;
		if (!route_submit_wait(io, ROUTE_WAIT_MS))
			CHECK_FATALF("%s: io_uring_submit did not return while the write is held "
				     "(want it queued: fuse_direct_IO() async)", ctx);
		ret = route_ctx_destroy(io);
		if (ret)
			CHECK_FAILF("%s: io_uring_queue_exit with the write held: %s", ctx,
				    res_str(ret));
		CHECK_OK(close(fd));
		if (route_held_now(check_fuse_path(name), "write", &held, 1) != 1)
			CHECK_FAILF("%s: the held write is gone after io_uring_queue_exit, want it "
				    "in flight until released", ctx);
		if (route_held_now(check_fuse_path(name), "release", &rel, 1))
			CHECK_FAILF("%s: FUSE_RELEASE with the write in flight", ctx);
		CHECK_CTL(diofsctl_release(check_ctl(), held.id, NULL));
		/* completion without a ring: then the file's last reference
		 * goes, and FUSE_RELEASE follows */
		if (route_held_wait(check_fuse_path(name), "release", 1, &rel, 1) == 1)
			CHECK_CTL(diofsctl_release(check_ctl(), rel.id, NULL));
		backing_check(name, len, 0, SEED_WRITE, ctx);
		route_free(io);
		CHECK_CTL(diofsctl_rule_clear(check_ctl()));
		check_buf_free(buf);
	}
}

/* ---- signals ---------------------------------------------------------- */

static atomic_int signals;

static void on_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals, 1);
}

static bool io_returned(void *arg)
{
	return route_submit_returned(arg);
}

/* A held pread (or preadv) on route r, signalled: what it returns. */
static void signal_one(const struct cfg *c, const struct mode *m, enum io_route r, int n)
{
	size_t len = 65536;
	char *buf = check_buf_alloc(len, 0);
	const char *ctx = io_ctx(r, IO_READ, len, 0, buf, m);
	struct sigaction sa = { .sa_handler = on_signal }, old;
	struct diofs_held held;
	struct route_io *io;
	struct expect e;
	pthread_t thread;
	char name[32];
	ssize_t res;
	bool wait_uninterruptible;
	int fd;

	expect_of(c, m, r, IO_READ, false, &e);
	wait_uninterruptible = e.path == KP_ASYNC_WAIT;
	snprintf(name, sizeof(name), "f%d", n);
	backing_create(name, len, SEED_FILE);
	fd = open_mode(m, name, 0);
	sigemptyset(&sa.sa_mask);       /* no SA_RESTART */
	REQUIRE_OK(sigaction(SIGUSR1, &sa, &old));
	atomic_store(&signals, 0);
	REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold op=read path=%s", check_fuse_path(name)));
	io = route_submit(r, fd, IO_READ, buf, len, 0);
	if (route_held_wait(check_fuse_path(name), "read", 1, &held, 1) != 1 ||
	    !route_thread(io, &thread))
		goto out;

	/* request_wait_answer() waits interruptibly ('S') for a request it
	 * sent; the async path's waiter in fuse_direct_IO() uses
	 * wait_for_completion() ('D') */
	if (!task_wait_state(route_tid(io), wait_uninterruptible ? 'D' : 'S', ROUTE_WAIT_MS,
			     io_returned, io))
		CHECK_FAILF("%s: the caller is in state %c while diofs holds its request, want %c: "
			    "%s: %s", ctx, task_state(route_tid(io)), wait_uninterruptible ? 'D' : 'S',
			    kpath_name(e.path), e.why);
	pthread_kill(thread, SIGUSR1);
	if (wait_uninterruptible) {
		/* nothing interrupts it: the request stays held, the signal
		 * waits for the syscall's return */
		if (route_held_now(check_fuse_path(name), "read", &held, 1) != 1)
			CHECK_FAILF("%s: the held request was answered after the signal, want it "
				    "held until released", ctx);
		if (route_poll(io, &res))
			CHECK_FAILF("%s: returned %s on the signal, want it to wait for the reply",
				    ctx, res_str(res));
		CHECK_CTL(diofsctl_release(check_ctl(), held.id, NULL));
		if (route_wait(io, ROUTE_WAIT_MS, &res) &&
		    EXPECT_RES(res, (ssize_t)len, "%s, signalled while held, then released", ctx))
			data_check(buf, len, 0, SEED_FILE, ctx);
	} else {
		/* FUSE_INTERRUPT; diofs answers the held request EINTR */
		if (!route_wait(io, ROUTE_WAIT_MS, &res))
			CHECK_FAILF("%s: still blocked %d ms after the signal, want EINTR (the "
				    "kernel sends FUSE_INTERRUPT, diofs answers EINTR)", ctx,
				    ROUTE_WAIT_MS);
		else
			EXPECT_RES(res, -EINTR, "%s, signalled while held: %s", ctx,
				   kpath_name(e.path));
	}
	if (route_submit_wait(io, ROUTE_WAIT_MS) && atomic_load(&signals) != 1)
		CHECK_FAILF("%s: the SIGUSR1 handler ran %d times by the time the call returned, "
			    "want once", ctx, atomic_load(&signals));
out:
	route_free(io);
	CHECK_CTL(diofsctl_rule_clear(check_ctl()));
	sigaction(SIGUSR1, &old, NULL);
	close(fd);
	check_buf_free(buf);
}

void signal_sync_read(void)
{
	static const struct cfg *const cfgs[] = { &cfg_fdio_async, &cfg_aops_sync };
	int n = 0;

	for (size_t i = 0; i < 2; i++) {
		struct mode modes[2];
		int nm = cfg_modes(cfgs[i], modes);

		if (i)
			check_remount(cfgs[i]->opts);
		for (int mi = 0; mi < nm; mi++) {
			signal_one(cfgs[i], &modes[mi], ROUTE_PREAD, n++);
			signal_one(cfgs[i], &modes[mi], ROUTE_PREADV, n++);
		}
	}
}

void signal_async_wait(void)
{
	struct mode modes[2];

	cfg_modes(&cfg_aops_async, modes);
	signal_one(&cfg_aops_async, &modes[0], ROUTE_PREAD, 0);
	signal_one(&cfg_aops_async, &modes[0], ROUTE_PREADV, 1);
}
