/* Unit tests of the FUSE protocol codec (src/daemon/fuse_proto.c): synthetic
 * requests, well formed, truncated and malformed, into calls; replies and
 * directory entries checked byte for byte against the kernel's structs;
 * INIT against the kernels diofs supports. */
#include <config.h>

#include "daemon/fuse_proto.h"
#include "harness/runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* ---- building requests ---- */

/* A request in a buffer of exactly its size (so that the sanitizer build
 * catches any read past it). */
struct req {
	char *buf;
	size_t len;
};

static struct req make_req(uint32_t opcode, uint64_t unique, uint64_t nodeid,
			   const void *a, size_t alen, const void *b, size_t blen)
{
	struct fuse_in_header h = {
		.len = (uint32_t)(sizeof(h) + alen + blen),
		.opcode = opcode,
		.unique = unique,
		.nodeid = nodeid,
		.uid = 1000,
		.gid = 100,
		.pid = 4242,
	};
	struct req r = { malloc(h.len), h.len };

	memcpy(r.buf, &h, sizeof(h));
	if (alen)
		memcpy(r.buf + sizeof(h), a, alen);
	if (blen)
		memcpy(r.buf + sizeof(h) + alen, b, blen);
	return r;
}

/* Every shorter form of r (the header's length cut with it, as a kernel
 * would have sent it) must be refused with EIO, reading nothing past it:
 * each struct, name (its NUL) and data is required. */
static void check_truncations(const struct req *r)
{
	for (size_t len = sizeof(struct fuse_in_header); len < r->len; len++) {
		char *copy = malloc(len);
		struct proto_in in;
		struct diofs_call c;

		memcpy(copy, r->buf, len);
		((struct fuse_in_header *)copy)->len = (uint32_t)len;
		CHECK_EQ(proto_in_parse(copy, len, &in), 0);
		CHECK_EQ(proto_decode(&in, &c), EIO);
		free(copy);
	}
}

static void free_req(struct req *r)
{
	free(r->buf);
}

/* The request built last (parsed(), decoded()), kept until the next: what
 * was parsed and decoded from it points into it. */
static struct req last;

/* opcode's request (unique 1, node nodeid) with a then b as its
 * arguments, parsed. */
static const struct proto_in *parsed(uint32_t opcode, uint64_t nodeid,
				     const void *a, size_t alen, const void *b, size_t blen)
{
	static struct proto_in in;

	free_req(&last);
	last = make_req(opcode, 1, nodeid, a, alen, b, blen);
	REQUIRE_EQ(proto_in_parse(last.buf, last.len, &in), 0);
	return &in;
}

/* opcode's request (node 2) decoded as op; every shorter form of it is
 * refused EIO. */
static const struct diofs_call *decoded(uint32_t opcode, enum diofs_op op,
					const void *a, size_t alen,
					const void *b, size_t blen)
{
	static struct diofs_call c;

	REQUIRE_EQ(proto_decode(parsed(opcode, 2, a, alen, b, blen), &c), 0);
	CHECK_EQ(c.op, op);
	check_truncations(&last);
	return &c;
}

/* What the decoder answers a request it must refuse. */
static int refused(uint32_t opcode, const void *a, size_t alen, const void *b, size_t blen)
{
	struct diofs_call c;

	return proto_decode(parsed(opcode, 2, a, alen, b, blen), &c);
}

/* ---- requests ---- */

TEST(header_length_must_match_bytes_read)
{
	struct fuse_in_header h = { .len = 40, .opcode = FUSE_GETATTR, .unique = 7 };
	char buf[64] = { 0 };
	struct proto_in in;

	memcpy(buf, &h, sizeof(h));
	/* shorter than a header: nothing to answer */
	CHECK_EQ(proto_in_parse(buf, 10, &in), -EIO);
	CHECK_EQ(in.h.unique, 0);
	/* the header's length disagrees with what was read: answerable */
	CHECK_EQ(proto_in_parse(buf, 48, &in), -EIO);
	CHECK_EQ(in.h.unique, 7);
	CHECK_EQ(proto_in_parse(buf, 40, &in), 0);
	CHECK_EQ(in.arglen, 0);
	/* extensions (8-byte units) are not arguments */
	h.total_extlen = 1;
	h.len = 48;
	memcpy(buf, &h, sizeof(h));
	CHECK_EQ(proto_in_parse(buf, 48, &in), 0);
	CHECK_EQ(in.arglen, 0);
	/* longer than what follows the header */
	h.total_extlen = 2;
	memcpy(buf, &h, sizeof(h));
	CHECK_EQ(proto_in_parse(buf, 48, &in), -EIO);
}

TEST(opcodes_not_served_answer_enosys)
{
	uint32_t ops[] = { FUSE_INIT, FUSE_FORGET, FUSE_INTERRUPT, FUSE_DESTROY, FUSE_IOCTL,
			   FUSE_POLL, FUSE_BMAP, FUSE_GETLK, 52 /* STATX */, 4096, 0xffffffff };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		CHECK_EQ(refused(ops[i], NULL, 0, NULL, 0), ENOSYS);
}

TEST(lookup_carries_caller_and_nul_terminated_name)
{
	const struct diofs_call *c = decoded(FUSE_LOOKUP, DIOFS_OP_LOOKUP, "name", 5, NULL, 0);

	CHECK_EQ(c->unique, 1);
	CHECK_EQ(c->ino, 2);
	CHECK_EQ(c->uid, 1000);
	CHECK_EQ(c->gid, 100);
	CHECK_EQ(c->pid, 4242);
	CHECK_STR(c->name, "name");
	CHECK(c->name == last.buf + sizeof(struct fuse_in_header),
	      "c->name == last.buf + sizeof(struct fuse_in_header)");
	/* no NUL: EIO */
	CHECK_EQ(refused(FUSE_LOOKUP, "name", 4, NULL, 0), EIO);
	CHECK_EQ(refused(FUSE_UNLINK, NULL, 0, NULL, 0), EIO);
	c = decoded(FUSE_UNLINK, DIOFS_OP_UNLINK, "gone", 5, NULL, 0);
	CHECK_STR(c->name, "gone");
	c = decoded(FUSE_RMDIR, DIOFS_OP_RMDIR, "dir", 4, NULL, 0);
	CHECK_STR(c->name, "dir");
}

TEST(getattr_and_setattr_arguments_decoded)
{
	struct fuse_getattr_in g = { .getattr_flags = FUSE_GETATTR_FH, .fh = 77 };
	struct fuse_setattr_in s = {
		.valid = FATTR_MODE | FATTR_SIZE | FATTR_FH | FATTR_MTIME | FATTR_LOCKOWNER,
		.fh = 88, .size = 4096, .mtime = 1000, .mtimensec = 5, .mode = 0640,
		.uid = 3, .gid = 4,
	};
	const struct diofs_call *c = decoded(FUSE_GETATTR, DIOFS_OP_GETATTR, &g, sizeof(g),
					     NULL, 0);

	CHECK(c->has_fi, "c->has_fi");
	CHECK_EQ(c->fi.fh, 77);
	g.getattr_flags = 0;
	c = decoded(FUSE_GETATTR, DIOFS_OP_GETATTR, &g, sizeof(g), NULL, 0);
	CHECK(!c->has_fi, "!c->has_fi");

	c = decoded(FUSE_SETATTR, DIOFS_OP_SETATTR, &s, sizeof(s), NULL, 0);
	/* FATTR_FH and FATTR_LOCKOWNER are not for the operation */
	CHECK_EQ(c->to_set, FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MTIME);
	CHECK(c->has_fi, "c->has_fi");
	CHECK_EQ(c->fi.fh, 88);
	CHECK_EQ(c->attr.st_size, 4096);
	CHECK_EQ(c->attr.st_mode, 0640);
	CHECK_EQ(c->attr.st_uid, 3);
	CHECK_EQ(c->attr.st_gid, 4);
	CHECK_EQ(c->attr.st_mtim.tv_sec, 1000);
	CHECK_EQ(c->attr.st_mtim.tv_nsec, 5);
}

TEST(entry_operations_decode_names_and_parents)
{
	struct fuse_mknod_in mk = { .mode = S_IFIFO | 0600, .rdev = 0, .umask = 022 };
	struct fuse_mkdir_in md = { .mode = 0755, .umask = 022 };
	struct fuse_rename2_in rn2 = { .newdir = 9, .flags = 1 /* RENAME_NOREPLACE */ };
	struct fuse_rename_in rn = { .newdir = 10 };
	struct fuse_link_in ln = { .oldnodeid = 33 };
	const struct diofs_call *c;

	c = decoded(FUSE_MKNOD, DIOFS_OP_MKNOD, &mk, sizeof(mk), "fifo", 5);
	CHECK(c->mode == (S_IFIFO | 0600) && c->umask == 022,
	      "c->mode == (S_IFIFO | 0600) && c->umask == 022");
	CHECK_STR(c->name, "fifo");

	c = decoded(FUSE_MKDIR, DIOFS_OP_MKDIR, &md, sizeof(md), "d", 2);
	CHECK(c->mode == 0755 && c->umask == 022, "c->mode == 0755 && c->umask == 022");
	CHECK_STR(c->name, "d");

	/* symlink: the entry's name, then the target */
	c = decoded(FUSE_SYMLINK, DIOFS_OP_SYMLINK, "link\0", 5, "../target", 10);
	CHECK_STR(c->name, "link");
	CHECK_STR(c->newname, "../target");

	c = decoded(FUSE_RENAME2, DIOFS_OP_RENAME, &rn2, sizeof(rn2), "a\0b", 4);
	CHECK(c->ino == 2 && c->newparent == 9 && c->flags == 1,
	      "c->ino == 2 && c->newparent == 9 && c->flags == 1");
	CHECK(strcmp(c->name, "a") == 0 && strcmp(c->newname, "b") == 0,
	      "strcmp(c->name, \"a\") == 0 && strcmp(c->newname, \"b\") == 0");

	c = decoded(FUSE_RENAME, DIOFS_OP_RENAME, &rn, sizeof(rn), "a\0b", 4);
	CHECK_EQ(c->newparent, 10);
	CHECK_EQ(c->flags, 0);
	CHECK_STR(c->newname, "b");

	/* link: the request's node is the new parent */
	c = decoded(FUSE_LINK, DIOFS_OP_LINK, &ln, sizeof(ln), "new", 4);
	CHECK(c->ino == 33 && c->newparent == 2, "c->ino == 33 && c->newparent == 2");
	CHECK_STR(c->newname, "new");
}

TEST(open_and_create_flags_decoded)
{
	struct fuse_open_in o = { .flags = O_RDWR | O_DIRECT };
	struct fuse_create_in cr = { .flags = O_WRONLY | O_CREAT, .mode = S_IFREG | 0644,
				     .umask = 027 };
	const struct diofs_call *c;
	enum diofs_op ops[] = { DIOFS_OP_OPEN, DIOFS_OP_OPENDIR };

	for (int i = 0; i < 2; i++) {
		c = decoded(i ? FUSE_OPENDIR : FUSE_OPEN, ops[i], &o, sizeof(o), NULL, 0);
		CHECK_EQ(c->fi.flags, O_RDWR | O_DIRECT);
		CHECK_EQ(c->flags, (unsigned int)(O_RDWR | O_DIRECT));
		CHECK(c->has_fi, "c->has_fi");
	}

	c = decoded(FUSE_CREATE, DIOFS_OP_CREATE, &cr, sizeof(cr), "new", 4);
	CHECK_EQ(c->fi.flags, O_WRONLY | O_CREAT);
	CHECK(c->mode == (S_IFREG | 0644) && c->umask == 027,
	      "c->mode == (S_IFREG | 0644) && c->umask == 027");
	CHECK_STR(c->name, "new");
}

TEST(read_and_write_arguments_and_data_decoded)
{
	struct fuse_read_in rd = { .fh = 5, .offset = 1 << 20, .size = 65536, .flags = O_RDONLY,
				   .read_flags = FUSE_READ_LOCKOWNER, .lock_owner = 98 };
	struct fuse_write_in wr = { .fh = 6, .offset = 4096, .size = 6,
				    .write_flags = FUSE_WRITE_LOCKOWNER, .lock_owner = 99 };
	const uint32_t reads[] = { FUSE_READ, FUSE_READDIR, FUSE_READDIRPLUS };
	const enum diofs_op read_ops[] = { DIOFS_OP_READ, DIOFS_OP_READDIR,
					   DIOFS_OP_READDIRPLUS };
	const struct diofs_call *c;

	for (int i = 0; i < 3; i++) {
		c = decoded(reads[i], read_ops[i], &rd, sizeof(rd), NULL, 0);
		CHECK(c->fi.fh == 5 && c->off == 1 << 20 && c->size == 65536,
		      "c->fi.fh == 5 && c->off == 1 << 20 && c->size == 65536");
		CHECK_EQ(c->fi.lock_owner, 98);
	}

	c = decoded(FUSE_WRITE, DIOFS_OP_WRITE, &wr, sizeof(wr), "abcdef", 6);
	CHECK(c->fi.fh == 6 && c->off == 4096 && c->size == 6,
	      "c->fi.fh == 6 && c->off == 4096 && c->size == 6");
	CHECK_EQ(c->fi.lock_owner, 99);
	CHECK(c->in_buf == &c->write_buf, "c->in_buf == &c->write_buf");
	CHECK_EQ(c->in_buf->buf[0].size, 6);
	CHECK_EQ(memcmp(c->in_buf->buf[0].mem, "abcdef", 6), 0);
	/* a size beyond what was sent */
	wr.size = 0xffffffff;
	CHECK_EQ(refused(FUSE_WRITE, &wr, sizeof(wr), "abcdef", 6), EIO);
}

TEST(file_operations_arguments_decoded)
{
	struct fuse_release_in rel = { .fh = 1, .flags = O_RDONLY,
				       .release_flags = FUSE_RELEASE_FLUSH |
						        FUSE_RELEASE_FLOCK_UNLOCK,
				       .lock_owner = 4 };
	struct fuse_fsync_in fs = { .fh = 2, .fsync_flags = FUSE_FSYNC_FDATASYNC };
	struct fuse_flush_in fl = { .fh = 3, .lock_owner = 5 };
	struct fuse_fallocate_in fa = { .fh = 4, .offset = 10, .length = 20, .mode = 1 };
	struct fuse_lseek_in ls = { .fh = 5, .offset = 30, .whence = SEEK_DATA };
	struct fuse_copy_file_range_in cf = { .fh_in = 6, .off_in = 1, .nodeid_out = 7,
					      .fh_out = 8, .off_out = 2, .len = 3 };
	struct fuse_access_in ac = { .mask = 4 };
	const struct diofs_call *c;

	c = decoded(FUSE_RELEASE, DIOFS_OP_RELEASE, &rel, sizeof(rel), NULL, 0);
	CHECK(c->fi.flush && c->fi.flock_release && c->fi.fh == 1,
	      "c->fi.flush && c->fi.flock_release && c->fi.fh == 1");
	CHECK_EQ(c->fi.lock_owner, 4);
	c = decoded(FUSE_RELEASEDIR, DIOFS_OP_RELEASEDIR, &rel, sizeof(rel), NULL, 0);
	CHECK_EQ(c->fi.lock_owner, 4);

	c = decoded(FUSE_FSYNC, DIOFS_OP_FSYNC, &fs, sizeof(fs), NULL, 0);
	CHECK(c->datasync == 1 && c->fi.fh == 2, "c->datasync == 1 && c->fi.fh == 2");
	c = decoded(FUSE_FSYNCDIR, DIOFS_OP_FSYNCDIR, &fs, sizeof(fs), NULL, 0);
	CHECK(c->datasync == 1 && c->fi.fh == 2, "c->datasync == 1 && c->fi.fh == 2");

	c = decoded(FUSE_FLUSH, DIOFS_OP_FLUSH, &fl, sizeof(fl), NULL, 0);
	CHECK(c->fi.flush && c->fi.fh == 3, "c->fi.flush && c->fi.fh == 3");
	CHECK_EQ(c->fi.lock_owner, 5);

	c = decoded(FUSE_FALLOCATE, DIOFS_OP_FALLOCATE, &fa, sizeof(fa), NULL, 0);
	CHECK(c->off == 10 && c->size == 20 && c->mode == 1 && c->fi.fh == 4,
	      "c->off == 10 && c->size == 20 && c->mode == 1 && c->fi.fh == 4");

	c = decoded(FUSE_LSEEK, DIOFS_OP_LSEEK, &ls, sizeof(ls), NULL, 0);
	CHECK(c->off == 30 && c->whence == SEEK_DATA && c->fi.fh == 5,
	      "c->off == 30 && c->whence == SEEK_DATA && c->fi.fh == 5");

	c = decoded(FUSE_COPY_FILE_RANGE, DIOFS_OP_COPY_FILE_RANGE, &cf, sizeof(cf), NULL, 0);
	CHECK(c->fi.fh == 6 && c->off == 1 && c->ino_out == 7 && c->fi_out.fh == 8 &&
	      c->off_out == 2 && c->size == 3, "copy_file_range's arguments");

	c = decoded(FUSE_ACCESS, DIOFS_OP_ACCESS, &ac, sizeof(ac), NULL, 0);
	CHECK_EQ(c->mode, 4);

	decoded(FUSE_STATFS, DIOFS_OP_STATFS, NULL, 0, NULL, 0);
	decoded(FUSE_READLINK, DIOFS_OP_READLINK, NULL, 0, NULL, 0);
}

TEST(xattr_names_and_values_decoded)
{
	struct { uint32_t size, flags; } sx = { 3, 1 /* XATTR_CREATE */ };
	struct fuse_getxattr_in gx = { .size = 100 };
	const struct diofs_call *c;

	/* compat setxattr_in (8 bytes), name, value */
	c = decoded(FUSE_SETXATTR, DIOFS_OP_SETXATTR, &sx, sizeof(sx), "user.a\0xyz", 10);
	CHECK_STR(c->name, "user.a");
	CHECK(c->size == 3 && c->flags == 1, "c->size == 3 && c->flags == 1");
	CHECK_EQ(memcmp(c->value, "xyz", 3), 0);

	c = decoded(FUSE_GETXATTR, DIOFS_OP_GETXATTR, &gx, sizeof(gx), "user.a", 7);
	CHECK_EQ(c->size, 100);
	CHECK_STR(c->name, "user.a");

	c = decoded(FUSE_LISTXATTR, DIOFS_OP_LISTXATTR, &gx, sizeof(gx), NULL, 0);
	CHECK_EQ(c->size, 100);

	c = decoded(FUSE_REMOVEXATTR, DIOFS_OP_REMOVEXATTR, "user.a", 7, NULL, 0);
	CHECK_STR(c->name, "user.a");
}

TEST(flock_decoded_posix_locks_refused)
{
	struct fuse_lk_in lk = { .fh = 3, .owner = 8, .lk = { .type = F_WRLCK },
				 .lk_flags = FUSE_LK_FLOCK };
	const struct {
		uint32_t opcode, type;
		int lock_op;
	} cases[] = {
		{ FUSE_SETLKW, F_WRLCK, LOCK_EX },
		{ FUSE_SETLKW, F_UNLCK, LOCK_UN },
		{ FUSE_SETLK, F_RDLCK, LOCK_SH | LOCK_NB },
		{ FUSE_SETLK, F_UNLCK, LOCK_UN | LOCK_NB },
	};
	const struct diofs_call *c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lk.lk.type = cases[i].type;
		c = decoded(cases[i].opcode, DIOFS_OP_FLOCK, &lk, sizeof(lk), NULL, 0);
		CHECK_EQ(c->lock_op, cases[i].lock_op);
		CHECK(c->fi.fh == 3 && c->fi.lock_owner == 8,
		      "c->fi.fh == 3 && c->fi.lock_owner == 8");
	}

	lk.lk.type = 77;
	CHECK_EQ(refused(FUSE_SETLK, &lk, sizeof(lk), NULL, 0), EINVAL);
	/* POSIX locks are not diofs's */
	lk.lk.type = F_WRLCK;
	lk.lk_flags = 0;
	CHECK_EQ(refused(FUSE_SETLKW, &lk, sizeof(lk), NULL, 0), ENOSYS);
}

TEST(forget_and_interrupt_bounded_by_bytes_sent)
{
	struct fuse_forget_in f = { .nlookup = 3 };
	struct {
		struct fuse_batch_forget_in b;
		struct fuse_forget_one one[2];
	} bf = { { .count = 2 }, { { 10, 1 }, { 11, 2 } } };
	struct fuse_interrupt_in ii = { .unique = 1234 };
	const struct proto_in *in;

	in = parsed(FUSE_FORGET, 7, &f, sizeof(f), NULL, 0);
	REQUIRE_EQ(proto_forget_count(in), 1);
	CHECK(proto_forget_at(in, 0).nodeid == 7 && proto_forget_at(in, 0).nlookup == 3,
	      "proto_forget_at(in, 0).nodeid == 7 && proto_forget_at(in, 0).nlookup == 3");
	in = parsed(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), NULL, 0);
	REQUIRE_EQ(proto_forget_count(in), 2);
	CHECK(proto_forget_at(in, 0).nodeid == 10 && proto_forget_at(in, 0).nlookup == 1,
	      "proto_forget_at(in, 0).nodeid == 10 && proto_forget_at(in, 0).nlookup == 1");
	CHECK(proto_forget_at(in, 1).nodeid == 11 && proto_forget_at(in, 1).nlookup == 2,
	      "proto_forget_at(in, 1).nodeid == 11 && proto_forget_at(in, 1).nlookup == 2");

	/* a count beyond the entries sent; a forget without its struct */
	bf.b.count = 3;
	in = parsed(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), NULL, 0);
	CHECK_EQ(proto_forget_count(in), -EIO);
	CHECK_EQ(proto_forget_count(parsed(FUSE_FORGET, 7, &f, 4, NULL, 0)), -EIO);

	in = parsed(FUSE_INTERRUPT, 0, &ii, sizeof(ii), NULL, 0);
	CHECK_EQ(proto_interrupt_target(in), 1234);
	CHECK_EQ(proto_interrupt_target(parsed(FUSE_INTERRUPT, 0, &ii, 4, NULL, 0)), 0);
}

/* ---- replies ---- */

/* The bytes writev would send. */
static size_t flatten(struct proto_out *o, char *out)
{
	struct iovec iov[3];
	int n = proto_out_iov(o, iov);
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	CHECK_EQ(len, o->h.len);
	return len;
}

/* o is want (len bytes), byte for byte. */
static void check_reply(struct proto_out *o, const void *want, size_t len)
{
	char out[512];

	REQUIRE_EQ(flatten(o, out), len);
	CHECK_EQ(memcmp(out, want, len), 0);
}

TEST(error_reply_is_a_bare_header)
{
	struct fuse_out_header want = { .len = 16, .error = -ENOENT, .unique = 42 };
	struct proto_out o;
	char out[64];

	proto_out_init(&o, 42, ENOENT);
	check_reply(&o, &want, sizeof(want));
	proto_out_init(&o, 43, 0);
	CHECK_EQ(flatten(&o, out), 16);
	CHECK_EQ(((struct fuse_out_header *)out)->error, 0);
}

static struct stat sample_stat(void)
{
	struct stat st = { 0 };

	st.st_ino = 1234;
	st.st_size = 99999;
	st.st_blocks = 200;
	st.st_atim = (struct timespec){ 11, 12 };
	st.st_mtim = (struct timespec){ 21, 22 };
	st.st_ctim = (struct timespec){ 31, 32 };
	st.st_mode = S_IFREG | 0644;
	st.st_nlink = 2;
	st.st_uid = 1000;
	st.st_gid = 100;
	st.st_rdev = 0;
	st.st_blksize = 4096;
	return st;
}

static struct fuse_attr sample_attr(void)
{
	return (struct fuse_attr){
		.ino = 1234, .size = 99999, .blocks = 200, .atime = 11, .mtime = 21,
		.ctime = 31, .atimensec = 12, .mtimensec = 22, .ctimensec = 32,
		.mode = S_IFREG | 0644, .nlink = 2, .uid = 1000, .gid = 100,
		.blksize = 4096,
	};
}

TEST(entry_and_attr_replies_byte_for_byte)
{
	struct fuse_entry_param e = { .ino = 77, .generation = 3, .attr = sample_stat(),
				      .attr_timeout = 1.5, .entry_timeout = 2.0 };
	struct {
		struct fuse_out_header h;
		struct fuse_entry_out e;
	} want = {
		{ sizeof(want), 0, 5 },
		{ .nodeid = 77, .generation = 3, .entry_valid = 2, .attr_valid = 1,
		  .entry_valid_nsec = 0, .attr_valid_nsec = 500000000, .attr = sample_attr() },
	};
	struct {
		struct fuse_out_header h;
		struct fuse_attr_out a;
	} want_attr = { { sizeof(want_attr), 0, 6 },
			{ .attr_valid = 0, .attr_valid_nsec = 250000000, .attr = sample_attr() } };
	struct proto_out o;

	proto_out_init(&o, 5, 0);
	proto_put_entry(&o, &e);
	check_reply(&o, &want, sizeof(want));

	struct stat st = sample_stat();
	proto_out_init(&o, 6, 0);
	proto_put_attr(&o, &st, 0.25);
	check_reply(&o, &want_attr, sizeof(want_attr));
}

TEST(open_and_create_replies_byte_for_byte)
{
	struct fuse_file_info fi = { .direct_io = 1, .fh = 0xdeadbeef };
	struct fuse_entry_param e = { .ino = 9, .attr = sample_stat(), .attr_timeout = 1,
				      .entry_timeout = 1 };
	struct {
		struct fuse_out_header h;
		struct fuse_open_out o;
	} want = { { sizeof(want), 0, 8 },
		   { .fh = 0xdeadbeef,
		     .open_flags = FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES } };
	struct {
		struct fuse_out_header h;
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} want_create = { { sizeof(want_create), 0, 9 },
			  { .nodeid = 9, .entry_valid = 1, .attr_valid = 1,
			    .attr = sample_attr() },
			  { .fh = 0xdeadbeef, .open_flags = FOPEN_DIRECT_IO } };
	struct proto_out o;

	proto_out_init(&o, 8, 0);
	proto_put_open(&o, fi.fh, proto_open_flags(&fi, true));
	check_reply(&o, &want, sizeof(want));

	proto_out_init(&o, 9, 0);
	proto_put_create(&o, &e, fi.fh, proto_open_flags(&fi, false));
	check_reply(&o, &want_create, sizeof(want_create));

	/* no FOPEN_DIRECT_IO: no parallel direct writes either */
	fi.direct_io = 0;
	fi.keep_cache = 1;
	CHECK_EQ(proto_open_flags(&fi, true), FOPEN_KEEP_CACHE);
}

TEST(statfs_write_xattr_lseek_data_replies_byte_for_byte)
{
	struct statvfs sv = { .f_bsize = 4096, .f_frsize = 4096, .f_blocks = 100,
			      .f_bfree = 50, .f_bavail = 40, .f_files = 30, .f_ffree = 20,
			      .f_namemax = 255 };
	struct {
		struct fuse_out_header h;
		struct fuse_statfs_out s;
	} want_statfs = { { sizeof(want_statfs), 0, 1 },
			  { { .blocks = 100, .bfree = 50, .bavail = 40, .files = 30,
			      .ffree = 20, .bsize = 4096, .namelen = 255, .frsize = 4096 } } };
	struct {
		struct fuse_out_header h;
		struct fuse_write_out w;
	} want_write = { { sizeof(want_write), 0, 2 }, { .size = 65536 } };
	struct {
		struct fuse_out_header h;
		struct fuse_getxattr_out x;
	} want_xattr = { { sizeof(want_xattr), 0, 3 }, { .size = 17 } };
	struct {
		struct fuse_out_header h;
		struct fuse_lseek_out l;
	} want_lseek = { { sizeof(want_lseek), 0, 4 }, { .offset = 8192 } };
	struct proto_out o[5];
	char out[256];

	for (int i = 0; i < 5; i++)
		proto_out_init(&o[i], (uint64_t)i + 1, 0);
	proto_put_statfs(&o[0], &sv);
	proto_put_write(&o[1], 65536);
	proto_put_xattr_size(&o[2], 17);
	proto_put_lseek(&o[3], 8192);
	check_reply(&o[0], &want_statfs, sizeof(want_statfs));
	check_reply(&o[1], &want_write, sizeof(want_write));
	check_reply(&o[2], &want_xattr, sizeof(want_xattr));
	check_reply(&o[3], &want_lseek, sizeof(want_lseek));

	/* data replies: the header, then the bytes as given */
	proto_put_data(&o[4], "hello", 5);
	REQUIRE_EQ(flatten(&o[4], out), 21);
	CHECK_EQ(((struct fuse_out_header *)out)->len, 21);
	CHECK_EQ(memcmp(out + 16, "hello", 5), 0);
}

TEST(dirents_padded_and_never_past_the_buffer)
{
	struct stat st = sample_stat();
	struct fuse_entry_param e = { .ino = 55, .attr = sample_stat(), .attr_timeout = 1,
				      .entry_timeout = 1 };
	char buf[256], want[256];
	struct fuse_dirent de = { .ino = 1234, .off = 7, .namelen = 2, .type = DT_REG };
	struct fuse_entry_out eo = { .nodeid = 55, .entry_valid = 1, .attr_valid = 1,
				     .attr = sample_attr() };
	size_t n;

	/* 24 bytes of dirent, "ab", padding to 32 */
	memset(buf, 0x5a, sizeof(buf));
	memset(want, 0, sizeof(want));
	memcpy(want, &de, FUSE_NAME_OFFSET);
	memcpy(want + FUSE_NAME_OFFSET, "ab", 2);
	n = proto_add_dirent(buf, sizeof(buf), "ab", &st, 7);
	REQUIRE_EQ(n, 32);
	CHECK_EQ(memcmp(buf, want, 32), 0);
	CHECK_EQ((unsigned char)buf[32], 0x5a); /* nothing past it */
	/* no room: the size it needs, nothing written */
	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ(proto_add_dirent(buf, 31, "ab", &st, 7), 32);
	CHECK_EQ((unsigned char)buf[0], 0x5a);

	/* direntplus: the entry, then the dirent */
	memset(buf, 0x5a, sizeof(buf));
	memset(want, 0, sizeof(want));
	memcpy(want, &eo, sizeof(eo));
	de.ino = 1234;
	de.namelen = 3;
	memcpy(want + sizeof(eo), &de, FUSE_NAME_OFFSET);
	memcpy(want + sizeof(eo) + FUSE_NAME_OFFSET, "abc", 3);
	n = proto_add_direntplus(buf, sizeof(buf), "abc", &e, 7);
	REQUIRE_EQ(n, FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + 3));
	CHECK_EQ(memcmp(buf, want, n), 0);
	CHECK_EQ(proto_add_direntplus(buf, n - 1, "abc", &e, 7), n);
}

/* ---- INIT ---- */

static const struct proto_init_cfg cfg = {
	.want = FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_ASYNC_DIO | FUSE_DIRECT_IO_ALLOW_MMAP,
	.max_background = 1024,
	.congestion_threshold = 768,
	.max_pages = 256,
	.page_size = 4096,
};

/* What proto_init made of an INIT request (arglen bytes of its struct). */
struct init_answer {
	enum proto_init_verdict verdict;
	struct proto_init_result res;
	char out[256];            /* the reply's bytes */
	struct fuse_out_header h; /* its header */
	struct fuse_init_out io;  /* and what follows it */
};

static struct init_answer init(uint32_t major, uint32_t minor, uint64_t flags,
			       size_t arglen)
{
	struct fuse_init_in ii = {
		.major = major, .minor = minor, .max_readahead = 131072,
		.flags = (uint32_t)flags, .flags2 = (uint32_t)(flags >> 32),
	};
	struct init_answer a = { 0 };
	struct proto_out o;

	a.verdict = proto_init(parsed(FUSE_INIT, 0, &ii, arglen, NULL, 0), &cfg, &o, &a.res);
	flatten(&o, a.out);
	memcpy(&a.h, a.out, sizeof(a.h));
	memcpy(&a.io, a.out + sizeof(a.h), sizeof(a.io));
	return a;
}

/* Debian 6.1: 7.38, flags2 present (INIT_EXT), no DIRECT_IO_ALLOW_MMAP. */
TEST(init_with_linux_6_1_answered_byte_for_byte)
{
	uint64_t offered = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_MAX_PAGES |
			   FUSE_ASYNC_DIO | FUSE_INIT_EXT | FUSE_SECURITY_CTX;
	struct init_answer a = init(7, 38, offered, sizeof(struct fuse_init_in));
	struct {
		struct fuse_out_header h;
		struct fuse_init_out i;
	} want = { { sizeof(want), 0, 1 },
		   { .major = 7, .minor = 38, .max_readahead = 131072,
		     .flags = FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_ASYNC_DIO | FUSE_INIT_EXT,
		     .max_background = 1024, .congestion_threshold = 768,
		     .max_write = 1 << 20, .time_gran = 1, .max_pages = 256, .flags2 = 0 } };

	REQUIRE_EQ(a.verdict, PROTO_INIT_OK);
	CHECK_EQ(memcmp(a.out, &want, sizeof(want)), 0);
	CHECK_EQ(a.res.offered, offered);
	CHECK_EQ(a.res.flags, FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_ASYNC_DIO);
	CHECK_EQ(a.res.minor, 38);
}

/* 6.18 (7.45): DIRECT_IO_ALLOW_MMAP in flags2, the reply capped at 7.41. */
TEST(init_with_a_newer_kernel_capped_at_our_minor)
{
	uint64_t offered = FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_INIT_EXT |
			   FUSE_DIRECT_IO_ALLOW_MMAP | FUSE_OVER_IO_URING;
	struct init_answer a = init(7, 45, offered, sizeof(struct fuse_init_in));

	REQUIRE_EQ(a.verdict, PROTO_INIT_OK);
	CHECK_EQ(a.io.minor, PROTO_MINOR);
	CHECK_EQ(a.io.flags, FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_INIT_EXT);
	CHECK_EQ(a.io.flags2, FUSE_DIRECT_IO_ALLOW_MMAP >> 32);
	CHECK_EQ(a.res.flags, FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_DIRECT_IO_ALLOW_MMAP);
}

/* A kernel without INIT_EXT: flags2 neither read nor written, and without
 * MAX_PAGES the kernel's 32 pages bound max_write. */
TEST(init_without_init_ext_keeps_32_pages)
{
	/* the 7.31-era init_in: 16 bytes */
	struct init_answer a = init(7, 31, FUSE_ASYNC_READ | FUSE_DIRECT_IO_ALLOW_MMAP, 16);

	REQUIRE_EQ(a.verdict, PROTO_INIT_OK);
	CHECK_EQ(a.io.flags, FUSE_ASYNC_READ);
	CHECK_EQ(a.io.flags2, 0);
	CHECK_EQ(a.io.max_pages, 0);
	CHECK_EQ(a.io.max_write, 32 * 4096);
	CHECK_EQ(a.res.max_pages, 32);
}

TEST(init_refuses_other_versions_and_short_requests)
{
	struct init_answer a;

	/* a newer major: say 7, expect INIT again */
	a = init(8, 0, 0, sizeof(struct fuse_init_in));
	CHECK_EQ(a.verdict, PROTO_INIT_RETRY);
	CHECK_EQ(a.h.error, 0);
	CHECK_EQ(a.io.major, 7);
	/* too old */
	a = init(7, PROTO_MIN_MINOR - 1, 0, sizeof(struct fuse_init_in));
	CHECK_EQ(a.verdict, PROTO_INIT_REFUSED);
	CHECK_EQ(a.h.error, -EPROTO);
	CHECK_EQ(a.h.len, 16);
	a = init(6, 99, 0, sizeof(struct fuse_init_in));
	CHECK_EQ(a.verdict, PROTO_INIT_REFUSED);
	/* truncated */
	a = init(7, 38, 0, 12);
	CHECK_EQ(a.verdict, PROTO_INIT_REFUSED);
	CHECK_EQ(a.h.error, -EIO);
}

TEST(init_flag_names_both_ways)
{
	char buf[64];

	CHECK_EQ(proto_init_flag_bit("direct_io_allow_mmap"), 1ULL << 36);
	CHECK_EQ(proto_init_flag_bit("async_dio"), FUSE_ASYNC_DIO);
	/* names diofs never asks for cannot be switched off */
	CHECK_EQ(proto_init_flag_bit("posix_locks"), 0);
	CHECK_EQ(proto_init_flag_bit("nonsense"), 0);
	CHECK_STR(proto_init_flag_name(FUSE_OVER_IO_URING), "over_io_uring");
	CHECK_STR(proto_init_flags_text(FUSE_ASYNC_READ | (1ULL << 63), buf,
					sizeof(buf)), "async_read,bit63");
	CHECK_STR(proto_init_flags_text(0, buf, sizeof(buf)), "");
	/* cut at a name, never in one */
	CHECK_STR(proto_init_flags_text(FUSE_ASYNC_READ | FUSE_ASYNC_DIO, buf,
					15), "async_read");
	CHECK(!(proto_init_wanted_all() & (FUSE_POSIX_LOCKS | FUSE_WRITEBACK_CACHE |
					   FUSE_SPLICE_READ | FUSE_PASSTHROUGH |
					   FUSE_HANDLE_KILLPRIV | FUSE_EXPORT_SUPPORT)), "INIT may ask for none of these");
}

TEST_MAIN("test_fuse_proto")
