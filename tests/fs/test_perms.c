/* Permissions as another user, through allow_other: every backing call
 * runs as the caller, so the backing filesystem's own rules hold through
 * the mount, also where the kernel's check (default_permissions, on modes
 * cached for a second, ACLs unknown to it) lets a call through: ACL denies,
 * a mode changed behind the kernel's back, search permission, trusted.*
 * xattrs, root's reserved blocks.  Each caller is a forked child with
 * another uid and gid (no /etc/passwd entry needed); where it matters the
 * same call made natively on BACKING is the reference. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "fstest.h"

#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define UID 4242
#define GID 4242

/* A root-owned directory with mode (umask aside). */
static void root_dir(const char *name, mode_t mode)
{
	REQUIRE_OK(mkdir(MNT(name), mode));
	REQUIRE_OK(chmod(MNT(name), mode));
}

/* A root-owned file with mode (umask aside). */
static void root_file(const char *name, mode_t mode)
{
	REQUIRE_OK(fs_put(MNT(name), "data", 4, mode));
	REQUIRE_OK(chmod(MNT(name), mode));
}

/* ---- what the other user does: 0 or an errno ---- */

static int open_close(const char *p, int flags)
{
	int fd = open(p, flags);

	return fd < 0 ? errno : fs_rc(close(fd));
}

static int do_open_r(void *p) { return open_close(p, O_RDONLY); }
static int do_stat(void *p) { struct stat st; return fs_rc(stat(p, &st)); }
static int do_setxattr_user(void *p) { return fs_rc(setxattr(p, "user.u", "1", 1, 0)); }
static int do_setxattr_trusted(void *p) { return fs_rc(setxattr(p, "trusted.t", "1", 1, 0)); }
static int do_setxattr_security(void *p) { return fs_rc(setxattr(p, "security.s", "1", 1, 0)); }

/* opendir and read every entry */
static int do_list(void *p)
{
	DIR *d = opendir(p);
	int err = 0;

	if (!d)
		return errno;
	errno = 0;
	while (readdir(d))
		;
	err = errno;
	closedir(d);
	return err;
}


static int do_create_666(void *p)
{
	int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0666);

	return fd < 0 ? errno : fs_rc(close(fd));
}

static int do_create(void *p)
{
	int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);

	return fd < 0 ? errno : fs_rc(close(fd));
}

static int do_read(void *p)
{
	char c;
	int fd = open(p, O_RDONLY), err;

	if (fd < 0)
		return errno;
	err = read(fd, &c, 1) < 0 ? errno : 0;
	close(fd);
	return err;
}

static int do_getxattr_trusted(void *p)
{
	char v[16];

	return fs_rc((int)getxattr(p, "trusted.diofs", v, sizeof(v)));
}

/* Two paths: from and to. */
struct two {
	const char *from, *to;
};

static int do_rename(void *p)
{
	const struct two *t = p;

	return fs_rc(rename(t->from, t->to));
}

static int do_link(void *p)
{
	const struct two *t = p;

	return fs_rc(link(t->from, t->to));
}

/* listxattr of p; EEXIST if a trusted.* name is among the names. */
static int do_list_no_trusted(void *p)
{
	char names[4096];
	ssize_t n = listxattr(p, names, sizeof(names));

	if (n < 0)
		return errno;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1)
		if (!strncmp(names + i, "trusted.", 8))
			return EEXIST;
	return 0;
}

#define AS_USER(fn, path) fs_as_user(UID, GID, 022, fn, (void *)(path))

/* fn (do_rename, do_link) from one path to another as the user. */
static int as_user_two(int (*fn)(void *), const char *from, const char *to)
{
	struct two t = { from, to };

	return AS_USER(fn, &t);
}

/* ---- ACLs, set on BACKING with the raw xattr (no libacl needed) ---- */

/* The on-disk form of system.posix_acl_access (little-endian), as in
 * the kernel's include/uapi/linux/posix_acl_xattr.h. */
struct acl_entry {
	uint16_t tag, perm;
	uint32_t id;
} __attribute__((packed));

enum { ACL_USER_OBJ = 1, ACL_USER = 2, ACL_GROUP_OBJ = 4, ACL_MASK = 0x10, ACL_OTHER = 0x20 };

/* mode's owner/group/other entries plus one for uid with perm (rwx bits);
 * the mask lets perm through.  0, or -errno of the setxattr. */
static int acl_for_user(const char *path, mode_t mode, uid_t uid, unsigned int perm)
{
	struct {
		uint32_t version;
		struct acl_entry e[5];
	} __attribute__((packed)) acl = {
		htole32(2),
		{
			{ htole16(ACL_USER_OBJ), htole16((mode >> 6) & 7), htole32(UINT32_MAX) },
			{ htole16(ACL_USER), htole16(perm), htole32(uid) },
			{ htole16(ACL_GROUP_OBJ), htole16((mode >> 3) & 7), htole32(UINT32_MAX) },
			{ htole16(ACL_MASK), htole16(((mode >> 3) & 7) | perm), htole32(UINT32_MAX) },
			{ htole16(ACL_OTHER), htole16(mode & 7), htole32(UINT32_MAX) },
		},
	};

	return setxattr(path, "system.posix_acl_access", &acl, sizeof(acl), 0) < 0 ? -errno : 0;
}

/* A default ACL giving everyone rwx on what is created in dir: new
 * entries then take their mode from it, not from the umask. */
static int default_acl_rwx(const char *dir)
{
	struct {
		uint32_t version;
		struct acl_entry e[3];
	} __attribute__((packed)) acl = {
		htole32(2),
		{
			{ htole16(ACL_USER_OBJ), htole16(7), htole32(UINT32_MAX) },
			{ htole16(ACL_GROUP_OBJ), htole16(7), htole32(UINT32_MAX) },
			{ htole16(ACL_OTHER), htole16(7), htole32(UINT32_MAX) },
		},
	};

	return setxattr(dir, "system.posix_acl_default", &acl, sizeof(acl), 0) < 0 ? -errno : 0;
}

/* Deny the other user part of what mode grants (an ACL on BACKING/name),
 * and check natively that fn on BACKING/probe gives want then.  The case
 * is skipped, saying why, where the backing filesystem has no ACLs or does
 * not enforce them. */
static void deny_by_acl(const char *name, mode_t mode, unsigned int perm,
			int (*fn)(void *), const char *probe, int want)
{
	int err = acl_for_user(BAK(name), mode, UID, perm);

	if (err == -EOPNOTSUPP)
		SKIP("the backing filesystem has no POSIX ACLs");
	REQUIRE(err == 0, "setting an ACL on BACKING/%s: %s", name, expect_errname(-err));
	err = AS_USER(fn, BAK(probe));
	if (err != want)
		SKIP("natively the ACL gives %s, not %s", expect_errname(err), expect_errname(want));
}

/* An ACL entry denying the user reading a file others may read. */
TEST(acl_deny_read, .needs = TEST_NEEDS_ROOT)
{
	M = fs_mount_shared();
	root_file("shared/f", 0644);
	deny_by_acl("shared/f", 0644, 0, do_open_r, "shared/f", EACCES);
	CHECK_RC(AS_USER(do_open_r, MNT("shared/f")), EACCES);
	CHECK_RC(AS_USER(do_read, MNT("shared/f")), EACCES);
	/* root is not concerned */
	CHECK_OK(fs_get(MNT("shared/f"), (char[8]){ 0 }, 8));
}

/* An ACL entry letting the user read but not write a file others may
 * write. */
TEST(acl_deny_write, .needs = TEST_NEEDS_ROOT)
{
	struct stat b;

	M = fs_mount_shared();
	root_file("shared/f", 0666);
	deny_by_acl("shared/f", 0666, 4, fs_do_open_w, "shared/f", EACCES);
	CHECK_RC(AS_USER(fs_do_open_w, MNT("shared/f")), EACCES);
	CHECK_RC(AS_USER(fs_do_truncate, MNT("shared/f")), EACCES);
	CHECK_RC(AS_USER(do_setxattr_user, MNT("shared/f")), EACCES);
	CHECK_RC(AS_USER(do_open_r, MNT("shared/f")), 0);
	REQUIRE_OK(stat(BAK("shared/f"), &b));
	CHECK(b.st_size == 4, "BACKING/shared/f has %jd bytes, want 4 (untouched)",
	      (intmax_t)b.st_size);
}

/* An ACL entry denying the user writing a directory others may write:
 * no unlink, rename, create or mkdir in it. */
TEST(acl_deny_dir, .needs = TEST_NEEDS_ROOT)
{
	struct stat b;

	M = fs_mount_shared();
	root_dir("shared/d", 0777);
	root_file("shared/d/victim", 0666);
	deny_by_acl("shared/d", 0777, 5, fs_do_unlink, "shared/d/victim", EACCES);
	CHECK_RC(AS_USER(fs_do_unlink, MNT("shared/d/victim")), EACCES);
	CHECK_RC(as_user_two(do_rename, MNT("shared/d/victim"), MNT("shared/moved")), EACCES);
	CHECK_RC(AS_USER(do_create, MNT("shared/d/new")), EACCES);
	CHECK_RC(AS_USER(fs_do_mkdir, MNT("shared/d/newdir")), EACCES);
	CHECK_OK(lstat(BAK("shared/d/victim"), &b));
	CHECK_ERR(lstat(BAK("shared/d/new"), &b), ENOENT);
	/* reading it is still allowed (r-x) */
	CHECK_RC(AS_USER(do_stat, MNT("shared/d/victim")), 0);
	CHECK_RC(AS_USER(do_list, MNT("shared/d")), 0);
}

/* An ACL entry letting the user through a directory (--x) but not list
 * it. */
TEST(acl_deny_opendir, .needs = TEST_NEEDS_ROOT)
{
	M = fs_mount_shared();
	root_dir("shared/d", 0755);
	root_file("shared/d/f", 0644);
	deny_by_acl("shared/d", 0755, 1, do_list, "shared/d", EACCES);
	CHECK_RC(AS_USER(do_list, MNT("shared/d")), EACCES);
	CHECK_RC(AS_USER(do_read, MNT("shared/d/f")), 0);
}

/* An ACL entry granting the user more than the mode's bits show: as
 * natively, it applies (the kernel's check reads the ACL too). */
TEST(acl_grant, .needs = TEST_NEEDS_ROOT)
{
	int err;

	M = fs_mount_shared();
	root_file("shared/f", 0600);
	err = acl_for_user(BAK("shared/f"), 0600, UID, 6);
	if (err == -EOPNOTSUPP)
		SKIP("the backing filesystem has no POSIX ACLs");
	REQUIRE(err == 0, "setting an ACL on BACKING/shared/f: %s", expect_errname(-err));
	REQUIRE(AS_USER(fs_do_open_w, BAK("shared/f")) == 0, "natively the ACL does not grant");
	CHECK_RC(AS_USER(do_read, MNT("shared/f")), 0);
	CHECK_RC(AS_USER(fs_do_open_w, MNT("shared/f")), 0);
	/* and others stay out */
	CHECK_RC(fs_as_user(UID + 1, GID + 1, 022, do_read, (void *)MNT("shared/f")), EACCES);
}

/* In a directory with a default ACL the umask does not apply: what the
 * user creates there gets the same mode through the mount as natively. */
TEST(default_acl_umask, .needs = TEST_NEEDS_ROOT)
{
	static const char *const names[] = { "file", "dir" };
	char path[64];
	struct stat n, m;
	int err;

	M = fs_mount_shared();
	root_dir("shared/inherit", 0777);
	err = default_acl_rwx(BAK("shared/inherit"));
	if (err == -EOPNOTSUPP)
		SKIP("the backing filesystem has no POSIX ACLs");
	REQUIRE(err == 0, "setting a default ACL: %s", expect_errname(-err));
	for (int i = 0; i < 2; i++) {
		int (*make)(void *) = i ? fs_do_mkdir : do_create_666;

		snprintf(path, sizeof(path), "shared/inherit/native-%s", names[i]);
		REQUIRE_OK(fs_as_user(UID, GID, 077, make, (void *)BAK(path)));
		REQUIRE_OK(lstat(BAK(path), &n));
		snprintf(path, sizeof(path), "shared/inherit/mnt-%s", names[i]);
		CHECK_RC(fs_as_user(UID, GID, 077, make, (void *)MNT(path)), 0);
		REQUIRE_OK(lstat(BAK(path), &m));
		CHECK((m.st_mode & 07777) == (n.st_mode & 07777),
		      "a %s made with umask 077 under a default ACL: mode %#o through "
		      "diofs, %#o natively", names[i], m.st_mode & 07777, n.st_mode & 07777);
	}
	/* and without one the umask does apply */
	CHECK_RC(fs_as_user(UID, GID, 077, do_create_666, (void *)MNT("shared/masked")), 0);
	REQUIRE_OK(lstat(BAK("shared/masked"), &m));
	CHECK_EQ(m.st_mode & 07777, 0600);
}

/* chmod 600 of a file the user may write, then at once (within the
 * kernel's one-second attribute cache) an open for writing by the user:
 * refused, whether the chmod went through the mount or behind it. */
TEST(chmod_refuses_next_open_at_once, .needs = TEST_NEEDS_ROOT)
{
	M = fs_mount_shared();
	root_file("shared/f", 0666);
	root_file("shared/g", 0666);
	/* the kernel caches both as 0666 */
	REQUIRE(AS_USER(fs_do_open_w, MNT("shared/f")) == 0, "the user cannot write a 0666 file");
	REQUIRE(AS_USER(fs_do_open_w, MNT("shared/g")) == 0, "the user cannot write a 0666 file");

	REQUIRE_OK(chmod(MNT("shared/f"), 0600));
	CHECK_RC(AS_USER(fs_do_open_w, MNT("shared/f")), EACCES);
	/* behind the kernel's back: its cached mode still says 0666; open
	 * always reaches diofs, which opens as the caller */
	REQUIRE_OK(chmod(BAK("shared/g"), 0600));
	CHECK_RC(AS_USER(fs_do_open_w, MNT("shared/g")), EACCES);
	CHECK_RC(AS_USER(do_open_r, MNT("shared/g")), EACCES);
}

/* A directory closed to others behind the kernel's back (it still caches
 * 0777 or 0755): what the user does inside it is refused as it would be
 * natively, lookups (search permission) included. */
TEST(stale_directory_mode, .needs = TEST_NEEDS_ROOT)
{
	struct stat b;

	M = fs_mount_shared();
	root_dir("shared/pub", 0777);
	REQUIRE_OK(mkdir(MNT("shared/pub/sub"), 0755));
	root_file("shared/pub/victim", 0666);
	root_dir("shared/srch", 0755);
	REQUIRE(AS_USER(do_stat, MNT("shared/pub/victim")) == 0, "the user cannot stat it");
	REQUIRE(AS_USER(do_stat, MNT("shared/srch")) == 0, "the user cannot stat it");

	/* no longer writable by others */
	REQUIRE_OK(chmod(BAK("shared/pub"), 0755));
	CHECK_RC(AS_USER(fs_do_unlink, MNT("shared/pub/victim")), EACCES);
	CHECK_RC(AS_USER(fs_do_rmdir, MNT("shared/pub/sub")), EACCES);
	CHECK_RC(AS_USER(do_create, MNT("shared/pub/new")), EACCES);
	CHECK_RC(as_user_two(do_rename, MNT("shared/pub/victim"), MNT("shared/pub/renamed")), EACCES);
	CHECK_RC(as_user_two(do_link, MNT("shared/pub/victim"), MNT("shared/pub/hardlink")), EACCES);
	CHECK_OK(lstat(BAK("shared/pub/victim"), &b));
	CHECK_OK(lstat(BAK("shared/pub/sub"), &b));

	/* no longer searchable by others: a name the kernel has not seen */
	REQUIRE_OK(fs_put(BAK("shared/srch/inside"), "x", 1, 0644));
	REQUIRE_OK(chmod(BAK("shared/srch"), 0700));
	CHECK_RC(AS_USER(do_stat, BAK("shared/srch/inside")), EACCES); /* natively */
	CHECK_RC(AS_USER(do_stat, MNT("shared/srch/inside")), EACCES);
	CHECK_RC(AS_USER(do_open_r, MNT("shared/srch/inside")), EACCES);
}

/* Modes and sticky directories, pjdfstest-like: what the user may and may
 * not do to root's files and its own. */
TEST(modes_and_sticky, .needs = TEST_NEEDS_ROOT)
{

	M = fs_mount_shared();
	root_file("shared/r600", 0600);
	root_file("shared/r644", 0644);
	root_dir("shared/sticky", 01777);
	root_file("shared/sticky/roots", 0666);
	root_dir("shared/sticky/rootdir", 0777);

	/* a directory others may read but not search lists (names only),
	 * one they may not read does not */
	root_dir("shared/r704", 0704);
	root_file("shared/r704/f", 0644);
	REQUIRE_OK(mkdir(MNT("shared/r700"), 0700));
	CHECK_RC(AS_USER(do_list, MNT("shared/r704")), 0);
	CHECK_RC(AS_USER(do_stat, MNT("shared/r704/f")), EACCES);
	CHECK_RC(AS_USER(do_list, MNT("shared/r700")), EACCES);

	CHECK_RC(AS_USER(do_open_r, MNT("shared/r600")), EACCES);
	CHECK_RC(AS_USER(fs_do_open_w, MNT("shared/r644")), EACCES);
	CHECK_RC(AS_USER(do_read, MNT("shared/r644")), 0);
	CHECK_RC(AS_USER(fs_do_truncate, MNT("shared/r644")), EACCES);
	/* the sticky bit keeps others' entries */
	CHECK_RC(AS_USER(fs_do_unlink, MNT("shared/sticky/roots")), EPERM);
	CHECK_RC(AS_USER(fs_do_rmdir, MNT("shared/sticky/rootdir")), EPERM);
	CHECK_RC(as_user_two(do_rename, MNT("shared/sticky/roots"), MNT("shared/sticky/mine")), EPERM);
	/* a hard link to a file the user may not read (protected_hardlinks) */
	CHECK_RC(as_user_two(do_link, MNT("shared/r600"), MNT("shared/link600")), EPERM);
	/* its own entries in the sticky directory are its to remove */
	CHECK_RC(AS_USER(do_create, MNT("shared/sticky/own")), 0);
	CHECK_RC(as_user_two(do_rename, MNT("shared/sticky/own"), MNT("shared/sticky/own2")), 0);
	CHECK_RC(AS_USER(fs_do_unlink, MNT("shared/sticky/own2")), 0);
	CHECK_RC(AS_USER(fs_do_mkdir, MNT("shared/sticky/owndir")), 0);
	CHECK_RC(AS_USER(fs_do_rmdir, MNT("shared/sticky/owndir")), 0);
	/* a hard link to its own symlink (made from an O_PATH fd) */
	CHECK_RC(AS_USER(fs_do_symlink, MNT("shared/ownlink")), 0);
	CHECK_RC(as_user_two(do_link, MNT("shared/ownlink"), MNT("shared/ownlink2")), 0);
}

/* trusted.* needs CAP_SYS_ADMIN: the user does not see the names, cannot
 * read or set them; security.* likewise cannot be set.  Root does see
 * them. */
TEST(trusted_xattrs, .needs = TEST_NEEDS_ROOT)
{
	char names[4096];
	ssize_t n;
	bool seen = false;

	M = fs_mount_shared();
	root_file("shared/f", 0666);
	if (setxattr(BAK("shared/f"), "trusted.diofs", "secret", 6, 0) < 0)
		SKIP("the backing filesystem has no trusted.* xattrs: %s",
			  expect_errname(errno));
	REQUIRE(AS_USER(do_list_no_trusted, BAK("shared/f")) == 0,
		"natively the user sees trusted.* names");
	CHECK_RC(AS_USER(do_list_no_trusted, MNT("shared/f")), 0);
	CHECK_RC(AS_USER(do_getxattr_trusted, MNT("shared/f")), ENODATA);
	CHECK_RC(AS_USER(do_setxattr_trusted, MNT("shared/f")), EPERM);
	CHECK_RC(AS_USER(do_setxattr_security, MNT("shared/f")), EPERM);
	CHECK_RC(AS_USER(do_setxattr_user, MNT("shared/f")), 0);
	n = listxattr(MNT("shared/f"), names, sizeof(names));
	REQUIRE(n >= 0, "listxattr as root: %s", expect_errname(errno));
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1)
		seen |= !strcmp(names + i, "trusted.diofs");
	CHECK(seen, "root does not see trusted.diofs through the mount");
}

/* As root without any capability (capset: the effective, permitted and
 * inheritable sets emptied), list p's xattrs: do_list_no_trusted. */
static int do_list_no_trusted_nocaps(void *p)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) < 0)
		return errno;
	return do_list_no_trusted(p);
}

/* A uid-0 caller without capabilities gets none of the daemon's: it does
 * not see trusted.* names, as natively. */
TEST(root_without_caps, .needs = TEST_NEEDS_ROOT)
{
	M = fs_mount_shared();
	root_file("shared/f", 0666);
	if (setxattr(BAK("shared/f"), "trusted.diofs", "secret", 6, 0) < 0)
		SKIP("the backing filesystem has no trusted.* xattrs: %s",
			  expect_errname(errno));
	REQUIRE(fs_as_user(0, 0, 022, do_list_no_trusted_nocaps, (void *)BAK("shared/f")) == 0,
		"natively root without capabilities sees trusted.* names");
	CHECK_RC(fs_as_user(0, 0, 022, do_list_no_trusted_nocaps, (void *)MNT("shared/f")), 0);
	CHECK_RC(fs_as_user(0, 0, 022, do_list_no_trusted, (void *)MNT("shared/f")), EEXIST);
}

/* Root in another group keeps root's rights (no capability dropped) and
 * creates with its own group. */
TEST(root_other_group, .needs = TEST_NEEDS_ROOT)
{
	struct stat b;

	M = fs_mount_shared();
	root_file("shared/r000", 0);
	CHECK_RC(fs_as_user(0, 5555, 022, fs_do_open_w, (void *)MNT("shared/r000")), 0);
	CHECK_RC(fs_as_user(0, 5555, 022, do_setxattr_trusted, (void *)MNT("shared/r000")), 0);
	CHECK_RC(fs_as_user(0, 5555, 022, do_create, (void *)MNT("shared/made")), 0);
	REQUIRE_OK(stat(BAK("shared/made"), &b));
	CHECK(b.st_uid == 0 && b.st_gid == 5555, "made by root in group 5555: %u:%u",
	      b.st_uid, b.st_gid);
}

/* ---- root's reserved blocks, on a small ext4 on a loop device ---- */

struct fill {
	const char *path;
	long long bytes;
	int err;
};

/* Write 1 MiB at a time until the filesystem refuses: bytes written and
 * the errno that stopped it, in shared memory. */
static int do_fill(void *p)
{
	static char buf[1 << 20];
	struct fill *f = p;
	int fd = open(f->path, O_CREAT | O_EXCL | O_WRONLY, 0644);

	f->bytes = 0;
	if (fd < 0)
		return errno;
	memset(buf, 0x5a, sizeof(buf));
	for (;;) {
		ssize_t w = write(fd, buf, sizeof(buf));

		if (w <= 0) {
			f->err = w < 0 ? errno : EIO;
			break;
		}
		f->bytes += w;
	}
	if (fsync(fd) < 0 && !f->err)
		f->err = errno;
	close(fd);
	return 0;
}

static int run_quiet(char *const argv[], struct diofs_run *r)
{
	int st = diofs_run(argv, NULL, 60000, r);

	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Free space of the filesystem at fd settled (journal committed). */
static void settle(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	REQUIRE(fd >= 0, "open %s: %s", path, expect_errname(errno));
	REQUIRE_OK(syncfs(fd));
	close(fd);
}

/* An unprivileged user writing until ENOSPC through diofs stops where it
 * stops natively: at root's reserved blocks.  Both runs write 1 MiB at a
 * time into a new file in an empty directory of the same filesystem,
 * emptied and synced in between, so they can differ only by that file's
 * own metadata (a few blocks of extent tree) and the last, partial write:
 * the criterion is at most one write (1 MiB) apart.  Without the reserve
 * enforced diofs writes root's 5% more (3 MiB here, measured).  The
 * reserve (f_bfree - f_bavail, which also holds ext4's own 2% reserve) must
 * exceed 2 MiB for the case to tell the two apart. */
#define FILL_SLACK (1LL << 20)

TEST(reserved_blocks_kept_from_users, .needs = TEST_NEEDS_ROOT, .timeout_s = 300)
{
	char *mkfs[] = { "mkfs.ext4", "-q", "-F", "-m", "5", NULL, NULL };
	char *mnt_argv[] = { "mount", "-o", "loop", NULL, NULL, NULL };
	char img[PATH_MAX], ext[PATH_MAX - 64], opts[PATH_MAX], path[PATH_MAX];
	struct diofs_run *r = fs_alloc(sizeof(*r));
	struct fill *f;
	struct statvfs sv;
	long long reserve, native, through;
	const char *t;
	int fd;

	if (access("/dev/loop-control", F_OK) < 0)
		SKIP("no loop devices (/dev/loop-control: %s)", expect_errname(errno));
	t = fs_tempdir();
	REQUIRE_OK(chmod(t, 0755));
	snprintf(img, sizeof(img), "%s/ext4.img", t);
	snprintf(ext, sizeof(ext), "%s/ext4", t);
	fd = open(img, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0, "create %s: %s", img, expect_errname(errno));
	REQUIRE_OK(ftruncate(fd, 64 << 20));
	close(fd);
	mkfs[5] = img;
	if (run_quiet(mkfs, r) != 0)
		SKIP("mkfs.ext4 did not run: %.200s", r->err[0] ? r->err : "not found?");
	REQUIRE_OK(mkdir(ext, 0755));
	mnt_argv[3] = img;
	mnt_argv[4] = ext;
	fs_track_mount(ext, 0); /* before: a mount that half-worked goes too */
	if (run_quiet(mnt_argv, r) != 0)
		SKIP("cannot mount the ext4 image on a loop device: %.200s", r->err);
	REQUIRE_OK(chmod(ext, 0755));
	REQUIRE_OK(statvfs(ext, &sv));
	reserve = (long long)(sv.f_bfree - sv.f_bavail) * (long long)sv.f_frsize;
	if (reserve <= 2 * FILL_SLACK)
		SKIP("mkfs.ext4 -m 5 reserved only %lld bytes", reserve);

	/* async_dio=0: a write cut short by ENOSPC returns its count, as
	 * natively (the async path turns it into EIO). */
	snprintf(opts, sizeof(opts), "allow_other,async_dio=0,backing=%s", ext);
	M = fs_mount(opts);
	REQUIRE_OK(chmod(M->root, 0755));
	REQUIRE_OK(mkdir(BAK("native"), 0755));
	REQUIRE_OK(chown(BAK("native"), UID, GID));
	REQUIRE_OK(mkdir(BAK("fuse"), 0755));
	REQUIRE_OK(chown(BAK("fuse"), UID, GID));

	f = mmap(NULL, sizeof(*f), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(f != MAP_FAILED, "mmap: %s", expect_errname(errno));
	snprintf(path, sizeof(path), "%s", BAK("native/fill"));
	*f = (struct fill){ .path = path };
	settle(ext);
	CHECK_RC(AS_USER(do_fill, f), 0);
	native = f->bytes;
	CHECK(f->err == ENOSPC, "natively the writes ended with %s, want ENOSPC",
	      expect_errname(f->err));
	REQUIRE_OK(unlink(BAK("native/fill")));
	settle(ext);

	snprintf(path, sizeof(path), "%s", MNT("fuse/fill"));
	*f = (struct fill){ .path = path };
	CHECK_RC(AS_USER(do_fill, f), 0);
	through = f->bytes;
	CHECK(f->err == ENOSPC, "through diofs the writes ended with %s, want ENOSPC",
	      expect_errname(f->err));
	NOTE("written natively %lld, through diofs %lld bytes; reserve %lld", native, through,
	     reserve);
	CHECK(through <= native + FILL_SLACK,
	      "through diofs the user wrote %lld bytes, natively %lld: %lld more, "
	      "the reserve is %lld", through, native, through - native, reserve);
	CHECK(through >= native - FILL_SLACK,
	      "through diofs the user wrote %lld bytes, natively %lld: stopped early",
	      through, native);
	munmap(f, sizeof(*f));
	fs_unmount(M);
	CHECK_EQ(fs_untrack_mount(ext), 0);
}

/* ---- a lease on a BACKING file blocks no worker ---- */

#define LEASE_THREADS 2
/* Enough of each kind (open, truncate) to occupy every worker. */
#define LEASE_OPENERS (2 * (LEASE_THREADS + 1))

static int lease_ready[2] = { -1, -1 }, lease_release[2] = { -1, -1 };

/* The other user's write leases on its own files, taken on BACKING, held
 * until lease_release is written to or closed.  SIGIO (the lease break)
 * ignored: the holder gives the lease up when told, not before. */
/* Opener i: an open or a truncate, and its system call. */
static int (*const lease_kind[2])(void *) = { fs_do_truncate, do_open_r };
static const long lease_syscall[2] = { SYS_truncate, SYS_openat };

static char lease_bak[1 + LEASE_OPENERS][PATH_MAX], lease_mnt[1 + LEASE_OPENERS][PATH_MAX];

static int do_hold_lease(void *p)
{
	int fd[1 + LEASE_OPENERS], err = 0;
	char b;

	(void)p;
	signal(SIGIO, SIG_IGN);
	for (int i = 1; i <= LEASE_OPENERS; i++) {
		fd[i] = open(lease_bak[i], O_RDONLY);
		if (fd[i] < 0 || fcntl(fd[i], F_SETLEASE, F_WRLCK) < 0)
			return errno;
	}
	if (write(lease_ready[1], "l", 1) != 1)
		return errno;
	while (read(lease_release[0], &b, 1) < 0 && errno == EINTR)
		;
	for (int i = 1; i <= LEASE_OPENERS; i++)
		err = err ?: fs_rc(fcntl(fd[i], F_SETLEASE, F_UNLCK)) ?: fs_rc(close(fd[i]));
	return err;
}

/* Is pid asleep in system call nr (its request in diofs, or queued)? */
static bool asleep_in(pid_t pid, long want)
{
	char path[64], buf[256], state = 0;
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%ld", &nr) != 1)
			nr = -1;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f) && strrchr(buf, ')'))
			state = strrchr(buf, ')')[2];
		fclose(f);
	}
	return nr == want && (state == 'S' || state == 'D');
}

static pid_t lease_pids[1 + LEASE_OPENERS];

/* Let the lease go first (it is what a blocked worker waits for), then
 * end and reap every child still there. */
static void lease_cleanup(void)
{
	if (lease_release[1] >= 0)
		close(lease_release[1]);
	lease_release[1] = -1;
	for (size_t i = 0; i < sizeof(lease_pids) / sizeof(lease_pids[0]); i++) {
		if (lease_pids[i] <= 0)
			continue;
		kill(lease_pids[i], SIGKILL);
		waitpid(lease_pids[i], NULL, 0);
		lease_pids[i] = 0;
	}
}

/* More opens of leased files than diofs has workers, and more truncates
 * (a setattr without a file handle): while the lease holder keeps the
 * leases, root's lookup of another file is answered at once, a SIGKILLed
 * opener goes away, and once the leases are let go the others succeed.  (A backing open that waited for the lease break
 * would keep a worker for lease-break-time, every worker with enough
 * openers.) */
TEST(lease_blocks_no_worker, .needs = TEST_NEEDS_ROOT)
{
	struct diofs_run r;
	char *stat_argv[] = { "stat", NULL, NULL };
	char b;
	int st;

	M = fs_mount("allow_other,threads=2"); /* LEASE_THREADS */
	REQUIRE_OK(chmod(M->root, 0755));
	REQUIRE_OK(mkdir(MNT("shared"), 0777));
	REQUIRE_OK(chmod(MNT("shared"), 0777));
	/* Made on BACKING: diofs has never opened them.  One file for each
	 * opener: the kernel sends one truncate of a file at a time. */
	for (int i = 1; i <= LEASE_OPENERS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "shared/l%d", i);
		snprintf(lease_bak[i], PATH_MAX, "%s", BAK(name));
		snprintf(lease_mnt[i], PATH_MAX, "%s", MNT(name));
		REQUIRE_OK(fs_put(lease_bak[i], "data", 4, 0644));
		REQUIRE_OK(chown(lease_bak[i], UID, GID));
	}
	REQUIRE_OK(fs_put(BAK("shared/other"), "data", 4, 0644));

	REQUIRE_OK(pipe2(lease_ready, O_CLOEXEC));
	REQUIRE_OK(pipe2(lease_release, O_CLOEXEC));
	lease_pids[0] = fs_spawn_as_user(UID, GID, 022, do_hold_lease, NULL);
	close(lease_ready[1]);
	close(lease_release[0]);
	REQUIRE(lease_pids[0] > 0, "fork: %s", expect_errname(errno));
	if (read(lease_ready[0], &b, 1) != 1) {
		int err = fs_wait_child(lease_pids[0], 5000, NULL);

		lease_pids[0] = 0;
		close(lease_ready[0]);
		SKIP("no write lease on BACKING as uid %d: %s", UID,
			  err > 0 ? expect_errname(err) : "the holder died");
	}
	close(lease_ready[0]);

	for (int i = 1; i <= LEASE_OPENERS; i++) {
		lease_pids[i] = fs_spawn_as_user(UID, GID, 022, lease_kind[i % 2],
						 lease_mnt[i]);
		if (lease_pids[i] < 0) {
			lease_cleanup();
			REQUIRE(false, "fork: %s", expect_errname(errno));
		}
	}
	/* Every open sent: they are queued (FIFO) before root's lookup. */
	for (int i = 1; i <= LEASE_OPENERS; i++) {
		int waited = 0;

		while (!asleep_in(lease_pids[i], lease_syscall[i % 2]) &&
		       waited < 5000) {
			poll(NULL, 0, 10);
			waited += 10;
		}
		if (waited >= 5000) {
			lease_cleanup();
			REQUIRE(false, "opener %d never waited in its call", i);
		}
	}

	stat_argv[1] = (char *)MNT("shared/other");
	st = diofs_run(stat_argv, NULL, 5000, &r);
	CHECK(!r.timed_out && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "root's stat of another file while the opens wait: %s%s",
	      r.timed_out ? "no answer in 5 s" : "failed: ", r.err);

	kill(lease_pids[LEASE_OPENERS], SIGKILL);
	CHECK(fs_wait_child(lease_pids[LEASE_OPENERS], 5000, NULL) != -ETIMEDOUT,
	      "a SIGKILLed opener still there after 5 s");
	lease_pids[LEASE_OPENERS] = 0;

	CHECK_EQ(write(lease_release[1], "u", 1), 1);
	CHECK_RC(fs_wait_child(lease_pids[0], 5000, NULL), 0);
	lease_pids[0] = 0;
	for (int i = 1; i < LEASE_OPENERS; i++) {
		CHECK_RC(fs_wait_child(lease_pids[i], 5000, NULL), 0);
		lease_pids[i] = 0;
	}
	lease_cleanup();
}

TEST_MAIN("test_perms")
