/* diofs-demo: two stories about a direct read that diofs holds, told from
 * what happens in this run on this kernel.
 *
 *   unmap  the client unmaps its buffer and maps new memory at the same
 *          address while the read is held: where does the data go, which
 *          pages did the kernel keep, did it pin them?
 *   fork   the client forks while the read is held and the parent writes a
 *          byte in each page: does the parent get the data?
 *
 * Every sentence the demo prints is built from values measured in the run
 * (pin counters, page frame numbers, page flags, bytes, diofs's trace), and
 * goes with an event record (events.h) that tests/demo/render-html draws. */
#ifndef DIOFS_DEMO_DEMO_H
#define DIOFS_DEMO_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness/mount.h"
#include "harness/pins.h"
#include "lib/diofsctl.h"

#define DEMO_PAGES 16           /* the buffer: 16 pages, 64 KiB with 4 KiB pages */

struct demo {
	struct diofs_mount m;
	struct diofsctl *ctl;
	size_t page;            /* page size */
	size_t pages;           /* pages of the buffer */
	size_t len;             /* bytes of the buffer and of the read */
	int pace_ms;            /* pause after each of the client's steps */
	const char *pins_why;   /* NULL: pin counters readable exactly */
	const char *pfn_why;    /* NULL: page frame numbers readable */
};

/* The stories; 0 told (whatever the kernel did), -1 could not be told (the
 * reason has been said). */
int story_unmap(struct demo *d);
int story_fork(struct demo *d);

/* ---- shared steps (demo.c) ---------------------------------------------- */

/* Create name in the backing directory holding the file's data (pages.h)
 * and open it through the mount with O_DIRECT; -1 after saying why. */
int demo_open_file(struct demo *d, const char *name);
/* A page-aligned anonymous buffer of d->len bytes, not a huge page, every
 * page written with fill (faulted in); NULL after saying why. */
void *demo_buffer(struct demo *d, unsigned char fill);
/* Pin counters now; false (and zeros) when they cannot be read. */
bool demo_pins(const struct demo *d, struct pin_counts *p);
/* "pins in flight +16 (acquired +16, released +0 since the read was
 * submitted)", or why there is no figure. */
void demo_pin_phrase(const struct demo *d, const struct pin_counts *base,
		     const struct pin_counts *now, bool have, char *out, size_t len);
/* Wait (10 s at most) until diofs holds the read on path; fills *h.  -1
 * after saying why. */
int demo_wait_held(struct demo *d, const char *path, struct diofs_held *h);
/* Release the held request: diofs replies.  -1 after saying why. */
int demo_release(struct demo *d, uint64_t id, const char *how);
/* After the request ended: flush diofs's trace and find the line of the
 * request unique (the JSON object) into line; its start and end.  -1 when
 * it is not there (said). */
int demo_trace_line(struct demo *d, uint64_t unique, char *line, size_t len,
		    uint64_t *start_ns, uint64_t *end_ns);
void demo_pause(const struct demo *d);

/* ---- the read diofs holds (heldread.c) ---------------------------------- */

/* One pread in a thread of its own, so that the client can act while diofs
 * holds it.  The thread stamps when it submitted and when pread returned. */
struct held_read {
	int fd;
	void *buf;
	size_t len;
	off_t off;
	/* set by the thread */
	uint64_t t_submit, t_done;
	pid_t tid;
	ssize_t ret;
	int err;
	/* private */
	int started;
	unsigned long thread;
};

int held_read_start(struct held_read *r);
bool held_read_returned(struct held_read *r);
/* Wait for the pread (release it first); its result, errno in r->err. */
ssize_t held_read_join(struct held_read *r);

#endif
