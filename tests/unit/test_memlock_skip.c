/* A pins case whose io_uring fixed buffer is refused mid-case for the
 * locked-memory limit SKIPs with the limit instead of failing
 * (DIO_PREMISE_FALSE, src/check/ioengine_uring.c).
 *
 * Runs diofs-check --case pins.io_uring_fixed_read without CAP_IPC_LOCK
 * (dropped from the bounding set too, so that exec does not give it back)
 * and with RLIMIT_MEMLOCK at 256 KiB, while a child of ours holds 208 KiB
 * of registered buffers (registered under the usual, larger limit): the
 * case's premise checked beforehand (its 64 KiB within the limit) holds,
 * its rings (a few pages each: rings count too) fit in the 48 KiB left, its
 * 64 KiB fixed buffer does not: io_uring counts locked memory per user
 * against the registering process's limit.  This is how a case meets the
 * limit in real life: other processes of the same user use it up.
 *
 * Skipped where it cannot run: not root, no FUSE, no io_uring, or the
 * child could not register its buffers. */
#include <config.h>

#include "harness/runner.h"

#include <errno.h>
#include <liburing.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIMIT (256 * 1024)
#define HOGGED (LIMIT - 48 * 1024)
#define CASE_SUITE "pins"
#define CASE_NAME "io_uring_fixed_read"

/* No CAP_IPC_LOCK from here on, for us and what we exec. */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0) < 0 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ||
	    syscall(SYS_capget, &hdr, data) < 0)
		return -1;
	data[0].effective &= ~(1u << CAP_IPC_LOCK);
	data[0].permitted &= ~(1u << CAP_IPC_LOCK);
	data[0].inheritable &= ~(1u << CAP_IPC_LOCK);
	return (int)syscall(SYS_capset, &hdr, data);
}

/* A child holding HOGGED bytes of registered buffers until done[0] reads
 * EOF.  Its pid, or -1 with why (errno of the registration in *err). */
static pid_t start_hog(int done[2], int *err)
{
	int ready[2];
	pid_t pid;

	if (pipe(ready) < 0 || pipe(done) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		/* small pages: io_uring counts a huge page whole */
		char *buf = mmap(NULL, HOGGED, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct iovec iov = { buf, HOGGED };
		struct io_uring ring;
		int r = buf == MAP_FAILED ? -ENOMEM : io_uring_queue_init(2, &ring, 0);
		char c;

		close(ready[0]);
		close(done[1]);
		if (buf != MAP_FAILED) {
			madvise(buf, HOGGED, MADV_NOHUGEPAGE);
			memset(buf, 1, HOGGED);
		}
		if (r == 0)
			r = io_uring_register_buffers(&ring, &iov, 1);
		if (write(ready[1], &r, sizeof(r)) != sizeof(r))
			_exit(2);
		while (r == 0 && read(done[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(ready[1]);
	close(done[0]);
	if (pid < 0 || read(ready[0], err, sizeof(*err)) != sizeof(*err)) {
		close(ready[0]);
		return -1;
	}
	close(ready[0]);
	return pid;
}

/* Run the case; its TSV line into line.  0, or -1. */
static int run_case(char *line, size_t len)
{
	char tsv[] = "/tmp/test_memlock_skip.XXXXXX";
	int fd = mkstemp(tsv), status;
	FILE *f;
	pid_t pid;

	if (fd < 0)
		return -1;
	close(fd);
	pid = fork();
	if (pid == 0) {
		execl(DIOFS_BUILDDIR "/src/check/diofs-check", "diofs-check", "--case",
		      CASE_SUITE "." CASE_NAME, "--tsv", tsv, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		unlink(tsv);
		return -1;
	}
	line[0] = '\0';
	f = fopen(tsv, "r");
	if (f) {
		if (!fgets(line, (int)len, f))
			line[0] = '\0';
		fclose(f);
	}
	unlink(tsv);
	return 0;
}

/* The hog, stopped when the case ends (EOF on its pipe), and reaped. */
static int hog_done = -1;
static pid_t hog;

static void stop_hog(void *arg)
{
	close(hog_done);
	waitpid(hog, NULL, 0);
}

TEST(pins_case_skips_when_memlock_limit_is_used_up,
     .needs = TEST_NEEDS_ROOT | TEST_NEEDS_MOUNT)
{
	struct rlimit rl = { LIMIT, LIMIT };
	char line[4096];
	int done[2], err = 0;

	if (drop_ipc_lock() < 0)
		SKIP("cannot drop CAP_IPC_LOCK");
	hog = start_hog(done, &err);
	if (hog < 0)
		SKIP("cannot start the child that holds locked memory");
	hog_done = done[1];
	test_defer(stop_hog, NULL);
	if (err)
		SKIP("registering %d bytes of fixed buffers without CAP_IPC_LOCK: %s "
		     "(io_uring off, or RLIMIT_MEMLOCK too small already)", HOGGED,
		     strerror(-err));
	if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		SKIP("cannot set RLIMIT_MEMLOCK");
	REQUIRE(run_case(line, sizeof(line)) == 0, "could not run diofs-check");
	CHECK(strncmp(line, "skip\t" CASE_SUITE "\t" CASE_NAME "\t",
		      strlen("skip\t" CASE_SUITE "\t" CASE_NAME "\t")) == 0 &&
	      strstr(line, "bytes of fixed buffers with ENOMEM") &&
	      strstr(line, "RLIMIT_MEMLOCK (262144 bytes)"),
	      CASE_SUITE "." CASE_NAME " with its %d-byte RLIMIT_MEMLOCK used up by another "
	      "process and no CAP_IPC_LOCK: want it skipped for the limit; diofs-check's "
	      "result: %s", LIMIT, line[0] ? line : "(none)");
}

TEST_MAIN("test_memlock_skip")
