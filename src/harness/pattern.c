/* The one data pattern (see pattern.h). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "harness/pattern.h"

#include <string.h>

/* splitmix64's finaliser over (seed, word index): neighbouring words and
 * seeds give unrelated bytes, and no word is all zero in practice. */
static uint64_t pattern_word(uint64_t word, uint64_t seed)
{
	uint64_t x = word * 0x9e3779b97f4a7c15ULL + seed * 0xbf58476d1ce4e5b9ULL + 1;

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

uint8_t pattern_byte(uint64_t off, uint64_t seed)
{
	return (uint8_t)(pattern_word(off / 8, seed) >> (8 * (off % 8)));
}

void pattern_fill(void *buf, size_t len, uint64_t off, uint64_t seed)
{
	uint8_t *p = buf;
	size_t i = 0;

	/* the head up to a word boundary, whole words, the tail */
	for (; i < len && (off + i) % 8; i++)
		p[i] = pattern_byte(off + i, seed);
	for (; len - i >= 8; i += 8) {
		uint64_t w = pattern_word((off + i) / 8, seed);

		for (unsigned int b = 0; b < 8; b++)
			p[i + b] = (uint8_t)(w >> (8 * b));
	}
	for (; i < len; i++)
		p[i] = pattern_byte(off + i, seed);
}

/* Compare a chunk at a time against a filled copy (memcmp is fast). */
#define CHUNK 4096

ssize_t pattern_mismatch(const void *buf, size_t len, uint64_t off, uint64_t seed)
{
	const uint8_t *p = buf;
	uint8_t want[CHUNK];

	for (size_t at = 0; at < len; at += CHUNK) {
		size_t n = len - at < CHUNK ? len - at : CHUNK;

		pattern_fill(want, n, off + at, seed);
		if (!memcmp(p + at, want, n))
			continue;
		for (size_t i = 0; i < n; i++)
			if (p[at + i] != want[i])
				return (ssize_t)(at + i);
	}
	return -1;
}

size_t pattern_count_bad(const void *buf, size_t len, uint64_t off, uint64_t seed,
			 size_t *zeros)
{
	const uint8_t *p = buf;
	ssize_t first = pattern_mismatch(buf, len, off, seed);
	size_t bad = 0, zero = 0;

	/* a failure's figures: byte by byte from the first difference on */
	for (size_t i = first < 0 ? len : (size_t)first; i < len; i++)
		if (p[i] != pattern_byte(off + i, seed)) {
			bad++;
			zero += p[i] == 0;
		}
	if (zeros)
		*zeros = zero;
	return bad;
}
