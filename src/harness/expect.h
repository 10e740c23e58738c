/* The assertions of every test program (the runner's, runner.h, and
 * diofs-check's suites).  A failure is recorded as "file:line: what was
 * seen, what was wanted" and the case goes on; the REQUIRE and FATAL forms
 * end the case (in the runner's child: its deferred cleanups run, then it
 * exits failed).  Each CHECK evaluates to whether it held, so
 *     if (!CHECK_EQ(n, 4096)) return;
 * works; CHECK_OK/REQUIRE_OK evaluate to the call's result.
 *
 *   CHECK(cond, fmt, ...)       REQUIRE(cond, fmt, ...)
 *   CHECK_OK(call)              REQUIRE_OK(call)     result >= 0, else errno
 *   CHECK_ERR(call, errno)      -1 with that errno
 *   CHECK_EQ(actual, expected)  REQUIRE_EQ(...)      as integers
 *   CHECK_STR(actual, expected) CHECK_MEM(got, want, n, fmt, ...)
 *   CHECK_PATTERN(buf, len, off, seed)   holds pattern.h's data
 *   CHECK_FAILF(fmt, ...)       CHECK_FATALF(fmt, ...)   a failure, in words
 *   SKIP(fmt, ...)              ends the case as skipped (a premise about
 *                               the machine does not hold); a case that
 *                               failed before still fails
 *   NOTE(fmt, ...)              a figure kept with the result
 * Outside a runner's case a failure is printed on stderr (the FATAL forms
 * then exit 1).  From the case's own thread, or any thread of its child. */
#ifndef DIOFS_HARNESS_EXPECT_H
#define DIOFS_HARNESS_EXPECT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool expect_true(bool ok, bool fatal, const char *file, unsigned int line,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void expect_failf(const char *file, unsigned int line, bool fatal, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
bool expect_eq(intmax_t actual, intmax_t expected, const char *actual_text,
	       const char *expected_text, const char *file, unsigned int line, bool fatal);
bool expect_str(const char *actual, const char *expected, const char *actual_text,
		const char *expected_text, const char *file, unsigned int line);
bool expect_mem(const void *got, const void *want, size_t n, const char *file,
		unsigned int line, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
bool expect_pattern(const void *buf, size_t len, uint64_t off, uint64_t seed,
		    const char *what, const char *file, unsigned int line);
bool expect_ok(long long result, int err, const char *expr, const char *file,
	       unsigned int line, bool fatal);
bool expect_err(long long result, int err, int want, const char *expr,
		const char *file, unsigned int line);
void expect_skip(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void expect_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "ENOENT" for ENOENT, "0" for 0, "errno 4242" for what has no name. */
const char *expect_errname(int err);

/* A fatal form that failed has ended the case (or exited): telling the
 * compiler spares the caller initialisers for what follows only a pass. */
#define EXPECT_FATAL_(ok) ((ok) ? true : (__builtin_unreachable(), false))

#define CHECK(cond, ...) expect_true(!!(cond), false, __FILE__, __LINE__, __VA_ARGS__)
#define REQUIRE(cond, ...) \
	EXPECT_FATAL_(expect_true(!!(cond), true, __FILE__, __LINE__, __VA_ARGS__))

/* A call that must succeed (result >= 0); evaluates to its result. */
#define EXPECT_OK_(fatal, expr) ({                                            \
	errno = 0;                                                            \
	__typeof__(expr) expect_r_ = (expr);                                  \
	if (!expect_ok((long long)expect_r_, errno, #expr, __FILE__, __LINE__, fatal) && \
	    (fatal))                                                          \
		__builtin_unreachable();                                      \
	expect_r_; })
#define CHECK_OK(expr) EXPECT_OK_(false, expr)
#define REQUIRE_OK(expr) EXPECT_OK_(true, expr)

/* A call that must fail with errno want (-1 and errno). */
#define CHECK_ERR(expr, want) ({                                              \
	errno = 0;                                                            \
	long long expect_r_ = (long long)(expr);                              \
	expect_err(expect_r_, errno, (want), #expr, __FILE__, __LINE__); })

#define CHECK_EQ(actual, expected) expect_eq((intmax_t)(actual), (intmax_t)(expected), \
	#actual, #expected, __FILE__, __LINE__, false)
#define REQUIRE_EQ(actual, expected) EXPECT_FATAL_(expect_eq((intmax_t)(actual), \
	(intmax_t)(expected), #actual, #expected, __FILE__, __LINE__, true))

#define CHECK_STR(actual, expected) \
	expect_str((actual), (expected), #actual, #expected, __FILE__, __LINE__)

/* n bytes equal; on failure the first differing offset and how many differ. */
#define CHECK_MEM(got, want, n, ...) \
	expect_mem((got), (want), (n), __FILE__, __LINE__, __VA_ARGS__)

/* buf holds the pattern (pattern.h) of [off, off + len) of seed. */
#define CHECK_PATTERN(buf, len, off, seed) \
	expect_pattern((buf), (len), (off), (seed), #buf, __FILE__, __LINE__)

#define CHECK_FAILF(...) expect_failf(__FILE__, __LINE__, false, __VA_ARGS__)
#define CHECK_FATALF(...) \
	(expect_failf(__FILE__, __LINE__, true, __VA_ARGS__), __builtin_unreachable())

#define SKIP(...) expect_skip(__VA_ARGS__)
#define NOTE(...) expect_note(__VA_ARGS__)

#endif
