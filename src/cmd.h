/*
 * cmd.h - the subcommands of the uzram program and what they share.
 */
#ifndef UZRAM_CMD_H
#define UZRAM_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int cmd_dump(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_analyze(int argc, char **argv);

long dump_process(int pid, const char *path);

/* Monotonic time in seconds. */
double now_seconds(void);
/* Read a whole page file (a multiple of 4096 bytes); returns 0 or -errno. */
int read_page_file(const char *path, uint8_t **data, size_t *len);

#endif /* UZRAM_CMD_H */
