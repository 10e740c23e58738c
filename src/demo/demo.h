/* diofs-demo: three stories about a direct read that diofs holds, told
 * from what happens in this run on this kernel.
 *
 *   unmap  the client unmaps its buffer and maps new memory at the same
 *          address while the read is held: where does the data go, which
 *          pages did the kernel keep, did it pin them?
 *   fork   the client forks while the read is held and the parent writes a
 *          byte in each page: does the parent get the data?
 *   stacked the fork story again, on ext4 over a loop device over an image
 *          file on diofs: diofs holds the loop device's request that
 *          carries ext4's direct read (the block layer's pins, not FUSE's).
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
#include "check/ioengine.h"
#include "harness/pins.h"
#include "lib/diofsctl.h"

#define DEMO_PAGES 16           /* the buffer: 16 pages, 64 KiB with 4 KiB pages */

struct demo {
	struct diofs_mount m;
	/* the diofs the story being told talks to: m's, or a stack's */
	struct diofsctl *ctl;
	const char *trace;      /* its trace file */
	size_t page;            /* page size */
	size_t pages;           /* pages of the buffer */
	size_t len;             /* bytes of the buffer and of the read */
	int pace_ms;            /* pause after each of the client's steps */
	const char *pins_why;   /* NULL: pin counters readable exactly */
	const char *pfn_why;    /* NULL: page frame numbers readable */
};

/* The stories; 0 completed (whatever the kernel did), -1 could not be completed (the
 * reason has been said), 1 cannot be told on this machine (said why). */
int story_unmap(struct demo *d);
int story_fork(struct demo *d);
int story_stacked(struct demo *d);

/* Where the fork story happens (story_fork.c): the file the client reads
 * and what diofs holds of it.  The caller has begun the story (ev_story). */
struct fork_place {
	int fd;                 /* open with O_DIRECT; data_fill's data from offset 0 */
	const char *file;       /* as the client names it */
	const char *held;       /* the path diofs holds a read of */
	const char *carried;    /* NULL, or the filesystem whose read diofs's carries */
	char rule[160];         /* the hold rule */
};
int story_fork_at(struct demo *d, const struct fork_place *p);

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
void demo_pause(const struct demo *d);

/* ---- the narrated life of the read (request.c) -------------------------- */

/* One held read: its submission, hold, release, reply and completion, each
 * said as a step with the pin counters then. */
struct demo_read {
	const char *path;       /* as diofs names it: "/unmap.dat" */
	const char *file;       /* as the client names it; NULL: path */
	const char *carried;    /* NULL, or "ext4": diofs holds the loop device's
				 * read of path, which carries ext4's read */
	struct dio r;           /* the pread, in a thread of its own */
	pid_t tid;              /* that thread */
	uint64_t t_submit, t_done;      /* just before pread, just after */
	struct diofs_held h;    /* what diofs holds */
	bool have_pins;
	struct pin_counts base, held, after;
	struct pin_counts last; /* the sample the last step said */
	ssize_t ret;            /* pread's result; err its errno */
	int err;
	uint64_t t_release;
	bool traced;            /* diofs's trace line found */
	uint64_t trace_start, trace_end;
	char trace[1024];
};

/* Submit pread(fd, buf, d->len, 0) in a thread, wait until diofs holds it;
 * steps "submit" and "held" (with the pages pinned).  -1 after saying why
 * (nothing left in flight). */
int demo_read_hold(struct demo *d, struct demo_read *x, int fd, void *buf);
/* Pin counters now against the last step's sample: a phrase for a sentence
 * that says only what changed ("Pins in flight: still 16"); the sample
 * in *now (zeros when unreadable), and it becomes the last. */
void demo_read_pins(struct demo *d, struct demo_read *x, struct pin_counts *now,
		    char *phrase, size_t len);
/* Release the read and wait for it; steps "release", "reply" (from diofs's
 * trace), "complete" and "unpinned".  -1 after saying why. */
int demo_read_reply(struct demo *d, struct demo_read *x);
/* The result record's members about the read: pages, ret, pins (held,
 * acquired, released, after); j is started here. */
struct jbuf;
void demo_read_result(struct demo *d, const struct demo_read *x, struct jbuf *j);
/* On a failure path: fail the held read with EIO and wait for it. */
void demo_read_abort(struct demo *d, struct demo_read *x);

#endif
