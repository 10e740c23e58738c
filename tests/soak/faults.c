/* faults: errors, short replies and delays injected at random (seeded
 * rules) under a verifying load, then the daemon killed with SIGKILL in
 * the middle of I/O.
 *
 * Part 1 (injected faults).  Client threads, each with a file of its own,
 * read and write at random through psync, libaio and io_uring, and fsync
 * now and then; rules with prob= and seed= fail reads and writes with EIO
 * or ENOSPC, shorten replies, delay them, and fail fsyncs.  Each client
 * logs every I/O and acts as an application would: a short count is
 * continued, an error retried.  Then the daemon's trace is read back:
 *  - every call a rule failed or shortened reached the client that made it
 *    (the same thread, file, offset, size and errno, or the short count; a
 *    short reply to an async write is EIO), and the client saw no error
 *    that no rule made;
 *  - each rule's "acted" count is what the trace holds;
 *  - every acknowledged byte is in the file: a model of each file is
 *    compared through the mount and in the backing directory.
 *
 * Part 2 (SIGKILL).  Writers (write, then fsync) and readers, one request
 * held in the daemon; once every writer has fsynced a few times the daemon
 * gets SIGKILL.  Every client must get an error (ENOTCONN, ECONNABORTED)
 * within a bounded time, none may hang; the dead mount is unmounted, a new
 * daemon mounts the same backing directory, and every acknowledged write
 * (fsynced or not: the kernel kept them) is there, except where a write
 * was in flight when the daemon died.
 *
 *   faults [--short] [--seed N] [--seconds N] [--threads N] */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "soak.h"
#include "lib/diofsctl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libaio.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FILE_SIZE (512 * 1024UL)
#define MAX_IO (96 * 1024UL)
#define MAX_CLIENTS 32
#define WAIT_S 30
#define MAX_TRIES 50

enum route { R_PSYNC, R_LIBAIO, R_URING, R_COUNT };
static const char *const route_name[] = { "psync", "libaio", "io_uring" };

/* One I/O as the client saw it. */
struct logent {
	char op;           /* 'r', 'w', 's' (fsync) */
	unsigned char route;
	bool matched;
	uint64_t off, size;
	int64_t res;       /* bytes or -errno */
};

struct client {
	int idx;
	pthread_t thread;
	pid_t tid;
	char path[64];     /* in the mount, "/faults/cN" */
	int fd, bfd;
	unsigned char *model;     /* acknowledged contents */
	unsigned char *unknown;   /* 1: a failed write may or may not have landed */
	unsigned char *durable;   /* part 2: contents at the last good fsync */
	unsigned char *buf;
	io_context_t aio;
	struct io_uring ring;
	uint64_t rng;
	struct logent *log;
	size_t nlog, caplog;
	/* part 2 */
	bool reader;
	atomic_uint fsyncs;
	int last_err;
	bool ended;
	uint64_t pend_off, pend_len; /* the write in flight, if any */
	bool pending;
	char last_what[48];  /* what the error ended */
};

static struct soak_opts opts;
static struct client clients[MAX_CLIENTS];
static unsigned int nclients;
static atomic_bool stop_flag;

static atomic_ulong f_ops, f_reads, f_writes, f_fsyncs, f_bytes_verified, f_corrupt;
static atomic_ulong f_client_errors, f_short_counts, f_retries, f_route[R_COUNT];

/* ---- I/O through one route, bounded ------------------------------------------ */

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void hang(struct client *c, const char *what)
{
	CHECK_FATALF("hang: client %d: %s did not complete within %d s", c->idx, what, WAIT_S);
}

/* bytes or -errno */
static int64_t io(struct client *c, enum route r, char op, void *buf, size_t len, off_t off)
{
	if (r == R_PSYNC) {
		ssize_t n = op == 'r' ? pread(c->fd, buf, len, off) : pwrite(c->fd, buf, len, off);
		return n < 0 ? -errno : n;
	}
	if (r == R_LIBAIO) {
		struct iocb cb, *cbs[1] = { &cb };
		struct io_event ev;
		struct timespec ts = { .tv_sec = WAIT_S };
		if (op == 'r')
			io_prep_pread(&cb, c->fd, buf, len, off);
		else
			io_prep_pwrite(&cb, c->fd, buf, len, off);
		int n = io_submit(c->aio, 1, cbs);
		if (n != 1)
			return n < 0 ? n : -EAGAIN;
		n = io_getevents(c->aio, 1, 1, &ev, &ts);
		if (n != 1)
			hang(c, "a libaio request");
		return (int64_t)(long)ev.res;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
	struct io_uring_cqe *cqe;
	struct __kernel_timespec kts = { .tv_sec = WAIT_S };
	if (op == 'r')
		io_uring_prep_read(sqe, c->fd, buf, len, off);
	else
		io_uring_prep_write(sqe, c->fd, buf, len, off);
	int n = io_uring_submit(&c->ring);
	if (n != 1)
		return n < 0 ? n : -EAGAIN;
	n = io_uring_wait_cqe_timeout(&c->ring, &cqe, &kts);
	if (n < 0)
		hang(c, "an io_uring request");
	int64_t res = cqe->res;
	io_uring_cqe_seen(&c->ring, cqe);
	return res;
}

static void log_io(struct client *c, char op, enum route r, uint64_t off, uint64_t size,
		   int64_t res)
{
	if (c->nlog == c->caplog) {
		c->caplog = c->caplog ? 2 * c->caplog : 1024;
		c->log = realloc(c->log, c->caplog * sizeof(*c->log));
		if (!c->log) {
			CHECK_FATALF("out of memory");
		}
	}
	c->log[c->nlog++] = (struct logent){ .op = op, .route = (unsigned char)r, .off = off,
					     .size = size, .res = res };
}

/* ---- part 1: the load ----------------------------------------------------------- */

static void verify_read(struct client *c, const unsigned char *got, uint64_t off, size_t n,
			const char *what)
{
	size_t bad = 0;

	for (size_t i = 0; i < n; i++)
		if (!c->unknown[off + i] && got[i] != c->model[off + i])
			bad++;
	atomic_fetch_add(&f_bytes_verified, n);
	if (bad) {
		atomic_fetch_add(&f_corrupt, bad);
		CHECK_FAILF("client %d: %s at %" PRIu64 "+%zu: %zu bytes differ from what was "
			  "acknowledged", c->idx, what, off, n, bad);
	}
}

/* Read or write (dir 'r' or 'w') len at off as an application would:
 * continue after a short count, retry after an error.  A write writes
 * pattern seed and updates the model; a read is checked against it. */
static void app_io(struct client *c, char dir, uint64_t off, size_t len, uint64_t seed)
{
	const char *what = dir == 'w' ? "write" : "read";
	unsigned char *data = c->buf;
	int tries = 0;

	if (dir == 'w')
		pattern_fill(data, len, off, seed);
	while (len) {
		enum route r = (enum route)soak_below(&c->rng, R_COUNT);
		if (dir == 'r')
			memset(data, 0xa5, len);
		int64_t res = io(c, r, dir, data, len, (off_t)off);
		log_io(c, dir, r, off, len, res);
		atomic_fetch_add(&f_ops, 1);
		atomic_fetch_add(dir == 'w' ? &f_writes : &f_reads, 1);
		atomic_fetch_add(&f_route[r], 1);
		if (res < 0) {
			atomic_fetch_add(&f_client_errors, 1);
			/* part of a write may have landed (an async short
			 * write fails as a whole): unknown until rewritten */
			if (dir == 'w')
				memset(c->unknown + off, 1, len);
			if (res != -EIO && !(dir == 'w' && res == -ENOSPC))
				CHECK_FAILF("client %d: %s at %" PRIu64 "+%zu: %s, which no rule "
					  "injects", c->idx, what, off, len, strerror((int)-res));
			if (++tries > MAX_TRIES) {
				CHECK_FAILF("client %d: %s at %" PRIu64 " failed %d times", c->idx,
					  what, off, tries);
				return;
			}
			atomic_fetch_add(&f_retries, 1);
			continue;
		}
		if (res == 0 || (size_t)res > len) {
			CHECK_FAILF("client %d: %s at %" PRIu64 "+%zu returned %" PRId64, c->idx,
				  what, off, len, res);
			return;
		}
		if ((size_t)res < len)
			atomic_fetch_add(&f_short_counts, 1);
		if (dir == 'w') {
			memcpy(c->model + off, data, (size_t)res);
			memset(c->unknown + off, 0, (size_t)res);
		} else {
			verify_read(c, data, off, (size_t)res, "read");
		}
		off += (uint64_t)res;
		data += res;
		len -= (size_t)res;
	}
}

static void app_fsync(struct client *c)
{
	for (int tries = 0; tries <= MAX_TRIES; tries++) {
		int res = fsync(c->fd) < 0 ? -errno : 0;
		log_io(c, 's', R_PSYNC, 0, 0, res);
		atomic_fetch_add(&f_fsyncs, 1);
		if (res == 0)
			return;
		atomic_fetch_add(&f_client_errors, 1);
		if (res != -EIO) {
			CHECK_FAILF("client %d: fsync: %s, which no rule injects", c->idx,
				  strerror(-res));
			return;
		}
	}
	CHECK_FAILF("client %d: fsync failed %d times", c->idx, MAX_TRIES + 1);
}

static void *load_main(void *arg)
{
	struct client *c = arg;

	c->tid = gettid_();
	while (!atomic_load(&stop_flag)) {
		uint64_t len = 1 + soak_below(&c->rng, MAX_IO);
		uint64_t off = soak_below(&c->rng, FILE_SIZE - len + 1);
		unsigned int what = (unsigned int)soak_below(&c->rng, 20);
		if (what < 9)
			app_io(c, 'r', off, len, 0);
		else if (what < 19)
			app_io(c, 'w', off, len, soak_next(&c->rng));
		else
			app_fsync(c);
	}
	return NULL;
}

/* ---- the trace ------------------------------------------------------------------- */

/* The number after "key": in line, or the string (into out). */
static bool jnum(const char *line, const char *key, int64_t *v)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	if (!p)
		return false;
	*v = strtoll(p + strlen(pat), NULL, 10);
	return true;
}

static bool jstr(const char *line, const char *key, char *out, size_t len)
{
	char pat[32];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(line, pat);
	if (!p)
		return false;
	p += strlen(pat);
	e = strchr(p, '"');
	if (!e || (size_t)(e - p) >= len)
		return false;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return true;
}

enum kind { K_NONE, K_EIO, K_ENOSPC, K_SHORT, K_DELAY, K_FSYNC_EIO, K_COUNT };
static const char *kind_name[] = { "none", "fail=EIO", "fail=ENOSPC", "short", "delay",
				   "fsync fail=EIO" };

struct rule_info {
	int id;
	enum kind kind;
	uint64_t acted;      /* from the daemon's rule list */
	uint64_t in_trace;   /* trace lines naming it */
};

static struct rule_info rules[8];
static int nrules;

static struct rule_info *rule_of(int id)
{
	for (int i = 0; i < nrules; i++)
		if (rules[i].id == id)
			return &rules[i];
	return NULL;
}

static struct client *client_of_path(const char *path)
{
	for (unsigned int i = 0; i < nclients; i++)
		if (!strcmp(clients[i].path, path))
			return &clients[i];
	return NULL;
}

/* A short reply of n bytes: a sync client saw n, an async write EIO, an
 * async read n. */
static bool short_seen(const struct logent *e, int64_t n)
{
	if ((uint64_t)n >= e->size) /* asked for no more than short= */
		return e->res == (int64_t)e->size;
	if (e->op == 'w' && e->route != R_PSYNC)
		return e->res == -EIO;
	return e->res == n;
}

/* One read, write or fsync of a client's file, as the daemon traced it. */
struct tline {
	int64_t start;
	char op;
	uint64_t off, size;
	int64_t replied, err, pid;
	int rule;
};

static int tline_cmp(const void *a, const void *b)
{
	const struct tline *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static uint64_t f_trace_lines, f_faults_traced, f_faults_matched, f_delays, f_pid_checked;
static uint64_t f_calls_paired;

/* What the client must have seen for the traced call t. */
static bool consistent(const struct tline *t, const struct logent *e, const char **why)
{
	struct rule_info *ri = t->rule ? rule_of(t->rule) : NULL;
	enum kind k = ri ? ri->kind : K_NONE;

	*why = kind_name[k];
	switch (k) {
	case K_EIO:
	case K_ENOSPC:
	case K_FSYNC_EIO:
		if (t->err != (k == K_ENOSPC ? ENOSPC : EIO))
			*why = "the rule's errno not in the trace";
		return e->res == -t->err;
	case K_SHORT:
		return short_seen(e, t->replied);
	default: /* no rule, or a delay: the whole of it */
		if (t->err)
			*why = "an error no rule made";
		return e->op == 's' ? e->res == 0 : e->res == (int64_t)e->size;
	}
}

/* Read the trace, put each client's calls in the order they started, and
 * walk them beside the client's own log: one FUSE request per client I/O
 * (all fit one request), so the n-th call is the n-th I/O. */
static int64_t load_start_ns; /* CLOCK_MONOTONIC, as the daemon's "start" */

static void check_trace(const char *trace_path)
{
	FILE *f = fopen(trace_path, "re");
	char *line = NULL;
	size_t cap = 0;
	struct tline *tl[MAX_CLIENTS] = { 0 };
	size_t ntl[MAX_CLIENTS] = { 0 }, captl[MAX_CLIENTS] = { 0 };

	if (!f) {
		CHECK_FAILF("trace %s: %s", trace_path, strerror(errno));
		return;
	}
	while (getline(&line, &cap, f) > 0) {
		int64_t rule = 0, off = 0, size = 0, replied = 0, err = 0, pid = 0, start = 0;
		char op[32], path[256];

		f_trace_lines++;
		if (!jstr(line, "op", op, sizeof(op)) || !jstr(line, "path", path, sizeof(path)))
			continue;
		char o = !strcmp(op, "read") ? 'r' : !strcmp(op, "write") ? 'w' :
			 !strcmp(op, "fsync") ? 's' : '?';
		struct client *c = client_of_path(path);
		if (!jnum(line, "rule", &rule))
			rule = 0;
		if (rule) {
			struct rule_info *ri = rule_of((int)rule);
			if (ri)
				ri->in_trace++;
			if (ri && ri->kind == K_DELAY)
				f_delays++;
			else if (ri)
				f_faults_traced++;
		}
		if (o == '?' || !c)
			continue;
		if (jnum(line, "start", &start) && start < load_start_ns)
			continue; /* creating the files */
		if (!jnum(line, "start", &start) || !jnum(line, "off", &off) ||
		    !jnum(line, "size", &size) || !jnum(line, "replied", &replied) ||
		    !jnum(line, "errno", &err) || !jnum(line, "pid", &pid)) {
			CHECK_FAILF("trace: a line is not understood: %s", line);
			continue;
		}
		size_t i = (size_t)c->idx;
		if (ntl[i] == captl[i]) {
			captl[i] = captl[i] ? 2 * captl[i] : 1024;
			tl[i] = realloc(tl[i], captl[i] * sizeof(**tl));
			if (!tl[i]) {
				CHECK_FATALF("out of memory");
			}
		}
		tl[i][ntl[i]++] = (struct tline){ .start = start, .op = o, .off = (uint64_t)off,
						  .size = (uint64_t)size, .replied = replied,
						  .err = err, .pid = pid, .rule = (int)rule };
	}
	free(line);
	fclose(f);

	for (unsigned int i = 0; i < nclients; i++) {
		struct client *c = &clients[i];
		size_t j = 0, k = 0, reported = 0;

		qsort(tl[i], ntl[i], sizeof(**tl), tline_cmp);
		while (j < c->nlog && k < ntl[i]) {
			struct logent *e = &c->log[j];
			struct tline *t = &tl[i][k];
			const char *why;

			if (e->op != t->op || (e->op != 's' && (e->off != t->off || e->size != t->size))) {
				if (reported++ < 5)
					CHECK_FAILF("client %u: I/O #%zu (%c %" PRIu64 "+%" PRIu64 ") is not "
						  "the call the daemon traced next (%c %" PRIu64 "+%" PRIu64
						  ")", i, j, e->op, e->off, e->size, t->op, t->off, t->size);
				/* an I/O that never reached the daemon: skip it */
				j++;
				continue;
			}
			f_calls_paired++;
			if (t->rule && rule_of(t->rule) && rule_of(t->rule)->kind != K_DELAY &&
			    consistent(t, e, &why))
				f_faults_matched++;
			if (!consistent(t, e, &why)) {
				if (t->rule)
					CHECK_FAILF("client %u: %c at %" PRIu64 "+%" PRIu64 " (%s): the "
						  "daemon answered rule %d (%s: replied %" PRId64 ", errno %"
						  PRId64 "), the client saw %" PRId64 ": the fault did not "
						  "reach the client that caused it", i, e->op, e->off,
						  e->size, route_name[e->route], t->rule, why, t->replied,
						  t->err, e->res);
				else
					CHECK_FAILF("client %u: %c at %" PRIu64 "+%" PRIu64 " (%s) gave %"
						  PRId64 ", the daemon replied %" PRId64 " errno %" PRId64
						  " with no rule (%s)", i, e->op, e->off, e->size,
						  route_name[e->route], e->res, t->replied, t->err, why);
			}
			e->matched = true;
			/* the call came from that client's thread (io_uring's
			 * come from its io-wq workers) */
			if (e->route != R_URING) {
				f_pid_checked++;
				if (t->pid != c->tid)
					CHECK_FAILF("client %u: %c at %" PRIu64 " was traced from pid %"
						  PRId64 ", the client is thread %d", i, e->op, e->off,
						  t->pid, (int)c->tid);
			}
			j++;
			k++;
		}
		CHECK(j == c->nlog && k == ntl[i], "client %u: %zu I/Os logged, %zu traced "
			   "calls, %zu and %zu paired", i, c->nlog, ntl[i], j, k);
		free(tl[i]);
	}
	for (int i = 0; i < nrules; i++)
		CHECK(rules[i].acted == rules[i].in_trace,
			   "rule %d (%s): acted %" PRIu64 " times, the trace has %" PRIu64,
			   rules[i].id, kind_name[rules[i].kind], rules[i].acted, rules[i].in_trace);
}

/* Each rule's acted count from "rule list": "ID matched=N acted=N RULE". */
static void read_acted(struct diofsctl *ctl)
{
	char **lines = NULL;
	int n = diofsctl_cmd(ctl, &lines, "rule list");

	if (n < 0) {
		CHECK_FAILF("rule list: %s", diofsctl_error(ctl));
		return;
	}
	for (int i = 0; i < n; i++) {
		int id;
		unsigned long long matched, acted;
		if (sscanf(lines[i], "%d matched=%llu acted=%llu", &id, &matched, &acted) == 3) {
			struct rule_info *ri = rule_of(id);
			if (ri)
				ri->acted = acted;
		}
	}
	diofsctl_free_lines(lines);
}

/* With SOAK_KEEP=DIR: the trace and every client's log, for a report. */
static void keep_evidence(const char *trace)
{
	const char *dir = getenv("SOAK_KEEP");
	char path[4096];

	if (!dir || !*dir)
		return;
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/faults-trace.jsonl", dir);
	FILE *in = fopen(trace, "re"), *out = fopen(path, "we");
	if (in && out) {
		char buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, out);
	}
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	snprintf(path, sizeof(path), "%s/faults-clients.log", dir);
	out = fopen(path, "we");
	if (!out)
		return;
	for (unsigned int i = 0; i < nclients; i++)
		for (size_t j = 0; j < clients[i].nlog; j++) {
			struct logent *e = &clients[i].log[j];
			fprintf(out, "client=%u tid=%d seq=%zu op=%c route=%s off=%" PRIu64
				" size=%" PRIu64 " res=%" PRId64 " matched=%d\n", i,
				(int)clients[i].tid, j, e->op, route_name[e->route], e->off,
				e->size, e->res, e->matched);
		}
	fclose(out);
	soak_note("trace and client logs kept in %s", dir);
}

static void setup_client(struct diofs_mount *m, struct client *c, unsigned int i, uint64_t seed,
			 const char *dir)
{
	memset(c, 0, sizeof(*c));
	c->idx = (int)i;
	snprintf(c->path, sizeof(c->path), "/%s/c%u", dir, i);
	c->model = malloc(FILE_SIZE);
	c->unknown = calloc(1, FILE_SIZE);
	c->durable = malloc(FILE_SIZE);
	c->buf = soak_map(MAX_IO);
	c->rng = soak_derive(seed, 0xc11e, i);
	if (!c->model || !c->unknown || !c->durable || !c->buf) {
		CHECK_FATALF("out of memory");
	}
	pattern_fill(c->model, FILE_SIZE, 0, soak_derive(seed, 0xf11e, i));
	memcpy(c->durable, c->model, FILE_SIZE);
	soak_file_create(m, c->path + 1, c->model, FILE_SIZE, &c->fd, &c->bfd);
	int r = io_setup(4, &c->aio);
	if (r < 0 || io_uring_queue_init(4, &c->ring, 0) < 0) {
		CHECK_FATALF("libaio/io_uring setup: %s", strerror(r < 0 ? -r : errno));
	}
}

static void teardown_client(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->bfd >= 0)
		close(c->bfd);
	io_destroy(c->aio);
	io_uring_queue_exit(&c->ring);
	free(c->model);
	free(c->unknown);
	free(c->durable);
	free(c->log);
	munmap(c->buf, MAX_IO);
	c->fd = c->bfd = -1;
}

/* Compare a whole file with the model (unknown bytes skipped). */
static void verify_file(struct client *c, int fd, const char *where, uint64_t *unknown_out)
{
	unsigned char *got = soak_map(FILE_SIZE);
	size_t bad = 0, unknown = 0;
	int r;

	if (!got || (r = soak_pread_all(fd, got, FILE_SIZE, 0)) < 0) {
		CHECK_FAILF("client %d: reading %s back (%s): %s", c->idx, c->path, where,
			  got ? strerror(-r) : "out of memory");
		return;
	}
	for (size_t i = 0; i < FILE_SIZE; i++) {
		if (c->unknown[i])
			unknown++;
		else if (got[i] != c->model[i])
			bad++;
	}
	atomic_fetch_add(&f_bytes_verified, FILE_SIZE - unknown);
	if (unknown_out)
		*unknown_out += unknown;
	if (bad) {
		atomic_fetch_add(&f_corrupt, bad);
		CHECK_FAILF("client %d: %s (%s): %zu acknowledged bytes lost or wrong", c->idx,
			  c->path, where, bad);
	}
	munmap(got, FILE_SIZE);
}

/* A part's mount (diofs -o mount_opts), its directory dir, a control
 * connection; the run ends failed if any of it cannot be had. */
static struct diofsctl *mount_part(struct diofs_mount *m, const char *mount_opts, const char *dir)
{
	char err[512];
	struct diofsctl *ctl;

	soak_mount(m, mount_opts);
	if (mkdir(diofs_mnt_path(m, dir), 0755) < 0)
		CHECK_FATALF("mkdir: %s", strerror(errno));
	ctl = diofsctl_connect(m->ctl, err, sizeof(err));
	if (!ctl)
		CHECK_FATALF("control socket: %s", err);
	return ctl;
}

static void part_injected(unsigned int seconds)
{
	struct diofs_mount m;
	struct diofsctl *ctl;
	uint64_t unknown = 0;
	static const struct { enum kind kind; const char *text; } plan[] = {
		{ K_EIO, "fail=EIO op=read,write path=/faults/* prob=0.03" },
		{ K_ENOSPC, "fail=ENOSPC op=write path=/faults/* prob=0.02" },
		{ K_SHORT, "short=1000 op=read,write path=/faults/* prob=0.02" },
		{ K_SHORT, "short=12288 op=read,write path=/faults/* prob=0.02" },
		{ K_DELAY, "delay=2 op=read,write path=/faults/* prob=0.05" },
		{ K_FSYNC_EIO, "fail=EIO op=fsync path=/faults/* prob=0.2" },
	};

	soak_note("part 1: injected faults, %u clients, %u s", nclients, seconds);
	ctl = mount_part(&m, "trace", "faults");
	for (unsigned int i = 0; i < nclients; i++)
		setup_client(&m, &clients[i], i, opts.seed, "faults");
	nrules = 0;
	for (size_t i = 0; i < sizeof(plan) / sizeof(*plan); i++) {
		int id = diofsctl_rule_add(ctl, "%s seed=%" PRIu64, plan[i].text,
					   soak_derive(opts.seed, 0x5eed, i) % 1000000007);
		if (id < 0) {
			CHECK_FAILF("rule add %s: %s", plan[i].text, diofsctl_error(ctl));
			continue;
		}
		rules[nrules++] = (struct rule_info){ .id = id, .kind = plan[i].kind };
	}

	atomic_store(&stop_flag, false);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	load_start_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	for (unsigned int i = 0; i < nclients; i++)
		if (pthread_create(&clients[i].thread, NULL, load_main, &clients[i])) {
			CHECK_FATALF("pthread_create");
		}
	int64_t end = diofs_now_ms() + (int64_t)seconds * 1000;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 0 };
	while (diofs_now_ms() < end && test_failures() < 20) {
		/* the end of the run is a time, not an event: wake at it */
		int64_t left = end - diofs_now_ms();
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		nanosleep(&ts, NULL);
	}
	atomic_store(&stop_flag, true);
	for (unsigned int i = 0; i < nclients; i++)
		pthread_join(clients[i].thread, NULL);

	read_acted(ctl);
	if (diofsctl_rule_clear(ctl) < 0 || diofsctl_trace(ctl, "flush") < 0)
		CHECK_FAILF("rule clear / trace flush: %s", diofsctl_error(ctl));
	check_trace(m.trace);
	keep_evidence(m.trace);
	/* no data acknowledged is lost: through the mount and underneath */
	for (unsigned int i = 0; i < nclients; i++) {
		verify_file(&clients[i], clients[i].fd, "through the mount", &unknown);
		verify_file(&clients[i], clients[i].bfd, "backing file", NULL);
	}
	uint64_t injected = 0;
	for (int i = 0; i < nrules; i++) {
		char name[64];
		snprintf(name, sizeof(name), "part1_rule_%d_%s_acted", rules[i].id,
			 kind_name[rules[i].kind]);
		for (char *p = name; *p; p++)
			if (*p == ' ' || *p == '=')
				*p = '_';
		soak_figure_set(name, rules[i].acted);
		if (rules[i].kind != K_DELAY)
			injected += rules[i].acted;
	}
	soak_figure_set("part1_faults_injected", injected);
	soak_figure_set("part1_faults_traced", f_faults_traced);
	soak_figure_set("part1_faults_reached_client", f_faults_matched);
	soak_figure_set("part1_delays", f_delays);
	soak_figure_set("part1_client_errors", f_client_errors);
	soak_figure_set("part1_short_counts", f_short_counts);
	soak_figure_set("part1_retries", f_retries);
	soak_figure_set("part1_pids_checked", f_pid_checked);
	soak_figure_set("part1_trace_lines", f_trace_lines);
	soak_figure_set("part1_unknown_bytes_at_end", unknown);
	CHECK(f_faults_traced == f_faults_matched, "%" PRIu64 " faults traced, %" PRIu64
		   " reached their client", f_faults_traced, f_faults_matched);
	CHECK(injected > 0, "no fault was injected");
	diofsctl_close(ctl);
	for (unsigned int i = 0; i < nclients; i++)
		teardown_client(&clients[i]);
	CHECK(diofs_mount_alive(&m), "the daemon died in part 1");
	diofs_mount_stop(&m);
}

/* ---- part 2: SIGKILL ------------------------------------------------------------- */

static pthread_mutex_t kmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kcv = PTHREAD_COND_INITIALIZER;
static unsigned int writers_ready; /* writers that fsynced often enough */
#define FSYNCS_BEFORE_KILL 5

static void *kill_load_main(void *arg)
{
	struct client *c = arg;
	bool counted = false;

	c->tid = gettid_();
	for (;;) {
		uint64_t len = 1 + soak_below(&c->rng, MAX_IO);
		uint64_t off = soak_below(&c->rng, FILE_SIZE - len + 1);
		enum route r = (enum route)soak_below(&c->rng, R_COUNT);
		int64_t res;

		if (c->reader) {
			res = io(c, r, 'r', c->buf, len, (off_t)off);
			atomic_fetch_add(&f_ops, 1);
			if (res < 0) {
				c->last_err = (int)-res;
				snprintf(c->last_what, sizeof(c->last_what), "%s read", route_name[r]);
				break;
			}
			if ((size_t)res != len) {
				CHECK_FAILF("client %d: read returned %" PRId64 " of %" PRIu64, c->idx,
					  res, len);
				break;
			}
			verify_read(c, c->buf, off, len, "read before the kill");
			continue;
		}
		pattern_fill(c->buf, len, off, soak_next(&c->rng));
		c->pend_off = off;
		c->pend_len = len;
		c->pending = true;
		res = io(c, r, 'w', c->buf, len, (off_t)off);
		atomic_fetch_add(&f_ops, 1);
		if (res < 0) {
			c->last_err = (int)-res;
			snprintf(c->last_what, sizeof(c->last_what), "%s write", route_name[r]);
			break;
		}
		if ((size_t)res != len) {
			CHECK_FAILF("client %d: write returned %" PRId64 " of %" PRIu64, c->idx, res, len);
			break;
		}
		memcpy(c->model + off, c->buf, len);
		c->pending = false;
		if (soak_below(&c->rng, 3) == 0) {
			if (fsync(c->fd) < 0) {
				c->last_err = errno;
				snprintf(c->last_what, sizeof(c->last_what), "fsync");
				break;
			}
			memcpy(c->durable, c->model, FILE_SIZE);
			if (atomic_fetch_add(&c->fsyncs, 1) + 1 == FSYNCS_BEFORE_KILL && !counted) {
				counted = true;
				pthread_mutex_lock(&kmu);
				writers_ready++;
				pthread_cond_broadcast(&kcv);
				pthread_mutex_unlock(&kmu);
			}
		}
	}
	pthread_mutex_lock(&kmu);
	c->ended = true;
	if (!counted && !c->reader)
		writers_ready++; /* it will not get there: do not wait for it */
	pthread_cond_broadcast(&kcv);
	pthread_mutex_unlock(&kmu);
	return NULL;
}

static void part_sigkill(void)
{
	struct diofs_mount m;
	char err[512];
	struct diofsctl *ctl;
	unsigned int nwriters = 0;
	uint64_t durable_bytes = 0, acked_bytes = 0, inflight_bytes = 0;
	uint64_t errs_enotconn = 0, errs_econnaborted = 0, errs_eio = 0, errs_other = 0;

	soak_note("part 2: SIGKILL of the daemon in the middle of I/O, %u clients", nclients);
	ctl = mount_part(&m, NULL, "kill");
	for (unsigned int i = 0; i < nclients; i++) {
		setup_client(&m, &clients[i], i, opts.seed ^ 0x4b11, "kill");
		clients[i].reader = i % 3 == 2;
		nwriters += !clients[i].reader;
	}
	/* one read held in the daemon when it dies (client 2 reads) */
	if (diofsctl_rule_add(ctl, "hold op=read path=%s nth=3", clients[2].path) < 0)
		CHECK_FAILF("rule add: %s", diofsctl_error(ctl));
	writers_ready = 0;
	for (unsigned int i = 0; i < nclients; i++)
		if (pthread_create(&clients[i].thread, NULL, kill_load_main, &clients[i])) {
			CHECK_FATALF("pthread_create");
		}
	struct diofs_held held;
	if (diofsctl_held(ctl, 1, WAIT_S * 1000, &held, 1) != 1)
		CHECK_FAILF("the read to hold was not held: %s", diofsctl_error(ctl));
	pthread_mutex_lock(&kmu);
	while (writers_ready < nwriters) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += WAIT_S;
		if (pthread_cond_timedwait(&kcv, &kmu, &ts) == ETIMEDOUT) {
			pthread_mutex_unlock(&kmu);
			CHECK_FATALF("hang: writers did not fsync %d times within %d s",
				  FSYNCS_BEFORE_KILL, WAIT_S);
		}
	}
	pthread_mutex_unlock(&kmu);
	diofsctl_close(ctl);

	/* now: SIGKILL, with writers and readers in full flight */
	pid_t victim = m.pid;
	if (soak_daemon_stop(&m, SIGKILL, err, sizeof(err)) < 0)
		CHECK_FAILF("killing the daemon: %s", err);
	soak_note("daemon %d killed with SIGKILL", (int)victim);

	/* every client ends with an error, in bounded time */
	int64_t deadline = diofs_now_ms() + WAIT_S * 1000;
	pthread_mutex_lock(&kmu);
	for (unsigned int i = 0; i < nclients; i++)
		while (!clients[i].ended) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&kcv, &kmu, &ts);
			if (diofs_now_ms() > deadline) {
				pthread_mutex_unlock(&kmu);
				CHECK_FATALF("hang: client %u still blocked %d s after the daemon died",
					  i, WAIT_S);
			}
		}
	pthread_mutex_unlock(&kmu);
	for (unsigned int i = 0; i < nclients; i++) {
		struct client *c = &clients[i];
		pthread_join(c->thread, NULL);
		if (c->last_err == ENOTCONN)
			errs_enotconn++;
		else if (c->last_err == ECONNABORTED)
			errs_econnaborted++;
		else if (c->last_err == EIO)
			errs_eio++;
		else
			errs_other++;
		/* the kernel ends what the dead connection had with
		 * ECONNABORTED, and refuses new requests with ENOTCONN; an
		 * async request can come back as EIO */
		CHECK(c->last_err == ENOTCONN || c->last_err == ECONNABORTED ||
			   c->last_err == EIO,
			   "client %u ended with %s (%s), want ENOTCONN, ECONNABORTED or EIO", i,
			   c->last_err ? strerror(c->last_err) : "no error", c->last_what);
		if (c->last_err == EIO)
			soak_note("client %u: the %s in flight ended with EIO", i, c->last_what);
		close(c->fd);
		c->fd = -1;
	}
	CHECK(diofs_mountinfo_at(m.mnt, NULL) == 0, "%s is still mounted after the daemon died", m.mnt);

	/* a new daemon on the same backing directory sees every acknowledged
	 * write, fsynced ones included */
	if (diofs_mount_restart(&m, NULL, err, sizeof(err)) < 0) {
		CHECK_FAILF("remounting the same backing directory: %s", err);
		for (unsigned int i = 0; i < nclients; i++)
			teardown_client(&clients[i]);
		diofs_mount_stop(&m);
		return;
	}
	for (unsigned int i = 0; i < nclients; i++) {
		struct client *c = &clients[i];
		if (c->pending) {
			memset(c->unknown + c->pend_off, 1, c->pend_len);
			inflight_bytes += c->pend_len;
		}
		/* what was fsynced must be there unless acknowledged data
		 * replaced it since */
		for (size_t b = 0; b < FILE_SIZE; b++) {
			if (c->unknown[b])
				continue;
			acked_bytes++;
			if (c->durable[b] == c->model[b])
				durable_bytes++;
		}
		c->fd = open(diofs_mnt_path(&m, c->path + 1), O_RDWR | O_DIRECT | O_CLOEXEC);
		if (c->fd < 0) {
			CHECK_FAILF("client %u: reopening %s on the new mount: %s", i, c->path,
				  strerror(errno));
			continue;
		}
		verify_file(c, c->fd, "after SIGKILL, new mount", NULL);
		verify_file(c, c->bfd, "after SIGKILL, backing file", NULL);
	}
	/* and the new mount serves */
	struct client *c0 = &clients[0];
	if (c0->fd >= 0) {
		pattern_fill(c0->buf, 4096, 0, 77);
		memcpy(c0->model, c0->buf, 4096);
		memset(c0->unknown, 0, 4096);
		CHECK(io(c0, R_PSYNC, 'w', c0->buf, 4096, 0) == 4096 && fsync(c0->fd) == 0,
			   "writing through the new mount: %s", strerror(errno));
		verify_file(c0, c0->fd, "new mount, after a new write", NULL);
	}
	for (unsigned int i = 0; i < nclients; i++)
		teardown_client(&clients[i]);
	CHECK(diofs_mount_alive(&m), "the new daemon died");
	diofs_mount_stop(&m);

	soak_figure_set("part2_clients", nclients);
	soak_figure_set("part2_enotconn", errs_enotconn);
	soak_figure_set("part2_econnaborted", errs_econnaborted);
	soak_figure_set("part2_eio", errs_eio);
	soak_figure_set("part2_other_endings", errs_other);
	soak_figure_set("part2_acknowledged_bytes_verified", acked_bytes);
	soak_figure_set("part2_fsynced_bytes_verified", durable_bytes);
	soak_figure_set("part2_in_flight_bytes_unknown", inflight_bytes);
}

static void faults(void)
{
	part_injected(opts.seconds);
	part_sigkill();

	soak_figure_set("ops", f_ops);
	soak_figure_set("reads", f_reads);
	soak_figure_set("writes", f_writes);
	soak_figure_set("fsyncs", f_fsyncs);
	soak_figure_each("ops", route_name, f_route, R_COUNT);
	soak_figure_set("bytes_verified", f_bytes_verified);
	soak_figure_set("corrupted_or_lost_bytes", f_corrupt);
}

int main(int argc, char **argv)
{
	soak_init("faults", argc, argv, &opts, 120, 20);
	soak_require_mount();
	nclients = soak_threads(&opts, 6, 12, MAX_CLIENTS);
	if (nclients < 3)
		nclients = 3;
	return soak_run(faults, opts.seconds + 180);
}
