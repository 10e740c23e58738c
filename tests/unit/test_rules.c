/* Unit tests of the rule language, the matcher and the rule list. */
#include <config.h>

#include "daemon/call_life.h"
#include "daemon/rules.h"
#include "harness/runner.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* call_life.c is not linked: the path is whatever the test put in the call. */
static int call_path_calls;

const char *call_path(struct diofs_call *c)
{
	call_path_calls++;
	return c->path;
}

#define BIT(op) (UINT64_C(1) << DIOFS_OP_##op)

static char err[256];

/* Parses text, which must be valid, into r. */
static void parse_ok(const char *text, struct rule *r)
{
	int ret = rule_parse(text, r, err, sizeof(err));

	REQUIRE(ret == 0, "unexpected error for \"%s\": %s", text, err);
}

static struct diofs_call make_call(enum diofs_op op, const char *path,
				   off_t off, size_t size, pid_t pid)
{
	struct diofs_call c;

	memset(&c, 0, sizeof(c));
	c.op = op;
	c.path = path;
	c.off = off;
	c.size = size;
	c.pid = pid;
	return c;
}

/* ---- parsing ---- */

/* The defaults of the matches a rule leaves out, for the wanted rules
 * below (each names those it does not set itself). */
#define ANY_OFF .off_max = UINT64_MAX
#define ANY_SIZE .size_max = UINT64_MAX
#define ALWAYS .prob = 1.0
#define SEED_1 .seed = 1, .prng = 1
#define DEFAULTS ANY_OFF, ANY_SIZE, ALWAYS, SEED_1
#define HOLD .action = ACT_HOLD

/* Rules, what they parse into (every field compared: rule_equal), and
 * the text they then format as. */
static const struct {
	const char *text;
	struct rule want;
	const char *formatted;
} parsed_rules[] = {
	/* actions */
	{ "delay=250", { .action = ACT_DELAY, .arg = 250, DEFAULTS }, "delay=250" },
	{ "delay=0", { .action = ACT_DELAY, .arg = 0, DEFAULTS }, "delay=0" },
	{ "hold", { .action = ACT_HOLD, DEFAULTS }, "hold" },
	{ "fail=ENOSPC", { .action = ACT_FAIL, .arg = ENOSPC, DEFAULTS },
	  "fail=ENOSPC" },
	{ "fail=eio", { .action = ACT_FAIL, .arg = EIO, DEFAULTS }, "fail=EIO" },
	{ "fail=5", { .action = ACT_FAIL, .arg = 5, DEFAULTS }, "fail=EIO" },
	{ "fail=enospc", { .action = ACT_FAIL, .arg = ENOSPC, DEFAULTS }, "fail=ENOSPC" },
	{ "fail=EWOULDBLOCK", { .action = ACT_FAIL, .arg = EAGAIN, DEFAULTS }, "fail=EAGAIN" },
	{ "fail=500", { .action = ACT_FAIL, .arg = 500, DEFAULTS }, "fail=500" },
	{ "delay=1k", { .action = ACT_DELAY, .arg = 1024, DEFAULTS }, "delay=1024" },
	{ "short=4k", { .action = ACT_SHORT, .arg = 4096, .ops = BIT(READ) | BIT(WRITE),
			DEFAULTS }, "short=4096 op=read,write" },
	{ "short=100", { .action = ACT_SHORT, .arg = 100, .ops = BIT(READ) | BIT(WRITE),
			 DEFAULTS }, "short=100 op=read,write" },
	{ "short=0 op=write", { .action = ACT_SHORT, .arg = 0, .ops = BIT(WRITE), DEFAULTS },
	  "short=0 op=write" },
	{ "overlong", { .action = ACT_OVERLONG, .arg = 4096, .ops = BIT(READ) | BIT(WRITE),
			DEFAULTS }, "overlong=4096 op=read,write" },
	{ "overlong=1 op=read", { .action = ACT_OVERLONG, .arg = 1, .ops = BIT(READ),
				  DEFAULTS }, "overlong=1 op=read" },
	{ "abort", { .action = ACT_ABORT, DEFAULTS }, "abort" },
	{ "crash", { .action = ACT_CRASH, DEFAULTS }, "crash" },
	{ "  \thold\t \n", { .action = ACT_HOLD, DEFAULTS }, "hold" },

	/* protocol faults */
	{ "proto=badlen:+8", { .action = ACT_PROTO, .arg = PROTO_FAULT_BADLEN, .proto_arg = 8,
			       DEFAULTS }, "proto=badlen:+8" },
	{ "proto=badlen:-4k op=read", { .action = ACT_PROTO, .arg = PROTO_FAULT_BADLEN,
					.proto_arg = -4096, .ops = BIT(READ), DEFAULTS },
	  "proto=badlen:-4096 op=read" },
	{ "proto=badlen:+1k", { .action = ACT_PROTO, .arg = PROTO_FAULT_BADLEN,
				.proto_arg = 1024, DEFAULTS }, "proto=badlen:+1024" },
	{ "proto=short-header", { .action = ACT_PROTO, .arg = PROTO_FAULT_SHORT_HEADER,
				  .proto_arg = 8, DEFAULTS }, "proto=short-header:8" },
	{ "proto=short-header:15", { .action = ACT_PROTO, .arg = PROTO_FAULT_SHORT_HEADER,
				     .proto_arg = 15, DEFAULTS },
	  "proto=short-header:15" },
	{ "proto=errno:-1000", { .action = ACT_PROTO, .arg = PROTO_FAULT_ERRNO,
				 .proto_arg = -1000, DEFAULTS }, "proto=errno:-1000" },
	{ "proto=errno:-512", { .action = ACT_PROTO, .arg = PROTO_FAULT_ERRNO,
				.proto_arg = -512, DEFAULTS }, "proto=errno:-512" },
	{ "proto=errno:5", { .action = ACT_PROTO, .arg = PROTO_FAULT_ERRNO, .proto_arg = 5,
			     DEFAULTS }, "proto=errno:5" },
	{ "proto=errno:0x200", { .action = ACT_PROTO, .arg = PROTO_FAULT_ERRNO,
				 .proto_arg = 512, DEFAULTS }, "proto=errno:512" },
	{ "proto=double op=lookup", { .action = ACT_PROTO, .arg = PROTO_FAULT_DOUBLE,
				      .ops = BIT(LOOKUP), DEFAULTS },
	  "proto=double op=lookup" },
	{ "proto=unknown-unique", { .action = ACT_PROTO, .arg = PROTO_FAULT_UNKNOWN_UNIQUE,
				    DEFAULTS }, "proto=unknown-unique" },
	{ "proto=late", { .action = ACT_PROTO, .arg = PROTO_FAULT_LATE, DEFAULTS },
	  "proto=late" },

	/* matches */
	{ "hold op=read,write,lookup,copy_file_range",
	  { HOLD, .ops = BIT(READ) | BIT(WRITE) | BIT(LOOKUP) | BIT(COPY_FILE_RANGE),
	    DEFAULTS }, "hold op=lookup,read,write,copy_file_range" },
	{ "hold op=read,read", { HOLD, .ops = BIT(READ), DEFAULTS }, "hold op=read" },
	{ "hold op=write,read", { HOLD, .ops = BIT(READ) | BIT(WRITE), DEFAULTS },
	  "hold op=read,write" },
	{ "hold path=/d/*.dat", { HOLD, .path = "/d/*.dat", DEFAULTS },
	  "hold path=/d/*.dat" },
	{ "hold offset=4096", { HOLD, .off_min = 4096, .off_max = 4096, ANY_SIZE, ALWAYS,
				SEED_1 }, "hold offset=4096" },
	{ "hold offset=4k-8k", { HOLD, .off_min = 4096, .off_max = 8192, ANY_SIZE, ALWAYS,
				 SEED_1 }, "hold offset=4096-8192" },
	{ "hold offset=1m-", { HOLD, .off_min = 1 << 20, DEFAULTS },
	  "hold offset=1048576-" },
	{ "hold offset=4k-", { HOLD, .off_min = 4096, DEFAULTS }, "hold offset=4096-" },
	{ "hold offset=0-0x10", { HOLD, .off_max = 16, ANY_SIZE, ALWAYS, SEED_1 },
	  "hold offset=0-16" },
	{ "hold size=0x10-0X1fK", { HOLD, .size_min = 16, .size_max = 31 * 1024, ANY_OFF, ALWAYS,
				    SEED_1 }, "hold size=16-31744" },
	{ "hold size=2G", { HOLD, .size_min = UINT64_C(2) << 30, .size_max = UINT64_C(2) << 30,
			    ANY_OFF, ALWAYS, SEED_1 }, "hold size=2147483648" },
	{ "hold size=18446744073709551615", { HOLD, .size_min = UINT64_MAX, DEFAULTS },
	  "hold size=18446744073709551615" },
	{ "hold size=17179869183g", { HOLD, .size_min = UINT64_C(17179869183) << 30,
				      .size_max = UINT64_C(17179869183) << 30,
				      ANY_OFF, ALWAYS, SEED_1 },
	  "hold size=18446744072635809792" },
	{ "hold size=7-7", { HOLD, .size_min = 7, .size_max = 7, ANY_OFF, ALWAYS, SEED_1 },
	  "hold size=7" },
	{ "hold size=0-", { HOLD, DEFAULTS }, "hold" },
	{ "hold pid=42", { HOLD, .pid = 42, DEFAULTS }, "hold pid=42" },
	{ "hold nth=3", { HOLD, .nth = 3, DEFAULTS }, "hold nth=3" },
	{ "hold count=2", { HOLD, .count = 2, DEFAULTS }, "hold count=2" },
	{ "hold prob=0.25 seed=7", { HOLD, .prob = 0.25, .seed = 7, .prng = 7, ANY_OFF,
				     ANY_SIZE }, "hold prob=0.25 seed=7" },
	{ "hold prob=0", { HOLD, .prob = 0.0, ANY_OFF, ANY_SIZE, SEED_1 },
	  "hold prob=0" },
	{ "hold prob=1", { HOLD, DEFAULTS }, "hold" },
	{ "hold prob=0.10", { HOLD, .prob = 0.1, ANY_OFF, ANY_SIZE, SEED_1 }, "hold prob=0.1" },
	{ "hold prob=1.0", { HOLD, DEFAULTS }, "hold" },
	{ "hold seed=1", { HOLD, DEFAULTS }, "hold" },
	{ "hold prob=.5 seed=2", { HOLD, .prob = 0.5, .seed = 2, .prng = 2, ANY_OFF, ANY_SIZE },
	  "hold prob=0.5 seed=2" },
	{ "hold seed=0x10", { HOLD, .seed = 16, .prng = 16, ANY_OFF, ANY_SIZE, ALWAYS },
	  "hold seed=16" },

	/* every match at once, in another order than format's */
	{ "fail=EROFS seed=3 prob=0.5 count=4 pid=9 size=1-2 offset=3- path=a/b op=write",
	  { .action = ACT_FAIL, .arg = EROFS, .ops = BIT(WRITE), .path = "a/b", .off_min = 3,
	    .off_max = UINT64_MAX, .size_min = 1, .size_max = 2, .pid = 9, .count = 4,
	    .prob = 0.5, .seed = 3, .prng = 3 },
	  "fail=EROFS op=write path=a/b offset=3- size=1-2 pid=9 count=4 prob=0.5 seed=3" },
	{ "hold seed=2 nth=1 pid=3 path=p size=1 offset=2 op=read",
	  { HOLD, .ops = BIT(READ), .path = "p", .off_min = 2, .off_max = 2, .size_min = 1,
	    .size_max = 1, .pid = 3, .nth = 1, ALWAYS, .seed = 2, .prng = 2 },
	  "hold op=read path=p offset=2 size=1 pid=3 nth=1 seed=2" },
};

TEST(parse_and_format_actions_proto_faults_and_matches)
{
	for (size_t i = 0; i < sizeof(parsed_rules) / sizeof(parsed_rules[0]); i++) {
		struct rule r;

		char text[256];

		parse_ok(parsed_rules[i].text, &r);
		CHECK(rule_equal(&r, &parsed_rules[i].want), "\"%s\": not the rule wanted",
		      parsed_rules[i].text);
		rule_format(&r, text, sizeof(text));
		CHECK(strcmp(text, parsed_rules[i].formatted) == 0,
		      "\"%s\" formats as \"%s\", want \"%s\"", parsed_rules[i].text, text,
		      parsed_rules[i].formatted);
		rule_free(&r);
		CHECK(r.path == NULL, "r.path is NULL");
	}
}

TEST(parse_defaults)
{
	struct rule r;

	parse_ok("hold", &r);
	CHECK_EQ(r.id, 0);
	CHECK(r.path == NULL, "r.path is NULL");
	CHECK_EQ(r.off_min, 0);
	CHECK_EQ(r.off_max, UINT64_MAX);
	CHECK_EQ(r.size_min, 0);
	CHECK_EQ(r.size_max, UINT64_MAX);
	CHECK_EQ(r.pid, 0);
	CHECK_EQ(r.nth, 0);
	CHECK_EQ(r.count, 0);
	CHECK(r.prob == 1.0, "prob %g, want 1", r.prob);
	CHECK_EQ(r.seed, 1);
	CHECK_EQ(r.matched, 0);
	CHECK_EQ(r.acted, 0);
}

static const struct {
	const char *text, *message;
} bad_rules[] = {
	{ "", "empty rule: expected an action" },
	{ " \t ", "empty rule: expected an action" },
	{ "hodl", "unknown action \"hodl\"" },
	{ "hodl=3", "unknown action \"hodl=3\"" },
	{ "op=read hold", "a rule starts with its action, not \"op=read\"" },
	{ "hold fail=EIO", "\"fail=EIO\": a rule has one action, and it has \"hold\"" },
	{ "hold hold", "\"hold\": a rule has one action, and it has \"hold\"" },
	{ "hold foo=1", "unknown match \"foo=1\"" },
	{ "hold read", "unknown match \"read\"" },
	{ "hold=1", "hold: takes no value" },
	{ "abort=", "abort: takes no value" },
	{ "crash=x", "crash: takes no value" },
	{ "delay", "delay: needs a time in milliseconds" },
	{ "delay=", "delay: needs a time in milliseconds" },
	{ "delay=5s", "delay: \"5s\" is not a number" },
	{ "delay=2147483648", "delay: \"2147483648\" is more than 2147483647" },
	{ "fail", "fail: needs an errno name" },
	{ "fail=EFOO", "fail: unknown errno \"EFOO\"" },
	{ "fail=0", "fail: unknown errno \"0\"" },
	{ "fail=1000", "fail: unknown errno \"1000\"" },
	{ "fail=-5", "fail: unknown errno \"-5\"" },
	{ "fail=512 op=read", "fail=512: the kernel accepts errors 1-511 only (it refuses "
	  "any other reply and its caller would wait forever)" },
	{ "fail=999", "fail=999: the kernel accepts errors 1-511 only (it refuses any other "
	  "reply and its caller would wait forever)" },
	{ "fail=ENOSYS op=read,open", "fail=ENOSYS: ENOSYS cannot answer open or opendir (the "
	  "kernel would stop opening files on this mount for good: no_open)" },
	{ "fail=enosys op=opendir", "fail=ENOSYS: ENOSYS cannot answer open or opendir (the "
	  "kernel would stop opening files on this mount for good: no_open)" },
	{ "fail=ENOSYS path=/f", "fail=ENOSYS: ENOSYS cannot answer open or opendir (the kernel "
	  "would stop opening files on this mount for good: no_open); name the operations "
	  "with op=" },
	{ "short", "short: needs a byte count" },
	{ "short=", "short: needs a byte count" },
	{ "short=-1", "short: \"-1\" is not a number" },
	{ "short=10 op=read,lookup", "short: applies to read and write only, not \"lookup\"" },
	{ "overlong op=open", "overlong: applies to read and write only, not \"open\"" },
	{ "overlong=", "overlong: needs a byte count after '='" },
	{ "overlong=0", "overlong: needs at least 1 extra byte" },
	{ "overlong=2m", "overlong: \"2m\" is more than 1048576" },
	{ "proto", "proto: needs a fault (badlen:+N, badlen:-N, short-header, errno:N, "
	  "double, unknown-unique, late)" },
	{ "proto=none", "proto: unknown fault \"none\"" },
	{ "proto=twice", "proto: unknown fault \"twice\"" },
	{ "proto=badlen", "proto=badlen: needs :+N or :-N" },
	{ "proto=badlen:8", "proto=badlen: needs :+N or :-N" },
	{ "proto=badlen:+0", "proto=badlen: +0 is the right length" },
	{ "proto=badlen:+2m", "proto=badlen: \"2m\" is more than 1048576" },
	{ "proto=short-header:0", "proto=short-header: N is 1..15 (a write of 0 bytes never "
	  "reaches FUSE)" },
	{ "proto=short-header:16", "proto=short-header: N is 1..15 (a write of 0 bytes never "
	  "reaches FUSE)" },
	{ "proto=errno", "proto=errno: needs :N (e.g. -1000, -512, 5)" },
	{ "proto=errno:-5", "proto=errno:-5: the kernel takes that; use fail=" },
	{ "proto=errno:0", "proto=errno:0: the kernel takes that; use fail=" },
	{ "proto=errno:-511", "proto=errno:-511: the kernel takes that; use fail=" },
	{ "proto=double:1", "proto=double: takes no :N" },
	{ "hold op=raed", "op: unknown operation \"raed\"" },
	{ "hold op=read,raed", "op: unknown operation \"raed\"" },
	{ "hold op=READ", "op: unknown operation \"READ\"" },
	{ "hold op=", "op: needs a value" },
	{ "hold op", "op: needs a value" },
	{ "hold op=read,,write", "op: empty operation name in the list" },
	{ "hold op=read,", "op: empty operation name in the list" },
	{ "hold path", "path: needs a value" },
	{ "hold path=", "path: needs a value" },
	{ "hold offset=12x", "offset: \"12x\" is not a number" },
	{ "hold offset=0x", "offset: \"0x\" is not a number" },
	{ "hold offset=k", "offset: \"k\" is not a number" },
	{ "hold offset=1kk", "offset: \"1kk\" is not a number" },
	{ "hold offset=+1", "offset: \"+1\" is not a number" },
	{ "hold offset=1.5", "offset: \"1.5\" is not a number" },
	{ "hold offset=-5", "offset: \"-5\" needs a start" },
	{ "hold offset=5--6", "offset: \"-6\" is not a number" },
	{ "hold offset=18446744073709551616", "offset: \"18446744073709551616\" is out of range" },
	{ "hold offset=0x10000000000000000", "offset: \"0x10000000000000000\" is out of range" },
	{ "hold offset=17179869184g", "offset: \"17179869184g\" is out of range" },
	{ "hold size=10-5", "size: range 10-5 is empty" },
	{ "hold size=1-x", "size: \"x\" is not a number" },
	{ "hold size=", "size: needs a value" },
	{ "hold pid=0", "pid: must be at least 1" },
	{ "hold pid=2147483648", "pid: \"2147483648\" is more than 2147483647" },
	{ "hold nth=0", "nth: must be at least 1" },
	{ "hold count=0", "count: must be at least 1" },
	{ "hold nth=2 count=3", "nth and count cannot be combined" },
	{ "hold prob=1.5", "prob: must be in [0,1]" },
	{ "hold prob=-0.1", "prob: must be in [0,1]" },
	{ "hold prob=nan", "prob: must be in [0,1]" },
	{ "hold prob=inf", "prob: must be in [0,1]" },
	{ "hold prob=abc", "prob: \"abc\" is not a number" },
	{ "hold prob=0.5x", "prob: \"0.5x\" is not a number" },
	{ "hold seed=x", "seed: \"x\" is not a number" },
	{ "hold op=read op=write", "duplicate match \"op\"" },
	{ "hold path=a path=a", "duplicate match \"path\"" },
	{ "hold seed=1 prob=0.5 seed=2", "duplicate match \"seed\"" },
	/* Quoted words are kept printable and short. */
	{ "hold \x01x=1", "unknown match \"?x=1\"" },
	{ "hold op=\x7f\xff", "op: unknown operation \"??\"" },
	{ "hold aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  "unknown match \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"" },
};

TEST(parse_errors_name_the_fault)
{
	for (size_t i = 0; i < sizeof(bad_rules) / sizeof(bad_rules[0]); i++) {
		struct rule r;
		int ret;

		strcpy(err, "untouched");
		ret = rule_parse(bad_rules[i].text, &r, err, sizeof(err));
		CHECK(r.path == NULL,
		      "r.path is NULL"); /* nothing for the caller to free */
		CHECK(ret == -1 && strcmp(err, bad_rules[i].message) == 0,
		      "\"%s\": got ret %d \"%s\", want -1 \"%s\"", bad_rules[i].text, ret, err,
		      bad_rules[i].message);
	}
}

TEST(parse_with_a_small_error_buffer)
{
	struct rule r;
	char tiny[8];

	CHECK_EQ(rule_parse("hodl", &r, tiny, sizeof(tiny)), -1);
	CHECK_STR(tiny, "unknown");
	CHECK_EQ(rule_parse("hodl", &r, NULL, 0), -1);
	CHECK_EQ(rule_parse(NULL, &r, err, sizeof(err)), -1);
}

/* ---- format ---- */

static const char *const round_trip_rules[] = {
	"hold",
	"delay=2147483647",
	"fail=EIO",
	"fail=511",
	"fail=ENOSYS op=read,flock",
	"fail=EWOULDBLOCK",
	"short=0",
	"short=9223372036854775807 op=write",
	"overlong",
	"overlong=1048576 op=read",
	"proto=badlen:+8",
	"proto=badlen:-1048576 op=read",
	"proto=short-header:1",
	"proto=errno:-2147483647",
	"proto=errno:2147483647 op=write",
	"proto=double",
	"proto=unknown-unique",
	"proto=late op=read path=/f count=1",
	"abort op=flush",
	"crash nth=18446744073709551615",
	"hold op=lookup,getattr,setattr,readlink,mknod,mkdir,unlink,rmdir,symlink,"
	"rename,link,open,create,read,write,flush,release,fsync,opendir,readdir,"
	"readdirplus,releasedir,fsyncdir,statfs,setxattr,getxattr,listxattr,"
	"removexattr,access,fallocate,lseek,copy_file_range,flock",
	"hold path=/a/[bc]*/?.txt",
	"hold offset=0",
	"hold offset=0-0",
	"hold offset=1-",
	"hold offset=0-1",
	"hold offset=18446744073709551615",
	"hold offset=0-18446744073709551615",
	"hold size=4k-1m",
	"hold pid=2147483647",
	"hold count=1",
	"hold prob=0.1",
	"hold prob=0.3333333333333333",
	"hold prob=1e-300",
	"hold prob=4.9406564584124654e-324",
	"hold prob=0x1.fffffffffffffp-1",
	"hold prob=0",
	"hold prob=1",
	"hold seed=0",
	"hold seed=18446744073709551615 prob=0.5",
	"delay=10 op=read,write path=x offset=1-2 size=3- pid=4 nth=5 prob=0.75 seed=6",
};

TEST(format_parse_round_trip)
{
	for (size_t i = 0; i < sizeof(round_trip_rules) / sizeof(round_trip_rules[0]); i++) {
		struct rule a, b;
		char text[2048], again[2048];
		int n;

		parse_ok(round_trip_rules[i], &a);
		n = rule_format(&a, text, sizeof(text));
		CHECK_EQ(n, (int)strlen(text));
		CHECK_EQ(rule_format(&a, NULL, 0), n);
		parse_ok(text, &b);
		CHECK(rule_equal(&a, &b), "\"%s\" formats as \"%s\", which parses otherwise",
		      round_trip_rules[i], text);
		/* Formatting is a fixed point after one round. */
		rule_format(&b, again, sizeof(again));
		CHECK_STR(text, again);
		rule_free(&a);
		rule_free(&b);
	}
}

TEST(format_truncates_like_snprintf)
{
	struct rule r;
	char buf[8];
	int n;

	parse_ok("hold op=read path=/long/enough", &r);
	memset(buf, 'x', sizeof(buf));
	n = rule_format(&r, buf, sizeof(buf));
	CHECK_EQ(n, (int)strlen("hold op=read path=/long/enough"));
	CHECK_STR(buf, "hold op");
	rule_free(&r);
}

/* ---- matcher ---- */

TEST(match_by_operation)
{
	struct rule r;
	struct diofs_call c;

	parse_ok("hold", &r);
	c = make_call(DIOFS_OP_STATFS, NULL, 0, 0, 1);
	CHECK(rule_matches(&r, &c), "rule_matches(&r, &c)");

	parse_ok("hold op=read,fsync", &r);
	c = make_call(DIOFS_OP_READ, NULL, 0, 0, 1);
	CHECK(rule_matches(&r, &c), "rule_matches(&r, &c)");
	c.op = DIOFS_OP_FSYNC;
	CHECK(rule_matches(&r, &c), "rule_matches(&r, &c)");
	c.op = DIOFS_OP_WRITE;
	CHECK(!(rule_matches(&r, &c)), "not rule_matches(&r, &c)");
	c.op = DIOFS_OP_FLOCK;
	CHECK(!(rule_matches(&r, &c)), "not rule_matches(&r, &c)");
}

TEST(match_path_glob)
{
	static const struct {
		const char *rule, *path;
		bool matches;
	} cases[] = {
		{ "hold path=/d/*", "d/file", true },
		{ "hold path=/d/*", "/d/file", true }, /* either form of call_path() */
		{ "hold path=/d/*", "d/sub/file", false }, /* FNM_PATHNAME: '*' stays
							    * within a name */
		{ "hold path=/d/*", "e/file", false },
		{ "hold path=/d/*", "d", false },
		{ "hold path=/d/*", NULL, false }, /* no path known: cannot match */
		{ "hold path=d/*/f?.[ch]", "d/x/f1.c", true },
		{ "hold path=d/*/f?.[ch]", "/d/y/fz.h", true },
		{ "hold path=d/*/f?.[ch]", "d/x/f12.c", false },
		{ "hold path=exact.bin", "exact.bin", true },
		{ "hold path=exact.bin", "exact.bin2", false },
		{ "hold path=exact.bin", "d/exact.bin", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diofs_call c = make_call(DIOFS_OP_READ, cases[i].path, 0, 0, 1);
		struct rule r;

		parse_ok(cases[i].rule, &r);
		CHECK(rule_matches(&r, &c) == cases[i].matches, "\"%s\" on %s: %s",
		      cases[i].rule, cases[i].path ? cases[i].path : "(no path)",
		      cases[i].matches ? "no match" : "a match");
		rule_free(&r);
	}
}

TEST(match_path_only_when_needed)
{
	struct rule r;
	struct diofs_call c = make_call(DIOFS_OP_READ, "f", 0, 0, 1);

	call_path_calls = 0;
	parse_ok("hold op=read", &r);
	CHECK(rule_matches(&r, &c), "rule_matches(&r, &c)");
	CHECK_EQ(call_path_calls, 0);
	/* The path is needed last: a cheaper mismatch avoids it. */
	parse_ok("hold op=write path=f", &r);
	CHECK(!(rule_matches(&r, &c)), "not rule_matches(&r, &c)");
	CHECK_EQ(call_path_calls, 0);
	rule_free(&r);
	parse_ok("hold op=read path=f", &r);
	CHECK(rule_matches(&r, &c), "rule_matches(&r, &c)");
	CHECK_EQ(call_path_calls, 1);
	rule_free(&r);
}

TEST(match_offset_size_pid)
{
	struct rule r;
	struct diofs_call c = make_call(DIOFS_OP_WRITE, NULL, 0, 0, 7);

	parse_ok("hold offset=4k-8k", &r);
	c.off = 4095;
	CHECK(!(rule_matches(&r, &c)), "not rule_matches(&r, &c)");
	c.off = 4096;
	CHECK(rule_matches(&r, &c), "rule_matches(&r, &c)");
	c.off = 8192;
	CHECK(rule_matches(&r, &c), "rule_matches(&r, &c)");
	c.off = 8193;
	CHECK(!(rule_matches(&r, &c)), "not rule_matches(&r, &c)");

	parse_ok("hold offset=1g-", &r);
	c.off = (off_t)1 << 40;
	CHECK(rule_matches(&r, &c), "rule_matches(&r, &c)");
	c.off = ((off_t)1 << 30) - 1;
	CHECK(!(rule_matches(&r, &c)), "not rule_matches(&r, &c)");

	parse_ok("hold size=512", &r);
	c.off = 0;
	c.size = 512;
	CHECK(rule_matches(&r, &c), "rule_matches(&r, &c)");
	c.size = 513;
	CHECK(!(rule_matches(&r, &c)), "not rule_matches(&r, &c)");

	parse_ok("hold size=1-", &r);
	c.size = 0;
	CHECK(!(rule_matches(&r, &c)), "not rule_matches(&r, &c)");
	c.size = SIZE_MAX;
	CHECK(rule_matches(&r, &c), "rule_matches(&r, &c)");

	parse_ok("hold pid=7", &r);
	CHECK(rule_matches(&r, &c), "rule_matches(&r, &c)");
	c.pid = 8;
	CHECK(!(rule_matches(&r, &c)), "not rule_matches(&r, &c)");

	parse_ok("hold op=write offset=100 size=10 pid=8", &r);
	c.off = 100;
	c.size = 10;
	CHECK(rule_matches(&r, &c), "rule_matches(&r, &c)");
	c.op = DIOFS_OP_READ;
	CHECK(!(rule_matches(&r, &c)), "not rule_matches(&r, &c)");
}

/* ---- the list ---- */

/* Decides n calls of call c against the list; bit i of the result: call i acted. */
static void decide_run(struct diofs_call *c, int n, bool *acted, int *ids)
{
	for (int i = 0; i < n; i++) {
		struct rule hit;

		memset(&hit, 0, sizeof(hit));
		acted[i] = rules_decide(c, &hit);
		if (ids)
			ids[i] = acted[i] ? hit.id : 0;
	}
}

static int add_rule(const char *text)
{
	struct rule r;
	int id;

	parse_ok(text, &r);
	id = rules_add(&r);
	CHECK(id > 0, "id > 0");
	CHECK_EQ(r.id, id);
	CHECK(r.path == NULL, "r.path is NULL"); /* taken by the list */
	return id;
}

/* Lines collected from rules_list / rules_stats. */
struct lines {
	int n;
	char text[16][512];
};

static void collect(void *ctx, const char *line)
{
	struct lines *l = ctx;

	if (l->n < 16)
		snprintf(l->text[l->n], sizeof(l->text[0]), "%s", line);
	l->n++;
}

TEST(empty_list_fast_path)
{
	struct diofs_call c = make_call(DIOFS_OP_READ, "f", 0, 4096, 1);
	struct rule hit;
	struct lines l = { 0 };

	rules_clear();
	call_path_calls = 0;
	memset(&hit, 0x5a, sizeof(hit));
	CHECK(!(rules_decide(&c, &hit)), "not rules_decide(&c, &hit)");
	CHECK_EQ(call_path_calls, 0);
	CHECK_EQ(((unsigned char *)&hit)[0], 0x5a); /* untouched */
	rules_list(collect, &l);
	rules_stats(collect, &l);
	CHECK_EQ(l.n, 0);

	/* A path rule, once deleted, costs no path resolution either. */
	rules_del(add_rule("hold path=f"));
	CHECK(!(rules_decide(&c, &hit)), "not rules_decide(&c, &hit)");
	CHECK_EQ(call_path_calls, 0);
}

TEST(ids_and_delete)
{
	int a, b, c;
	struct lines l = { 0 };

	rules_clear();
	a = add_rule("hold");
	b = add_rule("delay=1");
	c = add_rule("abort");
	CHECK_EQ(b, a + 1);
	CHECK_EQ(c, b + 1);
	CHECK_EQ(rules_del(b), 0);
	CHECK_EQ(rules_del(b), -ENOENT);
	CHECK_EQ(rules_del(0), -ENOENT);
	CHECK_EQ(rules_del(-1), -ENOENT);
	rules_list(collect, &l);
	CHECK_EQ(l.n, 2);
	rules_clear();
	/* Ids are never reused, so a stale "rule del" cannot hit a new rule. */
	CHECK_EQ(add_rule("hold"), c + 1);
	rules_clear();
}

TEST(decide_order)
{
	struct diofs_call c = make_call(DIOFS_OP_READ, "x/data", 0, 4096, 1);
	struct rule hit;
	struct lines l = { 0 };
	int a, b, z;

	rules_clear();
	a = add_rule("fail=EIO op=read");
	b = add_rule("hold op=read");
	CHECK(rules_decide(&c, &hit), "rules_decide(&c, &hit)");
	CHECK_EQ(hit.id, a);
	CHECK_EQ(hit.action, ACT_FAIL);
	CHECK_EQ(hit.arg, EIO);
	/* A rule that does not match lets the call through to the next. */
	c.op = DIOFS_OP_WRITE;
	CHECK(!(rules_decide(&c, &hit)), "not rules_decide(&c, &hit)");
	rules_clear();

	/* An earlier rule whose gate refuses does not hide the later ones. */
	a = add_rule("fail=EIO op=read nth=2");
	b = add_rule("hold op=read,write path=x/*");
	z = add_rule("abort");
	c.op = DIOFS_OP_READ;
	memset(&hit, 0, sizeof(hit));
	CHECK(rules_decide(&c, &hit), "rules_decide(&c, &hit)");
	CHECK_EQ(hit.id, b);
	CHECK(hit.path == NULL, "hit.path is NULL"); /* the list keeps the glob */
	CHECK(rules_decide(&c, &hit), "rules_decide(&c, &hit)");
	CHECK_EQ(hit.id, a);
	CHECK(rules_decide(&c, &hit), "rules_decide(&c, &hit)");
	CHECK_EQ(hit.id, b);
	c.path = "y/data";
	CHECK(rules_decide(&c, &hit), "rules_decide(&c, &hit)");
	CHECK_EQ(hit.id, z);
	CHECK_EQ(hit.action, ACT_ABORT);

	/* a matched 4 and acted once; b saw 3 calls (not the one a took), one
	 * of which did not match; z saw 1. */
	rules_stats(collect, &l);
	REQUIRE_EQ(l.n, 3);
	{
		char want[3][64];

		snprintf(want[0], sizeof(want[0]), "rule %d matched=4 acted=1", a);
		snprintf(want[1], sizeof(want[1]), "rule %d matched=2 acted=2", b);
		snprintf(want[2], sizeof(want[2]), "rule %d matched=1 acted=1", z);
		for (int i = 0; i < 3; i++)
			CHECK_STR(l.text[i], want[i]);
	}
	rules_clear();
}

TEST(list_lines)
{
	struct diofs_call c = make_call(DIOFS_OP_WRITE, "f", 8192, 100, 1);
	struct rule hit;
	struct lines l = { 0 };
	char want[2][256];
	int a, b;

	rules_clear();
	a = add_rule("short=10 op=write count=1");
	b = add_rule("delay=5 path=/f offset=4k-");
	rules_decide(&c, &hit);
	rules_decide(&c, &hit);
	rules_list(collect, &l);
	REQUIRE_EQ(l.n, 2);
	snprintf(want[0], sizeof(want[0]), "%d matched=2 acted=1 short=10 op=write count=1", a);
	snprintf(want[1], sizeof(want[1]), "%d matched=1 acted=1 delay=5 path=/f offset=4096-", b);
	CHECK_STR(l.text[0], want[0]);
	CHECK_STR(l.text[1], want[1]);
	rules_clear();
}

TEST(nth_acts_on_the_nth_match_only)
{
	struct diofs_call c = make_call(DIOFS_OP_READ, NULL, 0, 1, 1);
	bool acted[6];

	rules_clear();
	add_rule("hold nth=3");
	decide_run(&c, 6, acted, NULL);
	for (int i = 0; i < 6; i++)
		CHECK_EQ(acted[i], i == 2);
	rules_clear();
}

TEST(count_acts_on_the_first_matches_only)
{
	struct diofs_call c = make_call(DIOFS_OP_READ, NULL, 0, 1, 1);
	struct lines l = { 0 };
	bool acted[5];

	rules_clear();
	add_rule("fail=EIO count=2");
	decide_run(&c, 5, acted, NULL);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(acted[i], i < 2);
	/* Exhausted, but still listed and still counting. */
	rules_stats(collect, &l);
	REQUIRE_EQ(l.n, 1);
	CHECK(strstr(l.text[0], " matched=5 acted=2") != NULL,
	      "strstr(l.text[0], \" matched=5 acted=2\") is not NULL");
	rules_clear();
}

static void run_prob(const char *text, int n, bool *acted)
{
	struct diofs_call c = make_call(DIOFS_OP_READ, NULL, 0, 1, 1);

	rules_clear();
	add_rule(text);
	decide_run(&c, n, acted, NULL);
	rules_clear();
}

static int count_true(const bool *b, int n)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += b[i];
	return k;
}

enum { PROB_RUNS = 4000 };

TEST(prob_is_deterministic)
{
	static bool first[PROB_RUNS], second[PROB_RUNS], other[PROB_RUNS];
	int k;

	run_prob("hold prob=0.3 seed=42", PROB_RUNS, first);
	run_prob("hold prob=0.3 seed=42", PROB_RUNS, second);
	CHECK_EQ(memcmp(first, second, sizeof(first)), 0);
	k = count_true(first, PROB_RUNS);
	CHECK(k > PROB_RUNS * 0.25 && k < PROB_RUNS * 0.35,
	      "k > PROB_RUNS * 0.25 && k < PROB_RUNS * 0.35");

	run_prob("hold prob=0.3 seed=43", PROB_RUNS, other);
	CHECK((memcmp(first, other, sizeof(first))) != (0),
	      "memcmp(first, other, sizeof(first)) != 0");

	/* The default seed is 1, and it is deterministic too. */
	run_prob("hold prob=0.3", PROB_RUNS, first);
	run_prob("hold prob=0.3 seed=1", PROB_RUNS, second);
	CHECK_EQ(memcmp(first, second, sizeof(first)), 0);

	run_prob("hold prob=0", PROB_RUNS, first);
	CHECK_EQ(count_true(first, PROB_RUNS), 0);
	run_prob("hold prob=1", PROB_RUNS, first);
	CHECK_EQ(count_true(first, PROB_RUNS), PROB_RUNS);
	run_prob("hold prob=4.9406564584124654e-324", PROB_RUNS, first);
	CHECK_EQ(count_true(first, PROB_RUNS), 0);
	run_prob("hold prob=0x1.fffffffffffffp-1", PROB_RUNS, first);
	CHECK(count_true(first, PROB_RUNS) >= PROB_RUNS - 1,
	      "count_true(first, PROB_RUNS) >= PROB_RUNS - 1");
}

/* With count, prob decides which matches act, up to count of them. */
TEST(prob_with_count)
{
	static bool with_count[PROB_RUNS], without[PROB_RUNS];
	int seen = 0;

	run_prob("hold prob=0.5 seed=9 count=10", PROB_RUNS, with_count);
	run_prob("hold prob=0.5 seed=9", PROB_RUNS, without);
	CHECK_EQ(count_true(with_count, PROB_RUNS), 10);
	for (int i = 0; i < PROB_RUNS && seen < 10; i++) {
		CHECK_EQ(with_count[i], without[i]);
		seen += with_count[i];
	}
}

/* The counters stay exact with many threads deciding at once. */
enum { THREADS = 8, CALLS_PER_THREAD = 5000 };

static void *decide_thread(void *arg)
{
	struct diofs_call c = make_call(DIOFS_OP_WRITE, NULL, 0, 1, 1);
	long acted = 0;

	for (int i = 0; i < CALLS_PER_THREAD; i++) {
		struct rule hit;

		acted += rules_decide(&c, &hit);
	}
	*(long *)arg = acted;
	return NULL;
}

TEST(decide_from_many_threads)
{
	pthread_t t[THREADS];
	long acted[THREADS], total = 0;
	struct lines l = { 0 };
	char want[64];
	int id;

	rules_clear();
	id = add_rule("fail=EIO op=write count=1000");
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, decide_thread, &acted[i]);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		total += acted[i];
	}
	CHECK_EQ(total, 1000);
	rules_stats(collect, &l);
	snprintf(want, sizeof(want), "rule %d matched=%d acted=1000", id,
		 THREADS * CALLS_PER_THREAD);
	CHECK_STR(l.text[0], want);
	rules_clear();
}

/* ---- rules files ---- */

static char *write_temp(const char *content)
{
	char *path = strdup("/tmp/diofs-test-rules-XXXXXX");
	int fd = mkstemp(path);

	REQUIRE(fd >= 0, "fd >= 0");
	REQUIRE(write(fd, content, strlen(content)) == (ssize_t)strlen(content),
	        "write(fd, content, strlen(content)) == (ssize_t)strlen(content)");
	close(fd);
	return path;
}

TEST(load_file)
{
	char *path = write_temp("# diofs rules\n"
				"\n"
				"   # indented comment\n"
				"fail=EIO op=read nth=2\r\n"
				"\t \n"
				"hold path=/d/*\n"
				"delay=5"); /* no final newline */
	struct lines l = { 0 };

	rules_clear();
	CHECK_EQ(rules_load_file(path, err, sizeof(err)), 0);
	rules_list(collect, &l);
	REQUIRE_EQ(l.n, 3);
	CHECK(strstr(l.text[0], " matched=0 acted=0 fail=EIO op=read nth=2") != NULL,
	      "strstr(l.text[0], \" matched=0 acted=0 fail=EIO op=read nth=2\") is not NULL");
	CHECK(strstr(l.text[1], " hold path=/d/*") != NULL,
	      "strstr(l.text[1], \" hold path=/d/*\") is not NULL");
	CHECK(strstr(l.text[2], " delay=5") != NULL,
	      "strstr(l.text[2], \" delay=5\") is not NULL");
	rules_clear();
	unlink(path);
	free(path);
}

TEST(load_file_with_a_bad_line)
{
	char *path = write_temp("hold op=read\n"
				"# comment\n"
				"hodl op=write\n"
				"abort\n");
	char want[512];
	struct lines l = { 0 };

	rules_clear();
	add_rule("delay=1");
	CHECK_EQ(rules_load_file(path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: unknown action \"hodl\"", path);
	CHECK_STR(err, want);
	/* Nothing of a bad file is added. */
	rules_list(collect, &l);
	CHECK_EQ(l.n, 1);
	unlink(path);
	free(path);

	path = write_temp("hold\nhold\0op=read\n");
	/* write_temp stops at the NUL: write the NUL by hand. */
	{
		FILE *f = fopen(path, "w");

		fwrite("hold\nhold\0op=read\n", 1, 18, f);
		fclose(f);
	}
	CHECK_EQ(rules_load_file(path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: NUL byte in the line", path);
	CHECK_STR(err, want);
	unlink(path);

	CHECK_EQ(rules_load_file(path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	CHECK_STR(err, want);
	free(path);
	rules_clear();
}

TEST(load_empty_file)
{
	char *path = write_temp("# nothing\n\n");
	struct lines l = { 0 };

	rules_clear();
	CHECK_EQ(rules_load_file(path, err, sizeof(err)), 0);
	rules_list(collect, &l);
	CHECK_EQ(l.n, 0);
	unlink(path);
	free(path);
}

/* ---- robustness: no input may crash the parser ---- */

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Parse must fail cleanly or give a rule that survives a round trip. */
static void check_any(const char *text)
{
	struct rule a, b;
	char msg[256], out[8192];
	int ret;

	msg[0] = '\0';
	ret = rule_parse(text, &a, msg, sizeof(msg));
	CHECK(ret == 0 || ret == -1, "ret == 0 || ret == -1");
	if (ret) {
		CHECK(msg[0] != '\0', "msg[0] != '\\0'");
		CHECK(strchr(msg, '\n') == NULL, "strchr(msg, '\\n') is NULL");
		CHECK(a.path == NULL, "a.path is NULL");
		return;
	}
	CHECK((size_t)rule_format(&a, out, sizeof(out)) < sizeof(out),
	      "(size_t)rule_format(&a, out, sizeof(out)) < sizeof(out)");
	CHECK_EQ(rule_parse(out, &b, msg, sizeof(msg)), 0);
	CHECK(rule_equal(&a, &b), "rule_equal(&a, &b)");
	rule_free(&a);
	rule_free(&b);
}

TEST(random_bytes)
{
	uint64_t seed = 0x243f6a8885a308d3ULL;
	char text[130];

	for (int i = 0; i < 5000; i++) {
		size_t len = xorshift(&seed) % (sizeof(text) - 1);

		for (size_t j = 0; j < len; j++)
			text[j] = (char)(1 + xorshift(&seed) % 255);
		text[len] = '\0';
		check_any(text);
	}
}

/* Random sentences of the language's own words find deeper paths. */
TEST(random_words)
{
	static const char *const words[] = {
		"hold", "delay=", "fail=", "short=", "overlong", "overlong=", "abort",
		"crash", "proto=", "badlen:", "errno:", "late", ":", "+", "op=", "path=", "offset=", "size=", "pid=", "nth=", "count=",
		"prob=", "seed=", "read", "write", ",", "-", "0", "1", "7", "4k", "0x1f",
		"1g", "18446744073709551615", "99999999999999999999", "0.5", "1e-3",
		"EIO", "E2BIG", "/d/*", "[", "*", " ", " ", " ", "\t", "=", "lookup",
	};
	const size_t nwords = sizeof(words) / sizeof(words[0]);
	uint64_t seed = 0x13198a2e03707344ULL;
	char text[256];
	int parsed = 0;

	for (int i = 0; i < 20000; i++) {
		size_t n = 1 + xorshift(&seed) % 12;

		text[0] = '\0';
		for (size_t j = 0; j < n; j++) {
			const char *w = words[xorshift(&seed) % nwords];

			if (strlen(text) + strlen(w) < sizeof(text))
				strcat(text, w);
		}
		struct rule r;

		check_any(text);
		if (rule_parse(text, &r, NULL, 0) == 0) {
			parsed++;
			rule_free(&r);
		}
	}
	CHECK(parsed > 0, "parsed > 0"); /* the generator does reach valid rules */
}

TEST(every_prefix_of_valid_rules)
{
	for (size_t i = 0; i < sizeof(round_trip_rules) / sizeof(round_trip_rules[0]); i++) {
		const char *full = round_trip_rules[i];
		size_t len = strlen(full);
		char *prefix = malloc(len + 1);

		for (size_t n = 0; n <= len; n++) {
			memcpy(prefix, full, n);
			prefix[n] = '\0';
			check_any(prefix);
		}
		free(prefix);
	}
}

TEST_MAIN("test_rules")
