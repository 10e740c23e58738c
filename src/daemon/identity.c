#include <config.h>

#include "identity.h"

#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The daemon's own identity, read once: restore puts it back. */
static struct {
	pthread_once_t once;
	bool root;
	gid_t gid;
	gid_t *groups;
	int ngroups;
	struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];
} self = { .once = PTHREAD_ONCE_INIT };

#define NSMALL 64

/* What this thread is now: switched to a caller, capabilities dropped;
 * the caller (its groups if at most NSMALL, else cur_ngroups -1). */
static __thread bool switched, caps_dropped;
static __thread uid_t cur_uid;
static __thread gid_t cur_gid;
static __thread int cur_ngroups;
static __thread gid_t cur_groups[NSMALL];

/* capget/capset with pid 0 read and change this thread only (glibc has
 * no wrapper; libcap's would be the same two syscalls). */
static int thread_caps(bool set, struct __user_cap_data_struct *d)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};

	return (int)syscall(set ? SYS_capset : SYS_capget, &h, d);
}

static void self_init(void)
{
	int n;

	self.root = geteuid() == 0;
	self.gid = getegid();
	if (!self.root)
		return;
	n = getgroups(0, NULL);
	if (n > 0) {
		self.groups = calloc((size_t)n, sizeof(gid_t));
		if (self.groups)
			n = getgroups(n, self.groups);
		if (!self.groups || n < 0)
			abort(); /* could not restore later: refuse to start */
	}
	self.ngroups = n < 0 ? 0 : n;
	/* Called on a thread that has not switched yet: the daemon's set. */
	if (thread_caps(false, self.caps) == -1)
		abort();
}

/* glibc's setgroups() changes every thread (it is POSIX); the raw
 * syscall changes only this one, which is what a worker needs. */
static int thread_setgroups(int n, const gid_t *list)
{
	return (int)syscall(SYS_setgroups, (size_t)n, list);
}

/* setfsuid/setfsgid report no errors; read the value back instead. */
static int set_fsuid(uid_t uid)
{
	setfsuid(uid);
	return (uid_t)setfsuid((uid_t)-1) == uid ? 0 : EPERM;
}

static int set_fsgid(gid_t gid)
{
	setfsgid(gid);
	return (gid_t)setfsgid((gid_t)-1) == gid ? 0 : EPERM;
}

/* The thread keeps its permitted set (it must switch back); only the
 * effective one, which every permission check reads, is emptied, or
 * reduced to one capability (cap >= 0) the daemon has. */
static int set_effective(int cap)
{
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		d[i] = self.caps[i];
		d[i].effective = 0;
	}
	if (cap >= 0)
		d[CAP_TO_INDEX(cap)].effective = self.caps[CAP_TO_INDEX(cap)].permitted &
						  CAP_TO_MASK(cap);
	return thread_caps(true, d) == -1 ? errno : 0;
}

static int drop_caps(void)
{
	return set_effective(-1);
}

/* The supplementary groups of thread pid, from its /proc status (the
 * kernel does not send them): up to size of them into list; how many it
 * has (may exceed size), or -1 if it is gone. */
static int caller_groups(pid_t pid, int size, gid_t *list)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (getline(&line, &cap, f) != -1) {
		char *p, *end;

		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		n = 0;
		for (p = line + 7;; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if (n < size)
				list[n] = (gid_t)g;
			n++;
		}
		break;
	}
	free(line);
	fclose(f);
	return n;
}

int identity_cap_raise(int cap)
{
	return caps_dropped ? set_effective(cap) : 0;
}

void identity_cap_drop(void)
{
	if (caps_dropped && drop_caps())
		abort(); /* left with a capability the caller lacks */
}

/* umask is per fs_struct: each thread that creates gets its own, leaving
 * the process's alone (the control socket and trace files keep it). */
static __thread bool umask_private;

void identity_umask(const struct diofs_call *c)
{
	if (!umask_private) {
		umask_private = true;
		/* Refused (seccomp?): the process's changes, second best. */
		(void)unshare(CLONE_FS);
	}
	umask(c->umask);
}

int identity_become(const struct diofs_call *c, const struct caller_ids *known)
{
	gid_t small[NSMALL], *list = small;
	const gid_t *groups = small;
	int n = 0, err;

	pthread_once(&self.once, self_init);
	/* Not root: nothing to switch.  A root caller in the daemon's group
	 * is who the thread already is (its supplementary groups add nothing
	 * to root's capabilities): the hot path stays free. */
	if (!self.root || (c->uid == 0 && c->gid == self.gid))
		return 0;

	/* The caller's supplementary groups, from /proc (the kernel does not
	 * send them).  A caller already gone keeps only its primary group. */
	if (known && known->uid == c->uid && known->gid == c->gid) {
		groups = known->groups;
		n = known->ngroups;
	} else if (c->pid) {
		n = caller_groups(c->pid, NSMALL, small);
		if (n > NSMALL) {
			int want = n;

			list = malloc((size_t)want * sizeof(gid_t));
			if (!list)
				return ENOMEM;
			n = caller_groups(c->pid, want, list);
			if (n > want) /* grew meanwhile (rare): keep what fits */
				n = want;
			groups = list;
		}
		if (n < 0)
			n = 0;
	}

	if (thread_setgroups(n, groups) == -1) {
		err = errno;
		goto out;
	}
	switched = true;
	cur_uid = c->uid;
	cur_gid = c->gid;
	cur_ngroups = n <= NSMALL ? n : -1;
	if (n <= NSMALL)
		memcpy(cur_groups, groups, (size_t)n * sizeof(gid_t));
	/* gid first: once fsuid is not 0 the thread loses CAP_DAC_OVERRIDE
	 * and the other file capabilities (but keeps CAP_SETGID).  Then the
	 * rest (CAP_SYS_RESOURCE: reserved blocks, quotas; CAP_SYS_ADMIN:
	 * trusted.* xattrs; CAP_FSETID: the backing write clears set-id),
	 * last since setfs*id need CAP_SETUID/CAP_SETGID. */
	err = set_fsgid(c->gid);
	if (!err)
		err = set_fsuid(c->uid);
	if (!err && c->uid != 0) {
		err = drop_caps();
		caps_dropped = !err;
	}
	if (err)
		identity_restore(); /* undo a half switch */
out:
	if (list != small)
		free(list);
	return err;
}

struct caller_ids *identity_keep(void)
{
	size_t len;
	struct caller_ids *ids;

	if (!switched || cur_ngroups < 0)
		return NULL;
	len = (size_t)cur_ngroups * sizeof(gid_t);
	ids = malloc(sizeof(*ids) + len);
	if (ids) {
		ids->uid = cur_uid;
		ids->gid = cur_gid;
		ids->ngroups = cur_ngroups;
		memcpy(ids->groups, cur_groups, len);
	}
	return ids;
}

void identity_restore(void)
{
	if (!switched)
		return;
	switched = false;
	/* Capabilities first: setfsuid and setgroups need them. */
	if (caps_dropped && thread_caps(true, self.caps) == -1)
		abort();
	caps_dropped = false;
	if (set_fsuid(0) || set_fsgid(self.gid) ||
	    thread_setgroups(self.ngroups, self.groups) == -1)
		abort();
}
