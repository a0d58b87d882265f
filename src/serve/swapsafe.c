/*
 * swapsafe.c - what `uzram serve --mlock` does to the process so that it
 * can back swap (docs/swap.md has the reasoning, the failure each measure
 * prevents, and the VM tests that show it).
 *
 * Under memory pressure the kernel writes pages to swap and waits for the
 * device; here the device is this process. So nothing it needs to serve a
 * request may itself wait for memory to be reclaimed:
 *   - PR_SET_IO_FLUSHER on the calling thread before any other exists:
 *     every thread inherits it (copy_process keeps PF_MEMALLOC_NOIO), so
 *     any allocation of the server's, in the kernel or in userspace
 *     faults, reclaims without waiting for I/O (it cannot wait for us);
 *   - mlockall(MCL_CURRENT | MCL_FUTURE): no page of the server is ever
 *     swapped out to the device it serves, and every later mapping is
 *     populated when it is made, not on the I/O path;
 *   - 512 KiB thread stacks (a locked 8 MiB stack per thread would be most
 *     of a small machine) and no transparent huge pages (khugepaged would
 *     allocate 2 MiB at a time for our locked mappings);
 *   - oom_score_adj -1000: the OOM killer takes the program that filled
 *     memory, not the server that holds what it swapped out.
 * The rest is the I/O path's own: buffers made at start (ublk.c, nbd_buf.c)
 * and the pool's reserve (uzram_set_reserve).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "swapsafe.h"

#define THREAD_STACK	(512u << 10)

static void *nothing(void *arg)
{
	return arg;
}

/* Append "; what: error" to the warnings. */
static void warn(char *warn, size_t size, const char *what, int err)
{
	size_t n = strlen(warn);

	snprintf(warn + n, size - n, "%s%s: %s", n ? "; " : "", what, strerror(err));
}

/* The two measures that need CAP_SYS_RESOURCE, which a container may
 * lack: the server goes on, and says it is not safe to back swap. */
static void flusher_and_oom(char *warnings, size_t wsize)
{
	int fd;

	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0))
		warn(warnings, wsize, "PR_SET_IO_FLUSHER", errno);
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "-1000", 5) != 5)
		warn(warnings, wsize, "oom_score_adj -1000", errno);
	if (fd >= 0)
		close(fd);
}

/* THREAD_STACK as the threads' default stack; 0 or an error number. */
static int small_stacks(void)
{
	pthread_attr_t attr, old;
	pthread_t probe;
	int err = pthread_getattr_default_np(&old);

	if (err)
		return err;
	err = pthread_attr_init(&attr);
	if (!err) {
		err = pthread_attr_setstacksize(&attr, THREAD_STACK);
		if (!err)
			err = pthread_setattr_default_np(&attr);
		pthread_attr_destroy(&attr);
	}
	/* ThreadSanitizer's pthread_create refuses a changed default
	 * (EINVAL): then keep glibc's. */
	if (!err && pthread_create(&probe, NULL, nothing, NULL) == 0)
		pthread_join(probe, NULL);
	else if (!err)
		pthread_setattr_default_np(&old);
	pthread_attr_destroy(&old);
	return err;
}

int swapsafe_apply(char *msg, size_t size, char *warnings, size_t wsize)
{
	int err;

	warnings[0] = '\0';
	flusher_and_oom(warnings, wsize);
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)) {
		snprintf(msg, size, "PR_SET_THP_DISABLE: %s", strerror(errno));
		return -1;
	}
	err = small_stacks();
	if (err) {
		snprintf(msg, size, "setting the threads' stack size: %s", strerror(err));
		return -1;
	}
	if (mlockall(MCL_CURRENT | MCL_FUTURE)) {
		snprintf(msg, size, "mlockall: %s (raise the memlock limit, ulimit -l, or run "
			 "with CAP_IPC_LOCK)", strerror(errno));
		return -1;
	}
	return 0;
}
