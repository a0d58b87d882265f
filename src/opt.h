/*
 * opt.h - a subcommand's options, described once in a table and parsed by
 * one loop (opt.c).
 *
 * An entry names the option (long name, short letter), says whether it takes
 * a value (arg, the value's name in the usage), what to do with it (a typed
 * destination in the command's context struct, at off, or a handler) and its
 * help text. The table ends with an entry whose name is NULL.
 *
 * Two syntaxes, chosen per command (struct opt_cmd's flags):
 *
 *   OPT_GNU   getopt_long's, as util-linux's programs (`uzram ctl` follows
 *             zramctl): -x, -xVALUE, -x VALUE, clustered flags, --name,
 *             --name=VALUE, --name VALUE, unambiguous abbreviations, operands
 *             anywhere (moved to the end), "--" ending the options; getopt's
 *             own messages, then "Try 'PROG --help' for more information.".
 *             opt_parse returns the index of the first operand.
 *   exact     (the default; the other subcommands) whole names only: --name,
 *             -x, --name VALUE and, unless OPT_NOEQ, --name=VALUE; every
 *             other argument not starting with '-' (and "-" itself with
 *             OPT_DASH) is an operand, handed to cmd->operand in order.
 *             Nothing is said of an unknown option or a missing value
 *             unless OPT_SAY_UNKNOWN ("PROG: unknown option 'ARG'") or
 *             OPT_SAY_MISSING ("PROG: --NAME needs a value"; without it a
 *             missing value is an unknown option).
 *
 * Mutually exclusive options share a bit of excl: the second of a group is
 * refused with util-linux's "PROG: mutually exclusive arguments: --a --b".
 */
#ifndef UZRAM_OPT_H
#define UZRAM_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* What opt_parse and the handlers return, besides 0 (go on). */
#define OPT_ERR		(-1)	/* an error, already said */
#define OPT_HELP	(-2)	/* --help: the command prints its usage, exits 0 */
#define OPT_EXIT	(-3)	/* done (e.g. --version printed): exit 0 */

enum opt_kind {
	OPT_FLAG,	/* no value: sets the bool at off */
	OPT_STRING,	/* stores the value (a pointer into argv) at off */
	OPT_UINT,	/* a decimal from 0 to max into the unsigned int at off */
	OPT_CALL,	/* call(ctx, value); value is NULL for an option without */
	OPT_SHOW_HELP,	/* no value: opt_parse returns OPT_HELP */
};

struct opt {
	const char *name;	/* the long name, without "--" */
	int key;		/* the short option's letter, or 0 */
	enum opt_kind kind;
	const char *arg;	/* the value's name; NULL: the option takes none */
	size_t off;		/* OPT_FLAG, OPT_STRING, OPT_UINT: where in ctx */
	unsigned int max;	/* OPT_UINT */
	int (*call)(void *ctx, const char *val);	/* OPT_CALL */
	unsigned int excl;	/* the mutual-exclusion groups it is in (bits) */
	const char *help;	/* for opt_usage; NULL: not listed */
};

/* Typed destinations: .kind and .off in one. */
#define OPT_FLAG_AT(type, member)	.kind = OPT_FLAG, .off = offsetof(type, member)
#define OPT_STRING_AT(type, member)	.kind = OPT_STRING, .off = offsetof(type, member)
#define OPT_UINT_AT(type, member, m) \
	.kind = OPT_UINT, .off = offsetof(type, member), .max = (m)

/* struct opt_cmd's flags */
#define OPT_GNU		1u	/* getopt_long's syntax */
#define OPT_NOEQ	2u	/* exact: no --name=VALUE */
#define OPT_DASH	4u	/* exact: "-" is an operand */
#define OPT_SAY_UNKNOWN	8u	/* exact: say which option is unknown */
#define OPT_SAY_MISSING	16u	/* exact: say which option lacks its value */

struct opt_cmd {
	const char *prog;	/* "uzram serve": the messages' prefix */
	const struct opt *opts;
	unsigned int flags;
	/* exact: an operand; NULL: operands are unknown options */
	int (*operand)(void *ctx, const char *arg);
};

/*
 * Parse argv[1..argc-1] into ctx. Returns the index of the first operand
 * left in argv (OPT_GNU; argc in the exact syntax, whose operands went to
 * cmd->operand), or OPT_ERR, OPT_HELP or OPT_EXIT. Under OPT_GNU argv[0]
 * becomes cmd->prog, for getopt's messages, and argv is permuted.
 */
int opt_parse(const struct opt_cmd *cmd, int argc, char **argv, void *ctx);

/* s as a decimal from 0 to max, or "PROG: NAME S: not a number from 0 to
 * MAX" on stderr and OPT_ERR. */
int opt_uint(const char *prog, const char *name, const char *s, unsigned int max,
	     unsigned int *out);
/* The same from min to max. */
int opt_uint_range(const char *prog, const char *name, const char *s,
		   unsigned int min, unsigned int max, unsigned int *out);

/*
 * The options' help, one per entry with help text: "  --name ARG" (ARG
 * after a space, or right after the name when it begins with '='), the
 * text from column col (two spaces further when the option is wider); a
 * newline in the text continues it on a line indented to col.
 */
void opt_usage(FILE *f, const struct opt *opts, int col);

/* "Try 'PROG --help' for more information." on stderr; returns 2, the exit
 * code of a usage error. */
int try_help(const char *prog);
/* "PROG: MESSAGE", then try_help's line; returns 2. */
int usage_error(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* UZRAM_OPT_H */
