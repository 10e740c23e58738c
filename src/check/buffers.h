/* The kinds of user memory a direct I/O can land in, for the lifetime
 * cases: each made, faulted in, and changed under a held request (unmapped,
 * remapped, madvised, moved, protected).  No assertions here. */
#ifndef DIOFS_CHECK_BUFFERS_H
#define DIOFS_CHECK_BUFFERS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum buf_kind {
	BUF_ANON,               /* MAP_PRIVATE | MAP_ANONYMOUS, MADV_NOHUGEPAGE */
	BUF_ANON_SHARED,        /* MAP_SHARED | MAP_ANONYMOUS (shmem) */
	BUF_MEMFD,              /* MAP_SHARED of a memfd */
	BUF_TMPFS,              /* MAP_SHARED of a named file on a tmpfs */
	BUF_FILE_PRIVATE,       /* MAP_PRIVATE of a regular file, read-faulted */
	BUF_THP,                /* anonymous, 2 MiB aligned, MADV_HUGEPAGE */
	BUF_SPAN,               /* first half BUF_ANON, second half BUF_MEMFD */
	BUF_NKINDS
};

/* What a part holds after MADV_DONTNEED once the read completed. */
enum buf_refault {
	REFAULT_ZEROS,          /* private anonymous: the data went with the page */
	REFAULT_DATA,           /* shared: the page cache page kept the data */
	REFAULT_ORIGINAL,       /* private file: the file's own bytes again */
};

struct buf_part {
	char *addr;             /* its first byte of the I/O range */
	size_t len;             /* of the I/O range */
	char *map;              /* the whole mapping (THP: the 2 MiB region) */
	size_t maplen;
	bool mapped;
	bool shared;
	int fd;                 /* backing file, -1 for anonymous */
	enum buf_refault refault;
};

struct buf {
	enum buf_kind kind;
	char *addr;             /* the I/O range [addr, addr + len) */
	size_t len;
	int nparts;
	struct buf_part part[2];
	char path[PATH_MAX];    /* named file (BUF_TMPFS, BUF_FILE_PRIVATE), unlinked at free */
	unsigned int seed;      /* its initial content: pattern seed at BUF_FILL_OFF */
	long thp_kb;            /* BUF_THP: AnonHugePages of the region, kB */
};

/* Initial content is the data pattern (harness/pattern.h) of seed at this offset: never the
 * file's data at offset 0. */
#define BUF_FILL_OFF 0x40000000ull
#define BUF_THP_SIZE (2u << 20)

const char *buf_kind_name(enum buf_kind k);    /* "anon", "memfd", ... */

/* Make a buffer of kind k, len bytes (a multiple of twice the page size
 * for BUF_SPAN), holding its initial content (seed), every page present.
 * 0; 1 when the kind cannot be had here (why: the reason to skip: no THP
 * for BUF_THP, a huge page despite MADV_NOHUGEPAGE for BUF_ANON); -1 on
 * error (why). */
int buf_new(struct buf *b, enum buf_kind k, size_t len, unsigned int seed,
	    char *why, size_t whylen);
void buf_free(struct buf *b);

/* The changes made while a request is held.  0 or -1 with why. */
int buf_unmap(struct buf *b, char *why, size_t whylen);
int buf_unmap_half(struct buf *b, char *why, size_t whylen);    /* the second half */
int buf_madvise(struct buf *b, int advice, char *why, size_t whylen);
int buf_mprotect(struct buf *b, int prot, char *why, size_t whylen);
/* Move every part to a new address (the layout kept); b->addr follows. */
int buf_mremap(struct buf *b, char *why, size_t whylen);

/* A tmpfs directory to make files in ($TMPDIR, /dev/shm, /tmp, /run), or
 * NULL. */
const char *buf_tmpfs_dir(void);

#endif
