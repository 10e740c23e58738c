/* The session's messages.  Operations go to dispatch(); INIT, DESTROY and
 * FORGET are answered here, INTERRUPT goes to interrupt.c; every reply
 * leaves through send.c. */
#include <config.h>
#include "engine.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "diofs.h"
#include "dispatch.h"
#include "fuse_proto.h"
#include "interrupt.h"
#include "ops.h"
#include "send.h"
#include "trace.h"
#include "uring.h"

static int dev_fd = -1;                     /* what the ring registers on */
static atomic_bool initialized;
static atomic_bool destroyed;
static struct proto_init_result negotiated; /* written once, before initialized */
static atomic_bool over_uring;              /* likewise: the transport */

void engine_set_fd(int fd)
{
	dev_fd = fd;
	send_set_fd(fd);
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

static void send_error(uint64_t unique, int err)
{
	struct proto_out o;

	proto_out_init(&o, unique, err);
	send_reply(&o);
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
		 r->max_readahead, !diofs_cfg.no_parallel_direct_writes ? "true" : "false",
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
		send_reply(&o);
		return;
	case PROTO_INIT_REFUSED:
		fprintf(stderr, "diofs: kernel FUSE protocol %" PRIu32 ".%" PRIu32
			" not supported (need 7.%d or newer)\n", r.kernel_major,
			r.kernel_minor, PROTO_MIN_MINOR);
		send_reply(&o);
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
	if (over_uring)
		send_set_ring(uring_reply, uring_commit_error);
	negotiated = r;
	atomic_store(&initialized, true);
	init_json(&r, json, sizeof(json));
	trace_set_header(json);
	if (diofs_cfg.debug)
		fprintf(stderr, "diofs: %s\n", json);
	send_reply(&o);
	/* The kernel takes ring entries only once INIT is done. */
	if (over_uring)
		start_uring(&r);
}

static void start_uring(const struct proto_init_result *r)
{
	int err = uring_start(dev_fd, uring_depth(), uring_payload(r), engine_handle);

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
		 r->congestion_threshold, r->max_readahead, !diofs_cfg.no_parallel_direct_writes,
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

/* ---- INTERRUPT ---- */

static void handle_interrupt(const struct proto_in *in)
{
	uint64_t target = proto_interrupt_target(in);

	/* Not answered: the interrupted call's reply is. */
	if (target)
		interrupt_received(target);
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
