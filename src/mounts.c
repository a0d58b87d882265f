/*
 * mounts.c - the uzram FUSE trees in /proc/self/mountinfo (mounts.h).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mounts.h"

/* mountinfo's escapes (\040 for a space, ...) undone in place. */
static void unescape_mount(char *s)
{
	char *d = s;

	for (; *s; s++, d++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*d = *s;
		}
	}
	*d = '\0';
}

char **uzram_trees(size_t *n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, **v = NULL;
	size_t cap = 0;

	*n = 0;
	if (!f)
		return NULL;
	while (getline(&line, &cap, f) > 0) {
		char mnt[PATH_MAX], *sep = strstr(line, " - ");
		char **nv;

		if (!sep || strncmp(sep + 3, "fuse.uzram ", 11) ||
		    sscanf(line, "%*u %*u %*s %*s %4095s", mnt) != 1)
			continue;
		unescape_mount(mnt);
		nv = realloc(v, (*n + 1) * sizeof(*v));
		if (!nv)
			break;
		v = nv;
		v[*n] = strdup(mnt);
		if (!v[*n])
			break;
		(*n)++;
	}
	free(line);
	fclose(f);
	return v;
}

void uzram_trees_free(char **trees, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(trees[i]);
	free(trees);
}

