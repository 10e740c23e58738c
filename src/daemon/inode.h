/* The inode table: every inode the kernel knows is held as an O_PATH fd,
 * keyed by the backing (st_dev, st_ino) and counted by lookups. */
#ifndef DIOFS_INODE_H
#define DIOFS_INODE_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

/* The nodeid handed to the kernel is the address of the struct (the root
 * excepted: FUSE_ROOT_ID).  fd, dev, ino and type never change while the
 * kernel holds a lookup, so they are read without the table lock. */
struct diofs_inode {
	struct diofs_inode *next; /* hash chain; table lock */
	int fd;                   /* O_PATH|O_NOFOLLOW */
	dev_t dev;
	ino_t ino;
	mode_t type;              /* S_IFMT bits */
	uint64_t nlookup;         /* table lock */
};

/* root_fd: an O_PATH directory fd of BACKING, still owned by the caller.
 * 0 or -errno; calling it again while initialised is a no-op. */
int inode_table_init(int root_fd);
/* Close and free every inode but the root. */
void inode_table_destroy(void);

struct diofs_inode *inode_get(fuse_ino_t ino);
int inode_fd(fuse_ino_t ino);  /* the O_PATH fd */
struct diofs_inode *inode_root(void);
/* The nodeid of an inode, as the kernel must see it. */
fuse_ino_t inode_nodeid(const struct diofs_inode *in);

/* Count one lookup of the inode that st describes and return it: the one
 * already in the table (fd is then closed) or a new one that takes fd.
 * NULL with errno set on failure; fd is closed then too. */
struct diofs_inode *inode_add(int fd, const struct stat *st);
/* One more lookup of an inode the kernel already holds (link). */
void inode_ref(struct diofs_inode *in);
/* The kernel forgot n lookups; the last one frees the inode. */
void inode_unref(fuse_ino_t ino, uint64_t n);

/* The path of ino relative to the root ("/" for the root), malloc'ed, or
 * NULL, read back from its O_PATH fd.  Informational only (trace, rule
 * matching): the daemon itself never resolves a string path. */
char *inode_path(fuse_ino_t ino);

/* "/proc/self/fd/N": how an O_PATH fd is reopened or handed to the few
 * syscalls that take no fd (xattrs, truncate, chmod, access). */
#define PROC_FD_LEN 32
static inline void proc_fd_path(char buf[PROC_FD_LEN], int fd)
{
	snprintf(buf, PROC_FD_LEN, "/proc/self/fd/%d", fd);
}

/* Number of inodes in the table, the root included (tests). */
size_t inode_count(void);

#endif
