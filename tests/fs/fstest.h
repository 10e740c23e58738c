/* What the filesystem tests share: a CUnit runner that prints each case's
 * result (and why it failed), skips what the machine cannot do (exit 77 if
 * anything was skipped and nothing failed), stops a hung case by a
 * watchdog; mounts that a case makes, stopped when the case ends whatever
 * happened; assertions that say what they saw; small file helpers. */
#ifndef DIOFS_TESTS_FS_FSTEST_H
#define DIOFS_TESTS_FS_FSTEST_H

#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "harness/mount.h"

/* What a case needs from the machine; without it the case is skipped. */
#define FS_NEEDS_MOUNT 1u  /* /dev/fuse and the right to mount */
#define FS_NEEDS_ROOT  2u  /* root (other uids, bind mounts, mount(8)) */

struct fs_case {
	const char *name;
	void (*fn)(void);
	unsigned int needs;
	unsigned int timeout_s; /* 0: the default (120 s) */
};

/* Skip the running case, saying why (a premise about the machine does not
 * hold); the case returns right after: use SKIP_CASE. */
void fs_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define SKIP_CASE(...) do { fs_skip(__VA_ARGS__); return; } while (0)

/* Run the cases; the process's exit status: 0 all passed, 1 a failure,
 * 77 nothing failed but something was skipped (or every case). */
int fs_main(const char *suite, const struct fs_case *cases, size_t n);

/* ---- mounts ---- */

/* Mount diofs with the harness (opts as for diofs_mount_start); the case
 * fails (fatally) if it cannot.  Stopped at the end of the case. */
struct diofs_mount *fs_mount(const char *opts);
/* Stop it now (also done at the end of the case). */
void fs_unmount(struct diofs_mount *m);
/* A mount the case made by other means (a bind mount, a tmpfs, mount(8)):
 * detached at the end of the case and by the signal handlers.  daemon, if
 * > 0, is a diofs the case started indirectly: SIGTERMed then too. */
void fs_track_mount(const char *path, pid_t daemon);
/* Detach and forget it now; 0 or -errno of the umount. */
int fs_untrack_mount(const char *path);
/* Is some filesystem mounted exactly at path (from /proc/self/mountinfo)?
 * fstype, if not NULL, receives its type (64 bytes); source, if not NULL,
 * its source (PATH_MAX bytes).  Counts the mounts there. */
int fs_mounted_at(const char *path, char *fstype, char *source);

/* A fresh directory (TMPDIR or /tmp), removed at the end of the case
 * (without crossing into mounts: detach those first, fs_track_mount does).
 * The path stays valid until then. */
const char *fs_tempdir(void);

/* Flush m's trace (m mounted with "trace") through its control socket
 * and count its records of op (e.g. "readdirplus") whose path is path
 * (NULL: any).  Fails the case if the trace cannot be read. */
int fs_trace_count(const struct diofs_mount *m, const char *op, const char *path);

/* Did m's INIT ("init flags=" / "init offered=" of diofsctl info) take
 * (which "flags") or the kernel offer (which "offered") flag, a name as
 * diofs -o init_off= takes it?  Fails the case if stats cannot be read. */
bool fs_init_flag(const struct diofs_mount *m, const char *which, const char *flag);

/* ---- assertions that say what they saw ---- */

const char *fs_errname(int err);
void fs_check(bool ok, bool fatal, const char *file, unsigned int line,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define CHECK(cond, ...) fs_check(!!(cond), false, __FILE__, __LINE__, __VA_ARGS__)
#define REQUIRE(cond, ...) fs_check(!!(cond), true, __FILE__, __LINE__, __VA_ARGS__)

/* A syscall that must succeed (result >= 0); evaluates to its result. */
#define CHECK_OK_(fatal, expr) ({                                            \
	errno = 0;                                                           \
	long long r_ = (long long)(expr);                                    \
	int e_ = errno;                                                      \
	fs_check(r_ >= 0, fatal, __FILE__, __LINE__,                         \
		 "%s: got %lld (%s), want success", #expr, r_, fs_errname(e_)); \
	r_; })
#define CHECK_OK(expr) CHECK_OK_(false, expr)
#define REQUIRE_OK(expr) CHECK_OK_(true, expr)

/* A syscall that must fail with want (-1 and errno). */
#define CHECK_ERR(expr, want) do {                                           \
	errno = 0;                                                           \
	long long r_ = (long long)(expr);                                    \
	int e_ = errno;                                                      \
	fs_check(r_ == -1 && e_ == (want), false, __FILE__, __LINE__,        \
		 "%s: got %lld (%s), want -1 (%s)", #expr, r_,                \
		 r_ == -1 ? fs_errname(e_) : "no error", fs_errname(want));    \
} while (0)

#define CHECK_EQ_(fatal, got, want) do {                                     \
	long long g_ = (long long)(got), w_ = (long long)(want);             \
	fs_check(g_ == w_, fatal, __FILE__, __LINE__,                        \
		 "%s == %s: got %lld (%#llx), want %lld (%#llx)", #got, #want, \
		 g_, g_, w_, w_);                                             \
} while (0)
#define CHECK_EQ(got, want) CHECK_EQ_(false, got, want)
#define REQUIRE_EQ(got, want) CHECK_EQ_(true, got, want)

#define CHECK_STR(got, want) do {                                            \
	const char *g_ = (got), *w_ = (want);                                \
	fs_check(g_ && w_ && !strcmp(g_, w_), false, __FILE__, __LINE__,     \
		 "%s == %s: got \"%s\", want \"%s\"", #got, #want,            \
		 g_ ? g_ : "(null)", w_ ? w_ : "(null)");                     \
} while (0)

/* n bytes equal; on failure names the first differing offset. */
#define CHECK_MEM(got, want, n, ...) \
	fs_check_mem(got, want, n, __FILE__, __LINE__, __VA_ARGS__)
bool fs_check_mem(const void *got, const void *want, size_t n,
		  const char *file, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* ---- helpers ---- */

/* n bytes of a pattern that depends on seed and on each byte's position
 * in the file (pos is the offset of buf[0]): any misplaced byte shows. */
void fs_pattern(void *buf, size_t n, uint64_t seed, uint64_t pos);

/* Whole-file helpers: 0 or -errno. */
int fs_put(const char *path, const void *buf, size_t n, mode_t mode);
/* Read at most cap bytes; the count or -errno. */
ssize_t fs_get(const char *path, void *buf, size_t cap);
/* Copy of the whole file (NUL-terminated, freed at the end of the case),
 * size in *n; NULL with errno on failure. */
char *fs_slurp(const char *path, size_t *n);

/* Run fn(arg) in a child with uid, gid (no supplementary groups) and
 * umask mask.  Returns what fn returned (0 or an errno), or -1 if the
 * child died or could not change identity (said on stderr). */
int fs_as_user(uid_t uid, gid_t gid, mode_t mask, int (*fn)(void *), void *arg);
/* The same with supplementary groups. */
int fs_as_user_groups(uid_t uid, gid_t gid, size_t ngroups, const gid_t *groups, mode_t mask,
		      int (*fn)(void *), void *arg);

/* The same without waiting: the child's pid (-1: fork failed), for
 * fs_wait_child. */
pid_t fs_spawn_as_user(uid_t uid, gid_t gid, mode_t mask, int (*fn)(void *), void *arg);
/* Wait at most timeout_ms for child pid: what its fn returned, -1 if it
 * died (killed: its wait status in *status if not NULL), or -ETIMEDOUT
 * (still running, not reaped). */
int fs_wait_child(pid_t pid, int timeout_ms, int *status);

/* An errno result (0: success) equal to want; says both by name. */
#define CHECK_RC(got, want) do {                                             \
	int g_ = (got), w_ = (want);                                         \
	fs_check(g_ == w_, false, __FILE__, __LINE__, "%s: got %s, want %s", \
		 #got, g_ < 0 ? "a dead child" : fs_errname(g_), fs_errname(w_)); \
} while (0)

/* Run argv with extra environment (NULL or "NAME=VALUE" strings,
 * NULL-terminated), stdin from /dev/null, capturing stdout and stderr
 * (each NUL-terminated, at most 64 KiB, kept).  Waits at most timeout_ms;
 * a program still running then is killed (its PID) and *timed_out set.
 * Returns the wait status, or -1 if it could not run. */
struct fs_run {
	char out[65536];
	char err[65536];
	bool timed_out;
};
int fs_run(char *const argv[], char *const env[], int timeout_ms, struct fs_run *r);

/* Number of fds the process pid has open (-1 if unknown). */
int fs_count_fds(pid_t pid);

/* malloc that fails the case (fatally) when out of memory; freed at the
 * end of the case. */
void *fs_alloc(size_t n);

#endif
