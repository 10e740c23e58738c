/* Measuring FOLL_PIN accounting around a request that diofs holds: the
 * routes, the wait for a held request by path, the attempts, the fork
 * experiment.  No CUnit here (see pinwatch.h). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/pinwatch.h"
#include "check/check.h"        /* check_pattern_byte only */
#include "check/premise.h"
#include "proto/errnames.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libaio.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
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

/* ---- routes ----------------------------------------------------------- */

static const char *const route_names[PW_NROUTES] = {
	[PW_PREAD] = "pread", [PW_PREADV] = "preadv", [PW_LIBAIO] = "libaio",
	[PW_URING] = "io_uring", [PW_URING_FIXED] = "io_uring fixed",
	[PW_SPLICE] = "splice", [PW_SENDFILE] = "sendfile",
};
static const char *const route_keys[PW_NROUTES] = {
	[PW_PREAD] = "pread", [PW_PREADV] = "preadv", [PW_LIBAIO] = "libaio",
	[PW_URING] = "io_uring", [PW_URING_FIXED] = "io_uring_fixed",
	[PW_SPLICE] = "splice", [PW_SENDFILE] = "sendfile",
};

const char *pw_route_name(enum pw_route r)
{
	return r < PW_NROUTES ? route_names[r] : "?";
}

const char *pw_route_key(enum pw_route r)
{
	return r < PW_NROUTES ? route_keys[r] : "?";
}

bool pw_route_user_pages(enum pw_route r)
{
	return r == PW_PREAD || r == PW_PREADV || r == PW_LIBAIO || r == PW_URING;
}

/* The largest fixed buffer a case or the verdict registers (64 KiB). */
#define PW_FIXED_LEN (64 * 1024)

const char *pw_route_unavailable(enum pw_route r)
{
	static char why[PW_NROUTES][512];
	static bool probed[PW_NROUTES];

	if (r >= PW_NROUTES)
		return "no such route";
	if (!probed[r]) {
		probed[r] = true;
		if (r == PW_LIBAIO) {
			io_context_t ctx = 0;
			int err = io_setup(1, &ctx);
			if (err < 0)
				snprintf(why[r], sizeof(why[r]), "io_setup: %s (no AIO here)",
					 errno_name(-err));
			else
				io_destroy(ctx);
		} else if (r == PW_URING || r == PW_URING_FIXED) {
			if (premise_io_uring(NULL, NULL, why[r], sizeof(why[r])) == PREMISE_HOLDS &&
			    r == PW_URING_FIXED)
				premise_memlock(PW_FIXED_LEN, why[r], sizeof(why[r]));
		}
	}
	return why[r][0] ? why[r] : NULL;
}

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

int pw_io_prepare(struct pw_io *io, char *why, size_t len)
{
	io->pipe[0] = io->pipe[1] = io->memfd = -1;
	io->ctx = NULL;
	io->started = false;
	io->reg_measured = io->unreg_measured = false;
	io->reg_pins = io->unreg_left = 0;
	atomic_init(&io->returned, false);
	io->ret = -1;
	io->err = 0;

	switch (io->route) {
	case PW_PREAD:
	case PW_PREADV:
		break;
	case PW_LIBAIO: {
		io_context_t *ctx = calloc(1, sizeof(*ctx));
		int err;

		if (!ctx)
			return fail_errno(why, len, "libaio", ENOMEM);
		err = io_setup(1, ctx);
		if (err < 0) {
			free(ctx);
			return fail_errno(why, len, "io_setup", -err);
		}
		io->ctx = ctx;
		break;
	}
	case PW_URING:
	case PW_URING_FIXED: {
		struct io_uring *ring = calloc(1, sizeof(*ring));
		int err;

		if (!ring)
			return fail_errno(why, len, "io_uring", ENOMEM);
		err = io_uring_queue_init(4, ring, 0);
		if (err < 0) {
			free(ring);
			if (premise_memlock_refused(err, "a 4-entry ring", why, len) == PREMISE_FALSE)
				return PW_PREMISE_FALSE;
			return fail_errno(why, len, "io_uring_queue_init", -err);
		}
		io->ctx = ring;
		if (io->route == PW_URING_FIXED) {
			struct iovec iov = { .iov_base = io->buf, .iov_len = io->len };
			struct pin_counts a, b;
			bool counted = pins_read(&a) == 0;

			err = io_uring_register_buffers(ring, &iov, 1);
			if (err < 0) {
				char what[64];

				io_uring_queue_exit(ring);
				free(ring);
				io->ctx = NULL;
				snprintf(what, sizeof(what), "%zu bytes of fixed buffers", io->len);
				if (premise_memlock_refused(err, what, why, len) == PREMISE_FALSE)
					return PW_PREMISE_FALSE;
				return fail_errno(why, len, "io_uring_register_buffers", -err);
			}
			if (counted && pins_read(&b) == 0) {
				io->reg_pins = pw_inflight_delta(&a, &b);
				io->reg_measured = true;
			}
		}
		break;
	}
	case PW_SPLICE:
		if (pipe2(io->pipe, O_CLOEXEC) < 0)
			return fail_errno(why, len, "pipe2", errno);
		if (io->len > 65536) {
			size_t want = (io->len + page_size() - 1) & ~(page_size() - 1);
			if (fcntl(io->pipe[1], F_SETPIPE_SZ, (int)want) < 0)
				return fail_errno(why, len, "F_SETPIPE_SZ", errno);
		}
		if (io->write) {
			/* the data waits in the pipe: copied, no user page left */
			ssize_t w = write(io->pipe[1], io->buf, io->len);
			if (w != (ssize_t)io->len)
				return fail_errno(why, len, "filling the pipe", w < 0 ? errno : EIO);
		}
		break;
	case PW_SENDFILE:
		io->memfd = memfd_create("diofs-check-sendfile", MFD_CLOEXEC);
		if (io->memfd < 0)
			return fail_errno(why, len, "memfd_create", errno);
		if (io->write && pwrite(io->memfd, io->buf, io->len, 0) != (ssize_t)io->len)
			return fail_errno(why, len, "filling the memfd", errno ? errno : EIO);
		break;
	default:
		snprintf(why, len, "no route %d", (int)io->route);
		return -1;
	}
	io->prepared = true;
	return 0;
}

static ssize_t run_libaio(struct pw_io *io)
{
	io_context_t ctx = *(io_context_t *)io->ctx;
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	int r;

	if (io->write)
		io_prep_pwrite(&cb, io->fd, io->buf, io->len, io->off);
	else
		io_prep_pread(&cb, io->fd, io->buf, io->len, io->off);
	r = io_submit(ctx, 1, cbs);
	if (r != 1) {
		errno = r < 0 ? -r : EAGAIN;
		return -1;
	}
	do
		r = io_getevents(ctx, 1, 1, &ev, NULL);
	while (r == -EINTR);
	if (r != 1) {
		errno = r < 0 ? -r : EIO;
		return -1;
	}
	if ((long)ev.res < 0) {
		errno = (int)-(long)ev.res;
		return -1;
	}
	return (ssize_t)ev.res;
}

static ssize_t run_uring(struct pw_io *io)
{
	struct io_uring *ring = io->ctx;
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int r;

	if (!sqe) {
		errno = EBUSY;
		return -1;
	}
	if (io->route == PW_URING_FIXED) {
		if (io->write)
			io_uring_prep_write_fixed(sqe, io->fd, io->buf, (unsigned int)io->len,
						  (uint64_t)io->off, 0);
		else
			io_uring_prep_read_fixed(sqe, io->fd, io->buf, (unsigned int)io->len,
						 (uint64_t)io->off, 0);
	} else {
		if (io->write)
			io_uring_prep_write(sqe, io->fd, io->buf, (unsigned int)io->len,
					    (uint64_t)io->off);
		else
			io_uring_prep_read(sqe, io->fd, io->buf, (unsigned int)io->len,
					   (uint64_t)io->off);
	}
	r = io_uring_submit(ring);
	if (r != 1) {
		errno = r < 0 ? -r : EIO;
		return -1;
	}
	do
		r = io_uring_wait_cqe(ring, &cqe);
	while (r == -EINTR);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	r = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

static ssize_t run_io(struct pw_io *io)
{
	switch (io->route) {
	case PW_PREAD:
		return io->write ? pwrite(io->fd, io->buf, io->len, io->off)
				 : pread(io->fd, io->buf, io->len, io->off);
	case PW_PREADV: {
		size_t half = io->len / 2;
		struct iovec iov[2] = {
			{ .iov_base = io->buf, .iov_len = half },
			{ .iov_base = (char *)io->buf + half, .iov_len = io->len - half },
		};
		return io->write ? pwritev(io->fd, iov, 2, io->off) : preadv(io->fd, iov, 2, io->off);
	}
	case PW_LIBAIO:
		return run_libaio(io);
	case PW_URING:
	case PW_URING_FIXED:
		return run_uring(io);
	case PW_SPLICE: {
		loff_t off = io->off;
		if (io->write)
			return splice(io->pipe[0], NULL, io->fd, &off, io->len, 0);
		return splice(io->fd, &off, io->pipe[1], NULL, io->len, 0);
	}
	case PW_SENDFILE: {
		off_t off = io->off, zero = 0;
		if (io->write) {
			if (lseek(io->fd, io->off, SEEK_SET) < 0)
				return -1;
			return sendfile(io->fd, io->memfd, &zero, io->len);
		}
		return sendfile(io->memfd, io->fd, &off, io->len);
	}
	default:
		errno = EINVAL;
		return -1;
	}
}

static void *io_thread(void *arg)
{
	struct pw_io *io = arg;
	ssize_t r = run_io(io);

	io->err = r < 0 ? errno : 0;
	io->ret = r;
	atomic_store(&io->returned, true);
	return NULL;
}

int pw_io_start(struct pw_io *io, char *why, size_t len)
{
	int err;

	atomic_store(&io->returned, false);
	err = pthread_create(&io->thread, NULL, io_thread, io);
	if (err)
		return fail_errno(why, len, "pthread_create", err);
	io->started = true;
	return 0;
}

bool pw_io_returned(struct pw_io *io)
{
	return atomic_load(&io->returned);
}

ssize_t pw_io_join(struct pw_io *io)
{
	if (!io->started)
		return io->ret;
	pthread_join(io->thread, NULL);
	io->started = false;
	if (!io->write && io->ret > 0) {
		ssize_t got = -1;
		/* where the bytes went: into buf for the caller to look at */
		if (io->route == PW_SPLICE)
			got = read(io->pipe[0], io->buf, (size_t)io->ret);
		else if (io->route == PW_SENDFILE)
			got = pread(io->memfd, io->buf, (size_t)io->ret, 0);
		if ((io->route == PW_SPLICE || io->route == PW_SENDFILE) && got != io->ret) {
			io->err = got < 0 ? errno : EIO;
			io->ret = -1;
		}
	}
	errno = io->err;
	return io->ret;
}

void pw_io_cleanup(struct pw_io *io)
{
	if (!io->prepared)
		return;
	if (io->started)
		pw_io_join(io);
	if (io->ctx && io->route == PW_LIBAIO) {
		io_destroy(*(io_context_t *)io->ctx);
		free(io->ctx);
	} else if (io->ctx) {
		struct pin_counts a, b;
		bool counted = io->route == PW_URING_FIXED && pins_read(&a) == 0;

		if (io->route == PW_URING_FIXED)
			io_uring_unregister_buffers(io->ctx);
		io_uring_queue_exit(io->ctx);
		free(io->ctx);
		if (counted && pins_read(&b) == 0) {
			io->unreg_left = io->reg_pins + pw_inflight_delta(&a, &b);
			io->unreg_measured = true;
		}
	}
	io->ctx = NULL;
	for (int i = 0; i < 2; i++)
		if (io->pipe[i] >= 0)
			close(io->pipe[i]);
	if (io->memfd >= 0)
		close(io->memfd);
	io->pipe[0] = io->pipe[1] = io->memfd = -1;
	io->prepared = false;
}

/* ---- held requests ---------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every figure counts the pages of one FUSE request: a user-memory I/O of
 * one len must reach diofs whole, not split (max_pages below its pages). */
static int one_request(struct pw_io *const *ios, size_t nios, const uint64_t *sizes,
		       unsigned int n, char *why, size_t len)
{
	for (size_t i = 0; i < nios; i++) {
		if (!ios[i] || !pw_route_user_pages(ios[i]->route) || ios[i]->len != ios[0]->len ||
		    ios[i]->indirect)
			return 0;
	}
	for (unsigned int i = 0; nios && i < n; i++)
		if (sizes[i] < ios[0]->len) {
			snprintf(why, len, "the kernel split a %zu-byte %s into FUSE requests: diofs "
				 "holds one of %" PRIu64 " bytes (max_pages below %zu pages?)",
				 ios[0]->len, ios[0]->write ? "write" : "read", sizes[i],
				 pw_pages(ios[0]->buf, ios[0]->len));
			return -1;
		}
	return 0;
}

int pw_wait_held(struct diofsctl *ctl, const char *path, unsigned int n, uint64_t *ids,
		 int timeout_ms, struct pw_io *const *ios, size_t nios, char *why, size_t len)
{
	struct diofs_held list[128];
	uint64_t sizes[128];
	int64_t deadline = now_ms() + timeout_ms;
	unsigned int want = 1, seen = 0;

	if (n > 128) {
		snprintf(why, len, "pw_wait_held: at most 128 calls");
		return -1;
	}

	for (;;) {
		int64_t left = deadline - now_ms();
		unsigned int found = 0;
		int got = left > 0 ? diofsctl_held(ctl, want, (int)(left > 500 ? 500 : left),
						   list, 128) : -1;

		for (size_t i = 0; i < nios; i++)
			if (ios[i] && pw_io_returned(ios[i])) {
				snprintf(why, len, "the %s %s returned %zd%s%s instead of being held",
					 pw_route_name(ios[i]->route), ios[i]->write ? "write" : "read",
					 ios[i]->ret, ios[i]->ret < 0 ? " " : "",
					 ios[i]->ret < 0 ? errno_name(ios[i]->err) : "");
				return -1;
			}
		if (got < 0) {
			if (now_ms() < deadline)
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

int pw_measure(struct diofsctl *ctl, const char *path, const struct pw_io *proto,
	       const int64_t *accept, size_t naccept, pw_verify_fn verify, void *arg,
	       struct pw_result *r, char *why, size_t len)
{
	return pw_measure_n(ctl, path, proto, accept, naccept, verify, arg, 0, r, why, len);
}

int pw_measure_n(struct diofsctl *ctl, const char *path, const struct pw_io *proto,
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
		struct pw_io io = *proto, *ios[1] = { &io };
		uint64_t id;
		int ret = -1, prepared;

		if (!io.write)
			memset(io.buf, 0x5a, io.len);
		prepared = pw_io_prepare(&io, why, len);
		if (prepared < 0) {
			pw_io_cleanup(&io);
			return prepared;
		}
		if (pw_sample(&a->before, why, len) < 0 || pw_io_start(&io, why, len) < 0)
			goto out;
		if (pw_wait_held(ctl, path, 1, &id, PW_HELD_TIMEOUT_MS, ios, 1, why, len) < 0) {
			/* release whatever it was, so that the thread ends */
			diofsctl_release(ctl, 0, "errno=EIO");
			goto out;
		}
		if (pw_sample(&a->held, why, len) < 0) {
			diofsctl_release(ctl, id, "errno=EIO");
			goto out;
		}
		if (pw_release(ctl, &id, 1, NULL, why, len) < 0)
			goto out;
		pw_io_join(&io);
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
				snprintf(why, len, "the %s %s failed: %s", pw_route_name(io.route),
					 io.write ? "write" : "read", errno_name(io.err));
			else
				snprintf(why, len, "the %s %s returned %zd, want %zu",
					 pw_route_name(io.route), io.write ? "write" : "read",
					 io.ret, io.len);
			goto out;
		}
		if (verify && verify(&io, arg, why, len) < 0)
			goto out;
		ret = 0;
out:
		pw_io_cleanup(&io);
		if (io.route == PW_URING_FIXED) {
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
			ok = b[j] == check_pattern_byte(off + j, seed);
		good += ok;
		i = end;
	}
	return good;
}

/* Read exactly len bytes, waiting as long as it takes. */
static bool read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* The child: wait for the word, count its pages holding the data, say how
 * many, exit.  Async-signal-safe only (the parent has other threads). */
static _Noreturn void fork_child(int in, int out, const void *buf, size_t len,
				 unsigned int seed)
{
	char go;
	uint64_t got = 0;

	if (read_full(in, &go, 1))
		got = pw_pages_matching(buf, len, 0, seed);
	if (write(out, &got, sizeof(got)) < 0)
		_exit(1);
	_exit(0);
}

int pw_fork_read(struct diofsctl *ctl, const char *path, int fd, void *buf, size_t len,
		 unsigned int seed, struct pw_fork_result *r, char *why, size_t whylen)
{
	struct pw_io proto = { .route = PW_PREAD, .fd = fd, .buf = buf, .len = len };

	return pw_fork_read_io(ctl, path, &proto, seed, r, why, whylen);
}

int pw_fork_read_io(struct diofsctl *ctl, const char *path, const struct pw_io *proto,
		    unsigned int seed, struct pw_fork_result *r, char *why, size_t whylen)
{
	struct pw_io io = { .route = PW_PREAD, .fd = proto->fd, .buf = proto->buf,
			    .len = proto->len, .off = proto->off, .indirect = proto->indirect },
		*ios[1] = { &io };
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
	if (pw_io_prepare(&io, why, whylen) < 0)
		return -1;
	if (pipe2(to_child, O_CLOEXEC) < 0 || pipe2(from_child, O_CLOEXEC) < 0) {
		fail_errno(why, whylen, "pipe2", errno);
		goto out;
	}
	if (pw_sample(&r->before, why, whylen) < 0 || pw_io_start(&io, why, whylen) < 0)
		goto out;
	if (pw_wait_held(ctl, path, 1, &id, PW_HELD_TIMEOUT_MS, ios, 1, why, whylen) < 0) {
		diofsctl_release(ctl, 0, "errno=EIO");
		goto out;
	}
	if (pw_sample(&r->held, why, whylen) < 0) {
		diofsctl_release(ctl, id, "errno=EIO");
		goto out;
	}
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
	pw_io_join(&io);
	r->ret = io.ret;
	r->err = io.err;
	if (pw_sample(&r->after, why, whylen) < 0)
		goto out;
	r->parent_kept = pw_pages_matching(buf, len, 0, seed);
	if (write(to_child[1], "g", 1) == 1 && read_full(from_child[0], &got, sizeof(got))) {
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
	pw_io_cleanup(&io);
	for (int i = 0; i < 2; i++) {
		if (to_child[i] >= 0)
			close(to_child[i]);
		if (from_child[i] >= 0)
			close(from_child[i]);
	}
	return ret;
}
