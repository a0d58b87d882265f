/*
 * policy.h - background policies of `uzram serve`: what the kernel leaves to
 * cron jobs that users forget to write.
 */
#ifndef UZRAM_POLICY_H
#define UZRAM_POLICY_H

#include "uzram.h"

struct policy;

/*
 * Every period, for each initialised device: with recompress_idle > 0 and a
 * recompression algorithm configured, "idle=<recompress_idle>" then
 * "recompress=type=idle"; with writeback_idle > 0 and a backing device,
 * "idle=<writeback_idle>" then "writeback=idle" - exactly what writing the
 * attributes by hand does, so the effects show in mm_stat and bd_stat.
 * The period is a quarter of the shorter age, between 1 and 60 seconds.
 * Returns 0 or -errno.
 */
int policy_start(struct uzram *z, unsigned int writeback_idle,
		 unsigned int recompress_idle, struct policy **out);
void policy_stop(struct policy *p);

/* One pass over every device, now (tests, and the policy thread). */
void policy_run_once(struct uzram *z, unsigned int writeback_idle,
		     unsigned int recompress_idle);

#endif /* UZRAM_POLICY_H */
