/* FOLL_PIN accounting from /proc/vmstat.  The counters are per-CPU batched
 * ("released" visibly lags), so every read folds them first through
 * /proc/sys/vm/stat_refresh, which only root may write. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "harness/pins.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define STAT_REFRESH "/proc/sys/vm/stat_refresh"

/* Both counters from /proc/vmstat; 0, -ENOENT if the kernel has none. */
static int read_vmstat(struct pin_counts *out)
{
	FILE *f = fopen("/proc/vmstat", "re");
	char name[64];
	uint64_t value;
	int found = 0;

	if (!f)
		return -errno;
	while (found < 2 && fscanf(f, "%63s %" SCNu64, name, &value) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired")) {
			out->acquired = value;
			found++;
		} else if (!strcmp(name, "nr_foll_pin_released")) {
			out->released = value;
			found++;
		}
	}
	fclose(f);
	return found == 2 ? 0 : -ENOENT;
}

const char *pins_unavailable(void)
{
	struct pin_counts c;

	if (read_vmstat(&c) < 0)
		return "no nr_foll_pin_acquired in /proc/vmstat";
	if (access(STAT_REFRESH, W_OK) < 0)
		return "cannot write " STAT_REFRESH " (not root)";
	return NULL;
}

int pins_read(struct pin_counts *out)
{
	int fd = open(STAT_REFRESH, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	/* Older kernels answer EINVAL when some counter is negative, after
	 * folding them all: the values are still exact. */
	if (write(fd, "1", 1) < 0 && errno != EINVAL) {
		int err = -errno;
		close(fd);
		return err;
	}
	close(fd);
	return read_vmstat(out);
}
