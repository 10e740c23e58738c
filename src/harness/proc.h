/* Processes for a test: the time, running a program with its output
 * captured under a time limit, a function run in a child as another user,
 * counting a process's open files. */
#ifndef DIOFS_HARNESS_PROC_H
#define DIOFS_HARNESS_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in milliseconds, and in nanoseconds (the clock of the
 * daemon's trace, "start" and "end", too).  Async-signal-safe. */
int64_t diofs_now_ms(void);
uint64_t diofs_now_ns(void);

/* Run argv with extra environment (NULL or "NAME=VALUE" strings,
 * NULL-terminated), stdin from /dev/null, capturing stdout and stderr
 * (each NUL-terminated, at most 64 KiB, kept).  Waits at most timeout_ms;
 * a program still running then is killed (its PID) and timed_out set.
 * Returns the wait status, or -1 if it could not run. */
struct diofs_run {
	char out[65536];
	char err[65536];
	bool timed_out;
};
int diofs_run(char *const argv[], char *const env[], int timeout_ms, struct diofs_run *r);

/* Who a child becomes before it runs its function. */
struct diofs_identity {
	uid_t uid;
	gid_t gid;
	size_t ngroups;        /* supplementary groups; 0: none */
	const gid_t *groups;
	mode_t umask;
};

/* This process becomes id's user, groups and umask (setgroups, setresgid,
 * setresuid: for good).  0, or the errno of the step that failed. */
int diofs_become(const struct diofs_identity *id);

/* The exit status of a child that could not become its identity. */
#define DIOFS_CHILD_NO_IDENTITY 255

/* Fork a child that becomes id (NULL: stays who it is) and exits with
 * fn(arg) & 0xff; one that cannot become id says why on stderr and exits
 * DIOFS_CHILD_NO_IDENTITY.  The pid, or -1 if fork failed.  Waiting for
 * it: diofs_wait_exit (mount.h). */
pid_t diofs_spawn(const struct diofs_identity *id, int (*fn)(void *arg), void *arg);

/* Number of fds the process pid has open (-1 if unknown). */
int diofs_count_fds(pid_t pid);

#endif
