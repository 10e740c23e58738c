/* A minimal FUSE server for the io_uring short-retry report (see REPORT).
 *
 * One file, /f, 10000 bytes (byte i is pattern(i)), opened with
 * FOPEN_DIRECT_IO; FUSE_CAP_ASYNC_DIO cleared at INIT (the kernel's async
 * direct I/O off).  Reads are answered with what is left before the end of
 * the file; writes with at most 4096 bytes written (a short write).  Every
 * FUSE_READ and FUSE_WRITE is printed with its offset and size.
 *
 * Build: cc repro_server.c $(pkg-config --cflags --libs fuse3)
 * Run:   repro_server MOUNTPOINT   (foreground, single-threaded) */
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FILE_INO 2
#define FILE_SIZE 10000
#define MAX_WRITE_REPLY 4096

static unsigned char data[FILE_SIZE];
static unsigned int nreads, nwrites;

/* byte i of the file: no 16 bytes repeat, so data from the wrong offset shows */
static unsigned char pattern(size_t i)
{
	unsigned int x = ((unsigned int)i + 1) * 0x9e3779b1u;

	x ^= x >> 15;
	return (unsigned char)(x * 0x85ebca6bu >> 24);
}

static void fill_attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_nlink = ino == FUSE_ROOT_ID ? 2 : 1;
	st->st_mode = ino == FUSE_ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0644;
	st->st_size = ino == FUSE_ROOT_ID ? 0 : FILE_SIZE;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->want &= ~FUSE_CAP_ASYNC_DIO;      /* libfuse asks for it by default */
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .ino = FILE_INO, .attr_timeout = 0, .entry_timeout = 0 };

	if (parent != FUSE_ROOT_ID || strcmp(name, "f")) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(FILE_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	fill_attr(ino, &st);
	fuse_reply_attr(req, &st, 0);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FILE_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fi->direct_io = 1;                      /* FOPEN_DIRECT_IO */
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	size_t n = off >= FILE_SIZE ? 0 : FILE_SIZE - (size_t)off;

	(void)ino;
	(void)fi;
	if (n > size)
		n = size;
	printf("server: FUSE_READ  #%u offset %lld size %zu -> replied %zu bytes\n", ++nreads,
	       (long long)off, size, n);
	fflush(stdout);
	fuse_reply_buf(req, (const char *)data + (n ? off : 0), n);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	size_t n = size < MAX_WRITE_REPLY ? size : MAX_WRITE_REPLY;

	(void)ino;
	(void)fi;
	if (off < FILE_SIZE)
		memcpy(data + off, buf, (size_t)off + n > FILE_SIZE ? FILE_SIZE - (size_t)off : n);
	printf("server: FUSE_WRITE #%u offset %lld size %zu -> replied %zu bytes written\n",
	       ++nwrites, (long long)off, size, n);
	fflush(stdout);
	fuse_reply_write(req, n);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init, .lookup = op_lookup, .getattr = op_getattr,
	.open = op_open, .read = op_read, .write = op_write,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct fuse_session *se;
	int ret = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: %s MOUNTPOINT\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < FILE_SIZE; i++)
		data[i] = pattern(i);
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se)
		return 1;
	if (fuse_set_signal_handlers(se) == 0) {
		if (fuse_session_mount(se, argv[1]) == 0) {
			ret = fuse_session_loop(se) ? 1 : 0;
			fuse_session_unmount(se);
		}
		fuse_remove_signal_handlers(se);
	}
	fuse_session_destroy(se);
	printf("server: %u FUSE_READ, %u FUSE_WRITE\n", nreads, nwrites);
	return ret;
}
