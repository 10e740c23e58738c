#include <config.h>
#include "check/known.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

struct known {
	char *name;    /* suite.case */
	char *why;
};

static struct known *known;
static size_t nknown;

int known_load(const char *path, char *err, size_t errlen)
{
	struct utsname u;
	char line[1024];
	unsigned int lineno = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	uname(&u);
	while (fgets(line, sizeof(line), f)) {
		char name[256], glob[128];
		int why_at = 0;
		struct known *k;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[strspn(line, " \t")] == '#' || line[strspn(line, " \t")] == '\0')
			continue;
		if (sscanf(line, "%255s %127s %n", name, glob, &why_at) != 2 || !why_at ||
		    !strchr(name, '.')) {
			snprintf(err, errlen, "%s:%u: expected SUITE.CASE KERNEL-GLOB WHY", path,
				 lineno);
			fclose(f);
			return -1;
		}
		if (fnmatch(glob, u.release, 0) != 0)
			continue;
		k = realloc(known, (nknown + 1) * sizeof(*known));
		if (!k)
			break;
		known = k;
		known[nknown].name = strdup(name);
		known[nknown].why = strdup(line + why_at);
		nknown++;
	}
	fclose(f);
	return 0;
}

const char *known_bug(const char *suite, const char *name)
{
	size_t sl = strlen(suite);

	for (size_t i = 0; i < nknown; i++)
		if (!strncmp(known[i].name, suite, sl) && known[i].name[sl] == '.' &&
		    !strcmp(known[i].name + sl + 1, name))
			return known[i].why;
	return NULL;
}
