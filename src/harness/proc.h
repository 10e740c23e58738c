/* Processes for a test: the time, running a program with its output
 * captured under a time limit, counting a process's open files. */
#ifndef DIOFS_HARNESS_PROC_H
#define DIOFS_HARNESS_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in milliseconds. */
int64_t diofs_now_ms(void);

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

/* Number of fds the process pid has open (-1 if unknown). */
int diofs_count_fds(pid_t pid);

#endif
