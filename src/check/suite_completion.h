/* The completion suite's shared parts: the four mount configurations, the
 * open modes, the model of which fs/fuse/file.c path an I/O takes (what
 * its result semantics follow from), and the helpers its files share.
 * Internal to suite_completion*.c. */
#ifndef DIOFS_CHECK_SUITE_COMPLETION_H
#define DIOFS_CHECK_SUITE_COMPLETION_H

#include "check/check.h"
#include "check/route.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- configurations and open modes ------------------------------------ */

/* A diofs mount: FOPEN_DIRECT_IO on every open (dio=all) or never
 * (dio=none: O_DIRECT then goes through a_ops->direct_IO), and the
 * kernel's async DIO (FUSE_CAP_ASYNC_DIO: fc->async_dio) on or off. */
struct cfg {
	const char *name;       /* "FOPEN_DIRECT_IO, async DIO on" */
	const char *opts;       /* diofs -o */
	bool fdio;
	bool async_dio;
};

extern const struct cfg cfg_fdio_async, cfg_fdio_sync, cfg_aops_async, cfg_aops_sync;

/* How a case's file is opened: with dio=all both without and with
 * O_DIRECT (FOPEN_DIRECT_IO either way), with dio=none with O_DIRECT. */
struct mode {
	const char *name;       /* "FOPEN_DIRECT_IO", "FOPEN_DIRECT_IO+O_DIRECT", "O_DIRECT" */
	int oflags;
	bool fdio, odirect;
};

/* The modes cfg offers; returns how many (1 or 2). */
int cfg_modes(const struct cfg *c, struct mode out[2]);

/* ---- the kernel path -------------------------------------------------- */

enum kpath {
	/* fuse_direct_io() with a sync fuse_io_priv (FUSE_IO_PRIV_SYNC):
	 * FOPEN_DIRECT_IO read/write_iter for a sync kiocb.  One request at a
	 * time; a short reply ends the I/O with the bytes so far; no i_size
	 * check. */
	KP_SYNC,
	/* fuse_direct_IO() with io->async == 0 (async DIO off): request by
	 * request as KP_SYNC, but a read at or past the cached i_size returns
	 * 0 without a FUSE_READ. */
	KP_DIO_SYNC,
	/* fuse_direct_IO() async, !io->blocking: every request sent at once,
	 * -EIOCBQUEUED, fuse_aio_complete() calls ki_complete after the last
	 * reply; short write -EIO, short read the contiguous prefix; a read
	 * is cut at round_up(cached i_size, max_pages pages). */
	KP_ASYNC,
	/* fuse_direct_IO() async with io->blocking (a sync kiocb on the
	 * a_ops path, or an extending write): as KP_ASYNC, but the caller
	 * waits in wait_for_completion(), uninterruptibly. */
	KP_ASYNC_WAIT,
};

struct expect {
	enum kpath path;
	bool aops;              /* a_ops->direct_IO: generic_file_read_iter and
				 * fuse_cache_write_iter fall back to buffered
				 * I/O after a short synchronous result */
	char why[320];          /* which function decides, and the kernel */
};

/* The path of one I/O; extending: a write past the cached i_size. */
void expect_of(const struct cfg *c, const struct mode *m, enum io_route r, enum io_dir dir,
	       bool extending, struct expect *e);
const char *kpath_name(enum kpath p);
/* Does the I/O go through fuse_direct_IO() (i_size check on reads)? */
static inline bool kp_direct_IO(enum kpath p) { return p != KP_SYNC; }
/* Is it the async machinery (all requests at once, fuse_aio_complete)? */
static inline bool kp_async(enum kpath p) { return p == KP_ASYNC || p == KP_ASYNC_WAIT; }

/* io_uring on FOPEN_DIRECT_IO with a synchronous FUSE result: io_uring
 * retries a short transfer from iocb->ki_pos, which fuse_direct_IO() does
 * not advance (see uring_short_retry).  The matrices leave short transfers
 * on this combination to that one case. */
bool uring_sync_fdio(const struct expect *e, enum io_route r);
/* The uring_short_retry_* case that covers an I/O in direction dir with
 * m's open mode, for the notes of the cases that leave it out. */
const char *uring_short_retry_case(const struct mode *m, enum io_dir dir);

/* ---- helpers ---------------------------------------------------------- */

/* The largest FUSE_READ/FUSE_WRITE: libfuse 3.14's do_init() sets
 * max_write to its buffer (FUSE_MAX_MAX_PAGES = 256 pages) and max_pages to
 * match; max_read is unlimited, so reads are cut at max_pages pages. */
#define REQ_MAX (1024 * 1024)

/* Open name in the case's directory through the mount with m's flags. */
int open_mode(const struct mode *m, const char *name, int flags);
/* name in the backing directory, opened (the fixture owns the mount). */
int open_backing(const char *name, int flags);

/* Data of pattern seed at file offsets [off, off+len), from a cached
 * reference (fast for the big sizes). */
void data_fill(void *buf, size_t len, uint64_t off, unsigned int seed);
/* Does buf hold it?  If not, a failure naming ctx and the first byte. */
bool data_check(const void *buf, size_t len, uint64_t off, unsigned int seed, const char *ctx);
/* Create name in the backing directory: size bytes of seed (sparse zeros
 * if seed is 0). */
void backing_create(const char *name, size_t size, unsigned int seed);
/* Check the backing file holds seed at [off, off+len). */
bool backing_check(const char *name, size_t len, uint64_t off, unsigned int seed, const char *ctx);
off_t backing_size(const char *name);

/* The result an I/O had against the one wanted, with its context. */
#define EXPECT_RES(got, want, ...) expect_res_at((got), (want), __FILE__, __LINE__, __VA_ARGS__)
bool expect_res_at(ssize_t got, ssize_t want, const char *file, unsigned int line,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* "-ENOSPC", "4096" */
const char *res_str(ssize_t res);

/* A rule that never acts ("hold nth=<huge>"), to count the calls of op on
 * name that reached diofs. */
int counter_add(const char *op, const char *name);
long counter_get(int id);

/* One line of context: "aio read of 65536 at 4096 (buf+7) on FOPEN_DIRECT_IO+O_DIRECT". */
const char *io_ctx(enum io_route r, enum io_dir dir, size_t len, off_t off, const void *buf,
		   const struct mode *m);

/* Say (with -v) which behaviour a case expects and why. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A NOTE: the path of c that depends on the kernel version,
 * and why. */
void note_version_dependent(const struct cfg *c);

/* The cases that try every (mode of c, route, direction): one(...) for
 * each, in that order, with a file name of the step's own in name
 * ("fMODE.ROUTE.DIR"). */
typedef void combo_fn(const struct cfg *c, const struct mode *m, enum io_route rt,
		      enum io_dir dir, const char *name);
void each_combo(const struct cfg *c, combo_fn *one);

/* ---- the cases -------------------------------------------------------- */

#define CFG_CASE_DECL(fn) \
	void fn##_fdio_async(void); void fn##_fdio_sync(void); \
	void fn##_aops_async(void); void fn##_aops_sync(void)
#define CFG_CASE_DEFS(fn) \
	void fn##_fdio_async(void) { completion_premises(); fn(&cfg_fdio_async); } \
	void fn##_fdio_sync(void) { completion_premises(); fn(&cfg_fdio_sync); } \
	void fn##_aops_async(void) { completion_premises(); fn(&cfg_aops_async); } \
	void fn##_aops_sync(void) { completion_premises(); fn(&cfg_aops_sync); }
/* SKIP unless the kernel sends REQ_MAX bytes in one FUSE request (the
 * request counts the matrices expect): fs.fuse.max_pages_limit.  (io_uring
 * being allowed, and its locked memory, are checked where a route is
 * submitted: route_submit.) */
void completion_premises(void);
#define COMPLETION_PREMISES \
	"premises: 1 MiB per FUSE request (fs.fuse.max_pages_limit >= 256); io_uring " \
	"allowed (kernel.io_uring_disabled); rings and fixed buffers within " \
	"RLIMIT_MEMLOCK or CAP_IPC_LOCK"

CFG_CASE_DECL(sizes);
CFG_CASE_DECL(eof);
CFG_CASE_DECL(stale_size);
CFG_CASE_DECL(short_reply);
CFG_CASE_DECL(errors);
CFG_CASE_DECL(held_order);
CFG_CASE_DECL(split_order);
CFG_CASE_DECL(extending);
CFG_CASE_DECL(append);
CFG_CASE_DECL(fsync_after);
CFG_CASE_DECL(close_in_flight);
CFG_CASE_DECL(efault);
void uring_short_retry_read(void);
void uring_short_retry_read_odirect(void);
void uring_short_retry_write(void);
void uring_short_retry_write_odirect(void);
void uring_fpos_read(void);
void uring_fpos_read_odirect(void);
void aio_buffered_open(void);
void aio_destroy_in_flight(void);
void uring_exit_in_flight(void);
void signal_sync_read(void);
void signal_async_wait(void);
void map_write_dio_read(void);
void dio_write_map_read(void);

#endif
