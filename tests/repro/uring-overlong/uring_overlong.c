/* A FUSE server that speaks the protocol raw (no libfuse, no diofs code)
 * and answers every READ with 100 bytes more than asked, then a client
 * that preads its one file: what does the caller get?
 *
 *   uring_overlong MNT dev     requests over /dev/fuse
 *   uring_overlong MNT uring   requests over FUSE-over-io_uring
 *
 * Prints "dev: pread = -1 EIO" or "uring: pread = -1 EINVAL" and which
 * transport the READ came by.  Root; for uring, enable_uring must be Y.
 * Exit 0 done, 2 error, 77 cannot run here. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* From the kernel's include/uapi/linux/fuse.h (7.42), which the installed
 * header may predate. */
#define OVER_IO_URING (1ULL << 41)
struct ring_ent_in_out { uint64_t flags, commit_id; uint32_t payload_sz, pad; uint64_t rsvd; };
struct ring_req_header { char in_out[128]; char op_in[128]; struct ring_ent_in_out io; };
struct ring_cmd_req { uint64_t flags, commit_id; uint16_t qid; uint8_t pad[6]; };
enum { CMD_REGISTER = 1, CMD_COMMIT_AND_FETCH = 2 };

#define PAYLOAD (128 * 1024)
#define ENTRIES 4
#define FILE_SIZE 4096

static int fuse_fd;
static atomic_int read_via; /* 0 none, 1 dev, 2 uring */

/* Answer one request: out gets the reply's data, *err its error. */
static size_t serve(const struct fuse_in_header *h, const void *op, const char *rest,
		    int via, char *out, int *err)
{
	struct fuse_attr a = { .ino = h->nodeid, .nlink = 1, .blksize = 4096 };

	*err = 0;
	switch (h->opcode) {
	case FUSE_LOOKUP: {
		struct fuse_entry_out e = { .nodeid = 2, .attr = { .ino = 2, .mode = S_IFREG | 0644,
				.size = FILE_SIZE, .nlink = 1, .blksize = 4096 } };

		if (strcmp(rest, "f")) {
			*err = -ENOENT;
			return 0;
		}
		memcpy(out, &e, sizeof(e));
		return sizeof(e);
	}
	case FUSE_GETATTR: {
		struct fuse_attr_out o = { 0 };

		a.mode = h->nodeid == 1 ? S_IFDIR | 0755 : S_IFREG | 0644;
		a.size = h->nodeid == 1 ? 0 : FILE_SIZE;
		o.attr = a;
		memcpy(out, &o, sizeof(o));
		return sizeof(o);
	}
	case FUSE_OPEN: {
		struct fuse_open_out o = { .open_flags = FOPEN_DIRECT_IO };

		memcpy(out, &o, sizeof(o));
		return sizeof(o);
	}
	case FUSE_READ: {
		const struct fuse_read_in *r = op;

		atomic_store(&read_via, via);
		memset(out, 'x', r->size + 100); /* 100 bytes more than asked */
		return r->size + 100;
	}
	case FUSE_FLUSH: case FUSE_RELEASE:
		return 0;
	default:
		*err = -ENOSYS;
		return 0;
	}
}

static void *dev_reader(void *arg)
{
	static char buf[PAYLOAD + 4096], out[PAYLOAD + 4096];
	(void)arg;
	for (;;) {
		ssize_t n = read(fuse_fd, buf, sizeof(buf));
		struct fuse_in_header *h = (void *)buf;
		struct fuse_out_header oh;
		struct iovec iov[2];
		size_t len;
		int err;

		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;
		if (n < (ssize_t)sizeof(*h))
			return NULL;
		if (h->opcode == FUSE_FORGET || h->opcode == FUSE_BATCH_FORGET ||
		    h->opcode == FUSE_INTERRUPT)
			continue;
		len = serve(h, buf + sizeof(*h), buf + sizeof(*h), 1, out, &err);
		oh = (struct fuse_out_header){ (uint32_t)(sizeof(oh) + len), err, h->unique };
		iov[0] = (struct iovec){ &oh, sizeof(oh) };
		iov[1] = (struct iovec){ out, len };
		writev(fuse_fd, iov, len ? 2 : 1);
	}
}

/* An SQE128 is 128 bytes: zeroed out of the compiler's sight of the
 * 64-byte struct. */
static __attribute__((noinline)) void zero_sqe128(void *sqe)
{
	memset(sqe, 0, 128);
}

static void prep(struct io_uring *ring, struct ring_req_header *hdr, struct iovec *iov,
		 unsigned int qid, int cmd, uint64_t commit_id)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct ring_cmd_req *req = (void *)sqe->cmd;

	zero_sqe128(sqe);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fuse_fd;
	sqe->cmd_op = cmd;
	req->qid = (uint16_t)qid;
	req->commit_id = commit_id;
	if (cmd == CMD_REGISTER) {
		sqe->addr = (uintptr_t)iov;
		sqe->len = 2;
	}
	io_uring_sqe_set_data(sqe, hdr);
}

static pthread_barrier_t registered;

static void *queue(void *arg)
{
	unsigned int qid = (unsigned int)(uintptr_t)arg;
	struct ring_req_header *hdr = calloc(ENTRIES, sizeof(*hdr));
	struct iovec (*iov)[2] = calloc(ENTRIES, sizeof(*iov));
	struct io_uring ring;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(qid, &set);
	sched_setaffinity(0, sizeof(set), &set);
	if (io_uring_queue_init(16, &ring, IORING_SETUP_SQE128)) {
		perror("io_uring_queue_init");
		exit(2);
	}
	for (int i = 0; i < ENTRIES; i++) {
		iov[i][0] = (struct iovec){ &hdr[i], sizeof(hdr[i]) };
		iov[i][1] = (struct iovec){ malloc(PAYLOAD), PAYLOAD };
		prep(&ring, &hdr[i], iov[i], qid, CMD_REGISTER, 0);
	}
	io_uring_submit(&ring); /* registered once issued */
	pthread_barrier_wait(&registered);
	for (;;) {
		struct io_uring_cqe *cqe;
		struct ring_req_header *e;
		struct fuse_in_header h;
		int i, err;
		size_t len;

		if (io_uring_wait_cqe(&ring, &cqe))
			continue;
		e = io_uring_cqe_get_data(cqe);
		if (cqe->res < 0) { /* torn down */
			io_uring_cqe_seen(&ring, cqe);
			continue;
		}
		io_uring_cqe_seen(&ring, cqe);
		i = (int)(e - hdr);
		memcpy(&h, e->in_out, sizeof(h));
		((char *)iov[i][1].iov_base)[e->io.payload_sz] = '\0';
		len = serve(&h, e->op_in, iov[i][1].iov_base, 2, iov[i][1].iov_base, &err);
		memcpy(e->in_out, &(struct fuse_out_header){ (uint32_t)(16 + len), err, h.unique },
		       sizeof(struct fuse_out_header));
		e->io.payload_sz = (uint32_t)len;
		prep(&ring, e, iov[i], qid, CMD_COMMIT_AND_FETCH, h.unique);
		io_uring_submit(&ring);
	}
}

int main(int argc, char **argv)
{
	static char init[PAYLOAD + 4096]; /* the kernel wants room for a write */
	char opts[128], path[4096], buf[FILE_SIZE] = { 0 };
	struct fuse_init_out io = { .major = 7, .max_write = PAYLOAD, .max_readahead = 0 };
	struct fuse_in_header *h = (void *)init;
	struct fuse_init_in *ii = (void *)(init + sizeof(*h));
	struct fuse_out_header oh;
	bool uring;
	pthread_t t;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	int status;
	pid_t pid;

	if (argc != 3 || (strcmp(argv[2], "dev") && strcmp(argv[2], "uring"))) {
		fprintf(stderr, "usage: %s MNT dev|uring\n", argv[0]);
		return 2;
	}
	uring = !strcmp(argv[2], "uring");
	fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fuse_fd < 0) {
		perror("/dev/fuse");
		return 77;
	}
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", fuse_fd);
	if (mount("repro", argv[1], "fuse.repro", MS_NOSUID | MS_NODEV, opts)) {
		perror("mount");
		return 77;
	}
	if (read(fuse_fd, init, sizeof(init)) < (ssize_t)(sizeof(*h) + 16) ||
	    h->opcode != FUSE_INIT) {
		fprintf(stderr, "no INIT\n");
		return 2;
	}
	io.minor = ii->minor < 42 ? ii->minor : 42;
	io.flags = FUSE_INIT_EXT | FUSE_BIG_WRITES | FUSE_MAX_PAGES;
	io.max_pages = PAYLOAD / 4096;
	if (uring) {
		if (!(ii->flags & FUSE_INIT_EXT) || !((uint64_t)ii->flags2 << 32 & OVER_IO_URING)) {
			fprintf(stderr, "the kernel does not offer FUSE_OVER_IO_URING"
				" (enable_uring off?)\n");
			umount2(argv[1], MNT_DETACH);
			return 77;
		}
		io.flags2 = (uint32_t)(OVER_IO_URING >> 32);
	}
	oh = (struct fuse_out_header){ sizeof(oh) + sizeof(io), 0, h->unique };
	if (writev(fuse_fd, (struct iovec[]){ { &oh, sizeof(oh) }, { &io, sizeof(io) } }, 2) < 0) {
		perror("INIT reply");
		return 2;
	}
	pthread_create(&t, NULL, dev_reader, NULL);
	if (uring) {
		/* every CPU's queue registered: the ring serves from now on */
		pthread_barrier_init(&registered, NULL, (unsigned int)ncpu + 1);
		for (long q = 0; q < ncpu; q++)
			pthread_create(&t, NULL, queue, (void *)(uintptr_t)q);
		pthread_barrier_wait(&registered);
	}
	pid = fork();
	if (pid == 0) {
		int fd;
		ssize_t n;

		snprintf(path, sizeof(path), "%s/f", argv[1]);
		fd = open(path, O_RDONLY);
		if (fd < 0) {
			printf("%s: open: %s\n", argv[2], strerror(errno));
			fflush(stdout);
			_exit(2);
		}
		n = pread(fd, buf, sizeof(buf), 0);
		printf("%s: pread = %zd %s\n", argv[2], n, n < 0 ? strerrorname_np(errno) : "");
		close(fd);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	printf("%s: the READ came over %s\n", argv[2],
	       (const char *[]){ "nothing", "/dev/fuse", "io_uring" }[atomic_load(&read_via)]);
	umount2(argv[1], MNT_DETACH);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}
