/* The narration and the event record (see events.h). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "demo/events.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

static FILE *ev_file;
static const char *story_name;
static uint64_t story_t0;

void jb_init(struct jbuf *j)
{
	j->len = 0;
	j->s[0] = '\0';
}

static void jb_put(struct jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jb_put(struct jbuf *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->len >= sizeof(j->s) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(j->s + j->len, sizeof(j->s) - j->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		j->len += (size_t)n < sizeof(j->s) - j->len ? (size_t)n : sizeof(j->s) - 1 - j->len;
}

/* s as a JSON string into j (control and non-ASCII bytes as \u00XX: the
 * demo's strings are ASCII). */
static void jb_quote(struct jbuf *j, const char *s)
{
	jb_put(j, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			jb_put(j, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			jb_put(j, "\\u%04x", *p);
		else
			jb_put(j, "%c", *p);
	}
	jb_put(j, "\"");
}

static void jb_key(struct jbuf *j, const char *key)
{
	if (j->len)
		jb_put(j, ",");
	jb_quote(j, key);
	jb_put(j, ":");
}

void jb_str(struct jbuf *j, const char *key, const char *value)
{
	jb_key(j, key);
	jb_quote(j, value ? value : "");
}

void jb_u64(struct jbuf *j, const char *key, uint64_t value)
{
	jb_key(j, key);
	jb_put(j, "%" PRIu64, value);
}

void jb_i64(struct jbuf *j, const char *key, int64_t value)
{
	jb_key(j, key);
	jb_put(j, "%" PRId64, value);
}

void jb_bool(struct jbuf *j, const char *key, bool value)
{
	jb_key(j, key);
	jb_put(j, "%s", value ? "true" : "false");
}

void jb_raw(struct jbuf *j, const char *key, const char *value)
{
	jb_key(j, key);
	jb_put(j, "%s", value);
}

void ev_open(FILE *f)
{
	ev_file = f;
}

void ev_close(void)
{
	if (ev_file)
		fflush(ev_file);
	ev_file = NULL;
}

uint64_t ev_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* {"kind":K[,"story":S],members} as one line. */
static void write_record(const char *kind, const struct jbuf *members)
{
	struct jbuf head;

	if (!ev_file)
		return;
	jb_init(&head);
	jb_str(&head, "kind", kind);
	if (story_name)
		jb_str(&head, "story", story_name);
	fprintf(ev_file, "{%s%s%s}\n", head.s, members && members->len ? "," : "",
		members ? members->s : "");
	fflush(ev_file);
}

void ev_record(const char *kind, const struct jbuf *members)
{
	write_record(kind, members);
}

void ev_story(const char *story, const char *title)
{
	struct jbuf j;

	story_name = story;
	story_t0 = ev_now();
	printf("\n== %s\n", title);
	fflush(stdout);
	jb_init(&j);
	jb_str(&j, "title", title);
	jb_u64(&j, "t_ns", story_t0);
	write_record("story", &j);
}

/* The narration fits in NARRATION_COLUMNS: the time and step take
 * TEXT_INDENT columns, the sentence is wrapped at spaces after them. */
#define NARRATION_COLUMNS 100
#define TEXT_INDENT 25

static void print_sentence(uint64_t t, const char *step, const char *text)
{
	const size_t width = NARRATION_COLUMNS - TEXT_INDENT;
	const char *p = text;

	if (step)
		printf("  %+8.3f s  %-10s ", t >= story_t0 ? (double)(t - story_t0) / 1e9 : 0.0,
		       step);
	else
		printf("%*s", TEXT_INDENT, "");
	for (bool first = true; *p; first = false) {
		size_t n = strlen(p), cut = n;

		if (n > width) {
			/* the last space that leaves the line within width; a word
			 * longer than width stays whole */
			for (cut = width; cut > 0 && p[cut] != ' '; cut--)
				;
			if (!cut)
				cut = strcspn(p, " ");
		}
		if (!first)
			printf("%*s", TEXT_INDENT, "");
		printf("%.*s\n", (int)cut, p);
		p += cut;
		while (*p == ' ')
			p++;
	}
	if (!*text)
		printf("\n");
	fflush(stdout);
}

void ev_step(const char *step, uint64_t t, const struct pin_counts *pins,
	     const struct jbuf *extra, const char *fmt, ...)
{
	char text[1536];
	struct jbuf j;
	va_list ap;

	if (!t)
		t = ev_now();
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	print_sentence(t, step, text);

	jb_init(&j);
	jb_str(&j, "step", step);
	jb_u64(&j, "t_ns", t);
	jb_str(&j, "text", text);
	if (pins) {
		jb_u64(&j, "acquired", pins->acquired);
		jb_u64(&j, "released", pins->released);
	}
	if (extra && extra->len)
		jb_put(&j, ",%s", extra->s);
	write_record("step", &j);
}

void ev_say(const char *fmt, ...)
{
	char text[1536];
	struct jbuf j;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	print_sentence(0, NULL, text);
	jb_init(&j);
	jb_str(&j, "text", text);
	jb_u64(&j, "t_ns", ev_now());
	write_record("say", &j);
}
