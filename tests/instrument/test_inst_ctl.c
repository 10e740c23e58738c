#include <config.h>
#include "itest.h"

int main(void)
{
	static const struct itest_case cases[] = { { "placeholder", NULL } };

	return itest_main("instrument ctl", cases, 0);
}
