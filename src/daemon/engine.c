/* The session's messages and the way out.  Operations go to dispatch();
 * INIT, DESTROY, FORGET and INTERRUPT are answered here. */
#include <config.h>
#include "engine.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call_life.h"
#include "diofs.h"
#include "dispatch.h"
#include "ops.h"
#include "trace.h"
#include "uring.h"

static int dev_fd = -1;
static atomic_bool initialized;
static atomic_bool destroyed;
static struct proto_init_result negotiated; /* written once, before initialized */
static atomic_bool over_uring;              /* likewise: the transport */

void engine_set_fd(int fd)
{
	dev_fd = fd;
}

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

size_t engine_bufsize(void)
{
	return PROTO_MAX_PAGES * page_size() + PROTO_HEADER_ROOM;
}

bool engine_parallel_direct_writes(void)
{
	return !diofs_cfg.no_parallel_direct_writes;
}

static void debug_reply(const struct proto_out *o)
{
	fprintf(stderr, "diofs:    unique=%" PRIu64 " error=%d len=%" PRIu32 "\n",
		(uint64_t)o->h.unique, o->h.error, o->h.len);
}

int engine_send(struct proto_out *o)
{
	struct iovec iov[3];
	int n = proto_out_iov(o, iov);
	ssize_t res;

	if (diofs_cfg.debug)
		debug_reply(o);
	/* The reply goes where its request came from: a ring entry (its
	 * result, the commit's, is the ring's to see), else /dev/fuse. */
	if (over_uring && uring_reply(o->h.unique, iov, n) == 0)
		return 0;
	res = writev(dev_fd, iov, n);
	if (res == (ssize_t)o->h.len)
		return 0;
	if (res >= 0)
		return -EIO;
	/* ENOENT: the caller was interrupted and the kernel answered it;
	 * ENODEV: unmounted or aborted.  Both are the kernel's to decide. */
	if (errno != ENOENT && errno != ENODEV)
		fprintf(stderr, "diofs: reply to request %" PRIu64 ": %s\n",
			(uint64_t)o->h.unique, strerror(errno));
	return -errno;
}

ssize_t engine_write_raw(const struct iovec *iov, int n)
{
	ssize_t res = writev(dev_fd, iov, n);

	return res < 0 ? -errno : res;
}

static void send_error(uint64_t unique, int err)
{
	struct proto_out o;

	proto_out_init(&o, unique, err);
	engine_send(&o);
}

/* ---- INIT ---- */

const char *engine_transport(void)
{
	return over_uring ? "io_uring" : "dev_fuse";
}

/* Ring entries and their buffer: what the io_uring transport costs. */
static unsigned int uring_depth(void)
{
	return diofs_cfg.io_uring_q_depth;
}

static size_t uring_payload(const struct proto_init_result *r)
{
	size_t p = (size_t)r->max_pages * page_size();

	/* the kernel's minimum: FUSE_MIN_READ_BUFFER, max_write, max_pages */
	if (p < r->max_write)
		p = r->max_write;
	return p < 8192 ? 8192 : p;
}

static void init_json(const struct proto_init_result *r, char *buf, size_t size)
{
	char flags[1024], offered[1024], uring_json[128] = "";

	if (over_uring)
		snprintf(uring_json, sizeof(uring_json), ",\"io_uring_q_depth\":%u,"
			 "\"io_uring_payload\":%zu", uring_depth(), uring_payload(r));

	snprintf(buf, size,
		 "{\"init\":{\"kernel\":\"%" PRIu32 ".%" PRIu32 "\",\"proto\":\"%" PRIu32
		 ".%" PRIu32 "\",\"flags\":\"%s\",\"offered\":\"%s\",\"max_write\":%" PRIu32
		 ",\"max_pages\":%u,\"max_background\":%u,\"congestion_threshold\":%u,"
		 "\"max_readahead\":%" PRIu32 ",\"parallel_direct_writes\":%s,"
		 "\"transport\":\"%s\"%s}}",
		 r->kernel_major, r->kernel_minor, r->major, r->minor,
		 proto_init_flags_text(r->flags, flags, sizeof(flags)),
		 proto_init_flags_text(r->offered, offered, sizeof(offered)),
		 r->max_write, r->max_pages, r->max_background, r->congestion_threshold,
		 r->max_readahead, engine_parallel_direct_writes() ? "true" : "false",
		 engine_transport(), uring_json);
}

static void start_uring(const struct proto_init_result *r);

static void handle_init(const struct proto_in *in)
{
	struct proto_init_cfg cfg = {
		.want = proto_init_wanted_all() & ~diofs_cfg.init_off,
		/* Async direct I/O (libaio, io_uring) travels as background
		 * requests, and a held one keeps its slot: with the kernel's
		 * default of 12 the 13th would queue in the kernel, never
		 * reaching diofs to be held.  (Unprivileged mounts are capped
		 * by fs.fuse.max_user_bgreq.) */
		.max_background = 1024,
		.congestion_threshold = 768,
		.max_pages = PROTO_MAX_PAGES,
		.page_size = (uint32_t)page_size(),
	};
	struct proto_init_result r;
	struct proto_out o;
	char json[3072];
	int err;

	if (!diofs_cfg.async_dio)
		cfg.want &= ~FUSE_ASYNC_DIO;
	if (diofs_cfg.io_uring != URING_OFF)
		cfg.want |= FUSE_OVER_IO_URING;
	if (atomic_load(&initialized)) {
		send_error(in->h.unique, EPROTO);
		return;
	}
	err = ops_init();
	if (err) {
		fprintf(stderr, "diofs: inode table: %s\n", strerror(-err));
		send_error(in->h.unique, -err);
		return;
	}
	switch (proto_init(in, &cfg, &o, &r)) {
	case PROTO_INIT_RETRY:
		engine_send(&o);
		return;
	case PROTO_INIT_REFUSED:
		fprintf(stderr, "diofs: kernel FUSE protocol %" PRIu32 ".%" PRIu32
			" not supported (need 7.%d or newer)\n", r.kernel_major,
			r.kernel_minor, PROTO_MIN_MINOR);
		engine_send(&o);
		return;
	case PROTO_INIT_OK:
		break;
	}
	if (diofs_cfg.io_uring != URING_OFF && !(r.flags & FUSE_OVER_IO_URING)) {
		char why[512];

		if (uring_available(why, sizeof(why)) > 0)
			snprintf(why, sizeof(why), "the kernel did not offer it in INIT");
		if (diofs_cfg.io_uring == URING_REQUIRE) {
			fprintf(stderr, "diofs: -o io_uring: %s\n", why);
			send_error(in->h.unique, EPROTO);
			kill(getpid(), SIGTERM); /* end the session as a signal would */
			return;
		}
		fprintf(stderr, "diofs: warning: -o io_uring=fallback: %s; serving over "
			"/dev/fuse\n", why);
	}
	atomic_store(&over_uring, (r.flags & FUSE_OVER_IO_URING) != 0);
	negotiated = r;
	atomic_store(&initialized, true);
	init_json(&r, json, sizeof(json));
	trace_set_header(json);
	if (diofs_cfg.debug)
		fprintf(stderr, "diofs: %s\n", json);
	engine_send(&o);
	/* The kernel takes ring entries only once INIT is done. */
	if (over_uring)
		start_uring(&r);
}

static void start_uring(const struct proto_init_result *r)
{
	int err = uring_start(dev_fd, uring_depth(), uring_payload(r));

	if (err) {
		fprintf(stderr, "diofs: io_uring: cannot start the queues: %s\n",
			strerror(-err));
		kill(getpid(), SIGTERM);
	}
}

void engine_transport_line(char *buf, size_t len)
{
	char desc[128] = "";

	if (over_uring)
		uring_describe(desc, sizeof(desc));
	snprintf(buf, len, "transport %s%s%s", engine_transport(), *desc ? " " : "", desc);
}

void engine_info(engine_line_fn fn, void *ctx)
{
	const struct proto_init_result *r = &negotiated;
	char line[1200], flags[1024];

	if (!atomic_load(&initialized))
		return;
	snprintf(line, sizeof(line), "init kernel=%" PRIu32 ".%" PRIu32 " proto=%" PRIu32
		 ".%" PRIu32 " max_write=%" PRIu32 " max_pages=%u max_background=%u"
		 " congestion_threshold=%u max_readahead=%" PRIu32
		 " parallel_direct_writes=%d transport=%s", r->kernel_major, r->kernel_minor,
		 r->major, r->minor, r->max_write, r->max_pages, r->max_background,
		 r->congestion_threshold, r->max_readahead, engine_parallel_direct_writes(),
		 engine_transport());
	if (atomic_load(&over_uring))
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
			 " io_uring_q_depth=%u io_uring_payload=%zu", uring_depth(),
			 uring_payload(r));
	fn(ctx, line);
	snprintf(line, sizeof(line), "init flags=%s",
		 proto_init_flags_text(r->flags, flags, sizeof(flags)));
	fn(ctx, line);
	snprintf(line, sizeof(line), "init offered=%s",
		 proto_init_flags_text(r->offered, flags, sizeof(flags)));
	fn(ctx, line);
}

/* ---- DESTROY, FORGET ---- */

static void destroy_once(void)
{
	bool expected = false;

	if (atomic_load(&initialized) &&
	    atomic_compare_exchange_strong(&destroyed, &expected, true))
		ops_destroy();
}

void engine_finish(void)
{
	destroy_once();
}

static void handle_forget(const struct proto_in *in)
{
	int n = proto_forget_count(in);

	/* No reply, not even to a malformed one. */
	for (int i = 0; i < n; i++) {
		struct proto_forget f = proto_forget_at(in, i);

		ops_forget(f.nodeid, f.nlookup);
	}
}

/* ---- INTERRUPT ----
 * A call that can be interrupted (a parked one) is registered by its
 * unique until its reply.  As in libfuse, an interrupt is remembered for
 * the rest of the call's life: a registration after it (the call parks
 * again, or was still on its way to being parked on another thread; the
 * kernel sends the INTERRUPT only after the request was read) calls the
 * callback at once.  An interrupt for a unique not registered (a call that
 * just runs, or has not parked yet) is kept as an unregistered entry, with
 * no limit on their number (a fixed table lost the oldest, and a call that
 * parked after that could not be interrupted any more): the call's reply
 * drops it.  An interrupt handled just after its call's reply (read
 * before it) would stay for ever, so unregistered entries older than
 * PENDING_MAX_AGE_S are dropped too: no call takes that long from its
 * request to parking. */

struct intr_reg {
	struct intr_reg *next;
	uint64_t unique;
	engine_interrupt_fn fn;   /* NULL: interrupted, not registered yet */
	void *data;
	bool interrupted;
	uint64_t since_ns;        /* when an unregistered entry was made */
};

#define INTR_BUCKETS 1024
#define PENDING_MAX_AGE_S 60

static pthread_mutex_t intr_mu = PTHREAD_MUTEX_INITIALIZER;
static struct intr_reg *intr_regs[INTR_BUCKETS];
static atomic_uint npending;      /* unregistered entries */
static uint64_t last_prune_ns;

static struct intr_reg **intr_bucket(uint64_t unique)
{
	return &intr_regs[(unique >> 1) % INTR_BUCKETS];
}

static struct intr_reg *intr_find(uint64_t unique)
{
	for (struct intr_reg *r = *intr_bucket(unique); r; r = r->next)
		if (r->unique == unique)
			return r;
	return NULL;
}

/* Take unique's entry out; only if it is unregistered, with unregistered. */
static struct intr_reg *intr_take(uint64_t unique, bool unregistered)
{
	for (struct intr_reg **pp = intr_bucket(unique); *pp; pp = &(*pp)->next) {
		struct intr_reg *r = *pp;

		if (r->unique != unique)
			continue;
		if (unregistered && r->fn)
			return NULL;
		*pp = r->next;
		if (!r->fn)
			atomic_fetch_sub(&npending, 1);
		return r;
	}
	return NULL;
}

/* Drop unregistered entries older than PENDING_MAX_AGE_S (under intr_mu),
 * at most once in that time. */
static void prune_pending(uint64_t now)
{
	uint64_t max_age = (uint64_t)PENDING_MAX_AGE_S * 1000000000u;

	if (now - last_prune_ns < max_age)
		return;
	last_prune_ns = now;
	for (unsigned int b = 0; b < INTR_BUCKETS; b++)
		for (struct intr_reg **pp = &intr_regs[b]; *pp;) {
			struct intr_reg *r = *pp;

			if (r->fn || now - r->since_ns < max_age) {
				pp = &r->next;
				continue;
			}
			*pp = r->next;
			atomic_fetch_sub(&npending, 1);
			free(r);
		}
}

void engine_interrupt_func(struct diofs_call *c, engine_interrupt_fn fn, void *data)
{
	struct intr_reg *fresh = malloc(sizeof(*fresh)), *r;
	bool interrupted = false;

	pthread_mutex_lock(&intr_mu);
	r = intr_find(c->unique);
	if (r && !r->fn)
		atomic_fetch_sub(&npending, 1); /* registered from now on */
	if (!r && fresh) {
		struct intr_reg **head = intr_bucket(c->unique);

		*fresh = (struct intr_reg){ .next = *head, .unique = c->unique };
		*head = r = fresh;
		fresh = NULL;
	}
	if (r) {
		r->fn = fn;
		r->data = data;
		interrupted = r->interrupted;
		c->interruptible = true;
	}
	pthread_mutex_unlock(&intr_mu);
	free(fresh); /* not needed, or (out of memory) not registered */
	if (interrupted)
		fn(data);
}

void engine_interrupt_done(struct diofs_call *c)
{
	struct intr_reg *r;
	bool registered = c->interruptible;

	/* A call never registered has an entry only if it was interrupted. */
	if (!registered && !atomic_load(&npending))
		return;
	c->interruptible = false;
	pthread_mutex_lock(&intr_mu);
	r = intr_take(c->unique, !registered);
	pthread_mutex_unlock(&intr_mu);
	free(r);
}


static void handle_interrupt(const struct proto_in *in)
{
	uint64_t target = proto_interrupt_target(in);
	engine_interrupt_fn fn = NULL;
	struct intr_reg *r;
	void *data = NULL;

	if (!target)
		return;
	pthread_mutex_lock(&intr_mu);
	r = intr_find(target);
	if (r && !r->interrupted) {
		r->interrupted = true;
		fn = r->fn;
		data = r->data;
	} else if (!r && (r = calloc(1, sizeof(*r)))) {
		struct intr_reg **head = intr_bucket(target);
		uint64_t now = now_ns();

		prune_pending(now);
		*r = (struct intr_reg){ .next = *head, .unique = target, .interrupted = true,
					.since_ns = now };
		*head = r;
		atomic_fetch_add(&npending, 1);
	}
	pthread_mutex_unlock(&intr_mu);
	if (fn)
		fn(data);
	/* An interrupt is not answered: the interrupted call's reply is. */
}

/* ---- one request ---- */

static void debug_request(const struct proto_in *in)
{
	struct diofs_call c;
	const char *name;

	switch (in->h.opcode) {
	case FUSE_INIT: name = "init"; break;
	case FUSE_DESTROY: name = "destroy"; break;
	case FUSE_FORGET: name = "forget"; break;
	case FUSE_BATCH_FORGET: name = "batch_forget"; break;
	case FUSE_INTERRUPT: name = "interrupt"; break;
	default:
		name = proto_decode(in, &c) == 0 ? diofs_op_name(c.op) : "not served";
	}
	fprintf(stderr, "diofs: unique=%" PRIu64 " opcode=%" PRIu32 " (%s) nodeid=%" PRIu64
		" len=%" PRIu32 " pid=%" PRIu32 "\n", (uint64_t)in->h.unique, in->h.opcode,
		name, (uint64_t)in->h.nodeid, in->h.len, in->h.pid);
}

void engine_handle(const void *buf, size_t len, uint64_t start_ns)
{
	struct proto_in in;
	struct diofs_call c;
	int err;

	if (proto_in_parse(buf, len, &in)) {
		/* Not one whole request: answer it if it had a header. */
		if (in.h.unique)
			send_error(in.h.unique, EIO);
		return;
	}
	if (diofs_cfg.debug)
		debug_request(&in);
	switch (in.h.opcode) {
	case FUSE_INIT:
		handle_init(&in);
		return;
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
		handle_forget(&in);
		return;
	case FUSE_INTERRUPT:
		handle_interrupt(&in);
		return;
	case FUSE_DESTROY:
		destroy_once();
		send_error(in.h.unique, 0);
		return;
	default:
		break;
	}
	if (!atomic_load(&initialized)) {
		send_error(in.h.unique, EIO);
		return;
	}
	err = proto_decode(&in, &c);
	if (err) {
		send_error(in.h.unique, err);
		return;
	}
	c.start_ns = start_ns;
	dispatch(&c);
}
