/*
 * restore.h - `uzram serve --restore zramN=FILE` (repeatable): devices
 * restored from images at start (docs/image.md), before any front end
 * serves them.
 *
 * Layout: the options' values, parsed as they come (restore_add), in a
 * fixed table; nothing is shared with other threads.
 */
#ifndef UZRAM_SERVE_RESTORE_H
#define UZRAM_SERVE_RESTORE_H

#include <stdbool.h>

#include "uzram.h"

#define RESTORE_MAX	64

struct restore_list {
	struct {
		int id;
		const char *path;	/* argv's */
	} e[RESTORE_MAX];
	unsigned int n;
};

/* One --restore value, "zramN=FILE": 0, or -1 (said: not that form, the
 * device twice, too many). */
int restore_add(struct restore_list *l, const char *val);
/* Is device id among them? */
bool restore_has(const struct restore_list *l, int id);
/*
 * Restore each, in order: the file opened as given (the owner's command
 * line, not subject to --allow-path; any readable file, a pipe too). Says
 * what was restored, or what is wrong with an image, on standard error;
 * 0, or -1 at the first failure (that device stays reset).
 */
int restore_devices(struct uzram *z, const struct restore_list *l);

#endif /* UZRAM_SERVE_RESTORE_H */
