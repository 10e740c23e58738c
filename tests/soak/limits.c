/* limits: diofs at the edges of what a filesystem is asked.
 *
 *  1. Thousands of files and directories open at once through the mount
 *     (RLIMIT_NOFILE raised for the client and, inherited, the daemon),
 *     each file written and read back with O_DIRECT while all are open, a
 *     file created in each open directory, and the whole directory listed.
 *  2. Deep trees: hundreds of levels of short names (also reached by a
 *     path string), and levels of 255-byte names deeper than PATH_MAX
 *     (reached through directory fds only), with trace and a rule on so
 *     that the daemon builds each call's full path; a leaf written and read
 *     at the bottom, checked in the backing directory, the tree renamed and
 *     removed.
 *  3. Names: 255 bytes work (create, rename, link, list), 256 fail with
 *     ENAMETOOLONG; names with every odd byte (newline, tab, quote,
 *     backslash, control bytes, invalid UTF-8) list back byte for byte.
 *  4. A backing filesystem that fills up (a small tmpfs under the backing
 *     directory, the daemon restarted on it): ENOSPC reaches the client
 *     through psync, libaio and io_uring writes, fallocate, create and
 *     mkdir; the acknowledged data stays intact; after space is freed,
 *     writes and creates work again.
 *
 *   limits [--short] [--seed N] */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "soak.h"
#include "lib/diofsctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/aio_abi.h>

#define BLK 4096

static struct soak_opts opts;
static uint64_t f_bytes_verified;

/* ---- 1. many open files and directories ---------------------------------- */

static void many_open(struct diofs_mount *m, unsigned int nfiles, unsigned int ndirs)
{
	int *ffd = calloc(nfiles, sizeof(int)), *dfd = calloc(ndirs, sizeof(int));
	unsigned char *buf = soak_map(BLK), *got = soak_map(BLK);
	char name[64];
	int top;
	unsigned int opened_files = 0, opened_dirs = 0, bad = 0, created = 0;
	int64_t t0 = diofs_now_ms();

	if (!ffd || !dfd || !buf || !got) {
		CHECK_FAILF("out of memory");
		return;
	}
	if (mkdir(diofs_mnt_path(m, "many"), 0755) < 0 ||
	    (top = open(diofs_mnt_path(m, "many"), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		CHECK_FAILF("many: mkdir: %s", strerror(errno));
		return;
	}
	for (unsigned int i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "f%05u", i);
		ffd[i] = openat(top, name, O_RDWR | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC, 0644);
		if (ffd[i] < 0) {
			CHECK_FAILF("many: opening file %u of %u: %s", i, nfiles, strerror(errno));
			break;
		}
		opened_files++;
		pattern_fill(buf, BLK, 0, 1000000 + i);
		if (pwrite(ffd[i], buf, BLK, 0) != BLK) {
			CHECK_FAILF("many: writing file %u: %s", i, strerror(errno));
			break;
		}
	}
	for (unsigned int i = 0; i < ndirs; i++) {
		snprintf(name, sizeof(name), "d%05u", i);
		if (mkdirat(top, name, 0755) < 0 ||
		    (dfd[i] = openat(top, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			CHECK_FAILF("many: directory %u of %u: %s", i, ndirs, strerror(errno));
			break;
		}
		opened_dirs++;
	}
	soak_note("many: %u files and %u directories open at once through the mount",
		  opened_files, opened_dirs);
	/* all open: every file still reads what was written to it */
	for (unsigned int i = 0; i < opened_files; i++) {
		pattern_fill(buf, BLK, 0, 1000000 + i);
		if (pread(ffd[i], got, BLK, 0) != BLK || memcmp(got, buf, BLK))
			bad++;
		else
			f_bytes_verified += BLK;
	}
	CHECK(bad == 0, "many: %u of %u open files read back wrong", bad, opened_files);
	/* and every open directory takes a new entry */
	int first_err = 0;
	for (unsigned int i = 0; i < opened_dirs; i++) {
		int fd = openat(dfd[i], "x", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		struct stat st;
		if (fd < 0 && !first_err)
			first_err = errno;
		if (fd >= 0 && fstat(dfd[i], &st) == 0 && S_ISDIR(st.st_mode))
			created++;
		if (fd >= 0)
			close(fd);
	}
	CHECK(created == opened_dirs, "many: %u of %u open directories took a new file "
		   "(first error: %s)", created, opened_dirs, strerror(first_err));
	/* the listing has every entry once */
	DIR *d = opendir(diofs_mnt_path(m, "many"));
	unsigned int entries = 0;
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			entries += e->d_name[0] != '.';
		closedir(d);
	}
	CHECK(entries == opened_files + opened_dirs, "many: the listing has %u entries, "
		   "want %u", entries, opened_files + opened_dirs);
	for (unsigned int i = 0; i < opened_files; i++)
		close(ffd[i]);
	for (unsigned int i = 0; i < opened_dirs; i++)
		close(dfd[i]);
	unsigned int removed = 0;
	for (unsigned int i = 0; i < opened_files; i++) {
		snprintf(name, sizeof(name), "f%05u", i);
		removed += unlinkat(top, name, 0) == 0;
	}
	for (unsigned int i = 0; i < opened_dirs; i++) {
		char x[80];
		snprintf(x, sizeof(x), "d%05u/x", i);
		unlinkat(top, x, 0);
		snprintf(name, sizeof(name), "d%05u", i);
		removed += unlinkat(top, name, AT_REMOVEDIR) == 0;
	}
	CHECK(removed == opened_files + opened_dirs, "many: %u of %u entries removed",
		   removed, opened_files + opened_dirs);
	close(top);
	soak_figure_set("files_open_at_once", opened_files);
	soak_figure_set("dirs_open_at_once", opened_dirs);
	soak_figure_set("listing_entries", entries);
	soak_figure_set("many_ms", (uint64_t)(diofs_now_ms() - t0));
	free(ffd);
	free(dfd);
	munmap(buf, BLK);
	munmap(got, BLK);
}

/* ---- 2. deep trees ---------------------------------------------------------- */

/* depth levels named name under dir top (a name in the mount's root);
 * a leaf at the bottom; checked underneath; removed.  Returns the depth
 * reached. */
static unsigned int deep_tree(struct diofs_mount *m, const char *top, const char *name,
			      unsigned int depth, bool by_path)
{
	int *fds = calloc(depth + 1, sizeof(int));
	unsigned char *buf = soak_map(2 * BLK), *got = soak_map(2 * BLK);
	unsigned int level = 0;
	size_t path_len = strlen(m->mnt) + 1 + strlen(top);

	if (!fds || !buf || !got) {
		CHECK_FAILF("out of memory");
		return 0;
	}
	if (mkdir(diofs_mnt_path(m, top), 0755) < 0 ||
	    (fds[0] = open(diofs_mnt_path(m, top), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		CHECK_FAILF("deep %s: %s", top, strerror(errno));
		return 0;
	}
	for (level = 0; level < depth; level++) {
		if (mkdirat(fds[level], name, 0755) < 0 ||
		    (fds[level + 1] = openat(fds[level], name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			CHECK_FAILF("deep %s: level %u: %s", top, level + 1, strerror(errno));
			break;
		}
		path_len += 1 + strlen(name);
	}
	int bottom = fds[level];
	int fd = openat(bottom, "leaf", O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
	pattern_fill(buf, 2 * BLK, 0, 4242 + depth);
	CHECK(fd >= 0 && pwrite(fd, buf, 2 * BLK, 0) == 2 * BLK &&
		   pread(fd, got, 2 * BLK, 0) == 2 * BLK && !memcmp(buf, got, 2 * BLK),
		   "deep %s: the leaf at depth %u: %s", top, level, strerror(errno));
	if (fd >= 0)
		close(fd);
	f_bytes_verified += 2 * BLK;

	/* underneath, one name at a time from the backing root */
	int b = open(diofs_backing_path(m, top), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (unsigned int i = 0; b >= 0 && i < level; i++) {
		int n = openat(b, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(b);
		b = n;
	}
	int bl = b >= 0 ? openat(b, "leaf", O_RDONLY | O_CLOEXEC) : -1;
	memset(got, 0, 2 * BLK);
	CHECK(bl >= 0 && pread(bl, got, 2 * BLK, 0) == 2 * BLK && !memcmp(buf, got, 2 * BLK),
		   "deep %s: the leaf in the backing directory: %s", top, strerror(errno));
	f_bytes_verified += 2 * BLK;
	if (bl >= 0)
		close(bl);
	if (b >= 0)
		close(b);

	/* by a path string, where one fits */
	if (by_path && path_len + 6 < PATH_MAX) {
		char *p = malloc(PATH_MAX), *w;
		struct stat st;
		w = p + sprintf(p, "%s/%s", m->mnt, top);
		for (unsigned int i = 0; i < level; i++)
			w += sprintf(w, "/%s", name);
		strcpy(w, "/leaf");
		CHECK(stat(p, &st) == 0 && st.st_size == 2 * BLK,
			   "deep %s: stat by a %zu-byte path: %s", top, strlen(p), strerror(errno));
		free(p);
	}
	/* the whole tree renamed at the top, the leaf still there */
	char moved[300];
	snprintf(moved, sizeof(moved), "%s.moved", top);
	CHECK(rename(diofs_mnt_path(m, top), diofs_mnt_path(m, moved)) == 0,
		   "deep %s: rename: %s", top, strerror(errno));
	struct stat st;
	CHECK(fstatat(bottom, "leaf", &st, 0) == 0 && st.st_size == 2 * BLK,
		   "deep %s: the leaf after the rename: %s", top, strerror(errno));

	/* removed bottom-up */
	unsigned int removed = unlinkat(bottom, "leaf", 0) == 0;
	for (unsigned int i = level; i > 0; i--) {
		close(fds[i]);
		removed += unlinkat(fds[i - 1], name, AT_REMOVEDIR) == 0;
	}
	close(fds[0]);
	removed += rmdir(diofs_mnt_path(m, moved)) == 0;
	CHECK(removed == level + 2, "deep %s: %u of %u removed", top, removed, level + 2);
	soak_note("deep %s: %u levels of %zu-byte names, a path of %zu bytes", top, level,
		  strlen(name), path_len + 5);
	free(fds);
	munmap(buf, 2 * BLK);
	munmap(got, 2 * BLK);
	return level;
}

/* ---- 3. names ------------------------------------------------------------------ */

static void names(struct diofs_mount *m)
{
	char n255[256], n255b[256], n255c[256], n256[257];
	int dir, fd;

	memset(n255, 'a', 255);
	n255[255] = '\0';
	memset(n255b, 'b', 255);
	n255b[255] = '\0';
	memset(n255c, 'c', 255);
	n255c[255] = '\0';
	memset(n256, 'n', 256);
	n256[256] = '\0';
	if (mkdir(diofs_mnt_path(m, "names"), 0755) < 0 ||
	    (dir = open(diofs_mnt_path(m, "names"), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		CHECK_FAILF("names: mkdir: %s", strerror(errno));
		return;
	}
	fd = openat(dir, n255, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1, "a 255-byte name: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	CHECK(renameat(dir, n255, dir, n255b) == 0, "rename to a 255-byte name: %s",
		   strerror(errno));
	CHECK(linkat(dir, n255b, dir, n255c, 0) == 0, "link to a 255-byte name: %s",
		   strerror(errno));
	CHECK(mkdirat(dir, n255, 0755) == 0, "mkdir of a 255-byte name: %s", strerror(errno));
	errno = 0;
	CHECK(openat(dir, n256, O_RDWR | O_CREAT | O_CLOEXEC, 0644) < 0 && errno == ENAMETOOLONG,
		   "create of a 256-byte name: %s, want ENAMETOOLONG", strerror(errno));
	errno = 0;
	CHECK(mkdirat(dir, n256, 0755) < 0 && errno == ENAMETOOLONG,
		   "mkdir of a 256-byte name: %s, want ENAMETOOLONG", strerror(errno));
	errno = 0;
	CHECK(renameat(dir, n255b, dir, n256) < 0 && errno == ENAMETOOLONG,
		   "rename to a 256-byte name: %s, want ENAMETOOLONG", strerror(errno));
	errno = 0;
	CHECK(symlinkat(n256, dir, "sl") == 0, "a symlink to a 256-byte target: %s",
		   strerror(errno));

	/* odd bytes, listed back byte for byte */
	static const char *odd[] = {
		"new\nline", "tab\there", "sp ace", "quo\"te", "back\\slash", "\x01\x02\x1f",
		"del\x7f", "latin1-\xe9\xe8", "bad-utf8-\xff\xfe\xc0\x80", "utf8-\xc3\xa9\xe2\x82\xac",
		".hidden", "-rf", "..dots", "...", "*?[glob]", "%s%n", "{\"json\":1}",
	};
	const size_t nodd = sizeof(odd) / sizeof(*odd);
	unsigned int made = 0, listed = 0;
	for (size_t i = 0; i < nodd; i++) {
		fd = openat(dir, odd[i], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			made++;
			close(fd);
		} else {
			CHECK_FAILF("names: creating an odd name #%zu: %s", i, strerror(errno));
		}
	}
	DIR *d = fdopendir(dup(dir));
	if (d) {
		struct dirent *e;
		rewinddir(d);
		while ((e = readdir(d)))
			for (size_t i = 0; i < nodd; i++)
				if (!strcmp(e->d_name, odd[i]))
					listed++;
		closedir(d);
	}
	CHECK(listed == nodd, "names: %u of %zu odd names listed back exactly", listed, nodd);
	for (size_t i = 0; i < nodd; i++)
		unlinkat(dir, odd[i], 0);
	unlinkat(dir, n255b, 0);
	unlinkat(dir, n255c, 0);
	unlinkat(dir, n255, AT_REMOVEDIR);
	unlinkat(dir, "sl", 0);
	close(dir);
	CHECK(rmdir(diofs_mnt_path(m, "names")) == 0, "names: rmdir: %s", strerror(errno));
	soak_figure_set("odd_names_listed", listed);
	(void)made;
}

/* ---- 4. a backing filesystem that fills up -------------------------------------- */

static long io_setup_(unsigned nr, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, nr, ctx);
}

/* One write through libaio (raw syscalls: no libaio link needed here). */
static long aio_write1(int fd, const void *buf, size_t len, off_t off)
{
	aio_context_t ctx = 0;
	struct iocb cb = { 0 }, *cbs[1] = { &cb };
	struct io_event ev;
	struct timespec ts = { .tv_sec = 30 };
	long r;

	if (io_setup_(1, &ctx) < 0)
		return -errno;
	cb.aio_fildes = (uint32_t)fd;
	cb.aio_lio_opcode = IOCB_CMD_PWRITE;
	cb.aio_buf = (uint64_t)(uintptr_t)buf;
	cb.aio_nbytes = len;
	cb.aio_offset = off;
	r = syscall(SYS_io_submit, ctx, 1, cbs);
	if (r == 1)
		r = syscall(SYS_io_getevents, ctx, 1, 1, &ev, &ts) == 1 ? (long)ev.res : -ETIMEDOUT;
	else
		r = r < 0 ? -errno : -EAGAIN;
	syscall(SYS_io_destroy, ctx);
	return r;
}

struct filled {
	char name[32];
	uint64_t size;   /* acknowledged bytes */
	uint64_t seed;
};

static void fill_up(struct diofs_mount *m, unsigned int mib)
{
	char err[512], opts_tmpfs[64];
	const size_t chunk = 256 * 1024;
	unsigned char *buf = soak_map(chunk), *got = soak_map(chunk);
	struct filled files[64];
	unsigned int nfiles = 0, enospc_seen = 0, short_writes = 0;
	uint64_t acked = 0;

	/* the daemon restarted on a small tmpfs in place of the backing dir */
	if (soak_daemon_stop(m, SIGTERM, err, sizeof(err)) < 0) {
		CHECK_FAILF("enospc: stopping the daemon: %s", err);
		return;
	}
	snprintf(opts_tmpfs, sizeof(opts_tmpfs), "size=%um,nr_inodes=%u,mode=0755", mib, 400);
	if (mount("diofs-soak", m->backing, "tmpfs", MS_NOSUID | MS_NODEV, opts_tmpfs) < 0) {
		soak_note("enospc: cannot mount a tmpfs (%s): part skipped", strerror(errno));
		return;
	}
	test_track_mount(m->backing, 0, NULL);
	if (diofs_mount_restart(m, NULL, err, sizeof(err)) < 0) {
		CHECK_FAILF("enospc: the daemon on a tmpfs: %s", err);
		goto out;
	}

	/* fill it with O_DIRECT writes, file after file */
	int err_first = 0;
	while (nfiles < 64 && !err_first) {
		struct filled *f = &files[nfiles];
		snprintf(f->name, sizeof(f->name), "big%u", nfiles);
		f->seed = 7000 + nfiles;
		f->size = 0;
		int fd = open(diofs_mnt_path(m, f->name), O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
		if (fd < 0) {
			err_first = errno;
			break;
		}
		nfiles++;
		for (unsigned int k = 0; k < 16; k++) {
			pattern_fill(buf, chunk, f->size, f->seed);
			ssize_t n = pwrite(fd, buf, chunk, (off_t)f->size);
			if (n < 0) {
				err_first = errno;
				break;
			}
			if ((size_t)n < chunk)
				short_writes++;
			f->size += (uint64_t)n;
			acked += (uint64_t)n;
		}
		close(fd);
	}
	CHECK(err_first == ENOSPC, "enospc: filling a %u MiB backing filesystem ended "
		   "with %s, want ENOSPC", mib, err_first ? strerror(err_first) : "no error");
	enospc_seen += err_first == ENOSPC;

	/* full: every route says ENOSPC */
	int fd = open(diofs_mnt_path(m, files[0].name), O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd >= 0) {
		off_t end = (off_t)files[0].size;
		ssize_t n = pwrite(fd, buf, chunk, end + (off_t)chunk);
		enospc_seen += CHECK(n < 0 && errno == ENOSPC, "enospc: psync write when full: "
					  "%zd (%s)", n, strerror(errno));
		long r = aio_write1(fd, buf, chunk, end + (off_t)chunk);
		enospc_seen += CHECK(r == -ENOSPC, "enospc: libaio write when full: %ld", r);
		errno = 0;
		int fr = fallocate(fd, 0, end, 16 * (off_t)chunk);
		enospc_seen += CHECK(fr < 0 && errno == ENOSPC, "enospc: fallocate when full: "
					  "%s", strerror(errno));
		close(fd);
	}
	/* out of inodes too */
	unsigned int made = 0;
	int ierr = 0;
	for (unsigned int i = 0; i < 1000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "i%u", i);
		int f2 = open(diofs_mnt_path(m, name), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (f2 < 0) {
			ierr = errno;
			break;
		}
		close(f2);
		made++;
	}
	enospc_seen += CHECK(ierr == ENOSPC, "enospc: creating files until no inode is left "
				  "ended with %s after %u, want ENOSPC", strerror(ierr), made);
	errno = 0;
	enospc_seen += CHECK(mkdir(diofs_mnt_path(m, "nodir"), 0755) < 0 && errno == ENOSPC,
				  "enospc: mkdir when full: %s", strerror(errno));
	struct statvfs sv;
	CHECK(statvfs(m->mnt, &sv) == 0 && sv.f_bavail * sv.f_frsize < chunk,
		   "enospc: statfs through the mount says %llu bytes free",
		   (unsigned long long)(sv.f_bavail * sv.f_frsize));

	/* what was acknowledged is all there */
	uint64_t verified = 0, bad = 0;
	for (unsigned int i = 0; i < nfiles; i++) {
		int rfd = open(diofs_mnt_path(m, files[i].name), O_RDONLY | O_DIRECT | O_CLOEXEC);
		for (uint64_t off = 0; rfd >= 0 && off < files[i].size; off += chunk) {
			size_t len = files[i].size - off < chunk ? files[i].size - off : chunk;
			pattern_fill(buf, len, off, files[i].seed);
			if (pread(rfd, got, len, (off_t)off) != (ssize_t)len)
				bad += len;
			else
				bad += soak_diff(buf, got, len);
			verified += len;
		}
		if (rfd >= 0)
			close(rfd);
	}
	f_bytes_verified += verified;
	CHECK(bad == 0 && verified == acked, "enospc: %" PRIu64 " of %" PRIu64
		   " acknowledged bytes wrong after ENOSPC (%" PRIu64 " read)", bad, acked, verified);

	/* space freed: diofs serves again */
	unlink(diofs_mnt_path(m, files[0].name));
	for (unsigned int i = 0; i < made && i < 10; i++) {
		char name[32];
		snprintf(name, sizeof(name), "i%u", i);
		unlink(diofs_mnt_path(m, name));
	}
	fd = open(diofs_mnt_path(m, "after"), O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
	pattern_fill(buf, chunk, 0, 99);
	CHECK(fd >= 0 && pwrite(fd, buf, chunk, 0) == (ssize_t)chunk && fsync(fd) == 0 &&
		   pread(fd, got, chunk, 0) == (ssize_t)chunk && !memcmp(buf, got, chunk),
		   "enospc: after freeing space, a new file takes a write: %s", strerror(errno));
	f_bytes_verified += chunk;
	if (fd >= 0)
		close(fd);
	CHECK(mkdir(diofs_mnt_path(m, "dir-after"), 0755) == 0,
		   "enospc: after freeing space, mkdir: %s", strerror(errno));

	soak_figure_set("enospc_backing_mib", mib);
	soak_figure_set("enospc_files_filled", nfiles);
	soak_figure_set("enospc_acknowledged_bytes", acked);
	soak_figure_set("enospc_short_writes", short_writes);
	soak_figure_set("enospc_errors_reaching_client", enospc_seen);
	soak_figure_set("enospc_files_until_no_inode", made);

	/* the daemon off the tmpfs before it goes */
	CHECK(diofs_mount_alive(m), "enospc: the daemon died");
	if (soak_daemon_stop(m, SIGTERM, err, sizeof(err)) < 0)
		CHECK_FAILF("enospc: stopping the daemon: %s", err);
out:
	if (umount2(m->backing, 0) < 0 && umount2(m->backing, MNT_DETACH) < 0)
		CHECK_FAILF("enospc: umount of the tmpfs: %s", strerror(errno));
	test_untrack_mount(m->backing);
	munmap(buf, chunk);
	munmap(got, chunk);
}

/* how many of each, set from the form (--short or not) */
static unsigned int n_files, n_dirs, tree_depth, tree_depth_long;

static void limits(void)
{
	struct diofs_mount m;
	struct rlimit rl;
	char err[512];

	/* enough fds for the client and (inherited) the daemon, which keeps
	 * an O_PATH fd per inode and an fd per open file and directory (and
	 * the file made in each directory) */
	rlim_t want = 2 * (rlim_t)n_files + 3 * (rlim_t)n_dirs + tree_depth + 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
		struct rlimit up = { .rlim_cur = want, .rlim_max = rl.rlim_max > want ? rl.rlim_max : want };
		if (setrlimit(RLIMIT_NOFILE, &up) < 0) {
			/* no CAP_SYS_RESOURCE: as many as the hard limit allows */
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			getrlimit(RLIMIT_NOFILE, &rl);
			rlim_t total = rl.rlim_cur > tree_depth + 2048 ? (rl.rlim_cur - tree_depth - 1024) * 4 / 9 : 512;
			soak_note("cannot raise RLIMIT_NOFILE to %llu (%s): the hard limit %llu allows "
				  "%llu files and directories", (unsigned long long)want, strerror(errno),
				  (unsigned long long)rl.rlim_max, (unsigned long long)total);
			if (total < n_files + n_dirs) {
				n_files = (unsigned int)(total * 3 / 4);
				n_dirs = (unsigned int)(total / 4);
			}
		}
	}
	soak_figure_set("rlimit_nofile", (uint64_t)(getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 0));
	soak_mount(&m, "trace");
	struct diofsctl *ctl = diofsctl_connect(m.ctl, err, sizeof(err));
	/* a rule on every call makes the daemon build each call's path */
	if (!ctl || diofsctl_rule_add(ctl, "fail=EPERM op=getxattr path=/no/such/*") < 0)
		CHECK_FAILF("control: %s", ctl ? diofsctl_error(ctl) : err);

	many_open(&m, n_files, n_dirs);
	char lname[256];
	memset(lname, 'L', 255);
	lname[255] = '\0';
	unsigned int d1 = deep_tree(&m, "deep", "d", tree_depth, true);
	unsigned int d2 = deep_tree(&m, "deeplong", lname, tree_depth_long, false);
	soak_figure_set("deep_levels", d1);
	soak_figure_set("deep_levels_255_byte_names", d2);
	soak_figure_set("deep_path_bytes_255_byte_names", (uint64_t)d2 * 256 + strlen(m.mnt) + 14);
	names(&m);
	if (ctl) {
		CHECK(diofsctl_trace(ctl, "flush") == 0, "trace flush: %s", diofsctl_error(ctl));
		diofsctl_close(ctl);
	}
	fill_up(&m, opts.is_short ? 16 : 64);
	CHECK(diofs_mount_alive(&m) || m.pid == 0, "the daemon died");
	diofs_mount_stop(&m);
	soak_figure_set("bytes_verified", f_bytes_verified);
}

int main(int argc, char **argv)
{
	soak_init("limits", argc, argv, &opts, 0, 0);
	soak_require_mount();
	n_files = opts.is_short ? 3000 : 10000;
	n_dirs = opts.is_short ? 1000 : 4000;
	tree_depth = opts.is_short ? 300 : 1000;
	tree_depth_long = opts.is_short ? 24 : 60;
	return soak_run(limits, opts.is_short ? 300 : 900);
}
