/* Direct I/O through the mount: O_DIRECT and FOPEN_DIRECT_IO reads and
 * writes of 1 byte to 4 MiB at unaligned offsets from unaligned buffers,
 * across EOF and into holes, checked byte for byte against a model and the
 * backing file; and what each -o dio mode does with the page cache. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "fstest.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check/ioengine.h"
#include "lib/diofsctl.h"

#define KiB 1024L
#define MiB (1024L * 1024)

/* ---- the byte-for-byte matrix ---- */

#define MODEL_MAX (16 * MiB)

struct model {
	unsigned char *data;
	off_t size;
};

static void model_write(struct model *m, off_t off, const void *buf, size_t n)
{
	if (off > m->size) /* a hole: zeros */
		memset(m->data + m->size, 0, (size_t)(off - m->size));
	memcpy(m->data + off, buf, n);
	if (off + (off_t)n > m->size)
		m->size = off + (off_t)n;
}

/* The I/O calls of the matrix, by the I/O engine (check/ioengine.h):
 * pread/pwrite (the kernel's synchronous direct-I/O path), or libaio (its
 * asynchronous path, with async_dio). */
static bool use_aio;

static ssize_t engine_rw(enum io_dir dir, int fd, void *buf, size_t n, off_t off)
{
	struct dio io = { .route = use_aio ? ROUTE_AIO : ROUTE_PREAD, .dir = dir, .fd = fd,
			  .buf = buf, .len = n, .off = off };
	char why[256];

	return dio_do(&io, why, sizeof(why));
}

static ssize_t io_pread(int fd, void *buf, size_t n, off_t off)
{
	return engine_rw(IO_READ, fd, buf, n, off);
}

static ssize_t io_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return engine_rw(IO_WRITE, fd, (void *)buf, n, off);
}

/* A buffer at the given misalignment from a page boundary. */
static unsigned char *unaligned(unsigned char *page_aligned, size_t shift)
{
	return page_aligned + shift;
}

/* n bytes from a page boundary (freed at the end of the case). */
static unsigned char *page_alloc(size_t n)
{
	unsigned char *q = fs_alloc(n + 4096);

	return (unsigned char *)(((uintptr_t)q + 4095) & ~(uintptr_t)4095);
}

/* Read [off, off+n) through fd into an unaligned buffer and compare with
 * the model (bytes past the model's end: the read must stop there). */
static bool check_range(int fd, const struct model *m, off_t off, size_t n, size_t shift,
			unsigned char *scratch, const char *what)
{
	unsigned char *buf = unaligned(scratch, shift);
	size_t want = off >= m->size ? 0 : (size_t)(m->size - off) < n ? (size_t)(m->size - off) : n;
	size_t got = 0;

	memset(buf, 0xa5, n);
	/* a direct read may come back short only at EOF; loop like a reader */
	while (got < n) {
		ssize_t r = io_pread(fd, buf + got, n - got, off + (off_t)got);
		if (r < 0) {
			CHECK(false, "%s: read(%zu at %jd) failed: %s", what, n - got,
			      (intmax_t)(off + (off_t)got), expect_errname(errno));
			return false;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got != want) {
		CHECK(false, "%s: read %zu at %jd (buffer +%zu), file size %jd: got %zu bytes, want %zu",
		      what, n, (intmax_t)off, shift, (intmax_t)m->size, got, want);
		return false;
	}
	return CHECK_MEM(buf, m->data + off, want, "%s: read %zu at %jd (buffer +%zu)", what, n,
			 (intmax_t)off, shift);
}

struct dio_config {
	const char *opts;
	int flags;          /* added to O_RDWR */
	const char *label;
	bool aio;           /* libaio instead of pread/pwrite */
};

static void run_matrix(const struct dio_config *cfg)
{
	static const size_t sizes[] = {
		1, 2, 511, 512, 513, 4095, 4096, 4097, 65535, 65536, 65537,
		128 * KiB + 3, MiB - 1, MiB + 1, 4 * MiB,
	};
	static const off_t offsets[] = {
		0, 1, 511, 4095, 4096, 12289, MiB - 3, 5 * MiB + 5,
	};
	static const size_t shifts[] = { 0, 1, 3, 511, 4095 };
	struct model m = { .data = fs_alloc(MODEL_MAX), .size = 0 };
	unsigned char *wbuf = page_alloc(4 * MiB + 8192);
	unsigned char *rbuf = page_alloc(4 * MiB + 8192);
	unsigned char *bbuf = page_alloc(MODEL_MAX);
	char what[160];
	int fd, bfd, step = 0;
	off_t init_end = 3 * MiB;

	M = fs_mount(cfg->opts);
	snprintf(what, sizeof(what), "-o %s, open %s%s", cfg->opts, cfg->label,
		 cfg->aio ? ", libaio" : "");
	use_aio = cfg->aio;
	if (use_aio) {
		const char *no = dio_route_unavailable(ROUTE_AIO);

		REQUIRE(!no, "%s", no);
	}

	/* The starting file, made in the backing dir: data in [0, 256K),
	 * a hole to 2M, data in [2M, 3M). */
	bfd = REQUIRE_OK(open(BAK("f"), O_CREAT | O_RDWR, 0644));
	pattern_fill(wbuf, 256 * KiB, 0, 1000);
	REQUIRE_EQ(pwrite(bfd, wbuf, 256 * KiB, 0), 256 * KiB);
	model_write(&m, 0, wbuf, 256 * KiB);
	pattern_fill(wbuf, MiB, 2 * MiB, 1001);
	REQUIRE_EQ(pwrite(bfd, wbuf, MiB, 2 * MiB), MiB);
	model_write(&m, 2 * MiB, wbuf, MiB);
	REQUIRE_EQ(m.size, init_end);

	fd = REQUIRE_OK(open(MNT("f"), O_RDWR | cfg->flags));

	/* reads of what is there: across the hole and EOF */
	check_range(fd, &m, 0, 4 * MiB, 1, rbuf, what);
	check_range(fd, &m, 256 * KiB - 7, 4096, 3, rbuf, what);      /* data into hole */
	check_range(fd, &m, MiB + 1, 65536, 0, rbuf, what);            /* inside the hole */
	check_range(fd, &m, 2 * MiB - 100, 200, 511, rbuf, what);      /* hole into data */
	check_range(fd, &m, init_end - 100, 4096, 1, rbuf, what);      /* across EOF */
	check_range(fd, &m, init_end, 4096, 0, rbuf, what);            /* at EOF */
	check_range(fd, &m, init_end + 5000, 1, 0, rbuf, what);        /* past EOF */

	for (size_t si = 0; si < sizeof(sizes) / sizeof(*sizes); si++) {
		for (size_t oi = 0; oi < sizeof(offsets) / sizeof(*offsets); oi++) {
			size_t n = sizes[si], shift = shifts[step % 5];
			off_t off = offsets[oi];
			unsigned char *buf = unaligned(wbuf, shift);
			ssize_t w;

			if (off + (off_t)n > MODEL_MAX)
				continue;
			pattern_fill(buf, n, (uint64_t)off, (uint64_t)step + 1);
			w = io_pwrite(fd, buf, n, off);
			if (w != (ssize_t)n) {
				CHECK(false, "%s: pwrite(%zu at %jd, buffer +%zu): got %zd (%s)", what, n,
				      (intmax_t)off, shift, w, w < 0 ? expect_errname(errno) : "short");
				return;
			}
			model_write(&m, off, buf, n);
			/* read back through the mount, a different misalignment,
			 * a little wider than written (neighbours intact) */
			off_t roff = off >= 3 ? off - 3 : 0;
			if (!check_range(fd, &m, roff, n + 6, shifts[(step + 2) % 5], rbuf, what))
				return;
			step++;
		}
	}
	/* a write past EOF leaves a hole that reads as zeros */
	off_t far = m.size + 8192 + 7;
	pattern_fill(wbuf + 1, 1000, (uint64_t)far, 999);
	CHECK_EQ(io_pwrite(fd, wbuf + 1, 1000, far), 1000);
	model_write(&m, far, wbuf + 1, 1000);
	check_range(fd, &m, far - 9000, 12000, 3, rbuf, what);

	/* the whole file, in the backing dir and through the mount */
	struct stat st;
	REQUIRE_OK(fstat(bfd, &st));
	CHECK(st.st_size == m.size, "%s: backing size %jd, want %jd", what, (intmax_t)st.st_size,
	      (intmax_t)m.size);
	ssize_t got = pread(bfd, bbuf, (size_t)m.size, 0);
	CHECK(got == m.size, "%s: backing pread of the whole file: %zd", what, got);
	if (got == m.size)
		CHECK_MEM(bbuf, m.data, (size_t)m.size, "%s: the whole backing file", what);
	for (off_t off = 0; off < m.size; off += 4 * MiB - 1)
		check_range(fd, &m, off, 4 * MiB, 1, rbuf, what);
	REQUIRE_OK(fstat(fd, &st));
	CHECK(st.st_size == m.size, "%s: size through the mount %jd, want %jd", what,
	      (intmax_t)st.st_size, (intmax_t)m.size);
	close(fd);
	close(bfd);
	NOTE("%s: %d writes, file %jd bytes", what, step, (intmax_t)m.size);
	use_aio = false;
}

TEST(matrix_all_plain, .needs = TEST_NEEDS_MOUNT, .timeout_s = 300)
{
	static const struct dio_config c = { "dio=all", 0, "without O_DIRECT (FOPEN_DIRECT_IO)",
					     false };
	run_matrix(&c);
}

TEST(matrix_all_odirect, .needs = TEST_NEEDS_MOUNT, .timeout_s = 300)
{
	static const struct dio_config c = { "dio=all", O_DIRECT, "with O_DIRECT", false };
	run_matrix(&c);
}

TEST(matrix_all_sync_odirect, .needs = TEST_NEEDS_MOUNT, .timeout_s = 300)
{
	static const struct dio_config c = { "dio=all,async_dio=0", O_DIRECT, "with O_DIRECT",
					     false };
	run_matrix(&c);
}

TEST(matrix_all_aio_odirect, .needs = TEST_NEEDS_MOUNT, .timeout_s = 300)
{
	static const struct dio_config c = { "dio=all,async_dio=1", O_DIRECT, "with O_DIRECT",
					     true };
	run_matrix(&c);
}

TEST(matrix_all_aio_plain, .needs = TEST_NEEDS_MOUNT, .timeout_s = 300)
{
	static const struct dio_config c = { "dio=all,async_dio=1", 0,
					     "without O_DIRECT (FOPEN_DIRECT_IO)", true };
	run_matrix(&c);
}

TEST(matrix_none_aio_odirect, .needs = TEST_NEEDS_MOUNT, .timeout_s = 300)
{
	static const struct dio_config c = { "dio=none,async_dio=1", O_DIRECT,
					     "with O_DIRECT (a_ops->direct_IO)", true };
	run_matrix(&c);
}

TEST(matrix_odirect_odirect, .needs = TEST_NEEDS_MOUNT, .timeout_s = 300)
{
	static const struct dio_config c = { "dio=odirect", O_DIRECT,
					     "with O_DIRECT (FOPEN_DIRECT_IO)", false };
	run_matrix(&c);
}

TEST(matrix_odirect_plain, .needs = TEST_NEEDS_MOUNT, .timeout_s = 300)
{
	static const struct dio_config c = { "dio=odirect", 0, "without O_DIRECT (page cache)",
					     false };
	run_matrix(&c);
}

TEST(matrix_none_odirect, .needs = TEST_NEEDS_MOUNT, .timeout_s = 300)
{
	static const struct dio_config c = { "dio=none", O_DIRECT,
					     "with O_DIRECT (a_ops->direct_IO)", false };
	run_matrix(&c);
}

/* preadv/pwritev of many small unaligned segments, O_DIRECT. */
TEST(unaligned_vectors_odirect_round_trip, .needs = TEST_NEEDS_MOUNT)
{
	enum { SEGS = 37 };
	struct iovec iov[SEGS];
	unsigned char *w = fs_alloc(64 * KiB), *r = fs_alloc(64 * KiB), *b = fs_alloc(64 * KiB);
	size_t total = 0;

	M = fs_mount("dio=all");
	int fd = REQUIRE_OK(open(MNT("v"), O_CREAT | O_RDWR | O_DIRECT, 0644));
	pattern_fill(w, 64 * KiB, 0, 77);
	for (int i = 0; i < SEGS; i++) {
		size_t len = (size_t)(i * 97 % 1500) + 1;
		iov[i] = (struct iovec){ .iov_base = w + total + (size_t)i, .iov_len = len };
		total += len + (size_t)i;
	}
	/* what the file should hold: the segments back to back */
	size_t n = 0;
	for (int i = 0; i < SEGS; i++) {
		memcpy(b + n, iov[i].iov_base, iov[i].iov_len);
		n += iov[i].iov_len;
	}
	CHECK_EQ(pwritev(fd, iov, SEGS, 4097), (ssize_t)n);
	memset(r, 0, 64 * KiB);
	CHECK_EQ(fs_get(BAK("v"), r, 64 * KiB), 4097 + (ssize_t)n);
	CHECK_MEM(r + 4097, b, n, "backing file after pwritev of %d segments", SEGS);
	/* read back scattered differently */
	memset(r, 0, 64 * KiB);
	struct iovec riov[3] = {
		{ r + 1, 1 }, { r + 100, n / 2 }, { r + 101 + n / 2, n - 1 - n / 2 },
	};
	CHECK_EQ(preadv(fd, riov, 3, 4097), (ssize_t)n);
	CHECK(r[1] == b[0], "preadv first byte: %#x, want %#x", r[1], b[0]);
	CHECK_MEM(r + 100, b + 1, n / 2, "preadv second segment");
	CHECK_MEM(r + 101 + n / 2, b + 1 + n / 2, n - 1 - n / 2, "preadv third segment");
	close(fd);
}

/* ---- what each dio mode does with the page cache ---- */

#define SZ (64 * 1024)

struct open_rec {
	unsigned long long start;
	char what[64];
};

static int rec_cmp(const void *a, const void *b)
{
	const struct open_rec *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The trace's open and create records of path, in the order they began
 * (the trace interleaves threads' records by buffer), each as
 * "o_direct=X fopen_direct_io=Y", into out. */
static int trace_opens(const char *path, char out[][64], int max)
{
	struct open_rec recs[64];
	int nrec, n = 0;
	struct trace_rec *t = fs_trace_records(M, &nrec);

	for (int i = 0; i < nrec && n < 64; i++) {
		if ((strcmp(t[i].op, "open") && strcmp(t[i].op, "create")) ||
		    strcmp(t[i].path, path))
			continue;
		recs[n].start = t[i].start;
		snprintf(recs[n].what, sizeof(recs[n].what), "o_direct=%s fopen_direct_io=%s",
			 t[i].o_direct ? "true" : "false", t[i].fopen_direct_io ? "true" : "false");
		n++;
	}
	free(t);
	qsort(recs, (size_t)n, sizeof(*recs), rec_cmp);
	for (int i = 0; i < n && i < max; i++)
		snprintf(out[i], 64, "%s", recs[i].what);
	return n;
}

/* The file holds pattern a (SZ bytes); rewrite it behind the mount's back
 * with pattern b, same size (no size change for the kernel to notice). */
static void backing_rewrite(const char *name, uint64_t seed)
{
	unsigned char buf[SZ];
	int fd = REQUIRE_OK(open(BAK(name), O_WRONLY));

	pattern_fill(buf, SZ, 0, seed);
	REQUIRE_EQ(pwrite(fd, buf, SZ, 0), SZ);
	close(fd);
}

static void read_expect(int fd, uint64_t seed, const char *what)
{
	unsigned char got[SZ], want[SZ];

	pattern_fill(want, SZ, 0, seed);
	CHECK_EQ(pread(fd, got, SZ, 0), SZ);
	CHECK_MEM(got, want, SZ, "%s (want the data of seed %ju)", what, (uintmax_t)seed);
}

/* fd is a plain open of BACKING/f, which holds seed 1: read it (into the
 * page cache), rewrite the backing file with seed 2 behind the kernel's
 * back, read again through fd: the cached seed 1 must come back.  The
 * kernel trusts its cache only while its attributes are fresh (1 s; then
 * auto_inval_data may drop the pages), so a try slower than half that
 * proves nothing and is made again. */
static void expect_cached(int fd, const char *what)
{
	unsigned char got[SZ], want[SZ];

	pattern_fill(want, SZ, 0, 1);
	for (int attempt = 0; attempt < 5; attempt++) {
		int64_t t0 = diofs_now_ms();

		read_expect(fd, 1, "the read that fills the cache");
		backing_rewrite("f", 2);
		CHECK_EQ(pread(fd, got, SZ, 0), SZ);
		if (diofs_now_ms() - t0 < 500 || attempt == 4) {
			CHECK_MEM(got, want, SZ, "%s: a read after the backing file changed "
				  "(want the cached old data)", what);
			return;
		}
		backing_rewrite("f", 1);
	}
}

/* The trace's opens of /f, in order: the first as first, the second (if
 * not NULL) as second ("o_direct=X fopen_direct_io=Y"). */
static void check_opens_of_f(const char *first, const char *second)
{
	char opens[4][64];
	int n = trace_opens("/f", opens, 4), want = second ? 2 : 1;

	REQUIRE(n >= want, "%d opens of /f in the trace, want %d", n, want);
	CHECK_STR(opens[0], first);
	if (second)
		CHECK_STR(opens[1], second);
}

/* Mount with opts, make BACKING/f (SZ bytes of pattern 1, also in buf)
 * and open it through the mount with flags. */
static int mount_with_file(const char *opts, int flags, unsigned char *buf)
{
	M = fs_mount(opts);
	pattern_fill(buf, SZ, 0, 1);
	REQUIRE_OK(fs_put(BAK("f"), buf, SZ, 0644));
	return REQUIRE_OK(open(MNT("f"), flags));
}

/* dio=all: a file opened without O_DIRECT bypasses the page cache. */
TEST(mode_all_bypasses_cache, .needs = TEST_NEEDS_MOUNT)
{
	unsigned char buf[SZ];
	int fd = mount_with_file("dio=all,trace", O_RDWR, buf);

	read_expect(fd, 1, "first read");
	backing_rewrite("f", 2);
	read_expect(fd, 2, "dio=all, plain open: a read after the backing file changed");
	/* written through the mount, seen in the backing file at once */
	pattern_fill(buf, SZ, 0, 3);
	CHECK_EQ(pwrite(fd, buf, SZ, 0), SZ);
	unsigned char back[SZ];
	CHECK_EQ(fs_get(BAK("f"), back, SZ), SZ);
	CHECK_MEM(back, buf, SZ, "backing file after a write through the mount");
	/* FOPEN_DIRECT_IO: shared maps only with FUSE_DIRECT_IO_ALLOW_MMAP,
	 * which diofs asks for whenever the kernel (6.6+) offers it. */
	bool allow_mmap = fs_init_flag(M, "offered", "direct_io_allow_mmap");
	CHECK(fs_init_flag(M, "flags", "direct_io_allow_mmap") == allow_mmap,
	      "INIT took direct_io_allow_mmap: %d, the kernel offered it: %d",
	      !allow_mmap, allow_mmap);
	void *p = mmap(NULL, SZ, PROT_READ, MAP_SHARED, fd, 0);
	int e = errno;
	if (allow_mmap)
		CHECK(p != MAP_FAILED, "mmap MAP_SHARED with DIRECT_IO_ALLOW_MMAP: %s",
		      expect_errname(e));
	else
		CHECK(p == MAP_FAILED && e == ENODEV,
		      "mmap MAP_SHARED of an FOPEN_DIRECT_IO file on a kernel without "
		      "DIRECT_IO_ALLOW_MMAP: got %s, want ENODEV",
		      p == MAP_FAILED ? expect_errname(e) : "a mapping");
	if (p != MAP_FAILED)
		munmap(p, SZ);
	/* a private map is allowed, and shows the current data */
	p = mmap(NULL, SZ, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(p != MAP_FAILED, "mmap MAP_PRIVATE: %s", expect_errname(errno));
	if (p != MAP_FAILED) {
		CHECK_MEM(p, buf, SZ, "a private map of the file");
		munmap(p, SZ);
	}
	close(fd);
	/* the daemon said FOPEN_DIRECT_IO for the plain open */
	check_opens_of_f("o_direct=false fopen_direct_io=true", NULL);
}

/* dio=odirect: a plain open uses the page cache; O_DIRECT bypasses it. */
TEST(mode_odirect_plain_uses_cache, .needs = TEST_NEEDS_MOUNT)
{
	unsigned char buf[SZ];
	int fd = mount_with_file("dio=odirect,trace", O_RDONLY, buf);

	/* served from the page cache: the old data */
	expect_cached(fd, "dio=odirect, plain open");
	/* a shared map works (page cache) */
	void *p = mmap(NULL, SZ, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap MAP_SHARED of a cached file: %s", expect_errname(errno));
	if (p != MAP_FAILED)
		munmap(p, SZ);
	/* an O_DIRECT open goes to the daemon: the new data */
	int dfd = REQUIRE_OK(open(MNT("f"), O_RDONLY | O_DIRECT));
	read_expect(dfd, 2, "dio=odirect, O_DIRECT open after the backing file changed");
	backing_rewrite("f", 3);
	read_expect(dfd, 3, "dio=odirect, O_DIRECT open after a second change");
	p = mmap(NULL, SZ, PROT_READ, MAP_SHARED, dfd, 0);
	if (fs_init_flag(M, "flags", "direct_io_allow_mmap"))
		CHECK(p != MAP_FAILED, "mmap MAP_SHARED of the O_DIRECT (FOPEN_DIRECT_IO) "
		      "open with DIRECT_IO_ALLOW_MMAP: %s", expect_errname(errno));
	else
		CHECK(p == MAP_FAILED && errno == ENODEV,
		      "mmap MAP_SHARED of the O_DIRECT (FOPEN_DIRECT_IO) open: got %s, want ENODEV",
		      p == MAP_FAILED ? expect_errname(errno) : "a mapping");
	if (p != MAP_FAILED)
		munmap(p, SZ);
	close(dfd);
	close(fd);
	check_opens_of_f("o_direct=false fopen_direct_io=false", "o_direct=true fopen_direct_io=true");
}

/* dio=none: no FOPEN_DIRECT_IO, yet O_DIRECT works (a_ops->direct_IO),
 * unaligned too, and bypasses the cache a plain open uses. */
TEST(mode_none_odirect_works, .needs = TEST_NEEDS_MOUNT)
{
	unsigned char buf[SZ];
	int fd = mount_with_file("dio=none,trace", O_RDONLY, buf);

	read_expect(fd, 1, "first read");
	int dfd = REQUIRE_OK(open(MNT("f"), O_RDWR | O_DIRECT));
	/* (the O_DIRECT open invalidated the cache: expect_cached fills it) */
	expect_cached(fd, "dio=none, plain open");
	read_expect(dfd, 2, "dio=none, O_DIRECT open after the backing file changed");
	/* an unaligned O_DIRECT write, 3 bytes at offset 1 from an odd address */
	char *odd = (char *)buf + 1;
	memcpy(odd, "xyz", 3);
	CHECK_EQ(pwrite(dfd, odd, 3, 1), 3);
	unsigned char back[SZ], want[SZ];
	pattern_fill(want, SZ, 0, 2);
	memcpy(want + 1, "xyz", 3);
	CHECK_EQ(fs_get(BAK("f"), back, SZ), SZ);
	CHECK_MEM(back, want, SZ, "backing after an unaligned O_DIRECT write under dio=none");
	close(dfd);
	close(fd);
	check_opens_of_f("o_direct=false fopen_direct_io=false", "o_direct=true fopen_direct_io=false");
}

/* A create (O_CREAT through the mount) is answered like an open. */
TEST(mode_create_follows_policy, .needs = TEST_NEEDS_MOUNT)
{
	char opens[4][64];

	M = fs_mount("dio=odirect,trace");
	int a = REQUIRE_OK(open(MNT("plain"), O_CREAT | O_RDWR, 0644));
	int b = REQUIRE_OK(open(MNT("direct"), O_CREAT | O_RDWR | O_DIRECT, 0644));
	CHECK_EQ(pwrite(b, "abc", 3, 1), 3);
	void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, a, 0);
	CHECK(p != MAP_FAILED, "mmap MAP_SHARED of a plain create under dio=odirect: %s",
	      expect_errname(errno));
	if (p != MAP_FAILED)
		munmap(p, 4096);
	close(a);
	close(b);
	CHECK(trace_opens("/plain", opens, 4) >= 1, "no create of /plain in the trace");
	CHECK_STR(opens[0], "o_direct=false fopen_direct_io=false");
	CHECK(trace_opens("/direct", opens, 4) >= 1, "no create of /direct in the trace");
	CHECK_STR(opens[0], "o_direct=true fopen_direct_io=true");
	char back[8] = { 0 };
	CHECK_EQ(fs_get(BAK("direct"), back, sizeof(back)), 4);
	CHECK_MEM(back, "\0abc", 4, "backing file after the O_DIRECT create and write");
}

/* Shared maps of FOPEN_DIRECT_IO files, which diofs's INIT allows where
 * the kernel offers FUSE_DIRECT_IO_ALLOW_MMAP (6.6+): what is written
 * through the mapping and msync'ed is what an O_DIRECT read returns, and
 * what an O_DIRECT write wrote is what the mapping shows next.  On a
 * kernel without it the map fails with ENODEV, the kernel's answer. */
TEST(mmap_shared_coherent, .needs = TEST_NEEDS_MOUNT)
{
	const size_t n = 64 * KiB;
	unsigned char *want = fs_alloc(n), *got = fs_alloc(n);

	M = fs_mount("dio=all");
	pattern_fill(want, n, 0, 1);
	REQUIRE_OK(fs_put(BAK("f"), want, n, 0644));
	int fd = REQUIRE_OK(open(MNT("f"), O_RDWR));
	unsigned char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int e = errno;
	if (!fs_init_flag(M, "offered", "direct_io_allow_mmap")) {
		CHECK(p == MAP_FAILED && e == ENODEV,
		      "mmap MAP_SHARED on a kernel without DIRECT_IO_ALLOW_MMAP: got %s, want ENODEV",
		      p == MAP_FAILED ? expect_errname(e) : "a mapping");
		NOTE("the kernel does not offer FUSE_DIRECT_IO_ALLOW_MMAP: ENODEV checked, "
		     "coherence not testable here");
		close(fd);
		return;
	}
	REQUIRE(p != MAP_FAILED, "mmap MAP_SHARED of an FOPEN_DIRECT_IO file: %s", expect_errname(e));
	CHECK_MEM(p, want, n, "the shared mapping of a file written in the backing directory");

	/* mapping, msync -> O_DIRECT read, and the backing file */
	pattern_fill(p, n, 0, 2);
	REQUIRE_OK(msync(p, n, MS_SYNC));
	pattern_fill(want, n, 0, 2);
	int dfd = REQUIRE_OK(open(MNT("f"), O_RDWR | O_DIRECT));
	CHECK_EQ(pread(dfd, got, n, 0), (ssize_t)n);
	CHECK_MEM(got, want, n, "an O_DIRECT read after writing the mapping and msync");
	CHECK_EQ(fs_get(BAK("f"), got, n), (ssize_t)n);
	CHECK_MEM(got, want, n, "the backing file after writing the mapping and msync");

	/* O_DIRECT write -> the mapping */
	pattern_fill(want, n, 0, 3);
	CHECK_EQ(pwrite(dfd, want, n, 0), (ssize_t)n);
	CHECK_MEM(p, want, n, "the shared mapping after an O_DIRECT write");
	munmap(p, n);
	close(dfd);
	close(fd);
}

/* -o init_off=direct_io_allow_mmap: INIT does not ask for it, and the
 * kernel refuses shared maps of FOPEN_DIRECT_IO files as before 6.6. */
TEST(mmap_shared_switched_off, .needs = TEST_NEEDS_MOUNT)
{
	M = fs_mount("dio=all,init_off=direct_io_allow_mmap");
	CHECK(!fs_init_flag(M, "flags", "direct_io_allow_mmap"),
	      "INIT took direct_io_allow_mmap under -o init_off=direct_io_allow_mmap");
	REQUIRE_OK(fs_put(BAK("f"), "data", 4, 0644));
	int fd = REQUIRE_OK(open(MNT("f"), O_RDWR));
	void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p == MAP_FAILED && errno == ENODEV,
	      "mmap MAP_SHARED without DIRECT_IO_ALLOW_MMAP: got %s, want ENODEV",
	      p == MAP_FAILED ? expect_errname(errno) : "a mapping");
	if (p != MAP_FAILED)
		munmap(p, 4096);
	close(fd);
}

/* SQLite in WAL mode maps its -shm file MAP_SHARED: under dio=all that
 * needs FUSE_DIRECT_IO_ALLOW_MMAP ("disk I/O error" without it). */
TEST(sqlite_wal_works_under_dio_all, .needs = TEST_NEEDS_MOUNT)
{
	struct diofs_run *r = calloc(1, sizeof(*r));
	char db[PATH_MAX];

	REQUIRE(r, "out of memory");
	M = fs_mount("dio=all");
	if (!fs_init_flag(M, "flags", "direct_io_allow_mmap"))
		SKIP("the kernel does not offer FUSE_DIRECT_IO_ALLOW_MMAP: SQLite WAL needs "
		     "shared maps");
	snprintf(db, sizeof(db), "%s", MNT("db"));
	char *write_argv[] = { "sqlite3", db,
		"PRAGMA journal_mode=WAL; CREATE TABLE t(x); BEGIN; "
		"INSERT INTO t VALUES(1),(2),(3); COMMIT; SELECT count(*) FROM t;", NULL };
	int status = diofs_run(write_argv, NULL, 60000, r);
	REQUIRE(status != -1 && !(WIFEXITED(status) && WEXITSTATUS(status) == 127),
		"cannot run sqlite3 (tests/install-deps installs it)");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && !strcmp(r->out, "wal\n3\n"),
	      "sqlite3 WAL transaction: status %#x, stdout \"%s\", stderr \"%s\"", status,
	      r->out, r->err);
	/* a second connection sees the committed rows */
	char *read_argv[] = { "sqlite3", db, "SELECT sum(x) FROM t;", NULL };
	status = diofs_run(read_argv, NULL, 60000, r);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && !strcmp(r->out, "6\n"),
	      "sqlite3 reading the WAL database: status %#x, stdout \"%s\", stderr \"%s\"",
	      status, r->out, r->err);
	free(r);
}

TEST_MAIN("test_dio")
