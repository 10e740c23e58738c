/* A trace file read back (see trace.h). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "harness/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Line 1: what INIT negotiated, {"init":{"kernel":"7.N","proto":"7.N",
 * "flags":"...",...}}. */
static bool is_init_record(const char *line)
{
	return strncmp(line, TRACE_INIT_PREFIX, strlen(TRACE_INIT_PREFIX)) == 0 &&
	       strstr(line, "\"proto\":\"7.") && strstr(line, "\"flags\":\"");
}

int diofs_trace_load(const char *path, struct trace_rec **out, char *why, size_t whylen)
{
	FILE *f = fopen(path, "re");
	char *text = NULL, *line, *nl, *block;
	size_t cap = 0, nlines = 0, n = 0, lineno = 1;
	struct trace_rec *recs;
	ssize_t len;

	*out = NULL;
	if (!f) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* the whole file: JSON holds no NUL */
	len = getdelim(&text, &cap, '\0', f);
	fclose(f);
	if (len <= 0) {
		free(text);
		return 0;
	}
	for (const char *p = text; (p = strchr(p, '\n')); p++)
		nlines++;
	/* the records, then the text their strings point into */
	block = malloc(nlines * sizeof(*recs) + (size_t)len + 1);
	if (!block) {
		free(text);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	recs = (struct trace_rec *)block;
	line = memcpy(block + nlines * sizeof(*recs), text, (size_t)len + 1);
	for (;; lineno++, line = nl + 1) {
		char reason[128];

		if (!*line)
			break;
		nl = strchr(line, '\n');
		if (!nl) {
			snprintf(why, whylen, "line %zu: no newline at its end: %.200s", lineno, line);
			goto bad;
		}
		*nl = '\0';
		if (lineno == 1) {
			if (!is_init_record(line)) {
				snprintf(why, whylen, "line 1: %.200s, wanted the INIT record", line);
				goto bad;
			}
			continue;
		}
		if (!trace_rec_parse(line, &recs[n], reason, sizeof(reason))) {
			/* the line as it was in the file (the parser writes into it) */
			const char *orig = text + (line - (block + nlines * sizeof(*recs)));

			snprintf(why, whylen, "line %zu: %s: %.*s", lineno, reason,
				 (int)(nl - line < 300 ? nl - line : 300), orig);
			goto bad;
		}
		n++;
	}
	free(text);
	*out = recs;
	return (int)n;
bad:
	free(text);
	free(block);
	return -1;
}
