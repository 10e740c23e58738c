/* Rules decide, then the call runs now, waits (delay, hold), or is answered
 * by the rule (fail, abort, crash, a protocol fault); a call that waits is
 * copied to the heap first.  The top of a request's path: nothing here is
 * called back from below but dispatch_resume, which holds.c is given. */
#include <config.h>
#include "dispatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call_life.h"
#include "conn.h"
#include "holds.h"
#include "ops.h"
#include "reply.h"
#include "rules.h"

/* A copy of c that outlives the request's thread: names, xattr value and
 * write data move into one allocation with it. */
static struct diofs_call *call_defer(const struct diofs_call *c)
{
	size_t name_len = c->name ? strlen(c->name) + 1 : 0;
	size_t newname_len = c->newname ? strlen(c->newname) + 1 : 0;
	size_t value_len = c->op == DIOFS_OP_SETXATTR ? c->size : 0;
	size_t data_len = c->in_buf ? c->size : 0;
	struct diofs_call *d;
	char *p;

	d = malloc(sizeof(*d) + sizeof(struct fuse_bufvec) + name_len +
		   newname_len + value_len + data_len);
	if (!d)
		return NULL;
	*d = *c;
	d->deferred = true;
	p = (char *)(d + 1);
	if (c->in_buf) {
		struct fuse_bufvec *bv = (struct fuse_bufvec *)p;
		char *data = p + sizeof(*bv) + name_len + newname_len + value_len;
		struct fuse_bufvec dst = FUSE_BUFVEC_INIT(data_len);

		dst.buf[0].mem = data;
		if (fuse_buf_copy(&dst, c->in_buf, 0) != (ssize_t)data_len) {
			free(d);
			return NULL;
		}
		*bv = (struct fuse_bufvec)FUSE_BUFVEC_INIT(data_len);
		bv->buf[0].mem = data;
		d->in_buf = bv;
	}
	p += sizeof(struct fuse_bufvec);
	if (c->name) {
		d->name = memcpy(p, c->name, name_len);
		p += name_len;
	}
	if (c->newname) {
		d->newname = memcpy(p, c->newname, newname_len);
		p += newname_len;
	}
	if (value_len)
		d->value = memcpy(p, c->value, value_len);
	/* The path was resolved for the rule; keep it, but own it. */
	if (c->path_owned) {
		d->path_owned = strdup(c->path_owned);
		d->path = d->path_owned;
	}
	return d;
}

/* c itself if it is on the heap already, else its heap copy (c is then
 * done with); NULL, c answered ENOMEM, if there is no memory. */
static struct diofs_call *call_to_heap(struct diofs_call *c)
{
	struct diofs_call *d;

	if (c->deferred)
		return c;
	d = call_defer(c);
	if (!d) {
		reply_err(c, ENOMEM);
		return NULL;
	}
	free(c->path_owned); /* d has its own copy */
	c->path_owned = NULL;
	return d;
}

static void park(struct diofs_call *c, uint64_t deadline_ns)
{
	struct diofs_call *d = call_to_heap(c);

	if (d)
		holds_park(d, deadline_ns);
}

void dispatch_park_lock(struct diofs_call *c, uint64_t generation)
{
	struct diofs_call *d = call_to_heap(c);

	if (d)
		holds_park_lock(d, generation);
}

/* The rule decides what the kernel is told, not whether diofs lets go of
 * what it holds: a release answered by a rule (fail, an errno release, an
 * interrupt, the daemon stopping) still closes the file or directory. */
static void reply_err_releasing(struct diofs_call *c, int err)
{
	ops_drop_handle(c);
	reply_err(c, err);
}

static void apply_shape(struct diofs_call *c, enum diofs_reply_shape shape, size_t len)
{
	if (c->op == DIOFS_OP_READ || c->op == DIOFS_OP_WRITE) {
		c->shape = shape;
		c->shape_len = len;
	}
}

void dispatch(struct diofs_call *c)
{
	struct rule hit;
	int err;

	if (!rules_decide(c, &hit)) {
		ops_run(c);
		return;
	}
	c->rule_id = hit.id;
	switch (hit.action) {
	case ACT_DELAY:
		park(c, now_ns() + (uint64_t)hit.arg * 1000000ULL);
		return;
	case ACT_HOLD:
		park(c, 0);
		return;
	case ACT_FAIL:
		reply_err_releasing(c, (int)hit.arg);
		return;
	case ACT_SHORT:
		apply_shape(c, REPLY_SHORT, (size_t)hit.arg);
		ops_run(c);
		return;
	case ACT_OVERLONG:
		apply_shape(c, REPLY_OVERLONG, (size_t)hit.arg);
		ops_run(c);
		return;
	case ACT_ABORT:
		err = conn_abort();
		if (err)
			fprintf(stderr, "diofs: abort rule %d: cannot abort the connection: %s\n",
				hit.id, strerror(-err));
		reply_err_releasing(c, ECONNABORTED); /* lost if the abort worked */
		return;
	case ACT_CRASH:
		conn_crash();
		return;
	case ACT_PROTO:
		c->proto_fault = (enum diofs_proto_fault)hit.arg;
		c->proto_arg = hit.proto_arg;
		if (c->proto_fault == PROTO_FAULT_LATE)
			park(c, 0); /* an interrupt runs it (holds.c) */
		else
			ops_run(c);
		return;
	}
}

void dispatch_resume(struct diofs_call *c, enum release_how how, long arg)
{
	switch (how) {
	case RELEASE_RUN:
		ops_run(c);
		break;
	case RELEASE_ERRNO:
		reply_err_releasing(c, (int)arg);
		break;
	case RELEASE_SHORT:
		apply_shape(c, REPLY_SHORT, (size_t)arg);
		ops_run(c);
		break;
	}
}
