/*
 * control_client.c - the client of the control socket (control.h's
 * control_request), for `uzram ctl --control`: one connection per request,
 * the request line and its payload, then the response line ("ok LEN" or
 * "err ERRNO message") and LEN bytes, read into a buffer that grows as they
 * arrive. A reply is bounded by
 * CONTROL_MAX_REPLY, a sanity bound of the client's (block_state of a large
 * device is the longest).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "control_int.h"
#include "util/common.h"

#define CONTROL_MAX_REPLY	(1ul << 30)
#define CONTROL_LINE_BUF	(CONTROL_MAX_LINE + 256)

static int read_full(int fd, char *buf, size_t len)
{
	while (len) {
		ssize_t n = recv(fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPROTO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static __thread char last_error[CONTROL_LINE_BUF];

const char *control_error_message(void)
{
	return last_error;
}

/* The request line in line (CONTROL_LINE_BUF bytes), with the payload's
 * length when there is one: its length, or -EINVAL when it is too long or
 * a word holds a newline. */
static int format_request(char *line, const char *verb, const char *dev,
			  const char *attr, bool payload, size_t payload_len)
{
	char len[32] = "";
	int k;

	if (payload)
		snprintf(len, sizeof(len), " %zu", payload_len);
	k = snprintf(line, CONTROL_LINE_BUF, "%s%s%s%s%s%s\n", verb, dev ? " " : "",
		     dev ? dev : "", attr ? " " : "", attr ? attr : "", len);
	if (k < 0 || (size_t)k > CONTROL_MAX_LINE + 1 || memchr(line, '\n', (size_t)k - 1))
		return -EINVAL;
	return k;
}

/* A connected socket, or -errno. */
static int connect_to(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa))) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

/* The response line into line (CONTROL_LINE_BUF bytes), without its LF. */
static int read_status(int fd, char *line)
{
	size_t n = 0;
	int ret;

	for (;;) {
		if (n == CONTROL_LINE_BUF - 1)
			return -EPROTO;
		ret = read_full(fd, line + n, 1);
		if (ret)
			return ret;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	return 0;
}

/* "ok LEN": 0 and LEN; "err ERRNO ...": -ERRNO; else -EPROTO. */
static int parse_status(const char *line, size_t *len)
{
	char *end;
	long e;

	if (!strncmp(line, "err ", 4)) {
		e = strtol(line + 4, &end, 10);
		snprintf(last_error, sizeof(last_error), "%s", *end == ' ' ? end + 1 : "");
		return e > 0 && e < 4096 && (*end == ' ' || !*end) ? -(int)e : -EPROTO;
	}
	if (strncmp(line, "ok ", 3) || line[3] < '0' || line[3] > '9')
		return -EPROTO;
	errno = 0;
	*len = strtoul(line + 3, &end, 10);
	return *end || errno || *len > CONTROL_MAX_REPLY ? -EPROTO : 0;
}

/*
 * The LEN bytes of a reply. The buffer grows with what arrives (from 64 KiB,
 * doubling), so a server that claims a huge LEN and sends little makes the
 * client spend little, not LEN up front.
 */
static int read_reply(int fd, size_t len, char **reply, size_t *reply_len)
{
	size_t cap = UZ_MIN(len, (size_t)64 << 10), got = 0;
	char *data = malloc(cap + 1), *bigger;
	int ret = data ? 0 : -ENOMEM;

	while (!ret && got < len) {
		if (got == cap) {
			cap = UZ_MIN(len, cap * 2);
			bigger = realloc(data, cap + 1);
			if (!bigger) {
				ret = -ENOMEM;
				break;
			}
			data = bigger;
		}
		ret = read_full(fd, data + got, cap - got);
		got = cap;
	}
	if (ret) {
		free(data);
		return ret;
	}
	data[len] = '\0';
	if (reply)
		*reply = data;
	else
		free(data);
	if (reply_len)
		*reply_len = len;
	return 0;
}

int control_request(const char *path, const char *verb, const char *dev,
		    const char *attr, const char *payload, size_t payload_len,
		    char **reply, size_t *reply_len)
{
	struct sockaddr_un sa;
	char line[CONTROL_LINE_BUF];
	size_t len = 0;
	int fd, k, ret;

	if (reply)
		*reply = NULL;
	if (reply_len)
		*reply_len = 0;
	last_error[0] = '\0';
	if (payload_len > CONTROL_MAX_PAYLOAD)
		return -E2BIG;
	ret = control_unix_addr(path, &sa);
	if (ret)
		return ret;
	k = format_request(line, verb, dev, attr, payload != NULL, payload_len);
	if (k < 0)
		return k;
	fd = connect_to(&sa);
	if (fd < 0)
		return fd;
	ret = control_write_all(fd, line, (size_t)k);
	if (!ret && payload_len)
		ret = control_write_all(fd, payload, payload_len);
	if (!ret)
		ret = read_status(fd, line);
	if (!ret)
		ret = parse_status(line, &len);
	if (!ret)
		ret = read_reply(fd, len, reply, reply_len);
	close(fd);
	return ret;
}
