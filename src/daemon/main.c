/* diofs: a passthrough FUSE filesystem that forces direct I/O and is
 * instrumented (trace, rules, holds), for testing the kernel's FUSE
 * direct-I/O path. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl_server.h"
#include "diofs.h"
#include "dispatch.h"
#include "engine.h"
#include "holds.h"
#include "inode.h"
#include "loop.h"
#include "options.h"
#include "rules.h"
#include "trace.h"
#include "uring.h"

int diofs_backing_fd = -1;
dev_t diofs_backing_dev;
struct fuse_session *diofs_session;

static int open_backing(void)
{
	struct stat st;

	diofs_backing_fd = open(diofs_cfg.backing, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (diofs_backing_fd < 0 || fstat(diofs_backing_fd, &st)) {
		fprintf(stderr, "diofs: backing directory %s: %s\n", diofs_cfg.backing,
			strerror(errno));
		return -1;
	}
	diofs_backing_dev = st.st_dev;
	return inode_table_init(diofs_backing_fd);
}

static int load_rules(void)
{
	char err[512];

	if (!diofs_cfg.rules_path)
		return 0;
	if (rules_load_file(diofs_cfg.rules_path, err, sizeof(err))) {
		fprintf(stderr, "diofs: -o rules: %s\n", err);
		return -1;
	}
	return 0;
}

/* The -o trace= file, made before mounting (so that a bad one is an error
 * the user sees, not a mount that traces nothing) by the daemon as it was
 * invoked; tracing to it starts after fuse_daemonize. */
static int early_trace_fd = -1;

static int create_trace(void)
{
	char why[512];

	if (!diofs_cfg.trace_path)
		return 0;
	if (trace_check_path(diofs_cfg.trace_path) == -EINVAL)
		return -1; /* it said why */
	early_trace_fd = trace_create(diofs_cfg.trace_path, diofs_cfg.trace_overwrite, why,
				      sizeof(why));
	if (early_trace_fd < 0) {
		fprintf(stderr, "diofs: -o trace=%s\n", why);
		return -1;
	}
	return 0;
}

/* Never started: take back the empty file this run made, so that the
 * next run does not find it in the way. */
static void discard_trace(void)
{
	struct stat fst, pst;

	if (early_trace_fd < 0)
		return;
	if (!diofs_cfg.trace_overwrite && fstat(early_trace_fd, &fst) == 0 &&
	    fst.st_size == 0 && lstat(diofs_cfg.trace_path, &pst) == 0 &&
	    pst.st_dev == fst.st_dev && pst.st_ino == fst.st_ino)
		unlink(diofs_cfg.trace_path);
	close(early_trace_fd);
	early_trace_fd = -1;
}

static const char *ctl_error_text(int err)
{
	switch (err) {
	case -EADDRINUSE: return "another diofs serves it";
	case -EEXIST: return "exists and is not a socket";
	case -ENAMETOOLONG: return "too long for a Unix socket address";
	default: return strerror(-err);
	}
}

static int listen_ctl(void)
{
	char why[512];
	int err = ctl_server_listen(diofs_cfg.ctl_path, why, sizeof(why));

	if (err)
		fprintf(stderr, "diofs: control socket %s: %s\n", diofs_cfg.ctl_path,
			why[0] ? why : ctl_error_text(err));
	return err;
}

/* Threads do not survive fuse_daemonize()'s fork: start them after it. */
static int start_instrument(void)
{
	int err;

	err = holds_init(dispatch_resume);
	if (err) {
		fprintf(stderr, "diofs: cannot start the hold timer: %s\n", strerror(-err));
		return -1;
	}
	if (early_trace_fd >= 0) {
		err = trace_start(early_trace_fd, diofs_cfg.trace_path);
		if (err) {
			fprintf(stderr, "diofs: -o trace=%s: %s\n", diofs_cfg.trace_path,
				strerror(-err));
			return -1;
		}
		early_trace_fd = -1;
	}
	err = ctl_server_run();
	if (err) {
		fprintf(stderr, "diofs: control socket %s: %s\n", diofs_cfg.ctl_path,
			strerror(-err));
		return -1;
	}
	return 0;
}

static void stop_instrument(void)
{
	ctl_server_stop();
	holds_shutdown(EIO);
	trace_flush();
	trace_close();
}

/* -o io_uring: said before the mount is handed over (the module is
 * loaded by now), so that the user sees it and the status says it. */
static int check_uring(void)
{
	char why[512];

	if (diofs_cfg.io_uring == URING_OFF || uring_available(why, sizeof(why)) > 0)
		return 0;
	if (diofs_cfg.io_uring == URING_REQUIRE) {
		fprintf(stderr, "diofs: -o io_uring: %s (or -o io_uring=fallback)\n", why);
		return -1;
	}
	fprintf(stderr, "diofs: warning: -o io_uring=fallback: %s; serving over /dev/fuse\n",
		why);
	diofs_cfg.io_uring = URING_OFF;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct fuse_lowlevel_ops no_ops;
	struct fuse_args args;
	struct fuse_session *se = NULL;
	int status = 1, err;

	switch (options_parse(argc, argv, &args)) {
	case OPTIONS_EXIT_OK:
		status = 0;
		goto out_args;
	case OPTIONS_EXIT_ERROR:
		goto out_args;
	case OPTIONS_RUN:
		break;
	}
	if (open_backing() || load_rules() || create_trace())
		goto out_inodes;
	if (listen_ctl())
		goto out_inodes;

	/* libfuse mounts, parses its options and handles signals; the engine
	 * speaks the protocol, so libfuse gets no operations. */
	se = fuse_session_new(&args, &no_ops, sizeof(no_ops), NULL);
	if (!se)
		goto out_ctl; /* libfuse said why (an unknown option) */
	diofs_session = se;
	if (fuse_set_signal_handlers(se))
		goto out_session;
	if (fuse_session_mount(se, diofs_cfg.mountpoint))
		goto out_signals;
	if (check_uring())
		goto out_unmount;
	if (fuse_daemonize(diofs_cfg.foreground))
		goto out_unmount;
	if (start_instrument())
		goto out_instrument;

	err = loop_run(se, diofs_cfg.threads);
	if (err)
		fprintf(stderr, "diofs: %s\n", strerror(-err));
	else
		status = 0;

out_instrument:
	stop_instrument();
	uring_stop(); /* after the parked calls were answered through it */
	engine_finish(); /* after the parked calls were answered */
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_ctl:
	ctl_server_stop(); /* idempotent: also after stop_instrument */
out_inodes:
	discard_trace();
	inode_table_destroy();
	if (diofs_backing_fd >= 0)
		close(diofs_backing_fd);
out_args:
	fuse_opt_free_args(&args);
	options_free();
	return status;
}
