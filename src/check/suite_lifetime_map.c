/* lifetime, a direct read into a MAP_SHARED mapping of another diofs file
 * (possible where INIT took DIRECT_IO_ALLOW_MMAP, 6.6+), held while the
 * mapping changes.  The buffer's pages are the destination file's page
 * cache pages: the read pins them (6.9+), and the data it brings lands in
 * them whatever happens to the mapping meanwhile.
 *  - munmap: the pages stay in the destination's page cache; the read
 *    dirties them, so the destination file ends up holding the source's
 *    bytes.
 *  - ftruncate to 0: the pages leave the page cache but live on, pinned;
 *    the file stays empty.
 *  - a store through the mapping: made before the data arrives, so the
 *    data overwrites it.
 * Pins: the request's pages in flight while held, still after the change,
 * none left after completion. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/suite_lifetime.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEED_SRC 51
#define SEED_DST 52

enum map_change { CHANGE_MUNMAP, CHANGE_TRUNCATE, CHANGE_STORE };

static const char *change_name(enum map_change c)
{
	return c == CHANGE_MUNMAP ? "munmap" : c == CHANGE_TRUNCATE ? "ftruncate to 0" :
	       "a store through the mapping";
}

/* Pins in flight at the instants of one attempt. */
struct map_pins {
	struct pin_counts before, held, changed, after;
};

static void sample(struct pin_counts *p)
{
	char why[256];

	if (pw_sample(p, why, sizeof(why)) < 0)
		CHECK_FATALF("pins: %s", why);
}

/* Is the attempt's figure what a request of want pins shows?  Other I/O
 * on the machine moves the machine-wide counters between instants; ours
 * are gone after completion, so held - after counts as well as
 * held - before. */
static bool pins_ok(const struct map_pins *m, int64_t want)
{
	bool held = pw_inflight_delta(&m->before, &m->held) == want ||
		    pw_inflight_delta(&m->after, &m->held) == want;
	bool changed = pw_inflight_delta(&m->before, &m->changed) == want ||
		       pw_inflight_delta(&m->after, &m->changed) == want;

	return held && changed && pw_inflight_delta(&m->before, &m->after) == 0;
}

/* One attempt: files, mapping, held read, the change, release, data.
 * false if the data or the call failed (recorded): no more attempts. */
static bool map_dest_attempt(enum map_change change, int n, struct map_pins *m)
{
	char src[16], dst[16];
	struct diofs_held held;
	struct held_io *h;
	bool unmapped = false, ok = true;
	char *p, *in;
	int sfd, dfd, rule;
	struct stat st;

	/* new files each attempt: the kernel's size and pages of the last
	 * ones are stale (check_file_create writes the backing files) */
	snprintf(src, sizeof(src), "src%d", n);
	snprintf(dst, sizeof(dst), "dst%d", n);
	check_file_create(src, LT_LEN, SEED_SRC);
	check_file_create(dst, LT_LEN, SEED_DST);
	sfd = REQUIRE_OK(open(check_path(src), O_RDONLY | O_DIRECT | O_CLOEXEC));
	dfd = REQUIRE_OK(open(check_path(dst), O_RDWR | O_CLOEXEC));
	p = mmap(NULL, LT_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
	if (p == MAP_FAILED)
		CHECK_FATALF("mmap(MAP_SHARED) of dst: %s", strerror(errno));
	ok &= CHECK_PATTERN(p, LT_LEN, 0, SEED_DST);
	for (size_t i = 0; i < LT_LEN; i += 4096)
		p[i] = p[i]; /* present and writable: the read faults nothing in */
	rule = REQUIRE_CTL(diofsctl_rule_add(check_ctl(), "hold op=read path=%s",
					     check_fuse_path(src)));
	sample(&m->before);
	h = held_pread(sfd, p, LT_LEN, 0);
	if (held_io_wait(h, &held)) {
		sample(&m->held);
		switch (change) {
		case CHANGE_MUNMAP:
			REQUIRE_OK(munmap(p, LT_LEN));
			unmapped = true;
			break;
		case CHANGE_TRUNCATE:
			REQUIRE_OK(ftruncate(dfd, 0));
			break;
		case CHANGE_STORE:
			memset(p, 0xee, LT_LEN);
			break;
		}
		sample(&m->changed);
		ok &= held_io_release(h, NULL);
	} else {
		ok = false;
	}
	ok &= CHECK_EQ(held_io_join(h, NULL), LT_LEN);
	sample(&m->after);
	CHECK_CTL(diofsctl_rule_del(check_ctl(), rule));

	switch (change) {
	case CHANGE_MUNMAP:
		/* through O_DIRECT: dirty pages are written back first */
		in = check_buf_alloc(LT_LEN, 0);
		close(dfd);
		dfd = REQUIRE_OK(open(check_path(dst), O_RDONLY | O_DIRECT | O_CLOEXEC));
		ok &= CHECK_EQ(pread(dfd, in, LT_LEN, 0), LT_LEN);
		ok &= CHECK_PATTERN(in, LT_LEN, 0, SEED_SRC);
		check_buf_free(in);
		break;
	case CHANGE_TRUNCATE:
		REQUIRE_OK(fstat(dfd, &st));
		ok &= CHECK_EQ(st.st_size, 0);
		break;
	case CHANGE_STORE:
		ok &= CHECK_PATTERN(p, LT_LEN, 0, SEED_SRC);
		break;
	}
	if (!unmapped)
		munmap(p, LT_LEN);
	close(dfd);
	close(sfd);
	return ok;
}

static void map_dest_case(enum map_change change)
{
	const int64_t want = lt_user_pins(LT_LEN / 4096);
	struct map_pins m;
	int n;

	lt_require_premises();
	if (!check_init_flag("direct_io_allow_mmap"))
		SKIP("INIT did not take DIRECT_IO_ALLOW_MMAP (a kernel before 6.6, or -o init_off): MAP_SHARED of "
		     "an FOPEN_DIRECT_IO file fails with ENODEV");
	for (n = 1; n <= pw_attempts(); n++) {
		if (!map_dest_attempt(change, n, &m))
			return;
		if (pins_ok(&m, want))
			break;
	}
	if (n > pw_attempts())
		CHECK_FAILF("%s while held: pins in flight (last of %d attempts) %+" PRId64
			    " held, %+" PRId64 " after the change, %+" PRId64 " after completion; "
			    "want %+" PRId64 ", %+" PRId64 ", +0 (%s)", change_name(change),
			    n - 1, pw_inflight_delta(&m.before, &m.held),
			    pw_inflight_delta(&m.before, &m.changed),
			    pw_inflight_delta(&m.before, &m.after), want, want, lt_expect_why());
	else
		NOTE("%s while held: %+" PRId64 " pins in flight held and after the change, "
			   "+0 after completion (attempt %d)", change_name(change), want, n);
}

void lt_map_dest_munmap(void)
{
	map_dest_case(CHANGE_MUNMAP);
}

void lt_map_dest_truncate(void)
{
	map_dest_case(CHANGE_TRUNCATE);
}

void lt_map_dest_store(void)
{
	map_dest_case(CHANGE_STORE);
}
