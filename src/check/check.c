/* The case context and the helpers of check.h: diofs-check's fixture
 * (fixture.h).  The parent keeps the mount; each case runs in the runner's
 * child (harness/runner.h), which inherits the context, records through
 * expect.h, and tidies up after itself (case_teardown). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/check.h"
#include "check/fixture.h"
#include "check/ioengine.h"
#include "harness/mount.h"
#include "harness/proc.h"
#include "proto/errnames.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HELD_TIMEOUT_MS 10000
#define HELD_SLICE_MS 200

static struct {
	const struct fixture_config *cfg;
	bool own;                       /* we mount diofs ourselves */
	struct diofs_mount mount;       /* in a case's child: the parent's, until
					 * check_remount makes one of the child's */
	bool mounted;
	bool remounted;                 /* in a case's child: mount is its own */
	char opts[512];                 /* what it was mounted with */
	char failed_opts[512], failed_why[1024]; /* this suite's last failed mount */
	bool failed;
	char mnt[PATH_MAX];
	struct diofsctl *ctl;
	char ctl_err[256];
	char run_rel[64];               /* --mount: "/diofs-check.PID"; else "" */
	char case_rel[PATH_MAX];        /* the case's directory, from the root */
	const struct check_suite *suite;
	const struct check_case *kase;
	struct held_io *held;           /* threads not yet joined */
} ctx;

/* ---- results ---------------------------------------------------------- */

void check_ctl_failed(const char *expr, const char *file, unsigned int line, bool fatal)
{
	expect_failf(file, line, fatal, "%s: %s", expr,
		     ctx.ctl ? diofsctl_error(ctx.ctl) : ctx.ctl_err);
}

/* ---- the mount under test --------------------------------------------- */

static const char *ring_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *ring_printf(const char *fmt, ...)
{
	static __thread char ring[8][PATH_MAX];
	static __thread unsigned int next;
	char *buf = ring[next++ % 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	return buf;
}

const char *check_mnt(void)
{
	return ctx.mnt;
}

static void connect_ctl(void)
{
	if (ctx.ctl)
		return;
	if (ctx.own)
		ctx.ctl = diofsctl_connect(ctx.mount.ctl, ctx.ctl_err, sizeof(ctx.ctl_err));
	else if (ctx.cfg->socket)
		ctx.ctl = diofsctl_connect(ctx.cfg->socket, ctx.ctl_err, sizeof(ctx.ctl_err));
	else
		ctx.ctl = diofsctl_connect_mount(ctx.mnt, ctx.ctl_err, sizeof(ctx.ctl_err));
}

static void disconnect_ctl(void)
{
	if (ctx.ctl)
		diofsctl_close(ctx.ctl);
	ctx.ctl = NULL;
}

struct diofsctl *check_ctl_at(const char *file, unsigned int line)
{
	connect_ctl();
	if (!ctx.ctl)
		expect_failf(file, line, true, "no control connection to diofs: %s", ctx.ctl_err);
	return ctx.ctl;
}

/* Each returns one of 8 rotating buffers: a few may be used at once. */
const char *check_path(const char *name)
{
	return ring_printf("%s%s/%s", ctx.mnt, ctx.case_rel, name);
}

const char *check_fuse_path(const char *name)
{
	return ring_printf("%s/%s", ctx.case_rel, name);
}

const char *check_backing_path(const char *name)
{
	if (!ctx.own)
		return NULL;
	return ring_printf("%s%s/%s", ctx.mount.backing, ctx.case_rel, name);
}

const char *check_init_value(char **lines, const char *key)
{
	size_t klen = strlen(key);

	for (char **l = lines; l && *l; l++)
		if (!strncmp(*l, "init ", 5) && !strncmp(*l + 5, key, klen) && (*l)[5 + klen] == '=')
			return *l + 5 + klen + 1;
	return NULL;
}

bool check_flag_in(const char *list, const char *flag)
{
	size_t n = strlen(flag);

	for (const char *p = list; (p = strstr(p, flag)); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == ' ' || !p[n]))
			return true;
	return false;
}

bool check_init_flag(const char *flag)
{
	char **lines = NULL;
	const char *flags;
	struct stat st;
	bool took;

	/* INIT is answered after mount(2) returned; a request waits for it */
	REQUIRE_OK(stat(check_mnt(), &st));
	REQUIRE_CTL(diofsctl_cmd(check_ctl(), &lines, "info"));
	flags = check_init_value(lines, "flags");
	took = flags && check_flag_in(flags, flag);
	diofsctl_free_lines(lines);
	if (!flags)
		SKIP("this diofs does not report INIT (diofsctl info has no init lines)");
	return took;
}

bool check_verbose(void)
{
	return ctx.cfg->verbose;
}

/* In a case's child the daemon may be the parent's: diofs_wait_exit waits
 * for it all the same (its pidfd), the parent reaps it. */
bool check_daemon_exited(int timeout_ms)
{
	if (!ctx.own || !ctx.mounted || ctx.mount.pid <= 0)
		return false;
	if (!diofs_wait_exit(ctx.mount.pid, timeout_ms, NULL))
		return false;
	ctx.mount.pid = 0;
	return true;
}

static int remount(const char *opts, char *why, size_t len)
{
	disconnect_ctl();
	if (ctx.mounted)
		diofs_mount_stop(&ctx.mount);
	ctx.mounted = false;
	if (diofs_mount_start(&ctx.mount, opts, why, len) < 0)
		return -1;
	ctx.mounted = true;
	snprintf(ctx.opts, sizeof(ctx.opts), "%s", opts);
	snprintf(ctx.mnt, sizeof(ctx.mnt), "%s", ctx.mount.mnt);
	if (ctx.cfg->verbose)
		printf("# diofs -o %s mounted at %s, pid %d\n", *opts ? opts : "(defaults)",
		       ctx.mnt, (int)ctx.mount.pid);
	connect_ctl();
	return 0;
}

static int make_case_dir(char *why, size_t len)
{
	const char *dir = ring_printf("%s%s", ctx.mnt, ctx.case_rel);

	if (mkdir(dir, 0755) < 0) {
		snprintf(why, len, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

void check_remount_at(const char *opts, const char *file, unsigned int line)
{
	char why[1024];

	if (!ctx.own)
		SKIP("needs its own diofs mount (-o %s)", opts);
	/* the mount made here is the case's child's, stopped when it ends;
	 * the parent finds its own gone and mounts anew for the next case */
	ctx.remounted = true;
	if (remount(opts ? opts : "", why, sizeof(why)) < 0 || make_case_dir(why, sizeof(why)) < 0)
		expect_failf(file, line, true, "remount -o %s: %s", opts, why);
}

/* ---- data ------------------------------------------------------------- */

void check_file_create_at(const char *name, size_t size, unsigned int seed,
			  const char *file, unsigned int line)
{
	const char *path = ctx.own ? check_backing_path(name) : check_path(name);
	static uint8_t chunk[64 * 1024];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		expect_failf(file, line, true, "create %s: %s", path, errno_name(errno));
	for (size_t done = 0; done < size;) {
		size_t n = size - done < sizeof(chunk) ? size - done : sizeof(chunk);
		pattern_fill(chunk, n, done, seed);
		ssize_t w = pwrite(fd, chunk, n, (off_t)done);
		if (w <= 0) {
			int err = w < 0 ? errno : EIO;
			close(fd);
			expect_failf(file, line, true, "write %s at %zu: %s", path, done,
				    errno_name(err));
		}
		done += (size_t)w;
	}
	close(fd);
}

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

void *check_buf_alloc(size_t len, size_t misalign)
{
	void *base = NULL;

	if (misalign >= page_size())
		expect_failf(__FILE__, __LINE__, true, "check_buf_alloc: misalign %zu >= page", misalign);
	if (posix_memalign(&base, page_size(), misalign + len + 1))
		expect_failf(__FILE__, __LINE__, true, "check_buf_alloc: out of memory");
	memset(base, 0xa5, misalign + len + 1);
	return (char *)base + misalign;
}

void check_buf_free(void *buf)
{
	if (buf)
		free((void *)((uintptr_t)buf & ~(uintptr_t)(page_size() - 1)));
}

/* ---- the hold pattern ------------------------------------------------- */

/* A held call: any call (held_call), or a pread/pwrite by the I/O
 * engine, in a dio_thread the runner joins at the case's end. */
struct held_io {
	struct dio_thread *t;
	struct dio io;                  /* held_pread, held_pwrite */
	uint64_t held_id;
	struct held_io *next;
};

/* Heap-held and listed, so a case that ends early (a fatal failure, SKIP)
 * leaves nothing for the thread to write into; the teardown joins it. */
static struct held_io *held_start(struct held_io *h, ssize_t (*fn)(void *arg), void *arg)
{
	char why[256];

	h->t = dio_thread_start(fn, arg, why, sizeof(why));
	if (!h->t) {
		dio_cleanup(&h->io);
		free(h);
		expect_failf(__FILE__, __LINE__, true, "held_io: %s", why);
	}
	h->next = ctx.held;
	ctx.held = h;
	return h;
}

static struct held_io *held_new(void)
{
	struct held_io *h = calloc(1, sizeof(*h));

	if (!h)
		expect_failf(__FILE__, __LINE__, true, "held_io: out of memory");
	return h;
}

static struct held_io *held_rw(enum io_dir dir, int fd, void *buf, size_t len, off_t off)
{
	struct held_io *h = held_new();
	char why[256];

	h->io = (struct dio){ .route = ROUTE_PREAD, .dir = dir, .fd = fd, .buf = buf,
			      .len = len, .off = off };
	if (dio_prepare(&h->io, why, sizeof(why)) < 0) {
		dio_cleanup(&h->io);
		free(h);
		expect_failf(__FILE__, __LINE__, true, "held_io: %s", why);
	}
	return held_start(h, dio_run, &h->io);
}

struct held_io *held_pread(int fd, void *buf, size_t len, off_t off)
{
	return held_rw(IO_READ, fd, buf, len, off);
}

struct held_io *held_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	return held_rw(IO_WRITE, fd, (void *)buf, len, off);
}

struct held_io *held_call(ssize_t (*fn)(void *arg), void *arg)
{
	return held_start(held_new(), fn, arg);
}

struct dio_thread *held_io_thread(struct held_io *h)
{
	return h->t;
}

bool held_io_returned(const struct held_io *h)
{
	return dio_thread_returned(h->t);
}

bool held_io_wait_at(struct held_io *h, struct diofs_held *held,
		     const char *file, unsigned int line)
{
	struct diofsctl *ctl = check_ctl_at(file, line);
	struct diofs_held list[64];
	int64_t deadline = diofs_now_ms() + HELD_TIMEOUT_MS;
	unsigned int want = 1;
	ssize_t ret;
	int err;

	/* Wait for one more held call each round until one is our thread's;
	 * in slices, to stop early if the call returns instead. */
	for (;;) {
		int64_t left = deadline - diofs_now_ms();
		int n = -1;
		if (left > 0 && !held_io_returned(h))
			n = diofsctl_held(ctl, want, left < HELD_SLICE_MS ? (int)left : HELD_SLICE_MS,
					  list, 64);
		if (n < 0 && left > HELD_SLICE_MS && !held_io_returned(h) &&
		    strstr(diofsctl_error(ctl), "timeout"))
			continue;       /* only this slice timed out */
		if (n < 0) {
			if (dio_thread_wait(h->t, 0, &ret, &err))
				expect_failf(file, line, false, "the call returned %zd (%s) instead of "
					    "being held", ret, ret < 0 ? errno_name(err) : "ok");
			else
				expect_failf(file, line, false, "diofs held no call of thread %d within "
					    "%d ms: %s", dio_thread_tid(h->t), HELD_TIMEOUT_MS,
					    diofsctl_error(ctl));
			return false;
		}
		for (int i = 0; i < n && i < 64; i++) {
			if (list[i].pid != dio_thread_tid(h->t))
				continue;
			h->held_id = list[i].id;
			if (held)
				*held = list[i];
			if (dio_thread_wait(h->t, 0, &ret, NULL)) {
				expect_failf(file, line, false, "the call returned %zd while diofs "
					    "held it (id %ju)", ret, (uintmax_t)h->held_id);
				return false;
			}
			return true;
		}
		want = (unsigned int)n + 1;
	}
}

bool held_io_release_at(struct held_io *h, const char *how,
			const char *file, unsigned int line)
{
	struct diofsctl *ctl = check_ctl_at(file, line);
	int n;

	if (!h->held_id) {
		expect_failf(file, line, false, "held_io_release: the call was not held");
		return false;
	}
	n = diofsctl_release(ctl, h->held_id, how);
	if (n != 1) {
		expect_failf(file, line, false, "release %ju %s: %s", (uintmax_t)h->held_id,
			    how ? how : "reply", n < 0 ? diofsctl_error(ctl) : "released none");
		return false;
	}
	return true;
}

ssize_t held_io_join(struct held_io *h, int *err)
{
	ssize_t ret;
	int e;

	dio_thread_join(h->t, DIO_FOREVER, &ret, &e);
	for (struct held_io **p = &ctx.held; *p; p = &(*p)->next)
		if (*p == h) {
			*p = h->next;
			break;
		}
	dio_cleanup(&h->io);
	if (err)
		*err = e;
	errno = e;
	free(h);
	return ret;
}

/* ---- the fixture (fixture.h) ------------------------------------------ */

int fixture_begin(const struct fixture_config *cfg, char *err, size_t errlen)
{
	ctx.cfg = cfg;
	ctx.own = !cfg->mount;
	if (ctx.own)
		return 0;
	if (!realpath(cfg->mount, ctx.mnt)) {
		snprintf(err, errlen, "%s: %s", cfg->mount, strerror(errno));
		return -1;
	}
	connect_ctl();
	if (!ctx.ctl)
		fprintf(stderr, "diofs-check: no control connection (cases that need one fail): %s\n",
			ctx.ctl_err);
	/* our cases' files stay apart from whatever the mount holds */
	snprintf(ctx.run_rel, sizeof(ctx.run_rel), "/diofs-check.%d", (int)getpid());
	snprintf(ctx.case_rel, sizeof(ctx.case_rel), "%s", ctx.run_rel);
	return make_case_dir(err, errlen);
}

/* Is our mount still there to serve the next case?  A case may have
 * stopped it (a crash or abort rule, umount -l, check_remount). */
static bool mount_usable(void)
{
	return ctx.mounted && diofs_mount_alive(&ctx.mount) && diofs_fuse_mounted_at(ctx.mnt);
}

int fixture_case_setup(const struct check_suite *s, const struct check_case *c,
		       char *why, size_t len)
{
	const char *want = c->mount_opts ? c->mount_opts : s->mount_opts ? s->mount_opts : "";

	ctx.suite = s;
	ctx.kase = c;
	snprintf(ctx.case_rel, sizeof(ctx.case_rel), "%s/%s.%s", ctx.run_rel, s->name, c->name);
	if (!ctx.own) {
		if (*want) {
			snprintf(why, len, "needs its own diofs mount (-o %s)", want);
			return 1;
		}
	} else if (strcmp(want, ctx.opts) || !mount_usable()) {
		/* a mount that failed once for this suite fails its other cases at once */
		if (ctx.failed && !strcmp(want, ctx.failed_opts)) {
			snprintf(why, len, "%s", ctx.failed_why);
			return -1;
		}
		if (remount(want, why, len) < 0) {
			ctx.failed = true;
			snprintf(ctx.failed_opts, sizeof(ctx.failed_opts), "%s", want);
			snprintf(ctx.failed_why, sizeof(ctx.failed_why), "%s", why);
			return -1;
		}
	}
	return make_case_dir(why, len);
}

/* In the child, whichever way the case ends: rules first, so that nothing
 * released is held again; then the threads left behind; the mount the
 * case made itself is stopped, the parent's no longer needs aborting. */
static void case_teardown(void *unused)
{
	(void)unused;
	if (ctx.ctl && (diofsctl_rule_clear(ctx.ctl) < 0 ||
			diofsctl_release(ctx.ctl, 0, "errno=EIO") < 0)) {
		if (ctx.cfg->verbose)   /* expected after a crash or abort rule */
			printf("# resetting diofs after %s: %s\n", ctx.kase->name,
			       diofsctl_error(ctx.ctl));
		disconnect_ctl();
		if (ctx.own && ctx.mounted) {   /* the next case starts afresh */
			diofs_mount_stop(&ctx.mount);
			ctx.mounted = false;
		}
	}
	while (ctx.held)
		held_io_join(ctx.held, NULL);
	if (ctx.remounted && ctx.mounted)
		diofs_mount_stop(&ctx.mount);
	else if (ctx.own && ctx.mounted)
		test_untrack_mount(ctx.mnt);
}

void fixture_case_body(void)
{
	/* Should the case hang or die, the runner aborts the connection of
	 * our mount (the parent stops the daemon and mounts anew). */
	if (ctx.own && ctx.mounted)
		test_track_mount(ctx.mnt, 0, NULL);
	test_defer(case_teardown, NULL);
	ctx.kase->fn();
}

void fixture_case_after(const struct test_result *r)
{
	if (r->ended)
		return;
	/* The case hung or died, maybe in the middle of a command: nothing
	 * of its connection or (aborted) mount is used again. */
	disconnect_ctl();
	if (ctx.own) {
		if (ctx.mounted)
			diofs_mount_stop(&ctx.mount);
		ctx.mounted = false;
		return;
	}
	connect_ctl();
	if (ctx.ctl && (diofsctl_rule_clear(ctx.ctl) < 0 ||
			diofsctl_release(ctx.ctl, 0, "errno=EIO") < 0))
		disconnect_ctl();
}

void fixture_suite_end(void)
{
	disconnect_ctl();
	if (ctx.mounted)
		diofs_mount_stop(&ctx.mount);
	ctx.mounted = false;
	ctx.failed = false;
}

void fixture_end(void)
{
	fixture_suite_end();
	if (!ctx.own && ctx.run_rel[0])
		diofs_remove_tree(ring_printf("%s%s", ctx.mnt, ctx.run_rel));
}
