/*
 * swapwatch.h - notice when a local NBD client swaps on a device of ours
 * (swapwatch.c), to warn: swap over NBD can hang under memory pressure
 * whatever the server does (docs/swap.md); /dev/ublkbN is the way.
 */
#ifndef UZRAM_SWAPWATCH_H
#define UZRAM_SWAPWATCH_H

#include <stdbool.h>

#define SWAPWATCH_PEERS		64
#define SWAPWATCH_PERIOD_MS	5000

struct swapwatch {
	int peers[SWAPWATCH_PEERS];	/* pids of recent unix-socket clients */
	unsigned int npeers, next;
	char warned[SWAPWATCH_PEERS][32];	/* devices warned about */
	unsigned int nwarned;
	long long last_ms;			/* CLOCK_MONOTONIC of the last look */
};

/* Remember the client process of a unix-socket connection (SO_PEERCRED). */
void swapwatch_peer(struct swapwatch *w, int fd);
/*
 * Look for swap on /dev/nbdN set up by one of those processes (the nbd
 * driver's /sys/block/nbdN/pid); warn on stderr, once per device. Returns
 * the milliseconds until the next look, or -1 when no client was seen.
 */
int swapwatch_check(struct swapwatch *w);

#endif /* UZRAM_SWAPWATCH_H */
