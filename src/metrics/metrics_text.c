/*
 * metrics_text.c - Prometheus's text exposition format 0.0.4: a buffer
 * that grows by doubling, the HELP and TYPE lines of a family, label values
 * escaped.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "metrics_int.h"

/* Room for n more bytes and the terminating NUL. */
static bool mt_reserve(struct mtext *t, size_t n)
{
	size_t cap = t->cap ? t->cap : 4096;
	char *p;

	if (t->failed)
		return false;
	while (cap - t->len <= n)
		cap *= 2;
	if (cap == t->cap)
		return true;
	p = realloc(t->p, cap);
	if (!p) {
		t->failed = true;
		return false;
	}
	t->p = p;
	t->cap = cap;
	return true;
}

void mt_printf(struct mtext *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !mt_reserve(t, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

void mt_family(struct mtext *t, const char *name, const char *type, const char *help)
{
	mt_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void mt_label_value(struct mtext *t, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			mt_printf(t, "\\%c", *v);
		else if (*v == '\n')
			mt_printf(t, "\\n");
		else
			mt_printf(t, "%c", *v);
	}
}
