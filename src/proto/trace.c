/* The request trace's record, written and read back (see trace.h).  One
 * table lists the fields: their keys, types, order and which go together;
 * the writer and the parser both walk it. */
#include <config.h>
#include "trace.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

enum field_type { T_U64, T_I64, T_INT, T_UINT, T_STR, T_BOOL };

/* Which fields come together: always, or only in some records. */
enum field_group { G_ALWAYS, G_FH, G_DIO, G_PROTO, G_COUNT };

/* Room for the longest key, ,"fopen_direct_io": (19 bytes); the writer
 * copies all of it, a fixed size, and moves on by the key's length. */
#define JSON_ROOM 24

struct field {
	const char *name;
	char json[JSON_ROOM];  /* ,"name": */
	unsigned char jsonlen;
	unsigned char type, group;
	size_t offset;         /* in struct trace_rec */
};

#define FIELD(name, type, group, member)                                         \
	{ name, ",\"" name "\":", sizeof(",\"" name "\":") - 1, type, group,         \
	  offsetof(struct trace_rec, member) }

static const struct field fields[] = {
	FIELD("start", T_U64, G_ALWAYS, start),
	FIELD("end", T_U64, G_ALWAYS, end),
	FIELD("unique", T_U64, G_ALWAYS, unique),
	FIELD("op", T_STR, G_ALWAYS, op),
	FIELD("nodeid", T_U64, G_ALWAYS, nodeid),
	FIELD("path", T_STR, G_ALWAYS, path),
	FIELD("fh", T_U64, G_FH, fh),
	FIELD("off", T_I64, G_ALWAYS, off),
	FIELD("size", T_U64, G_ALWAYS, size),
	FIELD("replied", T_U64, G_ALWAYS, replied),
	FIELD("errno", T_INT, G_ALWAYS, err_no),
	FIELD("err", T_STR, G_ALWAYS, err),
	FIELD("o_direct", T_BOOL, G_DIO, o_direct),
	FIELD("fopen_direct_io", T_BOOL, G_DIO, fopen_direct_io),
	FIELD("pid", T_INT, G_ALWAYS, pid),
	FIELD("uid", T_UINT, G_ALWAYS, uid),
	FIELD("rule", T_INT, G_ALWAYS, rule),
	FIELD("proto", T_STR, G_PROTO, proto),
	FIELD("proto_write", T_STR, G_PROTO, proto_write),
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

#define AT(r, f, type) ((type *)((char *)(r) + (f)->offset))
#define AT_CONST(r, f, type) ((const type *)((const char *)(r) + (f)->offset))

static bool group_present(const struct trace_rec *r, enum field_group g)
{
	switch (g) {
	case G_FH: return r->has_fh;
	case G_DIO: return r->has_dio;
	case G_PROTO: return r->proto != NULL;
	default: return true;
	}
}

/* ---- writing ---- */

/* Bytes that are not UTF-8 (names are bytes) come out as \u00XX, as do the
 * C0 control characters and DEL (ESC included: no raw escape sequence in
 * the file).  Valid UTF-8 stays, C1 characters too: \u0080..\u009f already
 * stand for the lone bytes. */
size_t trace_json_escape(char *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	char *o = out;

	while (*p) {
		size_t n;

		if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\') {
			*o++ = (char)*p++; /* printable ASCII, the usual case */
			continue;
		}
		n = utf8_seq_len(p);
		if (*p == '"' || *p == '\\') {
			*o++ = '\\';
			*o++ = (char)*p++;
		} else if (*p < 0x20 || *p == 0x7f || n == 0) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[*p >> 4];
			o[5] = hex[*p & 0xf];
			o += 6;
			p++;
		} else {
			memcpy(o, p, n);
			o += n;
			p += n;
		}
	}
	return (size_t)(o - out);
}

static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return put_u64(p, -(uint64_t)v);
	}
	return put_u64(p, (uint64_t)v);
}

size_t trace_rec_size(const struct trace_rec *r)
{
	/* every key (copied whole), each value a sign and 20 digits or two
	 * quotes, "}\n"; and the strings escaped */
	size_t n = NFIELDS * (JSON_ROOM + 21) + 2;

	for (size_t i = 0; i < NFIELDS; i++) {
		const char *s = fields[i].type == T_STR ? *AT_CONST(r, &fields[i], const char *)
							  : NULL;

		n += s ? 6 * strlen(s) : 0;
	}
	return n;
}

char *trace_rec_format(char *out, const struct trace_rec *r)
{
	char *p = out;

	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *f = &fields[i];
		const char *s;

		if (!group_present(r, f->group))
			continue;
		memcpy(p, f->json, JSON_ROOM);
		p += f->jsonlen;
		switch (f->type) {
		case T_U64: p = put_u64(p, *AT_CONST(r, f, uint64_t)); break;
		case T_I64: p = put_i64(p, *AT_CONST(r, f, int64_t)); break;
		case T_INT: p = put_i64(p, *AT_CONST(r, f, int)); break;
		case T_UINT: p = put_u64(p, *AT_CONST(r, f, unsigned int)); break;
		case T_BOOL:
			if (*AT_CONST(r, f, bool)) {
				memcpy(p, "true", 4);
				p += 4;
			} else {
				memcpy(p, "false", 5);
				p += 5;
			}
			break;
		case T_STR:
			s = *AT_CONST(r, f, const char *);
			*p++ = '"';
			p += trace_json_escape(p, s ? s : "");
			*p++ = '"';
			break;
		}
	}
	*out = '{'; /* the first field's comma */
	*p++ = '}';
	*p++ = '\n';
	return p;
}

/* ---- reading ---- */

static int hexval(char h)
{
	if (h >= '0' && h <= '9')
		return h - '0';
	if (h >= 'a' && h <= 'f')
		return h - 'a' + 10;
	if (h >= 'A' && h <= 'F')
		return h - 'A' + 10;
	return -1;
}

/* The JSON string whose body starts at *pp, unescaped in place (the text
 * only shrinks) and NUL-terminated; *pp moves past its closing quote.
 * NULL if it is malformed. */
static char *json_string(char **pp)
{
	char *start = *pp, *r = start, *w = start;

	for (;;) {
		unsigned int ch = (unsigned char)*r++;

		if (ch == '\0' || ch < 0x20)
			return NULL;
		if (ch == '"')
			break;
		if (ch == '\\') {
			switch (*r++) {
			case '"': ch = '"'; break;
			case '\\': ch = '\\'; break;
			case '/': ch = '/'; break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'n': ch = '\n'; break;
			case 'r': ch = '\r'; break;
			case 't': ch = '\t'; break;
			case 'u':
				ch = 0;
				for (int i = 0; i < 4; i++) {
					int v = hexval(*r++);

					if (v < 0)
						return NULL;
					ch = ch << 4 | (unsigned int)v;
				}
				if (ch > 0xff)
					return NULL; /* the trace only escapes bytes */
				break;
			default:
				return NULL;
			}
		}
		*w++ = (char)ch;
	}
	*w = '\0';
	*pp = r;
	return start;
}

static const struct field *field_named(const char *name)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

/* The value at *pp for field f (NULL: one not known, passed over) into r;
 * false if it is malformed or not of f's type. */
static bool parse_value(char **pp, const struct field *f, struct trace_rec *r)
{
	char *p = *pp, *end;
	unsigned long long u = 0;
	long long s = 0;

	if (*p == '"') {
		char *str;

		*pp = p + 1;
		str = json_string(pp);
		if (!str || (f && f->type != T_STR))
			return false;
		if (f)
			*AT(r, f, const char *) = str;
		return true;
	}
	if (strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0) {
		bool b = *p == 't';

		*pp = p + (b ? 4 : 5);
		if (f && f->type != T_BOOL)
			return false;
		if (f)
			*AT(r, f, bool) = b;
		return true;
	}
	if (*p != '-' && (*p < '0' || *p > '9'))
		return false;
	errno = 0;
	if (*p == '-')
		s = strtoll(p, &end, 10);
	else
		u = strtoull(p, &end, 10);
	if (end == p || errno)
		return false;
	*pp = end;
	if (!f)
		return true;
	switch (f->type) {
	case T_U64:
		if (*p == '-')
			return false;
		*AT(r, f, uint64_t) = u;
		return true;
	case T_UINT:
		if (*p == '-' || u > UINT_MAX)
			return false;
		*AT(r, f, unsigned int) = (unsigned int)u;
		return true;
	case T_I64:
		if (*p != '-' && u > INT64_MAX)
			return false;
		*AT(r, f, int64_t) = *p == '-' ? s : (int64_t)u;
		return true;
	case T_INT:
		if (*p == '-' ? s < INT_MIN : u > INT_MAX)
			return false;
		*AT(r, f, int) = *p == '-' ? (int)s : (int)u;
		return true;
	default:
		return false;
	}
}

bool trace_rec_parse(char *line, struct trace_rec *r, char *why, size_t whylen)
{
	unsigned int seen_group[G_COUNT] = { 0 }, want_group[G_COUNT] = { 0 };
	bool seen[NFIELDS] = { false };
	char *p = line;

	memset(r, 0, sizeof(*r));
	if (*p++ != '{') {
		snprintf(why, whylen, "does not start with {");
		return false;
	}
	for (;;) {
		const struct field *f;
		char *key;

		if (*p != '"') {
			snprintf(why, whylen, "no key at offset %td", p - line);
			return false;
		}
		p++;
		key = json_string(&p);
		if (!key || *p++ != ':') {
			snprintf(why, whylen, "bad key near offset %td", p - line);
			return false;
		}
		f = field_named(key);
		if (f && seen[f - fields]) {
			snprintf(why, whylen, "%s twice", key);
			return false;
		}
		if (!parse_value(&p, f, r)) {
			snprintf(why, whylen, "bad value for %s", key);
			return false;
		}
		if (f) {
			seen[f - fields] = true;
			seen_group[f->group]++;
		}
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p++ != '}' || *p) {
			snprintf(why, whylen, "junk after the object");
			return false;
		}
		break;
	}
	for (size_t i = 0; i < NFIELDS; i++)
		want_group[fields[i].group]++;
	for (size_t i = 0; i < NFIELDS; i++) {
		enum field_group g = fields[i].group;

		if (!seen[i] && (g == G_ALWAYS || seen_group[g])) {
			snprintf(why, whylen, g == G_ALWAYS ? "no %s" : "%s missing from its group",
				 fields[i].name);
			return false;
		}
	}
	r->has_fh = seen_group[G_FH] == want_group[G_FH];
	r->has_dio = seen_group[G_DIO] == want_group[G_DIO];
	return true;
}
