/* Shared by the soak programs: see soak.h. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "soak.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "soak";
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

#define MAX_FIGURES 96
static struct figure {
	char name[64];
	uint64_t value;
	char text[160]; /* set: a text figure */
} figures[MAX_FIGURES];
static int nfigures;
static pthread_mutex_t fig_mu = PTHREAD_MUTEX_INITIALIZER;

uint64_t soak_derive(uint64_t seed, uint64_t a, uint64_t b)
{
	uint64_t s = seed ^ (a * 0x100000001b3ULL) ^ (b << 32 | b >> 32);

	soak_next(&s);
	return soak_next(&s);
}

static void vsay(const char *tag, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	pthread_mutex_lock(&out_mu);
	printf("%s%s\n", tag, line);
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
}

void soak_note(const char *fmt, ...)
{
	char tag[96];
	va_list ap;

	snprintf(tag, sizeof(tag), "%s: ", prog);
	va_start(ap, fmt);
	vsay(tag, fmt, ap);
	va_end(ap);
}

static struct figure *figure_get(const char *name)
{
	for (int i = 0; i < nfigures; i++)
		if (!strcmp(figures[i].name, name))
			return &figures[i];
	if (nfigures == MAX_FIGURES)
		return NULL;
	snprintf(figures[nfigures].name, sizeof(figures[nfigures].name), "%s", name);
	return &figures[nfigures++];
}

void soak_figure_set(const char *name, uint64_t value)
{
	pthread_mutex_lock(&fig_mu);
	struct figure *f = figure_get(name);
	if (f)
		f->value = value;
	pthread_mutex_unlock(&fig_mu);
}

void soak_figure_add(const char *name, uint64_t delta)
{
	pthread_mutex_lock(&fig_mu);
	struct figure *f = figure_get(name);
	if (f)
		f->value += delta;
	pthread_mutex_unlock(&fig_mu);
}

void soak_figure_str(const char *name, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&fig_mu);
	struct figure *f = figure_get(name);
	if (f) {
		va_start(ap, fmt);
		vsnprintf(f->text, sizeof(f->text), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&fig_mu);
}

void soak_figure_each(const char *prefix, const char *const names[], const atomic_ulong counts[],
		      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char name[64];

		snprintf(name, sizeof(name), "%s_%s", prefix, names[i]);
		soak_figure_set(name, atomic_load(&counts[i]));
	}
}

/* When the case ends, on every path. */
static void print_figures(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&fig_mu);
	pthread_mutex_lock(&out_mu);
	printf("%s: figures\n", prog);
	for (int i = 0; i < nfigures; i++) {
		if (figures[i].text[0])
			printf("figure: %s.%s %s\n", prog, figures[i].name, figures[i].text);
		else
			printf("figure: %s.%s %" PRIu64 "\n", prog, figures[i].name,
			       figures[i].value);
	}
	printf("%s: %u failed\n", prog, test_failures());
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
	pthread_mutex_unlock(&fig_mu);
}

void soak_dump_tasks(pid_t pid, const char *label)
{
	char dir[64], path[400], line[256];
	DIR *d;
	struct dirent *e;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	d = opendir(dir);
	if (!d)
		return;
	pthread_mutex_lock(&out_mu);
	printf("%s: threads of %s (pid %d), where each waits:\n", prog, label, (int)pid);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char comm[64] = "?";
		snprintf(path, sizeof(path), "%s/%s/comm", dir, e->d_name);
		FILE *f = fopen(path, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		printf("  tid %s (%s):", e->d_name, comm);
		snprintf(path, sizeof(path), "%s/%s/stack", dir, e->d_name);
		f = fopen(path, "re");
		int n = 0;
		while (f && n < 6 && fgets(line, sizeof(line), f)) {
			char *sym = strchr(line, ']');
			line[strcspn(line, "\n")] = '\0';
			printf(" %s", sym ? sym + 2 : line);
			n++;
		}
		if (f)
			fclose(f);
		printf("\n");
	}
	closedir(d);
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
}

/* ---- options, the run ---------------------------------------------------- */

static uint64_t parse_u64(const char *what, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "%s: bad %s: %s\n", prog, what, s);
		exit(2);
	}
	return v;
}

void soak_init(const char *name, int argc, char **argv, struct soak_opts *o,
	       unsigned int default_seconds, unsigned int short_seconds)
{
	const char *env;
	bool seconds_given = false;

	prog = name;
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(o, 0, sizeof(*o));
	o->seed = 20220207; /* the day of the FOLL_PIN RFC; any fixed value */
	if ((env = getenv("SOAK_SEED")) && *env)
		o->seed = parse_u64("SOAK_SEED", env);
	if ((env = getenv("SOAK_SHORT")) && *env && strcmp(env, "0"))
		o->is_short = true;
	if ((env = getenv("SOAK_SECONDS")) && *env) {
		o->seconds = (unsigned int)parse_u64("SOAK_SECONDS", env);
		seconds_given = true;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--short")) {
			o->is_short = true;
		} else if (!strcmp(argv[i], "--long")) {
			o->is_short = false;
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			o->seed = parse_u64("seed", argv[++i]);
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			o->seconds = (unsigned int)parse_u64("seconds", argv[++i]);
			seconds_given = true;
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			o->threads = (unsigned int)parse_u64("threads", argv[++i]);
		} else {
			fprintf(stderr, "usage: %s [--short|--long] [--seed N] [--seconds N] "
				"[--threads N]\n", name);
			exit(2);
		}
	}
	if (!seconds_given)
		o->seconds = o->is_short ? short_seconds : default_seconds;
	if (o->seconds)
		printf("%s: seed %" PRIu64 " (repeat with --seed %" PRIu64 "), %s form, %u s\n",
		       prog, o->seed, o->seed, o->is_short ? "short" : "long", o->seconds);
	else
		printf("%s: seed %" PRIu64 " (repeat with --seed %" PRIu64 "), %s form\n",
		       prog, o->seed, o->seed, o->is_short ? "short" : "long");
	soak_figure_set("seed", o->seed);
}

unsigned int soak_threads(const struct soak_opts *o, unsigned int short_n, unsigned int long_n,
			  unsigned int max)
{
	unsigned int n = o->threads ? o->threads : o->is_short ? short_n : long_n;

	return n < max ? n : max;
}

void soak_require_mount(void)
{
	const char *why = diofs_mount_unavailable();

	if (why) {
		printf("SKIP: %s: %s\n", prog, why);
		exit(77);
	}
}

static void (*run_body)(void);

static void run_case(void)
{
	test_defer(print_figures, NULL);
	run_body();
}

int soak_run(void (*body)(void), unsigned int timeout_s)
{
	struct test_case c = { .name = prog, .fn = run_case };
	/* failures printed as they happen, with what led to them */
	struct test_run_opts o = { .timeout_s = timeout_s, .echo = true };
	struct test_result r;

	run_body = body;
	test_run_case(&c, &o, &r);
	switch (r.status) {
	case TEST_PASS:
		return 0;
	case TEST_SKIP:
		printf("SKIP: %s: %s\n", prog, r.reason);
		return 77;
	case TEST_FAIL:
		break;
	}
	if (!r.ended)   /* what only the parent saw: a hang, a crash */
		printf("FAIL: %s: %s\n", prog, r.reason);
	return 1;
}

void soak_mount(struct diofs_mount *m, const char *opts)
{
	char err[1024];

	if (diofs_mount_start(m, opts, err, sizeof(err)) < 0)
		CHECK_FATALF("mount: %s", err);
}

/* ---- daemon restart --------------------------------------------------------- */

int soak_daemon_stop(struct diofs_mount *m, int sig, char *err, size_t errlen)
{
	if (m->pid > 0) {
		kill(m->pid, sig);
		if (!diofs_wait_exit(m->pid, 10000, NULL)) {
			snprintf(err, errlen, "daemon %d did not end after signal %d", (int)m->pid, sig);
			return -1;
		}
		m->pid = 0;
	}
	if (umount2(m->mnt, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) {
		snprintf(err, errlen, "umount %s: %s", m->mnt, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- data ---------------------------------------------------------------- */

void *soak_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0x5a, len); /* fault in: the zero page is never pinned */
	return p;
}

/* All of len at off, again after EINTR and short transfers. */
static int rw_all(bool write, int fd, void *buf, size_t len, off_t off)
{
	for (size_t done = 0; done < len;) {
		char *at = (char *)buf + done;
		ssize_t n = write ? pwrite(fd, at, len - done, off + (off_t)done)
				  : pread(fd, at, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int soak_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	return rw_all(true, fd, (void *)buf, len, off);
}

int soak_pread_all(int fd, void *buf, size_t len, off_t off)
{
	return rw_all(false, fd, buf, len, off);
}

void soak_file_create(const struct diofs_mount *m, const char *name, const void *data,
		      size_t size, int *fd, int *bfd)
{
	int cfd = open(diofs_mnt_path(m, name), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int r = cfd < 0 ? -errno : soak_pwrite_all(cfd, data, size, 0);

	if (!r && fsync(cfd) < 0)
		r = -errno;
	if (r)
		CHECK_FATALF("creating /%s: %s", name, strerror(-r));
	close(cfd);
	*fd = open(diofs_mnt_path(m, name), O_RDWR | O_DIRECT | O_CLOEXEC);
	*bfd = open(diofs_backing_path(m, name), O_RDONLY | O_CLOEXEC);
	if (*fd < 0 || *bfd < 0)
		CHECK_FATALF("opening /%s: %s", name, strerror(errno));
}

size_t soak_diff(const void *a, const void *b, size_t len)
{
	const unsigned char *x = a, *y = b;
	size_t n = 0;

	if (!memcmp(a, b, len))
		return 0;
	for (size_t i = 0; i < len; i++)
		n += x[i] != y[i];
	return n;
}

bool soak_kernel_pins(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 9);
}
