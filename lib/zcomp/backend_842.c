/*
 * backend_842.c - "842", with uzram's own implementation of the 842 format
 * (sw842.c), as the kernel's software lib/842. No level, no dictionary.
 */
#include <errno.h>
#include <stdlib.h>

#include "842/sw842.h"
#include "zcomp.h"

static void sw842_release_params(struct zcomp_params *params)
{
}

static int sw842_setup_params(struct zcomp_params *params)
{
	return 0;
}

static int sw842_create_ctx(struct zcomp_params *params, struct zcomp_ctx *ctx)
{
	ctx->context = uz_aligned_alloc(64, uz_sw842_wrkmem_size());
	return ctx->context ? 0 : -ENOMEM;
}

static void sw842_destroy_ctx(struct zcomp_ctx *ctx)
{
	free(ctx->context);
	ctx->context = NULL;
}

static int sw842_compress(struct zcomp_params *params, struct zcomp_ctx *ctx,
			  struct zcomp_req *req)
{
	return uz_sw842_compress(req->src, req->src_len, req->dst,
				 &req->dst_len, ctx->context) ? -EINVAL : 0;
}

static int sw842_decompress(struct zcomp_params *params, struct zcomp_ctx *ctx,
			    struct zcomp_req *req)
{
	return uz_sw842_decompress(req->src, req->src_len, req->dst,
				   &req->dst_len) ? -EINVAL : 0;
}

const struct zcomp_ops backend_842 = {
	.compress = sw842_compress,
	.decompress = sw842_decompress,
	.create_ctx = sw842_create_ctx,
	.destroy_ctx = sw842_destroy_ctx,
	.setup_params = sw842_setup_params,
	.release_params = sw842_release_params,
	.name = "842",
};
