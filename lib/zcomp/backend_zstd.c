/*
 * backend_zstd.c - zstd through libzstd.
 *
 * level: zstd's levels, default 3 (ZSTD_CLEVEL_DEFAULT); outside
 * ZSTD_minCLevel()..ZSTD_maxCLevel() is -EINVAL. Each page is one standard
 * frame with its content size and no checksum; with the page's size known,
 * libzstd picks the parameter table for inputs <= 16 KiB, as the kernel's
 * zstd_get_params(level, PAGE_SIZE). A dictionary (raw content or a zstd
 * dictionary) becomes one shared CDict and DDict; an empty one is refused.
 */
#include <errno.h>
#include <stdlib.h>

#include <zstd.h>

#include "zcomp.h"

struct zstd_drv {
	ZSTD_CDict *cdict;
	ZSTD_DDict *ddict;
};

struct zstd_ctx {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
};

static void zstd_release_params(struct zcomp_params *params)
{
	struct zstd_drv *drv = params->drv_data;

	if (!drv)
		return;
	ZSTD_freeCDict(drv->cdict);
	ZSTD_freeDDict(drv->ddict);
	free(drv);
	params->drv_data = NULL;
}

static int zstd_setup_params(struct zcomp_params *params)
{
	struct zstd_drv *drv;

	if (params->level == ZCOMP_PARAM_NOT_SET)
		params->level = ZSTD_CLEVEL_DEFAULT;
	if (params->level < ZSTD_minCLevel() || params->level > ZSTD_maxCLevel())
		return -EINVAL;
	if (params->dict && params->dict_sz == 0)
		return -EINVAL;
	drv = calloc(1, sizeof(*drv));
	if (!drv)
		return -ENOMEM;
	params->drv_data = drv;
	if (params->dict_sz) {
		drv->cdict = ZSTD_createCDict(params->dict, params->dict_sz,
					      params->level);
		drv->ddict = ZSTD_createDDict(params->dict, params->dict_sz);
		if (!drv->cdict || !drv->ddict) {
			zstd_release_params(params);
			return -EINVAL;
		}
	}
	return 0;
}

static void zstd_destroy_ctx(struct zcomp_ctx *ctx)
{
	struct zstd_ctx *c = ctx->context;

	if (!c)
		return;
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	free(c);
	ctx->context = NULL;
}

static int zstd_create_ctx(struct zcomp_params *params, struct zcomp_ctx *ctx)
{
	struct zstd_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	ctx->context = c;
	c->cctx = ZSTD_createCCtx();
	c->dctx = ZSTD_createDCtx();
	if (!c->cctx || !c->dctx) {
		zstd_destroy_ctx(ctx);
		return -ENOMEM;
	}
	return 0;
}

static int zstd_compress(struct zcomp_params *params, struct zcomp_ctx *ctx,
			 struct zcomp_req *req)
{
	struct zstd_drv *drv = params->drv_data;
	struct zstd_ctx *c = ctx->context;
	size_t n;

	if (drv->cdict)
		n = ZSTD_compress_usingCDict(c->cctx, req->dst, req->dst_len,
					     req->src, req->src_len, drv->cdict);
	else
		n = ZSTD_compressCCtx(c->cctx, req->dst, req->dst_len, req->src,
				      req->src_len, params->level);
	if (ZSTD_isError(n))
		return -EINVAL;
	req->dst_len = n;
	return 0;
}

static int zstd_decompress(struct zcomp_params *params, struct zcomp_ctx *ctx,
			   struct zcomp_req *req)
{
	struct zstd_drv *drv = params->drv_data;
	struct zstd_ctx *c = ctx->context;
	size_t n;

	if (drv->ddict)
		n = ZSTD_decompress_usingDDict(c->dctx, req->dst, req->dst_len,
					       req->src, req->src_len,
					       drv->ddict);
	else
		n = ZSTD_decompressDCtx(c->dctx, req->dst, req->dst_len,
					req->src, req->src_len);
	if (ZSTD_isError(n))
		return -EINVAL;
	req->dst_len = n;
	return 0;
}

const struct zcomp_ops backend_zstd = {
	.compress = zstd_compress,
	.decompress = zstd_decompress,
	.create_ctx = zstd_create_ctx,
	.destroy_ctx = zstd_destroy_ctx,
	.setup_params = zstd_setup_params,
	.release_params = zstd_release_params,
	.name = "zstd",
};
