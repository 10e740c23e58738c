/* What a diofs-check suite includes: registration, the assertions (the
 * harness's expect.h, plus CHECK_CTL for the control connection), notes,
 * the current mount and control connection, the data pattern (the
 * harness's pattern.h), buffers, and the hold pattern every suite builds
 * on.
 *
 * Adding a suite: a file suite_NAME.c defining
 *     const struct check_suite check_suite_NAME = { ... };
 * one line CHECK_SUITE(NAME) in suites.h, and the file in Makefile.inc.
 *
 * Every case runs in a child process of its own (the harness's runner:
 * fork, timeout --timeout, 60 s), in a directory of its own (check_path),
 * on the mount the parent made for it.  When it ends the child clears the
 * rules, releases every held call with EIO and joins the held_io threads
 * left behind; a case that hangs has its FUSE connection aborted and is
 * killed, fails, and the run goes on with a fresh mount.  Assert, fail and
 * SKIP from the case's thread only. */
#ifndef DIOFS_CHECK_H
#define DIOFS_CHECK_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness/expect.h"
#include "harness/pattern.h"
#include "harness/runner.h"         /* test_failures */
#include "lib/diofsctl.h"

struct check_case {
	const char *name;
	void (*fn)(void);
	const char *desc;       /* one line: the kernel behaviour it checks */
	const char *mount_opts; /* diofs -o options for this case; NULL: the suite's */
	/* What its I/O is, for the known-bug list's conditions (known.h):
	 * "route=io_uring io=read o_direct=yes"; its mount options add
	 * fopen_direct_io and async_dio.  NULL: nothing stated. */
	const char *facts;
};

/* An entry named after its function; options go last, designated:
 *   CHECK_CASE(fn, "what it checks"),
 *   CHECK_CASE(fn, "what it checks", .mount_opts = "async_dio=0",
 *              .facts = "route=io_uring io=read o_direct=yes"), */
#define CHECK_CASE(func, description, ...) \
	{ .name = #func, .fn = func, .desc = description, __VA_ARGS__ }

struct check_suite {
	const char *name;
	/* diofs -o options beyond the daemon's defaults (NULL: none).  With
	 * --mount the fixture cannot choose them: such cases SKIP. */
	const char *mount_opts;
	const struct check_case *cases; /* ends with { NULL } */
};

/* ---- results ---------------------------------------------------------- *
 * CHECK_EQ, REQUIRE_EQ, CHECK_OK, REQUIRE_OK, CHECK_ERR, CHECK_PATTERN,
 * CHECK_FAILF, CHECK_FATALF, SKIP and NOTE: see harness/expect.h.  A NOTE
 * is a figure worth reporting whatever the result (pages lost, pins seen):
 * printed as "NOTE suite.case: ..." and kept as the case's detail in the
 * TSV and XML. */

/* A diofsctl call (-1 on failure): evaluates to its result; a negative one
 * is recorded with diofsctl_error().  REQUIRE_CTL ends the case. */
#define CHECK_CTL(expr) CHECK_CTL_(expr, #expr, false)
#define REQUIRE_CTL(expr) CHECK_CTL_(expr, #expr, true)
#define CHECK_CTL_(expr, text, fatal) ({                                      \
	__typeof__(expr) check_r_ = (expr);                                   \
	if (check_r_ < 0)                                                     \
		check_ctl_failed(text, __FILE__, __LINE__, fatal);            \
	check_r_; })
void check_ctl_failed(const char *expr, const char *file, unsigned int line, bool fatal);

/* ---- the mount under test --------------------------------------------- */

const char *check_mnt(void);
/* The control connection; ends the case as failed if there is none. */
#define check_ctl() check_ctl_at(__FILE__, __LINE__)
struct diofsctl *check_ctl_at(const char *file, unsigned int line);
/* name in the case's directory: in the mount, as the daemon sees it (for a
 * rule's path=, e.g. "/smoke.hold_pread/f"), and in the backing directory
 * (NULL with --mount: backing-dependent cases SKIP). */
const char *check_path(const char *name);
const char *check_fuse_path(const char *name);
const char *check_backing_path(const char *name);
/* Restart diofs with these options for the rest of the case (the next case
 * gets its own again); SKIPs with --mount. */
#define check_remount(opts) check_remount_at((opts), __FILE__, __LINE__)
void check_remount_at(const char *opts, const char *file, unsigned int line);
bool check_verbose(void);               /* -v: suites may print "# ..." lines */
/* Wait up to timeout_ms for our diofs to exit by itself (its connection
 * ended) and reap it; false if it still runs (or with --mount). */
bool check_daemon_exited(int timeout_ms);

/* What INIT negotiated, from diofsctl info: the value of "init KEY=..." in
 * its lines, or NULL; whether flag is a whole name in a comma-separated
 * list; and whether the mount under test took FLAG ("direct_io_allow_mmap"),
 * which SKIPs if the daemon does not report INIT. */
const char *check_init_value(char **info_lines, const char *key);
bool check_flag_in(const char *list, const char *flag);
bool check_init_flag(const char *flag);

/* ---- data ------------------------------------------------------------- */

/* The data pattern is the harness's: pattern_byte, pattern_fill and
 * CHECK_PATTERN (a buffer holds it, else where it first differs). */

/* Create name (size bytes of pattern seed): in the backing directory when
 * the fixture owns the mount (no FUSE traffic), else through the mount.
 * Ends the case on failure. */
#define check_file_create(name, size, seed) \
	check_file_create_at((name), (size), (seed), __FILE__, __LINE__)
void check_file_create_at(const char *name, size_t size, unsigned int seed,
			  const char *file, unsigned int line);

/* len bytes starting misalign (< page size) bytes after a page boundary,
 * written to so that every page is present (never the shared zero page). */
void *check_buf_alloc(size_t len, size_t misalign);
void check_buf_free(void *buf);

/* ---- the hold pattern ------------------------------------------------- *
 *   REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold op=read path=%s",
 *                                 check_fuse_path("f")));
 *   struct held_io *h = held_pread(fd, buf, len, 0);
 *   if (held_io_wait(h, &held)) {     // held by diofs, call not returned
 *           ...look at the world while the request is in flight...
 *           held_io_release(h, NULL);
 *   }
 *   CHECK_EQ(held_io_join(h, NULL), len);
 * The call runs in a thread of its own; diofs names the calling thread in
 * the held list (the request's pid), which is how held_io_wait finds it.
 * Requests sent from other threads (io_uring's workers) are not found so:
 * wait for them with diofsctl_held() itself. */
struct held_io;
struct held_io *held_pread(int fd, void *buf, size_t len, off_t off);
struct held_io *held_pwrite(int fd, const void *buf, size_t len, off_t off);
/* Any call: fn returns a syscall-style result and leaves errno. */
struct held_io *held_call(ssize_t (*fn)(void *arg), void *arg);
/* The thread it runs in (ioengine.h: timed waits, its tid, signals). */
struct dio_thread *held_io_thread(struct held_io *h);
/* Wait (10 s) until diofs holds the call; true with it in *held (may be
 * NULL).  Records a failure if it is not held or has already returned. */
#define held_io_wait(h, held) held_io_wait_at((h), (held), __FILE__, __LINE__)
bool held_io_wait_at(struct held_io *h, struct diofs_held *held,
		     const char *file, unsigned int line);
bool held_io_returned(const struct held_io *h);
/* Release the held call (how: NULL = reply, "errno=EIO", "short=N");
 * records a failure unless exactly one call was released. */
#define held_io_release(h, how) held_io_release_at((h), (how), __FILE__, __LINE__)
bool held_io_release_at(struct held_io *h, const char *how,
			const char *file, unsigned int line);
/* Wait for the call to return: its result, its errno in *err (may be
 * NULL) and in errno, so CHECK_ERR(held_io_join(h, NULL), EIO) works.
 * Frees h. */
ssize_t held_io_join(struct held_io *h, int *err);

#endif
