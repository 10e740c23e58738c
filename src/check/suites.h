/* Every suite, in run order: one line each (see check.h). */
CHECK_SUITE(smoke)
CHECK_SUITE(completion)
CHECK_SUITE(lifetime)
CHECK_SUITE(pins)
CHECK_SUITE(protocol)
CHECK_SUITE(stacked)
