/*
 * control_int.h - what the control socket's server (control_server.c) and
 * client (control_client.c) share, from control.c.
 */
#ifndef UZRAM_CONTROL_INT_H
#define UZRAM_CONTROL_INT_H

#include <stddef.h>
#include <sys/un.h>

/* path as a unix socket address; 0 or -ENAMETOOLONG. */
int control_unix_addr(const char *path, struct sockaddr_un *sa);
/* All of buf, with MSG_NOSIGNAL; 0 or -errno. */
int control_write_all(int fd, const void *buf, size_t len);

#endif /* UZRAM_CONTROL_INT_H */
