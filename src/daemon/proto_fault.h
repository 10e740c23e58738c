/* Protocol faults (rule action proto=, rules.h): the reply of a call whose
 * rule set c->proto_fault goes out through proto_fault_reply instead of
 * send_reply.  It writes the faulty message the kernel must refuse, notes
 * what write(2) said (trace, stats), and writes the real reply where the
 * kernel still waits for one, so that the caller never hangs. */
#ifndef DIOFS_PROTO_FAULT_H
#define DIOFS_PROTO_FAULT_H

#include "call.h"
#include "fuse_proto.h"

/* Record c (call_record) and send o with c's fault; send_reply_undo's
 * result for the real reply (undo: as there). */
struct send_undo;
int proto_fault_reply(struct diofs_call *c, struct proto_out *o,
		      const struct send_undo *undo);

/* One line per fault used: "proto NAME count=N accepted=N einval=N
 * enoent=N other=N", what write(2) said to the faulty messages (late: to
 * the reply after the interrupt). */
typedef void (*proto_fault_line_fn)(void *ctx, const char *line);
void proto_fault_stats(proto_fault_line_fn fn, void *ctx);

#endif
