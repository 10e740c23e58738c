/* errno values by their names ("EIO"), both ways. */
#ifndef DIOFS_PROTO_ERRNAMES_H
#define DIOFS_PROTO_ERRNAMES_H

int errno_from_name(const char *name); /* -1 if unknown; also takes numbers */
const char *errno_name(int err);        /* "E?" if unknown */

#endif
