#include <config.h>
#include "release.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "errnames.h"
#include "number.h"

enum ctl_release_status ctl_release_parse(const char *word, struct ctl_release *out,
					  char *why, size_t whylen)
{
	uint64_t len;
	int err;

	if (strcmp(word, "reply") == 0) {
		*out = (struct ctl_release){ CTL_RELEASE_REPLY, 0 };
		return CTL_RELEASE_OK;
	}
	if (strncmp(word, "errno=", 6) == 0) {
		err = errno_from_name(word + 6);
		if (err < 0) {
			snprintf(why, whylen, "unknown errno name: %s", word + 6);
			return CTL_RELEASE_BAD_ARG;
		}
		*out = (struct ctl_release){ CTL_RELEASE_ERRNO, err };
		return CTL_RELEASE_OK;
	}
	if (strncmp(word, "short=", 6) == 0) {
		if (parse_number(word + 6, true, &len) != NUM_OK || len > LONG_MAX) {
			snprintf(why, whylen, "bad length: %s", word + 6);
			return CTL_RELEASE_BAD_ARG;
		}
		*out = (struct ctl_release){ CTL_RELEASE_SHORT, (long)len };
		return CTL_RELEASE_OK;
	}
	snprintf(why, whylen, "bad reply: %s (" CTL_RELEASE_MODES ")", word);
	return CTL_RELEASE_NO_MODE;
}
