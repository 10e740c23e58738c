/* lifetime: the FUSE-over-io_uring connection torn down while its ring
 * entries are being registered (issue 18).  Once INIT took io_uring, the
 * kernel makes every new request wait in fuse_get_req() until each CPU
 * queue of the ring has an entry (fs/fuse/dev.c, fuse_block_alloc: "until
 * the ring is ready"); diofs -o io_uring_hold_register keeps its last queue
 * from registering until "diofsctl register", so the ring exists, the other
 * queues' entries are registered, and requests wait.  Each case starts a
 * diofs of its own so held (its own mount's harness requests would wait
 * too), starts two opens and O_DIRECT reads of a file there, sees both
 * waiting in the kernel (connections/N/waiting), and then:
 *   kill     diofs is killed: each open fails ENOTCONN or ECONNABORTED
 *   abort    the connection is aborted (connections/N/abort): likewise,
 *            and diofs exits by itself
 *   unmount  the mount is detached (umount -l), then registration let go:
 *            the ring serves the waiting opens and reads in full, and diofs
 *            exits once they closed the file
 *   umount   unmounted (umount(2)) with nothing in flight: diofs exits by
 *            itself, the held queue never registering
 * Nothing may hang (each wait is bounded; a hang is a failure), pins
 * balance, and the io_uring make-check pass checks the kernel log.  The
 * cases run only in that pass (--transport uring). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "check/suite_lifetime.h"
#include "harness/mount.h"
#include "lib/diofsctl.h"

#define REG_READERS 2
#define REG_WAIT_MS 10000
#define REG_SEED 61
#define FUSECTL "/sys/fs/fuse/connections"

enum reg_end { REG_KILL, REG_ABORT, REG_UNMOUNT, REG_UMOUNT_IDLE };

static uint64_t reg_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The transport line of a diofs's stats. */
static bool transport_line(struct diofsctl *ctl, char *line, size_t len)
{
	char **lines = NULL;
	bool found = false;

	if (diofsctl_cmd(ctl, &lines, "stats") < 0)
		return false;
	for (char **l = lines; l && *l && !found; l++)
		if (!strncmp(*l, "transport ", 10)) {
			snprintf(line, len, "%s", *l);
			found = true;
		}
	diofsctl_free_lines(lines);
	return found;
}

/* The mount's FUSE connection number, from mountinfo (a stat of the mount
 * would be a request, and requests wait). */
static unsigned int connection_of(const char *mnt)
{
	char line[4096], point[4096];
	unsigned int major, minor, conn = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &major, &minor, point) == 3 &&
		    !strcmp(point, mnt))
			conn = minor;
	fclose(f);
	return conn;
}

/* connections/N/waiting: requests the kernel counts as waiting, -1 if it
 * cannot be read. */
static int waiting(unsigned int conn)
{
	char path[128];
	int n = -1;
	FILE *f;

	snprintf(path, sizeof(path), FUSECTL "/%u/waiting", conn);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

struct reader {
	char path[400];
	char *buf;
};

/* In a thread: open the file (the request that waits) and read it. */
static ssize_t open_and_read(void *arg)
{
	struct reader *r = arg;
	int fd = open(r->path, O_RDONLY | O_DIRECT | O_CLOEXEC), err;
	ssize_t res;

	if (fd < 0)
		return -1;
	res = pread(fd, r->buf, LT_LEN, 0);
	err = errno;
	close(fd);
	errno = err;
	return res;
}

/* Until every reader returned; false if one has not after REG_WAIT_MS. */
static bool readers_returned(struct held_io **h)
{
	uint64_t deadline = reg_ms() + REG_WAIT_MS;

	for (;;) {
		bool all = true;

		for (int i = 0; i < REG_READERS; i++)
			all = all && held_io_returned(h[i]);
		if (all || reg_ms() >= deadline)
			return all;
		usleep(1000);
	}
}

/* Pins left in flight since before: a leak stays, while other I/O on the
 * machine moves the machine-wide counters either way now and then (taken
 * again a few times; fewer than before is always such I/O). */
static int64_t pins_left(const struct pin_counts *before)
{
	struct pin_counts now;
	char why[256];
	int64_t delta = 0;

	for (int i = 0; i < 8; i++) {
		if (pw_sample(&now, why, sizeof(why)) < 0)
			return 0;
		delta = pw_inflight_delta(before, &now);
		if (delta <= 0)
			return 0;
		usleep(10000);
	}
	return delta;
}

static const char *end_name(enum reg_end end)
{
	static const char *const names[] = { "killed", "aborted", "detached (umount -l)",
					     "unmounted" };

	return names[end];
}

static void registering_case(enum reg_end end)
{
	struct diofs_mount m = { 0 };
	struct held_io *h[REG_READERS] = { NULL };
	struct reader r[REG_READERS];
	struct pin_counts before;
	struct diofsctl *ctl = NULL;
	char why[1024], line[512], path[400];
	unsigned int conn;
	bool pins;
	int n = -1, fd;

	lt_require_premises();
	if (!transport_line(check_ctl(), line, sizeof(line)))
		CHECK_FATALF("diofsctl stats: no transport line");
	if (strncmp(line, "transport io_uring", 18))
		SKIP("the ring is registered only over io_uring: runs in the io_uring pass "
		     "(--transport uring)");
	pins = pw_sample(&before, why, sizeof(why)) == 0;
	if (diofs_mount_start(&m, "io_uring,io_uring_hold_register", why, sizeof(why)) < 0)
		CHECK_FATALF("diofs -o io_uring,io_uring_hold_register: %s", why);
	snprintf(path, sizeof(path), "%s", diofs_backing_path(&m, "f"));
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, LT_LEN) < 0)
		CHECK_FATALF("create %s: %s", path, strerror(errno));
	close(fd);
	ctl = diofsctl_connect(m.ctl, why, sizeof(why));
	if (!ctl) {
		diofs_mount_stop(&m);
		CHECK_FATALF("control socket %s: %s", m.ctl, why);
	}
	/* INIT is answered as the mount is made; the queues then register,
	 * the last one stopping before it does */
	for (uint64_t deadline = reg_ms() + REG_WAIT_MS;
	     !(transport_line(ctl, line, sizeof(line)) && strstr(line, " register=held")) &&
	     reg_ms() < deadline;)
		usleep(1000);
	if (!strstr(line, " register=held")) {
		CHECK_FAILF("diofs -o io_uring_hold_register: no queue holds its registration "
			    "after %d ms (stats: %s)", REG_WAIT_MS, line);
		goto out;
	}
	NOTE("registration held: %s", line);
	conn = connection_of(m.mnt);
	if (!conn || waiting(conn) < 0) {
		CHECK_FAILF("no FUSE connection to watch for %s (%s)", m.mnt, FUSECTL);
		goto out;
	}

	if (end == REG_UMOUNT_IDLE) {
		if (umount2(m.mnt, 0) < 0)
			CHECK_FAILF("umount %s with registration held: %s", m.mnt,
				    strerror(errno));
		else if (!diofs_wait_exit(m.pid, REG_WAIT_MS, NULL))
			CHECK_FAILF("diofs still runs %d ms after its mount was unmounted during "
				    "registration", REG_WAIT_MS);
		else
			m.pid = 0;
		goto out;
	}

	for (int i = 0; i < REG_READERS; i++) {
		snprintf(r[i].path, sizeof(r[i].path), "%s", diofs_mnt_path(&m, "f"));
		r[i].buf = check_buf_alloc(LT_LEN, 0);
		h[i] = held_call(open_and_read, &r[i]);
	}
	/* each reader's first request waits in fuse_get_req, counted */
	for (uint64_t deadline = reg_ms() + REG_WAIT_MS;
	     (n = waiting(conn)) < REG_READERS && reg_ms() < deadline;)
		usleep(1000);
	if (n < REG_READERS) {
		CHECK_FAILF("%d requests waiting in the kernel, want %d: the ring should not "
			    "serve before every queue registered", n, REG_READERS);
		diofsctl_cmd(ctl, NULL, "register"); /* let them through */
		end = REG_UNMOUNT; /* what follows: they complete, diofs stays */
	} else {
		for (int i = 0; i < REG_READERS; i++)
			if (held_io_returned(h[i]))
				CHECK_FAILF("reader %d returned while registration is held", i);
		switch (end) {
		case REG_KILL:
			if (kill(m.pid, SIGKILL) < 0)
				CHECK_FAILF("kill diofs: %s", strerror(errno));
			break;
		case REG_ABORT:
			snprintf(path, sizeof(path), FUSECTL "/%u/abort", conn);
			fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, "1", 1) != 1)
				CHECK_FAILF("%s: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			break;
		default: /* REG_UNMOUNT */
			if (umount2(m.mnt, MNT_DETACH) < 0)
				CHECK_FAILF("umount -l %s: %s", m.mnt, strerror(errno));
			if (diofsctl_cmd(ctl, NULL, "register") < 0)
				CHECK_FAILF("diofsctl register: %s", diofsctl_error(ctl));
			break;
		}
	}
	if (!readers_returned(h)) {
		CHECK_FAILF("a reader still waits %d ms after the connection was %s during "
			    "registration (the kernel hangs it)", REG_WAIT_MS, end_name(end));
		kill(m.pid, SIGKILL); /* the daemon's end ends the wait, if anything does */
	}
	for (int i = 0; i < REG_READERS; i++) {
		int err = 0;
		ssize_t res = held_io_join(h[i], &err);

		if (end == REG_UNMOUNT) {
			if (res != LT_LEN)
				CHECK_FAILF("reader %d after umount -l and registration: %zd %s, "
					    "want %d bytes", i, res, res < 0 ? strerror(err) : "",
					    LT_LEN);
		} else if (res >= 0 || (err != ENOTCONN && err != ECONNABORTED)) {
			CHECK_FAILF("reader %d when the connection was %s during registration: "
				    "%zd %s, want ENOTCONN or ECONNABORTED", i, end_name(end), res,
				    res < 0 ? strerror(err) : "");
		}
		check_buf_free(r[i].buf);
	}
	if (n >= REG_READERS) {
		if (!diofs_wait_exit(m.pid, REG_WAIT_MS, NULL))
			CHECK_FAILF("diofs still runs %d ms after its connection was %s during "
				    "registration", REG_WAIT_MS, end_name(end));
		else
			m.pid = 0; /* reaped */
	}
out:
	diofsctl_close(ctl);
	diofs_mount_stop(&m);
	if (pins) {
		int64_t delta = pins_left(&before);

		if (delta)
			CHECK_FAILF("%+" PRId64 " pins in flight after the connection was %s "
				    "during registration, want +0", delta, end_name(end));
	}
}

void lt_kill_registering(void)
{
	registering_case(REG_KILL);
}

void lt_abort_registering(void)
{
	registering_case(REG_ABORT);
}

void lt_unmount_registering(void)
{
	registering_case(REG_UNMOUNT);
}

void lt_umount_idle_registering(void)
{
	registering_case(REG_UMOUNT_IDLE);
}
