/* The read diofs holds: one pread in a thread of its own (see demo.h). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "demo/demo.h"
#include "demo/events.h"

#include <errno.h>
#include <unistd.h>

static void *read_thread(void *arg)
{
	struct held_read *r = arg;
	ssize_t n;

	r->tid = gettid();
	r->t_submit = ev_now();
	n = pread(r->fd, r->buf, r->len, r->off);
	r->t_done = ev_now();
	r->err = n < 0 ? errno : 0;
	r->ret = n;
	atomic_store(&r->returned, true);
	return NULL;
}

int held_read_start(struct held_read *r)
{
	int err;

	r->t_submit = r->t_done = 0;
	r->ret = -1;
	r->err = 0;
	atomic_init(&r->returned, false);
	err = pthread_create(&r->thread, NULL, read_thread, r);
	if (err) {
		errno = err;
		return -1;
	}
	r->started = true;
	return 0;
}

bool held_read_returned(struct held_read *r)
{
	return r->started && atomic_load(&r->returned);
}

ssize_t held_read_join(struct held_read *r)
{
	if (!r->started)
		return -1;
	pthread_join(r->thread, NULL);
	r->started = false;
	errno = r->err;
	return r->ret;
}
