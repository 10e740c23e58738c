/* Directory handles: readdir and readdirplus over a DIR stream. */
#include <config.h>

#include "ops_internal.h"
#include "fuse_proto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

/* Per opendir, in fuse_file_info.fh.  The kernel does not run two readdirs
 * of one open directory at once (f_pos lock), so no lock here. */
struct diofs_dir {
	struct open_link link; /* every open directory, freed at exit */
	DIR *dp;
	struct dirent *entry; /* read but not yet sent (it did not fit) */
	off_t offset;         /* where dp stands, in the kernel's terms */
};

static struct open_list open_dirs = OPEN_LIST_INIT(open_dirs);

static void free_dir(struct diofs_dir *d)
{
	open_list_del(&open_dirs, &d->link);
	closedir(d->dp);
	free(d);
}

/* The kernel refused the opendir reply: it never had d. */
static void drop_dir(void *d, uint64_t nodeid)
{
	(void)nodeid;
	free_dir(d);
}

void ops_dirs_close_all(void)
{
	open_list_close_all(&open_dirs, struct diofs_dir, free_dir);
}

static struct diofs_dir *dir_of(const struct fuse_file_info *fi)
{
	return (struct diofs_dir *)(uintptr_t)fi->fh;
}

void op_opendir(struct diofs_call *c)
{
	struct diofs_dir *d = calloc(1, sizeof(*d));
	char proc[PROC_FD_LEN];
	int fd, err;

	if (!d) {
		reply_err(c, ENOMEM);
		return;
	}
	/* Through /proc, not openat(fd, "."): that would also ask the
	 * caller for search permission, which reading a directory does not. */
	proc_fd_path(proc, inode_fd(c->ino));
	fd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		goto fail;
	d->dp = fdopendir(fd);
	if (!d->dp) {
		err = errno;
		close(fd);
		errno = err;
		goto fail;
	}
	c->fi.fh = (uintptr_t)d;
	open_list_add(&open_dirs, &d->link);
	reply_open(c, &c->fi, drop_dir, d);
	return;
fail:
	err = errno;
	free(d);
	reply_err(c, err);
}

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static void do_readdir(struct diofs_call *c, bool plus)
{
	struct diofs_dir *d = dir_of(&c->fi);
	size_t rem = c->size;
	char *buf, *p;
	int err = 0;

	buf = malloc(c->size ? c->size : 1);
	if (!buf) {
		reply_err(c, ENOMEM);
		return;
	}
	p = buf;
	if (c->off != d->offset) {
		seekdir(d->dp, c->off);
		d->entry = NULL;
		d->offset = c->off;
	}
	for (;;) {
		struct fuse_entry_param e;
		fuse_ino_t counted = 0;
		const char *name;
		size_t len;
		off_t next;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		name = d->entry->d_name;
		next = d->entry->d_off;

		/* The lookup's attributes only when it works: "." and "..",
		 * an entry on another mount (EXDEV) or one gone since go out
		 * without, and the kernel looks them up itself if it must. */
		if (!plus || is_dot_or_dotdot(name) || do_lookup(c->ino, name, &e)) {
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = d->entry->d_ino;
			e.attr.st_mode = (mode_t)d->entry->d_type << 12;
		} else {
			counted = e.ino;
		}
		if (plus)
			len = proto_add_direntplus(p, rem, name, &e, next);
		else
			len = proto_add_dirent(p, rem, name, &e.attr, next);
		if (len > rem) {
			/* Not sent, so not looked up as far as the kernel knows. */
			if (counted)
				inode_unref(counted, 1);
			break;
		}
		p += len;
		rem -= len;
		d->entry = NULL;
		d->offset = next;
	}

	/* An error after some entries would lose their lookup counts if
	 * reported: send what we have, the next readdir meets it again. */
	if (err && rem == c->size)
		reply_err(c, err);
	else
		reply_buf(c, buf, c->size - rem);
	free(buf);
}

void op_readdir(struct diofs_call *c)
{
	do_readdir(c, false);
}

void op_readdirplus(struct diofs_call *c)
{
	do_readdir(c, true);
}

void dir_drop(struct diofs_call *c)
{
	if (c->has_fi && c->fi.fh)
		free_dir(dir_of(&c->fi)); /* fh stays in the call for the trace */
}

void op_releasedir(struct diofs_call *c)
{
	dir_drop(c);
	reply_err(c, 0);
}

void op_fsyncdir(struct diofs_call *c)
{
	int fd = dirfd(dir_of(&c->fi)->dp);
	int res = c->datasync ? fdatasync(fd) : fsync(fd);

	reply_err(c, res == -1 ? errno : 0);
}
