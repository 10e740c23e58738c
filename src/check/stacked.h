/* Filesystems and the bare block device stacked on diofs (harness/stack.h):
 * does their direct I/O pin the caller's pages?
 *
 * A loop device over an image file on diofs turns the upper filesystem's
 * block requests into FUSE requests from the loop driver.  Those carry the
 * upper bio's pages as a bvec (kernel pages: FUSE takes no pin of its
 * own), so the pins in flight while diofs holds the request are the upper
 * filesystem's pins of the user buffer (bio_iov_iter_get_pages: FOLL_PIN
 * once the block layer and fs/direct-io.c were converted, FOLL_GET before).
 *
 * One probe per target and loop mode: a 64 KiB O_DIRECT read of a file on
 * the upper filesystem (of the device itself) held in diofs by the
 * offset where its data lives in the image (found by content), the pins in
 * flight counted; the same read across fork and across munmap; a write
 * held likewise; a read held while diofs aborts its connection.  Each held
 * request is identified after completion by the image's content at its
 * offset.  No assertions here: suite_stacked.c asserts on the report,
 * --verdict --stacked prints it. */
#ifndef DIOFS_CHECK_STACKED_H
#define DIOFS_CHECK_STACKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "check/pinwatch.h"

#define STK_LEN (64 * 1024)

struct stk_target {
	const char *name;               /* "blockdev", "ext4" */
	const char *fstype;             /* mount(2)'s; NULL: the loop device itself */
	const char *mkfs[12];           /* the tool and its options (stack.h) */
	const char *mount_data;
	unsigned int size_mib;          /* the image (sparse) */
	bool from_dir;                  /* made from a directory, read-only */
};

extern const struct stk_target stk_targets[];
extern const size_t stk_ntargets;

enum stk_state {
	STK_PINNED,             /* the user pages were pinned while held */
	STK_REFS,               /* held, no pin: plain references (FOLL_GET) */
	STK_BUFFERED,           /* O_DIRECT accepted, the page cache did the I/O */
	STK_NOT_HELD,           /* returned without a request reaching diofs */
	STK_NO_ODIRECT,         /* open(O_DIRECT) refused */
	STK_UNAVAILABLE,        /* no kernel support, no mkfs, mkfs or mount failed */
	STK_ERROR,              /* something misbehaved: see why */
};
const char *stk_state_name(enum stk_state s);   /* "pinned", "references"... */

/* One held read or write. */
struct stk_io {
	enum stk_state state;
	int attempts;
	uint64_t held_off, held_size;   /* the held FUSE request of the clean attempt */
	int64_t pins_held, pins_after;  /* in flight, relative to before submission */
	int64_t acquired, released;     /* counted while held, relative to before */
	/* The counters do not balance after completion, the same way in every
	 * attempt: pins taken that nr_foll_pin_acquired does not count
	 * (fs/direct-io.c's extra pins by folio_add_pin, 6.5 on) */
	bool unbalanced;
	size_t cached;                  /* pages of the range in the page cache while held */
	char figures[1024];             /* every attempt's */
	char why[512];
};

struct stk_report {
	const struct stk_target *t;
	bool loop_dio_asked, loop_dio;  /* asked of the loop driver / what it reports */
	enum stk_state state;           /* the target's: its read's, or why none */
	char why[512];
	size_t pages;
	uint64_t phys;                  /* where the file's data lives in the image */
	struct stk_io read, write;
	/* fork while a read is held: pages the parent kept */
	bool fork_done;
	struct pw_fork_result fork;
	/* munmap, MAP_FIXED anonymous memory filled, while a read is held */
	bool munmap_done;
	int64_t munmap_pins;            /* in flight after the munmap, while held */
	ssize_t munmap_ret;
	bool munmap_new_intact;         /* the new mapping kept its own bytes */
	/* diofs aborts its connection while a read is held */
	bool abort_done, abort_returned;
	ssize_t abort_ret;
	int abort_err;
	char step_why[512];             /* the first of fork/munmap/abort that failed */
	double seconds;
};

/* Why no target can be probed here (root, loop devices, FUSE, pins,
 * page size), or NULL. */
const char *stk_unavailable(void);

/* Probe target t with the loop driver's direct I/O on or off.  Never ends
 * the process; every outcome is in r.  Everything it stacked is gone when
 * it returns. */
void stk_probe(const struct stk_target *t, bool loop_dio, struct stk_report *r);

/* One line: "ext4 loop-dio=on pinned: read held 65536@9375744, 16 pins in
 * flight; fork: parent kept 16 of 16; ..." */
void stk_format(const struct stk_report *r, char *buf, size_t len);

/* diofs-check --verdict --stacked: one line per target and loop mode on
 * out (loop_dio 1: only the loop driver's direct I/O on, 0: off, -1:
 * both); with tsv_path, "stacked<TAB>TARGET<TAB>LOOP<TAB>STATE<TAB>PINS<TAB>
 * FORK<TAB>DETAIL" lines.  Returns 0, or 2 if nothing could be probed. */
int stk_verdict_run(FILE *out, const char *tsv_path, int loop_dio);

#endif
