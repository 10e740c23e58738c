#include <config.h>
#include "call.h"

#include <string.h>

static const char *const op_names[DIOFS_OP_COUNT] = {
#define DIOFS_OP_NAME(e, s, opc) [DIOFS_OP_##e] = #s,
	DIOFS_OPS(DIOFS_OP_NAME)
#undef DIOFS_OP_NAME
};

const char *diofs_op_name(enum diofs_op op)
{
	return (unsigned int)op < DIOFS_OP_COUNT ? op_names[op] : "?";
}

int diofs_op_from_name(const char *name)
{
	for (int op = 0; op < DIOFS_OP_COUNT; op++)
		if (strcmp(op_names[op], name) == 0)
			return op;
	return -1;
}
