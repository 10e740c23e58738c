/* The command line: -h, -V, each bad input (one clear line on stderr, a
 * non-zero exit, nothing mounted), and mount(8) with -t fuse.diofs. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "fstest.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION ""
#endif

/* Bad input fails in milliseconds; a diofs still running after this has
 * mounted (it runs with -f) and is stopped. */
#define RUN_TIMEOUT_MS 5000

/* A fresh ROOT with ROOT/backing and ROOT/mnt. */
struct dirs {
	char root[PATH_MAX], backing[PATH_MAX + 16], mnt[PATH_MAX + 16];
};

static void make_dirs(struct dirs *d)
{
	snprintf(d->root, sizeof(d->root), "%s", fs_tempdir());
	snprintf(d->backing, sizeof(d->backing), "%s/backing", d->root);
	snprintf(d->mnt, sizeof(d->mnt), "%s/mnt", d->root);
	REQUIRE_OK(mkdir(d->backing, 0755));
	REQUIRE_OK(mkdir(d->mnt, 0755));
}

/* Directories for a run of diofs that must not mount (detached at the
 * end of the case should it mount after all); the run's output buffer. */
static struct diofs_run *dirs_for_bad_input(struct dirs *d)
{
	make_dirs(d);
	fs_track_mount(d->mnt, 0);
	return fs_alloc(sizeof(struct diofs_run));
}

/* Run diofs with args (NULL-terminated, after the program name). */
static int run_diofs(struct diofs_run *r, const char *a0, ...)
{
	char *argv[16];
	va_list ap;
	int n = 0;

	argv[n++] = (char *)diofs_binary();
	va_start(ap, a0);
	for (const char *a = a0; a && n < 15; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	int status = diofs_run(argv, NULL, RUN_TIMEOUT_MS, r);
	REQUIRE(status != -1, "cannot run %s", argv[0]);
	return status;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (const char *p = s; *p; p++)
		n += *p == '\n';
	if (*s && s[strlen(s) - 1] != '\n')
		n++;
	return n;
}

/* The verdict on a bad input: a non-zero exit, one line on stderr that
 * names mention, nothing mounted at mnt. */
static void check_rejected(const char *what, int status, const struct diofs_run *r,
			   const char *mention, const char *mnt)
{
	CHECK(!r->timed_out, "%s: diofs was still running after %d s (it mounted?)", what,
	      RUN_TIMEOUT_MS / 1000);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0,
	      "%s: diofs ended with status %#x, want a non-zero exit", what, status);
	CHECK(count_lines(r->err) == 1, "%s: %d lines on stderr, want 1: \"%s\"", what,
	      count_lines(r->err), r->err);
	CHECK(strstr(r->err, mention) != NULL, "%s: stderr does not name \"%s\": \"%s\"", what,
	      mention, r->err);
	if (mnt && fs_mounted_at(mnt, NULL, NULL) != 0) {
		CHECK(false, "%s: something is mounted at %s", what, mnt);
		/* not left for the next input to trip over */
		while (umount2(mnt, MNT_DETACH) == 0)
			;
	}
}

/* ---- help and version ---- */

TEST(help_lists_options)
{
	struct diofs_run *r = fs_alloc(sizeof(*r));
	const char *flags[] = { "-h", "--help" };

	for (int i = 0; i < 2; i++) {
		int status = run_diofs(r, flags[i], NULL);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "diofs %s: status %#x, want exit 0", flags[i], status);
		CHECK(strstr(r->out, "usage:") != NULL, "diofs %s: no usage on stdout: \"%.200s\"",
		      flags[i], r->out);
		CHECK(strstr(r->out, "BACKING MOUNTPOINT") != NULL,
		      "diofs %s: the usage does not name BACKING MOUNTPOINT", flags[i]);
		const char *opts[] = { "dio=all|odirect|none", "async_dio=", "trace=", "rules=",
				       "ctl=", "threads=", "trace_overwrite", "init_off=",
				       "direct_io_allow_mmap", "parallel_direct_writes" };
		for (size_t j = 0; j < sizeof(opts) / sizeof(*opts); j++)
			CHECK(strstr(r->out, opts[j]) != NULL, "diofs %s: the usage lacks %s",
			      flags[i], opts[j]);
		/* libfuse's loop options: diofs does not run that loop */
		const char *not_ours[] = { "max_threads", "max_idle_threads", "clone_fd" };
		for (size_t j = 0; j < sizeof(not_ours) / sizeof(*not_ours); j++)
			CHECK(strstr(r->out, not_ours[j]) == NULL,
			      "diofs %s: the usage lists %s, which diofs does not honour",
			      flags[i], not_ours[j]);
		CHECK(r->err[0] == '\0', "diofs %s wrote to stderr: \"%.200s\"", flags[i], r->err);
	}
}

TEST(version_comes_first)
{
	struct diofs_run *r = fs_alloc(sizeof(*r));
	const char *flags[] = { "-V", "--version" };
	char want[64];

	snprintf(want, sizeof(want), "diofs %s", PACKAGE_VERSION);
	for (int i = 0; i < 2; i++) {
		int status = run_diofs(r, flags[i], NULL);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "diofs %s: status %#x, want exit 0", flags[i], status);
		/* diofs's own version first: `diofs -V | head -1` */
		CHECK(strncmp(r->out, want, strlen(want)) == 0,
		      "diofs %s: the first line of stdout is \"%.*s\", want \"%s ...\"", flags[i],
		      (int)strcspn(r->out, "\n"), r->out, want);
		CHECK(strstr(r->out, want) != NULL, "diofs %s: stdout lacks \"%s\": \"%.200s\"",
		      flags[i], want, r->out);
	}
}

/* The other programs: -V and --version print "NAME VERSION" and exit 0; an
 * unknown option gets one line naming it and "try --help" (exit 2), not the
 * whole help. */
TEST(other_programs_version_bad_option)
{
	static const char *const names[] = { "src/ctl/diofsctl", "src/check/diofs-check",
					     "src/demo/diofs-demo" };
	struct diofs_run *r = fs_alloc(sizeof(*r));

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *name = strrchr(names[i], '/') + 1;
		char path[PATH_MAX], want[64];
		const char *flags[] = { "-V", "--version", "--no-such-option" };

		snprintf(path, sizeof(path), "%s/%s", DIOFS_BUILDDIR, names[i]);
		snprintf(want, sizeof(want), "%s %s\n", name, PACKAGE_VERSION);
		for (int f = 0; f < 3; f++) {
			char *argv[] = { path, (char *)flags[f], NULL };
			int status = diofs_run(argv, NULL, RUN_TIMEOUT_MS, r);

			REQUIRE(status != -1, "cannot run %s", path);
			if (f < 2) {
				CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
				      strcmp(r->out, want) == 0, "%s %s: status %#x, stdout \"%.200s\"; "
				      "want exit 0 and \"%s\"", name, flags[f], status, r->out, want);
				continue;
			}
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2 && !*r->out &&
			      strstr(r->err, "no-such-option") && strstr(r->err, "--help") &&
			      !strstr(r->err, "sage:") && count_lines(r->err) <= 2,
			      "%s --no-such-option: status %#x, stderr \"%.300s\"; want exit 2, the "
			      "option named, \"--help\" suggested, no usage text", name, status, r->err);
		}
	}
}

/* ---- bad input ---- */

/* diofs given as its BACKING (backing) or its MOUNTPOINT a path under ROOT
 * that is missing or (file) a regular file: refused, the path named,
 * nothing mounted.  The run, for what else its stderr must say. */
static const struct diofs_run *check_bad_dir(const char *what, bool backing, bool file)
{
	struct dirs d;
	struct diofs_run *r = dirs_for_bad_input(&d);
	char path[PATH_MAX + 16];
	int status;

	snprintf(path, sizeof(path), "%s/%s", d.root,
		 file ? "a-file" : backing ? "no-such-dir" : "no-such-mnt");
	if (file)
		REQUIRE_OK(fs_put(path, "x", 1, 0644));
	if (backing) {
		status = run_diofs(r, "-f", path, d.mnt, NULL);
		check_rejected(what, status, r, path, d.mnt);
	} else {
		fs_track_mount(path, 0);
		status = run_diofs(r, "-f", d.backing, path, NULL);
		check_rejected(what, status, r, path, path);
	}
	return r;
}

TEST(missing_backing_refused)
{
	check_bad_dir("BACKING missing", true, false);
}

TEST(backing_not_directory_refused)
{
	const struct diofs_run *r = check_bad_dir("BACKING not a directory", true, true);

	CHECK(strstr(r->err, "not a directory") != NULL, "stderr does not say why: \"%s\"", r->err);
}

TEST(unknown_option_refused)
{
	struct dirs d;
	struct diofs_run *r = dirs_for_bad_input(&d);

	int status = run_diofs(r, "-f", "-o", "nosuchopt", d.backing, d.mnt, NULL);
	check_rejected("-o nosuchopt", status, r, "nosuchopt", d.mnt);
	status = run_diofs(r, "-f", "-o", "dio=all,nosuchopt=3", d.backing, d.mnt, NULL);
	check_rejected("-o dio=all,nosuchopt=3", status, r, "nosuchopt", d.mnt);
	status = run_diofs(r, "-f", "--no-such-flag", d.backing, d.mnt, NULL);
	check_rejected("--no-such-flag", status, r, "no-such-flag", d.mnt);
}

TEST(bad_option_values_refused)
{
	struct dirs d;
	struct diofs_run *r = dirs_for_bad_input(&d);
	static const struct {
		const char *opt, *mention;
	} bad[] = {
		{ "dio=bogus", "bogus" },
		{ "dio=", "dio=" },
		{ "dio=ALL", "ALL" },
		{ "async_dio=7", "async_dio" },
		{ "async_dio=-1", "async_dio" },
		{ "async_dio=yes", "async_dio" },
		{ "threads=100000", "threads" },
		{ "threads=0", "threads" },
		{ "init_off=", "init_off" },
		{ "init_off=bogus", "bogus" },
		{ "init_off=async_dio:posix_locks", "posix_locks" },
		/* accepted by libfuse's command line for its own loop */
		{ "max_threads=64", "max_threads" },
		{ "max_idle_threads=4", "max_idle_threads" },
		{ "clone_fd", "clone_fd" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char what[64];
		snprintf(what, sizeof(what), "-o %s", bad[i].opt);
		int status = run_diofs(r, "-f", "-o", bad[i].opt, d.backing, d.mnt, NULL);
		check_rejected(what, status, r, bad[i].mention, d.mnt);
	}
}

TEST(missing_rules_file_refused)
{
	struct dirs d;
	struct diofs_run *r = dirs_for_bad_input(&d);
	char opt[PATH_MAX + 32], missing[PATH_MAX + 16];

	snprintf(missing, sizeof(missing), "%s/no-rules", d.root);
	snprintf(opt, sizeof(opt), "rules=%s", missing);
	int status = run_diofs(r, "-f", "-o", opt, d.backing, d.mnt, NULL);
	check_rejected("-o rules=MISSING", status, r, "no-rules", d.mnt);
}

TEST(missing_mountpoint_refused)
{
	check_bad_dir("MOUNTPOINT missing", false, false);
}

TEST(mountpoint_not_directory_refused)
{
	check_bad_dir("MOUNTPOINT not a directory", false, true);
}

TEST(missing_arguments_refused)
{
	struct dirs d;
	struct diofs_run *r = dirs_for_bad_input(&d);

	int status = run_diofs(r, NULL);
	check_rejected("no arguments", status, r, "BACKING", NULL);
	status = run_diofs(r, "-f", d.backing, NULL);
	check_rejected("BACKING alone", status, r, "MOUNTPOINT", NULL);
	status = run_diofs(r, "-f", d.backing, d.mnt, d.root, NULL);
	check_rejected("three arguments", status, r, "argument", d.mnt);
}

/* A mount point that is already a mount: refused, the mount there left
 * as it was (still one, still working). */
TEST(mountpoint_already_mounted_refused, .needs = TEST_NEEDS_MOUNT)
{
	struct diofs_run *r = fs_alloc(sizeof(*r));
	struct diofs_mount *m = fs_mount(NULL);
	struct dirs d;
	struct stat st;

	make_dirs(&d);
	REQUIRE_OK(fs_put(diofs_backing_path(m, "here"), "x", 1, 0644));
	int status = run_diofs(r, "-f", d.backing, m->mnt, NULL);
	CHECK(!r->timed_out, "diofs was still running after %d s", RUN_TIMEOUT_MS / 1000);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0,
	      "diofs on a mount point: status %#x, want a non-zero exit", status);
	CHECK(count_lines(r->err) == 1, "%d lines on stderr, want 1: \"%s\"", count_lines(r->err),
	      r->err);
	CHECK(strstr(r->err, m->mnt) && strstr(r->err, "mount"),
	      "stderr does not say the mount point is a mount: \"%s\"", r->err);
	CHECK_EQ(fs_mounted_at(m->mnt, NULL, NULL), 1);
	CHECK_OK(stat(diofs_mnt_path(m, "here"), &st));
	CHECK(diofs_mount_alive(m), "the first diofs died");
}

/* ---- mount(8) ---- */

/* What the namespace child found wrong, one line each, into fd. */
static void say_to(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say_to(int fd, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	for (char *p = line; *p; p++)
		if (*p == '\n')
			*p = ' ';
	strcat(line, "\n");
	if (write(fd, line, strlen(line)) < 0)
		_exit(3);
}

static pid_t peer_pid(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid = -1;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		if (s >= 0)
			close(s);
		return -1;
	}
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		pid = cred.pid;
	if (s >= 0)
		close(s);
	return pid;
}

/* Wait up to ms for pid (not our child) to exit; true if it did. */
static bool wait_gone(pid_t pid, int ms)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	bool gone;

	if (fd < 0)
		return errno == ESRCH;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	gone = poll(&p, 1, ms) == 1;
	close(fd);
	return gone;
}

/* In a private mount namespace (so the mount dies with this child
 * whatever happens): put the build's diofs where mount(8)'s helper looks
 * (mount drops PATH; /bin/sh then searches its default PATH), run
 * mount -t fuse.diofs BACKING MNT -o dio=all, use the mount, unmount. */
static int mount8_child(const struct dirs *d, int report)
{
	char opt[PATH_MAX + 64], ctl[PATH_MAX + 16], target[PATH_MAX], file[PATH_MAX + 32];
	struct diofs_run *r = malloc(sizeof(*r));
	const char *bin = diofs_binary();
	char type[64], source[PATH_MAX];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!r || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		say_to(report, "a private mount namespace: %s", strerror(errno));
		return 1;
	}
	if (strchr(bin, '/')) {
		char link[PATH_MAX + 16];

		if (!realpath(bin, target) ||
		    mount("diofs-test", "/usr/local/sbin", "tmpfs", 0, "size=64k,mode=0755") < 0) {
			say_to(report, "putting %s on the default PATH: %s", bin, strerror(errno));
			return 1;
		}
		snprintf(link, sizeof(link), "/usr/local/sbin/diofs");
		if (symlink(target, link) < 0) {
			say_to(report, "symlink %s: %s", link, strerror(errno));
			return 1;
		}
	}
	snprintf(ctl, sizeof(ctl), "%s/ctl.sock", d->root);
	/* Without shared maps, so that ENODEV from mmap shows that both
	 * options reached diofs through mount(8). */
	snprintf(opt, sizeof(opt), "dio=all,init_off=direct_io_allow_mmap,ctl=%s", ctl);
	char *argv[] = { "mount", "-t", "fuse.diofs", (char *)d->backing, (char *)d->mnt, "-o",
			 opt, NULL };
	int status = diofs_run(argv, NULL, RUN_TIMEOUT_MS, r);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		say_to(report, "mount -t fuse.diofs %s %s -o %s: status %#x, stderr \"%s\"",
		       d->backing, d->mnt, opt, status, r->err);
		return 1;
	}
	int n = fs_mounted_at(d->mnt, type, source);
	if (n != 1 || strcmp(type, "fuse.diofs") || strcmp(source, d->backing))
		say_to(report, "after mount: %d mounts at %s, the last %s from %s; want one fuse.diofs from %s",
		       n, d->mnt, type, source, d->backing);
	/* it works, and -o dio=all,init_off= reached diofs (no shared maps) */
	snprintf(file, sizeof(file), "%s/file", d->mnt);
	char buf[16] = { 0 };
	int fd = open(file, O_RDONLY);
	if (fd < 0 || pread(fd, buf, sizeof(buf), 0) != 5 || memcmp(buf, "hello", 5))
		say_to(report, "reading %s through the mount: %s", file,
		       fd < 0 ? strerror(errno) : "wrong data");
	if (fd >= 0) {
		void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED || errno != ENODEV)
			say_to(report, "mmap MAP_SHARED under -o dio=all,init_off=direct_io_allow_mmap:"
			       " %s, want ENODEV",
			       p == MAP_FAILED ? strerror(errno) : "a mapping");
		close(fd);
	}
	pid_t daemon = peer_pid(ctl);
	if (daemon <= 0)
		say_to(report, "no daemon answers on %s", ctl);
	if (umount2(d->mnt, 0) < 0)
		say_to(report, "umount %s: %s", d->mnt, strerror(errno));
	if (fs_mounted_at(d->mnt, NULL, NULL) != 0)
		say_to(report, "%s is still mounted after umount", d->mnt);
	if (daemon > 0 && !wait_gone(daemon, RUN_TIMEOUT_MS)) {
		say_to(report, "the daemon (pid %d) did not exit within %d s of the unmount",
		       (int)daemon, RUN_TIMEOUT_MS / 1000);
		kill(daemon, SIGKILL);
	}
	free(r);
	return 0;
}

TEST(mount8_mounts_fuse_diofs, .needs = TEST_NEEDS_ROOT)
{
	struct dirs d;
	int p[2], status;
	char buf[4096];
	size_t len = 0;

	if (access("/sbin/mount.fuse3", X_OK) && access("/usr/sbin/mount.fuse3", X_OK)) {
		REQUIRE(false, "no mount.fuse3 (install the fuse3 package)");
	}
	make_dirs(&d);
	char file[PATH_MAX + 32];
	snprintf(file, sizeof(file), "%s/file", d.backing);
	REQUIRE_OK(fs_put(file, "hello", 5, 0644));
	fs_track_mount(d.mnt, 0); /* in case the namespace leaked it */
	REQUIRE_OK(pipe2(p, O_CLOEXEC));
	fflush(NULL);
	pid_t pid = REQUIRE_OK(fork());
	if (pid == 0) {
		close(p[0]);
		_exit(mount8_child(&d, p[1]));
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	CHECK(len == 0, "mount -t fuse.diofs: %s", buf);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the namespace child ended %#x",
	      status);
	CHECK_EQ(fs_mounted_at(d.mnt, NULL, NULL), 0);
}

TEST_MAIN("test_cli")
