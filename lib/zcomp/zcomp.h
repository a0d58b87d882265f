/*
 * zcomp.h - the compression frontend (the kernel's drivers/block/zram/zcomp).
 *
 * One backend per algorithm (backend_*.c), listed in one table in the
 * kernel's order: lzo-rle, lzo, lz4, lz4hc, zstd, deflate, 842. A struct zcomp
 * is one algorithm with its parameters and a pool of streams; a stream is a
 * codec context plus a 2-page output buffer and a page of scratch, all made
 * up front, so compressing a page allocates nothing.
 *
 * Streams: the kernel keeps one per CPU behind a mutex; here a thread prefers
 * "its" stream (a per-thread index), takes another free one when that is busy,
 * and only waits when all are taken.
 */
#ifndef UZRAM_ZCOMP_H
#define UZRAM_ZCOMP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/common.h"

#define ZCOMP_PARAM_NOT_SET	INT32_MIN

/* Per-algorithm parameters (algorithm_params), shared by every stream. */
struct zcomp_params {
	void *dict;		/* dictionary bytes (owned), or NULL */
	size_t dict_sz;
	int32_t level;		/* ZCOMP_PARAM_NOT_SET = the backend's default */
	int32_t deflate_winbits;
	void *drv_data;		/* backend state built by setup_params */
};

/* Per-stream codec state. */
struct zcomp_ctx {
	void *context;
};

struct zcomp_req {
	const uint8_t *src;
	size_t src_len;
	uint8_t *dst;
	size_t dst_len;		/* in: capacity; out: bytes produced */
};

struct zcomp_ops {
	int (*compress)(struct zcomp_params *params, struct zcomp_ctx *ctx,
			struct zcomp_req *req);
	int (*decompress)(struct zcomp_params *params, struct zcomp_ctx *ctx,
			  struct zcomp_req *req);
	int (*create_ctx)(struct zcomp_params *params, struct zcomp_ctx *ctx);
	void (*destroy_ctx)(struct zcomp_ctx *ctx);
	/* Validate params (-EINVAL, -EOPNOTSUPP) and build drv_data. */
	int (*setup_params)(struct zcomp_params *params);
	void (*release_params)(struct zcomp_params *params);
	const char *name;
};

struct zcomp_strm {
	pthread_mutex_t lock;
	uint8_t *buffer;	/* compressed output, 2 pages */
	uint8_t *local_copy;	/* one page of scratch */
	struct zcomp_ctx ctx;
} __attribute__((aligned(64)));

struct zcomp {
	struct zcomp_strm *stream;
	unsigned int nr_streams;
	struct zcomp_params *params;
	const struct zcomp_ops *ops;
};

/* The backend table. */
size_t zcomp_nr_backends(void);
const struct zcomp_ops *zcomp_backend(size_t i);
/* The backend whose name equals name (sysfs_streq: one trailing newline ok). */
const struct zcomp_ops *zcomp_lookup(const char *name);
/*
 * The comp_algorithm listing: every name followed by a space, the selected
 * one in brackets, then "\n". Returns the length (snprintf-style).
 */
size_t zcomp_available_show(const char *selected, char *buf, size_t size);

void zcomp_params_init(struct zcomp_params *params);
void zcomp_params_release(struct zcomp_params *params);

/*
 * Create a compressor for the named algorithm with nr_streams streams.
 * params is validated by the backend and must outlive the zcomp.
 * Returns 0, -EINVAL (unknown name or bad params), -EOPNOTSUPP, -ENOMEM.
 */
int zcomp_create(struct zcomp **out, const char *name,
		 struct zcomp_params *params, unsigned int nr_streams);
void zcomp_destroy(struct zcomp *comp);

struct zcomp_strm *zcomp_stream_get(struct zcomp *comp);
void zcomp_stream_put(struct zcomp_strm *zstrm);

/* Compress one page into zstrm->buffer; *dst_len is set. 0 or -EINVAL. */
int zcomp_compress(struct zcomp *comp, struct zcomp_strm *zstrm,
		   const void *src, unsigned int *dst_len);
/* Decompress an object into one page; exactly UZ_PAGE_SIZE bytes or -EINVAL. */
int zcomp_decompress(struct zcomp *comp, struct zcomp_strm *zstrm,
		     const void *src, unsigned int src_len, void *dst);

/* lz4's decoder, shared by lz4hc (backend_lz4.c). */
int lz4_decompress(struct zcomp_params *params, struct zcomp_ctx *ctx,
		   struct zcomp_req *req);

/* Backends (backend_*.c). */
extern const struct zcomp_ops backend_lzorle;
extern const struct zcomp_ops backend_lzo;
extern const struct zcomp_ops backend_lz4;
extern const struct zcomp_ops backend_lz4hc;
extern const struct zcomp_ops backend_zstd;
extern const struct zcomp_ops backend_deflate;
extern const struct zcomp_ops backend_842;

#endif /* UZRAM_ZCOMP_H */
