/* badinput: path escapes and a foreign control client.
 *
 * Path escapes.  Sentinel files and directories are put beside the backing
 * directory (ROOT/outside), with a marker no file inside holds.  The
 * attacking client runs in a mount namespace of its own where ROOT/outside
 * is hidden under an empty tmpfs: whatever symlink the client's kernel
 * follows by itself lands there, so a sentinel's bytes, inode number or
 * name can only reach the client through the daemon.  Meanwhile, in the
 * real namespace, a racer swaps names under the daemon: a file with a
 * symlink to a sentinel (absolute and relative), a directory with a
 * symlink to the sentinel directory (RENAME_EXCHANGE), and a directory
 * moved out of the backing directory and back.  The client reads, writes,
 * creates, links (symlinks with linkat, no follow), renames, changes
 * attributes without following (lchown, utimensat, fchmodat), sets xattrs,
 * truncates, and walks "..", through the mount, while exchanging two
 * directories of its own and looking up through them.  At the end every
 * sentinel must be as it was (content, size, mode, owner, times, link
 * count), no entry may have appeared outside, and the client must never
 * have read the marker or seen a sentinel's inode number.
 *
 * Control socket.  A process of another user (nobody) is refused: by the
 * socket's mode, and, with the mode opened up, by the daemon's peer check
 * (it must answer no command).
 *
 *   badinput [--short] [--seed N] [--seconds N] */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "soak.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_SENTINELS 16
#define NOBODY 65534

static struct soak_opts opts;
static struct diofs_mount m;
static char marker[64];          /* in every sentinel, in no inside file */
static char outside[512];

/* What the attacking client reports, in memory shared with it. */
struct shared {
	ino_t sentinel_ino[MAX_SENTINELS];
	int nsentinels;
	atomic_bool stop;
	atomic_ulong ops, reads, bytes_read, marker_hits, ino_hits, errors, wrong_content;
	atomic_ulong creates, links, renames, attr_changes, lookups;
	char first_hit[256];
};
static struct shared *sh;

struct sentinel {
	char path[600];
	struct stat st;
	uint64_t sum;
};
static struct sentinel sentinels[MAX_SENTINELS];
static int nsentinels;

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t file_sum(const char *path)
{
	char buf[8192];
	uint64_t h = 0xcbf29ce484222325ULL;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		h = fnv(buf, (size_t)n, h);
	close(fd);
	return h;
}

static void write_file(const char *path, const char *content, int reps)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		soak_fail("creating %s: %s", path, strerror(errno));
		exit(1);
	}
	for (int i = 0; i < reps; i++)
		if (write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
			soak_fail("writing %s: %s", path, strerror(errno));
			exit(1);
		}
	close(fd);
}

static void add_sentinel(const char *rel, bool dir)
{
	struct sentinel *s = &sentinels[nsentinels++];
	char content[128];

	snprintf(s->path, sizeof(s->path), "%s/%s", outside, rel);
	if (dir) {
		if (mkdir(s->path, 0755) < 0) {
			soak_fail("mkdir %s: %s", s->path, strerror(errno));
			exit(1);
		}
	} else {
		snprintf(content, sizeof(content), "%s %s\n", marker, rel);
		write_file(s->path, content, 64);
	}
}

static void snapshot_sentinels(void)
{
	for (int i = 0; i < nsentinels; i++) {
		lstat(sentinels[i].path, &sentinels[i].st);
		sentinels[i].sum = S_ISREG(sentinels[i].st.st_mode) ? file_sum(sentinels[i].path) : 0;
		sh->sentinel_ino[i] = sentinels[i].st.st_ino;
	}
	sh->nsentinels = nsentinels;
}

/* Every name under dir, sorted into one string, for "nothing appeared". */
static void listing(const char *dir, char *out, size_t len, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *names[256];
	int n = 0;

	if (!d)
		return;
	while ((e = readdir(d)) && n < 256)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			names[n++] = strdup(e->d_name);
	closedir(d);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(names[j], names[i]) < 0) {
				char *t = names[i];
				names[i] = names[j];
				names[j] = t;
			}
	for (int i = 0; i < n; i++) {
		char sub[1024];
		struct stat st;
		size_t used = strlen(out);
		snprintf(out + used, len - used, "%*s%s\n", depth, "", names[i]);
		snprintf(sub, sizeof(sub), "%s/%s", dir, names[i]);
		if (depth < 4 && lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			listing(sub, out, len, depth + 1);
		free(names[i]);
	}
}

/* ---- the racer: names swapped under the daemon (real namespace) ---------- */

static atomic_ulong f_swaps;

static void *racer_main(void *arg)
{
	char b[600], sw[700], swf[700], swl[700], swr[700], dsw[700], dalt[700];
	char mv_in[700], mv_out[700], secret[700];
	unsigned long i = 0;

	(void)arg;
	snprintf(b, sizeof(b), "%s", m.backing);
	snprintf(sw, sizeof(sw), "%s/sw", b);
	snprintf(swf, sizeof(swf), "%s/.swf", b);
	snprintf(swl, sizeof(swl), "%s/.swl", b);
	snprintf(swr, sizeof(swr), "%s/.swr", b);
	snprintf(dsw, sizeof(dsw), "%s/dsw", b);
	snprintf(dalt, sizeof(dalt), "%s/.dalt", b);
	snprintf(mv_in, sizeof(mv_in), "%s/mover", b);
	snprintf(mv_out, sizeof(mv_out), "%s/parking/mover", outside);
	snprintf(secret, sizeof(secret), "%s/secret", outside);
	while (!atomic_load(&sh->stop)) {
		switch (i % 4) {
		case 0: /* a regular file in place of sw */
			write_file(swf, "INSIDE-sw\n", 1);
			rename(swf, sw);
			break;
		case 1: /* an absolute symlink to the sentinel */
			unlink(swl);
			if (symlink(secret, swl) == 0)
				rename(swl, sw);
			break;
		case 2: /* a relative one */
			unlink(swr);
			if (symlink("../outside/secret", swr) == 0)
				rename(swr, sw);
			break;
		case 3:
			break;
		}
		/* directory <-> symlink to the sentinel directory */
		renameat2(AT_FDCWD, dsw, AT_FDCWD, dalt, RENAME_EXCHANGE);
		/* a directory out of the backing directory and back */
		if (i % 2 == 0)
			rename(mv_in, mv_out);
		else
			rename(mv_out, mv_in);
		atomic_fetch_add(&f_swaps, 1);
		i++;
	}
	/* the mover back inside */
	rename(mv_out, mv_in);
	return NULL;
}

/* ---- the attacking client (its own mount namespace) --------------------------- */

static bool is_sentinel_ino(ino_t ino)
{
	for (int i = 0; i < sh->nsentinels; i++)
		if (sh->sentinel_ino[i] == ino)
			return true;
	return false;
}

static void hit(const char *what, const char *path)
{
	atomic_fetch_add(&sh->marker_hits, 1);
	if (!sh->first_hit[0])
		snprintf(sh->first_hit, sizeof(sh->first_hit), "%s %s", what, path);
}

static void check_stat(const char *path, int flags)
{
	struct stat st;

	atomic_fetch_add(&sh->lookups, 1);
	if (fstatat(AT_FDCWD, path, &st, flags) == 0 && is_sentinel_ino(st.st_ino)) {
		atomic_fetch_add(&sh->ino_hits, 1);
		hit("stat saw a sentinel's inode:", path);
	}
}

/* Read a file through the mount: its bytes must be one of the inside
 * contents (or the open must fail), never the marker. */
static void check_read(const char *path, int flags, const char *want1, const char *want2)
{
	char buf[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	ssize_t n;

	atomic_fetch_add(&sh->ops, 1);
	if (fd < 0) {
		atomic_fetch_add(&sh->errors, 1);
		return;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && is_sentinel_ino(st.st_ino)) {
		atomic_fetch_add(&sh->ino_hits, 1);
		hit("open reached a sentinel's inode:", path);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	atomic_fetch_add(&sh->reads, 1);
	if (n < 0)
		return;
	buf[n] = '\0';
	atomic_fetch_add(&sh->bytes_read, (unsigned long)n);
	if (memmem(buf, (size_t)n, marker, strlen(marker)))
		hit("read the marker from", path);
	else if (n > 0 && strcmp(buf, want1) && (!want2 || strcmp(buf, want2)))
		atomic_fetch_add(&sh->wrong_content, 1);
}

static void check_dir_names(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (is_sentinel_ino(e->d_ino) && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			atomic_fetch_add(&sh->ino_hits, 1);
			hit("readdir listed a sentinel's inode in", dir);
		}
		if (!strncmp(e->d_name, "SENTINEL", 8))
			hit("readdir listed a sentinel's name in", dir);
	}
	closedir(d);
}

struct cthread {
	int kind;
	unsigned long n;
};

static void *client_thread(void *arg)
{
	struct cthread *t = arg;
	char p[1200], q[1200];
	const char *mnt = m.mnt;
	uint64_t rng = soak_derive(opts.seed, 0xbad, (uint64_t)t->kind);

	while (!atomic_load(&sh->stop)) {
		unsigned long i = t->n++;
		switch (t->kind) {
		case 0: /* the swapped file: read, O_NOFOLLOW, stat */
			snprintf(p, sizeof(p), "%s/sw", mnt);
			check_read(p, 0, "INSIDE-sw\n", NULL);
			check_read(p, O_NOFOLLOW, "INSIDE-sw\n", NULL);
			check_stat(p, 0);
			check_stat(p, AT_SYMLINK_NOFOLLOW);
			break;
		case 1: /* through the swapped directory */
			snprintf(p, sizeof(p), "%s/dsw/f", mnt);
			check_read(p, 0, "INSIDE-dsw\n", NULL);
			check_stat(p, AT_SYMLINK_NOFOLLOW);
			snprintf(p, sizeof(p), "%s/dsw", mnt);
			check_dir_names(p);
			/* a create there would land in the sentinel dir if the
			 * daemon followed the symlink */
			snprintf(q, sizeof(q), "%s/dsw/new%lu", mnt, i % 8);
			int fd = open(q, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd >= 0) {
				atomic_fetch_add(&sh->creates, 1);
				if (write(fd, "x", 1) < 0)
					atomic_fetch_add(&sh->errors, 1);
				close(fd);
				unlink(q);
			}
			snprintf(q, sizeof(q), "%s/dsw/f", mnt);
			fd = open(q, O_WRONLY | O_TRUNC | O_CLOEXEC);
			if (fd >= 0) {
				if (write(fd, "INSIDE-dsw\n", 11) < 0)
					atomic_fetch_add(&sh->errors, 1);
				close(fd);
			}
			break;
		case 2: /* through the directory that leaves and comes back */
			snprintf(p, sizeof(p), "%s/mover/f", mnt);
			check_read(p, 0, "INSIDE-mover\n", NULL);
			snprintf(p, sizeof(p), "%s/mover/../secret", mnt);
			check_read(p, 0, "", NULL);
			snprintf(p, sizeof(p), "%s/mover/../../outside/secret", mnt);
			check_read(p, 0, "", NULL);
			snprintf(p, sizeof(p), "%s/mover", mnt);
			check_dir_names(p);
			break;
		case 3: /* attributes of the symlink, never of its target */
			snprintf(p, sizeof(p), "%s/sw", mnt);
			atomic_fetch_add(&sh->attr_changes, 1);
			if (lchown(p, NOBODY, NOBODY) < 0)
				atomic_fetch_add(&sh->errors, 1);
			struct timespec ts[2] = { { .tv_sec = 12345 }, { .tv_sec = 12345 } };
			utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
			fchmodat(AT_FDCWD, p, 0777, AT_SYMLINK_NOFOLLOW);
			lsetxattr(p, "user.escape", "x", 1, 0);
			lsetxattr(p, "trusted.escape", "x", 1, 0);
			truncate(p, 0); /* follows: lands in the hidden tmpfs */
			/* and the regular file when sw is one */
			fd = open(p, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0) {
				if (fchown(fd, 0, 0) < 0 || fchmod(fd, 0644) < 0)
					atomic_fetch_add(&sh->errors, 1);
				close(fd);
			}
			break;
		case 4: /* hard links: of the symlink (no follow), renames */
			snprintf(p, sizeof(p), "%s/sw", mnt);
			snprintf(q, sizeof(q), "%s/hl%lu", mnt, i % 4);
			if (linkat(AT_FDCWD, p, AT_FDCWD, q, 0) == 0) {
				atomic_fetch_add(&sh->links, 1);
				check_read(q, 0, "INSIDE-sw\n", NULL);
				check_read(q, O_NOFOLLOW, "INSIDE-sw\n", NULL);
				check_stat(q, AT_SYMLINK_NOFOLLOW);
				snprintf(p, sizeof(p), "%s/hlr%lu", mnt, i % 4);
				if (rename(q, p) == 0)
					atomic_fetch_add(&sh->renames, 1);
				unlink(p);
			}
			/* a link into the swapped directory */
			snprintf(p, sizeof(p), "%s/in/f", mnt);
			snprintf(q, sizeof(q), "%s/dsw/hl%lu", mnt, i % 4);
			if (linkat(AT_FDCWD, p, AT_FDCWD, q, 0) == 0) {
				atomic_fetch_add(&sh->links, 1);
				unlink(q);
			}
			break;
		case 5: { /* two directories exchanged while looked up through */
			char a[1200], b[1200];
			snprintf(a, sizeof(a), "%s/ra", mnt);
			snprintf(b, sizeof(b), "%s/rb", mnt);
			if (soak_below(&rng, 2)) {
				if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0)
					atomic_fetch_add(&sh->renames, 1);
			} else {
				snprintf(p, sizeof(p), "%s/ra/f", mnt);
				check_read(p, 0, "INSIDE-ra\n", "INSIDE-rb\n");
				snprintf(p, sizeof(p), "%s/rb/sub/../f", mnt);
				check_read(p, 0, "INSIDE-ra\n", "INSIDE-rb\n");
			}
			break;
		}
		case 6: /* ".." everywhere */
			snprintf(p, sizeof(p), "%s/..", mnt);
			check_stat(p, 0);
			snprintf(p, sizeof(p), "%s/in/../../outside/secret", mnt);
			check_read(p, 0, "", NULL);
			snprintf(p, sizeof(p), "%s/../outside/secretdir/f", mnt);
			check_read(p, 0, "", NULL);
			snprintf(p, sizeof(p), "%s/in/..", mnt);
			check_dir_names(p);
			check_dir_names(mnt);
			break;
		}
	}
	return NULL;
}

#define CLIENT_THREADS 7

static int client_main(void)
{
	pthread_t th[CLIENT_THREADS];
	struct cthread ct[CLIENT_THREADS];

	/* a namespace of our own where ROOT/outside is an empty tmpfs */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("hidden", outside, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") < 0) {
		fprintf(stderr, "badinput: client namespace: %s\n", strerror(errno));
		return 2;
	}
	for (int i = 0; i < CLIENT_THREADS; i++) {
		ct[i] = (struct cthread){ .kind = i };
		pthread_create(&th[i], NULL, client_thread, &ct[i]);
	}
	for (int i = 0; i < CLIENT_THREADS; i++)
		pthread_join(th[i], NULL);
	return 0;
}

/* ---- the control socket and another user ------------------------------------- */

/* In a child as nobody: connect to path and send "ping"; 0 if refused
 * (no connection, or no "ok" before the daemon closes), 1 if answered. */
static int foreign_ping(const char *path, char *saw, size_t sawlen)
{
	int pfd[2];
	pid_t pid;
	int status;

	if (pipe(pfd) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		char buf[256] = "";
		close(pfd[0]);
		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(3);
		if (strlen(path) >= sizeof(sa.sun_path))
			_exit(4);
		memcpy(sa.sun_path, path, strlen(path) + 1);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			dprintf(pfd[1], "connect: %s", strerror(errno));
			_exit(0);
		}
		/* the daemon may answer and close before it reads: a failed
		 * send still leaves its answer to read */
		bool sent = send(fd, "ping\n", 5, MSG_NOSIGNAL) == 5;
		struct timeval tv = { .tv_sec = 10 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		for (char *c = buf; *c; c++)
			if (*c == '\n')
				*c = '|';
		dprintf(pfd[1], "answer%s: %s", sent ? "" : " (ping not sent)",
			n >= 0 ? buf : strerror(errno));
		_exit(!strncmp(buf, "ok", 2) ? 1 : 0);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return -1;
	}
	ssize_t n = read(pfd[0], saw, sawlen - 1);
	saw[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	if (!soak_wait_exit(pid, 20000, &status)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void foreign_user(void)
{
	char saw[300];
	struct stat root_st;
	int r;

	/* let others through ROOT (it is 0700): only the socket's mode and
	 * the daemon stand in the way */
	if (stat(m.root, &root_st) < 0 || chmod(m.root, 0711) < 0) {
		soak_fail("chmod %s: %s", m.root, strerror(errno));
		return;
	}
	r = foreign_ping(m.ctl, saw, sizeof(saw));
	soak_check(r == 0, "control socket: a connection of uid %d was not refused (%d: %s)",
		   NOBODY, r, saw);
	soak_note("control socket as uid %d: %s", NOBODY, saw);
	/* the mode opened up: the daemon itself must refuse */
	if (chmod(m.ctl, 0777) == 0) {
		r = foreign_ping(m.ctl, saw, sizeof(saw));
		soak_check(r == 0 && strstr(saw, "answer:"),
			   "control socket opened to all: uid %d was answered or not heard (%d: %s)",
			   NOBODY, r, saw);
		soak_note("control socket mode 0777, as uid %d: %s", NOBODY, saw);
		chmod(m.ctl, 0600);
	}
	chmod(m.root, root_st.st_mode & 07777);
}

int main(int argc, char **argv)
{
	char path[1200], before[16384] = "", after[16384] = "";
	pthread_t racer;

	soak_init("badinput", argc, argv, &opts, 60, 10);
	soak_require_mount();
	if (geteuid() != 0) {
		printf("SKIP: badinput: needs root (a mount namespace, another user)\n");
		return 77;
	}
	soak_watchdog(opts.seconds + 120, "badinput");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		soak_fail("mmap: %s", strerror(errno));
		return soak_finish();
	}
	memset(sh, 0, sizeof(*sh));
	snprintf(marker, sizeof(marker), "SENTINEL-%016" PRIx64, soak_derive(opts.seed, 0x5e, 1));
	soak_mount(&m, "trace");
	snprintf(outside, sizeof(outside), "%s/outside", m.root);
	if (mkdir(outside, 0755) < 0) {
		soak_fail("mkdir %s: %s", outside, strerror(errno));
		diofs_mount_stop(&m);
		return soak_finish();
	}
	add_sentinel("secret", false);
	add_sentinel("secretdir", true);
	add_sentinel("secretdir/f", false);
	add_sentinel("secretdir/g", false);
	add_sentinel("parking", true);
	add_sentinel("parking/secret", false);
	add_sentinel("secretdir/SENTINEL-only", false);
	/* the inside: plain files, the swapped names, the mover */
	snprintf(path, sizeof(path), "%s/in", m.backing);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/in/f", m.backing);
	write_file(path, "INSIDE-in\n", 1);
	snprintf(path, sizeof(path), "%s/sw", m.backing);
	write_file(path, "INSIDE-sw\n", 1);
	snprintf(path, sizeof(path), "%s/dsw", m.backing);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/dsw/f", m.backing);
	write_file(path, "INSIDE-dsw\n", 1);
	snprintf(path, sizeof(path), "%s/.dalt", m.backing);
	char target[700];
	snprintf(target, sizeof(target), "%s/secretdir", outside);
	if (symlink(target, path) < 0)
		soak_fail("symlink: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/mover", m.backing);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/mover/f", m.backing);
	write_file(path, "INSIDE-mover\n", 1);
	const char *rr[] = { "ra", "rb" };
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", m.backing, rr[i]);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/%s/sub", m.backing, rr[i]);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/%s/f", m.backing, rr[i]);
		write_file(path, i ? "INSIDE-rb\n" : "INSIDE-ra\n", 1);
	}
	snapshot_sentinels();
	listing(outside, before, sizeof(before), 0);

	/* the attack */
	atomic_store(&sh->stop, false);
	pid_t client = fork();
	if (client == 0)
		_exit(client_main());
	if (client < 0) {
		soak_fail("fork: %s", strerror(errno));
		diofs_mount_stop(&m);
		return soak_finish();
	}
	soak_child_add(client);
	pthread_create(&racer, NULL, racer_main, NULL);
	struct timespec ts = { .tv_sec = opts.seconds };
	nanosleep(&ts, NULL); /* the length of the run, not a synchronisation */
	atomic_store(&sh->stop, true);
	pthread_join(racer, NULL);
	int status;
	if (!soak_wait_exit(client, 60000, &status)) {
		soak_fail("hang: the attacking client did not stop within 60 s");
		kill(client, SIGKILL);
		waitpid(client, &status, 0);
	}
	soak_child_del(client);
	soak_check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the client ended with status %#x",
		   status);

	/* the sentinels are as they were */
	unsigned int changed = 0;
	for (int i = 0; i < nsentinels; i++) {
		struct sentinel *s = &sentinels[i];
		struct stat st;
		if (lstat(s->path, &st) < 0) {
			soak_fail("sentinel %s is gone: %s", s->path, strerror(errno));
			changed++;
			continue;
		}
		bool same = st.st_ino == s->st.st_ino && st.st_mode == s->st.st_mode &&
			    st.st_uid == s->st.st_uid && st.st_gid == s->st.st_gid &&
			    st.st_nlink == s->st.st_nlink && st.st_size == s->st.st_size &&
			    st.st_mtim.tv_sec == s->st.st_mtim.tv_sec &&
			    st.st_mtim.tv_nsec == s->st.st_mtim.tv_nsec &&
			    st.st_ctim.tv_sec == s->st.st_ctim.tv_sec &&
			    st.st_ctim.tv_nsec == s->st.st_ctim.tv_nsec &&
			    (!S_ISREG(st.st_mode) || file_sum(s->path) == s->sum);
		if (!same && S_ISDIR(st.st_mode) && !strcmp(s->path + strlen(s->path) - 7, "parking")) {
			/* the mover went through it: times move, nothing else */
			same = st.st_ino == s->st.st_ino && st.st_mode == s->st.st_mode &&
			       st.st_uid == s->st.st_uid && st.st_nlink == s->st.st_nlink;
		}
		if (!same) {
			changed++;
			soak_fail("sentinel %s changed: mode %o->%o uid %d->%d nlink %lu->%lu size "
				  "%jd->%jd mtime %ld->%ld", s->path, s->st.st_mode, st.st_mode,
				  (int)s->st.st_uid, (int)st.st_uid, (unsigned long)s->st.st_nlink,
				  (unsigned long)st.st_nlink, (intmax_t)s->st.st_size,
				  (intmax_t)st.st_size, (long)s->st.st_mtim.tv_sec,
				  (long)st.st_mtim.tv_sec);
		}
	}
	listing(outside, after, sizeof(after), 0);
	soak_check(!strcmp(before, after), "entries appeared or went outside the backing "
		   "directory:\nbefore:\n%safter:\n%s", before, after);
	soak_check(sh->marker_hits == 0, "the client reached outside the backing directory %lu "
		   "times; first: %s", (unsigned long)sh->marker_hits, sh->first_hit);
	soak_check(sh->reads > 0 && f_swaps > 0, "the attack did not run (%lu reads, %lu swaps)",
		   (unsigned long)sh->reads, (unsigned long)f_swaps);
	soak_check(sh->wrong_content == 0, "%lu reads returned bytes of no inside file",
		   (unsigned long)sh->wrong_content);

	foreign_user();
	soak_check(diofs_mount_alive(&m), "the daemon died");
	diofs_mount_stop(&m);
	alarm(0);

	soak_figure_set("sentinels", (uint64_t)nsentinels);
	soak_figure_set("sentinels_changed", changed);
	soak_figure_set("name_swaps_under_the_daemon", f_swaps);
	soak_figure_set("client_ops", sh->ops);
	soak_figure_set("client_reads", sh->reads);
	soak_figure_set("client_bytes_read", sh->bytes_read);
	soak_figure_set("client_lookups", sh->lookups);
	soak_figure_set("client_creates", sh->creates);
	soak_figure_set("client_links", sh->links);
	soak_figure_set("client_renames", sh->renames);
	soak_figure_set("client_attr_attempts", sh->attr_changes);
	soak_figure_set("client_errors", sh->errors);
	soak_figure_set("escapes", sh->marker_hits);
	soak_figure_set("sentinel_inodes_seen", sh->ino_hits);
	return soak_finish();
}
