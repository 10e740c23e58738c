/* lifetime: user memory changing under a direct I/O that diofs holds.
 *
 * For each buffer kind (buffers.h) and each direction, a request is held
 * in diofs and, while it is in flight, the buffer is unmapped (and new
 * memory mapped, anywhere or MAP_FIXED at the same address), madvised
 * away, moved, protected, or half unmapped; then the request is released.
 * Every case checks the call's result, where the data went, and the pins:
 * in flight while held (the request's pages on a converted kernel, none
 * before 6.9), still in flight after the change, back to where they were
 * after completion.  The counters are machine-wide: an attempt whose pin
 * figures other activity disturbed is repeated (pw_attempts()), and the
 * failure gives every attempt's figures.
 *
 * The process cases (fork, a child exiting, diofs aborting or dying) are in
 * suite_lifetime_proc.c; pin accounting per route is suite pins. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/premise.h"
#include "check/suite_lifetime.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- shared with the other lifetime files and suite pins --------------- */

void lt_require_premises(void)
{
	const char *why = pins_unavailable();

	if (why)
		SKIP("pins cannot be counted exactly: %s", why);
	PREMISE_REQUIRE(premise_max_pages, NULL, LT_LEN);
}

static char expect_why[128];
static int expect_conv = -1;

bool lt_converted(void)
{
	if (expect_conv < 0)
		expect_conv = pw_expect_converted(expect_why, sizeof(expect_why));
	return expect_conv;
}

const char *lt_expect_why(void)
{
	lt_converted();
	return expect_why;
}

unsigned int lt_failures(void)
{
	return test_failures();
}

int lt_open(const char *name, int flags)
{
	return REQUIRE_OK(open(check_path(name), flags | O_CLOEXEC));
}

void lt_check_file(const char *name, off_t off, size_t len, uint64_t foff, unsigned int seed)
{
	const char *backing = check_backing_path(name);
	char what[160];
	char *buf = check_buf_alloc(len, 0);
	int fd = backing ? open(backing, O_RDONLY | O_CLOEXEC)
			 : open(check_path(name), O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		CHECK_FAILF("open %s: %s", backing ? backing : check_path(name), strerror(errno));
		check_buf_free(buf);
		return;
	}
	n = pread(fd, buf, len, off);
	close(fd);
	snprintf(what, sizeof(what), "the file %s at %jd", name, (intmax_t)off);
	if (n != (ssize_t)len)
		CHECK_FAILF("%s: read %zd of %zu bytes", what, n, len);
	else
		expect_pattern(buf, len, foff, seed, what, __FILE__, __LINE__);
	check_buf_free(buf);
}

void lt_check_zeros(const void *buf, size_t len, const char *what)
{
	const uint8_t *b = buf;
	size_t bad = 0, first = 0;

	for (size_t i = 0; i < len; i++)
		if (b[i] && !bad++)
			first = i;
	if (bad)
		CHECK_FAILF("%s: %zu of %zu bytes are not zero; first at %zu: 0x%02x",
			    what, bad, len, first, b[first]);
	else
		CHECK_EQ(bad, 0);
}

/* ---- the races --------------------------------------------------------- */

enum race {
	RACE_MUNMAP,            /* munmap, mmap new memory anywhere, fill it */
	RACE_MUNMAP_FIXED,      /* munmap, mmap MAP_FIXED at the same address, fill it */
	RACE_DONTNEED,          /* MADV_DONTNEED */
	RACE_MREMAP,            /* mremap to a new address */
	RACE_MPROTECT,          /* mprotect(PROT_NONE), PROT_READ|WRITE after */
	RACE_MUNMAP_HALF,       /* munmap of the second half */
};

static const char *const race_names[] = {
	[RACE_MUNMAP] = "munmap, new mapping", [RACE_MUNMAP_FIXED] = "munmap, MAP_FIXED mapping",
	[RACE_DONTNEED] = "MADV_DONTNEED", [RACE_MREMAP] = "mremap",
	[RACE_MPROTECT] = "mprotect(PROT_NONE)", [RACE_MUNMAP_HALF] = "munmap of half",
};

#define FILE_SEED 11    /* the file's data */
#define NEW_SEED 12     /* the new mapping's pattern */
#define BUF_SEED 13     /* the buffer's own content */
#define OLD_SEED 14     /* what the file held before a write */

/* Pins in flight, relative to before, at each instant of one attempt. */
struct race_figures {
	int64_t held, mid, after;
};

static void format_figures(const struct race_figures *f, int n, char *buf, size_t len)
{
	size_t at = 0;
	int k = snprintf(buf, len, "pins in flight per attempt, while held / after the change / "
			 "after completion:");

	if (k < 0 || (size_t)k >= len)
		return;
	at = (size_t)k;
	for (int i = 0; i < n && at < len; i++) {
		k = snprintf(buf + at, len - at, "%s %+" PRId64 "/%+" PRId64 "/%+" PRId64,
			     i ? ";" : "", f[i].held, f[i].mid, f[i].after);
		if (k < 0)
			break;
		at += (size_t)k;
	}
}

/* One attempt: 0 done (figures in *fig), 1 skip (why), -1 failed (recorded). */
static int race_once(bool write, enum race race, enum buf_kind kind, struct race_figures *fig,
		     char *why, size_t whylen)
{
	struct pin_counts before, held, mid, after;
	struct buf b;
	struct dio io = { .route = ROUTE_PREAD, .dir = write ? IO_WRITE : IO_READ, .len = LT_LEN },
		*ios[1] = { &io };
	char *nm = MAP_FAILED;
	char err[512];
	uint64_t id;
	int fd, r, rr = 0, rule;

	/* the file first: through a mount (--mount) its writes would be held */
	check_file_create("f", LT_LEN, write ? OLD_SEED : FILE_SEED);
	r = buf_new(&b, kind, LT_LEN, BUF_SEED, why, whylen);
	if (r)
		return r;
	rule = diofsctl_rule_add(check_ctl(), "hold op=%s path=%s", write ? "write" : "read",
				 check_fuse_path("f"));
	if (rule < 0) {
		CHECK_FAILF("rule add: %s", diofsctl_error(check_ctl()));
		buf_free(&b);
		return -1;
	}
	fd = open(check_path("f"), (write ? O_WRONLY : O_RDONLY) | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		CHECK_FAILF("open %s: %s", check_path("f"), strerror(errno));
		diofsctl_rule_del(check_ctl(), rule);
		buf_free(&b);
		return -1;
	}
	io.fd = fd;
	io.buf = b.addr;
	r = -1;
	if (dio_prepare(&io, err, sizeof(err)) < 0 || pw_sample(&before, err, sizeof(err)) < 0 ||
	    dio_start(&io, err, sizeof(err)) < 0) {
		CHECK_FAILF("%s", err);
		goto out;
	}
	if (pw_wait_held(check_ctl(), check_fuse_path("f"), 1, &id, PW_HELD_TIMEOUT_MS, ios, 1,
			 err, sizeof(err)) < 0) {
		CHECK_FAILF("%s", err);
		diofsctl_release(check_ctl(), 0, "errno=EIO");
		goto out;
	}
	pw_sample(&held, err, sizeof(err));

	/* the change, while diofs holds the request */
	switch (race) {
	case RACE_MUNMAP:
	case RACE_MUNMAP_FIXED:
		rr = buf_unmap(&b, err, sizeof(err));
		if (rr < 0)
			break;
		nm = mmap(race == RACE_MUNMAP_FIXED ? b.addr : NULL, LT_LEN, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | (race == RACE_MUNMAP_FIXED ? MAP_FIXED : 0),
			  -1, 0);
		if (nm == MAP_FAILED) {
			snprintf(err, sizeof(err), "mmap: %s", strerror(errno));
			rr = -1;
		} else {
			pattern_fill(nm, LT_LEN, 0, NEW_SEED);
		}
		break;
	case RACE_DONTNEED:
		rr = buf_madvise(&b, MADV_DONTNEED, err, sizeof(err));
		break;
	case RACE_MREMAP:
		rr = buf_mremap(&b, err, sizeof(err));
		break;
	case RACE_MPROTECT:
		rr = buf_mprotect(&b, PROT_NONE, err, sizeof(err));
		break;
	case RACE_MUNMAP_HALF:
		rr = buf_unmap_half(&b, err, sizeof(err));
		break;
	}
	if (rr < 0)
		CHECK_FAILF("%s while the %s was held (%s buffer): %s", race_names[race],
			    write ? "write" : "read", buf_kind_name(kind), err);
	pw_sample(&mid, err, sizeof(err));
	if (pw_release(check_ctl(), &id, 1, NULL, err, sizeof(err)) < 0) {
		CHECK_FAILF("%s", err);
		goto out;
	}
	dio_join(&io);
	pw_sample(&after, err, sizeof(err));
	diofsctl_rule_del(check_ctl(), rule);
	rule = -1;
	fig->held = pw_inflight_delta(&before, &held);
	fig->mid = pw_inflight_delta(&before, &mid);
	fig->after = pw_inflight_delta(&before, &after);
	r = 0;

	/* the call's result: the change never shortens it */
	if (io.ret < 0)
		CHECK_FAILF("%s while the %s was held: the %s failed with %s (%s)", race_names[race],
			    write ? "write" : "read", write ? "write" : "read",
			    strerror(io.err), buf_kind_name(kind));
	else
		CHECK_EQ(io.ret, LT_LEN);

	/* where the data went */
	if (rr == 0 && (race == RACE_MUNMAP || race == RACE_MUNMAP_FIXED)) {
		/* the new mapping keeps its own pattern byte for byte */
		expect_pattern(nm, LT_LEN, 0, NEW_SEED, race == RACE_MUNMAP_FIXED ?
			      "the MAP_FIXED mapping at the old address" : "the new mapping",
			      __FILE__, __LINE__);
		if (race == RACE_MUNMAP_FIXED)
			CHECK_EQ((uintptr_t)nm, (uintptr_t)b.addr);
	}
	if (write) {
		/* the bytes the buffer held when the write was submitted */
		lt_check_file("f", 0, LT_LEN, BUF_FILL_OFF, BUF_SEED);
	} else if (rr < 0) {
		/* recorded above: nothing to compare with */
	} else if (race == RACE_DONTNEED) {
		for (int i = 0; i < b.nparts; i++) {
			struct buf_part *p = &b.part[i];
			size_t off = (size_t)(p->addr - b.addr);

			if (p->refault == REFAULT_ZEROS)
				lt_check_zeros(p->addr, p->len, "private anonymous memory after "
					       "MADV_DONTNEED (the data went with the old page)");
			else if (p->refault == REFAULT_DATA)
				expect_pattern(p->addr, p->len, off, FILE_SEED, "shared memory after "
					      "MADV_DONTNEED (the page cache kept the data)",
					      __FILE__, __LINE__);
			else
				expect_pattern(p->addr, p->len, BUF_FILL_OFF + off, BUF_SEED,
					      "a private file mapping after MADV_DONTNEED (the "
					      "file's own bytes again)", __FILE__, __LINE__);
		}
	} else if (race == RACE_MREMAP) {
		expect_pattern(b.addr, LT_LEN, 0, FILE_SEED, "the buffer at its new address",
			      __FILE__, __LINE__);
	} else if (race == RACE_MPROTECT) {
		if (buf_mprotect(&b, PROT_READ | PROT_WRITE, err, sizeof(err)) < 0)
			CHECK_FAILF("%s", err);
		else
			expect_pattern(b.addr, LT_LEN, 0, FILE_SEED, "the buffer, protected while "
				      "held", __FILE__, __LINE__);
	} else if (race == RACE_MUNMAP_HALF) {
		expect_pattern(b.addr, LT_LEN / 2, 0, FILE_SEED, "the half left mapped",
			      __FILE__, __LINE__);
	}
out:
	if (rule >= 0)
		diofsctl_rule_del(check_ctl(), rule);
	dio_cleanup(&io);
	if (nm != MAP_FAILED)
		munmap(nm, LT_LEN);
	buf_free(&b);
	close(fd);
	return r;
}

static void race_case(bool write, enum race race, enum buf_kind kind)
{
	struct race_figures fig[PW_MAX_ATTEMPTS];
	int attempts = pw_attempts(), n = 0;
	size_t pages = LT_LEN / (size_t)sysconf(_SC_PAGESIZE);
	int64_t want = lt_user_pins(pages);
	bool held_ok[PW_MAX_ATTEMPTS], mid_ok[PW_MAX_ATTEMPTS], after_ok[PW_MAX_ATTEMPTS];
	char why[512], figs[4096];
	bool clean = false;

	lt_require_premises();
	while (n < attempts && !clean) {
		unsigned int failures = lt_failures();
		int r = race_once(write, race, kind, &fig[n], why, sizeof(why));

		if (r > 0)
			SKIP("%s", why);
		if (r < 0) {
			if (lt_failures() == failures)
				CHECK_FAILF("%s buffer: %s", buf_kind_name(kind), why);
			return;
		}
		/* ours while held: against before, or against after
		 * completion (ours are gone by then) */
		held_ok[n] = fig[n].held == want || fig[n].held - fig[n].after == want;
		mid_ok[n] = fig[n].mid == want || fig[n].mid - fig[n].after == want;
		after_ok[n] = fig[n].after == 0;
		n++;
		if (lt_failures() != failures)
			return;         /* wrong data or result: not noise */
		/* each instant on its own: noise hits one at random, the kernel
		 * every attempt */
		clean = pw_seen(held_ok, n) && pw_seen(mid_ok, n) && pw_seen(after_ok, n);
	}
	format_figures(fig, n, figs, sizeof(figs));
	if (!clean) {
		NOTE("%s", figs);    /* all of them: the failure holds 1024 bytes */
		CHECK_FAILF("pins in flight for a %zu-page %s into %s memory (%s while held): want "
			    "%+" PRId64 " while held and after the change, +0 after completion (%s), "
			    "each in one attempt at least; %s", pages, write ? "write" : "read", buf_kind_name(kind),
			    race_names[race], want, lt_expect_why(), figs);
		return;
	}
	if (!lt_converted())
		NOTE("not converted (%s): %s", lt_expect_why(), figs);
	else if (check_verbose())
		NOTE("%s", figs);
}

/* One function per direction, race and kind. */
#define LT_KINDS(X, dir, dirv, race, racev) \
	X(dir, dirv, race, racev, anon, BUF_ANON) \
	X(dir, dirv, race, racev, anon_shared, BUF_ANON_SHARED) \
	X(dir, dirv, race, racev, memfd, BUF_MEMFD) \
	X(dir, dirv, race, racev, tmpfs, BUF_TMPFS) \
	X(dir, dirv, race, racev, file_private, BUF_FILE_PRIVATE) \
	X(dir, dirv, race, racev, thp, BUF_THP) \
	X(dir, dirv, race, racev, span, BUF_SPAN)
#define LT_RACES(Y, dir, dirv) \
	Y(dir, dirv, munmap, RACE_MUNMAP) \
	Y(dir, dirv, munmap_fixed, RACE_MUNMAP_FIXED) \
	Y(dir, dirv, dontneed, RACE_DONTNEED) \
	Y(dir, dirv, mremap, RACE_MREMAP) \
	Y(dir, dirv, mprotect, RACE_MPROTECT) \
	Y(dir, dirv, munmap_half, RACE_MUNMAP_HALF)

#define LT_DEF_FN(dir, dirv, race, racev, kind, kindv) \
	static void dir##_##race##_##kind(void) { race_case(dirv, racev, kindv); }
#define LT_DEF_RACE(dir, dirv, race, racev) LT_KINDS(LT_DEF_FN, dir, dirv, race, racev)
LT_RACES(LT_DEF_RACE, read, false)
LT_RACES(LT_DEF_RACE, write, true)

#define DESC_read_munmap \
	"munmap while a read is held, new memory mapped and filled: full count, the new " \
	"mapping keeps its pattern, pins balance"
#define DESC_read_munmap_fixed \
	"munmap while a read is held, MAP_FIXED memory at the same address filled: full " \
	"count, the new mapping keeps its pattern, pins balance"
#define DESC_read_dontneed \
	"MADV_DONTNEED while a read is held: full count; private memory refaults without " \
	"the data, shared memory with it; pins balance"
#define DESC_read_mremap \
	"mremap to a new address while a read is held: the data arrives at the new " \
	"address; pins balance"
#define DESC_read_mprotect \
	"mprotect(PROT_NONE) while a read is held: the data arrives all the same; pins balance"
#define DESC_read_munmap_half \
	"munmap of half the buffer while a read is held: full count, the other half has " \
	"the data; pins balance"
#define DESC_write_munmap \
	"munmap while a write is held, new memory mapped and filled: the file gets the " \
	"bytes of submission time, the new mapping keeps its pattern, pins balance"
#define DESC_write_munmap_fixed \
	"munmap while a write is held, MAP_FIXED memory at the same address filled: the " \
	"file gets the bytes of submission time, pins balance"
#define DESC_write_dontneed \
	"MADV_DONTNEED while a write is held: the file gets the bytes of submission time; " \
	"pins balance"
#define DESC_write_mremap \
	"mremap while a write is held: the file gets the bytes of submission time; pins balance"
#define DESC_write_mprotect \
	"mprotect(PROT_NONE) while a write is held: the file gets the bytes of submission " \
	"time; pins balance"
#define DESC_write_munmap_half \
	"munmap of half the buffer while a write is held: the file gets the bytes of " \
	"submission time; pins balance"

#define LT_ENTRY(dir, dirv, race, racev, kind, kindv) \
	{ .name = #dir "_" #race "_" #kind, .fn = dir##_##race##_##kind, \
	  .desc = DESC_##dir##_##race " (" #kind ") [premises: " LT_PREMISES \
		  LT_PREMISE_##kind "]" },
#define LT_ENTRY_RACE(dir, dirv, race, racev) LT_KINDS(LT_ENTRY, dir, dirv, race, racev)
#define LT_FORK_ENTRY(nm, kind) \
	{ .name = "fork_read_" #nm, .fn = lt_fork_read_##nm, \
	  .desc = "fork while a read is held, the parent writing a byte per page: pages where " \
		  "the parent has the data (all once converted; none of the private ones " \
		  "before), pins balance (" #nm ") [premises: " LT_PREMISES LT_PREMISE_##nm "]" },

static const struct check_case cases[] = {
	LT_RACES(LT_ENTRY_RACE, read, false)
	LT_RACES(LT_ENTRY_RACE, write, true)
	LT_FORK_CASES(LT_FORK_ENTRY)
	{ .name = "child_exit_libaio", .fn = lt_child_exit_libaio,
	  .desc = "a child exits with libaio reads held (its exit waits for them): after "
		  "release it exits, nothing hangs, pins balance [premises: " LT_PREMISES
		  "; AIO available (io_setup)" LT_PREMISE_BG "]" },
	{ .name = "child_exit_uring", .fn = lt_child_exit_uring,
	  .desc = "a child exits with io_uring reads held: after release nothing hangs, "
		  "pins balance [premises: " LT_PREMISES LT_PREMISE_URING LT_PREMISE_BG "]" },
	{ .name = "abort_held", .fn = lt_abort_held,
	  .desc = "diofs aborts the connection with pread, libaio and io_uring reads held: "
		  "each gets ECONNABORTED or ENOTCONN, pins balance" },
	{ .name = "crash_held", .fn = lt_crash_held,
	  .desc = "diofs dies with pread, libaio and io_uring reads held: each gets "
		  "ECONNABORTED or ENOTCONN, pins balance [premises: " LT_PREMISES
		  "; AIO available" LT_PREMISE_URING "]" },
	{ .name = "unmount_held", .fn = lt_unmount_held,
	  .desc = "the mount is detached (umount -l) with pread, libaio and io_uring reads held, "
		  "then they are released: each completes in full, diofs exits once the file "
		  "is closed, nothing hangs, pins balance [premises: " LT_PREMISES
		  "; AIO available" LT_PREMISE_URING "]" },
#define LT_REG_DESC(what) "over io_uring, a diofs whose last CPU queue holds its registration " \
	"(-o io_uring_hold_register), two opens waiting in the kernel for the ring: " what \
	"; nothing hangs, pins balance [premises: " LT_PREMISES "; --transport uring]"
	{ .name = "kill_registering", .fn = lt_kill_registering,
	  .desc = LT_REG_DESC("diofs is killed: each fails ENOTCONN or ECONNABORTED") },
	{ .name = "abort_registering", .fn = lt_abort_registering,
	  .desc = LT_REG_DESC("the connection is aborted (fusectl): each fails ENOTCONN or "
			      "ECONNABORTED, diofs exits") },
	{ .name = "unmount_registering", .fn = lt_unmount_registering,
	  .desc = LT_REG_DESC("the mount is detached (umount -l), then registration let go: "
			      "each opens and reads in full, diofs exits once the file is "
			      "closed") },
	{ .name = "umount_idle_registering", .fn = lt_umount_idle_registering,
	  .desc = LT_REG_DESC("none started: umount(2) succeeds and diofs exits, its queue "
			      "never registering") },
#define LT_MAP_PREMISES "[premises: " LT_PREMISES "; INIT took DIRECT_IO_ALLOW_MMAP (6.6+)]"
	{ .name = "map_dest_munmap", .fn = lt_map_dest_munmap, .mount_opts = "dio=all",
	  .desc = "a held O_DIRECT read into a MAP_SHARED mapping of another diofs file, "
		  "unmapped meanwhile: pages stay pinned, the data lands in that file "
		  LT_MAP_PREMISES },
	{ .name = "map_dest_truncate", .fn = lt_map_dest_truncate, .mount_opts = "dio=all",
	  .desc = "the same, the mapped file truncated to 0 meanwhile: pins balance, the "
		  "file stays empty " LT_MAP_PREMISES },
	{ .name = "map_dest_store", .fn = lt_map_dest_store, .mount_opts = "dio=all",
	  .desc = "the same, a store through the mapping meanwhile: the read's data "
		  "overwrites it " LT_MAP_PREMISES },
	{ NULL },
};

const struct check_suite check_suite_lifetime = {
	.name = "lifetime",
	.cases = cases,
};
