/* legacy_dio_pins: does an O_DIRECT read move /proc/vmstat's FOLL_PIN
 * counters in balance?  (See REPORT; shares no code with diofs.)
 *
 *   legacy_dio_pins [-w] FILE [COUNT]
 *
 * Reads (-w: writes) 64 KiB at offset 0 of FILE with O_DIRECT, COUNT times
 * (default 4), into (from) a page-aligned anonymous buffer whose pages were
 * written first (no shared zero page), and prints for each transfer how much
 * nr_foll_pin_acquired and nr_foll_pin_released moved across it.  The counters are refreshed
 * (root: /proc/sys/vm/stat_refresh) before each look, so the figures are
 * exact, but machine-wide: other I/O on the machine adds to them.
 *
 * Exit: 0 every transfer moved both counters by the same amount, 1 some
 * did not (printed "UNBALANCED"), 2 an error. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define IO_SIZE (64 * 1024)

struct pins {
	long long acquired, released;
};

static int refresh_counters(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (fd < 0 || write(fd, "1", 1) != 1) {
		fprintf(stderr, "legacy_dio_pins: /proc/sys/vm/stat_refresh: %s (needs root)\n",
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int read_pins(struct pins *p)
{
	char name[64];
	long long value;
	int found = 0;
	FILE *f;

	if (refresh_counters() < 0)
		return -1;
	f = fopen("/proc/vmstat", "r");
	if (!f) {
		perror("legacy_dio_pins: /proc/vmstat");
		return -1;
	}
	while (fscanf(f, "%63s %lld", name, &value) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired")) {
			p->acquired = value;
			found |= 1;
		} else if (!strcmp(name, "nr_foll_pin_released")) {
			p->released = value;
			found |= 2;
		}
	}
	fclose(f);
	if (found != 3) {
		fprintf(stderr, "legacy_dio_pins: /proc/vmstat has no nr_foll_pin_acquired/released\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct pins before, after;
	bool write_mode = argc > 1 && !strcmp(argv[1], "-w");
	char **args = argv + write_mode;
	int nargs = argc - write_mode;
	int count = nargs > 2 ? atoi(args[2]) : 4;
	const char *what = write_mode ? "write" : "read";
	int unbalanced = 0;
	long page = sysconf(_SC_PAGESIZE);
	char *buf;
	int fd;

	if (nargs < 2 || nargs > 3 || count < 1) {
		fprintf(stderr, "usage: legacy_dio_pins [-w] FILE [COUNT]\n");
		return 2;
	}
	fd = open(args[1], (write_mode ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "legacy_dio_pins: open %s O_DIRECT: %s\n", args[1], strerror(errno));
		return 2;
	}
	buf = mmap(NULL, IO_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("legacy_dio_pins: mmap");
		return 2;
	}
	/* a page of its own for every 4 KiB: no zero page, nothing to fault in */
	for (long off = 0; off < IO_SIZE; off += page)
		buf[off] = 1;

	printf("legacy_dio_pins: %s: %d O_DIRECT %ss of %d bytes (%ld pages) at offset 0\n",
	       args[1], count, what, IO_SIZE, IO_SIZE / page);
	for (int i = 1; i <= count; i++) {
		ssize_t n;
		long long acquired, released;

		if (read_pins(&before) < 0)
			return 2;
		n = write_mode ? pwrite(fd, buf, IO_SIZE, 0) : pread(fd, buf, IO_SIZE, 0);
		if (n < 0) {
			fprintf(stderr, "legacy_dio_pins: %s: %s\n", what, strerror(errno));
			return 2;
		}
		if (read_pins(&after) < 0)
			return 2;
		acquired = after.acquired - before.acquired;
		released = after.released - before.released;
		printf("%s %d: %zd bytes, nr_foll_pin_acquired %+lld, nr_foll_pin_released %+lld, net %+lld%s\n",
		       what, i, n, acquired, released, acquired - released,
		       acquired == released ? "" : "  UNBALANCED");
		if (acquired != released)
			unbalanced++;
	}
	close(fd);
	munmap(buf, IO_SIZE);
	if (unbalanced) {
		printf("legacy_dio_pins: %d of %d %ss moved the pin counters out of balance\n",
		       unbalanced, count, what);
		return 1;
	}
	printf("legacy_dio_pins: balanced: every %s moved both counters alike\n", what);
	return 0;
}
