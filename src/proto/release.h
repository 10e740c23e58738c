/* How "release" answers the calls it lets go: "reply" (run them: the
 * default), "errno=NAME" (fail them with that errno, a name or a number)
 * or "short=N" (reads and writes: reply N bytes at most; N may have k/m/g). */
#ifndef DIOFS_PROTO_RELEASE_H
#define DIOFS_PROTO_RELEASE_H

#include <stddef.h>

#define CTL_RELEASE_MODES "reply | errno=NAME | short=N"

enum ctl_release_mode { CTL_RELEASE_REPLY, CTL_RELEASE_ERRNO, CTL_RELEASE_SHORT };

struct ctl_release {
	enum ctl_release_mode mode;
	long arg; /* the errno, or the length */
};

enum ctl_release_status {
	CTL_RELEASE_OK,
	CTL_RELEASE_NO_MODE, /* word names none of the modes */
	CTL_RELEASE_BAD_ARG, /* a mode, with a value it cannot take */
};

/* word into *out; why (if whylen) says what is wrong when not OK. */
enum ctl_release_status ctl_release_parse(const char *word, struct ctl_release *out,
					  char *why, size_t whylen);

#endif
