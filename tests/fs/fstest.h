/* What the filesystem tests share beyond the harness's runner (runner.h:
 * cases forked with a timeout, KTAP; expect.h: CHECK, REQUIRE, SKIP...):
 * mounts that a case makes, stopped when the case ends whatever happened;
 * files, other users, programs to run. */
#ifndef DIOFS_TESTS_FS_FSTEST_H
#define DIOFS_TESTS_FS_FSTEST_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "harness/mount.h"
#include "harness/trace.h"
#include "harness/pattern.h"
#include "harness/proc.h"
#include "harness/runner.h"

/* ---- mounts ---- */

/* The mount a case works on (M = fs_mount(...)); MNT("f") and BAK("f")
 * name f in it and in its backing directory. */
extern struct diofs_mount *M;
#define MNT(name) diofs_mnt_path(M, name)
#define BAK(name) diofs_backing_path(M, name)

/* Mount diofs with the harness (opts as for diofs_mount_start); the case
 * fails (fatally) if it cannot.  Stopped at the end of the case. */
struct diofs_mount *fs_mount(const char *opts);
/* Mount diofs with allow_other for other users' calls: the test root
 * (mkdtemp: 0700) opened so that they reach MNT, and a 0777 directory
 * "shared" in the mount for them to work in. */
struct diofs_mount *fs_mount_shared(void);
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

/* Flush m's trace (m mounted with "trace") through its control socket and
 * read its records (proto/trace.h), *n of them; the case fails if the
 * trace cannot be read.  free() the result. */
struct trace_rec *fs_trace_records(const struct diofs_mount *m, int *n);
/* Of those records, how many are of op (e.g. "readdirplus") with path
 * path (NULL: any). */
int fs_trace_count(const struct diofs_mount *m, const char *op, const char *path);

/* Did m's INIT ("init flags=" / "init offered=" of diofsctl info) take
 * (which "flags") or the kernel offer (which "offered") flag, a name as
 * diofs -o init_off= takes it?  Fails the case if stats cannot be read. */
bool fs_init_flag(const struct diofs_mount *m, const char *which, const char *flag);

/* ---- helpers ---- */

/* Whole-file helpers: 0 or -errno. */
int fs_put(const char *path, const void *buf, size_t n, mode_t mode);
/* Read at most cap bytes; the count or -errno. */
ssize_t fs_get(const char *path, void *buf, size_t cap);
/* Copy of the whole file (NUL-terminated, from fs_alloc),
 * size in *n; NULL with errno on failure. */
char *fs_slurp(const char *path, size_t *n);

/* Run fn(arg) in a child with uid, gid (no supplementary groups) and
 * umask mask.  Returns what fn returned (0 or an errno), or -1 if the
 * child died or could not change identity (said on stderr). */
int fs_as_user(uid_t uid, gid_t gid, mode_t mask, int (*fn)(void *), void *arg);
/* The same with supplementary groups. */
int fs_as_user_groups(uid_t uid, gid_t gid, size_t ngroups, const gid_t *groups, mode_t mask,
		      int (*fn)(void *), void *arg);

/* What another user does, as fs_as_user's fn on the path arg: 0 or the
 * errno.  fs_rc(r) is 0 for r >= 0, else errno. */
int fs_rc(int r);
int fs_do_mkdir(void *path);            /* mode 0777 (less the umask) */
int fs_do_rmdir(void *path);
int fs_do_unlink(void *path);
int fs_do_truncate(void *path);         /* to 0 bytes */
int fs_do_symlink(void *path);          /* to "target" */
int fs_do_open_w(void *path);           /* open O_WRONLY, close */

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
	CHECK(g_ == w_, "%s: got %s, want %s", #got,                         \
	      g_ < 0 ? "a dead child" : expect_errname(g_), expect_errname(w_)); \
} while (0)

/* malloc that ends the case failed when out of memory (the case's child
 * exits: nothing to free). */
void *fs_alloc(size_t n);

#endif
