#include <config.h>
#include "escape.h"

#include <stdbool.h>
#include <stdio.h>

size_t utf8_seq_len(const unsigned char *s)
{
	size_t n;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* Append one byte, counting it even when out is full. */
static void put(char *out, size_t len, size_t *at, char ch)
{
	if (*at + 1 < len)
		out[*at] = ch;
	(*at)++;
}

size_t term_escape(char *out, size_t len, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t at = 0;

	while (*p) {
		size_t n = utf8_seq_len(p);
		/* U+0080..U+009F: C1 controls (CSI is U+009B). */
		bool c1 = n == 2 && p[0] == 0xc2 && p[1] < 0xa0;

		if (*p == '\\') {
			put(out, len, &at, '\\');
			put(out, len, &at, '\\');
			p++;
		} else if (*p < 0x20 || *p == 0x7f || n == 0 || c1) {
			/* One byte at a time: the rest of a C1 pair is escaped
			 * on its own (a lone continuation byte). */
			put(out, len, &at, '\\');
			put(out, len, &at, 'x');
			put(out, len, &at, hex[*p >> 4]);
			put(out, len, &at, hex[*p & 15]);
			p++;
		} else {
			for (size_t i = 0; i < n; i++)
				put(out, len, &at, (char)*p++);
		}
	}
	if (len)
		out[at < len ? at : len - 1] = '\0';
	return at;
}
