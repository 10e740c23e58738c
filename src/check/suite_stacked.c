/* stacked: filesystems and the bare block device on a loop device over an
 * image on diofs (stacked.h).  One case per target and loop mode (the
 * loop driver's direct I/O on: "_loopdio", off: "_loopbuf"); each
 * stacks its own diofs, so the suite's mount is not used.
 *
 * A target the kernel or the machine lacks (no module, no mkfs), one that
 * refuses O_DIRECT, or one whose O_DIRECT does not reach diofs as direct
 * I/O is a state, reported as SKIP with the reason.  Otherwise the case
 * asserts that the held read was the I/O's own, the pins balance after
 * completion, a pinned read keeps the parent's data across fork, memory
 * mapped in place of the buffer while the read is held keeps its bytes,
 * and the read fails, not hangs, when diofs aborts its connection.
 *
 * The teardown cases: a process killed by its case timeout with a read
 * held, and a stack whose mkfs fails, leave no loop device, mount or
 * daemon behind. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/check.h"
#include "check/stacked.h"
#include "harness/stack.h"
#include "proto/errnames.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct stk_target *target(const char *name)
{
	for (size_t i = 0; i < stk_ntargets; i++)
		if (!strcmp(stk_targets[i].name, name))
			return &stk_targets[i];
	CHECK_FATALF("no stacked target %s", name);
	return NULL;
}

static void stacked_case(const char *name, bool loop_dio)
{
	const struct stk_target *t = target(name);
	const char *no = stk_unavailable();
	struct stk_report r;
	char line[2048];

	if (no)
		SKIP("%s", no);
	stk_probe(t, loop_dio, &r);
	stk_format(&r, line, sizeof(line));
	switch (r.state) {
	case STK_UNAVAILABLE:
		SKIP("not available: %s", r.why);
	case STK_NO_ODIRECT:
		SKIP("no O_DIRECT support: %s", r.why);
	case STK_NOT_HELD:
	case STK_BUFFERED:
		SKIP("its O_DIRECT is not direct I/O to the device: %s", line);
	case STK_ERROR:
		CHECK_FATALF("%s", line);
	case STK_PINNED:
	case STK_REFS:
		break;
	}
	if (r.loop_dio != loop_dio)
		SKIP("the loop driver's direct I/O is %s, asked %s: %s", r.loop_dio ? "on" : "off",
		     loop_dio ? "on" : "off", line);
	NOTE("%s", line);
	/* Pins balance after completion.  Where they do not, the same way in
	 * every attempt, pins were taken that nr_foll_pin_acquired did not
	 * count: fs/direct-io.c adds pins with folio_add_pin() (6.5 on), which
	 * counts none, and releases each with unpin_user_page(), which counts
	 * it -- the counters' bug, the pages themselves are pinned. */
	if (r.read.unbalanced)
		CHECK_FAILF("pin counters unbalanced by the read: %+" PRId64 " in flight while held "
			    "(%+" PRId64 " acquired, %+" PRId64 " released), %+" PRId64 " after "
			    "completion, in every attempt: %s", r.read.pins_held, r.read.acquired,
			    r.read.released, r.read.pins_after, line);
	else
		CHECK_EQ(r.read.pins_after, 0);
	if (r.step_why[0])
		CHECK_FAILF("%s", r.step_why);
	/* fork while the read is held */
	if (!r.fork_done) {
		CHECK_FAILF("fork while held did not run: %s", line);
	} else {
		CHECK_EQ(r.fork.ret, STK_LEN);
		/* Pinned pages are copied for the child at fork: the parent keeps
		 * every page still in flight.  Pages whose bios completed before
		 * the fork (the held request is only the first: ext2 over a loop
		 * doing direct I/O) got their data early; the parent's byte per
		 * page then overwrote it, as it would any buffer. */
		int64_t in_flight = r.read.unbalanced ? r.read.acquired : r.read.pins_held;
		/* The counters are machine-wide: other direct I/O can only add
		 * to them, never beyond the buffer's own pages. */
		if (in_flight > (int64_t)r.fork.pages)
			in_flight = (int64_t)r.fork.pages;
		if (r.state == STK_PINNED && (int64_t)r.fork.parent_kept < in_flight)
			CHECK_FAILF("fork while held: the parent kept %zu of %zu pages with %" PRId64
				    " pinned in flight: %s", r.fork.parent_kept, r.fork.pages,
				    in_flight, line);
	}
	/* munmap while held: the memory now at that address keeps its bytes */
	if (r.munmap_done) {
		CHECK_EQ(r.munmap_ret, STK_LEN);
		if (!r.munmap_new_intact)
			CHECK_FAILF("the memory mapped in place of the buffer while the read was held "
				    "was overwritten: %s", line);
	}
	/* the write: any state but an error is a finding */
	if (r.write.state == STK_ERROR)
		CHECK_FAILF("the held write: %s", r.write.why);
	else if ((r.write.state == STK_PINNED || r.write.state == STK_REFS) && !r.write.unbalanced)
		CHECK_EQ(r.write.pins_after, 0);
	/* diofs aborts while the read is held: an error, not a hang */
	if (r.abort_done) {
		if (!r.abort_returned)
			CHECK_FAILF("the held read hung when diofs aborted its connection");
		else if (r.abort_ret >= 0)
			CHECK_FAILF("the held read returned %zd when diofs aborted its connection, "
				    "want an error", r.abort_ret);
	}
}

#define STK_CASE_TARGETS(X) \
	X(blockdev) X(ext4) X(ext2) X(xfs) X(btrfs) X(f2fs) X(vfat) X(exfat) X(udf) \
	X(hfsplus) X(jfs) X(nilfs2) X(ntfs3) X(erofs) X(squashfs)
#define STK_FUNCS(name) \
	static void name##_loopdio(void) { stacked_case(#name, true); } \
	static void name##_loopbuf(void) { stacked_case(#name, false); }
STK_CASE_TARGETS(STK_FUNCS)
#undef STK_FUNCS

/* ---- teardown on every path ------------------------------------------ */

/* Leftovers of a stack rooted at root, loop device nr, daemon pid: a
 * mount under root, a loop device still attached to the image, a daemon
 * still running, the directory itself.  Each found is a failure. */
static void check_no_leftovers(const char *root, int nr, pid_t daemon)
{
	char path[PATH_MAX], line[PATH_MAX + 256], backing[PATH_MAX] = "";
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int fd;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, root))
			CHECK_FAILF("still mounted: %s", line);
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/sys/block/loop%d/loop/backing_file", nr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, backing, sizeof(backing) - 1);
		backing[n > 0 ? n : 0] = '\0';
		backing[strcspn(backing, "\n")] = '\0';
		close(fd);
		/* the image by its path, or as "/img" once diofs was detached */
		if (strstr(backing, root) || !strcmp(backing, DIOFS_STACK_IMAGE))
			CHECK_FAILF("loop%d is still attached to %s", nr, backing);
	}
	if (daemon > 0 && kill(daemon, 0) == 0)
		CHECK_FAILF("the daemon (pid %d) still runs", (int)daemon);
	if (access(root, F_OK) == 0)
		CHECK_FAILF("%s is still there", root);
}

struct child_says {
	char root[256];
	int loop_nr;
	pid_t daemon;
	bool held;
};

static void *read_held(void *arg)
{
	static char buf[STK_LEN] __attribute__((aligned(4096)));

	if (pread(*(int *)arg, buf, sizeof(buf), 0) < 0)
		return arg;
	return NULL;
}

static const char *const ext4_mkfs[] = { "mkfs.ext4", "-q", "-F", NULL };

/* The child: stack ext4, hold a direct read of the device under it, say
 * where everything is, and be killed by SIGALRM the way a case that hangs
 * is.  Its handlers must take the stack down: the ext4 mount keeps the
 * loop device, and so diofs, busy until someone unmounts it. */
static _Noreturn void doomed_child(int out)
{
	struct diofs_stack_opts o = {
		.fstype = "ext4", .mkfs = ext4_mkfs, .image_size = 16 << 20, .loop_dio = true,
	};
	static struct diofs_stack s;
	struct child_says say = { .loop_nr = -1 };
	struct diofs_held held[4];
	struct diofsctl *ctl;
	char err[512];
	pthread_t th;
	int fd;

	diofs_mount_forget_parent();
	diofs_mount_install_handlers(NULL);
	if (diofs_stack_start(&s, &o, err, sizeof(err)) < 0)
		_exit(3);
	snprintf(say.root, sizeof(say.root), "%s", s.mount.root);
	say.loop_nr = s.loop_nr;
	say.daemon = s.mount.pid;
	ctl = diofsctl_connect(s.mount.ctl, err, sizeof(err));
	fd = open(s.loop_dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (ctl && fd >= 0 &&
	    diofsctl_rule_add(ctl, "hold op=read path=%s", DIOFS_STACK_IMAGE) >= 0 &&
	    pthread_create(&th, NULL, read_held, &fd) == 0)
		say.held = diofsctl_held(ctl, 1, 10000, held, 4) >= 1;
	if (write(out, &say, sizeof(say)) != sizeof(say))
		_exit(4);
	raise(SIGALRM);
	_exit(5);
}

static void teardown_on_timeout(void)
{
	struct child_says say = { .loop_nr = -1 };
	const char *no = stk_unavailable();
	char tool[PATH_MAX];
	int p[2], status = 0;
	pid_t pid;

	if (no)
		SKIP("%s", no);
	if (!diofs_stack_fs_supported("ext4") ||
	    !diofs_stack_find_tool(ext4_mkfs[0], tool, sizeof(tool)))
		SKIP("stacks ext4: no ext4 in this kernel or no %s", ext4_mkfs[0]);
	REQUIRE_OK(pipe2(p, O_CLOEXEC));
	pid = fork();
	REQUIRE_OK(pid);
	if (pid == 0) {
		close(p[0]);
		doomed_child(p[1]);
	}
	close(p[1]);
	ssize_t n = read(p[0], &say, sizeof(say));
	close(p[0]);
	REQUIRE_OK(waitpid(pid, &status, 0));
	if (n != (ssize_t)sizeof(say))
		CHECK_FATALF("the child stacked nothing (exit status %d)",
			     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	CHECK_EQ(say.held, true);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGALRM)
		CHECK_FAILF("the child ended with status %#x, want killed by SIGALRM", status);
	check_no_leftovers(say.root, say.loop_nr, say.daemon);
	NOTE("a child with ext4 on loop%d over %s/backing/img and a read held, killed "
		   "by SIGALRM", say.loop_nr, say.root);
}

/* mkfs "succeeds" without making anything: the loop device is attached,
 * the mount fails, and the start must take it all down again. */
static void teardown_failed_start(void)
{
	static const char *const no_mkfs[] = { "true", NULL };
	struct diofs_stack_opts o = {
		.fstype = "ext4", .mkfs = no_mkfs, .image_size = 16 << 20,
	};
	struct diofs_stack s;
	const char *no = stk_unavailable();
	char err[512];

	if (no)
		SKIP("%s", no);
	REQUIRE_EQ(diofs_stack_start(&s, &o, err, sizeof(err)), -1);
	CHECK_EQ(s.stage, STACK_MOUNT);
	if (!strstr(err, "mount -t ext4"))
		CHECK_FAILF("the error does not name the failed mount: %s", err);
	CHECK_EQ(s.loop_nr >= 0, true);
	check_no_leftovers(s.root, s.loop_nr, s.daemon);
}

#define STK_ENTRIES(name) \
	CHECK_CASE(name##_loopdio, "O_DIRECT on " #name " over a loop device (direct I/O) " \
		   "on diofs: held, pins, fork, munmap, write, abort"), \
	CHECK_CASE(name##_loopbuf, "O_DIRECT on " #name " over a loop device (no direct " \
		   "I/O) on diofs: held, pins, fork, munmap, write, abort"),
static const struct check_case cases[] = {
	CHECK_CASE(teardown_on_timeout, "a process killed by SIGALRM with ext4 stacked and a "
		   "read held leaves no mount, loop device or daemon"),
	CHECK_CASE(teardown_failed_start, "a stack whose upper mount fails is taken down: no "
		   "mount, loop device, daemon or directory left"),
	STK_CASE_TARGETS(STK_ENTRIES)
	{ NULL },
};
#undef STK_ENTRIES

const struct check_suite check_suite_stacked = {
	.name = "stacked",
	.cases = cases,
};
