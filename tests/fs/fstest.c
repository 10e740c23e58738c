/* The filesystem tests' helpers (see fstest.h).  Each case runs in a
 * child of its own (the harness's runner): what the case set up is taken
 * down by one deferred cleanup, fs_case_cleanup, on every path; the mounts
 * and directories are also tracked with the runner, whose parent takes
 * them down if the case hangs or dies. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "fstest.h"
#include "lib/diofsctl.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CASE_MOUNTS 8
#define MAX_EXTRA 8
#define MAX_TEMPDIRS 4

struct diofs_mount *M;

/* ---- what the running case set up (this process is the case's child) ---- */

static struct diofs_mount case_mounts[MAX_CASE_MOUNTS];
static bool case_mount_used[MAX_CASE_MOUNTS];
static char extra_path[MAX_EXTRA][PATH_MAX];
static pid_t extra_pid[MAX_EXTRA];
static bool extra_used[MAX_EXTRA];
static char tempdirs[MAX_TEMPDIRS][PATH_MAX];
static bool fds_before[1024];           /* open when the case set up its first */

static void fs_case_cleanup(void *arg);

/* The cleanup is deferred once, at the case's first mount or directory;
 * the fds open then are the case's to keep. */
static void defer_cleanup(void)
{
	static bool deferred;

	if (deferred)
		return;
	deferred = true;
	for (int fd = 0; fd < (int)(sizeof(fds_before) / sizeof(*fds_before)); fd++)
		fds_before[fd] = fcntl(fd, F_GETFD) != -1;
	test_defer(fs_case_cleanup, NULL);
}

void *fs_alloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	REQUIRE(p != NULL, "malloc(%zu) failed", n);
	return p;
}

const char *fs_tempdir(void)
{
	const char *tmp = getenv("TMPDIR");

	for (int i = 0; i < MAX_TEMPDIRS; i++) {
		if (tempdirs[i][0])
			continue;
		snprintf(tempdirs[i], sizeof(tempdirs[i]), "%s/diofs-fstest.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(tempdirs[i])) {
			int e = errno;
			tempdirs[i][0] = '\0';
			REQUIRE(false, "mkdtemp: %s", expect_errname(e));
		}
		defer_cleanup();
		test_track_dir(tempdirs[i]);
		return tempdirs[i];
	}
	REQUIRE(false, "more than %d temporary directories in one case", MAX_TEMPDIRS);
	return NULL;
}

struct trace_rec *fs_trace_records(const struct diofs_mount *m, int *n)
{
	char err[256];
	struct diofsctl *ctl = diofsctl_connect(m->ctl, err, sizeof(err));
	struct trace_rec *recs;

	REQUIRE(m->trace[0], "the mount has no trace (mount it with \"trace\")");
	REQUIRE(ctl != NULL, "connecting to %s: %s", m->ctl, err);
	REQUIRE(diofsctl_trace(ctl, "flush") == 0, "trace flush: %s", diofsctl_error(ctl));
	diofsctl_close(ctl);
	*n = diofs_trace_load(m->trace, &recs, err, sizeof(err));
	REQUIRE(*n >= 0, "the trace %s: %s", m->trace, err);
	return recs;
}

int fs_trace_count(const struct diofs_mount *m, const char *op, const char *path)
{
	int nrec, n = 0;
	struct trace_rec *recs = fs_trace_records(m, &nrec);

	for (int i = 0; i < nrec; i++)
		n += !strcmp(recs[i].op, op) && (!path || !strcmp(recs[i].path, path));
	free(recs);
	return n;
}

bool fs_init_flag(const struct diofs_mount *m, const char *which, const char *flag)
{
	char err[256], key[32];
	struct diofsctl *ctl = diofsctl_connect(m->ctl, err, sizeof(err));
	char **lines = NULL;
	bool found = false, seen = false;
	size_t flen = strlen(flag);

	REQUIRE(ctl != NULL, "connecting to %s: %s", m->ctl, err);
	/* INIT is answered after mount(2) returned; a request waits for it */
	struct stat st;
	REQUIRE(stat(m->mnt, &st) == 0, "stat %s: %s", m->mnt, expect_errname(errno));
	REQUIRE(diofsctl_cmd(ctl, &lines, "info") >= 0, "info: %s", diofsctl_error(ctl));
	diofsctl_close(ctl);
	snprintf(key, sizeof(key), "init %s=", which);
	for (char **l = lines; l && *l; l++) {
		const char *p;

		if (strncmp(*l, key, strlen(key)))
			continue;
		seen = true;
		/* a whole name in the comma-separated list */
		for (p = *l + strlen(key); (p = strstr(p, flag)); p += flen)
			if ((p[-1] == '=' || p[-1] == ',') && (p[flen] == ',' || !p[flen]))
				found = true;
	}
	diofsctl_free_lines(lines);
	REQUIRE(seen, "diofsctl info has no \"%s\" line", key);
	return found;
}

/* ---- mounts ---- */

struct diofs_mount *fs_mount(const char *opts)
{
	char err[1024];

	for (int i = 0; i < MAX_CASE_MOUNTS; i++) {
		if (case_mount_used[i])
			continue;
		case_mount_used[i] = true;
		defer_cleanup();
		if (diofs_mount_start(&case_mounts[i], opts, err, sizeof(err)) < 0) {
			case_mount_used[i] = false;
			REQUIRE(false, "mounting diofs -o %s: %s", opts ? opts : "(none)", err);
		}
		return &case_mounts[i];
	}
	REQUIRE(false, "more than %d mounts in one case", MAX_CASE_MOUNTS);
	return NULL;
}

struct diofs_mount *fs_mount_shared(void)
{
	struct diofs_mount *m = fs_mount("allow_other");

	REQUIRE_OK(chmod(m->root, 0755));
	REQUIRE_OK(mkdir(diofs_mnt_path(m, "shared"), 0777));
	REQUIRE_OK(chmod(diofs_mnt_path(m, "shared"), 0777));
	return m;
}

void fs_unmount(struct diofs_mount *m)
{
	for (int i = 0; i < MAX_CASE_MOUNTS; i++)
		if (m == &case_mounts[i] && case_mount_used[i]) {
			diofs_mount_stop(m);
			case_mount_used[i] = false;
		}
}

void fs_track_mount(const char *path, pid_t daemon)
{
	for (int i = 0; i < MAX_EXTRA; i++)
		if (!extra_used[i]) {
			snprintf(extra_path[i], sizeof(extra_path[i]), "%s", path);
			extra_pid[i] = daemon;
			extra_used[i] = true;
			defer_cleanup();
			test_track_mount(path, daemon, NULL);
			return;
		}
	REQUIRE(false, "more than %d extra mounts in one case", MAX_EXTRA);
}

static int detach_extra(int i)
{
	int ret = 0;

	if (!extra_used[i])
		return 0;
	/* Until nothing is mounted there any more (mounts can stack). */
	while (umount2(extra_path[i], MNT_DETACH) == 0)
		;
	if (errno != EINVAL && errno != ENOENT)
		ret = -errno;
	if (extra_pid[i] > 0)
		kill(extra_pid[i], SIGTERM);
	extra_used[i] = false;
	test_untrack_mount(extra_path[i]);
	return ret;
}

int fs_untrack_mount(const char *path)
{
	int ret = 0;

	for (int i = 0; i < MAX_EXTRA; i++)
		if (extra_used[i] && !strcmp(extra_path[i], path))
			ret = detach_extra(i);
	return ret;
}

int fs_mounted_at(const char *path, char *fstype, char *source)
{
	struct diofs_mountinfo top;
	int n = diofs_mountinfo_at(path, &top);

	if (n > 0 && fstype)
		snprintf(fstype, 64, "%s", top.fstype);
	if (n > 0 && source)
		snprintf(source, PATH_MAX, "%s", top.source);
	return n;
}

/* ---- helpers ---- */

int fs_put(const char *path, const void *buf, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t done = 0;
	int err = 0;

	if (fd < 0)
		return -errno;
	while (done < n) {
		ssize_t w = write(fd, (const char *)buf + done, n - done);
		if (w <= 0) {
			err = w < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)w;
	}
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

ssize_t fs_get(const char *path, void *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t done = 0;
	ssize_t err = 0;

	if (fd < 0)
		return -errno;
	while (done < cap) {
		ssize_t r = read(fd, (char *)buf + done, cap - done);
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	close(fd);
	return err ? err : (ssize_t)done;
}

char *fs_slurp(const char *path, size_t *n)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t done = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	buf = fs_alloc((size_t)st.st_size + 1);
	while (done < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + done, (size_t)st.st_size - done);
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	close(fd);
	buf[done] = '\0';
	*n = done;
	return buf;
}

int fs_as_user(uid_t uid, gid_t gid, mode_t mask, int (*fn)(void *), void *arg)
{
	return fs_as_user_groups(uid, gid, 0, NULL, mask, fn, arg);
}

int fs_rc(int r)
{
	return r < 0 ? errno : 0;
}

int fs_do_mkdir(void *path) { return fs_rc(mkdir(path, 0777)); }
int fs_do_rmdir(void *path) { return fs_rc(rmdir(path)); }
int fs_do_unlink(void *path) { return fs_rc(unlink(path)); }
int fs_do_truncate(void *path) { return fs_rc(truncate(path, 0)); }
int fs_do_symlink(void *path) { return fs_rc(symlink("target", path)); }

int fs_do_open_w(void *path)
{
	int fd = open(path, O_WRONLY);

	return fd < 0 ? errno : fs_rc(close(fd));
}

/* A child that becomes uid, gid, groups with umask mask and exits with
 * what fn returned (DIOFS_CHILD_NO_IDENTITY: it could not). */
static pid_t spawn_as(uid_t uid, gid_t gid, size_t ngroups, const gid_t *groups, mode_t mask,
		      int (*fn)(void *), void *arg)
{
	const struct diofs_identity id = {
		.uid = uid, .gid = gid, .ngroups = ngroups, .groups = groups, .umask = mask,
	};

	return diofs_spawn(&id, fn, arg);
}

/* What the child's wait status says: fn's result, or -1. */
static int child_result(int status)
{
	if (!WIFEXITED(status) || WEXITSTATUS(status) == DIOFS_CHILD_NO_IDENTITY) {
		fprintf(stderr, "fs_as_user: the child ended with status %#x\n", status);
		return -1;
	}
	return WEXITSTATUS(status);
}

int fs_as_user_groups(uid_t uid, gid_t gid, size_t ngroups, const gid_t *groups, mode_t mask,
		      int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = spawn_as(uid, gid, ngroups, groups, mask, fn, arg);

	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return child_result(status);
}

pid_t fs_spawn_as_user(uid_t uid, gid_t gid, mode_t mask, int (*fn)(void *), void *arg)
{
	return spawn_as(uid, gid, 0, NULL, mask, fn, arg);
}

int fs_wait_child(pid_t pid, int timeout_ms, int *status)
{
	int st = -1;    /* not an exit status: a child reaped elsewhere is "dead" */

	if (!diofs_wait_exit(pid, timeout_ms, &st))
		return -ETIMEDOUT;
	if (status)
		*status = st;
	return WIFEXITED(st) && WEXITSTATUS(st) != DIOFS_CHILD_NO_IDENTITY ? WEXITSTATUS(st) : -1;
}

/* ---- the end of the case ---- */

/* Deferred at the case's first mount or directory (test_defer): close the
 * case's files, detach the extra mounts, stop ours, remove the temporary
 * directories. */
static void fs_case_cleanup(void *arg)
{
	(void)arg;
	/* the files the case left open in the mounts first (a REQUIRE skips
	 * its closes): a daemon stops at once when nothing is open */
	for (int fd = 0; fd < (int)(sizeof(fds_before) / sizeof(*fds_before)); fd++)
		if (!fds_before[fd] && fcntl(fd, F_GETFD) != -1)
			close(fd);
	for (int i = 0; i < MAX_EXTRA; i++)
		detach_extra(i);
	for (int i = 0; i < MAX_CASE_MOUNTS; i++)
		if (case_mount_used[i]) {
			diofs_mount_stop(&case_mounts[i]);
			case_mount_used[i] = false;
		}
	for (int i = 0; i < MAX_TEMPDIRS; i++)
		if (tempdirs[i][0]) {
			if (diofs_remove_tree(tempdirs[i]) < 0)
				fprintf(stderr, "fstest: could not remove %s\n", tempdirs[i]);
			test_untrack_dir(tempdirs[i]);
			tempdirs[i][0] = '\0';
		}
}
