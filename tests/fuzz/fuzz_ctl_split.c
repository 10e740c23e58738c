/* libFuzzer target: the control protocol's word splitter, errno names, and
 * the terminal escaping of what diofsctl prints.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE \
 *     -I. -Isrc tests/fuzz/fuzz_ctl_split.c src/proto/ctl.c src/proto/errnames.c \
 *     src/proto/escape.c \
 *     -o fuzz_ctl_split
 *   mkdir -p work && ./fuzz_ctl_split work tests/fuzz/corpus/ctl_split
 */
#include <config.h>

#include "proto/ctl.h"
#include "proto/errnames.h"
#include "proto/escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_WORDS 8

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool blank(char ch)
{
	return ch && strchr(" \t\r\n\v\f", ch);
}

/* The words of s counted the slow way. */
static int count_words(const char *s)
{
	int n = 0;

	for (size_t i = 0; s[i]; i++)
		if (!blank(s[i]) && (i == 0 || blank(s[i - 1])))
			n++;
	return n;
}

/* The line as diofsctl would print it: no control byte reaches the
 * terminal, at most 4 bytes per byte, and a short buffer holds a prefix of
 * the whole result. */
static void check_escape(const char *s)
{
	size_t len = strlen(s), cap = 4 * len + 1, n, cut;
	char *out = malloc(cap), *small;

	check(out != NULL);
	n = term_escape(out, cap, s);
	check(n <= 4 * len && strlen(out) == n);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)out[i];

		check(ch >= 0x20 && ch != 0x7f);
		/* C1 controls as UTF-8 never pass (U+0080..U+009F). */
		check(!(ch == 0xc2 && i + 1 < n && (unsigned char)out[i + 1] < 0xa0));
		/* Printable UTF-8 passes whole: what is not UTF-8 is escaped. */
		if (ch >= 0x80) {
			size_t k = utf8_seq_len((const unsigned char *)out + i);

			check(k >= 2);
			i += k - 1;
		}
	}
	/* Nothing is lost: \\ and \xNN decode back to s. */
	{
		char *back = malloc(len + 1);
		size_t b = 0;

		check(back != NULL);
		for (size_t i = 0; i < n; b++) {
			if (out[i] != '\\') {
				back[b] = out[i++];
			} else if (out[i + 1] == '\\') {
				back[b] = '\\';
				i += 2;
			} else {
				check(out[i + 1] == 'x' && i + 3 < n + 1);
				back[b] = (char)strtol((char[]){ out[i + 2], out[i + 3], 0 }, NULL, 16);
				i += 4;
			}
			check(b < len);
		}
		check(b == len && memcmp(back, s, len) == 0);
		free(back);
	}
	cut = len % 7;
	small = malloc(cut + 1);
	check(small != NULL);
	check(term_escape(small, cut + 1, s) == n);
	check(strncmp(small, out, cut) == 0 && strlen(small) == (n < cut ? n : cut));
	free(small);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1), *copy, *argv[MAX_WORDS];
	int n, want, e;

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	copy = strdup(line);
	check(copy != NULL);
	want = count_words(copy);

	check_escape(line);
	n = ctl_split(line, argv, MAX_WORDS);
	check(n == (want > MAX_WORDS ? -1 : want));
	for (int i = 0; i < n; i++) {
		size_t len = strlen(argv[i]);

		/* A word lies inside the line, is not empty and has no blanks. */
		check(argv[i] >= line && argv[i] + len <= line + size);
		check(len > 0);
		for (size_t j = 0; j < len; j++)
			check(!blank(argv[i][j]));
		check(memcmp(argv[i], copy + (argv[i] - line), len) == 0);
		if (i > 0)
			check(argv[i] > argv[i - 1]);

		/* Words are what errno names are looked up from. */
		e = errno_from_name(argv[i]);
		check(e == -1 || (e > 0 && e < 1000));
		if (e > 0 && strcmp(errno_name(e), "E?") != 0)
			check(errno_from_name(errno_name(e)) == e);
	}
	free(copy);
	free(line);
	return 0;
}
