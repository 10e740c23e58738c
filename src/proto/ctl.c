#include <config.h>
#include "ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int is_blank(char ch)
{
	return ch && strchr(CTL_BLANKS, ch);
}

int ctl_split(char *line, char **argv, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (is_blank(*p))
			p++;
		if (!*p)
			return n;
		if (n >= max)
			return -1;
		argv[n++] = p;
		while (*p && !is_blank(*p))
			p++;
		if (*p)
			*p++ = '\0';
	}
}

bool ctl_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

int ctl_default_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (geteuid() == 0)
		n = snprintf(buf, len, "/run/diofs");
	else if (xdg && xdg[0] == '/') /* a relative one would move with the cwd */
		n = snprintf(buf, len, "%s/diofs", xdg);
	else
		n = snprintf(buf, len, "/tmp/diofs-%u/diofs", (unsigned int)geteuid());
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

int ctl_default_path(const char *mnt, char *buf, size_t len)
{
	char dir[PATH_MAX];
	char *real;
	uint64_t hash;
	int n, err;

	err = ctl_default_dir(dir, sizeof(dir));
	if (err)
		return err;
	real = realpath(mnt, NULL);
	if (!real)
		return -errno;
	hash = fnv1a64(real);
	free(real);

	n = snprintf(buf, len, "%s/%016" PRIx64 ".sock", dir, hash);
	/* The caller binds or connects to it: it must fit sun_path. */
	if (n < 0 || (size_t)n >= len ||
	    (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	return 0;
}
