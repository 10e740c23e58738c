/* The protocol engine: diofs's side of a FUSE connection.  It takes each
 * request read from the kernel, answers the session's own messages (INIT,
 * DESTROY, FORGET; INTERRUPT through interrupt.c) and hands every operation
 * to dispatch() as a struct diofs_call; replies go back through send.c.
 * The transport (who reads the request, where the reply is written) is
 * loop.c's (read(2)/writev(2) on /dev/fuse) or, after INIT with -o
 * io_uring, uring.c's ring entries, which the engine starts and hands to
 * send.c; send_reply finds the way back by unique. */
#ifndef DIOFS_ENGINE_H
#define DIOFS_ENGINE_H

#include <stddef.h>
#include <stdint.h>

/* The /dev/fuse fd: replies are written to it, the io_uring queues
 * registered on it; before the first request. */
void engine_set_fd(int fd);

/* The size of buffer a reader needs for any request (max_write + room). */
size_t engine_bufsize(void);

/* One request, len bytes at buf, as read from the kernel; start_ns is when
 * it was read.  buf may be reused once this returns (a parked call copies
 * what it keeps). */
void engine_handle(const void *buf, size_t len, uint64_t start_ns);

/* After the session: what DESTROY would have done if the kernel did not
 * send it (it sends it only for fuseblk mounts). */
void engine_finish(void);

/* The transport serving requests: "dev_fuse" or "io_uring". */
const char *engine_transport(void);
/* "transport NAME [queues=N q_depth=N payload=N]" (info, stats). */
void engine_transport_line(char *buf, size_t len);

/* What INIT negotiated, as lines "init KEY=VALUE ..." (diofsctl info);
 * none before INIT. */
typedef void (*engine_line_fn)(void *ctx, const char *line);
void engine_info(engine_line_fn fn, void *ctx);

#endif
