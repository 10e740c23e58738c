/* Ownership and permissions as on a local filesystem: what a non-root
 * caller creates through the mount is its own (uid, gid, setgid
 * directories, its umask), and the kernel's permission checks
 * (default_permissions) and the backing filesystem's agree.  Each caller
 * is a child that changed to another uid and gid; the mount has
 * allow_other so that the kernel lets it in. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "fstest.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define UID 4242
#define GID 4343
#define NOBODY 65534

/* ---- what a child does: 0 or an errno ---- */

static int do_create(void *p)
{
	int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0666);

	if (fd < 0)
		return errno;
	if (write(fd, "mine", 4) != 4)
		return EIO;
	return fs_rc(close(fd));
}

static int do_mkfifo(void *p) { return fs_rc(mkfifo(p, 0666)); }
static int do_mknod_sock(void *p) { return fs_rc(mknod(p, S_IFSOCK | 0666, 0)); }
static int do_chmod(void *p) { return fs_rc(chmod(p, 0600)); }
static int do_chown_root(void *p) { return fs_rc(chown(p, 0, (gid_t)-1)); }
static int do_chgrp_5555(void *p) { return fs_rc(chown(p, (uid_t)-1, 5555)); }
static int do_setxattr(void *p) { return fs_rc(setxattr(p, "user.x", "1", 1, 0)); }

static int do_bind(void *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	int r;

	if (s < 0)
		return errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", (const char *)p);
	r = fs_rc(bind(s, (struct sockaddr *)&sa, sizeof(sa)));
	close(s);
	return r;
}

static int do_open_r(void *p)
{
	char c;
	int fd = open(p, O_RDONLY);

	if (fd < 0)
		return errno;
	if (read(fd, &c, 1) < 0)
		return errno;
	return fs_rc(close(fd));
}

static int do_set_times(void *p)
{
	struct timespec ts[2] = { { .tv_sec = 1000 }, { .tv_sec = 2000 } };

	return fs_rc(utimensat(AT_FDCWD, p, ts, 0));
}

static int do_touch_now(void *p)
{
	return fs_rc(utimensat(AT_FDCWD, p, NULL, 0));
}

/* Things a caller's own file allows: chmod, utimens, truncate, chgrp to
 * its own group. */
static int do_own_file_admin(void *p)
{
	struct timespec ts[2] = { { .tv_sec = 1000 }, { .tv_sec = 2000 } };

	if (chmod(p, 0640) < 0 || utimensat(AT_FDCWD, p, ts, 0) < 0 || truncate(p, 2) < 0 ||
	    chown(p, (uid_t)-1, getegid()) < 0)
		return errno;
	return 0;
}

static void check_owner(const char *name, uid_t uid, gid_t gid, mode_t type, mode_t perm)
{
	struct stat b, m;

	if (lstat(BAK(name), &b) < 0) {
		CHECK(false, "lstat BACKING/%s: %s", name, expect_errname(errno));
		return;
	}
	CHECK(b.st_uid == uid && b.st_gid == gid, "BACKING/%s belongs to %u:%u, want %u:%u",
	      name, b.st_uid, b.st_gid, uid, gid);
	CHECK((b.st_mode & S_IFMT) == type, "BACKING/%s has type %#o, want %#o", name,
	      b.st_mode & S_IFMT, type);
	if (perm != (mode_t)-1)
		CHECK((b.st_mode & 07777) == perm, "BACKING/%s has mode %#o, want %#o", name,
		      b.st_mode & 07777, perm);
	if (lstat(MNT(name), &m) == 0)
		CHECK(m.st_uid == b.st_uid && m.st_gid == b.st_gid && m.st_mode == b.st_mode,
		      "MNT/%s shows %u:%u %#o, BACKING %u:%u %#o", name, m.st_uid, m.st_gid,
		      m.st_mode, b.st_uid, b.st_gid, b.st_mode);
}

/* What created_as makes: with fn, leaf in the caller's directory, of type
 * and mode ((mode_t)-1: any). */
static const struct made {
	int (*fn)(void *);
	const char *leaf;
	mode_t type, perm;
} made[] = {
	{ do_create, "file", S_IFREG, 0644 },
	{ fs_do_mkdir, "dir", S_IFDIR, 0755 },
	{ do_mkfifo, "fifo", S_IFIFO, 0644 },
	{ do_mknod_sock, "sock", S_IFSOCK, 0644 },
	{ fs_do_symlink, "link", S_IFLNK, (mode_t)-1 },
	/* a socket made by bind(2), if the path fits in sun_path */
	{ do_bind, "bound", S_IFSOCK, (mode_t)-1 },
	/* inside the caller's own new directory too */
	{ do_create, "dir/inner", S_IFREG, 0644 },
};

/* Files, directories, fifos, sockets and symlinks made by a non-root
 * caller belong to it, with its umask applied once. */
static void created_as(uid_t uid, gid_t gid)
{
	char dir[64], name[96];

	snprintf(dir, sizeof(dir), "shared/u%u", (unsigned)uid);
	REQUIRE_OK(mkdir(MNT(dir), 0777));
	REQUIRE_OK(chmod(MNT(dir), 0777));
#define AS(fn, leaf, want) do {                                                   \
	snprintf(name, sizeof(name), "%s/%s", dir, leaf);                         \
	CHECK_RC(fs_as_user(uid, gid, 022, fn, (void *)MNT(name)), want);        \
} while (0)
	for (size_t i = 0; i < sizeof(made) / sizeof(*made); i++) {
		snprintf(name, sizeof(name), "%s/%s", dir, made[i].leaf);
		if (made[i].fn == do_bind &&
		    strlen(MNT(name)) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			continue;
		AS(made[i].fn, made[i].leaf, 0);
		check_owner(name, uid, gid, made[i].type, made[i].perm);
	}
	/* and what it owns it may administer */
	snprintf(name, sizeof(name), "%s/file", dir);
	CHECK_RC(fs_as_user(uid, gid, 022, do_own_file_admin, (void *)MNT(name)), 0);
	check_owner(name, uid, gid, S_IFREG, 0640);
	/* but not give away */
	CHECK_RC(fs_as_user(uid, gid, 022, do_chown_root, (void *)MNT(name)), EPERM);
	CHECK_RC(fs_as_user(uid, gid, 022, do_chgrp_5555, (void *)MNT(name)), EPERM);
	AS(fs_do_unlink, "file", 0);
	AS(fs_do_rmdir, "dir", ENOTEMPTY);
#undef AS
}

TEST(created_by_made_up_uid, .needs = TEST_NEEDS_ROOT)
{
	M = fs_mount_shared();
	created_as(UID, GID);
}

TEST(created_by_nobody, .needs = TEST_NEEDS_ROOT)
{
	M = fs_mount_shared();
	created_as(NOBODY, NOBODY);
}

/* The caller's umask is applied (by the kernel) once, the daemon's never. */
TEST(umask_applied_once, .needs = TEST_NEEDS_ROOT)
{
	/* made with fn under umask mask: of type, with mode perm */
	static const struct {
		const char *name;
		int (*fn)(void *);
		mode_t mask, type, perm;
	} under[] = {
		{ "shared/d027", fs_do_mkdir, 027, S_IFDIR, 0750 },
		{ "shared/f027", do_create, 027, S_IFREG, 0640 },
		{ "shared/d000", fs_do_mkdir, 0, S_IFDIR, 0777 },
		{ "shared/f000", do_create, 0, S_IFREG, 0666 },
		{ "shared/p000", do_mkfifo, 0, S_IFIFO, 0666 },
		{ "shared/s077", do_mknod_sock, 077, S_IFSOCK, 0600 },
	};

	M = fs_mount_shared();
	for (size_t i = 0; i < sizeof(under) / sizeof(*under); i++) {
		CHECK_RC(fs_as_user(UID, GID, under[i].mask, under[i].fn, (void *)MNT(under[i].name)),
			 0);
		check_owner(under[i].name, UID, GID, under[i].type, under[i].perm);
	}
}

/* A setgid directory: new entries take its group, new directories its
 * setgid bit. */
TEST(setgid_directory, .needs = TEST_NEEDS_ROOT)
{
	struct stat b;

	M = fs_mount_shared();
	REQUIRE_OK(mkdir(MNT("shared/sg"), 0777));
	REQUIRE_OK(chown(MNT("shared/sg"), 0, 777));
	REQUIRE_OK(chmod(MNT("shared/sg"), 02777));
	REQUIRE_OK(stat(BAK("shared/sg"), &b));
	REQUIRE((b.st_mode & 07777) == 02777 && b.st_gid == 777,
		"the setgid dir in BACKING: %u %#o", b.st_gid, b.st_mode);
	CHECK_RC(fs_as_user(UID, GID, 022, do_create, (void *)MNT("shared/sg/file")), 0);
	check_owner("shared/sg/file", UID, 777, S_IFREG, 0644);
	CHECK_RC(fs_as_user(UID, GID, 022, fs_do_mkdir, (void *)MNT("shared/sg/sub")), 0);
	check_owner("shared/sg/sub", UID, 777, S_IFDIR, 02755);
	CHECK_RC(fs_as_user(UID, GID, 022, do_mkfifo, (void *)MNT("shared/sg/fifo")), 0);
	check_owner("shared/sg/fifo", UID, 777, S_IFIFO, 0644);
	CHECK_RC(fs_as_user(UID, GID, 022, fs_do_symlink, (void *)MNT("shared/sg/link")), 0);
	check_owner("shared/sg/link", UID, 777, S_IFLNK, (mode_t)-1);
	/* and on down */
	CHECK_RC(fs_as_user(UID, GID, 022, do_create, (void *)MNT("shared/sg/sub/deeper")), 0);
	check_owner("shared/sg/sub/deeper", UID, 777, S_IFREG, 0644);
}

/* Permission checks as on a local filesystem. */
TEST(permission_checks_as_local, .needs = TEST_NEEDS_ROOT)
{
	M = fs_mount_shared();
	REQUIRE_OK(fs_put(MNT("shared/root644"), "r", 1, 0644));
	REQUIRE_OK(chmod(MNT("shared/root644"), 0644));
	REQUIRE_OK(fs_put(MNT("shared/root600"), "r", 1, 0600));
	REQUIRE_OK(mkdir(MNT("rootdir"), 0755));
	REQUIRE_OK(chmod(MNT("rootdir"), 0755));
	REQUIRE_OK(fs_put(MNT("rootdir/inside"), "r", 1, 0644));
	REQUIRE_OK(mkdir(MNT("shared/sticky"), 0777));
	REQUIRE_OK(chmod(MNT("shared/sticky"), 01777));
	REQUIRE_OK(fs_put(MNT("shared/sticky/roots"), "r", 1, 0666));
	REQUIRE_OK(chmod(MNT("shared/sticky/roots"), 0666));

	/* a non-owner cannot write a 0644 file, can read it */
	CHECK_RC(fs_as_user(UID, GID, 022, fs_do_open_w, (void *)MNT("shared/root644")), EACCES);
	CHECK_RC(fs_as_user(UID, GID, 022, do_open_r, (void *)MNT("shared/root644")), 0);
	CHECK_RC(fs_as_user(UID, GID, 022, fs_do_truncate, (void *)MNT("shared/root644")), EACCES);
	CHECK_RC(fs_as_user(UID, GID, 022, do_setxattr, (void *)MNT("shared/root644")), EACCES);
	/* nor read a 0600 one */
	CHECK_RC(fs_as_user(UID, GID, 022, do_open_r, (void *)MNT("shared/root600")), EACCES);
	/* nor change what it does not own */
	CHECK_RC(fs_as_user(UID, GID, 022, do_chmod, (void *)MNT("shared/root644")), EPERM);
	CHECK_RC(fs_as_user(UID, GID, 022, do_set_times, (void *)MNT("shared/root644")), EPERM);
	CHECK_RC(fs_as_user(UID, GID, 022, do_touch_now, (void *)MNT("shared/root644")), EACCES);
	/* nor create in, or delete from, a 0755 root directory */
	CHECK_RC(fs_as_user(UID, GID, 022, do_create, (void *)MNT("rootdir/new")), EACCES);
	CHECK_RC(fs_as_user(UID, GID, 022, fs_do_mkdir, (void *)MNT("rootdir/newdir")), EACCES);
	CHECK_RC(fs_as_user(UID, GID, 022, fs_do_unlink, (void *)MNT("rootdir/inside")), EACCES);
	/* a sticky directory protects others' files */
	CHECK_RC(fs_as_user(UID, GID, 022, fs_do_unlink, (void *)MNT("shared/sticky/roots")), EPERM);
	/* yet a 0666 file is writable by anyone */
	CHECK_RC(fs_as_user(UID, GID, 022, fs_do_open_w, (void *)MNT("shared/sticky/roots")), 0);
	/* nothing of it happened in BACKING */
	struct stat b;
	CHECK_ERR(lstat(BAK("rootdir/new"), &b), ENOENT);
	CHECK_OK(lstat(BAK("rootdir/inside"), &b));
	CHECK_OK(lstat(BAK("shared/sticky/roots"), &b));
	REQUIRE_OK(stat(BAK("shared/root644"), &b));
	CHECK(b.st_size == 1 && (b.st_mode & 07777) == 0644,
	      "the root file changed: size %jd mode %#o", (intmax_t)b.st_size, b.st_mode);
}

/* Write access through a supplementary group only: the daemon must create
 * with the caller's groups as well as its uid and gid. */
TEST(supplementary_groups, .needs = TEST_NEEDS_ROOT)
{
	const gid_t groups[] = { 5555 };

	M = fs_mount_shared();
	REQUIRE_OK(mkdir(MNT("shared/grp"), 0770));
	REQUIRE_OK(chown(MNT("shared/grp"), 0, 5555));
	REQUIRE_OK(chmod(MNT("shared/grp"), 0770));
	REQUIRE_OK(fs_put(MNT("shared/grp/data"), "g", 1, 0660));
	REQUIRE_OK(chown(MNT("shared/grp/data"), 0, 5555));
	REQUIRE_OK(chmod(MNT("shared/grp/data"), 0660));
	CHECK_RC(fs_as_user_groups(UID, GID, 1, groups, 022, do_create,
				   (void *)MNT("shared/grp/made")), 0);
	check_owner("shared/grp/made", UID, GID, S_IFREG, 0644);
	CHECK_RC(fs_as_user_groups(UID, GID, 1, groups, 022, fs_do_mkdir,
				   (void *)MNT("shared/grp/madedir")), 0);
	check_owner("shared/grp/madedir", UID, GID, S_IFDIR, 0755);
	CHECK_RC(fs_as_user_groups(UID, GID, 1, groups, 022, fs_do_open_w,
				   (void *)MNT("shared/grp/data")), 0);
	CHECK_RC(fs_as_user_groups(UID, GID, 1, groups, 022, do_chgrp_5555,
				   (void *)MNT("shared/grp/made")), 0);
	check_owner("shared/grp/made", UID, 5555, S_IFREG, 0644);
	/* without the group: refused */
	CHECK_RC(fs_as_user(UID, GID, 022, do_create, (void *)MNT("shared/grp/nope")), EACCES);
	CHECK_RC(fs_as_user(UID, GID, 022, fs_do_open_w, (void *)MNT("shared/grp/data")), EACCES);
}

static int do_append(void *p)
{
	int fd = open(p, O_WRONLY | O_APPEND);

	if (fd < 0)
		return errno;
	if (write(fd, "w", 1) != 1)
		return errno ? errno : EIO;
	return fs_rc(close(fd));
}

/* shared/setid made 06777, then fn (what it does: "write", "truncate") by
 * another user: the backing file is size bytes, its set-id bits cleared. */
static void clears_setid(int (*fn)(void *), const char *what, off_t size)
{
	struct stat b;

	REQUIRE_OK(chmod(MNT("shared/setid"), 06777));
	REQUIRE_OK(stat(BAK("shared/setid"), &b));
	REQUIRE((b.st_mode & 07777) == 06777, "mode %#o after chmod 06777", b.st_mode);
	CHECK_RC(fs_as_user(UID, GID, 022, fn, (void *)MNT("shared/setid")), 0);
	REQUIRE_OK(stat(BAK("shared/setid"), &b));
	CHECK(b.st_size == size, "backing size %jd after the %s, want %jd", (intmax_t)b.st_size,
	      what, (intmax_t)size);
	CHECK((b.st_mode & (S_ISUID | S_ISGID)) == 0,
	      "after another user's %s the backing mode is %#o, want set-id bits cleared", what,
	      b.st_mode & 07777);
}

/* A write or truncate by someone else clears set-user-ID and set-group-ID
 * (group executable), as on a local filesystem. */
TEST(write_clears_setid, .needs = TEST_NEEDS_ROOT)
{
	struct stat m;

	M = fs_mount_shared();
	REQUIRE_OK(fs_put(MNT("shared/setid"), "x", 1, 0777));
	clears_setid(do_append, "write", 2);
	REQUIRE_OK(stat(MNT("shared/setid"), &m));
	CHECK((m.st_mode & (S_ISUID | S_ISGID)) == 0,
	      "after another user's write the mount shows mode %#o", m.st_mode & 07777);
	/* and a truncate likewise */
	clears_setid(fs_do_truncate, "truncate", 0);
}

TEST_MAIN("test_owner")
