/* One FUSE request as diofs sees it: the operation, its arguments, the
 * caller, and what the rules and the reply made of it.  Every operation is
 * dispatched through a struct diofs_call so that one mechanism can trace,
 * fail, delay or hold any of them; a held call is copied to the heap and
 * run later, so it occupies no worker thread. */
#ifndef DIOFS_CALL_H
#define DIOFS_CALL_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* X(enum suffix, name used in rules and the trace, FUSE opcode suffix,
 *   handle): the one table of operations.  From it come the enum, the
 * names and handles (call.c), the opcode each is decoded from
 * (fuse_proto.c, which reads FUSE_OPCODE's arguments by its layout) and
 * the operations that run them (ops_node.c: op_NAME).  FLOCK also serves
 * FUSE_SETLK, RENAME also FUSE_RENAME.  handle: the open handle
 * (fuse_file_info.fh) the operation runs on: NONE, FILE an open file,
 * FILES two (fi and fi_out), DIR an open directory. */
#define DIOFS_OPS(X)                                                            \
	X(LOOKUP, lookup, LOOKUP, NONE) X(GETATTR, getattr, GETATTR, NONE)      \
	X(SETATTR, setattr, SETATTR, NONE)                                      \
	X(READLINK, readlink, READLINK, NONE) X(MKNOD, mknod, MKNOD, NONE)      \
	X(MKDIR, mkdir, MKDIR, NONE) X(UNLINK, unlink, UNLINK, NONE)            \
	X(RMDIR, rmdir, RMDIR, NONE) X(SYMLINK, symlink, SYMLINK, NONE)         \
	X(RENAME, rename, RENAME2, NONE) X(LINK, link, LINK, NONE)              \
	X(OPEN, open, OPEN, NONE) X(CREATE, create, CREATE, NONE)               \
	X(READ, read, READ, FILE) X(WRITE, write, WRITE, FILE)                  \
	X(FLUSH, flush, FLUSH, FILE) X(RELEASE, release, RELEASE, FILE)         \
	X(FSYNC, fsync, FSYNC, FILE) X(OPENDIR, opendir, OPENDIR, NONE)         \
	X(READDIR, readdir, READDIR, DIR)                                       \
	X(READDIRPLUS, readdirplus, READDIRPLUS, DIR)                           \
	X(RELEASEDIR, releasedir, RELEASEDIR, DIR)                              \
	X(FSYNCDIR, fsyncdir, FSYNCDIR, DIR) X(STATFS, statfs, STATFS, NONE)    \
	X(SETXATTR, setxattr, SETXATTR, NONE)                                   \
	X(GETXATTR, getxattr, GETXATTR, NONE)                                   \
	X(LISTXATTR, listxattr, LISTXATTR, NONE)                                \
	X(REMOVEXATTR, removexattr, REMOVEXATTR, NONE)                          \
	X(ACCESS, access, ACCESS, NONE)                                         \
	X(FALLOCATE, fallocate, FALLOCATE, FILE) X(LSEEK, lseek, LSEEK, FILE)   \
	X(COPY_FILE_RANGE, copy_file_range, COPY_FILE_RANGE, FILES)             \
	X(FLOCK, flock, SETLKW, FILE)

/* What an operation's fh is (the handle column above). */
enum diofs_handle { HANDLE_NONE, HANDLE_FILE, HANDLE_FILES, HANDLE_DIR };

enum diofs_op {
#define DIOFS_OP_ENUM(e, s, opc, h) DIOFS_OP_##e,
	DIOFS_OPS(DIOFS_OP_ENUM)
#undef DIOFS_OP_ENUM
	DIOFS_OP_COUNT
};

/* A set of operations: DIOFS_OP_BIT(READ) | DIOFS_OP_BIT(WRITE). */
#define DIOFS_OP_BIT(e) (UINT64_C(1) << DIOFS_OP_##e)
static inline bool diofs_op_in(enum diofs_op op, uint64_t set)
{
	return (set >> op) & 1;
}

const char *diofs_op_name(enum diofs_op op);
enum diofs_handle diofs_op_handle(enum diofs_op op);
/* -1 if NAME is not an operation. */
int diofs_op_from_name(const char *name);

/* A protocol fault (rule action proto=NAME): a message the kernel must
 * refuse, written around the call's real reply (proto_fault.c). */
enum diofs_proto_fault {
	PROTO_FAULT_NONE,
	PROTO_FAULT_BADLEN,         /* header len = real length + proto_arg */
	PROTO_FAULT_SHORT_HEADER,   /* only proto_arg bytes of the header */
	PROTO_FAULT_ERRNO,          /* header error = proto_arg, out of range */
	PROTO_FAULT_DOUBLE,         /* the reply, then the same again */
	PROTO_FAULT_UNKNOWN_UNIQUE, /* the reply to a unique never sent */
	PROTO_FAULT_LATE,           /* held until interrupted, then replied */
	PROTO_FAULT_COUNT
};

/* The name in rules, trace and stats ("badlen", "short-header"...);
 * from_name: -1 if NAME is none of them. */
const char *diofs_proto_fault_name(enum diofs_proto_fault f);
int diofs_proto_fault_from_name(const char *name);

/* What a rule asks of the reply of a read or write. */
enum diofs_reply_shape {
	REPLY_NORMAL,
	REPLY_SHORT,    /* read: at most shape_len bytes; write: ack shape_len */
	REPLY_OVERLONG, /* read: shape_len bytes more than asked */
};

struct diofs_call {
	enum diofs_op op;

	/* The caller, from the kernel's request header. */
	uint64_t unique;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	uint64_t start_ns; /* CLOCK_MONOTONIC when diofs received it */

	/* Arguments: which are set depends on op (see fuse_proto.c). */
	fuse_ino_t ino;       /* the inode, or the parent of name */
	fuse_ino_t newparent; /* rename, link */
	const char *name;     /* entry name; for symlink the link's name */
	const char *newname;  /* rename target; symlink target text */
	struct fuse_file_info fi;
	bool has_fi;
	off_t off;
	size_t size;
	mode_t mode;
	mode_t umask;         /* mknod, mkdir, create: the caller's umask */
	dev_t rdev;
	unsigned int flags;   /* rename flags, setxattr flags, open flags */
	int datasync;
	int to_set;           /* setattr */
	struct stat attr;     /* setattr */
	const char *value;    /* setxattr value (size bytes) */
	struct fuse_bufvec *in_buf; /* write data */
	struct fuse_bufvec write_buf; /* what in_buf points to when decoded */
	fuse_ino_t ino_out;   /* copy_file_range destination */
	off_t off_out;
	struct fuse_file_info fi_out;
	int whence;           /* lseek */
	int lock_op;          /* flock */
	unsigned int lock_retry_ms; /* flock: next retry of a taken lock */

	/* Set by the rule that acted on this call. */
	int rule_id;          /* 0: none */
	enum diofs_reply_shape shape;
	size_t shape_len;
	enum diofs_proto_fault proto_fault;
	long proto_arg;       /* see enum diofs_proto_fault */
	int proto_write;      /* write(2) of the faulty message: 0 or -errno */

	/* Filled in as the call is answered, for the trace. */
	int result_errno;
	size_t replied;       /* bytes of data replied (read) or acked (write) */
	bool fopen_direct;    /* open/create answered with FOPEN_DIRECT_IO */
	const char *path;     /* relative to the root; NULL until needed */
	char *path_owned;     /* storage behind path when the call made it */

	/* Heap storage of a deferred call (names, value, write data). */
	void *owned;
	bool deferred;
	bool interruptible;   /* registered with interrupt_func */
};

#endif
