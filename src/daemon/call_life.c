/* The life of a call below dispatch: its path, resolved once; its end in
 * two steps around the reply (record: counters and trace, while the kernel
 * still waits; free); the clock every part uses. */
#include <config.h>
#include "call_life.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diofs.h"
#include "ops.h"
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
