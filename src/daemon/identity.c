#include <config.h>

#include "identity.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
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
} self = { .once = PTHREAD_ONCE_INIT };

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

/* The kernel applied the caller's umask to the mode it sent; the backing
 * syscall must not apply the daemon's on top.  umask is per fs_struct:
 * give each creating thread its own, at 0, leaving the process's alone
 * (the control socket and trace files keep the usual one). */
static __thread bool umask_private;

static void thread_umask_zero(void)
{
	if (umask_private)
		return;
	umask_private = true;
	/* Refused (seccomp?): the whole process gets 0, second best. */
	(void)unshare(CLONE_FS);
	umask(0);
}

#define NSMALL 64

int identity_become(const struct diofs_call *c, struct saved_identity *s)
{
	gid_t small[NSMALL], *list = small;
	int n = 0, err;

	s->active = false;
	thread_umask_zero();
	pthread_once(&self.once, self_init);
	if (!self.root)
		return 0;

	/* The caller's supplementary groups, from /proc (the kernel does not
	 * send them).  A caller already gone keeps only its primary group. */
	if (c->req) {
		n = fuse_req_getgroups(c->req, NSMALL, small);
		if (n > NSMALL) {
			int want = n;

			list = malloc((size_t)want * sizeof(gid_t));
			if (!list)
				return ENOMEM;
			n = fuse_req_getgroups(c->req, want, list);
			if (n > want) /* grew meanwhile (rare): keep what fits */
				n = want;
		}
		if (n < 0)
			n = 0;
	}

	if (thread_setgroups(n, list) == -1) {
		err = errno;
		goto out;
	}
	/* gid first: once fsuid is not 0 the thread loses CAP_DAC_OVERRIDE
	 * and friends (but keeps CAP_SETGID). */
	err = set_fsgid(c->gid);
	if (!err)
		err = set_fsuid(c->uid);
	s->active = true;
	if (err)
		identity_restore(s); /* undo a half switch */
out:
	if (list != small)
		free(list);
	return err;
}

void identity_restore(struct saved_identity *s)
{
	if (!s->active)
		return;
	s->active = false;
	/* fsuid back to 0 gives the file capabilities back. */
	if (set_fsuid(0) || set_fsgid(self.gid) ||
	    thread_setgroups(self.ngroups, self.groups) == -1)
		abort(); /* a worker left with a caller's identity is worse */
}
