/*
 * path_policy.h - which files an attribute store may name.
 *
 * backing_dev and algorithm_params' dict= name files that the process
 * opens. A policy is either open (every path accepted: the default) or
 * restricted to the directories of an allow-list, each kept resolved
 * (realpath). The registry (lib/uzram.c) owns one and sets it; each device
 * holds a pointer to it and checks paths against it. Locking: the list is
 * replaced under the write side of its rwlock, checked under the read side.
 */
#ifndef UZRAM_PATH_POLICY_H
#define UZRAM_PATH_POLICY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct path_policy {
	pthread_rwlock_t lock;
	bool restricted;	/* only below allow[0..nallow) */
	char **allow;		/* resolved directories */
	size_t nallow;
};

void path_policy_init(struct path_policy *p);
void path_policy_destroy(struct path_policy *p);
/*
 * Restrict to the directories dirs[0..n) (none: refuse every path).
 * Returns 0, -ENOENT (a directory does not exist), -ENOTDIR (one is not a
 * directory) or -ENOMEM; on error the previous list stays.
 */
int path_policy_set(struct path_policy *p, const char *const *dirs, size_t n);
/*
 * Open path with open(2)'s flags (O_CLOEXEC added) as the policy allows: any
 * path when open; when restricted, only a file whose real path (symlinks
 * resolved) lies below an allowed directory, and then opened relative to
 * that directory with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so
 * that nothing swapped in after the check is followed. Returns the
 * descriptor, -EPERM (outside the list, or a symlink met while opening),
 * or the error of realpath or open.
 */
int path_policy_open(struct path_policy *p, const char *path, int flags);
/*
 * The directory a file at path would be made in, opened (O_RDONLY,
 * O_DIRECTORY) as the policy allows: when restricted, that directory must
 * be an allowed one or lie below one, and is opened as path_policy_open
 * opens files. *name is path's last component. Returns the descriptor,
 * -EISDIR (path names no file: empty, ".", "..", a trailing slash),
 * -EPERM, or the error of realpath or open.
 */
int path_policy_open_parent(struct path_policy *p, const char *path,
			    const char **name);

#endif /* UZRAM_PATH_POLICY_H */
