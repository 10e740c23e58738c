/* Parked calls.  A held call waits in a list (id order) until the control
 * server releases it or its caller is interrupted; a delayed call waits in a
 * list (deadline order) for the one timer thread.  Neither occupies a
 * thread, so any number can wait while other requests are served.
 *
 * Interrupts and lock order.  libfuse calls our interrupt callback with the
 * request's own lock (req->lock) held, either from the thread that handles
 * FUSE_INTERRUPT (find_interrupted, which holds a reference on the request,
 * so the callback may reply: the request is freed only when that reference
 * is dropped) or from fuse_req_interrupt_func() itself, when the interrupt
 * came before the callback was set.  In that second case replying inside the
 * callback would free the request while fuse_req_interrupt_func() still has
 * to unlock req->lock.  So:
 *  - the callback takes our mutex inside req->lock; we therefore never call
 *    fuse_req_interrupt_func() nor reply while holding our mutex;
 *  - a call is first entered as RESERVED (invisible to release and list),
 *    the callback is set outside our mutex, and only then is the call made
 *    HELD.  While RESERVED, the callback only marks it interrupted and the
 *    parking thread answers EINTR itself once fuse_req_interrupt_func() has
 *    returned; once HELD, the callback takes it out and answers EINTR.
 *  - the callback is given the id, not the call: a call released meanwhile
 *    is simply no longer found.
 * Whoever removes an entry under the mutex owns the call and answers it
 * after unlocking. */
#include <config.h>
#include "holds.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum park_state { PARK_RESERVED, PARK_HELD, PARK_DELAYED };

struct park {
	struct park *prev, *next;
	struct diofs_call *c;
	uint64_t id;          /* held calls only */
	uint64_t deadline_ns; /* delayed calls only */
	const char *path;     /* resolved when parked, for holds_list */
	enum park_state state;
	bool interrupted;     /* interrupted while RESERVED */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t held_cv;  /* nheld grew (holds_wait) */
static pthread_cond_t timer_cv; /* earliest deadline changed, or stop */
static struct park held_list = { .prev = &held_list, .next = &held_list };
static struct park delay_list = { .prev = &delay_list, .next = &delay_list };
static uint64_t next_id = 1;
static unsigned int nheld;
static bool closing;
static int closing_err = EIO;
static bool timer_started, timer_stop;
static pthread_t timer_thread;

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

static struct park *find_id(uint64_t id)
{
	for (struct park *p = held_list.next; p != &held_list; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

static void deadline_ts(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = ns / 1000000000u;
	ts->tv_nsec = ns % 1000000000u;
}

/* Runs due delayed calls.  They run here one after the other: a delayed
 * call's operation is a plain passthrough call, short next to a delay. */
static void *timer_main(void *arg)
{
	pthread_mutex_lock(&mu);
	while (!timer_stop) {
		struct park *p = delay_list.next;

		if (p == &delay_list) {
			pthread_cond_wait(&timer_cv, &mu);
			continue;
		}
		if (p->deadline_ns > now_ns()) {
			struct timespec ts;

			deadline_ts(p->deadline_ns, &ts);
			pthread_cond_timedwait(&timer_cv, &mu, &ts);
			continue;
		}
		list_del(p);
		pthread_mutex_unlock(&mu);
		struct diofs_call *c = p->c;
		free(p);
		dispatch_resume(c, RELEASE_RUN, 0);
		pthread_mutex_lock(&mu);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int holds_init(void)
{
	pthread_condattr_t ca;
	int err;

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

static void on_interrupt(fuse_req_t req, void *data)
{
	uint64_t id = (uintptr_t)data;
	struct park *p;

	pthread_mutex_lock(&mu);
	p = find_id(id);
	if (p && p->state == PARK_RESERVED) {
		p->interrupted = true; /* the parking thread answers it */
		p = NULL;
	} else if (p) {
		list_del(p);
		nheld--;
	}
	pthread_mutex_unlock(&mu);

	if (p) {
		struct diofs_call *c = p->c;

		free(p);
		dispatch_resume(c, RELEASE_ERRNO, EINTR);
	}
}

static void park_hold(struct diofs_call *c)
{
	const char *path = call_path(c); /* may do a syscall: not under mu */
	struct park *p = calloc(1, sizeof(*p));
	int err = 0;

	if (!p) {
		dispatch_resume(c, RELEASE_ERRNO, ENOMEM);
		return;
	}
	p->c = c;
	p->path = path;
	p->state = PARK_RESERVED;

	pthread_mutex_lock(&mu);
	if (closing) {
		err = closing_err;
	} else {
		p->id = next_id++;
		list_add_before(&held_list, p); /* ids grow: the list stays sorted */
	}
	pthread_mutex_unlock(&mu);
	if (err) {
		free(p);
		dispatch_resume(c, RELEASE_ERRNO, err);
		return;
	}

	/* Nobody else answers a RESERVED call: c->req is still ours here. */
	fuse_req_interrupt_func(c->req, on_interrupt, (void *)(uintptr_t)p->id);

	pthread_mutex_lock(&mu);
	if (p->interrupted || closing) {
		err = p->interrupted ? EINTR : closing_err;
		list_del(p);
	} else {
		p->state = PARK_HELD;
		nheld++;
		pthread_cond_broadcast(&held_cv);
	}
	pthread_mutex_unlock(&mu);
	if (err) {
		free(p);
		dispatch_resume(c, RELEASE_ERRNO, err);
	}
}

static void park_delay(struct diofs_call *c, uint64_t deadline_ns)
{
	struct park *p = calloc(1, sizeof(*p));
	struct park *pos;
	int err = 0;

	if (!p) {
		dispatch_resume(c, RELEASE_ERRNO, ENOMEM);
		return;
	}
	p->c = c;
	p->deadline_ns = deadline_ns;
	p->state = PARK_DELAYED;

	pthread_mutex_lock(&mu);
	if (closing || !timer_started) {
		err = closing ? closing_err : EIO;
	} else {
		/* Keep deadline order, equal deadlines first come first. */
		for (pos = delay_list.prev; pos != &delay_list; pos = pos->prev)
			if (pos->deadline_ns <= deadline_ns)
				break;
		list_add_before(pos->next, p);
		if (delay_list.next == p)
			pthread_cond_signal(&timer_cv);
	}
	pthread_mutex_unlock(&mu);
	if (err) {
		free(p);
		dispatch_resume(c, RELEASE_ERRNO, err);
	}
}

void holds_park(struct diofs_call *c, uint64_t deadline_ns)
{
	if (deadline_ns)
		park_delay(c, deadline_ns);
	else
		park_hold(c);
}

/* Answer every entry of the detached list head. */
static int answer_all(struct park *head, enum release_how how, long arg)
{
	int n = 0;

	while (head->next != head) {
		struct park *p = head->next;
		struct diofs_call *c = p->c;

		list_del(p);
		free(p);
		dispatch_resume(c, how, arg);
		n++;
	}
	return n;
}

/* Move the held (not reserved) entries of held_list to head, in id order. */
static void take_held(struct park *head)
{
	struct park *p, *next;

	for (p = held_list.next; p != &held_list; p = next) {
		next = p->next;
		if (p->state != PARK_HELD)
			continue;
		list_del(p);
		list_add_before(head, p);
		nheld--;
	}
}

int holds_release(uint64_t id, enum release_how how, long arg)
{
	struct park taken = { .prev = &taken, .next = &taken };

	pthread_mutex_lock(&mu);
	if (id) {
		struct park *p = find_id(id);

		if (!p || p->state != PARK_HELD) {
			pthread_mutex_unlock(&mu);
			return -ENOENT;
		}
		list_del(p);
		list_add_before(&taken, p);
		nheld--;
	} else {
		take_held(&taken);
	}
	pthread_mutex_unlock(&mu);
	return answer_all(&taken, how, arg);
}

void holds_shutdown(int err)
{
	struct park held = { .prev = &held, .next = &held };
	struct park delayed = { .prev = &delayed, .next = &delayed };

	pthread_mutex_lock(&mu);
	closing = true;
	closing_err = err;
	take_held(&held);
	if (delay_list.next != &delay_list) {
		delayed.next = delay_list.next;
		delayed.prev = delay_list.prev;
		delayed.next->prev = &delayed;
		delayed.prev->next = &delayed;
		delay_list.next = delay_list.prev = &delay_list;
	}
	timer_stop = true;
	pthread_cond_signal(&timer_cv);
	pthread_cond_broadcast(&held_cv);
	pthread_mutex_unlock(&mu);

	if (timer_started) {
		pthread_join(timer_thread, NULL);
		timer_started = false;
	}
	answer_all(&held, RELEASE_ERRNO, err);
	answer_all(&delayed, RELEASE_ERRNO, err);
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

		if (p->state != PARK_HELD)
			continue;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			char **nl = realloc(lines, ncap * sizeof(*nl));

			if (!nl)
				break;
			lines = nl;
			cap = ncap;
		}
		if (asprintf(&line, "id=%" PRIu64 " op=%s off=%jd size=%zu pid=%d"
			     " unique=%" PRIu64 " path=%s", p->id,
			     diofs_op_name(c->op), (intmax_t)c->off, c->size,
			     (int)c->pid, c->unique, p->path ? p->path : "?") < 0)
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
