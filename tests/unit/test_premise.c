/* Unit tests of diofs-check's premise checks (src/check/premise.c): each
 * driven into both answers, with synthetic page frames, with buffers whose
 * pages are known (read-faulted vs written), and with sysctl files made
 * here, so no setting of the machine is touched. */
#include <config.h>

#include "check/premise.h"
#include "harness/runner.h"

#include <errno.h>
#include <liburing.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 16
#define ZERO (UINT64_C(1) << PREMISE_KPF_ZERO_PAGE)
#define THP (UINT64_C(1) << PREMISE_KPF_THP)
#define PRESENT PREMISE_PM_PRESENT

static char why[512];
static char dir[] = "/tmp/test_premise.XXXXXX";
/* the files file_with makes, removed at the end */
static const char *const made[] = { "thp1", "thp2", "group", "dis0", "dis1", "dis2", "mp8", "mp256" };

/* A file in dir holding text; its path. */
static const char *file_with(const char *name, const char *text)
{
	static char path[4][256];
	static int next;
	char *p = path[next++ % 4];
	FILE *f;

	snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
	f = fopen(p, "w");
	REQUIRE(f != NULL, "f is not NULL");
	fputs(text, f);
	fclose(f);
	return p;
}

static bool pfns_visible(void)
{
	return premise_capable(CAP_SYS_ADMIN) && access("/proc/kpageflags", R_OK) == 0;
}

/* ---- zero page: the classification ---------------------------------- */

TEST(zero_page_frames_classified)
{
	uint64_t pm[N], flags[N];

	for (int i = 0; i < N; i++)
		pm[i] = PRESENT | 0x1234, flags[i] = ZERO;
	CHECK_EQ(premise_classify_zero(pm, flags, N, why, sizeof(why)), PREMISE_HOLDS);

	/* pvm_no_zero_page: a fresh frame per page, none the zero page */
	for (int i = 0; i < N; i++)
		pm[i] = PRESENT | (0x5000 + (uint64_t)i), flags[i] = 0;
	CHECK_EQ(premise_classify_zero(pm, flags, N, why, sizeof(why)), PREMISE_FALSE);
	CHECK_STR(why, "this kernel maps no shared zero page for read faults "
		  "(pvm_no_zero_page?): 16 distinct PFNs for 16 pages, none "
		  "KPF_ZERO_PAGE");
	/* distinct frames are never the one zero page, kpageflags or not */
	CHECK_EQ(premise_classify_zero(pm, NULL, N, why, sizeof(why)), PREMISE_FALSE);

	/* one frame, but kpageflags unreadable: cannot tell */
	for (int i = 0; i < N; i++)
		pm[i] = PRESENT | 0x1234;
	CHECK_EQ(premise_classify_zero(pm, NULL, N, why, sizeof(why)), PREMISE_UNKNOWN);

	/* the huge zero page is not the small one */
	for (int i = 0; i < N; i++)
		flags[i] = ZERO | THP;
	CHECK_EQ(premise_classify_zero(pm, flags, N, why, sizeof(why)), PREMISE_FALSE);

	/* PFNs hidden (no CAP_SYS_ADMIN) */
	for (int i = 0; i < N; i++)
		pm[i] = PRESENT, flags[i] = ZERO;
	CHECK_EQ(premise_classify_zero(pm, flags, N, why, sizeof(why)), PREMISE_UNKNOWN);
	CHECK(strstr(why, "CAP_SYS_ADMIN") != NULL,
	      "strstr(why, \"CAP_SYS_ADMIN\") is not NULL");

	/* a page not present */
	for (int i = 0; i < N; i++)
		pm[i] = PRESENT | 0x1234;
	pm[3] = 0;
	CHECK_EQ(premise_classify_zero(pm, flags, N, why, sizeof(why)), PREMISE_FALSE);
}

/* ---- zero page: real buffers --------------------------------------- */

static bool booted_without_zero_page(void)
{
	char line[4096] = "";
	FILE *f = fopen("/proc/cmdline", "re");

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	return strstr(line, "no_zero_page") != NULL;
}

TEST(read_faulted_pages_are_the_zero_page)
{
	size_t len = N * 4096;
	char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile char sink;
	enum premise p;

	REQUIRE((buf) != (MAP_FAILED), "buf != MAP_FAILED");
	if (!pfns_visible()) {
		/* the case SKIPs saying so */
		CHECK_EQ(premise_zero_page(buf, len, why, sizeof(why)), PREMISE_UNKNOWN);
		munmap(buf, len);
		SKIP("no CAP_SYS_ADMIN or /proc/kpageflags: %s", why);
	}
	for (size_t i = 0; i < len; i += 4096)
		sink = buf[i];
	(void)sink;
	p = premise_zero_page(buf, len, why, sizeof(why));
	CHECK_EQ(p, booted_without_zero_page() ? PREMISE_FALSE : PREMISE_HOLDS);

	/* written: every page its own, never the zero page (the SKIP path) */
	memset(buf, 1, len);
	CHECK_EQ(premise_zero_page(buf, len, why, sizeof(why)), PREMISE_FALSE);
	CHECK(strstr(why, "16 distinct PFNs for 16 pages, none KPF_ZERO_PAGE") != NULL,
	      "strstr(why, \"16 distinct PFNs for 16 pages, none KPF_ZERO_PAGE\") is not NULL");
	munmap(buf, len);
}

/* ---- page size ------------------------------------------------------ */

TEST(small_pages_told_from_huge_ones)
{
	size_t huge = 2u << 20;
	char *m = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *aligned;
	uint64_t pm[N], flags[N];

	for (int i = 0; i < N; i++)
		pm[i] = PRESENT | (0x5000 + (uint64_t)i), flags[i] = i == 5 ? THP : 0;
	CHECK_EQ(premise_classify_small(pm, flags, N, why, sizeof(why)), PREMISE_FALSE);
	flags[5] = 0;
	CHECK_EQ(premise_classify_small(pm, flags, N, why, sizeof(why)), PREMISE_HOLDS);

	REQUIRE((m) != (MAP_FAILED), "m != MAP_FAILED");
	aligned = (char *)(((uintptr_t)m + huge - 1) & ~(uintptr_t)(huge - 1));
	if (!pfns_visible()) {
		munmap(m, 2 * huge);
		return;
	}
	/* MADV_NOHUGEPAGE, written: small pages */
	CHECK_EQ(madvise(aligned, huge, MADV_NOHUGEPAGE), 0);
	memset(aligned, 1, N * 4096);
	CHECK_EQ(premise_small_pages(aligned, N * 4096, why, sizeof(why)), PREMISE_HOLDS);
	munmap(m, 2 * huge);

	/* MADV_HUGEPAGE, written, where THP can be had: a huge page */
	m = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE((m) != (MAP_FAILED), "m != MAP_FAILED");
	aligned = (char *)(((uintptr_t)m + huge - 1) & ~(uintptr_t)(huge - 1));
	if (premise_thp(NULL, why, sizeof(why)) == PREMISE_HOLDS &&
	    madvise(aligned, huge, MADV_HUGEPAGE) == 0) {
		memset(aligned, 1, huge);
		if (premise_anon_huge_kb(aligned) >= 2048)
			CHECK_EQ(premise_small_pages(aligned, N * 4096, why, sizeof(why)),
				 PREMISE_FALSE);
	}
	munmap(m, 2 * huge);
}

TEST(thp_setting_read)
{
	CHECK_EQ(premise_thp(file_with("thp1", "always madvise [never]\n"), why, sizeof(why)),
		 PREMISE_FALSE);
	CHECK(strstr(why, "[never]") != NULL, "strstr(why, \"[never]\") is not NULL");
	CHECK_EQ(premise_thp(file_with("thp2", "always [madvise] never\n"), why, sizeof(why)),
		 PREMISE_HOLDS);
	CHECK_EQ(premise_thp("/nonexistent/enabled", why, sizeof(why)), PREMISE_FALSE);
}

/* ---- io_uring -------------------------------------------------------- */

TEST(io_uring_disabled_sysctl_read)
{
	const char *grp = file_with("group", "-1\n");

	CHECK_EQ(premise_io_uring(file_with("dis2", "2\n"), grp, why, sizeof(why)),
		 PREMISE_FALSE);
	CHECK_STR(why, "io_uring is disabled (kernel.io_uring_disabled=2)");
	CHECK_EQ(premise_io_uring(file_with("dis0", "0\n"), grp, why, sizeof(why)),
		 PREMISE_HOLDS);
	/* absent before 6.6 */
	CHECK_EQ(premise_io_uring("/nonexistent/io_uring_disabled", grp, why, sizeof(why)),
		 PREMISE_HOLDS);
	/* 1: CAP_SYS_ADMIN or the group only */
	CHECK_EQ(premise_io_uring(file_with("dis1", "1\n"), grp, why, sizeof(why)),
		 premise_capable(CAP_SYS_ADMIN) ? PREMISE_HOLDS : PREMISE_FALSE);
	/* the real sysctl, and a real ring, agree with io_uring itself */
	{
		struct io_uring ring;
		int err = io_uring_queue_init(2, &ring, 0);

		if (!err)
			io_uring_queue_exit(&ring);
		CHECK_EQ(premise_io_uring(NULL, NULL, why, sizeof(why)),
			 err ? PREMISE_FALSE : PREMISE_HOLDS);
	}
}

/* In a child without CAP_IPC_LOCK and a 4 KiB RLIMIT_MEMLOCK: the premise
 * says a 64 KiB fixed buffer cannot be registered, and io_uring agrees.
 * Exit status: 0 agreed, 1 premise wrong, 2 could not set up (a hard
 * limit under 64 KiB: the test then fails too, saying so). */
static int memlock_child(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	struct rlimit rl;
	static char buf[65536] __attribute__((aligned(4096)));
	struct iovec iov = { buf, sizeof(buf) };
	struct io_uring ring;
	int reg;

	if (syscall(SYS_capget, &hdr, data) < 0)
		return 2;
	data[0].effective &= ~(1u << CAP_IPC_LOCK);
	data[0].permitted &= ~(1u << CAP_IPC_LOCK);
	/* the ring first: its own memory counts as locked too; only the soft
	 * limit moves (raising the hard one needs CAP_SYS_RESOURCE) */
	if (syscall(SYS_capset, &hdr, data) < 0 || io_uring_queue_init(2, &ring, 0) < 0 ||
	    getrlimit(RLIMIT_MEMLOCK, &rl) < 0 || rl.rlim_max < sizeof(buf))
		return 2;
	rl.rlim_cur = 4096;
	if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		return 2;
	memset(buf, 1, sizeof(buf));
	reg = io_uring_register_buffers(&ring, &iov, 1);
	io_uring_queue_exit(&ring);
	if (premise_memlock(sizeof(buf), why, sizeof(why)) != PREMISE_FALSE || reg >= 0 ||
	    premise_memlock_refused(reg, "64 KiB of fixed buffers", why, sizeof(why)) !=
	    PREMISE_FALSE) {
		fprintf(stderr, "premise_memlock(64 KiB) with RLIMIT_MEMLOCK 4 KiB and no "
			"CAP_IPC_LOCK: %s; io_uring_register_buffers: %d\n", why, reg);
		return 1;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		return 2;
	if (premise_memlock(sizeof(buf), why, sizeof(why)) != PREMISE_HOLDS) {
		fprintf(stderr, "premise_memlock(64 KiB) with RLIMIT_MEMLOCK 1 MiB: %s\n", why);
		return 1;
	}
	return 0;
}

TEST(memlock_limit_and_cap_ipc_lock_checked)
{
	int status;
	pid_t pid;

	/* other errors, or with the capability: not the limit */
	CHECK_EQ(premise_memlock_refused(-EFAULT, "a buffer", why, sizeof(why)), PREMISE_HOLDS);
	if (premise_capable(CAP_IPC_LOCK))
		CHECK_EQ(premise_memlock_refused(-ENOMEM, "a buffer", why, sizeof(why)),
			 PREMISE_HOLDS);
	if (!premise_capable(CAP_IPC_LOCK) ||
	    premise_io_uring(NULL, NULL, why, sizeof(why)) != PREMISE_HOLDS)
		return;         /* needs a capability to drop, and io_uring */
	pid = fork();
	REQUIRE((pid) != (-1), "pid != -1");
	if (!pid)
		_exit(memlock_child());
	REQUIRE_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "WIFEXITED(status) && WEXITSTATUS(status) == 0");
}

/* ---- FUSE ------------------------------------------------------------- */

TEST(fuse_max_pages_limit_checked)
{
	CHECK_EQ(premise_max_pages(file_with("mp8", "8\n"), 65536, why, sizeof(why)),
		 PREMISE_FALSE);
	CHECK_STR(why, "a 65536-byte direct I/O does not fit one FUSE request: "
		  "fs.fuse.max_pages_limit=8 < 16 pages");
	CHECK_EQ(premise_max_pages(file_with("mp256", "256\n"), 65536, why, sizeof(why)),
		 PREMISE_HOLDS);
	CHECK_EQ(premise_max_pages("/nonexistent/max_pages_limit", 65536, why, sizeof(why)),
		 PREMISE_HOLDS);
}

/* The sysctl files the cases make go to a directory made here, removed
 * with them at the end. */
int main(int argc, char **argv)
{
	char file[256];
	int ret;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 99;
	}
	ret = test_main(argc, argv, "test_premise", test_registered(), test_registered_count());
	for (size_t i = 0; i < sizeof(made) / sizeof(*made); i++) {
		snprintf(file, sizeof(file), "%s/%s", dir, made[i]);
		unlink(file);
	}
	rmdir(dir);
	return ret;
}
