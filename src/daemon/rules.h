/* The rule list: what diofs does to the requests a rule matches.
 * Syntax (CLI, protocol and -o rules=FILE alike), one rule per line:
 *   ACTION [MATCH...]
 * ACTION: delay=MS | hold | fail=ERRNAME | short=N | overlong[=N]
 *         | abort | crash | proto=FAULT
 * FAULT:  badlen:+N | badlen:-N | short-header[:N] | errno:N | double
 *         | unknown-unique | late
 * MATCH:  op=NAME[,NAME...] | path=GLOB | offset=A[-B] | size=A[-B]
 *         | pid=N | nth=N | count=N | prob=P | seed=N
 * Numbers take k, m, g suffixes (powers of 1024).  Ranges are inclusive,
 * B may be omitted ("4096-" means 4096 and up).
 *
 * Details:
 *  - The action comes first; each match at most once; words are split at
 *    blanks (a path with a blank needs '?' in the glob).
 *  - Numbers: decimal or 0x hex, then k/m/g.  delay is at most INT_MAX ms
 *    (hold has no limit; either ends early if its caller is interrupted);
 *    fail takes a name (any case) or a number, 1-511 (what the kernel
 *    accepts), and not ENOSYS for open or opendir (reply_errno.h).
 *  - short=N and overlong[=N] (default 4096, at most 1m) only make sense
 *    for read and write: without op= they apply to op=read,write; an op=
 *    naming anything else is refused.
 *  - proto=FAULT writes a message the kernel must refuse, then (where the
 *    kernel still waits) the call's real reply, or replies late:
 *    badlen:+N/-N a header len N bytes more/less than what is written
 *    (N 1..1m); short-header[:N] only N bytes (1..15, default 8) of the
 *    header; errno:N a header error of N, which must be out of the range
 *    the kernel takes (N <= -512 or N > 0; -1000 also on old kernels);
 *    double the reply written twice; unknown-unique the reply to a unique
 *    the kernel never sent; late: held like hold until the kernel
 *    interrupts the call, then answered as if nothing happened (release
 *    answers it too).  Any operation.  The errno validation of fail= does
 *    not apply: these are meant to be wrong.
 *  - path: a glob per fnmatch(3) with FNM_PATHNAME ('*' and '?' do not
 *    match '/'; no "**"), compared with call_path() without the leading
 *    '/' of either, so "path=/d/f*" matches "/d/f1" but not "/d/f/x".
 *  - offset/size: calls without one (lookup, getattr...) have 0.
 *  - nth=N: act on the Nth matching call only (1-based).  count=N: act on
 *    at most N calls (the first N matches, unless prob refuses some).
 *    nth and count cannot be combined.
 *  - prob=P in [0,1], seed=N (default 1): each match draws from a splitmix64
 *    sequence of the seed, so the same seed gives the same decisions.
 *  - A call that matches a rule counts in its "matched"; the first rule
 *    that matches and passes nth/count/prob acts ("acted"), and later rules
 *    do not see that call.  Rules that stop acting stay listed. */
#ifndef DIOFS_RULES_H
#define DIOFS_RULES_H

#include "call.h"
#include <stddef.h>
#include <stdint.h>

enum rule_action {
	ACT_DELAY, ACT_HOLD, ACT_FAIL, ACT_SHORT, ACT_OVERLONG, ACT_ABORT, ACT_CRASH,
	ACT_PROTO,
};

struct rule {
	int id;
	enum rule_action action;
	long arg;              /* ms, errno, byte count, or proto fault */
	long proto_arg;        /* proto: the fault's number (call.h) */
	uint64_t ops;          /* bit (1 << op); 0: any op */
	char *path;            /* glob; NULL: any path */
	uint64_t off_min, off_max;
	uint64_t size_min, size_max;
	pid_t pid;             /* 0: any */
	uint64_t nth;          /* act on the nth match only; 0: every match */
	uint64_t count;        /* act on the first count matches; 0: no limit */
	double prob;           /* act with this probability (1.0 default) */
	uint64_t seed;
	/* state */
	uint64_t prng;
	uint64_t matched;      /* calls that matched */
	uint64_t acted;        /* calls it acted on */
};

/* Parse one rule.  0 on success; -1 with a message naming the fault (one
 * line, quoting at most 48 bytes of the word); *out then holds nothing to
 * free. */
int rule_parse(const char *text, struct rule *out, char *err, size_t errlen);
/* The rule in the syntax above (parse(format(r)) == r).  Returns the
 * text's length as snprintf does: len or more means it was cut. */
int rule_format(const struct rule *r, char *buf, size_t len);
void rule_free(struct rule *r);
/* The same rule, its state (id, counts) aside: what parse(format(r)) must
 * give back. */
bool rule_equal(const struct rule *a, const struct rule *b);

/* Does r match c, ignoring nth/count/prob?  Pure, for unit tests. */
bool rule_matches(const struct rule *r, struct diofs_call *c);

/* The list.  rules_add takes r's storage (r->path becomes NULL) and
 * returns its id, or -ENOMEM (r untouched).  Ids count up from 1 and are
 * never reused, even after rules_clear.  rules_load_file: one rule per
 * line, blank lines and lines starting with '#' skipped; all or nothing:
 * 0, or -1 with "FILE:LINE: message" and no rule added. */
int rules_add(struct rule *r);
int rules_del(int id);          /* 0, or -ENOENT */
void rules_clear(void);
int rules_load_file(const char *path, char *err, size_t errlen);

/* First rule that acts on c, copied to *hit (path not copied); false if
 * none.  Counts matches.  Lock-free when the list is empty. */
bool rules_decide(struct diofs_call *c, struct rule *hit);

/* For the control server: one line per rule / per counter. */
typedef void (*rules_line_fn)(void *ctx, const char *line);
void rules_list(rules_line_fn fn, void *ctx);
void rules_stats(rules_line_fn fn, void *ctx);

#endif
