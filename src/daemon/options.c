#include <config.h>
#include "options.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diofs.h"
#include "fuse_proto.h"
#include "proto/ctl.h"

struct diofs_config diofs_cfg = {
	.dio = DIO_ALL,
	.async_dio = 1,
	.threads = 0, /* default_threads() */
	.default_permissions = true,
	.io_uring_q_depth = 512,
};

static unsigned int nonopts; /* BACKING, MOUNTPOINT */

enum { KEY_PATH, KEY_VALUE, KEY_TRACE_OVERWRITE, KEY_REFUSED };

/* Every diofs option is handled by opt_proc, so that each value is checked
 * as a whole ("async_dio=1x" is an error, not 1). */
static const struct fuse_opt diofs_opts[] = {
	FUSE_OPT_KEY("trace=", KEY_PATH),
	FUSE_OPT_KEY("rules=", KEY_PATH),
	FUSE_OPT_KEY("ctl=", KEY_PATH),
	FUSE_OPT_KEY("trace_overwrite", KEY_TRACE_OVERWRITE),
	FUSE_OPT_KEY("dio=", KEY_VALUE),
	FUSE_OPT_KEY("async_dio=", KEY_VALUE),
	FUSE_OPT_KEY("threads=", KEY_VALUE),
	FUSE_OPT_KEY("init_off=", KEY_VALUE),
	FUSE_OPT_KEY("io_uring", KEY_VALUE),
	FUSE_OPT_KEY("io_uring=", KEY_VALUE),
	FUSE_OPT_KEY("io_uring_q_depth=", KEY_VALUE),
	FUSE_OPT_KEY("io_uring_hold_register", KEY_VALUE),
	/* fuse_parse_cmdline's, for libfuse's own loop, which diofs does
	 * not run: refused rather than accepted and ignored. */
	FUSE_OPT_KEY("max_threads=", KEY_REFUSED),
	FUSE_OPT_KEY("max_idle_threads=", KEY_REFUSED),
	FUSE_OPT_KEY("clone_fd", KEY_REFUSED),
	FUSE_OPT_END
};

/* One worker per CPU we may run on (at least 2).  A held request keeps no
 * thread, so more workers only add idle readers of /dev/fuse, and each
 * costs a wasted wakeup per request (measured: make bench).  A blocking
 * flock(2) wait does keep its worker: raise -o threads for many such. */
static unsigned int default_threads(void)
{
	cpu_set_t set;
	int n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 2;

	return n < 2 ? 2 : (unsigned int)n;
}

/* A whole decimal number in [min, max], or -1. */
static long parse_number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	return v;
}

/* -o init_off=FLAG[:FLAG...]: INIT flags (fuse_proto.h's names) that
 * diofs must not ask for, and parallel_direct_writes (an open flag). */
static int parse_init_off(const char *arg, const char *val)
{
	char *copy = strdup(val), *save = NULL;
	int ret = 0;

	if (!copy)
		return -1;
	for (char *name = strtok_r(copy, ":", &save); name; name = strtok_r(NULL, ":", &save)) {
		uint64_t bit = proto_init_flag_bit(name);

		if (bit) {
			diofs_cfg.init_off |= bit;
		} else if (!strcmp(name, "parallel_direct_writes")) {
			diofs_cfg.no_parallel_direct_writes = true;
		} else {
			char all[1024];

			fprintf(stderr, "diofs: -o %s: unknown flag %s (one of: %s,"
				"parallel_direct_writes)\n", arg, name,
				proto_init_flags_text(proto_init_wanted_all(), all, sizeof(all)));
			ret = -1;
			break;
		}
	}
	if (!ret && !*val) {
		fprintf(stderr, "diofs: -o %s: expected FLAG[:FLAG...]\n", arg);
		ret = -1;
	}
	free(copy);
	return ret;
}

/* A value that is a word: the words, what each sets. */
struct choice {
	const char *word;
	int value;
};

static const struct choice dio_policies[] = {
	{ "all", DIO_ALL }, { "odirect", DIO_ODIRECT }, { "none", DIO_NONE }, { NULL, 0 },
};

static const struct choice uring_modes[] = {
	{ "on", URING_REQUIRE }, { "fallback", URING_FALLBACK }, { "off", URING_OFF },
	{ NULL, 0 },
};

/* The value of val among choices, or -1 with the message (expected: the
 * forms the option takes). */
static int parse_choice(const char *arg, const char *val, const struct choice *choices,
			const char *expected)
{
	for (const struct choice *c = choices; c->word; c++)
		if (!strcmp(val, c->word))
			return c->value;
	fprintf(stderr, "diofs: -o %s: expected %s\n", arg, expected);
	return -1;
}

static int parse_value(const char *arg)
{
	const char *val = strchr(arg, '=');
	long v;

	if (!strcmp(arg, "io_uring_hold_register")) {
		diofs_cfg.io_uring_hold_register = true;
		return 0;
	}
	if (!val) { /* -o io_uring: on */
		diofs_cfg.io_uring = URING_REQUIRE;
		return 0;
	}
	val++;
	if (!strncmp(arg, "io_uring=", 9)) {
		v = parse_choice(arg, val, uring_modes, "io_uring, io_uring=on, "
				 "io_uring=fallback or io_uring=off");
		if (v < 0)
			return -1;
		diofs_cfg.io_uring = (enum diofs_uring_mode)v;
		return 0;
	}
	if (!strncmp(arg, "io_uring_q_depth=", 17)) {
		v = parse_number(val, 1, 65536);
		if (v < 0) {
			fprintf(stderr, "diofs: -o %s: expected 1 to 65536\n", arg);
			return -1;
		}
		diofs_cfg.io_uring_q_depth = (unsigned int)v;
	} else if (!strncmp(arg, "dio=", 4)) {
		v = parse_choice(arg, val, dio_policies, "all, odirect or none");
		if (v < 0)
			return -1;
		diofs_cfg.dio = (enum diofs_dio_policy)v;
	} else if (!strncmp(arg, "init_off=", 9)) {
		return parse_init_off(arg, val);
	} else if (!strncmp(arg, "async_dio=", 10)) {
		v = parse_number(val, 0, 1);
		if (v < 0) {
			fprintf(stderr, "diofs: -o %s: expected 1 or 0\n", arg);
			return -1;
		}
		diofs_cfg.async_dio = (int)v;
	} else {
		v = parse_number(val, 1, 1024);
		if (v < 0) {
			fprintf(stderr, "diofs: -o %s: expected 1 to 1024\n", arg);
			return -1;
		}
		diofs_cfg.threads = (unsigned int)v;
	}
	return 0;
}

static void usage(const char *prog)
{
	char flags[1024], *save = NULL;
	size_t col = 0;

	printf("usage: %s [options] BACKING MOUNTPOINT\n\n"
	       "A passthrough of BACKING that forces direct I/O and is instrumented.\n\n"
	       "diofs options:\n"
	       "    -o dio=all|odirect|none  FOPEN_DIRECT_IO on every open (all, default),\n"
	       "                             on opens with O_DIRECT, or never\n"
	       "    -o async_dio=1|0         the kernel's async direct I/O (default 1)\n"
	       "    -o trace=FILE            trace every request to FILE (JSON lines; a\n"
	       "                             new file, mode 0600)\n"
	       "    -o trace_overwrite       FILE may exist: it is emptied (a regular\n"
	       "                             file, not a symbolic link)\n"
	       "    -o rules=FILE            load rules from FILE, one per line\n"
	       "    -o ctl=PATH              control socket (default: see diofs(8))\n"
	       "    -o threads=N             worker threads (default: the CPUs diofs\n"
	       "                             may run on, at least 2)\n"
	       "    -o io_uring[=fallback]   take requests over FUSE-over-io_uring (Linux\n"
	       "                             6.14+, enable_uring on); fallback: /dev/fuse\n"
	       "                             with a warning where it is not available\n"
	       "    -o io_uring_q_depth=N    ring entries per CPU (default 512; each held\n"
	       "                             request keeps one: see diofs(8))\n"
	       "    -o io_uring_hold_register  the last CPU queue registers its entries\n"
	       "                             only on diofsctl register (tests)\n"
	       "    -o init_off=FLAG[:FLAG]  do not ask INIT for these flags, of:\n",
	       prog);
	/* the names, comma-separated, wrapped under the description */
	proto_init_flags_text(proto_init_wanted_all(), flags, sizeof(flags));
	strcat(flags, ",parallel_direct_writes");
	for (char *name = strtok_r(flags, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		size_t len = strlen(name) + 1;

		if (col + len > 78) {
			fputs(col ? ",\n" : "", stdout);
			col = 0;
		}
		col += (size_t)printf("%s%s", col ? ", " : "                             ", name);
	}
	printf(" (see diofs(8))\n\n"
	       "    -h   --help              print help\n"
	       "    -V   --version           print version\n"
	       "    -d   -o debug            one line per request and reply on stderr\n"
	       "                             (implies -f)\n"
	       "    -f                       foreground operation\n"
	       "    -s                       one worker thread (-o threads=1)\n");
	fuse_lowlevel_help();
}

/* Values of trace=, rules=, ctl= are kept as given; BACKING is the first
 * non-option, MOUNTPOINT the second (left for fuse_parse_cmdline). */
static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	char **slot = NULL;

	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (nonopts++ == 0) {
			diofs_cfg.backing = strdup(arg);
			return 0;
		}
		return 1;
	case KEY_VALUE:
		return parse_value(arg) ? -1 : 0;
	case KEY_TRACE_OVERWRITE:
		diofs_cfg.trace_overwrite = true;
		return 0;
	case KEY_REFUSED:
		fprintf(stderr, "diofs: -o %s: not supported (diofs runs its own worker pool:"
			" see -o threads=N)\n", arg);
		return -1;
	case KEY_PATH:
		if (strncmp(arg, "trace=", 6) == 0)
			slot = &diofs_cfg.trace_path;
		else if (strncmp(arg, "rules=", 6) == 0)
			slot = &diofs_cfg.rules_path;
		else if (strncmp(arg, "ctl=", 4) == 0)
			slot = &diofs_cfg.ctl_path;
		if (slot) {
			free(*slot);
			*slot = strdup(strchr(arg, '=') + 1);
			return 0;
		}
		return 1;
	default: /* libfuse's options */
		return 1;
	}
}

/* An absolute version of a path whose file may not exist yet (the daemon
 * changes directory when it goes to the background): the working
 * directory in front of a relative path, nothing resolved, so that a
 * symbolic link on the way is still seen, and refused, where the file is
 * opened (trace files: no link anywhere on the path). */
static int absolutize(char **path, const char *what)
{
	char *cwd, *abs;

	if (!*path)
		return 0;
	if (!**path) {
		fprintf(stderr, "diofs: %s: empty path\n", what);
		return -1;
	}
	if (**path == '/')
		return 0;
	cwd = getcwd(NULL, 0);
	if (!cwd) {
		fprintf(stderr, "diofs: %s: %s: %s\n", what, *path, strerror(errno));
		return -1;
	}
	if (asprintf(&abs, "%s/%s", strcmp(cwd, "/") ? cwd : "", *path) < 0)
		abs = NULL;
	free(cwd);
	free(*path);
	*path = abs;
	return abs ? 0 : -1;
}

static int is_mountpoint(const char *path)
{
	struct stat st, parent;
	char *up;
	int ret;

	if (asprintf(&up, "%s/..", path) < 0)
		return -1;
	ret = stat(path, &st) == 0 && stat(up, &parent) == 0 &&
	      (st.st_dev != parent.st_dev || st.st_ino == parent.st_ino);
	free(up);
	return ret;
}

static int check_config(void)
{
	struct stat st;
	char *real;

	if (!diofs_cfg.backing) {
		fprintf(stderr, "diofs: missing BACKING and MOUNTPOINT (see --help)\n");
		return -1;
	}
	real = realpath(diofs_cfg.backing, NULL);
	if (!real || stat(real, &st)) {
		fprintf(stderr, "diofs: backing directory %s: %s\n", diofs_cfg.backing,
			strerror(errno));
		free(real);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "diofs: backing directory %s: not a directory\n",
			diofs_cfg.backing);
		free(real);
		return -1;
	}
	free(diofs_cfg.backing);
	diofs_cfg.backing = real;
	if (absolutize(&diofs_cfg.trace_path, "-o trace") ||
	    absolutize(&diofs_cfg.rules_path, "-o rules") ||
	    absolutize(&diofs_cfg.ctl_path, "-o ctl"))
		return -1;
	if (diofs_cfg.rules_path && access(diofs_cfg.rules_path, R_OK)) {
		fprintf(stderr, "diofs: -o rules=%s: %s\n", diofs_cfg.rules_path, strerror(errno));
		return -1;
	}
	return 0;
}

static int check_mountpoint(const char *mnt)
{
	struct stat st;
	char *real = realpath(mnt, NULL);
	int err;

	if (!real || stat(real, &st)) {
		fprintf(stderr, "diofs: mount point %s: %s\n", mnt, strerror(errno));
		free(real);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "diofs: mount point %s: not a directory\n", mnt);
		free(real);
		return -1;
	}
	if (is_mountpoint(real) == 1) {
		fprintf(stderr, "diofs: mount point %s: already a mount point\n", mnt);
		free(real);
		return -1;
	}
	diofs_cfg.mountpoint = real;
	if (!diofs_cfg.ctl_path) {
		char path[256];

		err = ctl_default_path(real, path, sizeof(path));
		if (err) {
			fprintf(stderr, "diofs: default control socket for %s: %s\n", real,
				strerror(-err));
			return -1;
		}
		diofs_cfg.ctl_path = strdup(path);
	}
	return 0;
}

static bool has_opt(const struct fuse_args *args, const char *name)
{
	for (int i = 0; i < args->argc; i++)
		if (strstr(args->argv[i], name))
			return true;
	return false;
}

/* "-ofsname=BACKING" with the characters -o lists treat specially escaped. */
static char *fsname_option(const char *backing)
{
	size_t len = strlen(backing);
	char *opt = malloc(sizeof("-ofsname=") + 2 * len);
	char *p;

	if (!opt)
		return NULL;
	p = stpcpy(opt, "-ofsname=");
	for (; *backing; backing++) {
		if (*backing == ',' || *backing == '\\')
			*p++ = '\\';
		*p++ = *backing;
	}
	*p = '\0';
	return opt;
}

enum options_result options_parse(int argc, char **argv, struct fuse_args *args)
{
	struct fuse_cmdline_opts cl = { 0 };
	char *fsname;

	*args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	if (fuse_opt_parse(args, NULL, diofs_opts, opt_proc) == -1)
		return OPTIONS_EXIT_ERROR;
	if (fuse_parse_cmdline(args, &cl) != 0) {
		free(cl.mountpoint); /* it may have got that far */
		return OPTIONS_EXIT_ERROR;
	}
	if (cl.show_help || cl.show_version || nonopts > 2) {
		free(cl.mountpoint);
		cl.mountpoint = NULL;
	}
	if (cl.show_help) {
		usage(argv[0]);
		return OPTIONS_EXIT_OK;
	}
	if (cl.show_version) {
		printf("diofs %s (libfuse %s)\n", PACKAGE_VERSION, fuse_pkgversion());
		fflush(stdout); /* before fusermount3's version line */
		fuse_lowlevel_version();
		return OPTIONS_EXIT_OK;
	}
	if (nonopts > 2) {
		fprintf(stderr, "diofs: too many arguments: expected BACKING MOUNTPOINT\n");
		return OPTIONS_EXIT_ERROR;
	}
	if (check_config()) {
		free(cl.mountpoint);
		return OPTIONS_EXIT_ERROR;
	}
	if (!cl.mountpoint) {
		fprintf(stderr, "diofs: missing MOUNTPOINT (see --help)\n");
		return OPTIONS_EXIT_ERROR;
	}
	if (check_mountpoint(cl.mountpoint)) {
		free(cl.mountpoint);
		return OPTIONS_EXIT_ERROR;
	}
	free(cl.mountpoint);
	diofs_cfg.foreground = cl.foreground;
	diofs_cfg.debug = cl.debug;
	diofs_cfg.single_thread = cl.singlethread;
	if (cl.singlethread)
		diofs_cfg.threads = 1;
	else if (!diofs_cfg.threads)
		diofs_cfg.threads = default_threads();

	/* A local filesystem's permission checks, and a name in mount(8). */
	if (fuse_opt_add_arg(args, "-odefault_permissions"))
		return OPTIONS_EXIT_ERROR;
	if (!has_opt(args, "fsname=")) {
		fsname = fsname_option(diofs_cfg.backing);
		if (!fsname || fuse_opt_add_arg(args, fsname))
			return OPTIONS_EXIT_ERROR;
		free(fsname);
	}
	if (!has_opt(args, "subtype=") && fuse_opt_add_arg(args, "-osubtype=diofs"))
		return OPTIONS_EXIT_ERROR;
	return OPTIONS_RUN;
}

void options_free(void)
{
	free(diofs_cfg.backing);
	free(diofs_cfg.mountpoint);
	free(diofs_cfg.trace_path);
	free(diofs_cfg.rules_path);
	free(diofs_cfg.ctl_path);
}
