/* The io_uring client for the short-retry report (see REPORT).
 *
 *   repro_client read  FILE [buffered]   one 64 KiB IORING_OP_READ at offset 0
 *   repro_client write FILE [buffered]   one 64 KiB IORING_OP_WRITE at offset 0
 *   repro_client fpos  FILE [buffered]   one 4 KiB IORING_OP_READ at offset -1
 *                                        (the file position), then lseek
 * FILE is repro_server's /f (10000 bytes of pattern(i)); opened with
 * O_DIRECT unless "buffered".  Prints what it got; exit 1 if the result is
 * wrong (the bug), 0 if right, 2 if it could not run.
 *
 * Build: cc repro_client.c $(pkg-config --cflags --libs liburing) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILE_SIZE 10000         /* as repro_server */
#define LEN 65536

static unsigned char mix(size_t i, unsigned int seed)
{
	unsigned int x = ((unsigned int)i + seed) * 0x9e3779b1u;

	x ^= x >> 15;
	return (unsigned char)(x * 0x85ebca6bu >> 24);
}

static unsigned char pattern(size_t i)     /* the file's byte i, as repro_server */
{
	return mix(i, 1);
}

static unsigned char wpattern(size_t i)    /* what the write writes */
{
	return mix(i, 2);
}

/* One SQE, its CQE's result. */
static int uring_rw(int fd, bool write, void *buf, unsigned int len, long long off)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int r = io_uring_queue_init(4, &ring, 0);

	if (r < 0) {
		fprintf(stderr, "client: io_uring_queue_init: %s\n", strerror(-r));
		exit(2);
	}
	sqe = io_uring_get_sqe(&ring);
	if (write)
		io_uring_prep_write(sqe, fd, buf, len, (__u64)off);
	else
		io_uring_prep_read(sqe, fd, buf, len, (__u64)off);
	io_uring_submit(&ring);
	r = io_uring_wait_cqe(&ring, &cqe);
	if (r < 0) {
		fprintf(stderr, "client: io_uring_wait_cqe: %s\n", strerror(-r));
		exit(2);
	}
	r = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	return r;
}

/* Offset of the first byte of buf[0, n) that differs from want(off + i),
 * or -1. */
static long first_diff(const unsigned char *buf, size_t n, unsigned char (*want)(size_t))
{
	for (size_t i = 0; i < n; i++)
		if (buf[i] != want(i))
			return (long)i;
	return -1;
}

static int check_read(int fd, unsigned char *buf, const char *how)
{
	int res = uring_rw(fd, false, buf, LEN, 0);
	long diff;

	printf("client: io_uring READ of %d bytes at offset 0 (%s) returned %d; the file has "
	       "%d bytes\n", LEN, how, res, FILE_SIZE);
	if (res < 0) {
		printf("client: the read failed: %s\n", strerror(-res));
		return 2;
	}
	diff = first_diff(buf, (size_t)res, pattern);
	if (diff >= 0 && diff >= FILE_SIZE && !memcmp(buf + FILE_SIZE, buf, 16))
		printf("client: bytes %d.. of the buffer are the file's bytes from offset 0 again\n",
		       FILE_SIZE);
	if (res > FILE_SIZE || diff >= 0) {
		printf("client: BUG: want at most %d bytes, each the file's byte at its offset; "
		       "got %d bytes, first wrong at buffer offset %ld\n", FILE_SIZE, res, diff);
		return 1;
	}
	printf("client: ok: %d bytes, each the file's byte at its offset\n", res);
	return 0;
}

static int check_write(int fd, const char *path, unsigned char *buf, const char *how)
{
	static unsigned char back[FILE_SIZE];
	int res, rfd;
	ssize_t got;
	long diff;
	size_t n;

	for (size_t i = 0; i < LEN; i++)
		buf[i] = wpattern(i);
	res = uring_rw(fd, true, buf, LEN, 0);
	printf("client: io_uring WRITE of %d bytes at offset 0 (%s) returned %d\n", LEN, how, res);
	if (res < 0) {
		printf("client: the write failed: %s\n", strerror(-res));
		return 2;
	}
	/* what the server holds of [0, res) (it keeps the first 10000 bytes) */
	n = res < FILE_SIZE ? (size_t)res : FILE_SIZE;
	rfd = open(path, O_RDONLY);
	got = rfd < 0 ? -1 : pread(rfd, back, n, 0);
	if (rfd >= 0)
		close(rfd);
	if (got != (ssize_t)n) {
		printf("client: reading back %zu bytes: got %zd\n", n, got);
		return 2;
	}
	diff = first_diff(back, n, wpattern);
	if (diff >= 0) {
		const unsigned char *src = n - (size_t)diff >= 16 ?
			memmem(buf, LEN, back + diff, 16) : NULL;

		printf("client: BUG: the write returned %d but the file's bytes from offset %ld "
		       "are not the ones written there", res, diff);
		if (src)
			printf(": they are the buffer's bytes from offset %ld",
			       (long)(src - buf));
		printf("\n");
		return 1;
	}
	printf("client: ok: the file holds the %zu bytes written at their offsets\n", n);
	return 0;
}

static int check_fpos(int fd, unsigned char *buf, const char *how)
{
	int res = uring_rw(fd, false, buf, 4096, -1);
	off_t pos = lseek(fd, 0, SEEK_CUR);

	printf("client: io_uring READ of 4096 bytes at offset -1 (the file position, 0; %s) "
	       "returned %d; the file position is now %lld\n", how, res, (long long)pos);
	if (res < 0)
		return 2;
	if (pos != res) {
		printf("client: BUG: want the file position advanced to %d\n", res);
		return 1;
	}
	printf("client: ok: the file position advanced by the bytes read\n");
	return 0;
}

int main(int argc, char *argv[])
{
	bool buffered = argc == 4 && !strcmp(argv[3], "buffered");
	const char *how = buffered ? "without O_DIRECT" : "O_DIRECT";
	unsigned char *buf;
	int fd, ret;

	if (argc < 3 || argc > 4 || (argc == 4 && !buffered) ||
	    (strcmp(argv[1], "read") && strcmp(argv[1], "write") && strcmp(argv[1], "fpos"))) {
		fprintf(stderr, "usage: %s read|write|fpos FILE [buffered]\n", argv[0]);
		return 2;
	}
	if (posix_memalign((void **)&buf, 4096, LEN)) {
		fprintf(stderr, "client: out of memory\n");
		return 2;
	}
	memset(buf, 0, LEN);
	fd = open(argv[2], (argv[1][0] == 'w' ? O_WRONLY : O_RDONLY) | (buffered ? 0 : O_DIRECT));
	if (fd < 0) {
		perror(argv[2]);
		return 2;
	}
	if (argv[1][0] == 'r')
		ret = check_read(fd, buf, how);
	else if (argv[1][0] == 'w')
		ret = check_write(fd, argv[2], buf, how);
	else
		ret = check_fpos(fd, buf, how);
	close(fd);
	free(buf);
	return ret;
}
