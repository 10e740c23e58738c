/* TEMPORARY probe */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "check/check.h"
#include "check/route.h"
#include "proto/errnames.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *cfgs[] = { "dio=all,async_dio=1", "dio=all,async_dio=0", "dio=none,async_dio=1", "dio=none,async_dio=0" };

static void probe_cfg(const char *cfg)
{
	int modes = strstr(cfg, "all") ? 2 : 1;
	static int fileno;
	check_remount(cfg);
	for (int m = 0; m < modes; m++) {
		int flags = (modes == 2 && m == 0) ? 0 : O_DIRECT;
		for (int r = 0; r < ROUTE_COUNT; r++) {
			char name[32];
			size_t len = 3 << 20;
			char *buf = check_buf_alloc(len, 0);
			struct diofs_held held[16];
			ssize_t res;
			int n, ruleid;

			snprintf(name, sizeof(name), "f%d", fileno++);
			check_file_create(name, 4 << 20, 1);
			int fd = open(check_path(name), O_RDWR | flags);
			ruleid = diofsctl_rule_add(check_ctl(), "hold op=read path=%s", check_fuse_path(name));
			struct route_io *io = route_submit(r, fd, IO_READ, buf, len, 0);
			n = route_held_wait(check_fuse_path(name), "read", 1, held, 16);
			usleep(100000);
			n = route_held_now(check_fuse_path(name), "read", held, 16);
			printf("%s %s %s: held %d first size %ju pid %d (tid %d) submit_returned %d\n", cfg,
			       flags ? "O_DIRECT" : "plain", route_name(r), n, (uintmax_t)held[0].size, held[0].pid, route_tid(io), route_submit_returned(io));
			diofsctl_rule_del(check_ctl(), ruleid);
			diofsctl_release(check_ctl(), 0, NULL);
			if (route_wait(io, 5000, &res))
				printf("   res %zd\n", res);
			route_free(io);
			/* short read */
			ruleid = diofsctl_rule_add(check_ctl(), "short=1000 op=read count=1 path=%s", check_fuse_path(name));
			res = route_rw(r, fd, IO_READ, buf, 65536, 0);
			printf("   short read 64K/1000: %zd\n", res);
			diofsctl_rule_del(check_ctl(), ruleid);
			ruleid = diofsctl_rule_add(check_ctl(), "short=1000 op=write count=1 path=%s", check_fuse_path(name));
			res = route_rw(r, fd, IO_WRITE, buf, 65536, 0);
			printf("   short write 64K/1000: %zd\n", res);
			diofsctl_rule_del(check_ctl(), ruleid);
			ruleid = diofsctl_rule_add(check_ctl(), "short=1000 op=read nth=2 path=%s", check_fuse_path(name));
			res = route_rw(r, fd, IO_READ, buf, 3<<20, 0);
			printf("   short read 3M/2nd 1000: %zd\n", res);
			diofsctl_rule_del(check_ctl(), ruleid);
			ruleid = diofsctl_rule_add(check_ctl(), "short=1000 op=write nth=2 path=%s", check_fuse_path(name));
			res = route_rw(r, fd, IO_WRITE, buf, 3<<20, 0);
			printf("   short write 3M/2nd 1000: %zd\n", res);
			diofsctl_rule_del(check_ctl(), ruleid);
			ruleid = diofsctl_rule_add(check_ctl(), "fail=ENOSPC op=write nth=2 path=%s", check_fuse_path(name));
			res = route_rw(r, fd, IO_WRITE, buf, 3<<20, 0);
			printf("   ENOSPC write 3M/2nd: %zd\n", res);
			diofsctl_rule_del(check_ctl(), ruleid);
			ruleid = diofsctl_rule_add(check_ctl(), "overlong op=read path=%s", check_fuse_path(name));
			res = route_rw(r, fd, IO_READ, buf, 65536, 0);
			printf("   overlong read: %zd\n", res);
			diofsctl_rule_del(check_ctl(), ruleid);
			ruleid = diofsctl_rule_add(check_ctl(), "overlong op=write path=%s", check_fuse_path(name));
			res = route_rw(r, fd, IO_WRITE, buf, 65536, 0);
			printf("   overlong write: %zd\n", res);
			diofsctl_rule_del(check_ctl(), ruleid);
			/* stale size: cached 4M; grow to 8M */
			struct stat st; stat(check_path(name), &st);
			truncate(check_backing_path(name), 6 << 20);
			res = route_rw(r, fd, IO_READ, buf, 3<<20, (4<<20) - 100);
			printf("   stale grown read 3M at 4M-100 (cached %jd): %zd\n", (intmax_t)st.st_size, res);
			res = route_rw(r, fd, IO_READ, buf, 4096, (4<<20) + 100);
			printf("   stale grown read past cached: %zd\n", res);
			truncate(check_backing_path(name), 10000);
			res = route_rw(r, fd, IO_READ, buf, 65536, 0);
			printf("   stale shrunk read 64K: %zd\n", res);
			close(fd);
			check_buf_free(buf);
		}
	}
}

static void probe2_cfg(const char *cfg, int flags)
{
	check_remount(cfg);
	for (int r = ROUTE_AIO; r < ROUTE_COUNT; r++) {
		char name[32];
		size_t len = 65536;
		char *buf = check_buf_alloc(len, 0);
		ssize_t res;
		snprintf(name, sizeof(name), "g%d", r);
		check_file_create(name, 10000, 1);
		int fd = open(check_path(name), O_RDWR | flags);
		int cnt = diofsctl_rule_add(check_ctl(), "hold nth=100000 op=read path=%s", check_fuse_path(name));
		res = route_rw(r, fd, IO_READ, buf, len, 0);
		char **lines; int n = diofsctl_cmd(check_ctl(), &lines, "rule list");
		printf("%s %s %s: plain EOF read 64K of 10000: %zd; rules: %s\n", cfg, flags ? "O_DIRECT" : "plain", route_name(r), res, n > 0 ? lines[0] : "");
		if (res > 0) CHECK_PATTERN(buf, res > 10000 ? 10000 : res, 0, 1);
		if (res > 10000) { int z = 0; for (ssize_t i = 10000; i < res; i++) z += buf[i] == 0; printf("   beyond: %d zero of %zd; byte 10000 = %02x\n", z, res - 10000, (unsigned char)buf[10000]); }
		diofsctl_free_lines(lines);
		diofsctl_rule_del(check_ctl(), cnt);
		close(fd);
	}
}
static void probe(void) { probe2_cfg("dio=all,async_dio=0", O_DIRECT); probe2_cfg("dio=all,async_dio=0", 0); probe2_cfg("dio=none,async_dio=0", O_DIRECT); probe2_cfg("dio=all,async_dio=1", O_DIRECT);}
static const struct check_case cases[] = {
	CHECK_CASE(probe, "probe"),
	{ NULL },
};
const struct check_suite check_suite_completion = { .name = "completion", .cases = cases };
