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

/* Copy the struct at the cursor into a local, aligned, or fail EIO. */
#define TAKE(cur, var) do {                                   \
	const void *src_ = take(cur, sizeof(var));           \
	if (!src_)                                            \
		return EIO;                                   \
	memcpy(&(var), src_, sizeof(var));                    \
} while (0)

#define TAKE_NAME(cur, dst) do {                              \
	(dst) = take_name(cur);                               \
	if (!(dst))                                           \
		return EIO;                                   \
} while (0)

static void set_fh(struct diofs_call *c, uint64_t fh)
{
	c->fi.fh = fh;
	c->has_fi = true;
}

static int decode_lookup(struct diofs_call *c, struct cursor *cur)
{
	TAKE_NAME(cur, c->name);
	return 0;
}

static int decode_getattr(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_getattr_in in;

	TAKE(cur, in);
	if (in.getattr_flags & FUSE_GETATTR_FH)
		set_fh(c, in.fh);
	return 0;
}

static int decode_setattr(struct diofs_call *c, struct cursor *cur)
{
	const unsigned int known = FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
		FUSE_SET_ATTR_GID | FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME |
		FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
		FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
	struct fuse_setattr_in in;

	TAKE(cur, in);
	c->to_set = (int)(in.valid & known);
	if (in.valid & FATTR_FH)
		set_fh(c, in.fh);
	c->attr.st_mode = in.mode;
	c->attr.st_uid = in.uid;
	c->attr.st_gid = in.gid;
	c->attr.st_size = (off_t)in.size;
	c->attr.st_atim.tv_sec = (time_t)in.atime;
	c->attr.st_atim.tv_nsec = in.atimensec;
	c->attr.st_mtim.tv_sec = (time_t)in.mtime;
	c->attr.st_mtim.tv_nsec = in.mtimensec;
	c->attr.st_ctim.tv_sec = (time_t)in.ctime;
	c->attr.st_ctim.tv_nsec = in.ctimensec;
	return 0;
}

static int decode_none(struct diofs_call *c, struct cursor *cur)
{
	(void)c;
	(void)cur;
	return 0;
}
#define decode_readlink decode_none
#define decode_statfs decode_none

static int decode_mknod(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_mknod_in in;

	TAKE(cur, in);
	c->mode = in.mode;
	c->rdev = in.rdev;
	c->umask = in.umask;
	TAKE_NAME(cur, c->name);
	return 0;
}

static int decode_mkdir(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_mkdir_in in;

	TAKE(cur, in);
	c->mode = in.mode;
	c->umask = in.umask;
	TAKE_NAME(cur, c->name);
	return 0;
}

#define decode_unlink decode_lookup
#define decode_rmdir decode_lookup
#define decode_removexattr decode_lookup

/* The entry's name, then the link's target. */
static int decode_symlink(struct diofs_call *c, struct cursor *cur)
{
	TAKE_NAME(cur, c->name);
	TAKE_NAME(cur, c->newname);
	return 0;
}

static int decode_rename(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_rename2_in in;

	TAKE(cur, in);
	c->newparent = in.newdir;
	c->flags = in.flags;
	TAKE_NAME(cur, c->name);
	TAKE_NAME(cur, c->newname);
	return 0;
}

/* FUSE_RENAME: the same without flags. */
static int decode_rename1(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_rename_in in;

	TAKE(cur, in);
	c->newparent = in.newdir;
	TAKE_NAME(cur, c->name);
	TAKE_NAME(cur, c->newname);
	return 0;
}

/* The request's node is the new parent; the inode linked is in the struct. */
static int decode_link(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_link_in in;

	TAKE(cur, in);
	c->newparent = c->ino;
	c->ino = in.oldnodeid;
	TAKE_NAME(cur, c->newname);
	return 0;
}

static int decode_open(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_open_in in;

	TAKE(cur, in);
	c->fi.flags = (int)in.flags;
	c->flags = in.flags;
	c->has_fi = true;
	return 0;
}
#define decode_opendir decode_open

static int decode_create(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_create_in in;

	TAKE(cur, in);
	c->fi.flags = (int)in.flags;
	c->flags = in.flags;
	c->has_fi = true;
	c->mode = in.mode;
	c->umask = in.umask;
	TAKE_NAME(cur, c->name);
	return 0;
}

static int decode_read(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_read_in in;

	TAKE(cur, in);
	set_fh(c, in.fh);
	c->fi.flags = (int)in.flags;
	if (in.read_flags & FUSE_READ_LOCKOWNER)
		c->fi.lock_owner = in.lock_owner;
	c->off = (off_t)in.offset;
	c->size = in.size;
	return 0;
}

static int decode_write(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_write_in in;
	const void *data;

	TAKE(cur, in);
	data = take(cur, in.size);
	if (!data)
		return EIO;
	set_fh(c, in.fh);
	c->fi.flags = (int)in.flags;
	c->fi.writepage = !!(in.write_flags & FUSE_WRITE_CACHE);
	if (in.write_flags & FUSE_WRITE_LOCKOWNER)
		c->fi.lock_owner = in.lock_owner;
	c->off = (off_t)in.offset;
	c->size = in.size;
	c->write_buf = (struct fuse_bufvec)FUSE_BUFVEC_INIT(in.size);
	c->write_buf.buf[0].mem = (void *)data;
	c->in_buf = &c->write_buf;
	return 0;
}

static int decode_flush(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_flush_in in;

	TAKE(cur, in);
	set_fh(c, in.fh);
	c->fi.flush = 1;
	c->fi.lock_owner = in.lock_owner;
	return 0;
}

static int decode_release(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_release_in in;

	TAKE(cur, in);
	set_fh(c, in.fh);
	c->fi.flags = (int)in.flags;
	c->fi.flush = !!(in.release_flags & FUSE_RELEASE_FLUSH);
	c->fi.flock_release = !!(in.release_flags & FUSE_RELEASE_FLOCK_UNLOCK);
	c->fi.lock_owner = in.lock_owner;
	return 0;
}
#define decode_releasedir decode_release

static int decode_fsync(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_fsync_in in;

	TAKE(cur, in);
	set_fh(c, in.fh);
	c->datasync = in.fsync_flags & FUSE_FSYNC_FDATASYNC;
	return 0;
}
#define decode_fsyncdir decode_fsync

static int decode_readdir(struct diofs_call *c, struct cursor *cur)
{
	return decode_read(c, cur);
}
#define decode_readdirplus decode_readdir

/* Without FUSE_SETXATTR_EXT (diofs does not ask for it) the struct is the
 * 8-byte compat one. */
static int decode_setxattr(struct diofs_call *c, struct cursor *cur)
{
	struct {
		uint32_t size, flags;
	} in;

	_Static_assert(sizeof(in) == FUSE_COMPAT_SETXATTR_IN_SIZE, "setxattr_in");
	TAKE(cur, in);
	TAKE_NAME(cur, c->name);
	c->value = take(cur, in.size);
	if (!c->value)
		return EIO;
	c->size = in.size;
	c->flags = in.flags;
	return 0;
}

static int decode_getxattr(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_getxattr_in in;

	TAKE(cur, in);
	c->size = in.size;
	TAKE_NAME(cur, c->name);
	return 0;
}

static int decode_listxattr(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_getxattr_in in;

	TAKE(cur, in);
	c->size = in.size;
	return 0;
}

static int decode_access(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_access_in in;

	TAKE(cur, in);
	c->mode = in.mask;
	return 0;
}

static int decode_fallocate(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_fallocate_in in;

	TAKE(cur, in);
	set_fh(c, in.fh);
	c->off = (off_t)in.offset;
	c->size = in.length;
	c->mode = in.mode;
	return 0;
}

static int decode_lseek(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_lseek_in in;

	TAKE(cur, in);
	set_fh(c, in.fh);
	c->off = (off_t)in.offset;
	c->whence = (int)in.whence;
	return 0;
}

static int decode_copy_file_range(struct diofs_call *c, struct cursor *cur)
{
	struct fuse_copy_file_range_in in;

	TAKE(cur, in);
	set_fh(c, in.fh_in);
	c->off = (off_t)in.off_in;
	c->ino_out = in.nodeid_out;
	c->fi_out.fh = in.fh_out;
	c->off_out = (off_t)in.off_out;
	c->size = in.len;
	c->flags = (unsigned int)in.flags;
	return 0;
}

/* BSD locks only (FUSE_FLOCK_LOCKS): POSIX locks stay the kernel's. */
static int decode_flock_common(struct diofs_call *c, struct cursor *cur, bool wait)
{
	struct fuse_lk_in in;

	TAKE(cur, in);
	if (!(in.lk_flags & FUSE_LK_FLOCK))
		return ENOSYS;
	set_fh(c, in.fh);
	c->fi.lock_owner = in.owner;
	switch (in.lk.type) {
	case F_RDLCK: c->lock_op = LOCK_SH; break;
	case F_WRLCK: c->lock_op = LOCK_EX; break;
	case F_UNLCK: c->lock_op = LOCK_UN; break;
	default: return EINVAL;
	}
	if (!wait)
		c->lock_op |= LOCK_NB;
	return 0;
}

static int decode_flock(struct diofs_call *c, struct cursor *cur)
{
	return decode_flock_common(c, cur, true);
}

static int decode_setlk(struct diofs_call *c, struct cursor *cur)
{
	return decode_flock_common(c, cur, false);
}

typedef int (*decode_fn)(struct diofs_call *c, struct cursor *cur);

struct opcode_entry {
	decode_fn decode; /* NULL: not an operation diofs runs */
	enum diofs_op op;
};

#define OPCODE_MAX (FUSE_COPY_FILE_RANGE + 1)

static const struct opcode_entry opcodes[OPCODE_MAX] = {
#define DIOFS_OP_DECODER(e, s, opc, h) [FUSE_##opc] = { decode_##s, DIOFS_OP_##e },
	DIOFS_OPS(DIOFS_OP_DECODER)
#undef DIOFS_OP_DECODER
	/* Older forms of two operations. */
	[FUSE_RENAME] = { decode_rename1, DIOFS_OP_RENAME },
	[FUSE_SETLK] = { decode_setlk, DIOFS_OP_FLOCK },
};

int proto_decode(const struct proto_in *in, struct diofs_call *c)
{
	struct cursor cur = { in->arg, in->arglen };
	const struct opcode_entry *ent;

	if (in->h.opcode >= OPCODE_MAX || !opcodes[in->h.opcode].decode)
		return ENOSYS;
	ent = &opcodes[in->h.opcode];
	memset(c, 0, sizeof(*c));
	c->op = ent->op;
	c->unique = in->h.unique;
	c->ino = in->h.nodeid;
	c->pid = (pid_t)in->h.pid;
	c->uid = in->h.uid;
	c->gid = in->h.gid;
	return ent->decode(c, &cur);
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

	io->major = r->major;
	io->minor = r->minor;
	io->max_readahead = r->max_readahead;
	io->flags = (uint32_t)r->flags;
	if (r->offered & FUSE_INIT_EXT) {
		io->flags |= FUSE_INIT_EXT;
		io->flags2 = (uint32_t)(r->flags >> 32);
	}
	io->max_background = r->max_background;
	io->congestion_threshold = r->congestion_threshold;
	io->max_write = r->max_write;
	io->time_gran = 1;
	if (r->flags & FUSE_MAX_PAGES)
		io->max_pages = r->max_pages;
	else
		r->max_pages = 32;
	o->arglen = sizeof(*io);
	return PROTO_INIT_OK;
}
