/* The "held" answer's line, one per held request:
 *   id=N op=NAME off=N size=N pid=N unique=N path=PATH
 * path comes last and takes the rest of the line (it may hold spaces).
 * The daemon formats it (holds.c), the clients parse it. */
#ifndef DIOFS_PROTO_HELD_H
#define DIOFS_PROTO_HELD_H

#include <stdint.h>
#include <sys/types.h>

struct diofs_held {
	uint64_t id;
	char op[24];
	uint64_t off;
	uint64_t size;
	pid_t pid;
	uint64_t unique;
	char path[512];
};

/* The line, malloc'ed; NULL if out of memory. */
char *ctl_held_format(uint64_t id, const char *op, uint64_t off, uint64_t size,
		      pid_t pid, uint64_t unique, const char *path);
/* One line into *h (op and path cut to fit); 0, or -1 if id, op or path
 * is missing. */
int ctl_held_parse(const char *line, struct diofs_held *h);

#endif
