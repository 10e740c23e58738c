/* Unit tests of the interrupt table (src/daemon/interrupt.c): an
 * interrupt that comes before its call registers is remembered, however
 * many others come meanwhile, and the call's reply forgets it.  Interrupts
 * go in as FUSE_INTERRUPT messages through engine_handle, as the kernel
 * sends them; no mount (a flood of interrupts for calls that have not
 * parked yet cannot be ordered through a real mount). */
#include <config.h>

#include "daemon/engine.h"
#include "daemon/fuse_proto.h"
#include "daemon/interrupt.h"
#include "harness/runner.h"

#include <string.h>

/* main.c's, which the daemon's operations (linked, not run here) name. */
int diofs_backing_fd = -1;

/* More than the fixed table of 256 that lost the oldest. */
#define FLOOD 1000

static void send_interrupt(uint64_t target, uint64_t unique)
{
	struct {
		struct fuse_in_header h;
		struct fuse_interrupt_in ii;
	} msg;

	memset(&msg, 0, sizeof(msg));
	msg.h.len = sizeof(msg);
	msg.h.opcode = FUSE_INTERRUPT;
	msg.h.unique = unique;
	msg.ii.unique = target;
	engine_handle(&msg, sizeof(msg), 0);
}

static int fired;

static void on_interrupt(void *data)
{
	(void)data;
	fired++;
}

/* Requests' uniques are even; an interrupt's is its target's | 1. */
static uint64_t unique_of(int i)
{
	return (uint64_t)(i + 1) * 2;
}

TEST(interrupts_before_registration_all_kept)
{
	struct diofs_call c;

	for (int i = 0; i < FLOOD; i++)
		send_interrupt(unique_of(i), unique_of(i) | 1);
	/* Every call registers after its interrupt: each is told at once. */
	for (int i = 0; i < FLOOD; i++) {
		memset(&c, 0, sizeof(c));
		c.unique = unique_of(i);
		fired = 0;
		interrupt_func(&c, on_interrupt, NULL);
		CHECK_EQ(fired, 1);
		interrupt_done(&c);
	}
}

TEST(reply_forgets_its_early_interrupt)
{
	struct diofs_call c;

	memset(&c, 0, sizeof(c));
	c.unique = unique_of(FLOOD);
	send_interrupt(c.unique, c.unique | 1);
	interrupt_done(&c); /* the call was answered without parking */
	fired = 0;
	interrupt_func(&c, on_interrupt, NULL);
	CHECK_EQ(fired, 0); /* a later registration is a new call's */
	interrupt_done(&c);
}

TEST_MAIN("test_interrupts")
