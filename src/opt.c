/*
 * opt.c - the option tables of opt.h: one parser for every subcommand.
 *
 * The GNU syntax is getopt_long's own, driven by tables made from ours (the
 * long options in table order, so an ambiguous abbreviation lists its
 * candidates in that order; getopt_long returns the short letter, or 256 +
 * the entry's index for an option without one). The exact syntax is a loop
 * of our own. Both hand every option, in the order given, to apply(): the
 * exclusion groups, then the destination or the handler.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"

#define OPT_MAX		64	/* entries in a table */
#define OPT_GROUPS	8	/* bits of excl */

struct parse {
	const struct opt_cmd *cmd;
	void *ctx;
	const struct opt *seen[OPT_GROUPS];	/* the group's first option */
};

int opt_uint_range(const char *prog, const char *name, const char *s,
		   unsigned int min, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max || s[0] == '-') {
		fprintf(stderr, "%s: --%s %s: not a number from %u to %u\n", prog, name,
			s, min, max);
		return OPT_ERR;
	}
	*out = (unsigned int)v;
	return 0;
}

int opt_uint(const char *prog, const char *name, const char *s, unsigned int max,
	     unsigned int *out)
{
	return opt_uint_range(prog, name, s, 0, max, out);
}

static void say_exclusive(const struct opt_cmd *cmd, unsigned int group)
{
	fprintf(stderr, "%s: mutually exclusive arguments:", cmd->prog);
	for (const struct opt *o = cmd->opts; o->name; o++)
		if (o->excl & group)
			fprintf(stderr, " --%s", o->name);
	fputc('\n', stderr);
}

/* Where o comes among the members of group g, in table order. */
static int group_pos(const struct opt *opts, const struct opt *o, int g)
{
	int pos = 0;

	for (; opts != o; opts++)
		if (opts->excl & (1u << g))
			pos++;
	return pos;
}

/*
 * One option of each group. An option in several groups meets them in the
 * order of its place in each (then in group order): the first place in
 * every group, then the second..., as uzram ctl always checked zramctl's
 * two groups; so the message names the group where it comes first.
 */
static int exclusive(struct parse *p, const struct opt *o)
{
	int pos[OPT_GROUPS], left = 0;

	for (int g = 0; g < OPT_GROUPS; g++)
		if (o->excl & (1u << g)) {
			pos[g] = group_pos(p->cmd->opts, o, g);
			left++;
		}
	for (int at = 0; left; at++) {
		for (int g = 0; g < OPT_GROUPS; g++) {
			if (!(o->excl & (1u << g)) || pos[g] != at)
				continue;
			left--;
			if (p->seen[g] && p->seen[g] != o) {
				say_exclusive(p->cmd, 1u << g);
				return OPT_ERR;
			}
			p->seen[g] = o;
		}
	}
	return 0;
}

static int apply(struct parse *p, const struct opt *o, const char *val)
{
	char *dst = (char *)p->ctx + o->off;

	if (exclusive(p, o))
		return OPT_ERR;
	switch (o->kind) {
	case OPT_FLAG:
		*(bool *)dst = true;
		return 0;
	case OPT_STRING:
		*(const char **)dst = val;
		return 0;
	case OPT_UINT:
		return opt_uint(p->cmd->prog, o->name, val, o->max, (unsigned int *)dst);
	case OPT_CALL:
		return o->call(p->ctx, val);
	case OPT_SHOW_HELP:
		return OPT_HELP;
	}
	return OPT_ERR;
}

/* ---- getopt_long's syntax ---- */

/* getopt_long's option table and string from ours; -1 if too long. */
static int gnu_tables(const struct opt *opts, struct option *lo, char *so)
{
	int i;

	for (i = 0; opts[i].name; i++) {
		if (i == OPT_MAX)
			return -1;
		lo[i].name = opts[i].name;
		lo[i].has_arg = opts[i].arg ? required_argument : no_argument;
		lo[i].flag = NULL;
		lo[i].val = opts[i].key ? opts[i].key : 256 + i;
		if (opts[i].key) {
			*so++ = (char)opts[i].key;
			if (opts[i].arg)
				*so++ = ':';
		}
	}
	memset(&lo[i], 0, sizeof(lo[i]));
	*so = '\0';
	return 0;
}

/* The entry of what getopt_long returned; NULL for its '?'. */
static const struct opt *gnu_entry(const struct opt *opts, int c)
{
	if (c >= 256)
		return &opts[c - 256];
	for (; opts->name; opts++)
		if (opts->key == c)
			return opts;
	return NULL;
}

static int parse_gnu(struct parse *p, int argc, char **argv)
{
	const struct opt_cmd *cmd = p->cmd;
	struct option lo[OPT_MAX + 1];
	char so[3 * OPT_MAX + 1];
	int c, ret;

	if (gnu_tables(cmd->opts, lo, so))
		return OPT_ERR;
	argv[0] = (char *)cmd->prog;	/* getopt's messages name the command */
	optind = 0;
	while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		const struct opt *o = gnu_entry(cmd->opts, c);

		if (!o) {
			fprintf(stderr, "Try '%s --help' for more information.\n", cmd->prog);
			return OPT_ERR;
		}
		ret = apply(p, o, o->arg ? optarg : NULL);
		if (ret)
			return ret;
	}
	return optind;
}

/* ---- the exact syntax ---- */

static int unknown(const struct opt_cmd *cmd, const char *arg)
{
	if (cmd->flags & OPT_SAY_UNKNOWN)
		fprintf(stderr, "%s: unknown option '%s'\n", cmd->prog, arg);
	return OPT_ERR;
}

static int missing(const struct opt_cmd *cmd, const char *arg)
{
	if (!(cmd->flags & OPT_SAY_MISSING))
		return unknown(cmd, arg);
	fprintf(stderr, "%s: %s needs a value\n", cmd->prog, arg);
	return OPT_ERR;
}

static bool is_operand(const struct opt_cmd *cmd, const char *arg)
{
	return arg[0] != '-' || (!strcmp(arg, "-") && (cmd->flags & OPT_DASH));
}

/* The entry arg names ("--name", "--name=VALUE" or "-x"), its value in
 * *val when given with '='; NULL if there is none such. */
static const struct opt *exact_entry(const struct opt_cmd *cmd, const char *arg,
				     const char **val)
{
	const char *name = arg + 2, *eq;
	const struct opt *o;
	size_t len;

	*val = NULL;
	if (arg[1] != '-') {
		for (o = cmd->opts; o->name; o++)
			if (o->key && arg[1] == o->key && !arg[2])
				return o;
		return NULL;
	}
	eq = strchr(name, '=');
	len = eq ? (size_t)(eq - name) : strlen(name);
	for (o = cmd->opts; o->name; o++)
		if (!strncmp(o->name, name, len) && !o->name[len])
			break;
	if (!o->name || (eq && (!o->arg || (cmd->flags & OPT_NOEQ))))
		return NULL;
	*val = eq ? eq + 1 : NULL;
	return o;
}

static int parse_exact(struct parse *p, int argc, char **argv)
{
	const struct opt_cmd *cmd = p->cmd;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val;
		const struct opt *o;
		int ret;

		if (is_operand(cmd, arg)) {
			ret = cmd->operand ? cmd->operand(p->ctx, arg) : unknown(cmd, arg);
		} else if (!(o = exact_entry(cmd, arg, &val))) {
			ret = unknown(cmd, arg);
		} else if (o->arg && !val && i + 1 == argc) {
			ret = missing(cmd, arg);
		} else {
			if (o->arg && !val)
				val = argv[++i];
			ret = apply(p, o, val);
		}
		if (ret)
			return ret;
	}
	return argc;
}

int opt_parse(const struct opt_cmd *cmd, int argc, char **argv, void *ctx)
{
	struct parse p = { .cmd = cmd, .ctx = ctx };

	if (cmd->flags & OPT_GNU)
		return parse_gnu(&p, argc, argv);
	return parse_exact(&p, argc, argv);
}

void opt_usage(FILE *f, const struct opt *opts, int col)
{
	for (; opts->name; opts++) {
		const char *arg = opts->arg ? opts->arg : "";
		int n;

		if (!opts->help)
			continue;
		n = fprintf(f, "  --%s%s%s", opts->name, *arg && *arg != '=' ? " " : "", arg);
		fprintf(f, "%*s", n < col ? col - n : 2, "");
		for (const char *s = opts->help; *s; s++) {
			fputc(*s, f);
			if (*s == '\n' && s[1])
				fprintf(f, "%*s", col, "");
		}
		fputc('\n', f);
	}
}

int try_help(const char *prog)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	return 2;
}

int usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return try_help(prog);
}
