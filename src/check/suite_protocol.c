/* protocol: what the kernel does with replies that break the FUSE
 * protocol (diofs's proto= rules).  fuse_dev_do_write() in fs/fuse/dev.c
 * checks a reply before it looks for its request: fewer bytes than a
 * header, a header len other than the bytes written, or an error outside
 * -511..0 fail the write(2) with EINVAL and leave the request waiting; a
 * unique it does not have in flight (never sent, or answered already)
 * fails it with ENOENT.  diofs then sends the real reply, so the caller
 * must get its whole answer.  A reply after FUSE_INTERRUPT is still the
 * reply: the caller gets its data.  Over FUSE-over-io_uring (--transport
 * uring) diofs commits errno:N in the request's ring entry, and there the
 * kernel (fs/fuse/dev_uring.c, fuse_uring_out_header_has_err) ends the
 * request with EINVAL instead: the caller gets EINVAL, and the real reply's
 * commit is refused, so what it hands the kernel (an open file, a lookup)
 * must be dropped by diofs (refused_reply_drops).  Each case also checks that the I/O's
 * pins balance (an I/O is repeated while other I/O on the machine disturbs
 * the counters; a leak shows every time) and that the kernel log gained no
 * WARNING, BUG or Oops. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/check.h"
#include "check/pinwatch.h"
#include "check/route.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define LEN ((size_t)16 * 1024)
#define SEED_FILE 41
#define SEED_WRITE 42
#define STATS_WAIT_MS 10000

/* ---- the daemon's count of what write(2) said ------------------------- */

/* "proto KIND count=N accepted=N einval=N enoent=N other=N" */
struct outcomes {
	uint64_t count, accepted, einval, enoent, other;
};

static struct outcomes read_outcomes(const char *kind)
{
	struct outcomes o = { 0 };
	char **lines = NULL, prefix[64];

	snprintf(prefix, sizeof(prefix), "proto %s ", kind);
	if (CHECK_CTL(diofsctl_cmd(check_ctl(), &lines, "stats")) < 0)
		return o;
	for (char **l = lines; l && *l; l++)
		if (strncmp(*l, prefix, strlen(prefix)) == 0)
			sscanf(*l + strlen(prefix), "count=%" SCNu64 " accepted=%" SCNu64
			       " einval=%" SCNu64 " enoent=%" SCNu64 " other=%" SCNu64,
			       &o.count, &o.accepted, &o.einval, &o.enoent, &o.other);
	diofsctl_free_lines(lines);
	return o;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The daemon counts a "double" or "late" write after the real reply, which
 * may wake the caller first: wait (bounded) for the count to move. */
static struct outcomes wait_outcomes(const char *kind, uint64_t count)
{
	uint64_t deadline = ms_now() + STATS_WAIT_MS;
	struct outcomes o;

	while ((o = read_outcomes(kind)).count < count && ms_now() < deadline)
		usleep(1000);
	return o;
}

/* ---- the transport --------------------------------------------------------- */

/* Does the ring serve this mount's requests?  Over io_uring, wait (bounded)
 * until every queue has registered its entries: until then requests still
 * come over /dev/fuse. */
static bool over_ring(void)
{
	uint64_t deadline = ms_now() + STATS_WAIT_MS;
	unsigned int queues = 0, registered = 0;
	bool uring = false;
	struct stat st;

	REQUIRE_OK(stat(check_mnt(), &st)); /* INIT answered */
	do {
		char **lines = NULL;

		if (CHECK_CTL(diofsctl_cmd(check_ctl(), &lines, "stats")) < 0)
			return false;
		for (char **l = lines; l && *l; l++)
			if (!strncmp(*l, "transport io_uring ", 19)) {
				uring = true;
				sscanf(*l, "transport io_uring queues=%u q_depth=%*u payload=%*u "
				       "registered=%u", &queues, &registered);
			}
		diofsctl_free_lines(lines);
		if (!uring || (queues && registered == queues))
			return uring;
		usleep(1000);
	} while (ms_now() < deadline);
	CHECK_FAILF("over io_uring, %u of %u queues registered after %d ms", registered, queues,
		    STATS_WAIT_MS);
	return true;
}

/* ---- the kernel log ------------------------------------------------------ */

/* /dev/kmsg from now on; -1 with why if it cannot be read. */
static int kmsg_open(char *why, size_t len)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, len, "/dev/kmsg: %s", strerror(errno));
		return -1;
	}
	if (lseek(fd, 0, SEEK_END) < 0) {
		snprintf(why, len, "/dev/kmsg: seek: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Fail on every record since kmsg_open that reports a kernel fault. */
static void kmsg_check(int fd, const char *ctx)
{
	static const char *const bad[] = { "WARNING:", "BUG:", "Oops", "general protection",
					   "Call Trace:" };
	char rec[2048];
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue; /* records overwritten meanwhile: go on */
		if (n <= 0)
			break;
		rec[n] = '\0';
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (strstr(rec, bad[i])) {
				rec[strcspn(rec, "\n")] = '\0';
				CHECK_FAILF("%s: the kernel logged: %s", ctx, rec);
				break;
			}
	}
}

/* ---- one faulty reply ------------------------------------------------- */

struct fault {
	const char *rule;  /* the proto= value */
	const char *kind;  /* its name in stats */
	int want;          /* write(2) of the faulty message: 0 or the errno */
	bool ring_ends;    /* over the ring: committed, the request ended EINVAL */
};

static atomic_int signals;

static void on_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals, 1);
}

static const char *outcome_name(int err)
{
	return err == 0 ? "accepted" : err == EINVAL ? "EINVAL" : err == ENOENT ? "ENOENT" : "?";
}

static uint64_t outcome_of(const struct outcomes *o, int err)
{
	return err == 0 ? o->accepted : err == EINVAL ? o->einval : err == ENOENT ? o->enoent : 0;
}

/* How many times an I/O whose pins did not balance is repeated: other
 * I/O on the machine moves the machine-wide counters now and then, a leak
 * shows every time. */
#define PIN_ATTEMPTS 8

/* One I/O on route r in direction dir with fault f on its request.  True
 * if its pins balanced (or cannot be counted here, or the I/O failed:
 * recorded, no point repeating); *delta the pins left otherwise. */
static bool fault_io(const struct fault *f, enum io_route r, enum io_dir dir, int n,
		     int64_t *delta)
{
	const char *op = dir == IO_READ ? "read" : "write";
	bool late = strcmp(f->kind, "late") == 0;
	bool ended = f->ring_ends && over_ring();
	int want = ended ? 0 : f->want;
	ssize_t want_res = ended ? -EINVAL : (ssize_t)LEN;
	struct sigaction sa = { .sa_handler = on_signal }, old;
	struct pin_counts pins_before;
	bool pins = !pins_unavailable();
	struct outcomes before, after;
	char name[32], ctx[160], why[256];
	struct diofs_held held;
	struct route_io *io;
	pthread_t thread;
	ssize_t res = -ETIME;
	int fd, kmsg;
	char *buf;

	unsigned int failures = test_failures();

	*delta = 0;
	if (dio_route_unavailable(r)) {
		NOTE("%s: %s", dio_route_name(r), dio_route_unavailable(r));
		return true;
	}
	snprintf(ctx, sizeof(ctx), "%s of %zu bytes with proto=%s", dio_call_name(r, dir),
		 LEN, f->rule);
	snprintf(name, sizeof(name), "f%d", n);
	check_file_create(name, LEN, SEED_FILE);
	buf = check_buf_alloc(LEN, 0);
	if (dir == IO_WRITE)
		pattern_fill(buf, LEN, 0, SEED_WRITE);
	fd = REQUIRE_OK(open(check_path(name), O_RDWR | O_DIRECT | O_CLOEXEC));
	kmsg = kmsg_open(why, sizeof(why));
	if (kmsg < 0 && n == 0)
		NOTE("kernel log not checked: %s", why);
	if (pins && pw_sample(&pins_before, why, sizeof(why)) < 0)
		pins = false;
	before = read_outcomes(f->kind);
	if (late) {
		sigemptyset(&sa.sa_mask); /* no SA_RESTART */
		REQUIRE_OK(sigaction(SIGUSR1, &sa, &old));
		atomic_store(&signals, 0);
	}
	REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "proto=%s op=%s path=%s count=1", f->rule, op,
				      check_fuse_path(name)));

	io = route_submit(r, fd, dir, buf, LEN, 0);
	if (late) {
		/* held until the kernel interrupts it: signal the caller */
		if (route_held_wait(check_fuse_path(name), op, 1, &held, 1) == 1 &&
		    route_thread(io, &thread))
			pthread_kill(thread, SIGUSR1);
	}
	if (!route_wait(io, ROUTE_WAIT_MS, &res)) {
		/* still in flight: its pins are not leaked (yet) */
		CHECK_FAILF("%s: no answer %d ms after the faulty reply (the caller hangs)", ctx,
			    ROUTE_WAIT_MS);
		pins = false;
	} else if (res != want_res) {
		CHECK_FAILF("%s: returned %zd (%s), want %zd: %s", ctx, res,
			    res < 0 ? strerror((int)-res) : "short", want_res, ended ?
			    "the ring's commit of the faulty header ends the request with EINVAL" :
			    "diofs sent the real reply after the faulty one");
	} else if (dir == IO_READ && !ended) {
		CHECK_PATTERN(buf, LEN, 0, SEED_FILE);
	}
	route_free(io);
	if (res == (ssize_t)LEN && dir == IO_WRITE) {
		memset(buf, 0, LEN);
		CHECK_EQ(pread(fd, buf, LEN, 0), LEN);
		CHECK_PATTERN(buf, LEN, 0, SEED_WRITE);
	}

	after = wait_outcomes(f->kind, before.count + 1);
	if (after.count != before.count + 1)
		CHECK_FAILF("%s: diofs counted %" PRIu64 " faulty writes, want 1", ctx,
			    after.count - before.count);
	else if (outcome_of(&after, want) != outcome_of(&before, want) + 1)
		CHECK_FAILF("%s: %s: accepted +%" PRIu64 ", EINVAL +%" PRIu64
			    ", ENOENT +%" PRIu64 ", other +%" PRIu64 "; want %s", ctx,
			    ended ? "the ring's commit" : "write(2) to /dev/fuse",
			    after.accepted - before.accepted, after.einval - before.einval,
			    after.enoent - before.enoent, after.other - before.other,
			    outcome_name(want));
	if (late) {
		if (atomic_load(&signals) != 1)
			CHECK_FAILF("%s: the signal handler ran %d times, want once", ctx,
				    atomic_load(&signals));
		sigaction(SIGUSR1, &old, NULL);
	}
	if (pins) {
		struct pin_counts now;

		if (pw_sample(&now, why, sizeof(why)) < 0)
			NOTE("%s: pins not counted: %s", ctx, why);
		else
			*delta = pw_inflight_delta(&pins_before, &now);
	}
	if (kmsg >= 0) {
		kmsg_check(kmsg, ctx);
		close(kmsg);
	}
	close(fd);
	check_buf_free(buf);
	CHECK_CTL(diofsctl_rule_clear(check_ctl()));
	return *delta == 0 || test_failures() != failures;
}

/* fault_io until its pins balance, PIN_ATTEMPTS times at most. */
static void fault_repeat(const struct fault *f, enum io_route r, enum io_dir dir, int *n)
{
	int64_t delta = 0;

	for (int a = 0; a < PIN_ATTEMPTS; a++)
		if (fault_io(f, r, dir, (*n)++, &delta))
			return;
	CHECK_FAILF("%s of %zu bytes with proto=%s: %+" PRId64 " pins in flight after the "
		    "I/O (the last of %d attempts), want +0", dio_call_name(r, dir), LEN,
		    f->rule, delta, PIN_ATTEMPTS);
}

/* The fault on a synchronous read and write, and (not late: background
 * requests are never interrupted) on libaio's. */
static void fault_all(const struct fault *f)
{
	bool late = strcmp(f->kind, "late") == 0;
	int n = 0;

	fault_repeat(f, ROUTE_PREAD, IO_READ, &n);
	fault_repeat(f, ROUTE_PREAD, IO_WRITE, &n);
	if (!late) {
		fault_repeat(f, ROUTE_AIO, IO_READ, &n);
		fault_repeat(f, ROUTE_AIO, IO_WRITE, &n);
	}
}

/* A case: fault_all with one fault, its fields in struct fault's order. */
#define FAULT_CASE(name, ...)                                    \
	static void name(void)                                   \
	{                                                        \
		fault_all(&(struct fault){ __VA_ARGS__ });       \
	}

FAULT_CASE(badlen_longer, "badlen:+8", "badlen", EINVAL, false)
FAULT_CASE(badlen_shorter, "badlen:-8", "badlen", EINVAL, false)
FAULT_CASE(short_header, "short-header:8", "short-header", EINVAL, false)
FAULT_CASE(short_header_15, "short-header:15", "short-header", EINVAL, false)
FAULT_CASE(errno_erestartsys, "errno:-512", "errno", EINVAL, true)
FAULT_CASE(errno_below, "errno:-1000", "errno", EINVAL, true)
FAULT_CASE(errno_positive, "errno:5", "errno", EINVAL, true)
FAULT_CASE(double_reply, "double", "double", ENOENT, false)
FAULT_CASE(unknown_unique, "unknown-unique", "unknown-unique", ENOENT, false)
FAULT_CASE(late_reply, "late", "late", 0, false)

/* ---- a refused reply that hands the kernel something ---------------------- */

#define REFUSED_N 16
#define SETTLE_ROUNDS 2000

static int not_dot(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* The daemon's open fds (entries of /proc/PID/fd), -1 if unreadable. */
static int daemon_fds(pid_t pid)
{
	struct dirent **fds;
	char path[64];
	int n;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	n = scandir(path, &fds, not_dot, NULL);
	for (int i = 0; i < n; i++)
		free(fds[i]);
	if (n >= 0)
		free(fds);
	return n;
}

/* From "ping": "diofs VERSION pid N". */
static pid_t daemon_pid(void)
{
	char **lines = NULL;
	int pid = 0;

	REQUIRE_CTL(diofsctl_cmd(check_ctl(), &lines, "ping"));
	if (lines && lines[0] && strstr(lines[0], " pid "))
		pid = atoi(strstr(lines[0], " pid ") + 5);
	diofsctl_free_lines(lines);
	if (pid <= 0)
		CHECK_FATALF("diofsctl ping names no pid");
	return pid;
}

/* The daemon's fds once they come down to want, bounded: a release, and
 * over the ring the refused commit's completion, are handled after the
 * caller returned; each statfs round trip lets them by. */
static int fds_settled(pid_t pid, int want)
{
	int now = daemon_fds(pid);

	for (int i = 0; i < SETTLE_ROUNDS && now > want; i++) {
		struct statvfs sv;

		statvfs(check_mnt(), &sv);
		sched_yield();
		now = daemon_fds(pid);
	}
	return now;
}

/* errno:-1000 on REFUSED_N opens and REFUSED_N lookups.  Over /dev/fuse
 * the faulty header is refused and the real reply taken: the opens and
 * lookups succeed.  Over the ring the kernel ends each request with EINVAL
 * and refuses the real reply's commit: the backing file diofs opened, and
 * the inode (an O_PATH fd) it looked up, must be dropped, so the daemon's
 * fds come back to what they were. */
static void refused_reply_drops(void)
{
	bool ring = over_ring();
	int base, now, ok = 0, einval = 0;
	char name[32];
	pid_t pid;
	struct stat st;

	if (!check_backing_path("opened"))
		SKIP("needs diofs-check's own mount (names made behind the mount, not looked up)");
	pid = daemon_pid();
	check_file_create("opened", 4096, SEED_FILE);
	REQUIRE_OK(stat(check_path("opened"), &st)); /* its inode's fd from now on */
	for (int i = 0; i < REFUSED_N; i++) {
		snprintf(name, sizeof(name), "named%d", i);
		check_file_create(name, 1, SEED_FILE);
	}
	base = daemon_fds(pid);
	if (base <= 0)
		CHECK_FATALF("cannot count diofs's fds (/proc/%d/fd)", (int)pid);

	REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "proto=errno:-1000 op=open path=%s count=%d",
				      check_fuse_path("opened"), REFUSED_N));
	for (int i = 0; i < REFUSED_N; i++) {
		int fd = open(check_path("opened"), O_RDONLY | O_CLOEXEC);

		if (fd >= 0) {
			ok++;
			close(fd);
		} else if (errno == EINVAL) {
			einval++;
		} else {
			CHECK_FAILF("open with proto=errno:-1000: %s", strerror(errno));
		}
	}
	CHECK_CTL(diofsctl_rule_clear(check_ctl()));
	if (ring)
		CHECK_EQ(einval, REFUSED_N);
	else
		CHECK_EQ(ok, REFUSED_N);
	now = fds_settled(pid, base);
	if (now != base)
		CHECK_FAILF("after %d opens %s, diofs has %d fds, %d before: %s", REFUSED_N,
			    ring ? "whose reply's commit the kernel refused" : "and closes", now,
			    base, ring ? "it kept the files the kernel never took" :
			    "the releases did not free them");

	REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "proto=errno:-1000 op=lookup path=%s count=%d",
				      check_fuse_path("named*"), REFUSED_N));
	ok = einval = 0;
	for (int i = 0; i < REFUSED_N; i++) {
		snprintf(name, sizeof(name), "named%d", i);
		if (stat(check_path(name), &st) == 0)
			ok++;
		else if (errno == EINVAL)
			einval++;
		else
			CHECK_FAILF("stat %s with proto=errno:-1000: %s", name, strerror(errno));
	}
	CHECK_CTL(diofsctl_rule_clear(check_ctl()));
	if (ring) {
		CHECK_EQ(einval, REFUSED_N);
		now = fds_settled(pid, base);
		if (now != base)
			CHECK_FAILF("after %d lookups whose reply's commit the kernel refused, diofs "
				    "has %d fds, %d before: it kept inodes the kernel never counted",
				    REFUSED_N, now, base);
	} else {
		/* the kernel holds each entry now: one O_PATH fd each */
		CHECK_EQ(ok, REFUSED_N);
		CHECK_EQ(daemon_fds(pid), base + REFUSED_N);
	}
}

static const struct check_case cases[] = {
	CHECK_CASE(badlen_longer,
		   "a reply whose header len is 8 more than written: write(2) EINVAL, the "
		   "real reply then answers the caller; pins balance, no kernel warning"),
	CHECK_CASE(badlen_shorter,
		   "a reply whose header len is 8 less than written: EINVAL, then answered"),
	CHECK_CASE(short_header,
		   "8 bytes of a reply header: EINVAL, then answered"),
	CHECK_CASE(short_header_15,
		   "15 bytes of a reply header, one short: EINVAL, then answered"),
	CHECK_CASE(errno_erestartsys,
		   "error -512 (ERESTARTSYS) in a reply header: EINVAL (the kernel takes "
		   "-511..0), then answered"),
	CHECK_CASE(errno_below,
		   "error -1000 in a reply header: EINVAL, then answered"),
	CHECK_CASE(errno_positive,
		   "error +5 in a reply header: EINVAL, then answered"),
	CHECK_CASE(double_reply,
		   "the same reply written twice: the first answers, the second ENOENT"),
	CHECK_CASE(unknown_unique,
		   "a reply to a unique the kernel never sent: ENOENT, then answered"),
	CHECK_CASE(refused_reply_drops,
		   "errno:-1000 on opens and lookups: over /dev/fuse refused, the real reply "
		   "answers; over io_uring the request ends EINVAL and the real reply's "
		   "commit is refused: diofs drops the file or inode (its fds come back)"),
	CHECK_CASE(late_reply,
		   "a reply after FUSE_INTERRUPT (signal while held): accepted, the caller "
		   "gets its data, its handler runs once"),
	{ NULL },
};

const struct check_suite check_suite_protocol = {
	.name = "protocol",
	.mount_opts = "dio=all",
	.cases = cases,
};
