/* The control protocol, shared by the daemon and its clients.
 *
 * A client sends one command per line (at most DIOFS_CTL_LINE_MAX bytes).
 * The daemon answers each with either
 *     ok N            followed by N data lines
 * or
 *     err MESSAGE     naming what was wrong; the connection stays usable.
 *
 * Numbers: decimal or 0x hex; lengths may have k, m or g (proto/number.h).
 * Commands:
 *   ping
 *   rule add ACTION [MATCH...]     data: the rule's id
 *   rule list                      data: "ID matched=N acted=N RULE"
 *   rule del ID | rule clear
 *   held [min=N] [timeout=MS]      wait for N held (default 0), then list:
 *                                  "id=N op=NAME off=N size=N pid=N unique=N path=PATH"
 *                                  (proto/held.h)
 *   release ID|all [reply | errno=NAME | short=N]   data: count released
 *                                  (proto/release.h)
 *   stats                          data: "op NAME count=N errors=N" and
 *                                  "rule ID matched=N acted=N"
 *   info                           data: "init ..." lines, what INIT
 *                                  negotiated with the kernel
 *   trace on [FILE [overwrite]] | trace off | trace flush
 *                                  FILE: new, 0600, no symbolic link; with
 *                                  overwrite it may be an existing regular file
 *
 * A client may shut down its writing half after its last command: every
 * command is answered, a last line without its newline included.  The
 * socket's directories are checked (proto/ctldir.h); a client checks that
 * the server is root or its own uid.
 *
 * The default socket path for a mount point MNT is
 *   RUNDIR/diofs/HASH.sock
 * RUNDIR: /run for root, else $XDG_RUNTIME_DIR, else /tmp/diofs-UID;
 * HASH: 16 hex digits of FNV-1a 64 over realpath(MNT). */
#ifndef DIOFS_PROTO_CTL_H
#define DIOFS_PROTO_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "release.h"

#define DIOFS_CTL_LINE_MAX 4096

/* The commands' syntax, for the daemon's table and messages and diofsctl's
 * usage. */
#define CTL_USAGE_PING "ping"
#define CTL_USAGE_RULE_ADD "rule add ACTION [MATCH...]"
#define CTL_USAGE_RULE "rule list | rule del ID | rule clear"
#define CTL_USAGE_HELD "held [min=N] [timeout=MS]"
#define CTL_USAGE_RELEASE "release ID|all [" CTL_RELEASE_MODES "]"
#define CTL_USAGE_STATS "stats"
#define CTL_USAGE_INFO "info"
#define CTL_USAGE_REGISTER "register"
#define CTL_USAGE_TRACE "trace on [FILE [overwrite]] | trace off | trace flush"

/* The default socket path for mountpoint mnt into buf; 0 or -errno. */
int ctl_default_path(const char *mnt, char *buf, size_t len);
/* The directory that holds it (created 0700 by the daemon). */
int ctl_default_dir(char *buf, size_t len);

/* Send all len bytes of buf on socket fd (no SIGPIPE; EINTR retried).
 * false with errno set if the connection broke. */
bool ctl_send_all(int fd, const void *buf, size_t len);

/* What separates words. */
#define CTL_BLANKS " \t\r\n\v\f"

/* Split line in place into at most max words; returns the count, or -1 if
 * there are more. */
int ctl_split(char *line, char **argv, int max);

#endif
