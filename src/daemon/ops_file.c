/* Operations on open files.  read and write are the hot path: they use
 * only the fd in the struct diofs_file, take no lock, and allocate nothing
 * once the thread's buffer is big enough. */
#include <config.h>

#include "ops_internal.h"
#include "diofs.h"
#include "holds.h"
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* Flags the backing open must not get: O_DIRECT would make libfuse's
 * unaligned buffers fail with EINVAL; O_APPEND would move writes away from
 * the offset the kernel chose; the rest mean nothing on a reopen. */
#define OPEN_STRIP (O_DIRECT | O_APPEND | O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW)

static bool want_direct_io(int flags)
{
	switch (diofs_cfg.dio) {
	case DIO_ALL:
		return true;
	case DIO_ODIRECT:
		return flags & O_DIRECT;
	default:
		return false;
	}
}

static struct open_list open_files = OPEN_LIST_INIT(open_files);

/* The open file for c (fd taken), answered with the configured direct I/O
 * policy in c->fi.  NULL if out of memory (fd then still the caller's). */
static struct diofs_file *new_file(struct diofs_call *c, fuse_ino_t ino, int fd)
{
	struct diofs_file *f = malloc(sizeof(*f));
	bool dio;

	if (!f)
		return NULL;
	dio = inode_get(ino)->type == S_IFREG && want_direct_io(c->fi.flags);
	f->fd = fd;
	f->open_flags = c->fi.flags;
	f->fopen_direct = dio;
	f->path = inode_path(ino);
	f->opener = identity_keep(); /* opened as the caller (ops_run) */

	c->fi.fh = (uintptr_t)f;
	c->fi.direct_io = dio;
	c->fi.keep_cache = 0;
	c->fopen_direct = dio;

	open_list_add(&open_files, &f->link);
	return f;
}

static void free_file(struct diofs_file *f)
{
	open_list_del(&open_files, &f->link);
	close(f->fd);
	holds_locks_changed(); /* the close let go of its flock locks */
	free(f->path);
	free(f->opener);
	free(f);
}

void ops_files_close_all(void)
{
	open_list_close_all(&open_files, struct diofs_file, free_file);
}

/* Another process's lease on the backing file makes an open wait in the
 * kernel for the lease break, up to lease-break-time: fd as opened with
 * O_NONBLOCK, which starts the break and fails with EWOULDBLOCK instead.
 * 1 if the open is to be tried again: the call is parked with the lock
 * waiters (holds.h), so no worker waits and the caller can interrupt.  A
 * caller whose flags ask O_NONBLOCK gets EWOULDBLOCK, as natively. */
int ops_lease_wait(struct diofs_call *c, int fd, int flags, uint64_t generation)
{
	if (fd == -1 && errno == EWOULDBLOCK && !(flags & O_NONBLOCK)) {
		holds_park_lock(c, generation);
		return 1;
	}
	return 0;
}

/* Take back the O_NONBLOCK that ops_lease_wait needed, unless the
 * caller's flags ask for it: 0 or an errno (fd closed then). */
int ops_lease_clear(int fd, int flags)
{
	int err;

	if (flags & O_NONBLOCK)
		return 0;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0)
		return 0;
	err = errno;
	close(fd);
	return err;
}

/* The kernel refused the open or create reply: it never had f (nor, for
 * create, counted the entry's lookup). */
static void drop_file(void *f, uint64_t nodeid)
{
	(void)nodeid;
	free_file(f);
}

static void drop_created(void *f, uint64_t nodeid)
{
	free_file(f);
	inode_unref(nodeid, 1);
}

void op_open(struct diofs_call *c)
{
	uint64_t generation = holds_lock_generation();
	char proc[PROC_FD_LEN];
	struct diofs_file *f;
	int fd, err;

	/* An O_PATH fd cannot be opened again except through /proc. */
	proc_fd_path(proc, inode_fd(c->ino));
	fd = open(proc, (c->fi.flags & ~OPEN_STRIP) | O_NONBLOCK | O_CLOEXEC);
	if (ops_lease_wait(c, fd, c->fi.flags, generation))
		return;
	err = fd == -1 ? errno : ops_lease_clear(fd, c->fi.flags);
	if (err) {
		reply_err(c, err);
		return;
	}
	f = new_file(c, c->ino, fd);
	if (!f) {
		close(fd);
		reply_err(c, ENOMEM);
		return;
	}
	reply_open(c, &c->fi, drop_file, f);
}

void op_create(struct diofs_call *c)
{
	int flags = (c->fi.flags & ~(O_DIRECT | O_APPEND)) |
		    O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	uint64_t generation = holds_lock_generation();
	struct fuse_entry_param e;
	struct diofs_file *f;
	struct diofs_inode *in;
	char proc[PROC_FD_LEN];
	int fd, pfd, err;

	/* O_NOFOLLOW: a symlink put there behind the kernel's back must not
	 * lead the create out of BACKING. */
	identity_umask(c);
	fd = openat(inode_fd(c->ino), c->name, flags, c->mode & 07777);
	if (ops_lease_wait(c, fd, c->fi.flags, generation)) /* it existed, leased */
		return;
	err = fd == -1 ? errno : ops_lease_clear(fd, c->fi.flags);
	if (err) {
		reply_err(c, err);
		return;
	}

	/* The entry is the file just opened, not whatever the name means by
	 * now: take its O_PATH fd from the open fd. */
	memset(&e, 0, sizeof(e));
	proc_fd_path(proc, fd);
	pfd = open(proc, O_PATH | O_CLOEXEC);
	if (pfd == -1 || fstat(fd, &e.attr) == -1) {
		err = errno;
		goto fail_fd;
	}
	if (e.attr.st_dev != inode_root()->dev) {
		err = EXDEV;
		goto fail_fd;
	}
	in = inode_add(pfd, &e.attr);
	pfd = -1;
	if (!in) {
		err = errno;
		goto fail_fd;
	}
	e.ino = inode_nodeid(in);
	e.attr_timeout = ATTR_TIMEOUT;
	e.entry_timeout = ENTRY_TIMEOUT;
	f = new_file(c, e.ino, fd);
	if (!f) {
		inode_unref(e.ino, 1);
		err = ENOMEM;
		goto fail_fd;
	}
	reply_create(c, &e, &c->fi, drop_created, f);
	return;

fail_fd:
	if (pfd != -1)
		close(pfd);
	close(fd);
	reply_err(c, err);
}

/* Each thread's read buffer, grown on demand and freed at thread exit
 * through the key's destructor (libfuse ends idle worker threads). */
#define TBUF_MIN (128u * 1024)
#define TBUF_KEEP (8u * 1024 * 1024)

static __thread char *tbuf;
static __thread size_t tbuf_len;
static pthread_key_t tbuf_key;
static pthread_once_t tbuf_once = PTHREAD_ONCE_INIT;

static void tbuf_key_init(void)
{
	pthread_key_create(&tbuf_key, free);
}

static char *thread_buf(size_t len)
{
	size_t n = TBUF_MIN;
	char *p;

	if (tbuf && len <= tbuf_len)
		return tbuf;
	while (n < len && n <= SIZE_MAX / 2)
		n *= 2;
	if (n < len)
		n = len;
	pthread_once(&tbuf_once, tbuf_key_init);
	free(tbuf); /* old contents are not needed: no realloc copy */
	p = malloc(n);
	tbuf = p;
	tbuf_len = p ? n : 0;
	pthread_setspecific(tbuf_key, p);
	return p;
}

/* Don't keep what an "overlong=1g" rule made us allocate. */
static void thread_buf_trim(void)
{
	if (tbuf_len > TBUF_KEEP) {
		free(tbuf);
		tbuf = NULL;
		tbuf_len = 0;
		pthread_setspecific(tbuf_key, NULL);
	}
}

/* pread until len bytes or end of file. */
static ssize_t pread_full(int fd, char *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, off + (off_t)done);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (done)
				break;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

void op_read(struct diofs_call *c)
{
	struct diofs_file *f = diofs_file_of(&c->fi);
	size_t want = c->size, len = c->size;
	ssize_t n;
	char *buf;

	switch (c->shape) {
	case REPLY_SHORT:
		if (c->shape_len < want)
			want = len = c->shape_len;
		break;
	case REPLY_OVERLONG: {
		/* More than asked, whatever the file holds: the kernel must
		 * refuse it (at least one byte, or it would not be overlong). */
		size_t extra = c->shape_len ? c->shape_len : 1;

		if (extra > SIZE_MAX - want) {
			reply_err(c, ENOMEM);
			return;
		}
		len = want + extra;
		break;
	}
	default:
		break;
	}

	buf = thread_buf(len);
	if (!buf) {
		reply_err(c, ENOMEM);
		return;
	}
	n = pread_full(f->fd, buf, want, c->off);
	if (n == -1) {
		reply_err(c, errno);
		return;
	}
	if (c->shape == REPLY_OVERLONG) {
		memset(buf + n, 0, len - (size_t)n);
		n = (ssize_t)len;
	}
	reply_buf(c, buf, (size_t)n);
	thread_buf_trim();
}

void op_write(struct diofs_call *c)
{
	struct fuse_bufvec dst = FUSE_BUFVEC_INIT(0);
	size_t len = c->size;
	ssize_t res;

	if (c->shape == REPLY_SHORT && c->shape_len < len)
		len = c->shape_len;
	dst.buf[0].size = len;
	dst.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK | FUSE_BUF_FD_RETRY;
	dst.buf[0].fd = diofs_file_of(&c->fi)->fd;
	dst.buf[0].pos = c->off;
	res = len ? fuse_buf_copy(&dst, c->in_buf, 0) : 0;
	if (res < 0) {
		reply_err(c, (int)-res);
		return;
	}
	/* Overlong on a write: acknowledge more than was sent, which the
	 * kernel must refuse as it does an overlong read. */
	if (c->shape == REPLY_OVERLONG && (size_t)res == len)
		res += c->shape_len ? (ssize_t)c->shape_len : 1;
	reply_write(c, (size_t)res);
}

void op_flush(struct diofs_call *c)
{
	/* Closing a duplicate reports what close() would (NFS and the like
	 * report write errors there) without giving up the fd. */
	int res = close(dup(diofs_file_of(&c->fi)->fd));

	reply_err(c, res == -1 ? errno : 0);
}

void file_drop(struct diofs_call *c)
{
	struct diofs_file *f = diofs_file_of(&c->fi);

	if (!c->has_fi || !f)
		return;
	/* The trace names the file through the call: give the path to the
	 * call (call_free frees it) before f goes. */
	if (!c->path_owned) {
		c->path_owned = f->path;
		f->path = NULL;
		c->path = c->path_owned ? c->path_owned : "";
	}
	free_file(f); /* fh stays in the call for the trace, no longer valid */
}

void op_release(struct diofs_call *c)
{
	file_drop(c);
	reply_err(c, 0);
}

void op_fsync(struct diofs_call *c)
{
	int fd = diofs_file_of(&c->fi)->fd;
	int res = c->datasync ? fdatasync(fd) : fsync(fd);

	reply_err(c, res == -1 ? errno : 0);
}

void op_fallocate(struct diofs_call *c)
{
	int res = fallocate(diofs_file_of(&c->fi)->fd, (int)c->mode, c->off,
			    (off_t)c->size);

	reply_err(c, res == -1 ? errno : 0);
}

void op_lseek(struct diofs_call *c)
{
	/* The fd's position is ours to move: read and write use offsets. */
	off_t res = lseek(diofs_file_of(&c->fi)->fd, c->off, c->whence);

	if (res == -1)
		reply_err(c, errno);
	else
		reply_lseek(c, res);
}

void op_copy_file_range(struct diofs_call *c)
{
	off_t off_in = c->off, off_out = c->off_out;
	ssize_t res;

	res = copy_file_range(diofs_file_of(&c->fi)->fd, &off_in,
			      diofs_file_of(&c->fi_out)->fd, &off_out,
			      c->size, c->flags);
	if (res == -1)
		reply_err(c, errno);
	else
		reply_write(c, (size_t)res);
}

void op_flock(struct diofs_call *c)
{
	/* Every open has its own backing fd, so flock(2) between opens
	 * behaves as it does on the backing filesystem.  A worker never waits
	 * for a lock: a taken one parks the call (holds.h). */
	uint64_t generation = holds_lock_generation();
	int op = c->lock_op & ~LOCK_NB;
	int res = flock(diofs_file_of(&c->fi)->fd, op | LOCK_NB);

	if (res == -1 && errno == EWOULDBLOCK && !(c->lock_op & LOCK_NB)) {
		holds_park_lock(c, generation);
		return;
	}
	/* An unlock, or a conversion (which lets go of the lock held before
	 * it), may let a waiter in.  A failed attempt wakes nobody, or waiters
	 * would wake each other for ever; that a failed conversion also lets
	 * go of the old lock is left to the waiters' retry timer. */
	if (res == 0 && op != LOCK_EX)
		holds_locks_changed();
	reply_err(c, res == -1 ? errno : 0);
}
