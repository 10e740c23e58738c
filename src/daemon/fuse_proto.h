/* The FUSE protocol as diofs speaks it, written from the kernel's UAPI
 * header: decoding a request read from /dev/fuse into a struct diofs_call,
 * encoding replies and directory entries, and the INIT negotiation.  Pure
 * functions on buffers: no file descriptor, no thread, no global state, so
 * that the unit tests (tests/unit/test_fuse_proto.c) and any transport
 * (read/write on /dev/fuse today, io_uring ring entries later) share them. */
#ifndef DIOFS_FUSE_PROTO_H
#define DIOFS_FUSE_PROTO_H

#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/statvfs.h>
#include <sys/uio.h>

#include "call.h"

/* INIT flags newer than the installed header (Debian bookworm's is 7.38),
 * values from the kernel's include/uapi/linux/fuse.h. */
#if !HAVE_DECL_FUSE_CREATE_SUPP_GROUP
#define FUSE_CREATE_SUPP_GROUP (1ULL << 34)
#endif
#if !HAVE_DECL_FUSE_HAS_EXPIRE_ONLY
#define FUSE_HAS_EXPIRE_ONLY (1ULL << 35)
#endif
#if !HAVE_DECL_FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36) /* 7.39, kernel 6.6 */
#endif
#if !HAVE_DECL_FUSE_PASSTHROUGH
#define FUSE_PASSTHROUGH (1ULL << 37)          /* 7.40 */
#endif
#if !HAVE_DECL_FUSE_NO_EXPORT_SUPPORT
#define FUSE_NO_EXPORT_SUPPORT (1ULL << 38)    /* 7.40 */
#endif
#if !HAVE_DECL_FUSE_HAS_RESEND
#define FUSE_HAS_RESEND (1ULL << 39)           /* 7.40 */
#endif
#if !HAVE_DECL_FUSE_ALLOW_IDMAP
#define FUSE_ALLOW_IDMAP (1ULL << 40)          /* 7.40 */
#endif
#if !HAVE_DECL_FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING (1ULL << 41)        /* 7.41, kernel 6.14 */
#endif
/* FUSE-over-io_uring (7.42, kernel 6.14), from the kernel's UAPI: the
 * header of a ring entry and the command an SQE128 carries. */
#if !HAVE_DECL_FUSE_IO_URING_CMD_REGISTER
#define FUSE_URING_IN_OUT_HEADER_SZ 128
#define FUSE_URING_OP_IN_OUT_SZ 128
struct fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;  /* the request's unique */
	uint32_t payload_sz; /* bytes in the payload buffer */
	uint32_t padding;
	uint64_t reserved;
};
struct fuse_uring_req_header {
	char in_out[FUSE_URING_IN_OUT_HEADER_SZ]; /* fuse_in/out_header */
	char op_in[FUSE_URING_OP_IN_OUT_SZ];      /* the op's first argument */
	struct fuse_uring_ent_in_out ring_ent_in_out;
};
enum fuse_uring_cmd {
	FUSE_IO_URING_CMD_INVALID = 0,
	FUSE_IO_URING_CMD_REGISTER = 1,
	FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2,
};
struct fuse_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};
#endif
#if !HAVE_DECL_FUSE_REQUEST_TIMEOUT
#define FUSE_REQUEST_TIMEOUT (1ULL << 42)      /* 7.42 */
#endif

/* The protocol diofs speaks: it answers INIT with the kernel's minor,
 * capped at this one, and refuses kernels older than the minimum. */
#define PROTO_MINOR 41
#define PROTO_MIN_MINOR 31

/* The largest request diofs accepts: a write of max_pages pages.  The
 * reader's buffer must hold it (the kernel refuses smaller reads). */
#define PROTO_MAX_PAGES 256
#define PROTO_HEADER_ROOM 4096

/* One request as read: the header, and the bytes after it. */
struct proto_in {
	struct fuse_in_header h;
	const char *arg;
	size_t arglen;
};

/* 0, or -EIO if buf is not one whole request (len disagrees with the
 * header, shorter than a header).  in->h.unique is set whenever at least a
 * header was there, so that the caller can answer it. */
int proto_in_parse(const void *buf, size_t len, struct proto_in *in);

/* The struct diofs_call for a request of an operation diofs runs, or an
 * errno to answer it with: ENOSYS for an opcode diofs does not implement
 * (including INIT, FORGET, INTERRUPT, DESTROY: the engine's own),
 * EIO for a malformed one (arguments shorter than the opcode's struct,
 * names without their terminating NUL, a write whose data is missing).
 * Pointers in c (names, value, write data) point into in's buffer. */
int proto_decode(const struct proto_in *in, struct diofs_call *c);

/* What FUSE_FORGET and FUSE_BATCH_FORGET carry. */
struct proto_forget {
	uint64_t nodeid, nlookup;
};
/* The number of forgets in in (each read with proto_forget_at), or -EIO. */
int proto_forget_count(const struct proto_in *in);
struct proto_forget proto_forget_at(const struct proto_in *in, int i);

/* FUSE_INTERRUPT's target unique, or 0 if malformed. */
uint64_t proto_interrupt_target(const struct proto_in *in);

/* ---- replies ---- */

/* A reply: header, an out-struct, data; proto_out_iov sets the header's
 * length and returns the iovec count for writev. */
struct proto_out {
	struct fuse_out_header h;
	union {
		struct fuse_entry_out entry;
		struct fuse_attr_out attr;
		struct fuse_open_out open;
		struct {
			struct fuse_entry_out entry;
			struct fuse_open_out open;
		} create;
		struct fuse_write_out write;
		struct fuse_statfs_out statfs;
		struct fuse_getxattr_out xattr;
		struct fuse_lseek_out lseek;
		struct fuse_init_out init;
	} arg;
	size_t arglen;
	const void *data;
	size_t datalen;
};

/* The reply to unique: err 0 with what the helpers below put in o, or an
 * error (positive errno) with nothing after the header. */
void proto_out_init(struct proto_out *o, uint64_t unique, int err);
int proto_out_iov(struct proto_out *o, struct iovec iov[3]);

void proto_put_entry(struct proto_out *o, const struct fuse_entry_param *e);
void proto_put_attr(struct proto_out *o, const struct stat *st, double timeout);
/* open_flags: FOPEN_* (see proto_open_flags). */
void proto_put_open(struct proto_out *o, uint64_t fh, uint32_t open_flags);
void proto_put_create(struct proto_out *o, const struct fuse_entry_param *e,
		      uint64_t fh, uint32_t open_flags);
void proto_put_write(struct proto_out *o, size_t count);
void proto_put_statfs(struct proto_out *o, const struct statvfs *st);
void proto_put_xattr_size(struct proto_out *o, size_t size);
void proto_put_lseek(struct proto_out *o, off_t off);
void proto_put_data(struct proto_out *o, const void *data, size_t len);

/* FOPEN_* for fi; parallel: FOPEN_PARALLEL_DIRECT_WRITES with direct_io. */
uint32_t proto_open_flags(const struct fuse_file_info *fi, bool parallel);

/* One directory entry at buf (size bytes of room); the bytes it takes,
 * which may exceed size (then nothing was written), like libfuse's
 * fuse_add_direntry(_plus). */
size_t proto_add_dirent(char *buf, size_t size, const char *name,
			const struct stat *st, off_t next);
size_t proto_add_direntplus(char *buf, size_t size, const char *name,
			    const struct fuse_entry_param *e, off_t next);

/* ---- INIT ---- */

/* The INIT flags diofs asks for when the kernel offers them, each with
 * its name for -o init_off= and for what diofsctl stats and the trace
 * print.  posix_acl: the kernel's own check (default_permissions) reads
 * the POSIX ACLs, not the mode alone; dont_mask: the mode as asked and
 * the caller's umask beside it, applied by the backing filesystem as the
 * caller (identity_umask), or a default ACL instead.  Not asked for: FUSE_HANDLE_KILLPRIV(_V2) (the kernel clears
 * set-id bits on truncate and chown itself; op_write does it for writes,
 * which the direct-I/O path leaves alone), FUSE_POSIX_LOCKS (not
 * implemented: the kernel keeps POSIX locks local), FUSE_EXPORT_SUPPORT,
 * FUSE_SPLICE_* (splice changes which pages the kernel touches),
 * FUSE_WRITEBACK_CACHE, FUSE_PASSTHROUGH (both bypass diofs), and
 * FUSE_OVER_IO_URING (a transport of its own). */
#define PROTO_INIT_FLAGS(X)                                              \
	X(ASYNC_READ, async_read) X(ATOMIC_O_TRUNC, atomic_o_trunc)       \
	X(BIG_WRITES, big_writes) X(FLOCK_LOCKS, flock_locks)             \
	X(AUTO_INVAL_DATA, auto_inval_data)                               \
	X(DO_READDIRPLUS, do_readdirplus)                                 \
	X(READDIRPLUS_AUTO, readdirplus_auto) X(ASYNC_DIO, async_dio)     \
	X(PARALLEL_DIROPS, parallel_dirops) X(MAX_PAGES, max_pages)       \
	X(DIRECT_IO_ALLOW_MMAP, direct_io_allow_mmap)                     \
	X(NO_EXPORT_SUPPORT, no_export_support) X(POSIX_ACL, posix_acl)   \
	X(DONT_MASK, dont_mask)

/* The name of one INIT flag bit (lower case, without FUSE_), or NULL. */
const char *proto_init_flag_name(uint64_t bit);
/* The bit of a name as proto_init_flag_name gives it, or 0. */
uint64_t proto_init_flag_bit(const char *name);
/* Every flag diofs may ask for. */
uint64_t proto_init_wanted_all(void);
/* "name,name,..." of flags into buf; buf. */
char *proto_init_flags_text(uint64_t flags, char *buf, size_t size);

struct proto_init_cfg {
	uint64_t want;            /* the flags diofs asks for if offered */
	uint16_t max_background;
	uint16_t congestion_threshold;
	uint32_t max_pages;       /* pages per request */
	uint32_t page_size;
};

/* What INIT settled. */
struct proto_init_result {
	uint32_t kernel_major, kernel_minor;
	uint32_t major, minor;    /* what diofs answered */
	uint64_t offered;         /* the kernel's flags */
	uint64_t flags;           /* what diofs took */
	uint32_t max_write, max_readahead;
	uint16_t max_pages, max_background, congestion_threshold;
};

enum proto_init_verdict {
	PROTO_INIT_OK,       /* o holds the reply: the session is up */
	PROTO_INIT_RETRY,    /* kernel major > 7: o holds the reply saying
			      * 7, the kernel sends INIT again */
	PROTO_INIT_REFUSED,  /* too old, or malformed: o holds an error */
};

enum proto_init_verdict proto_init(const struct proto_in *in,
				   const struct proto_init_cfg *cfg,
				   struct proto_out *o, struct proto_init_result *r);

#endif
