/* FUSE-over-io_uring, diofs's side (written from the kernel's
 * fs/fuse/dev_uring.c and Documentation/filesystems/fuse-io-uring.rst).
 *
 * The kernel keeps one ring queue per possible CPU and puts each request
 * on the queue of the CPU that submitted it; the ring is used only once
 * every queue has an entry registered, and until then every new request
 * waits in the kernel (fs/fuse/dev.c, fuse_block_alloc), killably, and is
 * failed if the connection ends.  So: one thread per queue, pinned to its
 * CPU, with its own io_uring (SQE128: the command does not fit a 64-byte
 * SQE).
 *
 * An entry is a header (struct fuse_uring_req_header) and a payload
 * buffer of at least max_write bytes.  The kernel writes the request's
 * fuse_in_header into the header, the op's first argument (its fixed
 * struct, if any) beside it, and the rest (names, write data) into the
 * payload.  Each entry's buffer keeps a page of room in front of the
 * payload, where the header and first argument are copied back, so that
 * the engine sees the request as /dev/fuse would have delivered it,
 * without copying the payload.  The reply goes into the header (the
 * fuse_out_header) and the payload (everything after it).
 *
 * Who submits.  A parked call (hold, delay, lock wait) keeps its entry and
 * is answered later by another thread: the control server, the timer
 * thread, an interrupt.  Only the queue thread submits to its ring: the
 * submission queue is single-producer, and the kernel runs the work that
 * hands the entry its next request in the context of the task that
 * submitted the commit, which must be the pinned queue thread (the ring is
 * IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN, so that work runs when the
 * queue thread waits, on its CPU, never interrupting another thread).  A
 * reply from another thread fills the entry's buffers, puts the entry on
 * the queue's commit list (a mutex) and wakes the queue thread through an
 * eventfd that the ring always has a read posted on.  A reply on the queue
 * thread itself (the common case: the call ran inline) prepares the commit
 * at once, submitted with the next wait: one system call per request.
 *
 * Which entry a reply belongs to is found by the request's unique (a hash
 * of the entries that await a reply): the reply paths stay send.c's,
 * and a reply to a unique no entry waits for (a second reply, one to a
 * unique the kernel never sent) goes to /dev/fuse, where the kernel
 * refuses it, instead of into an entry that serves another request now.
 *
 * A refused reply.  The kernel says whether it took a commit only when it
 * cannot find the request (fuse_uring_commit_fetch: ENOENT for a commit_id
 * it does not have in flight, ENOTCONN or ECONNABORTED once the connection
 * is gone): then the commit completes at once with that error.  A commit
 * it takes completes only when the entry carries the next request (or at
 * teardown, with an error of its own), and a reply whose header or payload
 * it rejects ends the request with that error and says nothing to us.  So
 * a reply that hands the kernel a reference (send_undo) keeps its undo in
 * the entry, with the round of the queue loop that prepared the commit: an
 * error completion for a commit submitted by this round's submit or the
 * one before is its refusal and runs the undo; one for an older commit is
 * the teardown of an entry whose commit was taken.  After proto=errno:N
 * (send_bad_error, committed in the entry: the kernel ends the
 * request) the real reply, with nowhere to go, is committed bare under the
 * request's commit_id, for the kernel to refuse (a "stale" commit).
 *
 * The entry budget.  An entry that waits for its reply serves nobody else,
 * and a queue whose entries all wait makes every further request from its
 * CPU wait in the kernel, whoever sends it.  No unprivileged caller may
 * exhaust what other users' requests need, so the waits a caller can cause
 * (a blocking flock that finds the lock taken; later, lease waits) may
 * keep at most a quarter of a queue's entries (uring_wait_begin), and one
 * user at most half of those, so that one user's waits cannot take all the
 * room other users' waits need either; past that the wait is answered
 * ENOLCK, flock(2)'s "out of lock records", as the kernel answers when it
 * has no room to wait.  Over /dev/fuse a parked
 * call keeps nothing and has no such cap.  Holds and delays are the
 * operator's rules: they may use every entry (diofs(8) says so). */
#include <config.h>
#include "uring.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "diofs.h"
#include "clock.h"
#include "fuse_proto.h"
#include "send.h"

#define ENABLE_URING "/sys/module/fuse/parameters/enable_uring"
/* Room in front of each payload for the header and the op's argument;
 * a page, so that the payload (write data) stays page aligned. */
#define FRONT_ROOM 4096
#define HASH_BUCKETS 4096
/* Payload memory given back (see trim_payload): what an entry keeps, and
 * the least that is worth a madvise. */
#define PAYLOAD_KEEP (64 * 1024)
#define PAYLOAD_TRIM_MIN (256 * 1024)
/* An entry that carried a large payload this recently keeps its pages. */
#define PAYLOAD_STREAM_NS (1000ull * 1000 * 1000)

struct uring_queue;

/* A bare commit of a request the kernel has ended already (see above);
 * its user_data is its address with STALE_TAG set. */
struct uring_stale {
	uint64_t unique;
	struct uring_queue *q;
	struct send_undo undo;
	struct uring_stale *next;         /* on q->stales, or on retired */
};
#define STALE_TAG ((uintptr_t)1)

struct wait_user {
	uid_t uid;
	unsigned int n;                   /* 0: slot free */
};

struct uring_ent {
	struct fuse_uring_req_header hdr; /* iov[0] */
	struct iovec iov[2];
	struct uring_queue *q;
	char *payload;                    /* iov[1], FRONT_ROOM after its buffer */
	uint64_t commit_id;               /* the request it serves */
	struct send_undo undo;          /* if its commit is refused (fn NULL: none) */
	uint64_t commit_round;            /* the loop round that prepared the commit */
	size_t touched;                   /* payload bytes used since the last trim */
	uint64_t large_ns, prev_large_ns; /* its last two large payloads (now_ns) */
	struct uring_ent *hash_next;      /* in by_unique while awaiting its reply */
	struct uring_ent *commit_next;    /* on q->commits */
	bool waiting;                     /* in by_unique */
};

struct uring_queue {
	unsigned int qid;
	struct io_uring ring;
	bool ring_ok;
	pthread_t thread;
	bool started;
	int efd;
	uint64_t efd_buf;
	pthread_mutex_t mu;
	struct uring_ent *commits;        /* filled by other threads, under mu */
	struct uring_stale *stales;       /* bare commits to send, under mu */
	uint64_t round;                   /* queue loop rounds (the thread's own) */
	struct uring_ent *ents;
	pthread_mutex_t wait_mu;
	unsigned int waits;               /* entries kept by caller-made waits */
	struct wait_user *wait_users;     /* their callers: wait_share() slots */
	char *mem;
	size_t mem_len;
	atomic_bool stop;
};

static struct uring_queue *queues;
static unsigned int nqueues, depth;
static atomic_uint registered;    /* queues whose entries were submitted */

/* -o io_uring_hold_register: the last queue waits here, before it
 * registers anything, until "register" or the stop: the ring exists (the
 * other queues' entries) but serves nothing yet, so that teardown can be
 * tested at that point (diofs-check's lifetime suite). */
static pthread_mutex_t register_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t register_cv = PTHREAD_COND_INITIALIZER;
static bool register_waiting, register_go, stopping;
static size_t payload_size;
static int fuse_fd = -1;
static uring_request_fn handle_request; /* the engine's */
static __thread struct uring_queue *this_queue;

static pthread_mutex_t hash_mu = PTHREAD_MUTEX_INITIALIZER;
static struct uring_ent *by_unique[HASH_BUCKETS];
/* Requests ended by a faulty commit, awaiting their real reply (under
 * hash_mu; one a proto=errno rule's call, so few). */
static struct uring_stale *retired;

int uring_available(char *why, size_t len)
{
	char c = 0;
	int fd = open(ENABLE_URING, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, len, "this kernel has no FUSE-over-io_uring (%s: %s; it needs "
			 "Linux 6.14 or newer with CONFIG_FUSE_IO_URING)", ENABLE_URING,
			 strerror(errno));
		return -1;
	}
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	if (c == 'Y' || c == '1')
		return 1;
	snprintf(why, len, "enable_uring is off: echo Y > %s (as root)", ENABLE_URING);
	return 0;
}

/* ---- entries awaiting their reply, by unique ---- */

static unsigned int bucket(uint64_t unique)
{
	return (unsigned int)((unique >> 1) ^ (unique >> 13)) % HASH_BUCKETS;
}

static void hash_put(struct uring_ent *e)
{
	unsigned int b = bucket(e->commit_id);

	pthread_mutex_lock(&hash_mu);
	e->hash_next = by_unique[b];
	by_unique[b] = e;
	e->waiting = true;
	pthread_mutex_unlock(&hash_mu);
}

static struct uring_ent *hash_take(uint64_t unique)
{
	struct uring_ent *e = NULL;

	pthread_mutex_lock(&hash_mu);
	for (struct uring_ent **pp = &by_unique[bucket(unique)]; *pp; pp = &(*pp)->hash_next)
		if ((*pp)->commit_id == unique) {
			e = *pp;
			*pp = e->hash_next;
			e->waiting = false;
			break;
		}
	pthread_mutex_unlock(&hash_mu);
	return e;
}

/* ---- the share of entries that caller-made waits may keep ---- */

static unsigned int wait_share(void)
{
	return depth / 4;
}

/* uid's slot among q's waiting users, or a free one (under wait_mu). */
static struct wait_user *wait_user(struct uring_queue *q, uid_t uid)
{
	struct wait_user *free_slot = NULL;

	for (unsigned int i = 0; i < wait_share(); i++) {
		struct wait_user *w = &q->wait_users[i];

		if (w->n && w->uid == uid)
			return w;
		if (!w->n && !free_slot)
			free_slot = w;
	}
	return free_slot;
}

int uring_wait_begin(uint64_t unique, uid_t uid)
{
	unsigned int per_user = wait_share() / 2 ? wait_share() / 2 : 1;
	struct uring_queue *q = NULL;
	struct wait_user *w;
	int ret = -ENOLCK;

	if (!queues)
		return URING_NO_QUEUE;
	pthread_mutex_lock(&hash_mu);
	for (struct uring_ent *e = by_unique[bucket(unique)]; e; e = e->hash_next)
		if (e->commit_id == unique) {
			q = e->q;
			break;
		}
	pthread_mutex_unlock(&hash_mu);
	if (!q)
		return URING_NO_QUEUE;
	pthread_mutex_lock(&q->wait_mu);
	/* Fewer users than waits: a slot is free whenever the share is. */
	if (q->waits < wait_share() && (w = wait_user(q, uid)) && w->n < per_user) {
		w->uid = uid;
		w->n++;
		q->waits++;
		ret = (int)q->qid;
	}
	pthread_mutex_unlock(&q->wait_mu);
	return ret;
}

void uring_wait_end(int qid, uid_t uid)
{
	struct uring_queue *q;
	struct wait_user *w;

	if (qid < 0 || !queues || (unsigned int)qid >= nqueues)
		return;
	q = &queues[qid];
	pthread_mutex_lock(&q->wait_mu);
	w = wait_user(q, uid);
	if (w && w->n && w->uid == uid) {
		w->n--;
		q->waits--;
	}
	pthread_mutex_unlock(&q->wait_mu);
}

/* ---- payload memory ----
 * An entry's payload pages stay resident once a large request or reply
 * touched them, and the kernel may leave that entry idle for ever after: a
 * burst of 1 MiB writes would keep up to max_write bytes of every entry.
 * So whenever the entry is ours (the kernel writes into it only after our
 * commit) and what it holds now (keep: the reply to commit, or the request
 * just served) is far below what it touched, the rest is given back with
 * MADV_FREE: free to reclaim under pressure, and no fault if it is used
 * again first.  Small requests never get here: no system call for them.
 *
 * Not for a stream: an entry whose previous large payload came less than
 * PAYLOAD_STREAM_NS before keeps its pages.  Given back after every 1 MiB
 * write, they made the next request's copy into them and the backing
 * write out of them slow (measured on 6.18: 160 instead of 1,000 MiB/s,
 * madvise 0.4 ms, pwrite from the payload 2-10 ms instead of 0.15 ms). */
static void trim_payload(struct uring_ent *e, size_t keep)
{
	size_t page;

	if (keep < PAYLOAD_KEEP)
		keep = PAYLOAD_KEEP;
	if (e->touched < keep + PAYLOAD_TRIM_MIN)
		return;
	if (e->prev_large_ns && e->large_ns - e->prev_large_ns < PAYLOAD_STREAM_NS)
		return;
	page = (size_t)sysconf(_SC_PAGESIZE);
	keep = (keep + page - 1) / page * page;
	/* Before 4.5 there is no MADV_FREE (EINVAL): the pages then stay. */
	madvise(e->payload + keep, e->touched - keep, MADV_FREE);
	e->touched = keep;
}

static void payload_used(struct uring_ent *e, size_t len)
{
	if (len > PAYLOAD_KEEP) {
		e->prev_large_ns = e->large_ns;
		e->large_ns = now_ns();
	}
	if (len > e->touched)
		e->touched = len;
}

/* ---- submissions (the queue thread only) ---- */

static struct io_uring_sqe *get_sqe(struct uring_queue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	/* The ring has room for every entry and the eventfd read; full only
	 * if the kernel is slow to take what was submitted. */
	while (!sqe) {
		io_uring_submit(&q->ring);
		sqe = io_uring_get_sqe(&q->ring);
	}
	return sqe;
}

/* A FUSE_IO_URING_CMD_* for q's queue: REGISTER (addr: the entry's iovecs)
 * or COMMIT_AND_FETCH (of commit_id), completing with data. */
static void prep_fuse_cmd(struct uring_queue *q, uint32_t op, const struct iovec *iov,
			  uint64_t commit_id, void *data)
{
	struct io_uring_sqe *sqe = get_sqe(q);
	struct fuse_uring_cmd_req *req = (struct fuse_uring_cmd_req *)sqe->cmd;

	memset(sqe, 0, 128); /* SQE128 */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fuse_fd;
	sqe->cmd_op = op;
	req->qid = (uint16_t)q->qid;
	if (iov) {
		sqe->addr = (uint64_t)(uintptr_t)iov;
		sqe->len = 2;
	}
	req->commit_id = commit_id;
	io_uring_sqe_set_data(sqe, data);
}

static void prep_cmd(struct uring_queue *q, struct uring_ent *e, uint32_t op)
{
	if (op == FUSE_IO_URING_CMD_REGISTER) {
		prep_fuse_cmd(q, op, e->iov, 0, e);
		return;
	}
	e->commit_round = q->round;
	prep_fuse_cmd(q, op, NULL, e->commit_id, e);
}

static void prep_stale(struct uring_queue *q, struct uring_stale *st)
{
	prep_fuse_cmd(q, FUSE_IO_URING_CMD_COMMIT_AND_FETCH, NULL, st->unique,
		      (void *)((uintptr_t)st | STALE_TAG));
}

static void prep_wakeup_read(struct uring_queue *q)
{
	struct io_uring_sqe *sqe = get_sqe(q);

	io_uring_prep_read(sqe, q->efd, &q->efd_buf, sizeof(q->efd_buf), 0);
	io_uring_sqe_set_data(sqe, q);
}

/* Wake the queue thread: commits from other threads. */
static void wake(struct uring_queue *q)
{
	static const uint64_t one = 1;

	if (write(q->efd, &one, sizeof(one)) < 0) {
		/* an eventfd counter cannot overflow at one a reply */
	}
}

/* The entry's reply is in its buffers: commit it (and fetch the next). */
static void commit(struct uring_ent *e)
{
	struct uring_queue *q = e->q;

	if (this_queue == q) {
		prep_cmd(q, e, FUSE_IO_URING_CMD_COMMIT_AND_FETCH);
		return;
	}
	pthread_mutex_lock(&q->mu);
	e->commit_next = q->commits;
	q->commits = e;
	pthread_mutex_unlock(&q->mu);
	wake(q);
}

/* A reply to unique, which a faulty commit ended: commit it bare, for the
 * kernel to refuse.  1 if unique is no such request. */
static int commit_stale(uint64_t unique, const struct send_undo *undo)
{
	struct uring_stale *st, **pp;
	struct uring_queue *q;

	pthread_mutex_lock(&hash_mu);
	for (pp = &retired; (st = *pp) && st->unique != unique; pp = &st->next)
		;
	if (st)
		*pp = st->next;
	pthread_mutex_unlock(&hash_mu);
	if (!st)
		return 1;
	q = st->q;
	st->undo = undo ? *undo : (struct send_undo){ 0 };
	if (this_queue == q) {
		prep_stale(q, st);
		return 0;
	}
	pthread_mutex_lock(&q->mu);
	st->next = q->stales;
	q->stales = st;
	pthread_mutex_unlock(&q->mu);
	wake(q);
	return 0;
}

static void prep_pending_commits(struct uring_queue *q)
{
	struct uring_stale *st, *next;
	struct uring_ent *e;

	pthread_mutex_lock(&q->mu);
	e = q->commits;
	q->commits = NULL;
	st = q->stales;
	q->stales = NULL;
	pthread_mutex_unlock(&q->mu);
	for (; e; e = e->commit_next)
		prep_cmd(q, e, FUSE_IO_URING_CMD_COMMIT_AND_FETCH);
	for (; st; st = next) {
		next = st->next;
		prep_stale(q, st);
	}
}

int uring_reply(uint64_t unique, const struct iovec *iov, int n,
		const struct send_undo *undo)
{
	struct fuse_out_header *oh;
	struct uring_ent *e;
	size_t len = 0;

	if (!queues)
		return 1;
	e = hash_take(unique);
	if (!e)
		return commit_stale(unique, undo);
	e->undo = undo ? *undo : (struct send_undo){ 0 };
	oh = (struct fuse_out_header *)e->hdr.in_out;
	memcpy(oh, iov[0].iov_base, sizeof(*oh));
	for (int i = 1; i < n; i++) {
		if (iov[i].iov_len > payload_size - len) {
			/* more than the entry holds (an overlong rule past
			 * max_write): what /dev/fuse would have refused */
			oh->error = -EIO;
			len = 0;
			break;
		}
		memmove(e->payload + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	if (oh->error)
		len = 0;
	e->hdr.ring_ent_in_out.payload_sz = (uint32_t)len;
	payload_used(e, len);
	trim_payload(e, len);
	commit(e);
	return 0;
}

int uring_commit_error(uint64_t unique, int32_t error)
{
	struct uring_stale *st = calloc(1, sizeof(*st));
	struct fuse_out_header *oh;
	struct uring_ent *e;

	if (!queues || !st || !(e = hash_take(unique))) {
		free(st);
		return 1;
	}
	oh = (struct fuse_out_header *)e->hdr.in_out;
	*oh = (struct fuse_out_header){ .len = sizeof(*oh), .error = error, .unique = unique };
	e->hdr.ring_ent_in_out.payload_sz = 0;
	e->undo = (struct send_undo){ 0 };
	st->unique = unique;
	st->q = e->q;
	pthread_mutex_lock(&hash_mu);
	st->next = retired;
	retired = st;
	pthread_mutex_unlock(&hash_mu);
	commit(e);
	return 0;
}

/* ---- completions ---- */

/* A request in e: rebuild it in front of the payload as /dev/fuse would
 * have delivered it and hand it to the engine. */
static void serve(struct uring_ent *e)
{
	struct fuse_in_header h;
	uint32_t payload_sz = e->hdr.ring_ent_in_out.payload_sz;
	size_t op_len;
	char *start;

	memcpy(&h, e->hdr.in_out, sizeof(h));
	e->commit_id = e->hdr.ring_ent_in_out.commit_id;
	payload_used(e, payload_sz < payload_size ? payload_sz : payload_size);
	hash_put(e);
	if (h.len < sizeof(h) || payload_sz > payload_size ||
	    h.len - sizeof(h) < payload_sz ||
	    h.len - sizeof(h) - payload_sz > FUSE_URING_OP_IN_OUT_SZ) {
		struct proto_out o;

		fprintf(stderr, "diofs: io_uring: queue %u: request %llu: length %u does not"
			" fit its entry (payload %u)\n", e->q->qid,
			(unsigned long long)e->commit_id, h.len, payload_sz);
		proto_out_init(&o, e->commit_id, EIO);
		send_reply(&o);
		return;
	}
	op_len = h.len - sizeof(h) - payload_sz;
	start = e->payload - op_len - sizeof(h);
	memcpy(start, &h, sizeof(h));
	memcpy(start + sizeof(h), e->hdr.op_in, op_len);
	handle_request(start, h.len, now_ns());
}

/* A refused commit: drop what its reply handed the kernel. */
static void undo(struct send_undo *u)
{
	struct send_undo run = *u;

	*u = (struct send_undo){ 0 };
	if (run.fn)
		run.fn(run.arg, run.nodeid);
}

static void complete(struct uring_queue *q, struct io_uring_cqe *cqe)
{
	void *data = io_uring_cqe_get_data(cqe);
	struct uring_ent *e = data;

	if (data == q) { /* the eventfd: commits from other threads, or stop */
		if (!atomic_load(&q->stop))
			prep_wakeup_read(q);
		return;
	}
	if ((uintptr_t)data & STALE_TAG) { /* refused, always: see commit_stale */
		struct uring_stale *st = (void *)((uintptr_t)data & ~STALE_TAG);

		undo(&st->undo);
		free(st);
		return;
	}
	if (cqe->res == 0) {
		e->undo = (struct send_undo){ 0 }; /* its commit was taken */
		serve(e);
		return;
	}
	if (e->commit_round + 1 >= q->round)
		undo(&e->undo);
	/* The entry is gone: the connection was aborted or unmounted
	 * (ENOTCONN, ECONNABORTED), the ring is closing (ECANCELED), or the
	 * kernel refused it (registering: EOPNOTSUPP, enable_uring off). */
	if (cqe->res != -ENOTCONN && cqe->res != -ECONNABORTED && cqe->res != -ECANCELED)
		fprintf(stderr, "diofs: io_uring: queue %u: %s\n", q->qid, strerror(-cqe->res));
}

/* The completions left when the queue stops: the refusals only. */
static void drain_refusals(struct uring_queue *q)
{
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0;

	io_uring_for_each_cqe(&q->ring, head, cqe) {
		void *data = io_uring_cqe_get_data(cqe);

		if (data != q && (cqe->res < 0 || ((uintptr_t)data & STALE_TAG)))
			complete(q, cqe);
		seen++;
	}
	io_uring_cq_advance(&q->ring, seen);
}

/* Onto the queue's CPU, whatever affinity diofs was started with (a
 * request is queued on its submitter's CPU: served there, it crosses no
 * CPU).  Where that fails (an offline CPU, a cpuset without it) the queue
 * still serves, from where diofs may run. */
static void pin_to_cpu(unsigned int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static int ring_init(struct uring_queue *q)
{
	struct io_uring_params p = { 0 };
	unsigned int size = 1;

	while (size < depth + 2)
		size <<= 1;
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER |
		  IORING_SETUP_DEFER_TASKRUN;
	return io_uring_queue_init_params(size, &q->ring, &p);
}

/* The hold above; false if the queues stop meanwhile. */
static bool register_wait(void)
{
	bool go;

	pthread_mutex_lock(&register_mu);
	register_waiting = true;
	while (!register_go && !stopping)
		pthread_cond_wait(&register_cv, &register_mu);
	register_waiting = false;
	go = register_go;
	pthread_mutex_unlock(&register_mu);
	return go;
}

bool uring_register_release(void)
{
	bool was;

	pthread_mutex_lock(&register_mu);
	was = register_waiting;
	if (was) {
		register_go = true;
		pthread_cond_broadcast(&register_cv);
	}
	pthread_mutex_unlock(&register_mu);
	return was;
}

static void *queue_main(void *arg)
{
	struct uring_queue *q = arg;
	int err;

	this_queue = q;
	pin_to_cpu(q->qid);
	/* The ring belongs to the thread that submits (SINGLE_ISSUER). */
	err = ring_init(q);
	if (err) {
		fprintf(stderr, "diofs: io_uring: queue %u: io_uring_setup: %s\n", q->qid,
			strerror(-err));
		return NULL;
	}
	q->ring_ok = true;
	if (diofs_cfg.io_uring_hold_register && q->qid == nqueues - 1 && !register_wait())
		return NULL;
	for (unsigned int i = 0; i < depth; i++)
		prep_cmd(q, &q->ents[i], FUSE_IO_URING_CMD_REGISTER);
	prep_wakeup_read(q);
	/* The kernel registers each entry as it is submitted (or refuses it,
	 * its completion says why): once every queue is through here, the
	 * ring serves the requests. */
	if (io_uring_submit(&q->ring) >= 0)
		atomic_fetch_add(&registered, 1);
	while (!atomic_load(&q->stop)) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;

		prep_pending_commits(q);
		err = io_uring_submit_and_wait(&q->ring, 1);
		if (err < 0 && err != -EINTR && err != -EAGAIN && err != -EBUSY) {
			fprintf(stderr, "diofs: io_uring: queue %u: %s\n", q->qid, strerror(-err));
			break;
		}
		/* The commits submitted now complete now if refused: commits
		 * prepared from here on belong to the next round. */
		if (err >= 0)
			q->round++;
		io_uring_for_each_cqe(&q->ring, head, cqe) {
			complete(q, cqe);
			seen++;
		}
		io_uring_cq_advance(&q->ring, seen);
	}
	/* Replies given before the stop (the daemon answering its parked
	 * calls as it stops) still go out; what the kernel refuses of them
	 * is dropped, no request is served any more. */
	prep_pending_commits(q);
	if (io_uring_submit(&q->ring) >= 0)
		q->round++;
	drain_refusals(q);
	return NULL;
}

static int queue_setup(struct uring_queue *q, unsigned int qid)
{
	size_t stride = FRONT_ROOM + payload_size;

	q->qid = qid;
	pthread_mutex_init(&q->mu, NULL);
	pthread_mutex_init(&q->wait_mu, NULL);
	q->wait_users = calloc(wait_share() ? wait_share() : 1, sizeof(*q->wait_users));
	if (!q->wait_users)
		return -ENOMEM;
	q->efd = eventfd(0, EFD_CLOEXEC);
	if (q->efd < 0)
		return -errno;
	q->ents = calloc(depth, sizeof(*q->ents));
	if (!q->ents)
		return -ENOMEM;
	/* Reserved, not committed: a page is used when a request reaches it. */
	q->mem_len = stride * depth;
	q->mem = mmap(NULL, q->mem_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (q->mem == MAP_FAILED) {
		q->mem = NULL;
		return -errno;
	}
	for (unsigned int i = 0; i < depth; i++) {
		struct uring_ent *e = &q->ents[i];

		e->q = q;
		e->payload = q->mem + i * stride + FRONT_ROOM;
		e->iov[0] = (struct iovec){ &e->hdr, sizeof(e->hdr) };
		e->iov[1] = (struct iovec){ e->payload, payload_size };
	}
	return 0;
}

int uring_start(int dev_fd, unsigned int q_depth, size_t payload, uring_request_fn handle)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF); /* the kernel: num_possible_cpus() */
	int err;

	if (queues)
		return -EALREADY;
	fuse_fd = dev_fd;
	handle_request = handle;
	depth = q_depth;
	payload_size = payload;
	nqueues = ncpu > 0 ? (unsigned int)ncpu : 1;
	queues = calloc(nqueues, sizeof(*queues));
	if (!queues)
		return -ENOMEM;
	for (unsigned int i = 0; i < nqueues; i++) {
		queues[i].efd = -1;
		err = queue_setup(&queues[i], i);
		if (err)
			return err;
	}
	for (unsigned int i = 0; i < nqueues; i++) {
		err = pthread_create(&queues[i].thread, NULL, queue_main, &queues[i]);
		if (err)
			return -err;
		queues[i].started = true;
	}
	return 0;
}

void uring_stop(void)
{
	static const uint64_t one = 1;

	if (!queues)
		return;
	pthread_mutex_lock(&register_mu);
	stopping = true;
	pthread_cond_broadcast(&register_cv);
	pthread_mutex_unlock(&register_mu);
	for (unsigned int i = 0; i < nqueues; i++) {
		struct uring_queue *q = &queues[i];

		atomic_store(&q->stop, true);
		if (q->efd >= 0 && write(q->efd, &one, sizeof(one)) < 0) {
			/* cannot fail: the counter is far from its limit */
		}
	}
	for (unsigned int i = 0; i < nqueues; i++) {
		struct uring_queue *q = &queues[i];

		if (q->started)
			pthread_join(q->thread, NULL);
		/* Closing the ring cancels the entries still registered. */
		if (q->ring_ok)
			io_uring_queue_exit(&q->ring);
		if (q->efd >= 0)
			close(q->efd);
		if (q->mem)
			munmap(q->mem, q->mem_len);
		while (q->stales) { /* a queue whose ring never started */
			struct uring_stale *st = q->stales;

			q->stales = st->next;
			free(st);
		}
		free(q->ents);
		free(q->wait_users);
		pthread_mutex_destroy(&q->mu);
		pthread_mutex_destroy(&q->wait_mu);
	}
	free(queues);
	queues = NULL;
	atomic_store(&registered, 0);
	memset(by_unique, 0, sizeof(by_unique));
	while (retired) {
		struct uring_stale *st = retired;

		retired = st->next;
		free(st);
	}
}

void uring_describe(char *buf, size_t len)
{
	bool held;

	pthread_mutex_lock(&register_mu);
	held = register_waiting;
	pthread_mutex_unlock(&register_mu);
	snprintf(buf, len, "queues=%u q_depth=%u payload=%zu registered=%u%s", nqueues, depth,
		 payload_size, atomic_load(&registered), held ? " register=held" : "");
}
