/* Story 3: the fork story (story_fork.c) on ext4 stacked on diofs.  ext4
 * lives on a loop device (its direct I/O on) over an image file on a diofs
 * mount (harness/stack.h), so ext4's O_DIRECT read becomes the loop
 * driver's read of the image, which diofs holds.  That request carries
 * the bio's pages as kernel pages: FUSE takes no pin of its own, and the
 * pins in flight are the block layer's (bio_iov_iter_get_pages, through
 * ext4's iomap direct I/O).  ext4 because every kernel of the demo has it. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "demo/demo.h"
#include "demo/events.h"
#include "demo/pages.h"
#include "harness/stack.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define FS "ext4"
#define FILE_NAME "fork.dat"
#define IMAGE_MIB 64
#define SECTOR 512      /* where a filesystem may place data: the unit searched */

/* Write the file's data on the upper filesystem and put it on the device,
 * so that a direct read goes to the image; -1 after saying why. */
static int write_upper_file(struct demo *d, const char *path)
{
	char *data = malloc(d->len);
	int fd, ret = -1;

	if (!data) {
		ev_say("Cannot allocate the file's data.");
		return -1;
	}
	data_fill(data, d->len, 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, d->len) != (ssize_t)d->len || fsync(fd) < 0 ||
	    syncfs(fd) < 0)
		ev_say("Cannot write %s: %s.", path, strerror(errno));
	else
		ret = 0;
	if (fd >= 0)
		close(fd);
	free(data);
	return ret;
}

/* Can the story be told here?  NULL, or why not (into why). */
static const char *unavailable(char *why, size_t len)
{
	char tool[PATH_MAX];
	const char *no = diofs_stack_unavailable();

	if (no)
		snprintf(why, len, "%s", no);
	else if (!diofs_stack_fs_supported(FS))
		snprintf(why, len, "this kernel has no %s (not in /proc/filesystems)", FS);
	else if (!diofs_stack_find_tool("mkfs." FS, tool, sizeof(tool)))
		snprintf(why, len, "no mkfs.%s", FS);
	else
		return NULL;
	return why;
}

int story_stacked(struct demo *d)
{
	static const char *const mkfs[] = { "mkfs." FS, "-q", "-F", NULL };
	const struct diofs_stack_opts o = {
		.fstype = FS, .mkfs = mkfs, .image_size = (uint64_t)IMAGE_MIB << 20,
		/* no atime or timestamp writes of ext4's own during the hold */
		.mount_flags = MS_NOATIME | MS_LAZYTIME, .loop_dio = true, .diofs_opts = "trace",
	};
	struct diofs_stack s;
	struct fork_place p = { .fd = -1, .held = DIOFS_STACK_IMAGE, .carried = FS };
	struct diofsctl *ctl = NULL, *saved_ctl = d->ctl;
	const char *saved_trace = d->trace;
	char why[512], path[PATH_MAX], name[64];
	unsigned char first[SECTOR];
	uint64_t phys;
	int ret = -1;

	ev_story("stacked", "Story 3: the same fork, on " FS " stacked on diofs");
	if (unavailable(why, sizeof(why))) {
		ev_say("Not told here: %s.", why);
		return 1;
	}
	if (diofs_stack_start(&s, &o, why, sizeof(why)) < 0) {
		ev_say("Cannot stack %s on diofs: %s.", FS, why);
		return -1;
	}
	ctl = diofsctl_connect(s.mount.ctl, why, sizeof(why));
	if (!ctl) {
		ev_say("Cannot connect to the stack's diofs: %s.", why);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", s.upper, FILE_NAME);
	if (write_upper_file(d, path) < 0)
		goto out;
	data_fill(first, sizeof(first), 0);
	if (diofs_stack_locate(&s, first, sizeof(first), &phys, why, sizeof(why)) < 0) {
		ev_say("Cannot find the file's data in the image: %s.", why);
		goto out;
	}
	p.fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (p.fd < 0) {
		ev_say("Cannot open %s with O_DIRECT: %s.", path, strerror(errno));
		goto out;
	}
	snprintf(name, sizeof(name), "%s on %s", FILE_NAME, FS);
	p.file = name;
	/* only the read of the file's data: ext4's own reads go through */
	snprintf(p.rule, sizeof(p.rule), "hold op=read path=%s offset=%" PRIu64 "-%" PRIu64,
		 DIOFS_STACK_IMAGE, phys, phys);
	ev_say("%s on %s (the loop driver's direct I/O %s) over the image %s on a diofs mount; "
	       "the file %s is %zu bytes at offset %" PRIu64 " of %s.", FS, s.loop_dev,
	       s.loop_dio ? "on" : "OFF: the driver refused it", DIOFS_STACK_IMAGE, name, d->len,
	       phys, DIOFS_STACK_IMAGE);
	d->ctl = ctl;
	d->trace = s.mount.trace;
	ret = story_fork_at(d, &p);
	d->ctl = saved_ctl;
	d->trace = saved_trace;
out:
	if (p.fd >= 0)
		close(p.fd);
	if (ctl)
		diofsctl_close(ctl);
	diofs_stack_stop(&s);
	return ret;
}
