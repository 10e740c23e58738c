/* diofs-check --verdict (see verdict.h).  Runs outside the cases: it uses the
 * harness and pinwatch directly. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/verdict.h"
#include "harness/pattern.h"
#include "check/pinwatch.h"
#include "check/premise.h"
#include "harness/mount.h"
#include "harness/pins.h"
#include "proto/errnames.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define LEN (64 * 1024)
#define SEED 41

/* RS_PREMISE: a premise of the route's measurement does not hold here
 * (io_uring disabled, no AIO, huge pages): "not measured", no conclusion. */
enum route_state { RS_PINNED, RS_NOT_PINNED, RS_NO_PIN, RS_DISTURBED, RS_ERROR, RS_PREMISE };

static const char *const state_words[] = {
	[RS_PINNED] = "pinned", [RS_NOT_PINNED] = "not-pinned", [RS_NO_PIN] = "no-pin-expected",
	[RS_DISTURBED] = "disturbed", [RS_ERROR] = "error", [RS_PREMISE] = "not-measured",
};

static const enum io_route verdict_routes[] = {
	ROUTE_PREAD, ROUTE_PREADV, ROUTE_AIO, ROUTE_URING, ROUTE_URING_FIXED, ROUTE_SPLICE,
	ROUTE_SENDFILE,
};
#define NROUTES (sizeof(verdict_routes) / sizeof(*verdict_routes))

struct route_verdict {
	enum io_route route;
	enum route_state state;
	struct pw_result res;
	int64_t held, after;    /* as accepted, else the last attempt's */
	int64_t leak;           /* pins left after completion (pw_result.leak): -1 cannot tell */
	char why[512];          /* RS_ERROR, RS_PREMISE */
};

static struct {
	FILE *out;
	int tsv;                /* fd, -1 without --tsv */
	bool verbose;
	struct diofs_mount m;
	bool own;
	char mnt[PATH_MAX];
	char dir_rel[64];       /* "/verdict.PID" */
	struct diofsctl *ctl;
	char release[128];
} V = { .tsv = -1 };

/* ---- output ------------------------------------------------------------ */

static void tsv(const char *key, const char *value, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void tsv(const char *key, const char *value, const char *fmt, ...)
{
	char detail[1024], line[1600];
	va_list ap;
	int n;

	if (V.tsv < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	for (char *p = detail; *p; p++)
		if (*p == '\t' || *p == '\n')
			*p = ' ';
	n = snprintf(line, sizeof(line), "%s\t%s\t%s\n", key, value, detail);
	if (n > 0 && write(V.tsv, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
		fprintf(stderr, "diofs-check: writing the verdict TSV: %s\n", strerror(errno));
}

static int untestable(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int untestable(const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fprintf(V.out, "kernel %s: could not test: %s\n", V.release, why);
	fflush(V.out);
	tsv("verdict", "untestable", "%s", why);
	return 2;
}

/* In the harness's signal handler, before it unmounts: a verdict that
 * hung still says so.  Async-signal-safe: write(2) only. */
static void on_signal(int sig)
{
	static const char line[] = "verdict\tuntestable\tdiofs-check --verdict was stopped "
				   "(hung, or ended by a signal)\n";
	static const char say[] = "could not test: diofs-check --verdict was stopped (hung, or "
				  "ended by a signal)\n";

	(void)sig;
	if (V.tsv >= 0 && write(V.tsv, line, sizeof(line) - 1) < 0)
		return;
	if (write(STDOUT_FILENO, say, sizeof(say) - 1) < 0)
		return;
}

/* ---- the mount ---------------------------------------------------------- */

static int setup(const struct fixture_config *cfg, char *why, size_t len)
{
	char err[256], path[PATH_MAX + 64];

	V.own = !cfg->mount;
	if (V.own) {
		const char *no = diofs_mount_unavailable();
		if (no) {
			snprintf(why, len, "cannot mount diofs here: %s", no);
			return -1;
		}
		if (diofs_mount_start(&V.m, "", err, sizeof(err)) < 0) {
			snprintf(why, len, "mounting diofs: %s", err);
			return -1;
		}
		snprintf(V.mnt, sizeof(V.mnt), "%s", V.m.mnt);
		V.ctl = diofsctl_connect(V.m.ctl, err, sizeof(err));
	} else {
		if (!realpath(cfg->mount, V.mnt)) {
			snprintf(why, len, "%s: %s", cfg->mount, strerror(errno));
			return -1;
		}
		V.ctl = cfg->socket ? diofsctl_connect(cfg->socket, err, sizeof(err))
				    : diofsctl_connect_mount(V.mnt, err, sizeof(err));
	}
	if (!V.ctl) {
		snprintf(why, len, "no control connection to diofs: %s", err);
		return -1;
	}
	snprintf(V.dir_rel, sizeof(V.dir_rel), "/verdict.%d", (int)getpid());
	snprintf(path, sizeof(path), "%s%s", V.mnt, V.dir_rel);
	if (mkdir(path, 0755) < 0) {
		snprintf(why, len, "mkdir %.300s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void teardown(void)
{
	char path[PATH_MAX + 64];

	if (V.ctl) {
		diofsctl_rule_clear(V.ctl);
		diofsctl_release(V.ctl, 0, "errno=EIO");
		diofsctl_close(V.ctl);
		V.ctl = NULL;
	}
	if (V.own) {
		diofs_mount_stop(&V.m);
	} else {
		snprintf(path, sizeof(path), "%s%s", V.mnt, V.dir_rel);
		diofs_remove_tree(path);
	}
}

/* name: the file under our directory, in the mount / as diofs calls it. */
static const char *mnt_path(const char *name)
{
	static char buf[PATH_MAX + 128];

	snprintf(buf, sizeof(buf), "%s%s/%s", V.mnt, V.dir_rel, name);
	return buf;
}

static const char *fuse_path(const char *name)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s/%s", V.dir_rel, name);
	return buf;
}

/* A file of len bytes of pattern SEED: in the backing directory when the
 * mount is ours (no FUSE traffic), else through the mount. */
static int make_file(const char *name, size_t len, char *why, size_t whylen)
{
	char path[PATH_MAX + 128];
	uint8_t *data = malloc(len);
	int fd;
	ssize_t w;

	if (V.own)
		snprintf(path, sizeof(path), "%s%s/%s", V.m.backing, V.dir_rel, name);
	else
		snprintf(path, sizeof(path), "%s", mnt_path(name));
	if (!data) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	pattern_fill(data, len, 0, SEED);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	w = fd < 0 ? -1 : pwrite(fd, data, len, 0);
	free(data);
	if (fd >= 0)
		close(fd);
	if (w != (ssize_t)len) {
		snprintf(why, whylen, "creating %.300s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- measurements -------------------------------------------------------- */

static int verify_read(struct dio *io, void *arg, char *why, size_t len)
{
	size_t pages = pw_pages(io->buf, io->len);
	size_t good = pw_pages_matching(io->buf, io->len, (uint64_t)io->off, SEED);

	(void)arg;
	if (good == pages)
		return 0;
	snprintf(why, len, "the read returned its count but only %zu of %zu pages hold the "
		 "file's data", good, pages);
	return -1;
}

/* Small pages, every one present (never the zero page): the figures count
 * 4 KiB pages, the fork experiment copies page by page.  NULL with why:
 * errno set (mmap) or a premise that does not hold (errno 0). */
static char *alloc_buf(size_t len, char *why, size_t whylen)
{
	char *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (b == MAP_FAILED) {
		snprintf(why, whylen, "mmap: %s", strerror(errno));
		return NULL;
	}
	madvise(b, len, MADV_NOHUGEPAGE);
	memset(b, 0xa5, len);
	if (premise_small_pages(b, len, why, whylen) != PREMISE_HOLDS) {
		munmap(b, len);
		errno = 0;
		return NULL;
	}
	return b;
}

static void measure_route(struct route_verdict *rv)
{
	const char *key = dio_route_key(rv->route);
	struct dio proto = { .route = rv->route, .len = LEN, .fd = -1 };
	char *buf = NULL;
	int rule = -1;
	int64_t accept[2] = { 0, 0 };

	rv->state = RS_PREMISE;
	if (dio_route_unavailable(rv->route)) {
		snprintf(rv->why, sizeof(rv->why), "%s", dio_route_unavailable(rv->route));
		return;
	}
	buf = alloc_buf(LEN, rv->why, sizeof(rv->why));
	if (!buf) {
		if (errno)
			rv->state = RS_ERROR;
		return;
	}
	rv->state = RS_ERROR;
	if (make_file(key, LEN, rv->why, sizeof(rv->why)) < 0)
		goto out;
	accept[1] = (int64_t)pw_pages(buf, LEN);
	proto.buf = buf;
	proto.fd = open(mnt_path(key), O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (proto.fd < 0) {
		snprintf(rv->why, sizeof(rv->why), "open %.300s: %s", mnt_path(key), strerror(errno));
		goto out;
	}
	rule = diofsctl_rule_add(V.ctl, "hold op=read path=%s", fuse_path(key));
	if (rule < 0) {
		snprintf(rv->why, sizeof(rv->why), "rule add: %s", diofsctl_error(V.ctl));
		goto out;
	}
	/* no case to rerun here: every attempt the counters allow */
	if (pw_measure_n(V.ctl, fuse_path(key), &proto, accept, 2, verify_read, NULL,
			 PW_MAX_ATTEMPTS, &rv->res, rv->why, sizeof(rv->why)) < 0)
		goto out;
	if (rv->res.held_at >= 0) {
		rv->held = rv->res.held_value;
		if (rv->held > 0)
			rv->state = RS_PINNED;
		else
			rv->state = dio_route_user_pages(rv->route) ? RS_NOT_PINNED : RS_NO_PIN;
	} else {
		rv->held = rv->res.a[rv->res.nattempts - 1].held_delta;
		rv->state = RS_DISTURBED;
	}
	rv->after = rv->res.balanced_at >= 0 ? 0 : rv->res.a[rv->res.nattempts - 1].after_delta;
	rv->leak = rv->res.leak;
out:
	if (rule >= 0)
		diofsctl_rule_del(V.ctl, rule);
	if (proto.fd >= 0)
		close(proto.fd);
	if (buf)
		munmap(buf, LEN);
}

static int measure_fork(struct pw_fork_result *fr, char *why, size_t len)
{
	char *buf;
	int fd, rule, ret = -1;

	if (make_file("fork", LEN, why, len) < 0)
		return -1;
	buf = alloc_buf(LEN, why, len);
	if (!buf)
		return errno ? -1 : 1;
	fd = open(mnt_path("fork"), O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "open %.300s: %s", mnt_path("fork"), strerror(errno));
		munmap(buf, LEN);
		return -1;
	}
	rule = diofsctl_rule_add(V.ctl, "hold op=read path=%s", fuse_path("fork"));
	if (rule < 0) {
		snprintf(why, len, "rule add: %s", diofsctl_error(V.ctl));
	} else {
		ret = pw_fork_read(V.ctl, fuse_path("fork"), fd, buf, LEN, SEED, fr, why, len);
		diofsctl_rule_del(V.ctl, rule);
		if (ret == 0 && fr->ret != LEN) {
			snprintf(why, len, "the held read returned %zd%s%s", fr->ret,
				 fr->ret < 0 ? " " : "", fr->ret < 0 ? errno_name(fr->err) : "");
			ret = -1;
		}
	}
	close(fd);
	munmap(buf, LEN);
	return ret;
}

/* ---- the verdict ---------------------------------------------------------- */

static void route_line(const struct route_verdict *rv)
{
	const char *name = dio_route_label(rv->route), *word = state_words[rv->state];
	char figs[2048], fig[512];
	size_t pages = LEN / 4096;

	pw_format(&rv->res, figs, sizeof(figs));
	switch (rv->state) {
	case RS_PINNED:
	case RS_NOT_PINNED:
	case RS_NO_PIN:
		snprintf(fig, sizeof(fig), "%+" PRId64 " pins in flight while a %zu-page read was "
			 "held in diofs, %+" PRId64 " after completion", rv->held, pages, rv->after);
		break;
	case RS_DISTURBED:
		snprintf(fig, sizeof(fig), "no undisturbed measurement in %d attempts (other "
			 "activity moved the counters): last %+" PRId64 " while held, %+" PRId64
			 " after", rv->res.nattempts, rv->held, rv->after);
		break;
	case RS_ERROR:
		snprintf(fig, sizeof(fig), "could not measure: %s", rv->why);
		break;
	case RS_PREMISE:
		snprintf(fig, sizeof(fig), "%s", rv->why);
		break;
	}
	if (rv->route == ROUTE_URING_FIXED && rv->state != RS_ERROR && rv->state != RS_PREMISE) {
		size_t at = strlen(fig);
		snprintf(fig + at, sizeof(fig) - at, "; pinned at registration: %+" PRId64
			 ", %+" PRId64 " left after unregistering", rv->res.reg_pins,
			 rv->res.unreg_left);
	}
	fprintf(V.out, "  %-15s %-15s %s\n", name,
		rv->state == RS_PINNED ? "pinned" : rv->state == RS_NOT_PINNED ? "not pinned"
		: rv->state == RS_NO_PIN ? "no per-I/O pin" : rv->state == RS_DISTURBED
		? "unmeasured" : rv->state == RS_PREMISE ? "not measured:" : "error", fig);
	if (V.verbose && rv->res.nattempts)
		fprintf(V.out, "  %-15s %-15s %s\n", "", "", figs);
	{
		char value[64];
		snprintf(value, sizeof(value), "%s=%s", dio_route_key(rv->route), word);
		tsv("route", value, "%s; attempts: %s", fig, rv->res.nattempts ? figs : "none");
	}
}

int verdict_run(FILE *out, const char *tsv_path, const struct fixture_config *cfg,
		unsigned int timeout)
{
	struct route_verdict rv[NROUTES];
	struct pw_fork_result fr;
	struct utsname u;
	char why[1024], list_pinned[256] = "", list_not[256] = "", list_bad[256] = "";
	char list_unknown[256] = "";
	bool leak_unknown = false;
	const char *no;
	int npinned = 0, nnot = 0, nbad = 0, status, fork_r;
	int64_t leak = 0;
	bool fork_ok, converted;

	V.out = out;
	V.verbose = cfg->verbose;
	uname(&u);
	snprintf(V.release, sizeof(V.release), "%s", u.release);
	if (tsv_path) {
		V.tsv = open(tsv_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (V.tsv < 0) {
			fprintf(stderr, "diofs-check: %s: %s\n", tsv_path, strerror(errno));
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	diofs_mount_install_handlers(on_signal);
	/* the whole verdict gets four cases' time (--timeout) */
	if (timeout)
		alarm(timeout * 4);
	no = pins_unavailable();
	if (no)
		return untestable("pins cannot be counted exactly: %s", no);
	/* every figure counts the pages of one held FUSE request */
	if (premise_max_pages(NULL, LEN, why, sizeof(why)) != PREMISE_HOLDS)
		return untestable("not measured: %s", why);
	if (setup(cfg, why, sizeof(why)) < 0) {
		teardown();
		return untestable("%s", why);
	}
	if (V.verbose)
		fprintf(out, "# diofs at %s%s\n", V.mnt, V.own ? " (mounted for the verdict)" : "");

	for (size_t i = 0; i < NROUTES; i++) {
		memset(&rv[i], 0, sizeof(rv[i]));
		rv[i].route = verdict_routes[i];
		measure_route(&rv[i]);
	}
	fork_r = measure_fork(&fr, why, sizeof(why));
	fork_ok = fork_r == 0;
	teardown();
	alarm(0);

	/* converted: every user-memory route pinned its pages */
	for (size_t i = 0; i < NROUTES; i++) {
		char *list;
		if (!dio_route_user_pages(rv[i].route))
			continue;
		if (rv[i].state == RS_PINNED)
			list = list_pinned, npinned++;
		else if (rv[i].state == RS_NOT_PINNED)
			list = list_not, nnot++;
		else
			list = list_bad, nbad++;
		snprintf(list + strlen(list), 256 - strlen(list), "%s%s", *list ? ", " : "",
			 dio_route_label(rv[i].route));
	}
	for (size_t i = 0; i < NROUTES; i++) {
		if (rv[i].state == RS_ERROR || rv[i].state == RS_PREMISE)
			continue;
		if (rv[i].leak > leak)
			leak = rv[i].leak;
		if (rv[i].leak < 0) {
			leak_unknown = true;
			snprintf(list_unknown + strlen(list_unknown), 256 - strlen(list_unknown),
				 "%s%s", *list_unknown ? ", " : "", dio_route_label(rv[i].route));
		}
	}
	if (!npinned && !nnot) {
		const struct route_verdict *r0 = &rv[0];
		return untestable("no route could be measured (%s: %s)", dio_route_label(r0->route),
				  r0->state == RS_ERROR || r0->state == RS_PREMISE ? r0->why
				  : "disturbed by other activity");
	}
	converted = npinned && !nnot;

	if (converted)
		fprintf(out, "kernel %s: FUSE direct I/O is converted to FOLL_PIN\n", V.release);
	else if (npinned)
		fprintf(out, "kernel %s: FUSE direct I/O is NOT converted to FOLL_PIN: only partly "
			"(pinned: %s; not: %s)\n", V.release, list_pinned, list_not);
	else
		fprintf(out, "kernel %s: FUSE direct I/O is NOT converted to FOLL_PIN (FOLL_GET: "
			"no pins while a request is held)\n", V.release);
	tsv("verdict", converted ? "converted" : "not-converted",
	    "kernel %s; pinned: %s; not pinned: %s%s%s", V.release,
	    *list_pinned ? list_pinned : "none", *list_not ? list_not : "none",
	    nbad ? "; unmeasured: " : "", nbad ? list_bad : "");
	for (size_t i = 0; i < NROUTES; i++)
		route_line(&rv[i]);

	if (fork_ok) {
		size_t lost = fr.pages - fr.parent_kept;
		fprintf(out, "  %-15s parent kept %zu of %zu pages", "fork", fr.parent_kept, fr.pages);
		if (lost)
			fprintf(out, ": lost %zu, the data went to the child (%zu pages)", lost,
				fr.child_got);
		fprintf(out, " (a read held across fork, the parent writing a byte per page; pins "
			"in flight %+" PRId64 " while held, %+" PRId64 " after)\n",
			pw_inflight_delta(&fr.before, &fr.held), pw_inflight_delta(&fr.before, &fr.after));
		{
			char n[32];
			snprintf(n, sizeof(n), "%zu", lost);
			tsv("fork_lost_pages", n, "of %zu", fr.pages);
		}
	} else if (fork_r > 0) {
		fprintf(out, "  %-15s not measured: %s\n", "fork", why);
		tsv("fork_lost_pages", "not-measured", "%s", why);
	} else {
		fprintf(out, "  %-15s could not test: %s\n", "fork", why);
		tsv("fork_lost_pages", "untestable", "%s", why);
	}
	if (leak) {
		fprintf(out, "  %-15s %" PRId64 " pins not released after completion (the same "
			"in most attempts)\n", "leaks", leak);
		snprintf(why, sizeof(why), "%" PRId64, leak);
		tsv("pin_leak", why, "pins in flight left after completion, in most attempts");
	} else if (leak_unknown) {
		fprintf(out, "  %-15s could not tell: no attempt balanced and none agreed (%s; "
			"other activity moved the counters)\n", "leaks", list_unknown);
		tsv("pin_leak", "unmeasured", "no attempt balanced (%s): disturbed by other "
		    "activity", list_unknown);
	} else {
		fprintf(out, "  %-15s none: acquired == released after every request\n", "leaks");
		tsv("pin_leak", "0", "acquired == released after every request");
	}
	if (nbad)
		fprintf(out, "  (unmeasured: %s)\n", list_bad);
	fflush(out);

	status = converted ? 0 : 1;
	if (leak || (fork_ok && fr.parent_kept != fr.pages))
		status = 1;
	if (V.tsv >= 0)
		close(V.tsv);
	return status;
}
