/* completion, shared mappings of FOPEN_DIRECT_IO files: where INIT took
 * FUSE_DIRECT_IO_ALLOW_MMAP (kernel 6.6+) the page cache of a mapping and
 * direct I/O meet.  fuse_direct_io() (fs/fuse/file.c) writes back the dirty
 * pages of the range before a direct read or write and drops them from the
 * page cache before a direct write (and, in later kernels, a read), so a
 * store through the mapping is what a direct read returns, and a direct
 * write is what the mapping shows next. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/suite_completion.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAP_LEN ((size_t)64 * 1024)
#define SEED_OLD 31
#define SEED_NEW 32

/* The file name, mapped shared read-write, the fd in *fd; SKIPs unless
 * INIT took DIRECT_IO_ALLOW_MMAP. */
static char *map_file(const char *name, int *fd)
{
	char *p;

	if (!check_init_flag("direct_io_allow_mmap"))
		SKIP("INIT did not take DIRECT_IO_ALLOW_MMAP (a kernel before 6.6, or -o init_off): MAP_SHARED of "
		     "an FOPEN_DIRECT_IO file fails with ENODEV");
	backing_create(name, MAP_LEN, SEED_OLD);
	*fd = REQUIRE_OK(open(check_path(name), O_RDWR | O_CLOEXEC));
	p = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (p == MAP_FAILED)
		CHECK_FATALF("mmap(MAP_SHARED) of %s: %s", name, strerror(errno));
	return p;
}

/* Stores through the mapping, no msync: a direct read of the range (its
 * own O_DIRECT open, and the mapping's FOPEN_DIRECT_IO fd) returns them,
 * and they reached the server. */
void map_write_dio_read(void)
{
	char *in = check_buf_alloc(MAP_LEN, 0);
	int fd, dfd;
	char *p = map_file("f", &fd);

	CHECK_PATTERN(p, MAP_LEN, 0, SEED_OLD);
	data_fill(p, MAP_LEN, 0, SEED_NEW);
	dfd = REQUIRE_OK(open(check_path("f"), O_RDONLY | O_DIRECT | O_CLOEXEC));
	EXPECT_RES(pread(dfd, in, MAP_LEN, 0), (ssize_t)MAP_LEN, "O_DIRECT pread after stores "
		   "through a shared mapping");
	data_check(in, MAP_LEN, 0, SEED_NEW, "O_DIRECT pread after stores through the mapping, "
		   "no msync");
	memset(in, 0, MAP_LEN);
	EXPECT_RES(pread(fd, in, MAP_LEN, 0), (ssize_t)MAP_LEN, "pread on the mapping's fd");
	data_check(in, MAP_LEN, 0, SEED_NEW, "pread on the mapping's FOPEN_DIRECT_IO fd");
	backing_check("f", MAP_LEN, 0, SEED_NEW, "the backing file after the direct reads");
	close(dfd);
	munmap(p, MAP_LEN);
	close(fd);
	check_buf_free(in);
}

/* The mapping read (pages cached), then a direct write: the mapping shows
 * the written bytes, not the cached ones. */
void dio_write_map_read(void)
{
	char *out = check_buf_alloc(MAP_LEN, 0);
	int fd, dfd;
	char *p = map_file("f", &fd);

	CHECK_PATTERN(p, MAP_LEN, 0, SEED_OLD); /* faults the pages in */
	data_fill(out, MAP_LEN, 0, SEED_NEW);
	dfd = REQUIRE_OK(open(check_path("f"), O_WRONLY | O_DIRECT | O_CLOEXEC));
	EXPECT_RES(pwrite(dfd, out, MAP_LEN, 0), (ssize_t)MAP_LEN, "O_DIRECT pwrite under a "
		   "shared mapping");
	backing_check("f", MAP_LEN, 0, SEED_NEW, "the backing file after the direct write");
	data_check(p, MAP_LEN, 0, SEED_NEW, "the shared mapping after an O_DIRECT pwrite");
	close(dfd);
	munmap(p, MAP_LEN);
	close(fd);
	check_buf_free(out);
}
