/* Writing KTAP (see ktap.h).  Each call flushes: a result must be on the
 * stream before the next case forks or the run dies. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "harness/ktap.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void ktap_start(FILE *out, unsigned int n)
{
	fprintf(out, "TAP version 13\n1..%u\n", n);
	fflush(out);
}

void ktap_skip_all(FILE *out, const char *why)
{
	fprintf(out, "TAP version 13\n1..0 # SKIP %s\n", why);
	fflush(out);
}

/* "# " before each line of text; an empty text is one "#". */
static void diag_lines(FILE *out, const char *text)
{
	for (const char *p = text;; p++) {
		size_t len = strcspn(p, "\n");

		fprintf(out, len ? "# %.*s\n" : "#\n", (int)len, p);
		p += len;
		if (!*p || !p[1])
			break;  /* the end, or the text's last newline */
	}
	fflush(out);
}

void ktap_diag(FILE *out, const char *fmt, ...)
{
	char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	diag_lines(out, text ? text : fmt);
	free(text);
}

void ktap_result(FILE *out, unsigned int n, const char *name, enum ktap_result r,
		 const char *reason)
{
	switch (r) {
	case KTAP_PASS:
		fprintf(out, "ok %u %s\n", n, name);
		break;
	case KTAP_FAIL:
		fprintf(out, "not ok %u %s\n", n, name);
		break;
	case KTAP_SKIP:
		fprintf(out, "ok %u %s # SKIP %s\n", n, name, reason ? reason : "");
		break;
	case KTAP_XFAIL:
		fprintf(out, "not ok %u %s # TODO %s\n", n, name, reason ? reason : "");
		break;
	}
	fflush(out);
}

void ktap_totals(FILE *out, const struct ktap_totals *t)
{
	fprintf(out, "# Totals: pass:%u fail:%u xfail:%u xpass:%u skip:%u error:%u\n",
		t->pass, t->fail, t->xfail, t->xpass, t->skip, t->error);
	fflush(out);
}

void ktap_bail_out(FILE *out, const char *fmt, ...)
{
	va_list ap;

	fputs("Bail out! ", out);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}
