/* Measuring FOLL_PIN accounting around a request that diofs holds.
 *
 * No assertions here: the lifetime and pins suites wrap it in
 * assertions, diofs-check --verdict uses it bare.  Every function that can
 * fail returns -1 and says why in a caller's buffer, or DIO_PREMISE_FALSE
 * when a premise the caller does not control did not hold: io_uring refused
 * a ring or a fixed buffer with ENOMEM for the locked-memory limit
 * (premise_memlock_refused: no CAP_IPC_LOCK, RLIMIT_MEMLOCK used up by this
 * user's processes); why then says the limit, for a SKIP.
 *
 * The counters (nr_foll_pin_acquired/released) are machine-wide, so the
 * figure that matters is the number of pins in flight (acquired - released)
 * at three instants of one attempt: before the I/O is submitted, while diofs
 * holds it, and after it completed.  Other DIO on the machine moves both
 * counters; it disturbs a measurement only when its own pins in flight
 * differ between the instants.  A disturbed attempt is repeated (a few
 * times: pw_attempts()) and every attempt's figures are kept for the
 * message. */
#ifndef DIOFS_CHECK_PINWATCH_H
#define DIOFS_CHECK_PINWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "check/ioengine.h"
#include "harness/pins.h"
#include "lib/diofsctl.h"

/* ---- what the kernel is expected to do -------------------------------- */

/* FUSE direct I/O took pins (FOLL_PIN) from 6.9 on.  The expectation comes
 * from DIOFS_EXPECT=converted|not-converted if set (custom kernels), else
 * from uname -r; why says which ("uname -r 6.1.0-47-cloud-amd64 < 6.9"). */
bool pw_expect_converted(char *why, size_t len);

/* ---- the I/O -------------------------------------------------------- */

/* The I/Os measured are the engine's (ioengine.h): a struct dio with
 * route, dir, fd, buf, len, off (and indirect), prepared outside the
 * measurement; DIO_PREMISE_FALSE as above. */

/* Pages of user memory [buf, buf+len) spans. */
size_t pw_pages(const void *buf, size_t len);

/* ---- held requests ---------------------------------------------------- */

/* Wait (timeout_ms) until diofs holds n calls on path (as diofs names it,
 * "/dir/f"), their ids into ids[n].  The I/Os that should be held, if
 * given, are watched: one that returns meanwhile is named in why.
 * 0, or -1 with why. */
int pw_wait_held(struct diofsctl *ctl, const char *path, unsigned int n, uint64_t *ids,
		 int timeout_ms, struct dio *const *ios, size_t nios, char *why, size_t len);
/* Release each of ids (how: NULL reply, "errno=EIO"...); 0 or -1. */
int pw_release(struct diofsctl *ctl, const uint64_t *ids, unsigned int n, const char *how,
	       char *why, size_t len);

#define PW_HELD_TIMEOUT_MS 10000

/* ---- measuring -------------------------------------------------------- */

#define PW_MAX_ATTEMPTS 64

/* Pins in flight relative to the attempt's start. */
struct pw_attempt {
	struct pin_counts before, held, after;
	int64_t held_delta;     /* in flight while held, minus before */
	int64_t after_delta;    /* in flight after completion, minus before */
	int64_t acq_held;       /* acquired between before and held */
	int64_t rel_held;       /* released between before and held */
	bool clean;
};

struct pw_result {
	int nattempts;
	struct pw_attempt a[PW_MAX_ATTEMPTS];
	/* Each property is judged on its own: other activity disturbs an
	 * instant at random, a kernel that does not pin (or leaks) shows in
	 * every attempt.  Attempts stop once both were seen. */
	int held_at;            /* attempt at which an accepted value of pins
				 * in flight while held (held - before, or
				 * held - after) had been seen often enough, -1 */
	int64_t held_value;     /* that value (one of accept[]) */
	int balanced_at;        /* first attempt back to +0 after completion, -1 */
	int clean;              /* held_at if both were seen, else -1 */
	/* Pins left after completion: 0 if an attempt balanced; else the
	 * after delta most attempts agree on (at least half: a leak repeats,
	 * noise does not); -1 if they disagree (cannot tell). */
	int64_t leak;
	size_t pages;           /* of the request */
	int64_t reg_pins;       /* ROUTE_URING_FIXED: at registration (last attempt) */
	int64_t unreg_left;
};

/* How many attempts a disturbed measurement gets: $DIOFS_PIN_ATTEMPTS
 * (1..PW_MAX_ATTEMPTS), default 32; each takes a few milliseconds, and a
 * quiet machine needs one. */
int pw_attempts(void);

/* Called after each attempt's I/O returned its full count; 0, or -1 with
 * why (bad data is a failure, not noise: no more attempts). */
typedef int (*pw_verify_fn)(struct dio *io, void *arg, char *why, size_t len);

/* Measure io (a prototype: route, direction, fd, buf, len, off) on the
 * file diofs calls path; a hold rule for it must be in place.  Wanted: an
 * attempt where the pins in flight while held minus before (or minus after
 * completion: ours are gone by then) is one of accept[], and one where
 * they are back to before after completion.  Before each read
 * attempt buf is overwritten with 0x5a, so verify sees only that attempt's
 * data.  0: measured (r->clean < 0 if every attempt was disturbed); -1: the
 * I/O itself misbehaved (not held, failed, short, bad data), with why;
 * DIO_PREMISE_FALSE: its ring or fixed buffer was refused (see the top). */
int pw_measure(struct diofsctl *ctl, const char *path, const struct dio *proto,
	       const int64_t *accept, size_t naccept, pw_verify_fn verify, void *arg,
	       struct pw_result *r, char *why, size_t len);
/* The same with attempts attempts at most (<= 0: pw_attempts()). */
int pw_measure_n(struct diofsctl *ctl, const char *path, const struct dio *proto,
		 const int64_t *accept, size_t naccept, pw_verify_fn verify, void *arg,
		 int attempts, struct pw_result *r, char *why, size_t len);

/* Does property ok hold in at least one of n attempts?  The helper the
 * multi-instant cases use for the same rule. */
static inline bool pw_seen(const bool *ok, int n)
{
	for (int i = 0; i < n; i++)
		if (ok[i])
			return true;
	return false;
}

/* Every attempt's figures on one line: "attempt 1: in flight +16 while
 * held (acquired +16, released +0), +0 after; attempt 2: ...". */
void pw_format(const struct pw_result *r, char *buf, size_t len);

/* Fill a pin_counts sample: the median (by pins in flight) of
 * $DIOFS_PIN_SAMPLES (default 5) samples taken back to back; 0 or -1. */
int pw_sample(struct pin_counts *p, char *why, size_t len);

static inline int64_t pw_inflight_delta(const struct pin_counts *from, const struct pin_counts *to)
{
	return pins_in_flight(to) - pins_in_flight(from);
}

/* ---- fork while a read is held ---------------------------------------- */

/* The brief's experiment: a read held into buf (faulted in), fork (the
 * child waits), the parent writes one byte at the start of each page,
 * release.  Pages where the parent has the file's data (pattern seed at
 * offset off), and where the child has it. */
struct pw_fork_result {
	size_t pages;
	size_t parent_kept;     /* pages of buf holding the data after the read */
	size_t child_got;       /* pages of the child's copy holding the data */
	bool child_ok;          /* the child reported */
	ssize_t ret;            /* the read's result */
	int err;
	struct pin_counts before, held, after_fork, after;
};

/* fd: the FUSE file (O_DIRECT) holding pattern seed from offset 0; a hold
 * rule for op=read on path must be in place.  0, or -1 with why. */
int pw_fork_read(struct diofsctl *ctl, const char *path, int fd, void *buf, size_t len,
		 unsigned int seed, struct pw_fork_result *r, char *why, size_t whylen);
/* The same for a read described by proto (route ROUTE_PREAD; fd, buf, len,
 * off, indirect). */
int pw_fork_read_io(struct diofsctl *ctl, const char *path, const struct dio *proto,
		    unsigned int seed, struct pw_fork_result *r, char *why, size_t whylen);

/* Does page i of buf (page-aligned start: pages of page size; else of
 * [buf, buf+len) cut at page boundaries) hold pattern seed at file offset
 * off + (its offset in buf)? */
size_t pw_pages_matching(const void *buf, size_t len, uint64_t off, unsigned int seed);

#endif
