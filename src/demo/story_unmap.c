/* Story 1: the page outlives its mapping.  While diofs holds a direct read
 * into the client's buffer, the client unmaps the buffer and maps new
 * memory at the same address.  Where does the reply go?  The new mapping
 * stays as it was; the old pages, which no process maps any more, are kept
 * alive by the kernel until the reply, pinned (converted kernels) or only
 * referenced (older ones: invisible to the pin counters). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "demo/demo.h"
#include "demo/events.h"
#include "demo/pages.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define FILE_NAME "unmap.dat"
#define OLD_FILL '-'
#define NEW_FILL 'N'
#define SHOW_PAGE 3             /* the page whose bytes are shown */
#define FREE_WAIT_MS 1000       /* how long freeing the old pages may take */

struct frames {
	uint64_t pfn[DEMO_PAGES];
	uint64_t flags[DEMO_PAGES];
	const char *state[DEMO_PAGES];
	size_t mapped, alive, freed, reused;
	bool have;
};

static void sleep_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Look at the frames pfn[] now: their flags and states, counted (and
 * recorded as who, when, unless who is NULL).  Once
 * the old mapping is gone, nothing can map one of its frames again but a
 * new owner: a frame mapped again was freed and reused ("reused"), one that
 * is no longer anonymous memory was freed ("freed"). */
static void look(struct demo *d, struct frames *f, bool unmapped, const char *who,
		 const char *when)
{
	f->mapped = f->alive = f->freed = f->reused = 0;
	f->have = !d->pfn_why && kpageflags_read(f->pfn, d->pages, f->flags) == 0;
	if (!f->have)
		return;
	for (size_t i = 0; i < d->pages; i++) {
		const char *st = frame_state(f->flags[i]);

		if (!strcmp(st, "unmapped-alive")) {
			f->alive++;
		} else if (!strcmp(st, "mapped") && unmapped) {
			st = "reused";
			f->reused++;
		} else if (!strcmp(st, "mapped")) {
			f->mapped++;
		} else {
			st = "freed";
			f->freed++;
		}
		f->state[i] = st;
	}
	if (who)
		record_pages(who, when, f->state, d->pages);
}

static void frames_phrase(const struct demo *d, const struct frames *f, char *out, size_t len)
{
	char flags[96];
	size_t used = 0;

	if (!f->have) {
		snprintf(out, len, "their state cannot be read (%s)",
			 d->pfn_why ? d->pfn_why : "/proc/kpageflags");
		return;
	}
	out[0] = '\0';
	if (f->mapped)
		used += (size_t)snprintf(out + used, len - used, "%zu mapped, ", f->mapped);
	if (used < len)
		used += (size_t)snprintf(out + used, len - used, "%zu alive though no process maps "
					 "them (anonymous pages, kpageflags anon without mmap), ",
					 f->alive);
	if (used < len)
		used += (size_t)snprintf(out + used, len - used, "%zu freed", f->freed + f->reused);
	if (f->reused && used < len)
		used += (size_t)snprintf(out + used, len - used, " (%zu already reused by someone "
					 "else's memory)", f->reused);
	kpageflags_phrase(f->flags[SHOW_PAGE], flags, sizeof(flags));
	if (used < len)
		snprintf(out + used, len - used, "; page %d's flags: %s", SHOW_PAGE, flags);
}

static void outcome(struct demo *d, struct demo_read *x, unsigned char *newbuf,
		    const struct frames *old_unmapped, const struct frames *old_after,
		    size_t new_moved)
{
	bool untouched[DEMO_PAGES], with_data[DEMO_PAGES];
	size_t n_untouched = fill_pages(newbuf, d->page, d->pages, NEW_FILL, untouched);
	size_t n_data = data_pages(newbuf, d->page, d->pages, with_data);
	unsigned char expect[16];
	char hex[64], text[20], ehex[64], etext[20];
	struct jbuf j;

	data_fill(expect, sizeof(expect), SHOW_PAGE * d->page);
	hex_phrase(expect, 16, ehex, sizeof(ehex), etext, sizeof(etext));
	hex_phrase(newbuf + SHOW_PAGE * d->page, 16, hex, sizeof(hex), text, sizeof(text));
	record_bytes("expected", SHOW_PAGE, SHOW_PAGE * d->page, expect, 16);
	record_bytes("new mapping", SHOW_PAGE, SHOW_PAGE * d->page, newbuf + SHOW_PAGE * d->page, 16);
	record_page_flags("new mapping", "holds only what the client wrote ('N')", untouched,
			  d->pages, "untouched", "changed");

	ev_step("result", 0, NULL, NULL,
		"The new mapping is %s: %zu of %zu pages still hold only '%c', %zu hold the "
		"file's data.", n_untouched == d->pages ? "untouched" : "CHANGED", n_untouched,
		d->pages, NEW_FILL, n_data);
	ev_say("Page %d, first 16 bytes, in hex and as text:", SHOW_PAGE);
	ev_say("file    %s  \"%s\"", ehex, etext);
	ev_say("new mem %s  \"%s\"", hex, text);
	if (x->ret == (ssize_t)d->len && n_data == 0)
		ev_say("pread returned %zd yet none of the file's data is in the buffer's memory "
		       "now: it went to the %zu old pages%s.", x->ret, d->pages,
		       old_unmapped->have && old_unmapped->alive == d->pages ?
		       ", which the kernel had kept alive" : "");
	if (old_unmapped->have && old_after->have) {
		size_t freed = old_after->freed + old_after->reused;

		ev_say("The old pages: %zu of %zu were alive though unmapped while the read was "
		       "held; after the reply %zu of %zu were freed%s.", old_unmapped->alive,
		       d->pages, freed, d->pages, old_unmapped->alive == d->pages &&
		       freed == d->pages ? ": the kernel kept them until the read completed, "
		       "and not longer" : "");
	}
	if (x->have_pins) {
		int64_t held = pins_in_flight(&x->held) - pins_in_flight(&x->base);

		if (held == (int64_t)d->pages)
			ev_say("While the read was held the kernel had pinned those pages (FOLL_PIN), "
			       "so mm knew they were in use for I/O.");
		else if (held == 0)
			ev_say("While the read was held the kernel had only referenced those pages "
			       "(FOLL_GET), so mm could not tell they were in use for I/O.");
		else
			ev_say("While the read was held: %+" PRId64 " pins in flight, not one per "
			       "page (other I/O moves these machine-wide counters).", held);
	}

	demo_read_result(d, x, &j);
	jb_u64(&j, "new_untouched", n_untouched);
	jb_u64(&j, "new_with_data", n_data);
	jb_u64(&j, "new_frames_differ", new_moved);
	jb_bool(&j, "frames", old_unmapped->have && old_after->have);
	jb_u64(&j, "old_alive_unmapped", old_unmapped->have ? old_unmapped->alive : 0);
	jb_u64(&j, "old_released_after", old_after->have ? old_after->freed + old_after->reused : 0);
	ev_record("result", &j);
}

int story_unmap(struct demo *d)
{
	struct demo_read x = { .path = "/" FILE_NAME };
	struct frames old = { 0 }, old_unmapped = { 0 }, old_after = { 0 };
	uint64_t new_pfn[DEMO_PAGES];
	unsigned char *buf, *newbuf = NULL;
	char ph[256], pfns[96], st[256];
	size_t new_moved = 0;
	int fd, rule, ret = -1;
	uint64_t t;

	ev_story("unmap", "Story 1: the page outlives its mapping");
	fd = demo_open_file(d, FILE_NAME);
	if (fd < 0)
		return -1;
	rule = diofsctl_rule_add(d->ctl, "hold op=read path=%s", x.path);
	if (rule < 0) {
		ev_say("Adding the hold rule failed: %s.", diofsctl_error(d->ctl));
		close(fd);
		return -1;
	}
	buf = demo_buffer(d, OLD_FILL);
	if (!buf)
		goto out;
	if (!d->pfn_why)
		pfns_read(buf, d->page, d->pages, old.pfn);
	pfns_phrase(old.pfn, d->pages, pfns, sizeof(pfns));
	ev_step("setup", 0, NULL, NULL,
		"The client's buffer: %zu pages (%zu bytes) of anonymous memory at %p, every "
		"byte '%c'; the file %s holds %zu bytes of records like \"DATA p03 @0x3000\". "
		"The buffer's page frames: %s.", d->pages, d->len, (void *)buf, OLD_FILL, x.path,
		d->len, d->pfn_why ? d->pfn_why : pfns);
	look(d, &old, false, "old pages", "before the read");

	if (demo_read_hold(d, &x, fd, buf) < 0) {
		munmap(buf, d->len);
		goto out;
	}
	demo_pause(d);

	t = ev_now();
	if (munmap(buf, d->len) < 0) {
		ev_say("munmap failed: %s.", strerror(errno));
		demo_read_abort(d, &x);
		goto out;
	}
	{
		struct pin_counts now;

		demo_read_pins(d, &x, &now, ph, sizeof(ph));
		memcpy(old_unmapped.pfn, old.pfn, sizeof(old.pfn));
		look(d, &old_unmapped, true, "old pages", "after munmap, read held");
		frames_phrase(d, &old_unmapped, st, sizeof(st));
		ev_step("munmap", t, x.have_pins ? &now : NULL, NULL,
			"munmap: the client unmaps its buffer: munmap(%p, %zu) returned 0 while the "
			"read is still held. Its %zu old page frames: %s. %s.", (void *)buf, d->len,
			d->pages, st, ph);
	}
	demo_pause(d);

	t = ev_now();
	newbuf = mmap(buf, d->len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (newbuf == MAP_FAILED || newbuf != buf) {
		ev_say("Mapping new memory at %p failed: %s.", (void *)buf,
		       newbuf == MAP_FAILED ? strerror(errno) : "got another address");
		if (newbuf != MAP_FAILED)
			munmap(newbuf, d->len);
		newbuf = NULL;
		demo_read_abort(d, &x);
		goto out;
	}
	madvise(newbuf, d->len, MADV_NOHUGEPAGE);
	memset(newbuf, NEW_FILL, d->len);
	{
		struct pin_counts now;

		memset(new_pfn, 0, sizeof(new_pfn));
		if (!d->pfn_why)
			pfns_read(newbuf, d->page, d->pages, new_pfn);
		new_moved = d->pages - pfns_same(old.pfn, new_pfn, d->pages);
		pfns_phrase(new_pfn, d->pages, pfns, sizeof(pfns));
		demo_read_pins(d, &x, &now, ph, sizeof(ph));
		if (d->pfn_why)
			snprintf(st, sizeof(st), "page frames not readable");
		else
			snprintf(st, sizeof(st), "new page frames %s: %zu of %zu differ from the "
				 "old ones", pfns, new_moved, d->pages);
		ev_step("mmap", t, x.have_pins ? &now : NULL, NULL,
			"mmap: the client maps new memory at the same address (%p) and fills it "
			"with '%c': %s. %s.", (void *)newbuf, NEW_FILL, st, ph);
	}
	demo_pause(d);

	if (demo_read_reply(d, &x) < 0)
		goto out;
	memcpy(old_after.pfn, old.pfn, sizeof(old.pfn));
	{
		/* The last reference may be a per-CPU batch's, dropped a little
		 * later: look again for a while before saying what is left. */
		uint64_t t_done = x.t_done, waited;

		for (int i = 0; i < FREE_WAIT_MS / 20; i++) {
			look(d, &old_after, true, NULL, NULL);
			if (!old_after.have || !old_after.alive)
				break;
			sleep_ms(20);
		}
		look(d, &old_after, true, "old pages", "after the reply");
		frames_phrase(d, &old_after, st, sizeof(st));
		waited = (ev_now() - t_done) / 1000000;
		ev_step("old-pages", 0, NULL, NULL, "The old page frames %" PRIu64 " ms after "
			"pread returned: %s.", waited, st);
	}
	outcome(d, &x, newbuf, &old_unmapped, &old_after, new_moved);
	ret = 0;
out:
	if (newbuf)
		munmap(newbuf, d->len);
	diofsctl_rule_del(d->ctl, rule);
	close(fd);
	return ret;
}
