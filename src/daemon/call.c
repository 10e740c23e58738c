#include <config.h>
#include "call.h"

#include <string.h>

static const char *const op_names[DIOFS_OP_COUNT] = {
#define DIOFS_OP_NAME(e, s, opc, h) [DIOFS_OP_##e] = #s,
	DIOFS_OPS(DIOFS_OP_NAME)
#undef DIOFS_OP_NAME
};

static const enum diofs_handle op_handles[DIOFS_OP_COUNT] = {
#define DIOFS_OP_HANDLE(e, s, opc, h) [DIOFS_OP_##e] = HANDLE_##h,
	DIOFS_OPS(DIOFS_OP_HANDLE)
#undef DIOFS_OP_HANDLE
};

const char *diofs_op_name(enum diofs_op op)
{
	return (unsigned int)op < DIOFS_OP_COUNT ? op_names[op] : "?";
}

enum diofs_handle diofs_op_handle(enum diofs_op op)
{
	return (unsigned int)op < DIOFS_OP_COUNT ? op_handles[op] : HANDLE_NONE;
}

int diofs_op_from_name(const char *name)
{
	for (int op = 0; op < DIOFS_OP_COUNT; op++)
		if (strcmp(op_names[op], name) == 0)
			return op;
	return -1;
}

static const char *const proto_fault_names[PROTO_FAULT_COUNT] = {
	[PROTO_FAULT_NONE] = "none",
	[PROTO_FAULT_BADLEN] = "badlen",
	[PROTO_FAULT_SHORT_HEADER] = "short-header",
	[PROTO_FAULT_ERRNO] = "errno",
	[PROTO_FAULT_DOUBLE] = "double",
	[PROTO_FAULT_UNKNOWN_UNIQUE] = "unknown-unique",
	[PROTO_FAULT_LATE] = "late",
};

const char *diofs_proto_fault_name(enum diofs_proto_fault f)
{
	return (unsigned int)f < PROTO_FAULT_COUNT ? proto_fault_names[f] : "?";
}

int diofs_proto_fault_from_name(const char *name)
{
	for (int f = PROTO_FAULT_NONE + 1; f < PROTO_FAULT_COUNT; f++)
		if (strcmp(proto_fault_names[f], name) == 0)
			return f;
	return -1;
}
