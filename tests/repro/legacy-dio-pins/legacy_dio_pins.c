/* legacy_dio_pins: does an O_DIRECT read move /proc/vmstat's FOLL_PIN
 * counters in balance?  (See REPORT; shares no code with diofs.)
 *
 *   legacy_dio_pins FILE [READS]
 *
 * Reads 64 KiB at offset 0 of FILE with O_DIRECT, READS times (default 4),
 * into a page-aligned anonymous buffer whose pages were written first (no
 * shared zero page), and prints for each read how much nr_foll_pin_acquired
 * and nr_foll_pin_released moved across it.  The counters are refreshed
 * (root: /proc/sys/vm/stat_refresh) before each look, so the figures are
 * exact, but machine-wide: other I/O on the machine adds to them.
 *
 * Exit: 0 every read moved both counters by the same amount, 1 some read
 * did not (printed "UNBALANCED"), 2 an error. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define READ_SIZE (64 * 1024)

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
	int reads = argc > 2 ? atoi(argv[2]) : 4;
	int unbalanced = 0;
	long page = sysconf(_SC_PAGESIZE);
	char *buf;
	int fd;

	if (argc < 2 || argc > 3 || reads < 1) {
		fprintf(stderr, "usage: legacy_dio_pins FILE [READS]\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "legacy_dio_pins: open %s O_DIRECT: %s\n", argv[1], strerror(errno));
		return 2;
	}
	buf = mmap(NULL, READ_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("legacy_dio_pins: mmap");
		return 2;
	}
	/* a page of its own for every 4 KiB: no zero page, nothing to fault in */
	for (long off = 0; off < READ_SIZE; off += page)
		buf[off] = 1;

	printf("legacy_dio_pins: %s: %d O_DIRECT reads of %d bytes (%ld pages) at offset 0\n",
	       argv[1], reads, READ_SIZE, READ_SIZE / page);
	for (int i = 1; i <= reads; i++) {
		ssize_t n;
		long long acquired, released;

		if (read_pins(&before) < 0)
			return 2;
		n = pread(fd, buf, READ_SIZE, 0);
		if (n < 0) {
			fprintf(stderr, "legacy_dio_pins: pread: %s\n", strerror(errno));
			return 2;
		}
		if (read_pins(&after) < 0)
			return 2;
		acquired = after.acquired - before.acquired;
		released = after.released - before.released;
		printf("read %d: %zd bytes, nr_foll_pin_acquired %+lld, nr_foll_pin_released %+lld, net %+lld%s\n",
		       i, n, acquired, released, acquired - released,
		       acquired == released ? "" : "  UNBALANCED");
		if (acquired != released)
			unbalanced++;
	}
	close(fd);
	munmap(buf, READ_SIZE);
	if (unbalanced) {
		printf("legacy_dio_pins: %d of %d reads moved the pin counters out of balance\n",
		       unbalanced, reads);
		return 1;
	}
	printf("legacy_dio_pins: balanced: every read moved both counters alike\n");
	return 0;
}
