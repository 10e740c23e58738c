/* The premises of diofs-check's cases (see premise.h). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/premise.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define CAP_IPC_LOCK_BIT 14
#define CAP_SYS_ADMIN_BIT 21
#define MAX_PAGES 1024          /* of a buffer judged here (4 MiB) */

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* The first line of path, newline cut; 0, or -errno. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int err;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f)) {
		err = ferror(f) ? -EIO : -ENODATA;
		fclose(f);
		return err;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

bool premise_capable(int cap)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long long eff = 0;
	bool found = false;

	if (!f)
		return geteuid() == 0;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %llx", &eff) == 1;
	fclose(f);
	return found ? (eff >> cap) & 1 : geteuid() == 0;
}

/* ---- page frames --------------------------------------------------------- */

static size_t npages(const void *buf, size_t len)
{
	uintptr_t a = (uintptr_t)buf;

	return len ? (a + len - 1) / page_size() - a / page_size() + 1 : 0;
}

/* The page frames of a buffer: pagemap entries of its n pages, and their
 * kpageflags if have_flags. */
struct frames {
	size_t n;
	bool have_flags;
	uint64_t pm[MAX_PAGES], flags[MAX_PAGES];
};

/* The frames of buf's len bytes (page aligned down, at most MAX_PAGES
 * pages) into f (have_flags false if /proc/kpageflags cannot be read or a
 * PFN is hidden).  0, or -1 with why (too many pages, pagemap unreadable). */
static int read_frames(const void *buf, size_t len, struct frames *f, char *why, size_t whylen)
{
	uintptr_t first = (uintptr_t)buf / page_size();
	int fd;
	ssize_t got;

	f->have_flags = false;
	f->n = npages(buf, len);
	if (f->n > MAX_PAGES) {
		snprintf(why, whylen, "the buffer spans %zu pages, at most %d", f->n, MAX_PAGES);
		return -1;
	}
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "cannot read /proc/self/pagemap: %s", strerror(errno));
		return -1;
	}
	got = pread(fd, f->pm, f->n * sizeof(*f->pm), (off_t)(first * sizeof(*f->pm)));
	close(fd);
	if (got != (ssize_t)(f->n * sizeof(*f->pm))) {
		snprintf(why, whylen, "reading /proc/self/pagemap: %s",
			 got < 0 ? strerror(errno) : "short read");
		return -1;
	}
	fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	f->have_flags = true;
	for (size_t i = 0; i < f->n && f->have_flags; i++) {
		uint64_t pfn = PREMISE_PM_PFN(f->pm[i]);

		f->have_flags = pfn && pread(fd, &f->flags[i], sizeof(*f->flags),
					     (off_t)(pfn * sizeof(*f->flags))) == sizeof(*f->flags);
	}
	close(fd);
	return 0;
}

static size_t distinct_pfns(const uint64_t *pm, size_t n)
{
	size_t d = 0;

	for (size_t i = 0; i < n; i++) {
		size_t j = 0;

		while (j < i && PREMISE_PM_PFN(pm[j]) != PREMISE_PM_PFN(pm[i]))
			j++;
		d += j == i;
	}
	return d;
}

/* Are the PFNs visible?  Else why (UNKNOWN) or a page not present (FALSE). */
static enum premise frames_usable(const uint64_t *pm, size_t n, char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		if (!(pm[i] & PREMISE_PM_PRESENT)) {
			snprintf(why, whylen, "page %zu of %zu is not present after being faulted "
				 "in", i, n);
			return PREMISE_FALSE;
		}
		if (!PREMISE_PM_PFN(pm[i])) {
			snprintf(why, whylen, "cannot see page frames: /proc/self/pagemap hides "
				 "PFNs without CAP_SYS_ADMIN");
			return PREMISE_UNKNOWN;
		}
	}
	return PREMISE_HOLDS;
}

/* ---- the shared zero page ------------------------------------------------ */

enum premise premise_classify_zero(const uint64_t *pm, const uint64_t *flags, size_t n,
				   char *why, size_t whylen)
{
	enum premise p = frames_usable(pm, n, why, whylen);
	size_t distinct, zero = 0;

	if (p != PREMISE_HOLDS)
		return p;
	distinct = distinct_pfns(pm, n);
	for (size_t i = 0; flags && i < n; i++)
		zero += (flags[i] >> PREMISE_KPF_ZERO_PAGE & 1) && !(flags[i] >> PREMISE_KPF_THP & 1);
	if (flags && zero == n && distinct == 1)
		return PREMISE_HOLDS;
	if (!flags && distinct == 1) {
		snprintf(why, whylen, "cannot tell the zero page: all %zu pages share one PFN, "
			 "but /proc/kpageflags cannot be read", n);
		return PREMISE_UNKNOWN;
	}
	if (flags && zero == 0)
		snprintf(why, whylen, "this kernel maps no shared zero page for read faults "
			 "(pvm_no_zero_page?): %zu distinct PFNs for %zu pages, none "
			 "KPF_ZERO_PAGE", distinct, n);
	else if (flags)
		snprintf(why, whylen, "not all read-faulted pages are the shared zero page: "
			 "%zu distinct PFNs for %zu pages, %zu KPF_ZERO_PAGE", distinct, n, zero);
	else
		snprintf(why, whylen, "this kernel maps no shared zero page for read faults "
			 "(pvm_no_zero_page?): %zu distinct PFNs for %zu pages", distinct, n);
	return PREMISE_FALSE;
}

enum premise premise_zero_page(const void *buf, size_t len, char *why, size_t whylen)
{
	struct frames f;

	if (read_frames(buf, len, &f, why, whylen) < 0)
		return PREMISE_UNKNOWN;
	return premise_classify_zero(f.pm, f.have_flags ? f.flags : NULL, f.n, why, whylen);
}

/* ---- page size ------------------------------------------------------------ */

long premise_anon_huge_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		long v;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &v) == 1) {
			kb = v;
			break;
		}
	}
	fclose(f);
	return kb;
}

enum premise premise_classify_small(const uint64_t *pm, const uint64_t *flags, size_t n,
				    char *why, size_t whylen)
{
	enum premise p = frames_usable(pm, n, why, whylen);
	size_t huge = 0;

	if (p != PREMISE_HOLDS)
		return p;
	for (size_t i = 0; i < n; i++)
		huge += flags[i] >> PREMISE_KPF_THP & 1;
	if (!huge)
		return PREMISE_HOLDS;
	snprintf(why, whylen, "%zu of %zu pages are in huge pages (KPF_THP) despite "
		 "MADV_NOHUGEPAGE", huge, n);
	return PREMISE_FALSE;
}

enum premise premise_small_pages(const void *buf, size_t len, char *why, size_t whylen)
{
	struct frames f;
	long kb;

	if (read_frames(buf, len, &f, why, whylen) == 0 && f.have_flags)
		return premise_classify_small(f.pm, f.flags, f.n, why, whylen);
	/* no PFNs: PMD huge pages show in smaps, mTHP folios do not */
	kb = premise_anon_huge_kb(buf);
	if (kb > 0) {
		snprintf(why, whylen, "the buffer's mapping has %ld kB AnonHugePages despite "
			 "MADV_NOHUGEPAGE", kb);
		return PREMISE_FALSE;
	}
	snprintf(why, whylen, "cannot tell mTHP folios from small pages: no page frames "
		 "(pagemap hides PFNs without CAP_SYS_ADMIN, or no /proc/kpageflags)");
	return PREMISE_UNKNOWN;
}

enum premise premise_thp(const char *enabled_path, char *why, size_t whylen)
{
	const char *path = enabled_path ? enabled_path
					: "/sys/kernel/mm/transparent_hugepage/enabled";
	char line[256];
	int err = read_line(path, line, sizeof(line));

	if (err == -ENOENT) {
		snprintf(why, whylen, "no %s (kernel without THP)", path);
		return PREMISE_FALSE;
	}
	if (err < 0) {
		snprintf(why, whylen, "reading %s: %s", path, strerror(-err));
		return PREMISE_UNKNOWN;
	}
	if (strstr(line, "[never]")) {
		snprintf(why, whylen, "transparent huge pages disabled (%s: %s)", path, line);
		return PREMISE_FALSE;
	}
	return PREMISE_HOLDS;
}

/* ---- io_uring -------------------------------------------------------------- */

static bool in_group(gid_t g)
{
	gid_t groups[256];
	int n = getgroups(256, groups);

	if (getegid() == g)
		return true;
	for (int i = 0; i < n; i++)
		if (groups[i] == g)
			return true;
	return false;
}

enum premise premise_io_uring(const char *disabled_path, const char *group_path,
			      char *why, size_t whylen)
{
	const char *dpath = disabled_path ? disabled_path : "/proc/sys/kernel/io_uring_disabled";
	const char *gpath = group_path ? group_path : "/proc/sys/kernel/io_uring_group";
	char dis[32] = "", grp[32] = "";
	struct io_uring ring;
	int err = read_line(dpath, dis, sizeof(dis));

	if (err < 0 && err != -ENOENT) {
		snprintf(why, whylen, "reading %s: %s", dpath, strerror(-err));
		return PREMISE_UNKNOWN;
	}
	if (!err && !strcmp(dis, "2")) {
		snprintf(why, whylen, "io_uring is disabled (kernel.io_uring_disabled=2)");
		return PREMISE_FALSE;
	}
	if (!err && !strcmp(dis, "1") && !premise_capable(CAP_SYS_ADMIN_BIT)) {
		long g = read_line(gpath, grp, sizeof(grp)) == 0 ? strtol(grp, NULL, 10) : -1;

		if (g < 0 || !in_group((gid_t)g)) {
			snprintf(why, whylen, "io_uring is limited to CAP_SYS_ADMIN and group %ld "
				 "(kernel.io_uring_disabled=1, kernel.io_uring_group=%ld)", g, g);
			return PREMISE_FALSE;
		}
	}
	if (disabled_path || group_path)
		return PREMISE_HOLDS;
	err = io_uring_queue_init(2, &ring, 0);
	if (err < 0 && premise_memlock_refused(err, "a 2-entry ring", why, whylen) == PREMISE_FALSE)
		return PREMISE_FALSE;   /* rings count as locked memory too */
	if (err < 0) {
		snprintf(why, whylen, "io_uring_queue_init: %s (kernel.io_uring_disabled=%s; a "
			 "kernel without CONFIG_IO_URING, or a seccomp filter?)", strerror(-err),
			 *dis ? dis : "absent");
		return PREMISE_FALSE;
	}
	io_uring_queue_exit(&ring);
	return PREMISE_HOLDS;
}

enum premise premise_memlock(size_t len, char *why, size_t whylen)
{
	struct rlimit rl;

	if (premise_capable(CAP_IPC_LOCK_BIT))
		return PREMISE_HOLDS;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0) {
		snprintf(why, whylen, "getrlimit(RLIMIT_MEMLOCK): %s", strerror(errno));
		return PREMISE_UNKNOWN;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= len)
		return PREMISE_HOLDS;
	snprintf(why, whylen, "io_uring fixed buffers count as locked memory: RLIMIT_MEMLOCK is "
		 "%llu bytes, %zu needed, and no CAP_IPC_LOCK", (unsigned long long)rl.rlim_cur, len);
	return PREMISE_FALSE;
}

enum premise premise_memlock_refused(int err, const char *what, char *why, size_t whylen)
{
	struct rlimit rl;
	char lim[32] = "?";

	if (err != -ENOMEM || premise_capable(CAP_IPC_LOCK_BIT))
		return PREMISE_HOLDS;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
		if (rl.rlim_cur == RLIM_INFINITY)
			snprintf(lim, sizeof(lim), "unlimited");
		else
			snprintf(lim, sizeof(lim), "%llu bytes", (unsigned long long)rl.rlim_cur);
	}
	snprintf(why, whylen, "io_uring refused %s with ENOMEM: without CAP_IPC_LOCK it counts "
		 "against RLIMIT_MEMLOCK (%s), shared by every process of this user", what, lim);
	return PREMISE_FALSE;
}

/* ---- FUSE -------------------------------------------------------------------- */

enum premise premise_max_pages(const char *limit_path, size_t len, char *why, size_t whylen)
{
	const char *path = limit_path ? limit_path : "/proc/sys/fs/fuse/max_pages_limit";
	size_t pages = (len + page_size() - 1) / page_size();
	char line[32];
	long limit;
	int err = read_line(path, line, sizeof(line));

	if (err == -ENOENT)
		return PREMISE_HOLDS;   /* before 6.13: FUSE_MAX_MAX_PAGES, 256 */
	if (err < 0) {
		snprintf(why, whylen, "reading %s: %s", path, strerror(-err));
		return PREMISE_UNKNOWN;
	}
	limit = strtol(line, NULL, 10);
	if (limit >= (long)pages)
		return PREMISE_HOLDS;
	snprintf(why, whylen, "a %zu-byte direct I/O does not fit one FUSE request: "
		 "fs.fuse.max_pages_limit=%ld < %zu pages", len, limit, pages);
	return PREMISE_FALSE;
}

enum premise premise_max_background(const char *mnt, unsigned int n, char *why, size_t whylen)
{
	char path[128], line[32];
	struct stat st;
	long max;
	int err;

	if (stat(mnt, &st) < 0) {
		snprintf(why, whylen, "stat %s: %s", mnt, strerror(errno));
		return PREMISE_UNKNOWN;
	}
	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/max_background",
		 minor(st.st_dev));
	err = read_line(path, line, sizeof(line));
	if (err < 0) {
		snprintf(why, whylen, "reading %s: %s (fusectl not mounted?)", path, strerror(-err));
		return PREMISE_UNKNOWN;
	}
	max = strtol(line, NULL, 10);
	if (max >= (long)n)
		return PREMISE_HOLDS;
	snprintf(why, whylen, "the FUSE connection lets %ld background requests be in flight, "
		 "the case holds %u (%s; fuse.max_user_bgreq caps unprivileged mounts)", max, n,
		 path);
	return PREMISE_FALSE;
}
