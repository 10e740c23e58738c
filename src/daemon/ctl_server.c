/* The control socket.  One thread accepts; each connection gets a thread of
 * its own, so a "held" that waits blocks only its own client.  Only the uid
 * the daemon runs as may talk to it (SO_PEERCRED). */
#include <config.h>
#include "ctl_server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "diofs.h"
#include "call_life.h"
#include "clock.h"
#include "engine.h"
#include "holds.h"
#include "proto_fault.h"
#include "rules.h"
#include "trace.h"
#include "uring.h"
#include "proto/ctl.h"
#include "proto/ctldir.h"
#include "proto/number.h"
#include "proto/release.h"

#define HELD_SLICE_MS 100 /* how often a waiting "held" looks for a stop */

struct conn {
	int fd;
	pthread_t thread;
	atomic_bool done;
	struct conn *next;
};

static int listen_fd = -1;
static int wake_pipe[2] = { -1, -1 };
static char *sock_path;
static dev_t sock_dev;
static ino_t sock_ino;
static pthread_t accept_thread;
static bool accept_started;
static atomic_bool stopping;
static pthread_mutex_t conns_mu = PTHREAD_MUTEX_INITIALIZER;
static struct conn *conns;

/* The data lines of an "ok N" answer. */
struct lines {
	char *buf;
	size_t len, cap;
	unsigned int n;
	bool oom;
};

static void lines_add(void *ctx, const char *line)
{
	struct lines *l = ctx;
	size_t n = strlen(line);

	if (l->oom)
		return;
	if (l->len + n + 1 > l->cap) {
		size_t cap = l->cap ? l->cap : 1024;
		char *buf;

		while (cap < l->len + n + 1)
			cap *= 2;
		buf = realloc(l->buf, cap);
		if (!buf) {
			l->oom = true;
			return;
		}
		l->buf = buf;
		l->cap = cap;
	}
	/* A newline in a path would end the line early. */
	for (size_t i = 0; i < n; i++)
		l->buf[l->len + i] = line[i] == '\n' || line[i] == '\r' ? '?' : line[i];
	l->len += n;
	l->buf[l->len++] = '\n';
	l->n++;
}

static void lines_addf(struct lines *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void lines_addf(struct lines *l, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	lines_add(l, line);
}

static bool reply_err(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static bool reply_err(int fd, const char *fmt, ...)
{
	char msg[DIOFS_CTL_LINE_MAX];
	int n = snprintf(msg, sizeof(msg), "err ");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n - 1, fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	strcat(msg, "\n");
	return ctl_send_all(fd, msg, strlen(msg));
}

/* "ok N" and the lines; frees them. */
static bool reply_ok(int fd, struct lines *l)
{
	char head[32];
	bool ok;

	if (l->oom) {
		free(l->buf);
		return reply_err(fd, "out of memory");
	}
	snprintf(head, sizeof(head), "ok %u\n", l->n);
	ok = ctl_send_all(fd, head, strlen(head)) && ctl_send_all(fd, l->buf, l->len);
	free(l->buf);
	return ok;
}

static bool reply_ok_empty(int fd)
{
	return ctl_send_all(fd, "ok 0\n", 5);
}

/* A number without units (ids, counts, milliseconds) of at most max. */
static bool parse_count(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (parse_number(s, false, &v) != NUM_OK || v > max)
		return false;
	*out = v;
	return true;
}

/* The text after the first n words of line. */
static const char *skip_words(const char *line, int n)
{
	while (n--) {
		line += strspn(line, CTL_BLANKS);
		line += strcspn(line, CTL_BLANKS);
	}
	return line + strspn(line, CTL_BLANKS);
}

static bool cmd_rule_add(int fd, const char *text)
{
	struct lines l = { 0 };
	struct rule r;
	char err[256] = "";
	int rid;

	if (!*text)
		return reply_err(fd, "rule add: missing rule (ACTION [MATCH...])");
	if (rule_parse(text, &r, err, sizeof(err)) < 0)
		return reply_err(fd, "rule add: %s", err[0] ? err : "bad rule");
	rid = rules_add(&r);
	if (rid < 0)
		return reply_err(fd, "rule add: %s", strerror(-rid));
	lines_addf(&l, "%d", rid);
	return reply_ok(fd, &l);
}

static bool cmd_rule(int fd, int argc, char **argv)
{
	struct lines l = { 0 };
	uint64_t id;

	if (argc < 2)
		return reply_err(fd, "rule: missing subcommand (" CTL_USAGE_RULE_ADD " | "
				 CTL_USAGE_RULE ")");
	if (strcmp(argv[1], "list") == 0) {
		if (argc > 2)
			return reply_err(fd, "rule list: unexpected argument: %s", argv[2]);
		rules_list(lines_add, &l);
		return reply_ok(fd, &l);
	}
	if (strcmp(argv[1], "del") == 0) {
		if (argc < 3)
			return reply_err(fd, "rule del: missing id");
		if (argc > 3)
			return reply_err(fd, "rule del: unexpected argument: %s", argv[3]);
		if (!parse_count(argv[2], INT_MAX, &id) || id == 0)
			return reply_err(fd, "rule del: bad id: %s", argv[2]);
		if (rules_del((int)id) < 0)
			return reply_err(fd, "rule del: no rule %s", argv[2]);
		return reply_ok_empty(fd);
	}
	if (strcmp(argv[1], "clear") == 0) {
		if (argc > 2)
			return reply_err(fd, "rule clear: unexpected argument: %s", argv[2]);
		rules_clear();
		return reply_ok_empty(fd);
	}
	return reply_err(fd, "rule: unknown subcommand: %s (" CTL_USAGE_RULE_ADD " | "
			 CTL_USAGE_RULE ")", argv[1]);
}

/* Has the client gone away?  Then a waiting "held" can stop.  Only a
 * client that closed both ways: one that shut down its writing half
 * (POLLRDHUP alone) still reads the answer.  Unix sockets report POLLHUP
 * once both halves are shut (unix_poll, SHUTDOWN_MASK). */
static bool peer_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = 0 };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
}

static bool cmd_held(int fd, int argc, char **argv)
{
	uint64_t min = 0, timeout = 0, v;
	bool has_timeout = false;
	struct lines l = { 0 };
	uint64_t start = now_ns();

	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "min=", 4) == 0 && parse_count(argv[i] + 4, UINT_MAX, &v)) {
			min = v;
		} else if (strncmp(argv[i], "timeout=", 8) == 0 &&
			   parse_count(argv[i] + 8, INT_MAX, &v)) {
			timeout = v;
			has_timeout = true;
		} else {
			return reply_err(fd, "held: bad argument: %s (" CTL_USAGE_HELD ")", argv[i]);
		}
	}

	/* Wait in slices: a stopping daemon or a departed client ends it. */
	for (;;) {
		int slice = HELD_SLICE_MS;

		if (has_timeout) {
			uint64_t spent = (now_ns() - start) / 1000000u;

			if (spent >= timeout)
				slice = 0;
			else if (timeout - spent < (uint64_t)slice)
				slice = timeout - spent;
		}
		if (holds_wait(min, slice) == 0)
			break;
		if (atomic_load(&stopping))
			return reply_err(fd, "held: the daemon is stopping");
		if (peer_gone(fd))
			return false;
		if (has_timeout && slice == 0)
			return reply_err(fd, "held: timeout: %u held after %" PRIu64
					 " ms, waited for %" PRIu64, holds_count(),
					 timeout, min);
	}
	holds_list(lines_add, &l);
	return reply_ok(fd, &l);
}

static bool cmd_release(int fd, int argc, char **argv)
{
	/* The daemon's way of answering each mode of proto/release.h. */
	static const enum release_how how_of[] = {
		[CTL_RELEASE_REPLY] = RELEASE_RUN,
		[CTL_RELEASE_ERRNO] = RELEASE_ERRNO,
		[CTL_RELEASE_SHORT] = RELEASE_SHORT,
	};
	struct ctl_release rel = { CTL_RELEASE_REPLY, 0 };
	struct lines l = { 0 };
	const char *why;
	char bad[256];
	uint64_t id = 0;
	int n;

	if (argc < 2)
		return reply_err(fd, "release: missing id (" CTL_USAGE_RELEASE ")");
	if (argc > 3)
		return reply_err(fd, "release: unexpected argument: %s", argv[3]);
	if (strcmp(argv[1], "all") != 0 && (!parse_count(argv[1], UINT64_MAX, &id) || id == 0))
		return reply_err(fd, "release: bad id: %s", argv[1]);
	if (argc == 3 && ctl_release_parse(argv[2], &rel, bad, sizeof(bad)) != CTL_RELEASE_OK)
		return reply_err(fd, "release: %s", bad);
	n = holds_release(id, how_of[rel.mode], rel.arg, &why);
	if (n == -EINVAL)
		return reply_err(fd, "release: %s: %s", argv[2], why);
	if (n < 0)
		return reply_err(fd, "release: %s is not held", argv[1]);
	lines_addf(&l, "%d", n);
	return reply_ok(fd, &l);
}

/* "ping": who answers, for diofsctl ping. */
static bool cmd_ping(int fd, int argc, char **argv)
{
	struct lines l = { 0 };

	lines_addf(&l, "diofs %s pid %d", PACKAGE_VERSION, (int)getpid());
	return reply_ok(fd, &l);
}

/* What INIT negotiated: "init ..." lines (none before INIT). */
static bool cmd_info(int fd, int argc, char **argv)
{
	struct lines l = { 0 };

	engine_info(lines_add, &l);
	return reply_ok(fd, &l);
}

static bool cmd_stats(int fd, int argc, char **argv)
{
	char why[PATH_MAX + 128];
	struct lines l = { 0 };

	engine_transport_line(why, sizeof(why));
	lines_add(&l, why);
	call_stats(lines_add, &l);
	rules_stats(lines_add, &l);
	proto_fault_stats(lines_add, &l);
	lines_addf(&l, "held %u", holds_count());
	if (trace_failure(why, sizeof(why)))
		lines_addf(&l, "trace_error %s", why);
	return reply_ok(fd, &l);
}

/* "register": the queue -o io_uring_hold_register holds registers. */
static bool cmd_register(int fd, int argc, char **argv)
{
	if (!uring_register_release())
		return reply_err(fd, "register: no io_uring queue waits to register "
				 "(-o io_uring,io_uring_hold_register)");
	return reply_ok_empty(fd);
}

/* "trace on FILE [overwrite]".  The file is opened by this thread as the
 * daemon: peer_allowed let in only the daemon's own uid, so that is the
 * asker's own right to create it. */
static bool cmd_trace_on(int fd, int argc, char **argv)
{
	bool overwrite = false;
	char why[512];

	if (argc == 4 && strcmp(argv[3], "overwrite") == 0)
		overwrite = true;
	else if (argc > 3)
		return reply_err(fd, "trace on: unexpected argument: %s (overwrite?)", argv[3]);
	if (argc == 2) {
		trace_set(true);
		if (!trace_is_on())
			return reply_err(fd, "trace on: no trace file (trace on FILE)");
		return reply_ok_empty(fd);
	}
	if (trace_open(argv[2], overwrite, why, sizeof(why)) < 0)
		return reply_err(fd, "trace on: %s", why);
	return reply_ok_empty(fd);
}

static bool cmd_trace(int fd, int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	int err;

	if (argc < 2)
		return reply_err(fd, "trace: missing argument (" CTL_USAGE_TRACE ")");
	if (strcmp(what, "on") == 0)
		return cmd_trace_on(fd, argc, argv);
	if (argc > 2)
		return reply_err(fd, "trace %s: unexpected argument: %s", what, argv[2]);
	if (strcmp(what, "off") == 0) {
		trace_set(false);
		trace_flush();
		return reply_ok_empty(fd);
	}
	if (strcmp(what, "flush") == 0) {
		err = trace_flush();
		if (err == -EBADF)
			return reply_err(fd, "trace flush: no trace file");
		if (err)
			return reply_err(fd, "trace flush: the trace failed: %s", strerror(-err));
		return reply_ok_empty(fd);
	}
	return reply_err(fd, "trace: unknown argument: %s (" CTL_USAGE_TRACE ")", what);
}

/* The commands.  A name is one word or two ("rule add"); the first entry
 * whose name the line starts with runs. */
static const struct command {
	const char *name;
	const char *usage;
	/* Words after the name at most (-1: the handler checks them). */
	int max_args;
	/* Either the words, the command's own first, or, for a command whose
	 * text may have more words than argv holds, the text after its name. */
	bool (*run)(int fd, int argc, char **argv);
	bool (*run_text)(int fd, const char *text);
} commands[] = {
	{ "ping", CTL_USAGE_PING, 0, cmd_ping, NULL },
	{ "rule add", CTL_USAGE_RULE_ADD, -1, NULL, cmd_rule_add },
	{ "rule", CTL_USAGE_RULE, -1, cmd_rule, NULL },
	{ "held", CTL_USAGE_HELD, -1, cmd_held, NULL },
	{ "release", CTL_USAGE_RELEASE, -1, cmd_release, NULL },
	{ "stats", CTL_USAGE_STATS, 0, cmd_stats, NULL },
	{ "info", CTL_USAGE_INFO, 0, cmd_info, NULL },
	{ "trace", CTL_USAGE_TRACE, -1, cmd_trace, NULL },
	{ "register", CTL_USAGE_REGISTER, 0, cmd_register, NULL },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The number of words of name that start line, or 0 if not all do. */
static int name_words(const char *line, const char *name)
{
	int n = 0;

	for (const char *w = name; *w; n++) {
		size_t len = strcspn(w, " ");
		const char *p = skip_words(line, n);

		if (strcspn(p, CTL_BLANKS) != len || strncmp(p, w, len) != 0)
			return 0;
		w += len + (w[len] == ' ');
	}
	return n;
}

static bool reply_unknown(int fd, const char *word)
{
	char names[256] = "";

	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strchr(commands[i].name, ' '))
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 names[0] ? ", " : "", commands[i].name);
	return reply_err(fd, "unknown command: %s (%s)", word, names);
}

/* One command line; false when the connection should end. */
static bool handle(int fd, const char *line)
{
	const struct command *cmd = NULL;
	char copy[DIOFS_CTL_LINE_MAX];
	char *argv[16];
	int argc, words = 0;

	for (size_t i = 0; i < NCOMMANDS && !cmd; i++)
		if ((words = name_words(line, commands[i].name)))
			cmd = &commands[i];
	if (cmd && cmd->run_text)
		return cmd->run_text(fd, skip_words(line, words));

	snprintf(copy, sizeof(copy), "%s", line);
	argc = ctl_split(copy, argv, 16);
	if (argc < 0)
		return reply_err(fd, "%.*s: too many arguments",
				 (int)strcspn(skip_words(line, 0), CTL_BLANKS), skip_words(line, 0));
	if (argc == 0)
		return reply_err(fd, "empty command");
	if (!cmd)
		return reply_unknown(fd, argv[0]);
	if (cmd->max_args >= 0 && argc > words + cmd->max_args)
		return reply_err(fd, "%s: unexpected argument: %s (%s)", cmd->name,
				 argv[words + cmd->max_args], cmd->usage);
	return cmd->run(fd, argc, argv);
}

/* One line (its newline cut off, ll bytes, room for a NUL after it);
 * false when the connection should end. */
static bool handle_line(int fd, char *line, size_t ll)
{
	if (ll && line[ll - 1] == '\r')
		ll--;
	line[ll] = '\0';
	if (memchr(line, '\0', ll))
		return reply_err(fd, "NUL byte in the line");
	return handle(fd, line);
}

static void *conn_main(void *arg)
{
	struct conn *cn = arg;
	char buf[DIOFS_CTL_LINE_MAX + 1];
	size_t len = 0;
	bool skipping = false; /* the rest of a line too long */

	pthread_setname_np(pthread_self(), "diofs-ctl"); /* one per client */
	while (!atomic_load(&stopping)) {
		ssize_t n = read(cn->fd, buf + len, sizeof(buf) - 1 - len);
		size_t start = 0;
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		/* End of input (the client may have shut down only its
		 * writing half and still read): a last line without its
		 * newline is a command too; answered, then done. */
		if (n == 0 && len && !skipping)
			handle_line(cn->fd, buf, len);
		if (n <= 0)
			break;
		len += n;
		while ((nl = memchr(buf + start, '\n', len - start))) {
			char *line = buf + start;
			size_t ll = nl - line;

			start += ll + 1;
			if (skipping) {
				skipping = false;
				continue;
			}
			if (!handle_line(cn->fd, line, ll))
				goto out;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
		if (len == sizeof(buf) - 1) {
			if (!skipping && !reply_err(cn->fd, "line too long"))
				break;
			skipping = true;
			len = 0;
		}
	}
out:
	/* The client sees its end of input now (one that half-closed waits
	 * for it), not when the next connection reaps this one. */
	shutdown(cn->fd, SHUT_RDWR);
	atomic_store(&cn->done, true);
	return NULL;
}

/* Join and free finished connections, or all of them: their reads are shut
 * first, so that a waiting "held" can still say that the daemon stops; one
 * that does not end within a second (stuck sending) is cut off. */
static void reap(bool all)
{
	struct conn **pp, *cn, *gone = NULL;
	struct timespec deadline;

	pthread_mutex_lock(&conns_mu);
	for (pp = &conns; (cn = *pp);) {
		if (all || atomic_load(&cn->done)) {
			*pp = cn->next;
			cn->next = gone;
			gone = cn;
			if (all)
				shutdown(cn->fd, SHUT_RD);
		} else {
			pp = &cn->next;
		}
	}
	pthread_mutex_unlock(&conns_mu);

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 1;
	while ((cn = gone)) {
		gone = cn->next;
		if (pthread_timedjoin_np(cn->thread, NULL, &deadline) != 0) {
			shutdown(cn->fd, SHUT_RDWR);
			pthread_join(cn->thread, NULL);
		}
		close(cn->fd); /* only now: the fd number stays ours until joined */
		free(cn);
	}
}

static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char msg[128];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	if (cred.uid == getuid())
		return true;
	snprintf(msg, sizeof(msg),
		 "err permission denied: uid %u is not the mounting user\n",
		 (unsigned int)cred.uid);
	ctl_send_all(fd, msg, strlen(msg));
	return false;
}

static void *accept_main(void *arg)
{
	struct pollfd pfd[2] = {
		{ .fd = listen_fd, .events = POLLIN },
		{ .fd = wake_pipe[0], .events = POLLIN },
	};

	while (!atomic_load(&stopping)) {
		struct conn *cn;
		int fd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			    errno == ENOBUFS)
				poll(NULL, 0, 100); /* out of fds: wait, retry */
			continue;
		}
		reap(false);
		if (!peer_allowed(fd)) {
			close(fd);
			continue;
		}
		cn = calloc(1, sizeof(*cn));
		if (!cn) {
			close(fd);
			continue;
		}
		cn->fd = fd;
		pthread_mutex_lock(&conns_mu);
		if (pthread_create(&cn->thread, NULL, conn_main, cn) != 0) {
			pthread_mutex_unlock(&conns_mu);
			reply_err(fd, "out of threads");
			close(fd);
			free(cn);
			continue;
		}
		cn->next = conns;
		conns = cn;
		pthread_mutex_unlock(&conns_mu);
	}
	return NULL;
}

/* Create dir and its missing parents, 0700 (what exists is judged by
 * ctl_check_dir after). */
static int make_dirs(const char *dir)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

/* A socket file at path: is a daemon behind it?  Replace it only if not. */
static int clear_stale(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	ret = ret == 0 ? -EADDRINUSE : errno == ECONNREFUSED ? 0 : -errno;
	close(fd);
	if (ret == 0 && unlink(path) < 0 && errno != ENOENT)
		ret = -errno;
	return ret;
}

/* Bind fd to a name beside path that nothing else uses. */
static int bind_temporary(int fd, const char *path, struct sockaddr_un *tmp)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) : 1;

	*tmp = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (snprintf(tmp->sun_path, sizeof(tmp->sun_path), "%.*s/.diofs-ctl-%d",
		     dirlen, slash ? path : ".", (int)getpid()) >= (int)sizeof(tmp->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	unlink(tmp->sun_path); /* a leftover of a daemon that had our pid */
	return bind(fd, (struct sockaddr *)tmp, sizeof(*tmp));
}

int ctl_server_listen(const char *path, char *why, size_t whylen)
{
	char defpath[PATH_MAX], defdir[PATH_MAX], dir[PATH_MAX];
	struct sockaddr_un sa = { .sun_family = AF_UNIX }, tmp;
	struct stat st;
	const char *slash;
	int ret, made = 0;

	*why = '\0';
	if (!path) {
		ret = ctl_default_path(diofs_cfg.mountpoint, defpath, sizeof(defpath));
		if (ret)
			return ret;
		path = defpath;
	}
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);

	/* Our default directory is made here; another one must exist.  Either
	 * way nobody else may be able to put a socket of theirs in its place. */
	slash = strrchr(path, '/');
	if (!slash)
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (ctl_default_dir(defdir, sizeof(defdir)) == 0 && strcmp(defdir, dir) == 0)
		made = make_dirs(defdir);
	ret = ctl_check_dir(dir, geteuid(), why, whylen);
	/* A directory in the way that is not ours says more than mkdir's
	 * EACCES under it. */
	if (made && ret != -EPERM) {
		*why = '\0';
		return made;
	}
	if (ret)
		return ret;
	ret = clear_stale(path, &sa);
	if (ret)
		return ret;

	sock_path = strdup(path);
	if (!sock_path)
		return -ENOMEM;
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (listen_fd < 0)
		goto fail;
	/* The socket appears at path only when it is ready: bound under a
	 * temporary name (0600 from the start: unix_bind takes the inode's
	 * mode), listening, then renamed into place, so that a client that
	 * waits for the file never finds it refusing connections. */
	if (fchmod(listen_fd, 0600) < 0 || bind_temporary(listen_fd, path, &tmp) < 0)
		goto fail;
	if (listen(listen_fd, 64) < 0 || rename(tmp.sun_path, path) < 0) {
		ret = -errno;
		unlink(tmp.sun_path);
		errno = -ret;
		goto fail;
	}
	if (stat(path, &st) < 0)
		goto fail_unlink;
	sock_dev = st.st_dev;
	sock_ino = st.st_ino;
	return 0;

fail_unlink:
	ret = -errno;
	unlink(path);
	goto out;
fail:
	ret = -errno;
out:
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
	free(sock_path);
	sock_path = NULL;
	return ret;
}

int ctl_server_run(void)
{
	int err;

	if (pipe2(wake_pipe, O_CLOEXEC) < 0)
		return -errno;
	atomic_store(&stopping, false);
	err = pthread_create(&accept_thread, NULL, accept_main, NULL);
	if (err) {
		close(wake_pipe[0]);
		close(wake_pipe[1]);
		wake_pipe[0] = wake_pipe[1] = -1;
		return -err;
	}
	accept_started = true;
	return 0;
}

void ctl_server_stop(void)
{
	struct stat st;

	if (listen_fd < 0)
		return;
	if (accept_started) {
		atomic_store(&stopping, true);
		if (write(wake_pipe[1], "x", 1) < 0)
			perror("diofs: waking the control server");
		pthread_join(accept_thread, NULL);
		accept_started = false;
		close(wake_pipe[0]);
		close(wake_pipe[1]);
		wake_pipe[0] = wake_pipe[1] = -1;
	}
	close(listen_fd);
	listen_fd = -1;

	/* Unlink it only if it is still the socket we made. */
	if (stat(sock_path, &st) == 0 && st.st_dev == sock_dev && st.st_ino == sock_ino)
		unlink(sock_path);
	free(sock_path);
	sock_path = NULL;

	reap(true);
}
