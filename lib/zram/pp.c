/*
 * pp.c - post-processing candidate buckets (see pp.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pp.h"

void pp_init(struct pp_ctl *ctl)
{
	memset(ctl, 0, sizeof(*ctl));
	ctl->top = -1;
}

int pp_add(struct pp_ctl *ctl, uint32_t index, unsigned int obj_size)
{
	int b = (int)(obj_size / PP_BUCKET_SIZE_RANGE);

	if (b >= NUM_PP_BUCKETS)
		b = NUM_PP_BUCKETS - 1;
	if (ctl->nr[b] == ctl->cap[b]) {
		size_t cap = ctl->cap[b] ? ctl->cap[b] * 2 : 64;
		uint32_t *p = realloc(ctl->slots[b], cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		ctl->slots[b] = p;
		ctl->cap[b] = cap;
	}
	ctl->slots[b][ctl->nr[b]++] = index;
	if (b > ctl->top)
		ctl->top = b;
	return 0;
}

bool pp_next(struct pp_ctl *ctl, uint32_t *index)
{
	while (ctl->top >= 0) {
		int b = ctl->top;
		if (ctl->nr[b]) {
			*index = ctl->slots[b][--ctl->nr[b]];
			return true;
		}
		ctl->top--;
	}
	return false;
}

void pp_free(struct pp_ctl *ctl)
{
	for (int b = 0; b < NUM_PP_BUCKETS; b++)
		free(ctl->slots[b]);
	pp_init(ctl);
}
