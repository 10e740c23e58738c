/* diofs-demo: mounts diofs with its trace on, tells the stories (demo.h)
 * and what they showed, in plain words built from what was measured.
 *
 *   diofs-demo [--events FILE] [--pace MS] [--story unmap|fork|stacked]...
 *
 * Exit status: 0 every story completed (whatever the kernel did) or cannot
 * be told here (stacked: no loop devices, ext4 or mkfs.ext4; said why); 1
 * one could not be completed; 2 usage; 77 diofs cannot be mounted here. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "demo/demo.h"
#include "demo/events.h"
#include "demo/pages.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* ---- shared steps ------------------------------------------------------- */

int demo_open_file(struct demo *d, const char *name)
{
	const char *backing = diofs_backing_path(&d->m, name);
	char *data = malloc(d->len);
	int fd;

	if (!data) {
		ev_say("Cannot allocate the file's data.");
		return -1;
	}
	data_fill(data, d->len, 0);
	fd = open(backing, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, d->len) != (ssize_t)d->len) {
		ev_say("Cannot write %s: %s.", backing, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(data);
		return -1;
	}
	close(fd);
	free(data);
	fd = open(diofs_mnt_path(&d->m, name), O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		ev_say("Cannot open %s with O_DIRECT: %s.", diofs_mnt_path(&d->m, name),
		       strerror(errno));
	return fd;
}

void *demo_buffer(struct demo *d, unsigned char fill)
{
	void *buf = mmap(NULL, d->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED) {
		ev_say("mmap of %zu bytes failed: %s.", d->len, strerror(errno));
		return NULL;
	}
	/* one frame per page, so that frames and pins count pages */
	madvise(buf, d->len, MADV_NOHUGEPAGE);
	memset(buf, fill, d->len);
	return buf;
}

bool demo_pins(const struct demo *d, struct pin_counts *p)
{
	memset(p, 0, sizeof(*p));
	return !d->pins_why && pins_read(p) == 0;
}

void demo_pin_phrase(const struct demo *d, const struct pin_counts *base,
		     const struct pin_counts *now, bool have, char *out, size_t len)
{
	if (!have) {
		snprintf(out, len, "pin counters not readable: %s",
			 d->pins_why ? d->pins_why : "reading /proc/vmstat failed");
		return;
	}
	snprintf(out, len, "pins in flight %+" PRId64 ": acquired %+" PRId64 ", released %+" PRId64
		 " since the read was submitted",
		 pins_in_flight(now) - pins_in_flight(base),
		 (int64_t)(now->acquired - base->acquired), (int64_t)(now->released - base->released));
}

void demo_pause(const struct demo *d)
{
	struct timespec ts = { d->pace_ms / 1000, (long)(d->pace_ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: diofs-demo [--events FILE] [--pace MS] [--story unmap|fork|stacked]...\n"
		"Tell what the running kernel does with a direct read that diofs holds:\n"
		"  unmap  the client unmaps its buffer and maps new memory there meanwhile\n"
		"  fork   the client forks meanwhile and the parent writes to its buffer\n"
		"  stacked  fork again, on ext4 over a loop device over an image on diofs\n"
		"Each step is said as it happens, from what was measured.\n"
		"  --events FILE  also write the event record (JSON lines) for the page\n"
		"                 tests/demo/render-html draws\n"
		"  --pace MS      pause after each of the client's steps (default 300)\n"
		"  --story NAME   only this story (repeatable; default all three)\n"
		"  -V, --version\n"
		"Needs /dev/fuse; the pin counters, page frames and stacking need root.\n");
}

static void record_run(const struct demo *d, const struct utsname *u)
{
	struct jbuf j;

	jb_init(&j);
	jb_str(&j, "kernel", u->release);
	jb_str(&j, "version", u->version);
	jb_str(&j, "machine", u->machine);
	jb_u64(&j, "page_size", d->page);
	jb_u64(&j, "pages", d->pages);
	jb_bool(&j, "pins", !d->pins_why);
	jb_str(&j, "pins_why", d->pins_why ? d->pins_why : "");
	jb_bool(&j, "pfns", !d->pfn_why);
	jb_str(&j, "pfns_why", d->pfn_why ? d->pfn_why : "");
	jb_i64(&j, "pace_ms", d->pace_ms);
	jb_u64(&j, "t_ns", ev_now());
	ev_record("run", &j);
}

static int mount_diofs(struct demo *d)
{
	char err[512];

	if (diofs_mount_start(&d->m, "trace", err, sizeof(err)) < 0) {
		printf("Cannot mount diofs: %s\n", err);
		return -1;
	}
	d->trace = d->m.trace;
	d->ctl = diofsctl_connect(d->m.ctl, err, sizeof(err));
	if (!d->ctl) {
		printf("Cannot connect to diofs's control socket: %s\n", err);
		diofs_mount_stop(&d->m);
		return -1;
	}
	return 0;
}

static void end_story(int status)
{
	struct jbuf j;

	jb_init(&j);
	jb_str(&j, "status", status == 0 ? "completed" : status > 0 ? "unavailable" : "failed");
	ev_record("end", &j);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "events", required_argument, NULL, 'e' },
		{ "pace", required_argument, NULL, 'p' },
		{ "story", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct demo d = { .pace_ms = 300 };
	bool want_unmap = false, want_fork = false, want_stacked = false;
	const char *events = NULL, *why;
	struct utsname u;
	FILE *ef = NULL;
	int c, status = 0;

	while ((c = getopt_long(argc, argv, "e:p:s:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			events = optarg;
			break;
		case 'p':
			d.pace_ms = atoi(optarg);
			if (d.pace_ms < 0 || d.pace_ms > 10000) {
				fprintf(stderr, "diofs-demo: --pace takes 0 to 10000 ms\n");
				return 2;
			}
			break;
		case 's':
			if (!strcmp(optarg, "unmap"))
				want_unmap = true;
			else if (!strcmp(optarg, "fork"))
				want_fork = true;
			else if (!strcmp(optarg, "stacked"))
				want_stacked = true;
			else {
				fprintf(stderr, "diofs-demo: no story %s (unmap, fork, stacked)\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("diofs-demo %s\n", PACKAGE_VERSION);
			return 0;
		default:
			fprintf(stderr, "diofs-demo: try --help\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "diofs-demo: unexpected argument %s (try --help)\n", argv[optind]);
		return 2;
	}
	if (!want_unmap && !want_fork && !want_stacked)
		want_unmap = want_fork = want_stacked = true;

	d.page = (size_t)sysconf(_SC_PAGESIZE);
	d.pages = DEMO_PAGES;
	d.len = d.page * d.pages;
	d.pins_why = pins_unavailable();
	d.pfn_why = pfn_unavailable();
	uname(&u);

	if (events) {
		ef = fopen(events, "we");
		if (!ef) {
			fprintf(stderr, "diofs-demo: %s: %s\n", events, strerror(errno));
			return 2;
		}
		ev_open(ef);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("diofs-demo on Linux %s (%s):\n"
	       "a direct read of %zu bytes (%zu pages of %zu) from a file on diofs,\n"
	       "which holds the read until the client releases it.\n",
	       u.release, u.machine, d.len, d.pages, d.page);
	printf("Pin counters: %s.\n", d.pins_why ? d.pins_why :
	       "exact (/proc/vmstat nr_foll_pin_acquired/released, refreshed at each reading)");
	printf("Page frames: %s.\n", d.pfn_why ? d.pfn_why :
	       "readable (/proc/self/pagemap, /proc/kpageflags)");
	record_run(&d, &u);

	why = diofs_mount_unavailable();
	if (why) {
		printf("Cannot mount diofs here: %s.\n", why);
		ev_close();
		if (ef)
			fclose(ef);
		return 77;
	}
	if (mount_diofs(&d) < 0) {
		ev_close();
		if (ef)
			fclose(ef);
		return 1;
	}
	printf("diofs is mounted at %s\n(its trace: %s).\n", d.m.mnt, d.m.trace);

	if (want_unmap) {
		int r = story_unmap(&d);
		end_story(r);
		status |= r < 0;
	}
	if (want_fork) {
		int r = story_fork(&d);
		end_story(r);
		status |= r < 0;
	}
	if (want_stacked) {
		int r = story_stacked(&d);
		end_story(r);
		status |= r < 0;
	}

	diofsctl_rule_clear(d.ctl);
	diofsctl_release(d.ctl, 0, "errno=EIO");
	diofsctl_close(d.ctl);
	diofs_mount_stop(&d.m);
	printf("\ndiofs unmounted.\n");
	ev_close();
	if (ef && fclose(ef) != 0) {
		fprintf(stderr, "diofs-demo: writing %s: %s\n", events, strerror(errno));
		status = 1;
	}
	return status ? 1 : 0;
}
