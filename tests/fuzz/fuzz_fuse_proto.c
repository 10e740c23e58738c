/* libFuzzer target: the FUSE request decoder and INIT (src/daemon/
 * fuse_proto.c).  The input is one request as read from /dev/fuse; its
 * header's length is made to agree (else it would stop at the parser).
 * Every pointer the decoder hands out must lie inside the input.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE \
 *     -DFUSE_USE_VERSION=314 -I. -Isrc $(pkg-config --cflags fuse3) \
 *     tests/fuzz/fuzz_fuse_proto.c src/daemon/fuse_proto.c src/daemon/call.c \
 *     -o fuzz_fuse_proto
 *   mkdir -p work && ./fuzz_fuse_proto work tests/fuzz/corpus/fuse_proto
 */
#include <config.h>

#include "daemon/fuse_proto.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool inside(const void *p, size_t n, const char *buf, size_t len)
{
	const char *q = p;

	return q >= buf && q <= buf + len && n <= (size_t)(buf + len - q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct proto_init_cfg cfg = {
		.want = ~0ULL, .max_background = 1024, .congestion_threshold = 768,
		.max_pages = 256, .page_size = 4096,
	};
	char *buf = malloc(size ? size : 1);
	struct proto_init_result r;
	struct proto_out o;
	struct proto_in in;
	struct diofs_call c;
	struct iovec iov[3];

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (size >= sizeof(struct fuse_in_header))
		((struct fuse_in_header *)buf)->len = (uint32_t)size;
	if (proto_in_parse(buf, size, &in) == 0) {
		check(in.arglen <= size - sizeof(in.h));
		switch (in.h.opcode) {
		case FUSE_INIT:
			proto_init(&in, &cfg, &o, &r);
			check(proto_out_iov(&o, iov) >= 1 && o.h.len <= sizeof(o.h) + sizeof(o.arg));
			break;
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
			for (int i = 0, n = proto_forget_count(&in); i < n; i++)
				(void)proto_forget_at(&in, i);
			break;
		case FUSE_INTERRUPT:
			(void)proto_interrupt_target(&in);
			break;
		default:
			if (proto_decode(&in, &c) == 0) {
				check((unsigned int)c.op < DIOFS_OP_COUNT);
				if (c.name)
					check(inside(c.name, strlen(c.name) + 1, buf, size));
				if (c.newname)
					check(inside(c.newname, strlen(c.newname) + 1, buf, size));
				if (c.value)
					check(inside(c.value, c.size, buf, size));
				if (c.in_buf)
					check(inside(c.in_buf->buf[0].mem, c.size, buf, size));
			}
		}
	}
	free(buf);
	return 0;
}
