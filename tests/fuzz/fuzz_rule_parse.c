/* libFuzzer target: the rule parser.  Any input must either fail with a
 * one-line message or give a rule that formats and parses back to itself;
 * the matcher must cope with any glob.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
 *     -D_GNU_SOURCE -DFUSE_USE_VERSION=314 -I. -Isrc $(pkg-config --cflags fuse3) \
 *     tests/fuzz/fuzz_rule_parse.c src/daemon/rule_parse.c src/daemon/rules.c \
 *     src/daemon/call.c src/daemon/reply_errno.c src/proto/errnames.c \
 *     src/proto/number.c \
 *     -o fuzz_rule_parse
 *   mkdir -p work && ./fuzz_rule_parse -dict=tests/fuzz/rule.dict work tests/fuzz/corpus/rule_parse
 * (new inputs go to the first directory: keep the seeds in git clean)
 */
#include <config.h>

#include "daemon/call_life.h"
#include "daemon/rules.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* call_life.c is not linked: the path is whatever the call holds. */
const char *call_path(struct diofs_call *c)
{
	return c->path;
}

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void match_some_calls(const struct rule *r)
{
	static const char *const paths[] = { "/", "/a", "/d/f.txt", "/d/e/f", "/.x", NULL };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct diofs_call c;

		memset(&c, 0, sizeof(c));
		c.op = (enum diofs_op)(i * 7 % DIOFS_OP_COUNT);
		c.path = paths[i];
		c.off = (off_t)(i << 12);
		c.size = i * 512;
		c.pid = (pid_t)i;
		(void)rule_matches(r, &c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *out, err[256];
	struct rule a, b;
	int n;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	err[0] = '\0';
	if (rule_parse(text, &a, err, sizeof(err)) != 0) {
		check(err[0] != '\0' && !strchr(err, '\n') && !a.path);
		free(text);
		return 0;
	}
	match_some_calls(&a);

	n = rule_format(&a, NULL, 0);
	out = malloc((size_t)n + 1);
	check(out != NULL);
	check(rule_format(&a, out, (size_t)n + 1) == n && strlen(out) == (size_t)n);
	check(rule_parse(out, &b, err, sizeof(err)) == 0);
	check(rule_equal(&a, &b));

	rule_free(&a);
	rule_free(&b);
	free(out);
	free(text);
	return 0;
}
