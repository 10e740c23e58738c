/* The command line: diofs [options] BACKING MOUNTPOINT. */
#ifndef DIOFS_OPTIONS_H
#define DIOFS_OPTIONS_H

#include <fuse_lowlevel.h>

enum options_result { OPTIONS_RUN, OPTIONS_EXIT_OK, OPTIONS_EXIT_ERROR };

/* Fill diofs_cfg from argv and leave in args what libfuse must see.  Every
 * fault is reported as one line on stderr before anything is mounted. */
enum options_result options_parse(int argc, char **argv, struct fuse_args *args);
void options_free(void);

#endif
