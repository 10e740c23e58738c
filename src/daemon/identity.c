#include <config.h>

#include "identity.h"

#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
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

/* What this thread is now: switched to a caller, capabilities reduced
 * (to cur_caps); the caller as last read (cur_known: its groups if at most
 * NSMALL, else cur_ngroups -1, and its effective capabilities). */
static __thread bool switched, caps_dropped, cur_known;
static __thread uid_t cur_uid;
static __thread gid_t cur_gid;
static __thread int cur_ngroups;
static __thread gid_t cur_groups[NSMALL];
static __thread uint64_t cur_caps;

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

/* The daemon's effective set as one mask. */
static uint64_t self_effective(void)
{
	return (uint64_t)self.caps[1].effective << 32 | self.caps[0].effective;
}

/* The thread keeps its permitted set (it must switch back); only the
 * effective one, which every permission check reads, is reduced to the
 * capabilities in mask that the daemon has. */
static int set_effective(uint64_t mask)
{
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		d[i] = self.caps[i];
		d[i].effective = self.caps[i].permitted & (uint32_t)(i < 2 ? mask >> 32 * i : 0);
	}
	return thread_caps(true, d) == -1 ? errno : 0;
}

/* What /proc says of a caller: its fs uid and gid, effective
 * capabilities, and supplementary groups (up to size of them in list;
 * ngroups may exceed size). */
struct status {
	uid_t fsuid;
	gid_t fsgid;
	uint64_t caps;
	int ngroups;
};

/* The 4th number of an "Uid:" or "Gid:" line: the filesystem one. */
static unsigned long fs_id(const char *p)
{
	char *end;
	unsigned long v = 0;

	for (int i = 0; i < 4; i++, p = end)
		v = strtoul(p, &end, 10);
	return v;
}

/* Thread pid's /proc status, in one pass: 0, or -1 if it is gone (or a
 * line is missing). */
static int caller_status(pid_t pid, int size, gid_t *list, struct status *st)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int seen = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (seen != 15 && getline(&line, &cap, f) != -1) {
		if (strncmp(line, "Uid:", 4) == 0) {
			st->fsuid = (uid_t)fs_id(line + 4);
			seen |= 1;
		} else if (strncmp(line, "Gid:", 4) == 0) {
			st->fsgid = (gid_t)fs_id(line + 4);
			seen |= 2;
		} else if (strncmp(line, "CapEff:", 7) == 0) {
			st->caps = strtoull(line + 7, NULL, 16);
			seen |= 4;
		} else if (strncmp(line, "Groups:", 7) == 0) {
			char *p, *end;

			st->ngroups = 0;
			for (p = line + 7;; p = end) {
				unsigned long g = strtoul(p, &end, 10);

				if (end == p)
					break;
				if (st->ngroups < size)
					list[st->ngroups] = (gid_t)g;
				st->ngroups++;
			}
			seen |= 8;
		}
	}
	free(line);
	fclose(f);
	return seen == 15 ? 0 : -1;
}

int identity_cap_raise(int cap)
{
	return caps_dropped ? set_effective(cur_caps | UINT64_C(1) << cap) : 0;
}

void identity_cap_drop(void)
{
	if (caps_dropped && set_effective(cur_caps))
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

/* The caller's groups and capabilities, from /proc (the kernel does not
 * send them), into *st and list (or *groups: known's, or a malloc'ed list
 * in *list when more than NSMALL).  A status that is not the caller's
 * (gone, or its pid reused by another process: async requests) gives no
 * groups and no capabilities.  0 or ENOMEM. */
static int caller_read(const struct diofs_call *c, gid_t **list, struct status *st)
{
	struct status none = { .fsuid = c->uid, .fsgid = c->gid };
	int want;

	if (!c->pid || caller_status(c->pid, NSMALL, *list, st) == -1) {
		*st = none;
		return 0;
	}
	if (st->ngroups > NSMALL) {
		want = st->ngroups;
		*list = malloc((size_t)want * sizeof(gid_t));
		if (!*list)
			return ENOMEM;
		if (caller_status(c->pid, want, *list, st) == -1)
			st->ngroups = 0;
		if (st->ngroups > want) /* grew meanwhile (rare): keep what fits */
			st->ngroups = want;
	}
	if (st->fsuid != c->uid || st->fsgid != c->gid)
		*st = none;
	return 0;
}

int identity_become(const struct diofs_call *c, const struct caller_ids *known)
{
	gid_t small[NSMALL], *list = small;
	const gid_t *groups = small;
	struct status st;
	int n, err;

	pthread_once(&self.once, self_init);
	cur_known = false;
	if (!self.root)
		return 0;

	if (known && known->uid == c->uid && known->gid == c->gid) {
		groups = known->groups;
		st.ngroups = known->ngroups;
		st.caps = known->caps;
	} else {
		err = caller_read(c, &list, &st);
		if (err)
			return err;
		groups = list;
	}
	n = st.ngroups;
	cur_known = n <= NSMALL;
	cur_uid = c->uid;
	cur_gid = c->gid;
	cur_ngroups = n;
	cur_caps = st.caps & self_effective();
	if (cur_known)
		memcpy(cur_groups, groups, (size_t)n * sizeof(gid_t));

	/* A root caller in the daemon's group with at least the daemon's
	 * capabilities is who the thread already is (its supplementary groups
	 * add nothing to them): the common case stays free. */
	if (c->uid == 0 && c->gid == self.gid && cur_caps == self_effective()) {
		err = 0;
		goto out;
	}

	if (thread_setgroups(n, groups) == -1) {
		err = errno;
		goto out;
	}
	switched = true;
	/* gid first: once fsuid is not 0 the thread loses CAP_DAC_OVERRIDE
	 * and the other file capabilities (but keeps CAP_SETGID).  Then the
	 * capabilities, reduced to those the caller has (CAP_SYS_RESOURCE:
	 * reserved blocks, quotas; CAP_SYS_ADMIN: trusted.* xattrs;
	 * CAP_FSETID: the backing write clears set-id), last since setfs*id
	 * need CAP_SETUID/CAP_SETGID. */
	err = set_fsgid(c->gid);
	if (!err)
		err = set_fsuid(c->uid);
	if (!err && cur_caps != self_effective()) {
		err = set_effective(cur_caps);
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

	if (!cur_known)
		return NULL;
	len = (size_t)cur_ngroups * sizeof(gid_t);
	ids = malloc(sizeof(*ids) + len);
	if (ids) {
		ids->uid = cur_uid;
		ids->gid = cur_gid;
		ids->ngroups = cur_ngroups;
		ids->caps = cur_caps;
		memcpy(ids->groups, cur_groups, len);
	}
	return ids;
}

void identity_restore(void)
{
	cur_known = false;
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
