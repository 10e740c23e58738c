/* The buffer kinds of the lifetime cases (see buffers.h). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/buffers.h"
#include "harness/pattern.h"
#include "check/premise.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static const char *const kind_names[BUF_NKINDS] = {
	[BUF_ANON] = "anon", [BUF_ANON_SHARED] = "anon_shared", [BUF_MEMFD] = "memfd",
	[BUF_TMPFS] = "tmpfs", [BUF_FILE_PRIVATE] = "file_private", [BUF_THP] = "thp",
	[BUF_SPAN] = "span",
};

const char *buf_kind_name(enum buf_kind k)
{
	return k < BUF_NKINDS ? kind_names[k] : "?";
}

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static int fail(char *why, size_t len, const char *what)
{
	snprintf(why, len, "%s: %s", what, strerror(errno));
	return -1;
}

static void fill(void *p, size_t len, uint64_t off, unsigned int seed)
{
	uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		b[i] = pattern_byte(off + i, seed);
}

const char *buf_tmpfs_dir(void)
{
	static char found[PATH_MAX];
	const char *cands[] = { getenv("TMPDIR"), "/dev/shm", "/tmp", "/run", "/var/tmp" };
	struct statfs sf;

	if (found[0])
		return found;
	for (size_t i = 0; i < sizeof(cands) / sizeof(*cands); i++)
		if (cands[i] && statfs(cands[i], &sf) == 0 && sf.f_type == TMPFS_MAGIC &&
		    access(cands[i], W_OK) == 0) {
			snprintf(found, sizeof(found), "%s", cands[i]);
			return found;
		}
	return NULL;
}

/* A file of len bytes holding the initial content: memfd, or a named file
 * in dir (path filled). */
static int make_file(struct buf *b, const char *dir, size_t off_in_buf, size_t len,
		     char *why, size_t whylen)
{
	uint8_t *tmp = malloc(len);
	int fd;

	if (!tmp) {
		errno = ENOMEM;
		return fail(why, whylen, "buffer content");
	}
	if (dir) {
		snprintf(b->path, sizeof(b->path), "%s/diofs-check-buf.XXXXXX", dir);
		fd = mkostemp(b->path, O_CLOEXEC);
		if (fd < 0) {
			free(tmp);
			b->path[0] = '\0';
			return fail(why, whylen, "mkostemp");
		}
	} else {
		fd = memfd_create("diofs-check-buf", MFD_CLOEXEC);
		if (fd < 0) {
			free(tmp);
			return fail(why, whylen, "memfd_create");
		}
	}
	fill(tmp, len, BUF_FILL_OFF + off_in_buf, b->seed);
	if (pwrite(fd, tmp, len, 0) != (ssize_t)len) {
		free(tmp);
		close(fd);
		return fail(why, whylen, "writing the buffer's file");
	}
	free(tmp);
	return fd;
}

/* Map part p at addr (MAP_FIXED if addr) and fault it in. */
static int map_part(struct buf *b, struct buf_part *p, char *addr, size_t len,
		    enum buf_kind k, size_t off_in_buf, char *why, size_t whylen)
{
	int flags = addr ? MAP_FIXED : 0, prot = PROT_READ | PROT_WRITE;
	volatile char sink;
	void *m;

	p->fd = -1;
	p->len = len;
	switch (k) {
	case BUF_ANON:
		p->refault = REFAULT_ZEROS;
		m = mmap(addr, len, prot, flags | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		/* small pages: with THP or mTHP "always" the anon kind would be
		 * the thp kind under another name */
		if (m != MAP_FAILED && madvise(m, len, MADV_NOHUGEPAGE) < 0) {
			int err = errno;
			munmap(m, len);
			errno = err;
			return fail(why, whylen, "madvise(MADV_NOHUGEPAGE)");
		}
		break;
	case BUF_ANON_SHARED:
		p->shared = true;
		p->refault = REFAULT_DATA;
		m = mmap(addr, len, prot, flags | MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		break;
	case BUF_MEMFD:
	case BUF_TMPFS:
	case BUF_FILE_PRIVATE: {
		const char *dir = NULL;

		if (k == BUF_TMPFS && !(dir = buf_tmpfs_dir())) {
			snprintf(why, whylen, "no writable tmpfs ($TMPDIR, /dev/shm, /tmp, /run)");
			return 1;
		}
		if (k == BUF_FILE_PRIVATE && !(dir = getenv("TMPDIR")))
			dir = "/tmp";
		p->fd = make_file(b, dir, off_in_buf, len, why, whylen);
		if (p->fd < 0)
			return -1;
		p->shared = k != BUF_FILE_PRIVATE;
		p->refault = p->shared ? REFAULT_DATA : REFAULT_ORIGINAL;
		m = mmap(addr, len, prot, flags | (p->shared ? MAP_SHARED : MAP_PRIVATE), p->fd, 0);
		break;
	}
	default:
		errno = EINVAL;
		return fail(why, whylen, "map_part");
	}
	if (m == MAP_FAILED)
		return fail(why, whylen, "mmap");
	p->map = p->addr = m;
	p->maplen = len;
	p->mapped = true;
	if (p->fd < 0) {
		fill(m, len, BUF_FILL_OFF + off_in_buf, b->seed);
		if (k == BUF_ANON && premise_small_pages(m, len, why, whylen) != PREMISE_HOLDS)
			return 1;
	} else {
		/* read-fault: shared pages are the file's, private ones stay
		 * file pages until written (a read into them breaks COW) */
		for (size_t i = 0; i < len; i += page_size())
			sink = ((volatile char *)m)[i];
		(void)sink;
	}
	return 0;
}

int buf_new(struct buf *b, enum buf_kind k, size_t len, unsigned int seed,
	    char *why, size_t whylen)
{
	int r;

	memset(b, 0, sizeof(*b));
	b->kind = k;
	b->len = len;
	b->seed = seed;
	b->thp_kb = -1;
	b->part[0].fd = b->part[1].fd = -1;
	switch (k) {
	case BUF_THP: {
		size_t size = BUF_THP_SIZE;
		char *m, *aligned;

		if (premise_thp(NULL, why, whylen) != PREMISE_HOLDS)
			return 1;
		if (len > size) {
			snprintf(why, whylen, "a THP buffer holds at most 2 MiB");
			return -1;
		}
		m = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return fail(why, whylen, "mmap");
		aligned = (char *)(((uintptr_t)m + size - 1) & ~(uintptr_t)(size - 1));
		if (aligned > m)
			munmap(m, (size_t)(aligned - m));
		if (aligned + size < m + 2 * size)
			munmap(aligned + size, (size_t)(m + 2 * size - (aligned + size)));
		b->nparts = 1;
		b->part[0] = (struct buf_part){ .addr = aligned, .len = len, .map = aligned,
						.maplen = size, .mapped = true, .fd = -1,
						.refault = REFAULT_ZEROS };
		b->addr = aligned;
		if (madvise(aligned, size, MADV_HUGEPAGE) < 0) {
			int err = errno;
			buf_free(b);
			errno = err;
			return fail(why, whylen, "madvise(MADV_HUGEPAGE)");
		}
		/* one write faults the whole huge page in */
		fill(aligned, size, BUF_FILL_OFF, seed);
		b->thp_kb = premise_anon_huge_kb(aligned);
		if (b->thp_kb < 2048) {
			snprintf(why, whylen, "no huge page for the 2 MiB aligned region after "
				 "MADV_HUGEPAGE (AnonHugePages %ld kB; THP defrag setting or "
				 "fragmented memory?)", b->thp_kb);
			buf_free(b);
			return 1;
		}
		return 0;
	}
	case BUF_SPAN: {
		size_t half = len / 2;
		char *m;

		if (len % (2 * page_size())) {
			snprintf(why, whylen, "a span buffer's size is a multiple of 2 pages");
			return -1;
		}
		/* reserve the range, then lay both mappings over it */
		m = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return fail(why, whylen, "mmap");
		b->nparts = 2;
		b->addr = m;
		r = map_part(b, &b->part[0], m, half, BUF_ANON, 0, why, whylen);
		if (!r)
			r = map_part(b, &b->part[1], m + half, half, BUF_MEMFD, half, why, whylen);
		if (r) {
			if (!b->part[0].mapped)
				munmap(m, len);
			else if (!b->part[1].mapped)
				munmap(m + half, half);
			buf_free(b);
			return r;
		}
		return 0;
	}
	default:
		b->nparts = 1;
		r = map_part(b, &b->part[0], NULL, len, k, 0, why, whylen);
		if (r) {
			buf_free(b);
			return r;
		}
		b->addr = b->part[0].addr;
		return 0;
	}
}

void buf_free(struct buf *b)
{
	for (int i = 0; i < b->nparts; i++) {
		struct buf_part *p = &b->part[i];

		if (p->mapped)
			munmap(p->map, p->maplen);
		p->mapped = false;
		if (p->fd >= 0)
			close(p->fd);
		p->fd = -1;
	}
	if (b->path[0])
		unlink(b->path);
	b->path[0] = '\0';
	b->nparts = 0;
}

int buf_unmap(struct buf *b, char *why, size_t whylen)
{
	for (int i = 0; i < b->nparts; i++) {
		struct buf_part *p = &b->part[i];

		if (p->mapped && munmap(p->map, p->maplen) < 0)
			return fail(why, whylen, "munmap");
		p->mapped = false;
	}
	return 0;
}

int buf_unmap_half(struct buf *b, char *why, size_t whylen)
{
	char *half = b->addr + b->len / 2;

	if ((uintptr_t)half % page_size()) {
		snprintf(why, whylen, "half the buffer is not at a page boundary");
		return -1;
	}
	if (munmap(half, b->len - b->len / 2) < 0)
		return fail(why, whylen, "munmap");
	/* what is left mapped of each part */
	for (int i = 0; i < b->nparts; i++) {
		struct buf_part *p = &b->part[i];

		if (!p->mapped)
			continue;
		if (p->map >= half) {
			p->mapped = false;      /* it was all in the second half */
		} else if (p->map + p->maplen > half) {
			/* keep what precedes half; a THP region keeps its tail
			 * beyond the I/O range mapped too */
			char *tail = b->addr + b->len, *end = p->map + p->maplen;
			if (end > tail)
				munmap(tail, (size_t)(end - tail));
			p->maplen = (size_t)(half - p->map);
			if (p->addr + p->len > half)
				p->len = (size_t)(half - p->addr);
		}
	}
	return 0;
}

int buf_madvise(struct buf *b, int advice, char *why, size_t whylen)
{
	if (madvise(b->addr, b->len, advice) < 0)
		return fail(why, whylen, "madvise");
	return 0;
}

int buf_mprotect(struct buf *b, int prot, char *why, size_t whylen)
{
	for (int i = 0; i < b->nparts; i++)
		if (b->part[i].mapped && mprotect(b->part[i].map, b->part[i].maplen, prot) < 0)
			return fail(why, whylen, "mprotect");
	return 0;
}

int buf_mremap(struct buf *b, char *why, size_t whylen)
{
	size_t total = 0, align = b->kind == BUF_THP ? BUF_THP_SIZE : page_size();
	char *res, *dst;

	for (int i = 0; i < b->nparts; i++)
		total += b->part[i].maplen;
	/* reserve a new range (aligned like the old one), move each part in */
	res = mmap(NULL, total + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		return fail(why, whylen, "mmap");
	dst = (char *)(((uintptr_t)res + align - 1) & ~(uintptr_t)(align - 1));
	if (dst > res)
		munmap(res, (size_t)(dst - res));
	if (dst + total < res + total + align)
		munmap(dst + total, (size_t)(res + total + align - (dst + total)));
	b->addr = dst + (b->addr - b->part[0].map);
	for (int i = 0; i < b->nparts; i++) {
		struct buf_part *p = &b->part[i];
		char *m = mremap(p->map, p->maplen, p->maplen, MREMAP_MAYMOVE | MREMAP_FIXED, dst);

		if (m == MAP_FAILED)
			return fail(why, whylen, "mremap");
		p->addr = m + (p->addr - p->map);
		p->map = m;
		dst += p->maplen;
	}
	return 0;
}
