/* A filesystem stacked on diofs (see stack.h).  The teardown
 * (stack_teardown and what it calls) uses async-signal-safe calls only: it
 * runs from the harness's signal handlers too. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "harness/stack.h"
#include "harness/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOOL_TIMEOUT_MS 120000   /* mkfs of a few hundred MiB under TCG */
#define CTL_TIMEOUT_MS 2000
#define LOOP_TRIES 8             /* other users may take the free device first */

/* ---- teardown (async-signal-safe) --------------------------------------- */

/* Tell diofs to drop its rules and fail whatever it holds; raw syscalls,
 * the daemon's answers read and dropped.  A dead daemon is no error. */
static void release_holds(const char *sock)
{
	static const char cmds[] = "rule clear\nrelease all errno=EIO\n";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return;
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    write(fd, cmds, sizeof(cmds) - 1) == (ssize_t)sizeof(cmds) - 1) {
		char buf[256];
		int lines = 0;

		shutdown(fd, SHUT_WR);
		/* both answers ("ok 0", then "ok 1" and the count) */
		while (lines < 3) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			ssize_t n;

			if (poll(&p, 1, CTL_TIMEOUT_MS) <= 0)
				break;
			n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				break;
			for (ssize_t i = 0; i < n; i++)
				lines += buf[i] == '\n';
		}
	}
	close(fd);
}

static void stack_teardown(void *arg)
{
	struct diofs_stack *s = arg;

	release_holds(s->mount.ctl);
	if (s->upper_mounted) {
		/* busy (a file still open): detach; it goes when closed */
		if (umount2(s->upper, 0) < 0 && errno != EINVAL)
			umount2(s->upper, MNT_DETACH);
		s->upper_mounted = false;
		test_untrack_mount(s->upper);
	}
	if (s->loop_fd >= 0) {
		/* in use still (a detached upper): autoclear frees it at the
		 * last close */
		ioctl(s->loop_fd, LOOP_CLR_FD, 0);
		close(s->loop_fd);
		s->loop_fd = -1;
	}
}

void diofs_stack_stop(struct diofs_stack *s)
{
	stack_teardown(s);
	diofs_mount_stop(&s->mount);
}

/* ---- what the machine offers ------------------------------------------ */

const char *diofs_stack_unavailable(void)
{
	static char why[160];
	const char *fuse = diofs_mount_unavailable();

	if (geteuid() != 0)
		return "not root (loop devices and mounts need root)";
	if (fuse)
		return fuse;
	if (access("/dev/loop-control", R_OK | W_OK) < 0) {
		snprintf(why, sizeof(why), "/dev/loop-control: %s", strerror(errno));
		return why;
	}
	return NULL;
}

bool diofs_stack_find_tool(const char *name, char *path, size_t len)
{
	const char *env = getenv("PATH");
	char dirs[PATH_MAX * 2];

	snprintf(dirs, sizeof(dirs), "%s:/sbin:/usr/sbin", env ? env : "/bin:/usr/bin");
	for (const char *p = dirs; *p;) {
		size_t n = strcspn(p, ":");
		if (n && (size_t)snprintf(path, len, "%.*s/%s", (int)n, p, name) < len &&
		    access(path, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	path[0] = '\0';
	return false;
}

static bool in_proc_filesystems(const char *fstype)
{
	FILE *f = fopen("/proc/filesystems", "re");
	char line[128];
	bool found = false;

	if (!f)
		return false;
	/* "nodev\tproc\n", "\text4\n" */
	while (!found && fgets(line, sizeof(line), f)) {
		char *name = strrchr(line, '\t');
		name = name ? name + 1 : line;
		name[strcspn(name, "\n")] = '\0';
		found = !strcmp(name, fstype);
	}
	fclose(f);
	return found;
}

/* Run argv quietly, its output to log; its wait status, or -1 (could not
 * run it, or it ran longer than timeout_ms and was killed). */
static int run_tool(char *const *argv, const char *log, int timeout_ms)
{
	int status = 0;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int out = log ? open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
		int null = open("/dev/null", O_RDWR);

		dup2(null, STDIN_FILENO);
		dup2(out >= 0 ? out : null, STDOUT_FILENO);
		dup2(out >= 0 ? out : null, STDERR_FILENO);
		execv(argv[0], argv);
		dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (!diofs_wait_exit(pid, timeout_ms, &status)) {
		kill(pid, SIGKILL);
		diofs_wait_exit(pid, TOOL_TIMEOUT_MS, NULL);
		return -1;
	}
	return status;
}

bool diofs_stack_fs_supported(const char *fstype)
{
	char modprobe[PATH_MAX];

	if (in_proc_filesystems(fstype))
		return true;
	if (!diofs_stack_find_tool("modprobe", modprobe, sizeof(modprobe)))
		return false;
	char *argv[] = { modprobe, "-q", (char *)fstype, NULL };
	run_tool(argv, NULL, TOOL_TIMEOUT_MS);
	return in_proc_filesystems(fstype);
}

/* ---- building the stack ---------------------------------------------- */

/* The last line of log (the tool's complaint), for an error message. */
static void log_last_line(const char *log, char *out, size_t len)
{
	char buf[1024];
	int fd = open(log, O_RDONLY | O_CLOEXEC);
	ssize_t n = 0;

	if (fd >= 0) {
		off_t size = lseek(fd, 0, SEEK_END);
		n = pread(fd, buf, sizeof(buf) - 1, size > (off_t)sizeof(buf) - 1 ?
			  size - (off_t)sizeof(buf) + 1 : 0);
		close(fd);
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n > 0 ? n : 0] = '\0';
	const char *last = strrchr(buf, '\n');
	const char *line = last ? last + 1 : n > 0 ? buf : "(no output)";
	size_t l = strlen(line) < len ? strlen(line) : len - 1;
	memcpy(out, line, l);
	out[l] = '\0';
}

static int make_image(struct diofs_stack *s, const struct diofs_stack_opts *o,
		      char *err, size_t errlen)
{
	int fd = open(s->image_backing, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, (off_t)o->image_size) < 0) {
		snprintf(err, errlen, "image %s: %s", s->image_backing, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* mkfs on the image in the backing directory: the same bytes as through
 * the loop device, without a FUSE round trip per block (TCG guests). */
static int make_fs(struct diofs_stack *s, const struct diofs_stack_opts *o,
		   char *err, size_t errlen)
{
	char tool[PATH_MAX], log[PATH_MAX + 16], last[512], src[PATH_MAX];
	char *argv[32];
	bool named = false;
	int n = 0, status;

	if (!diofs_stack_find_tool(o->mkfs[0], tool, sizeof(tool))) {
		snprintf(err, errlen, "no %s", o->mkfs[0]);
		return -1;
	}
	snprintf(src, sizeof(src), "%s/src", s->mount.root);
	if (o->populate && (mkdir(src, 0755) < 0 || o->populate(src, o->populate_arg) < 0)) {
		snprintf(err, errlen, "filling %s: %s", src, strerror(errno));
		return -1;
	}
	argv[n++] = tool;
	for (int i = 1; o->mkfs[i] && n < 30; i++) {
		if (!strcmp(o->mkfs[i], "@IMG"))
			named = true;
		argv[n++] = !strcmp(o->mkfs[i], "@IMG") ? s->image_backing :
			    !strcmp(o->mkfs[i], "@SRC") ? src : (char *)o->mkfs[i];
	}
	if (!named)
		argv[n++] = s->image_backing;
	argv[n] = NULL;
	snprintf(log, sizeof(log), "%s/mkfs.log", s->mount.root);
	status = run_tool(argv, log, TOOL_TIMEOUT_MS);
	if (status == 0)
		return 0;
	log_last_line(log, last, sizeof(last));
	if (status < 0)
		snprintf(err, errlen, "%s did not finish within %d s: %s", o->mkfs[0],
			 TOOL_TIMEOUT_MS / 1000, last);
	else
		snprintf(err, errlen, "%s failed (status %d): %s", o->mkfs[0],
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1, last);
	return -1;
}

/* What the loop driver does: /sys/block/loopN/loop/dio ("1": direct I/O). */
static bool loop_reports_dio(int nr)
{
	char path[64], c = '0';
	int fd;

	snprintf(path, sizeof(path), "/sys/block/loop%d/loop/dio", nr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '0';
		close(fd);
	}
	return c == '1';
}

static int attach_loop(struct diofs_stack *s, const struct diofs_stack_opts *o,
		       char *err, size_t errlen)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	int img = open(s->image, O_RDWR | O_CLOEXEC);
	int ret = -1;

	if (ctl < 0 || img < 0) {
		snprintf(err, errlen, "%s: %s", ctl < 0 ? "/dev/loop-control" : s->image,
			 strerror(errno));
		goto out;
	}
	for (int tries = 0; tries < LOOP_TRIES && ret < 0; tries++) {
		struct loop_config cfg = {
			.fd = (unsigned int)img,
			.info.lo_flags = LO_FLAGS_AUTOCLEAR | (o->loop_dio ? LO_FLAGS_DIRECT_IO : 0),
		};
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (nr < 0) {
			snprintf(err, errlen, "LOOP_CTL_GET_FREE: %s", strerror(errno));
			break;
		}
		snprintf(s->loop_dev, sizeof(s->loop_dev), "/dev/loop%d", nr);
		s->loop_fd = open(s->loop_dev, O_RDWR | O_CLOEXEC);
		if (s->loop_fd < 0) {
			snprintf(err, errlen, "%s: %s", s->loop_dev, strerror(errno));
			break;
		}
		/* its name for losetup -l: the tail of the path, if long */
		size_t il = strlen(s->image);
		snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%.63s",
			 il > 63 ? s->image + il - 63 : s->image);
		if (ioctl(s->loop_fd, LOOP_CONFIGURE, &cfg) == 0) {
			s->loop_nr = nr;
			ret = 0;
			break;
		}
		snprintf(err, errlen, "LOOP_CONFIGURE %s%s: %s", s->loop_dev,
			 o->loop_dio ? " with direct I/O" : "", strerror(errno));
		close(s->loop_fd);
		s->loop_fd = -1;
		if (errno != EBUSY)     /* EBUSY: someone took it first */
			break;
	}
	if (ret == 0)
		s->loop_dio = loop_reports_dio(s->loop_nr);
out:
	if (ctl >= 0)
		close(ctl);
	if (img >= 0)
		close(img);     /* the loop device holds its own reference */
	return ret;
}

static int mount_upper(struct diofs_stack *s, const struct diofs_stack_opts *o,
		       char *err, size_t errlen)
{
	snprintf(s->upper, sizeof(s->upper), "%s/upper", s->mount.root);
	if (mkdir(s->upper, 0755) < 0) {
		snprintf(err, errlen, "mkdir %s: %s", s->upper, strerror(errno));
		return -1;
	}
	if (mount(s->loop_dev, s->upper, o->fstype,
		  o->mount_flags | (o->populate ? MS_RDONLY : 0), o->mount_data) < 0) {
		snprintf(err, errlen, "mount -t %s %s%s%s: %s", o->fstype, s->loop_dev,
			 o->mount_data ? " -o " : "", o->mount_data ? o->mount_data : "",
			 strerror(errno));
		return -1;
	}
	s->upper_mounted = true;
	/* should a test case hang or die, the runner detaches it (and the
	 * loop device, autoclear, goes with it) */
	test_track_mount(s->upper, 0, NULL);
	return 0;
}

int diofs_stack_locate(const struct diofs_stack *s, const void *want, size_t len,
		       uint64_t *off, char *err, size_t errlen)
{
	enum { CHUNK = 1 << 20 };
	const uint8_t *w = want;
	uint8_t *chunk = len && len <= CHUNK ? malloc(CHUNK + len) : NULL;
	int fd = open(s->image_backing, O_RDONLY | O_CLOEXEC);
	uint64_t at = 0;
	int ret = -1;

	if (!chunk || fd < 0) {
		snprintf(err, errlen, "reading %s: %s", s->image_backing,
			 chunk ? strerror(errno) : "bad length or no memory");
		goto out;
	}
	for (;;) {
		ssize_t n = pread(fd, chunk, CHUNK + len, (off_t)at);

		if (n < (ssize_t)len)
			break;
		for (size_t o = 0; o + len <= (size_t)n && o < CHUNK; o += len)
			if (chunk[o] == w[0] && !memcmp(chunk + o, w, len)) {
				*off = at + o;
				ret = 0;
				goto out;
			}
		at += CHUNK;
	}
	snprintf(err, errlen, "the data is nowhere in the image (compressed, encrypted or inline?)");
out:
	if (fd >= 0)
		close(fd);
	free(chunk);
	return ret;
}

int diofs_stack_start(struct diofs_stack *s, const struct diofs_stack_opts *o,
		      char *err, size_t errlen)
{
	const char *why = diofs_stack_unavailable();

	memset(s, 0, sizeof(*s));
	s->loop_fd = -1;
	s->loop_nr = -1;
	s->stage = STACK_DIOFS;
	if (why) {
		snprintf(err, errlen, "cannot stack here: %s", why);
		return -1;
	}
	if (diofs_mount_start(&s->mount, o->diofs_opts, err, errlen) < 0)
		return -1;
	snprintf(s->root, sizeof(s->root), "%s", s->mount.root);
	s->daemon = s->mount.pid;
	s->mount.on_stop = stack_teardown;
	s->mount.on_stop_arg = s;
	snprintf(s->image_backing, sizeof(s->image_backing), "%s%s", s->mount.backing,
		 DIOFS_STACK_IMAGE);
	snprintf(s->image, sizeof(s->image), "%s%s", s->mount.mnt, DIOFS_STACK_IMAGE);
	s->stage = STACK_IMAGE;
	if (make_image(s, o, err, errlen) < 0)
		goto fail;
	s->stage = STACK_MKFS;
	if (o->fstype && o->mkfs && make_fs(s, o, err, errlen) < 0)
		goto fail;
	s->stage = STACK_LOOP;
	if (attach_loop(s, o, err, errlen) < 0)
		goto fail;
	s->stage = STACK_MOUNT;
	if (o->fstype && mount_upper(s, o, err, errlen) < 0)
		goto fail;
	s->stage = STACK_OK;
	return 0;
fail:
	diofs_stack_stop(s);
	return -1;
}
