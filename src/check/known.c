/* The known-bug list and its conditions (known.h). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/known.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

/* The facts a condition can name, and the words of their values. */
enum fact { F_ROUTE, F_IO, F_ODIRECT, F_FDIO, F_ASYNC_DIO, F_TRANSPORT, NFACTS };

static const struct {
	const char *key;
	const char *values[4];  /* ends with NULL */
} facts_words[NFACTS] = {
	[F_ROUTE] = { "route", { "sync", "libaio", "io_uring", NULL } },
	[F_IO] = { "io", { "read", "write", NULL } },
	[F_ODIRECT] = { "o_direct", { "yes", "no", NULL } },
	[F_FDIO] = { "fopen_direct_io", { "yes", "no", NULL } },
	[F_ASYNC_DIO] = { "async_dio", { "on", "off", NULL } },
	[F_TRANSPORT] = { "transport", { "io_uring", "dev_fuse", NULL } },
};
#define YES 0   /* index of "yes" and "on" */
#define NO 1

/* For each fact, the index of its value; -1: not stated. */
struct facts {
	signed char v[NFACTS];
};

struct version {
	int n[3];
};

struct entry {
	struct known_bug bug;
	char *glob;
	bool has_min, has_below;
	struct version min, below;      /* kernel>=min, kernel<below */
	struct facts want;
};

static struct entry *entries;
static size_t nentries;
static char release_override[128];

static void facts_init(struct facts *f)
{
	memset(f->v, -1, sizeof(f->v));
}

/* "6.1", "6.12.3", "7.3-rc7" (what follows the numbers is ignored). */
static bool parse_version(const char *s, struct version *v, bool whole)
{
	int used = 0;

	memset(v, 0, sizeof(*v));
	if (sscanf(s, "%d.%d%n", &v->n[0], &v->n[1], &used) != 2)
		return false;
	if (s[used] == '.') {
		int more = 0;
		if (sscanf(s + used + 1, "%d%n", &v->n[2], &more) != 1)
			return false;
		used += 1 + more;
	}
	return !whole || s[used] == '\0';
}

static int version_cmp(const struct version *a, const struct version *b)
{
	for (int i = 0; i < 3; i++)
		if (a->n[i] != b->n[i])
			return a->n[i] < b->n[i] ? -1 : 1;
	return 0;
}

/* One KEY=VALUE word into f; -1 with why. */
static int parse_fact(const char *word, struct facts *f, char *err, size_t errlen)
{
	const char *eq = strchr(word, '=');

	for (int k = 0; eq && k < NFACTS; k++) {
		if (strlen(facts_words[k].key) != (size_t)(eq - word) ||
		    strncmp(word, facts_words[k].key, (size_t)(eq - word)))
			continue;
		for (int v = 0; facts_words[k].values[v]; v++) {
			if (strcmp(eq + 1, facts_words[k].values[v]))
				continue;
			if (f->v[k] >= 0) {
				snprintf(err, errlen, "%s stated twice", facts_words[k].key);
				return -1;
			}
			f->v[k] = (signed char)v;
			return 0;
		}
		snprintf(err, errlen, "'%s': %s is one of", word, facts_words[k].key);
		for (int v = 0; facts_words[k].values[v]; v++)
			snprintf(err + strlen(err), errlen - strlen(err), " %s",
				 facts_words[k].values[v]);
		return -1;
	}
	snprintf(err, errlen, "'%s': not a condition (kernel>=A.B, kernel<A.B, route=, io=, "
		 "o_direct=, fopen_direct_io=, async_dio=, transport=)", word);
	return -1;
}

static int parse_facts(const char *text, struct facts *f, char *err, size_t errlen)
{
	char word[128];
	int used;

	facts_init(f);
	for (const char *s = text ? text : ""; sscanf(s, "%127s%n", word, &used) == 1; s += used)
		if (parse_fact(word, f, err, errlen) < 0)
			return -1;
	return 0;
}

int known_facts_check(const char *facts, char *err, size_t errlen)
{
	struct facts f;

	return parse_facts(facts, &f, err, errlen);
}

static int parse_condition(const char *word, struct entry *e, char *err, size_t errlen)
{
	bool min = !strncmp(word, "kernel>=", 8), below = !strncmp(word, "kernel<", 7) && !min;

	if (!min && !below)
		return parse_fact(word, &e->want, err, errlen);
	if ((min && e->has_min) || (below && e->has_below)) {
		snprintf(err, errlen, "%s: a second bound on the same side", word);
		return -1;
	}
	if (!parse_version(word + (min ? 8 : 7), min ? &e->min : &e->below, true)) {
		snprintf(err, errlen, "'%s': want a version A.B or A.B.C", word);
		return -1;
	}
	if (min)
		e->has_min = true;
	else
		e->has_below = true;
	return 0;
}

static void entry_free(struct entry *e)
{
	free(e->bug.where);
	free(e->bug.conditions);
	free(e->bug.why);
	free(e->glob);
}

/* One entry line (no comment, not blank); -1 with why. */
static int parse_entry(char *line, struct entry *e, char *err, size_t errlen)
{
	char *colon = strchr(line, ':'), *why, word[256];
	int used, n = 0;

	if (!colon) {
		snprintf(err, errlen, "no ':' before the description (CASE-GLOB CONDITION... : WHY)");
		return -1;
	}
	*colon = '\0';
	why = colon + 1 + strspn(colon + 1, " \t");
	if (!*why) {
		snprintf(err, errlen, "no description after ':'");
		return -1;
	}
	facts_init(&e->want);
	if (sscanf(line, "%255s%n", word, &used) != 1 || !strchr(word, '.')) {
		snprintf(err, errlen, "want SUITE.CASE (a glob) first");
		return -1;
	}
	e->glob = strdup(word);
	line += used;
	line += strspn(line, " \t");
	for (size_t end = strlen(line); end && strchr(" \t", line[end - 1]); end--)
		line[end - 1] = '\0';
	e->bug.conditions = strdup(line);
	e->bug.why = strdup(why);
	for (const char *s = line; sscanf(s, "%255s%n", word, &used) == 1; s += used, n++)
		if (parse_condition(word, e, err, errlen) < 0)
			return -1;
	if (!n) {
		snprintf(err, errlen, "no condition: say when the bug shows (kernel>=A.B ...)");
		return -1;
	}
	if (e->has_min && e->has_below && version_cmp(&e->min, &e->below) >= 0) {
		snprintf(err, errlen, "the kernel range is empty");
		return -1;
	}
	return e->glob && e->bug.conditions && e->bug.why ? 0 : -1;
}

int known_load(const char *path, char *err, size_t errlen)
{
	char line[1024];
	unsigned int lineno = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct entry e = { 0 }, *grown;
		char why[512];
		size_t skip;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		skip = strspn(line, " \t");
		if (line[skip] == '#' || line[skip] == '\0')
			continue;
		if (parse_entry(line + skip, &e, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
			entry_free(&e);
			fclose(f);
			return -1;
		}
		if (asprintf(&e.bug.where, "%s:%u", path, lineno) < 0 ||
		    !(grown = realloc(entries, (nentries + 1) * sizeof(*entries)))) {
			snprintf(err, errlen, "%s: out of memory", path);
			entry_free(&e);
			fclose(f);
			return -1;
		}
		entries = grown;
		entries[nentries++] = e;
	}
	fclose(f);
	return 0;
}

void known_set_release(const char *release)
{
	snprintf(release_override, sizeof(release_override), "%s", release ? release : "");
}

static bool kernel_in_range(const struct entry *e)
{
	static struct utsname u;
	struct version v;
	const char *release = release_override;

	if (!*release) {
		if (!u.release[0] && uname(&u) < 0)
			return false;
		release = u.release;
	}
	if (!parse_version(release, &v, false))
		return false;
	return (!e->has_min || version_cmp(&v, &e->min) >= 0) &&
	       (!e->has_below || version_cmp(&v, &e->below) < 0);
}

/* What diofs -o options say: dio=all|none, async_dio=1|0, io_uring[=on]
 * (else the transport is /dev/fuse); dio=odirect gives FOPEN_DIRECT_IO to
 * O_DIRECT opens only. */
static void facts_of_mount(const char *opts, struct facts *f)
{
	char word[128];
	int used;

	f->v[F_TRANSPORT] = NO;
	for (const char *s = opts ? opts : ""; *s; s += used + (s[used] == ',')) {
		used = (int)strcspn(s, ",");
		snprintf(word, sizeof(word), "%.*s", used, s);
		if (!strcmp(word, "dio=all"))
			f->v[F_FDIO] = YES;
		else if (!strcmp(word, "dio=none"))
			f->v[F_FDIO] = NO;
		else if (!strcmp(word, "dio=odirect"))
			f->v[F_FDIO] = f->v[F_ODIRECT];
		else if (!strcmp(word, "async_dio=1"))
			f->v[F_ASYNC_DIO] = YES;
		else if (!strcmp(word, "async_dio=0"))
			f->v[F_ASYNC_DIO] = NO;
		else if (!strcmp(word, "io_uring") || !strcmp(word, "io_uring=on"))
			f->v[F_TRANSPORT] = YES;
	}
}

const struct known_bug *known_bug(const char *suite, const char *name, const char *facts,
				  const char *mount_opts)
{
	char full[256], err[256];
	struct facts have;

	snprintf(full, sizeof(full), "%s.%s", suite, name);
	if (parse_facts(facts, &have, err, sizeof(err)) < 0)
		return NULL;    /* main.c checks every case's facts first */
	facts_of_mount(mount_opts, &have);
	for (size_t i = 0; i < nentries; i++) {
		const struct entry *e = &entries[i];
		bool holds = !fnmatch(e->glob, full, 0) && kernel_in_range(e);

		for (int k = 0; holds && k < NFACTS; k++)
			holds = e->want.v[k] < 0 || e->want.v[k] == have.v[k];
		if (holds)
			return &e->bug;
	}
	return NULL;
}

void known_free(void)
{
	for (size_t i = 0; i < nentries; i++)
		entry_free(&entries[i]);
	free(entries);
	entries = NULL;
	nentries = 0;
}
