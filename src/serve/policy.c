/*
 * policy.c - the idle writeback and recompression policies (policy.h).
 *
 * One thread sleeps on a condition variable for the period (so stop is
 * immediate) and then runs one pass through the attribute API. A failure is
 * reported once, on stderr, when it first happens or changes - not every
 * period.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"

struct policy {
	struct uzram *z;
	unsigned int wb_idle, rc_idle;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

static int store_str(struct uzram *z, int id, const char *attr, const char *val)
{
	return uzram_attr_store(z, id, attr, val, strlen(val));
}

/*
 * The error last reported for each (device, step), by device id: it grows
 * with the ids seen (hot_add sets no limit; a fixed 64 left zram64 and up
 * unreported). Only the policy thread touches it.
 */
static int (*last_err)[2];
static size_t last_cap;

/* The entry of (id, k), or NULL when it cannot grow (then: report). */
static int *last_entry(int id, int k)
{
	if ((size_t)id >= last_cap) {
		size_t cap = (size_t)id + 64;
		int (*p)[2] = realloc(last_err, cap * sizeof(*p));

		if (!p)
			return NULL;
		memset(p + last_cap, 0, (cap - last_cap) * sizeof(*p));
		last_err = p;
		last_cap = cap;
	}
	return &last_err[id][k];
}

/* Report an error of (device, step) once until it changes, with the
 * library's reason when it gives one (uzram_store_reason). */
static void report(int id, const char *step, int err)
{
	const char *why = err ? uzram_store_reason() : NULL;
	int *last = id >= 0 ? last_entry(id, step[0] == 'w') : NULL;

	if (id < 0 || (last && *last == err))
		return;
	if (last)
		*last = err;
	if (err)
		fprintf(stderr, "uzram serve: zram%d: idle %s: %s%s%s%s\n", id, step,
			strerror(-err), why ? " (" : "", why ? why : "", why ? ")" : "");
}

/* Mark the pages idle for age seconds, then store attr=val (the step
 * reported). */
static void idle_pass(struct uzram *z, int id, unsigned int age, const char *attr,
		      const char *val)
{
	char s[16];
	int err;

	snprintf(s, sizeof(s), "%u", age);
	err = store_str(z, id, "idle", s);
	if (!err)
		err = store_str(z, id, attr, val);
	report(id, attr, err);
}

static void run_device(struct uzram *z, int id, unsigned int wb_idle,
		       unsigned int rc_idle)
{
	char buf[256];
	long n = uzram_attr_show(z, id, "initstate", buf, sizeof(buf));

	if (n <= 0 || buf[0] != '1')
		return;
	if (rc_idle && uzram_attr_show(z, id, "recomp_algorithm", buf, sizeof(buf)) > 0)
		idle_pass(z, id, rc_idle, "recompress", "type=idle");
	if (wb_idle && uzram_attr_show(z, id, "backing_dev", buf, sizeof(buf)) > 0 &&
	    strcmp(buf, "none\n"))
		idle_pass(z, id, wb_idle, "writeback", "idle");
}

void policy_run_once(struct uzram *z, unsigned int writeback_idle,
		     unsigned int recompress_idle)
{
	/* Every device, however many were hot-added (a stack array of 256
	 * ids left the rest without a policy). */
	int *ids;
	long n = uzram_list_all(z, &ids);

	for (long i = 0; i < n; i++)
		run_device(z, ids[i], writeback_idle, recompress_idle);
	free(ids);
}

/* A quarter of the shorter age (of those set), from 1 to 60 seconds. */
static unsigned int period_of(const struct policy *p)
{
	unsigned int shortest = p->wb_idle && p->rc_idle ?
		(p->wb_idle < p->rc_idle ? p->wb_idle : p->rc_idle) :
		(p->wb_idle ? p->wb_idle : p->rc_idle);
	unsigned int period = shortest / 4;

	if (period < 1)
		period = 1;
	if (period > 60)
		period = 60;
	return period;
}

static void *policy_thread(void *arg)
{
	struct policy *p = arg;
	unsigned int period = period_of(p);

	pthread_setname_np(pthread_self(), "policy");

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += period;
		while (!p->stop &&
		       pthread_cond_timedwait(&p->cond, &p->lock, &ts) != ETIMEDOUT)
			;
		if (p->stop)
			break;
		pthread_mutex_unlock(&p->lock);
		policy_run_once(p->z, p->wb_idle, p->rc_idle);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int policy_start(struct uzram *z, unsigned int writeback_idle,
		 unsigned int recompress_idle, struct policy **out)
{
	struct policy *p;

	*out = NULL;
	if (!writeback_idle && !recompress_idle)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->z = z;
	p->wb_idle = writeback_idle;
	p->rc_idle = recompress_idle;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pthread_create(&p->thread, NULL, policy_thread, p)) {
		free(p);
		return -EAGAIN;
	}
	*out = p;
	return 0;
}

void policy_stop(struct policy *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
