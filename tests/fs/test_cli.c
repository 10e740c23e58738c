#include "fstest.h"
static const struct fs_case cases[] = {{0}};
int main(void) { return fs_main("x", cases, 0); }
