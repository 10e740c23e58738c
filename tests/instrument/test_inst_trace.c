/* The trace through a real mount: every line parsed back and checked
 * against what the client did (op, path, offset, size, bytes replied,
 * errno, O_DIRECT and FOPEN_DIRECT_IO, pid, uid, rule, times inside the
 * client's own CLOCK_MONOTONIC window, unique ids distinct and equal to the
 * held listing's); a proto= rule's fault and write(2)'s answer to it;
 * trace off/on/on FILE; a trace that cannot be written (removed, or its
 * file system full): one message, tracing stops, the daemon keeps
 * serving; the trace file is new and 0600, never reached
 * through a symbolic link (at the file or on the way to it), an existing
 * one replaced only with overwrite (and only a regular file), for "trace
 * on" and -o trace= alike. */
#include <config.h>
#include "itest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FSIZE (64 * 1024)

/* A call the client made: what the trace must say of it. */
struct expect {
	const char *what;
	const char *op;
	const char *path;
	int64_t off;        /* -1: any */
	int64_t size;       /* -1: any */
	int64_t replied;    /* -1: any */
	int err_no;
	int dio;            /* -1: no o_direct/fopen_direct_io fields; else o_direct */
	bool fdio;
	int pid;
	int rule;
	uint64_t t0, t1;    /* the client's window around the call */
	uint64_t fh;        /* 0: any */
	uint64_t unique;    /* 0: any */
	const struct trace_rec *found;
};

static bool rec_matches(const struct trace_rec *r, const struct expect *e)
{
	return strcmp(r->op, e->op) == 0 && strcmp(r->path, e->path) == 0 &&
	       (e->off < 0 || r->off == e->off) && (e->size < 0 || r->size == (uint64_t)e->size) &&
	       (e->unique ? r->unique == e->unique : r->start >= e->t0 && r->end <= e->t1);
}

/* Find e's record (exactly one) and check every field. */
static void check_expect(const struct trace_rec *recs, int n, struct expect *e)
{
	const struct trace_rec *r = NULL;
	int count = 0;

	for (int i = 0; i < n; i++)
		if (rec_matches(&recs[i], e)) {
			r = &recs[i];
			count++;
		}
	if (!CHECK(count == 1, "%s: %d trace records of op=%s path=%s off=%jd size=%jd inside the "
		   "client's window, wanted exactly 1", e->what, count, e->op, e->path,
		   (intmax_t)e->off, (intmax_t)e->size))
		return;
	e->found = r;
	CHECK(r->start <= r->end, "%s: start %ju after end %ju", e->what, (uintmax_t)r->start,
	      (uintmax_t)r->end);
	CHECK(e->t0 <= r->start && r->end <= e->t1, "%s: the trace says [%ju, %ju], outside the "
	      "client's window [%ju, %ju] (same clock)", e->what, (uintmax_t)r->start,
	      (uintmax_t)r->end, (uintmax_t)e->t0, (uintmax_t)e->t1);
	CHECK(e->replied < 0 || r->replied == (uint64_t)e->replied, "%s: replied saw %ju, wanted "
	      "%jd", e->what, (uintmax_t)r->replied, (intmax_t)e->replied);
	CHECK(r->err_no == e->err_no && strcmp(r->err, e->err_no ? expect_errname(e->err_no) : "")
	      == 0, "%s: errno saw %d \"%s\", wanted %d \"%s\"", e->what, r->err_no, r->err,
	      e->err_no, e->err_no ? expect_errname(e->err_no) : "");
	if (e->dio < 0)
		CHECK(!r->has_dio, "%s: o_direct/fopen_direct_io present on op %s", e->what, r->op);
	else
		CHECK(r->has_dio && r->o_direct == (e->dio == 1) && r->fopen_direct_io == e->fdio,
		      "%s: saw o_direct=%d fopen_direct_io=%d (present %d), wanted %d and %d",
		      e->what, r->o_direct, r->fopen_direct_io, r->has_dio, e->dio == 1, e->fdio);
	CHECK(r->pid == e->pid, "%s: pid saw %d, wanted %d (the calling thread)", e->what, r->pid,
	      e->pid);
	CHECK(r->uid == (unsigned int)geteuid(), "%s: uid saw %u, wanted %u", e->what, r->uid,
	      (unsigned int)geteuid());
	CHECK(r->rule == e->rule, "%s: rule saw %d, wanted %d", e->what, r->rule, e->rule);
	CHECK(!e->fh || (r->has_fh && r->fh == e->fh), "%s: fh saw %ju, wanted %ju (its open's)",
	      e->what, (uintmax_t)r->fh, (uintmax_t)e->fh);
	CHECK(r->unique != 0 && r->nodeid != 0, "%s: unique %ju nodeid %ju, wanted both set",
	      e->what, (uintmax_t)r->unique, (uintmax_t)r->nodeid);
}

static bool flush(struct diofsctl *c)
{
	return CHECK(diofsctl_trace(c, "flush") == 0, "trace flush: saw \"%s\", wanted ok",
		     diofsctl_error(c));
}

#define NEXP 16

ITEST(trace_fields_match_client_calls)
{
	struct diofs_mount *m = itest_mount("trace");
	struct expect e[NEXP];
	struct trace_rec *recs;
	struct diofs_held h[2];
	struct diofsctl *c;
	char buf[8192];
	int n = 0, fd, fd2, nfd, rid, sid, hid, nrec, me = (int)itest_gettid();
	uint64_t t0;
	ssize_t r;
	struct io *io;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", FSIZE, 1), "no file");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	memset(e, 0, sizeof(e));

#define EXPECT(...) do { \
	if (n < NEXP) \
		e[n++] = (struct expect){ __VA_ARGS__ }; \
} while (0)

	t0 = diofs_now_ns();
	fd = itest_open(m, "f", O_RDONLY | O_DIRECT);
	REQUIRE(fd >= 0, "open f O_DIRECT: %s", strerror(errno));
	EXPECT(.what = "open O_DIRECT", .op = "open", .path = "/f", .off = -1, .size = -1,
	       .replied = -1, .dio = 1, .fdio = true, .pid = me, .t0 = t0, .t1 = diofs_now_ns());
	t0 = diofs_now_ns();
	fd2 = itest_open(m, "f", O_RDWR);
	REQUIRE(fd2 >= 0, "open f: %s", strerror(errno));
	EXPECT(.what = "open", .op = "open", .path = "/f", .off = -1, .size = -1, .replied = -1,
	       .dio = 0, .fdio = true, .pid = me, .t0 = t0, .t1 = diofs_now_ns());

	t0 = diofs_now_ns();
	r = pread(fd, buf, 4096, 8192);
	CHECK(r == 4096, "read: %zd (%s)", r, expect_errname(r < 0 ? errno : 0));
	EXPECT(.what = "read O_DIRECT", .op = "read", .path = "/f", .off = 8192, .size = 4096,
	       .replied = 4096, .dio = 1, .fdio = true, .pid = me, .t0 = t0,
	       .t1 = diofs_now_ns());
	t0 = diofs_now_ns();
	r = pread(fd2, buf, 5000, FSIZE - 1000); /* 1000 left: replied 1000 */
	CHECK(r == 1000, "read at the end: %zd (%s)", r, expect_errname(r < 0 ? errno : 0));
	EXPECT(.what = "read at the end", .op = "read", .path = "/f", .off = FSIZE - 1000,
	       .size = 5000, .replied = 1000, .dio = 0, .fdio = true, .pid = me, .t0 = t0,
	       .t1 = diofs_now_ns());
	pattern_fill(buf, 1000, 100, 1);
	t0 = diofs_now_ns();
	r = pwrite(fd2, buf, 1000, 100);
	CHECK(r == 1000, "write: %zd (%s)", r, expect_errname(r < 0 ? errno : 0));
	EXPECT(.what = "write", .op = "write", .path = "/f", .off = 100, .size = 1000,
	       .replied = 1000, .dio = 0, .fdio = true, .pid = me, .t0 = t0, .t1 = diofs_now_ns());

	/* Rules: the id of the one that acted. */
	REQUIRE((rid = itest_rule(c, "fail=EIO op=read path=/f count=1")) > 0, "no rule");
	t0 = diofs_now_ns();
	r = pread(fd, buf, 10, 0);
	CHECK(r == -1 && errno == EIO, "failed read: %zd (%s)", r, expect_errname(r < 0 ? errno : 0));
	EXPECT(.what = "read failed by a rule", .op = "read", .path = "/f", .off = 0, .size = 10,
	       .replied = 0, .err_no = EIO, .dio = 1, .fdio = true, .pid = me, .rule = rid,
	       .t0 = t0, .t1 = diofs_now_ns());
	REQUIRE((sid = itest_rule(c, "short=7 op=read path=/f count=1")) > 0, "no rule");
	t0 = diofs_now_ns();
	r = pread(fd2, buf, 100, 50);
	CHECK(r == 7, "short read: %zd (%s)", r, expect_errname(r < 0 ? errno : 0));
	EXPECT(.what = "read shortened by a rule", .op = "read", .path = "/f", .off = 50,
	       .size = 100, .replied = 7, .dio = 0, .fdio = true, .pid = me, .rule = sid,
	       .t0 = t0, .t1 = diofs_now_ns());

	/* create and mkdir: no direct-I/O fields on mkdir. */
	t0 = diofs_now_ns();
	nfd = itest_open(m, "new", O_CREAT | O_WRONLY | O_DIRECT);
	CHECK(nfd >= 0, "create: %s", strerror(errno));
	EXPECT(.what = "create O_DIRECT", .op = "create", .path = "/new", .off = -1, .size = -1,
	       .replied = -1, .dio = 1, .fdio = true, .pid = me, .t0 = t0, .t1 = diofs_now_ns());
	t0 = diofs_now_ns();
	CHECK(mkdir(diofs_mnt_path(m, "d"), 0755) == 0, "mkdir: %s", strerror(errno));
	EXPECT(.what = "mkdir", .op = "mkdir", .path = "/d", .off = -1, .size = -1, .replied = -1,
	       .dio = -1, .pid = me, .t0 = t0, .t1 = diofs_now_ns());

	/* A held read from another thread: the trace's unique is the held
	 * listing's, its pid the thread's, its rule the hold. */
	REQUIRE((hid = itest_rule(c, "hold op=read path=/f count=1")) > 0, "no rule");
	t0 = diofs_now_ns();
	io = io_pread(fd2, 300, 30000);
	REQUIRE(io && itest_held(c, 1, h, 2) == 1, "the read was not held");
	CHECK(diofsctl_release(c, h[0].id, NULL) == 1, "release: %s", diofsctl_error(c));
	if (io_join(io))
		CHECK(io->ret == 300, "held read: %zd (%s)", io->ret, expect_errname(io->err));
	EXPECT(.what = "held read", .op = "read", .path = "/f", .off = 30000, .size = 300,
	       .replied = 300, .dio = 0, .fdio = true, .pid = (int)atomic_load(&io->tid),
	       .rule = hid, .t0 = t0, .t1 = diofs_now_ns(), .unique = h[0].unique);

	/* A forked child's read: its pid. */
	t0 = diofs_now_ns();
	pid_t child = fork();

	if (child == 0)
		_exit(pread(fd2, buf, 64, 4444) == 64 ? 0 : 1);
	int st = -1;

	CHECK(child > 0 && diofs_wait_exit(child, ITEST_WAIT_MS, &st) && WIFEXITED(st) &&
	      WEXITSTATUS(st) == 0, "the child's read failed (status %#x)", st);
	EXPECT(.what = "a child's read", .op = "read", .path = "/f", .off = 4444, .size = 64,
	       .replied = 64, .dio = 0, .fdio = true, .pid = (int)child, .t0 = t0,
	       .t1 = diofs_now_ns());

	REQUIRE(flush(c), "no flush");
	nrec = trace_load(m->trace, &recs);
	REQUIRE(nrec > 0, "the trace %s has %d records", m->trace, nrec);
	for (int i = 0; i < n; i++)
		check_expect(recs, nrec, &e[i]);
	/* The file handle of a read is its open's. */
	if (e[0].found && e[2].found)
		CHECK(e[2].found->fh == e[0].found->fh && e[0].found->has_fh, "read O_DIRECT: fh %ju, "
		      "its open's fh %ju", (uintmax_t)e[2].found->fh, (uintmax_t)e[0].found->fh);
	/* Sequential calls: the trace orders them the same way. */
	for (int i = 1; i < n; i++)
		if (e[i - 1].found && e[i].found)
			CHECK(e[i - 1].found->end <= e[i].found->start, "%s ends at %ju, after %s "
			      "starts at %ju, wanted them in the client's order", e[i - 1].what,
			      (uintmax_t)e[i - 1].found->end, e[i].what,
			      (uintmax_t)e[i].found->start);
	/* Every record: start <= end, unique ids distinct. */
	for (int i = 0; i < nrec; i++) {
		if (!CHECK(recs[i].start <= recs[i].end, "trace record %d: start %ju after end %ju: %s",
			   i, (uintmax_t)recs[i].start, (uintmax_t)recs[i].end, trace_text(&recs[i])))
			break;
		for (int j = 0; j < i; j++)
			if (!CHECK(recs[j].unique != recs[i].unique, "trace records %d and %d share "
				   "unique %ju: %s / %s", j, i, (uintmax_t)recs[i].unique,
				   trace_text(&recs[j]), trace_text(&recs[i])))
				goto done;
	}
done:;
#undef EXPECT
}

/* How many records of op read at off. */
static int reads_at(const char *path, int64_t off)
{
	struct trace_rec *recs;
	int n = trace_load(path, &recs), count = 0;

	for (int i = 0; i < n; i++)
		count += strcmp(recs[i].op, "read") == 0 && recs[i].off == off;
	return n < 0 ? -1 : count;
}

ITEST(trace_off_on_and_on_file)
{
	struct diofs_mount *m;
	char other[400], buf[16];
	struct diofsctl *c;
	int fd, k;

	m = itest_mount_file("trace", "f", FSIZE, 1, &c, &fd);
	REQUIRE(m, "no traced file");
	snprintf(other, sizeof(other), "%s/other.jsonl", m->root);

	CHECK(pread(fd, buf, 1, 776) == 1, "read: %s", strerror(errno));
	CHECK(diofsctl_trace(c, "off") == 0, "trace off: %s", diofsctl_error(c));
	CHECK(pread(fd, buf, 1, 777) == 1, "read: %s", strerror(errno));
	CHECK(diofsctl_trace(c, "on") == 0, "trace on: %s", diofsctl_error(c));
	CHECK(pread(fd, buf, 1, 778) == 1, "read: %s", strerror(errno));
	REQUIRE(flush(c), "no flush");
	k = reads_at(m->trace, 776);
	CHECK(k == 1, "read before trace off: %d records, wanted 1", k);
	k = reads_at(m->trace, 777);
	CHECK(k == 0, "read while off: %d records, wanted 0", k);
	k = reads_at(m->trace, 778);
	CHECK(k == 1, "read after trace on: %d records, wanted 1", k);

	/* trace on FILE: a new file from now on, the old one keeps its past. */
	REQUIRE(diofsctl_cmd(c, NULL, "trace on %s", other) == 0, "trace on %s: %s", other,
		diofsctl_error(c));
	CHECK(pread(fd, buf, 1, 779) == 1, "read: %s", strerror(errno));
	REQUIRE(flush(c), "no flush");
	k = reads_at(other, 779);
	CHECK(k == 1, "read after trace on FILE: %d records in FILE, wanted 1", k);
	k = reads_at(m->trace, 779);
	CHECK(k == 0, "read after trace on FILE: %d records in the old file, wanted 0", k);
	k = reads_at(other, 778);
	CHECK(k == 0, "the new file holds %d records from before it, wanted 0", k);
}

/* The read at off, traced once: does it carry the fault want and what
 * write(2) said to it, want_write (want NULL: no "proto" field at all)? */
static void check_proto_fields(const char *path, int64_t off, const char *want,
			       const char *want_write)
{
	struct trace_rec *recs;
	int n = trace_load(path, &recs), found = 0;

	for (int i = 0; i < n; i++) {
		const struct trace_rec *r = &recs[i];

		if (strcmp(r->op, "read") || r->off != off)
			continue;
		found++;
		if (want)
			CHECK(r->proto && !strcmp(r->proto, want) && !strcmp(r->proto_write, want_write),
			      "read at %jd: saw proto \"%s\" proto_write \"%s\", wanted \"%s\" and "
			      "\"%s\": %s", (intmax_t)off, r->proto ? r->proto : "(none)",
			      r->proto ? r->proto_write : "(none)", want, want_write, trace_text(r));
		else
			CHECK(!r->proto, "read at %jd without a proto= rule: %s", (intmax_t)off,
			      trace_text(r));
	}
	CHECK(found == 1, "read at %jd: %d records, wanted 1", (intmax_t)off, found);
}

/* proto= rules: the fault and what write(2) said to it, in the call's line. */
ITEST(trace_names_proto_fault)
{
	struct diofs_mount *m;
	struct diofsctl *c;
	char buf[16];
	int fd;

	m = itest_mount_file("trace", "f", FSIZE, 1, &c, &fd);
	REQUIRE(m, "no traced file");
	REQUIRE(diofsctl_rule_add(c, "proto=errno:-1000 op=read offset=790") > 0,
		"rule add: %s", diofsctl_error(c));
	REQUIRE(diofsctl_rule_add(c, "proto=unknown-unique op=read offset=792") > 0,
		"rule add: %s", diofsctl_error(c));
	CHECK(pread(fd, buf, 1, 790) == 1, "read at 790 (errno:-1000): %s", strerror(errno));
	CHECK(pread(fd, buf, 1, 791) == 1, "read at 791: %s", strerror(errno));
	CHECK(pread(fd, buf, 1, 792) == 1, "read at 792 (unknown-unique): %s", strerror(errno));
	REQUIRE(flush(c), "no flush");
	check_proto_fields(m->trace, 790, "errno", "EINVAL");
	check_proto_fields(m->trace, 791, NULL, NULL);
	check_proto_fields(m->trace, 792, "unknown-unique", "ENOENT");
	close(fd);
}

/* Many threads at once: every call traced once, with its thread's pid;
 * every line whole. */
ITEST(concurrent_reads_traced_once_each)
{
	enum { THREADS = 16 };
	struct diofs_mount *m;
	struct io *ios[THREADS * 8];
	struct trace_rec *recs;
	struct diofsctl *c;
	int fd, nrec, total = THREADS * 8;
	bool ok = true;

	m = itest_mount_file("trace", "f", FSIZE, 1, &c, &fd);
	REQUIRE(m, "no traced file");
	for (int i = 0; i < total; i++)
		ios[i] = io_pread(fd, 64, 64 * i);
	for (int i = 0; i < total; i++)
		if (ios[i] && io_join(ios[i]))
			CHECK(ios[i]->ret == 64, "read %d: %zd (%s)", i, ios[i]->ret,
			      expect_errname(ios[i]->err));
	REQUIRE(flush(c), "no flush");
	nrec = trace_load(m->trace, &recs);
	REQUIRE(nrec > 0, "no trace records");
	for (int i = 0; i < total; i++) {
		int found = 0, pid = ios[i] ? (int)atomic_load(&ios[i]->tid) : 0;

		for (int k = 0; k < nrec; k++)
			if (strcmp(recs[k].op, "read") == 0 && recs[k].off == 64 * i) {
				found++;
				ok &= CHECK(recs[k].pid == pid && recs[k].replied == 64 && ios[i] &&
				      ios[i]->t0 <= recs[k].start && recs[k].end <= ios[i]->t1,
				      "read %d: trace pid %d replied %ju [%ju, %ju], wanted pid %d "
				      "replied 64 inside [%ju, %ju]", i, recs[k].pid,
				      (uintmax_t)recs[k].replied, (uintmax_t)recs[k].start,
				      (uintmax_t)recs[k].end, pid, ios[i] ? (uintmax_t)ios[i]->t0 : 0,
				      ios[i] ? (uintmax_t)ios[i]->t1 : 0);
			}
		ok &= CHECK(found == 1, "read %d (off %d): %d trace records, wanted 1", i, 64 * i,
			    found);
		if (!ok)
			break; /* one is enough to read */
	}
}

/* How many "trace ... failed" messages the daemon wrote. */
static int failure_messages(const struct diofs_mount *m, char *log, size_t len)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/daemon.log", m->root);
	itest_read_text(path, log, len);
	return itest_count(log, "tracing stopped");
}

/* After the trace failed: it says so once, keeps serving, traces nothing
 * until told "trace on FILE". */
/* stats' "trace_error PATH: WHY" line into out; false if there is none. */
static bool stats_trace_error(struct diofsctl *c, char *out, size_t len)
{
	char **lines;
	int n = diofsctl_cmd(c, &lines, "stats");
	bool found = false;

	out[0] = '\0';
	for (int i = 0; i < n && !found; i++)
		if (strncmp(lines[i], "trace_error ", 12) == 0) {
			snprintf(out, len, "%s", lines[i] + 12);
			found = true;
		}
	if (n >= 0)
		diofsctl_free_lines(lines);
	return found;
}

static void after_failure(struct diofs_mount *m, struct diofsctl *c, int fd, const char *why)
{
	char log[4096], buf[100], fresh[400];
	int n, k;

	n = failure_messages(m, log, sizeof(log));
	CHECK(n == 1, "%s: the daemon said \"tracing stopped\" %d times (log: %s), wanted once",
	      why, n, log);
	for (int i = 0; i < 20; i++)
		CHECK(pread(fd, buf, sizeof(buf), i) == (ssize_t)sizeof(buf), "%s: read after the "
		      "trace failed: %s", why, strerror(errno));
	CHECK(diofsctl_trace(c, "flush") < 0, "%s: a second flush said ok, wanted err", why);
	n = failure_messages(m, log, sizeof(log));
	CHECK(n == 1, "%s: after more calls and a flush, \"tracing stopped\" %d times, wanted "
	      "once", why, n);
	CHECK(stats_trace_error(c, log, sizeof(log)) && strchr(log, ':'), "%s: stats has no "
	      "\"trace_error PATH: WHY\" line (saw \"%s\")", why, log);
	CHECK(diofsctl_trace(c, "on") < 0 && strstr(diofsctl_error(c), "no trace file"),
	      "%s: trace on (no file) saw \"%s\", wanted err ... no trace file", why,
	      diofsctl_error(c));
	/* A new file starts it again. */
	snprintf(fresh, sizeof(fresh), "%s/fresh.jsonl", m->root);
	if (CHECK(diofsctl_cmd(c, NULL, "trace on %s", fresh) == 0, "%s: trace on %s: %s", why,
		  fresh, diofsctl_error(c))) {
		CHECK(!stats_trace_error(c, log, sizeof(log)), "%s: a new trace still shows the old "
		      "one's trace_error \"%s\" in stats", why, log);
		CHECK(pread(fd, buf, 1, 4321) == 1, "read: %s", strerror(errno));
		if (flush(c)) {
			k = reads_at(fresh, 4321);
			CHECK(k == 1, "%s: the new trace has %d records of the read, wanted 1", why, k);
		}
	}
	CHECK(diofsctl_cmd(c, NULL, "ping") == 1, "%s: ping: %s", why, diofsctl_error(c));
}

ITEST(removed_trace_stops_tracing_only)
{
	struct diofs_mount *m;
	struct diofsctl *c;
	char buf[100];
	int fd;

	m = itest_mount_file("trace", "f", FSIZE, 1, &c, &fd);
	REQUIRE(m, "no traced file");
	REQUIRE(flush(c), "no flush");
	REQUIRE(unlink(m->trace) == 0, "unlink %s: %s", m->trace, strerror(errno));
	CHECK(pread(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf), "read: %s", strerror(errno));
	CHECK(diofsctl_trace(c, "flush") < 0 && strstr(diofsctl_error(c), "failed"),
	      "trace flush after the file was removed: saw \"%s\", wanted err ... the trace "
	      "failed", diofsctl_error(c));
	after_failure(m, c, fd, "trace removed");
}

ITEST(full_trace_fs_stops_tracing_only)
{
	struct diofs_mount *m;
	struct diofsctl *c;
	char tiny[400], path[450], buf[100];
	int fd;

	if (geteuid() != 0) {
		SKIP("mounting a tmpfs needs root");
	}
	m = itest_mount(NULL);
	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", FSIZE, 1), "no file");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	snprintf(tiny, sizeof(tiny), "%s/tiny", m->root);
	snprintf(path, sizeof(path), "%s/trace.jsonl", tiny);
	REQUIRE(mkdir(tiny, 0700) == 0, "mkdir %s: %s", tiny, strerror(errno));
	REQUIRE(mount("tmpfs", tiny, "tmpfs", MS_NOSUID | MS_NODEV, "size=4k,mode=0700") == 0,
		"mount tmpfs at %s: %s", tiny, strerror(errno));
	itest_cleanup_mount(tiny);
	REQUIRE(diofsctl_cmd(c, NULL, "trace on %s", path) == 0, "trace on %s: %s", path,
		diofsctl_error(c));
	fd = itest_open(m, "f", O_RDONLY);
	REQUIRE(fd >= 0, "open: %s", strerror(errno));
	/* Some 300 bytes a record: 100 records do not fit in 4 KiB. */
	for (int i = 0; i < 100; i++)
		CHECK(pread(fd, buf, sizeof(buf), i * 100) == (ssize_t)sizeof(buf), "read: %s",
		      strerror(errno));
	/* The daemon's flusher writes within FLUSH_EVERY_MS (100 ms): the failure
	 * shows in stats when it happens, before anyone asks for a flush. */
	{
		char why[600] = "";
		bool seen = false;

		for (int i = 0; i < 500 && !seen; i++) {
			seen = stats_trace_error(c, why, sizeof(why));
			if (!seen)
				poll(NULL, 0, 10); /* a condition with a deadline, not a guess */
		}
		CHECK(seen && strstr(why, path) && strstr(why, "No space"), "stats within 5 s of "
		      "the trace filling its file system: saw trace_error \"%s\", wanted %s: No "
		      "space left on device", why, path);
	}
	CHECK(diofsctl_trace(c, "flush") < 0 && strstr(diofsctl_error(c), "No space"),
	      "trace flush onto a full file system: saw \"%s\", wanted err ... No space left",
	      diofsctl_error(c));
	after_failure(m, c, fd, "file system full");
	umount2(tiny, MNT_DETACH);
}

/* A small file of text with mode; false (reported) if it cannot be made. */
static bool make_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text) &&
		  fchmod(fd, mode) == 0;

	CHECK(ok, "making %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok;
}

/* "trace on FILE [overwrite]" err naming want; false otherwise (reported). */
static bool trace_refused(struct diofsctl *c, const char *file, const char *over,
			  const char *want)
{
	int r = diofsctl_cmd(c, NULL, "trace on %s%s", file, over);

	return CHECK(r < 0 && strstr(diofsctl_error(c), want), "trace on %s%s: saw %s \"%s\", "
		     "wanted err ... %s", file, over, r < 0 ? "err" : "ok",
		     r < 0 ? diofsctl_error(c) : "", want);
}

/* The trace names every user's files: it is created 0600, never through a
 * link planted where it goes or on the way there, never in a directory
 * others may write in, never over a file that exists unless told
 * (then only a regular file), and a FIFO does not make the daemon wait. */
ITEST(trace_file_new_private_no_link)
{
	struct diofs_mount *m = itest_mount(NULL);
	char secret[400], link[400], fresh[400], old[400], fifo[400], text[64];
	char dir[400], dirlink[400], inside[450], via[450];
	struct diofsctl *c;
	struct stat st;

	REQUIRE(m, "no mount");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	snprintf(secret, sizeof(secret), "%s/secret", m->root);
	snprintf(link, sizeof(link), "%s/link.jsonl", m->root);
	snprintf(fresh, sizeof(fresh), "%s/fresh.jsonl", m->root);
	snprintf(old, sizeof(old), "%s/old.jsonl", m->root);
	snprintf(fifo, sizeof(fifo), "%s/fifo.jsonl", m->root);

	/* A link planted at the trace path to a 0600 file: refused, also with
	 * overwrite; the file keeps its bytes and mode. */
	REQUIRE(make_text(secret, "keep me", 0600), "no file");
	REQUIRE(symlink(secret, link) == 0, "symlink: %s", strerror(errno));
	trace_refused(c, link, "", "symbolic link");
	trace_refused(c, link, " overwrite", "symbolic link");
	memset(&st, 0, sizeof(st));
	stat(secret, &st);
	CHECK(itest_read_text(secret, text, sizeof(text)) && strcmp(text, "keep me") == 0 &&
	      (st.st_mode & 07777) == 0600, "the link's target after trace on LINK: saw \"%s\" "
	      "mode %#o, wanted \"keep me\" 0600", text, st.st_mode & 07777);

	/* A new file: 0600 whatever the umask lets through. */
	if (CHECK(diofsctl_cmd(c, NULL, "trace on %s", fresh) == 0, "trace on %s: %s", fresh,
		  diofsctl_error(c)))
		CHECK(lstat(fresh, &st) == 0 && S_ISREG(st.st_mode) &&
		      (st.st_mode & 07777) == 0600, "%s: saw mode %#o (%s), wanted a regular file, "
		      "0600", fresh, st.st_mode, strerror(errno));

	/* A file that exists: refused and untouched; with overwrite emptied
	 * and made 0600. */
	REQUIRE(make_text(old, "old data", 0644), "no file");
	trace_refused(c, old, "", "exists (overwrite replaces it)");
	CHECK(itest_read_text(old, text, sizeof(text)) && strcmp(text, "old data") == 0,
	      "%s after a refused trace on: saw \"%s\", wanted \"old data\"", old, text);
	if (CHECK(diofsctl_cmd(c, NULL, "trace off") == 0 &&
		  diofsctl_cmd(c, NULL, "trace on %s overwrite", old) == 0,
		  "trace on %s overwrite: %s", old, diofsctl_error(c)))
	{
		/* emptied: only the INIT record every trace file starts with */
		char first[4096] = "";
		bool one_line = itest_read_text(old, first, sizeof(first)) &&
				!strncmp(first, "{\"init\":", 8) &&
				strchr(first, '\n') == first + strlen(first) - 1;

		CHECK(stat(old, &st) == 0 && one_line && (st.st_mode & 07777) == 0600,
		      "%s after trace on ... overwrite: saw %lld bytes mode %#o (\"%.60s\"), "
		      "wanted the INIT record alone, 0600", old, (long long)st.st_size,
		      st.st_mode & 07777, first);
	}

	/* A symbolic link in the directory part (O_NOFOLLOW guards only the
	 * last component): refused, with or without overwrite; the file it
	 * leads to keeps its bytes and no file is created there. */
	snprintf(dir, sizeof(dir), "%s/realdir", m->root);
	snprintf(dirlink, sizeof(dirlink), "%s/dirlink", m->root);
	REQUIRE(mkdir(dir, 0700) == 0 && symlink(dir, dirlink) == 0, "mkdir, symlink: %s",
		strerror(errno));
	snprintf(inside, sizeof(inside), "%s/secret", dir);
	REQUIRE(make_text(inside, "keep me", 0600), "no file");
	snprintf(via, sizeof(via), "%s/secret", dirlink);
	trace_refused(c, via, " overwrite", "symbolic link on the way");
	CHECK(itest_read_text(inside, text, sizeof(text)) && strcmp(text, "keep me") == 0,
	      "%s after trace on %s overwrite: saw \"%s\", wanted \"keep me\"", inside, via,
	      text);
	snprintf(via, sizeof(via), "%s/new.jsonl", dirlink);
	trace_refused(c, via, "", "symbolic link on the way");
	snprintf(inside, sizeof(inside), "%s/new.jsonl", dir);
	CHECK(lstat(inside, &st) == -1 && errno == ENOENT, "%s made through %s", inside, via);

	/* A directory others may write in (not sticky): refused. */
	snprintf(dir, sizeof(dir), "%s/opendir", m->root);
	REQUIRE(mkdir(dir, 0700) == 0 && chmod(dir, 0777) == 0, "mkdir: %s", strerror(errno));
	snprintf(inside, sizeof(inside), "%s/t.jsonl", dir);
	trace_refused(c, inside, "", "writable by others");

	/* Not a regular file: a FIFO nobody reads (no wait), a directory. */
	REQUIRE(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
	trace_refused(c, fifo, " overwrite", "not a regular file");
	trace_refused(c, m->backing, " overwrite", "not a regular file");
	CHECK(diofsctl_cmd(c, NULL, "ping") == 1, "ping after the refusals: %s",
	      diofsctl_error(c));
}

/* One run of diofs -o opts that must be refused before mounting: exit 1,
 * stderr naming want (reported otherwise). */
static void option_refused(const char *opts, const char *want)
{
	struct own_daemon *d;
	char log[2048] = "";
	int status = 0;

	d = own_start(opts, false, true, &status);
	if (!d)
		return;
	itest_read_text(d->log, log, sizeof(log));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1 && strstr(log, want),
	      "-o %s: saw status %#x, stderr \"%s\"; wanted exit 1, \"%s\"", opts, status,
	      log, want);
	own_stop(d);
}

/* -o trace=FILE: the same rules, said before anything is mounted. */
ITEST(trace_option_follows_no_link)
{
	char base[] = "/tmp/diofs-test-traceopt-XXXXXX", secret[64], link[64], opts[128];
	char text[64];

	REQUIRE(mkdtemp(base), "mkdtemp: %s", strerror(errno));
	snprintf(secret, sizeof(secret), "%s/secret", base);
	snprintf(link, sizeof(link), "%s/link.jsonl", base);
	if (make_text(secret, "keep me", 0600) &&
	    CHECK(symlink(secret, link) == 0, "symlink: %s", strerror(errno))) {
		for (int over = 0; over < 2; over++) {
			snprintf(opts, sizeof(opts), "trace=%s%s", link, over ? ",trace_overwrite" : "");
			option_refused(opts, "symbolic link");
			CHECK(itest_read_text(secret, text, sizeof(text)) &&
			      strcmp(text, "keep me") == 0, "the link's target after -o %s: saw "
			      "\"%s\", wanted \"keep me\"", opts, text);
		}
		/* Without overwrite an existing file is refused too. */
		snprintf(opts, sizeof(opts), "trace=%s", secret);
		option_refused(opts, "exists");
	}
	diofs_remove_tree(base);
}

/* -o trace=FILE whose directory is reached through a symbolic link: refused
 * before mounting, with or without trace_overwrite, also when the path is
 * relative (made absolute without resolving the link); the file the link
 * leads to keeps its bytes and no file is made there.  The same directory
 * named without the link is accepted: the link is what was refused. */
ITEST(trace_option_refuses_linked_dir)
{
	char base[] = "/tmp/diofs-test-tracedir-XXXXXX", dir[64], dirlink[64], inside[96];
	char fresh[96], opts[200], text[64];
	struct own_daemon *d;
	struct stat st;
	int cwd;

	REQUIRE(mkdtemp(base), "mkdtemp: %s", strerror(errno));
	snprintf(dir, sizeof(dir), "%s/realdir", base);
	snprintf(dirlink, sizeof(dirlink), "%s/dirlink", base);
	snprintf(inside, sizeof(inside), "%s/secret", dir);
	snprintf(fresh, sizeof(fresh), "%s/new.jsonl", dir);
	if (!CHECK(mkdir(dir, 0700) == 0 && symlink(dir, dirlink) == 0, "mkdir, symlink: %s",
		   strerror(errno)) || !make_text(inside, "keep me", 0600))
		goto out;

	snprintf(opts, sizeof(opts), "trace=%s/secret,trace_overwrite", dirlink);
	option_refused(opts, "a symbolic link on the way: refused");
	CHECK(itest_read_text(inside, text, sizeof(text)) && strcmp(text, "keep me") == 0,
	      "%s after -o %s: saw \"%s\", wanted \"keep me\"", inside, opts, text);

	snprintf(opts, sizeof(opts), "trace=%s/new.jsonl", dirlink);
	option_refused(opts, "a symbolic link on the way: refused");
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (CHECK(cwd >= 0 && chdir(base) == 0, "chdir %s: %s", base, strerror(errno)))
		option_refused("trace=dirlink/new.jsonl", "a symbolic link on the way: refused");
	CHECK(cwd >= 0 && fchdir(cwd) == 0, "back to the working directory: %s",
	      strerror(errno));
	if (cwd >= 0)
		close(cwd);
	CHECK(lstat(fresh, &st) == -1 && errno == ENOENT, "%s made through %s", fresh, dirlink);

	snprintf(opts, sizeof(opts), "trace=%s", fresh);
	d = own_start(opts, false, false, NULL);
	CHECK(d && lstat(fresh, &st) == 0 && S_ISREG(st.st_mode), "-o %s: wanted a mount and "
	      "the trace file (%s)", opts, d ? strerror(errno) : "no mount");
	own_stop(d);
out:
	diofs_remove_tree(base);
}

/* A name holding an escape sequence and a byte that is not UTF-8: the
 * trace file has no raw control byte, and the path parses back to the
 * name. */
ITEST(control_bytes_escaped_in_trace)
{
	static const char name[] = "t\x1b[2J\x07\xff";
	struct diofs_mount *m;
	struct trace_rec *recs;
	char buf[100], raw[65536];
	struct diofsctl *c;
	int fd, n, found = 0;

	m = itest_mount_file("trace", name, FSIZE, 1, &c, &fd);
	REQUIRE(m, "no traced file");
	CHECK(pread(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf), "read: %s", strerror(errno));
	REQUIRE(flush(c), "no flush");
	if (CHECK(itest_read_text(m->trace, raw, sizeof(raw)), "reading %s", m->trace))
		CHECK(!strchr(raw, '\x1b') && !strchr(raw, '\x07'), "the trace holds a raw control "
		      "byte of the name");
	n = trace_load(m->trace, &recs);
	for (int i = 0; i < n; i++)
		found += strcmp(recs[i].op, "read") == 0 && strcmp(recs[i].path + 1, name) == 0;
	CHECK(found == 1, "reads of the name parsed back from the trace: %d, wanted 1", found);
}

TEST_MAIN("test_inst_trace")
