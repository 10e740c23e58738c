/* The kernel and mm behaviour diofs-check's cases rely on but diofs does
 * not control, one function per premise.  Each answers PREMISE_HOLDS, or
 * PREMISE_FALSE (the kernel does otherwise here) / PREMISE_UNKNOWN (it
 * cannot be checked here) with the reason in why: a case SKIPs with it
 * (premise_require in check code), the verdict reports "not measured: why".
 *
 * The checks read /proc and /sys; the ones a test must drive into their
 * other answer take the file's path (NULL: the real one), so the unit test
 * (tests/unit/test_premise.c) can hand them "2" for io_uring_disabled or
 * "[never]" for THP without touching the machine.  No assertions here. */
#ifndef DIOFS_CHECK_PREMISE_H
#define DIOFS_CHECK_PREMISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum premise { PREMISE_HOLDS = 0, PREMISE_FALSE = 1, PREMISE_UNKNOWN = 2 };

/* /proc/kpageflags bits (include/uapi/linux/kernel-page-flags.h) */
#define PREMISE_KPF_THP 22
#define PREMISE_KPF_ZERO_PAGE 24
/* /proc/self/pagemap: bit 63 present, bits 0-54 the PFN (0 without
 * CAP_SYS_ADMIN) */
#define PREMISE_PM_PRESENT (UINT64_C(1) << 63)
#define PREMISE_PM_PFN(e) ((e) & ((UINT64_C(1) << 55) - 1))

/* In a case (check.h included): SKIP with the reason unless the premise
 * holds, e.g. PREMISE_REQUIRE(premise_thp, NULL). */
#define PREMISE_REQUIRE(fn, ...) do {                                       \
	char premise_why_[512];                                               \
	if (fn(__VA_ARGS__, premise_why_, sizeof(premise_why_)) != PREMISE_HOLDS) \
		SKIP("%s", premise_why_);                                     \
	} while (0)

/* ---- the shared zero page --------------------------------------------- */

/* Are all pages of [buf, buf+len) the shared zero page (the small one:
 * KPF_ZERO_PAGE without KPF_THP)?  The premise of a write from
 * never-written memory taking no pin.  A kernel booted with
 * pvm_no_zero_page=1 maps a fresh page on each anonymous read fault. */
enum premise premise_zero_page(const void *buf, size_t len, char *why, size_t whylen);
/* The judgement on n pages' pagemap entries and kpageflags (flags NULL:
 * /proc/kpageflags unreadable). */
enum premise premise_classify_zero(const uint64_t *pagemap, const uint64_t *flags, size_t n,
				   char *why, size_t whylen);

/* ---- page size: THP and mTHP ------------------------------------------ */

/* Are all pages of [buf, buf+len) small pages (no KPF_THP: neither a PMD
 * huge page nor an mTHP folio)?  Without PFNs (no CAP_SYS_ADMIN) smaps'
 * AnonHugePages decides for PMD huge pages and mTHP stays unknown. */
enum premise premise_small_pages(const void *buf, size_t len, char *why, size_t whylen);
/* The judgement on n pages' pagemap entries and kpageflags. */
enum premise premise_classify_small(const uint64_t *pagemap, const uint64_t *flags, size_t n,
				    char *why, size_t whylen);
/* Can MADV_HUGEPAGE memory get a PMD huge page: THP enabled not "never"
 * (enabled_path NULL: /sys/kernel/mm/transparent_hugepage/enabled). */
enum premise premise_thp(const char *enabled_path, char *why, size_t whylen);
/* AnonHugePages (kB) of the mapping holding addr (/proc/self/smaps), -1 if
 * not found. */
long premise_anon_huge_kb(const void *addr);

/* ---- io_uring ------------------------------------------------------------ */

/* May this process create an io_uring: kernel.io_uring_disabled (0 all, 1
 * CAP_SYS_ADMIN or kernel.io_uring_group only, 2 nobody; absent before
 * 6.6), then a ring actually made.  Paths NULL: the real sysctls; with a
 * path given no ring is made (the unit test). */
enum premise premise_io_uring(const char *disabled_path, const char *group_path,
			      char *why, size_t whylen);
/* Can io_uring register len bytes of fixed buffers: CAP_IPC_LOCK, or
 * RLIMIT_MEMLOCK at least len (registered buffers count as locked memory). */
enum premise premise_memlock(size_t len, char *why, size_t whylen);

/* Was io_uring's ENOMEM (err, negative errno) for what ("a 4-entry ring",
 * "65536 bytes of fixed buffers") the locked-memory limit?  Without
 * CAP_IPC_LOCK rings and fixed buffers count against RLIMIT_MEMLOCK, per
 * user: every process of the uid shares it, so no check beforehand can
 * promise room.  FALSE with the reason if so; HOLDS for any other error. */
enum premise premise_memlock_refused(int err, const char *what, char *why, size_t whylen);

/* ---- FUSE -------------------------------------------------------------- */

/* Does a len-byte direct I/O fit one FUSE request: fs.fuse.max_pages_limit
 * (6.13+; path NULL: /proc/sys/fs/fuse/max_pages_limit) at least its
 * pages.  Cases hold one request and count its pages. */
enum premise premise_max_pages(const char *limit_path, size_t len, char *why, size_t whylen);
/* Does the FUSE connection of the mount at mnt let n requests be in
 * flight in the background (/sys/fs/fuse/connections/DEV/max_background;
 * an unprivileged mount is capped by fuse.max_user_bgreq)?  Cases that hold
 * n async requests at once. */
enum premise premise_max_background(const char *mnt, unsigned int n, char *why, size_t whylen);

/* ---- privileges -------------------------------------------------------- */

/* Is capability cap (CAP_SYS_ADMIN = 21...) in this process's effective
 * set (/proc/self/status CapEff)? */
bool premise_capable(int cap);

#endif
