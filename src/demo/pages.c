/* The file's data, page frames, page flags and bytes (see pages.h). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "demo/pages.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- the file's data ---------------------------------------------------- */

uint8_t data_byte(uint64_t off)
{
	char rec[32];
	uint64_t at = off & ~(uint64_t)15;

	snprintf(rec, sizeof(rec), "DATA p%02" PRIu64 " @0x%04" PRIx64, (at / 4096) % 100,
		 at & 0xffff);
	return (uint8_t)rec[off & 15];
}

void data_fill(void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = data_byte(off + i);
}

bool data_matches(const void *p, size_t len, uint64_t off)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != data_byte(off + i))
			return false;
	return true;
}

size_t data_pages(const void *buf, size_t page, size_t pages, bool *ok)
{
	size_t n = 0;

	for (size_t i = 0; i < pages; i++) {
		ok[i] = data_matches((const char *)buf + i * page, page, i * page);
		n += ok[i];
	}
	return n;
}

size_t fill_pages(const void *buf, size_t page, size_t pages, unsigned char fill, bool *ok)
{
	size_t n = 0;

	for (size_t i = 0; i < pages; i++) {
		const unsigned char *p = (const unsigned char *)buf + i * page;
		size_t j = 0;

		while (j < page && p[j] == fill)
			j++;
		ok[i] = j == page;
		n += ok[i];
	}
	return n;
}

/* ---- page frames -------------------------------------------------------- */

#define PM_PRESENT (1ull << 63)
#define PM_PFN_MASK ((1ull << 55) - 1)

int pfns_read_raw(const void *addr, size_t page, size_t pages, uint64_t *pfn)
{
	long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t first = (uint64_t)(uintptr_t)addr / page;

	if (fd < 0)
		return -1;
	for (size_t i = 0; i < pages; i++) {
		uint64_t e = 0;

		if (syscall(SYS_pread64, fd, &e, sizeof(e), (off_t)((first + i) * 8)) != sizeof(e)) {
			syscall(SYS_close, fd);
			return -1;
		}
		pfn[i] = e & PM_PRESENT ? e & PM_PFN_MASK : 0;
	}
	syscall(SYS_close, fd);
	return 0;
}

int pfns_read(const void *addr, size_t page, size_t pages, uint64_t *pfn)
{
	return pfns_read_raw(addr, page, pages, pfn) < 0 ? -errno : 0;
}

const char *pfn_unavailable(void)
{
	static char why[128];
	static uint64_t probe = 1; /* written: present */
	uint64_t pfn;
	int err = pfns_read(&probe, (size_t)sysconf(_SC_PAGESIZE), 1, &pfn);

	if (err < 0) {
		snprintf(why, sizeof(why), "cannot read /proc/self/pagemap: %s", strerror(-err));
		return why;
	}
	if (!pfn)
		return "/proc/self/pagemap shows no frame numbers (needs CAP_SYS_ADMIN)";
	return NULL;
}

size_t pfns_same(const uint64_t *a, const uint64_t *b, size_t n)
{
	size_t same = 0;

	for (size_t i = 0; i < n; i++)
		same += a[i] && a[i] == b[i];
	return same;
}

void pfns_phrase(const uint64_t *pfn, size_t n, char *out, size_t len)
{
	bool run = true;

	if (!n) {
		snprintf(out, len, "none");
		return;
	}
	for (size_t i = 1; i < n; i++)
		run = run && pfn[i] == pfn[i - 1] + 1;
	if (n == 1)
		snprintf(out, len, "0x%" PRIx64, pfn[0]);
	else if (run)
		snprintf(out, len, "0x%" PRIx64 "-0x%" PRIx64, pfn[0], pfn[n - 1]);
	else
		snprintf(out, len, "0x%" PRIx64 ", 0x%" PRIx64 " ... 0x%" PRIx64, pfn[0], pfn[1],
			 pfn[n - 1]);
}

/* ---- page flags --------------------------------------------------------- */

enum {
	KPF_LOCKED = 0, KPF_REFERENCED = 2, KPF_UPTODATE = 3, KPF_DIRTY = 4, KPF_LRU = 5,
	KPF_ACTIVE = 6, KPF_SLAB = 7, KPF_BUDDY = 10, KPF_MMAP = 11, KPF_ANON = 12,
	KPF_SWAPBACKED = 14, KPF_THP = 22, KPF_NOPAGE = 20, KPF_ZERO_PAGE = 24,
};

int kpageflags_read(const uint64_t *pfn, size_t n, uint64_t *flags)
{
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		flags[i] = 0;
		if (pfn[i] && pread(fd, &flags[i], 8, (off_t)(pfn[i] * 8)) != 8) {
			int err = errno ? -errno : -EIO;
			close(fd);
			return err;
		}
	}
	close(fd);
	return 0;
}

const char *frame_state(uint64_t flags)
{
	bool anon = flags >> KPF_ANON & 1, mapped = flags >> KPF_MMAP & 1;

	if (anon && mapped)
		return "mapped";
	if (anon)
		return "unmapped-alive";
	return "released";
}

void kpageflags_phrase(uint64_t flags, char *out, size_t len)
{
	static const struct { int bit; const char *name; } names[] = {
		{ KPF_ANON, "anon" }, { KPF_MMAP, "mmap" }, { KPF_LRU, "lru" },
		{ KPF_ACTIVE, "active" }, { KPF_DIRTY, "dirty" }, { KPF_UPTODATE, "uptodate" },
		{ KPF_SWAPBACKED, "swapbacked" }, { KPF_REFERENCED, "referenced" },
		{ KPF_BUDDY, "buddy" }, { KPF_SLAB, "slab" }, { KPF_LOCKED, "locked" },
		{ KPF_THP, "thp" }, { KPF_ZERO_PAGE, "zero_page" }, { KPF_NOPAGE, "nopage" },
	};
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && used < len; i++)
		if (flags >> names[i].bit & 1)
			used += (size_t)snprintf(out + used, len - used, "%s%s", used ? "," : "",
						 names[i].name);
	if (!used)
		snprintf(out, len, "none");
}

/* ---- bytes -------------------------------------------------------------- */

void hex_phrase(const void *p, size_t n, char *hex, size_t hexlen, char *text, size_t textlen)
{
	const unsigned char *b = p;
	size_t h = 0, t = 0;

	hex[0] = text[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (h < hexlen)
			h += (size_t)snprintf(hex + h, hexlen - h, "%s%02x", i ? " " : "", b[i]);
		if (t + 1 < textlen) {
			text[t++] = b[i] >= 0x20 && b[i] < 0x7f ? (char)b[i] : '.';
			text[t] = '\0';
		}
	}
}

void record_bytes(const char *who, size_t page_index, uint64_t offset, const void *p, size_t n)
{
	char hex[256], text[80];
	struct jbuf j;

	hex_phrase(p, n, hex, sizeof(hex), text, sizeof(text));
	jb_init(&j);
	jb_str(&j, "who", who);
	jb_u64(&j, "page", page_index);
	jb_u64(&j, "offset", offset);
	jb_str(&j, "hex", hex);
	jb_str(&j, "text", text);
	ev_record("bytes", &j);
}

void record_pages(const char *who, const char *what, const char *const *states, size_t n)
{
	char arr[2048];
	size_t used = 0;
	struct jbuf j;

	used += (size_t)snprintf(arr, sizeof(arr), "[");
	for (size_t i = 0; i < n && used < sizeof(arr); i++)
		used += (size_t)snprintf(arr + used, sizeof(arr) - used, "%s\"%s\"", i ? "," : "",
					 states[i]);
	if (used < sizeof(arr))
		snprintf(arr + used, sizeof(arr) - used, "]");
	jb_init(&j);
	jb_str(&j, "who", who);
	jb_str(&j, "what", what);
	jb_raw(&j, "states", arr);
	ev_record("pages", &j);
}

void record_page_flags(const char *who, const char *what, const bool *ok, size_t n,
		       const char *yes, const char *no)
{
	const char *states[256];

	if (n > 256)
		n = 256;
	for (size_t i = 0; i < n; i++)
		states[i] = ok[i] ? yes : no;
	record_pages(who, what, states, n);
}
