/* badinput: path escapes raced under the daemon, and the control protocol
 * fed generated lines.
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
 * The deterministic escapes (each symlink operation, "..", rename and
 * link out, mounts inside) are tests/fs/test_escape's, and a control
 * client of another user is tests/instrument/test_inst_ctl's; this adds
 * the races, under load, with sentinels.
 *
 * Control protocol.  A stream of generated command lines
 * (seeded: words of the protocol and the rule language, numbers at the
 * edges, random bytes, NUL and CR, lines over the limit, sent in random
 * pieces) must get exactly one well-formed answer each ("ok N" and N
 * lines, or "err ..."), and the daemon must serve the mount afterwards.
 * (Lines that would stop the daemon or write files elsewhere are left
 * out: crash, abort, "trace on" with a path of its choosing, and a "held"
 * without a short timeout.)  "trace on" goes to a path of ours or to a
 * symbolic link planted to a sentinel, which must be refused (the sentinel
 * is checked after the stream), with or without "overwrite".
 *
 * The control channel's own cases: bursts of generated lines from a client
 * that then shuts down its writing half (the last line at times without its
 * newline) get every answer and then the end of the connection; files named
 * with random bytes, held, come back from "held" with names that
 * term_escape turns into text with no control byte that decodes back to
 * the line.
 *
 *   badinput [--short] [--seed N] [--seconds N] */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "soak.h"
#include "lib/diofsctl.h"
#include "proto/escape.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_SENTINELS 16
#define NOBODY 65534 /* lchown's target */

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
		CHECK_FATALF("creating %s: %s", path, strerror(errno));
	}
	for (int i = 0; i < reps; i++)
		if (write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
			CHECK_FATALF("writing %s: %s", path, strerror(errno));
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
			CHECK_FATALF("mkdir %s: %s", s->path, strerror(errno));
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

/* A lookup under the mount that must stay inside it: a read (the content
 * it may find, "" for a file it must not reach), a stat, or a listing. */
struct probe {
	enum { PROBE_READ, PROBE_STAT, PROBE_LIST } kind;
	const char *path;       /* after MNT */
	const char *want;
};

/* through the directory that leaves and comes back */
static const struct probe mover_probes[] = {
	{ PROBE_READ, "/mover/f", "INSIDE-mover\n" },
	{ PROBE_READ, "/mover/../secret", "" },
	{ PROBE_READ, "/mover/../../outside/secret", "" },
	{ PROBE_LIST, "/mover", NULL },
	{ .path = NULL },
};

/* ".." everywhere */
static const struct probe dotdot_probes[] = {
	{ PROBE_STAT, "/..", NULL },
	{ PROBE_READ, "/in/../../outside/secret", "" },
	{ PROBE_READ, "/../outside/secretdir/f", "" },
	{ PROBE_LIST, "/in/..", NULL },
	{ PROBE_LIST, "", NULL },
	{ .path = NULL },
};

static void probe_all(const char *mnt, const struct probe *probes)
{
	char path[1200];

	for (const struct probe *pr = probes; pr->path; pr++) {
		snprintf(path, sizeof(path), "%s%s", mnt, pr->path);
		switch (pr->kind) {
		case PROBE_READ: check_read(path, 0, pr->want, NULL); break;
		case PROBE_STAT: check_stat(path, 0); break;
		case PROBE_LIST: check_dir_names(path); break;
		}
	}
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
			probe_all(mnt, mover_probes);
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
			probe_all(mnt, dotdot_probes);
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

/* ---- the control protocol, fed generated lines ---------------------------- */

static const char *const words[] = {
	"ping", "rule", "add", "list", "del", "clear", "held", "release", "all", "reply",
	"stats", "trace", "on", "off", "flush", "hold", "delay=", "fail=", "short=",
	"overlong", "overlong=", "op=", "path=", "offset=", "size=", "pid=", "nth=", "count=",
	"prob=", "seed=", "read", "write", "lookup", "getattr", "fsync", "open", "EIO",
	"ENOSPC", "errno=", "errno=EIO", "short=1", "min=", "timeout=", ",", "-", "0x", "k",
	"m", "g", "*", "?", "[", "]", "/", "..", "/..", "%s", "%n", "\\", "\"", "1", "0",
	"-1", "4096", "18446744073709551615", "18446744073709551616", "9223372036854775807",
	"0.5", "1e308", "nan", "inf", "-0", "0x7fffffff", "2147483648", "999", "1000",
	"511", "512", "ENOSYS", "release", "releasedir", "opendir", "flock",
};

static void gen_token(uint64_t *rng, char *out, size_t cap, size_t *len)
{
	unsigned int k = (unsigned int)soak_below(rng, 10);
	size_t n = 0;
	char tmp[64];

	if (k < 6) {
		const char *w = words[soak_below(rng, sizeof(words) / sizeof(*words))];
		n = strlen(w);
		if (*len + n < cap)
			memcpy(out + *len, w, n);
		else
			n = 0;
		/* a word that wants a value gets one */
		if (n && w[n - 1] == '=' && *len + n + 32 < cap) {
			unsigned int v = (unsigned int)soak_below(rng, 4);
			int w_ = v == 0 ? snprintf(tmp, sizeof(tmp), "%" PRIu64, soak_next(rng)) :
				v == 1 ? snprintf(tmp, sizeof(tmp), "%u", (unsigned int)soak_below(rng, 5000)) :
				v == 2 ? snprintf(tmp, sizeof(tmp), "%s", words[soak_below(rng, sizeof(words) / sizeof(*words))]) :
				snprintf(tmp, sizeof(tmp), "%ukmg", (unsigned int)soak_below(rng, 3));
			memcpy(out + *len + n, tmp, (size_t)w_);
			n += (size_t)w_;
		}
	} else if (k < 8) {
		int w_ = snprintf(tmp, sizeof(tmp), "%" PRId64, (int64_t)soak_next(rng) >> soak_below(rng, 63));
		if (*len + (size_t)w_ < cap) {
			memcpy(out + *len, tmp, (size_t)w_);
			n = (size_t)w_;
		}
	} else {
		/* random bytes, newline excluded (it ends the line) */
		size_t cnt = 1 + soak_below(rng, 24);
		for (size_t i = 0; i < cnt && *len + n < cap; i++) {
			char c = (char)(1 + soak_below(rng, 255));
			out[*len + n++] = c == '\n' ? 'x' : c;
		}
	}
	*len += n;
}

static const char *pick(uint64_t *rng, const char *const *set, size_t n)
{
	return set[soak_below(rng, n)];
}
#define PICK(rng, ...) ({ static const char *const set_[] = { __VA_ARGS__ }; \
	pick(rng, set_, sizeof(set_) / sizeof(*set_)); })

/* A command as the grammar has it (mostly valid). */
static size_t gen_command(uint64_t *rng, char *out, size_t cap)
{
	size_t len = 0;
	unsigned int c = (unsigned int)soak_below(rng, 20);

#define ADD(...) (len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, __VA_ARGS__))
	if (c < 9) {
		ADD("rule add %s", PICK(rng, "hold", "delay=5", "delay=0", "fail=EIO", "fail=enospc",
					 "fail=999", "fail=0", "short=1", "short=1m", "overlong",
					 "overlong=4096", "overlong=2m", "delay=2147483648", "fail=EFOO",
					 /* what the kernel refuses, or takes for "no open" */
					 "fail=511", "fail=512", "fail=4095", "fail=ENOSYS",
					 "fail=ENOSYS op=open", "fail=ENOSYS op=opendir",
					 /* answered by a rule, a release still frees */
					 "fail=EIO op=release", "fail=EIO op=releasedir",
					 "delay=3 op=release,releasedir", "delay=2 op=flock"));
		unsigned int nm = (unsigned int)soak_below(rng, 5);
		for (unsigned int i = 0; i < nm; i++)
			switch (soak_below(rng, 9)) {
			case 0: ADD(" op=%s", PICK(rng, "read", "write", "read,write", "lookup,getattr",
						   "nosuch", "read,,write", "", "open,opendir",
						   "release,releasedir", "flock")); break;
			case 1: ADD(" path=%s", PICK(rng, "/f", "/d/*", "*", "/[a-", "/a?c/[!x]*",
						     "/\\", "/x/../y", "")); break;
			case 2: ADD(" offset=%" PRIu64 "-%" PRIu64, soak_below(rng, 1 << 20),
				    soak_below(rng, 1 << 20)); break;
			case 3: ADD(" size=%s", PICK(rng, "4k-", "0-0", "1-", "5-1", "1g-2g",
						     "18446744073709551615-")); break;
			case 4: ADD(" pid=%d", (int)soak_below(rng, 100000) - 10); break;
			case 5: ADD(" nth=%" PRIu64, soak_below(rng, 5)); break;
			case 6: ADD(" count=%" PRIu64, soak_below(rng, 5)); break;
			case 7: ADD(" prob=%s", PICK(rng, "0", "1", "0.5", "1.5", "-0.1", "nan", "1e-9",
						     "0x1p-2")); break;
			default: ADD(" seed=%" PRIu64, soak_next(rng)); break;
			}
	} else if (c < 11) {
		ADD("rule %s", PICK(rng, "list", "clear", "del 1", "del 0", "del -1", "del 99999999999",
				    "del", "list extra"));
	} else if (c < 13) {
		ADD("release %s%s", PICK(rng, "all", "1", "0", "x", "18446744073709551615"),
		    PICK(rng, "", " reply", " errno=EIO", " errno=EBOGUS", " errno=0", " short=3",
			 " short=-1", " reply extra", " errno=511", " errno=512", " errno=999",
			 " errno=ENOSYS"));
	} else if (c < 15) {
		ADD("held%s", PICK(rng, "", " min=0", " min=1", " min=999999", " min=x"));
	} else if (c < 17) {
		ADD("%s", PICK(rng, "stats", "stats extra", "ping", "ping x", "trace off",
			       "trace flush", "trace", "trace bogus"));
	} else {
		ADD("%s", PICK(rng, "rule", "RULE ADD hold", "rule  add\thold", "rule add",
			       "rule add hold op=read op=write", "rule add hold nth=1 count=1",
			       "rule add short=1 op=lookup", "rule add overlong op=getattr"));
	}
#undef ADD
	if (len >= cap)
		len = cap - 1;
	/* a few byte mutations */
	unsigned int muts = soak_below(rng, 4) ? 0 : 1 + (unsigned int)soak_below(rng, 3);
	for (unsigned int i = 0; i < muts && len; i++) {
		size_t at = soak_below(rng, len);
		char b = (char)(1 + soak_below(rng, 255));
		out[at] = b == '\n' ? ' ' : b;
	}
	out[len] = '\0';
	return len;
}

/* One line (no newline) into out; returns its length. */
static char trace_ok[700], trace_link[700]; /* ours; a link to a sentinel */

static size_t gen_line(uint64_t *rng, char *out, size_t cap)
{
	size_t len = 0;
	unsigned int shape = (unsigned int)soak_below(rng, 100);

	if (shape < 2) {                /* over the limit */
		len = 5000 + soak_below(rng, 3000);
		for (size_t i = 0; i < len; i++)
			out[i] = (char)('a' + soak_below(rng, 26));
		return len;
	}
	if (shape < 4)                  /* empty, or blanks only */
		return shape == 2 ? 0 : (size_t)snprintf(out, cap, " \t  ");
	if (shape >= 40) {
		len = gen_command(rng, out, cap - 80);
	} else {
		unsigned int ntok = 1 + (unsigned int)soak_below(rng, 12);
		for (unsigned int t = 0; t < ntok && len + 80 < cap; t++) {
			if (t)
				out[len++] = soak_below(rng, 8) ? ' ' : '\t';
			gen_token(rng, out, cap - 80, &len);
		}
	}
	if (shape < 6 && len + 1 < cap)
		out[len++] = '\r';
	if (shape >= 6 && shape < 8 && len > 2)
		out[soak_below(rng, len)] = '\0';
	out[len] = '\0';

	/* what must not be sent: see the top of this file */
	char first[16] = "", second[16] = "";
	sscanf(out, "%15s %15s", first, second);
	for (size_t i = 0; i < len; i++) {
		if (!strncasecmp(out + i, "crash", 5) || !strncasecmp(out + i, "abort", 5))
			memcpy(out + i, "delay", 5);
	}
	if (!strcmp(first, "held")) {
		char *t;
		while ((t = strstr(out, "timeout=")))
			memcpy(t, "xxxxxxx=", 8);
		len = strlen(out);
		len += (size_t)snprintf(out + len, cap - len, " timeout=1");
	} else if (!strcmp(first, "trace") && !strcmp(second, "on")) {
		if (soak_below(rng, 3) == 0)
			len = (size_t)snprintf(out, cap, "trace on");
		else
			len = (size_t)snprintf(out, cap, "trace on %s%s",
					       soak_below(rng, 2) ? trace_ok : trace_link,
					       soak_below(rng, 2) ? " overwrite" : "");
	}
	return len;
}

/* The next answer line into buf (without the newline); false on EOF or
 * after 10 s. */
static bool read_answer_line(int fd, char *rbuf, size_t *rlen, char *line, size_t cap)
{
	for (;;) {
		char *nl = memchr(rbuf, '\n', *rlen);
		if (nl) {
			size_t n = (size_t)(nl - rbuf);
			size_t c = n < cap - 1 ? n : cap - 1;
			memcpy(line, rbuf, c);
			line[c] = '\0';
			memmove(rbuf, nl + 1, *rlen - n - 1);
			*rlen -= n + 1;
			return true;
		}
		if (*rlen == 65536)
			*rlen = 0; /* an answer line longer than that: drop */
		ssize_t r = recv(fd, rbuf + *rlen, 65536 - *rlen, 0);
		if (r <= 0)
			return false;
		*rlen += (size_t)r;
	}
}

static void ctl_stream_fuzz(unsigned long nlines)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *line = malloc(16384), *ans = malloc(8192), *rbuf = malloc(65536);
	size_t rlen = 0;
	uint64_t rng = soak_derive(opts.seed, 0xc71, 0);
	unsigned long sent = 0, oks = 0, errs = 0, data_lines = 0, too_long = 0, bad = 0;

	snprintf(trace_ok, sizeof(trace_ok), "%s/fuzz-trace.jsonl", m.root);
	snprintf(trace_link, sizeof(trace_link), "%s/fuzz-trace-link.jsonl", m.root);
	if (symlink(sentinels[0].path, trace_link) < 0)
		CHECK_FAILF("symlink %s: %s", trace_link, strerror(errno));
	memcpy(sa.sun_path, m.ctl, strlen(m.ctl) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (!line || !ans || !rbuf || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		CHECK_FAILF("ctl fuzz: connect: %s", strerror(errno));
		goto out;
	}
	for (unsigned long i = 0; i < nlines && bad < 5; i++) {
		size_t len = gen_line(&rng, line, 16000);
		line[len] = '\n';
		/* in random pieces */
		for (size_t off = 0; off <= len;) {
			size_t piece = 1 + soak_below(&rng, soak_below(&rng, 4) ? len + 1 : 8);
			if (piece > len + 1 - off)
				piece = len + 1 - off;
			if (send(fd, line + off, piece, MSG_NOSIGNAL) != (ssize_t)piece) {
				CHECK_FAILF("ctl fuzz: the daemon closed the connection after %lu lines "
					  "(%s)", sent, strerror(errno));
				goto out;
			}
			off += piece;
		}
		sent++;
		if (len > 4096)
			too_long++;
		if (!read_answer_line(fd, rbuf, &rlen, ans, 8192)) {
			CHECK_FAILF("ctl fuzz: no answer to line %lu (%zu bytes) within 10 s", i, len);
			goto out;
		}
		unsigned long n;
		if (!strncmp(ans, "ok", 2) && sscanf(ans, "ok %lu", &n) == 1) {
			oks++;
			for (unsigned long j = 0; j < n; j++) {
				if (!read_answer_line(fd, rbuf, &rlen, ans, 8192)) {
					CHECK_FAILF("ctl fuzz: line %lu: %lu of %lu data lines", i, j, n);
					goto out;
				}
				data_lines++;
			}
		} else if (!strncmp(ans, "err ", 4)) {
			errs++;
		} else {
			bad++;
			CHECK_FAILF("ctl fuzz: line %lu: an answer that is neither ok nor err: %.80s", i, ans);
		}
	}
	/* clean up what the stream set, and the daemon must still serve */
	const char *tail[] = { "rule clear", "release all", "trace off", "ping" };
	for (size_t i = 0; i < sizeof(tail) / sizeof(*tail); i++) {
		dprintf(fd, "%s\n", tail[i]);
		if (!read_answer_line(fd, rbuf, &rlen, ans, 8192))
			CHECK_FAILF("ctl fuzz: no answer to %s", tail[i]);
		unsigned long n = 0;
		if (sscanf(ans, "ok %lu", &n) == 1)
			for (unsigned long j = 0; j < n; j++)
				read_answer_line(fd, rbuf, &rlen, ans, 8192);
		else if (strcmp(tail[i], "release all") && strcmp(tail[i], "trace off"))
			CHECK_FAILF("ctl fuzz: %s: %s", tail[i], ans);
	}
	struct stat st;
	CHECK(stat(m.mnt, &st) == 0 && stat(diofs_mnt_path(&m, "in/f"), &st) == 0,
		   "ctl fuzz: the mount after the stream: %s", strerror(errno));
	CHECK(sent == oks + errs, "ctl fuzz: %lu lines, %lu answers", sent, oks + errs);
out:
	if (fd >= 0)
		close(fd);
	soak_figure_set("ctl_fuzz_lines", sent);
	soak_figure_set("ctl_fuzz_ok", oks);
	soak_figure_set("ctl_fuzz_err", errs);
	soak_figure_set("ctl_fuzz_data_lines", data_lines);
	soak_figure_set("ctl_fuzz_lines_over_limit", too_long);
	free(line);
	free(ans);
	free(rbuf);
}

/* A connection with reads that give up after 10 s; -1 on failure (said). */
static int ctl_connect_raw(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, m.ctl, strlen(m.ctl) + 1);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		CHECK_FAILF("ctl: connect: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Bursts of generated lines, then SHUT_WR: every line answered, then EOF. */
static void ctl_half_close(unsigned long rounds)
{
	char *line = malloc(16384), *ans = malloc(8192), *rbuf = malloc(65536);
	uint64_t rng = soak_derive(opts.seed, 0xc72, 0);
	unsigned long answered = 0, unterminated = 0;

	for (unsigned long r = 0; r < rounds && line && ans && rbuf; r++) {
		unsigned int k = 1 + (unsigned int)soak_below(&rng, 8);
		size_t rlen = 0;
		int fd = ctl_connect_raw();
		bool ok = fd >= 0;

		for (unsigned int i = 0; i < k && ok; i++) {
			size_t len = gen_line(&rng, line, 16000);

			/* The last one at times without its newline (not one the
			 * daemon would cut as too long, nor an empty one: no
			 * command at all). */
			if (i + 1 == k && len && len < 4000 && soak_below(&rng, 2))
				unterminated++;
			else
				line[len++] = '\n';
			ok = send(fd, line, len, MSG_NOSIGNAL) == (ssize_t)len;
		}
		ok = ok && shutdown(fd, SHUT_WR) == 0;
		for (unsigned int i = 0; i < k && ok; i++) {
			unsigned long n;

			ok = read_answer_line(fd, rbuf, &rlen, ans, 8192);
			if (ok && sscanf(ans, "ok %lu", &n) == 1)
				for (unsigned long j = 0; j < n && ok; j++)
					ok = read_answer_line(fd, rbuf, &rlen, ans, 8192);
			else if (ok)
				ok = strncmp(ans, "err ", 4) == 0;
			answered += ok;
		}
		CHECK(ok, "ctl half-close, round %lu: %u lines then SHUT_WR: not every one "
			   "answered (last seen: %.80s)", r, k, ans ? ans : "");
		if (ok)
			CHECK(rlen == 0 && recv(fd, rbuf, 1, 0) == 0, "ctl half-close, round "
				   "%lu: after the answers, no end of the connection", r);
		if (fd >= 0)
			close(fd);
		if (!ok)
			break;
	}
	soak_figure_set("ctl_half_close_answers", answered);
	soak_figure_set("ctl_half_close_unterminated_last_lines", unterminated);
	free(line);
	free(ans);
	free(rbuf);
}

struct held_read {
	char path[1200];
	ssize_t ret;
};

static void *held_read_main(void *arg)
{
	struct held_read *h = arg;
	char buf[100];
	int fd = open(h->path, O_RDONLY | O_CLOEXEC);

	h->ret = fd < 0 ? -1 : pread(fd, buf, sizeof(buf), 0);
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* \\ and \xNN of term_escape's output decoded; false if it is not that. */
static bool unescape(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; in[i]; o++) {
		unsigned int byte;

		if (o + 1 >= cap)
			return false;
		if (in[i] != '\\') {
			out[o] = in[i++];
		} else if (in[i + 1] == '\\') {
			out[o] = '\\';
			i += 2;
		} else if (in[i + 1] == 'x' && sscanf(in + i + 2, "%2x", &byte) == 1) {
			out[o] = (char)byte;
			i += 4;
		} else {
			return false;
		}
	}
	out[o] = '\0';
	return true;
}

/* Files named with random bytes, held: the "held" line, escaped, holds no
 * control byte and decodes back to the line, which ends in the name. */
static void ctl_escaped_names(unsigned long rounds)
{
	uint64_t rng = soak_derive(opts.seed, 0xc73, 0);
	struct diofsctl *ctl;
	unsigned long shown = 0;
	char err[256];

	ctl = diofsctl_connect(m.ctl, err, sizeof(err));
	if (!ctl) {
		CHECK_FAILF("ctl: %s", err);
		return;
	}
	/* Nothing the generated lines left may act on these reads. */
	CHECK(diofsctl_rule_clear(ctl) == 0 && diofsctl_release(ctl, 0, NULL) >= 0 &&
		   diofsctl_rule_add(ctl, "hold op=read path=/esc-*") > 0, "rules: %s",
		   diofsctl_error(ctl));
	for (unsigned long r = 0; r < rounds; r++) {
		char name[64] = "esc-", bpath[1200], want[80], esc[4 * 600 + 1], back[600];
		size_t len = 4 + 1 + soak_below(&rng, 40);
		struct held_read h = { 0 };
		char **lines = NULL;
		pthread_t th;
		int fd, n;

		for (size_t i = 4; i < len; i++) {
			unsigned char ch;

			do
				ch = (unsigned char)(1 + soak_below(&rng, 255));
			while (ch == '/' || ch == '\n' || ch == '\r');
			name[i] = (char)ch;
		}
		name[len] = '\0';
		snprintf(bpath, sizeof(bpath), "%s/%s", m.backing, name);
		fd = open(bpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, marker, 16) != 16) {
			CHECK_FAILF("creating %s: %s", bpath, strerror(errno));
			if (fd >= 0)
				close(fd);
			break;
		}
		close(fd);
		snprintf(h.path, sizeof(h.path), "%s/%s", m.mnt, name);
		if (pthread_create(&th, NULL, held_read_main, &h) != 0) {
			CHECK_FAILF("pthread_create");
			unlink(bpath);
			break;
		}
		n = diofsctl_cmd(ctl, &lines, "held min=1 timeout=10000");
		if (CHECK(n == 1, "held, a file named with random bytes: %d lines (%s)", n,
			       n < 0 ? diofsctl_error(ctl) : "")) {
			snprintf(want, sizeof(want), " path=/%s", name);
			term_escape(esc, sizeof(esc), lines[0]);
			bool clean = true;

			for (const char *p = esc; *p; p++)
				clean &= (unsigned char)*p >= 0x20 && *p != 0x7f;
			CHECK(clean && unescape(esc, back, sizeof(back)) &&
				   strcmp(back, lines[0]) == 0 &&
				   strlen(back) >= strlen(want) &&
				   strcmp(back + strlen(back) - strlen(want), want) == 0,
				   "held line, escaped: \"%.300s\" (clean %d): not the line ending in "
				   "the name, or not clean", esc, clean);
			shown++;
		}
		diofsctl_free_lines(lines);
		CHECK(diofsctl_release(ctl, 0, NULL) >= 0, "release all: %s",
			   diofsctl_error(ctl));
		pthread_join(th, NULL);
		CHECK(h.ret == 16, "the held read of a random name: %zd", h.ret);
		unlink(bpath);
	}
	diofsctl_rule_clear(ctl);
	diofsctl_close(ctl);
	soak_figure_set("ctl_escaped_names", shown);
}

static void badinput(void)
{
	char path[1200], before[16384] = "", after[16384] = "";
	pthread_t racer;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		CHECK_FAILF("mmap: %s", strerror(errno));
		return;
	}
	memset(sh, 0, sizeof(*sh));
	snprintf(marker, sizeof(marker), "SENTINEL-%016" PRIx64, soak_derive(opts.seed, 0x5e, 1));
	soak_mount(&m, "trace");
	snprintf(outside, sizeof(outside), "%s/outside", m.root);
	if (mkdir(outside, 0755) < 0) {
		CHECK_FAILF("mkdir %s: %s", outside, strerror(errno));
		diofs_mount_stop(&m);
		return;
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
		CHECK_FAILF("symlink: %s", strerror(errno));
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
		CHECK_FAILF("fork: %s", strerror(errno));
		diofs_mount_stop(&m);
		return;
	}
	pthread_create(&racer, NULL, racer_main, NULL);
	struct timespec ts = { .tv_sec = opts.seconds };
	nanosleep(&ts, NULL); /* the length of the run, not a synchronisation */
	atomic_store(&sh->stop, true);
	pthread_join(racer, NULL);
	int status;
	if (!diofs_wait_exit(client, 60000, &status)) {
		CHECK_FAILF("hang: the attacking client did not stop within 60 s");
		kill(client, SIGKILL);
		waitpid(client, &status, 0);
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the client ended with status %#x",
		   status);

	/* the sentinels are as they were */
	unsigned int changed = 0;
	for (int i = 0; i < nsentinels; i++) {
		struct sentinel *s = &sentinels[i];
		struct stat st;
		if (lstat(s->path, &st) < 0) {
			CHECK_FAILF("sentinel %s is gone: %s", s->path, strerror(errno));
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
			CHECK_FAILF("sentinel %s changed: mode %o->%o uid %d->%d nlink %lu->%lu size "
				  "%jd->%jd mtime %ld->%ld", s->path, s->st.st_mode, st.st_mode,
				  (int)s->st.st_uid, (int)st.st_uid, (unsigned long)s->st.st_nlink,
				  (unsigned long)st.st_nlink, (intmax_t)s->st.st_size,
				  (intmax_t)st.st_size, (long)s->st.st_mtim.tv_sec,
				  (long)st.st_mtim.tv_sec);
		}
	}
	listing(outside, after, sizeof(after), 0);
	CHECK(!strcmp(before, after), "entries appeared or went outside the backing "
		   "directory:\nbefore:\n%safter:\n%s", before, after);
	CHECK(sh->marker_hits == 0, "the client reached outside the backing directory %lu "
		   "times; first: %s", (unsigned long)sh->marker_hits, sh->first_hit);
	CHECK(sh->reads > 0 && f_swaps > 0, "the attack did not run (%lu reads, %lu swaps)",
		   (unsigned long)sh->reads, (unsigned long)f_swaps);
	CHECK(sh->wrong_content == 0, "%lu reads returned bytes of no inside file",
		   (unsigned long)sh->wrong_content);

	ctl_stream_fuzz(opts.is_short ? 20000 : 200000);
	ctl_half_close(opts.is_short ? 300 : 3000);
	ctl_escaped_names(opts.is_short ? 50 : 500);
	/* the sentinel behind the planted trace link is as it was */
	CHECK(file_sum(sentinels[0].path) == sentinels[0].sum,
		   "the trace link's target %s changed", sentinels[0].path);
	CHECK(diofs_mount_alive(&m), "the daemon died");
	diofs_mount_stop(&m);

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
}

int main(int argc, char **argv)
{
	soak_init("badinput", argc, argv, &opts, 60, 10);
	soak_require_mount();
	if (geteuid() != 0) {
		printf("SKIP: badinput: needs root (a mount namespace, another user)\n");
		return 77;
	}
	return soak_run(badinput, opts.seconds + 120);
}
