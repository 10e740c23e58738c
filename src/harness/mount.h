/* Mounting diofs for a test: a fresh backing directory and mount point, the
 * daemon started in the foreground as a child, the mount waited for (no
 * fixed sleep), and always unmounted and the daemon stopped by its PID,
 * also when the test fails or the process is killed by a signal. */
#ifndef DIOFS_HARNESS_MOUNT_H
#define DIOFS_HARNESS_MOUNT_H

#include <stdbool.h>
#include <sys/types.h>

struct diofs_mount {
	char root[256];       /* the temporary directory holding the rest */
	char backing[300];    /* ROOT/backing */
	char mnt[300];        /* ROOT/mnt */
	char ctl[300];        /* ROOT/ctl.sock */
	char trace[300];      /* ROOT/trace.jsonl, if tracing was asked */
	pid_t pid;            /* the daemon */
	/* What is stacked on the mount (harness/stack.c): taken down first
	 * by diofs_mount_stop and by the exit and signal handlers, so it must
	 * be idempotent and async-signal-safe.  Set after diofs_mount_start. */
	void (*on_stop)(void *arg);
	void *on_stop_arg;
};

/* Why mounting cannot work here (no /dev/fuse, no permission), or NULL. */
const char *diofs_mount_unavailable(void);

/* The diofs binary: $DIOFS, else the build tree's, else PATH. */
const char *diofs_binary(void);

/* Start diofs with extra "-o" options (may be NULL), e.g. "dio=odirect".
 * The option "trace" alone becomes trace=ROOT/trace.jsonl (m->trace).
 * The option "backing=DIR" makes DIR (an absolute path, the caller's to
 * make and remove) the backing directory instead of ROOT/backing.
 * Returns once MNT is mounted and the control socket exists (10 s at
 * most).  0 on success; -1 with a reason in err.  m must stay valid until
 * stopped: the exit and signal handlers stop it. */
int diofs_mount_start(struct diofs_mount *m, const char *opts,
		      char *err, size_t errlen);
/* Start a new daemon on the mount point and backing directory of m, whose
 * daemon is gone and MNT unmounted (a crash, or stopped to change what is
 * under it): same control socket and trace file (started afresh), opts
 * (may be NULL), its log started afresh.  Returns once it serves (15 s at
 * most); the handlers stop it like the first.  0, or -1 with err. */
int diofs_mount_restart(struct diofs_mount *m, const char *opts, char *err, size_t errlen);
/* Options added to every mount this process starts from now on (e.g.
 * "io_uring": diofs-check --transport uring), before the caller's own;
 * NULL: those in $DIOFS_MOUNT_OPTS, if set (any harness test, e.g.
 * DIOFS_MOUNT_OPTS=io_uring make check).  The string must outlive the
 * mounts. */
void diofs_mount_set_extra_opts(const char *opts);

/* Start diofs -f [-o options] backing mnt in the foreground as a child,
 * stdout and stderr to the file log (made anew), stdin /dev/null; it gets
 * SIGTERM if this process dies.  For a daemon the test watches itself
 * (diofs_mount_start is the usual way).  The pid, -1 with errno. */
pid_t diofs_daemon_spawn(const char *backing, const char *mnt, const char *options,
			 const char *log);

/* Reap child pid within timeout_ms (its wait status in *status if not
 * NULL); false if it is still running.  pid may be another process's
 * child (a test case's parent's daemon): then wait for it to exit, *status
 * untouched.  Async-signal-safe. */
bool diofs_wait_exit(pid_t pid, int timeout_ms, int *status);

/* The mounts at exactly path (/proc/self/mountinfo): how many are stacked
 * there (0: none; -1: the table cannot be read), and the topmost one's
 * type, source and device in *top (if not NULL). */
struct diofs_mountinfo {
	char fstype[64];
	char source[4096];
	unsigned int major, minor;  /* a FUSE mount's minor is its connection */
};
int diofs_mountinfo_at(const char *path, struct diofs_mountinfo *top);

/* Is a FUSE filesystem (fuse, fuse.*) mounted exactly at mnt (on top)? */
bool diofs_fuse_mounted_at(const char *mnt);

/* Unmount, stop the daemon by PID, remove the directories.  Idempotent. */
void diofs_mount_stop(struct diofs_mount *m);

/* Path of name under the mount / the backing directory.  The result stays
 * valid for the next 7 calls of either in the same thread. */
const char *diofs_mnt_path(const struct diofs_mount *m, const char *name);
const char *diofs_backing_path(const struct diofs_mount *m, const char *name);

/* Is the daemon still running and the mount answering (a statfs of MNT: no
 * rule may hold it)?  Reaps a daemon that exited (a crash rule, a fatal
 * error).  If not alive the mount is dead: stop it and start anew. */
bool diofs_mount_alive(struct diofs_mount *m);

/* Install, once, the handlers that stop every live mount: at exit, and on
 * SIGINT, SIGTERM, SIGHUP, SIGALRM (re-raised after cleanup) and SIGSEGV,
 * SIGABRT, SIGBUS, SIGFPE (likewise).  hook, if not NULL, runs first in the
 * handler (so only async-signal-safe calls), e.g. to say which case hung.
 * diofs_mount_start calls it with NULL; a later call can set the hook. */
void diofs_mount_install_handlers(void (*hook)(int sig));

/* In a forked child that makes mounts of its own: the handlers (installed
 * anew for this process) take down the child's, never the parent's. */
void diofs_mount_forget_parent(void);

/* rm -rf path without following symlinks or leaving path's filesystem;
 * raw syscalls only, so the signal handlers can use it.  0 or -errno. */
int diofs_remove_tree(const char *path);

#endif
