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

/* Write the resident anonymous pages of pid to path; returns pages or -errno
 * (-ESRCH: no such process), with *out_failed set when path was at fault. */
long dump_process(int pid, const char *path, bool *out_failed);

/* ---- src/tools/util.c ---- */

/* val as a process id (a decimal from 1 to INT_MAX) into *pid, or said and
 * OPT_ERR (opt.h). */
int parse_pid(const char *prog, const char *val, long *pid);
/* 0 if process pid exists, -ESRCH if not, -errno if it cannot be told. */
int process_exists(long pid);
/* "no such process" for -ESRCH, else strerror. */
const char *process_error(int err);

/* Monotonic time in seconds. */
double now_seconds(void);
/* Read a whole page file (a multiple of 4096 bytes); returns 0 or -errno. */
int read_page_file(const char *path, uint8_t **data, size_t *len);

#endif /* UZRAM_CMD_H */
