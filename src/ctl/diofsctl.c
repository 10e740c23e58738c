/* diofsctl: steer a running diofs from the shell. */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/json.h"
#include "lib/diofsctl.h"
#include "proto/ctl.h"
#include "proto/escape.h"
#include "proto/number.h"
#include "proto/release.h"

#define EXIT_DAEMON 1
#define EXIT_USAGE 2

static const char usage_text[] =
	"usage: diofsctl [--json] [-v] [--mount MNT | --socket PATH] COMMAND\n"
	"  " CTL_USAGE_RULE_ADD "      prints the rule's id\n"
	"  " CTL_USAGE_RULE "\n"
	"  held [--wait SECONDS]           one line per held request:\n"
	"                                  id op path offset size pid\n"
	"                                  (--wait: wait until one is held, else fail\n"
	"                                  after SECONDS)\n"
	"  " CTL_USAGE_RELEASE "\n"
	"                                  prints the number released\n"
	"  " CTL_USAGE_STATS "\n"
	"  " CTL_USAGE_INFO "                            what INIT negotiated with the kernel\n"
	"  " CTL_USAGE_TRACE "\n"
	"                                  FILE: a new file (mode 0600); overwrite:\n"
	"                                  it may exist as a regular file, emptied\n"
	"  " CTL_USAGE_PING "                            says who answers: pid, version\n"
	"  " CTL_USAGE_REGISTER "                        -o io_uring_hold_register: let the held\n"
	"                                  queue register its ring entries\n"
	"  --json       held, rule list, stats and info as a JSON array of objects\n"
	"  -v, --verbose  say which socket was tried\n"
	"  -V, --version\n"
	"ACTION: delay=MS | hold | fail=ERRNAME | short=N | overlong[=N] | abort | crash\n"
	"        | proto=badlen:+N|badlen:-N|short-header[:N]|errno:N|double\n"
	"                |unknown-unique|late\n"
	"MATCH:  op=NAME[,NAME...] | path=GLOB | offset=A[-B] | size=A[-B] | pid=N\n"
	"        | nth=N | count=N | prob=P | seed=N\n"
	"Names and the daemon's messages are printed with control characters,\n"
	"invalid UTF-8 and backslashes as \\xNN (backslash: \\\\).\n"
	"The daemon must run as root or as you (checked on connecting).\n"
	"Exit status: 0 done, 1 the daemon refused or could not be reached, 2 usage.\n";

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("diofsctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(diofsctl --help for usage)\n", stderr);
	exit(EXIT_USAGE);
}

static const char *opt_mnt, *opt_sock;
static bool opt_json, opt_verbose;

/* s to f, escaped for a terminal (proto/escape.h): file names and the
 * daemon's lines may hold anything. */
static void put_escaped(FILE *f, const char *s)
{
	size_t len = 4 * strlen(s) + 1;
	char *buf = malloc(len);

	if (!buf) {
		perror("diofsctl");
		exit(EXIT_DAEMON);
	}
	term_escape(buf, len, s);
	fputs(buf, f);
	free(buf);
}

/* "diofsctl: MSG\n" on stderr, MSG escaped. */
static void say_error(const char *msg)
{
	fputs("diofsctl: ", stderr);
	put_escaped(stderr, msg);
	fputc('\n', stderr);
}

/* Is a diofs mounted at dir?  /proc/self/mountinfo's fifth field is the
 * mount point (octal escapes for space, tab, newline, backslash), the one
 * after " - " the type: diofs mounts as fuse.diofs (-o subtype=diofs). */
static bool diofs_mounted_at(const char *dir)
{
	char want[PATH_MAX], *line = NULL;
	size_t cap = 0;
	bool found = false;
	FILE *f;

	if (!realpath(dir, want))
		return false;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return true; /* cannot tell: let the connection's error speak */
	while (!found && getline(&line, &cap, f) > 0) {
		char mnt[PATH_MAX], *p = line, *sep = strstr(line, " - ");
		size_t o = 0;

		for (int i = 0; i < 4 && p; i++)
			p = strchr(p + 1, ' ');
		if (!p || !sep)
			continue;
		for (p++; *p && *p != ' ' && o < sizeof(mnt) - 1; p++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] && p[3]) {
				mnt[o++] = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
				p += 3;
			} else {
				mnt[o++] = *p;
			}
		}
		mnt[o] = '\0';
		found = strcmp(mnt, want) == 0 && strncmp(sep + 3, "fuse.diofs ", 11) == 0;
	}
	free(line);
	fclose(f);
	return found;
}

/* Connect once the command is known good: usage errors come first. */
static struct diofsctl *ctl_open(void)
{
	struct diofsctl *ctl;
	char err[512], path[PATH_MAX] = "";

	if (opt_mnt && ctl_default_path(opt_mnt, path, sizeof(path)) != 0)
		path[0] = '\0';
	if (opt_verbose)
		fprintf(stderr, "diofsctl: connecting to %s\n", opt_sock ? opt_sock : path);
	ctl = opt_sock ? diofsctl_connect(opt_sock, err, sizeof(err))
		       : diofsctl_connect_mount(opt_mnt, err, sizeof(err));
	if (!ctl) {
		if (opt_mnt && !diofs_mounted_at(opt_mnt)) {
			fputs("diofsctl: no diofs is mounted at ", stderr);
			put_escaped(stderr, opt_mnt);
			if (opt_verbose && path[0]) {
				fputs(" (looked for its control socket ", stderr);
				put_escaped(stderr, path);
				fputc(')', stderr);
			}
			fputc('\n', stderr);
		} else {
			say_error(err);
		}
		exit(EXIT_DAEMON);
	}
	return ctl;
}

static void fail(struct diofsctl *ctl)
{
	say_error(diofsctl_error(ctl));
	diofsctl_close(ctl);
	exit(EXIT_DAEMON);
}

/* Words joined by spaces, as one protocol line. */
static char *join(int argc, char **argv)
{
	size_t len = 1;
	char *s;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = malloc(len);
	if (!s) {
		perror("diofsctl");
		exit(EXIT_DAEMON);
	}
	s[0] = '\0';
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static void check_word(const char *w)
{
	if (!*w || strpbrk(w, " \t\n\r"))
		usage_error("bad argument: '%s'", w);
}

/* --json: how a line of "rule list", "stats" and "info" becomes an object
 * ("init KEY=VALUE...": kind "init" and its keys). */
static const struct json_shape *rule_list_shape(const char *line)
{
	static const struct json_shape shape = { { "id" }, "rule" };

	(void)line;
	return &shape;
}

static const struct json_shape *stats_shape(const char *line)
{
	static const struct {
		const char *kind;
		struct json_shape shape;
	} kinds[] = {
		{ "op", { { "kind", "op" }, NULL } },           /* op NAME count= errors= */
		{ "rule", { { "kind", "id" }, NULL } },         /* rule ID matched= acted= */
		{ "held", { { "kind", "count" }, NULL } },      /* held N */
		{ "transport", { { "kind", "name" }, NULL } },  /* transport NAME [KEY=N...] */
		{ "proto", { { "kind", "fault" }, NULL } },     /* proto FAULT count= ... */
		{ "trace_error", { { "kind" }, "error" } },     /* trace_error PATH: WHY */
	};
	static const struct json_shape other = { { "kind" }, "text" };
	size_t n = strcspn(line, " ");

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i].kind) == n && strncmp(line, kinds[i].kind, n) == 0)
			return &kinds[i].shape;
	return &other;
}

/* After the lines of an answer: the JSON array closed, all let go. */
static void answer_done(struct diofsctl *ctl, char **lines)
{
	if (opt_json)
		json_end();
	diofsctl_free_lines(lines);
	diofsctl_close(ctl);
}

/* The daemon's lines for cmd, escaped; with --json through shape_of. */
static void print_lines(const char *cmd, const struct json_shape *(*shape_of)(const char *))
{
	struct diofsctl *ctl = ctl_open();
	char **lines;
	int n = diofsctl_cmd(ctl, &lines, "%s", cmd);

	if (n < 0)
		fail(ctl);
	if (opt_json)
		json_begin();
	for (int i = 0; i < n; i++) {
		if (opt_json) {
			json_line(lines[i], shape_of(lines[i]));
		} else {
			put_escaped(stdout, lines[i]);
			putchar('\n');
		}
	}
	answer_done(ctl, lines);
}

static void run_rule(int argc, char **argv)
{
	struct diofsctl *ctl;
	if (argc < 1)
		usage_error("rule: add, list, del or clear?");
	if (strcmp(argv[0], "add") == 0) {
		char *text;
		int id;

		if (argc < 2)
			usage_error("rule add: missing ACTION");
		for (int i = 1; i < argc; i++)
			if (strpbrk(argv[i], "\n\r"))
				usage_error("rule add: newline in '%s'", argv[i]);
		text = join(argc - 1, argv + 1);
		ctl = ctl_open();
		id = diofsctl_rule_add(ctl, "%s", text);
		free(text);
		if (id < 0)
			fail(ctl);
		printf("%d\n", id);
		diofsctl_close(ctl);
	} else if (strcmp(argv[0], "del") == 0) {
		uint64_t id;

		if (argc != 2)
			usage_error("rule del ID");
		if (parse_number(argv[1], false, &id) != NUM_OK || id == 0 || id > INT_MAX)
			usage_error("rule del: bad id '%s'", argv[1]);
		ctl = ctl_open();
		if (diofsctl_rule_del(ctl, (int)id) < 0)
			fail(ctl);
		diofsctl_close(ctl);
	} else if (strcmp(argv[0], "clear") == 0) {
		if (argc != 1)
			usage_error("rule clear takes no argument");
		ctl = ctl_open();
		if (diofsctl_rule_clear(ctl) < 0)
			fail(ctl);
		diofsctl_close(ctl);
	} else {
		usage_error("rule: unknown subcommand '%s'", argv[0]);
	}
}

static void run_held(int argc, char **argv)
{
	struct diofsctl *ctl;
	const char *wait_arg = NULL;
	int timeout_ms = -1;
	unsigned int min = 0;
	struct diofs_held h;
	char **lines;
	int n;

	if (argc == 2 && strcmp(argv[0], "--wait") == 0) {
		char *end;
		double s;

		errno = 0;
		s = strtod(argv[1], &end);
		if (errno || end == argv[1] || *end || !(s >= 0) || s > INT_MAX / 1000)
			usage_error("held --wait: bad number of seconds '%s'", argv[1]);
		timeout_ms = (int)(s * 1000 + 0.999);
		min = 1;
		wait_arg = argv[1];
	} else if (argc != 0) {
		usage_error("held [--wait SECONDS]");
	}

	/* Straight through diofsctl_cmd: no cap on how many are listed. */
	ctl = ctl_open();
	if (timeout_ms >= 0)
		n = diofsctl_cmd(ctl, &lines, "held min=%u timeout=%d", min, timeout_ms);
	else
		n = diofsctl_cmd(ctl, &lines, "held");
	if (n < 0 && min && strstr(diofsctl_error(ctl), "held: timeout")) {
		fprintf(stderr, "diofsctl: nothing held after %s s\n", wait_arg);
		diofsctl_close(ctl);
		exit(EXIT_DAEMON);
	}
	if (n < 0)
		fail(ctl);
	if (opt_json)
		json_begin();
	for (int i = 0; i < n; i++) {
		if (ctl_held_parse(lines[i], &h) < 0) {
			fputs("diofsctl: unexpected line from the daemon: ", stderr);
			put_escaped(stderr, lines[i]);
			fputc('\n', stderr);
			diofsctl_free_lines(lines);
			diofsctl_close(ctl);
			exit(EXIT_DAEMON);
		}
		if (opt_json) {
			json_obj_begin();
			json_member_u64("id", h.id);
			json_member_str("op", h.op);
			json_member_str("path", h.path);
			json_member_u64("offset", h.off);
			json_member_u64("size", h.size);
			json_member_i64("pid", h.pid);
			json_member_u64("unique", h.unique);
			json_obj_end();
			continue;
		}
		printf("%" PRIu64 " ", h.id);
		put_escaped(stdout, h.op);
		putchar(' ');
		put_escaped(stdout, h.path);
		printf(" %" PRIu64 " %" PRIu64 " %d\n", h.off, h.size, (int)h.pid);
	}
	answer_done(ctl, lines);
}

static void run_release(int argc, char **argv)
{
	struct diofsctl *ctl;
	uint64_t id = 0;
	int n;

	if (argc < 1 || argc > 2)
		usage_error(CTL_USAGE_RELEASE);
	if (strcmp(argv[0], "all") != 0 && (parse_number(argv[0], false, &id) != NUM_OK || id == 0))
		usage_error("release: bad id '%s'", argv[0]);
	if (argc == 2) {
		struct ctl_release rel;
		char why[256];

		check_word(argv[1]);
		/* A bad value (an errno name it does not know) is the daemon's to
		 * refuse, as for any client. */
		if (ctl_release_parse(argv[1], &rel, why, sizeof(why)) == CTL_RELEASE_NO_MODE)
			usage_error("release: %s", why);
	}
	ctl = ctl_open();
	n = diofsctl_release(ctl, id, argc == 2 ? argv[1] : NULL);
	if (n < 0)
		fail(ctl);
	printf("%d\n", n);
	diofsctl_close(ctl);
}

static void run_trace(int argc, char **argv)
{
	struct diofsctl *ctl;
	char cmd[PATH_MAX + 16];

	if (argc < 1)
		usage_error(CTL_USAGE_TRACE);
	if (strcmp(argv[0], "on") == 0 && (argc == 2 || argc == 3)) {
		const char *over = argc == 3 ? " overwrite" : "";
		char cwd[PATH_MAX];

		check_word(argv[1]);
		if (argc == 3 && strcmp(argv[2], "overwrite") != 0)
			usage_error("trace on FILE: '%s'? (overwrite)", argv[2]);
		/* The daemon's working directory is not ours. */
		if (argv[1][0] == '/')
			snprintf(cmd, sizeof(cmd), "on %s%s", argv[1], over);
		else if (getcwd(cwd, sizeof(cwd)))
			snprintf(cmd, sizeof(cmd), "on %s/%s%s", cwd, argv[1], over);
		else
			usage_error("trace on: %s: cannot make it absolute", argv[1]);
	} else if (argc == 1 && (strcmp(argv[0], "on") == 0 || strcmp(argv[0], "off") == 0 ||
				 strcmp(argv[0], "flush") == 0)) {
		snprintf(cmd, sizeof(cmd), "%s", argv[0]);
	} else {
		usage_error(CTL_USAGE_TRACE);
	}
	ctl = ctl_open();
	if (diofsctl_trace(ctl, cmd) < 0)
		fail(ctl);
	diofsctl_close(ctl);
}

static void run_rule_list(int argc, char **argv)
{
	print_lines("rule list", rule_list_shape);
}

static void run_stats(int argc, char **argv)
{
	print_lines("stats", stats_shape);
}

static void run_info(int argc, char **argv)
{
	print_lines("info", stats_shape);
}

static void run_register(int argc, char **argv)
{
	struct diofsctl *ctl = ctl_open();

	if (diofsctl_cmd(ctl, NULL, "register") < 0)
		fail(ctl);
	diofsctl_close(ctl);
}

/* "diofs at MNT answers: pid N, version V" from the daemon's
 * "diofs VERSION pid N". */
static void run_ping(int argc, char **argv)
{
	struct diofsctl *ctl = ctl_open();
	char version[64] = "", **lines;
	int pid = 0, n = diofsctl_cmd(ctl, &lines, "ping");

	if (n < 0)
		fail(ctl);
	if (n < 1 || sscanf(lines[0], "diofs %63s pid %d", version, &pid) != 2) {
		fputs("diofsctl: ping: unexpected answer: ", stderr);
		put_escaped(stderr, n > 0 ? lines[0] : "(none)");
		fputc('\n', stderr);
		diofsctl_free_lines(lines);
		diofsctl_close(ctl);
		exit(EXIT_DAEMON);
	}
	fputs("diofs at ", stdout);
	put_escaped(stdout, opt_mnt ? opt_mnt : opt_sock);
	printf(" answers: pid %d, version ", pid);
	put_escaped(stdout, version);
	putchar('\n');
	diofsctl_free_lines(lines);
	diofsctl_close(ctl);
}

/* The commands.  A name is one word or two ("rule list"); the first entry
 * whose name the command's words start with runs, given the words after
 * it. */
static const struct command {
	const char *name;
	void (*run)(int argc, char **argv);
	int max_args; /* -1: run checks them */
	bool json;    /* --json applies */
} commands[] = {
	{ "rule list", run_rule_list, 0, true },
	{ "rule", run_rule, -1, false },
	{ "held", run_held, -1, true },
	{ "release", run_release, -1, false },
	{ "trace", run_trace, -1, false },
	{ "stats", run_stats, 0, true },
	{ "info", run_info, 0, true },
	{ "ping", run_ping, 0, false },
	{ "register", run_register, 0, false },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The entry for the command's words; *words: how many its name has. */
static const struct command *find_command(int argc, char **argv, int *words)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const char *name = commands[i].name, *sp = strchr(name, ' ');
		size_t len = sp ? (size_t)(sp - name) : strlen(name);

		if (strncmp(argv[0], name, len) != 0 || argv[0][len])
			continue;
		if (!sp) {
			*words = 1;
			return &commands[i];
		}
		if (argc > 1 && strcmp(argv[1], sp + 1) == 0) {
			*words = 2;
			return &commands[i];
		}
	}
	return NULL;
}

/* The commands --json applies to, for its usage error. */
static void json_usage_error(void)
{
	char names[128] = "";

	for (size_t i = 0; i < NCOMMANDS; i++)
		if (commands[i].json)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 names[0] ? ", " : "", commands[i].name);
	usage_error("--json: for %s", names);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mount", required_argument, NULL, 'm' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd;
	int c, words;

	/* "+": stop at the command, whose words may look like options. */
	while ((c = getopt_long(argc, argv, "+m:s:jvhV", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			opt_mnt = optarg;
			break;
		case 's':
			opt_sock = optarg;
			break;
		case 'j':
			opt_json = true;
			break;
		case 'v':
			opt_verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("diofsctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			fputs("(diofsctl --help for usage)\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (!opt_mnt == !opt_sock)
		usage_error(opt_mnt ? "give --mount MNT or --socket PATH, not both"
				    : "give --mount MNT or --socket PATH");
	if (optind >= argc)
		usage_error("missing command");
	argc -= optind;
	argv += optind;
	cmd = find_command(argc, argv, &words);
	if (!cmd)
		usage_error("unknown command '%s'", argv[0]);
	if (opt_json && !cmd->json)
		json_usage_error();
	argc -= words;
	argv += words;
	if (cmd->max_args >= 0 && argc > cmd->max_args)
		usage_error("%s takes no argument", cmd->name);
	cmd->run(argc, argv);
	if (fflush(stdout) != 0) {
		perror("diofsctl: stdout");
		return EXIT_DAEMON;
	}
	return 0;
}
