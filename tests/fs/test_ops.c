/* Every passthrough operation through a real mount, compared against the
 * backing directory, and the backing filesystem's errnos coming back. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "fstest.h"

#include <dirent.h>
#include <sched.h>
#include <time.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

static void mount_default(void)
{
	M = fs_mount(NULL);
}

/* The attributes a passthrough must show as the backing file has them. */
static void check_same_stat(const char *what, const struct stat *got, const struct stat *want)
{
	CHECK(got->st_ino == want->st_ino, "%s: st_ino: got %ju, want %ju", what,
	      (uintmax_t)got->st_ino, (uintmax_t)want->st_ino);
	CHECK(got->st_mode == want->st_mode, "%s: st_mode: got %#o, want %#o", what,
	      got->st_mode, want->st_mode);
	CHECK(got->st_nlink == want->st_nlink, "%s: st_nlink: got %ju, want %ju", what,
	      (uintmax_t)got->st_nlink, (uintmax_t)want->st_nlink);
	CHECK(got->st_uid == want->st_uid && got->st_gid == want->st_gid,
	      "%s: owner: got %u:%u, want %u:%u", what, got->st_uid, got->st_gid,
	      want->st_uid, want->st_gid);
	CHECK(got->st_size == want->st_size, "%s: st_size: got %jd, want %jd", what,
	      (intmax_t)got->st_size, (intmax_t)want->st_size);
	CHECK(got->st_rdev == want->st_rdev, "%s: st_rdev: got %#jx, want %#jx", what,
	      (uintmax_t)got->st_rdev, (uintmax_t)want->st_rdev);
	CHECK(got->st_mtim.tv_sec == want->st_mtim.tv_sec &&
	      got->st_mtim.tv_nsec == want->st_mtim.tv_nsec,
	      "%s: st_mtim: got %jd.%09ld, want %jd.%09ld", what,
	      (intmax_t)got->st_mtim.tv_sec, got->st_mtim.tv_nsec,
	      (intmax_t)want->st_mtim.tv_sec, want->st_mtim.tv_nsec);
	CHECK(got->st_blocks == want->st_blocks, "%s: st_blocks: got %jd, want %jd", what,
	      (intmax_t)got->st_blocks, (intmax_t)want->st_blocks);
}

static void lstat_both(const char *name, struct stat *mnt, struct stat *bak)
{
	REQUIRE_OK(lstat(MNT(name), mnt));
	REQUIRE_OK(lstat(BAK(name), bak));
}

/* The trace's count of op on path, once it reaches want: a release is
 * sent after close(2) returns, and traced just after the daemon let go of
 * the file; each statfs round trip lets it by (no timed sleep). */
static int trace_count_reaching(const char *op, const char *path, int want)
{
	int n = 0;

	for (int i = 0; i < 200; i++) {
		struct statvfs sv;

		n = fs_trace_count(M, op, path);
		if (n >= want)
			break;
		statvfs(M->mnt, &sv);
		sched_yield();
	}
	return n;
}

/* ---- lookup, forget, getattr ---- */

TEST(getattr_matches_backing, .needs = TEST_NEEDS_ROOT)
{
	struct stat m, b;

	mount_default();
	REQUIRE_OK(fs_put(BAK("file"), "0123456789", 10, 0640));
	REQUIRE_OK(mkdir(BAK("dir"), 0751));
	REQUIRE_OK(symlink("file", BAK("link")));
	REQUIRE_OK(mkfifo(BAK("fifo"), 0600));
	REQUIRE_OK(chown(BAK("file"), 4242, 4343));

	lstat_both("file", &m, &b);
	check_same_stat("file", &m, &b);
	lstat_both("dir", &m, &b);
	check_same_stat("dir", &m, &b);
	lstat_both("link", &m, &b);
	check_same_stat("symlink", &m, &b);
	CHECK(S_ISLNK(m.st_mode), "lstat of a symlink through the mount: mode %#o", m.st_mode);
	lstat_both("fifo", &m, &b);
	check_same_stat("fifo", &m, &b);
	/* stat follows the link (the kernel does) to the file */
	REQUIRE_OK(stat(MNT("link"), &m));
	REQUIRE_OK(stat(BAK("file"), &b));
	check_same_stat("stat through a symlink", &m, &b);
	/* the root */
	REQUIRE_OK(stat(M->mnt, &m));
	REQUIRE_OK(stat(M->backing, &b));
	CHECK(m.st_ino == b.st_ino && m.st_mode == b.st_mode,
	      "root: got ino %ju mode %#o, want ino %ju mode %#o", (uintmax_t)m.st_ino,
	      m.st_mode, (uintmax_t)b.st_ino, b.st_mode);
	/* fstat on an open file */
	int fd = REQUIRE_OK(open(MNT("file"), O_RDONLY));
	REQUIRE_OK(fstat(fd, &m));
	REQUIRE_OK(stat(BAK("file"), &b));
	check_same_stat("fstat", &m, &b);
	close(fd);
}

TEST(lookup_errors_as_on_backing, .needs = TEST_NEEDS_MOUNT)
{
	struct stat st;
	char name[300];

	mount_default();
	CHECK_ERR(lstat(MNT("nothing-here"), &st), ENOENT);
	REQUIRE_OK(fs_put(BAK("file"), "x", 1, 0644));
	/* a file used as a directory */
	CHECK_ERR(lstat(MNT("file/below"), &st), ENOTDIR);
	/* a name longer than NAME_MAX: the backing filesystem refuses it */
	memset(name, 'n', 256);
	name[256] = '\0';
	CHECK_ERR(lstat(MNT(name), &st), ENAMETOOLONG);
}

/* Names made in the backing directory are found through the mount, and
 * names made through the mount are in the backing directory. */
TEST(lookup_sees_new_entries, .needs = TEST_NEEDS_MOUNT)
{
	struct stat st;

	mount_default();
	REQUIRE_OK(fs_put(BAK("early"), "e", 1, 0644));
	CHECK_OK(lstat(MNT("early"), &st));
	REQUIRE_OK(fs_put(MNT("made"), "m", 1, 0644));
	CHECK_OK(lstat(MNT("made"), &st));
	CHECK_OK(lstat(BAK("made"), &st));
}

/* Each inode the kernel looks up costs the daemon an O_PATH fd; the
 * kernel's forgets (here: of unlinked files) must give them back. */
TEST(forget_releases_inodes, .needs = TEST_NEEDS_MOUNT)
{
	enum { N = 300 };
	char name[32];
	struct stat st;
	int base, peak, now = -1;

	mount_default();
	base = diofs_count_fds(M->pid);
	REQUIRE(base > 0, "cannot count the daemon's fds (pid %d)", (int)M->pid);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		REQUIRE_OK(fs_put(BAK(name), "x", 1, 0644));
		REQUIRE_OK(lstat(MNT(name), &st));
	}
	peak = diofs_count_fds(M->pid);
	CHECK(peak >= base + N, "after %d lookups the daemon has %d fds, want >= %d", N, peak,
	      base + N);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		REQUIRE_OK(unlink(MNT(name)));
	}
	/* Forgets are queued by the kernel and read before the next request:
	 * each statfs round trip lets them through (no timed sleep). */
	for (int i = 0; i < 2000; i++) {
		struct statvfs sv;

		now = diofs_count_fds(M->pid);
		if (now < base + N / 10)
			break;
		statvfs(M->mnt, &sv);
		sched_yield();
	}
	CHECK(now < base + N / 10,
	      "after unlinking %d looked-up files the daemon still holds %d fds (%d before)", N,
	      now, base);
}

/* ---- setattr ---- */

TEST(chmod_chown_reach_backing, .needs = TEST_NEEDS_ROOT)
{
	struct stat m, b;

	mount_default();
	REQUIRE_OK(fs_put(MNT("f"), "abc", 3, 0644));
	REQUIRE_OK(chmod(MNT("f"), 0604));
	REQUIRE_OK(stat(BAK("f"), &b));
	CHECK_EQ(b.st_mode & 07777, 0604);
	REQUIRE_OK(chmod(MNT("f"), 04755));
	REQUIRE_OK(stat(BAK("f"), &b));
	CHECK_EQ(b.st_mode & 07777, 04755);
	REQUIRE_OK(chown(MNT("f"), 4242, 4343));
	REQUIRE_OK(stat(BAK("f"), &b));
	CHECK(b.st_uid == 4242 && b.st_gid == 4343, "backing owner after chown: %u:%u",
	      b.st_uid, b.st_gid);
	/* chown clears set-user-ID, as on any local filesystem */
	CHECK((b.st_mode & S_ISUID) == 0, "set-user-ID survived chown: mode %#o", b.st_mode);
	REQUIRE_OK(chown(MNT("f"), (uid_t)-1, 4444));
	REQUIRE_OK(stat(BAK("f"), &b));
	CHECK(b.st_uid == 4242 && b.st_gid == 4444, "backing owner after chown -1:4444: %u:%u",
	      b.st_uid, b.st_gid);
	REQUIRE_OK(mkdir(MNT("d"), 0700));
	REQUIRE_OK(chmod(MNT("d"), 02775));
	REQUIRE_OK(lchown(MNT("d"), 77, 88));
	lstat_both("d", &m, &b);
	check_same_stat("dir after chmod, chown", &m, &b);
	CHECK_EQ(b.st_mode & 07777, 02775);
	/* a symlink's owner, not its target's */
	REQUIRE_OK(symlink("f", MNT("l")));
	REQUIRE_OK(lchown(MNT("l"), 99, 98));
	REQUIRE_OK(lstat(BAK("l"), &b));
	CHECK(b.st_uid == 99 && b.st_gid == 98, "symlink owner after lchown: %u:%u", b.st_uid,
	      b.st_gid);
	REQUIRE_OK(stat(BAK("f"), &b));
	CHECK(b.st_uid == 4242, "lchown of the symlink changed its target to %u", b.st_uid);
	/* on an open file */
	int fd = REQUIRE_OK(open(MNT("f"), O_RDONLY));
	CHECK_OK(fchmod(fd, 0640));
	CHECK_OK(fchown(fd, 5151, 5252));
	close(fd);
	REQUIRE_OK(stat(BAK("f"), &b));
	CHECK(b.st_uid == 5151 && b.st_gid == 5252 && (b.st_mode & 07777) == 0640,
	      "after fchmod 0640, fchown 5151:5252 the backing file is %u:%u %#o", b.st_uid,
	      b.st_gid, b.st_mode & 07777);
	/* chmod of something missing */
	CHECK_ERR(chmod(MNT("missing"), 0600), ENOENT);
}

TEST(truncate_shrinks_and_grows_backing, .needs = TEST_NEEDS_MOUNT)
{
	char buf[8192], want[8192];
	struct stat b;
	int fd;

	mount_default();
	pattern_fill(want, sizeof(want), 0, 1);
	REQUIRE_OK(fs_put(MNT("t"), want, 5000, 0644));
	/* shrink by path */
	REQUIRE_OK(truncate(MNT("t"), 1234));
	REQUIRE_OK(stat(BAK("t"), &b));
	CHECK_EQ(b.st_size, 1234);
	/* grow by path: zeros */
	REQUIRE_OK(truncate(MNT("t"), 8000));
	REQUIRE_OK(stat(BAK("t"), &b));
	CHECK_EQ(b.st_size, 8000);
	memset(want + 1234, 0, sizeof(want) - 1234);
	CHECK_EQ(fs_get(BAK("t"), buf, sizeof(buf)), 8000);
	CHECK_MEM(buf, want, 8000, "backing after truncate 5000 -> 1234 -> 8000");
	CHECK_EQ(fs_get(MNT("t"), buf, sizeof(buf)), 8000);
	CHECK_MEM(buf, want, 8000, "read through the mount after truncates");
	/* ftruncate on an open file */
	fd = REQUIRE_OK(open(MNT("t"), O_RDWR));
	REQUIRE_OK(ftruncate(fd, 10));
	REQUIRE_OK(stat(BAK("t"), &b));
	CHECK_EQ(b.st_size, 10);
	REQUIRE_OK(fstat(fd, &b));
	CHECK_EQ(b.st_size, 10);
	close(fd);
	/* O_TRUNC */
	fd = REQUIRE_OK(open(MNT("t"), O_WRONLY | O_TRUNC));
	close(fd);
	REQUIRE_OK(stat(BAK("t"), &b));
	CHECK_EQ(b.st_size, 0);
	/* directories cannot be truncated */
	REQUIRE_OK(mkdir(MNT("d"), 0755));
	CHECK_ERR(truncate(MNT("d"), 0), EISDIR);
}

TEST(utimens_sets_backing_times, .needs = TEST_NEEDS_MOUNT)
{
	struct timespec ts[2] = {
		{ .tv_sec = 1000000000, .tv_nsec = 123456789 },
		{ .tv_sec = 1234567890, .tv_nsec = 987654321 },
	};
	struct stat m, b;
	struct timespec before;

	mount_default();
	REQUIRE_OK(fs_put(MNT("f"), "x", 1, 0644));
	REQUIRE_OK(utimensat(AT_FDCWD, MNT("f"), ts, 0));
	lstat_both("f", &m, &b);
	CHECK(b.st_atim.tv_sec == ts[0].tv_sec && b.st_atim.tv_nsec == ts[0].tv_nsec,
	      "backing atime: got %jd.%09ld, want %jd.%09ld", (intmax_t)b.st_atim.tv_sec,
	      b.st_atim.tv_nsec, (intmax_t)ts[0].tv_sec, ts[0].tv_nsec);
	CHECK(b.st_mtim.tv_sec == ts[1].tv_sec && b.st_mtim.tv_nsec == ts[1].tv_nsec,
	      "backing mtime: got %jd.%09ld, want %jd.%09ld", (intmax_t)b.st_mtim.tv_sec,
	      b.st_mtim.tv_nsec, (intmax_t)ts[1].tv_sec, ts[1].tv_nsec);
	check_same_stat("after utimensat", &m, &b);

	/* UTIME_OMIT leaves one alone, UTIME_NOW sets the other to now */
	clock_gettime(CLOCK_REALTIME, &before);
	before.tv_sec -= 1; /* filesystem timestamp granularity */
	struct timespec now_omit[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_NOW } };
	REQUIRE_OK(utimensat(AT_FDCWD, MNT("f"), now_omit, 0));
	REQUIRE_OK(stat(BAK("f"), &b));
	CHECK(b.st_atim.tv_sec == ts[0].tv_sec && b.st_atim.tv_nsec == ts[0].tv_nsec,
	      "UTIME_OMIT changed atime to %jd.%09ld", (intmax_t)b.st_atim.tv_sec,
	      b.st_atim.tv_nsec);
	CHECK(b.st_mtim.tv_sec >= before.tv_sec,
	      "UTIME_NOW: backing mtime %jd is before %jd", (intmax_t)b.st_mtim.tv_sec,
	      (intmax_t)before.tv_sec);

	/* a symlink's own times */
	REQUIRE_OK(symlink("f", MNT("l")));
	REQUIRE_OK(utimensat(AT_FDCWD, MNT("l"), ts, AT_SYMLINK_NOFOLLOW));
	REQUIRE_OK(lstat(BAK("l"), &b));
	CHECK(b.st_mtim.tv_sec == ts[1].tv_sec && b.st_mtim.tv_nsec == ts[1].tv_nsec,
	      "symlink mtime: got %jd.%09ld, want %jd.%09ld", (intmax_t)b.st_mtim.tv_sec,
	      b.st_mtim.tv_nsec, (intmax_t)ts[1].tv_sec, ts[1].tv_nsec);
	REQUIRE_OK(stat(BAK("f"), &b));
	CHECK(b.st_mtim.tv_sec != ts[1].tv_sec,
	      "utimensat(AT_SYMLINK_NOFOLLOW) on the link set its target's mtime");
	/* futimens on an open fd */
	int fd = REQUIRE_OK(open(MNT("f"), O_WRONLY));
	REQUIRE_OK(futimens(fd, ts));
	close(fd);
	REQUIRE_OK(stat(BAK("f"), &b));
	CHECK(b.st_mtim.tv_sec == ts[1].tv_sec && b.st_mtim.tv_nsec == ts[1].tv_nsec,
	      "futimens: backing mtime %jd.%09ld", (intmax_t)b.st_mtim.tv_sec,
	      b.st_mtim.tv_nsec);
}

/* ---- readlink, symlink ---- */

TEST(symlinks_read_both_ways, .needs = TEST_NEEDS_MOUNT)
{
	char buf[PATH_MAX + 1], target[PATH_MAX];
	ssize_t n;

	mount_default();
	/* made in the backing directory, read through the mount */
	REQUIRE_OK(symlink("../some/where", BAK("b2m")));
	n = readlink(MNT("b2m"), buf, sizeof(buf));
	REQUIRE(n >= 0, "readlink through the mount: %s", expect_errname(errno));
	buf[n] = '\0';
	CHECK_STR(buf, "../some/where");
	/* made through the mount, read in the backing directory */
	REQUIRE_OK(symlink("/an/absolute/target", MNT("m2b")));
	n = readlink(BAK("m2b"), buf, sizeof(buf));
	REQUIRE(n >= 0, "readlink of the backing link: %s", expect_errname(errno));
	buf[n] = '\0';
	CHECK_STR(buf, "/an/absolute/target");
	/* the longest target a link may have */
	memset(target, 'a', sizeof(target) - 1);
	for (size_t i = 100; i < sizeof(target) - 1; i += 100)
		target[i] = '/';
	target[sizeof(target) - 1] = '\0';
	REQUIRE_OK(symlink(target, MNT("long")));
	n = readlink(MNT("long"), buf, sizeof(buf));
	CHECK_EQ(n, (ssize_t)strlen(target));
	if (n >= 0) {
		buf[n] = '\0';
		CHECK(!strcmp(buf, target), "a %zu-byte link target came back different",
		      strlen(target));
	}
	/* readlink of a file */
	REQUIRE_OK(fs_put(MNT("plain"), "x", 1, 0644));
	CHECK_ERR(readlink(MNT("plain"), buf, sizeof(buf)), EINVAL);
	CHECK_ERR(symlink("x", MNT("plain")), EEXIST);
	/* a dangling link is still a link */
	struct stat st;
	REQUIRE_OK(symlink("does-not-exist", MNT("dangling")));
	CHECK_OK(lstat(MNT("dangling"), &st));
	CHECK_ERR(stat(MNT("dangling"), &st), ENOENT);
}

/* ---- mknod, mkdir, unlink, rmdir ---- */

TEST(mknod_makes_fifos_sockets_files, .needs = TEST_NEEDS_MOUNT)
{
	struct stat m, b;

	mount_default();
	REQUIRE_OK(mkfifo(MNT("fifo"), 0640));
	lstat_both("fifo", &m, &b);
	CHECK(S_ISFIFO(b.st_mode) && (b.st_mode & 07777) == 0640,
	      "backing fifo mode %#o, want a fifo 0640", b.st_mode);
	check_same_stat("fifo", &m, &b);
	REQUIRE_OK(mknod(MNT("sock"), S_IFSOCK | 0600, 0));
	lstat_both("sock", &m, &b);
	CHECK(S_ISSOCK(b.st_mode) && (b.st_mode & 07777) == 0600,
	      "backing socket mode %#o, want a socket 0600", b.st_mode);
	check_same_stat("socket", &m, &b);
	/* bind(2) makes a socket node through the mount too */
	int s = REQUIRE_OK(socket(AF_UNIX, SOCK_STREAM, 0));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", MNT("bound")) <
	    (int)sizeof(sa.sun_path)) {
		CHECK_OK(bind(s, (struct sockaddr *)&sa, sizeof(sa)));
		CHECK_OK(lstat(BAK("bound"), &b));
		CHECK(S_ISSOCK(b.st_mode), "bind made mode %#o in the backing dir", b.st_mode);
	}
	close(s);
	/* a regular file by mknod */
	REQUIRE_OK(mknod(MNT("reg"), S_IFREG | 0604, 0));
	REQUIRE_OK(lstat(BAK("reg"), &b));
	CHECK(S_ISREG(b.st_mode) && (b.st_mode & 07777) == 0604, "mknod S_IFREG: %#o",
	      b.st_mode);
	CHECK_ERR(mkfifo(MNT("fifo"), 0600), EEXIST);
	/* data through a fifo in the mount: the kernel's pipe, not ours */
	int rfd = REQUIRE_OK(open(MNT("fifo"), O_RDONLY | O_NONBLOCK));
	int wfd = REQUIRE_OK(open(MNT("fifo"), O_WRONLY));
	char c = 0;
	CHECK_EQ(write(wfd, "p", 1), 1);
	CHECK_EQ(read(rfd, &c, 1), 1);
	CHECK_EQ(c, 'p');
	close(wfd);
	close(rfd);
}

TEST(mkdir_rmdir_as_on_backing, .needs = TEST_NEEDS_MOUNT)
{
	struct stat m, b;

	mount_default();
	REQUIRE_OK(mkdir(MNT("d"), 0750));
	lstat_both("d", &m, &b);
	CHECK(S_ISDIR(b.st_mode) && (b.st_mode & 07777) == 0750, "backing dir mode %#o",
	      b.st_mode);
	check_same_stat("new dir", &m, &b);
	CHECK_ERR(mkdir(MNT("d"), 0755), EEXIST);
	REQUIRE_OK(mkdir(MNT("d/sub"), 0755));
	REQUIRE_OK(stat(BAK("d/sub"), &b));
	REQUIRE_OK(stat(BAK("d"), &b));
	CHECK_EQ(b.st_nlink, 3);
	REQUIRE_OK(stat(MNT("d"), &m));
	CHECK_EQ(m.st_nlink, 3);
	CHECK_ERR(rmdir(MNT("d")), ENOTEMPTY);
	CHECK_ERR(mkdir(MNT("missing/sub"), 0755), ENOENT);
	REQUIRE_OK(fs_put(MNT("f"), "x", 1, 0644));
	CHECK_ERR(rmdir(MNT("f")), ENOTDIR);
	CHECK_ERR(mkdir(MNT("f/sub"), 0755), ENOTDIR);
	CHECK_ERR(rmdir(MNT("missing")), ENOENT);
	REQUIRE_OK(rmdir(MNT("d/sub")));
	REQUIRE_OK(rmdir(MNT("d")));
	CHECK_ERR(lstat(BAK("d"), &b), ENOENT);
	CHECK_ERR(lstat(MNT("d"), &m), ENOENT);
}

TEST(unlink_removes_entry_open_file_stays, .needs = TEST_NEEDS_MOUNT)
{
	struct stat st;
	char buf[8];
	int fd;

	mount_default();
	REQUIRE_OK(fs_put(MNT("f"), "data", 4, 0644));
	REQUIRE_OK(unlink(MNT("f")));
	CHECK_ERR(lstat(BAK("f"), &st), ENOENT);
	CHECK_ERR(lstat(MNT("f"), &st), ENOENT);
	CHECK_ERR(unlink(MNT("f")), ENOENT);
	REQUIRE_OK(mkdir(MNT("d"), 0755));
	CHECK_ERR(unlink(MNT("d")), EISDIR);
	/* an open file stays readable after its unlink */
	REQUIRE_OK(fs_put(MNT("g"), "open", 4, 0644));
	fd = REQUIRE_OK(open(MNT("g"), O_RDONLY));
	REQUIRE_OK(unlink(MNT("g")));
	CHECK_ERR(lstat(BAK("g"), &st), ENOENT);
	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 4);
	CHECK_MEM(buf, "open", 4, "read after unlink");
	close(fd);
	/* symlinks and fifos go the same way */
	REQUIRE_OK(symlink("x", MNT("l")));
	REQUIRE_OK(unlink(MNT("l")));
	CHECK_ERR(lstat(BAK("l"), &st), ENOENT);
}

/* ---- rename ---- */

TEST(rename_moves_and_replaces, .needs = TEST_NEEDS_MOUNT)
{
	struct stat st, before;
	char buf[16];

	mount_default();
	REQUIRE_OK(fs_put(MNT("a"), "AAAA", 4, 0644));
	REQUIRE_OK(stat(BAK("a"), &before));
	REQUIRE_OK(rename(MNT("a"), MNT("b")));
	CHECK_ERR(lstat(BAK("a"), &st), ENOENT);
	REQUIRE_OK(lstat(BAK("b"), &st));
	CHECK_EQ(st.st_ino, before.st_ino);
	/* over an existing file */
	REQUIRE_OK(fs_put(MNT("c"), "CC", 2, 0644));
	REQUIRE_OK(rename(MNT("b"), MNT("c")));
	CHECK_EQ(fs_get(BAK("c"), buf, sizeof(buf)), 4);
	CHECK_MEM(buf, "AAAA", 4, "backing c after rename b -> c");
	CHECK_EQ(fs_get(MNT("c"), buf, sizeof(buf)), 4);
	CHECK_MEM(buf, "AAAA", 4, "mount c after rename b -> c");
	/* into a subdirectory */
	REQUIRE_OK(mkdir(MNT("d"), 0755));
	REQUIRE_OK(rename(MNT("c"), MNT("d/c")));
	CHECK_OK(lstat(BAK("d/c"), &st));
	/* directory over a non-empty directory, file over a directory */
	REQUIRE_OK(mkdir(MNT("e"), 0755));
	CHECK_ERR(rename(MNT("e"), MNT("d")), ENOTEMPTY);
	REQUIRE_OK(fs_put(MNT("f"), "f", 1, 0644));
	CHECK_ERR(rename(MNT("f"), MNT("e")), EISDIR);
	CHECK_ERR(rename(MNT("e"), MNT("f")), ENOTDIR);
	CHECK_ERR(rename(MNT("missing"), MNT("x")), ENOENT);
	/* a directory into itself */
	CHECK_ERR(rename(MNT("d"), MNT("d/c/x")), ENOTDIR);
	CHECK_ERR(rename(MNT("d"), MNT("d/sub")), EINVAL);
}

TEST(rename_noreplace_keeps_target, .needs = TEST_NEEDS_MOUNT)
{
	char buf[8];
	struct stat st;

	mount_default();
	REQUIRE_OK(fs_put(MNT("a"), "A", 1, 0644));
	REQUIRE_OK(fs_put(MNT("b"), "B", 1, 0644));
	CHECK_ERR(renameat2(AT_FDCWD, MNT("a"), AT_FDCWD, MNT("b"), RENAME_NOREPLACE), EEXIST);
	CHECK_EQ(fs_get(BAK("b"), buf, sizeof(buf)), 1);
	CHECK(buf[0] == 'B', "RENAME_NOREPLACE replaced b anyway: b holds '%c'", buf[0]);
	CHECK_OK(lstat(BAK("a"), &st));
	CHECK_OK(renameat2(AT_FDCWD, MNT("a"), AT_FDCWD, MNT("c"), RENAME_NOREPLACE));
	CHECK_ERR(lstat(BAK("a"), &st), ENOENT);
	CHECK_EQ(fs_get(BAK("c"), buf, sizeof(buf)), 1);
	CHECK(buf[0] == 'A', "c holds '%c' after RENAME_NOREPLACE a -> c", buf[0]);
}

TEST(rename_exchange_swaps_entries, .needs = TEST_NEEDS_MOUNT)
{
	char buf[8];
	struct stat a0, d0, st;

	mount_default();
	REQUIRE_OK(fs_put(MNT("a"), "A", 1, 0644));
	REQUIRE_OK(mkdir(MNT("d"), 0755));
	REQUIRE_OK(fs_put(MNT("d/in"), "I", 1, 0644));
	REQUIRE_OK(lstat(BAK("a"), &a0));
	REQUIRE_OK(lstat(BAK("d"), &d0));
	REQUIRE_OK(renameat2(AT_FDCWD, MNT("a"), AT_FDCWD, MNT("d"), RENAME_EXCHANGE));
	REQUIRE_OK(lstat(BAK("a"), &st));
	CHECK(S_ISDIR(st.st_mode) && st.st_ino == d0.st_ino,
	      "after the exchange backing a is ino %ju mode %#o, want the directory %ju",
	      (uintmax_t)st.st_ino, st.st_mode, (uintmax_t)d0.st_ino);
	REQUIRE_OK(lstat(BAK("d"), &st));
	CHECK(S_ISREG(st.st_mode) && st.st_ino == a0.st_ino,
	      "after the exchange backing d is ino %ju mode %#o, want the file %ju",
	      (uintmax_t)st.st_ino, st.st_mode, (uintmax_t)a0.st_ino);
	/* and the mount sees it so */
	CHECK_EQ(fs_get(MNT("a/in"), buf, sizeof(buf)), 1);
	CHECK_EQ(fs_get(MNT("d"), buf, sizeof(buf)), 1);
	CHECK(buf[0] == 'A', "d through the mount holds '%c', want 'A'", buf[0]);
	CHECK_ERR(renameat2(AT_FDCWD, MNT("a"), AT_FDCWD, MNT("missing"), RENAME_EXCHANGE),
		  ENOENT);
}

/* ---- link ---- */

TEST(hard_links_share_the_inode, .needs = TEST_NEEDS_MOUNT)
{
	struct stat m, b, orig;
	char buf[8];

	mount_default();
	REQUIRE_OK(fs_put(MNT("f"), "L", 1, 0644));
	REQUIRE_OK(link(MNT("f"), MNT("g")));
	REQUIRE_OK(stat(BAK("f"), &orig));
	REQUIRE_OK(stat(BAK("g"), &b));
	CHECK(b.st_ino == orig.st_ino && b.st_nlink == 2,
	      "backing g: ino %ju nlink %ju, want ino %ju nlink 2", (uintmax_t)b.st_ino,
	      (uintmax_t)b.st_nlink, (uintmax_t)orig.st_ino);
	REQUIRE_OK(stat(MNT("g"), &m));
	check_same_stat("hard link", &m, &b);
	REQUIRE_OK(stat(MNT("f"), &m));
	CHECK_EQ(m.st_nlink, 2);
	CHECK_ERR(link(MNT("f"), MNT("g")), EEXIST);
	CHECK_ERR(link(MNT("missing"), MNT("h")), ENOENT);
	REQUIRE_OK(mkdir(MNT("d"), 0755));
	CHECK_ERR(link(MNT("d"), MNT("d2")), EPERM);
	/* a link into a subdirectory; the data is one */
	REQUIRE_OK(link(MNT("f"), MNT("d/f")));
	REQUIRE_OK(fs_put(MNT("d/f"), "Z", 1, 0644));
	CHECK_EQ(fs_get(MNT("f"), buf, sizeof(buf)), 1);
	CHECK(buf[0] == 'Z', "f reads '%c' after writing 'Z' through its hard link", buf[0]);
	/* a hard link to a symlink is a link to the symlink */
	REQUIRE_OK(symlink("f", MNT("s")));
	REQUIRE_OK(linkat(AT_FDCWD, MNT("s"), AT_FDCWD, MNT("s2"), 0));
	REQUIRE_OK(lstat(BAK("s2"), &b));
	CHECK(S_ISLNK(b.st_mode), "link of a symlink made mode %#o", b.st_mode);
}

/* ---- open, create, read, write, flush, release, fsync ---- */

TEST(open_flags_as_on_backing, .needs = TEST_NEEDS_MOUNT)
{
	struct stat st;
	int fd;

	mount_default();
	fd = REQUIRE_OK(open(MNT("new"), O_CREAT | O_EXCL | O_WRONLY, 0640));
	REQUIRE_OK(fstat(fd, &st));
	CHECK_EQ(st.st_mode & 07777, 0640);
	close(fd);
	REQUIRE_OK(stat(BAK("new"), &st));
	CHECK(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640, "backing mode %#o",
	      st.st_mode);
	CHECK_ERR(open(MNT("new"), O_CREAT | O_EXCL | O_WRONLY, 0640), EEXIST);
	CHECK_ERR(open(MNT("missing"), O_RDONLY), ENOENT);
	CHECK_ERR(open(MNT("missing/x"), O_CREAT | O_WRONLY, 0644), ENOENT);
	REQUIRE_OK(mkdir(MNT("d"), 0755));
	CHECK_ERR(open(MNT("d"), O_WRONLY), EISDIR);
	CHECK_ERR(open(MNT("new"), O_RDONLY | O_DIRECTORY), ENOTDIR);
	/* O_CREAT without O_EXCL on an existing file opens it */
	REQUIRE_OK(fs_put(BAK("exists"), "keep", 4, 0600));
	fd = REQUIRE_OK(open(MNT("exists"), O_CREAT | O_RDWR, 0644));
	char buf[8];
	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 4);
	close(fd);
	REQUIRE_OK(stat(BAK("exists"), &st));
	CHECK_EQ(st.st_mode & 07777, 0600);
	/* a read-only open refuses writes */
	fd = REQUIRE_OK(open(MNT("exists"), O_RDONLY));
	CHECK_ERR(write(fd, "x", 1), EBADF);
	close(fd);
	/* O_APPEND appends */
	fd = REQUIRE_OK(open(MNT("exists"), O_WRONLY | O_APPEND));
	CHECK_EQ(write(fd, "-end", 4), 4);
	close(fd);
	CHECK_EQ(fs_get(BAK("exists"), buf, sizeof(buf)), 8);
	CHECK_MEM(buf, "keep-end", 8, "backing file after an O_APPEND write");
}

TEST(data_written_reads_back_both_ways, .needs = TEST_NEEDS_MOUNT)
{
	enum { SZ = 300000 };
	char *w = fs_alloc(SZ), *r = fs_alloc(SZ);
	struct stat st;
	int fd;

	mount_default();
	pattern_fill(w, SZ, 0, 7);
	fd = REQUIRE_OK(open(MNT("f"), O_CREAT | O_RDWR, 0644));
	/* sequential writes of odd sizes */
	for (size_t off = 0; off < SZ;) {
		size_t n = off % 7919 + 1;
		if (n > SZ - off)
			n = SZ - off;
		ssize_t got = write(fd, w + off, n);
		REQUIRE(got == (ssize_t)n, "write of %zu at %zu: got %zd (%s)", n, off, got,
			expect_errname(errno));
		off += n;
	}
	REQUIRE_OK(stat(BAK("f"), &st));
	CHECK_EQ(st.st_size, SZ);
	CHECK_EQ(fs_get(BAK("f"), r, SZ), SZ);
	CHECK_MEM(r, w, SZ, "backing file after sequential writes through the mount");
	/* reads back, sequential, of other sizes */
	REQUIRE_OK(lseek(fd, 0, SEEK_SET));
	memset(r, 0, SZ);
	for (size_t off = 0; off < SZ;) {
		ssize_t got = read(fd, r + off, off % 4099 + 1);
		REQUIRE(got > 0, "read at %zu: got %zd (%s)", off, got, expect_errname(errno));
		off += (size_t)got;
	}
	CHECK_EQ(read(fd, r, 10), 0);
	CHECK_MEM(r, w, SZ, "sequential reads through the mount");
	/* pwrite in the middle, seen in the backing file */
	REQUIRE_OK(pwrite(fd, "MIDDLE", 6, 12345));
	memcpy(w + 12345, "MIDDLE", 6);
	CHECK_EQ(fs_get(BAK("f"), r, SZ), SZ);
	CHECK_MEM(r, w, SZ, "backing file after pwrite at 12345");
	/* written in the backing file, read through the mount (direct I/O:
	 * no cache in between) */
	int bfd = REQUIRE_OK(open(BAK("f"), O_WRONLY));
	REQUIRE_OK(pwrite(bfd, "BACKING", 7, 100));
	close(bfd);
	memcpy(w + 100, "BACKING", 7);
	CHECK_EQ(pread(fd, r, 200, 0), 200);
	CHECK_MEM(r, w, 200, "read through the mount after a backing write");
	/* fsync, fdatasync and close all succeed */
	CHECK_OK(fsync(fd));
	CHECK_OK(fdatasync(fd));
	CHECK_OK(close(fd));
	/* reads of an empty file */
	REQUIRE_OK(fs_put(MNT("empty"), "", 0, 0644));
	CHECK_EQ(fs_get(MNT("empty"), r, 10), 0);
}

/* The daemon's count of fds once it is down to base again, or after 2000
 * round trips: a release is sent asynchronously on close, and round trips
 * (statfs) let it by. */
static int daemon_fds_back_to(int base)
{
	int now = diofs_count_fds(M->pid);

	for (int i = 0; i < 2000 && now > base; i++) {
		struct statvfs sv;

		statvfs(M->mnt, &sv);
		sched_yield();
		now = diofs_count_fds(M->pid);
	}
	return now;
}

/* Each open is its own file in the daemon: the daemon's fds come back
 * when the files are closed (release). */
TEST(every_close_flushes_last_releases, .needs = TEST_NEEDS_MOUNT)
{
	enum { N = 64 };
	int fds[N], base, open_n, now = -1;

	M = fs_mount("trace");
	/* made behind the mount and only looked up: no release pending */
	REQUIRE_OK(fs_put(BAK("f"), "x", 1, 0644));
	struct stat st;
	REQUIRE_OK(lstat(MNT("f"), &st));
	base = diofs_count_fds(M->pid);
	REQUIRE(base > 0, "cannot count the daemon's fds");
	for (int i = 0; i < N; i++)
		fds[i] = REQUIRE_OK(open(MNT("f"), O_RDWR));
	open_n = diofs_count_fds(M->pid);
	CHECK(open_n >= base + N, "%d opens: the daemon has %d fds, %d before", N, open_n,
	      base);
	/* a dup shares the open: closing it flushes but does not release */
	int dup_fd = REQUIRE_OK(dup(fds[0]));
	CHECK_OK(close(dup_fd));
	CHECK_EQ(pwrite(fds[0], "y", 1, 0), 1);
	for (int i = 0; i < N; i++)
		CHECK_OK(close(fds[i]));
	now = daemon_fds_back_to(base);
	CHECK(now <= base, "after closing %d opens the daemon has %d fds, %d before", N, now,
	      base);
	/* every close flushed (the dup's too), every last close released */
	int flushes = fs_trace_count(M, "flush", "/f");
	int releases = trace_count_reaching("release", "/f", N);
	CHECK(flushes >= N + 1, "%d flushes of /f in the trace, want %d", flushes, N + 1);
	CHECK(releases == N, "%d releases of /f in the trace, want %d", releases, N);
	char c = 0;
	CHECK_EQ(fs_get(BAK("f"), &c, 1), 1);
	CHECK(c == 'y', "backing holds '%c' after a write and close, want 'y'", c);
}

/* ---- directories ---- */

struct dent {
	char name[256];
	ino_t ino;
	unsigned char type;
};

static int dent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name, ((const struct dent *)b)->name);
}

static size_t list_dir(const char *path, struct dent *out, size_t max)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t n = 0;

	REQUIRE(d != NULL, "opendir %s: %s", path, expect_errname(errno));
	errno = 0;
	while ((e = readdir(d))) {
		if (n < max) {
			snprintf(out[n].name, sizeof(out[n].name), "%s", e->d_name);
			out[n].ino = e->d_ino;
			out[n].type = e->d_type;
		}
		n++;
	}
	CHECK(errno == 0, "readdir %s: %s", path, expect_errname(errno));
	closedir(d);
	if (n <= max)
		qsort(out, n, sizeof(*out), dent_cmp);
	return n;
}

static void compare_listing(const char *what, const char *mnt, const char *bak, size_t max)
{
	struct dent *m = fs_alloc(max * sizeof(*m)), *b = fs_alloc(max * sizeof(*b));
	size_t nm = list_dir(mnt, m, max), nb = list_dir(bak, b, max);

	REQUIRE(nm == nb, "%s: %zu entries through the mount, %zu in the backing dir", what,
		nm, nb);
	REQUIRE(nm <= max, "%s: more than %zu entries", what, max);
	for (size_t i = 0; i < nm; i++) {
		if (strcmp(m[i].name, b[i].name)) {
			CHECK(false, "%s: entry %zu: \"%s\" through the mount, \"%s\" in the backing dir",
			      what, i, m[i].name, b[i].name);
			return;
		}
		/* ".." of the mount root is not the backing dir's parent */
		if (!strcmp(m[i].name, "..") || !strcmp(m[i].name, "."))
			continue;
		CHECK(m[i].ino == b[i].ino, "%s: %s: d_ino %ju, want %ju", what, m[i].name,
		      (uintmax_t)m[i].ino, (uintmax_t)b[i].ino);
		CHECK(m[i].type == b[i].type, "%s: %s: d_type %u, want %u", what, m[i].name,
		      m[i].type, b[i].type);
	}
}

TEST(readdir_lists_backing_entries, .needs = TEST_NEEDS_MOUNT)
{
	enum { N = 1500 };
	char name[300];

	M = fs_mount("trace");
	/* long names too: many readdir requests of several buffers each */
	for (int i = 0; i < N; i++) {
		int len = snprintf(name, sizeof(name), "entry-%04d-", i);
		memset(name + len, 'x', (size_t)(i % 200));
		name[len + i % 200] = '\0';
		REQUIRE_OK(fs_put(BAK(name), "", 0, 0644));
	}
	REQUIRE_OK(mkdir(BAK("adir"), 0755));
	REQUIRE_OK(symlink("x", BAK("alink")));
	REQUIRE_OK(mkfifo(BAK("afifo"), 0644));
	compare_listing("root, read in the backing dir", M->mnt, M->backing, N + 10);
	/* the kernel asked for both kinds (readdirplus first, then plain
	 * readdir while nothing was looked up) */
	CHECK(fs_trace_count(M, "readdirplus", "/") > 0, "no readdirplus of / reached the daemon");
	CHECK(fs_trace_count(M, "readdir", "/") > 0, "no readdir of / reached the daemon");
	CHECK(fs_trace_count(M, "opendir", "/") > 0, "no opendir of / reached the daemon");
	/* made through the mount */
	REQUIRE_OK(mkdir(MNT("sub"), 0755));
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "sub/m%d", i);
		REQUIRE_OK(fs_put(MNT(name), "", 0, 0644));
	}
	compare_listing("a directory made through the mount", MNT("sub"), BAK("sub"), 100);
	/* an empty directory has . and .. only */
	REQUIRE_OK(mkdir(MNT("empty"), 0755));
	compare_listing("an empty directory", MNT("empty"), BAK("empty"), 4);
}

/* rewinddir, and seekdir to a position telldir gave, resume where they
 * said (the readdir offsets the daemon hands out must work). */
TEST(seekdir_resumes_at_telldir, .needs = TEST_NEEDS_MOUNT)
{
	enum { N = 400 };
	char name[64];
	DIR *d;
	struct dirent *e;
	long pos = -1;
	char after[256] = "";
	int count = 0, again = 0;

	mount_default();
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%03d-padding-padding-padding-padding", i);
		REQUIRE_OK(fs_put(BAK(name), "", 0, 0644));
	}
	d = opendir(M->mnt);
	REQUIRE(d != NULL, "opendir: %s", expect_errname(errno));
	while ((e = readdir(d))) {
		if (++count == N / 2) {
			pos = telldir(d);
			e = readdir(d);
			REQUIRE(e != NULL, "readdir after telldir ended early");
			snprintf(after, sizeof(after), "%s", e->d_name);
			count++;
		}
	}
	CHECK_EQ(count, N + 2);
	seekdir(d, pos);
	e = readdir(d);
	CHECK(e && !strcmp(e->d_name, after), "after seekdir: \"%s\", want \"%s\"",
	      e ? e->d_name : "(end)", after);
	rewinddir(d);
	while (readdir(d))
		again++;
	CHECK_EQ(again, N + 2);
	closedir(d);
}

TEST(fsyncdir_and_closedir_reach_daemon, .needs = TEST_NEEDS_MOUNT)
{
	int base, now = -1;

	M = fs_mount("trace");
	REQUIRE_OK(mkdir(MNT("d"), 0755));
	base = diofs_count_fds(M->pid);
	int fd = REQUIRE_OK(open(MNT("d"), O_RDONLY | O_DIRECTORY));
	CHECK_OK(fsync(fd));
	CHECK_OK(fdatasync(fd));
	CHECK(diofs_count_fds(M->pid) > base, "opendir gave the daemon no fd (%d before)", base);
	CHECK_OK(close(fd));
	now = daemon_fds_back_to(base);
	CHECK(now <= base, "after closedir the daemon has %d fds, %d before", now, base);
	/* (the trace is read through the control socket: only now, when the
	 * daemon's fds have been counted) */
	CHECK_EQ(fs_trace_count(M, "fsyncdir", "/d"), 2);
	CHECK_EQ(trace_count_reaching("releasedir", "/d", 1), 1);
}

/* ---- statfs ---- */

TEST(statfs_reports_backing_fs, .needs = TEST_NEEDS_MOUNT)
{
	struct statvfs m, b;

	mount_default();
	REQUIRE_OK(statvfs(M->mnt, &m));
	REQUIRE_OK(statvfs(M->backing, &b));
	CHECK_EQ(m.f_bsize, b.f_bsize);
	CHECK_EQ(m.f_frsize, b.f_frsize);
	CHECK_EQ(m.f_blocks, b.f_blocks);
	CHECK_EQ(m.f_files, b.f_files);
	CHECK_EQ(m.f_namemax, b.f_namemax);
	/* free counts move with the machine; within 1% */
	CHECK(m.f_bavail <= b.f_bavail + b.f_blocks / 100 &&
	      m.f_bavail + b.f_blocks / 100 >= b.f_bavail,
	      "f_bavail: %ju through the mount, %ju in the backing fs", (uintmax_t)m.f_bavail,
	      (uintmax_t)b.f_bavail);
	REQUIRE_OK(fs_put(MNT("f"), "x", 1, 0644));
	REQUIRE_OK(statvfs(MNT("f"), &m));
	CHECK_EQ(m.f_blocks, b.f_blocks);
}

/* ---- xattrs ---- */

TEST(xattrs_as_on_backing, .needs = TEST_NEEDS_MOUNT)
{
	char buf[256];
	ssize_t n;

	mount_default();
	REQUIRE_OK(fs_put(MNT("f"), "x", 1, 0644));
	REQUIRE_OK(setxattr(MNT("f"), "user.one", "value-1", 7, 0));
	n = getxattr(BAK("f"), "user.one", buf, sizeof(buf));
	CHECK(n == 7 && !memcmp(buf, "value-1", 7), "backing user.one: %zd bytes", n);
	n = getxattr(MNT("f"), "user.one", buf, sizeof(buf));
	CHECK(n == 7 && !memcmp(buf, "value-1", 7), "user.one through the mount: %zd bytes (%s)",
	      n, n < 0 ? expect_errname(errno) : "");
	/* set in the backing file, read through the mount */
	REQUIRE_OK(setxattr(BAK("f"), "user.two", "2", 1, 0));
	n = getxattr(MNT("f"), "user.two", buf, sizeof(buf));
	CHECK(n == 1 && buf[0] == '2', "user.two through the mount: %zd", n);
	/* the size alone */
	CHECK_EQ(getxattr(MNT("f"), "user.one", NULL, 0), 7);
	/* a buffer too small */
	CHECK_ERR(getxattr(MNT("f"), "user.one", buf, 3), ERANGE);
	/* missing */
	CHECK_ERR(getxattr(MNT("f"), "user.none", buf, sizeof(buf)), ENODATA);
	CHECK_ERR(removexattr(MNT("f"), "user.none"), ENODATA);
	/* flags */
	CHECK_ERR(setxattr(MNT("f"), "user.one", "v", 1, XATTR_CREATE), EEXIST);
	CHECK_ERR(setxattr(MNT("f"), "user.three", "v", 1, XATTR_REPLACE), ENODATA);
	CHECK_OK(setxattr(MNT("f"), "user.one", "replaced", 8, XATTR_REPLACE));
	n = getxattr(BAK("f"), "user.one", buf, sizeof(buf));
	CHECK(n == 8 && !memcmp(buf, "replaced", 8), "backing user.one after replace: %zd", n);
	/* an empty value */
	CHECK_OK(setxattr(MNT("f"), "user.empty", "", 0, 0));
	CHECK_EQ(getxattr(MNT("f"), "user.empty", buf, sizeof(buf)), 0);
	/* list */
	n = listxattr(MNT("f"), buf, sizeof(buf));
	REQUIRE(n > 0, "listxattr: %zd (%s)", n, expect_errname(errno));
	char want[256];
	ssize_t wn = listxattr(BAK("f"), want, sizeof(want));
	CHECK(n == wn && !memcmp(buf, want, (size_t)n),
	      "listxattr: %zd bytes through the mount, %zd in the backing dir", n, wn);
	bool one = false, two = false;
	for (char *p = buf; p < buf + n; p += strlen(p) + 1) {
		one |= !strcmp(p, "user.one");
		two |= !strcmp(p, "user.two");
	}
	CHECK(one && two, "listxattr lacks user.one (%d) or user.two (%d)", one, two);
	CHECK_EQ(listxattr(MNT("f"), NULL, 0), wn);
	CHECK_ERR(listxattr(MNT("f"), buf, 2), ERANGE);
	/* remove */
	REQUIRE_OK(removexattr(MNT("f"), "user.one"));
	CHECK_ERR(getxattr(BAK("f"), "user.one", buf, sizeof(buf)), ENODATA);
	CHECK_ERR(getxattr(MNT("f"), "user.one", buf, sizeof(buf)), ENODATA);
	/* on a directory */
	REQUIRE_OK(mkdir(MNT("d"), 0755));
	CHECK_OK(setxattr(MNT("d"), "user.dir", "d", 1, 0));
	CHECK_EQ(getxattr(BAK("d"), "user.dir", buf, sizeof(buf)), 1);
	/* a trusted.* one (root) */
	if (geteuid() == 0) {
		CHECK_OK(setxattr(MNT("f"), "trusted.t", "t", 1, 0));
		CHECK_EQ(getxattr(BAK("f"), "trusted.t", buf, sizeof(buf)), 1);
	}
	/* a large value */
	char *big = fs_alloc(4000), *back = fs_alloc(4000);
	pattern_fill(big, 4000, 0, 3);
	CHECK_OK(setxattr(MNT("f"), "user.big", big, 4000, 0));
	CHECK_EQ(getxattr(BAK("f"), "user.big", back, 4000), 4000);
	CHECK_MEM(back, big, 4000, "a 4000-byte xattr value in the backing file");
}

/* ---- fallocate, lseek, copy_file_range, flock ---- */

TEST(fallocate_modes_reach_backing, .needs = TEST_NEEDS_MOUNT)
{
	struct stat b;
	char *buf = fs_alloc(65536), *want = fs_alloc(65536);
	int fd;

	mount_default();
	fd = REQUIRE_OK(open(MNT("f"), O_CREAT | O_RDWR, 0644));
	/* plain: extends the size and allocates */
	REQUIRE_OK(fallocate(fd, 0, 0, 1 << 20));
	REQUIRE_OK(stat(BAK("f"), &b));
	CHECK_EQ(b.st_size, 1 << 20);
	CHECK(b.st_blocks * 512 >= 1 << 20, "fallocate 1 MiB: backing has %jd blocks",
	      (intmax_t)b.st_blocks);
	REQUIRE_OK(fstat(fd, &b));
	CHECK_EQ(b.st_size, 1 << 20);
	/* KEEP_SIZE: allocates past the end without changing the size */
	REQUIRE_OK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20));
	REQUIRE_OK(stat(BAK("f"), &b));
	CHECK_EQ(b.st_size, 1 << 20);
	CHECK(b.st_blocks * 512 >= 2 << 20, "KEEP_SIZE 1 MiB more: backing has %jd blocks",
	      (intmax_t)b.st_blocks);
	/* punch a hole: zeros there */
	pattern_fill(want, 65536, 0, 9);
	REQUIRE_OK(pwrite(fd, want, 65536, 0) == 65536 ? 0 : -1);
	REQUIRE_OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 8192, 16384));
	memset(want + 8192, 0, 16384);
	int bfd = REQUIRE_OK(open(BAK("f"), O_RDONLY));
	CHECK_EQ(pread(bfd, buf, 65536, 0), 65536);
	close(bfd);
	CHECK_MEM(buf, want, 65536, "backing file after punching 8192+16384");
	CHECK_EQ(pread(fd, buf, 65536, 0), 65536);
	CHECK_MEM(buf, want, 65536, "read through the mount after the punch");
	/* zero range */
	REQUIRE_OK(fallocate(fd, FALLOC_FL_ZERO_RANGE, 40000, 100));
	memset(want + 40000, 0, 100);
	CHECK_EQ(pread(fd, buf, 65536, 0), 65536);
	CHECK_MEM(buf, want, 65536, "read through the mount after zeroing 40000+100");
	/* bad arguments come back as the backing fs says */
	CHECK_ERR(fallocate(fd, 0, 0, 0), EINVAL);
	close(fd);
	fd = REQUIRE_OK(open(MNT("f"), O_RDONLY));
	CHECK_ERR(fallocate(fd, 0, 0, 4096), EBADF);
	close(fd);
}

TEST(seek_data_hole_find_backing_holes, .needs = TEST_NEEDS_MOUNT)
{
	char *data = fs_alloc(65536);
	int fd, bfd;
	const off_t holes_at[] = { 0, 1, 4096, 65535, 65536, 100000, (1 << 20) - 1, 1 << 20,
				   (1 << 20) + 65535 };

	mount_default();
	/* data at [0, 64K) and [1M, 1M+64K): a hole between */
	pattern_fill(data, 65536, 0, 4);
	bfd = REQUIRE_OK(open(BAK("sparse"), O_CREAT | O_RDWR, 0644));
	REQUIRE_OK(pwrite(bfd, data, 65536, 0) == 65536 ? 0 : -1);
	REQUIRE_OK(pwrite(bfd, data, 65536, 1 << 20) == 65536 ? 0 : -1);
	REQUIRE_OK(fsync(bfd));
	fd = REQUIRE_OK(open(MNT("sparse"), O_RDONLY));
	for (size_t i = 0; i < sizeof(holes_at) / sizeof(*holes_at); i++) {
		off_t at = holes_at[i];
		for (int whence = SEEK_DATA; whence <= SEEK_HOLE; whence++) {
			errno = 0;
			off_t want = lseek(bfd, at, whence);
			int want_err = errno;
			errno = 0;
			off_t got = lseek(fd, at, whence);
			int got_err = errno;
			CHECK(got == want && (want != -1 || got_err == want_err),
			      "lseek(%jd, %s): got %jd (%s) through the mount, %jd (%s) in the backing file",
			      (intmax_t)at, whence == SEEK_DATA ? "SEEK_DATA" : "SEEK_HOLE",
			      (intmax_t)got, expect_errname(got_err), (intmax_t)want,
			      expect_errname(want_err));
		}
	}
	/* at and past the end: ENXIO */
	CHECK_ERR(lseek(fd, (1 << 20) + 65536, SEEK_DATA), ENXIO);
	CHECK_ERR(lseek(fd, (1 << 20) + 65536 + 10, SEEK_HOLE), ENXIO);
	/* the hole in the middle really is one: SEEK_HOLE from 0 stops
	 * before 1 MiB, SEEK_DATA from 64K goes to 1 MiB (ext4, xfs, tmpfs,
	 * btrfs all say so at this granularity) */
	off_t h = lseek(fd, 0, SEEK_HOLE), d = lseek(fd, 65536, SEEK_DATA);
	CHECK(h >= 65536 && h < (1 << 20), "SEEK_HOLE from 0: %jd", (intmax_t)h);
	CHECK_EQ(d, 1 << 20);
	/* SEEK_SET/CUR/END still as usual */
	CHECK_EQ(lseek(fd, 10, SEEK_SET), 10);
	CHECK_EQ(lseek(fd, 5, SEEK_CUR), 15);
	CHECK_EQ(lseek(fd, -1, SEEK_END), (1 << 20) + 65535);
	close(fd);
	close(bfd);
}

TEST(copy_file_range_done_by_daemon, .needs = TEST_NEEDS_MOUNT)
{
	enum { SZ = 200000 };
	char *src = fs_alloc(SZ), *got = fs_alloc(SZ + 5000);
	int in, out;
	ssize_t n;

	M = fs_mount("trace");
	pattern_fill(src, SZ, 0, 11);
	REQUIRE_OK(fs_put(MNT("src"), src, SZ, 0644));
	in = REQUIRE_OK(open(MNT("src"), O_RDONLY));
	out = REQUIRE_OK(open(MNT("dst"), O_CREAT | O_WRONLY, 0644));
	off_t off_in = 1000, off_out = 5000;
	size_t done = 0;
	while (done < SZ - 1000) {
		n = copy_file_range(in, &off_in, out, &off_out, SZ - 1000 - done, 0);
		REQUIRE(n > 0, "copy_file_range after %zu bytes: %zd (%s)", done, n,
			expect_errname(errno));
		done += (size_t)n;
	}
	CHECK_EQ(off_in, SZ);
	CHECK_EQ(off_out, 5000 + SZ - 1000);
	/* done by the daemon's copy_file_range, not the kernel's fallback */
	CHECK(fs_trace_count(M, "copy_file_range", "/src") > 0,
	      "no copy_file_range reached the daemon");
	memset(got, 0xee, SZ + 5000);
	CHECK_EQ(fs_get(BAK("dst"), got, SZ + 5000), 5000 + SZ - 1000);
	char zeros[5000] = { 0 };
	CHECK_MEM(got, zeros, 5000, "the gap before off_out in the backing copy");
	CHECK_MEM(got + 5000, src + 1000, SZ - 1000, "the copied bytes in the backing file");
	/* a copy past the end of the source copies nothing */
	off_in = SZ + 10;
	CHECK_EQ(copy_file_range(in, &off_in, out, NULL, 100, 0), 0);
	/* a read-only destination */
	int ro = REQUIRE_OK(open(MNT("dst"), O_RDONLY));
	off_in = 0;
	CHECK_ERR(copy_file_range(in, &off_in, ro, NULL, 100, 0), EBADF);
	close(ro);
	close(in);
	close(out);
}

TEST(flock_locks_backing_file, .needs = TEST_NEEDS_MOUNT)
{
	int a, b, bak;

	mount_default();
	REQUIRE_OK(fs_put(MNT("f"), "x", 1, 0644));
	a = REQUIRE_OK(open(MNT("f"), O_RDONLY));
	b = REQUIRE_OK(open(MNT("f"), O_RDONLY));
	REQUIRE_OK(flock(a, LOCK_EX | LOCK_NB));
	CHECK_ERR(flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	CHECK_ERR(flock(b, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	/* the lock is on the backing file: an outside open sees it */
	bak = REQUIRE_OK(open(BAK("f"), O_RDONLY));
	CHECK_ERR(flock(bak, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	REQUIRE_OK(flock(a, LOCK_UN));
	CHECK_OK(flock(b, LOCK_SH | LOCK_NB));
	CHECK_OK(flock(a, LOCK_SH | LOCK_NB));
	CHECK_OK(flock(bak, LOCK_SH | LOCK_NB));
	CHECK_ERR(flock(a, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	/* and the other way */
	REQUIRE_OK(flock(a, LOCK_UN));
	REQUIRE_OK(flock(b, LOCK_UN));
	REQUIRE_OK(flock(bak, LOCK_EX | LOCK_NB));
	CHECK_ERR(flock(a, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	REQUIRE_OK(flock(bak, LOCK_UN));
	/* closing an open drops its lock */
	REQUIRE_OK(flock(a, LOCK_EX | LOCK_NB));
	close(a);
	int c = -1;
	for (int i = 0; i < 2000; i++) { /* release is asynchronous */
		c = flock(b, LOCK_EX | LOCK_NB);
		if (c == 0 || errno != EWOULDBLOCK)
			break;
		struct statvfs sv;
		statvfs(M->mnt, &sv);
		sched_yield();
	}
	CHECK(c == 0, "the lock of a closed open still holds: %s", expect_errname(errno));
	close(b);
	close(bak);
}

TEST_MAIN("test_ops")
