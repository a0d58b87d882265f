/*
 * metrics_dev.c - the device families: every statistic of UZRAM_STATS
 * (mm_stat, io_stat, debug_stat, bd_stat, the block layer's stat) with its
 * unit made a base unit (bytes) and its type (a counter only grows until
 * reset; a gauge goes up and down), plus disksize, initstate, the streams
 * and comp_algorithm as an info metric. docs/metrics.md lists them.
 *
 * All devices are read first (uzram_stats: a copy taken under the device's
 * read lock), then formatted with no lock held, one family at a time, a
 * line per device, as the format wants a family's samples together.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>

#include "metrics_int.h"

struct dev_metric {
	const char *name, *type, *help;
	size_t offset;		/* of a uint64_t in struct uzram_stats */
	uint64_t scale;		/* to bytes; 1: as it is */
};

#define G "gauge"
#define C "counter"
#define M(field, name, type, scale, help) \
	{ name, type, help, offsetof(struct uzram_stats, field), scale }

/* One entry per UZRAM_STATS field, in its order (the count is checked
 * below). */
static const struct dev_metric stat_metrics[] = {
	M(orig_data_size, "uzram_orig_data_bytes", G, 1,
	  "Uncompressed size of the data stored (mm_stat orig_data_size)."),
	M(compr_data_size, "uzram_compr_data_bytes", G, 1,
	  "Compressed size of the data stored (mm_stat compr_data_size)."),
	M(mem_used_total, "uzram_mem_used_bytes", G, 1,
	  "Memory the device takes, allocator overhead included (mm_stat mem_used_total)."),
	M(mem_limit, "uzram_mem_limit_bytes", G, 1,
	  "Most memory the device may take; 0: no limit (mm_stat mem_limit)."),
	M(mem_used_max, "uzram_mem_used_max_bytes", G, 1,
	  "Most memory the device has taken since init or its last reset (mm_stat mem_used_max)."),
	M(same_pages, "uzram_same_pages", G, 1,
	  "Pages stored as a fill pattern, taking no memory (mm_stat same_pages)."),
	M(pages_compacted, "uzram_compacted_pages_total", C, 1,
	  "Pages freed by compaction (mm_stat pages_compacted)."),
	M(huge_pages, "uzram_huge_pages", G, 1,
	  "Incompressible pages, stored whole (mm_stat huge_pages)."),
	M(huge_pages_since, "uzram_huge_pages_stored_total", C, 1,
	  "Incompressible pages stored since init (mm_stat huge_pages_since)."),
	M(failed_reads, "uzram_failed_reads_total", C, 1,
	  "Reads that failed (io_stat failed_reads)."),
	M(failed_writes, "uzram_failed_writes_total", C, 1,
	  "Writes that failed, mem_limit reached included (io_stat failed_writes)."),
	M(notify_free, "uzram_notify_free_total", C, 1,
	  "Pages freed by discard (io_stat notify_free)."),
	M(miss_free, "uzram_miss_free_total", C, 1,
	  "Slot frees that found the slot busy (debug_stat miss_free)."),
	M(bd_count, "uzram_backing_dev_stored_bytes", G, 4096,
	  "Data held on the backing device (bd_stat bd_count, 4 KiB units)."),
	M(bd_reads, "uzram_backing_dev_read_bytes_total", C, 4096,
	  "Data read from the backing device (bd_stat bd_reads, 4 KiB units)."),
	M(bd_writes, "uzram_backing_dev_written_bytes_total", C, 4096,
	  "Data written to the backing device (bd_stat bd_writes, 4 KiB units)."),
	M(read_ios, "uzram_reads_completed_total", C, 1,
	  "Read requests completed (stat read I/Os)."),
	M(read_sectors, "uzram_read_bytes_total", C, 512,
	  "Data read (stat read sectors, 512-byte units)."),
	M(write_ios, "uzram_writes_completed_total", C, 1,
	  "Write requests completed (stat write I/Os)."),
	M(write_sectors, "uzram_written_bytes_total", C, 512,
	  "Data written (stat write sectors, 512-byte units)."),
	M(discard_ios, "uzram_discards_completed_total", C, 1,
	  "Discard requests completed (stat discard I/Os)."),
	M(discard_sectors, "uzram_discarded_bytes_total", C, 512,
	  "Data discarded (stat discard sectors, 512-byte units)."),
	M(reserve_bytes, "uzram_reserve_bytes", G, 1,
	  "Pool memory taken and locked at init (serve --reserve); 0: none."),
};

/* A new statistic in UZRAM_STATS needs its metric above. */
#define COUNT_C(field, counter, unit) +1
#define COUNT_V(field) +1
_Static_assert(sizeof(stat_metrics) / sizeof(stat_metrics[0]) ==
	       0 UZRAM_STATS(COUNT_C, COUNT_V), "a UZRAM_STATS field has no metric");
#undef COUNT_C
#undef COUNT_V

static const struct dev_metric other_metrics[] = {
	M(disksize, "uzram_disksize_bytes", G, 1,
	  "The device's size; 0 while uninitialised (disksize)."),
};

struct dev_snap {
	int id;
	struct uzram_stats st;
};

/* Every device's statistics into *out (free it): how many, or -1 when
 * out of memory. */
static long read_devices(struct uzram *z, struct dev_snap **out)
{
	int *ids = NULL;
	long n = uzram_list_all(z, &ids), k = 0;

	*out = n > 0 ? calloc((size_t)n, sizeof(**out)) : NULL;
	if (n < 0 || (n > 0 && !*out)) {
		free(ids);
		return -1;
	}
	for (long i = 0; i < n; i++) {
		/* a device removed meanwhile is left out */
		if (uzram_stats(z, ids[i], &(*out)[k].st) == 0)
			(*out)[k++].id = ids[i];
	}
	free(ids);
	return k;
}

static void write_family(struct mtext *t, const struct dev_metric *m,
			 const struct dev_snap *d, size_t n)
{
	mt_family(t, m->name, m->type, m->help);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = *(const uint64_t *)((const char *)&d[i].st + m->offset);

		mt_printf(t, "%s{device=\"zram%d\"} %" PRIu64 "\n", m->name, d[i].id,
			  v * m->scale);
	}
}

/* initstate, the streams and the info metric, from fields of other types. */
static void write_state(struct mtext *t, const struct dev_snap *d, size_t n)
{
	mt_family(t, "uzram_initstate", G, "1 once disksize is set, 0 before (initstate).");
	for (size_t i = 0; i < n; i++)
		mt_printf(t, "uzram_initstate{device=\"zram%d\"} %d\n", d[i].id,
			  d[i].st.initialised);
	mt_family(t, "uzram_comp_streams", G, "Compression streams of an initialised device.");
	for (size_t i = 0; i < n; i++)
		mt_printf(t, "uzram_comp_streams{device=\"zram%d\"} %u\n", d[i].id,
			  d[i].st.streams);
	mt_family(t, "uzram_device_info", G,
		  "Always 1; labels: the primary compression algorithm (comp_algorithm).");
	for (size_t i = 0; i < n; i++) {
		mt_printf(t, "uzram_device_info{device=\"zram%d\",comp_algorithm=\"", d[i].id);
		mt_label_value(t, d[i].st.algorithm);
		mt_printf(t, "\"} 1\n");
	}
}

/* io_stat's third column, invalid_io: the kernel's zram prints 0 since the
 * block layer checks ranges, and so does uzram. */
static void write_invalid_io(struct mtext *t, const struct dev_snap *d, size_t n)
{
	mt_family(t, "uzram_invalid_io_total", C,
		  "Requests out of range or misaligned (io_stat invalid_io; always 0, as in the kernel).");
	for (size_t i = 0; i < n; i++)
		mt_printf(t, "uzram_invalid_io_total{device=\"zram%d\"} 0\n", d[i].id);
}

void metrics_devices(struct mtext *t, struct uzram *z)
{
	struct dev_snap *d;
	long got = read_devices(z, &d);
	size_t n = got > 0 ? (size_t)got : 0;

	if (got < 0) {
		t->failed = true;
		return;
	}
	for (size_t i = 0; i < sizeof(other_metrics) / sizeof(other_metrics[0]); i++)
		write_family(t, &other_metrics[i], d, n);
	write_state(t, d, n);
	for (size_t i = 0; i < sizeof(stat_metrics) / sizeof(stat_metrics[0]); i++)
		write_family(t, &stat_metrics[i], d, n);
	write_invalid_io(t, d, n);
	free(d);
}
