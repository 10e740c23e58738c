/* Operations on names and inodes, the dispatcher ops_run, and the
 * session hooks (init, destroy, forget). */
#include <config.h>

#include "ops_internal.h"
#include "diofs.h"
#include "holds.h"
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int stat_fd(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
}

int fill_entry(struct diofs_inode *in, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	if (stat_fd(in->fd, &e->attr) == -1)
		return errno;
	e->ino = inode_nodeid(in);
	e->attr_timeout = ATTR_TIMEOUT;
	e->entry_timeout = ENTRY_TIMEOUT;
	return 0;
}

/* name in dir, as an O_PATH fd, never crossing a mount point: openat2's
 * RESOLVE_NO_XDEV also catches a bind mount of the backing filesystem
 * itself, which has the same st_dev.  Kernels before 5.6 lack openat2;
 * there the st_dev check in do_lookup is all we have. */
static int open_child(int dirfd, const char *name)
{
	struct open_how how = {
		.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_NO_XDEV,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	if (fd == -1 && errno == ENOSYS)
		fd = openat(dirfd, name, how.flags);
	return fd;
}

int do_lookup(fuse_ino_t parent, const char *name, struct fuse_entry_param *e)
{
	struct diofs_inode *dir = inode_get(parent), *in;
	struct stat st;
	int fd, err;

	memset(e, 0, sizeof(*e));
	if (strchr(name, '/'))
		return EINVAL;
	/* ".." of the root is the root, as on "/": never step above BACKING.
	 * (The kernel sends no ".." lookups without export support.) */
	if (dir == inode_root() && strcmp(name, "..") == 0)
		name = ".";
	fd = open_child(dir->fd, name);
	if (fd == -1)
		return errno;
	if (stat_fd(fd, &st) == -1) {
		err = errno;
		close(fd);
		return err;
	}
	/* A mount inside BACKING: stay out of it. */
	if (st.st_dev != inode_root()->dev) {
		close(fd);
		return EXDEV;
	}
	in = inode_add(fd, &st);
	if (!in)
		return errno;
	e->ino = inode_nodeid(in);
	e->attr = st;
	e->attr_timeout = ATTR_TIMEOUT;
	e->entry_timeout = ENTRY_TIMEOUT;
	return 0;
}

/* e for c, or err if not 0.  reply_entry gives the lookup counted for e
 * back if the kernel does not take the reply. */
static void reply_lookup(struct diofs_call *c, int err, const struct fuse_entry_param *e)
{
	if (err)
		reply_err(c, err);
	else
		reply_entry(c, e);
}

void op_lookup(struct diofs_call *c)
{
	struct fuse_entry_param e;

	reply_lookup(c, do_lookup(c->ino, c->name, &e), &e);
}

void op_getattr(struct diofs_call *c)
{
	struct stat st;

	if (stat_fd(inode_fd(c->ino), &st) == -1)
		reply_err(c, errno);
	else
		reply_attr(c, &st, ATTR_TIMEOUT);
}

static int set_times(struct diofs_inode *in, int valid, const struct stat *a)
{
	struct timespec tv[2] = {
		{ .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT },
	};
	char proc[PROC_FD_LEN];

	if (valid & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_ATIME)
		tv[0] = a->st_atim;
	if (valid & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_MTIME)
		tv[1] = a->st_mtim;

	/* utimensat takes AT_EMPTY_PATH on an O_PATH fd since Linux 5.8,
	 * symlinks included; older kernels get the /proc path. */
	if (utimensat(in->fd, "", tv, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != EINVAL || in->type == S_IFLNK)
		return -1;
	proc_fd_path(proc, in->fd);
	return utimensat(AT_FDCWD, proc, tv, 0);
}

/* Is mode want the mode now, less set-user-ID or set-group-ID? */
static bool only_drops_setid(mode_t now, mode_t want)
{
	mode_t setid = S_ISUID | S_ISGID;

	return ((now ^ want) & 07777 & ~setid) == 0 && (want & ~now & setid) == 0;
}

void op_setattr(struct diofs_call *c)
{
	struct diofs_inode *in = inode_get(c->ino);
	uint64_t generation = holds_lock_generation();
	int valid = c->to_set, tfd = -1, err;
	bool by_fh = c->has_fi && c->fi.fh;
	char proc[PROC_FD_LEN];
	struct stat st;

	proc_fd_path(proc, in->fd);
	/* truncate(2) of a file another process holds a lease on waits in the
	 * kernel for the lease break: open it without blocking instead
	 * (ops_lease_wait), before any other change, since a parked call runs
	 * again from the start.  Only a regular file can have a lease; opening
	 * anything else could mean opening a device. */
	if (valid & FUSE_SET_ATTR_SIZE && !by_fh && in->type == S_IFREG) {
		tfd = open(proc, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (ops_lease_wait(c, tfd, 0, generation))
			return;
		if (tfd == -1)
			goto fail;
	}
	if (valid & FUSE_SET_ATTR_MODE &&
	    valid & (FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID) &&
	    stat_fd(in->fd, &st) == 0 && only_drops_setid(st.st_mode, c->attr.st_mode))
		valid &= ~FUSE_SET_ATTR_MODE;
	if (valid & FUSE_SET_ATTR_MODE) {
		/* Linux has no modes on symlinks. */
		if (in->type == S_IFLNK) {
			reply_err(c, EOPNOTSUPP);
			return;
		}
		if (chmod(proc, c->attr.st_mode & 07777) == -1)
			goto fail;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = valid & FUSE_SET_ATTR_UID ? c->attr.st_uid : (uid_t)-1;
		gid_t gid = valid & FUSE_SET_ATTR_GID ? c->attr.st_gid : (gid_t)-1;

		if (fchownat(in->fd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1)
			goto fail;
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		int res;

		if (by_fh)
			res = ftruncate(diofs_file_of(&c->fi)->fd, c->attr.st_size);
		else if (tfd != -1)
			res = ftruncate(tfd, c->attr.st_size);
		else
			res = truncate(proc, c->attr.st_size);
		if (res == -1)
			goto fail;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME) &&
	    set_times(in, valid, &c->attr) == -1)
		goto fail;

	if (stat_fd(in->fd, &st) == -1)
		goto fail;
	if (tfd != -1)
		close(tfd);
	reply_attr(c, &st, ATTR_TIMEOUT);
	return;
fail:
	err = errno;
	if (tfd != -1)
		close(tfd);
	reply_err(c, err);
}

void op_readlink(struct diofs_call *c)
{
	char buf[PATH_MAX + 1];
	ssize_t n = readlinkat(inode_fd(c->ino), "", buf, sizeof(buf));

	if (n == -1) {
		reply_err(c, errno);
		return;
	}
	if ((size_t)n == sizeof(buf)) {
		reply_err(c, ENAMETOOLONG);
		return;
	}
	buf[n] = '\0';
	reply_readlink(c, buf);
}

/* mknod, mkdir, symlink (as the caller, like every op), then look the
 * name up. */
static void make_node(struct diofs_call *c)
{
	int dfd = inode_fd(c->ino);
	struct fuse_entry_param e;
	int res, err;

	identity_umask(c);
	switch (c->op) {
	case DIOFS_OP_MKNOD: /* fifos and sockets too: Linux mknod does both */
		res = mknodat(dfd, c->name, c->mode, c->rdev);
		break;
	case DIOFS_OP_MKDIR:
		res = mkdirat(dfd, c->name, c->mode);
		break;
	default:
		res = symlinkat(c->newname, dfd, c->name);
		break;
	}
	err = res == -1 ? errno : 0;
	if (!err)
		err = do_lookup(c->ino, c->name, &e);
	reply_lookup(c, err, &e);
}

void op_mknod(struct diofs_call *c)
{
	make_node(c);
}

void op_mkdir(struct diofs_call *c)
{
	make_node(c);
}

void op_symlink(struct diofs_call *c)
{
	make_node(c);
}

void op_unlink(struct diofs_call *c)
{
	int res = unlinkat(inode_fd(c->ino), c->name, 0);

	reply_err(c, res == -1 ? errno : 0);
}

void op_rmdir(struct diofs_call *c)
{
	int res = unlinkat(inode_fd(c->ino), c->name, AT_REMOVEDIR);

	reply_err(c, res == -1 ? errno : 0);
}

void op_rename(struct diofs_call *c)
{
	int res = renameat2(inode_fd(c->ino), c->name,
			    inode_fd(c->newparent), c->newname, c->flags);

	reply_err(c, res == -1 ? errno : 0);
}

void op_link(struct diofs_call *c)
{
	struct diofs_inode *in = inode_get(c->ino);
	int ndfd = inode_fd(c->newparent);
	struct fuse_entry_param e;
	int res, err;

	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH (ENOENT without it); the
	 * /proc path does not, but would follow a symlink.  So a symlink is
	 * linked with that one capability back: it spares no check of the
	 * new name (its directory needs write and search, which it cannot
	 * grant) and protected_hardlinks still wants the caller to own it. */
	if (in->type == S_IFLNK) {
		err = identity_cap_raise(CAP_DAC_READ_SEARCH);
		if (err) {
			reply_err(c, err);
			return;
		}
	}
	res = linkat(in->fd, "", ndfd, c->newname, AT_EMPTY_PATH);
	if (in->type == S_IFLNK)
		identity_cap_drop();
	if (res == -1 && errno == ENOENT && in->type != S_IFLNK) {
		char proc[PROC_FD_LEN];

		proc_fd_path(proc, in->fd);
		res = linkat(AT_FDCWD, proc, ndfd, c->newname, AT_SYMLINK_FOLLOW);
	}
	if (res == -1) {
		reply_err(c, errno);
		return;
	}
	err = fill_entry(in, &e);
	if (!err)
		inode_ref(in);
	reply_lookup(c, err, &e);
}

void op_statfs(struct diofs_call *c)
{
	struct statvfs st;

	if (fstatvfs(inode_fd(c->ino), &st) == -1)
		reply_err(c, errno);
	else
		reply_statfs(c, &st);
}

/* Sent for access(2) and chdir(2): AT_EACCESS checks with the fs ids,
 * groups and capabilities ops_run switched to. */
void op_access(struct diofs_call *c)
{
	char proc[PROC_FD_LEN];
	int res;

	proc_fd_path(proc, inode_fd(c->ino));
	res = faccessat(AT_FDCWD, proc, (int)c->mode, AT_EACCESS);
	reply_err(c, res == -1 ? errno : 0);
}

/* Does c carry the file or directory handle its operation uses?  The
 * kernel sends handle 0 when it believes opening is not needed (no_open,
 * no_opendir); diofs never answers open so, but never dereferences it. */
static bool handle_present(const struct diofs_call *c)
{
	switch (diofs_op_handle(c->op)) {
	case HANDLE_FILES:
		return c->fi.fh && c->fi_out.fh;
	case HANDLE_FILE:
	case HANDLE_DIR:
		return c->has_fi && c->fi.fh;
	case HANDLE_NONE:
		break;
	}
	return true;
}

void ops_drop_handle(struct diofs_call *c)
{
	if (c->op == DIOFS_OP_RELEASE)
		file_drop(c);
	else if (c->op == DIOFS_OP_RELEASEDIR)
		dir_drop(c);
}

typedef void (*op_fn)(struct diofs_call *c);

static const op_fn op_table[DIOFS_OP_COUNT] = {
#define DIOFS_OP_RUNNER(e, s, opc, h) [DIOFS_OP_##e] = op_##s,
	DIOFS_OPS(DIOFS_OP_RUNNER)
#undef DIOFS_OP_RUNNER
};

/* Operations whose backing calls check no permission at all: they use an
 * fd diofs holds (an open file or directory, whose access was checked as
 * the caller when it was opened, or an O_PATH inode) and neither allocate
 * space nor change attributes.  They keep the daemon's identity: read is
 * the hot path, and a switch for a non-root caller costs about 18 system
 * calls, the caller's groups read from /proc among them. */
#define CHECKS_NOTHING (DIOFS_OP_BIT(GETATTR) | DIOFS_OP_BIT(READLINK) |		\
			DIOFS_OP_BIT(STATFS) | DIOFS_OP_BIT(READ) | DIOFS_OP_BIT(FLUSH) |	\
			DIOFS_OP_BIT(RELEASE) | DIOFS_OP_BIT(FSYNC) | DIOFS_OP_BIT(LSEEK) |	\
			DIOFS_OP_BIT(FLOCK) | DIOFS_OP_BIT(READDIR) |			\
			DIOFS_OP_BIT(RELEASEDIR) | DIOFS_OP_BIT(FSYNCDIR))

/* A write through an open file takes the groups read when it was opened,
 * if the writer has the opener's uid and gid: reading them from /proc is
 * the costliest part of a switch.  They differ only if the process changed
 * its groups alone since, or the file passed to another process of the
 * same uid and gid; a write consults them only for ext4's reserved-blocks
 * group and whether to clear set-group-ID. */
static const struct caller_ids *known_ids(const struct diofs_call *c)
{
	if ((c->op != DIOFS_OP_WRITE && c->op != DIOFS_OP_FALLOCATE) ||
	    !c->has_fi || !c->fi.fh)
		return NULL;
	return diofs_file_of(&c->fi)->opener;
}

/* The one place where the caller's identity is taken on: every other
 * operation (lookups, opens of O_PATH inodes through /proc/self/fd,
 * writes, setattr, xattrs, directory changes) runs its backing calls as
 * the caller, so the backing filesystem applies its own rules to them.
 * The reply restores the daemon's identity before it is sent (reply.c):
 * tracing and freeing run as the daemon. */
void ops_run(struct diofs_call *c)
{
	int err;

	if (!handle_present(c)) {
		bool release = c->op == DIOFS_OP_RELEASE || c->op == DIOFS_OP_RELEASEDIR;

		reply_err(c, release ? 0 : EBADF);
		return;
	}
	err = diofs_op_in(c->op, CHECKS_NOTHING) ? 0 : identity_become(c, known_ids(c));
	if (err) {
		reply_err(c, err);
		return;
	}
	if ((unsigned int)c->op < DIOFS_OP_COUNT && op_table[c->op])
		op_table[c->op](c);
	else
		reply_err(c, ENOSYS);
	identity_restore(); /* an op that did not reply (none should) */
}

int ops_init(void)
{
	return inode_table_init(diofs_backing_fd); /* main did, normally */
}

void ops_destroy(void)
{
	ops_files_close_all();
	ops_dirs_close_all();
	inode_table_destroy();
}

void ops_forget(fuse_ino_t ino, uint64_t nlookup)
{
	inode_unref(ino, nlookup);
}
