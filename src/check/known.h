/* Known kernel bugs: cases that fail on some kernels because the kernel is
 * wrong, not diofs.  diofs-check still runs them and still says what went
 * wrong; a listed failure is reported KNOWN (a kernel bug, not a failed
 * run), and a listed case that passes is reported KNOWN-FIXED? (the bug did
 * not reproduce: fixed, or the entry's conditions are wrong).
 *
 * The list (--known-bugs FILE), one entry a line, '#' comments:
 *   CASE-GLOB  CONDITION...  : WHY
 * CASE-GLOB (fnmatch) names the cases that look for the bug, as SUITE.CASE.
 * A CONDITION is one of
 *   kernel>=A.B[.C]   kernel<A.B[.C]    the running kernel (uname -r)
 *   route=sync|libaio|io_uring          how the case's I/O enters the kernel
 *   io=read|write
 *   o_direct=yes|no                     the file is opened with O_DIRECT
 *   fopen_direct_io=yes|no              diofs opens it with FOPEN_DIRECT_IO
 *   async_dio=on|off                    the kernel's async DIO (fc->async_dio)
 *   transport=io_uring|dev_fuse         how diofs takes requests (--transport)
 * An entry applies to a case when its name matches, the kernel is in range,
 * and the case states each other condition's fact with that value.  A case
 * states facts in its .facts (the same KEY=VALUE words) and through its
 * mount options: dio=all|none gives fopen_direct_io, async_dio=1|0
 * async_dio, io_uring (--transport uring adds it) transport. */
#ifndef DIOFS_CHECK_KNOWN_H
#define DIOFS_CHECK_KNOWN_H

#include <stddef.h>

struct known_bug {
	char *where;            /* FILE:LINE of the entry */
	char *conditions;       /* as written */
	char *why;
};

/* Load the list; -1 with "FILE:LINE: what is wrong" in err. */
int known_load(const char *path, char *err, size_t errlen);
/* Is facts ("KEY=VALUE ...", NULL: none) well formed?  -1 with why. */
int known_facts_check(const char *facts, char *err, size_t errlen);
/* The entry that applies to case suite.name with these facts and diofs
 * mount options (NULL: none), on the running kernel; NULL if none does. */
const struct known_bug *known_bug(const char *suite, const char *name, const char *facts,
				  const char *mount_opts);
/* Match as if the kernel's release were this (tests); NULL: uname -r. */
void known_set_release(const char *release);
void known_free(void);

#endif
