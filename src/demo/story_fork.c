/* Story 2: fork loses data on the old kernel.  While diofs holds a direct
 * read into the client's buffer, the client forks and the parent writes a
 * byte in each page of the buffer.  If the kernel only referenced the pages
 * (not converted), fork shares them copy-on-write, the parent's write moves
 * the parent to copies, and the reply fills the pages the child now owns:
 * the parent never sees the data.  If the kernel pinned them, fork copies
 * them for the child at once and the parent keeps the pages being filled.
 *
 * story_fork_at tells it for a file anywhere diofs can hold its read
 * (story_stacked.c: ext4 on a loop device over diofs); story_fork for a
 * file on diofs itself. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "demo/demo.h"
#include "demo/events.h"
#include "demo/pages.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define FILE_NAME "fork.dat"
#define FILL '-'
#define PARENT_BYTE 'P'
#define SHOW_PAGE 3

/* What the child reports once the read completed. */
struct child_report {
	uint8_t data_ok[DEMO_PAGES];    /* page holds the file's data */
	uint8_t bytes[16];              /* the first bytes of SHOW_PAGE */
};

/* The child: report the frames of its buffer at once, then, told that the
 * read completed, what its buffer holds.  Touches its buffer only to read. */
static void __attribute__((noreturn))
child(struct demo *d, const unsigned char *buf, int in, int out)
{
	uint64_t pfn[DEMO_PAGES] = { 0 };
	struct child_report rep = { 0 };
	char go;

	if (!d->pfn_why)
		pfns_read_raw(buf, d->page, d->pages, pfn);
	if (!dio_full(out, pfn, sizeof(pfn), IO_WRITE) || !dio_full(in, &go, 1, IO_READ))
		_exit(1);
	for (size_t i = 0; i < d->pages; i++)
		rep.data_ok[i] = data_matches(buf + i * d->page, d->page, i * d->page);
	memcpy(rep.bytes, buf + SHOW_PAGE * d->page, sizeof(rep.bytes));
	_exit(dio_full(out, &rep, sizeof(rep), IO_WRITE) ? 0 : 1);
}

/* Does page i hold what the parent left there: its byte, then FILL? */
static bool parent_own_page(const unsigned char *p, size_t page)
{
	if (p[0] != PARENT_BYTE)
		return false;
	for (size_t j = 1; j < page; j++)
		if (p[j] != FILL)
			return false;
	return true;
}

static void outcome(struct demo *d, struct demo_read *x, const unsigned char *buf,
		    const struct child_report *rep, bool child_ok, size_t shared, size_t moved)
{
	bool parent_data[DEMO_PAGES], child_data[DEMO_PAGES];
	size_t n_parent = data_pages(buf, d->page, d->pages, parent_data), n_child = 0, n_own = 0;
	unsigned char expect[16];
	char ehex[64], etext[20], phex[64], ptext[20], chex[64], ctext[20];
	struct jbuf j;

	for (size_t i = 0; i < d->pages; i++) {
		child_data[i] = child_ok && rep->data_ok[i];
		n_child += child_data[i];
		n_own += !parent_data[i] && parent_own_page(buf + i * d->page, d->page);
	}
	data_fill(expect, sizeof(expect), SHOW_PAGE * d->page);
	hex_phrase(expect, 16, ehex, sizeof(ehex), etext, sizeof(etext));
	hex_phrase(buf + SHOW_PAGE * d->page, 16, phex, sizeof(phex), ptext, sizeof(ptext));
	hex_phrase(rep->bytes, 16, chex, sizeof(chex), ctext, sizeof(ctext));
	record_bytes("expected", SHOW_PAGE, SHOW_PAGE * d->page, expect, 16);
	record_bytes("parent", SHOW_PAGE, SHOW_PAGE * d->page, buf + SHOW_PAGE * d->page, 16);
	if (child_ok)
		record_bytes("child", SHOW_PAGE, SHOW_PAGE * d->page, rep->bytes, 16);
	record_page_flags("parent", "holds the file's data", parent_data, d->pages, "data", "lost");
	if (child_ok)
		record_page_flags("child", "holds the file's data", child_data, d->pages, "data",
				  "none");

	if (n_parent == d->pages)
		ev_step("result", 0, NULL, NULL,
			"The parent's buffer holds the file's data in %zu of %zu pages: nothing "
			"lost (the reply overwrote the parent's '%c' bytes, as a read into a buffer "
			"does).", n_parent, d->pages, PARENT_BYTE);
	else
		ev_step("result", 0, NULL, NULL,
			"The parent's buffer holds the file's data in %zu of %zu pages: DATA LOST. "
			"%zu pages hold just the byte the parent wrote ('%c', 0x%02x) and the '%c' "
			"that was there before the read.", n_parent, d->pages, n_own, PARENT_BYTE,
			PARENT_BYTE, FILL);
	if (child_ok)
		ev_say("The child's copy of the buffer holds the file's data in %zu of %zu pages%s.",
		       n_child, d->pages, n_child && n_parent < d->pages ?
		       ": the data went to the child" : "");
	else
		ev_say("The child did not report what its buffer holds.");
	ev_say("Page %d, first 16 bytes, in hex and as text:", SHOW_PAGE);
	ev_say("file    %s  \"%s\"", ehex, etext);
	ev_say("parent  %s  \"%s\"", phex, ptext);
	if (child_ok)
		ev_say("child   %s  \"%s\"", chex, ctext);

	demo_read_result(d, x, &j);
	jb_u64(&j, "parent_data", n_parent);
	jb_u64(&j, "parent_own", n_own);
	jb_bool(&j, "child_reported", child_ok);
	jb_u64(&j, "child_data", n_child);
	jb_bool(&j, "frames", !d->pfn_why);
	jb_u64(&j, "shared_after_fork", shared);
	jb_u64(&j, "moved_on_write", moved);
	ev_record("result", &j);
}

int story_fork_at(struct demo *d, const struct fork_place *p)
{
	struct demo_read x = { .path = p->held, .file = p->file, .carried = p->carried };
	uint64_t pfn0[DEMO_PAGES] = { 0 }, pfn_child[DEMO_PAGES] = { 0 }, pfn_w[DEMO_PAGES] = { 0 };
	int to_child[2] = { -1, -1 }, from_child[2] = { -1, -1 };
	struct child_report rep = { 0 };
	size_t shared = 0, moved = 0;
	char ph[256], pfns[96], st[320];
	unsigned char *buf;
	int fd, rule, ret = -1;
	bool child_ok = false;
	pid_t pid = -1;
	uint64_t t;

	fd = p->fd;
	rule = diofsctl_rule_add(d->ctl, "%s", p->rule);
	if (rule < 0) {
		ev_say("Adding the hold rule failed: %s.", diofsctl_error(d->ctl));
		return -1;
	}
	buf = demo_buffer(d, FILL);
	if (!buf)
		goto out_rule;
	if (pipe2(to_child, O_CLOEXEC) < 0 || pipe2(from_child, O_CLOEXEC) < 0) {
		ev_say("pipe2 failed: %s.", strerror(errno));
		goto out;
	}
	if (!d->pfn_why)
		pfns_read(buf, d->page, d->pages, pfn0);
	pfns_phrase(pfn0, d->pages, pfns, sizeof(pfns));
	ev_step("setup", 0, NULL, NULL,
		"The client's buffer: %zu pages (%zu bytes) of anonymous memory at %p, every "
		"byte '%c'; the file %s holds %zu bytes of records like \"DATA p03 @0x3000\". "
		"The buffer's page frames: %s.", d->pages, d->len, (void *)buf, FILL, p->file,
		d->len, d->pfn_why ? d->pfn_why : pfns);

	if (demo_read_hold(d, &x, fd, buf) < 0)
		goto out;
	demo_pause(d);

	t = ev_now();
	pid = fork();
	if (pid < 0) {
		ev_say("fork failed: %s.", strerror(errno));
		demo_read_abort(d, &x);
		goto out;
	}
	if (pid == 0)
		child(d, buf, to_child[0], from_child[1]);
	close(to_child[0]);
	close(from_child[1]);
	to_child[0] = from_child[1] = -1;
	{
		struct pin_counts now;
		bool got = dio_full(from_child[0], pfn_child, sizeof(pfn_child), IO_READ);

		demo_read_pins(d, &x, &now, ph, sizeof(ph));
		shared = pfns_same(pfn0, pfn_child, d->pages);
		if (d->pfn_why || !got)
			snprintf(st, sizeof(st), "the child's page frames are not known (%s)",
				 got ? d->pfn_why : "the child did not report");
		else if (shared == d->pages)
			snprintf(st, sizeof(st), "the child's buffer shares %zu of %zu page frames "
				 "with the parent's, the frames the read was given (copy-on-write: "
				 "whoever writes first gets a copy)", shared, d->pages);
		else
			snprintf(st, sizeof(st), "the child's buffer shares %zu of %zu page frames "
				 "with the parent's: fork gave the child copies of the other %zu at "
				 "once, and the parent kept the frames the read was given", shared,
				 d->pages, d->pages - shared);
		ev_step("fork", t, x.have_pins ? &now : NULL, NULL,
			"fork: the client forks (child pid %d) while the read is held: %s. %s.",
			(int)pid, st, ph);
	}
	demo_pause(d);

	t = ev_now();
	for (size_t i = 0; i < d->pages; i++)
		buf[i * d->page] = PARENT_BYTE;
	{
		struct pin_counts now;

		if (!d->pfn_why)
			pfns_read(buf, d->page, d->pages, pfn_w);
		moved = d->pages - pfns_same(pfn0, pfn_w, d->pages);
		demo_read_pins(d, &x, &now, ph, sizeof(ph));
		if (d->pfn_why)
			snprintf(st, sizeof(st), "page frames not readable");
		else if (moved)
			snprintf(st, sizeof(st), "%zu of %zu pages moved to new frames as it wrote "
				 "(copy-on-write gave the parent copies); the frames the read fills "
				 "are now the child's alone", moved, d->pages);
		else
			snprintf(st, sizeof(st), "its buffer is still on the same %zu frames, the "
				 "ones the read fills (none moved)", d->pages);
		ev_step("write", t, x.have_pins ? &now : NULL, NULL,
			"Parent writes: one byte, '%c' (0x%02x), at the start of each of the %zu "
			"pages of its buffer: %s. %s.", PARENT_BYTE, PARENT_BYTE, d->pages, st, ph);
	}
	demo_pause(d);

	if (demo_read_reply(d, &x) < 0)
		goto out;
	child_ok = dio_full(to_child[1], "g", 1, IO_WRITE) &&
		   dio_full(from_child[0], &rep, sizeof(rep), IO_READ);
	outcome(d, &x, buf, &rep, child_ok, shared, moved);
	ret = 0;
out:
	if (pid > 0) {
		int status;

		if (to_child[1] >= 0) {
			close(to_child[1]);     /* a child still waiting sees EOF */
			to_child[1] = -1;
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	for (int i = 0; i < 2; i++) {
		if (to_child[i] >= 0)
			close(to_child[i]);
		if (from_child[i] >= 0)
			close(from_child[i]);
	}
	if (buf)
		munmap(buf, d->len);
out_rule:
	diofsctl_rule_del(d->ctl, rule);
	return ret;
}

int story_fork(struct demo *d)
{
	struct fork_place p = { .file = "/" FILE_NAME, .held = "/" FILE_NAME };
	int ret;

	ev_story("fork", "Story 2: fork while the read is held");
	p.fd = demo_open_file(d, FILE_NAME);
	if (p.fd < 0)
		return -1;
	snprintf(p.rule, sizeof(p.rule), "hold op=read path=%s", p.held);
	ret = story_fork_at(d, &p);
	close(p.fd);
	return ret;
}
