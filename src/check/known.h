/* Known kernel bugs: cases that fail on some kernels because the kernel is
 * wrong, not diofs.  diofs-check still runs them and still says what went
 * wrong; a listed failure is reported KNOWN (a kernel bug, not a failed
 * run) and a listed case that passes says the bug seems fixed.
 *
 * The list (--known-bugs FILE), one entry a line, '#' comments:
 *   SUITE.CASE  KERNEL-GLOB  WHY...
 * KERNEL-GLOB is matched (fnmatch) against uname -r. */
#ifndef DIOFS_CHECK_KNOWN_H
#define DIOFS_CHECK_KNOWN_H

#include <stddef.h>

int known_load(const char *path, char *err, size_t errlen);
/* WHY if suite.name is a known bug on the running kernel, else NULL. */
const char *known_bug(const char *suite, const char *name);

#endif
