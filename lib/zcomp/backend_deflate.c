/*
 * backend_deflate.c - deflate through zlib, as the kernel's backend_deflate:
 * raw deflate (window bits -11, a 2 KiB window), level 6 by default,
 * memLevel 8, the default strategy.
 *
 * level: -1 (default) or 0..9. deflate.winbits overrides the window bits
 * passed to deflateInit2/inflateInit2: negative for raw deflate (-9..-15),
 * 9..15 for a zlib wrapper; anything zlib refuses is -EINVAL at setup.
 * Dictionaries are not supported and are ignored, as in the kernel.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "zcomp.h"

#define DEFLATE_DEF_WINBITS	(-11)
#define DEFLATE_DEF_MEMLEVEL	8

struct deflate_ctx {
	z_stream cctx;
	z_stream dctx;
	bool cinit, dinit;
};

static void deflate_release_params(struct zcomp_params *params)
{
}

static void deflate_destroy_ctx(struct zcomp_ctx *ctx)
{
	struct deflate_ctx *c = ctx->context;

	if (!c)
		return;
	if (c->cinit)
		deflateEnd(&c->cctx);
	if (c->dinit)
		inflateEnd(&c->dctx);
	free(c);
	ctx->context = NULL;
}

static int deflate_create_ctx(struct zcomp_params *params, struct zcomp_ctx *ctx)
{
	struct deflate_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	ctx->context = c;
	if (deflateInit2(&c->cctx, params->level, Z_DEFLATED,
			 params->deflate_winbits, DEFLATE_DEF_MEMLEVEL,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		goto fail;
	c->cinit = true;
	if (inflateInit2(&c->dctx, params->deflate_winbits) != Z_OK)
		goto fail;
	c->dinit = true;
	return 0;
fail:
	deflate_destroy_ctx(ctx);
	return -EINVAL;
}

static int deflate_setup_params(struct zcomp_params *params)
{
	struct zcomp_ctx probe = { 0 };
	int ret;

	if (params->level == ZCOMP_PARAM_NOT_SET)
		params->level = Z_DEFAULT_COMPRESSION;
	if (params->deflate_winbits == ZCOMP_PARAM_NOT_SET)
		params->deflate_winbits = DEFLATE_DEF_WINBITS;
	if (params->level < -1 || params->level > 9)
		return -EINVAL;
	/* Let zlib judge the window bits once, at setup. */
	ret = deflate_create_ctx(params, &probe);
	if (ret)
		return ret;
	deflate_destroy_ctx(&probe);
	return 0;
}

static int deflate_compress(struct zcomp_params *params, struct zcomp_ctx *ctx,
			    struct zcomp_req *req)
{
	struct deflate_ctx *c = ctx->context;
	z_stream *s = &c->cctx;

	if (deflateReset(s) != Z_OK)
		return -EINVAL;
	s->next_in = (Bytef *)req->src;
	s->avail_in = (uInt)req->src_len;
	s->next_out = req->dst;
	s->avail_out = (uInt)req->dst_len;
	if (deflate(s, Z_FINISH) != Z_STREAM_END)
		return -EINVAL;
	req->dst_len = s->total_out;
	return 0;
}

static int deflate_decompress(struct zcomp_params *params,
			      struct zcomp_ctx *ctx, struct zcomp_req *req)
{
	struct deflate_ctx *c = ctx->context;
	z_stream *s = &c->dctx;

	if (inflateReset(s) != Z_OK)
		return -EINVAL;
	s->next_in = (Bytef *)req->src;
	s->avail_in = (uInt)req->src_len;
	s->next_out = req->dst;
	s->avail_out = (uInt)req->dst_len;
	if (inflate(s, Z_SYNC_FLUSH) != Z_STREAM_END)
		return -EINVAL;
	req->dst_len = s->total_out;
	return 0;
}

const struct zcomp_ops backend_deflate = {
	.compress = deflate_compress,
	.decompress = deflate_decompress,
	.create_ctx = deflate_create_ctx,
	.destroy_ctx = deflate_destroy_ctx,
	.setup_params = deflate_setup_params,
	.release_params = deflate_release_params,
	.name = "deflate",
};
