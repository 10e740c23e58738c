/* diofsctl --json (see json.h). */
#include <config.h>
#include "ctl/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/escape.h"

static bool first_obj, first_member;

static void put_json_string(const char *s, size_t n)
{
	size_t len = 4 * n + 1;
	char *raw = strndup(s, n), *esc = malloc(len);

	if (!raw || !esc) {
		perror("diofsctl");
		exit(1);
	}
	term_escape(esc, len, raw);
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)esc; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
	free(raw);
	free(esc);
}

static bool is_number(const char *s, size_t n)
{
	if (n == 0 || n > 19 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static void key(const char *k, size_t n)
{
	printf("%s", first_member ? "" : ", ");
	first_member = false;
	put_json_string(k, n);
	printf(": ");
}

static void value(const char *v, size_t n)
{
	if (is_number(v, n))
		printf("%.*s", (int)n, v);
	else
		put_json_string(v, n);
}

void json_begin(void)
{
	printf("[");
	first_obj = true;
}

void json_end(void)
{
	printf(first_obj ? "]\n" : "\n]\n");
}

void json_obj_begin(void)
{
	printf("%s\n  {", first_obj ? "" : ",");
	first_obj = false;
	first_member = true;
}

void json_obj_end(void)
{
	printf("}");
}

void json_member_str(const char *k, const char *v)
{
	key(k, strlen(k));
	put_json_string(v, strlen(v));
}

void json_member_u64(const char *k, uint64_t v)
{
	key(k, strlen(k));
	printf("%" PRIu64, v);
}

void json_member_i64(const char *k, int64_t v)
{
	key(k, strlen(k));
	printf("%" PRId64, v);
}

void json_line(const char *line, const struct json_shape *shape)
{
	const char *p = line + strspn(line, " ");
	size_t field = 0;
	int word = 0;

	json_obj_begin();
	while (*p) {
		size_t n = strcspn(p, " ");
		const char *eq = memchr(p, '=', n);
		char name[16];

		if (field < 4 && shape->fields[field]) {
			key(shape->fields[field], strlen(shape->fields[field]));
			value(p, n);
			field++;
		} else if (eq && eq > p) {
			key(p, (size_t)(eq - p));
			value(eq + 1, n - (size_t)(eq - p) - 1);
		} else if (shape->rest) {
			key(shape->rest, strlen(shape->rest));
			put_json_string(p, strlen(p));
			break;
		} else {
			snprintf(name, sizeof(name), "word%d", ++word);
			key(name, strlen(name));
			value(p, n);
		}
		p += n;
		p += strspn(p, " ");
	}
	json_obj_end();
}
