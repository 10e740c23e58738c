/* The life of a call below dispatch: its path, resolved once; its copy on
 * the heap when it must outlive its request's thread; its end in two steps
 * around the reply (record: counters and trace, while the kernel still
 * waits; free). */
#include <config.h>
#include "call_life.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "file.h"
#include "inode.h"
#include "trace.h"

static _Atomic uint64_t op_calls[DIOFS_OP_COUNT];
static _Atomic uint64_t op_errors[DIOFS_OP_COUNT];
/* lookups answered ENOENT: negative lookups, not errors */
static _Atomic uint64_t negative_lookups;

static bool op_has_file(enum diofs_op op)
{
	enum diofs_handle h = diofs_op_handle(op);

	return h == HANDLE_FILE || h == HANDLE_FILES;
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
		dir = inode_path(c->ino);
		c->path_owned = join_path(dir, c->name);
		free(dir);
	} else if (c->op == DIOFS_OP_LINK) {
		dir = inode_path(c->newparent);
		c->path_owned = join_path(dir, c->newname);
		free(dir);
	} else {
		c->path_owned = inode_path(c->ino);
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

struct diofs_call *call_to_heap(struct diofs_call *c)
{
	struct diofs_call *d;

	if (c->deferred)
		return c;
	d = call_defer(c);
	if (!d)
		return NULL;
	free(c->path_owned); /* d has its own copy */
	c->path_owned = NULL;
	return d;
}

void call_record(struct diofs_call *c)
{
	atomic_fetch_add_explicit(&op_calls[c->op], 1, memory_order_relaxed);
	if (c->op == DIOFS_OP_LOOKUP && c->result_errno == ENOENT)
		atomic_fetch_add_explicit(&negative_lookups, 1, memory_order_relaxed);
	else if (c->result_errno)
		atomic_fetch_add_explicit(&op_errors[c->op], 1, memory_order_relaxed);
	if (trace_is_on())
		trace_call(c, call_path(c), now_ns());
}

void call_free(struct diofs_call *c)
{
	free(c->path_owned);
	if (c->deferred)
		free(c);
}

void call_stats(call_line_fn fn, void *ctx)
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
