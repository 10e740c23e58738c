/* completion: what a direct read or write through FUSE returns, and when,
 * on every I/O route (pread, preadv, libaio, io_uring, io_uring fixed
 * buffers), in both open modes (FOPEN_DIRECT_IO from diofs; O_DIRECT on a
 * file diofs opened without it) and with the kernel's async DIO on and off.
 *
 * This file: the configurations, the model of the fs/fuse/file.c path an
 * I/O takes (expect_of), the shared helpers and the case list.  The cases
 * are in suite_completion_{data,reply,order,life}.c. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/suite_completion.h"
#include "check/premise.h"
#include "proto/errnames.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- configurations and open modes ------------------------------------ */

const struct cfg cfg_fdio_async = { "FOPEN_DIRECT_IO, async DIO on", "dio=all,async_dio=1",
				    true, true };
const struct cfg cfg_fdio_sync = { "FOPEN_DIRECT_IO, async DIO off", "dio=all,async_dio=0",
				   true, false };
const struct cfg cfg_aops_async = { "O_DIRECT via a_ops->direct_IO, async DIO on",
				    "dio=none,async_dio=1", false, true };
const struct cfg cfg_aops_sync = { "O_DIRECT via a_ops->direct_IO, async DIO off",
				   "dio=none,async_dio=0", false, false };

int cfg_modes(const struct cfg *c, struct mode out[2])
{
	if (c->fdio) {
		out[0] = (struct mode){ "FOPEN_DIRECT_IO", 0, true, false };
		out[1] = (struct mode){ "FOPEN_DIRECT_IO+O_DIRECT", O_DIRECT, true, true };
		return 2;
	}
	out[0] = (struct mode){ "O_DIRECT (a_ops)", O_DIRECT, false, true };
	return 1;
}

void each_combo(const struct cfg *c, combo_fn *one)
{
	struct mode modes[2];
	int nm = cfg_modes(c, modes);

	for (int mi = 0; mi < nm; mi++)
		for (int r = 0; r < ROUTE_COUNT; r++)
			for (int d = 0; d < 2; d++) {
				char name[32];

				snprintf(name, sizeof(name), "f%d.%d.%d", mi, r, d);
				one(c, &modes[mi], (enum io_route)r, (enum io_dir)d, name);
			}
}

/* ---- the kernel path -------------------------------------------------- */

const char *kpath_name(enum kpath p)
{
	switch (p) {
	case KP_SYNC: return "fuse_direct_io() synchronous";
	case KP_DIO_SYNC: return "fuse_direct_IO() with io->async=0";
	case KP_ASYNC: return "fuse_direct_IO() async";
	case KP_ASYNC_WAIT: return "fuse_direct_IO() async, io->blocking";
	}
	return "?";
}

/* fs/fuse/file.c: fuse_direct_read_iter() and fuse_direct_write_iter()
 * (FOPEN_DIRECT_IO) run a sync kiocb through fuse_direct_io() with
 * FUSE_IO_PRIV_SYNC and hand an async one to fuse_direct_IO(); before 6.13
 * ("fuse: remove useless IOCB_DIRECT in fuse_direct_read/write_iter") only
 * an async kiocb with IOCB_DIRECT.  Without FOPEN_DIRECT_IO, O_DIRECT goes
 * generic_file_read_iter() / generic_file_direct_write() -> a_ops->direct_IO
 * = fuse_direct_IO() for every kiocb.  fuse_direct_IO(): io->async =
 * fc->async_dio, io->blocking = is_sync_kiocb() or an extending write. */
void expect_of(const struct cfg *c, const struct mode *m, enum io_route r, enum io_dir dir,
	       bool extending, struct expect *e)
{
	const char *iter = dir == IO_READ ? "fuse_direct_read_iter" : "fuse_direct_write_iter";
	bool async_kiocb = dio_route_async(r);

	e->aops = !m->fdio;
	if (m->fdio && !async_kiocb) {
		e->path = KP_SYNC;
		snprintf(e->why, sizeof(e->why), "%s on FOPEN_DIRECT_IO: a sync kiocb takes %s()'s "
			 "FUSE_IO_PRIV_SYNC branch", dio_call_name(r, dir), iter);
	} else if (m->fdio && !m->odirect && !kernel_at_least(6, 13)) {
		e->path = KP_SYNC;
		snprintf(e->why, sizeof(e->why), "%s on FOPEN_DIRECT_IO without O_DIRECT: before "
			 "6.13 %s() sends an async kiocb to fuse_direct_IO() only with IOCB_DIRECT, "
			 "else runs it synchronously (running %s)", dio_call_name(r, dir), iter,
			 kernel_release());
	} else if (m->fdio) {
		e->path = c->async_dio ? KP_ASYNC : KP_DIO_SYNC;
		snprintf(e->why, sizeof(e->why), "%s on %s: %s() sends the async kiocb to "
			 "fuse_direct_IO()%s, io->async = fc->async_dio = %d",
			 dio_call_name(r, dir), m->name, iter,
			 m->odirect ? "" : " (without O_DIRECT too since 6.13; before, only with "
			 "IOCB_DIRECT)", c->async_dio);
	} else {
		e->path = !c->async_dio ? KP_DIO_SYNC : async_kiocb ? KP_ASYNC : KP_ASYNC_WAIT;
		snprintf(e->why, sizeof(e->why), "%s with O_DIRECT, no FOPEN_DIRECT_IO: %s() calls "
			 "a_ops->direct_IO = fuse_direct_IO(), io->async = fc->async_dio = %d, "
			 "io->blocking = is_sync_kiocb() = %d", dio_call_name(r, dir),
			 dir == IO_READ ? "generic_file_read_iter" : "generic_file_direct_write",
			 c->async_dio, !async_kiocb);
	}
	if (extending && dir == IO_WRITE && e->path == KP_ASYNC) {
		size_t n = strlen(e->why);

		e->path = KP_ASYNC_WAIT;
		snprintf(e->why + n, sizeof(e->why) - n, "; extending i_size, so fuse_direct_IO() "
			 "sets io->blocking (\"We cannot asynchronously extend the size of a file\")");
	}
}

bool uring_sync_fdio(const struct expect *e, enum io_route r)
{
	return (r == ROUTE_URING || r == ROUTE_URING_FIXED) && !e->aops && !kp_async(e->path);
}

const char *uring_short_retry_case(const struct mode *m, enum io_dir dir)
{
	if (dir == IO_READ)
		return m->odirect ? "uring_short_retry_read_odirect" : "uring_short_retry_read";
	return m->odirect ? "uring_short_retry_write_odirect" : "uring_short_retry_write";
}

/* ---- helpers ---------------------------------------------------------- */

int open_mode(const struct mode *m, const char *name, int flags)
{
	return REQUIRE_OK(open(check_path(name), O_RDWR | O_CLOEXEC | m->oflags | flags, 0644));
}

int open_backing(const char *name, int flags)
{
	const char *path = check_backing_path(name);

	if (!path)
		SKIP("needs the backing directory (not with --mount)");
	return REQUIRE_OK(open(path, flags | O_CLOEXEC, 0644));
}

/* The pattern of a seed over [0, REF_LEN), kept for a few seeds: the big
 * I/Os are filled and checked with memcpy and memcmp.  Filled only as far
 * as asked: each case is a process of its own and starts without any. */
#define REF_LEN (16u << 20)
#define REF_SEEDS 4

static const uint8_t *ref_get(unsigned int seed, size_t need)
{
	static struct { unsigned int seed; size_t filled; uint8_t *buf; } refs[REF_SEEDS];
	static unsigned int next;
	unsigned int i;

	for (i = 0; i < REF_SEEDS; i++)
		if (refs[i].buf && refs[i].seed == seed)
			break;
	if (i == REF_SEEDS) {
		i = next++ % REF_SEEDS;
		if (!refs[i].buf && !(refs[i].buf = malloc(REF_LEN)))
			CHECK_FATALF("out of memory for the reference pattern");
		refs[i].seed = seed;
		refs[i].filled = 0;
	}
	if (refs[i].filled < need) {
		pattern_fill(refs[i].buf + refs[i].filled, need - refs[i].filled, refs[i].filled,
			     seed);
		refs[i].filled = need;
	}
	return refs[i].buf;
}

void data_fill(void *buf, size_t len, uint64_t off, unsigned int seed)
{
	if (!seed)
		memset(buf, 0, len);
	else if (off + len <= REF_LEN)
		memcpy(buf, ref_get(seed, off + len) + off, len);
	else
		pattern_fill(buf, len, off, seed);
}

static uint8_t want_byte(uint64_t off, unsigned int seed)
{
	return seed ? pattern_byte(off, seed) : 0;
}

bool data_check(const void *buf, size_t len, uint64_t off, unsigned int seed, const char *ctx)
{
	const uint8_t *b = buf;
	size_t bad = 0, first = 0, zeros = 0;

	if (seed && off + len <= REF_LEN && !memcmp(buf, ref_get(seed, off + len) + off, len))
		return true;
	for (size_t i = 0; i < len; i++) {
		if (b[i] == want_byte(off + i, seed))
			continue;
		if (!bad++)
			first = i;
		zeros += !b[i];
	}
	if (!bad)
		return true;
	CHECK_FAILF("%s: %zu of %zu bytes differ from the data of file offsets [%ju, %ju)%s; "
		    "first at offset %ju: got 0x%02x, want 0x%02x", ctx, bad, len, (uintmax_t)off,
		    (uintmax_t)(off + len), zeros == bad && seed ? " (all of them zero)" : "",
		    (uintmax_t)(off + first), b[first], want_byte(off + first, seed));
	return false;
}

void backing_create(const char *name, size_t size, unsigned int seed)
{
	int fd = open_backing(name, O_WRONLY | O_CREAT | O_TRUNC);
	size_t chunk = 1u << 20;
	char *buf = seed ? malloc(chunk) : NULL;

	if (seed && !buf)
		CHECK_FATALF("out of memory");
	if (!seed)
		REQUIRE_OK(ftruncate(fd, (off_t)size));
	for (size_t done = 0; seed && done < size; done += chunk) {
		size_t n = size - done < chunk ? size - done : chunk;

		data_fill(buf, n, done, seed);
		if (pwrite(fd, buf, n, (off_t)done) != (ssize_t)n)
			CHECK_FATALF("writing backing %s at %zu: %s", name, done, errno_name(errno));
	}
	free(buf);
	close(fd);
}

bool backing_check(const char *name, size_t len, uint64_t off, unsigned int seed, const char *ctx)
{
	int fd = open_backing(name, O_RDONLY);
	char *buf = malloc(len ? len : 1);
	ssize_t n;
	bool ok;

	if (!buf)
		CHECK_FATALF("out of memory");
	n = pread(fd, buf, len, (off_t)off);
	close(fd);
	if (n != (ssize_t)len) {
		CHECK_FAILF("%s: the backing file has %zd bytes at %ju, want %zu", ctx, n,
			    (uintmax_t)off, len);
		free(buf);
		return false;
	}
	ok = data_check(buf, len, off, seed, ctx);
	free(buf);
	return ok;
}

off_t backing_size(const char *name)
{
	struct stat st;

	REQUIRE_OK(stat(check_backing_path(name), &st));
	return st.st_size;
}

const char *res_str(ssize_t res)
{
	static __thread char ring[4][32];
	static __thread unsigned int next;
	char *s = ring[next++ % 4];

	if (res < 0)
		snprintf(s, 32, "-%s", errno_name((int)-res));
	else
		snprintf(s, 32, "%zd", res);
	return s;
}

bool expect_res_at(ssize_t got, ssize_t want, const char *file, unsigned int line,
		   const char *fmt, ...)
{
	char ctx[1024];
	va_list ap;

	if (got == want)
		return true;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	expect_failf(file, line, false, "%s: got %s, want %s", ctx, res_str(got), res_str(want));
	return false;
}

int counter_add(const char *op, const char *name)
{
	return REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold op=%s path=%s nth=1g", op,
					     check_fuse_path(name)));
}

long counter_get(int id)
{
	char **lines;
	int n = REQUIRE_CTL(diofsctl_cmd(check_ctl(), &lines, "rule list"));
	long matched = -1;

	for (int i = 0; i < n; i++) {
		int rid;
		long m;

		if (sscanf(lines[i], "%d matched=%ld", &rid, &m) == 2 && rid == id)
			matched = m;
	}
	diofsctl_free_lines(lines);
	if (matched < 0)
		CHECK_FATALF("rule %d is not in diofs's rule list", id);
	return matched;
}

const char *io_ctx(enum io_route r, enum io_dir dir, size_t len, off_t off, const void *buf,
		   const struct mode *m)
{
	static __thread char ring[4][256];
	static __thread unsigned int next;
	char *s = ring[next++ % 4];
	size_t mis = (uintptr_t)buf & 4095;

	snprintf(s, 256, "%s of %zu at %jd (buffer at page+%zu) on %s", dio_call_name(r, dir),
		 len, (intmax_t)off, mis, m->name);
	return s;
}

void note(const char *fmt, ...)
{
	va_list ap;

	if (!check_verbose())
		return;
	va_start(ap, fmt);
	fputs("#   ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

void note_version_dependent(const struct cfg *c)
{
	const struct mode plain = { "FOPEN_DIRECT_IO", 0, true, false };
	struct expect e;

	if (!c->fdio)
		return;
	expect_of(c, &plain, ROUTE_AIO, IO_READ, false, &e);
	NOTE("kernel %s: AIO and io_uring on FOPEN_DIRECT_IO opened without O_DIRECT "
		   "expected to take %s: %s", kernel_release(), kpath_name(e.path),
		   kernel_at_least(6, 13) ? "since 6.13 fuse_direct_read/write_iter() hand every "
		   "async kiocb to fuse_direct_IO()" : "before 6.13 fuse_direct_read/write_iter() "
		   "hand an async kiocb to fuse_direct_IO() only with IOCB_DIRECT");
}

void completion_premises(void)
{
	PREMISE_REQUIRE(premise_max_pages, NULL, REQ_MAX);
}

/* ---- the cases -------------------------------------------------------- */

#define CFG_CASES(fn, desc) \
	CHECK_CASE(fn##_fdio_async, desc " [FOPEN_DIRECT_IO, async DIO on; " COMPLETION_PREMISES "]", \
		   .mount_opts = "dio=all,async_dio=1"), \
	CHECK_CASE(fn##_fdio_sync, desc " [FOPEN_DIRECT_IO, async DIO off; " COMPLETION_PREMISES "]", \
		   .mount_opts = "dio=all,async_dio=0"), \
	CHECK_CASE(fn##_aops_async, desc " [O_DIRECT via a_ops, async DIO on; " COMPLETION_PREMISES "]", \
		   .mount_opts = "dio=none,async_dio=1"), \
	CHECK_CASE(fn##_aops_sync, desc " [O_DIRECT via a_ops, async DIO off; " COMPLETION_PREMISES "]", \
		   .mount_opts = "dio=none,async_dio=0")

static const struct check_case cases[] = {
	CFG_CASES(sizes, "reads and writes of 1 B to 4 MiB at (un)aligned offsets and "
		  "buffers move whole on every route; above 1 MiB the kernel splits them"),
	CFG_CASES(eof, "reads ending at, crossing and starting past EOF return the bytes "
		  "before it; fuse_direct_IO() answers reads at/past i_size without a FUSE_READ"),
	CFG_CASES(stale_size, "with i_size stale (file grown/shrunk behind the kernel) the sync "
		  "path reads what the server has, fuse_direct_IO() trusts the cached size"),
	CFG_CASES(short_reply, "a short reply: sync read/write return the short count, async "
		  "write -EIO, async read the contiguous prefix, a_ops completes via buffered I/O"),
	CFG_CASES(errors, "server errors EIO ENOSPC EDQUOT EFBIG EINTR and an over-long reply "
		  "(-EIO) reach the caller; a split I/O failing late returns its first bytes if sync"),
	CFG_CASES(held_order, "while diofs holds the request nothing completes (no event, no CQE, "
		  "the thread blocked); after release exactly one completion with the result"),
	CFG_CASES(split_order, "an I/O split into several FUSE requests: the async path sends all "
		  "at once and completes once after the last, released out of order; sync in turn"),
	CFG_CASES(extending, "writes past EOF extend the file and the kernel's i_size; an "
		  "extending async write completes synchronously (io->blocking)"),
	CFG_CASES(append, "O_APPEND with O_DIRECT: every route's write lands at the end of file, "
		  "whatever offset it names"),
	CFG_CASES(fsync_after, "fsync after direct writes sends FUSE_FSYNC and returns its result; "
		  "the data is in the backing file"),
	CFG_CASES(close_in_flight, "close with an I/O in flight returns at once; the I/O completes "
		  "and FUSE_RELEASE comes only after it"),
	CFG_CASES(efault, "an unmapped buffer fails with EFAULT before any request reaches the "
		  "server (io_uring: at buffer registration)"),
#define URING_SHORT_RETRY(fn, what, open_facts) \
	CHECK_CASE(fn, "io_uring on FOPEN_DIRECT_IO with async DIO off: a short " what \
		   " is retried from where it ended (fuse_direct_IO must advance ki_pos)", \
		   .mount_opts = "dio=all,async_dio=0", .facts = "route=io_uring " open_facts)
	URING_SHORT_RETRY(uring_short_retry_read, "read (at EOF, mid-file)", "io=read o_direct=no"),
	URING_SHORT_RETRY(uring_short_retry_read_odirect, "O_DIRECT read (at EOF, mid-file)",
			  "io=read o_direct=yes"),
	URING_SHORT_RETRY(uring_short_retry_write, "write", "io=write o_direct=no"),
	URING_SHORT_RETRY(uring_short_retry_write_odirect, "O_DIRECT write",
			  "io=write o_direct=yes"),
#define URING_FPOS(fn, what, open_facts) \
	CHECK_CASE(fn, "io_uring on FOPEN_DIRECT_IO with async DIO off: " what " at offset -1 " \
		   "advances the file position (fuse_direct_IO must advance ki_pos)", \
		   .mount_opts = "dio=all,async_dio=0", .facts = "route=io_uring " open_facts)
	URING_FPOS(uring_fpos_read, "a read", "io=read o_direct=no"),
	URING_FPOS(uring_fpos_read_odirect, "an O_DIRECT read", "io=read o_direct=yes"),
	CHECK_CASE(aio_buffered_open, "AIO on FOPEN_DIRECT_IO opened without O_DIRECT: async "
		   "(io_submit returns while held) from 6.13, synchronous before",
		   .mount_opts = "dio=all,async_dio=1"),
	CHECK_CASE(aio_destroy_in_flight, "io_destroy with a request held waits for it; the read "
		   "still completes into the buffer", .mount_opts = "dio=all,async_dio=1"),
	CHECK_CASE(uring_exit_in_flight, "io_uring_queue_exit with a request held returns at once; "
		   "the request completes later and the file is released after it",
		   .mount_opts = "dio=all,async_dio=1"),
	CHECK_CASE(signal_sync_read, "a signal to a thread in a held synchronous pread sends "
		   "FUSE_INTERRUPT; diofs answers EINTR and pread fails with EINTR",
		   .mount_opts = "dio=all,async_dio=1"),
	CHECK_CASE(signal_async_wait, "a pread on the a_ops async path waits uninterruptibly "
		   "(wait_for_completion): a signal does not end it, release does",
		   .mount_opts = "dio=none,async_dio=1"),
	CHECK_CASE(map_write_dio_read, "stores through a MAP_SHARED mapping of an FOPEN_DIRECT_IO "
		   "file (no msync) are what a direct read returns (DIRECT_IO_ALLOW_MMAP, 6.6+)",
		   .mount_opts = "dio=all"),
	CHECK_CASE(dio_write_map_read, "an O_DIRECT write under a MAP_SHARED mapping of an "
		   "FOPEN_DIRECT_IO file is what the mapping shows next (DIRECT_IO_ALLOW_MMAP, 6.6+)",
		   .mount_opts = "dio=all"),
	{ NULL },
};

const struct check_suite check_suite_completion = {
	.name = "completion",
	.cases = cases,
};
