/*
 * backend_lz4hc.c - lz4hc through liblz4: lz4's block format, stronger and
 * slower matching.
 *
 * level 1..16 as the kernel accepts (default 9); liblz4 treats levels above
 * its own maximum (12) as 12. Without a dictionary a page is one
 * LZ4_compress_HC_extStateHC call (the kernel's LZ4_compress_HC), in its
 * fast-reset form where liblz4's static library offers it (a full init would
 * clear 256 KiB per page). A dictionary is loaded into the reset stream
 * before each page, as the kernel does; one longer than the 64 KiB lz4 keeps
 * is refused at setup (the kernel accepts it and then fails every write).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LZ4_FASTRESET
#define LZ4_HC_STATIC_LINKING_ONLY
#endif
#include <lz4.h>
#include <lz4hc.h>

#include "zcomp.h"

#define LZ4HC_KERNEL_MAX_CLEVEL	16
#define LZ4_MAX_DICT		(64 * 1024)

struct lz4hc_ctx {
	LZ4_streamHC_t stream;
};

static void lz4hc_release_params(struct zcomp_params *params)
{
}

static int lz4hc_setup_params(struct zcomp_params *params)
{
	if (params->level == ZCOMP_PARAM_NOT_SET)
		params->level = LZ4HC_CLEVEL_DEFAULT;
	if (params->level < 1 || params->level > LZ4HC_KERNEL_MAX_CLEVEL)
		return -EINVAL;
	if (params->dict_sz > LZ4_MAX_DICT)
		return -EINVAL;
	return 0;
}

static int lz4hc_create_ctx(struct zcomp_params *params, struct zcomp_ctx *ctx)
{
	struct lz4hc_ctx *c = uz_aligned_alloc(64, sizeof(*c));

	if (!c)
		return -ENOMEM;
	LZ4_initStreamHC(&c->stream, sizeof(c->stream));
	ctx->context = c;
	return 0;
}

static void lz4hc_destroy_ctx(struct zcomp_ctx *ctx)
{
	free(ctx->context);
	ctx->context = NULL;
}

static int lz4hc_compress(struct zcomp_params *params, struct zcomp_ctx *ctx,
			  struct zcomp_req *req)
{
	struct lz4hc_ctx *c = ctx->context;
	int n;

	if (params->dict_sz) {
		LZ4_resetStreamHC_fast(&c->stream, params->level);
		if (LZ4_loadDictHC(&c->stream, params->dict, (int)params->dict_sz) !=
		    (int)params->dict_sz)
			return -EINVAL;
		n = LZ4_compress_HC_continue(&c->stream, (const char *)req->src,
					     (char *)req->dst, (int)req->src_len,
					     (int)req->dst_len);
	} else {
#ifdef HAVE_LZ4_FASTRESET
		n = LZ4_compress_HC_extStateHC_fastReset(&c->stream,
							 (const char *)req->src,
							 (char *)req->dst,
							 (int)req->src_len,
							 (int)req->dst_len,
							 params->level);
#else
		LZ4_resetStreamHC_fast(&c->stream, params->level);
		n = LZ4_compress_HC_continue(&c->stream, (const char *)req->src,
					     (char *)req->dst, (int)req->src_len,
					     (int)req->dst_len);
#endif
	}
	if (n <= 0)
		return -EINVAL;
	req->dst_len = (size_t)n;
	return 0;
}

const struct zcomp_ops backend_lz4hc = {
	.compress = lz4hc_compress,
	.decompress = lz4_decompress,	/* lz4's block format */
	.create_ctx = lz4hc_create_ctx,
	.destroy_ctx = lz4hc_destroy_ctx,
	.setup_params = lz4hc_setup_params,
	.release_params = lz4hc_release_params,
	.name = "lz4hc",
};
