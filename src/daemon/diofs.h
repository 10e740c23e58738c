/* The daemon's configuration and global state. */
#ifndef DIOFS_DIOFS_H
#define DIOFS_DIOFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum diofs_dio_policy {
	DIO_ALL,     /* every regular-file open gets FOPEN_DIRECT_IO */
	DIO_ODIRECT, /* only opens that carry O_DIRECT */
	DIO_NONE,
};

/* -o io_uring[=fallback]: the transport the kernel sends requests by. */
enum diofs_uring_mode {
	URING_OFF,      /* /dev/fuse (default) */
	URING_REQUIRE,  /* io_uring or no mount */
	URING_FALLBACK, /* io_uring where the kernel allows it, else /dev/fuse
			 * with a warning */
};

struct diofs_config {
	char *backing;         /* realpath of BACKING */
	char *mountpoint;
	enum diofs_dio_policy dio;
	int async_dio;         /* 1: want FUSE_ASYNC_DIO, 0: refuse it */
	uint64_t init_off;     /* -o init_off=: INIT flags not to ask for */
	bool no_parallel_direct_writes; /* -o init_off=parallel_direct_writes */
	char *trace_path;      /* -o trace=FILE */
	bool trace_overwrite;  /* -o trace_overwrite: it may exist */
	char *rules_path;      /* -o rules=FILE */
	char *ctl_path;        /* -o ctl=PATH; NULL: the default */
	unsigned int threads;  /* worker threads */
	enum diofs_uring_mode io_uring;
	unsigned int io_uring_q_depth; /* ring entries per CPU queue */
	bool io_uring_hold_register; /* the last queue waits for "register" */
	bool foreground;
	bool debug;
	bool single_thread;
	bool default_permissions;
};

extern struct diofs_config diofs_cfg;

/* Open fd of BACKING's root, and its device (no crossing mounts below it). */
extern int diofs_backing_fd;
extern dev_t diofs_backing_dev;

/* The session (libfuse's: the mount, the exit flag, signal handlers). */
extern struct fuse_session *diofs_session;

#endif
