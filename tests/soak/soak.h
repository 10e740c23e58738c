/* What the soak, fault, limit and bad-input programs share: a seeded PRNG
 * (the seed is always printed, so a run can be repeated), the run as the
 * harness runner's one case (a child of its own under a time limit; if it
 * hangs or dies its FUSE connections are aborted and all it made is taken
 * down), figures printed at the end of a run, and stopping the daemon of
 * a harness mount (as a crash, or to put a small filesystem under it) for
 * diofs_mount_restart to start anew on the same backing directory.
 * Failures are expect.h's (CHECK, CHECK_FAILF, CHECK_FATALF), printed as
 * they happen; data is pattern.h's.
 *
 * Every program ends with its figures, one per line,
 *     figure: NAME VALUE
 * then one line "NAME: N failed" and exits 0 only if nothing failed (77 if
 * the machine cannot mount FUSE). */
#ifndef DIOFS_SOAK_H
#define DIOFS_SOAK_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness/expect.h"
#include "harness/mount.h"
#include "harness/pattern.h"
#include "harness/proc.h"          /* diofs_now_ms */
#include "harness/runner.h"

/* ---- PRNG: splitmix64, the same generator the rules use ---------------- */
static inline uint64_t soak_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
/* Uniform in [0, n); n > 0. */
static inline uint64_t soak_below(uint64_t *s, uint64_t n)
{
	return soak_next(s) % n;
}
/* A seed derived from a base seed and a few small numbers. */
uint64_t soak_derive(uint64_t seed, uint64_t a, uint64_t b);

/* ---- the run ------------------------------------------------------------ */
/* Parse the common options: --seed N, --seconds N, --short (also env
 * SOAK_SEED, SOAK_SECONDS, SOAK_SHORT=1); print "NAME: seed S ...".
 * Unknown options are an error.  default_seconds applies to the long form,
 * short_seconds to the short one. */
struct soak_opts {
	uint64_t seed;
	unsigned int seconds;
	bool is_short;
	unsigned int threads;   /* --threads N, 0: the program's default */
};
void soak_init(const char *name, int argc, char **argv, struct soak_opts *o,
	       unsigned int default_seconds, unsigned int short_seconds);
/* How many threads: --threads, else short_n or long_n by the form; at most max. */
unsigned int soak_threads(const struct soak_opts *o, unsigned int short_n, unsigned int long_n,
			  unsigned int max);

/* Skip the whole program (exit 77) with a reason if the machine cannot
 * mount FUSE. */
void soak_require_mount(void);

/* Run body as the runner's one case, within timeout_s: the figures are
 * printed when it ends, however it ends; a hang or a crash fails it.  The
 * process's exit status: 0, 1 (a failure, a hang, a crash), 77 (SKIP). */
int soak_run(void (*body)(void), unsigned int timeout_s);

/* Informational line, "NAME: ...". */
void soak_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Figures, printed when the run ends, in the order first set. */
void soak_figure_set(const char *name, uint64_t value);
void soak_figure_add(const char *name, uint64_t delta);
void soak_figure_str(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* One figure PREFIX_NAME per name, with its count: "ops_psync 12"... */
void soak_figure_each(const char *prefix, const char *const names[], const atomic_ulong counts[],
		      size_t n);

/* For a hang report: each thread of process pid, its name and where it
 * waits in the kernel (/proc/PID/task/TID/stack, root only), a few frames
 * each. */
void soak_dump_tasks(pid_t pid, const char *label);

/* ---- mounts ------------------------------------------------------------- */
/* diofs_mount_start, or end the run failed with the reason.  What a run
 * that fails midway leaves mounted the runner takes down. */
void soak_mount(struct diofs_mount *m, const char *opts);

/* Stop m's daemon with sig (SIGKILL: as a crash; SIGTERM: cleanly), wait
 * for it, and unmount MNT (detached: works on a dead connection).  The
 * backing directory stays; diofs_mount_restart starts the next daemon. */
int soak_daemon_stop(struct diofs_mount *m, int sig, char *err, size_t errlen);

/* ---- data --------------------------------------------------------------- */
/* mmap'd anonymous memory (page aligned, faulted in); NULL on failure. */
void *soak_map(size_t len);

/* Write all of len at off (pwrite loop); 0 or -errno. */
int soak_pwrite_all(int fd, const void *buf, size_t len, off_t off);
/* Read all of len at off; 0, -errno, or -EIO on a short file. */
int soak_pread_all(int fd, void *buf, size_t len, off_t off);

/* Create name (relative to the mount) through the mount, so that the
 * kernel knows its size, with size bytes of data, synced; then open it
 * O_DIRECT read-write through the mount (*fd) and read-only in the
 * backing directory (*bfd).  Ends the run failed on failure. */
void soak_file_create(const struct diofs_mount *m, const char *name, const void *data,
		      size_t size, int *fd, int *bfd);

/* Number of differing bytes between a and b (len). */
size_t soak_diff(const void *a, const void *b, size_t len);

/* Is the running kernel one whose FUSE direct I/O pins (6.9 and later)? */
bool soak_kernel_pins(void);

#endif
