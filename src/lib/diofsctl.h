/* The client library of the diofs control channel: what the test clients
 * and diofsctl link.  Every call returns -1 on failure with the reason in
 * diofsctl_error(). */
#ifndef DIOFS_LIB_DIOFSCTL_H
#define DIOFS_LIB_DIOFSCTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/held.h"

struct diofsctl;

/* Connect to the socket at path, or to the one of the diofs mounted at mnt.
 * NULL on failure, with the reason in err; also when the server is neither
 * root nor our effective uid (SO_PEERCRED). */
struct diofsctl *diofsctl_connect(const char *path, char *err, size_t errlen);
struct diofsctl *diofsctl_connect_mount(const char *mnt, char *err, size_t errlen);
void diofsctl_close(struct diofsctl *ctl);
const char *diofsctl_error(const struct diofsctl *ctl);

/* Send one command (printf-style); on "ok N" return N and, if lines is not
 * NULL, the data lines as a NULL-terminated array (free with
 * diofsctl_free_lines).  -1 on "err" or a broken connection. */
int diofsctl_cmd(struct diofsctl *ctl, char ***lines, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void diofsctl_free_lines(char **lines);

/* rule add; returns the rule's id. */
int diofsctl_rule_add(struct diofsctl *ctl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int diofsctl_rule_del(struct diofsctl *ctl, int id);
int diofsctl_rule_clear(struct diofsctl *ctl);

/* Wait until at least min calls are held (timeout_ms; < 0: no limit), then
 * fill up to max entries of out.  Returns the number held, or -1 (timeout
 * included). */
int diofsctl_held(struct diofsctl *ctl, unsigned int min, int timeout_ms,
		  struct diofs_held *out, size_t max);

/* Release id (0: all).  how: NULL or a mode (proto/release.h).
 * Returns the number released. */
int diofsctl_release(struct diofsctl *ctl, uint64_t id, const char *how);

int diofsctl_trace(struct diofsctl *ctl, const char *what); /* on/off/flush */

#endif
