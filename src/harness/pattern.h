/* The one data pattern of the tests: the byte at file offset off depends on
 * the seed and on off, so data read from the wrong place, stale data, zeros
 * and another file's data all show.  Every 8-byte word is one mix of
 * (seed, off / 8): a fill costs one multiply chain per word.  Writers fill
 * a buffer as it will lie in the file (off is the offset of buf[0]);
 * readers ask where the first byte differs. */
#ifndef DIOFS_HARNESS_PATTERN_H
#define DIOFS_HARNESS_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The byte at file offset off of pattern seed. */
uint8_t pattern_byte(uint64_t off, uint64_t seed);
/* len bytes of the pattern as they lie at [off, off + len). */
void pattern_fill(void *buf, size_t len, uint64_t off, uint64_t seed);
/* The index in buf of the first byte that differs from the pattern of
 * [off, off + len), or -1 if none does. */
ssize_t pattern_mismatch(const void *buf, size_t len, uint64_t off, uint64_t seed);
/* How many bytes differ, and (zeros, if not NULL) how many of those are 0:
 * "all zero" tells a hole or an unwritten page from misplaced data. */
size_t pattern_count_bad(const void *buf, size_t len, uint64_t off, uint64_t seed,
			 size_t *zeros);

#endif
