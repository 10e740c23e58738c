/* Measuring FOLL_PIN accounting around a request that diofs holds: the
 * wait for a held request by path, the attempts, the fork experiment; the
 * I/O itself is the engine's (ioengine.h).  No assertions here (see
 * pinwatch.h). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/pinwatch.h"
#include "harness/pattern.h"
#include "check/premise.h"
#include "harness/proc.h"
#include "proto/errnames.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t page_size(void)
{
	static size_t ps;

	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

/* ---- expectation ------------------------------------------------------ */

bool pw_expect_converted(char *why, size_t len)
{
	const char *env = getenv("DIOFS_EXPECT");
	struct utsname u;
	unsigned int major = 0, minor = 0;
	bool conv;

	if (env && (!strcmp(env, "converted") || !strcmp(env, "not-converted"))) {
		snprintf(why, len, "DIOFS_EXPECT=%s", env);
		return !strcmp(env, "converted");
	}
	uname(&u);
	sscanf(u.release, "%u.%u", &major, &minor);
	conv = major > 6 || (major == 6 && minor >= 9);
	snprintf(why, len, "uname -r %s %s 6.9", u.release, conv ? ">=" : "<");
	return conv;
}

/* ---- measuring one I/O ----------------------------------------------- */

size_t pw_pages(const void *buf, size_t len)
{
	uintptr_t a = (uintptr_t)buf, ps = page_size();

	if (!len)
		return 0;
	return (size_t)((a + len - 1) / ps - a / ps + 1);
}

/* Samples per instant: $DIOFS_PIN_SAMPLES (odd, 1..15), default 5. */
static int samples_per_instant(void)
{
	static int n;

	if (!n) {
		const char *env = getenv("DIOFS_PIN_SAMPLES");
		n = env ? atoi(env) : 5;
		if (n < 1 || n > 15)
			n = 5;
		n |= 1;
	}
	return n;
}

/* The median, by pins in flight, of a few samples taken back to back
 * (~100 us each): other DIO's pins in flight are the same random quantity
 * in every phase of a measurement, so medians cancel them far more often
 * than single samples do. */
int pw_sample(struct pin_counts *p, char *why, size_t len)
{
	struct pin_counts s[15];
	int n = samples_per_instant();

	for (int i = 0; i < n; i++) {
		int err = pins_read(&s[i]);
		if (err < 0) {
			snprintf(why, len, "reading the pin counters: %s", strerror(-err));
			return -1;
		}
	}
	/* insertion sort by pins in flight */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && pins_in_flight(&s[j]) < pins_in_flight(&s[j - 1]); j--) {
			struct pin_counts t = s[j];
			s[j] = s[j - 1];
			s[j - 1] = t;
		}
	*p = s[n / 2];
	return 0;
}

static int fail_errno(char *why, size_t len, const char *what, int err)
{
	snprintf(why, len, "%s: %s (%s)", what, errno_name(err), strerror(err));
	return -1;
}

/* ---- held requests ---------------------------------------------------- */

/* Every figure counts the pages of one FUSE request: a user-memory I/O of
 * one len must reach diofs whole, not split (max_pages below its pages). */
static int one_request(struct dio *const *ios, size_t nios, const uint64_t *sizes,
		       unsigned int n, char *why, size_t len)
{
	for (size_t i = 0; i < nios; i++) {
		if (!ios[i] || !dio_route_user_pages(ios[i]->route) || ios[i]->len != ios[0]->len ||
		    ios[i]->indirect)
			return 0;
	}
	for (unsigned int i = 0; nios && i < n; i++)
		if (sizes[i] < ios[0]->len) {
			snprintf(why, len, "the kernel split a %zu-byte %s into FUSE requests: diofs "
				 "holds one of %" PRIu64 " bytes (max_pages below %zu pages?)",
				 ios[0]->len, dio_dir_name(ios[0]->dir), sizes[i],
				 pw_pages(ios[0]->buf, ios[0]->len));
			return -1;
		}
	return 0;
}

int pw_wait_held(struct diofsctl *ctl, const char *path, unsigned int n, uint64_t *ids,
		 int timeout_ms, struct dio *const *ios, size_t nios, char *why, size_t len)
{
	struct diofs_held list[128];
	uint64_t sizes[128];
	int64_t deadline = diofs_now_ms() + timeout_ms;
	unsigned int want = 1, seen = 0;

	if (n > 128) {
		snprintf(why, len, "pw_wait_held: at most 128 calls");
		return -1;
	}

	for (;;) {
		int64_t left = deadline - diofs_now_ms();
		unsigned int found = 0;
		int got = left > 0 ? diofsctl_held(ctl, want, (int)(left > 500 ? 500 : left),
						   list, 128) : -1;

		for (size_t i = 0; i < nios; i++)
			if (ios[i] && dio_poll(ios[i], NULL)) {
				snprintf(why, len, "the %s %s returned %zd%s%s instead of being held",
					 dio_route_label(ios[i]->route), dio_dir_name(ios[i]->dir),
					 ios[i]->ret, ios[i]->ret < 0 ? " " : "",
					 ios[i]->ret < 0 ? errno_name(ios[i]->err) : "");
				return -1;
			}
		if (got < 0) {
			if (diofs_now_ms() < deadline)
				continue;       /* a slice of the wait ended */
			snprintf(why, len, "diofs held %u of %u calls on %s within %d ms (%s)",
				 seen, n, path, timeout_ms, diofsctl_error(ctl));
			return -1;
		}
		for (int i = 0; i < got && i < 128; i++)
			if (!strcmp(list[i].path, path) && found < n) {
				ids[found++] = list[i].id;
				sizes[found - 1] = list[i].size;
			}
		if (found == n)
			return one_request(ios, nios, sizes, n, why, len);
		seen = found;
		/* fewer on our path: wait for one more held call */
		want = (unsigned int)got + 1;
	}
}

int pw_release(struct diofsctl *ctl, const uint64_t *ids, unsigned int n, const char *how,
	       char *why, size_t len)
{
	int ret = 0;

	for (unsigned int i = 0; i < n; i++) {
		int r = diofsctl_release(ctl, ids[i], how);
		if (r != 1 && !ret) {
			snprintf(why, len, "release %" PRIu64 " %s: %s", ids[i], how ? how : "reply",
				 r < 0 ? diofsctl_error(ctl) : "released none");
			ret = -1;
		}
	}
	return ret;
}

/* ---- measuring -------------------------------------------------------- */

int pw_attempts(void)
{
	const char *env = getenv("DIOFS_PIN_ATTEMPTS");
	int n = env ? atoi(env) : 0;

	if (n < 1 || n > PW_MAX_ATTEMPTS)
		n = 32;
	return n;
}

/* Index of v in accept[], or -1. */
static int accepted_at(int64_t v, const int64_t *accept, size_t naccept)
{
	for (size_t i = 0; i < naccept; i++)
		if (v == accept[i])
			return (int)i;
	return -1;
}

static bool accepted(int64_t v, const int64_t *accept, size_t naccept)
{
	return accepted_at(v, accept, naccept) >= 0;
}

/* The after delta at least half the attempts agree on, or -1. */
static int64_t consistent_leak(const struct pw_result *r)
{
	for (int i = 0; i < r->nattempts; i++) {
		int same = 0;
		for (int j = 0; j < r->nattempts; j++)
			same += r->a[j].after_delta == r->a[i].after_delta;
		if (2 * same >= r->nattempts && r->nattempts >= 2)
			return r->a[i].after_delta < 0 ? -r->a[i].after_delta : r->a[i].after_delta;
	}
	return -1;
}

/* Sample before, start io (prepared), wait until diofs holds it on path,
 * sample held: 0 with its id, or -1 with why (whatever was held
 * released with EIO, so that the I/O ends). */
static int start_held(struct diofsctl *ctl, const char *path, struct dio *io,
		      struct pin_counts *before, struct pin_counts *held, uint64_t *id, char *why,
		      size_t len)
{
	struct dio *ios[1] = { io };

	if (pw_sample(before, why, len) < 0 || dio_start(io, why, len) < 0)
		return -1;
	if (pw_wait_held(ctl, path, 1, id, PW_HELD_TIMEOUT_MS, ios, 1, why, len) < 0) {
		diofsctl_release(ctl, 0, "errno=EIO");
		return -1;
	}
	if (pw_sample(held, why, len) < 0) {
		diofsctl_release(ctl, *id, "errno=EIO");
		return -1;
	}
	return 0;
}

int pw_measure(struct diofsctl *ctl, const char *path, const struct dio *proto,
	       const int64_t *accept, size_t naccept, pw_verify_fn verify, void *arg,
	       struct pw_result *r, char *why, size_t len)
{
	return pw_measure_n(ctl, path, proto, accept, naccept, verify, arg, 0, r, why, len);
}

int pw_measure_n(struct diofsctl *ctl, const char *path, const struct dio *proto,
		 const int64_t *accept, size_t naccept, pw_verify_fn verify, void *arg,
		 int attempts, struct pw_result *r, char *why, size_t len)
{
	/* With several acceptable values (the verdict's "pinned or not"),
	 * one must be seen twice: noise could make any one of them once. */
	int hits[8] = { 0 }, need = naccept > 1 ? 2 : 1;

	char path_copy[512];    /* path may live in a caller's rotating buffer */

	if (attempts <= 0 || attempts > PW_MAX_ATTEMPTS)
		attempts = pw_attempts();
	if (naccept > 8)
		naccept = 8;
	snprintf(path_copy, sizeof(path_copy), "%s", path);
	path = path_copy;

	memset(r, 0, sizeof(*r));
	r->clean = r->held_at = r->balanced_at = -1;
	r->pages = pw_pages(proto->buf, proto->len);
	for (int i = 0; i < attempts; i++) {
		struct pw_attempt *a = &r->a[i];
		struct dio io = *proto;
		uint64_t id;
		int ret = -1, prepared;

		if (io.dir == IO_READ)
			memset(io.buf, 0x5a, io.len);
		prepared = dio_prepare(&io, why, len);
		if (prepared < 0) {
			dio_cleanup(&io);
			return prepared;
		}
		if (start_held(ctl, path, &io, &a->before, &a->held, &id, why, len) < 0)
			goto out;
		if (pw_release(ctl, &id, 1, NULL, why, len) < 0)
			goto out;
		dio_join(&io);
		if (pw_sample(&a->after, why, len) < 0)
			goto out;
		r->nattempts = i + 1;
		a->held_delta = pw_inflight_delta(&a->before, &a->held);
		a->after_delta = pw_inflight_delta(&a->before, &a->after);
		a->acq_held = (int64_t)(a->held.acquired - a->before.acquired);
		a->rel_held = (int64_t)(a->held.released - a->before.released);
		a->clean = accepted(a->held_delta, accept, naccept) && a->after_delta == 0;
		if (r->held_at < 0) {
			/* ours while held: held - before, or held - after (ours
			 * are gone after completion): two windows, two chances */
			int k = accepted_at(a->held_delta, accept, naccept);
			if (k < 0)
				k = accepted_at(a->held_delta - a->after_delta, accept, naccept);
			if (k >= 0 && ++hits[k] >= need) {
				r->held_at = i;
				r->held_value = accept[k];
			}
		}
		if (r->balanced_at < 0 && a->after_delta == 0)
			r->balanced_at = i;
		if (io.ret != (ssize_t)io.len) {
			if (io.ret < 0)
				snprintf(why, len, "the %s %s failed: %s",
					 dio_route_label(io.route), dio_dir_name(io.dir),
					 errno_name(io.err));
			else
				snprintf(why, len, "the %s %s returned %zd, want %zu",
					 dio_route_label(io.route), dio_dir_name(io.dir),
					 io.ret, io.len);
			goto out;
		}
		if (verify && verify(&io, arg, why, len) < 0)
			goto out;
		ret = 0;
out:
		dio_cleanup(&io);
		if (io.route == ROUTE_URING_FIXED) {
			r->reg_pins = io.reg_pins;
			r->unreg_left = io.unreg_left;
		}
		if (ret < 0)
			return -1;
		if (r->held_at >= 0 && r->balanced_at >= 0) {
			r->clean = r->held_at;
			break;
		}
	}
	r->leak = r->balanced_at >= 0 ? 0 : consistent_leak(r);
	return 0;
}

void pw_format(const struct pw_result *r, char *buf, size_t len)
{
	size_t at = 0;
	int n;

	buf[0] = '\0';
	if (!r->nattempts)
		return;
	n = snprintf(buf, len, "pins in flight per attempt, while held [acquired, released] / "
		     "after completion:");
	if (n < 0 || (size_t)n >= len)
		return;
	at = (size_t)n;
	for (int i = 0; i < r->nattempts && at < len; i++) {
		const struct pw_attempt *a = &r->a[i];
		n = snprintf(buf + at, len - at, "%s %+" PRId64 " [%+" PRId64 ",%+" PRId64 "] / %+"
			     PRId64, i ? ";" : "", a->held_delta, a->acq_held, a->rel_held,
			     a->after_delta);
		if (n < 0)
			break;
		at += (size_t)n;
	}
}

/* ---- fork while a read is held ---------------------------------------- */

size_t pw_pages_matching(const void *buf, size_t len, uint64_t off, unsigned int seed)
{
	const uint8_t *b = buf;
	uintptr_t ps = page_size();
	size_t good = 0, i = 0;

	while (i < len) {
		size_t end = (size_t)(((((uintptr_t)b + i) / ps) + 1) * ps - (uintptr_t)b);
		bool ok = true;

		if (end > len)
			end = len;
		for (size_t j = i; j < end && ok; j++)
			ok = b[j] == pattern_byte(off + j, seed);
		good += ok;
		i = end;
	}
	return good;
}

/* The child: wait for the word, count its pages holding the data, say how
 * many, exit.  Async-signal-safe only (the parent has other threads). */
static _Noreturn void fork_child(int in, int out, const void *buf, size_t len,
				 unsigned int seed)
{
	char go;
	uint64_t got = 0;

	if (dio_full(in, &go, 1, IO_READ))
		got = pw_pages_matching(buf, len, 0, seed);
	if (write(out, &got, sizeof(got)) < 0)
		_exit(1);
	_exit(0);
}

int pw_fork_read(struct diofsctl *ctl, const char *path, int fd, void *buf, size_t len,
		 unsigned int seed, struct pw_fork_result *r, char *why, size_t whylen)
{
	struct dio proto = { .route = ROUTE_PREAD, .fd = fd, .buf = buf, .len = len };

	return pw_fork_read_io(ctl, path, &proto, seed, r, why, whylen);
}

int pw_fork_read_io(struct diofsctl *ctl, const char *path, const struct dio *proto,
		    unsigned int seed, struct pw_fork_result *r, char *why, size_t whylen)
{
	struct dio io = { .route = ROUTE_PREAD, .fd = proto->fd, .buf = proto->buf,
			  .len = proto->len, .off = proto->off, .indirect = proto->indirect };
	void *buf = io.buf;
	size_t len = io.len;
	int to_child[2] = { -1, -1 }, from_child[2] = { -1, -1 };
	uintptr_t ps = page_size();
	pid_t pid = -1;
	uint64_t id, got;
	int ret = -1, status;

	memset(r, 0, sizeof(*r));
	r->pages = pw_pages(buf, len);
	r->ret = -1;
	/* fault every page in with something that is not the data */
	memset(buf, 0x5a, len);
	if (dio_prepare(&io, why, whylen) < 0)
		goto out;
	if (pipe2(to_child, O_CLOEXEC) < 0 || pipe2(from_child, O_CLOEXEC) < 0) {
		fail_errno(why, whylen, "pipe2", errno);
		goto out;
	}
	if (start_held(ctl, path, &io, &r->before, &r->held, &id, why, whylen) < 0)
		goto out;
	pid = fork();
	if (pid < 0) {
		fail_errno(why, whylen, "fork", errno);
		diofsctl_release(ctl, id, "errno=EIO");
		goto out;
	}
	if (pid == 0)
		fork_child(to_child[0], from_child[1], buf, len, seed);
	close(to_child[0]);
	close(from_child[1]);
	to_child[0] = from_child[1] = -1;
	pw_sample(&r->after_fork, why, whylen);
	/* the parent writes one byte at the start of each page */
	for (uintptr_t p = (uintptr_t)buf; p < (uintptr_t)buf + len; p = (p / ps + 1) * ps)
		*(volatile uint8_t *)p ^= 0xff;
	if (pw_release(ctl, &id, 1, NULL, why, whylen) < 0)
		goto out;
	dio_join(&io);
	r->ret = io.ret;
	r->err = io.err;
	if (pw_sample(&r->after, why, whylen) < 0)
		goto out;
	r->parent_kept = pw_pages_matching(buf, len, 0, seed);
	if (write(to_child[1], "g", 1) == 1 &&
	    dio_full(from_child[0], &got, sizeof(got), IO_READ)) {
		r->child_got = (size_t)got;
		r->child_ok = true;
	}
	ret = 0;
out:
	if (pid > 0) {
		if (to_child[1] >= 0) {
			close(to_child[1]);     /* a child still waiting sees EOF */
			to_child[1] = -1;
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	dio_cleanup(&io);
	for (int i = 0; i < 2; i++) {
		if (to_child[i] >= 0)
			close(to_child[i]);
		if (from_child[i] >= 0)
			close(from_child[i]);
	}
	return ret;
}
