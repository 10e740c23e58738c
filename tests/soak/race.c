/* race: many client threads race munmap, mremap and fork against direct
 * I/O that diofs holds, and against I/O it lets run, in an order drawn from
 * a fixed, printed seed.  Every byte is checked against a model of each
 * file, every buffer against what it must hold (including the bytes the
 * I/O must not touch and a guard mapping put where a moved or unmapped
 * buffer was), and the FOLL_PIN counters must balance after every round
 * and count the held requests' pages while they are held.
 *
 * A round: the coordinator draws a plan per thread (read or write; psync,
 * pwritev/preadv with two iovecs, libaio or io_uring; size, offset and
 * buffer offset; held or not; what to do while held: nothing, munmap,
 * mremap, fork with the parent or the child writing to the buffer; when:
 * while held or racing the release; how to release: reply, EIO or a short
 * reply), adds a "hold ... count=1" rule for each held one, lets the
 * threads issue, waits until the daemon holds them all, checks the pins,
 * lets the threads act, then releases the held requests one by one in a
 * random order while the racing threads act.  Then each thread checks its
 * result and data, and the coordinator the pin balance.
 *
 *   race [--short] [--seed N] [--seconds N] [--threads N] */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "soak.h"
#include "harness/pins.h"
#include "lib/diofsctl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libaio.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define FILE_SIZE (1024 * 1024UL)
#define MAX_THREADS 64
#define MAX_PAGES 32          /* per I/O: one FUSE request (max_pages) */
#define POISON 0xa5
#define GUARD 0x3c
#define WAIT_MS 30000         /* any single wait; longer is a hang */

enum op { OP_READ, OP_WRITE };
enum route { R_PSYNC, R_VEC, R_LIBAIO, R_URING, R_COUNT };
enum action { A_NONE, A_MUNMAP, A_MREMAP, A_FORK_PARENT, A_FORK_CHILD, A_COUNT };
enum how { H_REPLY, H_EIO, H_SHORT };

static const char *const route_name[] = { "psync", "vec", "libaio", "io_uring" };
static const char *const action_name[] = { "none", "munmap", "mremap", "fork_parent_writes",
				     "fork_child_writes" };

struct plan {
	enum op op;
	enum route route;
	size_t size;
	off_t off;
	size_t boff;       /* buffer offset in the mapping */
	bool hold;
	enum action action;
	bool racing;       /* act while the release runs, not before */
	enum how how;
	size_t short_len;
	uint64_t data_seed;
	int rule_id;
};

struct worker {
	int idx;
	pthread_t thread;
	int fd;            /* the file through the mount, O_DIRECT */
	int bfd;           /* the backing file */
	char path[64];     /* "/race/tN" in the mount */
	unsigned char *model;
	io_context_t aio;
	struct io_uring ring;
	/* the sync I/O helper: runs the blocking call while we act */
	pthread_t helper;
	pthread_mutex_t hmu;
	pthread_cond_t hcv;
	int hstate;        /* 0 idle, 1 job posted, 2 done, 3 exit */
	ssize_t hres;
	int herr;
	struct iovec hiov[2];
	int hiovcnt;
	struct plan p;
	/* the round's mapping */
	unsigned char *map;
	size_t map_len;
	unsigned char *exp;   /* what map must hold at the end (reads) */
	struct iovec iov[2];  /* I/O segments, as offsets into map (iov_base) */
	int iovcnt;
	pid_t child;
	int child_pipe;
	unsigned int round;
};

static struct diofs_mount mnt;
static struct soak_opts opts;
static struct worker workers[MAX_THREADS];
static unsigned int nthreads;
static bool kernel_pins, pins_ok;
static struct diofsctl *ctl;

/* round coordination */
enum phase { PH_IDLE, PH_ISSUE, PH_ACT, PH_RELEASE, PH_STOP };
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static enum phase phase = PH_IDLE;
static unsigned int round_no;
static unsigned int n_unheld_done, n_acted, n_done;

/* figures */
static atomic_ulong f_ops, f_held, f_unheld, f_bytes_verified, f_corrupt, f_forks;
static atomic_ulong f_route[R_COUNT], f_action[A_COUNT], f_errors_expected, f_errors_seen;
static atomic_ulong f_short_seen, f_guard_checked;
static int64_t start_pins;
static bool pins_judged;
static uint64_t f_pin_checks, f_pins_leaked, f_pin_mismatch, f_held_pages, f_rounds;

static void *xmap(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static bool timed_wait(int64_t deadline_ms)
{
	struct timespec ts;
	int64_t left = deadline_ms - diofs_now_ms();

	if (left <= 0)
		return false;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += left / 1000;
	ts.tv_nsec += (left % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return pthread_cond_timedwait(&cv, &mu, &ts) != ETIMEDOUT || diofs_now_ms() < deadline_ms;
}

static void abort_run(void) __attribute__((noreturn));

/* Under mu: wait for cond or fail the run as hung.  The workers wait
 * longer than the coordinator, which says more when it gives up. */
#define WAIT_UNTIL(cond, what) WAIT_UNTIL_MS(cond, what, WAIT_MS)
#define WAIT_UNTIL_MS(cond, what, ms) do {                                    \
	int64_t dl_ = diofs_now_ms() + (ms);                                   \
	while (!(cond))                                                       \
		if (!timed_wait(dl_) && !(cond)) {                            \
			pthread_mutex_unlock(&mu);                            \
			CHECK_FAILF("hang: %s (round %u)", what, round_no);     \
			abort_run();                                          \
		}                                                             \
} while (0)

/* ---- the sync helper ---------------------------------------------------------- */

static void *helper_main(void *arg)
{
	struct worker *w = arg;

	pthread_mutex_lock(&w->hmu);
	for (;;) {
		while (w->hstate != 1 && w->hstate != 3)
			pthread_cond_wait(&w->hcv, &w->hmu);
		if (w->hstate == 3)
			break;
		struct plan p = w->p;
		struct iovec iov[2] = { w->hiov[0], w->hiov[1] };
		int cnt = w->hiovcnt;
		pthread_mutex_unlock(&w->hmu);
		ssize_t r;
		if (p.route == R_PSYNC)
			r = p.op == OP_READ ? pread(w->fd, iov[0].iov_base, iov[0].iov_len, p.off)
					    : pwrite(w->fd, iov[0].iov_base, iov[0].iov_len, p.off);
		else
			r = p.op == OP_READ ? preadv(w->fd, iov, cnt, p.off)
					    : pwritev(w->fd, iov, cnt, p.off);
		int e = errno;
		pthread_mutex_lock(&w->hmu);
		w->hres = r;
		w->herr = r < 0 ? e : 0;
		w->hstate = 2;
		pthread_cond_broadcast(&w->hcv);
	}
	pthread_mutex_unlock(&w->hmu);
	return NULL;
}

/* ---- one I/O ----------------------------------------------------------------- */

static void iov_abs(struct worker *w, struct iovec *out)
{
	for (int i = 0; i < w->iovcnt; i++) {
		out[i].iov_base = w->map + (uintptr_t)w->iov[i].iov_base;
		out[i].iov_len = w->iov[i].iov_len;
	}
}

static void issue(struct worker *w)
{
	struct plan *p = &w->p;
	struct iovec abs[2];

	iov_abs(w, abs);
	if (p->route == R_PSYNC || p->route == R_VEC) {
		pthread_mutex_lock(&w->hmu);
		w->hiov[0] = abs[0];
		w->hiov[1] = abs[1];
		w->hiovcnt = w->iovcnt;
		w->hstate = 1;
		pthread_cond_broadcast(&w->hcv);
		pthread_mutex_unlock(&w->hmu);
	} else if (p->route == R_LIBAIO) {
		struct iocb cb, *cbs[1] = { &cb };
		if (p->op == OP_READ)
			io_prep_pread(&cb, w->fd, abs[0].iov_base, abs[0].iov_len, p->off);
		else
			io_prep_pwrite(&cb, w->fd, abs[0].iov_base, abs[0].iov_len, p->off);
		int r = io_submit(w->aio, 1, cbs);
		if (r != 1) {
			CHECK_FAILF("t%d: io_submit: %s", w->idx, strerror(-r));
			w->hres = r;
			w->hstate = 2;
			return;
		}
	} else {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
		if (p->op == OP_READ)
			io_uring_prep_read(sqe, w->fd, abs[0].iov_base, abs[0].iov_len, p->off);
		else
			io_uring_prep_write(sqe, w->fd, abs[0].iov_base, abs[0].iov_len, p->off);
		int r = io_uring_submit(&w->ring);
		if (r != 1) {
			CHECK_FAILF("t%d: io_uring_submit: %s", w->idx, strerror(-r));
			w->hres = r;
			w->hstate = 2;
		}
	}
}

/* The I/O's result: bytes, or -errno. */
static ssize_t complete(struct worker *w)
{
	struct plan *p = &w->p;
	ssize_t res;

	if (w->hstate == 2 && (p->route == R_LIBAIO || p->route == R_URING)) {
		w->hstate = 0;
		return w->hres; /* the submit failed */
	}
	if (p->route == R_PSYNC || p->route == R_VEC) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += WAIT_MS / 1000;
		pthread_mutex_lock(&w->hmu);
		while (w->hstate != 2)
			if (pthread_cond_timedwait(&w->hcv, &w->hmu, &ts) == ETIMEDOUT) {
				pthread_mutex_unlock(&w->hmu);
				CHECK_FAILF("hang: t%d %s %s did not return", w->idx,
					  route_name[p->route], p->op == OP_READ ? "read" : "write");
				abort_run();
			}
		res = w->hres < 0 ? -w->herr : w->hres;
		w->hstate = 0;
		pthread_mutex_unlock(&w->hmu);
		return res;
	}
	if (p->route == R_LIBAIO) {
		struct io_event ev;
		struct timespec ts = { .tv_sec = WAIT_MS / 1000 };
		int r = io_getevents(w->aio, 1, 1, &ev, &ts);
		if (r != 1) {
			CHECK_FAILF("hang: t%d libaio: no event (%d)", w->idx, r);
			abort_run();
		}
		return (ssize_t)(long)ev.res;
	}
	struct io_uring_cqe *cqe;
	struct __kernel_timespec kts = { .tv_sec = WAIT_MS / 1000 };
	int r = io_uring_wait_cqe_timeout(&w->ring, &cqe, &kts);
	if (r < 0) {
		CHECK_FAILF("hang: t%d io_uring: no completion (%s)", w->idx, strerror(-r));
		abort_run();
	}
	res = cqe->res;
	io_uring_cqe_seen(&w->ring, cqe);
	return res;
}

/* ---- actions ------------------------------------------------------------------ */

/* A guard mapping at addr (len), if the address is still free. */
static unsigned char *guard_at(unsigned char *addr, size_t len)
{
	void *g = mmap(addr, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (g == MAP_FAILED)
		return NULL;
	if (g != addr) { /* old kernels ignore the flag */
		munmap(g, len);
		return NULL;
	}
	memset(g, GUARD, len);
	return g;
}

struct acted {
	unsigned char *guard;  /* at the old address */
	bool unmapped;
};

/* Write one byte to each page of the I/O's buffer (from the parent or the
 * child); the parent also records it in exp. */
static void touch_pages(struct worker *w, bool record)
{
	for (int i = 0; i < w->iovcnt; i++) {
		uintptr_t from = (uintptr_t)w->iov[i].iov_base;
		uintptr_t to = from + w->iov[i].iov_len;
		for (uintptr_t a = from; a < to; a = (a & ~(PAGE - 1)) + PAGE) {
			w->map[a] = 0x77;
			if (record)
				w->exp[a] = 0x77;
		}
	}
}

static void act(struct worker *w, struct acted *a)
{
	struct plan *p = &w->p;
	int pfd[2];

	atomic_fetch_add(&f_action[p->action], 1);
	switch (p->action) {
	case A_NONE:
		break;
	case A_MUNMAP:
		munmap(w->map, w->map_len);
		a->unmapped = true;
		a->guard = guard_at(w->map, w->map_len);
		break;
	case A_MREMAP: {
		void *dst = mmap(NULL, w->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (dst == MAP_FAILED) {
			CHECK_FAILF("t%d: reserving for mremap: %s", w->idx, strerror(errno));
			break;
		}
		void *moved = mremap(w->map, w->map_len, w->map_len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
		if (moved == MAP_FAILED) {
			CHECK_FAILF("t%d: mremap: %s", w->idx, strerror(errno));
			munmap(dst, w->map_len);
			break;
		}
		unsigned char *old = w->map;
		w->map = moved;
		a->guard = guard_at(old, w->map_len);
		break;
	}
	case A_FORK_PARENT:
	case A_FORK_CHILD:
		if (pipe2(pfd, O_CLOEXEC) < 0) {
			CHECK_FAILF("t%d: pipe: %s", w->idx, strerror(errno));
			break;
		}
		w->child = fork();
		if (w->child == 0) {
			char c;
			/* only our end of our pipe: a child holding another
			 * child's write end would keep that one waiting */
			if (dup2(pfd[0], 3) < 0)
				_exit(1);
			close_range(4, ~0U, 0);
			if (p->action == A_FORK_CHILD)
				touch_pages(w, false);
			/* stay until the parent has checked: a child that
			 * exits early would hide a lost COW */
			while (read(3, &c, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
		close(pfd[0]);
		if (w->child < 0) {
			CHECK_FAILF("t%d: fork: %s", w->idx, strerror(errno));
			close(pfd[1]);
			break;
		}
		atomic_fetch_add(&f_forks, 1);
		w->child_pipe = pfd[1];
		if (p->action == A_FORK_PARENT)
			touch_pages(w, p->op == OP_READ); /* a write's data went at issue */
		break;
	default:
		break;
	}
}

static void end_child(struct worker *w)
{
	int status;

	if (w->child <= 0)
		return;
	close(w->child_pipe);
	if (waitpid(w->child, &status, 0) != w->child || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		CHECK_FAILF("t%d: the fork child ended badly (status %#x)", w->idx, status);
	w->child = 0;
}

/* ---- checking ----------------------------------------------------------------- */

static ssize_t expected_result(struct worker *w)
{
	struct plan *p = &w->p;

	if (!p->hold || p->how == H_REPLY)
		return (ssize_t)p->size;
	if (p->how == H_EIO)
		return -EIO;
	/* a short reply: a sync I/O returns it; an async write (libaio,
	 * io_uring) fails with EIO; an async read returns it */
	if (p->op == OP_WRITE && (p->route == R_LIBAIO || p->route == R_URING))
		return -EIO;
	return (ssize_t)p->short_len;
}

/* Bytes of the file the daemon wrote (writes) or returned (reads). */
static size_t bytes_moved(struct worker *w)
{
	struct plan *p = &w->p;

	if (!p->hold || p->how == H_REPLY)
		return p->size;
	return p->how == H_EIO ? 0 : p->short_len;
}

static void check_region(struct worker *w, const char *what)
{
	struct plan *p = &w->p;
	unsigned char *back = malloc(p->size);

	if (!back || soak_pread_all(w->bfd, back, p->size, p->off) < 0) {
		CHECK_FAILF("t%d: reading back %s: %s", w->idx, what, strerror(errno));
		free(back);
		return;
	}
	size_t bad = soak_diff(back, w->model + p->off, p->size);
	atomic_fetch_add(&f_bytes_verified, p->size);
	if (bad) {
		atomic_fetch_add(&f_corrupt, bad);
		CHECK_FAILF("t%d round %u: %zu bytes of the backing file at %jd+%zu differ from "
			  "the model after a %s %s (%s, how %d)", w->idx, w->round, bad,
			  (intmax_t)p->off, p->size, route_name[p->route], what,
			  action_name[p->action], p->how);
	}
	free(back);
}

static void finish_io(struct worker *w, ssize_t res, struct acted *a)
{
	struct plan *p = &w->p;
	ssize_t want = expected_result(w);
	size_t moved = bytes_moved(w);

	atomic_fetch_add(&f_ops, 1);
	atomic_fetch_add(&f_route[p->route], 1);
	if (want < 0)
		atomic_fetch_add(&f_errors_expected, 1);
	if (res < 0)
		atomic_fetch_add(&f_errors_seen, 1);
	if (p->how == H_SHORT && p->hold)
		atomic_fetch_add(&f_short_seen, 1);
	CHECK(res == want, "t%d round %u: %s %s of %zu at %jd (%s%s, release %s): "
		   "returned %zd, want %zd", w->idx, w->round, route_name[p->route],
		   p->op == OP_READ ? "read" : "write", p->size, (intmax_t)p->off,
		   action_name[p->action], p->racing ? " racing" : "",
		   !p->hold ? "none" : p->how == H_REPLY ? "reply" : p->how == H_EIO ? "EIO" : "short",
		   res, want);

	if (p->op == OP_WRITE) {
		memcpy(w->model + p->off, w->exp, moved); /* exp holds the data */
		check_region(w, "write");
	} else if (!a->unmapped) {
		/* data in the order of the segments, then poison/touches */
		size_t left = moved;
		for (int i = 0; i < w->iovcnt; i++) {
			size_t n = left < w->iov[i].iov_len ? left : w->iov[i].iov_len;
			size_t done = moved - left;
			memcpy(w->exp + (uintptr_t)w->iov[i].iov_base, w->model + p->off + done, n);
			left -= n;
		}
		size_t bad = soak_diff(w->map, w->exp, w->map_len);
		atomic_fetch_add(&f_bytes_verified, w->map_len);
		if (bad) {
			size_t first = 0;
			while (w->map[first] == w->exp[first])
				first++;
			atomic_fetch_add(&f_corrupt, bad);
			CHECK_FAILF("t%d round %u: %zu bytes of the read buffer are wrong (%s %s%s, "
				  "release %d, first at %zu: %#x, want %#x)", w->idx, w->round, bad,
				  route_name[p->route], action_name[p->action],
				  p->racing ? " racing" : "", p->how, first, w->map[first],
				  w->exp[first]);
		}
	}
	if (a->guard) {
		size_t bad = 0;
		for (size_t i = 0; i < w->map_len; i++)
			bad += a->guard[i] != GUARD;
		atomic_fetch_add(&f_guard_checked, 1);
		atomic_fetch_add(&f_bytes_verified, w->map_len);
		if (bad) {
			atomic_fetch_add(&f_corrupt, bad);
			CHECK_FAILF("t%d round %u: %zu bytes of the guard mapping put where the "
				  "buffer was (%s) changed: I/O reached memory it was not given",
				  w->idx, w->round, bad, action_name[p->action]);
		}
		munmap(a->guard, w->map_len);
	}
	end_child(w);
	if (!a->unmapped)
		munmap(w->map, w->map_len);
	free(w->exp);
	w->exp = NULL;
	w->map = NULL;
}

/* Lay out the round's buffer: one segment, or two with a page between. */
static bool prepare(struct worker *w)
{
	struct plan *p = &w->p;

	if (p->route == R_VEC) {
		size_t s1 = 1 + (p->size > 1 ? (size_t)(p->data_seed % (p->size - 1)) : 0);
		if (s1 >= p->size)
			s1 = p->size - 1;
		size_t s2 = p->size - s1;
		uintptr_t at2 = ((p->boff + s1 + PAGE - 1) & ~(PAGE - 1)) + PAGE;
		w->iovcnt = s2 ? 2 : 1;
		w->iov[0] = (struct iovec){ (void *)(uintptr_t)p->boff, s1 };
		w->iov[1] = (struct iovec){ (void *)at2, s2 };
		w->map_len = (at2 + s2 + PAGE - 1) & ~(PAGE - 1);
	} else {
		w->iovcnt = 1;
		w->iov[0] = (struct iovec){ (void *)(uintptr_t)p->boff, p->size };
		w->map_len = (p->boff + p->size + PAGE - 1) & ~(PAGE - 1);
	}
	w->map = xmap(w->map_len);
	w->exp = malloc(w->map_len > p->size ? w->map_len : p->size);
	if (!w->map || !w->exp) {
		CHECK_FAILF("t%d: out of memory", w->idx);
		return false;
	}
	if (p->op == OP_READ) {
		memset(w->map, POISON, w->map_len);
		memset(w->exp, POISON, w->map_len);
	} else {
		/* exp: the data in file order; map: the same, by segment */
		pattern_fill(w->exp, p->size, (uint64_t)p->off, p->data_seed);
		memset(w->map, POISON, w->map_len);
		size_t done = 0;
		for (int i = 0; i < w->iovcnt; i++) {
			memcpy(w->map + (uintptr_t)w->iov[i].iov_base, w->exp + done,
			       w->iov[i].iov_len);
			done += w->iov[i].iov_len;
		}
	}
	return true;
}

/* Pages the I/O's buffer spans: what a pinning kernel pins for it. */
static uint64_t plan_pages(struct worker *w)
{
	uint64_t n = 0;

	for (int i = 0; i < w->iovcnt; i++) {
		uintptr_t a = (uintptr_t)w->iov[i].iov_base;
		n += ((a + w->iov[i].iov_len + PAGE - 1) / PAGE) - a / PAGE;
	}
	return n;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned int seen = 0;

	for (;;) {
		pthread_mutex_lock(&mu);
		while (phase != PH_STOP && !(phase == PH_ISSUE && round_no != seen))
			pthread_cond_wait(&cv, &mu);
		if (phase == PH_STOP) {
			pthread_mutex_unlock(&mu);
			break;
		}
		seen = round_no;
		w->round = seen;
		pthread_mutex_unlock(&mu);

		struct acted a = { 0 };
		ssize_t res;
		if (!prepare(w)) {
			abort_run();
		}
		w->child = 0;
		issue(w);
		if (!w->p.hold) {
			act(w, &a); /* fork with the child writing, racing the I/O */
			res = complete(w);
			finish_io(w, res, &a);
			pthread_mutex_lock(&mu);
			n_unheld_done++;
			n_done++;
			pthread_cond_broadcast(&cv);
			pthread_mutex_unlock(&mu);
			continue;
		}
		pthread_mutex_lock(&mu);
		WAIT_UNTIL_MS(phase >= PH_ACT, "waiting to act", 3 * WAIT_MS);
		pthread_mutex_unlock(&mu);
		if (!w->p.racing)
			act(w, &a);
		pthread_mutex_lock(&mu);
		n_acted++;
		pthread_cond_broadcast(&cv);
		WAIT_UNTIL_MS(phase >= PH_RELEASE, "waiting for the release", 3 * WAIT_MS);
		pthread_mutex_unlock(&mu);
		if (w->p.racing)
			act(w, &a);
		res = complete(w);
		finish_io(w, res, &a);
		pthread_mutex_lock(&mu);
		n_done++;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

/* ---- the coordinator ---------------------------------------------------------- */

/* Async direct I/O (libaio, io_uring) goes to the daemon as FUSE
 * background requests, at most max_background (12 by default, which diofs
 * keeps) in flight; beyond that the kernel queues them without sending.
 * A held async request keeps its slot, so a round with more async I/O than
 * that would wait for a request the daemon never sees: cap it. */
#define ASYNC_CAP 10

static void draw_plan(struct worker *w, uint64_t *rng, unsigned int *async_left)
{
	struct plan *p = &w->p;
	size_t pages = 1 + soak_below(rng, MAX_PAGES);

	memset(p, 0, sizeof(*p));
	p->op = soak_below(rng, 10) < 6 ? OP_READ : OP_WRITE;
	p->route = (enum route)soak_below(rng, R_COUNT);
	if (p->route == R_LIBAIO || p->route == R_URING) {
		if (*async_left)
			(*async_left)--;
		else
			p->route = p->route == R_LIBAIO ? R_PSYNC : R_VEC;
	}
	p->size = pages * PAGE;
	if (soak_below(rng, 3) == 0)  /* odd sizes too */
		p->size -= soak_below(rng, PAGE - 1);
	/* one FUSE request per I/O: the buffer may start mid-page, so keep
	 * the pages it spans within MAX_PAGES */
	p->boff = soak_below(rng, 2) ? 0 : soak_below(rng, PAGE);
	if (p->boff && (p->boff + p->size + PAGE - 1) / PAGE > MAX_PAGES)
		p->boff = 0;
	p->off = soak_below(rng, 2) ? (off_t)(soak_below(rng, (FILE_SIZE - p->size) / PAGE) * PAGE)
				     : (off_t)soak_below(rng, FILE_SIZE - p->size);
	p->data_seed = soak_next(rng);
	p->hold = soak_below(rng, 10) < 8;
	if (p->hold) {
		p->action = (enum action)soak_below(rng, A_COUNT);
		/* the parent writing while held is the FOLL_PIN case: only a
		 * pinning kernel gets it right (the kernel matrix covers the
		 * others) */
		if (p->action == A_FORK_PARENT && !kernel_pins)
			p->action = A_FORK_CHILD;
		/* racing the release: the timing decides, so only actions
		 * whose outcome does not depend on it */
		p->racing = p->action != A_FORK_PARENT && soak_below(rng, 2);
		unsigned int h = (unsigned int)soak_below(rng, 10);
		p->how = h < 7 ? H_REPLY : h < 8 ? H_EIO : H_SHORT;
		if (p->how == H_SHORT) {
			if (p->size < 2)
				p->how = H_REPLY;
			else
				p->short_len = 1 + soak_below(rng, p->size - 1);
		}
	} else {
		p->action = soak_below(rng, 3) == 0 ? A_FORK_CHILD : A_NONE;
	}
}

/* Pins in flight now (machine-wide), or INT64_MIN if unreadable. */
static int64_t pins_now(void)
{
	struct pin_counts c;

	return pins_read(&c) < 0 ? INT64_MIN : pins_in_flight(&c);
}

/* The counters are machine-wide: other direct I/O moves them too.  While
 * this program is idle (between rounds, before and after the run) nothing
 * of ours is in flight, so a change then is someone else's: "noise".  The
 * per-round checks are judged at the end, and only if no noise was seen
 * (SOAK_PINS_STRICT=1 judges anyway, =0 never); otherwise they are
 * reported.  A quiet machine (CI's) judges everything. */
static int64_t pins_idle_last = INT64_MIN;
static bool pins_noise;
static const char *pins_noise_why;

/* Read while idle.  since_last: nothing of ours ran since the last idle
 * read, so a change since then is noise (not so after a round: there a
 * change is what the round left, the leak check's business). */
static int64_t pins_idle(const char *when, bool since_last)
{
	int64_t a = pins_now(), b = pins_now();

	if (a != b && !pins_noise) {
		pins_noise = true;
		pins_noise_why = when;
	}
	if (since_last && pins_idle_last != INT64_MIN && a != pins_idle_last && !pins_noise) {
		pins_noise = true;
		pins_noise_why = when;
	}
	pins_idle_last = b;
	return b;
}

/* A pin count that is off: counted, the first ten said (fmt a literal). */
#define PIN_MISMATCH(fmt, ...) do {                                           \
	if (f_pin_mismatch++ < 10)                                            \
		soak_note("pin mismatch: " fmt, __VA_ARGS__);                 \
} while (0)

static void full_verify(const char *when)
{
	unsigned char *buf = xmap(FILE_SIZE);
	unsigned char *back = malloc(FILE_SIZE);

	if (!buf || !back) {
		CHECK_FAILF("full verify: out of memory");
		return;
	}
	for (unsigned int t = 0; t < nthreads; t++) {
		struct worker *w = &workers[t];
		int r1 = soak_pread_all(w->fd, buf, FILE_SIZE, 0);
		int r2 = soak_pread_all(w->bfd, back, FILE_SIZE, 0);
		if (r1 < 0 || r2 < 0) {
			CHECK_FAILF("full verify (%s): t%u: reading: %s", when, t,
				  strerror(-(r1 < 0 ? r1 : r2)));
			continue;
		}
		size_t bad1 = soak_diff(buf, w->model, FILE_SIZE);
		size_t bad2 = soak_diff(back, w->model, FILE_SIZE);
		atomic_fetch_add(&f_bytes_verified, 2 * FILE_SIZE);
		if (bad1 || bad2) {
			atomic_fetch_add(&f_corrupt, bad1 + bad2);
			CHECK_FAILF("full verify (%s): t%u: %zu bytes differ through the mount, "
				  "%zu in the backing file", when, t, bad1, bad2);
		}
	}
	munmap(buf, FILE_SIZE);
	free(back);
}

static void run_round(uint64_t seed)
{
	int64_t base = pins_ok ? pins_idle("between rounds", true) : 0;
	uint64_t rng = soak_derive(seed, 0x7ace, round_no + 1);
	unsigned int nheld = 0, nunheld = 0, nact_first = 0, async_left = ASYNC_CAP;
	uint64_t held_pages = 0;
	struct diofs_held held[MAX_THREADS];

	for (unsigned int t = 0; t < nthreads; t++) {
		struct worker *w = &workers[t];
		draw_plan(w, &rng, &async_left);
		if (w->p.hold) {
			nheld++;
			w->p.rule_id = diofsctl_rule_add(ctl, "hold op=%s path=%s count=1",
							 w->p.op == OP_READ ? "read" : "write",
							 w->path);
			if (w->p.rule_id < 0) {
				CHECK_FAILF("rule add: %s", diofsctl_error(ctl));
				abort_run();
			}
			nact_first++;
		} else {
			nunheld++;
		}
	}
	pthread_mutex_lock(&mu);
	n_unheld_done = n_acted = n_done = 0;
	round_no++;
	phase = PH_ISSUE;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);

	int n = nheld ? diofsctl_held(ctl, nheld, WAIT_MS, held, MAX_THREADS) : 0;
	if (n < 0 || (unsigned int)n != nheld) {
		CHECK_FAILF("hang: round %u: %d of %u requests held (%s)", round_no, n, nheld,
			  n < 0 ? diofsctl_error(ctl) : "count");
		abort_run();
	}
	/* which thread each held request is, and that it is the request made */
	struct worker *owner[MAX_THREADS];
	for (int i = 0; i < n; i++) {
		owner[i] = NULL;
		for (unsigned int t = 0; t < nthreads; t++)
			if (!strcmp(held[i].path, workers[t].path))
				owner[i] = &workers[t];
		if (!owner[i]) {
			CHECK_FAILF("round %u: held request on %s is no thread's", round_no,
				  held[i].path);
			continue;
		}
		struct plan *p = &owner[i]->p;
		CHECK(held[i].off == (uint64_t)p->off && held[i].size == p->size &&
			   !strcmp(held[i].op, p->op == OP_READ ? "read" : "write"),
			   "round %u: t%d held %s off=%" PRIu64 " size=%" PRIu64
			   ", issued %s off=%jd size=%zu", round_no, owner[i]->idx, held[i].op,
			   held[i].off, held[i].size, p->op == OP_READ ? "read" : "write",
			   (intmax_t)p->off, p->size);
		held_pages += plan_pages(owner[i]);
	}
	atomic_fetch_add(&f_held, nheld);
	atomic_fetch_add(&f_unheld, nunheld);

	/* the unheld ones end by themselves; then only the held are in flight */
	pthread_mutex_lock(&mu);
	WAIT_UNTIL(n_unheld_done == nunheld, "unheld I/O");
	pthread_mutex_unlock(&mu);
	if (pins_ok && nheld) {
		int64_t want = kernel_pins ? (int64_t)held_pages : 0;
		int64_t d = pins_now() - base;
		f_pin_checks++;
		f_held_pages += held_pages;
		if (d != want)
			PIN_MISMATCH("round %u: %u held requests over %" PRIu64 " pages: %"
				     PRId64 " pins in flight, want %" PRId64, round_no, nheld,
				     held_pages, d, want);
	}

	pthread_mutex_lock(&mu);
	phase = PH_ACT;
	pthread_cond_broadcast(&cv);
	WAIT_UNTIL(n_acted == nact_first, "actions while held");
	phase = PH_RELEASE;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);

	/* release one by one in a random order, each as its thread planned */
	for (int i = n - 1; i > 0; i--) {
		int j = (int)soak_below(&rng, (uint64_t)i + 1);
		struct diofs_held th = held[i];
		struct worker *tw = owner[i];
		held[i] = held[j];
		owner[i] = owner[j];
		held[j] = th;
		owner[j] = tw;
	}
	for (int i = 0; i < n; i++) {
		char how[32] = "reply";
		struct plan *p = owner[i] ? &owner[i]->p : NULL;
		if (p && p->how == H_EIO)
			snprintf(how, sizeof(how), "errno=EIO");
		else if (p && p->how == H_SHORT)
			snprintf(how, sizeof(how), "short=%zu", p->short_len);
		if (diofsctl_release(ctl, held[i].id, how) != 1)
			CHECK_FAILF("round %u: release %" PRIu64 " %s: %s", round_no, held[i].id,
				  how, diofsctl_error(ctl));
	}

	pthread_mutex_lock(&mu);
	WAIT_UNTIL(n_done == nthreads, "completions after the release");
	phase = PH_IDLE;
	pthread_mutex_unlock(&mu);

	for (unsigned int t = 0; t < nthreads; t++)
		if (workers[t].p.hold && diofsctl_rule_del(ctl, workers[t].p.rule_id) < 0)
			CHECK_FAILF("rule del %d: %s", workers[t].p.rule_id, diofsctl_error(ctl));

	if (pins_ok) {
		int64_t d = pins_idle("after a round", false) - base;
		f_pin_checks++;
		if (d != 0)
			PIN_MISMATCH("round %u: %" PRId64 " pins in flight after every request "
				     "completed, want 0", round_no, d);
	}
	f_rounds++;
}

static void setup_worker(struct worker *w, unsigned int t, uint64_t seed)
{
	unsigned char *data = malloc(FILE_SIZE);

	w->idx = (int)t;
	snprintf(w->path, sizeof(w->path), "/race/t%u", t);
	w->model = malloc(FILE_SIZE);
	if (!data || !w->model)
		CHECK_FATALF("out of memory");
	pattern_fill(w->model, FILE_SIZE, 0, soak_derive(seed, 0xf11e, t));
	soak_file_create(&mnt, w->path + 1, w->model, FILE_SIZE, &w->fd, &w->bfd);
	int r = io_setup(4, &w->aio);
	if (r < 0 || io_uring_queue_init(4, &w->ring, 0) < 0)
		CHECK_FATALF("libaio/io_uring setup: %s", strerror(r < 0 ? -r : errno));
	pthread_mutex_init(&w->hmu, NULL);
	pthread_cond_init(&w->hcv, NULL);
	if (pthread_create(&w->helper, NULL, helper_main, w) ||
	    pthread_create(&w->thread, NULL, worker_main, w))
		CHECK_FATALF("pthread_create");
	free(data);
}

static void report(void)
{
	soak_figure_set("threads", nthreads);
	soak_figure_set("rounds", f_rounds);
	soak_figure_set("ops", f_ops);
	soak_figure_set("ops_held", f_held);
	soak_figure_set("ops_unheld", f_unheld);
	soak_figure_each("ops", route_name, f_route, R_COUNT);
	soak_figure_each("action", action_name, f_action, A_COUNT);
	soak_figure_set("forks", f_forks);
	soak_figure_set("guard_mappings_checked", f_guard_checked);
	soak_figure_set("errors_injected", f_errors_expected);
	soak_figure_set("errors_seen", f_errors_seen);
	soak_figure_set("short_replies", f_short_seen);
	soak_figure_set("bytes_verified", f_bytes_verified);
	soak_figure_set("corrupted_bytes", f_corrupt);
	soak_figure_set("pin_checks", f_pin_checks);
	soak_figure_str("pin_checks_judged", "%s", !pins_ok ? "no (not counted)" :
			pins_judged ? "yes" : "no (other direct I/O on the machine)");
	soak_figure_set("held_pages_counted", f_held_pages);
	soak_figure_set("pin_checks_off", f_pin_mismatch);
	soak_figure_set("pins_leaked", f_pins_leaked);
}

/* A hang or a fatal error: print what was done and end the run (the
 * runner takes down the fork children, the mount). */
static void abort_run(void)
{
	static atomic_bool dumping;

	if (!atomic_exchange(&dumping, true)) {
		/* what each thread was doing, what the daemon holds, and
		 * where everyone waits */
		for (unsigned int t = 0; t < nthreads; t++) {
			struct plan *p = &workers[t].p;
			soak_note("t%u: round %u %s %s %zu at %jd, %s, action %s%s, release %d", t,
				  workers[t].round, route_name[p->route],
				  p->op == OP_READ ? "read" : "write", p->size, (intmax_t)p->off,
				  p->hold ? "held" : "not held", action_name[p->action],
				  p->racing ? " racing" : "", p->how);
		}
		char err[256], **lines = NULL;
		struct diofsctl *c2 = diofsctl_connect(mnt.ctl, err, sizeof(err));
		int n = c2 ? diofsctl_cmd(c2, &lines, "held") : -1;
		for (int i = 0; i < n; i++)
			soak_note("daemon holds: %s", lines[i]);
		diofsctl_free_lines(lines);
		if (c2)
			diofsctl_close(c2);
		soak_dump_tasks(getpid(), "the clients");
		if (mnt.pid > 0)
			soak_dump_tasks(mnt.pid, "the daemon");
	}
	report();
	test_end_case();
}

static void race(void)
{
	char err[512];

	soak_mount(&mnt, NULL);
	if (mkdir(diofs_mnt_path(&mnt, "race"), 0755) < 0)
		CHECK_FATALF("mkdir: %s", strerror(errno));
	ctl = diofsctl_connect(mnt.ctl, err, sizeof(err));
	if (!ctl)
		CHECK_FATALF("control socket: %s", err);
	for (unsigned int t = 0; t < nthreads; t++)
		setup_worker(&workers[t], t, opts.seed);

	if (pins_ok) {
		start_pins = pins_idle("before the run", false);
		for (int i = 0; i < 20; i++)
			pins_idle("before the run", true);
	}

	int64_t end = diofs_now_ms() + (int64_t)opts.seconds * 1000;
	unsigned int verify_every = 25;
	while (diofs_now_ms() < end && test_failures() < 20) {
		run_round(opts.seed);
		if (round_no % verify_every == 0)
			full_verify("periodic");
	}
	pthread_mutex_lock(&mu);
	phase = PH_STOP;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (unsigned int t = 0; t < nthreads; t++) {
		struct worker *w = &workers[t];
		pthread_join(w->thread, NULL);
		pthread_mutex_lock(&w->hmu);
		w->hstate = 3;
		pthread_cond_broadcast(&w->hcv);
		pthread_mutex_unlock(&w->hmu);
		pthread_join(w->helper, NULL);
	}
	full_verify("final");

	/* the daemon's view: every held request accounted for */
	char **lines = NULL;
	if (diofsctl_cmd(ctl, &lines, "held") != 0)
		CHECK_FAILF("requests still held at the end");
	diofsctl_free_lines(lines);
	for (unsigned int t = 0; t < nthreads; t++) {
		close(workers[t].fd);
		close(workers[t].bfd);
		io_destroy(workers[t].aio);
		io_uring_queue_exit(&workers[t].ring);
		free(workers[t].model);
	}
	diofsctl_close(ctl);
	CHECK(diofs_mount_alive(&mnt), "the daemon died during the run");
	diofs_mount_stop(&mnt);
	if (pins_ok) {
		int64_t d = pins_idle("after the run", false) - start_pins;
		/* A pin left over is a leak only if it stays: another process's
		 * direct I/O ends.  Watch it for a while (a measurement, not a
		 * wait for anything of ours). */
		for (int i = 0; d != 0 && i < 100; i++) {
			poll(NULL, 0, 100);
			int64_t now = pins_now() - start_pins;
			if (now != d && !pins_noise) {
				pins_noise = true;
				pins_noise_why = "after the run, while idle";
			}
			d = now;
		}
		for (int i = 0; i < 20; i++)
			pins_idle("after the run", true);
		f_pin_checks++;
		if (d != 0)
			PIN_MISMATCH("%" PRId64 " pins in flight 10 s after the run, %" PRId64
				     " before", d + start_pins, start_pins);
		f_pins_leaked = d > 0 ? (uint64_t)d : 0;
		const char *env = getenv("SOAK_PINS_STRICT");
		bool judge = env && *env ? strcmp(env, "0") != 0 : !pins_noise;
		if (pins_noise)
			soak_note("other direct I/O on this machine moved the pin counters (%s): "
				  "%" PRIu64 " of %" PRIu64 " pin checks off, %s", pins_noise_why,
				  f_pin_mismatch, f_pin_checks,
				  judge ? "judged anyway (SOAK_PINS_STRICT)" : "reported, not judged");
		if (judge)
			CHECK(f_pin_mismatch == 0, "%" PRIu64 " of %" PRIu64 " pin checks "
				   "off on a quiet machine (see the pin mismatch lines)",
				   f_pin_mismatch, f_pin_checks);
		pins_judged = judge;
	}
	CHECK(f_corrupt == 0, "corrupted bytes: %lu", (unsigned long)f_corrupt);
	report();
	diofs_mount_stop(&mnt);
}

int main(int argc, char **argv)
{
	soak_init("race", argc, argv, &opts, 180, 30);
	soak_require_mount();
	nthreads = soak_threads(&opts, 8, 16, MAX_THREADS);
	kernel_pins = soak_kernel_pins();
	const char *why = pins_unavailable();
	pins_ok = !why;
	soak_note("%u threads, kernel %s, pins %s%s", nthreads,
		  kernel_pins ? "pins FUSE direct I/O (6.9+)" : "does not pin (before 6.9)",
		  pins_ok ? "counted" : "not counted: ", pins_ok ? "" : why);
	return soak_run(race, opts.seconds + 120);
}
