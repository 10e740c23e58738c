/* Processes for a test (see proc.h). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "harness/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t diofs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t diofs_now_ms(void)
{
	return (int64_t)(diofs_now_ns() / 1000000u);
}

static void drain(int fd, char *buf, size_t cap, size_t *len)
{
	char tmp[4096];
	ssize_t r;

	while ((r = read(fd, tmp, sizeof(tmp))) > 0) {
		size_t take = (size_t)r;
		if (*len + take > cap - 1)
			take = cap - 1 - *len;
		memcpy(buf + *len, tmp, take);
		*len += take;
		buf[*len] = '\0';
	}
}

int diofs_run(char *const argv[], char *const env[], int timeout_ms, struct diofs_run *r)
{
	int out[2], err[2], status = -1, pidfd = -1;
	size_t olen = 0, elen = 0;
	int64_t deadline = diofs_now_ms() + timeout_ms;
	bool out_open = true, err_open = true;
	pid_t pid;

	r->out[0] = r->err[0] = '\0';
	r->timed_out = false;
	if (pipe2(out, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		sigset_t none;
		int null = open("/dev/null", O_RDONLY);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(null, STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		for (int i = 0; env && env[i]; i++)
			putenv(env[i]);
		execvp(argv[0], argv);
		dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	if (pid < 0) {
		close(out[0]);
		close(err[0]);
		return -1;
	}
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = out_open ? out[0] : -1, .events = POLLIN },
			{ .fd = err_open ? err[0] : -1, .events = POLLIN },
			{ .fd = pidfd, .events = POLLIN },
		};
		int64_t left = deadline - diofs_now_ms();

		if (waitpid(pid, &status, WNOHANG) == pid) {
			drain(out[0], r->out, sizeof(r->out), &olen);
			drain(err[0], r->err, sizeof(r->err), &elen);
			break;
		}
		if (left <= 0) {
			r->timed_out = true;
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		/* pidfd: wakes at the exit; without it, a bounded poll */
		if (poll(p, 3, pidfd >= 0 ? (int)left : (int)(left < 20 ? left : 20)) < 0 &&
		    errno != EINTR)
			break;
		if (p[0].revents) {
			size_t before = olen;
			drain(out[0], r->out, sizeof(r->out), &olen);
			if (olen == before && (p[0].revents & POLLHUP))
				out_open = false;
		}
		if (p[1].revents) {
			size_t before = elen;
			drain(err[0], r->err, sizeof(r->err), &elen);
			if (elen == before && (p[1].revents & POLLHUP))
				err_open = false;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	close(out[0]);
	close(err[0]);
	return status;
}

int diofs_count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int diofs_become(const struct diofs_identity *id)
{
	umask(id->umask);
	if (setgroups(id->ngroups, id->groups) < 0 || setresgid(id->gid, id->gid, id->gid) < 0 ||
	    setresuid(id->uid, id->uid, id->uid) < 0)
		return errno;
	return 0;
}

pid_t diofs_spawn(const struct diofs_identity *id, int (*fn)(void *arg), void *arg)
{
	pid_t pid = fork();

	if (pid == 0) {
		int err = id ? diofs_become(id) : 0;

		if (err) {
			dprintf(STDERR_FILENO, "cannot become uid %u gid %u: %s\n",
				(unsigned int)id->uid, (unsigned int)id->gid, strerror(err));
			_exit(DIOFS_CHILD_NO_IDENTITY);
		}
		_exit(fn(arg) & 0xff);
	}
	return pid;
}
