/* diofs-check --verdict --stacked (see stacked.h): every target, loop
 * direct I/O on and off, one line each. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/stacked.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static void tsv_line(FILE *f, const struct stk_report *r)
{
	char line[2048];

	stk_format(r, line, sizeof(line));
	fprintf(f, "stacked\t%s\t%s\t%s\t", r->t->name, r->loop_dio_asked ? "dio" : "nodio",
		stk_state_name(r->state));
	if (r->state == STK_PINNED || r->state == STK_REFS || r->state == STK_BUFFERED)
		fprintf(f, "%" PRId64, r->read.pins_held);
	else
		fputc('-', f);
	if (r->fork_done)
		fprintf(f, "\t%zu/%zu", r->fork.parent_kept, r->fork.pages);
	else
		fputs("\t-", f);
	fprintf(f, "\t%s\n", line);
}

int stk_verdict_run(FILE *out, const char *tsv_path, int loop_dio)
{
	FILE *tsv = NULL;
	const char *no = stk_unavailable();
	int probed = 0;

	if (no) {
		fprintf(out, "stacked: cannot test here: %s\n", no);
		return 2;
	}
	/* a daemon (or a reader of out) gone mid-command must not end the
	 * run with stacks up: the harness's handlers do not catch SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	if (tsv_path && !(tsv = fopen(tsv_path, "we"))) {
		fprintf(stderr, "diofs-check: %s: %s\n", tsv_path, strerror(errno));
		return 2;
	}
	fprintf(out, "stacked on diofs: a 64 KiB O_DIRECT read held in diofs (the loop "
		"driver's request), pins in flight, fork while held\n");
	for (size_t i = 0; i < stk_ntargets; i++)
		for (int dio = 1; dio >= 0; dio--) {
			struct stk_report r;
			char line[2048];

			if (loop_dio >= 0 && dio != loop_dio)
				continue;
			stk_probe(&stk_targets[i], dio, &r);
			stk_format(&r, line, sizeof(line));
			fprintf(out, "%s\n", line);
			fflush(out);
			if (tsv)
				tsv_line(tsv, &r);
			probed += r.state != STK_UNAVAILABLE;
		}
	if (tsv)
		fclose(tsv);
	return probed ? 0 : 2;
}
