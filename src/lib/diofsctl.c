/* The control client: one command out, "ok N" and N lines (or "err MSG")
 * back. */
#include <config.h>
#include "diofsctl.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/ctl.h"

struct diofsctl {
	int fd;
	char *rbuf;         /* bytes read, not yet handed out as lines */
	size_t rlen, rcap;
	char err[512];
};

static void set_err(struct diofsctl *ctl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_err(struct diofsctl *ctl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctl->err, sizeof(ctl->err), fmt, ap);
	va_end(ap);
}

/* Who answers must be root or us: anyone else could have put a socket of
 * theirs where we looked, to read our commands and answer them falsely. */
static bool server_trusted(int fd, const char *path, char *err, size_t errlen)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		snprintf(err, errlen, "%s: the server's credentials: %s", path, strerror(errno));
		return false;
	}
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	snprintf(err, errlen, "%s is served by uid %u (pid %d), neither root nor uid %u: "
		 "refusing to talk to it", path, (unsigned int)cred.uid, (int)cred.pid,
		 (unsigned int)geteuid());
	return false;
}

struct diofsctl *diofsctl_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct diofsctl *ctl;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "connecting to %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!server_trusted(fd, path, err, errlen)) {
		close(fd);
		return NULL;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return NULL;
	}
	ctl->fd = fd;
	return ctl;
}

struct diofsctl *diofsctl_connect_mount(const char *mnt, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int ret = ctl_default_path(mnt, path, sizeof(path));

	if (ret) {
		snprintf(err, errlen, "the control socket of %s: %s", mnt, strerror(-ret));
		return NULL;
	}
	return diofsctl_connect(path, err, errlen);
}

void diofsctl_close(struct diofsctl *ctl)
{
	if (!ctl)
		return;
	close(ctl->fd);
	free(ctl->rbuf);
	free(ctl);
}

const char *diofsctl_error(const struct diofsctl *ctl)
{
	return ctl->err;
}

/* The next line from the daemon, without its newline, malloc'ed; NULL if
 * the connection broke. */
static char *read_line(struct diofsctl *ctl)
{
	for (;;) {
		char *nl = ctl->rlen ? memchr(ctl->rbuf, '\n', ctl->rlen) : NULL;

		if (nl) {
			size_t n = nl - ctl->rbuf;
			char *line = malloc(n + 1);

			if (!line) {
				set_err(ctl, "out of memory");
				return NULL;
			}
			memcpy(line, ctl->rbuf, n);
			line[n] = '\0';
			ctl->rlen -= n + 1;
			memmove(ctl->rbuf, nl + 1, ctl->rlen);
			return line;
		}
		if (ctl->rlen == ctl->rcap) {
			size_t cap = ctl->rcap ? 2 * ctl->rcap : 8192;
			char *buf = realloc(ctl->rbuf, cap);

			if (!buf) {
				set_err(ctl, "out of memory");
				return NULL;
			}
			ctl->rbuf = buf;
			ctl->rcap = cap;
		}
		ssize_t r = read(ctl->fd, ctl->rbuf + ctl->rlen, ctl->rcap - ctl->rlen);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			set_err(ctl, "the daemon closed the connection%s%s",
				r < 0 ? ": " : "", r < 0 ? strerror(errno) : "");
			return NULL;
		}
		ctl->rlen += r;
	}
}

void diofsctl_free_lines(char **lines)
{
	if (!lines)
		return;
	for (char **l = lines; *l; l++)
		free(*l);
	free(lines);
}

static int vcmd(struct diofsctl *ctl, char ***lines, const char *fmt, va_list ap)
{
	char cmd[DIOFS_CTL_LINE_MAX + 1];
	char *head, **out = NULL;
	int n, count;

	if (lines)
		*lines = NULL;
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	if (n < 0 || n >= DIOFS_CTL_LINE_MAX) {
		set_err(ctl, "command too long");
		return -1;
	}
	if (strpbrk(cmd, "\n\r")) {
		set_err(ctl, "a command is one line");
		return -1;
	}
	cmd[n++] = '\n';
	if (!ctl_send_all(ctl->fd, cmd, n)) {
		/* A daemon that refuses us says why, then closes. */
		char saved[sizeof(ctl->err)];
		int err = errno;

		set_err(ctl, "sending to the daemon: %s", strerror(err));
		memcpy(saved, ctl->err, sizeof(saved));
		head = err == EPIPE ? read_line(ctl) : NULL;
		if (head && strncmp(head, "err ", 4) == 0)
			set_err(ctl, "%s", head + 4);
		else
			memcpy(ctl->err, saved, sizeof(saved));
		free(head);
		return -1;
	}

	head = read_line(ctl);
	if (!head)
		return -1;
	if (strncmp(head, "err", 3) == 0 && (head[3] == ' ' || !head[3])) {
		set_err(ctl, "%s", head[3] ? head + 4 : "error");
		free(head);
		return -1;
	}
	if (sscanf(head, "ok %d", &count) != 1 || count < 0) {
		set_err(ctl, "unexpected answer: %s", head);
		free(head);
		return -1;
	}
	free(head);

	/* Read every data line, even if the caller wants none: the next
	 * answer must start on a fresh line. */
	if (lines) {
		out = calloc((size_t)count + 1, sizeof(*out));
		if (!out) {
			set_err(ctl, "out of memory");
			return -1; /* the stream is out of step: close it */
		}
	}
	for (int i = 0; i < count; i++) {
		char *line = read_line(ctl);

		if (!line) {
			diofsctl_free_lines(out);
			return -1;
		}
		if (out)
			out[i] = line;
		else
			free(line);
	}
	if (lines)
		*lines = out;
	return count;
}

int diofsctl_cmd(struct diofsctl *ctl, char ***lines, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vcmd(ctl, lines, fmt, ap);
	va_end(ap);
	return n;
}

/* A command whose one data line is a number. */
static int cmd_number(struct diofsctl *ctl, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int cmd_number(struct diofsctl *ctl, const char *what, const char *fmt, ...)
{
	char **lines, *end;
	va_list ap;
	long v;
	int n;

	va_start(ap, fmt);
	n = vcmd(ctl, &lines, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (n != 1) {
		set_err(ctl, "%s: expected one line, got %d", what, n);
		diofsctl_free_lines(lines);
		return -1;
	}
	errno = 0;
	v = strtol(lines[0], &end, 10);
	if (errno || end == lines[0] || *end || v < 0 || v > INT_MAX) {
		set_err(ctl, "%s: not a number: %s", what, lines[0]);
		diofsctl_free_lines(lines);
		return -1;
	}
	diofsctl_free_lines(lines);
	return (int)v;
}

int diofsctl_rule_add(struct diofsctl *ctl, const char *fmt, ...)
{
	char rule[DIOFS_CTL_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rule, sizeof(rule), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(rule)) {
		set_err(ctl, "rule too long");
		return -1;
	}
	return cmd_number(ctl, "rule add", "rule add %s", rule);
}

int diofsctl_rule_del(struct diofsctl *ctl, int id)
{
	return diofsctl_cmd(ctl, NULL, "rule del %d", id) < 0 ? -1 : 0;
}

int diofsctl_rule_clear(struct diofsctl *ctl)
{
	return diofsctl_cmd(ctl, NULL, "rule clear") < 0 ? -1 : 0;
}

int diofsctl_held(struct diofsctl *ctl, unsigned int min, int timeout_ms,
		  struct diofs_held *out, size_t max)
{
	char **lines;
	int n;

	if (timeout_ms >= 0)
		n = diofsctl_cmd(ctl, &lines, "held min=%u timeout=%d", min, timeout_ms);
	else
		n = diofsctl_cmd(ctl, &lines, "held min=%u", min);
	if (n < 0)
		return -1;
	for (int i = 0; i < n && (size_t)i < max; i++) {
		if (ctl_held_parse(lines[i], &out[i]) < 0) {
			set_err(ctl, "held: bad line: %s", lines[i]);
			diofsctl_free_lines(lines);
			return -1;
		}
	}
	diofsctl_free_lines(lines);
	return n;
}

int diofsctl_release(struct diofsctl *ctl, uint64_t id, const char *how)
{
	char ids[24];

	if (id)
		snprintf(ids, sizeof(ids), "%" PRIu64, id);
	else
		strcpy(ids, "all");
	return cmd_number(ctl, "release", "release %s%s%s", ids, how ? " " : "",
			  how ? how : "");
}

int diofsctl_trace(struct diofsctl *ctl, const char *what)
{
	return diofsctl_cmd(ctl, NULL, "trace %s", what) < 0 ? -1 : 0;
}
