/* Unit tests of the FUSE protocol codec (src/daemon/fuse_proto.c): synthetic
 * requests, well formed, truncated and malformed, into calls; replies and
 * directory entries checked byte for byte against the kernel's structs;
 * INIT against the kernels diofs supports. */
#include <config.h>

#include "daemon/fuse_proto.h"

#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

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

/* Parse and decode r; the decoder's result. */
static int decode(const struct req *r, struct diofs_call *c)
{
	struct proto_in in;

	CU_ASSERT_EQUAL_FATAL(proto_in_parse(r->buf, r->len, &in), 0);
	return proto_decode(&in, c);
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
		CU_ASSERT_EQUAL(proto_in_parse(copy, len, &in), 0);
		CU_ASSERT_EQUAL(proto_decode(&in, &c), EIO);
		free(copy);
	}
}

static void free_req(struct req *r)
{
	free(r->buf);
}

/* ---- requests ---- */

static void test_parse_header(void)
{
	struct fuse_in_header h = { .len = 40, .opcode = FUSE_GETATTR, .unique = 7 };
	char buf[64] = { 0 };
	struct proto_in in;

	memcpy(buf, &h, sizeof(h));
	/* shorter than a header: nothing to answer */
	CU_ASSERT_EQUAL(proto_in_parse(buf, 10, &in), -EIO);
	CU_ASSERT_EQUAL(in.h.unique, 0);
	/* the header's length disagrees with what was read: answerable */
	CU_ASSERT_EQUAL(proto_in_parse(buf, 48, &in), -EIO);
	CU_ASSERT_EQUAL(in.h.unique, 7);
	CU_ASSERT_EQUAL(proto_in_parse(buf, 40, &in), 0);
	CU_ASSERT_EQUAL(in.arglen, 0);
	/* extensions (8-byte units) are not arguments */
	h.total_extlen = 1;
	h.len = 48;
	memcpy(buf, &h, sizeof(h));
	CU_ASSERT_EQUAL(proto_in_parse(buf, 48, &in), 0);
	CU_ASSERT_EQUAL(in.arglen, 0);
	/* longer than what follows the header */
	h.total_extlen = 2;
	memcpy(buf, &h, sizeof(h));
	CU_ASSERT_EQUAL(proto_in_parse(buf, 48, &in), -EIO);
}

static void test_unknown_opcodes(void)
{
	uint32_t ops[] = { FUSE_INIT, FUSE_FORGET, FUSE_INTERRUPT, FUSE_DESTROY, FUSE_IOCTL,
			   FUSE_POLL, FUSE_BMAP, FUSE_GETLK, 52 /* STATX */, 4096, 0xffffffff };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct req r = make_req(ops[i], 9, 1, NULL, 0, NULL, 0);
		struct diofs_call c;

		CU_ASSERT_EQUAL(decode(&r, &c), ENOSYS);
		free_req(&r);
	}
}

static void test_lookup(void)
{
	struct req r = make_req(FUSE_LOOKUP, 11, 5, "name", 5, NULL, 0);
	struct diofs_call c;

	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.op, DIOFS_OP_LOOKUP);
	CU_ASSERT_EQUAL(c.unique, 11);
	CU_ASSERT_EQUAL(c.ino, 5);
	CU_ASSERT_EQUAL(c.uid, 1000);
	CU_ASSERT_EQUAL(c.gid, 100);
	CU_ASSERT_EQUAL(c.pid, 4242);
	CU_ASSERT_STRING_EQUAL(c.name, "name");
	CU_ASSERT_PTR_EQUAL(c.name, r.buf + sizeof(struct fuse_in_header));
	free_req(&r);
	/* no NUL: EIO */
	r = make_req(FUSE_LOOKUP, 11, 5, "name", 4, NULL, 0);
	CU_ASSERT_EQUAL(decode(&r, &c), EIO);
	free_req(&r);
	r = make_req(FUSE_UNLINK, 12, 5, NULL, 0, NULL, 0);
	CU_ASSERT_EQUAL(decode(&r, &c), EIO);
	free_req(&r);
}

static void test_getattr_setattr(void)
{
	struct fuse_getattr_in g = { .getattr_flags = FUSE_GETATTR_FH, .fh = 77 };
	struct fuse_setattr_in s = {
		.valid = FATTR_MODE | FATTR_SIZE | FATTR_FH | FATTR_MTIME | FATTR_LOCKOWNER,
		.fh = 88, .size = 4096, .mtime = 1000, .mtimensec = 5, .mode = 0640,
		.uid = 3, .gid = 4,
	};
	struct diofs_call c;
	struct req r = make_req(FUSE_GETATTR, 1, 2, &g, sizeof(g), NULL, 0);

	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT(c.has_fi);
	CU_ASSERT_EQUAL(c.fi.fh, 77);
	check_truncations(&r);
	free_req(&r);
	g.getattr_flags = 0;
	r = make_req(FUSE_GETATTR, 1, 2, &g, sizeof(g), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT(!c.has_fi);
	free_req(&r);

	r = make_req(FUSE_SETATTR, 1, 2, &s, sizeof(s), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.op, DIOFS_OP_SETATTR);
	/* FATTR_FH and FATTR_LOCKOWNER are not for the operation */
	CU_ASSERT_EQUAL(c.to_set, FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MTIME);
	CU_ASSERT(c.has_fi);
	CU_ASSERT_EQUAL(c.fi.fh, 88);
	CU_ASSERT_EQUAL(c.attr.st_size, 4096);
	CU_ASSERT_EQUAL(c.attr.st_mode, 0640);
	CU_ASSERT_EQUAL(c.attr.st_uid, 3);
	CU_ASSERT_EQUAL(c.attr.st_gid, 4);
	CU_ASSERT_EQUAL(c.attr.st_mtim.tv_sec, 1000);
	CU_ASSERT_EQUAL(c.attr.st_mtim.tv_nsec, 5);
	check_truncations(&r);
	free_req(&r);
}

static void test_names(void)
{
	struct fuse_mknod_in mk = { .mode = S_IFIFO | 0600, .rdev = 0, .umask = 022 };
	struct fuse_mkdir_in md = { .mode = 0755, .umask = 022 };
	struct fuse_rename2_in rn2 = { .newdir = 9, .flags = 1 /* RENAME_NOREPLACE */ };
	struct fuse_rename_in rn = { .newdir = 10 };
	struct fuse_link_in ln = { .oldnodeid = 33 };
	struct diofs_call c;
	struct req r;

	r = make_req(FUSE_MKNOD, 1, 2, &mk, sizeof(mk), "fifo", 5);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.mode, S_IFIFO | 0600);
	CU_ASSERT_EQUAL(c.umask, 022);
	CU_ASSERT_STRING_EQUAL(c.name, "fifo");
	check_truncations(&r);
	free_req(&r);

	r = make_req(FUSE_MKDIR, 1, 2, &md, sizeof(md), "d", 2);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.op, DIOFS_OP_MKDIR);
	CU_ASSERT_EQUAL(c.mode, 0755);
	CU_ASSERT_EQUAL(c.umask, 022);
	CU_ASSERT_STRING_EQUAL(c.name, "d");
	check_truncations(&r);
	free_req(&r);

	/* symlink: the entry's name, then the target */
	r = make_req(FUSE_SYMLINK, 1, 2, "link\0", 5, "../target", 10);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_STRING_EQUAL(c.name, "link");
	CU_ASSERT_STRING_EQUAL(c.newname, "../target");
	check_truncations(&r);
	free_req(&r);

	r = make_req(FUSE_RENAME2, 1, 2, &rn2, sizeof(rn2), "a\0b", 4);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.op, DIOFS_OP_RENAME);
	CU_ASSERT_EQUAL(c.ino, 2);
	CU_ASSERT_EQUAL(c.newparent, 9);
	CU_ASSERT_EQUAL(c.flags, 1);
	CU_ASSERT_STRING_EQUAL(c.name, "a");
	CU_ASSERT_STRING_EQUAL(c.newname, "b");
	check_truncations(&r);
	free_req(&r);

	r = make_req(FUSE_RENAME, 1, 2, &rn, sizeof(rn), "a\0b", 4);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.op, DIOFS_OP_RENAME);
	CU_ASSERT_EQUAL(c.newparent, 10);
	CU_ASSERT_EQUAL(c.flags, 0);
	CU_ASSERT_STRING_EQUAL(c.newname, "b");
	free_req(&r);

	/* link: the request's node is the new parent */
	r = make_req(FUSE_LINK, 1, 2, &ln, sizeof(ln), "new", 4);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.ino, 33);
	CU_ASSERT_EQUAL(c.newparent, 2);
	CU_ASSERT_STRING_EQUAL(c.newname, "new");
	check_truncations(&r);
	free_req(&r);
}

static void test_open_create(void)
{
	struct fuse_open_in o = { .flags = O_RDWR | O_DIRECT };
	struct fuse_create_in cr = { .flags = O_WRONLY | O_CREAT, .mode = S_IFREG | 0644,
				     .umask = 027 };
	struct diofs_call c;
	struct req r;

	r = make_req(FUSE_OPEN, 1, 2, &o, sizeof(o), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.fi.flags, O_RDWR | O_DIRECT);
	CU_ASSERT_EQUAL(c.flags, (unsigned int)(O_RDWR | O_DIRECT));
	check_truncations(&r);
	free_req(&r);

	r = make_req(FUSE_OPENDIR, 1, 2, &o, sizeof(o), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.op, DIOFS_OP_OPENDIR);
	free_req(&r);

	r = make_req(FUSE_CREATE, 1, 2, &cr, sizeof(cr), "new", 4);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.fi.flags, O_WRONLY | O_CREAT);
	CU_ASSERT_EQUAL(c.mode, S_IFREG | 0644);
	CU_ASSERT_EQUAL(c.umask, 027);
	CU_ASSERT_STRING_EQUAL(c.name, "new");
	check_truncations(&r);
	free_req(&r);
}

static void test_read_write(void)
{
	struct fuse_read_in rd = { .fh = 5, .offset = 1 << 20, .size = 65536, .flags = O_RDONLY };
	struct fuse_write_in wr = { .fh = 6, .offset = 4096, .size = 6,
				    .write_flags = FUSE_WRITE_LOCKOWNER, .lock_owner = 99 };
	struct diofs_call c;
	struct req r;

	r = make_req(FUSE_READ, 1, 2, &rd, sizeof(rd), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.op, DIOFS_OP_READ);
	CU_ASSERT_EQUAL(c.fi.fh, 5);
	CU_ASSERT_EQUAL(c.off, 1 << 20);
	CU_ASSERT_EQUAL(c.size, 65536);
	check_truncations(&r);
	free_req(&r);

	r = make_req(FUSE_READDIRPLUS, 1, 2, &rd, sizeof(rd), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.op, DIOFS_OP_READDIRPLUS);
	free_req(&r);

	r = make_req(FUSE_WRITE, 1, 2, &wr, sizeof(wr), "abcdef", 6);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.op, DIOFS_OP_WRITE);
	CU_ASSERT_EQUAL(c.fi.fh, 6);
	CU_ASSERT_EQUAL(c.fi.lock_owner, 99);
	CU_ASSERT_EQUAL(c.off, 4096);
	CU_ASSERT_EQUAL(c.size, 6);
	CU_ASSERT_PTR_EQUAL(c.in_buf, &c.write_buf);
	CU_ASSERT_EQUAL(c.in_buf->buf[0].size, 6);
	CU_ASSERT_EQUAL(memcmp(c.in_buf->buf[0].mem, "abcdef", 6), 0);
	/* the data must all be there: every shorter request is EIO */
	check_truncations(&r);
	free_req(&r);
	/* a size beyond what was sent */
	wr.size = 0xffffffff;
	r = make_req(FUSE_WRITE, 1, 2, &wr, sizeof(wr), "abcdef", 6);
	CU_ASSERT_EQUAL(decode(&r, &c), EIO);
	free_req(&r);
}

static void test_file_ops(void)
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
	struct diofs_call c;
	struct req r;

	r = make_req(FUSE_RELEASE, 1, 2, &rel, sizeof(rel), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT(c.fi.flush && c.fi.flock_release);
	CU_ASSERT_EQUAL(c.fi.lock_owner, 4);
	check_truncations(&r);
	free_req(&r);
	r = make_req(FUSE_RELEASEDIR, 1, 2, &rel, sizeof(rel), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.op, DIOFS_OP_RELEASEDIR);
	free_req(&r);

	r = make_req(FUSE_FSYNC, 1, 2, &fs, sizeof(fs), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.datasync, 1);
	CU_ASSERT_EQUAL(c.fi.fh, 2);
	free_req(&r);

	r = make_req(FUSE_FLUSH, 1, 2, &fl, sizeof(fl), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT(c.fi.flush);
	CU_ASSERT_EQUAL(c.fi.lock_owner, 5);
	check_truncations(&r);
	free_req(&r);

	r = make_req(FUSE_FALLOCATE, 1, 2, &fa, sizeof(fa), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT(c.off == 10 && c.size == 20 && c.mode == 1 && c.fi.fh == 4);
	check_truncations(&r);
	free_req(&r);

	r = make_req(FUSE_LSEEK, 1, 2, &ls, sizeof(ls), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT(c.off == 30 && c.whence == SEEK_DATA);
	free_req(&r);

	r = make_req(FUSE_COPY_FILE_RANGE, 1, 2, &cf, sizeof(cf), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT(c.fi.fh == 6 && c.off == 1 && c.ino_out == 7 && c.fi_out.fh == 8 &&
		  c.off_out == 2 && c.size == 3);
	check_truncations(&r);
	free_req(&r);

	r = make_req(FUSE_ACCESS, 1, 2, &ac, sizeof(ac), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.mode, 4);
	free_req(&r);

	r = make_req(FUSE_STATFS, 1, 2, NULL, 0, NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.op, DIOFS_OP_STATFS);
	free_req(&r);
}

static void test_xattrs(void)
{
	struct { uint32_t size, flags; } sx = { 3, 1 /* XATTR_CREATE */ };
	struct fuse_getxattr_in gx = { .size = 100 };
	struct diofs_call c;
	struct req r;

	/* compat setxattr_in (8 bytes), name, value */
	r = make_req(FUSE_SETXATTR, 1, 2, &sx, sizeof(sx), "user.a\0xyz", 10);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_STRING_EQUAL(c.name, "user.a");
	CU_ASSERT_EQUAL(c.size, 3);
	CU_ASSERT_EQUAL(memcmp(c.value, "xyz", 3), 0);
	CU_ASSERT_EQUAL(c.flags, 1);
	check_truncations(&r);
	free_req(&r);

	r = make_req(FUSE_GETXATTR, 1, 2, &gx, sizeof(gx), "user.a", 7);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.size, 100);
	CU_ASSERT_STRING_EQUAL(c.name, "user.a");
	check_truncations(&r);
	free_req(&r);

	r = make_req(FUSE_LISTXATTR, 1, 2, &gx, sizeof(gx), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.op, DIOFS_OP_LISTXATTR);
	free_req(&r);

	r = make_req(FUSE_REMOVEXATTR, 1, 2, "user.a", 7, NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_STRING_EQUAL(c.name, "user.a");
	free_req(&r);
}

static void test_flock(void)
{
	struct fuse_lk_in lk = { .fh = 3, .owner = 8, .lk = { .type = F_WRLCK },
				 .lk_flags = FUSE_LK_FLOCK };
	struct diofs_call c;
	struct req r;

	r = make_req(FUSE_SETLKW, 1, 2, &lk, sizeof(lk), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.op, DIOFS_OP_FLOCK);
	CU_ASSERT_EQUAL(c.lock_op, LOCK_EX);
	check_truncations(&r);
	free_req(&r);

	lk.lk.type = F_RDLCK;
	r = make_req(FUSE_SETLK, 1, 2, &lk, sizeof(lk), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.lock_op, LOCK_SH | LOCK_NB);
	free_req(&r);

	lk.lk.type = F_UNLCK;
	r = make_req(FUSE_SETLK, 1, 2, &lk, sizeof(lk), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(decode(&r, &c), 0);
	CU_ASSERT_EQUAL(c.lock_op, LOCK_UN | LOCK_NB);
	free_req(&r);

	lk.lk.type = 77;
	r = make_req(FUSE_SETLK, 1, 2, &lk, sizeof(lk), NULL, 0);
	CU_ASSERT_EQUAL(decode(&r, &c), EINVAL);
	free_req(&r);

	/* POSIX locks are not diofs's */
	lk.lk.type = F_WRLCK;
	lk.lk_flags = 0;
	r = make_req(FUSE_SETLKW, 1, 2, &lk, sizeof(lk), NULL, 0);
	CU_ASSERT_EQUAL(decode(&r, &c), ENOSYS);
	free_req(&r);
}

static void test_forget_interrupt(void)
{
	struct fuse_forget_in f = { .nlookup = 3 };
	struct {
		struct fuse_batch_forget_in b;
		struct fuse_forget_one one[2];
	} bf = { { .count = 2 }, { { 10, 1 }, { 11, 2 } } };
	struct fuse_interrupt_in ii = { .unique = 1234 };
	struct proto_in in;
	struct req r;

	r = make_req(FUSE_FORGET, 1, 7, &f, sizeof(f), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(proto_in_parse(r.buf, r.len, &in), 0);
	CU_ASSERT_EQUAL_FATAL(proto_forget_count(&in), 1);
	CU_ASSERT_EQUAL(proto_forget_at(&in, 0).nodeid, 7);
	CU_ASSERT_EQUAL(proto_forget_at(&in, 0).nlookup, 3);
	free_req(&r);

	r = make_req(FUSE_BATCH_FORGET, 1, 0, &bf, sizeof(bf), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(proto_in_parse(r.buf, r.len, &in), 0);
	CU_ASSERT_EQUAL_FATAL(proto_forget_count(&in), 2);
	CU_ASSERT_EQUAL(proto_forget_at(&in, 1).nodeid, 11);
	CU_ASSERT_EQUAL(proto_forget_at(&in, 1).nlookup, 2);
	free_req(&r);

	/* a count beyond the entries sent */
	bf.b.count = 3;
	r = make_req(FUSE_BATCH_FORGET, 1, 0, &bf, sizeof(bf), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(proto_in_parse(r.buf, r.len, &in), 0);
	CU_ASSERT_EQUAL(proto_forget_count(&in), -EIO);
	free_req(&r);
	r = make_req(FUSE_FORGET, 1, 7, &f, 4, NULL, 0);
	CU_ASSERT_EQUAL_FATAL(proto_in_parse(r.buf, r.len, &in), 0);
	CU_ASSERT_EQUAL(proto_forget_count(&in), -EIO);
	free_req(&r);

	r = make_req(FUSE_INTERRUPT, 3, 0, &ii, sizeof(ii), NULL, 0);
	CU_ASSERT_EQUAL_FATAL(proto_in_parse(r.buf, r.len, &in), 0);
	CU_ASSERT_EQUAL(proto_interrupt_target(&in), 1234);
	free_req(&r);
	r = make_req(FUSE_INTERRUPT, 3, 0, &ii, 4, NULL, 0);
	CU_ASSERT_EQUAL_FATAL(proto_in_parse(r.buf, r.len, &in), 0);
	CU_ASSERT_EQUAL(proto_interrupt_target(&in), 0);
	free_req(&r);
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
	CU_ASSERT_EQUAL(len, o->h.len);
	return len;
}

static void test_reply_error(void)
{
	struct fuse_out_header want = { .len = 16, .error = -ENOENT, .unique = 42 };
	struct proto_out o;
	char out[64];

	proto_out_init(&o, 42, ENOENT);
	CU_ASSERT_EQUAL_FATAL(flatten(&o, out), sizeof(want));
	CU_ASSERT_EQUAL(memcmp(out, &want, sizeof(want)), 0);
	proto_out_init(&o, 43, 0);
	CU_ASSERT_EQUAL(flatten(&o, out), 16);
	CU_ASSERT_EQUAL(((struct fuse_out_header *)out)->error, 0);
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

static void test_reply_entry_attr(void)
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
	char out[512];

	proto_out_init(&o, 5, 0);
	proto_put_entry(&o, &e);
	CU_ASSERT_EQUAL_FATAL(flatten(&o, out), sizeof(want));
	CU_ASSERT_EQUAL(memcmp(out, &want, sizeof(want)), 0);

	struct stat st = sample_stat();
	proto_out_init(&o, 6, 0);
	proto_put_attr(&o, &st, 0.25);
	CU_ASSERT_EQUAL_FATAL(flatten(&o, out), sizeof(want_attr));
	CU_ASSERT_EQUAL(memcmp(out, &want_attr, sizeof(want_attr)), 0);
}

static void test_reply_open_create(void)
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
	char out[512];

	proto_out_init(&o, 8, 0);
	proto_put_open(&o, fi.fh, proto_open_flags(&fi, true));
	CU_ASSERT_EQUAL_FATAL(flatten(&o, out), sizeof(want));
	CU_ASSERT_EQUAL(memcmp(out, &want, sizeof(want)), 0);

	proto_out_init(&o, 9, 0);
	proto_put_create(&o, &e, fi.fh, proto_open_flags(&fi, false));
	CU_ASSERT_EQUAL_FATAL(flatten(&o, out), sizeof(want_create));
	CU_ASSERT_EQUAL(memcmp(out, &want_create, sizeof(want_create)), 0);

	/* no FOPEN_DIRECT_IO: no parallel direct writes either */
	fi.direct_io = 0;
	fi.keep_cache = 1;
	CU_ASSERT_EQUAL(proto_open_flags(&fi, true), FOPEN_KEEP_CACHE);
}

static void test_reply_small(void)
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
	struct proto_out o;
	char out[256];

	proto_out_init(&o, 1, 0);
	proto_put_statfs(&o, &sv);
	CU_ASSERT_EQUAL_FATAL(flatten(&o, out), sizeof(want_statfs));
	CU_ASSERT_EQUAL(memcmp(out, &want_statfs, sizeof(want_statfs)), 0);
	proto_out_init(&o, 2, 0);
	proto_put_write(&o, 65536);
	CU_ASSERT_EQUAL_FATAL(flatten(&o, out), sizeof(want_write));
	CU_ASSERT_EQUAL(memcmp(out, &want_write, sizeof(want_write)), 0);
	proto_out_init(&o, 3, 0);
	proto_put_xattr_size(&o, 17);
	CU_ASSERT_EQUAL_FATAL(flatten(&o, out), sizeof(want_xattr));
	CU_ASSERT_EQUAL(memcmp(out, &want_xattr, sizeof(want_xattr)), 0);
	proto_out_init(&o, 4, 0);
	proto_put_lseek(&o, 8192);
	CU_ASSERT_EQUAL_FATAL(flatten(&o, out), sizeof(want_lseek));
	CU_ASSERT_EQUAL(memcmp(out, &want_lseek, sizeof(want_lseek)), 0);

	/* data replies: the header, then the bytes as given */
	proto_out_init(&o, 5, 0);
	proto_put_data(&o, "hello", 5);
	CU_ASSERT_EQUAL_FATAL(flatten(&o, out), 21);
	CU_ASSERT_EQUAL(((struct fuse_out_header *)out)->len, 21);
	CU_ASSERT_EQUAL(memcmp(out + 16, "hello", 5), 0);
}

static void test_dirents(void)
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
	CU_ASSERT_EQUAL_FATAL(n, 32);
	CU_ASSERT_EQUAL(memcmp(buf, want, 32), 0);
	CU_ASSERT_EQUAL((unsigned char)buf[32], 0x5a); /* nothing past it */
	/* no room: the size it needs, nothing written */
	memset(buf, 0x5a, sizeof(buf));
	CU_ASSERT_EQUAL(proto_add_dirent(buf, 31, "ab", &st, 7), 32);
	CU_ASSERT_EQUAL((unsigned char)buf[0], 0x5a);

	/* direntplus: the entry, then the dirent */
	memset(buf, 0x5a, sizeof(buf));
	memset(want, 0, sizeof(want));
	memcpy(want, &eo, sizeof(eo));
	de.ino = 1234;
	de.namelen = 3;
	memcpy(want + sizeof(eo), &de, FUSE_NAME_OFFSET);
	memcpy(want + sizeof(eo) + FUSE_NAME_OFFSET, "abc", 3);
	n = proto_add_direntplus(buf, sizeof(buf), "abc", &e, 7);
	CU_ASSERT_EQUAL_FATAL(n, FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + 3));
	CU_ASSERT_EQUAL(memcmp(buf, want, n), 0);
	CU_ASSERT_EQUAL(proto_add_direntplus(buf, n - 1, "abc", &e, 7), n);
}

/* ---- INIT ---- */

static const struct proto_init_cfg cfg = {
	.want = FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_ASYNC_DIO | FUSE_DIRECT_IO_ALLOW_MMAP,
	.max_background = 1024,
	.congestion_threshold = 768,
	.max_pages = 256,
	.page_size = 4096,
};

static struct req init_req(uint32_t major, uint32_t minor, uint64_t flags, size_t arglen)
{
	struct fuse_init_in ii = {
		.major = major, .minor = minor, .max_readahead = 131072,
		.flags = (uint32_t)flags, .flags2 = (uint32_t)(flags >> 32),
	};

	return make_req(FUSE_INIT, 2, 0, &ii, arglen, NULL, 0);
}

static enum proto_init_verdict run_init(const struct req *r, struct proto_out *o,
					struct proto_init_result *res, char *out)
{
	struct proto_in in;
	enum proto_init_verdict v;

	CU_ASSERT_EQUAL_FATAL(proto_in_parse(r->buf, r->len, &in), 0);
	v = proto_init(&in, &cfg, o, res);
	flatten(o, out);
	return v;
}

/* Debian 6.1: 7.38, flags2 present (INIT_EXT), no DIRECT_IO_ALLOW_MMAP. */
static void test_init_6_1(void)
{
	uint64_t offered = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_MAX_PAGES |
			   FUSE_ASYNC_DIO | FUSE_INIT_EXT | FUSE_SECURITY_CTX;
	struct req r = init_req(7, 38, offered, sizeof(struct fuse_init_in));
	struct {
		struct fuse_out_header h;
		struct fuse_init_out i;
	} want = { { sizeof(want), 0, 2 },
		   { .major = 7, .minor = 38, .max_readahead = 131072,
		     .flags = FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_ASYNC_DIO | FUSE_INIT_EXT,
		     .max_background = 1024, .congestion_threshold = 768,
		     .max_write = 1 << 20, .time_gran = 1, .max_pages = 256, .flags2 = 0 } };
	struct proto_init_result res;
	struct proto_out o;
	char out[256];

	CU_ASSERT_EQUAL_FATAL(run_init(&r, &o, &res, out), PROTO_INIT_OK);
	CU_ASSERT_EQUAL(memcmp(out, &want, sizeof(want)), 0);
	CU_ASSERT_EQUAL(res.offered, offered);
	CU_ASSERT_EQUAL(res.flags, FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_ASYNC_DIO);
	CU_ASSERT_EQUAL(res.minor, 38);
	free_req(&r);
}

/* 6.18 (7.45): DIRECT_IO_ALLOW_MMAP in flags2, the reply capped at 7.41. */
static void test_init_new_kernel(void)
{
	uint64_t offered = FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_INIT_EXT |
			   FUSE_DIRECT_IO_ALLOW_MMAP | FUSE_OVER_IO_URING;
	struct req r = init_req(7, 45, offered, sizeof(struct fuse_init_in));
	struct proto_init_result res;
	struct proto_out o;
	char out[256];
	struct fuse_init_out io;

	CU_ASSERT_EQUAL_FATAL(run_init(&r, &o, &res, out), PROTO_INIT_OK);
	memcpy(&io, out + sizeof(struct fuse_out_header), sizeof(io));
	CU_ASSERT_EQUAL(io.minor, PROTO_MINOR);
	CU_ASSERT_EQUAL(io.flags, FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_INIT_EXT);
	CU_ASSERT_EQUAL(io.flags2, FUSE_DIRECT_IO_ALLOW_MMAP >> 32);
	CU_ASSERT_EQUAL(res.flags, FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_DIRECT_IO_ALLOW_MMAP);
	free_req(&r);
}

/* A kernel without INIT_EXT: flags2 neither read nor written, and without
 * MAX_PAGES the kernel's 32 pages bound max_write. */
static void test_init_no_ext(void)
{
	/* the 7.31-era init_in: 16 bytes */
	struct req r = init_req(7, 31, FUSE_ASYNC_READ | FUSE_DIRECT_IO_ALLOW_MMAP, 16);
	struct proto_init_result res;
	struct proto_out o;
	char out[256];
	struct fuse_init_out io;

	CU_ASSERT_EQUAL_FATAL(run_init(&r, &o, &res, out), PROTO_INIT_OK);
	memcpy(&io, out + sizeof(struct fuse_out_header), sizeof(io));
	CU_ASSERT_EQUAL(io.flags, FUSE_ASYNC_READ);
	CU_ASSERT_EQUAL(io.flags2, 0);
	CU_ASSERT_EQUAL(io.max_pages, 0);
	CU_ASSERT_EQUAL(io.max_write, 32 * 4096);
	CU_ASSERT_EQUAL(res.max_pages, 32);
	free_req(&r);
}

static void test_init_versions(void)
{
	struct proto_init_result res;
	struct proto_out o;
	char out[256];
	struct fuse_init_out io;
	struct req r;

	/* a newer major: say 7, expect INIT again */
	r = init_req(8, 0, 0, sizeof(struct fuse_init_in));
	CU_ASSERT_EQUAL(run_init(&r, &o, &res, out), PROTO_INIT_RETRY);
	CU_ASSERT_EQUAL(((struct fuse_out_header *)out)->error, 0);
	memcpy(&io, out + sizeof(struct fuse_out_header), sizeof(io));
	CU_ASSERT_EQUAL(io.major, 7);
	free_req(&r);
	/* too old */
	r = init_req(7, PROTO_MIN_MINOR - 1, 0, sizeof(struct fuse_init_in));
	CU_ASSERT_EQUAL(run_init(&r, &o, &res, out), PROTO_INIT_REFUSED);
	CU_ASSERT_EQUAL(((struct fuse_out_header *)out)->error, -EPROTO);
	CU_ASSERT_EQUAL(((struct fuse_out_header *)out)->len, 16);
	free_req(&r);
	r = init_req(6, 99, 0, sizeof(struct fuse_init_in));
	CU_ASSERT_EQUAL(run_init(&r, &o, &res, out), PROTO_INIT_REFUSED);
	free_req(&r);
	/* truncated */
	r = init_req(7, 38, 0, 12);
	CU_ASSERT_EQUAL(run_init(&r, &o, &res, out), PROTO_INIT_REFUSED);
	CU_ASSERT_EQUAL(((struct fuse_out_header *)out)->error, -EIO);
	free_req(&r);
}

static void test_init_flag_names(void)
{
	char buf[64];

	CU_ASSERT_EQUAL(proto_init_flag_bit("direct_io_allow_mmap"), 1ULL << 36);
	CU_ASSERT_EQUAL(proto_init_flag_bit("async_dio"), FUSE_ASYNC_DIO);
	/* names diofs never asks for cannot be switched off */
	CU_ASSERT_EQUAL(proto_init_flag_bit("posix_locks"), 0);
	CU_ASSERT_EQUAL(proto_init_flag_bit("nonsense"), 0);
	CU_ASSERT_STRING_EQUAL(proto_init_flag_name(FUSE_OVER_IO_URING), "over_io_uring");
	CU_ASSERT_STRING_EQUAL(proto_init_flags_text(FUSE_ASYNC_READ | (1ULL << 63), buf,
						     sizeof(buf)), "async_read,bit63");
	CU_ASSERT_STRING_EQUAL(proto_init_flags_text(0, buf, sizeof(buf)), "");
	/* cut at a name, never in one */
	CU_ASSERT_STRING_EQUAL(proto_init_flags_text(FUSE_ASYNC_READ | FUSE_ASYNC_DIO, buf,
						     15), "async_read");
	CU_ASSERT(!(proto_init_wanted_all() & (FUSE_POSIX_LOCKS | FUSE_WRITEBACK_CACHE |
					       FUSE_SPLICE_READ | FUSE_PASSTHROUGH |
					       FUSE_HANDLE_KILLPRIV | FUSE_EXPORT_SUPPORT)));
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return CU_get_error();
	s = CU_add_suite("fuse_proto", NULL, NULL);
	CU_add_test(s, "parse_header", test_parse_header);
	CU_add_test(s, "unknown_opcodes", test_unknown_opcodes);
	CU_add_test(s, "lookup", test_lookup);
	CU_add_test(s, "getattr_setattr", test_getattr_setattr);
	CU_add_test(s, "names", test_names);
	CU_add_test(s, "open_create", test_open_create);
	CU_add_test(s, "read_write", test_read_write);
	CU_add_test(s, "file_ops", test_file_ops);
	CU_add_test(s, "xattrs", test_xattrs);
	CU_add_test(s, "flock", test_flock);
	CU_add_test(s, "forget_interrupt", test_forget_interrupt);
	CU_add_test(s, "reply_error", test_reply_error);
	CU_add_test(s, "reply_entry_attr", test_reply_entry_attr);
	CU_add_test(s, "reply_open_create", test_reply_open_create);
	CU_add_test(s, "reply_small", test_reply_small);
	CU_add_test(s, "dirents", test_dirents);
	CU_add_test(s, "init_6_1", test_init_6_1);
	CU_add_test(s, "init_new_kernel", test_init_new_kernel);
	CU_add_test(s, "init_no_ext", test_init_no_ext);
	CU_add_test(s, "init_versions", test_init_versions);
	CU_add_test(s, "init_flag_names", test_init_flag_names);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned int failed = CU_get_number_of_failures();

	CU_cleanup_registry();
	return failed ? 1 : 0;
}
