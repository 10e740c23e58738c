/* Rules decide, then the call runs now, waits (delay, hold: holds.c keeps
 * it), or is answered by the rule (fail, abort, crash, a protocol fault).
 * The top of a request's path: nothing here is called back from below but
 * dispatch_resume, which holds.c is given. */
#include <config.h>
#include "dispatch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "conn.h"
#include "holds.h"
#include "ops.h"
#include "reply.h"
#include "rules.h"

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
		holds_park(c, now_ns() + (uint64_t)hit.arg * 1000000ULL);
		return;
	case ACT_HOLD:
		holds_park(c, 0);
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
			holds_park(c, 0); /* an interrupt runs it (holds.c) */
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
