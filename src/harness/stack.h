/* A filesystem stacked on diofs: a diofs mount, an image file on it, a
 * loop device over that file (the loop driver's direct I/O on or off), a
 * filesystem made on the image and mounted.  Every block request of the
 * upper filesystem becomes a FUSE request that diofs can hold.
 *
 * Taking it down goes upper unmount, loop detach, diofs unmount, in that
 * order, on every path: diofs_stack_stop, a failed start, and the
 * harness's exit and signal handlers (the stack rides on its diofs mount's
 * cleanup: struct diofs_mount's on_stop).  Before the upper unmount diofs
 * is told, over its control socket, to drop its rules and fail every held
 * request, so that the unmount's own I/O cannot wait on a hold. */
#ifndef DIOFS_HARNESS_STACK_H
#define DIOFS_HARNESS_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness/mount.h"

/* The image as diofs names it. */
#define DIOFS_STACK_IMAGE "/img"

struct diofs_stack_opts {
	const char *fstype;             /* for mount(2); NULL: the bare loop device */
	const char *const *mkfs;        /* argv of the mkfs tool, the image path
					 * appended unless an argument is "@IMG";
					 * "@SRC": the directory populate filled;
					 * NULL with fstype NULL */
	/* A filesystem made from a directory (erofs, squashfs): fills dir
	 * before mkfs; 0 or -1.  The upper filesystem is then read-only. */
	int (*populate)(const char *dir, void *arg);
	void *populate_arg;
	const char *mount_data;         /* mount(2)'s data, or NULL */
	unsigned long mount_flags;      /* MS_NOATIME... */
	uint64_t image_size;            /* bytes (sparse) */
	bool loop_dio;                  /* ask the loop driver for direct I/O */
	const char *diofs_opts;         /* diofs -o options, or NULL */
};

/* Where a start stopped: the stage names the reason's kind. */
enum diofs_stack_stage {
	STACK_OK,
	STACK_DIOFS,            /* mounting diofs */
	STACK_IMAGE,            /* creating the image */
	STACK_MKFS,             /* the mkfs tool is missing or failed */
	STACK_LOOP,             /* no loop device, or it would not attach */
	STACK_MOUNT,            /* the upper filesystem would not mount */
};

struct diofs_stack {
	struct diofs_mount mount;       /* diofs; the stack is taken down with it */
	char image_backing[320];        /* the image in diofs's backing directory */
	char image[320];                /* the image through the diofs mount */
	int loop_fd;                    /* the loop device, open until stopped */
	int loop_nr;
	char loop_dev[32];              /* "/dev/loopN" */
	bool loop_dio;                  /* what the loop driver reports it does */
	char upper[320];                /* the upper filesystem's mount point */
	bool upper_mounted;
	enum diofs_stack_stage stage;   /* where a failed start stopped */
	/* kept after stopping, to check that nothing is left */
	char root[256];                 /* the mount's directory */
	pid_t daemon;
};

/* Why stacking cannot work here (not root, no /dev/loop-control, no
 * FUSE), or NULL. */
const char *diofs_stack_unavailable(void);

/* Is fstype in /proc/filesystems?  If not, modprobe it (where modules can
 * be loaded) and look again. */
bool diofs_stack_fs_supported(const char *fstype);

/* Is the tool (a name looked up in PATH, /sbin, /usr/sbin) there?  Its
 * path into path. */
bool diofs_stack_find_tool(const char *name, char *path, size_t len);

/* Build the stack.  0, or -1 with the reason in err and s->stage saying
 * which step failed; everything started is taken down again. */
int diofs_stack_start(struct diofs_stack *s, const struct diofs_stack_opts *o,
		      char *err, size_t errlen);

/* Where in the image (read in the backing directory, without FUSE) the
 * bytes [want, want + len) first stand, at a multiple of len: *off.  0, or
 * -1 with the reason in err (not there: compressed, encrypted, inline). */
int diofs_stack_locate(const struct diofs_stack *s, const void *want, size_t len,
		       uint64_t *off, char *err, size_t errlen);

/* Take everything down (idempotent). */
void diofs_stack_stop(struct diofs_stack *s);

#endif
