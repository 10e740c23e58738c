/* soak-mount: run a command against a fresh diofs mount, and always
 * unmount.  For the load tools (fio, stress-ng) of run-soak.
 *
 *   soak-mount [-o OPTS] [--timeout S] [--name NAME] -- CMD [ARG...]
 *
 * The command runs with DIOFS_MNT, DIOFS_BACKING, DIOFS_CTL and DIOFS_ROOT
 * in its environment, in a process group of its own (ended by its id on a
 * timeout).  Exit status: the command's; 124 if it ran out of time; 3 if
 * the daemon died under it (the command's failure or not); 77 if the
 * machine cannot mount FUSE. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "soak.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t cmd_pid;

static void end_cmd_group(int sig)
{
	(void)sig;
	if (cmd_pid > 0)
		kill(-cmd_pid, SIGKILL); /* the group we made for it */
}

int main(int argc, char **argv)
{
	const char *opts = NULL, *name = "soak-mount";
	unsigned int timeout = 600;
	struct diofs_mount m;
	char err[1024];
	int i, status = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			opts = argv[++i];
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout = (unsigned int)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: soak-mount [-o OPTS] [--timeout S] [--name NAME] -- CMD [ARG...]\n");
		return 2;
	}
	const char *why = diofs_mount_unavailable();
	if (why) {
		printf("SKIP: %s: %s\n", name, why);
		return 77;
	}
	/* a signal or the end of the program: the command's group goes too,
	 * then the harness unmounts */
	diofs_mount_install_handlers(end_cmd_group);
	if (diofs_mount_start(&m, opts, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: mount: %s\n", name, err);
		return 1;
	}
	setenv("DIOFS_MNT", m.mnt, 1);
	setenv("DIOFS_BACKING", m.backing, 1);
	setenv("DIOFS_CTL", m.ctl, 1);
	setenv("DIOFS_ROOT", m.root, 1);

	cmd_pid = fork();
	if (cmd_pid == 0) {
		sigset_t none;
		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[i], argv + i);
		fprintf(stderr, "%s: cannot run %s: %s\n", name, argv[i], strerror(errno));
		_exit(127);
	}
	if (cmd_pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", name, strerror(errno));
		diofs_mount_stop(&m);
		return 1;
	}
	setpgid(cmd_pid, cmd_pid);

	int pidfd = (int)syscall(SYS_pidfd_open, cmd_pid, 0);
	int64_t deadline = diofs_now_ms() + (int64_t)timeout * 1000;
	bool timed_out = false;
	for (;;) {
		pid_t r = waitpid(cmd_pid, &status, WNOHANG);
		if (r == cmd_pid)
			break;
		int64_t left = deadline - diofs_now_ms();
		if (left <= 0) {
			timed_out = true;
			fprintf(stderr, "%s: %s ran out of time (%u s): ending its process group %d\n",
				name, argv[i], timeout, (int)cmd_pid);
			kill(-cmd_pid, SIGTERM);
			struct pollfd p = { .fd = pidfd, .events = POLLIN };
			if (poll(&p, 1, 10000) <= 0)
				kill(-cmd_pid, SIGKILL);
			waitpid(cmd_pid, &status, 0);
			break;
		}
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		poll(&p, 1, pidfd >= 0 ? (int)left : 100);
	}
	if (pidfd >= 0)
		close(pidfd);
	/* what the command left in its group (workers of fio, stress-ng) */
	kill(-cmd_pid, SIGKILL);
	cmd_pid = 0;

	bool alive = diofs_mount_alive(&m);
	diofs_mount_stop(&m);
	if (!alive) {
		fprintf(stderr, "%s: FAIL: the daemon died under %s\n", name, argv[i]);
		return 3;
	}
	if (timed_out)
		return 124;
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "%s: %s was killed by signal %d\n", name, argv[i], WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}
