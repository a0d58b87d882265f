/*
 * swapwatch.c - warn when a local NBD client swaps on our device.
 *
 * The NBD protocol does not say what a client uses an export for, so the
 * server looks at the kernel instead: nbd-client hands the socket it
 * connected to the nbd driver, which keeps the pid of the process that set
 * the device up in /sys/block/nbdN/pid; a unix socket tells the server its
 * client's pid (SO_PEERCRED). A swap area on /dev/nbdN whose pid is one of
 * our clients' is swap over our NBD export. Over TCP the client's pid is
 * not known: no warning there (docs/swap.md says so).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "swapwatch.h"

void swapwatch_peer(struct swapwatch *w, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.pid <= 0)
		return;
	w->peers[w->next] = cred.pid;
	w->next = (w->next + 1) % SWAPWATCH_PEERS;
	if (w->npeers < SWAPWATCH_PEERS)
		w->npeers++;
}

static bool is_peer(const struct swapwatch *w, int pid)
{
	for (unsigned int i = 0; i < w->npeers; i++)
		if (w->peers[i] == pid)
			return true;
	return false;
}

static bool warned(struct swapwatch *w, const char *dev)
{
	for (unsigned int i = 0; i < w->nwarned; i++)
		if (!strcmp(w->warned[i], dev))
			return true;
	if (w->nwarned < SWAPWATCH_PEERS)
		snprintf(w->warned[w->nwarned++], sizeof(w->warned[0]), "%s", dev);
	return false;
}

/* A line of /proc/swaps: warn if it is /dev/nbdN of one of our clients. */
static void check_swap(struct swapwatch *w, const char *line)
{
	char path[96], dev[32];
	FILE *f;
	int pid = 0;

	if (sscanf(line, "/dev/%31s", dev) != 1 || strncmp(dev, "nbd", 3))
		return;
	snprintf(path, sizeof(path), "/sys/block/%s/pid", dev);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fscanf(f, "%d", &pid) == 1 && is_peer(w, pid) && !warned(w, dev))
		fprintf(stderr, "uzram serve: warning: /dev/%s, set up by process %d, a "
			"client of this server, is swap: swap over NBD can hang under "
			"memory pressure whatever the server does (its replies need "
			"socket memory that only reclaim can give); use --ublk and "
			"/dev/ublkbN for swap (docs/swap.md)\n", dev, pid);
	fclose(f);
}

int swapwatch_check(struct swapwatch *w)
{
	char line[512];
	FILE *swaps;
	struct timespec ts;
	long long now, due;

	if (!w->npeers)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
	due = w->last_ms + SWAPWATCH_PERIOD_MS - now;
	if (w->last_ms && due > 0)
		return (int)due;
	w->last_ms = now;
	swaps = fopen("/proc/swaps", "re");
	if (!swaps)
		return SWAPWATCH_PERIOD_MS;
	while (fgets(line, sizeof(line), swaps))
		check_swap(w, line);
	fclose(swaps);
	return SWAPWATCH_PERIOD_MS;
}
