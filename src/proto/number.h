/* Numbers as the control protocol and the rule language write them:
 * decimal or 0x hex, and where a size is meant an optional k, m or g
 * (powers of 1024): "64k", "0x10", "1g". */
#ifndef DIOFS_PROTO_NUMBER_H
#define DIOFS_PROTO_NUMBER_H

#include <stdbool.h>
#include <stdint.h>

enum num_status { NUM_OK, NUM_BAD, NUM_RANGE };

/* s into *out (untouched unless NUM_OK); units: the k/m/g suffix allowed.
 * NUM_BAD: not a number; NUM_RANGE: more than 64 bits. */
enum num_status parse_number(const char *s, bool units, uint64_t *out);

#endif
