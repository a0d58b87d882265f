/*
 * iostat.c - a front end's request counters (iostat.h): sharded relaxed
 * atomics written on the I/O path, summed by the metrics endpoint.
 */
#include <string.h>
#include <time.h>

#include "iostat.h"

/* 10 us to 2.5 s in 1-2.5-5 steps: a RAM device's requests take
 * microseconds, a large one or one behind a busy pool milliseconds. */
const uint64_t iostat_bounds_ns[IOSTAT_BOUNDS] = {
	10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 25000000, 50000000,
	100000000, 250000000, 1000000000, 2500000000u,
};

static const char *const op_names[IOSTAT_NOPS] = {
	[IOSTAT_READ] = "read", [IOSTAT_WRITE] = "write",
	[IOSTAT_DISCARD] = "discard", [IOSTAT_WRITE_ZEROES] = "write_zeroes",
	[IOSTAT_FLUSH] = "flush", [IOSTAT_BLOCK_STATUS] = "block_status",
	[IOSTAT_CACHE] = "cache", [IOSTAT_OTHER] = "other",
};

static const char *const result_names[IOSTAT_NRESULTS] = {
	[IOSTAT_OK] = "ok", [IOSTAT_INVALID] = "invalid", [IOSTAT_ERROR] = "error",
};

#define ADD(var, n)	atomic_fetch_add_explicit(&(var), (n), memory_order_relaxed)
#define GET(var)	atomic_load_explicit(&(var), memory_order_relaxed)

void iostat_init(struct iostat *st, const char *frontend, unsigned int ops,
		 bool connections)
{
	memset(st, 0, sizeof(*st));
	st->frontend = frontend;
	st->ops = ops;
	st->connections = connections;
}

uint64_t iostat_start(const struct iostat *st)
{
	struct timespec ts;

	if (!st)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* This thread's shard, given at its first request, round robin. */
static struct iostat_shard *my_shard(struct iostat *st)
{
	static atomic_uint next;
	static __thread int mine = -1;

	if (mine < 0)
		mine = (int)(atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) %
			     IOSTAT_SHARDS);
	return &st->shard[mine];
}

static unsigned int bucket_of(uint64_t ns)
{
	unsigned int i = 0;

	while (i < IOSTAT_BOUNDS && ns > iostat_bounds_ns[i])
		i++;
	return i;
}

void iostat_done(struct iostat *st, enum iostat_op op, enum iostat_result result,
		 uint64_t bytes_in, uint64_t bytes_out, uint64_t t0)
{
	struct iostat_shard *sh;

	if (!st)
		return;
	sh = my_shard(st);
	ADD(sh->requests[op][result], 1);
	if (bytes_in)
		ADD(sh->bytes_in, bytes_in);
	if (bytes_out)
		ADD(sh->bytes_out, bytes_out);
	if (t0) {
		uint64_t now = iostat_start(st), ns = now > t0 ? now - t0 : 0;

		ADD(sh->buckets[op][bucket_of(ns)], 1);
		ADD(sh->sum_ns[op], ns);
	}
}

void iostat_conn(struct iostat *st, int delta)
{
	if (!st)
		return;
	if (delta > 0)
		ADD(st->conns_total, 1);
	ADD(st->conns_open, (uint64_t)(int64_t)delta);
}

static void add_shard(const struct iostat_shard *sh, struct iostat_snap *o)
{
	for (int op = 0; op < IOSTAT_NOPS; op++) {
		for (int r = 0; r < IOSTAT_NRESULTS; r++)
			o->requests[op][r] += GET(sh->requests[op][r]);
		for (int b = 0; b < IOSTAT_BUCKETS; b++)
			o->buckets[op][b] += GET(sh->buckets[op][b]);
		o->sum_ns[op] += GET(sh->sum_ns[op]);
	}
	o->bytes_in += GET(sh->bytes_in);
	o->bytes_out += GET(sh->bytes_out);
}

void iostat_read(const struct iostat *st, struct iostat_snap *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < IOSTAT_SHARDS; i++)
		add_shard(&st->shard[i], out);
	out->conns_total = GET(st->conns_total);
	out->conns_open = GET(st->conns_open);
}

const char *iostat_op_name(enum iostat_op op)
{
	return op < IOSTAT_NOPS ? op_names[op] : "other";
}

const char *iostat_result_name(enum iostat_result r)
{
	return r < IOSTAT_NRESULTS ? result_names[r] : "error";
}
