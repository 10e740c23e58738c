/* FOLL_PIN accounting from /proc/vmstat: nr_foll_pin_acquired and
 * nr_foll_pin_released, made exact by writing /proc/sys/vm/stat_refresh. */
#ifndef DIOFS_HARNESS_PINS_H
#define DIOFS_HARNESS_PINS_H

#include <stdbool.h>
#include <stdint.h>

struct pin_counts {
	uint64_t acquired;
	uint64_t released;
};

/* NULL if pins can be read exactly here, else why not. */
const char *pins_unavailable(void);
/* Refresh and read; 0 or -errno. */
int pins_read(struct pin_counts *out);
static inline int64_t pins_in_flight(const struct pin_counts *p)
{
	return (int64_t)(p->acquired - p->released);
}

#endif
