#include <config.h>

#include "inode.h"
#include "diofs.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

_Static_assert(sizeof(fuse_ino_t) >= sizeof(uintptr_t),
	       "a nodeid must hold a pointer");

/* Chained hash on (dev, ino), doubled when it gets as full as it is
 * wide.  One mutex covers the chains and every nlookup: lookups and
 * forgets are far from the read/write path, which never comes here. */
static struct {
	pthread_mutex_t lock;
	struct diofs_inode **bucket;
	size_t nbucket;           /* a power of two */
	size_t count;
	bool ready;
	struct diofs_inode root;
} tab = { .lock = PTHREAD_MUTEX_INITIALIZER };

#define INITIAL_BUCKETS 1024

static size_t hash(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL;

	h ^= (uint64_t)dev * 0xc2b2ae3d27d4eb4fULL;
	return (size_t)(h ^ (h >> 29));
}

static void insert(struct diofs_inode *in)
{
	size_t i = hash(in->dev, in->ino) & (tab.nbucket - 1);

	in->next = tab.bucket[i];
	tab.bucket[i] = in;
	tab.count++;
}

/* Double the table; if memory is short, carry on with long chains. */
static void grow(void)
{
	struct diofs_inode **old = tab.bucket;
	size_t n = tab.nbucket;
	struct diofs_inode **nb = calloc(n * 2, sizeof(*nb));

	if (!nb)
		return;
	tab.bucket = nb;
	tab.nbucket = n * 2;
	tab.count = 0;
	for (size_t i = 0; i < n; i++) {
		struct diofs_inode *in = old[i], *next;

		for (; in; in = next) {
			next = in->next;
			insert(in);
		}
	}
	free(old);
}

static struct diofs_inode *find(dev_t dev, ino_t ino)
{
	struct diofs_inode *in = tab.bucket[hash(dev, ino) & (tab.nbucket - 1)];

	while (in && (in->ino != ino || in->dev != dev))
		in = in->next;
	return in;
}

static void unlink_locked(struct diofs_inode *in)
{
	struct diofs_inode **p = &tab.bucket[hash(in->dev, in->ino) & (tab.nbucket - 1)];

	while (*p != in)
		p = &(*p)->next;
	*p = in->next;
	tab.count--;
}

/* Every inode the kernel holds is an open fd: a soft limit of 1024 would
 * fail lookups in any sizeable tree.  Go as high as we are allowed. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int inode_table_init(int root_fd)
{
	struct stat st;
	int err = 0;

	pthread_mutex_lock(&tab.lock);
	if (tab.ready)
		goto out;
	if (fstatat(root_fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1) {
		err = -errno;
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		err = -ENOTDIR;
		goto out;
	}
	tab.bucket = calloc(INITIAL_BUCKETS, sizeof(*tab.bucket));
	if (!tab.bucket) {
		err = -ENOMEM;
		goto out;
	}
	tab.nbucket = INITIAL_BUCKETS;
	tab.count = 0;
	raise_fd_limit();
	memset(&tab.root, 0, sizeof(tab.root));
	tab.root.fd = root_fd;
	tab.root.dev = st.st_dev;
	tab.root.ino = st.st_ino;
	tab.root.type = S_IFDIR;
	tab.root.nlookup = 1; /* never freed: forgets of the root are ignored */
	insert(&tab.root);
	tab.ready = true;
out:
	pthread_mutex_unlock(&tab.lock);
	return err;
}

void inode_table_destroy(void)
{
	pthread_mutex_lock(&tab.lock);
	if (tab.ready) {
		for (size_t i = 0; i < tab.nbucket; i++) {
			struct diofs_inode *in = tab.bucket[i], *next;

			for (; in; in = next) {
				next = in->next;
				if (in == &tab.root)
					continue; /* its fd belongs to main */
				close(in->fd);
				free(in);
			}
		}
		free(tab.bucket);
		tab.bucket = NULL;
		tab.nbucket = 0;
		tab.count = 0;
		tab.ready = false;
	}
	pthread_mutex_unlock(&tab.lock);
}

struct diofs_inode *inode_get(fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &tab.root;
	return (struct diofs_inode *)(uintptr_t)ino;
}

int inode_fd(fuse_ino_t ino)
{
	return inode_get(ino)->fd;
}

struct diofs_inode *inode_root(void)
{
	return &tab.root;
}

fuse_ino_t inode_nodeid(const struct diofs_inode *in)
{
	return in == &tab.root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)in;
}

struct diofs_inode *inode_add(int fd, const struct stat *st)
{
	struct diofs_inode *in, *fresh;

	/* Allocate outside the lock; a lost race just frees it. */
	fresh = malloc(sizeof(*fresh));
	if (!fresh) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&tab.lock);
	if (!tab.ready) {
		pthread_mutex_unlock(&tab.lock);
		free(fresh);
		close(fd);
		errno = EIO;
		return NULL;
	}
	in = find(st->st_dev, st->st_ino);
	if (in) {
		in->nlookup++;
		pthread_mutex_unlock(&tab.lock);
		free(fresh);
		close(fd);
		return in;
	}
	fresh->fd = fd;
	fresh->dev = st->st_dev;
	fresh->ino = st->st_ino;
	fresh->type = st->st_mode & S_IFMT;
	fresh->nlookup = 1;
	if (tab.count >= tab.nbucket)
		grow();
	insert(fresh);
	pthread_mutex_unlock(&tab.lock);
	return fresh;
}

void inode_ref(struct diofs_inode *in)
{
	pthread_mutex_lock(&tab.lock);
	in->nlookup++;
	pthread_mutex_unlock(&tab.lock);
}

void inode_unref(fuse_ino_t ino, uint64_t n)
{
	struct diofs_inode *in = inode_get(ino);

	if (in == &tab.root)
		return;
	pthread_mutex_lock(&tab.lock);
	/* More forgets than lookups is a kernel or accounting bug: drop the
	 * inode rather than wrap the count. */
	if (in->nlookup > n) {
		in->nlookup -= n;
		pthread_mutex_unlock(&tab.lock);
		return;
	}
	unlink_locked(in);
	pthread_mutex_unlock(&tab.lock);
	close(in->fd);
	free(in);
}

size_t inode_count(void)
{
	size_t n;

	pthread_mutex_lock(&tab.lock);
	n = tab.count;
	pthread_mutex_unlock(&tab.lock);
	return n;
}

char *inode_path(fuse_ino_t ino)
{
	char proc[PROC_FD_LEN], buf[PATH_MAX];
	const char *b = diofs_cfg.backing;
	size_t blen;
	ssize_t n;

	if (ino == 0)
		return NULL;
	if (ino == FUSE_ROOT_ID)
		return strdup("/");
	proc_fd_path(proc, inode_fd(ino));
	n = readlink(proc, buf, sizeof(buf) - 1);
	if (n == -1)
		return NULL;
	buf[n] = '\0';
	if (!b)
		return strdup(buf);
	blen = strlen(b);
	while (blen > 0 && b[blen - 1] == '/')
		blen--;
	/* BACKING "/" leaves blen 0: every path is already relative. */
	if (strncmp(buf, b, blen) == 0 && (buf[blen] == '/' || buf[blen] == '\0'))
		return strdup(buf[blen] ? buf + blen : "/");
	return strdup(buf); /* moved out of BACKING behind our back */
}
