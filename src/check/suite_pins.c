/* pins: FOLL_PIN accounting of FUSE direct I/O, route by route.
 *
 * A request is held in diofs; the pins in flight (nr_foll_pin_acquired -
 * nr_foll_pin_released, exact after stat_refresh) are compared with before
 * submission, while held and after completion.  User memory handed to the
 * kernel per I/O (pread, preadv, libaio, io_uring READ/WRITE) is pinned
 * page by page once FUSE is converted (6.9); io_uring fixed buffers are
 * pinned once, at registration; splice and sendfile hand FUSE kernel pages
 * (ITER_BVEC) that are not pinned.  After completion the pins balance.
 * Before 6.9 no route moves the counters: each case then expects 0 and
 * says so ("not converted") with its figures.  Disturbed measurements are
 * repeated (pw_attempts()); a failure gives every attempt's figures. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/buffers.h"
#include "check/premise.h"
#include "check/suite_lifetime.h"

#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define FILE_SEED 31
#define WRITE_SEED 32

struct verify_arg {
	unsigned int seed;      /* what a read must find / a write must leave */
	uint64_t foff;          /* at this pattern offset */
};

static int verify_read(struct dio *io, void *arg, char *why, size_t len)
{
	const struct verify_arg *v = arg;
	size_t pages = pw_pages(io->buf, io->len);
	size_t good = pw_pages_matching(io->buf, io->len, v->foff, v->seed);

	if (good == pages)
		return 0;
	snprintf(why, len, "the %s read returned its count but %zu of %zu pages of the buffer "
		 "hold the file's data", dio_route_label(io->route), good, pages);
	return -1;
}

static int verify_write(struct dio *io, void *arg, char *why, size_t len)
{
	const struct verify_arg *v = arg;
	const char *path = check_backing_path("f");
	char *got = check_buf_alloc(io->len, 0);
	size_t pages, good;
	int fd, ret = 0;

	fd = open(path ? path : check_path("f"), O_RDWR | O_CLOEXEC);
	if (fd < 0 || pread(fd, got, io->len, io->off) != (ssize_t)io->len) {
		snprintf(why, len, "reading back %s: %s", path ? path : check_path("f"),
			 strerror(errno));
		ret = -1;
	} else {
		pages = pw_pages(got, io->len);
		good = pw_pages_matching(got, io->len, v->foff, v->seed);
		if (good != pages) {
			snprintf(why, len, "the %s write returned its count but %zu of %zu pages of "
				 "the file hold its bytes", dio_route_label(io->route), good,
				 pages);
			ret = -1;
		}
		/* the next attempt must write them again (in the backing
		 * file: through the mount the write would be held) */
		pattern_fill(got, io->len, io->off, FILE_SEED);
		if (path && pwrite(fd, got, io->len, io->off) != (ssize_t)io->len && !ret) {
			snprintf(why, len, "resetting the file: %s", strerror(errno));
			ret = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	check_buf_free(got);
	return ret;
}

/* Measure one held request of route r into/from buf and check the figures
 * against what this kernel is expected to do.  NULL, or why the case is to
 * be skipped (a premise did not hold): the caller frees buf, then skips. */
static const char *measure(enum io_route r, bool write, void *buf, size_t len, int64_t want,
			   const char *what)
{
	static char skip_why[512];
	struct pw_result res;
	struct verify_arg v = { .seed = write ? WRITE_SEED : FILE_SEED, .foff = 0 };
	struct dio proto = { .route = r, .dir = write ? IO_WRITE : IO_READ, .buf = buf,
			     .len = len };
	int64_t accept[1] = { want };
	char why[512], figs[4096];
	const char *no = dio_route_unavailable(r);
	int measured;

	if (no)
		return no;
	check_file_create("f", len, FILE_SEED);
	proto.fd = lt_open("f", (write ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (write)
		pattern_fill(buf, len, 0, WRITE_SEED);
	REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold op=%s path=%s", write ? "write" : "read",
				      check_fuse_path("f")));
	measured = pw_measure(check_ctl(), check_fuse_path("f"), &proto, accept, 1,
			      write ? verify_write : verify_read, &v, &res, why, sizeof(why));
	if (measured == DIO_PREMISE_FALSE) {
		close(proto.fd);
		snprintf(skip_why, sizeof(skip_why), "%s", why);
		return skip_why;
	}
	if (measured < 0) {
		pw_format(&res, figs, sizeof(figs));
		CHECK_FAILF("%s%s%s", why, res.nattempts ? "; " : "", figs);
		close(proto.fd);
		return NULL;
	}
	close(proto.fd);
	pw_format(&res, figs, sizeof(figs));
	if (res.clean < 0) {
		NOTE("%s", figs);    /* all of them: the failure holds 1024 bytes */
		CHECK_FAILF("pins in flight for a %zu-page %s %s held in diofs (%s): want %+" PRId64
			    " while held (%s), +0 after completion, each in one attempt at least "
			    "(held against before or after); %s", res.pages,
			    dio_route_label(r), write ? "write" : "read", what, want,
			    lt_expect_why(), figs);
		return NULL;
	}
	if (r == ROUTE_URING_FIXED)
		NOTE("%s; pinned at registration: %+" PRId64 ", left after unregistering: %+"
			PRId64, figs, res.reg_pins, res.unreg_left);
	else if (!lt_converted() && dio_route_user_pages(r))
		NOTE("not converted (%s): %s", lt_expect_why(), figs);
	else if (check_verbose())
		NOTE("%s", figs);
	return NULL;
}

static void route_case(enum io_route r, bool write)
{
	char *buf;
	size_t pages;
	int64_t want;
	const char *skip;

	lt_require_premises();
	buf = check_buf_alloc(LT_LEN, 0);
	pages = pw_pages(buf, LT_LEN);
	want = dio_route_user_pages(r) ? lt_user_pins(pages) : 0;
	skip = measure(r, write, buf, LT_LEN, want,
		       dio_route_user_pages(r) ? "user memory, pinned per I/O once converted"
		       : r == ROUTE_URING_FIXED ? "a fixed buffer, pinned at registration"
					     : "kernel pages (ITER_BVEC), never pinned");
	check_buf_free(buf);
	if (skip)
		SKIP("%s", skip);
}

/* case (read, write), route */
#define ROUTE_CASES(X) \
	X(pread, pwrite, ROUTE_PREAD) \
	X(preadv, pwritev, ROUTE_PREADV) \
	X(libaio_read, libaio_write, ROUTE_AIO) \
	X(io_uring_read, io_uring_write, ROUTE_URING) \
	X(io_uring_fixed_read, io_uring_fixed_write, ROUTE_URING_FIXED) \
	X(splice_read, splice_write, ROUTE_SPLICE) \
	X(sendfile_read, sendfile_write, ROUTE_SENDFILE)

#define DEF_ROUTE(rd, wr, r) \
	static void case_##rd(void) { route_case(r, false); } \
	static void case_##wr(void) { route_case(r, true); }
ROUTE_CASES(DEF_ROUTE)

/* A buffer 512 bytes into a page spans one page more. */
static void pread_unaligned(void)
{
	char *buf;
	size_t pages;
	const char *skip;

	lt_require_premises();
	buf = check_buf_alloc(LT_LEN, 512);
	pages = pw_pages(buf, LT_LEN);
	CHECK_EQ(pages, LT_LEN / 4096 + 1);
	skip = measure(ROUTE_PREAD, false, buf, LT_LEN, lt_user_pins(pages),
		       "a buffer 512 bytes into a page: one page more");
	check_buf_free(buf);
	if (skip)
		SKIP("%s", skip);
}

/* The shared zero page is never pinned: a write from memory never written
 * moves no counter (and writes zeros). */
static void pwrite_zero_page(void)
{
	struct pw_result res;
	struct dio proto = { .route = ROUTE_PREAD, .dir = IO_WRITE, .len = LT_LEN };
	int64_t accept[1] = { 0 };
	char why[512], figs[4096];
	char *buf, *got;
	volatile char sink;
	int fd;

	lt_require_premises();
	buf = mmap(NULL, LT_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		CHECK_FATALF("mmap: %s", strerror(errno));
	for (size_t i = 0; i < LT_LEN; i += 4096)
		sink = buf[i];          /* read faults map the zero page */
	(void)sink;
	/* ... on kernels that have one for read faults: the premise of +0 */
	if (premise_zero_page(buf, LT_LEN, why, sizeof(why)) != PREMISE_HOLDS) {
		munmap(buf, LT_LEN);
		SKIP("%s", why);
	}
	check_file_create("f", LT_LEN, FILE_SEED);
	proto.fd = lt_open("f", O_WRONLY | O_DIRECT);
	proto.buf = buf;
	REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold op=write path=%s", check_fuse_path("f")));
	if (pw_measure(check_ctl(), check_fuse_path("f"), &proto, accept, 1, NULL, NULL, &res, why,
		       sizeof(why)) < 0) {
		CHECK_FAILF("%s", why);
	} else {
		pw_format(&res, figs, sizeof(figs));
		if (res.clean < 0 && (NOTE("%s", figs), true))
			CHECK_FAILF("a write from never-written memory (the shared zero page) held "
				    "in diofs: want +0 pins in flight, +0 after; %s", figs);
		else if (check_verbose())
			NOTE("%s", figs);
	}
	close(proto.fd);
	munmap(buf, LT_LEN);
	got = check_buf_alloc(LT_LEN, 0);
	fd = open(check_backing_path("f") ? check_backing_path("f") : check_path("f"),
		  O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, got, LT_LEN, 0) != LT_LEN)
		CHECK_FAILF("reading back f: %s", strerror(errno));
	else
		lt_check_zeros(got, LT_LEN, "the file written from the zero page");
	if (fd >= 0)
		close(fd);
	check_buf_free(got);
}

/* io_uring pins a fixed buffer once, when it is registered, and releases
 * the pins when it is unregistered (any kernel: io_uring has pinned since
 * 5.x; a check that the counters work at all).  Small pages: from 6.12 a
 * buffer within one large folio (THP "always" backs the heap) keeps one
 * pin for the folio (io_uring/rsrc.c coalesces it). */
static void uring_register(void)
{
	struct buf mem;
	char *buf;
	size_t pages;
	struct { int64_t reg, after; } fig[PW_MAX_ATTEMPTS];
	bool reg_ok[PW_MAX_ATTEMPTS], after_ok[PW_MAX_ATTEMPTS];
	int attempts = pw_attempts(), n = 0;
	struct io_uring ring;
	char why[512], figs[2048];
	size_t at = 0;
	bool clean = false;
	int r;

	lt_require_premises();
	if (dio_route_unavailable(ROUTE_URING_FIXED))
		SKIP("%s", dio_route_unavailable(ROUTE_URING_FIXED));
	r = buf_new(&mem, BUF_ANON, LT_LEN, 1, why, sizeof(why));
	if (r > 0)
		SKIP("%s", why);
	if (r < 0)
		CHECK_FATALF("%s", why);
	buf = mem.addr;
	pages = pw_pages(buf, LT_LEN);
	r = io_uring_queue_init(4, &ring, 0);
	if (r < 0) {
		buf_free(&mem);
		CHECK_FATALF("io_uring_queue_init: %s", strerror(-r));
	}
	while (n < attempts && !clean) {
		struct iovec iov = { .iov_base = buf, .iov_len = LT_LEN };
		struct pin_counts a, b, c;

		pw_sample(&a, why, sizeof(why));
		r = io_uring_register_buffers(&ring, &iov, 1);
		if (r < 0) {
			CHECK_FAILF("io_uring_register_buffers: %s", strerror(-r));
			break;
		}
		pw_sample(&b, why, sizeof(why));
		io_uring_unregister_buffers(&ring);
		pw_sample(&c, why, sizeof(why));
		fig[n].reg = pw_inflight_delta(&a, &b);
		fig[n].after = pw_inflight_delta(&a, &c);
		reg_ok[n] = fig[n].reg == (int64_t)pages || fig[n].reg - fig[n].after == (int64_t)pages;
		after_ok[n] = fig[n].after == 0;
		n++;
		clean = pw_seen(reg_ok, n) && pw_seen(after_ok, n);
	}
	io_uring_queue_exit(&ring);
	buf_free(&mem);
	at = (size_t)snprintf(figs, sizeof(figs), "pins in flight per attempt, registered / "
			      "unregistered:");
	for (int i = 0; i < n && at < sizeof(figs); i++) {
		int k = snprintf(figs + at, sizeof(figs) - at, "%s %+" PRId64 "/%+" PRId64,
				 i ? ";" : "", fig[i].reg, fig[i].after);
		if (k < 0)
			break;
		at += (size_t)k;
	}
	if (n && !clean && (NOTE("%s", figs), true))
		CHECK_FAILF("pins in flight for a %zu-page io_uring fixed buffer: want %+zd once "
			    "registered, +0 once unregistered; %s", pages, (ssize_t)pages, figs);
	else if (check_verbose())
		NOTE("%s", figs);
}

#define ROUTE_ENTRY1(nm, r) \
	{ .name = #nm, .fn = case_##nm, .desc = "a held " #nm ": " ROUTE_DESC_##r \
	  " [premises: " LT_PREMISES ROUTE_PREMISE_##r "]" },
#define ROUTE_ENTRY(rd, wr, r) ROUTE_ENTRY1(rd, r) ROUTE_ENTRY1(wr, r)
#define ROUTE_PREMISE_ROUTE_PREAD ""
#define ROUTE_PREMISE_ROUTE_PREADV ""
#define ROUTE_PREMISE_ROUTE_AIO "; AIO available (io_setup)"
#define ROUTE_PREMISE_ROUTE_URING LT_PREMISE_URING
#define ROUTE_PREMISE_ROUTE_URING_FIXED LT_PREMISE_FIXED
#define ROUTE_PREMISE_ROUTE_SPLICE ""
#define ROUTE_PREMISE_ROUTE_SENDFILE ""
#define ROUTE_DESC_ROUTE_PREAD \
	"pins in flight equal its pages while held (converted, 6.9+; none before), balance after"
#define ROUTE_DESC_ROUTE_PREADV ROUTE_DESC_ROUTE_PREAD
#define ROUTE_DESC_ROUTE_AIO ROUTE_DESC_ROUTE_PREAD
#define ROUTE_DESC_ROUTE_URING ROUTE_DESC_ROUTE_PREAD
#define ROUTE_DESC_ROUTE_URING_FIXED \
	"no pin per I/O (the buffer was pinned at registration), balance after"
#define ROUTE_DESC_ROUTE_SPLICE \
	"no pin per I/O (kernel pages, ITER_BVEC), balance after"
#define ROUTE_DESC_ROUTE_SENDFILE ROUTE_DESC_ROUTE_SPLICE

static const struct check_case cases[] = {
	ROUTE_CASES(ROUTE_ENTRY)
	CHECK_CASE(pread_unaligned,
		   "a held pread into a buffer 512 bytes into a page pins one page more (17) "
		   "[premises: " LT_PREMISES "]"),
	CHECK_CASE(pwrite_zero_page,
		   "a held pwrite from never-written memory pins nothing: the shared zero page "
		   "is never pinned [premises: " LT_PREMISES "; read faults map the shared zero "
		   "page (pagemap PFNs, kpageflags KPF_ZERO_PAGE)]"),
	{ .name = "io_uring_register", .fn = uring_register, .desc =
		   "io_uring pins a fixed buffer's pages at registration and releases them at "
		   "unregistration [premises: " LT_PREMISES LT_PREMISE_FIXED LT_PREMISE_anon "]" },
	{ NULL },
};

const struct check_suite check_suite_pins = {
	.name = "pins",
	.cases = cases,
};
