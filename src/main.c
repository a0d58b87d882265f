/*
 * main.c - the uzram program: one binary, one subcommand per front end.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "uzram.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: uzram COMMAND [ARGS]\n"
		"\n"
		"commands:\n"
		"  serve [OPTIONS]    serve devices over NBD (and FUSE, the control socket)\n"
		"  ctl [OPTIONS] ...  zramctl's interface: list, configure, show and set attributes\n"
		"  bench FILE [--algorithm NAME] [--threads N] [--json]\n"
		"                     write a page file into a fresh device, read it back\n"
		"  dump --pid PID OUT the resident anonymous pages of a process, as a page file\n"
		"  analyze --pid PID | FILE [--json]\n"
		"                     per algorithm: ratio, mem_used_total, same/huge pages, speed\n"
		"  version            print the version\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("uzram %s\n", UZRAM_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "bench"))
		return cmd_bench(argc - 1, argv + 1);
	if (!strcmp(argv[1], "serve"))
		return cmd_serve(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ctl"))
		return cmd_ctl(argc - 1, argv + 1);
	if (!strcmp(argv[1], "analyze"))
		return cmd_analyze(argc - 1, argv + 1);
	if (!strcmp(argv[1], "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "uzram: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
