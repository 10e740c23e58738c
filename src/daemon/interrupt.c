/* FUSE_INTERRUPT: which calls were interrupted, and who to tell.
 * A call that can be interrupted (a parked one) is registered by its
 * unique until its reply.  As in libfuse, an interrupt is remembered for
 * the rest of the call's life: a registration after it (the call parks
 * again, or was still on its way to being parked on another thread; the
 * kernel sends the INTERRUPT only after the request was read) calls the
 * callback at once.  An interrupt for a unique not registered (a call that
 * just runs, or has not parked yet) is kept as an unregistered entry, with
 * no limit on their number (a fixed table lost the oldest, and a call that
 * parked after that could not be interrupted any more): the call's reply
 * drops it.  An interrupt handled just after its call's reply (read
 * before it) would stay for ever, so unregistered entries older than
 * PENDING_MAX_AGE_S are dropped too: no call takes that long from its
 * request to parking. */
#include <config.h>
#include "interrupt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "clock.h"

struct intr_reg {
	struct intr_reg *next;
	uint64_t unique;
	interrupt_fn fn;          /* NULL: interrupted, not registered yet */
	void *data;
	bool interrupted;
	uint64_t since_ns;        /* when an unregistered entry was made */
};

#define INTR_BUCKETS 1024
#define PENDING_MAX_AGE_S 60

static pthread_mutex_t intr_mu = PTHREAD_MUTEX_INITIALIZER;
static struct intr_reg *intr_regs[INTR_BUCKETS];
static atomic_uint npending;      /* unregistered entries */
static uint64_t last_prune_ns;

static struct intr_reg **intr_bucket(uint64_t unique)
{
	return &intr_regs[(unique >> 1) % INTR_BUCKETS];
}

static struct intr_reg *intr_find(uint64_t unique)
{
	for (struct intr_reg *r = *intr_bucket(unique); r; r = r->next)
		if (r->unique == unique)
			return r;
	return NULL;
}

/* Take unique's entry out; only if it is unregistered, with unregistered. */
static struct intr_reg *intr_take(uint64_t unique, bool unregistered)
{
	for (struct intr_reg **pp = intr_bucket(unique); *pp; pp = &(*pp)->next) {
		struct intr_reg *r = *pp;

		if (r->unique != unique)
			continue;
		if (unregistered && r->fn)
			return NULL;
		*pp = r->next;
		if (!r->fn)
			atomic_fetch_sub(&npending, 1);
		return r;
	}
	return NULL;
}

/* Drop unregistered entries older than PENDING_MAX_AGE_S (under intr_mu),
 * at most once in that time. */
static void prune_pending(uint64_t now)
{
	uint64_t max_age = (uint64_t)PENDING_MAX_AGE_S * 1000000000u;

	if (now - last_prune_ns < max_age)
		return;
	last_prune_ns = now;
	for (unsigned int b = 0; b < INTR_BUCKETS; b++)
		for (struct intr_reg **pp = &intr_regs[b]; *pp;) {
			struct intr_reg *r = *pp;

			if (r->fn || now - r->since_ns < max_age) {
				pp = &r->next;
				continue;
			}
			*pp = r->next;
			atomic_fetch_sub(&npending, 1);
			free(r);
		}
}

void interrupt_func(struct diofs_call *c, interrupt_fn fn, void *data)
{
	struct intr_reg *fresh = malloc(sizeof(*fresh)), *r;
	bool interrupted = false;

	pthread_mutex_lock(&intr_mu);
	r = intr_find(c->unique);
	if (r && !r->fn)
		atomic_fetch_sub(&npending, 1); /* registered from now on */
	if (!r && fresh) {
		struct intr_reg **head = intr_bucket(c->unique);

		*fresh = (struct intr_reg){ .next = *head, .unique = c->unique };
		*head = r = fresh;
		fresh = NULL;
	}
	if (r) {
		r->fn = fn;
		r->data = data;
		interrupted = r->interrupted;
		c->interruptible = true;
	}
	pthread_mutex_unlock(&intr_mu);
	free(fresh); /* not needed, or (out of memory) not registered */
	if (interrupted)
		fn(data);
}

void interrupt_done(struct diofs_call *c)
{
	struct intr_reg *r;
	bool registered = c->interruptible;

	/* A call never registered has an entry only if it was interrupted. */
	if (!registered && !atomic_load(&npending))
		return;
	c->interruptible = false;
	pthread_mutex_lock(&intr_mu);
	r = intr_take(c->unique, !registered);
	pthread_mutex_unlock(&intr_mu);
	free(r);
}

void interrupt_received(uint64_t target)
{
	interrupt_fn fn = NULL;
	struct intr_reg *r;
	void *data = NULL;

	pthread_mutex_lock(&intr_mu);
	r = intr_find(target);
	if (r && !r->interrupted) {
		r->interrupted = true;
		fn = r->fn;
		data = r->data;
	} else if (!r && (r = calloc(1, sizeof(*r)))) {
		struct intr_reg **head = intr_bucket(target);
		uint64_t now = now_ns();

		prune_pending(now);
		*r = (struct intr_reg){ .next = *head, .unique = target, .interrupted = true,
					.since_ns = now };
		*head = r;
		atomic_fetch_add(&npending, 1);
	}
	pthread_mutex_unlock(&intr_mu);
	if (fn)
		fn(data);
}
