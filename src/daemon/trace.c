/* The request trace.  Each thread appends its records to its own buffer
 * (its mutex is contended only while someone flushes it); a buffer goes to
 * the file in one write(2) on an O_APPEND fd when it passes FLUSH_AT, when
 * trace_flush() runs (the "trace flush" command, the flusher thread every
 * FLUSH_EVERY_MS, trace_close).  Lock order: reg_mu, then a buffer's mu,
 * then file_mu.  Records of different threads interleave by buffer, not by
 * time: readers sort by "start" or "end". */
#include <config.h>
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "diofs.h"
#include "file.h"
#include "proto/ctldir.h"
#include "proto/errnames.h"
#include "proto/trace.h"

#define FLUSH_AT (64 * 1024)
#define FLUSH_EVERY_MS 100

struct tbuf {
	pthread_mutex_t mu;
	char *data;
	size_t len, cap;
	bool dead; /* its thread exited: the next flush frees it */
	struct tbuf *next;
};

static atomic_bool tracing;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tbuf *tbufs;
static __thread struct tbuf *my_tbuf;
static pthread_key_t tbuf_key;
static pthread_once_t tbuf_key_once = PTHREAD_ONCE_INIT;

static pthread_mutex_t file_mu = PTHREAD_MUTEX_INITIALIZER;
static int trace_fd = -1;
static char *trace_path;
static int trace_err; /* why the last file failed; 0: it did not */
static char trace_why[PATH_MAX + 128]; /* and in words, for "stats" */
static char *header;  /* trace_set_header's line, newline included */

static pthread_mutex_t flusher_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flusher_cv;
static bool flusher_started, flusher_stop;
static pthread_t flusher;

/* Under file_mu: stop tracing for good on this file, say so once, when it
 * happens: on stderr and in syslog (a daemon in the background has no
 * stderr), and to "stats" until a new trace starts. */
static void trace_fail(const char *reason, int err)
{
	if (trace_fd < 0)
		return;
	snprintf(trace_why, sizeof(trace_why), "%s: %s", trace_path, reason);
	fprintf(stderr, "diofs: trace to %s failed: %s; tracing stopped\n",
		trace_path, reason);
	syslog(LOG_ERR, "trace to %s failed: %s; tracing stopped", trace_path, reason);
	atomic_store(&tracing, false);
	close(trace_fd);
	trace_fd = -1;
	trace_err = err;
}

/* Under tb->mu: the buffer to the file (dropped if there is none). */
static void tbuf_write(struct tbuf *tb)
{
	size_t off = 0;

	if (!tb->len)
		return;
	pthread_mutex_lock(&file_mu);
	while (trace_fd >= 0 && off < tb->len) {
		ssize_t n = write(trace_fd, tb->data + off, tb->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			trace_fail(strerror(err), err);
			break;
		}
		off += n;
	}
	pthread_mutex_unlock(&file_mu);
	tb->len = 0;
}

static void tbuf_orphan(void *arg)
{
	struct tbuf *tb = arg;

	pthread_mutex_lock(&tb->mu);
	tbuf_write(tb);
	tb->dead = true;
	pthread_mutex_unlock(&tb->mu);
}

static void tbuf_key_create(void)
{
	pthread_key_create(&tbuf_key, tbuf_orphan);
}

static struct tbuf *tbuf_get(void)
{
	struct tbuf *tb = my_tbuf;

	if (tb)
		return tb;
	pthread_once(&tbuf_key_once, tbuf_key_create);
	tb = calloc(1, sizeof(*tb));
	if (!tb)
		return NULL;
	pthread_mutex_init(&tb->mu, NULL);
	pthread_mutex_lock(&reg_mu);
	tb->next = tbufs;
	tbufs = tb;
	pthread_mutex_unlock(&reg_mu);
	pthread_setspecific(tbuf_key, tb);
	my_tbuf = tb;
	return tb;
}

static bool tbuf_reserve(struct tbuf *tb, size_t more)
{
	size_t cap = tb->cap ? tb->cap : FLUSH_AT + 4096;
	char *data;

	if (tb->len + more <= tb->cap)
		return true;
	while (cap < tb->len + more)
		cap *= 2;
	data = realloc(tb->data, cap);
	if (!data)
		return false;
	tb->data = data;
	tb->cap = cap;
	return true;
}

void trace_call(struct diofs_call *c, const char *path, uint64_t end_ns)
{
	struct trace_rec r;
	struct tbuf *tb;

	if (!atomic_load_explicit(&tracing, memory_order_relaxed))
		return;
	tb = tbuf_get();
	if (!tb)
		return;
	r = (struct trace_rec){
		.start = c->start_ns, .end = end_ns, .unique = c->unique,
		.op = diofs_op_name(c->op), .nodeid = (uint64_t)c->ino, .path = path ? path : "",
		.has_fh = c->has_fi, .fh = (uint64_t)c->fi.fh,
		.off = (int64_t)c->off, .size = c->size, .replied = c->replied,
		.err_no = c->result_errno,
		.err = c->result_errno ? errno_name(c->result_errno) : "",
		.pid = (int)c->pid, .uid = (unsigned int)c->uid, .rule = c->rule_id,
	};
	if (c->op == DIOFS_OP_OPEN || c->op == DIOFS_OP_CREATE ||
	    c->op == DIOFS_OP_READ || c->op == DIOFS_OP_WRITE) {
		r.has_dio = true;
		if (c->op == DIOFS_OP_OPEN || c->op == DIOFS_OP_CREATE) {
			r.o_direct = c->fi.flags & O_DIRECT;
			r.fopen_direct_io = c->fopen_direct;
		} else if (c->has_fi && c->fi.fh) {
			const struct diofs_file *f = diofs_file_of(&c->fi);

			r.o_direct = f->open_flags & O_DIRECT;
			r.fopen_direct_io = f->fopen_direct;
		}
	}
	if (c->proto_fault) {
		r.proto = diofs_proto_fault_name(c->proto_fault);
		r.proto_write = c->proto_write ? errno_name(-c->proto_write) : "ok";
	}

	pthread_mutex_lock(&tb->mu);
	if (!tbuf_reserve(tb, trace_rec_size(&r))) {
		pthread_mutex_unlock(&tb->mu);
		return;
	}
	tb->len = (size_t)(trace_rec_format(tb->data + tb->len, &r) - tb->data);
	if (tb->len >= FLUSH_AT)
		tbuf_write(tb);
	pthread_mutex_unlock(&tb->mu);
}

int trace_flush(void)
{
	struct tbuf **pp, *tb;
	int ret;

	pthread_mutex_lock(&reg_mu);
	for (pp = &tbufs; (tb = *pp);) {
		bool dead;

		pthread_mutex_lock(&tb->mu);
		tbuf_write(tb);
		dead = tb->dead;
		pthread_mutex_unlock(&tb->mu);
		if (dead) {
			*pp = tb->next;
			pthread_mutex_destroy(&tb->mu);
			free(tb->data);
			free(tb);
		} else {
			pp = &tb->next;
		}
	}
	pthread_mutex_unlock(&reg_mu);

	pthread_mutex_lock(&file_mu);
	if (trace_fd >= 0) {
		struct stat st;

		if (fstat(trace_fd, &st) < 0)
			trace_fail(strerror(errno), errno);
		else if (st.st_nlink == 0)
			trace_fail("the file was removed", ENOENT);
	}
	ret = trace_fd >= 0 ? 0 : trace_err ? -trace_err : -EBADF;
	pthread_mutex_unlock(&file_mu);
	return ret;
}

static void *flusher_main(void *arg)
{
	struct timespec ts;

	pthread_mutex_lock(&flusher_mu);
	while (!flusher_stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += FLUSH_EVERY_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&flusher_cv, &flusher_mu, &ts);
		if (flusher_stop)
			break;
		pthread_mutex_unlock(&flusher_mu);
		trace_flush();
		pthread_mutex_lock(&flusher_mu);
	}
	pthread_mutex_unlock(&flusher_mu);
	return NULL;
}

static int flusher_start(void)
{
	pthread_condattr_t ca;
	int err = 0;

	pthread_mutex_lock(&flusher_mu);
	if (!flusher_started) {
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&flusher_cv, &ca);
		pthread_condattr_destroy(&ca);
		flusher_stop = false;
		err = pthread_create(&flusher, NULL, flusher_main, NULL);
		flusher_started = !err;
	}
	pthread_mutex_unlock(&flusher_mu);
	return -err;
}

/* Is path's directory inside the mount?  Lexically first (no file system
 * access), then through realpath, which catches symbolic links. */
int trace_check_path(const char *path)
{
	const char *mnt = diofs_cfg.mountpoint;
	char *copy, *dir, *slash, *real;
	size_t ml;
	int ret = 0;

	if (!mnt || !*mnt)
		return 0;
	ml = strlen(mnt);
	while (ml > 1 && mnt[ml - 1] == '/')
		ml--;
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	slash = strrchr(copy, '/');
	if (slash == copy)
		dir = "/";
	else if (slash) {
		*slash = '\0';
		dir = copy;
	} else
		dir = ".";

	for (int pass = 0; pass < 2 && !ret; pass++) {
		const char *d = dir;

		real = NULL;
		if (pass == 1) {
			real = realpath(dir, NULL);
			if (!real) {
				ret = -errno;
				break;
			}
			d = real;
		}
		if (d[0] == '/' && strncmp(d, mnt, ml) == 0 &&
		    (d[ml] == '\0' || d[ml] == '/' || ml == 1))
			ret = -EINVAL;
		free(real);
	}
	if (ret == -EINVAL)
		fprintf(stderr, "diofs: trace file %s is inside the mount point %s\n",
			path, mnt);
	free(copy);
	return ret;
}

/* Under file_mu: the header to fd, before any record. */
static int write_header(int fd)
{
	size_t len = header ? strlen(header) : 0, off = 0;

	while (off < len) {
		ssize_t n = write(fd, header + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (size_t)n;
	}
	return 0;
}

void trace_set_header(const char *json)
{
	char *line;

	if (asprintf(&line, "%s\n", json) < 0)
		return;
	pthread_mutex_lock(&file_mu);
	free(header);
	header = line;
	if (trace_fd >= 0) {
		int err = write_header(trace_fd);

		if (err)
			trace_fail(strerror(-err), -err);
	}
	pthread_mutex_unlock(&file_mu);
}


/* Is the open file fd on this mount?  Writing the trace into the mount
 * would make requests that the trace records, while the trace's lock is
 * held: a deadlock.  Checked by device after opening, as a path check
 * cannot see bind mounts of the mount point. */
static bool trace_file_on_own_mount(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && conn_is_device(st.st_dev);
}

/* openat2(RESOLVE_NO_SYMLINKS) for kernels before 5.6 and tools that do
 * not know it (valgrind 3.19): the absolute directory dir opened one
 * component at a time, none of them a symbolic link (ELOOP). */
static int open_dir_no_symlinks(const char *dir)
{
	char copy[PATH_MAX], *comp, *save = NULL;
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), next;

	snprintf(copy, sizeof(copy), "%s", dir);
	for (comp = strtok_r(copy, "/", &save); comp && fd >= 0;
	     comp = strtok_r(NULL, "/", &save)) {
		struct stat st;

		/* O_PATH|O_NOFOLLOW opens a link itself (O_DIRECTORY does not
		 * refuse it): look at what was opened. */
		next = openat(fd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next >= 0 && fstat(next, &st) == 0 && !S_ISDIR(st.st_mode)) {
			close(next);
			next = -1;
			errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
		}
		close(fd);
		fd = next;
	}
	return fd;
}

/* The directory that path's file goes in, opened without following a
 * symbolic link anywhere on the way (O_NOFOLLOW guards only the last
 * component), and fit to hold a file only the daemon's user may replace:
 * owned by root or that user, not writable by others unless sticky
 * (ctl_check_entry, as for the control socket's directory).  Its fd (and
 * the file's name in *name), or -errno with why. */
static int open_parent(const char *path, const char **name, char *why, size_t whylen)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS,
	};
	const char *slash = strrchr(path, '/');
	size_t len = slash == path ? 1 : (size_t)(slash - path);
	char dir[PATH_MAX];
	struct stat st;
	int fd, ret;

	if (!slash[1]) {
		snprintf(why, whylen, "%s names no file", path);
		return -EINVAL;
	}
	if (len >= sizeof(dir)) {
		snprintf(why, whylen, "%s: %s", path, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	memcpy(dir, path, len);
	dir[len] = '\0';
	fd = (int)syscall(SYS_openat2, AT_FDCWD, dir, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = open_dir_no_symlinks(dir);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ELOOP)
			snprintf(why, whylen, "%s: a symbolic link on the way: refused", dir);
		else
			snprintf(why, whylen, "%s: %s", dir, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(why, whylen, "%s: %s", dir, strerror(-ret));
	} else {
		ret = ctl_check_entry(dir, &st, geteuid(), false, why, whylen);
	}
	if (ret) {
		close(fd);
		return ret;
	}
	*name = slash + 1;
	return fd;
}

/* Open an existing file name in dirfd to overwrite it: never through a
 * symbolic link, never anything but a regular file (O_NONBLOCK: a FIFO
 * would wait for a reader), emptied and made 0600 only once it is known
 * to be one. */
static int open_existing(int dirfd, const char *name, const char *path, char *why,
			 size_t whylen)
{
	struct stat st;
	int fd, err;

	/* Looked at first so that a FIFO or device is refused by name, not by
	 * what opening it does; checked again on the fd, which is what
	 * counts. */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode) &&
	    !S_ISLNK(st.st_mode)) {
		snprintf(why, whylen, "%s is not a regular file", path);
		return -EINVAL;
	}
	fd = openat(dirfd, name,
		    O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s is not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (ftruncate(fd, 0) < 0 || fchmod(fd, 0600) < 0 || fcntl(fd, F_SETFL, O_APPEND) < 0)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	return -err;
}

int trace_create(const char *path, bool overwrite, char *why, size_t whylen)
{
	const char *name;
	bool created;
	int dirfd, fd;

	*why = '\0';
	if (path[0] != '/') {
		snprintf(why, whylen, "%s is not an absolute path", path);
		return -EINVAL;
	}
	dirfd = open_parent(path, &name, why, whylen);
	if (dirfd < 0)
		return dirfd;
	/* A new file, 0600 (the trace names every user's files): never one
	 * that exists, nor through a link planted at path. */
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_NOCTTY |
		    O_CLOEXEC, 0600);
	created = fd >= 0;
	if (fd < 0 && errno == EEXIST && overwrite)
		fd = open_existing(dirfd, name, path, why, whylen);
	else if (fd < 0)
		fd = -errno;
	if (fd < 0 && !*why) {
		struct stat st;

		if (fd == -ELOOP || (fd == -EEXIST &&
				     fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				     S_ISLNK(st.st_mode)))
			snprintf(why, whylen, "%s is a symbolic link: refused", path);
		else if (fd == -EEXIST)
			snprintf(why, whylen, "%s exists (overwrite replaces it)", path);
		else
			snprintf(why, whylen, "%s: %s", path, strerror(-fd));
	}
	if (fd >= 0 && trace_file_on_own_mount(fd)) {
		snprintf(why, whylen,
			 "%s is inside the mount (on its device, as through a bind mount): refused",
			 path);
		close(fd);
		if (created)
			unlinkat(dirfd, name, 0);
		fd = -EINVAL;
	}
	close(dirfd);
	return fd;
}

int trace_start(int fd, const char *path)
{
	char *newpath;
	int oldfd, ret;

	newpath = strdup(path);
	if (!newpath)
		return -ENOMEM;
	ret = flusher_start();
	if (ret) {
		free(newpath);
		return ret;
	}

	/* What is buffered so far belongs to the old file. */
	trace_flush();
	pthread_mutex_lock(&file_mu);
	ret = write_header(fd);
	if (ret) {
		pthread_mutex_unlock(&file_mu);
		free(newpath);
		return ret; /* fd still the caller's */
	}
	oldfd = trace_fd;
	trace_fd = fd;
	free(trace_path);
	trace_path = newpath;
	trace_err = 0;
	trace_why[0] = '\0';
	atomic_store(&tracing, true);
	pthread_mutex_unlock(&file_mu);
	if (oldfd >= 0)
		close(oldfd);
	return 0;
}

int trace_open(const char *path, bool overwrite, char *why, size_t whylen)
{
	int fd, ret;

	*why = '\0';
	if (path[0] != '/') {
		snprintf(why, whylen, "%s is not an absolute path", path);
		return -EINVAL;
	}
	ret = trace_check_path(path);
	if (ret == -EINVAL)
		snprintf(why, whylen, "%s is inside the mount point", path);
	else if (ret)
		snprintf(why, whylen, "%s: %s", path, strerror(-ret));
	if (ret)
		return ret;
	fd = trace_create(path, overwrite, why, whylen);
	if (fd < 0)
		return fd;
	ret = trace_start(fd, path);
	if (ret)
		close(fd);
	return ret;
}

void trace_set(bool on)
{
	pthread_mutex_lock(&file_mu);
	atomic_store(&tracing, on && trace_fd >= 0);
	pthread_mutex_unlock(&file_mu);
}

bool trace_is_on(void)
{
	return atomic_load(&tracing);
}

void trace_close(void)
{
	pthread_mutex_lock(&flusher_mu);
	bool started = flusher_started;

	flusher_stop = true;
	if (started)
		pthread_cond_signal(&flusher_cv);
	pthread_mutex_unlock(&flusher_mu);
	if (started) {
		pthread_join(flusher, NULL);
		flusher_started = false;
	}

	atomic_store(&tracing, false);
	trace_flush();
	pthread_mutex_lock(&file_mu);
	if (trace_fd >= 0)
		close(trace_fd);
	trace_fd = -1;
	free(header);
	header = NULL;
	pthread_mutex_unlock(&file_mu);
}

bool trace_failure(char *why, size_t len)
{
	bool failed;

	pthread_mutex_lock(&file_mu);
	failed = trace_why[0] != '\0';
	snprintf(why, len, "%s", trace_why);
	pthread_mutex_unlock(&file_mu);
	return failed;
}
