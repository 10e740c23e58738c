/* diofsctl --json: the daemon's answer lines as a JSON array of objects,
 * one object a line, on stdout.  Strings are escaped for the terminal first
 * (proto/escape.h: control characters, bytes that are not UTF-8 and
 * backslashes as \xNN), as diofsctl prints them without --json. */
#ifndef DIOFS_CTL_JSON_H
#define DIOFS_CTL_JSON_H

#include <stdbool.h>
#include <stdint.h>

/* How the words of a line become members: the first words are named by
 * fields (up to the first NULL), then KEY=VALUE words name themselves; a
 * word that is neither starts rest, a string with the rest of the line
 * (named rest; without one, such words are named wordN).  Values that are
 * decimal numbers are written as numbers. */
struct json_shape {
	const char *fields[4];
	const char *rest;
};

void json_begin(void);                  /* "[" */
void json_end(void);                    /* "]" */
/* One line as an object, by shape. */
void json_line(const char *line, const struct json_shape *shape);
/* An object member by member: json_obj_begin, json_member_*, json_obj_end. */
void json_obj_begin(void);
void json_member_str(const char *key, const char *value);
void json_member_u64(const char *key, uint64_t value);
void json_member_i64(const char *key, int64_t value);
void json_obj_end(void);

#endif
