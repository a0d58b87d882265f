/*
 * fault.c - fault injection (fault.h, docs/internals.md §9.2). Compiled to
 * nothing but fault.h's declarations unless UZRAM_FAULT_INJECT is defined:
 * the shipped library has no fault site and no switch.
 *
 * Each site has a period and two counters, atomics because the device's
 * callers run on many threads: a call fails when its number is a multiple
 * of the period. A thread also counts the faults it got, so a test can
 * match each failure its own calls returned to a fault it was given.
 */
#include "fault.h"

#ifdef UZRAM_FAULT_INJECT

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

static const char *const site_names[UZ_FAULT_NR] = {
	[UZ_FAULT_POOL_ALLOC] = "pool_alloc",
	[UZ_FAULT_ZSPAGE] = "zspage",
	[UZ_FAULT_COMPRESS] = "compress",
	[UZ_FAULT_BD_WRITE] = "bd_write",
	[UZ_FAULT_BD_WRITE_SHORT] = "bd_write_short",
	[UZ_FAULT_BD_READ] = "bd_read",
	[UZ_FAULT_BD_READ_SHORT] = "bd_read_short",
};

static struct {
	_Atomic uint64_t period;	/* 0: never fails */
	_Atomic uint64_t calls;
	_Atomic uint64_t injected;
} sites[UZ_FAULT_NR];

static __thread uint64_t thread_injected;

const char *uz_fault_name(enum uz_fault_site site)
{
	return site < UZ_FAULT_NR ? site_names[site] : NULL;
}

bool uz_fault(enum uz_fault_site site)
{
	uint64_t period = atomic_load_explicit(&sites[site].period,
					       memory_order_relaxed);
	uint64_t n = atomic_fetch_add(&sites[site].calls, 1) + 1;

	if (!period || n % period)
		return false;
	atomic_fetch_add(&sites[site].injected, 1);
	thread_injected++;
	return true;
}

/* One "name=N" of a spec into periods[]: 0 or -EINVAL. */
static int parse_one(char *item, uint64_t *periods)
{
	char *eq = strchr(item, '=');
	unsigned long long n;

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	for (int s = 0; s < UZ_FAULT_NR; s++) {
		if (strcmp(item, site_names[s]))
			continue;
		if (kstrtoull(eq + 1, 10, &n))
			return -EINVAL;
		periods[s] = n;
		return 0;
	}
	return -EINVAL;
}

/* A whole spec ("a=1,b=2", may be empty) into periods[]. */
static int parse_spec(const char *spec, uint64_t *periods)
{
	char *copy = strdup(spec), *save = NULL;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (char *item = strtok_r(copy, ",", &save); item && !ret;
	     item = strtok_r(NULL, ",", &save))
		ret = parse_one(item, periods);
	free(copy);
	return ret;
}

int uz_fault_configure(const char *spec)
{
	uint64_t periods[UZ_FAULT_NR] = { 0 };
	int ret;

	if (!spec)
		spec = getenv("UZRAM_FAULTS");
	ret = parse_spec(spec ? spec : "", periods);
	if (ret)
		return ret;
	for (int s = 0; s < UZ_FAULT_NR; s++) {
		atomic_store(&sites[s].period, periods[s]);
		atomic_store(&sites[s].calls, 0);
		atomic_store(&sites[s].injected, 0);
	}
	return 0;
}

struct uz_fault_count uz_fault_count(enum uz_fault_site site)
{
	return (struct uz_fault_count){
		.calls = atomic_load(&sites[site].calls),
		.injected = atomic_load(&sites[site].injected),
	};
}

uint64_t uz_fault_thread_injected(void)
{
	return thread_injected;
}

#endif /* UZRAM_FAULT_INJECT */
