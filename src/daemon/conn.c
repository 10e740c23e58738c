#include <config.h>
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "diofs.h"

#define FUSECTL_DIR "/sys/fs/fuse/connections"

/* mountinfo escapes ' ', '\t', '\n' and '\\' as octal. */
static void unescape_mountinfo(char *s)
{
	char *out = s;

	for (; *s; s++) {
		unsigned int c;

		if (s[0] == '\\' && sscanf(s + 1, "%3o", &c) == 1) {
			*out++ = (char)c;
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* The connection's number in fusectl is the superblock's dev_t in the
 * kernel's encoding (major << 20 | minor), read from our own mountinfo so
 * that no request goes through the mount being aborted. */
static int connection_id(unsigned long *id)
{
	char line[8192];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned int major, minor;
		char mnt[4096];

		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &major, &minor, mnt) != 3)
			continue;
		unescape_mountinfo(mnt);
		if (strcmp(mnt, diofs_cfg.mountpoint) == 0) {
			*id = ((unsigned long)major << 20) | minor;
			err = 0; /* the last match is the one on top */
		}
	}
	fclose(f);
	return err;
}

bool conn_is_device(dev_t dev)
{
	unsigned long id;

	return connection_id(&id) == 0 && major(dev) == id >> 20 &&
	       minor(dev) == (id & 0xfffff);
}

static int fusectl_mounted(void)
{
	struct stat dir, parent;

	if (stat(FUSECTL_DIR, &dir) || stat(FUSECTL_DIR "/..", &parent))
		return 0;
	return dir.st_dev != parent.st_dev;
}

int conn_abort(void)
{
	char path[128];
	unsigned long id;
	int fd, err;

	err = connection_id(&id);
	if (err)
		return err;
	if (!fusectl_mounted() &&
	    mount("fusectl", FUSECTL_DIR, "fusectl", 0, NULL) && errno != EBUSY)
		return -errno;
	snprintf(path, sizeof(path), FUSECTL_DIR "/%lu/abort", id);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = write(fd, "1", 1) == 1 ? 0 : -errno;
	close(fd);
	return err;
}

_Noreturn void conn_crash(void)
{
	static const char msg[] = "diofs: crash rule: exiting abruptly\n";

	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing to do: we are going down either way */
	}
	kill(getpid(), SIGKILL);
	_exit(137);
}
