/* The daemon's clock: CLOCK_MONOTONIC in nanoseconds, for when a request
 * came, the deadlines of parked calls, and the trace. */
#ifndef DIOFS_CLOCK_H
#define DIOFS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif
