/* Unit tests of diofs-check's premise checks (src/check/premise.c): each
 * driven into both answers, with synthetic page frames, with buffers whose
 * pages are known (read-faulted vs written), and with sysctl files made
 * here, so no setting of the machine is touched. */
#include <config.h>

#include "check/premise.h"

#include <CUnit/Basic.h>
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
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static bool pfns_visible(void)
{
	return premise_capable(CAP_SYS_ADMIN) && access("/proc/kpageflags", R_OK) == 0;
}

/* ---- zero page: the classification ---------------------------------- */

static void test_classify_zero(void)
{
	uint64_t pm[N], flags[N];

	for (int i = 0; i < N; i++)
		pm[i] = PRESENT | 0x1234, flags[i] = ZERO;
	CU_ASSERT_EQUAL(premise_classify_zero(pm, flags, N, why, sizeof(why)), PREMISE_HOLDS);

	/* pvm_no_zero_page: a fresh frame per page, none the zero page */
	for (int i = 0; i < N; i++)
		pm[i] = PRESENT | (0x5000 + (uint64_t)i), flags[i] = 0;
	CU_ASSERT_EQUAL(premise_classify_zero(pm, flags, N, why, sizeof(why)), PREMISE_FALSE);
	CU_ASSERT_STRING_EQUAL(why, "this kernel maps no shared zero page for read faults "
			       "(pvm_no_zero_page?): 16 distinct PFNs for 16 pages, none "
			       "KPF_ZERO_PAGE");
	/* distinct frames are never the one zero page, kpageflags or not */
	CU_ASSERT_EQUAL(premise_classify_zero(pm, NULL, N, why, sizeof(why)), PREMISE_FALSE);

	/* one frame, but kpageflags unreadable: cannot tell */
	for (int i = 0; i < N; i++)
		pm[i] = PRESENT | 0x1234;
	CU_ASSERT_EQUAL(premise_classify_zero(pm, NULL, N, why, sizeof(why)), PREMISE_UNKNOWN);

	/* the huge zero page is not the small one */
	for (int i = 0; i < N; i++)
		flags[i] = ZERO | THP;
	CU_ASSERT_EQUAL(premise_classify_zero(pm, flags, N, why, sizeof(why)), PREMISE_FALSE);

	/* PFNs hidden (no CAP_SYS_ADMIN) */
	for (int i = 0; i < N; i++)
		pm[i] = PRESENT, flags[i] = ZERO;
	CU_ASSERT_EQUAL(premise_classify_zero(pm, flags, N, why, sizeof(why)), PREMISE_UNKNOWN);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "CAP_SYS_ADMIN"));

	/* a page not present */
	for (int i = 0; i < N; i++)
		pm[i] = PRESENT | 0x1234;
	pm[3] = 0;
	CU_ASSERT_EQUAL(premise_classify_zero(pm, flags, N, why, sizeof(why)), PREMISE_FALSE);
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

static void test_zero_page_real(void)
{
	size_t len = N * 4096;
	char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile char sink;
	enum premise p;

	CU_ASSERT_NOT_EQUAL_FATAL(buf, MAP_FAILED);
	if (!pfns_visible()) {
		/* the case SKIPs saying so */
		CU_ASSERT_EQUAL(premise_zero_page(buf, len, why, sizeof(why)), PREMISE_UNKNOWN);
		printf("\n  (no CAP_SYS_ADMIN or /proc/kpageflags: %s) ", why);
		munmap(buf, len);
		return;
	}
	for (size_t i = 0; i < len; i += 4096)
		sink = buf[i];
	(void)sink;
	p = premise_zero_page(buf, len, why, sizeof(why));
	CU_ASSERT_EQUAL(p, booted_without_zero_page() ? PREMISE_FALSE : PREMISE_HOLDS);

	/* written: every page its own, never the zero page (the SKIP path) */
	memset(buf, 1, len);
	CU_ASSERT_EQUAL(premise_zero_page(buf, len, why, sizeof(why)), PREMISE_FALSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "16 distinct PFNs for 16 pages, none KPF_ZERO_PAGE"));
	munmap(buf, len);
}

/* ---- page size ------------------------------------------------------ */

static void test_small_pages(void)
{
	size_t huge = 2u << 20;
	char *m = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *aligned;
	uint64_t pm[N], flags[N];

	for (int i = 0; i < N; i++)
		pm[i] = PRESENT | (0x5000 + (uint64_t)i), flags[i] = i == 5 ? THP : 0;
	CU_ASSERT_EQUAL(premise_classify_small(pm, flags, N, why, sizeof(why)), PREMISE_FALSE);
	flags[5] = 0;
	CU_ASSERT_EQUAL(premise_classify_small(pm, flags, N, why, sizeof(why)), PREMISE_HOLDS);

	CU_ASSERT_NOT_EQUAL_FATAL(m, MAP_FAILED);
	aligned = (char *)(((uintptr_t)m + huge - 1) & ~(uintptr_t)(huge - 1));
	if (!pfns_visible()) {
		munmap(m, 2 * huge);
		return;
	}
	/* MADV_NOHUGEPAGE, written: small pages */
	CU_ASSERT_EQUAL(madvise(aligned, huge, MADV_NOHUGEPAGE), 0);
	memset(aligned, 1, N * 4096);
	CU_ASSERT_EQUAL(premise_small_pages(aligned, N * 4096, why, sizeof(why)), PREMISE_HOLDS);
	munmap(m, 2 * huge);

	/* MADV_HUGEPAGE, written, where THP can be had: a huge page */
	m = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_NOT_EQUAL_FATAL(m, MAP_FAILED);
	aligned = (char *)(((uintptr_t)m + huge - 1) & ~(uintptr_t)(huge - 1));
	if (premise_thp(NULL, why, sizeof(why)) == PREMISE_HOLDS &&
	    madvise(aligned, huge, MADV_HUGEPAGE) == 0) {
		memset(aligned, 1, huge);
		if (premise_anon_huge_kb(aligned) >= 2048)
			CU_ASSERT_EQUAL(premise_small_pages(aligned, N * 4096, why, sizeof(why)),
					PREMISE_FALSE);
	}
	munmap(m, 2 * huge);
}

static void test_thp_setting(void)
{
	CU_ASSERT_EQUAL(premise_thp(file_with("thp1", "always madvise [never]\n"), why, sizeof(why)),
			PREMISE_FALSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "[never]"));
	CU_ASSERT_EQUAL(premise_thp(file_with("thp2", "always [madvise] never\n"), why, sizeof(why)),
			PREMISE_HOLDS);
	CU_ASSERT_EQUAL(premise_thp("/nonexistent/enabled", why, sizeof(why)), PREMISE_FALSE);
}

/* ---- io_uring -------------------------------------------------------- */

static void test_io_uring_sysctl(void)
{
	const char *grp = file_with("group", "-1\n");

	CU_ASSERT_EQUAL(premise_io_uring(file_with("dis2", "2\n"), grp, why, sizeof(why)),
			PREMISE_FALSE);
	CU_ASSERT_STRING_EQUAL(why, "io_uring is disabled (kernel.io_uring_disabled=2)");
	CU_ASSERT_EQUAL(premise_io_uring(file_with("dis0", "0\n"), grp, why, sizeof(why)),
			PREMISE_HOLDS);
	/* absent before 6.6 */
	CU_ASSERT_EQUAL(premise_io_uring("/nonexistent/io_uring_disabled", grp, why, sizeof(why)),
			PREMISE_HOLDS);
	/* 1: CAP_SYS_ADMIN or the group only */
	CU_ASSERT_EQUAL(premise_io_uring(file_with("dis1", "1\n"), grp, why, sizeof(why)),
			premise_capable(CAP_SYS_ADMIN) ? PREMISE_HOLDS : PREMISE_FALSE);
	/* the real sysctl, and a real ring, agree with io_uring itself */
	{
		struct io_uring ring;
		int err = io_uring_queue_init(2, &ring, 0);

		if (!err)
			io_uring_queue_exit(&ring);
		CU_ASSERT_EQUAL(premise_io_uring(NULL, NULL, why, sizeof(why)),
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

static void test_memlock(void)
{
	int status;
	pid_t pid;

	/* other errors, or with the capability: not the limit */
	CU_ASSERT_EQUAL(premise_memlock_refused(-EFAULT, "a buffer", why, sizeof(why)), PREMISE_HOLDS);
	if (premise_capable(CAP_IPC_LOCK))
		CU_ASSERT_EQUAL(premise_memlock_refused(-ENOMEM, "a buffer", why, sizeof(why)),
				PREMISE_HOLDS);
	if (!premise_capable(CAP_IPC_LOCK) ||
	    premise_io_uring(NULL, NULL, why, sizeof(why)) != PREMISE_HOLDS)
		return;         /* needs a capability to drop, and io_uring */
	pid = fork();
	CU_ASSERT_NOT_EQUAL_FATAL(pid, -1);
	if (!pid)
		_exit(memlock_child());
	CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- FUSE ------------------------------------------------------------- */

static void test_max_pages(void)
{
	CU_ASSERT_EQUAL(premise_max_pages(file_with("mp8", "8\n"), 65536, why, sizeof(why)),
			PREMISE_FALSE);
	CU_ASSERT_STRING_EQUAL(why, "a 65536-byte direct I/O does not fit one FUSE request: "
			       "fs.fuse.max_pages_limit=8 < 16 pages");
	CU_ASSERT_EQUAL(premise_max_pages(file_with("mp256", "256\n"), 65536, why, sizeof(why)),
			PREMISE_HOLDS);
	CU_ASSERT_EQUAL(premise_max_pages("/nonexistent/max_pages_limit", 65536, why, sizeof(why)),
			PREMISE_HOLDS);
}

int main(void)
{
	CU_pSuite s;
	unsigned int failures;
	char path[256];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 99;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	s = CU_add_suite("premise", NULL, NULL);
	CU_add_test(s, "classify_zero", test_classify_zero);
	CU_add_test(s, "zero_page_real", test_zero_page_real);
	CU_add_test(s, "small_pages", test_small_pages);
	CU_add_test(s, "thp_setting", test_thp_setting);
	CU_add_test(s, "io_uring_sysctl", test_io_uring_sysctl);
	CU_add_test(s, "memlock", test_memlock);
	CU_add_test(s, "max_pages", test_max_pages);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	for (size_t i = 0; i < sizeof(made) / sizeof(*made); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, made[i]);
		unlink(path);
	}
	rmdir(dir);
	return failures ? 1 : 0;
}
