/* The rule language: text to struct rule and back (syntax in rules.h). */
#include <config.h>
#include "rules.h"

#include "proto/errnames.h"
#include "proto/number.h"
#include "reply_errno.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(DIOFS_OP_COUNT <= 64, "struct rule keeps operations in a uint64_t");

#define READ_WRITE (DIOFS_OP_BIT(READ) | DIOFS_OP_BIT(WRITE))
#define ALL_OPS (~UINT64_C(0) >> (64 - DIOFS_OP_COUNT))
#define OVERLONG_DEFAULT 4096
/* The daemon allocates the whole overlong reply. */
#define OVERLONG_MAX (1L << 20)
/* About 24.8 days; keeps a deadline in nanoseconds far from overflowing.
 * Any delay can be cut short: its caller's interrupt (a signal, SIGKILL)
 * answers it with EINTR, and stopping the daemon answers it with EIO. */
#define DELAY_MAX_MS INT_MAX
/* proto=badlen:+-N: far enough to miss any real reply's length. */
#define BADLEN_MAX (1L << 20)
/* proto=short-header[:N]: bytes of the 16-byte header written. */
#define SHORT_HEADER_DEFAULT 8
#define SHORT_HEADER_MAX 15
/* proto=errno:N: the kernel takes -511..0 (older kernels -999..0). */
#define PROTO_ERRNO_MIN_IN_RANGE (-511)

static const struct {
	const char *word;
	enum rule_action action;
} actions[] = {
	{ "delay", ACT_DELAY }, { "hold", ACT_HOLD }, { "fail", ACT_FAIL },
	{ "short", ACT_SHORT }, { "overlong", ACT_OVERLONG },
	{ "abort", ACT_ABORT }, { "crash", ACT_CRASH }, { "proto", ACT_PROTO },
};

enum match_key {
	M_OP, M_PATH, M_OFFSET, M_SIZE, M_PID, M_NTH, M_COUNT, M_PROB, M_SEED,
	M_COUNT_OF_KEYS
};

static const char *const match_words[M_COUNT_OF_KEYS] = {
	[M_OP] = "op", [M_PATH] = "path", [M_OFFSET] = "offset",
	[M_SIZE] = "size", [M_PID] = "pid", [M_NTH] = "nth",
	[M_COUNT] = "count", [M_PROB] = "prob", [M_SEED] = "seed",
};

static const char *action_word(enum rule_action a)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (actions[i].action == a)
			return actions[i].word;
	return "?";
}

static int find_action(const char *word)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(actions[i].word, word) == 0)
			return (int)actions[i].action;
	return -1;
}

static int find_match(const char *word)
{
	for (int k = 0; k < M_COUNT_OF_KEYS; k++)
		if (strcmp(match_words[k], word) == 0)
			return k;
	return -1;
}

/* Messages quote what the user wrote; keep them one printable line of
 * bounded length, as the control protocol needs. */
struct quoted {
	char s[72];
};

static const char *quote(struct quoted *q, const char *word)
{
	const size_t keep = 48;
	size_t i = 0, o = 0;

	q->s[o++] = '"';
	for (; word[i] && i < keep; i++) {
		unsigned char ch = (unsigned char)word[i];
		q->s[o++] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
	}
	if (word[i]) {
		memcpy(q->s + o, "...", 3);
		o += 3;
	}
	q->s[o++] = '"';
	q->s[o] = '\0';
	return q->s;
}

__attribute__((format(printf, 3, 4)))
static int fault(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A number for key, at most max, with the message if it is not. */
static int number_arg(const char *key, const char *val, uint64_t max,
		      uint64_t *out, char *err, size_t errlen)
{
	struct quoted q;

	switch (parse_number(val, true, out)) {
	case NUM_BAD:
		return fault(err, errlen, "%s: %s is not a number", key, quote(&q, val));
	case NUM_RANGE:
		return fault(err, errlen, "%s: %s is out of range", key, quote(&q, val));
	case NUM_OK:
		break;
	}
	if (*out > max)
		return fault(err, errlen, "%s: %s is more than %" PRIu64, key,
			     quote(&q, val), max);
	return 0;
}

/* A number for key from 1 to max. */
static int positive_arg(const char *key, const char *val, uint64_t max,
			uint64_t *out, char *err, size_t errlen)
{
	if (number_arg(key, val, max, out, err, errlen))
		return -1;
	if (*out == 0)
		return fault(err, errlen, "%s: must be at least 1", key);
	return 0;
}

/* An action's value, which it needs (what: how the message names it): a
 * number up to max. */
static int needed_number(const char *key, const char *val, const char *what,
			 uint64_t max, long *out, char *err, size_t errlen)
{
	uint64_t n;

	if (!val || !*val)
		return fault(err, errlen, "%s: needs %s", key, what);
	if (number_arg(key, val, max, &n, err, errlen))
		return -1;
	*out = (long)n;
	return 0;
}

/* "A", "A-" or "A-B"; val is modified. */
static int range_arg(const char *key, char *val, uint64_t *min, uint64_t *max,
		     char *err, size_t errlen)
{
	struct quoted q;
	char *dash = strchr(val, '-');
	uint64_t lo, hi = UINT64_MAX;

	if (dash == val)
		return fault(err, errlen, "%s: %s needs a start", key, quote(&q, val));
	if (dash)
		*dash = '\0';
	if (number_arg(key, val, UINT64_MAX, &lo, err, errlen))
		return -1;
	if (!dash)
		hi = lo;
	else if (dash[1] && number_arg(key, dash + 1, UINT64_MAX, &hi, err, errlen))
		return -1;
	if (lo > hi) /* both parsed as numbers: safe to print as they are */
		return fault(err, errlen, "%s: range %s-%s is empty", key, val, dash + 1);
	*min = lo;
	*max = hi;
	return 0;
}

/* "read,write": val is modified. */
static int ops_arg(char *val, uint64_t *ops, char *err, size_t errlen)
{
	struct quoted q;
	char *name = val, *comma;

	*ops = 0;
	for (;;) {
		int op;

		comma = strchr(name, ',');
		if (comma)
			*comma = '\0';
		if (!*name)
			return fault(err, errlen, "op: empty operation name in the list");
		op = diofs_op_from_name(name);
		if (op < 0)
			return fault(err, errlen, "op: unknown operation %s", quote(&q, name));
		*ops |= UINT64_C(1) << op;
		if (!comma)
			return 0;
		name = comma + 1;
	}
}

static int prob_arg(const char *val, double *prob, char *err, size_t errlen)
{
	struct quoted q;
	char *end;
	double p;

	p = strtod(val, &end);
	if (*end)
		return fault(err, errlen, "prob: %s is not a number", quote(&q, val));
	if (!(p >= 0.0 && p <= 1.0)) /* also refuses NaN */
		return fault(err, errlen, "prob: must be in [0,1]");
	*prob = p;
	return 0;
}

/* "+N", "-N" or "N" into *out; 0, or -1 with the message. */
static int signed_arg(const char *key, const char *val, long max, long *out,
		      char *err, size_t errlen)
{
	bool neg = val[0] == '-';
	uint64_t n;

	if (number_arg(key, val + (val[0] == '-' || val[0] == '+'), (uint64_t)max, &n,
		       err, errlen))
		return -1;
	*out = neg ? -(long)n : (long)n;
	return 0;
}

/* proto=NAME[:N] (rules.h). */
static int proto_arg(struct rule *r, const char *val, char *err, size_t errlen)
{
	char name[32], *colon;
	const char *num;
	struct quoted q;
	int f;

	if (!val || !*val)
		return fault(err, errlen, "proto: needs a fault (badlen:+N, badlen:-N, "
			     "short-header, errno:N, double, unknown-unique, late)");
	snprintf(name, sizeof(name), "%s", val);
	colon = strchr(name, ':');
	if (colon)
		*colon = '\0';
	num = colon ? val + (colon - name) + 1 : NULL;
	f = diofs_proto_fault_from_name(name);
	if (f < 0 || strlen(val) >= sizeof(name))
		return fault(err, errlen, "proto: unknown fault %s", quote(&q, val));
	r->arg = f;
	switch ((enum diofs_proto_fault)f) {
	case PROTO_FAULT_BADLEN:
		if (!num || (num[0] != '+' && num[0] != '-'))
			return fault(err, errlen, "proto=badlen: needs :+N or :-N");
		if (signed_arg("proto=badlen", num, BADLEN_MAX, &r->proto_arg, err, errlen))
			return -1;
		if (r->proto_arg == 0)
			return fault(err, errlen, "proto=badlen: +0 is the right length");
		return 0;
	case PROTO_FAULT_SHORT_HEADER:
		r->proto_arg = SHORT_HEADER_DEFAULT;
		if (num && (signed_arg("proto=short-header", num, SHORT_HEADER_MAX,
				       &r->proto_arg, err, errlen) || r->proto_arg < 1))
			return fault(err, errlen, "proto=short-header: N is 1..%d (a write "
				     "of 0 bytes never reaches FUSE)", SHORT_HEADER_MAX);
		return 0;
	case PROTO_FAULT_ERRNO:
		if (!num || !*num)
			return fault(err, errlen, "proto=errno: needs :N (e.g. -1000, -512, 5)");
		if (signed_arg("proto=errno", num, INT_MAX, &r->proto_arg, err, errlen))
			return -1;
		if (r->proto_arg >= PROTO_ERRNO_MIN_IN_RANGE && r->proto_arg <= 0)
			return fault(err, errlen, "proto=errno:%ld: the kernel takes that; "
				     "use fail=", r->proto_arg);
		return 0;
	case PROTO_FAULT_DOUBLE:
	case PROTO_FAULT_UNKNOWN_UNIQUE:
	case PROTO_FAULT_LATE:
		return num ? fault(err, errlen, "proto=%s: takes no :N", name) : 0;
	case PROTO_FAULT_NONE:
	case PROTO_FAULT_COUNT:
		break;
	}
	return fault(err, errlen, "proto: unknown fault %s", quote(&q, val));
}

static int action_arg(struct rule *r, const char *word, const char *val,
		      char *err, size_t errlen)
{
	struct quoted q;
	uint64_t n;
	int e;

	switch (r->action) {
	case ACT_HOLD:
	case ACT_ABORT:
	case ACT_CRASH:
		return val ? fault(err, errlen, "%s: takes no value", word) : 0;
	case ACT_DELAY:
		return needed_number(word, val, "a time in milliseconds", DELAY_MAX_MS,
				     &r->arg, err, errlen);
	case ACT_FAIL:
		if (!val || !*val)
			return fault(err, errlen, "fail: needs an errno name");
		e = errno_from_name(val);
		if (e < 0)
			return fault(err, errlen, "fail: unknown errno %s", quote(&q, val));
		r->arg = e;
		return 0;
	case ACT_SHORT:
		return needed_number(word, val, "a byte count", LONG_MAX, &r->arg, err, errlen);
	case ACT_OVERLONG:
		r->arg = OVERLONG_DEFAULT;
		if (!val)
			return 0;
		if (!*val)
			return fault(err, errlen, "overlong: needs a byte count after '='");
		if (number_arg(word, val, OVERLONG_MAX, &n, err, errlen))
			return -1;
		if (n == 0)
			return fault(err, errlen, "overlong: needs at least 1 extra byte");
		r->arg = (long)n;
		return 0;
	case ACT_PROTO:
		return proto_arg(r, val, err, errlen);
	}
	return fault(err, errlen, "internal: action %d", (int)r->action);
}

static int match_arg(struct rule *r, enum match_key key, char *val,
		     char *err, size_t errlen)
{
	const char *word = match_words[key];
	uint64_t n;

	if (!val || !*val)
		return fault(err, errlen, "%s: needs a value", word);
	switch (key) {
	case M_OP:
		return ops_arg(val, &r->ops, err, errlen);
	case M_PATH:
		r->path = strdup(val);
		if (!r->path)
			return fault(err, errlen, "path: out of memory");
		return 0;
	case M_OFFSET:
		return range_arg(word, val, &r->off_min, &r->off_max, err, errlen);
	case M_SIZE:
		return range_arg(word, val, &r->size_min, &r->size_max, err, errlen);
	case M_PID:
		if (positive_arg(word, val, INT_MAX, &n, err, errlen))
			return -1;
		r->pid = (pid_t)n;
		return 0;
	case M_NTH:
		return positive_arg(word, val, UINT64_MAX, &r->nth, err, errlen);
	case M_COUNT:
		return positive_arg(word, val, UINT64_MAX, &r->count, err, errlen);
	case M_PROB:
		return prob_arg(val, &r->prob, err, errlen);
	case M_SEED:
		return number_arg(word, val, UINT64_MAX, &r->seed, err, errlen);
	case M_COUNT_OF_KEYS:
		break;
	}
	return fault(err, errlen, "internal: match %d", (int)key);
}

static void rule_init(struct rule *r)
{
	memset(r, 0, sizeof(*r));
	r->off_max = UINT64_MAX;
	r->size_max = UINT64_MAX;
	r->prob = 1.0;
	r->seed = 1;
	r->prng = r->seed;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' ||
	       ch == '\v' || ch == '\f';
}

/* The next blank-separated word of *p, terminated in place; NULL at the end. */
static char *next_word(char **p)
{
	char *s = *p, *word;

	while (is_blank(*s))
		s++;
	if (!*s)
		return NULL;
	word = s;
	while (*s && !is_blank(*s))
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return word;
}

/* Checks that need the whole rule. */
static int rule_check(struct rule *r, char *err, size_t errlen)
{
	struct quoted q;

	if (r->nth && r->count)
		return fault(err, errlen, "nth and count cannot be combined");
	if (r->action == ACT_FAIL) {
		const char *why = reply_errno_refusal(r->ops ? r->ops : ALL_OPS, (int)r->arg);
		const char *name = errno_name((int)r->arg);
		char num[24];

		if (strcmp(name, "E?") == 0) {
			snprintf(num, sizeof(num), "%ld", r->arg);
			name = num;
		}
		if (why)
			return fault(err, errlen, "fail=%s: %s%s", name, why,
				     r->ops || r->arg > REPLY_ERRNO_MAX ? "" :
				     "; name the operations with op=");
	}
	if (r->action == ACT_SHORT || r->action == ACT_OVERLONG) {
		uint64_t others = r->ops & ~READ_WRITE;

		if (!r->ops) {
			r->ops = READ_WRITE;
		} else if (others) {
			int op = __builtin_ctzll(others);
			return fault(err, errlen, "%s: applies to read and write only, not %s",
				     action_word(r->action),
				     quote(&q, diofs_op_name((enum diofs_op)op)));
		}
	}
	return 0;
}

/* Cuts word at its '=': returns the value, or NULL if there is none. */
static char *split_value(char *word)
{
	char *val = strchr(word, '=');

	if (val)
		*val++ = '\0';
	return val;
}

static int parse_words(char *p, struct rule *r, char *err, size_t errlen)
{
	struct quoted first, q;
	unsigned int seen = 0;
	char *word, *val;
	int a, k;

	word = next_word(&p);
	if (!word)
		return fault(err, errlen, "empty rule: expected an action");
	quote(&first, word);
	val = split_value(word);
	a = find_action(word);
	if (a < 0)
		return fault(err, errlen, find_match(word) >= 0 ?
			     "a rule starts with its action, not %s" : "unknown action %s",
			     first.s);
	r->action = (enum rule_action)a;
	if (action_arg(r, word, val, err, errlen))
		return -1;

	while ((word = next_word(&p))) {
		quote(&q, word);
		val = split_value(word);
		k = find_match(word);
		if (k < 0) {
			if (find_action(word) >= 0)
				return fault(err, errlen, "%s: a rule has one action, and it has %s",
					     q.s, first.s);
			return fault(err, errlen, "unknown match %s", q.s);
		}
		if (seen & (1u << k))
			return fault(err, errlen, "duplicate match \"%s\"", word);
		seen |= 1u << k;
		if (match_arg(r, (enum match_key)k, val, err, errlen))
			return -1;
	}
	return rule_check(r, err, errlen);
}

int rule_parse(const char *text, struct rule *out, char *err, size_t errlen)
{
	struct rule r;
	char *copy;
	int ret;

	rule_init(out);
	if (err && errlen)
		err[0] = '\0';
	copy = strdup(text ? text : "");
	if (!copy)
		return fault(err, errlen, "out of memory");
	rule_init(&r);
	ret = parse_words(copy, &r, err, errlen);
	free(copy);
	if (ret) {
		rule_free(&r);
		return -1;
	}
	r.prng = r.seed;
	*out = r;
	return 0;
}

void rule_free(struct rule *r)
{
	free(r->path);
	r->path = NULL;
}

bool rule_equal(const struct rule *a, const struct rule *b)
{
	if (!!a->path != !!b->path || (a->path && strcmp(a->path, b->path)))
		return false;
	return a->action == b->action && a->arg == b->arg && a->ops == b->ops &&
	       a->off_min == b->off_min && a->off_max == b->off_max &&
	       a->size_min == b->size_min && a->size_max == b->size_max &&
	       a->pid == b->pid && a->nth == b->nth && a->count == b->count &&
	       a->prob == b->prob && a->seed == b->seed && a->prng == b->prng &&
	       a->proto_arg == b->proto_arg;
}

/* Appends like snprintf: writes what fits, counts all. */
struct text {
	char *buf;
	size_t len, need;
};

__attribute__((format(printf, 2, 3)))
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (t->need < t->len)
		n = vsnprintf(t->buf + t->need, t->len - t->need, fmt, ap);
	else
		n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->need += (size_t)n;
}

static void put_range(struct text *t, const char *key, uint64_t min, uint64_t max)
{
	if (min == 0 && max == UINT64_MAX)
		return;
	if (min == max)
		put(t, " %s=%" PRIu64, key, min);
	else if (max == UINT64_MAX)
		put(t, " %s=%" PRIu64 "-", key, min);
	else
		put(t, " %s=%" PRIu64 "-%" PRIu64, key, min, max);
}

/* The shortest text that reads back as exactly p. */
static void put_prob(struct text *t, double p)
{
	char s[40];

	for (int digits = 1; digits <= 17; digits++) {
		snprintf(s, sizeof(s), "%.*g", digits, p);
		if (strtod(s, NULL) == p)
			break;
	}
	put(t, " prob=%s", s);
}

int rule_format(const struct rule *r, char *buf, size_t len)
{
	struct text t = { buf, len, 0 };
	const char *name;

	if (buf && len)
		buf[0] = '\0';
	put(&t, "%s", action_word(r->action));
	switch (r->action) {
	case ACT_DELAY:
	case ACT_SHORT:
	case ACT_OVERLONG:
		put(&t, "=%ld", r->arg);
		break;
	case ACT_FAIL:
		name = errno_name((int)r->arg);
		if (strcmp(name, "E?") == 0)
			put(&t, "=%ld", r->arg);
		else
			put(&t, "=%s", name);
		break;
	case ACT_HOLD:
	case ACT_ABORT:
	case ACT_CRASH:
		break;
	case ACT_PROTO:
		put(&t, "=%s", diofs_proto_fault_name((enum diofs_proto_fault)r->arg));
		if (r->arg == PROTO_FAULT_BADLEN)
			put(&t, ":%+ld", r->proto_arg);
		else if (r->arg == PROTO_FAULT_SHORT_HEADER || r->arg == PROTO_FAULT_ERRNO)
			put(&t, ":%ld", r->proto_arg);
		break;
	}
	if (r->ops) {
		char sep = '=';

		put(&t, " op");
		for (int op = 0; op < DIOFS_OP_COUNT; op++) {
			if (r->ops & (UINT64_C(1) << op)) {
				put(&t, "%c%s", sep, diofs_op_name((enum diofs_op)op));
				sep = ',';
			}
		}
	}
	if (r->path)
		put(&t, " path=%s", r->path);
	put_range(&t, "offset", r->off_min, r->off_max);
	put_range(&t, "size", r->size_min, r->size_max);
	if (r->pid)
		put(&t, " pid=%d", (int)r->pid);
	if (r->nth)
		put(&t, " nth=%" PRIu64, r->nth);
	if (r->count)
		put(&t, " count=%" PRIu64, r->count);
	if (r->prob != 1.0)
		put_prob(&t, r->prob);
	if (r->seed != 1)
		put(&t, " seed=%" PRIu64, r->seed);
	return t.need > INT_MAX ? INT_MAX : (int)t.need;
}
