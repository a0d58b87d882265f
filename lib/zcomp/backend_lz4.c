/*
 * backend_lz4.c - lz4 through liblz4 (block format, as the kernel's lib/lz4).
 *
 * level is lz4's acceleration (default 1, must be >= 1). Without a
 * dictionary each page is one LZ4_compress_fast_extState call, as the
 * kernel's LZ4_compress_fast: the same compressed sizes as the kernel's, to a
 * few bytes in a hundred megabytes (the streaming _continue call picks other
 * matches). The fast-reset variant reuses the state without clearing its
 * 16 KiB table; it is in liblz4's static library only (HAVE_LZ4_FASTRESET).
 * A dictionary (at most 64 KiB: lz4 keeps no more, and a longer one is
 * refused as the kernel does) is loaded once into a shared stream; each
 * compression starts from a copy of it, as in the kernel.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LZ4_FASTRESET
#define LZ4_STATIC_LINKING_ONLY
#endif
#include <lz4.h>

#include "zcomp.h"

struct lz4_drv {
	LZ4_stream_t dict_stream;	/* the dictionary, loaded once */
	int acceleration;
};

struct lz4_ctx {
	LZ4_stream_t stream;
};

static void lz4_release_params(struct zcomp_params *params)
{
	free(params->drv_data);
	params->drv_data = NULL;
}

static int lz4_setup_params(struct zcomp_params *params)
{
	struct lz4_drv *drv;

	if (params->level == ZCOMP_PARAM_NOT_SET)
		params->level = 1;	/* LZ4_ACCELERATION_DEFAULT */
	if (params->level < 1)
		return -EINVAL;
	drv = uz_aligned_alloc(64, sizeof(*drv));
	if (!drv)
		return -ENOMEM;
	drv->acceleration = params->level;
	LZ4_initStream(&drv->dict_stream, sizeof(drv->dict_stream));
	if (params->dict_sz) {
		if (params->dict_sz > INT32_MAX ||
		    LZ4_loadDict(&drv->dict_stream, params->dict,
				 (int)params->dict_sz) != (int)params->dict_sz) {
			free(drv);
			return -EINVAL;
		}
	}
	params->drv_data = drv;
	return 0;
}

static int lz4_create_ctx(struct zcomp_params *params, struct zcomp_ctx *ctx)
{
	struct lz4_ctx *c = uz_aligned_alloc(64, sizeof(*c));

	if (!c)
		return -ENOMEM;
	LZ4_initStream(&c->stream, sizeof(c->stream));
	ctx->context = c;
	return 0;
}

static void lz4_destroy_ctx(struct zcomp_ctx *ctx)
{
	free(ctx->context);
	ctx->context = NULL;
}

static int lz4_compress(struct zcomp_params *params, struct zcomp_ctx *ctx,
			struct zcomp_req *req)
{
	struct lz4_drv *drv = params->drv_data;
	struct lz4_ctx *c = ctx->context;
	int n;

	if (params->dict_sz) {
		memcpy(&c->stream, &drv->dict_stream, sizeof(c->stream));
		n = LZ4_compress_fast_continue(&c->stream, (const char *)req->src,
					       (char *)req->dst, (int)req->src_len,
					       (int)req->dst_len, drv->acceleration);
	} else {
#ifdef HAVE_LZ4_FASTRESET
		n = LZ4_compress_fast_extState_fastReset(&c->stream,
							 (const char *)req->src,
							 (char *)req->dst,
							 (int)req->src_len,
							 (int)req->dst_len,
							 drv->acceleration);
#else
		n = LZ4_compress_fast_extState(&c->stream, (const char *)req->src,
					       (char *)req->dst, (int)req->src_len,
					       (int)req->dst_len, drv->acceleration);
#endif
	}
	if (n <= 0)
		return -EINVAL;
	req->dst_len = (size_t)n;
	return 0;
}

/* lz4hc writes the same block format: backend_lz4hc.c decodes with this. */
int lz4_decompress(struct zcomp_params *params, struct zcomp_ctx *ctx,
		   struct zcomp_req *req)
{
	int n;

	if (params->dict_sz)
		n = LZ4_decompress_safe_usingDict((const char *)req->src,
						  (char *)req->dst,
						  (int)req->src_len,
						  (int)req->dst_len,
						  params->dict,
						  (int)params->dict_sz);
	else
		n = LZ4_decompress_safe((const char *)req->src, (char *)req->dst,
					(int)req->src_len, (int)req->dst_len);
	if (n < 0)
		return -EINVAL;
	req->dst_len = (size_t)n;
	return 0;
}

const struct zcomp_ops backend_lz4 = {
	.compress = lz4_compress,
	.decompress = lz4_decompress,
	.create_ctx = lz4_create_ctx,
	.destroy_ctx = lz4_destroy_ctx,
	.setup_params = lz4_setup_params,
	.release_params = lz4_release_params,
	.name = "lz4",
};
