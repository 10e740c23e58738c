/* What the instrument's mount tests share, on the harness's runner
 * (harness/runner.h: each case a forked child under a time limit, the
 * CHECK/REQUIRE/SKIP of harness/expect.h, the data of harness/pattern.h):
 * mounts and what a case opened, taken down when it ends; I/O on threads
 * of their own; the control channel (through the library and raw); the
 * trace read back (harness/trace.h); a daemon started by hand for the cases
 * the harness does not cover (default control socket, a bad rules file).
 *
 * Ordering is never by sleeping: a test waits for a request to be held
 * ("held min=N", which waits in the daemon), for a thread to end, or for a
 * process to exit.  The time limits here are failsafes only. */
#ifndef DIOFS_TESTS_INSTRUMENT_ITEST_H
#define DIOFS_TESTS_INSTRUMENT_ITEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "check/ioengine.h"
#include "harness/mount.h"
#include "harness/pattern.h"
#include "harness/proc.h"
#include "harness/runner.h"
#include "harness/trace.h"
#include "lib/diofsctl.h"

#define ITEST_WAIT_MS 10000      /* failsafe on waits for what must come */

/* A case of the instrument: runner.h's TEST that needs a mount and first
 * defers the cleanup of what the case sets up (mounts, connections, fds,
 * I/O threads, a daemon started by hand):
 *     ITEST(trace_off_on_and_on_file)
 *     {
 *             ...CHECK, REQUIRE, SKIP...
 *     }
 * The name says the behaviour; it is the case's name in KTAP and for
 * --case. */
#define ITEST(name)                                                             \
	static void itest_##name(void);                                         \
	TEST(name, .needs = TEST_NEEDS_MOUNT)                                   \
	{                                                                       \
		itest_case_start();                                             \
		itest_##name();                                                 \
	}                                                                       \
	static void itest_##name(void)
void itest_case_start(void);

pid_t itest_gettid(void);

/* ---- mounts (stopped after the case, whatever happened) ---- */

/* Mount diofs with extra options (see diofs_mount_start); NULL on failure,
 * already reported. */
struct diofs_mount *itest_mount(const char *opts);
/* The usual start of a case: diofs mounted with opts, a file name of size
 * bytes of seed's pattern, a control connection in *c and name open for
 * reading in *fd.  NULL if any of it failed (reported). */
struct diofs_mount *itest_mount_file(const char *opts, const char *name, size_t size,
				     unsigned int seed, struct diofsctl **c, int *fd);
/* Stop it now (idempotent; the case's cleanup does it anyway). */
void itest_unmount(struct diofs_mount *m);
/* A mount the case made itself (a tmpfs): detached after the case (or by
 * the runner if the case hangs), before the harness removes its
 * directories. */
void itest_cleanup_mount(const char *path);
/* A connection to m's control socket, closed after the case; NULL on
 * failure, reported. */
struct diofsctl *itest_ctl(const struct diofs_mount *m);
/* One more, for a second client. */
struct diofsctl *itest_ctl_path(const char *sock);

/* ---- files ---- */

/* Create name (and its missing directories) in m's backing directory,
 * size bytes of the seed's pattern (harness/pattern.h).  false on
 * failure, reported. */
bool itest_make_file(const struct diofs_mount *m, const char *name, size_t size,
		     unsigned int seed);
/* open(2) of name in the mount; the fd is closed after the case if it is
 * still open.  -1 with errno on failure (not reported: callers check). */
int itest_open(const struct diofs_mount *m, const char *name, int flags);
void itest_close(int fd);

/* ---- I/O on a thread of its own ---- */

enum io_op { IO_PREAD, IO_PWRITE, IO_OPEN, IO_STAT };

struct io {
	/* what to do */
	enum io_op op;
	int fd;
	char path[512];    /* IO_OPEN, IO_STAT */
	int flags;         /* IO_OPEN */
	char *buf;         /* IO_PREAD, IO_PWRITE: len bytes, owned */
	size_t len;
	off_t off;
	/* what happened */
	_Atomic pid_t tid;       /* the thread's id, set before the call */
	atomic_bool done;        /* the call returned */
	ssize_t ret;             /* its result (the fd for IO_OPEN) */
	int err;                 /* errno when ret < 0 */
	uint64_t t0, t1;         /* CLOCK_MONOTONIC around the call */
	/* bookkeeping: the I/O engine's thread (check/ioengine.h) */
	struct dio_thread *th;
	bool started, joined;
};

/* A new io (freed after the case); buf of len bytes allocated, filled with
 * the seed's pattern at off for a write, 0xee for a read. */
struct io *io_new(enum io_op op, int fd, size_t len, off_t off);
struct io *io_pread(int fd, size_t len, off_t off);   /* started */
struct io *io_pwrite(int fd, size_t len, off_t off, unsigned int seed);
/* Start it, and say if that failed. */
bool io_start(struct io *io);
/* Wait for the thread (at most ITEST_WAIT_MS: a failsafe, reported).
 * true once joined. */
bool io_join(struct io *io);
/* Send sig to the io's thread. */
int io_kill(struct io *io, int sig);

/* ---- the control channel ---- */

/* Wait (in the daemon) until at least min calls are held, list them into
 * out (up to max).  Returns how many are held, -1 on failure (reported). */
int itest_held(struct diofsctl *c, unsigned int min, struct diofs_held *out, size_t max);
/* The number held right now (no wait). */
int itest_held_now(struct diofsctl *c, struct diofs_held *out, size_t max);
/* A rule added; its id, or -1 (reported). */
int itest_rule(struct diofsctl *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* From "stats": an op's count and errors (0 if the op is not listed);
 * false if stats failed. */
bool itest_op_stats(struct diofsctl *c, const char *op, uint64_t *count, uint64_t *errors);
/* From "rule list": rule id's counters and text; false if not listed. */
bool itest_rule_counts(struct diofsctl *c, int id, uint64_t *matched, uint64_t *acted,
		       char *text, size_t textlen);

/* Wait (failsafe limit) until rule id has acted want times: false if it
 * did not, or more often (reported). */
bool itest_rule_acted(struct diofsctl *c, int id, uint64_t want);

/* A raw connection to a control socket: -1 with errno on failure.  Reads
 * time out after ITEST_WAIT_MS. */
int raw_connect(const char *path);
/* One line from fd without its newline; false at EOF or error.  (Send
 * with ctl_send_all, proto/ctl.h.) */
bool raw_line(int fd, char *out, size_t len);

/* ---- the trace (records: proto/trace.h) ---- */

/* Every record of trace file path (diofs_trace_load); the count, or -1
 * (reported: a first line that is not the INIT record, a line that does
 * not parse is a failure).  *out is freed after the case. */
int trace_load(const char *path, struct trace_rec **out);
/* r as its trace line (cut), for messages; valid for the next call. */
const char *trace_text(const struct trace_rec *r);

/* ---- processes ---- */

/* m's daemon exits (waited for at most ITEST_WAIT_MS, a failsafe): true
 * with its wait status in *status, reaped through the harness. */
bool itest_daemon_exited(struct diofs_mount *m, int *status);
/* Run argv (argv[0] a path), stdout and stderr captured (cut to len);
 * returns its wait status, -1 if it could not run or did not end in time. */
int itest_run(char *const argv[], char *out, size_t outlen, char *errout, size_t errlen);
/* The diofsctl binary of the build tree. */
const char *itest_diofsctl(void);

/* A diofs started by hand in the foreground: BACKING and MNT in a fresh
 * directory, stdout and stderr to ROOT/daemon.log.  Stopped after the case
 * (by the runner if the case hangs or dies). */
struct own_daemon {
	char root[256], backing[300], mnt[300], log[300];
	char sock[108];  /* its default control socket, if asked for */
	pid_t pid;
};
/* Start diofs -f [-o opts] BACKING MNT and wait until it has mounted and,
 * if default_sock, its socket exists at the default path for MNT (in
 * d->sock).  NULL on failure, reported.  With expect_failure the daemon
 * must exit before mounting: *status is its wait status and d stays for
 * the caller to read the log (then own_stop). */
struct own_daemon *own_start(const char *opts, bool default_sock, bool expect_failure,
			     int *status);
void own_stop(struct own_daemon *d);
/* The text of a file (cut to len); false if it cannot be read. */
bool itest_read_text(const char *path, char *out, size_t len);
/* How often needle occurs in haystack. */
int itest_count(const char *haystack, const char *needle);

#endif
