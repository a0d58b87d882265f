/*
 * reason.c - the calling thread's reason for a refused store (reason.h).
 */
#include <stddef.h>

#include "reason.h"

static __thread const char *reason;

int uz_refuse(int err, const char *why)
{
	reason = why;
	return err;
}

const char *uz_reason(void)
{
	return reason;
}

void uz_reason_clear(void)
{
	reason = NULL;
}
