/* The request trace's record (diofs -o trace=FILE): one JSON object a line,
 * no spaces, fields in this order:
 *   {"start":NS,"end":NS,"unique":N,"op":"NAME","nodeid":N,"path":"PATH",
 *    ["fh":N,]"off":N,"size":N,"replied":N,"errno":N,"err":"NAME",
 *    ["o_direct":B,"fopen_direct_io":B,]"pid":N,"uid":N,"rule":N
 *    [,"proto":"FAULT","proto_write":"NAME"]}
 * fh only for a call on an open file; o_direct and fopen_direct_io together
 * (open, create, read, write); proto and proto_write together (a proto=
 * rule faked the reply).  Strings are JSON strings whose bytes that are not
 * UTF-8, control characters and DEL are written \u00XX.  A trace file's
 * first line is not a record: it says what INIT negotiated,
 * {"init":{"kernel":"7.N","proto":"7.N","flags":"...",...}}.
 * The daemon writes records (trace_rec_format), readers parse them back
 * (trace_rec_parse): the field table in trace.c is the one list of fields. */
#ifndef DIOFS_PROTO_TRACE_H
#define DIOFS_PROTO_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trace_rec {
	uint64_t start, end;        /* CLOCK_MONOTONIC ns: request read, reply sent */
	uint64_t unique, nodeid;
	const char *op, *path;
	bool has_fh;
	uint64_t fh;
	int64_t off;
	uint64_t size, replied;
	int err_no;                 /* the errno replied, 0 on success */
	const char *err;            /* its name, "" on success */
	bool has_dio;
	bool o_direct, fopen_direct_io;
	int pid;
	unsigned int uid;
	int rule;                   /* the rule that acted, 0: none */
	const char *proto, *proto_write; /* NULL: no protocol fault */
};

/* The prefix every trace file's first line (the INIT record) starts with. */
#define TRACE_INIT_PREFIX "{\"init\":{\"kernel\":\"7."

/* At most how many bytes trace_rec_format writes for r. */
size_t trace_rec_size(const struct trace_rec *r);
/* r as one line at out, newline included, no NUL; returns the end. */
char *trace_rec_format(char *out, const struct trace_rec *r);

/* line (without its newline) into *r.  The strings are unescaped inside
 * line, and r's string fields point there.  false, with a reason in why,
 * if line is not one object holding every field a record always has, each
 * with its type, and each optional group whole or not at all.  Fields this
 * does not know are passed over. */
bool trace_rec_parse(char *line, struct trace_rec *r, char *why, size_t whylen);

/* s as a JSON string's body at out, written as the records write it;
 * needs at most 6 * strlen(s) bytes.  Returns the length, no NUL. */
size_t trace_json_escape(char *out, const char *s);

#endif
