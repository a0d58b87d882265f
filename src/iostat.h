/*
 * iostat.h - what a front end counts about its clients and requests, for
 * the metrics endpoint (src/metrics): connections, requests by operation
 * and result, payload bytes in and out, and a latency histogram per
 * operation. A neutral interface below the front ends: NBD, ublk and the
 * FUSE disk files add to a struct iostat that `uzram serve` owns and hands
 * them; the metrics endpoint reads it. Neither knows the other.
 *
 * Layout and locking. The request counters live in IOSTAT_SHARDS shards,
 * each aligned to its own cache lines. A thread is given a shard at its
 * first request (round robin) and adds to it with relaxed atomics: no lock,
 * and threads rarely write the same line, so the I/O path pays a few
 * uncontended increments and two clock reads per request. A reader sums
 * the shards: every counter is exact, but the set is not one instant (a
 * request may already count in requests and not yet in the histogram).
 * Connections are two plain atomics (opened, still open): a connection
 * starts and ends far less often than it makes requests.
 */
#ifndef UZRAM_IOSTAT_H
#define UZRAM_IOSTAT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum iostat_op {
	IOSTAT_READ,
	IOSTAT_WRITE,
	IOSTAT_DISCARD,		/* NBD TRIM, ublk DISCARD, FUSE punch-hole */
	IOSTAT_WRITE_ZEROES,	/* ... and FUSE zero-range */
	IOSTAT_FLUSH,		/* NBD FLUSH, ublk FLUSH, FUSE fsync */
	IOSTAT_BLOCK_STATUS,	/* NBD only */
	IOSTAT_CACHE,		/* NBD only */
	IOSTAT_OTHER,		/* a command the front end does not know */
	IOSTAT_NOPS
};
#define IOSTAT_OP(op)	(1u << (op))	/* for iostat_init's mask */

enum iostat_result {
	IOSTAT_OK,
	IOSTAT_INVALID,		/* refused before it reached the device */
	IOSTAT_ERROR,		/* the device failed it (mem_limit, I/O error) */
	IOSTAT_NRESULTS
};

/* Upper bounds of the latency buckets, in nanoseconds; the last bucket
 * (+Inf) takes the rest. */
#define IOSTAT_BOUNDS	16
extern const uint64_t iostat_bounds_ns[IOSTAT_BOUNDS];
#define IOSTAT_BUCKETS	(IOSTAT_BOUNDS + 1)

#define IOSTAT_SHARDS	16

struct iostat_shard {
	_Alignas(64) _Atomic uint64_t requests[IOSTAT_NOPS][IOSTAT_NRESULTS];
	_Atomic uint64_t bytes_in, bytes_out;
	_Atomic uint64_t buckets[IOSTAT_NOPS][IOSTAT_BUCKETS];	/* not cumulative */
	_Atomic uint64_t sum_ns[IOSTAT_NOPS];
};

struct iostat {
	const char *frontend;		/* the label: "nbd", "ublk", "fuse" */
	unsigned int ops;		/* IOSTAT_OP() of the operations it has */
	bool connections;		/* it has connections to count */
	_Atomic uint64_t conns_total, conns_open;
	struct iostat_shard shard[IOSTAT_SHARDS];
};

/* A sum of the shards (iostat_read). */
struct iostat_snap {
	uint64_t requests[IOSTAT_NOPS][IOSTAT_NRESULTS];
	uint64_t bytes_in, bytes_out;
	uint64_t buckets[IOSTAT_NOPS][IOSTAT_BUCKETS];
	uint64_t sum_ns[IOSTAT_NOPS];
	uint64_t conns_total, conns_open;
};

/* Zeroes *st and names it; ops is an OR of IOSTAT_OP(). */
void iostat_init(struct iostat *st, const char *frontend, unsigned int ops,
		 bool connections);

/* The start of a request: CLOCK_MONOTONIC in ns, or 0 when st is NULL (the
 * front end was started without statistics: nothing is counted). */
uint64_t iostat_start(const struct iostat *st);

/* A request finished with result: bytes_in written by the client, bytes_out
 * read by it, t0 from iostat_start (0: not timed, e.g. refused). */
void iostat_done(struct iostat *st, enum iostat_op op, enum iostat_result result,
		 uint64_t bytes_in, uint64_t bytes_out, uint64_t t0);

/* A connection opened (+1) or ended (-1). */
void iostat_conn(struct iostat *st, int delta);

void iostat_read(const struct iostat *st, struct iostat_snap *out);

/* "read", "write", "discard", ... and "ok", "invalid", "error". */
const char *iostat_op_name(enum iostat_op op);
const char *iostat_result_name(enum iostat_result r);

#endif /* UZRAM_IOSTAT_H */
