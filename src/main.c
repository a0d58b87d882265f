/*
 * main.c - the uzram program: one binary, one subcommand per front end.
 * The commands are one table; the usage is made from it.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "opt.h"
#include "util/common.h"
#include "uzram.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *synopsis;	/* in the usage; NULL: an alias, not listed */
	const char *help;
};

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{ "serve", cmd_serve, "serve [OPTIONS]",
	  "serve devices over NBD (and FUSE, the control socket)" },
	{ "ctl", cmd_ctl, "ctl [OPTIONS] ...",
	  "zramctl's interface: list, configure, show and set attributes" },
	{ "bench", cmd_bench, "bench FILE [--algorithm NAME] [--threads N] [--json]",
	  "write a page file into a fresh device, read it back" },
	{ "dump", cmd_dump, "dump --pid PID OUT",
	  "the resident anonymous pages of a process, as a page file" },
	{ "analyze", cmd_analyze, "analyze --pid PID | FILE [--json]",
	  "per algorithm: ratio, mem_used_total, same/huge pages, speed" },
	{ "version", cmd_version, "version", "print the version" },
	{ "--version", cmd_version, NULL, NULL },
	{ "help", cmd_help, NULL, NULL },
	{ "--help", cmd_help, NULL, NULL },
	{ "-h", cmd_help, NULL, NULL },
};

/* The help's column, after the indent; a synopsis that leaves no space
 * before it takes a line of its own. */
#define HELP_COL	19

static void usage(FILE *f)
{
	fprintf(f, "usage: uzram COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < UZ_ARRAY_SIZE(commands); i++) {
		const struct command *c = &commands[i];

		if (!c->synopsis)
			continue;
		if (strlen(c->synopsis) < HELP_COL)
			fprintf(f, "  %-*s%s\n", HELP_COL, c->synopsis, c->help);
		else
			fprintf(f, "  %s\n  %-*s%s\n", c->synopsis, HELP_COL, "", c->help);
	}
}

static int cmd_version(int argc, char **argv)
{
	printf("uzram %s\n", UZRAM_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < UZ_ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "uzram: unknown command '%s' (one of:", argv[1]);
	for (size_t i = 0; i < UZ_ARRAY_SIZE(commands); i++)
		if (commands[i].synopsis)
			fprintf(stderr, " %s", commands[i].name);
	fprintf(stderr, ")\n");
	return try_help("uzram");
}
