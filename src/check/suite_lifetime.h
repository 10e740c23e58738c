/* What the lifetime and pins suites share: the expectation (converted or
 * not), notes on a passing case, pin figures turned into assertions, and
 * the case functions that suite_lifetime.c lists from its other files. */
#ifndef DIOFS_CHECK_SUITE_LIFETIME_H
#define DIOFS_CHECK_SUITE_LIFETIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "check/buffers.h"
#include "check/check.h"
#include "check/pinwatch.h"

/* The size of every held request: 16 pages, one FUSE request. */
#define LT_LEN (64 * 1024)

/* The premises of every pins and lifetime case, named in their
 * descriptions; the per-kind and per-route ones follow. */
#define LT_PREMISES "root (stat_refresh); 64 KiB in one FUSE request (fs.fuse.max_pages_limit)"
#define LT_PREMISE_anon "; small pages (MADV_NOHUGEPAGE, no KPF_THP)"
#define LT_PREMISE_anon_shared ""
#define LT_PREMISE_memfd ""
#define LT_PREMISE_tmpfs "; a writable tmpfs"
#define LT_PREMISE_file_private ""
#define LT_PREMISE_thp "; THP not \"never\", a PMD huge page obtained (smaps AnonHugePages)"
#define LT_PREMISE_span "; small pages for its anonymous half"
#define LT_PREMISE_URING "; io_uring allowed (kernel.io_uring_disabled)"
#define LT_PREMISE_BG "; with --mount: 2 background requests (connections/N/max_background)"
#define LT_PREMISE_FIXED LT_PREMISE_URING "; RLIMIT_MEMLOCK >= 64 KiB or CAP_IPC_LOCK"

/* SKIP unless the premises of every pins and lifetime case hold: pins
 * counted exactly (root, stat_refresh), and a request of LT_LEN reaching
 * diofs as one FUSE request (fs.fuse.max_pages_limit). */
void lt_require_premises(void);
/* Is the kernel expected to pin FUSE direct I/O?  (pw_expect_converted;
 * the reason is kept for lt_expect_why.) */
bool lt_converted(void);
const char *lt_expect_why(void);
/* Pins a user-backed request of pages pages is expected to hold. */
static inline int64_t lt_user_pins(size_t pages)
{
	return lt_converted() ? (int64_t)pages : 0;
}
/* A line under the case's result: what was measured, when the case
 * passes with figures worth seeing (e.g. "not converted: 0 pins"). */
/* Number of failures the case has recorded so far (test_failures). */
unsigned int lt_failures(void);

/* The file name diofs holds, as its path in the mount / as diofs sees it. */
int lt_open(const char *name, int flags);

/* Does the file (through the backing directory, or the mount) hold
 * pattern seed at offset foff for len bytes from its offset off?  Records
 * a failure saying where it differs if not. */
void lt_check_file(const char *name, off_t off, size_t len, uint64_t foff, unsigned int seed);
/* All zero?  Records a failure if not. */
void lt_check_zeros(const void *buf, size_t len, const char *what);

/* Cases living in suite_lifetime_proc.c */
#define LT_FORK_CASES(X) \
	X(anon, BUF_ANON) X(anon_shared, BUF_ANON_SHARED) X(memfd, BUF_MEMFD) \
	X(tmpfs, BUF_TMPFS) X(file_private, BUF_FILE_PRIVATE) X(thp, BUF_THP) \
	X(span, BUF_SPAN)
#define LT_DECLARE_FORK(name, kind) void lt_fork_read_##name(void);
LT_FORK_CASES(LT_DECLARE_FORK)
#undef LT_DECLARE_FORK
void lt_child_exit_libaio(void);
void lt_child_exit_uring(void);
void lt_abort_held(void);
/* suite_lifetime_register.c: teardown while the ring registers */
void lt_kill_registering(void);
void lt_abort_registering(void);
void lt_unmount_registering(void);
void lt_umount_idle_registering(void);
void lt_crash_held(void);
void lt_unmount_held(void);
/* Cases living in suite_lifetime_map.c */
void lt_map_dest_munmap(void);
void lt_map_dest_truncate(void);
void lt_map_dest_store(void);

#endif
