#include <config.h>
#include "number.h"

#include <string.h>

enum num_status parse_number(const char *s, bool units, uint64_t *out)
{
	size_t n = strlen(s), i = 0;
	uint64_t base = 10, mult = 1, v = 0;

	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (units && n > i) {
		switch (s[n - 1]) {
		case 'k': case 'K': mult = UINT64_C(1) << 10; n--; break;
		case 'm': case 'M': mult = UINT64_C(1) << 20; n--; break;
		case 'g': case 'G': mult = UINT64_C(1) << 30; n--; break;
		}
	}
	if (i == n)
		return NUM_BAD;
	for (; i < n; i++) {
		char ch = s[i];
		uint64_t d;

		if (ch >= '0' && ch <= '9')
			d = (uint64_t)(ch - '0');
		else if (base == 16 && ch >= 'a' && ch <= 'f')
			d = (uint64_t)(ch - 'a' + 10);
		else if (base == 16 && ch >= 'A' && ch <= 'F')
			d = (uint64_t)(ch - 'A' + 10);
		else
			return NUM_BAD;
		if (v > (UINT64_MAX - d) / base)
			return NUM_RANGE;
		v = v * base + d;
	}
	if (v > UINT64_MAX / mult)
		return NUM_RANGE;
	*out = v * mult;
	return NUM_OK;
}
