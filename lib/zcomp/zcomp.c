/*
 * zcomp.c - the compression frontend: the backend table, parameters and the
 * stream pool (see zcomp.h for the design).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fault.h"
#include "util/parse.h"
#include "zcomp.h"

/* The kernel's order (drivers/block/zram/zcomp.c backends[]). */
static const struct zcomp_ops *const backends[] = {
	&backend_lzorle,
	&backend_lzo,
	&backend_lz4,
	&backend_lz4hc,
	&backend_zstd,
	&backend_deflate,
	&backend_842,
};

size_t zcomp_nr_backends(void)
{
	return UZ_ARRAY_SIZE(backends);
}

const struct zcomp_ops *zcomp_backend(size_t i)
{
	return i < UZ_ARRAY_SIZE(backends) ? backends[i] : NULL;
}

const struct zcomp_ops *zcomp_lookup(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < UZ_ARRAY_SIZE(backends); i++)
		if (sysfs_streq(name, backends[i]->name))
			return backends[i];
	return NULL;
}

size_t zcomp_available_show(const char *selected, char *buf, size_t size)
{
	size_t len = 0;

	for (size_t i = 0; i < UZ_ARRAY_SIZE(backends); i++) {
		bool sel = selected && !strcmp(selected, backends[i]->name);
		int n = snprintf(buf + UZ_MIN(len, size), size - UZ_MIN(len, size),
				 sel ? "[%s] " : "%s ", backends[i]->name);
		len += (size_t)n;
	}
	int n = snprintf(buf + UZ_MIN(len, size), size - UZ_MIN(len, size), "\n");
	return len + (size_t)n;
}

void zcomp_params_init(struct zcomp_params *params)
{
	memset(params, 0, sizeof(*params));
	params->level = ZCOMP_PARAM_NOT_SET;
	params->deflate_winbits = ZCOMP_PARAM_NOT_SET;
}

void zcomp_params_release(struct zcomp_params *params)
{
	free(params->dict);
	zcomp_params_init(params);
}

static void strm_release_buffers(struct zcomp_strm *zstrm)
{
	free(zstrm->buffer);
	free(zstrm->local_copy);
	pthread_mutex_destroy(&zstrm->lock);
}

/* A fully created stream (strm_init succeeded). */
static void strm_free(struct zcomp *comp, struct zcomp_strm *zstrm)
{
	comp->ops->destroy_ctx(&zstrm->ctx);
	strm_release_buffers(zstrm);
}

static int strm_init(struct zcomp *comp, struct zcomp_strm *zstrm)
{
	int ret;

	memset(zstrm, 0, sizeof(*zstrm));
	pthread_mutex_init(&zstrm->lock, NULL);
	zstrm->buffer = uz_aligned_alloc(64, 2 * UZ_PAGE_SIZE);
	zstrm->local_copy = uz_aligned_alloc(64, UZ_PAGE_SIZE);
	if (!zstrm->buffer || !zstrm->local_copy) {
		strm_release_buffers(zstrm);
		return -ENOMEM;
	}
	/* Touch the buffers now: no page fault on the first write. */
	memset(zstrm->buffer, 0, 2 * UZ_PAGE_SIZE);
	memset(zstrm->local_copy, 0, UZ_PAGE_SIZE);
	ret = comp->ops->create_ctx(comp->params, &zstrm->ctx);
	if (ret)
		strm_release_buffers(zstrm);
	return ret;
}

int zcomp_create(struct zcomp **out, const char *name,
		 struct zcomp_params *params, unsigned int nr_streams)
{
	const struct zcomp_ops *ops = zcomp_lookup(name);
	struct zcomp *comp;
	int ret;

	*out = NULL;
	if (!ops)
		return -EINVAL;
	if (nr_streams == 0)
		nr_streams = 1;
	comp = calloc(1, sizeof(*comp));
	if (!comp)
		return -ENOMEM;
	comp->ops = ops;
	comp->params = params;
	ret = ops->setup_params(params);
	if (ret) {
		free(comp);
		return ret;
	}
	comp->stream = uz_aligned_alloc(64, sizeof(*comp->stream) * nr_streams);
	if (!comp->stream) {
		ops->release_params(params);
		free(comp);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < nr_streams; i++) {
		ret = strm_init(comp, &comp->stream[i]);
		if (ret) {
			comp->nr_streams = i;
			zcomp_destroy(comp);
			return ret;
		}
	}
	comp->nr_streams = nr_streams;
	*out = comp;
	return 0;
}

void zcomp_destroy(struct zcomp *comp)
{
	if (!comp)
		return;
	for (unsigned int i = 0; i < comp->nr_streams; i++)
		strm_free(comp, &comp->stream[i]);
	free(comp->stream);
	comp->ops->release_params(comp->params);
	free(comp);
}

/*
 * Each thread gets a preferred stream index on first use, round robin, so
 * that N threads on N streams never contend.
 */
static atomic_uint next_thread_slot;
static __thread unsigned int thread_slot = UINT32_MAX;

struct zcomp_strm *zcomp_stream_get(struct zcomp *comp)
{
	unsigned int n = comp->nr_streams;
	unsigned int i;

	if (unlikely(thread_slot == UINT32_MAX))
		thread_slot = atomic_fetch_add_explicit(&next_thread_slot, 1,
							memory_order_relaxed);
	i = thread_slot % n;
	if (likely(pthread_mutex_trylock(&comp->stream[i].lock) == 0))
		return &comp->stream[i];
	for (unsigned int k = 1; k < n; k++) {
		unsigned int j = (i + k) % n;
		if (pthread_mutex_trylock(&comp->stream[j].lock) == 0)
			return &comp->stream[j];
	}
	pthread_mutex_lock(&comp->stream[i].lock);
	return &comp->stream[i];
}

void zcomp_stream_put(struct zcomp_strm *zstrm)
{
	pthread_mutex_unlock(&zstrm->lock);
}

int zcomp_compress(struct zcomp *comp, struct zcomp_strm *zstrm,
		   const void *src, unsigned int *dst_len)
{
	struct zcomp_req req = {
		.src = src,
		.src_len = UZ_PAGE_SIZE,
		.dst = zstrm->buffer,
		.dst_len = 2 * UZ_PAGE_SIZE,
	};
	int ret;

	/* Test builds: a backend's compress() failing, as the kernel's
	 * zram_write_page() and recompress_slot() may see it. */
	if (unlikely(uz_fault(UZ_FAULT_COMPRESS)))
		return -EINVAL;
	ret = comp->ops->compress(comp->params, &zstrm->ctx, &req);
	if (likely(ret == 0))
		*dst_len = (unsigned int)req.dst_len;
	return ret;
}

int zcomp_decompress(struct zcomp *comp, struct zcomp_strm *zstrm,
		     const void *src, unsigned int src_len, void *dst)
{
	struct zcomp_req req = {
		.src = src,
		.src_len = src_len,
		.dst = dst,
		.dst_len = UZ_PAGE_SIZE,
	};
	int ret = comp->ops->decompress(comp->params, &zstrm->ctx, &req);

	if (ret)
		return -EINVAL;
	return req.dst_len == UZ_PAGE_SIZE ? 0 : -EINVAL;
}
