#include <config.h>
#include "held.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *ctl_held_format(uint64_t id, const char *op, uint64_t off, uint64_t size,
		      pid_t pid, uint64_t unique, const char *path)
{
	char *line;

	if (asprintf(&line, "id=%" PRIu64 " op=%s off=%" PRIu64 " size=%" PRIu64
		     " pid=%d unique=%" PRIu64 " path=%s", id, op, off, size, (int)pid,
		     unique, path) < 0)
		return NULL;
	return line;
}

int ctl_held_parse(const char *line, struct diofs_held *h)
{
	const char *p = line;
	unsigned int seen = 0;

	memset(h, 0, sizeof(*h));
	while (*p) {
		const char *eq, *val, *end;
		size_t klen, vlen;

		p += strspn(p, " ");
		eq = strchr(p, '=');
		if (!eq)
			break;
		klen = eq - p;
		val = eq + 1;
#define KEY(k) (klen == sizeof(k) - 1 && strncmp(p, k, klen) == 0)
		end = KEY("path") ? val + strlen(val) : val + strcspn(val, " ");
		vlen = end - val;
		if (KEY("path")) {
			snprintf(h->path, sizeof(h->path), "%.*s", (int)vlen, val);
			seen |= 1;
		} else if (KEY("op")) {
			snprintf(h->op, sizeof(h->op), "%.*s", (int)vlen, val);
			seen |= 2;
		} else if (KEY("id")) {
			h->id = strtoull(val, NULL, 10);
			seen |= 4;
		} else if (KEY("off")) {
			h->off = strtoull(val, NULL, 10);
		} else if (KEY("size")) {
			h->size = strtoull(val, NULL, 10);
		} else if (KEY("pid")) {
			h->pid = (pid_t)strtol(val, NULL, 10);
		} else if (KEY("unique")) {
			h->unique = strtoull(val, NULL, 10);
		}
#undef KEY
		p = end;
	}
	return (seen & 7) == 7 ? 0 : -1;
}
