/*
 * refusal.c - the server's log of refused attribute stores (refusal.h).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "refusal.h"
#include "uzram.h"

/* A cause; attr and reason are static strings (the attribute table's
 * names, the library's reasons), so an entry owns nothing. */
struct cause {
	int id;
	int err;
	const char *attr;
	const char *reason;
};

static struct cause seen[REFUSAL_MAX_CAUSES];
static size_t nseen;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

enum { CAUSE_SEEN, CAUSE_NEW, CAUSE_FULL, CAUSE_UNLOGGED };

static bool same_cause(const struct cause *a, const struct cause *b)
{
	return a->id == b->id && a->err == b->err && !strcmp(a->attr, b->attr) &&
	       (a->reason == b->reason ||
		(a->reason && b->reason && !strcmp(a->reason, b->reason)));
}

/* Record c unless it is known: CAUSE_SEEN, CAUSE_NEW, or, with the table
 * full, CAUSE_FULL the first time and CAUSE_UNLOGGED after. */
static int remember(const struct cause *c)
{
	static bool full;
	int ret = CAUSE_NEW;

	pthread_mutex_lock(&seen_lock);
	for (size_t i = 0; i < nseen && ret == CAUSE_NEW; i++)
		if (same_cause(&seen[i], c))
			ret = CAUSE_SEEN;
	if (ret == CAUSE_NEW && nseen == REFUSAL_MAX_CAUSES) {
		ret = full ? CAUSE_UNLOGGED : CAUSE_FULL;
		full = true;
	} else if (ret == CAUSE_NEW) {
		seen[nseen++] = *c;
	}
	pthread_mutex_unlock(&seen_lock);
	return ret;
}

/* The attribute table's own name for attr (a static string), or NULL. */
static const char *attr_name(int id, const char *attr)
{
	const struct uzram_attr_info *a;

	if (id < 0)
		return strcmp(attr, "hot_remove") ? NULL : "hot_remove";
	a = uzram_attr_find(attr);
	return a ? a->name : NULL;
}

void refusal_log(int id, const char *attr, int err)
{
	struct cause c = { id, err < 0 ? -err : err, attr_name(id, attr),
			   uzram_store_reason() };
	const char *name;
	char dev[32];

	if (!c.attr || !c.err)
		return;
	switch (remember(&c)) {
	case CAUSE_NEW:
		break;
	case CAUSE_FULL:
		fprintf(stderr, "uzram serve: %d kinds of refused stores logged: new kinds "
			"are no longer logged\n", REFUSAL_MAX_CAUSES);
		return;
	default:
		return;
	}
	if (id < 0)
		snprintf(dev, sizeof(dev), "zram-control");
	else
		snprintf(dev, sizeof(dev), "zram%d", id);
	name = strerrorname_np(c.err);
	fprintf(stderr, "uzram serve: %s/%s: store refused: %s (%s)\n", dev, c.attr,
		name ? name : "?", c.reason ? c.reason : strerror(c.err));
}
