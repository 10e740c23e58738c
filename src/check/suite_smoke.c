/* smoke: the mount works, direct I/O reaches the backing file, and the
 * control channel holds and releases a request: what every other suite
 * takes for granted. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/check.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define FUSE_SUPER_MAGIC 0x65735546

/* name in the backing directory, opened; SKIPs with --mount. */
static int open_backing(const char *name, int flags)
{
	const char *path = check_backing_path(name);

	if (!path)
		SKIP("needs the backing directory (not with --mount)");
	return REQUIRE_OK(open(path, flags | O_CLOEXEC));
}

static void stat_root(void)
{
	struct stat st;
	struct statfs sf;

	REQUIRE_OK(stat(check_mnt(), &st));
	CHECK_EQ(S_ISDIR(st.st_mode), 1);
	REQUIRE_OK(statfs(check_mnt(), &sf));
	CHECK_EQ(sf.f_type, FUSE_SUPER_MAGIC);
}

static void odirect_roundtrip(void)
{
	const size_t len = 64 * 1024;
	char *out = check_buf_alloc(len, 0), *in = check_buf_alloc(len, 0);
	int fd = REQUIRE_OK(open(check_path("f"), O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0644));

	pattern_fill(out, len, 0, 1);
	CHECK_EQ(pwrite(fd, out, len, 0), len);
	CHECK_EQ(pread(fd, in, len, 0), len);
	CHECK_PATTERN(in, len, 0, 1);
	close(fd);

	if (check_backing_path("f")) {
		fd = REQUIRE_OK(open(check_backing_path("f"), O_RDONLY | O_CLOEXEC));
		memset(in, 0, len);
		CHECK_EQ(pread(fd, in, len, 0), len);
		CHECK_PATTERN(in, len, 0, 1);
		close(fd);
	}
	check_buf_free(out);
	check_buf_free(in);
}

static void odirect_unaligned(void)
{
	const size_t len = 3001;
	const off_t off = 1013;
	char *out = check_buf_alloc(len, 7), *in = check_buf_alloc(len, 13);
	int fd = REQUIRE_OK(open(check_path("f"), O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0644));

	pattern_fill(out, len, off, 2);
	CHECK_EQ(pwrite(fd, out, len, off), len);
	CHECK_EQ(pread(fd, in, len, off), len);
	CHECK_PATTERN(in, len, off, 2);
	close(fd);
	check_buf_free(out);
	check_buf_free(in);
}

static void direct_io_no_page_cache(void)
{
	char buf[4096];
	int fd, backing;

	check_file_create("f", 2 * sizeof(buf), 3);
	fd = REQUIRE_OK(open(check_path("f"), O_RDWR | O_CLOEXEC));
	backing = open_backing("f", O_RDWR);

	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), sizeof(buf));
	CHECK_PATTERN(buf, sizeof(buf), 0, 3);
	/* change the file underneath: a cached page would still show seed 3 */
	pattern_fill(buf, sizeof(buf), 0, 4);
	REQUIRE_EQ(pwrite(backing, buf, sizeof(buf), 0), sizeof(buf));
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), sizeof(buf));
	CHECK_PATTERN(buf, sizeof(buf), 0, 4);

	/* and a write is in the backing file before close */
	pattern_fill(buf, sizeof(buf), sizeof(buf), 5);
	CHECK_EQ(pwrite(fd, buf, sizeof(buf), sizeof(buf)), sizeof(buf));
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(pread(backing, buf, sizeof(buf), sizeof(buf)), sizeof(buf));
	CHECK_PATTERN(buf, sizeof(buf), sizeof(buf), 5);
	close(backing);
	close(fd);
}

static void hold_pread(void)
{
	const size_t len = 16 * 1024;
	char *buf = check_buf_alloc(len, 0);
	struct diofs_held held;
	struct held_io *h;
	int fd;

	check_file_create("f", len, 6);
	fd = REQUIRE_OK(open(check_path("f"), O_RDONLY | O_DIRECT | O_CLOEXEC));
	REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold op=read path=%s", check_fuse_path("f")));
	h = held_pread(fd, buf, len, 0);
	if (held_io_wait(h, &held)) {
		if (strcmp(held.op, "read"))
			CHECK_FAILF("held op %s, want read", held.op);
		CHECK_EQ(held.off, 0);
		CHECK_EQ(held.size, len);
		CHECK_EQ(held_io_returned(h), false);
		held_io_release(h, NULL);
	}
	CHECK_EQ(held_io_join(h, NULL), len);
	CHECK_PATTERN(buf, len, 0, 6);
	close(fd);
	check_buf_free(buf);
}

static void hold_release_errno(void)
{
	const size_t len = 4096;
	char *buf = check_buf_alloc(len, 0);
	struct held_io *h;
	size_t touched = 0;
	int fd;

	check_file_create("f", len, 7);
	fd = REQUIRE_OK(open(check_path("f"), O_RDONLY | O_DIRECT | O_CLOEXEC));
	REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold op=read path=%s", check_fuse_path("f")));
	h = held_pread(fd, buf, len, 0);
	if (held_io_wait(h, NULL))
		held_io_release(h, "errno=EIO");
	CHECK_ERR(held_io_join(h, NULL), EIO);
	for (size_t i = 0; i < len; i++)
		touched += (unsigned char)buf[i] != 0xa5;
	CHECK_EQ(touched, 0);
	close(fd);
	check_buf_free(buf);
}

/* What INIT negotiated on this kernel, noted for the matrix; diofs takes
 * DIRECT_IO_ALLOW_MMAP and MAX_PAGES whenever offered, and keeps room for
 * hundreds of background requests (held async I/O). */
static void init_negotiated(void)
{
	char **lines = NULL;
	const char *kernel, *flags, *offered;
	struct stat st;

	/* INIT is answered after mount(2) returned; a request waits for it */
	REQUIRE_OK(stat(check_mnt(), &st));
	REQUIRE_CTL(diofsctl_cmd(check_ctl(), &lines, "info"));
	kernel = check_init_value(lines, "kernel");
	flags = check_init_value(lines, "flags");
	offered = check_init_value(lines, "offered");
	if (!kernel || !flags || !offered) {
		diofsctl_free_lines(lines);
		SKIP("this diofs does not report INIT (diofsctl info has no init lines)");
	}
	NOTE("kernel %s; took %s", kernel, flags);
	if (check_backing_path("f")) { /* our own mount: default options */
		CHECK_EQ(check_flag_in(flags, "direct_io_allow_mmap"),
			 check_flag_in(offered, "direct_io_allow_mmap"));
		CHECK_EQ(check_flag_in(flags, "max_pages"), check_flag_in(offered, "max_pages"));
		CHECK_EQ(strstr(kernel, "max_background=1024") != NULL, true);
	}
	diofsctl_free_lines(lines);
}

/* mmap MAP_SHARED read-write of fd's first len bytes into *p: 0, or -1
 * with errno (*p MAP_FAILED). */
static long map_shared(int fd, size_t len, char **p)
{
	*p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return *p == MAP_FAILED ? -1 : 0;
}

/* MAP_SHARED of an FOPEN_DIRECT_IO file: where INIT took
 * DIRECT_IO_ALLOW_MMAP (6.6+), a shared mapping written and msync'ed is
 * what an O_DIRECT read returns; elsewhere mmap fails with ENODEV. */
static void mmap_shared_dio(void)
{
	const size_t len = 16 * 1024;
	bool allowed = check_init_flag("direct_io_allow_mmap");
	char *in = check_buf_alloc(len, 0), *p = MAP_FAILED;
	int fd, dfd;

	check_file_create("f", len, 8);
	fd = REQUIRE_OK(open(check_path("f"), O_RDWR | O_CLOEXEC));
	if (!allowed) {
		CHECK_ERR(map_shared(fd, len, &p), ENODEV);
		NOTE("no DIRECT_IO_ALLOW_MMAP: MAP_SHARED fails with ENODEV");
	} else {
		REQUIRE_OK(map_shared(fd, len, &p));
		CHECK_PATTERN(p, len, 0, 8);
		pattern_fill(p, len, 0, 9);
		REQUIRE_OK(msync(p, len, MS_SYNC));
		dfd = REQUIRE_OK(open(check_path("f"), O_RDONLY | O_DIRECT | O_CLOEXEC));
		CHECK_EQ(pread(dfd, in, len, 0), len);
		CHECK_PATTERN(in, len, 0, 9);
		close(dfd);
		NOTE("DIRECT_IO_ALLOW_MMAP: MAP_SHARED works, msync reaches O_DIRECT reads");
	}
	if (p != MAP_FAILED)
		munmap(p, len);
	close(fd);
	check_buf_free(in);
}

static const struct check_case cases[] = {
	CHECK_CASE(stat_root,
		   "the mount root is a directory on a FUSE superblock (statfs f_type)"),
	CHECK_CASE(odirect_roundtrip,
		   "O_DIRECT pwrite then pread through FUSE return the bytes written; "
		   "the backing file holds them"),
	CHECK_CASE(odirect_unaligned,
		   "FUSE imposes no alignment on O_DIRECT: buffer, offset and size at odd "
		   "bytes move whole"),
	CHECK_CASE(direct_io_no_page_cache,
		   "FOPEN_DIRECT_IO without O_DIRECT: reads see backing changes, writes "
		   "land before close (no page cache)", .mount_opts = "dio=all"),
	CHECK_CASE(hold_pread,
		   "a pread diofs holds stays in flight until released, then returns the "
		   "reply's bytes"),
	CHECK_CASE(hold_release_errno,
		   "a held pread released with errno=EIO fails with EIO and leaves the "
		   "buffer untouched"),
	CHECK_CASE(init_negotiated,
		   "INIT takes DIRECT_IO_ALLOW_MMAP and MAX_PAGES when the kernel offers "
		   "them, max_background 1024 (noted: what this kernel negotiated)"),
	CHECK_CASE(mmap_shared_dio,
		   "MAP_SHARED of an FOPEN_DIRECT_IO file: works and meets O_DIRECT reads "
		   "with DIRECT_IO_ALLOW_MMAP, ENODEV without", .mount_opts = "dio=all"),
	{ NULL },
};

const struct check_suite check_suite_smoke = {
	.name = "smoke",
	.cases = cases,
};
