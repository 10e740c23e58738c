#include <config.h>
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "engine.h"

struct loop {
	struct fuse_session *se;
	int fd;
	size_t bufsize;
	sem_t finished;   /* posted by a worker that saw the session end */
	int error;
};

static void *worker(void *arg)
{
	struct loop *lp = arg;
	char *buf = malloc(lp->bufsize);

	if (!buf) {
		lp->error = -ENOMEM;
		fuse_session_exit(lp->se);
		sem_post(&lp->finished);
		return NULL;
	}
	pthread_cleanup_push(free, buf);
	while (!fuse_session_exited(lp->se)) {
		ssize_t n;

		/* Cancellation only while waiting for the kernel. */
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		n = read(lp->fd, buf, lp->bufsize);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		if (n < 0) {
			/* ENOENT: the request was interrupted before we read
			 * it; EINTR, EAGAIN: nothing read. */
			if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
				continue;
			/* ENODEV: unmounted or aborted, the normal end. */
			if (errno != ENODEV)
				lp->error = -errno;
			fuse_session_exit(lp->se);
			break;
		}
		engine_handle(buf, (size_t)n, now_ns());
	}
	sem_post(&lp->finished);
	pthread_cleanup_pop(1);
	return NULL;
}

int loop_run(struct fuse_session *se, unsigned int n)
{
	struct loop lp = { .se = se, .fd = fuse_session_fd(se), .bufsize = engine_bufsize() };
	pthread_t *threads = calloc(n, sizeof(*threads));
	sigset_t block, old;
	unsigned int started = 0;

	if (!threads)
		return -ENOMEM;
	engine_set_fd(lp.fd);
	sem_init(&lp.finished, 0, 0);

	/* Signals that end the session are for the main thread, whose wait
	 * they interrupt. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (; started < n; started++) {
		int err = pthread_create(&threads[started], NULL, worker, &lp);

		if (err) {
			fprintf(stderr, "diofs: cannot start worker thread: %s\n", strerror(err));
			lp.error = -err;
			fuse_session_exit(se);
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	while (!fuse_session_exited(se))
		sem_wait(&lp.finished);

	for (unsigned int i = 0; i < started; i++)
		pthread_cancel(threads[i]);
	for (unsigned int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	sem_destroy(&lp.finished);
	free(threads);
	return lp.error;
}
