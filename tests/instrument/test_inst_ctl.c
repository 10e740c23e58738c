/* The control socket through a real mount: malformed commands get one
 * "err" line naming the fault and the daemon keeps serving (raw lines on the
 * socket); connections are independent; the socket is 0600 in a 0700
 * directory and another uid is refused (also its "trace on"); diofsctl
 * --mount MNT finds the default socket from the mount point; a socket
 * directory another uid could move is refused; half-closed clients are
 * answered; a client leaving a waiting "held" frees its thread; diofsctl
 * escapes names. */
#include <config.h>
#include "itest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/ctl.h"

#define FSIZE (64 * 1024)
#define NOBODY 65534

/* Send line (a newline added) on a raw connection; its first answer line. */
static bool raw_cmd(int fd, const char *line, char *out, size_t len)
{
	char buf[DIOFS_CTL_LINE_MAX * 2];
	int n = snprintf(buf, sizeof(buf), "%s\n", line);

	return ctl_send_all(fd, buf, (size_t)n) && raw_line(fd, out, len);
}

/* "ping" answers "ok 1" and "diofs VERSION pid PID" on the same connection. */
static bool ping_ok(int fd, const char *after)
{
	char ans[256], who[256] = "";
	int pid = 0;

	return CHECK(raw_cmd(fd, "ping", ans, sizeof(ans)) && strcmp(ans, "ok 1") == 0 &&
		     raw_line(fd, who, sizeof(who)) &&
		     sscanf(who, "diofs " PACKAGE_VERSION " pid %d", &pid) == 1 && pid > 0,
		     "ping after %s: saw \"%s\" \"%s\", wanted \"ok 1\" \"diofs %s pid N\" on the "
		     "same connection", after, ans, who, PACKAGE_VERSION);
}

ITEST(malformed_command_gets_err_line)
{
	struct diofs_mount *m = itest_mount(NULL);
	static const struct {
		const char *line;
		const char *want; /* in the message */
	} bad[] = {
		{ "bogus", "unknown command: bogus" },
		{ "", "empty command" },
		{ " \t ", "empty command" },
		{ "rule", "missing subcommand" },
		{ "rule frob", "unknown subcommand: frob" },
		{ "rule add", "missing rule" },
		{ "rule add explode op=read", "unknown action" },
		{ "rule add op=read", "starts with its action" },
		{ "rule add fail=EIO op=nosuchop", "nosuchop" },
		{ "rule add fail=ENOTANERRNO", "ENOTANERRNO" },
		{ "rule add hold nth=1 count=1", "nth and count" },
		{ "rule add short=10 op=open", "read and write only" },
		{ "rule add hold op=read op=write", "duplicate match" },
		{ "rule add hold offset=10-5", "empty" },
		{ "rule add hold prob=2", "prob" },
		{ "rule add delay=x", "not a number" },
		{ "rule add hold frobnicate=1", "unknown match" },
		{ "rule list extra", "unexpected argument: extra" },
		{ "rule del", "missing id" },
		{ "rule del x", "bad id: x" },
		{ "rule del 0", "bad id: 0" },
		{ "rule del 99999", "no rule 99999" },
		{ "rule del 1 2", "unexpected argument: 2" },
		{ "rule clear now", "unexpected argument: now" },
		{ "held min=x", "bad argument: min=x" },
		{ "held bogus", "bad argument: bogus" },
		{ "held min=1 timeout=0", "timeout" },
		{ "release", "missing id" },
		{ "release 0", "bad id: 0" },
		{ "release abc", "bad id: abc" },
		{ "release 12345", "12345 is not held" },
		{ "release all bogus", "bad reply: bogus" },
		{ "release all errno=NOTANERRNO", "unknown errno name: NOTANERRNO" },
		{ "release all short=x", "bad length: x" },
		{ "release all reply extra", "unexpected argument: extra" },
		{ "stats now", "unexpected argument: now" },
		{ "ping pong", "unexpected argument: pong" },
		{ "trace", "missing argument" },
		{ "trace sideways", "unknown argument: sideways" },
		{ "trace on relative/file", "not an absolute path" },
		{ "trace on /nonexistent-diofs-dir/x", "No such file" },
		{ "trace on", "no trace file" },
		{ "trace flush", "no trace file" },
		{ "trace off now", "unexpected argument: now" },
		{ "a b c d e f g h i j k l m n o p q", "too many arguments" },
	};
	char ans[DIOFS_CTL_LINE_MAX], line[DIOFS_CTL_LINE_MAX];
	struct diofsctl *c;
	int fd, rfd;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", FSIZE, 1), "no file");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	fd = raw_connect(m->ctl);
	REQUIRE(fd >= 0, "connect %s: %s", m->ctl, strerror(errno));

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!CHECK(raw_cmd(fd, bad[i].line, ans, sizeof(ans)), "\"%s\": no answer, the "
			   "connection ended", bad[i].line))
			return;
		CHECK(strncmp(ans, "err ", 4) == 0 && strstr(ans, bad[i].want), "\"%s\": saw \"%s\", "
		      "wanted \"err ...%s...\"", bad[i].line, ans, bad[i].want);
		if (!ping_ok(fd, bad[i].line))
			return;
	}
	/* The fault inside the mount point for a trace file. */
	snprintf(line, sizeof(line), "trace on %s", diofs_mnt_path(m, "t.jsonl"));
	CHECK(raw_cmd(fd, line, ans, sizeof(ans)) && strncmp(ans, "err ", 4) == 0 &&
	      strstr(ans, "inside the mount point"), "\"%s\": saw \"%s\", wanted err ... inside "
	      "the mount point", line, ans);
	ping_ok(fd, "trace on MNT/...");

	/* A NUL byte in a line. */
	CHECK(ctl_send_all(fd, "ping\0x\n", 7) && raw_line(fd, ans, sizeof(ans)) &&
	      strncmp(ans, "err ", 4) == 0 && strstr(ans, "NUL"), "a line with a NUL byte: saw "
	      "\"%s\", wanted err ... NUL byte", ans);
	ping_ok(fd, "a NUL byte");

	/* A line longer than the protocol allows: one err, the rest of it
	 * skipped, then the next line is served. */
	static char longline[DIOFS_CTL_LINE_MAX + 1000];

	memset(longline, 'a', sizeof(longline) - 1);
	memcpy(longline, "rule add hold path=", 19);
	longline[sizeof(longline) - 1] = '\n';
	CHECK(ctl_send_all(fd, longline, sizeof(longline)) && raw_line(fd, ans, sizeof(ans)) &&
	      strncmp(ans, "err ", 4) == 0 && strstr(ans, "too long"), "a line of %zu bytes: saw "
	      "\"%s\", wanted err ... line too long", sizeof(longline), ans);
	ping_ok(fd, "a line too long");

	/* CRLF is a line end; several commands in one write are answered in
	 * order. */
	static const char pipelined[] = "ping\r\nbogus\nrule list\nping\n";

	CHECK(ctl_send_all(fd, pipelined, strlen(pipelined)), "send: %s", strerror(errno));
	CHECK(raw_line(fd, ans, sizeof(ans)) && strcmp(ans, "ok 1") == 0, "pipelined 1 (ping\\r): "
	      "saw \"%s\", wanted ok 1", ans);
	CHECK(raw_line(fd, ans, sizeof(ans)) && strncmp(ans, "diofs ", 6) == 0, "pipelined 1 "
	      "(ping\\r): saw \"%s\", wanted diofs VERSION pid N", ans);
	CHECK(raw_line(fd, ans, sizeof(ans)) && strncmp(ans, "err unknown command", 19) == 0,
	      "pipelined 2 (bogus): saw \"%s\", wanted err unknown command", ans);
	CHECK(raw_line(fd, ans, sizeof(ans)) && strcmp(ans, "ok 0") == 0, "pipelined 3 (rule "
	      "list): saw \"%s\", wanted ok 0 (no bad rule was added)", ans);
	CHECK(raw_line(fd, ans, sizeof(ans)) && strcmp(ans, "ok 1") == 0, "pipelined 4 (ping): "
	      "saw \"%s\", wanted ok 1", ans);
	CHECK(raw_line(fd, ans, sizeof(ans)) && strncmp(ans, "diofs ", 6) == 0, "pipelined 4 "
	      "(ping): saw \"%s\", wanted diofs VERSION pid N", ans);

	/* A good command on the same connection: ok 1 and the id. */
	CHECK(raw_cmd(fd, "rule add fail=EIO op=read path=/f", ans, sizeof(ans)) &&
	      strcmp(ans, "ok 1") == 0, "rule add after the errors: saw \"%s\", wanted ok 1", ans);
	CHECK(raw_line(fd, ans, sizeof(ans)) && atoi(ans) == 1, "rule add: the id line saw "
	      "\"%s\", wanted 1 (no bad rule took an id)", ans);

	/* The daemon still serves the mount, and the rule acts. */
	rfd = itest_open(m, "f", O_RDONLY);
	if (CHECK(rfd >= 0, "open f after the errors: %s", strerror(errno))) {
		char buf[10];
		ssize_t r = pread(rfd, buf, sizeof(buf), 0);

		CHECK(r == -1 && errno == EIO, "read under the rule: saw %zd (%s), wanted -1 (EIO)",
		      r, expect_errname(r < 0 ? errno : 0));
	}
	CHECK(diofsctl_cmd(c, NULL, "ping") == 1, "the other connection: ping saw %s",
	      diofsctl_error(c));
}

/* Each connection has its own thread: one waiting in "held" blocks nobody
 * else; a client that leaves while waiting is forgotten. */
/* A 100-byte read of /f on a thread of its own, held by a new rule; NULL
 * if it could not start (reported). */
static struct io *held_read(const struct diofs_mount *m, struct diofsctl *c)
{
	int fd;

	if (!CHECK(itest_rule(c, "hold op=read path=/f") > 0, "no rule"))
		return NULL;
	fd = itest_open(m, "f", O_RDONLY);
	if (!CHECK(fd >= 0, "open: %s", strerror(errno)))
		return NULL;
	return io_pread(fd, 100, 0);
}

ITEST(connections_are_independent)
{
	struct diofs_mount *m = itest_mount(NULL);
	struct diofs_held h;
	struct diofsctl *c;
	char ans[256];
	int a, gone;
	struct io *io;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", FSIZE, 1), "no file");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	a = raw_connect(m->ctl);
	gone = raw_connect(m->ctl);
	REQUIRE(a >= 0 && gone >= 0, "connect: %s", strerror(errno));
	/* gone waits for 5 held calls, then leaves. */
	REQUIRE(ctl_send_all(gone, "held min=5\n", 11), "send: %s", strerror(errno));
	itest_close(gone);
	/* a waits for one. */
	REQUIRE(ctl_send_all(a, "held min=1\n", 11), "send: %s", strerror(errno));
	CHECK(diofsctl_cmd(c, NULL, "ping") == 1, "ping while another connection waits in held: "
	      "%s", diofsctl_error(c));
	io = held_read(m, c);
	/* a's answer comes once the read is held. */
	CHECK(raw_line(a, ans, sizeof(ans)) && strcmp(ans, "ok 1") == 0, "held min=1 on a raw "
	      "connection: saw \"%s\", wanted ok 1", ans);
	CHECK(raw_line(a, ans, sizeof(ans)) && ctl_held_parse(ans, &h) == 0 &&
	      strcmp(h.op, "read") == 0 && strcmp(h.path, "/f") == 0 && h.size == 100 &&
	      io && h.pid == atomic_load(&io->tid),
	      "the held line: saw \"%s\", wanted id=N op=read off=0 size=100 pid=%d unique=N "
	      "path=/f", ans, io ? (int)atomic_load(&io->tid) : 0);
	CHECK(diofsctl_release(c, 0, NULL) == 1, "release all: %s", diofsctl_error(c));
	if (io && io_join(io))
		CHECK(io->ret == 100, "released read: saw %zd (%s), wanted 100", io->ret,
		      expect_errname(io->err));
	ping_ok(a, "held");
}

static void check_socket_mode(const char *sock, bool check_dir)
{
	char dir[300];
	struct stat st;

	if (CHECK(lstat(sock, &st) == 0, "lstat %s: %s", sock, strerror(errno))) {
		CHECK(S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0600 &&
		      st.st_uid == geteuid(), "%s: saw mode %#o uid %u, wanted a socket, 0600, uid %u",
		      sock, st.st_mode, (unsigned int)st.st_uid, (unsigned int)geteuid());
	}
	if (!check_dir)
		return;
	snprintf(dir, sizeof(dir), "%s", sock);
	if (CHECK(lstat(dirname(dir), &st) == 0, "lstat %s: %s", dir, strerror(errno)))
		CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700 && st.st_uid == geteuid(),
		      "%s: saw mode %#o uid %u, wanted a directory, 0700, uid %u", dir, st.st_mode,
		      (unsigned int)st.st_uid, (unsigned int)geteuid());
}

/* What a child under another uid saw. */
struct peer_result {
	int stage;          /* 0 all done; else where it failed */
	int connect_errno;  /* 0: connected */
	char line[256];     /* first line the daemon sent */
	int eof_after;      /* 1: the daemon closed after it */
};

static void become_nobody(bool keep_dac_override, struct peer_result *res)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (keep_dac_override && prctl(PR_SET_KEEPCAPS, 1) < 0) {
		res->stage = 1;
		return;
	}
	if (diofs_become(&(const struct diofs_identity){ .uid = NOBODY, .gid = NOBODY,
							 .umask = 022 })) {
		res->stage = 2;
		return;
	}
	if (keep_dac_override) {
		/* Only the right to pass file permissions: the socket is then
		 * reached, and the daemon alone must refuse us. */
		memset(data, 0, sizeof(data));
		data[0].effective = data[0].permitted = 1u << CAP_DAC_OVERRIDE;
		if (syscall(SYS_capset, &hdr, data) < 0)
			res->stage = 3;
	}
}

/* What the peer asks for: a trace file in the daemon's own directory (0700,
 * root's), which it could not create itself. */
static char peer_trace[400];

static void peer_child(const char *sock, bool keep_dac_override, int out)
{
	struct peer_result res = { 0 };
	int fd;

	become_nobody(keep_dac_override, &res);
	if (res.stage == 0) {
		fd = raw_connect(sock);
		res.connect_errno = fd < 0 ? errno : 0;
		if (fd >= 0) {
			char more[64], cmd[450];
			int n = snprintf(cmd, sizeof(cmd), "trace on %s\n", peer_trace);

			/* A command (it may find the connection closed already),
			 * then the one answer: the refusal, or "ok 0" if let in. */
			ctl_send_all(fd, cmd, (size_t)n);
			raw_line(fd, res.line, sizeof(res.line));
			/* Refused: the daemon has closed.  Let in: nothing more
			 * would come, do not wait for it. */
			if (strncmp(res.line, "err ", 4) == 0)
				res.eof_after = !raw_line(fd, more, sizeof(more));
		}
	}
	if (write(out, &res, sizeof(res)) != sizeof(res))
		_exit(2);
	_exit(0);
}

static bool run_peer(const char *sock, bool keep_dac_override, struct peer_result *res)
{
	struct pollfd p;
	int pfd[2];
	pid_t pid;
	bool ok;

	memset(res, 0, sizeof(*res));
	if (!CHECK(pipe2(pfd, O_CLOEXEC) == 0, "pipe: %s", strerror(errno)))
		return false;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		peer_child(sock, keep_dac_override, pfd[1]);
	}
	close(pfd[1]);
	p = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
	ok = CHECK(pid > 0, "fork: %s", strerror(errno)) &&
	     CHECK(poll(&p, 1, ITEST_WAIT_MS) == 1 && read(pfd[0], res, sizeof(*res)) ==
		   sizeof(*res), "the uid %d child did not report", NOBODY) &&
	     CHECK(res->stage == 0, "the child could not become uid %d (stage %d)", NOBODY,
		   res->stage);
	close(pfd[0]);
	if (pid > 0 && !diofs_wait_exit(pid, ITEST_WAIT_MS, NULL)) {
		kill(pid, SIGKILL);
		diofs_wait_exit(pid, ITEST_WAIT_MS, NULL);
	}
	return ok;
}

ITEST(socket_refuses_other_uid)
{
	struct diofs_mount *m = itest_mount(NULL);
	struct peer_result res;
	struct diofsctl *c;

	REQUIRE(m, "no mount");
	check_socket_mode(m->ctl, false);
	if (geteuid() != 0) {
		SKIP("changing uid needs root");
	}
	snprintf(peer_trace, sizeof(peer_trace), "%s/peer-trace.jsonl", m->root);
	/* Plain: the file permissions already stop it. */
	if (run_peer(m->ctl, false, &res))
		CHECK(res.connect_errno == EACCES, "uid %d connecting to the 0600 socket: saw %s, "
		      "wanted EACCES", NOBODY, expect_errname(res.connect_errno));
	/* Past the file permissions: the daemon refuses it by its credentials,
	 * with an err line, and closes. */
	if (run_peer(m->ctl, true, &res)) {
		CHECK(res.connect_errno == 0, "uid %d with CAP_DAC_OVERRIDE: connect saw %s, wanted "
		      "success", NOBODY, expect_errname(res.connect_errno));
		CHECK(strncmp(res.line, "err ", 4) == 0 && strstr(res.line, "permission denied") &&
		      strstr(res.line, "65534"), "uid %d: first line saw \"%s\", wanted \"err "
		      "permission denied: uid 65534 ...\"", NOBODY, res.line);
		CHECK(res.eof_after, "uid %d: the connection stayed open after the refusal", NOBODY);
	}
	/* So it cannot have root write where it could not. */
	CHECK(access(peer_trace, F_OK) < 0 && errno == ENOENT, "uid %d asked for trace on %s: "
	      "the file exists, wanted none", NOBODY, peer_trace);
	/* The owner is still served. */
	c = itest_ctl(m);
	CHECK(c && diofsctl_cmd(c, NULL, "ping") == 1, "ping from the owner after the refusals: "
	      "%s", c ? diofsctl_error(c) : "no connection");
}

/* Run diofsctl with args; its stdout in out, stderr in err; the status. */
static int ctl_cli(const char *mnt, char *out, size_t outlen, char *err, size_t errlen,
		   const char *a1, const char *a2, const char *a3, const char *a4, const char *a5)
{
	char *argv[] = { (char *)itest_diofsctl(), "--mount", (char *)mnt, (char *)a1,
			 (char *)a2, (char *)a3, (char *)a4, (char *)a5, NULL };

	return itest_run(argv, out, outlen, err, errlen);
}

static bool cli_ok(int status, const char *what, const char *err)
{
	return CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		     "diofsctl %s: saw status %#x (stderr: %s), wanted exit 0", what, status, err);
}

ITEST(default_socket_found_by_cli)
{
	char out[1024], err[1024], sock[108], want[512];
	struct own_daemon *d;
	struct diofsctl *lib;
	struct stat st;
	struct io *io;
	int st_, fd;
	unsigned long long id, off, size;
	char op[16], path[64];
	int pid;

	d = own_start(NULL, true, false, NULL);
	REQUIRE(d, "no daemon");
	snprintf(sock, sizeof(sock), "%s", d->sock);
	/* RUNDIR/diofs/HASH.sock, 0600 in a 0700 directory. */
	check_socket_mode(sock, true);

	/* The library finds it from the mount point. */
	lib = diofsctl_connect_mount(d->mnt, err, sizeof(err));
	if (CHECK(lib, "diofsctl_connect_mount(%s): %s", d->mnt, err)) {
		CHECK(diofsctl_cmd(lib, NULL, "ping") == 1, "ping through connect_mount: %s",
		      diofsctl_error(lib));
		diofsctl_close(lib);
	}

	/* The CLI: ping, a hold, held --wait, release, rule list. */
	st_ = ctl_cli(d->mnt, out, sizeof(out), err, sizeof(err), "ping", NULL, NULL, NULL, NULL);
	if (cli_ok(st_, "ping", err)) {
		snprintf(want, sizeof(want), "diofs at %s answers: pid ", d->mnt);
		CHECK(strncmp(out, want, strlen(want)) == 0 &&
		      strstr(out, ", version " PACKAGE_VERSION "\n"), "diofsctl ping: printed \"%s\", "
		      "wanted \"%sN, version %s\"", out, want, PACKAGE_VERSION);
	}
	/* Nothing held yet: held --wait says so in words. */
	st_ = ctl_cli(d->mnt, out, sizeof(out), err, sizeof(err), "held", "--wait", "0.2", NULL,
		      NULL);
	CHECK(st_ >= 0 && WIFEXITED(st_) && WEXITSTATUS(st_) == 1 &&
	      strcmp(err, "diofsctl: nothing held after 0.2 s\n") == 0, "diofsctl held --wait 0.2 "
	      "with nothing held: saw status %#x, stderr \"%s\"; wanted exit 1 and \"diofsctl: "
	      "nothing held after 0.2 s\"", st_, err);
	st_ = ctl_cli(d->mnt, out, sizeof(out), err, sizeof(err), "rule", "add", "hold",
		      "op=read", "path=/f");
	if (cli_ok(st_, "rule add", err))
		CHECK(strcmp(out, "1\n") == 0, "diofsctl rule add: printed \"%s\", wanted \"1\\n\"",
		      out);
	{
		char bpath[400], mpath[400], buf[4096];
		int bfd;

		snprintf(bpath, sizeof(bpath), "%s/f", d->backing);
		bfd = open(bpath, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		REQUIRE(bfd >= 0, "creating %s: %s", bpath, strerror(errno));
		pattern_fill(buf, sizeof(buf), 0, 1);
		CHECK(write(bfd, buf, sizeof(buf)) == (ssize_t)sizeof(buf), "write: %s",
		      strerror(errno));
		close(bfd);
		snprintf(mpath, sizeof(mpath), "%s/f", d->mnt);
		fd = open(mpath, O_RDONLY | O_CLOEXEC);
		REQUIRE(fd >= 0, "open %s: %s", mpath, strerror(errno));
	}
	io = io_pread(fd, 100, 7);
	st_ = ctl_cli(d->mnt, out, sizeof(out), err, sizeof(err), "held", "--wait", "10", NULL,
		      NULL);
	if (cli_ok(st_, "held --wait 10", err) && io) {
		snprintf(want, sizeof(want), "ID read /f 7 100 %d", (int)atomic_load(&io->tid));
		CHECK(sscanf(out, "%llu %15s %63s %llu %llu %d", &id, op, path, &off, &size, &pid) ==
		      6 && strcmp(op, "read") == 0 && strcmp(path, "/f") == 0 && off == 7 &&
		      size == 100 && pid == atomic_load(&io->tid) && itest_count(out, "\n") == 1,
		      "diofsctl held: printed \"%s\", wanted \"%s\"", out, want);
	}
	st_ = ctl_cli(d->mnt, out, sizeof(out), err, sizeof(err), "--json", "held", NULL, NULL,
		      NULL);
	if (cli_ok(st_, "--json held", err) && io) {
		snprintf(want, sizeof(want), "\"op\": \"read\", \"path\": \"/f\", \"offset\": 7, "
			 "\"size\": 100, \"pid\": %d", (int)atomic_load(&io->tid));
		CHECK(out[0] == '[' && strstr(out, want) && itest_count(out, "{") == 1 &&
		      strcmp(out + strlen(out) - 2, "]\n") == 0, "diofsctl --json held: printed "
		      "\"%s\", wanted [ {... %s ...} ]", out, want);
	}
	CHECK(io && !atomic_load(&io->done), "the held read completed before its release");
	st_ = ctl_cli(d->mnt, out, sizeof(out), err, sizeof(err), "release", "all", NULL, NULL,
		      NULL);
	if (cli_ok(st_, "release all", err))
		CHECK(strcmp(out, "1\n") == 0, "diofsctl release all: printed \"%s\", wanted 1", out);
	if (io && io_join(io))
		CHECK(io->ret == 100 && pattern_mismatch(io->buf, 100, 7, 1) < 0, "released read: saw "
		      "%zd (%s), wanted 100 bytes of the file", io->ret, expect_errname(io->err));
	close(fd);
	st_ = ctl_cli(d->mnt, out, sizeof(out), err, sizeof(err), "rule", "list", NULL, NULL,
		      NULL);
	if (cli_ok(st_, "rule list", err))
		CHECK(strncmp(out, "1 matched=1 acted=1 hold", 24) == 0 && strstr(out, "op=read") &&
		      strstr(out, "path=/f"), "diofsctl rule list: printed \"%s\", wanted \"1 "
		      "matched=1 acted=1 hold op=read path=/f\"", out);
	st_ = ctl_cli(d->mnt, out, sizeof(out), err, sizeof(err), "--json", "rule", "list", NULL,
		      NULL);
	if (cli_ok(st_, "--json rule list", err))
		CHECK(strstr(out, "{\"id\": 1, \"matched\": 1, \"acted\": 1, \"rule\": \"hold "),
		      "diofsctl --json rule list: printed \"%s\", wanted {\"id\": 1, \"matched\": 1, "
		      "\"acted\": 1, \"rule\": \"hold ...\"}", out);
	st_ = ctl_cli(d->mnt, out, sizeof(out), err, sizeof(err), "--json", "stats", NULL, NULL,
		      NULL);
	if (cli_ok(st_, "--json stats", err))
		CHECK(strstr(out, "{\"kind\": \"op\", \"op\": \"read\", \"count\": ") &&
		      strstr(out, "{\"kind\": \"held\", \"count\": 0}"), "diofsctl --json stats: "
		      "printed \"%s\", wanted the read's op object and {\"kind\": \"held\", \"count\": "
		      "0}", out);
	/* what INIT negotiated: three "init" lines */
	st_ = ctl_cli(d->mnt, out, sizeof(out), err, sizeof(err), "info", NULL, NULL, NULL, NULL);
	if (cli_ok(st_, "info", err))
		CHECK(strncmp(out, "init kernel=7.", 14) == 0 && strstr(out, " proto=7.") &&
		      strstr(out, "\ninit flags=") && itest_count(out, "\n") == 3,
		      "diofsctl info: printed \"%.300s\", wanted init kernel=7.N proto=7.N ..., "
		      "init flags=..., init offered=...", out);
	st_ = ctl_cli(d->mnt, out, sizeof(out), err, sizeof(err), "--json", "release", "all", NULL,
		      NULL);
	CHECK(st_ >= 0 && WIFEXITED(st_) && WEXITSTATUS(st_) == 2 && strstr(err, "--json"),
	      "diofsctl --json release all: saw status %#x, stderr \"%s\"; wanted exit 2 naming "
	      "--json", st_, err);
	/* Its failures: the daemon's refusal (1), a usage error (2). */
	st_ = ctl_cli(d->mnt, out, sizeof(out), err, sizeof(err), "release", "999", NULL, NULL,
		      NULL);
	CHECK(st_ >= 0 && WIFEXITED(st_) && WEXITSTATUS(st_) == 1 && strstr(err, "not held"),
	      "diofsctl release 999: saw status %#x, stderr \"%s\"; wanted exit 1 and \"not held\"",
	      st_, err);
	st_ = ctl_cli(d->mnt, out, sizeof(out), err, sizeof(err), "frobnicate", NULL, NULL, NULL,
		      NULL);
	CHECK(st_ >= 0 && WIFEXITED(st_) && WEXITSTATUS(st_) == 2, "diofsctl frobnicate: saw "
	      "status %#x (stderr \"%s\"), wanted exit 2", st_, err);
	/* A directory that no diofs serves: exit 1 saying so; -v names the
	 * socket it looked for. */
	snprintf(want, sizeof(want), "diofsctl: no diofs is mounted at %s\n", d->backing);
	st_ = ctl_cli(d->backing, out, sizeof(out), err, sizeof(err), "ping", NULL, NULL, NULL,
		      NULL);
	CHECK(st_ >= 0 && WIFEXITED(st_) && WEXITSTATUS(st_) == 1 && strcmp(err, want) == 0,
	      "diofsctl --mount BACKING ping: saw status %#x, stderr \"%s\"; wanted exit 1 and "
	      "\"%s\"", st_, err, want);
	st_ = ctl_cli(d->backing, out, sizeof(out), err, sizeof(err), "-v", "ping", NULL, NULL,
		      NULL);
	CHECK(st_ >= 0 && WIFEXITED(st_) && WEXITSTATUS(st_) == 1 &&
	      strstr(err, "no diofs is mounted at") && strstr(err, "looked for its control socket") &&
	      strstr(err, "diofs/"), "diofsctl -v --mount BACKING ping: saw status %#x, stderr "
	      "\"%s\"; wanted exit 1 naming the socket it looked for", st_, err);

	/* A clean stop takes the socket away. */
	own_stop(d);
	CHECK(lstat(sock, &st) < 0 && errno == ENOENT, "%s after the daemon stopped: saw it "
	      "still there, wanted it removed", sock);
}

/* A socket directory whose parent another user owns (what /tmp/diofs-UID
 * is when someone else makes it first): that user could move it away and
 * serve a socket of their own.  The daemon refuses it, naming it. */
ITEST(movable_socket_dir_refused)
{
	char base[] = "/tmp/diofs-test-planted-XXXXXX", planted[64], opts[128], log[2048];
	struct own_daemon *d;
	int status;

	if (geteuid() != 0) {
		SKIP("planting a directory of another uid needs root");
	}
	REQUIRE(mkdtemp(base), "mkdtemp: %s", strerror(errno));
	snprintf(planted, sizeof(planted), "%s/other", base);
	if (CHECK(chmod(base, 0755) == 0 && mkdir(planted, 0755) == 0 &&
		  chown(planted, 4243, 4243) == 0 && mkdir(strcat(planted, "/diofs"), 0700) == 0,
		  "planting %s: %s", planted, strerror(errno))) {
		snprintf(opts, sizeof(opts), "ctl=%s/ctl.sock", planted);
		d = own_start(opts, false, true, &status);
		if (d) {
			itest_read_text(d->log, log, sizeof(log));
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1 &&
			      strstr(log, "is owned by uid 4243, not by root or uid 0"),
			      "-o %s: saw status %#x, stderr \"%s\"; wanted exit 1, \"%s/other is "
			      "owned by uid 4243, not by root or uid 0\"", opts, status, log, base);
			own_stop(d);
		}
	}
	diofs_remove_tree(base);
}

/* Does the daemon end the connection (within ITEST_WAIT_MS)?  What comes
 * before the end is skipped. */
static bool reaches_eof(int fd)
{
	char buf[4096];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, ITEST_WAIT_MS) != 1)
			return false;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return true;
		if (n < 0)
			return false;
	}
}

/* A client that sends its command and shuts down its writing half (as
 * `nc -N` does) is still answered: every command, a last line without its
 * newline, and a "held" that waits for a hold to come. */
ITEST(half_closed_client_is_answered)
{
	static const char *const cmds[] = {
		"ping\n", "stats\n", "rule list\n", "held\n", "held min=0 timeout=10\n",
		"release all\n", "trace flush\n", "rule clear\n", "bogus\n", "ping",
		"held timeout=0",
		/* Waits longer than the daemon's look for a departed client
		 * (HELD_SLICE_MS), nothing held: the answer is the timeout. */
		"held min=1 timeout=300\n",
	};
	struct diofs_mount *m = itest_mount(NULL);
	struct diofsctl *c;
	char ans[256];
	struct io *io;
	int fd;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, "f", FSIZE, 1), "no file");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		fd = raw_connect(m->ctl);
		REQUIRE(fd >= 0, "connect: %s", strerror(errno));
		CHECK(ctl_send_all(fd, cmds[i], strlen(cmds[i])) && shutdown(fd, SHUT_WR) == 0 &&
		      raw_line(fd, ans, sizeof(ans)) &&
		      (strncmp(ans, "ok ", 3) == 0 || strncmp(ans, "err ", 4) == 0),
		      "\"%.*s\" then SHUT_WR: saw \"%s\", wanted an ok or err line",
		      (int)strcspn(cmds[i], "\n"), cmds[i], ans);
		/* Then the end, at once (as `nc -N` waits for): data lines, EOF. */
		CHECK(reaches_eof(fd), "\"%.*s\" then SHUT_WR: no end of input after the answer",
		      (int)strcspn(cmds[i], "\n"), cmds[i]);
		itest_close(fd);
		ans[0] = '\0';
	}
	/* held --wait: the answer comes when the read is held. */
	fd = raw_connect(m->ctl);
	REQUIRE(fd >= 0, "connect: %s", strerror(errno));
	REQUIRE(ctl_send_all(fd, "held min=1\n", 11) && shutdown(fd, SHUT_WR) == 0, "send: %s",
		strerror(errno));
	io = held_read(m, c);
	CHECK(raw_line(fd, ans, sizeof(ans)) && strcmp(ans, "ok 1") == 0, "held min=1 then "
	      "SHUT_WR, a read held: saw \"%s\", wanted ok 1", ans);
	CHECK(diofsctl_release(c, 0, NULL) == 1, "release all: %s", diofsctl_error(c));
	if (io)
		io_join(io);
}

/* The daemon's threads serving a control client (named diofs-ctl). */
static int ctl_threads(pid_t pid)
{
	char path[64], comm[32];
	struct dirent *e;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		char p2[400];

		if (e->d_name[0] == '.')
			continue;
		snprintf(p2, sizeof(p2), "%s/%s/comm", path, e->d_name);
		if (itest_read_text(p2, comm, sizeof(comm)) && strcmp(comm, "diofs-ctl\n") == 0)
			n++;
	}
	closedir(dir);
	return n;
}

/* Wait (ITEST_WAIT_MS at most, a failsafe) until pid has want of them. */
static bool ctl_threads_become(pid_t pid, int want)
{
	uint64_t deadline = diofs_now_ns() + ITEST_WAIT_MS * 1000000ull;
	int n;

	while ((n = ctl_threads(pid)) != want && diofs_now_ns() < deadline) {
		struct pollfd none;

		poll(&none, 0, 10); /* a thread's end gives no event to wait on */
	}
	return n == want;
}

/* A client that leaves entirely while its "held" waits: the thread serving
 * it ends, the daemon keeps serving. */
ITEST(client_leaving_held_wait_frees_thread)
{
	struct diofs_mount *m = itest_mount(NULL);
	struct diofsctl *c;
	int before, fd;

	REQUIRE(m, "no mount");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	REQUIRE(diofsctl_cmd(c, NULL, "ping") == 1, "ping: %s", diofsctl_error(c));
	/* ours alone, once the thread of itest_mount's readiness probe ended */
	before = 1;
	REQUIRE(ctl_threads_become(m->pid, before), "diofs-ctl threads of pid %d: saw %d, wanted "
		"1 (ours)", (int)m->pid, ctl_threads(m->pid));
	fd = raw_connect(m->ctl);
	REQUIRE(fd >= 0, "connect: %s", strerror(errno));
	REQUIRE(ctl_send_all(fd, "held min=5\n", 11), "send: %s", strerror(errno));
	CHECK(ctl_threads_become(m->pid, before + 1), "a client waiting in held: the daemon has "
	      "%d diofs-ctl threads, wanted %d", ctl_threads(m->pid), before + 1);
	itest_close(fd);
	CHECK(ctl_threads_become(m->pid, before), "the waiting client left: the daemon has %d "
	      "diofs-ctl threads, wanted %d again", ctl_threads(m->pid), before);
	CHECK(diofsctl_cmd(c, NULL, "ping") == 1, "ping: %s", diofsctl_error(c));
}

/* diofsctl prints names escaped: a file named with an escape sequence
 * reaches the terminal as \x1b..., in held and in rule list; the daemon's
 * messages too. */
ITEST(cli_prints_names_escaped)
{
	static const char name[] = "e\x1b]0;pwned\x07\x1b[31mred\\";
	static const char shown[] = "/e\\x1b]0;pwned\\x07\\x1b[31mred\\\\";
	struct diofs_mount *m = itest_mount(NULL);
	char out[2048], err[1024], glob[64];
	struct diofsctl *c;
	struct io *io;
	int st, fd;

	REQUIRE(m, "no mount");
	REQUIRE(itest_make_file(m, name, FSIZE, 1), "no file");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	snprintf(glob, sizeof(glob), "/e\x1b]0;pwned\x07*");
	REQUIRE(itest_rule(c, "hold op=read path=%s", glob) > 0, "no rule");
	fd = itest_open(m, name, O_RDONLY);
	REQUIRE(fd >= 0, "open: %s", strerror(errno));
	io = io_pread(fd, 100, 0);
	REQUIRE(itest_held(c, 1, NULL, 0) == 1, "not held");
	{
		char *argv[] = { (char *)itest_diofsctl(), "--socket", m->ctl, "held", NULL };

		st = itest_run(argv, out, sizeof(out), err, sizeof(err));
		CHECK(st == 0 && strstr(out, shown) && !strchr(out, '\x1b') && !strchr(out, '\x07'),
		      "diofsctl held: saw status %#x, \"%s\"; wanted the name as %s, no control "
		      "byte", st, out, shown);
	}
	{
		char *argv[] = { (char *)itest_diofsctl(), "--socket", m->ctl, "rule", "list",
				 NULL };

		st = itest_run(argv, out, sizeof(out), err, sizeof(err));
		CHECK(st == 0 && strstr(out, "path=/e\\x1b]0;pwned\\x07*") && !strchr(out, '\x1b'),
		      "diofsctl rule list: saw status %#x, \"%s\"; wanted the glob escaped", st,
		      out);
	}
	{
		/* The daemon's err line echoes what it was sent. */
		char *argv[] = { (char *)itest_diofsctl(), "--socket", m->ctl, "release", "1",
				 "errno=E\x1b[2J", NULL };

		st = itest_run(argv, out, sizeof(out), err, sizeof(err));
		CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
		      strstr(err, "E\\x1b[2J") && !strchr(err, '\x1b'), "diofsctl release 1 "
		      "errno=E<ESC>[2J: saw status %#x, stderr \"%s\"; wanted exit 1, the name "
		      "escaped", st, err);
	}
	CHECK(diofsctl_release(c, 0, NULL) == 1, "release all: %s", diofsctl_error(c));
	if (io)
		io_join(io);
}

#define VICTIM 4271    /* a non-root user running diofs */
#define PLANTER 4273   /* another user, there first */
#define NOT_EXECUTABLE 125 /* the child's exit: the victim cannot run diofs */

/* The reported case whole: diofs run by a user without XDG_RUNTIME_DIR
 * puts its socket under /tmp/diofs-UID; another user made that first
 * (world-writable, so the victim's mkdir inside works).  diofs must refuse
 * it, naming it, before it mounts anything. */
ITEST(planted_tmp_socket_dir_refused)
{
	char base[] = "/tmp/diofs-test-victim-XXXXXX", backing[64], mnt[64], planted[64];
	char out[512], err[2048];
	const char *skip = NULL;
	int pfd[2], status = -1;
	struct stat st;
	pid_t pid;

	if (geteuid() != 0) {
		SKIP("running diofs as another uid needs root");
	}
	snprintf(planted, sizeof(planted), "/tmp/diofs-%d", VICTIM);
	if (lstat(planted, &st) == 0) {
		SKIP("/tmp/diofs-4271 exists already (not ours to remove)");
	}
	REQUIRE(mkdtemp(base), "mkdtemp: %s", strerror(errno));
	/* removed by the runner should the case hang or die */
	test_track_dir(base);
	test_track_dir(planted);
	snprintf(backing, sizeof(backing), "%s/backing", base);
	snprintf(mnt, sizeof(mnt), "%s/mnt", base);
	if (!CHECK(chmod(base, 0755) == 0 && mkdir(backing, 0755) == 0 &&
		   chown(backing, VICTIM, VICTIM) == 0 && mkdir(mnt, 0755) == 0 &&
		   chown(mnt, VICTIM, VICTIM) == 0 && mkdir(planted, 0777) == 0 &&
		   chmod(planted, 0777) == 0 && chown(planted, PLANTER, PLANTER) == 0 &&
		   pipe2(pfd, O_CLOEXEC) == 0, "setting up: %s", strerror(errno)))
		goto out;
	pid = fork();
	if (pid == 0) {
		char *argv[] = { (char *)diofs_binary(), "-f", backing, mnt, NULL };
		char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };

		dup2(pfd[1], STDERR_FILENO);
		dup2(pfd[1], STDOUT_FILENO);
		if (diofs_become(&(const struct diofs_identity){ .uid = VICTIM, .gid = VICTIM,
								 .umask = 022 }) == 0) {
			if (access(argv[0], X_OK) != 0)
				_exit(NOT_EXECUTABLE);
			execve(argv[0], argv, envp);
		}
		_exit(126);
	}
	close(pfd[1]);
	if (pid > 0)
		test_track_mount(mnt, pid, NULL); /* should it mount and hang */
	if (CHECK(pid > 0, "fork: %s", strerror(errno))) {
		size_t n = 0;
		ssize_t r;
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };

		/* Its output until it ends (it closes the pipe by exiting). */
		while (n + 1 < sizeof(err) && poll(&p, 1, ITEST_WAIT_MS) == 1 &&
		       (r = read(pfd[0], err + n, sizeof(err) - 1 - n)) > 0)
			n += (size_t)r;
		err[n] = '\0';
		if (!diofs_wait_exit(pid, ITEST_WAIT_MS, &status)) {
			/* It mounted: the defect.  Take it down. */
			umount2(mnt, MNT_DETACH);
			kill(pid, SIGKILL);
			diofs_wait_exit(pid, ITEST_WAIT_MS, &status);
			status = -1;
		}
		if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == NOT_EXECUTABLE) {
			/* A premise, not the defect: e.g. a build under a 0700 directory. */
			skip = "diofs is not executable by another uid here (a directory on its "
			       "path is private)";
			goto reaped;
		}
		snprintf(out, sizeof(out), "%s is owned by uid %d, not by root or uid %d", planted,
			 PLANTER, VICTIM);
		CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1 &&
		      strstr(err, out), "diofs as uid %d, %s made by uid %d: saw status %#x, "
		      "output \"%s\"; wanted exit 1 and \"%s\"", VICTIM, planted, PLANTER, status,
		      err, out);
	}
reaped:
	close(pfd[0]);
out:
	if (diofs_fuse_mounted_at(mnt))
		umount2(mnt, MNT_DETACH);
	test_untrack_mount(mnt);
	diofs_remove_tree(planted);
	diofs_remove_tree(base);
	test_untrack_dir(planted);
	test_untrack_dir(base);
	if (skip)
		SKIP("%s", skip);
}

/* stats' lookup line: count, errors, negative; false if there is none. */
static bool lookup_stats(struct diofsctl *c, unsigned long long *count,
			 unsigned long long *errors, unsigned long long *negative)
{
	char **lines;
	int n = diofsctl_cmd(c, &lines, "stats");
	bool found = false;

	if (!CHECK(n >= 0, "stats: %s", diofsctl_error(c)))
		return false;
	for (int i = 0; i < n && !found; i++)
		found = sscanf(lines[i], "op lookup count=%llu errors=%llu negative=%llu", count,
			       errors, negative) == 3;
	diofsctl_free_lines(lines);
	return CHECK(found, "stats has no \"op lookup count=N errors=N negative=N\" line");
}

/* A lookup answered ENOENT is a negative lookup (what every shell's PATH
 * search does), not an error: stats counts it as negative=. */
ITEST(enoent_lookups_count_as_negative)
{
	struct diofs_mount *m = itest_mount(NULL);
	unsigned long long count0 = 0, err0 = 0, neg0 = 0, count = 0, err = 0, neg = 0;
	struct diofsctl *c;
	struct stat st;
	char path[512];

	REQUIRE(m, "no mount");
	REQUIRE((c = itest_ctl(m)), "no control connection");
	/* one lookup that finds something, so that the line is there */
	REQUIRE(itest_make_file(m, "here", 10, 1), "no file");
	snprintf(path, sizeof(path), "%s/here", m->mnt);
	REQUIRE(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
	REQUIRE(lookup_stats(c, &count0, &err0, &neg0), "no lookup stats");
	for (int i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/missing-%d", m->mnt, i);
		CHECK(stat(path, &st) < 0 && errno == ENOENT, "stat %s: saw %s, wanted ENOENT", path,
		      expect_errname(errno));
	}
	if (lookup_stats(c, &count, &err, &neg))
		CHECK(count - count0 == 5 && neg - neg0 == 5 && err == err0, "5 lookups of missing "
		      "names: saw count +%llu negative +%llu errors +%llu, wanted +5 +5 +0",
		      count - count0, neg - neg0, err - err0);
}

TEST_MAIN("test_inst_ctl")
