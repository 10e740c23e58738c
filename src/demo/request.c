/* The narrated life of a read diofs holds: submitted, held (pins counted),
 * released, replied (diofs's trace), completed, unpinned.  The stories do
 * their own steps in between. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "demo/demo.h"
#include "demo/events.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELD_TIMEOUT_MS 10000
#define HELD_SLICE_MS 200

/* Wait until diofs holds the read of x->path, watching the read: one that
 * returns meanwhile was not held. */
static int wait_held(struct demo *d, struct demo_read *x)
{
	for (int waited = 0; waited < HELD_TIMEOUT_MS; waited += HELD_SLICE_MS) {
		int n = diofsctl_held(d->ctl, 1, HELD_SLICE_MS, &x->h, 1);

		if (n >= 1) {
			if (strcmp(x->h.op, "read") || strcmp(x->h.path, x->path)) {
				ev_say("diofs holds a %s of %s, not the read of %s.", x->h.op,
				       x->h.path, x->path);
				return -1;
			}
			return 0;
		}
		if (!strstr(diofsctl_error(d->ctl), "timeout")) {
			ev_say("Asking diofs what it holds failed: %s.", diofsctl_error(d->ctl));
			return -1;
		}
		if (dio_poll(&x->r, NULL)) {
			ev_say("The read returned (%zd%s%s) before diofs held it.", x->r.ret,
			       x->r.ret < 0 ? ", " : "", x->r.ret < 0 ? strerror(x->r.err) : "");
			return -1;
		}
	}
	ev_say("diofs did not hold the read within %d s.", HELD_TIMEOUT_MS / 1000);
	return -1;
}

/* After the request ended: flush diofs's trace and find the line of the
 * request unique (the JSON object) into line; its start and end.  -1 when
 * it is not there (said). */
/* The number after "key": in a JSON line; false if absent. */
static bool json_u64(const char *line, const char *key, uint64_t *v)
{
	char pat[40];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	return p && sscanf(p + strlen(pat), "%" SCNu64, v) == 1;
}

static int trace_line(struct demo *d, uint64_t unique, char *line, size_t len,
		    uint64_t *start_ns, uint64_t *end_ns)
{
	char *l = NULL;
	size_t cap = 0;
	bool found = false;
	FILE *f;

	if (diofsctl_trace(d->ctl, "flush") < 0) {
		ev_say("trace flush failed: %s.", diofsctl_error(d->ctl));
		return -1;
	}
	f = fopen(d->trace, "re");
	if (!f) {
		ev_say("Cannot read diofs's trace %s: %s.", d->trace, strerror(errno));
		return -1;
	}
	while (!found && getline(&l, &cap, f) > 0) {
		uint64_t u;

		if (json_u64(l, "unique", &u) && u == unique && strstr(l, "\"op\":\"read\"") &&
		    json_u64(l, "start", start_ns) && json_u64(l, "end", end_ns)) {
			l[strcspn(l, "\n")] = '\0';
			snprintf(line, len, "%s", l);
			found = true;
		}
	}
	free(l);
	fclose(f);
	if (!found)
		ev_say("diofs's trace has no line for request %" PRIu64 ".", unique);
	return found ? 0 : -1;
}

/* Wait for the read (released); its result and end into x. */
static void read_end(struct demo_read *x)
{
	dio_join(&x->r);
	x->ret = x->r.ret;
	x->err = x->r.err;
	x->t_done = dio_call_end_ns(&x->r);
	dio_cleanup(&x->r);
}

void demo_read_abort(struct demo *d, struct demo_read *x)
{
	diofsctl_release(d->ctl, 0, "errno=EIO");
	read_end(x);
}

void demo_read_pins(struct demo *d, struct demo_read *x, struct pin_counts *now,
		    char *phrase, size_t len)
{
	bool have = x->have_pins && demo_pins(d, now);
	int64_t was, is;

	if (!have) {
		memset(now, 0, sizeof(*now));
		demo_pin_phrase(d, &x->base, now, false, phrase, len);
		return;
	}
	was = pins_in_flight(&x->last) - pins_in_flight(&x->base);
	is = pins_in_flight(now) - pins_in_flight(&x->base);
	/* other I/O moves both counters alike: a change in flight is this read's */
	if (is == was)
		snprintf(phrase, len, "Pins in flight: still %" PRId64, is);
	else
		snprintf(phrase, len, "Pins in flight: %" PRId64 " -> %" PRId64 " (acquired %+"
			 PRId64 ", released %+" PRId64 " since the last step)", was, is,
			 (int64_t)(now->acquired - x->last.acquired),
			 (int64_t)(now->released - x->last.released));
	x->last = *now;
}

void demo_read_result(struct demo *d, const struct demo_read *x, struct jbuf *j)
{
	jb_init(j);
	jb_u64(j, "pages", d->pages);
	jb_i64(j, "ret", x->ret);
	jb_bool(j, "pins", x->have_pins);
	jb_i64(j, "pins_held", pins_in_flight(&x->held) - pins_in_flight(&x->base));
	jb_i64(j, "acquired", (int64_t)(x->after.acquired - x->base.acquired));
	jb_i64(j, "released", (int64_t)(x->after.released - x->base.released));
	jb_i64(j, "pins_after", pins_in_flight(&x->after) - pins_in_flight(&x->base));
}

/* The sentence about the pins while the read is held. */
static void held_pins_sentence(struct demo *d, struct demo_read *x, char *out, size_t len)
{
	char phrase[256];
	int64_t inflight = pins_in_flight(&x->held) - pins_in_flight(&x->base);
	int64_t acquired = (int64_t)(x->held.acquired - x->base.acquired);

	demo_pin_phrase(d, &x->base, &x->held, x->have_pins, phrase, sizeof(phrase));
	if (!x->have_pins)
		snprintf(out, len, "Pages pinned: unknown (%s).", phrase);
	else if (inflight == (int64_t)d->pages)
		snprintf(out, len, "Pages pinned: %" PRId64 ". The kernel pinned the %zu pages of "
			 "the buffer (FOLL_PIN): mm can see that they are in use for I/O. (%s)",
			 inflight, d->pages, phrase);
	else if (inflight == 0 && acquired == 0)
		snprintf(out, len, "Pages pinned: 0. The kernel holds the buffer's pages "
			 "without pinning them: plain page references (FOLL_GET), which the "
			 "rest of mm cannot tell from any other. (%s)", phrase);
	else
		snprintf(out, len, "Pages pinned: %" PRId64 " of %zu pages, going by the "
			 "counters: they are machine-wide, other I/O moves them too. (%s)",
			 inflight, d->pages, phrase);
}

int demo_read_hold(struct demo *d, struct demo_read *x, int fd, void *buf)
{
	char sentence[768];

	char why[256];

	x->r = (struct dio){ .route = ROUTE_PREAD, .dir = IO_READ, .fd = fd, .buf = buf,
			     .len = d->len, .off = 0 };
	x->have_pins = demo_pins(d, &x->base);
	if (dio_prepare(&x->r, why, sizeof(why)) < 0 || dio_start(&x->r, why, sizeof(why)) < 0) {
		ev_say("Cannot start the reading thread: %s.", why);
		dio_cleanup(&x->r);
		return -1;
	}
	x->t_submit = dio_call_start_ns(&x->r);
	x->tid = dio_tid(&x->r);
	if (wait_held(d, x) < 0) {
		demo_read_abort(d, x);
		return -1;
	}
	if (x->have_pins)
		x->have_pins = demo_pins(d, &x->held);
	x->last = x->held;
	ev_step("submit", x->t_submit, x->have_pins ? &x->base : NULL, NULL,
		"Request submitted: the client calls pread(fd, buf=%p, %zu, offset 0) on %s "
		"(opened with O_DIRECT) from its thread %d.", buf, d->len,
		x->file ? x->file : x->path, (int)x->tid);
	held_pins_sentence(d, x, sentence, sizeof(sentence));
	{
		struct jbuf j;

		jb_init(&j);
		jb_u64(&j, "unique", x->h.unique);
		jb_u64(&j, "size", x->h.size);
		jb_u64(&j, "offset", x->h.off);
		jb_i64(&j, "pid", x->h.pid);
		if (x->carried)
			ev_step("held", 0, x->have_pins ? &x->held : NULL, &j,
				"Held below %s: diofs holds the loop device's read of %" PRIu64
				" bytes of %s at offset %" PRIu64 " (request %" PRIu64 ", from the loop "
				"driver's thread %d), which carries the %s read; pread has %s. %s",
				x->carried, x->h.size, x->path, x->h.off, x->h.unique, (int)x->h.pid,
				x->carried, dio_poll(&x->r, NULL) ? "returned (unexpected)" :
				"not returned", sentence);
		else
			ev_step("held", 0, x->have_pins ? &x->held : NULL, &j,
				"Held in the filesystem: diofs holds the FUSE_READ of %" PRIu64
				" bytes at offset %" PRIu64 " (request %" PRIu64 ", from thread %d); "
				"pread has %s. %s", x->h.size, x->h.off, x->h.unique, (int)x->h.pid,
				dio_poll(&x->r, NULL) ? "returned (unexpected)" : "not returned",
				sentence);
	}
	return 0;
}

/* The sentence about the pins once the read completed: the totals since
 * submission, the in-flight figure as a change from the last step's. */
static void after_pins_sentence(struct demo *d, struct demo_read *x, char *out, size_t len)
{
	char phrase[256];
	int64_t inflight = pins_in_flight(&x->after) - pins_in_flight(&x->base);
	int64_t was = pins_in_flight(&x->last) - pins_in_flight(&x->base);
	int64_t acquired = (int64_t)(x->after.acquired - x->base.acquired);
	int64_t released = (int64_t)(x->after.released - x->base.released);

	demo_pin_phrase(d, &x->base, &x->after, x->have_pins, phrase, sizeof(phrase));
	if (!x->have_pins)
		snprintf(out, len, "Pages unpinned: unknown (%s).", phrase);
	else if (inflight == 0 && acquired == (int64_t)d->pages && released == acquired)
		snprintf(out, len, "Pages unpinned: %" PRId64 ". Every pin the read took was "
			 "released by the time pread returned (in flight: %" PRId64 " -> 0).",
			 released, was);
	else if (inflight == 0 && acquired == 0 && released == 0)
		snprintf(out, len, "Pages unpinned: none, none were pinned; the kernel dropped "
			 "its plain references, which these counters do not see (in flight: 0).");
	else
		snprintf(out, len, "Pages unpinned: not exactly known, other I/O on this machine "
			 "moved these machine-wide counters too (%s).", phrase);
}

int demo_read_reply(struct demo *d, struct demo_read *x)
{
	char sentence[768];
	struct jbuf j;

	x->t_release = ev_now();
	ev_step("release", x->t_release, NULL, NULL,
		"The client asks diofs to reply: it releases request %" PRIu64 ".", x->h.unique);
	if (diofsctl_release(d->ctl, x->h.id, NULL) < 1) {
		ev_say("Releasing request %" PRIu64 " failed: %s.", x->h.unique,
		       diofsctl_error(d->ctl));
		demo_read_abort(d, x);
		return -1;
	}
	read_end(x);
	if (x->have_pins)
		x->have_pins = demo_pins(d, &x->after);

	x->traced = trace_line(d, x->h.unique, x->trace, sizeof(x->trace),
				    &x->trace_start, &x->trace_end) == 0;
	if (x->traced) {
		char *replied = strstr(x->trace, "\"replied\":");
		char *err = strstr(x->trace, "\"err\":\"");
		bool failed = err && err[7] != '"';

		ev_step("reply", x->trace_end, NULL, NULL,
			"Reply: diofs answers the FUSE_READ of %" PRIu64 " bytes at offset %" PRIu64
			" (request %" PRIu64 ") with %zu bytes%s%.*s; its trace says it received the "
			"request %.1f ms after pread was submitted.", x->h.size, x->h.off,
			x->h.unique, replied ? (size_t)strtoull(replied + 10, NULL, 10) : 0,
			failed ? ", error " : "", failed ? (int)strcspn(err + 7, "\"") : 0,
			failed ? err + 7 : "",
			x->trace_start >= x->t_submit ?
				(double)(x->trace_start - x->t_submit) / 1e6 : 0.0);
		jb_init(&j);
		jb_raw(&j, "line", x->trace);
		ev_record("trace", &j);
	}
	if (x->ret == (ssize_t)d->len)
		ev_step("complete", x->t_done, NULL, NULL,
			"Completion: pread returned %zd, the whole request.", x->ret);
	else if (x->ret >= 0)
		ev_step("complete", x->t_done, NULL, NULL,
			"Completion: pread returned %zd of %zu bytes.", x->ret, d->len);
	else
		ev_step("complete", x->t_done, NULL, NULL,
			"Completion: pread failed: %s.", strerror(x->err));
	after_pins_sentence(d, x, sentence, sizeof(sentence));
	ev_step("unpinned", 0, x->have_pins ? &x->after : NULL, NULL, "%s", sentence);
	return 0;
}
