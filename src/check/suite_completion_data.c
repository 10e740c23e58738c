/* completion, the data: full reads and writes of every size, reads at the
 * end of file, and reads while the kernel's i_size is stale. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/suite_completion.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEED_READ 11
#define SEED_WRITE 12

/* ---- sizes ------------------------------------------------------------ */

/* From one byte to 4 MiB: around a page, one FUSE request (REQ_MAX) and
 * several. */
static const size_t io_sizes[] = {
	1, 511, 4095, 4096, 4097, 65536 + 123, 128 * 1024 + 1, REQ_MAX + 17, 4 * REQ_MAX,
};
#define NSIZES (sizeof(io_sizes) / sizeof(*io_sizes))
#define SIZES_FILE (12u << 20)

static size_t round_page(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

/* One read and one write of len at off, buffers misaligned by mis. */
static void sizes_one(enum io_route r, const struct mode *m, int rfd, int wfd, const char *wname,
		      int rcnt, int wcnt, size_t len, off_t off, size_t mis)
{
	char *buf = check_buf_alloc(len, mis);
	size_t want_reqs = (len + REQ_MAX - 1) / REQ_MAX;
	const char *ctx;
	long before;
	ssize_t res;

	/* write: the backing file holds it, and nothing around it moved */
	ctx = io_ctx(r, IO_WRITE, len, off, buf, m);
	data_fill(buf, len, (uint64_t)off, SEED_WRITE);
	before = counter_get(wcnt);
	res = route_rw(r, wfd, IO_WRITE, buf, len, off);
	if (EXPECT_RES(res, (ssize_t)len, "%s", ctx)) {
		backing_check(wname, len, (uint64_t)off, SEED_WRITE, ctx);
		backing_check(wname, 64, (uint64_t)off - 64, 0, ctx);
		backing_check(wname, 64, (uint64_t)off + len, 0, ctx);
	}
	if (counter_get(wcnt) - before < (long)want_reqs)
		CHECK_FAILF("%s: %ld FUSE_WRITEs, want at least %zu (requests hold at most %d bytes)",
			    ctx, counter_get(wcnt) - before, want_reqs, REQ_MAX);

	/* read: the bytes of the file, and not one byte more */
	ctx = io_ctx(r, IO_READ, len, off, buf, m);
	memset(buf - mis, 0xa5, mis + len + 1);
	before = counter_get(rcnt);
	res = route_rw(r, rfd, IO_READ, buf, len, off);
	if (EXPECT_RES(res, (ssize_t)len, "%s", ctx))
		data_check(buf, len, (uint64_t)off, SEED_READ, ctx);
	if ((unsigned char)buf[len] != 0xa5 || (mis && (unsigned char)buf[-1] != 0xa5))
		CHECK_FAILF("%s: wrote outside the buffer (byte after 0x%02x, before 0x%02x, want "
			    "0xa5)", ctx, (unsigned char)buf[len], mis ? (unsigned char)buf[-1] : 0xa5);
	if (counter_get(rcnt) - before < (long)want_reqs)
		CHECK_FAILF("%s: %ld FUSE_READs, want at least %zu (requests hold at most %d bytes)",
			    ctx, counter_get(rcnt) - before, want_reqs, REQ_MAX);
	check_buf_free(buf);
}

static void sizes(const struct cfg *c)
{
	struct mode modes[2];
	int nm = cfg_modes(c, modes);

	note_version_dependent(c);
	backing_create("rd", SIZES_FILE, SEED_READ);
	for (int mi = 0; mi < nm; mi++) {
		for (int r = 0; r < ROUTE_COUNT; r++) {
			char wname[32];
			int rfd, wfd, rcnt, wcnt;
			size_t pos = 4096;

			snprintf(wname, sizeof(wname), "w%d.%d", mi, r);
			backing_create(wname, SIZES_FILE, 0);
			rfd = open_mode(&modes[mi], "rd", 0);
			wfd = open_mode(&modes[mi], wname, 0);
			rcnt = counter_add("read", "rd");
			wcnt = counter_add("write", wname);
			for (size_t i = 0; i < NSIZES; i++) {
				/* aligned offset and buffer (but for 4 MiB, to keep
				 * the suite quick); then both odd */
				if (io_sizes[i] < 4 * REQ_MAX) {
					sizes_one(r, &modes[mi], rfd, wfd, wname, rcnt, wcnt,
						  io_sizes[i], (off_t)pos, 0);
					pos = round_page(pos + io_sizes[i]) + 4096;
				}
				sizes_one(r, &modes[mi], rfd, wfd, wname, rcnt, wcnt, io_sizes[i],
					  (off_t)(pos + 1013), 1 + (i * 997) % 4000);
				pos = round_page(pos + 1013 + io_sizes[i]) + 4096;
			}
			diofsctl_rule_del(check_ctl(), rcnt);
			diofsctl_rule_del(check_ctl(), wcnt);
			close(rfd);
			close(wfd);
		}
	}
}
CFG_CASE_DEFS(sizes)

/* ---- end of file ------------------------------------------------------ */

#define EOF_FILE ((size_t)REQ_MAX + 1000)

static void eof(const struct cfg *c)
{
	static const struct { off_t off; size_t len; const char *what; } reads[] = {
		{ (off_t)EOF_FILE - 4096, 4096, "ends at EOF" },
		{ (off_t)EOF_FILE - 5000, 65536, "crosses EOF" },
		{ 0, 2 * REQ_MAX, "crosses EOF in its second FUSE request" },
		{ (off_t)EOF_FILE, 4096, "starts at EOF" },
		{ (off_t)EOF_FILE + 100000, 4096, "starts past EOF" },
	};
	struct mode modes[2];
	int nm = cfg_modes(c, modes);

	backing_create("f", EOF_FILE, SEED_READ);
	for (int mi = 0; mi < nm; mi++) {
		int fd = open_mode(&modes[mi], "f", 0);
		int cnt = counter_add("read", "f");

		for (int r = 0; r < ROUTE_COUNT; r++) {
			for (size_t i = 0; i < sizeof(reads) / sizeof(*reads); i++) {
				off_t off = reads[i].off;
				size_t len = reads[i].len;
				ssize_t want = off >= (off_t)EOF_FILE ? 0 :
					(ssize_t)((size_t)off + len > EOF_FILE ? EOF_FILE - (size_t)off : len);
				char *buf = check_buf_alloc(len, 0);
				const char *ctx = io_ctx((enum io_route)r, IO_READ, len, off, buf, &modes[mi]);
				struct expect e;
				long before = counter_get(cnt), sent;
				ssize_t res;
				size_t touched = 0;

				expect_of(c, &modes[mi], (enum io_route)r, IO_READ, false, &e);
				if (want < (ssize_t)len && want > 0 && uring_sync_fdio(&e, (enum io_route)r)) {
					note("%s, %s: left to %s (io_uring retries the short read)", ctx,
					     reads[i].what, uring_short_retry_case(&modes[mi], IO_READ));
					check_buf_free(buf);
					continue;
				}
				res = route_rw((enum io_route)r, fd, IO_READ, buf, len, off);
				sent = counter_get(cnt) - before;
				if (EXPECT_RES(res, want, "%s (%s, file of %zu)", ctx, reads[i].what,
					       EOF_FILE) && res > 0)
					data_check(buf, (size_t)res, (uint64_t)off, SEED_READ, ctx);
				for (size_t b = res > 0 ? (size_t)res : 0; b <= len; b++)
					touched += (unsigned char)buf[b] != 0xa5;
				if (touched)
					CHECK_FAILF("%s (%s): %zu buffer bytes after the %zd returned "
						    "were written", ctx, reads[i].what, touched, res);
				/* at or past EOF: fuse_direct_IO() returns 0 for
				 * offset >= i_size before sending anything; the sync
				 * path asks the server */
				if (off >= (off_t)EOF_FILE) {
					long want_sent = kp_direct_IO(e.path) ? 0 : 1;

					if (sent != want_sent)
						CHECK_FAILF("%s (%s): %ld FUSE_READs reached diofs, want "
							    "%ld: %s: %s", ctx, reads[i].what, sent,
							    want_sent, kpath_name(e.path), e.why);
				} else if (sent < 1) {
					CHECK_FAILF("%s (%s): no FUSE_READ reached diofs", ctx,
						    reads[i].what);
				}
				check_buf_free(buf);
			}
		}
		diofsctl_rule_del(check_ctl(), cnt);
		close(fd);
	}
}
CFG_CASE_DEFS(eof)

/* ---- stale i_size ----------------------------------------------------- */

#define STALE_SMALL ((size_t)65536 + 100)
#define STALE_BIG ((size_t)3 * REQ_MAX)

/* The size the kernel has cached, without asking diofs. */
static off_t cached_size(const char *name)
{
	struct statx stx;

	REQUIRE_OK(statx(AT_FDCWD, check_path(name), AT_STATX_DONT_SYNC, STATX_SIZE, &stx));
	return (off_t)stx.stx_size;
}

/* Make the kernel cache size small for name, then grow the backing file to
 * big behind its back (the data continues the pattern). */
static void stale_grow(const char *name, size_t small, size_t big)
{
	struct statx stx;
	int fd = open_backing(name, O_RDWR);
	char *buf = check_buf_alloc(big - small, 0);

	REQUIRE_OK(ftruncate(fd, (off_t)small));
	REQUIRE_OK(statx(AT_FDCWD, check_path(name), AT_STATX_FORCE_SYNC, STATX_SIZE, &stx));
	data_fill(buf, big - small, small, SEED_READ);
	REQUIRE_EQ(pwrite(fd, buf, big - small, (off_t)small), big - small);
	close(fd);
	check_buf_free(buf);
}

/* One read of the stale file; want_stale: the cached size must be stale
 * before and after it (else false: the 1 s attribute timeout ran out and
 * fuse_cache_read_iter may have refreshed it, try again). */
static bool stale_read(enum io_route r, const struct mode *m, int fd, const char *name,
		       off_t off, size_t len, ssize_t want, off_t stale, bool want_stale,
		       const char *what, const struct expect *e)
{
	char *buf = check_buf_alloc(len, 0);
	const char *ctx = io_ctx(r, IO_READ, len, off, buf, m);
	ssize_t res;

	if (want_stale && cached_size(name) != stale) {
		check_buf_free(buf);
		return false;
	}
	res = route_rw(r, fd, IO_READ, buf, len, off);
	if (want_stale && cached_size(name) != stale) {
		check_buf_free(buf);
		return false;
	}
	if (EXPECT_RES(res, want, "%s (%s, cached i_size %jd): %s: %s", ctx, what,
		       (intmax_t)stale, kpath_name(e->path), e->why) && res > 0)
		data_check(buf, (size_t)res, (uint64_t)off, SEED_READ, ctx);
	check_buf_free(buf);
	return true;
}

/* A read of the grown file while the kernel still has the small size. */
static void grown_read(enum io_route r, const struct mode *m, int fd, const char *name,
		       off_t off, size_t len, ssize_t want, const char *what,
		       const struct expect *e)
{
	for (int tries = 0; tries < 3; tries++) {
		stale_grow(name, STALE_SMALL, STALE_BIG);
		if (stale_read(r, m, fd, name, off, len, want, (off_t)STALE_SMALL, true, what, e))
			return;
		note("%s: the attribute cache ran out (1 s) around the read; again", name);
	}
	CHECK_FAILF("%s: the cached i_size of %s did not stay stale over three tries "
		    "(attribute timeout 1 s)", dio_route_name(r), name);
}

static void stale_size(const struct cfg *c)
{
	struct mode modes[2];
	int nm = cfg_modes(c, modes);

	for (int mi = 0; mi < nm; mi++) {
		for (int r = 0; r < ROUTE_COUNT; r++) {
			enum io_route rt = (enum io_route)r;
			struct expect e;
			char name[32];
			int fd;

			expect_of(c, &modes[mi], rt, IO_READ, false, &e);

			/* grown: the sync path reads what the server has; async
			 * fuse_direct_IO() cuts the read at round_up(i_size -
			 * offset, max_pages pages) ("optimization for short
			 * read"), and every fuse_direct_IO() answers a read at
			 * or past i_size with 0 */
			snprintf(name, sizeof(name), "g%d.%d", mi, r);
			backing_create(name, STALE_SMALL, SEED_READ);
			fd = open_mode(&modes[mi], name, 0);
			grown_read(rt, &modes[mi], fd, name, 0, STALE_BIG,
				   kp_async(e.path) ? REQ_MAX : (ssize_t)STALE_BIG,
				   "file grown behind the kernel", &e);
			grown_read(rt, &modes[mi], fd, name, (off_t)STALE_SMALL + 4096, 4096,
				   kp_direct_IO(e.path) ? 0 : 4096, "starts past the cached i_size", &e);
			close(fd);

			/* shrunk: the server's short reply is all there is (on
			 * a_ops the buffered fallback finds EOF too, and
			 * fuse_short_read() then fixes i_size) */
			if (uring_sync_fdio(&e, rt)) {
				note("%s on %s, file shrunk: left to %s", dio_route_name(rt),
				     modes[mi].name, uring_short_retry_case(&modes[mi], IO_READ));
				continue;
			}
			snprintf(name, sizeof(name), "s%d.%d", mi, r);
			backing_create(name, STALE_BIG, SEED_READ);
			fd = open_mode(&modes[mi], name, 0);
			REQUIRE_EQ(cached_size(name), STALE_BIG);
			REQUIRE_OK(truncate(check_backing_path(name), 10000));
			stale_read(rt, &modes[mi], fd, name, 0, 65536, 10000, (off_t)STALE_BIG, false,
				   "file shrunk to 10000 behind the kernel", &e);
			stale_read(rt, &modes[mi], fd, name, REQ_MAX, 4096, 0, (off_t)STALE_BIG, false,
				   "past the real EOF, before the cached one", &e);
			close(fd);
		}
	}
}
CFG_CASE_DEFS(stale_size)
