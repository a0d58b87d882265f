/*
 * path_policy.c - the allow-list of directories for attribute paths (see
 * path_policy.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "path_policy.h"

void path_policy_init(struct path_policy *p)
{
	memset(p, 0, sizeof(*p));
	pthread_rwlock_init(&p->lock, NULL);
}

static void free_list(char **allow, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(allow[i]);
	free(allow);
}

void path_policy_destroy(struct path_policy *p)
{
	free_list(p->allow, p->nallow);
	p->allow = NULL;
	p->nallow = 0;
	pthread_rwlock_destroy(&p->lock);
}

int path_policy_set(struct path_policy *p, const char *const *dirs, size_t n)
{
	char **allow = calloc(n ? n : 1, sizeof(*allow));
	int ret = 0;

	if (!allow)
		return -ENOMEM;
	for (size_t i = 0; i < n && !ret; i++) {
		struct stat st;

		allow[i] = realpath(dirs[i], NULL);
		if (!allow[i])
			ret = errno == ENOMEM ? -ENOMEM : -ENOENT;
		else if (stat(allow[i], &st) || !S_ISDIR(st.st_mode))
			ret = -ENOTDIR;		/* nothing could lie below it */
	}
	if (ret) {
		free_list(allow, n);
		return ret;
	}
	pthread_rwlock_wrlock(&p->lock);
	free_list(p->allow, p->nallow);
	p->allow = allow;
	p->nallow = n;
	p->restricted = true;
	pthread_rwlock_unlock(&p->lock);
	return 0;
}

int path_policy_check(struct path_policy *p, const char *path, char *resolved)
{
	int ret = -EPERM;

	if (!realpath(path, resolved))
		return -errno;
	pthread_rwlock_rdlock(&p->lock);
	if (!p->restricted)
		ret = 0;
	for (size_t i = 0; i < p->nallow && ret; i++) {
		size_t len = strlen(p->allow[i]);
		if (!strncmp(resolved, p->allow[i], len) &&
		    (resolved[len] == '/' || (len == 1 && p->allow[i][0] == '/')))
			ret = 0;
	}
	pthread_rwlock_unlock(&p->lock);
	return ret;
}
