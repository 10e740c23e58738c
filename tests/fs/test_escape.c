/* No path leaves BACKING: symbolic links are returned to the kernel and
 * never followed by the daemon, ".." at the root is the caller's, rename
 * and link out of the mount fail, a mount inside BACKING is not entered;
 * and paths longer than PATH_MAX in total work (one name at a time). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "fstest.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ROOT/name: beside BACKING and MNT, outside the mount. */
static const char *outside(const char *name)
{
	static __thread char buf[4][PATH_MAX];
	static __thread unsigned int next;
	char *p = buf[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", M->root, name);
	return p;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* ---- symbolic links ---- */

/* A link to / in BACKING: the kernel follows it in the caller's view
 * (correct); nothing the daemon does on the link's name reaches /. */
TEST(symlink_to_root, .needs = TEST_NEEDS_ROOT)
{
	struct stat st, root;
	char buf[64];
	ssize_t n;

	M = fs_mount(NULL);
	REQUIRE_OK(symlink("/", BAK("root")));
	REQUIRE_OK(lstat(MNT("root"), &st));
	CHECK(S_ISLNK(st.st_mode), "lstat of the link through the mount: mode %#o, want a symlink",
	      st.st_mode);
	n = readlink(MNT("root"), buf, sizeof(buf) - 1);
	CHECK(n == 1 && buf[0] == '/', "readlink: %zd bytes", n);
	/* the kernel follows it, to the caller's / */
	REQUIRE_OK(stat("/", &root));
	REQUIRE_OK(stat(MNT("root/"), &st));
	CHECK(same_file(&st, &root), "MNT/root/ is dev %#jx ino %ju, want the caller's / (%#jx %ju)",
	      (uintmax_t)st.st_dev, (uintmax_t)st.st_ino, (uintmax_t)root.st_dev,
	      (uintmax_t)root.st_ino);
	/* O_NOFOLLOW stops at the link */
	CHECK_ERR(open(MNT("root"), O_RDONLY | O_NOFOLLOW), ELOOP);
	int fd = REQUIRE_OK(open(MNT("root"), O_PATH | O_NOFOLLOW));
	REQUIRE_OK(fstat(fd, &st));
	CHECK(S_ISLNK(st.st_mode), "O_PATH|O_NOFOLLOW open is mode %#o, want the symlink",
	      st.st_mode);
	close(fd);
	/* operations on the link itself leave / alone */
	struct stat before;
	REQUIRE_OK(stat("/", &before));
	errno = 0;
	int r = fchmodat(AT_FDCWD, MNT("root"), 0700, AT_SYMLINK_NOFOLLOW);
	int e = errno;
	REQUIRE_OK(stat("/", &root));
	CHECK(root.st_mode == before.st_mode,
	      "fchmodat(AT_SYMLINK_NOFOLLOW) on the link changed / from %#o to %#o",
	      before.st_mode, root.st_mode);
	CHECK(r == -1 && (e == EOPNOTSUPP || e == ENOTSUP),
	      "fchmodat(AT_SYMLINK_NOFOLLOW) on a symlink: got %d (%s), want EOPNOTSUPP", r,
	      expect_errname(e));
	r = lsetxattr(MNT("root"), "trusted.diofs-escape", "x", 1, 0);
	CHECK(r == -1, "lsetxattr on the link through the mount succeeded");
	CHECK_ERR(getxattr("/", "trusted.diofs-escape", buf, sizeof(buf)), ENODATA);
}

/* A link to a file outside: lchown, fchmodat, xattrs, utimensat with
 * AT_SYMLINK_NOFOLLOW, rename, link and unlink act on the link, never on
 * the target. */
TEST(symlink_ops_stay_on_link, .needs = TEST_NEEDS_ROOT)
{
	struct stat t0, t, l;
	struct timespec ts[2] = { { .tv_sec = 1111111111 }, { .tv_sec = 1222222222 } };
	char buf[64];

	M = fs_mount(NULL);
	const char *target = outside("target");
	REQUIRE_OK(fs_put(target, "outside", 7, 0600));
	REQUIRE_OK(setxattr(target, "user.secret", "s", 1, 0));
	REQUIRE_OK(setxattr(target, "trusted.secret", "s", 1, 0));
	REQUIRE_OK(symlink(target, BAK("tlink")));
	REQUIRE_OK(stat(target, &t0));

	CHECK_OK(lchown(MNT("tlink"), 4242, 4343));
	REQUIRE_OK(lstat(BAK("tlink"), &l));
	CHECK(l.st_uid == 4242 && l.st_gid == 4343, "the link's owner after lchown: %u:%u",
	      l.st_uid, l.st_gid);
	REQUIRE_OK(stat(target, &t));
	CHECK(t.st_uid == t0.st_uid && t.st_gid == t0.st_gid,
	      "lchown of the link changed the outside target to %u:%u", t.st_uid, t.st_gid);

	errno = 0;
	int r = fchmodat(AT_FDCWD, MNT("tlink"), 0777, AT_SYMLINK_NOFOLLOW);
	int e = errno;
	CHECK(r == -1 && (e == EOPNOTSUPP || e == ENOTSUP),
	      "fchmodat(AT_SYMLINK_NOFOLLOW) on a symlink: got %d (%s), want EOPNOTSUPP", r,
	      expect_errname(e));
	REQUIRE_OK(stat(target, &t));
	CHECK((t.st_mode & 07777) == 0600, "the outside target's mode became %#o", t.st_mode);

	/* xattrs by the link's name: never the target's */
	r = (int)lgetxattr(MNT("tlink"), "trusted.secret", buf, sizeof(buf));
	CHECK(r == -1, "lgetxattr on the link read the target's trusted.secret (%d bytes)", r);
	r = (int)llistxattr(MNT("tlink"), buf, sizeof(buf));
	CHECK(r <= 0 || !memmem(buf, (size_t)r, "secret", 6),
	      "llistxattr on the link listed the target's names");
	r = lsetxattr(MNT("tlink"), "trusted.planted", "x", 1, 0);
	CHECK(r == -1, "lsetxattr on the symlink through the mount succeeded");
	CHECK_ERR(getxattr(target, "trusted.planted", buf, sizeof(buf)), ENODATA);
	r = lremovexattr(MNT("tlink"), "trusted.secret");
	CHECK(r == -1, "lremovexattr on the symlink through the mount succeeded");
	CHECK_EQ(getxattr(target, "trusted.secret", buf, sizeof(buf)), 1);

	CHECK_OK(utimensat(AT_FDCWD, MNT("tlink"), ts, AT_SYMLINK_NOFOLLOW));
	REQUIRE_OK(stat(target, &t));
	CHECK(t.st_mtim.tv_sec == t0.st_mtim.tv_sec,
	      "utimensat(AT_SYMLINK_NOFOLLOW) on the link set the target's mtime to %jd",
	      (intmax_t)t.st_mtim.tv_sec);
	REQUIRE_OK(lstat(BAK("tlink"), &l));
	CHECK_EQ(l.st_mtim.tv_sec, ts[1].tv_sec);

	/* O_CREAT|O_EXCL on the link's name: EEXIST, nothing made */
	CHECK_ERR(open(MNT("tlink"), O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	CHECK_ERR(open(MNT("tlink"), O_WRONLY | O_NOFOLLOW), ELOOP);
	REQUIRE_OK(symlink(outside("not-there"), BAK("dangling")));
	CHECK_ERR(open(MNT("dangling"), O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	CHECK_ERR(lstat(outside("not-there"), &t), ENOENT);

	/* a hard link of the link is another link, not the target */
	CHECK_OK(linkat(AT_FDCWD, MNT("tlink"), AT_FDCWD, MNT("hard"), 0));
	REQUIRE_OK(lstat(BAK("hard"), &l));
	CHECK(S_ISLNK(l.st_mode), "linkat of the symlink made mode %#o in BACKING", l.st_mode);
	REQUIRE_OK(stat(target, &t));
	CHECK_EQ(t.st_nlink, 1);

	/* rename and unlink of the link */
	CHECK_OK(rename(MNT("tlink"), MNT("tlink2")));
	CHECK_OK(unlink(MNT("tlink2")));
	CHECK_OK(unlink(MNT("hard")));
	CHECK_EQ(fs_get(target, buf, sizeof(buf)), 7);
	CHECK_MEM(buf, "outside", 7, "the outside target after rename and unlink of its links");
}

/* ".." from the mount root is the mount point's parent in the caller's
 * view, never BACKING's parent.  BACKING is moved under ROOT/hidden (the
 * daemon holds it by fd) so that the two parents differ. */
TEST(dotdot_at_root, .needs = TEST_NEEDS_MOUNT)
{
	struct stat st, root, hidden;
	char hidden_backing[PATH_MAX];

	M = fs_mount(NULL);
	REQUIRE_OK(mkdir(outside("hidden"), 0755));
	REQUIRE_OK(fs_put(outside("hidden/MARK-backing-parent"), "", 0, 0644));
	REQUIRE_OK(mkdir(BAK("sub"), 0755));
	REQUIRE_OK(symlink("..", BAK("up")));
	REQUIRE_OK(symlink("../..", BAK("sub/up2")));
	snprintf(hidden_backing, sizeof(hidden_backing), "%s/hidden/backing", M->root);
	REQUIRE_OK(rename(M->backing, hidden_backing));
	REQUIRE_OK(stat(M->root, &root));
	REQUIRE_OK(stat(outside("hidden"), &hidden));

	CHECK_OK(stat(MNT(".."), &st));
	CHECK(same_file(&st, &root) && !same_file(&st, &hidden),
	      "MNT/.. is ino %ju; the mount point's parent is %ju, BACKING's parent %ju",
	      (uintmax_t)st.st_ino, (uintmax_t)root.st_ino, (uintmax_t)hidden.st_ino);
	int mfd = REQUIRE_OK(open(M->mnt, O_RDONLY | O_DIRECTORY));
	int up = CHECK_OK(openat(mfd, "..", O_RDONLY | O_DIRECTORY));
	if (up >= 0) {
		REQUIRE_OK(fstat(up, &st));
		CHECK(same_file(&st, &root), "openat(MNT, \"..\") is ino %ju, want %ju",
		      (uintmax_t)st.st_ino, (uintmax_t)root.st_ino);
		CHECK_ERR(faccessat(up, "MARK-backing-parent", F_OK, 0), ENOENT);
		close(up);
	}
	CHECK_ERR(faccessat(mfd, "../MARK-backing-parent", F_OK, 0), ENOENT);
	CHECK_ERR(faccessat(mfd, "../../hidden/../MARK-backing-parent", F_OK, 0), ENOENT);
	/* from deeper down too */
	CHECK_OK(stat(MNT("sub/../.."), &st));
	CHECK(same_file(&st, &root), "MNT/sub/../.. is ino %ju, want %ju", (uintmax_t)st.st_ino,
	      (uintmax_t)root.st_ino);
	/* links to ".." resolve in the caller's view as well */
	CHECK_OK(stat(MNT("up/"), &st));
	CHECK(same_file(&st, &root), "MNT/up (-> ..) is ino %ju, want %ju",
	      (uintmax_t)st.st_ino, (uintmax_t)root.st_ino);
	CHECK_OK(stat(MNT("sub/up2/"), &st));
	CHECK(same_file(&st, &root), "MNT/sub/up2 (-> ../..) is ino %ju, want %ju",
	      (uintmax_t)st.st_ino, (uintmax_t)root.st_ino);
	CHECK_ERR(access(MNT("up/MARK-backing-parent"), F_OK), ENOENT);
	/* a listing of MNT/.. is the mount point's parent */
	DIR *d = opendir(MNT(".."));
	bool saw_mnt = false, saw_mark = false;
	for (struct dirent *e; d && (e = readdir(d));) {
		saw_mnt |= !strcmp(e->d_name, "mnt");
		saw_mark |= !strcmp(e->d_name, "MARK-backing-parent");
	}
	if (d)
		closedir(d);
	CHECK(saw_mnt && !saw_mark, "ls MNT/..: mnt %s, BACKING's parent's marker %s",
	      saw_mnt ? "listed" : "missing", saw_mark ? "listed" : "absent");
	close(mfd);
	CHECK_OK(rename(hidden_backing, M->backing));
}

/* ---- rename and link out ---- */

TEST(rename_out_of_backing_refused, .needs = TEST_NEEDS_MOUNT)
{
	struct stat st;
	char buf[8];

	M = fs_mount(NULL);
	REQUIRE_OK(fs_put(MNT("f"), "in", 2, 0644));
	REQUIRE_OK(fs_put(outside("o"), "out", 3, 0644));
	REQUIRE_OK(mkdir(MNT("d"), 0755));
	CHECK_ERR(rename(MNT("f"), outside("f")), EXDEV);
	CHECK_ERR(rename(MNT("d"), outside("d")), EXDEV);
	CHECK_ERR(rename(outside("o"), MNT("o")), EXDEV);
	CHECK_ERR(renameat2(AT_FDCWD, MNT("f"), AT_FDCWD, outside("o"), RENAME_EXCHANGE), EXDEV);
	CHECK_ERR(renameat2(AT_FDCWD, MNT("f"), AT_FDCWD, outside("new"), RENAME_NOREPLACE),
		  EXDEV);
	/* a rename whose target path climbs out through ".." */
	CHECK_ERR(rename(MNT("f"), MNT("../f-escaped")), EXDEV);
	CHECK_ERR(lstat(outside("f"), &st), ENOENT);
	CHECK_ERR(lstat(outside("f-escaped"), &st), ENOENT);
	CHECK_ERR(lstat(outside("new"), &st), ENOENT);
	CHECK_EQ(fs_get(BAK("f"), buf, sizeof(buf)), 2);
	CHECK_EQ(fs_get(outside("o"), buf, sizeof(buf)), 3);
	/* inside, renames still work */
	CHECK_OK(rename(MNT("f"), MNT("d/f")));
	CHECK_OK(lstat(BAK("d/f"), &st));
}

TEST(link_out_of_backing_refused, .needs = TEST_NEEDS_MOUNT)
{
	struct stat st;

	M = fs_mount(NULL);
	REQUIRE_OK(fs_put(MNT("f"), "in", 2, 0644));
	REQUIRE_OK(fs_put(outside("o"), "out", 3, 0644));
	CHECK_ERR(link(MNT("f"), outside("l")), EXDEV);
	CHECK_ERR(link(outside("o"), MNT("l")), EXDEV);
	CHECK_ERR(link(MNT("f"), MNT("../l")), EXDEV);
	/* through a symlink to an outside file, followed by the kernel */
	REQUIRE_OK(symlink(outside("o"), BAK("to-o")));
	CHECK_ERR(linkat(AT_FDCWD, MNT("to-o"), AT_FDCWD, MNT("l"), AT_SYMLINK_FOLLOW), EXDEV);
	CHECK_ERR(lstat(outside("l"), &st), ENOENT);
	CHECK_ERR(lstat(BAK("l"), &st), ENOENT);
	REQUIRE_OK(stat(outside("o"), &st));
	CHECK_EQ(st.st_nlink, 1);
	REQUIRE_OK(stat(BAK("f"), &st));
	CHECK_EQ(st.st_nlink, 1);
}

/* ---- mounts inside BACKING ---- */

/* What the mount at BACKING/name must not show through MNT/name: its
 * marker, and new files must not land in it. */
static void check_mount_hidden(const char *name, const char *marker_in_mount,
			       const char *what)
{
	char path[PATH_MAX], made[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/MARK-other-fs", name);
	CHECK(lstat(MNT(path), &st) == -1, "%s: MNT/%s is visible through the mount", what, path);
	DIR *d = opendir(MNT(name));
	bool leaked = false;
	for (struct dirent *ent; d && (ent = readdir(d));)
		leaked |= !strcmp(ent->d_name, "MARK-other-fs");
	if (d)
		closedir(d);
	CHECK(!leaked, "%s: listing MNT/%s shows the mounted filesystem's files", what, name);
	snprintf(made, sizeof(made), "%s/made-through-mount", name);
	int fd = open(MNT(made), O_CREAT | O_WRONLY, 0644);
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/made-through-mount", marker_in_mount);
	CHECK(lstat(path, &st) == -1 && errno == ENOENT,
	      "%s: a file created as MNT/%s landed in the mounted filesystem", what, made);
}

/* Another filesystem (a tmpfs) mounted on BACKING/sub: looking it up
 * through the mount fails (EXDEV: the daemon does not cross mounts). */
TEST(mount_inside_other_fs, .needs = TEST_NEEDS_ROOT)
{
	struct stat st;
	char dir[PATH_MAX];

	M = fs_mount(NULL);
	REQUIRE_OK(mkdir(BAK("sub"), 0755));
	snprintf(dir, sizeof(dir), "%s", BAK("sub"));
	REQUIRE_OK(mount("diofs-test", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m"));
	fs_track_mount(dir, 0);
	REQUIRE_OK(fs_put(BAK("sub/MARK-other-fs"), "secret", 6, 0644));
	CHECK_ERR(lstat(MNT("sub"), &st), EXDEV);
	CHECK_ERR(open(MNT("sub/MARK-other-fs"), O_RDONLY), EXDEV);
	CHECK_ERR(opendir(MNT("sub")) ? 0 : -1, EXDEV);
	check_mount_hidden("sub", dir, "a tmpfs on BACKING/sub");
	/* the directory is still listed in its parent (readdir names it) */
	DIR *d = opendir(M->mnt);
	bool listed = false;
	for (struct dirent *e; d && (e = readdir(d));)
		listed |= !strcmp(e->d_name, "sub");
	if (d)
		closedir(d);
	CHECK(listed, "MNT does not list sub");
	CHECK_OK(fs_untrack_mount(dir));
}

/* A tmpfs mounted on BACKING/sub after the kernel looked sub up: the
 * daemon's handle is the covered directory, and the tmpfs stays unseen. */
TEST(mount_inside_after_lookup, .needs = TEST_NEEDS_ROOT)
{
	char dir[PATH_MAX];

	M = fs_mount(NULL);
	REQUIRE_OK(mkdir(BAK("sub"), 0755));
	REQUIRE_OK(fs_put(BAK("sub/under"), "u", 1, 0644));
	int keep = REQUIRE_OK(open(MNT("sub"), O_RDONLY | O_DIRECTORY));
	snprintf(dir, sizeof(dir), "%s", BAK("sub"));
	REQUIRE_OK(mount("diofs-test", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m"));
	fs_track_mount(dir, 0);
	REQUIRE_OK(fs_put(BAK("sub/MARK-other-fs"), "secret", 6, 0644));
	CHECK_ERR(faccessat(keep, "MARK-other-fs", F_OK, 0), ENOENT);
	CHECK_OK(faccessat(keep, "under", F_OK, 0));
	check_mount_hidden("sub", dir, "a tmpfs mounted on BACKING/sub after its lookup");
	close(keep);
	CHECK_OK(fs_untrack_mount(dir));
}

/* A bind mount of a directory outside BACKING, on the same filesystem
 * (same st_dev), on BACKING/bsub: the man page says no path leaves
 * BACKING "not through a mount inside BACKING". */
TEST(bind_mount_same_fs, .needs = TEST_NEEDS_ROOT)
{
	char dir[PATH_MAX];
	struct stat st;

	M = fs_mount(NULL);
	REQUIRE_OK(mkdir(outside("elsewhere"), 0755));
	REQUIRE_OK(fs_put(outside("elsewhere/MARK-other-fs"), "secret", 6, 0644));
	REQUIRE_OK(mkdir(BAK("bsub"), 0755));
	snprintf(dir, sizeof(dir), "%s", BAK("bsub"));
	REQUIRE_OK(mount(outside("elsewhere"), dir, NULL, MS_BIND, NULL));
	fs_track_mount(dir, 0);
	int r = lstat(MNT("bsub"), &st);
	int e = errno;
	CHECK(r == -1 && e == EXDEV,
	      "lstat of a bind mount (same filesystem) inside BACKING: got %d (%s), want EXDEV", r,
	      r == -1 ? expect_errname(e) : "success");
	check_mount_hidden("bsub", outside("elsewhere"),
			   "a bind mount of ROOT/elsewhere on BACKING/bsub");
	CHECK_OK(fs_untrack_mount(dir));
}

/* ---- long paths ---- */

/* A tree deeper than PATH_MAX in total, made through the mount with
 * mkdirat on relative fds (names of 255 characters). */
TEST(paths_beyond_path_max_work, .needs = TEST_NEEDS_MOUNT)
{
	enum { DEPTH = 24 };
	char name[256];
	int fds[DEPTH + 1], bfd;
	struct stat st;
	char buf[16];

	M = fs_mount("trace");
	memset(name, 'n', 255);
	name[255] = '\0';
	fds[0] = REQUIRE_OK(open(M->mnt, O_RDONLY | O_DIRECTORY));
	for (int i = 1; i <= DEPTH; i++) {
		name[0] = (char)('a' + i % 26);
		REQUIRE_OK(mkdirat(fds[i - 1], name, 0755));
		fds[i] = REQUIRE_OK(openat(fds[i - 1], name, O_RDONLY | O_DIRECTORY));
	}
	CHECK(DEPTH * 256 > PATH_MAX, "the tree is only %d bytes deep", DEPTH * 256);
	/* a file at the bottom, written and read through the mount */
	int fd = REQUIRE_OK(openat(fds[DEPTH], name, O_CREAT | O_RDWR, 0644));
	CHECK_EQ(pwrite(fd, "deep-data", 9, 0), 9);
	close(fd);
	fd = REQUIRE_OK(openat(fds[DEPTH], name, O_RDONLY));
	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 9);
	CHECK_MEM(buf, "deep-data", 9, "the deep file through the mount");
	close(fd);
	CHECK_OK(fstatat(fds[DEPTH], name, &st, AT_SYMLINK_NOFOLLOW));
	CHECK_OK(renameat(fds[DEPTH], name, fds[DEPTH], "renamed"));
	CHECK_OK(symlinkat("renamed", fds[DEPTH], "link"));
	CHECK_OK(linkat(fds[DEPTH], "renamed", fds[DEPTH - 1], "hard", 0));
	/* the same tree in the backing directory, walked with openat */
	bfd = REQUIRE_OK(open(M->backing, O_RDONLY | O_DIRECTORY));
	for (int i = 1; i <= DEPTH; i++) {
		name[0] = (char)('a' + i % 26);
		int next = openat(bfd, name, O_RDONLY | O_DIRECTORY);
		REQUIRE(next >= 0, "backing level %d: %s", i, expect_errname(errno));
		close(bfd);
		bfd = next;
	}
	fd = CHECK_OK(openat(bfd, "renamed", O_RDONLY));
	if (fd >= 0) {
		CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 9);
		CHECK_MEM(buf, "deep-data", 9, "the deep file in the backing directory");
		close(fd);
	}
	CHECK_OK(fstatat(bfd, "link", &st, AT_SYMLINK_NOFOLLOW));
	CHECK(S_ISLNK(st.st_mode), "the deep link in BACKING is mode %#o", st.st_mode);
	close(bfd);
	/* and back out: unlink, rmdir up the tree */
	CHECK_OK(unlinkat(fds[DEPTH], "renamed", 0));
	CHECK_OK(unlinkat(fds[DEPTH], "link", 0));
	CHECK_OK(unlinkat(fds[DEPTH - 1], "hard", 0));
	for (int i = DEPTH; i >= 1; i--) {
		name[0] = (char)('a' + i % 26);
		close(fds[i]);
		CHECK_OK(unlinkat(fds[i - 1], name, AT_REMOVEDIR));
	}
	close(fds[0]);
	CHECK(diofs_mount_alive(M), "the daemon died");
}

TEST_MAIN("test_escape")
