/* The protocol engine: diofs's side of a FUSE connection.  It takes each
 * request read from the kernel, answers the session's own messages (INIT,
 * DESTROY, FORGET, INTERRUPT) and hands every operation to dispatch() as a
 * struct diofs_call; replies go back through engine_send.  The transport
 * (who reads the request, where the reply is written) is loop.c's
 * (read(2)/writev(2) on /dev/fuse) or, after INIT with -o io_uring,
 * uring.c's ring entries; engine_send finds the way back by unique. */
#ifndef DIOFS_ENGINE_H
#define DIOFS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "call.h"
#include "fuse_proto.h"

/* The /dev/fuse fd replies are written to; before the first request. */
void engine_set_fd(int fd);

/* The size of buffer a reader needs for any request (max_write + room). */
size_t engine_bufsize(void);

/* One request, len bytes at buf, as read from the kernel; start_ns is when
 * it was read.  buf may be reused once this returns (a parked call copies
 * what it keeps). */
void engine_handle(const void *buf, size_t len, uint64_t start_ns);

/* Write reply o; 0, or -errno (-ENOENT: the kernel no longer waits for
 * it, the caller was interrupted or the connection aborted). */
int engine_send(struct proto_out *o);

/* Write a message as it is, whatever its header says (proto_fault.c's
 * faulty messages; replies go through engine_send): the bytes written, or
 * -errno as the kernel refused it. */
ssize_t engine_write_raw(const struct iovec *iov, int n);

/* After the session: what DESTROY would have done if the kernel did not
 * send it (it sends it only for fuseblk mounts). */
void engine_finish(void);

/* Interrupts, as libfuse's fuse_req_interrupt_func: fn(data) is called
 * once if the kernel interrupts c, at once (from engine_interrupt_func
 * itself) if that happened before; registering again replaces fn and data.
 * Never with an engine lock held, so fn may reply.  The reply ends the
 * registration (reply.c). */
typedef void (*engine_interrupt_fn)(void *data);
void engine_interrupt_func(struct diofs_call *c, engine_interrupt_fn fn, void *data);
void engine_interrupt_done(struct diofs_call *c);

/* The transport serving requests: "dev_fuse" or "io_uring". */
const char *engine_transport(void);
/* "transport NAME [queues=N q_depth=N payload=N]" (info, stats). */
void engine_transport_line(char *buf, size_t len);

/* FOPEN_PARALLEL_DIRECT_WRITES on direct-I/O opens (-o init_off=). */
bool engine_parallel_direct_writes(void);

/* What INIT negotiated, as lines "init KEY=VALUE ..." (diofsctl info);
 * none before INIT. */
typedef void (*engine_line_fn)(void *ctx, const char *line);
void engine_info(engine_line_fn fn, void *ctx);

#endif
