/* Parked calls.  A held call waits in a list (id order) until the control
 * server releases it or its caller is interrupted.  A delayed call, and a
 * call waiting for a file lock, waits in a list (deadline order) for the
 * timer thread, which sleeps until the earliest deadline only: each delay
 * expires on its own, whatever the others are.  None occupies a thread, so
 * any number can wait while other requests are served.
 *
 * The timer thread runs a due call itself.  That is safe because no
 * operation waits on another client: a lock that is taken parks the call
 * again (holds_park_lock) instead of blocking, and the rest are single
 * passthrough calls on the backing filesystem.
 *
 * Lock waits.  Woken when a lock may have been let go through diofs (every
 * waiter is run again: flock(2) has no queue, the kernel also wakes all
 * waiters and lets them race, so neither does diofs promise an order), and
 * retried on a growing timer for locks held outside the mount.  A waiter
 * reads the generation before it tries; holds_locks_changed() bumps it and
 * then looks at the number of waiters, a parking waiter counts itself and
 * then compares the generation (both sequentially consistent), so one of
 * the two sees the other and no wakeup is lost.
 *
 * Interrupts and lock order.  interrupt.c calls our interrupt callback with
 * no lock of its own held, either from the thread that read the
 * FUSE_INTERRUPT or from interrupt_func() itself, when the interrupt
 * came before the callback was set.  So:
 *  - a call is first entered RESERVED (invisible to release, list and the
 *    timer), the callback is set outside our mutex, and only then is the
 *    call made WAITING.  While RESERVED, the callback only marks it
 *    interrupted and the parking thread answers EINTR itself once
 *    interrupt_func() has returned; once WAITING, the callback
 *    takes it out and answers EINTR.
 *  - the callback is given the park's key, not the call: a call answered
 *    meanwhile is simply no longer found.  A call that is run again and
 *    parks again gets a new key; an interrupt that came while it ran was
 *    recorded by interrupt.c, and setting the callback again calls it at
 *    once.
 * Whoever removes an entry under the mutex owns the call and answers it
 * after unlocking.
 *
 * Ring entries.  Over io_uring a parked call keeps its ring entry, and a
 * lock wait is one that any caller can cause: so a lock waiter takes a
 * share of its queue's entries, and of its user's part of it
 * (uring_wait_begin; uring.c says why and how much), for as long as it is
 * parked, and is answered ENOLCK when the share is used up.  A waiter that
 * the timer runs again keeps its share while it runs: parking again, it
 * takes it over instead of competing anew with callers that came later.
 * Holds and delays take no share: they are the operator's. */
#include <config.h>
#include "holds.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call_life.h"
#include "clock.h"
#include "interrupt.h"
#include "reply_errno.h"
#include "uring.h"
#include "proto/held.h"

enum park_kind { PARK_HOLD, PARK_DELAY, PARK_LOCK };

/* Keys of timed parks have this bit; held calls' keys are their ids. */
#define TIMED_KEY (UINT64_C(1) << 63)

#define LOCK_RETRY_MIN_MS 10
#define LOCK_RETRY_MAX_MS 1000

struct park {
	struct park *prev, *next;
	struct diofs_call *c;
	uint64_t key;         /* held calls: the id release and list use */
	uint64_t deadline_ns; /* timed calls: when to run (again) */
	const char *path;     /* held calls: resolved when parked, for the list */
	enum park_kind kind;
	int ring_q;           /* lock waits: the queue whose share it took */
	uid_t ring_uid;       /* ... for this caller */
	bool waiting;         /* false while RESERVED */
	bool interrupted;     /* interrupted while RESERVED */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t held_cv;  /* nheld grew (holds_wait) */
static pthread_cond_t timer_cv; /* the timed list changed, or stop */
static struct park held_list = { .prev = &held_list, .next = &held_list };
static struct park timed_list = { .prev = &timed_list, .next = &timed_list };
static uint64_t next_id = 1, next_timed = 1;
static unsigned int nheld;
static bool closing;
static int closing_err = EIO;
static bool timer_started, timer_stop;
static pthread_t timer_thread;
static holds_resume_fn resume; /* set once, before any park */
static _Atomic uint64_t lock_gen;
static _Atomic unsigned int nlockwait; /* PARK_LOCK entries in timed_list */
/* The lock waiter the timer thread is running again, and its share. */
static __thread struct {
	uint64_t unique;
	int ring_q;
	uid_t ring_uid;
	bool valid;
} rerun;

static void park_free(struct park *p)
{
	uring_wait_end(p->ring_q, p->ring_uid);
	free(p);
}

static void list_add_before(struct park *pos, struct park *p)
{
	p->next = pos;
	p->prev = pos->prev;
	pos->prev->next = p;
	pos->prev = p;
}

static void list_del(struct park *p)
{
	p->prev->next = p->next;
	p->next->prev = p->prev;
	p->prev = p->next = p;
}

/* Into the timed list in deadline order, equal deadlines first come first. */
static void timed_insert(struct park *p)
{
	struct park *pos;

	for (pos = timed_list.prev; pos != &timed_list; pos = pos->prev)
		if (pos->deadline_ns <= p->deadline_ns)
			break;
	list_add_before(pos->next, p);
}

/* Take p out of its list, with the counts that go with it (under mu). */
static void park_remove(struct park *p)
{
	list_del(p);
	if (p->kind == PARK_HOLD && p->waiting)
		nheld--;
	if (p->kind == PARK_LOCK)
		atomic_fetch_sub(&nlockwait, 1);
}

static struct park *find_key(uint64_t key)
{
	struct park *head = key & TIMED_KEY ? &timed_list : &held_list;

	for (struct park *p = head->next; p != head; p = p->next)
		if (p->key == key)
			return p;
	return NULL;
}

static void deadline_ts(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = ns / 1000000000u;
	ts->tv_nsec = ns % 1000000000u;
}

/* The earliest timed call that is not still being parked. */
static struct park *first_due_candidate(void)
{
	for (struct park *p = timed_list.next; p != &timed_list; p = p->next)
		if (p->waiting)
			return p;
	return NULL;
}

/* Runs timed calls as they fall due (see the top for why here). */
static void *timer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!timer_stop) {
		struct park *p = first_due_candidate();
		struct diofs_call *c;

		if (!p) {
			pthread_cond_wait(&timer_cv, &mu);
			continue;
		}
		if (p->deadline_ns > now_ns()) {
			struct timespec ts;

			deadline_ts(p->deadline_ns, &ts);
			pthread_cond_timedwait(&timer_cv, &mu, &ts);
			continue;
		}
		park_remove(p);
		pthread_mutex_unlock(&mu);
		c = p->c;
		if (p->kind == PARK_LOCK) {
			rerun.unique = c->unique;
			rerun.ring_q = p->ring_q;
			rerun.ring_uid = p->ring_uid;
			rerun.valid = true;
			p->ring_q = URING_NO_QUEUE;
		}
		park_free(p);
		resume(c, RELEASE_RUN, 0);
		if (rerun.valid) { /* answered, not parked again */
			uring_wait_end(rerun.ring_q, rerun.ring_uid);
			rerun.valid = false;
		}
		pthread_mutex_lock(&mu);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int holds_init(holds_resume_fn resume_fn)
{
	pthread_condattr_t ca;
	int err;

	resume = resume_fn;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&held_cv, &ca);
	pthread_cond_init(&timer_cv, &ca);
	pthread_condattr_destroy(&ca);

	err = pthread_create(&timer_thread, NULL, timer_main, NULL);
	if (err)
		return -err;
	timer_started = true;
	return 0;
}

/* The caller was interrupted: EINTR, or for proto=late the real reply,
 * late (proto_fault.c). */
static void answer_interrupted(struct diofs_call *c)
{
	if (c->proto_fault == PROTO_FAULT_LATE)
		resume(c, RELEASE_RUN, 0);
	else
		resume(c, RELEASE_ERRNO, EINTR);
}

static void on_interrupt(void *data)
{
	uint64_t key = (uintptr_t)data;
	struct park *p;

	pthread_mutex_lock(&mu);
	p = find_key(key);
	if (p && !p->waiting) {
		p->interrupted = true; /* the parking thread answers it */
		p = NULL;
	} else if (p) {
		park_remove(p);
	}
	pthread_mutex_unlock(&mu);

	if (p) {
		struct diofs_call *c = p->c;

		park_free(p);
		answer_interrupted(c);
	}
}

/* Enter p into its list RESERVED (under mu, not closing). */
static void park_reserve(struct park *p, uint64_t generation)
{
	if (p->kind == PARK_HOLD) {
		p->key = next_id++;
		list_add_before(&held_list, p); /* ids grow: the list stays sorted */
		return;
	}
	p->key = TIMED_KEY | next_timed++;
	if (p->kind == PARK_LOCK) {
		atomic_fetch_add(&nlockwait, 1);
		if (atomic_load(&lock_gen) != generation)
			p->deadline_ns = 0; /* a lock went meanwhile: try again now */
	}
	timed_insert(p);
}

/* Park p's call: reserve, make it interruptible, then let it wait. */
static void park_enter(struct park *p, uint64_t generation)
{
	struct diofs_call *c = p->c;
	int err = 0;

	pthread_mutex_lock(&mu);
	if (closing)
		err = closing_err;
	else if (p->kind != PARK_HOLD && !timer_started)
		err = EIO;
	else
		park_reserve(p, generation);
	pthread_mutex_unlock(&mu);
	if (err) {
		park_free(p);
		resume(c, RELEASE_ERRNO, err);
		return;
	}

	/* Nobody else answers a RESERVED call: c is still ours here. */
	interrupt_func(c, on_interrupt, (void *)(uintptr_t)p->key);

	pthread_mutex_lock(&mu);
	if (p->interrupted && !closing) {
		park_remove(p);
		pthread_mutex_unlock(&mu);
		park_free(p);
		answer_interrupted(c);
		return;
	}
	if (closing) {
		err = closing_err;
		park_remove(p);
	} else {
		p->waiting = true;
		if (p->kind == PARK_HOLD) {
			nheld++;
			pthread_cond_broadcast(&held_cv);
		} else {
			pthread_cond_signal(&timer_cv);
		}
	}
	pthread_mutex_unlock(&mu);
	if (err) {
		park_free(p);
		resume(c, RELEASE_ERRNO, err);
	}
}

static struct park *park_new(struct diofs_call *c, enum park_kind kind)
{
	struct park *p = calloc(1, sizeof(*p));

	if (!p) {
		resume(c, RELEASE_ERRNO, ENOMEM);
		return NULL;
	}
	p->c = c;
	p->kind = kind;
	p->ring_q = URING_NO_QUEUE;
	return p;
}

/* c itself, or its copy on the heap: a parked call outlives the thread
 * that parks it.  NULL, c answered ENOMEM, if there is no memory. */
static struct diofs_call *keep(struct diofs_call *c)
{
	struct diofs_call *d = call_to_heap(c);

	if (!d)
		resume(c, RELEASE_ERRNO, ENOMEM);
	return d;
}

void holds_park(struct diofs_call *c, uint64_t deadline_ns)
{
	const char *path;
	struct park *p;

	c = keep(c);
	if (!c)
		return;
	path = deadline_ns ? NULL : call_path(c); /* not under mu */
	p = park_new(c, deadline_ns ? PARK_DELAY : PARK_HOLD);
	if (!p)
		return;
	p->path = path;
	p->deadline_ns = deadline_ns;
	park_enter(p, 0);
}

uint64_t holds_lock_generation(void)
{
	return atomic_load(&lock_gen);
}

void holds_park_lock(struct diofs_call *c, uint64_t generation)
{
	unsigned int ms;
	struct park *p;
	int ring_q;

	c = keep(c);
	if (!c)
		return;
	ms = c->lock_retry_ms;
	if (rerun.valid && rerun.unique == c->unique) {
		ring_q = rerun.ring_q;
		rerun.valid = false;
	} else {
		ring_q = uring_wait_begin(c->unique, c->uid);
		if (ring_q == -ENOLCK) {
			resume(c, RELEASE_ERRNO, ENOLCK);
			return;
		}
	}
	p = park_new(c, PARK_LOCK);
	if (!p) {
		uring_wait_end(ring_q, c->uid);
		return;
	}
	p->ring_q = ring_q;
	p->ring_uid = c->uid;
	ms = !ms ? LOCK_RETRY_MIN_MS : ms >= LOCK_RETRY_MAX_MS / 2 ? LOCK_RETRY_MAX_MS : 2 * ms;
	c->lock_retry_ms = ms;
	p->deadline_ns = now_ns() + (uint64_t)ms * 1000000u;
	park_enter(p, generation);
}

void holds_locks_changed(void)
{
	struct park due = { .prev = &due, .next = &due };
	struct park *p, *next;

	atomic_fetch_add(&lock_gen, 1);
	if (!atomic_load(&nlockwait))
		return;
	/* Every lock waiter to the front, due now, in the order they had. */
	pthread_mutex_lock(&mu);
	for (p = timed_list.next; p != &timed_list; p = next) {
		next = p->next;
		if (p->kind != PARK_LOCK)
			continue;
		list_del(p);
		p->deadline_ns = 0;
		list_add_before(&due, p);
	}
	if (due.next != &due) {
		due.next->prev = &timed_list;
		due.prev->next = timed_list.next;
		timed_list.next->prev = due.prev;
		timed_list.next = due.next;
		pthread_cond_signal(&timer_cv);
	}
	pthread_mutex_unlock(&mu);
}

/* Answer every entry of the detached list head. */
static int answer_all(struct park *head, enum release_how how, long arg)
{
	int n = 0;

	while (head->next != head) {
		struct park *p = head->next;
		struct diofs_call *c = p->c;

		list_del(p);
		park_free(p);
		resume(c, how, arg);
		n++;
	}
	return n;
}

/* Move the waiting (not reserved) entries of list to head, in order. */
static void take_waiting(struct park *list, struct park *head)
{
	struct park *p, *next;

	for (p = list->next; p != list; p = next) {
		next = p->next;
		if (!p->waiting)
			continue;
		park_remove(p);
		list_add_before(head, p);
	}
}

int holds_release(uint64_t id, enum release_how how, long arg, const char **why)
{
	struct park taken = { .prev = &taken, .next = &taken };
	struct park *one = NULL;
	uint64_t ops = 0;

	*why = NULL;
	pthread_mutex_lock(&mu);
	if (id) {
		one = id & TIMED_KEY ? NULL : find_key(id);
		if (!one || !one->waiting) {
			pthread_mutex_unlock(&mu);
			return -ENOENT;
		}
		ops = UINT64_C(1) << one->c->op;
	} else {
		for (struct park *p = held_list.next; p != &held_list; p = p->next)
			if (p->waiting)
				ops |= UINT64_C(1) << p->c->op;
	}
	if (how == RELEASE_ERRNO && (*why = reply_errno_refusal(ops, (int)arg))) {
		pthread_mutex_unlock(&mu);
		return -EINVAL;
	}
	if (one) {
		park_remove(one);
		list_add_before(&taken, one);
	} else {
		take_waiting(&held_list, &taken);
	}
	pthread_mutex_unlock(&mu);
	return answer_all(&taken, how, arg);
}

void holds_shutdown(int err)
{
	struct park held = { .prev = &held, .next = &held };
	struct park timed = { .prev = &timed, .next = &timed };

	pthread_mutex_lock(&mu);
	closing = true;
	closing_err = err;
	take_waiting(&held_list, &held);
	take_waiting(&timed_list, &timed);
	timer_stop = true;
	pthread_cond_signal(&timer_cv);
	pthread_cond_broadcast(&held_cv);
	pthread_mutex_unlock(&mu);

	if (timer_started) {
		pthread_join(timer_thread, NULL);
		timer_started = false;
	}
	answer_all(&held, RELEASE_ERRNO, err);
	answer_all(&timed, RELEASE_ERRNO, err);
}

int holds_wait(unsigned int min, int timeout_ms)
{
	struct timespec ts;
	int ret = 0;

	if (timeout_ms >= 0)
		deadline_ts(now_ns() + (uint64_t)timeout_ms * 1000000u, &ts);
	pthread_mutex_lock(&mu);
	while (nheld < min) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&held_cv, &mu);
		} else if (pthread_cond_timedwait(&held_cv, &mu, &ts) == ETIMEDOUT) {
			if (nheld < min)
				ret = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&mu);
	return ret;
}

void holds_list(holds_line_fn fn, void *ctx)
{
	char **lines = NULL;
	size_t n = 0, cap = 0;

	/* Format under the lock, hand out after: fn may block on a socket. */
	pthread_mutex_lock(&mu);
	for (struct park *p = held_list.next; p != &held_list; p = p->next) {
		const struct diofs_call *c = p->c;
		char *line;

		if (!p->waiting)
			continue;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			char **nl = realloc(lines, ncap * sizeof(*nl));

			if (!nl)
				break;
			lines = nl;
			cap = ncap;
		}
		line = ctl_held_format(p->key, diofs_op_name(c->op), (uint64_t)c->off, c->size,
				       c->pid, c->unique, p->path ? p->path : "?");
		if (!line)
			break;
		lines[n++] = line;
	}
	pthread_mutex_unlock(&mu);

	for (size_t i = 0; i < n; i++) {
		fn(ctx, lines[i]);
		free(lines[i]);
	}
	free(lines);
}

unsigned int holds_count(void)
{
	unsigned int n;

	pthread_mutex_lock(&mu);
	n = nheld;
	pthread_mutex_unlock(&mu);
	return n;
}
