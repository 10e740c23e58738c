#include <config.h>
#include "loop.h"

#include <errno.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "lowlevel.h"

struct loop {
	struct fuse_session *se;
	sem_t finished;   /* posted by a worker that saw the session end */
	int error;
};

static void free_buffer(void *arg)
{
	free(((struct fuse_buf *)arg)->mem);
}

static void *worker(void *arg)
{
	struct loop *lp = arg;
	struct fuse_buf buf = { .mem = NULL };

	pthread_cleanup_push(free_buffer, &buf);
	while (!fuse_session_exited(lp->se)) {
		int res;

		/* Cancellation only while waiting for the kernel. */
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		res = fuse_session_receive_buf(lp->se, &buf);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		if (res == -EINTR)
			continue;
		if (res <= 0) {
			if (res < 0 && res != -ENODEV)
				lp->error = res;
			fuse_session_exit(lp->se);
			break;
		}
		if (!(buf.flags & FUSE_BUF_IS_FD) && buf.size >= sizeof(struct fuse_in_header))
			diofs_cur_header.unique = ((struct fuse_in_header *)buf.mem)->unique;
		else
			diofs_cur_header.unique = 0;
		diofs_cur_header.start_ns = now_ns();
		fuse_session_process_buf(lp->se, &buf);
	}
	sem_post(&lp->finished);
	pthread_cleanup_pop(1);
	return NULL;
}

int loop_run(struct fuse_session *se, unsigned int n)
{
	struct loop lp = { .se = se };
	pthread_t *threads = calloc(n, sizeof(*threads));
	sigset_t block, old;
	unsigned int started = 0;

	if (!threads)
		return -ENOMEM;
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
