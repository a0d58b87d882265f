/*
 * metrics_front.c - the front-end families, label frontend="nbd", "ublk"
 * or "fuse": connections, requests by operation and result, payload bytes,
 * and a latency histogram per operation (iostat.h). Each front end's
 * counters are summed once per scrape (iostat_read), then formatted.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "metrics_int.h"

#define HIST	"uzram_frontend_request_duration_seconds"

struct front_snap {
	const struct iostat *st;
	struct iostat_snap s;
};

static bool has_op(const struct front_snap *f, int op)
{
	return f->st->ops & IOSTAT_OP(op);
}

static void write_connections(struct mtext *t, const struct front_snap *f, unsigned int n)
{
	mt_family(t, "uzram_frontend_connections_open", "gauge",
		  "Clients connected now (NBD connections, FUSE disk files open).");
	for (unsigned int i = 0; i < n; i++)
		if (f[i].st->connections)
			mt_printf(t, "uzram_frontend_connections_open{frontend=\"%s\"} %" PRIu64 "\n",
				  f[i].st->frontend, f[i].s.conns_open);
	mt_family(t, "uzram_frontend_connections_total", "counter",
		  "Clients that connected (NBD connections, FUSE disk file opens).");
	for (unsigned int i = 0; i < n; i++)
		if (f[i].st->connections)
			mt_printf(t, "uzram_frontend_connections_total{frontend=\"%s\"} %" PRIu64 "\n",
				  f[i].st->frontend, f[i].s.conns_total);
}

static void write_requests(struct mtext *t, const struct front_snap *f, unsigned int n)
{
	mt_family(t, "uzram_frontend_requests_total", "counter",
		  "Requests by operation and result: ok, invalid (refused before "
		  "reaching the device), error (the device failed it).");
	for (unsigned int i = 0; i < n; i++)
		for (int op = 0; op < IOSTAT_NOPS; op++)
			for (int r = 0; has_op(&f[i], op) && r < IOSTAT_NRESULTS; r++)
				mt_printf(t, "uzram_frontend_requests_total{frontend=\"%s\","
					  "op=\"%s\",result=\"%s\"} %" PRIu64 "\n",
					  f[i].st->frontend, iostat_op_name(op),
					  iostat_result_name(r), f[i].s.requests[op][r]);
}

static void write_bytes(struct mtext *t, const struct front_snap *f, unsigned int n)
{
	mt_family(t, "uzram_frontend_received_bytes_total", "counter",
		  "Data clients wrote to the devices (payload of successful writes).");
	for (unsigned int i = 0; i < n; i++)
		mt_printf(t, "uzram_frontend_received_bytes_total{frontend=\"%s\"} %" PRIu64 "\n",
			  f[i].st->frontend, f[i].s.bytes_in);
	mt_family(t, "uzram_frontend_sent_bytes_total", "counter",
		  "Data clients read from the devices (payload of successful reads).");
	for (unsigned int i = 0; i < n; i++)
		mt_printf(t, "uzram_frontend_sent_bytes_total{frontend=\"%s\"} %" PRIu64 "\n",
			  f[i].st->frontend, f[i].s.bytes_out);
}

/* One histogram series: cumulative buckets, +Inf, sum and count. */
static void write_histogram(struct mtext *t, const struct front_snap *f, int op)
{
	const char *fe = f->st->frontend, *name = iostat_op_name(op);
	uint64_t sum = 0;

	for (int b = 0; b < IOSTAT_BUCKETS; b++) {
		sum += f->s.buckets[op][b];
		if (b < IOSTAT_BOUNDS)
			mt_printf(t, HIST "_bucket{frontend=\"%s\",op=\"%s\",le=\"%g\"} %" PRIu64 "\n",
				  fe, name, (double)iostat_bounds_ns[b] / 1e9, sum);
		else
			mt_printf(t, HIST "_bucket{frontend=\"%s\",op=\"%s\",le=\"+Inf\"} %" PRIu64
				  "\n", fe, name, sum);
	}
	mt_printf(t, HIST "_sum{frontend=\"%s\",op=\"%s\"} %.9f\n", fe, name,
		  (double)f->s.sum_ns[op] / 1e9);
	mt_printf(t, HIST "_count{frontend=\"%s\",op=\"%s\"} %" PRIu64 "\n", fe, name, sum);
}

void metrics_fronts(struct mtext *t, struct iostat *const *fronts, unsigned int n)
{
	struct front_snap *f = calloc(n ? n : 1, sizeof(*f));

	if (!f) {
		t->failed = true;
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		f[i].st = fronts[i];
		iostat_read(fronts[i], &f[i].s);
	}
	write_connections(t, f, n);
	write_requests(t, f, n);
	write_bytes(t, f, n);
	mt_family(t, HIST, "histogram",
		  "Time from a request wholly received to its reply ready, by operation.");
	for (unsigned int i = 0; i < n; i++)
		for (int op = 0; op < IOSTAT_NOPS; op++)
			if (has_op(&f[i], op))
				write_histogram(t, &f[i], op);
	free(f);
}
