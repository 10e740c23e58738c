/* The rule list and the matcher.  Decisions are made under one mutex so
 * that nth/count/prob gates count every call exactly once; when the list is
 * empty, an atomic count lets every call skip the lock. */
#include <config.h>
#include "rules.h"

#include "call_life.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t rules_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rule *rules;       /* in order of addition */
static size_t rules_len, rules_cap;
static int next_id = 1;          /* never reused, so a stale id deletes nothing */
static atomic_size_t rules_listed;    /* rules_len, read without the lock */
static atomic_size_t rules_with_path; /* rules that need call_path() */

/* Paths are compared without their leading '/', so "path=/d/f" and
 * "path=d/f" mean the same whichever form call_path() gives. */
static bool path_matches(const char *glob, const char *path)
{
	while (*glob == '/')
		glob++;
	while (*path == '/')
		path++;
	return fnmatch(glob, path, FNM_PATHNAME) == 0;
}

bool rule_matches(const struct rule *r, struct diofs_call *c)
{
	uint64_t off = (uint64_t)c->off;
	const char *path;

	if (r->ops && ((unsigned int)c->op >= 64 || !(r->ops & (UINT64_C(1) << c->op))))
		return false;
	if (off < r->off_min || off > r->off_max)
		return false;
	if (c->size < r->size_min || c->size > r->size_max)
		return false;
	if (r->pid && c->pid != r->pid)
		return false;
	if (r->path) { /* last: it may have to resolve the path */
		path = call_path(c);
		if (!path || !path_matches(r->path, path))
			return false;
	}
	return true;
}

/* splitmix64: a tiny PRNG whose sequence depends on the seed alone. */
static double next_uniform(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53; /* [0, 1) */
}

/* r has just matched (r->matched counts this call): does it act?  The
 * PRNG advances on every match, so the k-th match's draw depends only on
 * the seed and k. */
static bool gate_passes(struct rule *r)
{
	bool act = true;

	if (r->prob < 1.0)
		act = next_uniform(&r->prng) < r->prob;
	if (r->nth && r->matched != r->nth)
		act = false;
	if (r->count && r->acted >= r->count)
		act = false;
	return act;
}

bool rules_decide(struct diofs_call *c, struct rule *hit)
{
	bool found = false;

	if (atomic_load_explicit(&rules_listed, memory_order_acquire) == 0)
		return false;
	/* Resolve the path before taking the lock: it may need syscalls. */
	if (atomic_load_explicit(&rules_with_path, memory_order_relaxed))
		(void)call_path(c);

	pthread_mutex_lock(&rules_lock);
	for (size_t i = 0; i < rules_len; i++) {
		struct rule *r = &rules[i];

		if (!rule_matches(r, c))
			continue;
		r->matched++;
		if (gate_passes(r)) {
			r->acted++;
			*hit = *r;
			hit->path = NULL; /* the list keeps it */
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&rules_lock);
	return found;
}

static void publish_counts(void)
{
	size_t with_path = 0;

	for (size_t i = 0; i < rules_len; i++)
		with_path += rules[i].path != NULL;
	atomic_store_explicit(&rules_with_path, with_path, memory_order_relaxed);
	atomic_store_explicit(&rules_listed, rules_len, memory_order_release);
}

/* Room for n more rules; called with the lock held. */
static int reserve(size_t n)
{
	struct rule *grown;
	size_t cap;

	if (rules_len + n <= rules_cap)
		return 0;
	cap = rules_cap ? rules_cap : 8;
	while (cap < rules_len + n)
		cap *= 2;
	grown = realloc(rules, cap * sizeof(*rules));
	if (!grown)
		return -ENOMEM;
	rules = grown;
	rules_cap = cap;
	return 0;
}

/* Called with the lock held and room reserved. */
static int append(struct rule *r)
{
	struct rule *slot = &rules[rules_len++];

	*slot = *r;
	slot->id = r->id = next_id++;
	slot->matched = slot->acted = 0;
	slot->prng = slot->seed;
	r->path = NULL; /* the list owns it now */
	return slot->id;
}

int rules_add(struct rule *r)
{
	int id;

	pthread_mutex_lock(&rules_lock);
	if (reserve(1)) {
		pthread_mutex_unlock(&rules_lock);
		return -ENOMEM;
	}
	id = append(r);
	publish_counts();
	pthread_mutex_unlock(&rules_lock);
	return id;
}

int rules_del(int id)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&rules_lock);
	for (size_t i = 0; i < rules_len; i++) {
		if (rules[i].id != id)
			continue;
		rule_free(&rules[i]);
		memmove(&rules[i], &rules[i + 1], (rules_len - i - 1) * sizeof(*rules));
		rules_len--;
		publish_counts();
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&rules_lock);
	return ret;
}

void rules_clear(void)
{
	pthread_mutex_lock(&rules_lock);
	for (size_t i = 0; i < rules_len; i++)
		rule_free(&rules[i]);
	rules_len = 0;
	publish_counts();
	pthread_mutex_unlock(&rules_lock);
}

static bool is_blank_line(const char *s)
{
	s += strspn(s, " \t\r\n\v\f");
	return *s == '\0' || *s == '#';
}

static void free_parsed(struct rule *parsed, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rule_free(&parsed[i]);
	free(parsed);
}

/* All or nothing: every line is parsed before any rule is added. */
int rules_load_file(const char *path, char *err, size_t errlen)
{
	struct rule *parsed = NULL, *grown;
	size_t n = 0, cap = 0, size = 0;
	char *line = NULL, msg[256];
	unsigned long lineno = 0;
	ssize_t got;
	FILE *f;
	int ret = -1;

	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((got = getline(&line, &size, f)) >= 0) {
		lineno++;
		if (strlen(line) != (size_t)got) {
			snprintf(err, errlen, "%s:%lu: NUL byte in the line", path, lineno);
			goto out;
		}
		if (is_blank_line(line))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(parsed, cap * sizeof(*parsed));
			if (!grown) {
				snprintf(err, errlen, "%s:%lu: out of memory", path, lineno);
				goto out;
			}
			parsed = grown;
		}
		if (rule_parse(line, &parsed[n], msg, sizeof(msg))) {
			snprintf(err, errlen, "%s:%lu: %s", path, lineno, msg);
			goto out;
		}
		n++;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}

	pthread_mutex_lock(&rules_lock);
	if (reserve(n)) {
		pthread_mutex_unlock(&rules_lock);
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		append(&parsed[i]);
	publish_counts();
	pthread_mutex_unlock(&rules_lock);
	ret = 0;
out:
	free_parsed(parsed, n);
	free(line);
	fclose(f);
	return ret;
}

/* Lines are made under the lock and handed out after it, so a slow
 * consumer never stalls the decisions. */
enum line_kind { LINE_LIST, LINE_STATS };

static char *make_line(const struct rule *r, enum line_kind kind)
{
	char head[96], *line;
	int hn, rn;

	hn = snprintf(head, sizeof(head),
		      kind == LINE_LIST ? "%d matched=%" PRIu64 " acted=%" PRIu64
					: "rule %d matched=%" PRIu64 " acted=%" PRIu64,
		      r->id, r->matched, r->acted);
	if (kind == LINE_STATS)
		return strdup(head);
	rn = rule_format(r, NULL, 0);
	line = malloc((size_t)hn + 1 + (size_t)rn + 1);
	if (!line)
		return NULL;
	memcpy(line, head, (size_t)hn);
	line[hn] = ' ';
	rule_format(r, line + hn + 1, (size_t)rn + 1);
	return line;
}

static void emit_lines(enum line_kind kind, rules_line_fn fn, void *ctx)
{
	char **lines;
	size_t n;

	pthread_mutex_lock(&rules_lock);
	n = rules_len;
	lines = calloc(n ? n : 1, sizeof(*lines));
	for (size_t i = 0; lines && i < n; i++)
		lines[i] = make_line(&rules[i], kind);
	pthread_mutex_unlock(&rules_lock);

	if (!lines) {
		fn(ctx, "error: out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		fn(ctx, lines[i] ? lines[i] : "error: out of memory");
		free(lines[i]);
	}
	free(lines);
}

void rules_list(rules_line_fn fn, void *ctx)
{
	emit_lines(LINE_LIST, fn, ctx);
}

void rules_stats(rules_line_fn fn, void *ctx)
{
	emit_lines(LINE_STATS, fn, ctx);
}
