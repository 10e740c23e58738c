/* Rules decide, then the call runs now, waits (delay, hold), or is answered
 * by the rule (fail, abort, crash).  Also the life of a call: its path, its
 * heap copy while parked, and its end (accounting, trace, free). */
#include <config.h>
#include "dispatch.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "holds.h"
#include "ops.h"
#include "reply.h"
#include "rules.h"
#include "trace.h"

static _Atomic uint64_t op_calls[DIOFS_OP_COUNT];
static _Atomic uint64_t op_errors[DIOFS_OP_COUNT];
/* lookups answered ENOENT: negative lookups, not errors */
static _Atomic uint64_t negative_lookups;

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool op_has_file(enum diofs_op op)
{
	switch (op) {
	case DIOFS_OP_READ: case DIOFS_OP_WRITE: case DIOFS_OP_FLUSH:
	case DIOFS_OP_RELEASE: case DIOFS_OP_FSYNC: case DIOFS_OP_FALLOCATE:
	case DIOFS_OP_LSEEK: case DIOFS_OP_COPY_FILE_RANGE: case DIOFS_OP_FLOCK:
		return true;
	default:
		return false;
	}
}

static char *join_path(const char *dir, const char *name)
{
	char *path;

	if (!dir)
		return NULL;
	if (asprintf(&path, "%s/%s", strcmp(dir, "/") ? dir : "", name) < 0)
		return NULL;
	return path;
}

const char *call_path(struct diofs_call *c)
{
	char *dir;

	if (c->path)
		return c->path;
	if (op_has_file(c->op) && c->has_fi && c->fi.fh) {
		c->path = diofs_file_of(&c->fi)->path;
		return c->path;
	}
	/* Calls that name an entry are about that entry, not its parent. */
	if (c->name && c->op != DIOFS_OP_SETXATTR && c->op != DIOFS_OP_GETXATTR &&
	    c->op != DIOFS_OP_REMOVEXATTR) {
		dir = ops_path_of(c->ino);
		c->path_owned = join_path(dir, c->name);
		free(dir);
	} else if (c->op == DIOFS_OP_LINK) {
		dir = ops_path_of(c->newparent);
		c->path_owned = join_path(dir, c->newname);
		free(dir);
	} else {
		c->path_owned = ops_path_of(c->ino);
	}
	c->path = c->path_owned;
	return c->path;
}

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

void call_record(struct diofs_call *c)
{
	atomic_fetch_add_explicit(&op_calls[c->op], 1, memory_order_relaxed);
	if (c->op == DIOFS_OP_LOOKUP && c->result_errno == ENOENT)
		atomic_fetch_add_explicit(&negative_lookups, 1, memory_order_relaxed);
	else if (c->result_errno)
		atomic_fetch_add_explicit(&op_errors[c->op], 1, memory_order_relaxed);
	if (trace_is_on())
		trace_call(c, now_ns());
}

void call_free(struct diofs_call *c)
{
	free(c->path_owned);
	if (c->deferred)
		free(c);
}

void dispatch_stats(dispatch_line_fn fn, void *ctx)
{
	char line[128];

	for (int op = 0; op < DIOFS_OP_COUNT; op++) {
		uint64_t n = atomic_load_explicit(&op_calls[op], memory_order_relaxed);

		if (!n)
			continue;
		int len = snprintf(line, sizeof(line), "op %s count=%llu errors=%llu",
				   diofs_op_name(op), (unsigned long long)n,
				   (unsigned long long)atomic_load_explicit(&op_errors[op],
									    memory_order_relaxed));

		if (op == DIOFS_OP_LOOKUP)
			snprintf(line + len, sizeof(line) - (size_t)len, " negative=%llu",
				 (unsigned long long)atomic_load_explicit(&negative_lookups,
									  memory_order_relaxed));
		fn(ctx, line);
	}
}
