/* session: a short mount-and-I/O session touching every kind of request
 * diofs serves, for running the daemon under valgrind (valgrind-session):
 * O_DIRECT reads and writes (aligned and not, sync and libaio-free), file,
 * directory, link, symlink, attribute and xattr operations, a read held
 * and released (with the reply and with an errno), a delayed read, a
 * failed and a shortened one, trace on, flush and off, stats and rule
 * lists, then a clean unmount: the daemon must exit by itself, and its
 * exit status is reported (valgrind's --error-exitcode makes errors and
 * leaks visible there).
 *
 *   session [--rounds N]     (DIOFS names the daemon, or a wrapper) */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "soak.h"
#include "lib/diofsctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static struct diofs_mount m;
static struct soak_opts opts;
static uint64_t n_ops;

/* expect.h's, each call counted */
#define OK(expr) do { n_ops++; CHECK_OK(expr); } while (0)
#define FAILS_WITH(expr, err) do { n_ops++; CHECK_ERR(expr, err); } while (0)

struct bg_read {
	int fd;
	void *buf;
	size_t len;
	ssize_t res;
	int err;
};

static void *bg_read_main(void *arg)
{
	struct bg_read *b = arg;

	b->res = pread(b->fd, b->buf, b->len, 0);
	b->err = errno;
	return NULL;
}

static void held_read(struct diofsctl *ctl, int fd, const char *path, const char *how,
		      ssize_t want, int want_err)
{
	struct bg_read b = { .fd = fd, .len = 64 * 1024 };
	struct diofs_held h;
	pthread_t t;

	b.buf = soak_map(b.len);
	int id = diofsctl_rule_add(ctl, "hold op=read path=%s count=1", path);
	if (id < 0) {
		CHECK_FAILF("rule add: %s", diofsctl_error(ctl));
		return;
	}
	pthread_create(&t, NULL, bg_read_main, &b);
	if (diofsctl_held(ctl, 1, 30000, &h, 1) != 1)
		CHECK_FAILF("held: %s", diofsctl_error(ctl));
	else if (diofsctl_release(ctl, h.id, how) != 1)
		CHECK_FAILF("release: %s", diofsctl_error(ctl));
	pthread_join(t, NULL);
	diofsctl_rule_del(ctl, id);
	n_ops++;
	CHECK(b.res == want && (want >= 0 || b.err == want_err),
		   "held read released with %s: %zd (%s), want %zd", how ? how : "reply",
		   b.res, strerror(b.err), want);
	munmap(b.buf, b.len);
}

static void one_round(struct diofsctl *ctl, int round)
{
	char dir[400], f[450], g[450], l[450], s[450], sub[450];
	const size_t len = 128 * 1024;
	unsigned char *wbuf = soak_map(len), *rbuf = soak_map(len);
	struct stat st;
	int fd, fd2;

	snprintf(dir, sizeof(dir), "%s/r%d", m.mnt, round);
	snprintf(f, sizeof(f), "%s/f", dir);
	snprintf(g, sizeof(g), "%s/g", dir);
	snprintf(l, sizeof(l), "%s/l", dir);
	snprintf(s, sizeof(s), "%s/s", dir);
	snprintf(sub, sizeof(sub), "%s/sub", dir);

	OK(mkdir(dir, 0755));
	OK(mkdir(sub, 0700));
	OK(fd = open(f, O_RDWR | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC, 0644));
	pattern_fill(wbuf, len, 0, (uint64_t)round);
	n_ops++;
	CHECK(pwrite(fd, wbuf, len, 0) == (ssize_t)len, "pwrite: %s", strerror(errno));
	n_ops++;
	CHECK(pwrite(fd, wbuf + 17, 3001, 1013) == 3001, "unaligned pwrite: %s",
		   strerror(errno));
	memmove(wbuf + 1013, wbuf + 17, 3001);
	n_ops++;
	CHECK(pread(fd, rbuf, len, 0) == (ssize_t)len && !memcmp(rbuf, wbuf, len),
		   "pread back: %s", strerror(errno));
	OK(fsync(fd));
	OK(fdatasync(fd));
	OK(fallocate(fd, 0, (off_t)len, 4096));
	OK(ftruncate(fd, (off_t)len));
	OK(lseek(fd, 0, SEEK_DATA));
	OK(flock(fd, LOCK_EX));
	OK(flock(fd, LOCK_UN));
	OK(fd2 = open(g, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
	n_ops++;
	CHECK(copy_file_range(fd, NULL, fd2, NULL, 8192, 0) >= 0, "copy_file_range: %s",
		   strerror(errno));
	OK(close(fd2));
	OK(fchmod(fd, 0640));
	OK(fstat(fd, &st));
	OK(fsetxattr(fd, "user.diofs", "value", 5, 0));
	char xv[64], xl[256];
	n_ops++;
	CHECK(fgetxattr(fd, "user.diofs", xv, sizeof(xv)) == 5, "fgetxattr: %s", strerror(errno));
	n_ops++;
	CHECK(flistxattr(fd, xl, sizeof(xl)) > 0, "flistxattr: %s", strerror(errno));
	OK(fremovexattr(fd, "user.diofs"));
	FAILS_WITH(fgetxattr(fd, "user.diofs", xv, sizeof(xv)), ENODATA);

	/* the instrument: held (reply, errno, short), delay, fail, short */
	char fpath[64];
	snprintf(fpath, sizeof(fpath), "/r%d/f", round);
	held_read(ctl, fd, fpath, NULL, 64 * 1024, 0);
	held_read(ctl, fd, fpath, "errno=EIO", -1, EIO);
	held_read(ctl, fd, fpath, "short=1000", 1000, 0);
	int id = diofsctl_rule_add(ctl, "delay=20 op=read path=%s count=1", fpath);
	n_ops++;
	CHECK(id > 0 && pread(fd, rbuf, 4096, 0) == 4096, "delayed read: %s", strerror(errno));
	diofsctl_rule_del(ctl, id);
	id = diofsctl_rule_add(ctl, "fail=ENOSPC op=write path=%s count=1", fpath);
	FAILS_WITH(pwrite(fd, wbuf, 4096, 0), ENOSPC);
	diofsctl_rule_del(ctl, id);
	id = diofsctl_rule_add(ctl, "short=100 op=read path=%s count=1", fpath);
	n_ops++;
	CHECK(pread(fd, rbuf, 4096, 0) == 100, "short read: %s", strerror(errno));
	diofsctl_rule_del(ctl, id);
	id = diofsctl_rule_add(ctl, "overlong=64 op=read path=%s count=1", fpath);
	FAILS_WITH(pread(fd, rbuf, 4096, 0), EIO);
	diofsctl_rule_del(ctl, id);
	OK(close(fd));

	/* names */
	OK(link(f, l));
	OK(symlink("f", s));
	char target[16];
	n_ops++;
	CHECK(readlink(s, target, sizeof(target)) == 1, "readlink: %s", strerror(errno));
	OK(lstat(s, &st));
	char g2[500];
	snprintf(g2, sizeof(g2), "%s/g2", sub);
	OK(rename(g, g2));
	OK(renameat2(AT_FDCWD, g2, AT_FDCWD, l, RENAME_EXCHANGE));
	OK(truncate(f, 4096));
	OK(chmod(f, 0600));
	struct timespec ts[2] = { { .tv_sec = 1 }, { .tv_sec = 2 } };
	OK(utimensat(AT_FDCWD, f, ts, 0));
	OK(access(f, R_OK | W_OK));
	OK(mknod(g, S_IFIFO | 0600, 0));
	struct statvfs sv;
	OK(statvfs(m.mnt, &sv));
	DIR *d = opendir(dir);
	int entries = 0;
	if (d) {
		while (readdir(d))
			entries++;
		closedir(d);
	}
	n_ops++;
	CHECK(entries == 7, "readdir of %s: %d entries, want 7", dir, entries);
	FAILS_WITH(rmdir(sub), ENOTEMPTY);
	FAILS_WITH(open(dir, O_WRONLY), EISDIR);
	FAILS_WITH(mkdir(sub, 0700), EEXIST);
	OK(unlink(g2));
	OK(unlink(l));
	OK(unlink(s));
	OK(unlink(g));
	OK(unlink(f));
	OK(rmdir(sub));
	OK(rmdir(dir));
	munmap(wbuf, len);
	munmap(rbuf, len);
}

static void session(void)
{
	char err[512], tracefile[512];
	int status = 0;

	soak_mount(&m, "trace");
	struct diofsctl *ctl = diofsctl_connect(m.ctl, err, sizeof(err));
	if (!ctl) {
		CHECK_FAILF("control socket: %s", err);
		diofs_mount_stop(&m);
		return;
	}
	unsigned int rounds = opts.threads ? opts.threads : 3;
	for (unsigned int r = 0; r < rounds; r++)
		one_round(ctl, (int)r);

	/* the control commands */
	char **lines = NULL;
	CHECK(diofsctl_cmd(ctl, &lines, "stats") > 0, "stats: %s", diofsctl_error(ctl));
	diofsctl_free_lines(lines);
	CHECK(diofsctl_rule_add(ctl, "delay=1 op=getattr") > 0, "rule add");
	CHECK(diofsctl_cmd(ctl, &lines, "rule list") == 1, "rule list");
	diofsctl_free_lines(lines);
	CHECK(diofsctl_rule_clear(ctl) == 0, "rule clear");
	CHECK(diofsctl_trace(ctl, "flush") == 0, "trace flush: %s", diofsctl_error(ctl));
	CHECK(diofsctl_trace(ctl, "off") == 0, "trace off: %s", diofsctl_error(ctl));
	snprintf(tracefile, sizeof(tracefile), "%s/trace2.jsonl", m.root);
	CHECK(diofsctl_cmd(ctl, NULL, "trace on %s", tracefile) == 0, "trace on FILE: %s",
		   diofsctl_error(ctl));
	CHECK(diofsctl_cmd(ctl, NULL, "bogus command") < 0, "a bad command is refused");
	CHECK(diofsctl_cmd(ctl, NULL, "rule add hold op=nosuchop") < 0, "a bad rule is refused");
	/* a hold left in place when the mount goes: the daemon must answer
	 * it and still exit cleanly */
	diofsctl_rule_add(ctl, "hold op=getattr path=/last");
	diofsctl_close(ctl);

	/* a clean end: unmount, and the daemon exits by itself */
	pid_t pid = m.pid;
	if (umount2(m.mnt, MNT_DETACH) < 0)
		CHECK_FAILF("umount %s: %s", m.mnt, strerror(errno));
	if (!diofs_wait_exit(pid, 120000, &status)) {
		soak_note("the daemon did not exit within 120 s of the unmount: SIGTERM");
		kill(pid, SIGTERM);
		if (!diofs_wait_exit(pid, 120000, &status))
			CHECK_FAILF("the daemon did not exit after SIGTERM");
	}
	m.pid = 0;
	diofs_mount_stop(&m);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		   "the daemon ended with %s %d (valgrind reports errors and leaks as exit 3)",
		   WIFEXITED(status) ? "exit status" : "signal",
		   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	soak_figure_set("operations", n_ops);
	soak_figure_set("rounds", rounds);
	soak_figure_set("daemon_exit_status", WIFEXITED(status) ? (uint64_t)WEXITSTATUS(status) : 128 + (uint64_t)WTERMSIG(status));
}

int main(int argc, char **argv)
{
	soak_init("session", argc, argv, &opts, 0, 0);
	soak_require_mount();
	return soak_run(session, 600);
}
