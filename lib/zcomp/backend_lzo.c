/*
 * backend_lzo.c - "lzo" (LZO1X, bitstream v0) and "lzo-rle" (v1), both with
 * uzram's own codec (lzo1x_compress.c, lzo1x_decompress.c): the kernel's
 * encoder, and one decoder that reads both versions.
 *
 * Neither takes a level or a dictionary: either one is -EOPNOTSUPP at setup,
 * as in the kernel since the 7.3 window.
 */
#include <errno.h>
#include <stdlib.h>

#include "lzo/lzo.h"
#include "zcomp.h"

static void lzo_release_params(struct zcomp_params *params)
{
}

static int lzo_setup_params(struct zcomp_params *params)
{
	if (params->level != ZCOMP_PARAM_NOT_SET || params->dict_sz)
		return -EOPNOTSUPP;
	return 0;
}

static int lzo_create_ctx(struct zcomp_params *params, struct zcomp_ctx *ctx)
{
	ctx->context = uz_aligned_alloc(64, UZ_LZO1X_1_MEM_COMPRESS);
	return ctx->context ? 0 : -ENOMEM;
}

static void lzo_destroy_ctx(struct zcomp_ctx *ctx)
{
	free(ctx->context);
	ctx->context = NULL;
}

static int lzo_compress(struct zcomp_params *params, struct zcomp_ctx *ctx,
			struct zcomp_req *req)
{
	if (req->dst_len < UZ_LZO1X_WORST(req->src_len))
		return -EINVAL;
	return uz_lzo1x_1_compress(req->src, req->src_len, req->dst,
				   &req->dst_len, ctx->context) ? -EINVAL : 0;
}

static int lzorle_compress(struct zcomp_params *params, struct zcomp_ctx *ctx,
			   struct zcomp_req *req)
{
	if (req->dst_len < UZ_LZO1X_WORST(req->src_len))
		return -EINVAL;
	return uz_lzorle1x_1_compress(req->src, req->src_len, req->dst,
				      &req->dst_len, ctx->context) ? -EINVAL : 0;
}

static int lzo_decompress(struct zcomp_params *params, struct zcomp_ctx *ctx,
			  struct zcomp_req *req)
{
	return uz_lzo1x_decompress_safe(req->src, req->src_len, req->dst,
					&req->dst_len) ? -EINVAL : 0;
}

const struct zcomp_ops backend_lzorle = {
	.compress = lzorle_compress,
	.decompress = lzo_decompress,
	.create_ctx = lzo_create_ctx,
	.destroy_ctx = lzo_destroy_ctx,
	.setup_params = lzo_setup_params,
	.release_params = lzo_release_params,
	.name = "lzo-rle",
};

const struct zcomp_ops backend_lzo = {
	.compress = lzo_compress,
	.decompress = lzo_decompress,
	.create_ctx = lzo_create_ctx,
	.destroy_ctx = lzo_destroy_ctx,
	.setup_params = lzo_setup_params,
	.release_params = lzo_release_params,
	.name = "lzo",
};
