/* The FUSE wire format: requests into calls, replies out of results, INIT.
 * Every length is checked against the bytes the kernel sent before
 * anything is read: a request too short for its opcode's struct, a name
 * without its NUL, a write without its data is EIO, never a read past the
 * buffer. */
#include <config.h>
#include "fuse_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

int proto_in_parse(const void *buf, size_t len, struct proto_in *in)
{
	size_t ext;

	memset(in, 0, sizeof(*in));
	if (len < sizeof(in->h))
		return -EIO;
	memcpy(&in->h, buf, sizeof(in->h));
	if (in->h.len != len)
		return -EIO;
	in->arg = (const char *)buf + sizeof(in->h);
	in->arglen = len - sizeof(in->h);
	/* Extensions (security context, supplementary group) trail the
	 * arguments; diofs asks for none, but would not read them as names. */
	ext = (size_t)in->h.total_extlen * 8;
	if (ext > in->arglen)
		return -EIO;
	in->arglen -= ext;
	return 0;
}

/* A cursor over a request's arguments. */
struct cursor {
	const char *p;
	size_t rem;
};

/* The next n bytes (a struct), or NULL if fewer remain. */
static const void *take(struct cursor *cur, size_t n)
{
	const void *p = cur->p;

	if (cur->rem < n)
		return NULL;
	cur->p += n;
	cur->rem -= n;
	return p;
}

/* The next NUL-terminated name, or NULL if its NUL is missing. */
static const char *take_name(struct cursor *cur)
{
	const char *end = memchr(cur->p, '\0', cur->rem);
	const char *name = cur->p;

	if (!end)
		return NULL;
	take(cur, (size_t)(end - cur->p) + 1);
	return name;
}

/* ---- what each opcode carries ---- */

/* The arguments a request's fuse_*_in struct may hold, by where they go in
 * the call (store_arg). */
enum arg {
	ARG_FH,         /* c->fi.fh (the call has a file) */
	ARG_FILE_FLAGS, /* c->fi.flags (the call has a file) */
	ARG_FLAGS,      /* c->flags */
	ARG_MODE,
	ARG_UMASK,
	ARG_RDEV,
	ARG_OFF,
	ARG_SIZE,
	ARG_WHENCE,
	ARG_LOCK_OWNER,
	ARG_NEWPARENT,
	ARG_INO_OUT,
	ARG_FH_OUT,
	ARG_OFF_OUT,
};

/* Where an argument stands in the struct, and which it is. */
struct field {
	uint8_t arg, at, width; /* width 0: the end of the list */
};

/* An opcode's request: its struct (size bytes, the args copied from it),
 * then names NUL-terminated names (c->name, then c->newname), then what
 * finish, if any, reads or decides beyond that. */
struct layout {
	uint8_t size;
	uint8_t names;
	struct field args[8];
	int (*finish)(struct diofs_call *c, const void *in, struct cursor *cur);
};

#define STRUCT(type) .size = sizeof(struct type)
#define FIELD(type, member, arg) \
	{ arg, offsetof(struct type, member), sizeof(((struct type *)0)->member) }

static uint64_t field_value(const char *in, struct field f)
{
	uint32_t v32;
	uint64_t v64;

	if (f.width == sizeof(v32)) {
		memcpy(&v32, in + f.at, sizeof(v32));
		return v32;
	}
	memcpy(&v64, in + f.at, sizeof(v64));
	return v64;
}

static void set_fh(struct diofs_call *c, uint64_t fh)
{
	c->fi.fh = fh;
	c->has_fi = true;
}

static void store_arg(struct diofs_call *c, enum arg a, uint64_t v)
{
	switch (a) {
	case ARG_FH:
		set_fh(c, v);
		break;
	case ARG_FILE_FLAGS:
		c->fi.flags = (int)v;
		c->has_fi = true;
		break;
	case ARG_FLAGS: c->flags = (unsigned int)v; break;
	case ARG_MODE: c->mode = (mode_t)v; break;
	case ARG_UMASK: c->umask = (mode_t)v; break;
	case ARG_RDEV: c->rdev = (dev_t)v; break;
	case ARG_OFF: c->off = (off_t)v; break;
	case ARG_SIZE: c->size = (size_t)v; break;
	case ARG_WHENCE: c->whence = (int)v; break;
	case ARG_LOCK_OWNER: c->fi.lock_owner = v; break;
	case ARG_NEWPARENT: c->newparent = v; break;
	case ARG_INO_OUT: c->ino_out = v; break;
	case ARG_FH_OUT: c->fi_out.fh = v; break;
	case ARG_OFF_OUT: c->off_out = (off_t)v; break;
	}
}

/* The struct at in, copied to an aligned local. */
#define STRUCT_AT(var, in) memcpy(&(var), in, sizeof(var))

static int finish_getattr(struct diofs_call *c, const void *raw, struct cursor *cur)
{
	struct fuse_getattr_in in;

	(void)cur;
	STRUCT_AT(in, raw);
	if (in.getattr_flags & FUSE_GETATTR_FH)
		set_fh(c, in.fh);
	return 0;
}

static int finish_setattr(struct diofs_call *c, const void *raw, struct cursor *cur)
{
	const unsigned int known = FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
		FUSE_SET_ATTR_GID | FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME |
		FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
		FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
	struct fuse_setattr_in in;

	(void)cur;
	STRUCT_AT(in, raw);
	c->to_set = (int)(in.valid & known);
	if (in.valid & FATTR_FH)
		set_fh(c, in.fh);
	c->attr.st_mode = in.mode;
	c->attr.st_uid = in.uid;
	c->attr.st_gid = in.gid;
	c->attr.st_size = (off_t)in.size;
	c->attr.st_atim = (struct timespec){ (time_t)in.atime, in.atimensec };
	c->attr.st_mtim = (struct timespec){ (time_t)in.mtime, in.mtimensec };
	c->attr.st_ctim = (struct timespec){ (time_t)in.ctime, in.ctimensec };
	return 0;
}

/* The request's node is the new parent; the inode linked is in the struct. */
static int finish_link(struct diofs_call *c, const void *raw, struct cursor *cur)
{
	struct fuse_link_in in;

	STRUCT_AT(in, raw);
	c->newparent = c->ino;
	c->ino = in.oldnodeid;
	c->newname = take_name(cur);
	return c->newname ? 0 : EIO;
}

static int finish_read(struct diofs_call *c, const void *raw, struct cursor *cur)
{
	struct fuse_read_in in;

	(void)cur;
	STRUCT_AT(in, raw);
	if (in.read_flags & FUSE_READ_LOCKOWNER)
		c->fi.lock_owner = in.lock_owner;
	return 0;
}

/* The data follows the struct, all of it. */
static int finish_write(struct diofs_call *c, const void *raw, struct cursor *cur)
{
	struct fuse_write_in in;
	const void *data;

	STRUCT_AT(in, raw);
	data = take(cur, in.size);
	if (!data)
		return EIO;
	c->fi.writepage = !!(in.write_flags & FUSE_WRITE_CACHE);
	if (in.write_flags & FUSE_WRITE_LOCKOWNER)
		c->fi.lock_owner = in.lock_owner;
	c->write_buf = (struct fuse_bufvec)FUSE_BUFVEC_INIT(in.size);
	c->write_buf.buf[0].mem = (void *)data;
	c->in_buf = &c->write_buf;
	return 0;
}

static int finish_flush(struct diofs_call *c, const void *raw, struct cursor *cur)
{
	(void)raw;
	(void)cur;
	c->fi.flush = 1;
	return 0;
}

static int finish_release(struct diofs_call *c, const void *raw, struct cursor *cur)
{
	struct fuse_release_in in;

	(void)cur;
	STRUCT_AT(in, raw);
	c->fi.flush = !!(in.release_flags & FUSE_RELEASE_FLUSH);
	c->fi.flock_release = !!(in.release_flags & FUSE_RELEASE_FLOCK_UNLOCK);
	return 0;
}

static int finish_fsync(struct diofs_call *c, const void *raw, struct cursor *cur)
{
	struct fuse_fsync_in in;

	(void)cur;
	STRUCT_AT(in, raw);
	c->datasync = in.fsync_flags & FUSE_FSYNC_FDATASYNC;
	return 0;
}

/* Without FUSE_SETXATTR_EXT (diofs does not ask for it) the struct is the
 * 8-byte compat one: size and flags, then the name, then the value. */
struct setxattr_compat_in {
	uint32_t size, flags;
};
_Static_assert(sizeof(struct setxattr_compat_in) == FUSE_COMPAT_SETXATTR_IN_SIZE,
	       "setxattr_in");

static int finish_setxattr(struct diofs_call *c, const void *raw, struct cursor *cur)
{
	(void)raw;
	c->value = take(cur, c->size);
	return c->value ? 0 : EIO;
}

/* BSD locks only (FUSE_FLOCK_LOCKS): POSIX locks stay the kernel's. */
static int finish_flock(struct diofs_call *c, const void *raw, struct cursor *cur)
{
	struct fuse_lk_in in;

	(void)cur;
	STRUCT_AT(in, raw);
	if (!(in.lk_flags & FUSE_LK_FLOCK))
		return ENOSYS;
	switch (in.lk.type) {
	case F_RDLCK: c->lock_op = LOCK_SH; break;
	case F_WRLCK: c->lock_op = LOCK_EX; break;
	case F_UNLCK: c->lock_op = LOCK_UN; break;
	default: return EINVAL;
	}
	return 0;
}

/* FUSE_SETLK: the same, without waiting. */
static int finish_setlk(struct diofs_call *c, const void *raw, struct cursor *cur)
{
	int err = finish_flock(c, raw, cur);

	c->lock_op |= LOCK_NB;
	return err;
}

#define OPCODE_MAX (FUSE_COPY_FILE_RANGE + 1)

/* Layouts two opcodes share. */
#define OPEN_LAYOUT { STRUCT(fuse_open_in), .args = {			\
	FIELD(fuse_open_in, flags, ARG_FILE_FLAGS),			\
	FIELD(fuse_open_in, flags, ARG_FLAGS) } }
#define READ_LAYOUT { STRUCT(fuse_read_in), .finish = finish_read, .args = { \
	FIELD(fuse_read_in, fh, ARG_FH),				\
	FIELD(fuse_read_in, flags, ARG_FILE_FLAGS),			\
	FIELD(fuse_read_in, offset, ARG_OFF),			\
	FIELD(fuse_read_in, size, ARG_SIZE) } }
#define RELEASE_LAYOUT { STRUCT(fuse_release_in), .finish = finish_release, .args = { \
	FIELD(fuse_release_in, fh, ARG_FH),				\
	FIELD(fuse_release_in, flags, ARG_FILE_FLAGS),		\
	FIELD(fuse_release_in, lock_owner, ARG_LOCK_OWNER) } }
#define FSYNC_LAYOUT { STRUCT(fuse_fsync_in), .finish = finish_fsync, .args = { \
	FIELD(fuse_fsync_in, fh, ARG_FH) } }
#define LOCK_LAYOUT(finish_fn) { STRUCT(fuse_lk_in), .finish = finish_fn, .args = { \
	FIELD(fuse_lk_in, fh, ARG_FH),				\
	FIELD(fuse_lk_in, owner, ARG_LOCK_OWNER) } }
#define GETXATTR_LAYOUT(n) { STRUCT(fuse_getxattr_in), .names = n, .args = { \
	FIELD(fuse_getxattr_in, size, ARG_SIZE) } }

/* Indexed by opcode; an opcode diofs runs (opcode_op) without an entry
 * carries nothing. */
static const struct layout layouts[OPCODE_MAX] = {
	[FUSE_LOOKUP] = { .names = 1 },
	[FUSE_GETATTR] = { STRUCT(fuse_getattr_in), .finish = finish_getattr },
	[FUSE_SETATTR] = { STRUCT(fuse_setattr_in), .finish = finish_setattr },
	[FUSE_MKNOD] = { STRUCT(fuse_mknod_in), .names = 1, .args = {
		FIELD(fuse_mknod_in, mode, ARG_MODE),
		FIELD(fuse_mknod_in, rdev, ARG_RDEV),
		FIELD(fuse_mknod_in, umask, ARG_UMASK) } },
	[FUSE_MKDIR] = { STRUCT(fuse_mkdir_in), .names = 1, .args = {
		FIELD(fuse_mkdir_in, mode, ARG_MODE),
		FIELD(fuse_mkdir_in, umask, ARG_UMASK) } },
	[FUSE_UNLINK] = { .names = 1 },
	[FUSE_RMDIR] = { .names = 1 },
	/* The entry's name, then the link's target. */
	[FUSE_SYMLINK] = { .names = 2 },
	[FUSE_RENAME2] = { STRUCT(fuse_rename2_in), .names = 2, .args = {
		FIELD(fuse_rename2_in, newdir, ARG_NEWPARENT),
		FIELD(fuse_rename2_in, flags, ARG_FLAGS) } },
	[FUSE_RENAME] = { STRUCT(fuse_rename_in), .names = 2, .args = {
		FIELD(fuse_rename_in, newdir, ARG_NEWPARENT) } },
	[FUSE_LINK] = { STRUCT(fuse_link_in), .finish = finish_link },
	[FUSE_OPEN] = OPEN_LAYOUT,
	[FUSE_OPENDIR] = OPEN_LAYOUT,
	[FUSE_CREATE] = { STRUCT(fuse_create_in), .names = 1, .args = {
		FIELD(fuse_create_in, flags, ARG_FILE_FLAGS),
		FIELD(fuse_create_in, flags, ARG_FLAGS),
		FIELD(fuse_create_in, mode, ARG_MODE),
		FIELD(fuse_create_in, umask, ARG_UMASK) } },
	[FUSE_READ] = READ_LAYOUT,
	[FUSE_WRITE] = { STRUCT(fuse_write_in), .finish = finish_write, .args = {
		FIELD(fuse_write_in, fh, ARG_FH),
		FIELD(fuse_write_in, flags, ARG_FILE_FLAGS),
		FIELD(fuse_write_in, offset, ARG_OFF),
		FIELD(fuse_write_in, size, ARG_SIZE) } },
	[FUSE_FLUSH] = { STRUCT(fuse_flush_in), .finish = finish_flush, .args = {
		FIELD(fuse_flush_in, fh, ARG_FH),
		FIELD(fuse_flush_in, lock_owner, ARG_LOCK_OWNER) } },
	[FUSE_RELEASE] = RELEASE_LAYOUT,
	[FUSE_FSYNC] = FSYNC_LAYOUT,
	[FUSE_READDIR] = READ_LAYOUT,
	[FUSE_READDIRPLUS] = READ_LAYOUT,
	[FUSE_RELEASEDIR] = RELEASE_LAYOUT,
	[FUSE_FSYNCDIR] = FSYNC_LAYOUT,
	[FUSE_SETXATTR] = { STRUCT(setxattr_compat_in), .names = 1, .finish = finish_setxattr,
		.args = { FIELD(setxattr_compat_in, size, ARG_SIZE),
			  FIELD(setxattr_compat_in, flags, ARG_FLAGS) } },
	[FUSE_GETXATTR] = GETXATTR_LAYOUT(1),
	[FUSE_LISTXATTR] = GETXATTR_LAYOUT(0),
	[FUSE_REMOVEXATTR] = { .names = 1 },
	[FUSE_ACCESS] = { STRUCT(fuse_access_in), .args = {
		FIELD(fuse_access_in, mask, ARG_MODE) } },
	[FUSE_FALLOCATE] = { STRUCT(fuse_fallocate_in), .args = {
		FIELD(fuse_fallocate_in, fh, ARG_FH),
		FIELD(fuse_fallocate_in, offset, ARG_OFF),
		FIELD(fuse_fallocate_in, length, ARG_SIZE),
		FIELD(fuse_fallocate_in, mode, ARG_MODE) } },
	[FUSE_LSEEK] = { STRUCT(fuse_lseek_in), .args = {
		FIELD(fuse_lseek_in, fh, ARG_FH),
		FIELD(fuse_lseek_in, offset, ARG_OFF),
		FIELD(fuse_lseek_in, whence, ARG_WHENCE) } },
	[FUSE_COPY_FILE_RANGE] = { STRUCT(fuse_copy_file_range_in), .args = {
		FIELD(fuse_copy_file_range_in, fh_in, ARG_FH),
		FIELD(fuse_copy_file_range_in, off_in, ARG_OFF),
		FIELD(fuse_copy_file_range_in, nodeid_out, ARG_INO_OUT),
		FIELD(fuse_copy_file_range_in, fh_out, ARG_FH_OUT),
		FIELD(fuse_copy_file_range_in, off_out, ARG_OFF_OUT),
		FIELD(fuse_copy_file_range_in, len, ARG_SIZE),
		FIELD(fuse_copy_file_range_in, flags, ARG_FLAGS) } },
	[FUSE_SETLKW] = LOCK_LAYOUT(finish_flock),
	[FUSE_SETLK] = LOCK_LAYOUT(finish_setlk),
};

/* The operation each opcode diofs runs is, plus one (0: not served). */
static const uint8_t opcode_op[OPCODE_MAX] = {
#define DIOFS_OP_OPCODE(e, s, opc, h) [FUSE_##opc] = DIOFS_OP_##e + 1,
	DIOFS_OPS(DIOFS_OP_OPCODE)
#undef DIOFS_OP_OPCODE
	/* Older forms of two operations. */
	[FUSE_RENAME] = DIOFS_OP_RENAME + 1,
	[FUSE_SETLK] = DIOFS_OP_FLOCK + 1,
};

int proto_decode(const struct proto_in *in, struct diofs_call *c)
{
	struct cursor cur = { in->arg, in->arglen };
	const struct layout *l;
	const char *args;

	if (in->h.opcode >= OPCODE_MAX || !opcode_op[in->h.opcode])
		return ENOSYS;
	l = &layouts[in->h.opcode];
	memset(c, 0, sizeof(*c));
	c->op = (enum diofs_op)(opcode_op[in->h.opcode] - 1);
	c->unique = in->h.unique;
	c->ino = in->h.nodeid;
	c->pid = (pid_t)in->h.pid;
	c->uid = in->h.uid;
	c->gid = in->h.gid;

	args = take(&cur, l->size);
	if (!args)
		return EIO;
	for (const struct field *f = l->args; f->width; f++)
		store_arg(c, (enum arg)f->arg, field_value(args, *f));
	if (l->names >= 1 && !(c->name = take_name(&cur)))
		return EIO;
	if (l->names >= 2 && !(c->newname = take_name(&cur)))
		return EIO;
	return l->finish ? l->finish(c, args, &cur) : 0;
}

int proto_forget_count(const struct proto_in *in)
{
	struct fuse_batch_forget_in b;

	if (in->h.opcode == FUSE_FORGET)
		return in->arglen >= sizeof(struct fuse_forget_in) ? 1 : -EIO;
	if (in->h.opcode != FUSE_BATCH_FORGET || in->arglen < sizeof(b))
		return -EIO;
	memcpy(&b, in->arg, sizeof(b));
	if (b.count > (in->arglen - sizeof(b)) / sizeof(struct fuse_forget_one) ||
	    b.count > INT_MAX)
		return -EIO;
	return (int)b.count;
}

struct proto_forget proto_forget_at(const struct proto_in *in, int i)
{
	struct proto_forget f;

	if (in->h.opcode == FUSE_FORGET) {
		struct fuse_forget_in one;

		memcpy(&one, in->arg, sizeof(one));
		f.nodeid = in->h.nodeid;
		f.nlookup = one.nlookup;
	} else {
		struct fuse_forget_one one;

		memcpy(&one, in->arg + sizeof(struct fuse_batch_forget_in) +
		       (size_t)i * sizeof(one), sizeof(one));
		f.nodeid = one.nodeid;
		f.nlookup = one.nlookup;
	}
	return f;
}

uint64_t proto_interrupt_target(const struct proto_in *in)
{
	struct fuse_interrupt_in ii;

	if (in->arglen < sizeof(ii))
		return 0;
	memcpy(&ii, in->arg, sizeof(ii));
	return ii.unique;
}

/* ---- replies ---- */

void proto_out_init(struct proto_out *o, uint64_t unique, int err)
{
	memset(o, 0, sizeof(*o));
	o->h.unique = unique;
	o->h.error = -err;
}

int proto_out_iov(struct proto_out *o, struct iovec iov[3])
{
	int n = 1;

	o->h.len = (uint32_t)(sizeof(o->h) + o->arglen + o->datalen);
	iov[0] = (struct iovec){ &o->h, sizeof(o->h) };
	if (o->arglen)
		iov[n++] = (struct iovec){ &o->arg, o->arglen };
	if (o->datalen)
		iov[n++] = (struct iovec){ (void *)o->data, o->datalen };
	return n;
}

/* A timeout in seconds as the kernel's seconds and nanoseconds. */
static void split_timeout(double t, uint64_t *sec, uint32_t *nsec)
{
	if (t <= 0) {
		*sec = 0;
		*nsec = 0;
	} else if (t >= (double)UINT64_MAX) {
		*sec = UINT64_MAX;
		*nsec = 0;
	} else {
		*sec = (uint64_t)t;
		*nsec = (uint32_t)((t - (double)*sec) * 1e9);
		if (*nsec >= 1000000000u)
			*nsec = 999999999u;
	}
}

static void fill_attr(struct fuse_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = (uint32_t)st->st_rdev;
	a->blksize = (uint32_t)st->st_blksize;
}

static void fill_entry(struct fuse_entry_out *out, const struct fuse_entry_param *e)
{
	memset(out, 0, sizeof(*out));
	out->nodeid = e->ino;
	out->generation = e->generation;
	split_timeout(e->entry_timeout, &out->entry_valid, &out->entry_valid_nsec);
	split_timeout(e->attr_timeout, &out->attr_valid, &out->attr_valid_nsec);
	fill_attr(&out->attr, &e->attr);
}

void proto_put_entry(struct proto_out *o, const struct fuse_entry_param *e)
{
	fill_entry(&o->arg.entry, e);
	o->arglen = sizeof(o->arg.entry);
}

void proto_put_attr(struct proto_out *o, const struct stat *st, double timeout)
{
	split_timeout(timeout, &o->arg.attr.attr_valid, &o->arg.attr.attr_valid_nsec);
	fill_attr(&o->arg.attr.attr, st);
	o->arglen = sizeof(o->arg.attr);
}

uint32_t proto_open_flags(const struct fuse_file_info *fi, bool parallel)
{
	uint32_t f = 0;

	if (fi->direct_io)
		f |= FOPEN_DIRECT_IO;
	if (fi->direct_io && parallel)
		f |= FOPEN_PARALLEL_DIRECT_WRITES;
	if (fi->keep_cache)
		f |= FOPEN_KEEP_CACHE;
	if (fi->nonseekable)
		f |= FOPEN_NONSEEKABLE;
	if (fi->cache_readdir)
		f |= FOPEN_CACHE_DIR;
	if (fi->noflush)
		f |= FOPEN_NOFLUSH;
	return f;
}

void proto_put_open(struct proto_out *o, uint64_t fh, uint32_t open_flags)
{
	o->arg.open.fh = fh;
	o->arg.open.open_flags = open_flags;
	o->arglen = sizeof(o->arg.open);
}

void proto_put_create(struct proto_out *o, const struct fuse_entry_param *e,
		      uint64_t fh, uint32_t open_flags)
{
	fill_entry(&o->arg.create.entry, e);
	o->arg.create.open.fh = fh;
	o->arg.create.open.open_flags = open_flags;
	o->arglen = sizeof(o->arg.create);
}

void proto_put_write(struct proto_out *o, size_t count)
{
	o->arg.write.size = (uint32_t)count;
	o->arglen = sizeof(o->arg.write);
}

void proto_put_statfs(struct proto_out *o, const struct statvfs *st)
{
	struct fuse_kstatfs *k = &o->arg.statfs.st;

	k->blocks = st->f_blocks;
	k->bfree = st->f_bfree;
	k->bavail = st->f_bavail;
	k->files = st->f_files;
	k->ffree = st->f_ffree;
	k->bsize = (uint32_t)st->f_bsize;
	k->namelen = (uint32_t)st->f_namemax;
	k->frsize = (uint32_t)st->f_frsize;
	o->arglen = sizeof(o->arg.statfs);
}

void proto_put_xattr_size(struct proto_out *o, size_t size)
{
	o->arg.xattr.size = (uint32_t)size;
	o->arglen = sizeof(o->arg.xattr);
}

void proto_put_lseek(struct proto_out *o, off_t off)
{
	o->arg.lseek.offset = (uint64_t)off;
	o->arglen = sizeof(o->arg.lseek);
}

void proto_put_data(struct proto_out *o, const void *data, size_t len)
{
	o->data = data;
	o->datalen = len;
}

/* A dirent's fixed part, name and padding to 8 bytes at d. */
static void put_dirent(char *d, size_t entlen, const char *name, size_t namelen,
		       uint64_t ino, uint32_t type, off_t next)
{
	struct fuse_dirent de = {
		.ino = ino,
		.off = (uint64_t)next,
		.namelen = (uint32_t)namelen,
		.type = type,
	};

	memcpy(d, &de, FUSE_NAME_OFFSET);
	memcpy(d + FUSE_NAME_OFFSET, name, namelen);
	memset(d + FUSE_NAME_OFFSET + namelen, 0, entlen - FUSE_NAME_OFFSET - namelen);
}

size_t proto_add_dirent(char *buf, size_t size, const char *name,
			const struct stat *st, off_t next)
{
	size_t namelen = strlen(name);
	size_t entlen = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + namelen);

	if (entlen <= size)
		put_dirent(buf, entlen, name, namelen, st->st_ino,
			   (st->st_mode & S_IFMT) >> 12, next);
	return entlen;
}

size_t proto_add_direntplus(char *buf, size_t size, const char *name,
			    const struct fuse_entry_param *e, off_t next)
{
	size_t namelen = strlen(name);
	size_t entlen = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + namelen);
	struct fuse_entry_out eo;

	if (entlen > size)
		return entlen;
	fill_entry(&eo, e);
	memcpy(buf, &eo, sizeof(eo));
	put_dirent(buf + sizeof(eo), entlen - sizeof(eo), name, namelen,
		   e->attr.st_ino, (e->attr.st_mode & S_IFMT) >> 12, next);
	return entlen;
}

/* ---- INIT ---- */

static const struct {
	uint64_t bit;
	const char *name;
} init_flags[] = {
#define INIT_FLAG_ENTRY(f, s) { FUSE_##f, #s },
	PROTO_INIT_FLAGS(INIT_FLAG_ENTRY)
#undef INIT_FLAG_ENTRY
	/* Named for printing what the kernel offers; never asked for. */
	{ FUSE_POSIX_LOCKS, "posix_locks" }, { FUSE_EXPORT_SUPPORT, "export_support" },
	{ FUSE_SPLICE_WRITE, "splice_write" },
	{ FUSE_SPLICE_MOVE, "splice_move" }, { FUSE_SPLICE_READ, "splice_read" },
	{ FUSE_HAS_IOCTL_DIR, "has_ioctl_dir" }, { FUSE_HANDLE_KILLPRIV, "handle_killpriv" }, { FUSE_WRITEBACK_CACHE, "writeback_cache" },
	{ FUSE_NO_OPEN_SUPPORT, "no_open_support" },
	{ FUSE_ABORT_ERROR, "abort_error" }, { FUSE_CACHE_SYMLINKS, "cache_symlinks" },
	{ FUSE_NO_OPENDIR_SUPPORT, "no_opendir_support" },
	{ FUSE_EXPLICIT_INVAL_DATA, "explicit_inval_data" },
	{ FUSE_MAP_ALIGNMENT, "map_alignment" }, { FUSE_SUBMOUNTS, "submounts" },
	{ FUSE_HANDLE_KILLPRIV_V2, "handle_killpriv_v2" },
	{ FUSE_SETXATTR_EXT, "setxattr_ext" }, { FUSE_INIT_EXT, "init_ext" },
	{ FUSE_INIT_RESERVED, "init_reserved" }, { FUSE_SECURITY_CTX, "security_ctx" },
	{ FUSE_HAS_INODE_DAX, "has_inode_dax" },
	{ FUSE_CREATE_SUPP_GROUP, "create_supp_group" },
	{ FUSE_HAS_EXPIRE_ONLY, "has_expire_only" },
	{ FUSE_PASSTHROUGH, "passthrough" }, { FUSE_HAS_RESEND, "has_resend" },
	{ FUSE_ALLOW_IDMAP, "allow_idmap" }, { FUSE_OVER_IO_URING, "over_io_uring" },
	{ FUSE_REQUEST_TIMEOUT, "request_timeout" },
};

#define N_INIT_FLAGS (sizeof(init_flags) / sizeof(init_flags[0]))

const char *proto_init_flag_name(uint64_t bit)
{
	for (size_t i = 0; i < N_INIT_FLAGS; i++)
		if (init_flags[i].bit == bit)
			return init_flags[i].name;
	return NULL;
}

uint64_t proto_init_flag_bit(const char *name)
{
	uint64_t all = proto_init_wanted_all();

	for (size_t i = 0; i < N_INIT_FLAGS; i++)
		if ((init_flags[i].bit & all) && strcmp(init_flags[i].name, name) == 0)
			return init_flags[i].bit;
	return 0;
}

uint64_t proto_init_wanted_all(void)
{
	return 0
#define INIT_FLAG_BIT(f, s) | FUSE_##f
		PROTO_INIT_FLAGS(INIT_FLAG_BIT)
#undef INIT_FLAG_BIT
		;
}

char *proto_init_flags_text(uint64_t flags, char *buf, size_t size)
{
	size_t len = 0;

	if (size)
		buf[0] = '\0';
	for (int b = 0; b < 64; b++) {
		uint64_t bit = 1ULL << b;
		const char *name;
		char unknown[16];
		int n;

		if (!(flags & bit))
			continue;
		name = proto_init_flag_name(bit);
		if (!name) {
			snprintf(unknown, sizeof(unknown), "bit%d", b);
			name = unknown;
		}
		n = snprintf(buf + len, size > len ? size - len : 0, "%s%s",
			     len ? "," : "", name);
		if (n < 0 || (size_t)n >= (size > len ? size - len : 0)) {
			if (size > len)
				buf[len] = '\0'; /* whole names only */
			break;
		}
		len += (size_t)n;
	}
	return buf;
}

enum proto_init_verdict proto_init(const struct proto_in *in,
				   const struct proto_init_cfg *cfg,
				   struct proto_out *o, struct proto_init_result *r)
{
	struct fuse_init_in ii = { 0 };
	struct fuse_init_out *io = &o->arg.init;
	/* major, minor, max_readahead, flags: every kernel sends these. */
	const size_t base = offsetof(struct fuse_init_in, flags) + sizeof(ii.flags);

	memset(r, 0, sizeof(*r));
	if (in->arglen < base) {
		proto_out_init(o, in->h.unique, EIO);
		return PROTO_INIT_REFUSED;
	}
	memcpy(&ii, in->arg, in->arglen < sizeof(ii) ? in->arglen : sizeof(ii));
	r->kernel_major = ii.major;
	r->kernel_minor = ii.minor;
	r->offered = ii.flags;
	if ((ii.flags & FUSE_INIT_EXT) && in->arglen >= offsetof(struct fuse_init_in, flags2) +
						     sizeof(ii.flags2))
		r->offered |= (uint64_t)ii.flags2 << 32;

	proto_out_init(o, in->h.unique, 0);
	if (ii.major > FUSE_KERNEL_VERSION) {
		/* Say which major we speak; the kernel sends INIT again. */
		io->major = FUSE_KERNEL_VERSION;
		io->minor = PROTO_MINOR;
		o->arglen = sizeof(*io);
		return PROTO_INIT_RETRY;
	}
	if (ii.major < FUSE_KERNEL_VERSION || ii.minor < PROTO_MIN_MINOR) {
		proto_out_init(o, in->h.unique, EPROTO);
		return PROTO_INIT_REFUSED;
	}

	r->major = FUSE_KERNEL_VERSION;
	r->minor = ii.minor < PROTO_MINOR ? ii.minor : PROTO_MINOR;
	r->flags = r->offered & cfg->want;
	r->max_pages = (uint16_t)cfg->max_pages;
	/* Without FUSE_MAX_PAGES the kernel keeps its default of 32 pages
	 * per request: say no more than that we write. */
	r->max_write = (r->flags & FUSE_MAX_PAGES ? cfg->max_pages : 32) * cfg->page_size;
	r->max_readahead = ii.max_readahead;
	r->max_background = cfg->max_background;
	r->congestion_threshold = cfg->congestion_threshold;

	*io = (struct fuse_init_out){
		.major = r->major, .minor = r->minor,
		.max_readahead = r->max_readahead, .flags = (uint32_t)r->flags,
		.max_background = r->max_background,
		.congestion_threshold = r->congestion_threshold,
		.max_write = r->max_write, .time_gran = 1,
	};
	if (r->offered & FUSE_INIT_EXT) {
		io->flags |= FUSE_INIT_EXT;
		io->flags2 = (uint32_t)(r->flags >> 32);
	}
	if (r->flags & FUSE_MAX_PAGES)
		io->max_pages = r->max_pages;
	else
		r->max_pages = 32;
	o->arglen = sizeof(*io);
	return PROTO_INIT_OK;
}
