#include <config.h>
#include "ctldir.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int ctl_check_entry(const char *path, const struct stat *st, uid_t uid, bool link_ok,
		    char *why, size_t whylen)
{
	if (st->st_uid != 0 && st->st_uid != uid) {
		snprintf(why, whylen, "%s is owned by uid %u, not by root or uid %u", path,
			 (unsigned int)st->st_uid, (unsigned int)uid);
		return -EPERM;
	}
	if (S_ISLNK(st->st_mode) && link_ok)
		return 0; /* its owner's; where it leads is checked resolved */
	if (!S_ISDIR(st->st_mode)) {
		snprintf(why, whylen, "%s is not a directory", path);
		return -EPERM;
	}
	if ((st->st_mode & 022) && !(st->st_mode & S_ISVTX)) {
		snprintf(why, whylen, "%s is writable by others (mode %04o) and not sticky",
			 path, (unsigned int)(st->st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* One path on the way; last: the directory the socket goes in. */
static int check_one(const char *path, uid_t uid, bool last, char *why, size_t whylen)
{
	struct stat st;
	int ret;

	if (lstat(path, &st) < 0) {
		int err = errno;

		snprintf(why, whylen, "%s: %s", path, strerror(err));
		return -err;
	}
	ret = ctl_check_entry(path, &st, uid, !last, why, whylen);
	if (ret || S_ISLNK(st.st_mode))
		return ret;
	if (last && (st.st_uid != uid || (st.st_mode & 077))) {
		snprintf(why, whylen, "%s must be owned by uid %u with mode 0700 (it is uid %u, "
			 "mode %04o)", path, (unsigned int)uid, (unsigned int)st.st_uid,
			 (unsigned int)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* Each of "/", "/a", "/a/b", ... of path; last rules for path itself. */
static int check_chain(const char *path, uid_t uid, bool last_rules, char *why,
		       size_t whylen)
{
	char prefix[PATH_MAX];
	size_t len = strlen(path);
	int ret;

	if (len >= sizeof(prefix)) {
		snprintf(why, whylen, "%s: %s", path, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	ret = check_one("/", uid, len == 1 && last_rules, why, whylen);
	for (size_t i = 1; !ret && i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		if (path[i - 1] == '/')
			continue; /* "//" or a trailing slash */
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		ret = check_one(prefix, uid, last_rules && i == len, why, whylen);
	}
	return ret;
}

int ctl_check_dir(const char *dir, uid_t uid, char *why, size_t whylen)
{
	char *real;
	int ret;

	if (dir[0] != '/') {
		snprintf(why, whylen, "%s is not an absolute path", dir);
		return -EINVAL;
	}
	/* As written (symbolic links on the way are someone's to change),
	 * then as resolved, the directory itself judged there. */
	ret = check_chain(dir, uid, false, why, whylen);
	if (ret)
		return ret;
	real = realpath(dir, NULL);
	if (!real) {
		ret = -errno;
		snprintf(why, whylen, "%s: %s", dir, strerror(-ret));
		return ret;
	}
	ret = check_chain(real, uid, true, why, whylen);
	free(real);
	return ret;
}
