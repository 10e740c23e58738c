/* What the demo looks at in memory: the file's data, which page frames back
 * a buffer (/proc/self/pagemap), what the kernel says about a frame
 * (/proc/kpageflags), and bytes to show. */
#ifndef DIOFS_DEMO_PAGES_H
#define DIOFS_DEMO_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "demo/events.h"

/* The file's data: 16-byte records "DATA p03 @0x3010" naming the page and
 * offset they stand at, so that a page in the wrong place shows. */
uint8_t data_byte(uint64_t off);
void data_fill(void *buf, size_t len, uint64_t off);
/* Does [p, p+len) hold the file's data of [off, off+len)? */
bool data_matches(const void *p, size_t len, uint64_t off);
/* For each page of buf: does it hold the file's data (file offset 0 at
 * buf)?  Fills ok[i]; returns how many do. */
size_t data_pages(const void *buf, size_t page, size_t pages, bool *ok);
/* For each page: is every byte of it fill? */
size_t fill_pages(const void *buf, size_t page, size_t pages, unsigned char fill, bool *ok);

/* Frame numbers of the pages of [addr, addr + pages * page) in this
 * process (0: not present).  NULL, or why they cannot be read (PFNs read as
 * 0 without CAP_SYS_ADMIN). */
const char *pfn_unavailable(void);
int pfns_read(const void *addr, size_t page, size_t pages, uint64_t *pfn);
/* The same, with raw syscalls only (for a forked child of a threaded
 * process); -1 on failure. */
int pfns_read_raw(const void *addr, size_t page, size_t pages, uint64_t *pfn);
/* How many of a[i] equal b[i]. */
size_t pfns_same(const uint64_t *a, const uint64_t *b, size_t n);
/* "0x1a2b3-0x1a2c2" when consecutive, else the first and last and "...". */
void pfns_phrase(const uint64_t *pfn, size_t n, char *out, size_t len);

/* /proc/kpageflags of each frame (0 when pfn is 0); -errno. */
int kpageflags_read(const uint64_t *pfn, size_t n, uint64_t *flags);
/* What a frame holds, in a word: "mapped" (an anonymous page mapped by
 * someone), "unmapped-alive" (an anonymous page mapped by no one: only a
 * reference keeps it), "free" (back with the page allocator), "other"
 * (anything else, e.g. reused). */
const char *frame_state(uint64_t flags);
/* "anon,lru,mmap" */
void kpageflags_phrase(uint64_t flags, char *out, size_t len);

/* The first n bytes at p as "44 41 54 41 ..." and as text ('.' for bytes
 * that do not print). */
void hex_phrase(const void *p, size_t n, char *hex, size_t hexlen, char *text, size_t textlen);
/* A "bytes" record: who ("expected", "parent"...), page, the first bytes. */
void record_bytes(const char *who, size_t page_index, uint64_t offset, const void *p, size_t n);
/* A "pages" record: one state word per page. */
void record_pages(const char *who, const char *what, const char *const *states, size_t n);
/* A "pages" record from booleans: yes / no words. */
void record_page_flags(const char *who, const char *what, const bool *ok, size_t n,
		       const char *yes, const char *no);

#endif
