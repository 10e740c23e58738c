/* The stacked probe (see stacked.h). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/stacked.h"
#include "harness/pattern.h"
#include "harness/pins.h"
#include "harness/proc.h"
#include "harness/stack.h"
#include "proto/errnames.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILE_SEED 51    /* the upper file's data */
#define WFILE_SEED 54   /* the file the write overwrites */
#define WRITE_SEED 52   /* what the held write writes */
#define BLOCKDEV_WOFF (1 << 20) /* the device's "second file" */
#define NEW_SEED 53     /* the memory mapped where the buffer was */
#define PAGE 4096u
#define SECTOR 512u     /* the finest a filesystem places data on the device:
			 * the unit data is searched and identified by (the
			 * pattern differs at every offset) */
#define RETURN_TIMEOUT_MS 10000
#define TRIGGER "trigger"

/* Small images: every mkfs here makes one in a blink, and the TCG guests
 * of the kernel matrix keep them in RAM.  The sizes are each tool's
 * minimum or 64 MiB. */
const struct stk_target stk_targets[] = {
	{ "blockdev", NULL, { NULL }, NULL, 64, false },
	{ "ext4", "ext4", { "mkfs.ext4", "-q", "-F" }, NULL, 64, false },
	{ "ext2", "ext2", { "mkfs.ext2", "-q", "-F" }, NULL, 64, false },
	{ "xfs", "xfs", { "mkfs.xfs", "-q", "-f" }, NULL, 300, false },
	{ "btrfs", "btrfs", { "mkfs.btrfs", "-q", "-f" }, NULL, 128, false },
	{ "f2fs", "f2fs", { "mkfs.f2fs", "-q", "-f" }, NULL, 64, false },
	{ "vfat", "vfat", { "mkfs.vfat" }, NULL, 64, false },
	{ "exfat", "exfat", { "mkfs.exfat" }, NULL, 64, false },
	{ "udf", "udf", { "mkfs.udf" }, NULL, 64, false },
	{ "hfsplus", "hfsplus", { "mkfs.hfsplus" }, NULL, 64, false },
	{ "jfs", "jfs", { "mkfs.jfs", "-q" }, NULL, 64, false },
	{ "nilfs2", "nilfs2", { "mkfs.nilfs2", "-q", "-f", "-B", "16" }, NULL, 64, false },
	{ "ntfs3", "ntfs3", { "mkfs.ntfs", "-Q", "-F", "-q" }, NULL, 64, false },
	/* read-only, made from a directory holding the file; stored
	 * uncompressed so that its data can be found in the image */
	{ "erofs", "erofs", { "mkfs.erofs", "@IMG", "@SRC" }, NULL, 64, true },
	{ "squashfs", "squashfs", { "mksquashfs", "@SRC", "@IMG", "-noappend", "-noI", "-noD",
				    "-noF", "-no-fragments", "-no-xattrs", "-quiet" }, NULL, 64, true },
};
const size_t stk_ntargets = sizeof(stk_targets) / sizeof(*stk_targets);

static const char *const state_names[] = {
	[STK_PINNED] = "pinned", [STK_REFS] = "references", [STK_BUFFERED] = "buffered",
	[STK_NOT_HELD] = "not-held", [STK_NO_ODIRECT] = "no-odirect",
	[STK_UNAVAILABLE] = "unavailable", [STK_ERROR] = "error",
};

const char *stk_state_name(enum stk_state s)
{
	return state_names[s];
}

const char *stk_unavailable(void)
{
	static char why[160];
	const char *no = diofs_stack_unavailable();

	if (no)
		return no;
	no = pins_unavailable();
	if (no) {
		snprintf(why, sizeof(why), "pins cannot be counted exactly: %s", no);
		return why;
	}
	if (sysconf(_SC_PAGESIZE) != PAGE) {
		snprintf(why, sizeof(why), "page size %ld, the figures assume 4096",
			 sysconf(_SC_PAGESIZE));
		return why;
	}
	return NULL;
}

/* ---- one probe's context --------------------------------------------- */

struct probe {
	struct diofs_stack s;
	struct diofsctl *ctl;
	char file[PATH_MAX];    /* the upper file read, or the loop device */
	int fd;                 /* it, O_RDWR | O_DIRECT */
	char wfile[PATH_MAX];   /* the file written (the device at BLOCKDEV_WOFF) */
	int wfd;
	off_t woff;
	uint64_t wphys;         /* where its data lives in the image */
	char *buf;              /* STK_LEN, page aligned */
	struct stk_report *r;
};

static void say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* Write a file on the upper filesystem (the device itself at off) with
 * pattern seed and put it on disk, then empty its page cache so that a
 * direct read finds none. */
static int make_file(const char *path, off_t off, unsigned int seed, char *why, size_t len)
{
	char *data = malloc(STK_LEN);
	int fd, ret = -1;

	if (!data)
		return say(why, len, "out of memory"), -1;
	pattern_fill(data, STK_LEN, 0, seed);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || pwrite(fd, data, STK_LEN, off) != STK_LEN || fsync(fd) < 0 || syncfs(fd) < 0) {
		say(why, len, "writing %s: %s", path, strerror(errno));
		goto out;
	}
	posix_fadvise(fd, off, STK_LEN, POSIX_FADV_DONTNEED);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(data);
	return ret;
}

/* The directory a read-only filesystem is made from: the file to read. */
static int populate(const char *dir, void *arg)
{
	char path[PATH_MAX], why[PATH_MAX + 64];

	(void)arg;
	snprintf(path, sizeof(path), "%s/f", dir);
	return make_file(path, 0, FILE_SEED, why, sizeof(why));
}

/* Where in the image the file's first sector lives.  (Not the first
 * page: with 1 KiB blocks its blocks need not be adjacent.) */
static int find_phys(struct probe *p, unsigned int seed, uint64_t *phys, char *why, size_t len)
{
	uint8_t first[SECTOR];

	pattern_fill(first, SECTOR, 0, seed);
	if (diofs_stack_locate(&p->s, first, SECTOR, phys, why, len) < 0)
		return -1;
	return 0;
}

/* Is the held request ours?  After completion, the image at its offset
 * holds a sector of the data of the I/O (seed). */
static bool held_is_ours(struct probe *p, uint64_t off, unsigned int seed)
{
	uint8_t got[SECTOR], want[SECTOR];
	int fd = open(p->s.image_backing, O_RDONLY | O_CLOEXEC);
	bool ours = false;

	if (fd < 0)
		return false;
	if (pread(fd, got, SECTOR, (off_t)off) == SECTOR)
		for (uint64_t k = 0; k < STK_LEN && !ours; k += SECTOR) {
			pattern_fill(want, SECTOR, k, seed);
			ours = !memcmp(got, want, SECTOR);
		}
	close(fd);
	return ours;
}

/* Pages of the file's range in the page cache (a direct I/O keeps none
 * there while in flight); -1 if it cannot be told. */
static long cached_pages(const char *path, off_t off)
{
	unsigned char vec[STK_LEN / PAGE];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *map;
	long n = 0;

	if (fd < 0)
		return -1;
	map = mmap(NULL, STK_LEN, PROT_READ, MAP_SHARED, fd, off);
	close(fd);
	if (map == MAP_FAILED)
		return -1;
	if (mincore(map, STK_LEN, vec) < 0)
		n = -1;
	for (size_t i = 0; n >= 0 && i < sizeof(vec); i++)
		n += vec[i] & 1;
	munmap(map, STK_LEN);
	return n;
}

/* The held entry with id, for its offset and size. */
static int held_entry(struct diofsctl *ctl, uint64_t id, struct diofs_held *out)
{
	struct diofs_held list[64];
	int n = diofsctl_held(ctl, 0, 0, list, 64);

	for (int i = 0; i < n && i < 64; i++)
		if (list[i].id == id) {
			*out = list[i];
			return 0;
		}
	return -1;
}

/* A hold rule on the image, only at offset off if off >= 0; its id or -1. */
static int hold_rule(struct probe *p, bool write, int64_t off)
{
	if (off >= 0)
		return diofsctl_rule_add(p->ctl, "hold op=%s path=%s offset=%" PRId64 "-%" PRId64,
					 write ? "write" : "read", DIOFS_STACK_IMAGE, off, off);
	return diofsctl_rule_add(p->ctl, "hold op=%s path=%s", write ? "write" : "read",
				 DIOFS_STACK_IMAGE);
}

/* Drop the rule, then let everything held go: the held request and any
 * the same I/O sent after it (the loop driver without direct I/O reads
 * page by page). */
static void unhold(struct probe *p, int rule, const char *how)
{
	if (rule >= 0)
		diofsctl_rule_del(p->ctl, rule);
	diofsctl_release(p->ctl, 0, how);
}

enum attempt_outcome { AT_DONE, AT_NOT_HELD, AT_NOT_OURS, AT_FAILED };

/* One held read or write of the whole buffer at file offset 0.  Figures
 * into *a. */
struct attempt {
	int64_t held, after;
	int64_t acquired, released;     /* while held */
	uint64_t off, size;
	long cached;
};

static enum attempt_outcome attempt_once(struct probe *p, bool write, int64_t off,
					 struct attempt *a, char *why, size_t len)
{
	struct dio io = { .route = ROUTE_PREAD, .dir = write ? IO_WRITE : IO_READ,
			  .fd = write ? p->wfd : p->fd, .buf = p->buf, .len = STK_LEN,
			  .off = write ? p->woff : 0, .indirect = true },
		*ios[1] = { &io };
	struct pin_counts before, held, after;
	struct diofs_held h = { 0 };
	uint64_t id;
	int rule;

	if (write)
		pattern_fill(p->buf, STK_LEN, 0, WRITE_SEED);
	else
		memset(p->buf, 0x5a, STK_LEN);
	rule = hold_rule(p, write, off);
	if (rule < 0) {
		say(why, len, "rule add: %s", diofsctl_error(p->ctl));
		return AT_FAILED;
	}
	if (dio_prepare(&io, why, len) < 0 || pw_sample(&before, why, len) < 0 ||
	    dio_start(&io, why, len) < 0) {
		unhold(p, rule, "errno=EIO");
		dio_cleanup(&io);
		return AT_FAILED;
	}
	if (pw_wait_held(p->ctl, DIOFS_STACK_IMAGE, 1, &id, PW_HELD_TIMEOUT_MS, ios, 1, why,
			 len) < 0) {
		/* returned before being held, or nothing held in time */
		bool returned = dio_poll(&io, NULL);

		unhold(p, rule, "errno=EIO");
		dio_join(&io);
		dio_cleanup(&io);
		if (returned && io.ret == STK_LEN)
			return AT_NOT_HELD;     /* done without diofs holding it */
		return AT_FAILED;       /* why: pw_wait_held's */
	}
	pw_sample(&held, why, len);
	a->cached = write ? cached_pages(p->wfile, p->woff) : cached_pages(p->file, 0);
	held_entry(p->ctl, id, &h);
	unhold(p, rule, NULL);
	dio_join(&io);
	pw_sample(&after, why, len);
	dio_cleanup(&io);
	a->held = pw_inflight_delta(&before, &held);
	a->after = pw_inflight_delta(&before, &after);
	a->acquired = (int64_t)(held.acquired - before.acquired);
	a->released = (int64_t)(held.released - before.released);
	a->off = h.off;
	a->size = h.size;
	if (io.ret != STK_LEN) {
		say(why, len, "the held O_DIRECT %s returned %zd%s%s", write ? "write" : "read",
		    io.ret, io.ret < 0 ? " " : "", io.ret < 0 ? errno_name(io.err) : "");
		return AT_FAILED;
	}
	if (!write && pw_pages_matching(p->buf, STK_LEN, 0, FILE_SEED) != STK_LEN / PAGE) {
		say(why, len, "the held read returned its count, but %zu of %u pages hold the "
		    "file's data", pw_pages_matching(p->buf, STK_LEN, 0, FILE_SEED), STK_LEN / PAGE);
		return AT_FAILED;
	}
	return held_is_ours(p, h.off, write ? WRITE_SEED : FILE_SEED) ? AT_DONE : AT_NOT_OURS;
}

/* Measure a held read or write until the pins in flight while held are
 * told apart from other activity: the same value in two attempts, and
 * balanced after completion in one.  The value need not be the pages:
 * fewer when a filesystem that maps blocks as it goes (ext2's indirect
 * blocks) has submitted only the first bios while the first is held; more
 * when an extent ends inside a page, which two bios then pin (one pin per
 * bio; at most one per sector). */
static void measure(struct probe *p, bool write, struct stk_io *m)
{
	int64_t pages = STK_LEN / PAGE, hits[STK_LEN / SECTOR + 1] = { 0 };
	struct attempt prev = { .after = 0 };
	/* in place first; a write that goes elsewhere (copy on write) is
	 * then held on the image wherever it goes */
	int64_t off = (int64_t)(write ? p->wphys : p->r->phys);
	bool balanced = false, any = false;
	size_t at = 0;
	int tries = pw_attempts();

	memset(m, 0, sizeof(*m));
	m->state = STK_ERROR;
	for (int i = 0; i < tries; i++) {
		struct attempt a = { 0 };
		enum attempt_outcome o = attempt_once(p, write, off, &a, m->why, sizeof(m->why));
		int n;

		m->attempts = i + 1;
		if (o == AT_FAILED)
			return;
		if (o == AT_NOT_HELD) {
			if (write && off >= 0) {
				off = -1;
				continue;
			}
			m->state = STK_NOT_HELD;
			say(m->why, sizeof(m->why), "the O_DIRECT %s completed without a request "
			    "of it reaching diofs", write ? "write" : "read");
			return;
		}
		n = snprintf(m->figures + at, sizeof(m->figures) - at, "%s%+" PRId64 "/%+" PRId64
			     "%s", at ? "; " : "", a.held, a.after, o == AT_NOT_OURS ? " not ours" : "");
		if (n > 0 && (size_t)n < sizeof(m->figures) - at)
			at += (size_t)n;
		if (o == AT_NOT_OURS)
			continue;
		int64_t ours = a.after == 0 ? a.held : a.held - a.after;
		bool plausible = ours >= 0 && ours <= (int64_t)(STK_LEN / SECTOR);
		if (!any || plausible) {
			m->held_off = a.off;
			m->held_size = a.size;
			m->cached = a.cached > 0 ? (size_t)a.cached : 0;
			any = true;
		}
		/* Unbalanced, the same way twice running, with pins acquired
		 * while held: pinned, by pins the counters do not all see */
		if (a.after != 0 && prev.after == a.after && prev.held == a.held &&
		    a.acquired >= pages && prev.acquired == a.acquired) {
			m->state = STK_PINNED;
			m->unbalanced = true;
			m->pins_held = a.held;
			m->pins_after = a.after;
			m->acquired = a.acquired;
			m->released = a.released;
			m->held_off = a.off;
			m->held_size = a.size;
			m->cached = a.cached > 0 ? (size_t)a.cached : 0;
			m->why[0] = '\0';
			return;
		}
		prev = a;
		balanced |= a.after == 0;
		if (plausible && ++hits[ours] >= 2 && balanced) {
			m->pins_held = ours;
			m->pins_after = 0;
			m->acquired = a.acquired;
			m->released = a.released;
			if (m->cached)
				m->state = STK_BUFFERED;
			else
				m->state = ours > 0 ? STK_PINNED : STK_REFS;
			m->why[0] = '\0';
			return;
		}
	}
	say(m->why, sizeof(m->why), any ? "pins in flight never settled (held/after per attempt: "
	    "%s)" : "no held request was the I/O's own (%s)", m->figures);
}

/* munmap the buffer while a read is held, map anonymous memory at the
 * same address and fill it: where does the data go, and do the old pages
 * stay pinned? */
static int munmap_held(struct probe *p, char *why, size_t len)
{
	struct stk_report *r = p->r;
	char *buf = mmap(NULL, STK_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct dio io = { .route = ROUTE_PREAD, .fd = p->fd, .len = STK_LEN, .indirect = true },
		*ios[1] = { &io };
	struct pin_counts before, mid, after;
	void *nm = MAP_FAILED;
	uint64_t id;
	int rule, ret = -1;

	if (buf == MAP_FAILED)
		return say(why, len, "mmap: %s", strerror(errno)), -1;
	memset(buf, 0x5a, STK_LEN);
	io.buf = buf;
	rule = hold_rule(p, false, (int64_t)r->phys);
	if (rule < 0 || dio_prepare(&io, why, len) < 0 || pw_sample(&before, why, len) < 0 ||
	    dio_start(&io, why, len) < 0)
		goto out;
	if (pw_wait_held(p->ctl, DIOFS_STACK_IMAGE, 1, &id, PW_HELD_TIMEOUT_MS, ios, 1, why,
			 len) < 0)
		goto out;
	munmap(buf, STK_LEN);
	nm = mmap(buf, STK_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		  -1, 0);
	if (nm != MAP_FAILED)
		pattern_fill(nm, STK_LEN, 0, NEW_SEED);
	pw_sample(&mid, why, len);
	unhold(p, rule, NULL);
	rule = -1;
	dio_join(&io);
	pw_sample(&after, why, len);
	r->munmap_done = true;
	r->munmap_ret = io.ret;
	/* ours after the munmap: against before, or against after completion
	 * when other activity moved the counters in between */
	r->munmap_pins = pw_inflight_delta(&before, &mid);
	if (pw_inflight_delta(&before, &after) != 0)
		r->munmap_pins = pw_inflight_delta(&after, &mid);
	r->munmap_new_intact = nm != MAP_FAILED &&
		pw_pages_matching(nm, STK_LEN, 0, NEW_SEED) == STK_LEN / PAGE;
	ret = 0;
out:
	unhold(p, rule, "errno=EIO");
	dio_cleanup(&io);
	munmap(nm != MAP_FAILED ? nm : buf, STK_LEN);
	return ret;
}

/* diofs aborts its connection (a read of another file sets it off) while
 * the upper read is held: the read must fail, and return. */
static int abort_held(struct probe *p, char *why, size_t len)
{
	struct stk_report *r = p->r;
	struct dio io = { .route = ROUTE_PREAD, .fd = p->fd, .buf = p->buf, .len = STK_LEN,
			  .indirect = true }, *ios[1] = { &io };
	int tfd = open(diofs_backing_path(&p->s.mount, TRIGGER), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	char c;
	uint64_t id;
	int64_t deadline;
	int ret = -1;

	if (tfd < 0 || pwrite(tfd, "x", 1, 0) != 1)
		return say(why, len, "trigger file: %s", strerror(errno)), -1;
	close(tfd);
	if (hold_rule(p, false, (int64_t)r->phys) < 0 ||
	    diofsctl_rule_add(p->ctl, "abort op=read path=/" TRIGGER) < 0) {
		say(why, len, "rule add: %s", diofsctl_error(p->ctl));
		return -1;
	}
	if (dio_prepare(&io, why, len) < 0 || dio_start(&io, why, len) < 0)
		goto out;
	if (pw_wait_held(p->ctl, DIOFS_STACK_IMAGE, 1, &id, PW_HELD_TIMEOUT_MS, ios, 1, why,
			 len) < 0) {
		unhold(p, -1, "errno=EIO");
		goto out;
	}
	tfd = open(diofs_mnt_path(&p->s.mount, TRIGGER), O_RDONLY | O_CLOEXEC);
	if (tfd >= 0) {
		if (read(tfd, &c, 1) >= 0) {
			say(why, len, "the read of /%s did not make diofs abort", TRIGGER);
			close(tfd);
			unhold(p, -1, "errno=EIO");
			goto out;
		}
		close(tfd);
	}
	/* a bounded wait for the held read to come back with its error */
	deadline = diofs_now_ms() + RETURN_TIMEOUT_MS;
	while (!dio_poll(&io, NULL) && diofs_now_ms() < deadline) {
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
	}
	r->abort_done = true;
	r->abort_returned = dio_poll(&io, NULL);
	if (!r->abort_returned) {
		say(why, len, "the held upper read did not return within %d s of diofs aborting",
		    RETURN_TIMEOUT_MS / 1000);
		/* the teardown stops the daemon; the read is then failed */
		return -1;
	}
	dio_join(&io);
	r->abort_ret = io.ret;
	r->abort_err = io.err;
	ret = 0;
out:
	dio_cleanup(&io);
	return ret;
}

static double seconds_since(int64_t start)
{
	return (double)(diofs_now_ms() - start) / 1000.0;
}

static void unavailable(struct stk_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void unavailable(struct stk_report *r, const char *fmt, ...)
{
	va_list ap;

	r->state = STK_UNAVAILABLE;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

void stk_probe(const struct stk_target *t, bool loop_dio, struct stk_report *r)
{
	struct diofs_stack_opts o = {
		.fstype = t->fstype, .mkfs = t->fstype ? t->mkfs : NULL,
		.mount_data = t->mount_data, .image_size = (uint64_t)t->size_mib << 20,
		/* no atime or timestamp writes of their own during a hold */
		.mount_flags = MS_NOATIME | MS_LAZYTIME, .loop_dio = loop_dio,
		.populate = t->from_dir ? populate : NULL,
	};
	struct probe p = { .fd = -1, .wfd = -1, .r = r };
	int64_t start = diofs_now_ms();
	char tool[PATH_MAX], why[512];
	int rule;
	const char *no = stk_unavailable();

	memset(r, 0, sizeof(*r));
	r->t = t;
	r->loop_dio_asked = loop_dio;
	r->pages = STK_LEN / PAGE;
	r->state = STK_ERROR;
	if (no)
		return unavailable(r, "%s", no);
	if (t->fstype && !diofs_stack_fs_supported(t->fstype))
		return unavailable(r, "no kernel support (%s is not in /proc/filesystems%s)",
				   t->fstype, diofs_stack_find_tool("modprobe", tool, sizeof(tool)) ?
				   ", modprobe did not add it" : "");
	if (t->fstype && !diofs_stack_find_tool(t->mkfs[0], tool, sizeof(tool)))
		return unavailable(r, "no mkfs (%s is not installed)", t->mkfs[0]);
	if (diofs_stack_start(&p.s, &o, why, sizeof(why)) < 0) {
		if (p.s.stage == STACK_MKFS || p.s.stage == STACK_MOUNT)
			unavailable(r, "%s: %s", p.s.stage == STACK_MKFS ? "mkfs failed" :
				    "mount failed", why);
		else
			snprintf(r->why, sizeof(r->why), "stacking: %.480s", why);
		return;
	}
	r->loop_dio = p.s.loop_dio;
	p.ctl = diofsctl_connect(p.s.mount.ctl, why, sizeof(why));
	if (!p.ctl) {
		snprintf(r->why, sizeof(r->why), "control connection: %.480s", why);
		goto out;
	}
	if (posix_memalign((void **)&p.buf, PAGE, STK_LEN)) {
		snprintf(r->why, sizeof(r->why), "out of memory");
		goto out;
	}
	if (t->fstype) {
		snprintf(p.file, sizeof(p.file), "%s/f", p.s.upper);
		snprintf(p.wfile, sizeof(p.wfile), "%s/w", p.s.upper);
	} else {
		snprintf(p.file, sizeof(p.file), "%s", p.s.loop_dev);
		snprintf(p.wfile, sizeof(p.wfile), "%s", p.s.loop_dev);
		p.woff = BLOCKDEV_WOFF;
	}
	/* the files (a read-only filesystem has its file already), opened
	 * O_DIRECT, and where their data lives in the image */
	if (!t->from_dir && (make_file(p.file, 0, FILE_SEED, r->why, sizeof(r->why)) < 0 ||
			     make_file(p.wfile, p.woff, WFILE_SEED, r->why, sizeof(r->why)) < 0))
		goto out;
	p.fd = open(p.file, (t->from_dir ? O_RDONLY : O_RDWR) | O_DIRECT | O_CLOEXEC);
	if (p.fd >= 0 && !t->from_dir)
		p.wfd = open(p.wfile, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (p.fd < 0 || (!t->from_dir && p.wfd < 0)) {
		if (errno == EINVAL) {
			r->state = STK_NO_ODIRECT;
			snprintf(r->why, sizeof(r->why), "open(O_DIRECT): EINVAL");
		} else {
			snprintf(r->why, sizeof(r->why), "open %.300s: %s", p.file, strerror(errno));
		}
		goto out;
	}
	if (find_phys(&p, FILE_SEED, &r->phys, r->why, sizeof(r->why)) < 0 ||
	    (!t->from_dir && find_phys(&p, WFILE_SEED, &p.wphys, r->why, sizeof(r->why)) < 0))
		goto out;
	measure(&p, false, &r->read);
	r->state = r->read.state;
	snprintf(r->why, sizeof(r->why), "%s", r->read.why);
	if (r->state == STK_ERROR || r->state == STK_NOT_HELD)
		goto out;
	/* the read was held: the process stories, then the write */
	rule = hold_rule(&p, false, (int64_t)r->phys);
	if (rule < 0)
		snprintf(r->step_why, sizeof(r->step_why), "rule add: %s", diofsctl_error(p.ctl));
	else if (pw_fork_read_io(p.ctl, DIOFS_STACK_IMAGE, &(struct dio){ .route = ROUTE_PREAD,
				 .fd = p.fd, .buf = p.buf, .len = STK_LEN, .indirect = true },
				 FILE_SEED, &r->fork, why, sizeof(why)) == 0)
		r->fork_done = true;
	else
		snprintf(r->step_why, sizeof(r->step_why), "fork: %.480s", why);
	unhold(&p, rule, "errno=EIO");
	if (munmap_held(&p, why, sizeof(why)) < 0 && !r->step_why[0])
		snprintf(r->step_why, sizeof(r->step_why), "munmap: %.480s", why);
	if (t->from_dir) {
		r->write.state = STK_UNAVAILABLE;
		snprintf(r->write.why, sizeof(r->write.why), "read-only filesystem");
	} else {
		measure(&p, true, &r->write);
	}
	if (abort_held(&p, why, sizeof(why)) < 0 && !r->step_why[0])
		snprintf(r->step_why, sizeof(r->step_why), "abort: %.480s", why);
out:
	if (p.fd >= 0)
		close(p.fd);
	if (p.wfd >= 0)
		close(p.wfd);
	if (p.ctl)
		diofsctl_close(p.ctl);
	diofs_stack_stop(&p.s);
	free(p.buf);
	r->seconds = seconds_since(start);
}

void stk_format(const struct stk_report *r, char *buf, size_t len)
{
	size_t at = 0;
	int n;

#define PUT(...) do {                                                          \
	n = snprintf(buf + at, at < len ? len - at : 0, __VA_ARGS__);           \
	if (n > 0)                                                              \
		at += (size_t)n;                                                \
} while (0)
	PUT("%-8s loop-dio=%s%s %-11s", r->t->name, r->loop_dio_asked ? "on " : "off",
	    r->loop_dio != r->loop_dio_asked && r->state <= STK_NO_ODIRECT ? "(driver: off)" : "",
	    stk_state_name(r->state));
	if (r->state == STK_PINNED || r->state == STK_REFS || r->state == STK_BUFFERED) {
		PUT(" read %" PRIu64 "@%" PRIu64 " held, %+" PRId64 " pins in flight", r->read.held_size,
		    r->read.held_off, r->read.pins_held);
		if (r->read.unbalanced)
			PUT(" (%+" PRId64 " acquired, %+" PRId64 " released while held; %+" PRId64
			    " after completion: counters unbalanced)", r->read.acquired,
			    r->read.released, r->read.pins_after);
		if (r->read.cached)
			PUT(" (%zu pages in the page cache)", r->read.cached);
		if (r->fork_done)
			PUT("; fork: parent kept %zu of %zu pages, child got %zu", r->fork.parent_kept,
			    r->fork.pages, r->fork.child_got);
		if (r->munmap_done)
			PUT("; munmap: %+" PRId64 " pins, new memory %s", r->munmap_pins,
			    r->munmap_new_intact ? "intact" : "overwritten");
		if (r->write.state == STK_PINNED || r->write.state == STK_REFS ||
		    r->write.state == STK_BUFFERED) {
			PUT("; write %s %" PRIu64 "@%" PRIu64 ", %+" PRId64 " pins",
			    stk_state_name(r->write.state), r->write.held_size, r->write.held_off,
			    r->write.pins_held);
			if (r->write.unbalanced)
				PUT(" (%+" PRId64 " after completion: counters unbalanced)",
				    r->write.pins_after);
		} else {
			PUT("; write %s: %s", stk_state_name(r->write.state), r->write.why);
		}
		if (r->abort_done)
			PUT("; abort: %s", !r->abort_returned ? "read hung" : r->abort_ret < 0 ?
			    errno_name(r->abort_err) : "read succeeded");
		if (r->step_why[0])
			PUT("; %s", r->step_why);
	} else {
		PUT(" %s", r->why);
	}
	PUT(" (%.1f s)", r->seconds);
#undef PUT
}
