/* The assertions (see expect.h): each formats what it saw and hands it to
 * the runner (runner.c), which keeps it with the case's result. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "harness/expect.h"
#include "harness/pattern.h"
#include "harness/runner.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_MAX 2048

const char *expect_errname(int err)
{
	static __thread char buf[32];
	const char *n = err ? strerrorname_np(err) : "0";

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

/* Record "file:line: what"; a fatal failure ends the case. */
static void fail_v(const char *file, unsigned int line, bool fatal, const char *fmt, va_list ap)
{
	char msg[MSG_MAX];
	int at = snprintf(msg, sizeof(msg), "%s:%u: ", file, line);

	vsnprintf(msg + at, sizeof(msg) - (size_t)at, fmt, ap);
	if (!test_in_case()) {
		fprintf(stderr, "%s\n", msg);
		if (fatal)
			exit(1);
		return;
	}
	test_record_failure(msg);
	if (fatal)
		test_end_case();
}

static void fail(const char *file, unsigned int line, bool fatal, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fail(const char *file, unsigned int line, bool fatal, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fail_v(file, line, fatal, fmt, ap);
	va_end(ap);
}

bool expect_true(bool ok, bool fatal, const char *file, unsigned int line, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return true;
	va_start(ap, fmt);
	fail_v(file, line, fatal, fmt, ap);
	va_end(ap);
	return false;
}

void expect_failf(const char *file, unsigned int line, bool fatal, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fail_v(file, line, fatal, fmt, ap);
	va_end(ap);
}

bool expect_eq(intmax_t actual, intmax_t expected, const char *actual_text,
	       const char *expected_text, const char *file, unsigned int line, bool fatal)
{
	if (actual == expected)
		return true;
	fail(file, line, fatal, "%s == %s: got %jd (%#jx), want %jd (%#jx)", actual_text,
	     expected_text, actual, actual, expected, expected);
	return false;
}

bool expect_str(const char *actual, const char *expected, const char *actual_text,
		const char *expected_text, const char *file, unsigned int line)
{
	if (actual && expected && !strcmp(actual, expected))
		return true;
	fail(file, line, false, "%s == %s: got \"%s\", want \"%s\"", actual_text, expected_text,
	     actual ? actual : "(null)", expected ? expected : "(null)");
	return false;
}

bool expect_mem(const void *got, const void *want, size_t n, const char *file,
		unsigned int line, const char *fmt, ...)
{
	const unsigned char *g = got, *w = want;
	char what[1024];
	size_t i, bad = 0;
	va_list ap;

	for (i = 0; i < n && g[i] == w[i]; i++)
		;
	if (i == n)
		return true;
	for (size_t j = i; j < n; j++)
		bad += g[j] != w[j];
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fail(file, line, false,
	     "%s: %zu of %zu bytes differ, the first at offset %zu: got %#04x, want %#04x",
	     what, bad, n, i, g[i], w[i]);
	return false;
}

bool expect_pattern(const void *buf, size_t len, uint64_t off, uint64_t seed,
		    const char *what, const char *file, unsigned int line)
{
	const uint8_t *b = buf;
	ssize_t first = pattern_mismatch(buf, len, off, seed);
	size_t bad, zeros;

	if (first < 0)
		return true;
	bad = pattern_count_bad(buf, len, off, seed, &zeros);
	fail(file, line, false,
	     "%s: %zu of %zu bytes differ from pattern %ju of [%ju, %ju)%s; first at file "
	     "offset %ju: got 0x%02x, want 0x%02x", what, bad, len, (uintmax_t)seed,
	     (uintmax_t)off, (uintmax_t)(off + len), zeros == bad ? " (all zero)" : "",
	     (uintmax_t)(off + (size_t)first), b[first],
	     pattern_byte(off + (size_t)first, seed));
	return false;
}

bool expect_ok(long long result, int err, const char *expr, const char *file,
	       unsigned int line, bool fatal)
{
	if (result >= 0)
		return true;
	fail(file, line, fatal, "%s: got %lld (%s), want success", expr, result,
	     expect_errname(err));
	return false;
}

bool expect_err(long long result, int err, int want, const char *expr,
		const char *file, unsigned int line)
{
	if (result == -1 && err == want)
		return true;
	fail(file, line, false, "%s: got %lld (%s), want -1 (%s)", expr, result,
	     result == -1 ? expect_errname(err) : "no error", expect_errname(want));
	return false;
}

/* The text of a SKIP or a NOTE. */
#define FORMAT(buf, fmt) do {                   \
	va_list ap_;                            \
	va_start(ap_, fmt);                     \
	vsnprintf(buf, sizeof(buf), fmt, ap_);  \
	va_end(ap_);                            \
} while (0)

void expect_skip(const char *fmt, ...)
{
	char why[512];

	FORMAT(why, fmt);
	if (test_in_case()) {
		test_record_skip(why);
		test_end_case();
	}
	fprintf(stderr, "SKIP: %s\n", why);
	exit(77);
}

void expect_note(const char *fmt, ...)
{
	char msg[MSG_MAX];

	FORMAT(msg, fmt);
	if (test_in_case())
		test_record_note(msg);
	else
		fprintf(stderr, "NOTE: %s\n", msg);
}
