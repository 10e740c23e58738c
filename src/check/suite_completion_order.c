/* completion, when: nothing completes while diofs holds the request,
 * exactly one completion after; split I/O completes after its last
 * request, whatever the order of the replies. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/suite_completion.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SEED_FILE 31
#define SEED_WRITE 32
#define ORDER_FILE ((size_t)4 * REQ_MAX)
#define MAX_HELD 64

static const char *dir_op(enum io_dir dir)
{
	return dir == IO_READ ? "read" : "write";
}

/* What "a completion" is on route r, for messages. */
static const char *completion_name(enum io_route r)
{
	switch (r) {
	case ROUTE_AIO: return "io_getevents (zero timeout) returned an event";
	case ROUTE_URING:
	case ROUTE_URING_FIXED: return "a CQE was posted";
	default: return "the call returned";
	}
}

/* Nothing may have completed: record it if something did. */
static void no_completion(struct route_io *io, enum io_route r, const char *ctx, const char *when)
{
	ssize_t res;

	if (route_poll(io, &res))
		CHECK_FAILF("%s: %s (%s) %s", ctx, completion_name(r), res_str(res), when);
}

/* After the last release: one completion with want, and the data. */
static void completes(struct route_io *io, enum io_dir dir, const char *name, char *buf,
		      size_t len, const char *ctx)
{
	ssize_t res;

	if (!route_wait(io, ROUTE_WAIT_MS, &res)) {
		CHECK_FAILF("%s: no completion %d ms after the last release", ctx, ROUTE_WAIT_MS);
		return;
	}
	if (EXPECT_RES(res, (ssize_t)len, "%s, after the release", ctx)) {
		if (dir == IO_READ)
			data_check(buf, len, 0, SEED_FILE, ctx);
		else
			backing_check(name, len, 0, SEED_WRITE, ctx);
	}
	if (route_more_completions(io))
		CHECK_FAILF("%s: %u completions more than one", ctx, route_more_completions(io));
}

/* ---- one request, held -------------------------------------------------- */

/* name made in the backing directory and opened in mode m (*fd), what to
 * expect in *e, buf filled for a write, a hold on the file's requests;
 * then the I/O submitted. */
static struct route_io *submit_held(const struct cfg *c, const struct mode *m, enum io_route rt,
				    enum io_dir dir, const char *name, char *buf, size_t len,
				    struct expect *e, int *fd)
{
	backing_create(name, ORDER_FILE, SEED_FILE);
	*fd = open_mode(m, name, 0);
	expect_of(c, m, rt, dir, false, e);
	data_fill(buf, len, 0, SEED_WRITE);
	REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold op=%s path=%s", dir_op(dir),
				      check_fuse_path(name)));
	return route_submit(rt, *fd, dir, buf, len, 0);
}

static void held_order_one(const struct cfg *c, const struct mode *m, enum io_route rt,
			   enum io_dir dir, const char *name)
{
	size_t len = 65536;
	char *buf = check_buf_alloc(len, 0);
	const char *ctx = io_ctx(rt, dir, len, 0, buf, m);
	struct diofs_held held[MAX_HELD];
	struct route_io *io;
	struct expect e;
	ssize_t res;
	int fd, n;

	io = submit_held(c, m, rt, dir, name, buf, len, &e, &fd);
	n = route_held_wait(check_fuse_path(name), dir_op(dir), 1, held, MAX_HELD);
	if (n != 1 || held[0].size != len)
		CHECK_FAILF("%s: diofs holds %d requests, the first of %ju bytes; "
			    "want one of %zu", ctx, n, n ? (uintmax_t)held[0].size : 0,
			    len);
	no_completion(io, rt, ctx, "while diofs holds the request");
	if (!dio_route_async(rt) && route_submit_returned(io))
		CHECK_FAILF("%s: returned while diofs holds its request", ctx);
	/* io_submit: the async path queues the request and
	 * returns (-EIOCBQUEUED); every other path makes it wait
	 * for the reply */
	if (rt == ROUTE_AIO && e.path == KP_ASYNC) {
		if (!route_submit_wait(io, ROUTE_WAIT_MS))
			CHECK_FAILF("%s: io_submit did not return while the request "
				    "is held, want it queued: %s: %s", ctx,
				    kpath_name(e.path), e.why);
		no_completion(io, rt, ctx, "while diofs holds the request");
	} else if (rt == ROUTE_AIO && route_submit_returned(io)) {
		CHECK_FAILF("%s: io_submit returned while the request is held, want "
			    "it to wait for the reply: %s: %s", ctx,
			    kpath_name(e.path), e.why);
	}
	if (n >= 1)
		CHECK_CTL(diofsctl_release(check_ctl(), held[0].id, NULL));
	/* a synchronous io_submit completed the iocb before
	 * returning: the event is there when it returns */
	if (rt == ROUTE_AIO && e.path != KP_ASYNC && route_submit_wait(io, ROUTE_WAIT_MS)
	    && !route_poll(io, &res))
		CHECK_FAILF("%s: no event right after io_submit returned, want the "
			    "iocb completed inline: %s", ctx, kpath_name(e.path));
	completes(io, dir, name, buf, len, ctx);
	route_free(io);
	CHECK_CTL(diofsctl_rule_clear(check_ctl()));
	close(fd);
	check_buf_free(buf);
}

static void held_order(const struct cfg *c)
{
	note_version_dependent(c);
	each_combo(c, held_order_one);
}
CFG_CASE_DEFS(held_order)

/* ---- split in several requests ------------------------------------------ */

/* Wait until diofs holds requests covering all of [0, len): the async path
 * sends them all before any reply.  Returns how many, checked to be
 * contiguous and at most REQ_MAX each. */
static int held_covering(const char *name, enum io_dir dir, size_t len, struct diofs_held *held,
			 const char *ctx)
{
	unsigned int want = 1;
	uint64_t sum = 0;
	int n;

	for (;;) {
		n = route_held_wait(check_fuse_path(name), dir_op(dir), want, held, MAX_HELD);
		if (n < (int)want || n > MAX_HELD)
			return n > MAX_HELD ? MAX_HELD : n;
		sum = 0;
		for (int i = 0; i < n; i++)
			sum += held[i].size;
		if (sum >= len)
			break;
		want = (unsigned int)n + 1;
	}
	for (int i = 0; i < n; i++) {
		uint64_t at = i ? held[i - 1].off + held[i - 1].size : 0;

		if (held[i].off != at || held[i].size > REQ_MAX || !held[i].size)
			CHECK_FAILF("%s: held request %d is [%ju, +%ju), want it to start at %ju and "
				    "hold 1 to %d bytes", ctx, i, (uintmax_t)held[i].off,
				    (uintmax_t)held[i].size, (uintmax_t)at, REQ_MAX);
	}
	if (sum != len || n < 2)
		CHECK_FAILF("%s: %d requests held for %ju bytes, want at least 2 for %zu", ctx, n,
			    (uintmax_t)sum, len);
	return n;
}

static void split_order_one(const struct cfg *c, const struct mode *m, enum io_route rt,
			    enum io_dir dir, const char *name)
{
	size_t len = 3 * REQ_MAX + 17;
	char *buf = check_buf_alloc(len, 0);
	const char *ctx = io_ctx(rt, dir, len, 0, buf, m);
	struct diofs_held held[MAX_HELD];
	struct route_io *io;
	struct expect e;
	int fd, n;

	io = submit_held(c, m, rt, dir, name, buf, len, &e, &fd);

	if (kp_async(e.path)) {
		/* all at once; release the last first and the
		 * second last: nothing completes before the last */
		n = held_covering(name, dir, len, held, ctx);
		for (int k = n - 1; k >= 0; k--) {
			int i = k == 0 ? (n > 1 ? 1 : 0) : k == 1 ? 0 : k;

			no_completion(io, rt, ctx, "before the last of its requests "
				      "was released");
			CHECK_CTL(diofsctl_release(check_ctl(), held[i].id, NULL));
		}
	} else {
		/* one at a time: the next request is sent only
		 * after the reply to the one before */
		uint64_t at = 0;
		int reqs = 0;

		while (at < len && reqs < MAX_HELD) {
			n = route_held_wait(check_fuse_path(name), dir_op(dir), 1,
					    held, MAX_HELD);
			if (n != 1 || held[0].off != at) {
				CHECK_FAILF("%s: diofs holds %d requests, the first "
					    "at %ju; want one at %ju (one request "
					    "in flight at a time: %s)", ctx, n,
					    n ? (uintmax_t)held[0].off : 0,
					    (uintmax_t)at, kpath_name(e.path));
				break;
			}
			no_completion(io, rt, ctx, "before its last request was "
				      "released");
			at += held[0].size;
			reqs++;
			CHECK_CTL(diofsctl_release(check_ctl(), held[0].id, NULL));
		}
		if (reqs < 2)
			CHECK_FAILF("%s: %d FUSE requests, want the I/O split", ctx,
				    reqs);
	}
	completes(io, dir, name, buf, len, ctx);
	route_free(io);
	CHECK_CTL(diofsctl_rule_clear(check_ctl()));
	close(fd);
	check_buf_free(buf);
}

static void split_order(const struct cfg *c)
{
	each_combo(c, split_order_one);
}
CFG_CASE_DEFS(split_order)

/* ---- AIO without O_DIRECT on FOPEN_DIRECT_IO ---------------------------- */

/* 6.13 made fuse_direct_read_iter()/fuse_direct_write_iter() send every
 * async kiocb to fuse_direct_IO(); before, one without IOCB_DIRECT ran
 * synchronously inside io_submit. */
void aio_buffered_open(void)
{
	const struct mode m = { "FOPEN_DIRECT_IO", 0, true, false };
	bool async = kernel_at_least(6, 13);

	NOTE("expecting %s: kernel %s %s 6.13", async ? "async AIO (io_submit returns at once)" :
		   "synchronous AIO (io_submit waits for the reply)", kernel_release(),
		   async ? ">=" : "<");
	backing_create("f", ORDER_FILE, SEED_FILE);
	for (int d = 0; d < 2; d++) {
		enum io_dir dir = (enum io_dir)d;
		size_t len = 2 * REQ_MAX;
		char *buf = check_buf_alloc(len, 0);
		const char *ctx = io_ctx(ROUTE_AIO, dir, len, 0, buf, &m);
		struct diofs_held held[MAX_HELD];
		struct route_io *io;
		int fd = open_mode(&m, "f", 0), n;

		data_fill(buf, len, 0, SEED_WRITE);
		REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold op=%s path=%s", dir_op(dir),
					      check_fuse_path("f")));
		io = route_submit(ROUTE_AIO, fd, dir, buf, len, 0);
		if (async) {
			n = held_covering("f", dir, len, held, ctx);
			if (!route_submit_wait(io, ROUTE_WAIT_MS))
				CHECK_FAILF("%s: io_submit waits while diofs holds the requests; want "
					    "it to return: kernel %s >= 6.13 sends an async kiocb "
					    "without IOCB_DIRECT to fuse_direct_IO()", ctx, kernel_release());
			no_completion(io, ROUTE_AIO, ctx, "while diofs holds the requests");
			for (int i = n - 1; i >= 0; i--)
				CHECK_CTL(diofsctl_release(check_ctl(), held[i].id, NULL));
		} else {
			uint64_t at = 0;

			while (at < len) {
				n = route_held_wait(check_fuse_path("f"), dir_op(dir), 1, held, MAX_HELD);
				if (n != 1)
					break;
				if (route_submit_returned(io))
					CHECK_FAILF("%s: io_submit returned while diofs holds a request; "
						    "want it to wait: kernel %s < 6.13 runs an async kiocb "
						    "without IOCB_DIRECT synchronously", ctx,
						    kernel_release());
				at += held[0].size;
				CHECK_CTL(diofsctl_release(check_ctl(), held[0].id, NULL));
			}
		}
		completes(io, dir, "f", buf, len, ctx);
		route_free(io);
		CHECK_CTL(diofsctl_rule_clear(check_ctl()));
		close(fd);
		check_buf_free(buf);
	}
}
