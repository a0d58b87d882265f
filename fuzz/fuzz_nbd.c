/*
 * fuzz_nbd.c - the NBD server of `uzram serve` (every .c file of src/nbd:
 * the real engine, compiled in, from the descriptors up) on arbitrary
 * client byte streams: the greeting, options, then requests, over a
 * socketpair.
 *
 * Input: [config][client bytes...]. The low two bits of config pick the
 * server: 0 plain, 1 --read-only, 2 --tls=require (PSK), 3 --tls=on (PSK).
 * A client thread writes the bytes and then shuts its write side, while
 * reading every byte the server sends, so neither side can block the other
 * and the server always reaches EOF; the server runs the connection on the
 * fuzzer's thread (nbd_handle_connection) until it ends.
 *
 * Every server has a handshake deadline (--handshake-timeout, nbd_sock.c),
 * far longer than an input takes, so the handshake's reads and writes go
 * through its poll(2) path; the client always ends with EOF, never waits.
 *
 * Exports: zram0 (1 MiB) and zram2 (64 KiB), initialised; zram1 exists but
 * is not. Checked after every input: the server's reply stream begins with
 * the greeting; no connection is left behind; a read-only server changed
 * nothing (zram0 reads back as zeros). zram0 and zram2 are emptied after
 * every input, so each input starts from the same state.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../src/iostat.c"
#include "../src/nbd/nbd_sock.c"
#include "../src/nbd/nbd_tls.c"
#include "../src/nbd/nbd_io.c"
#include "../src/nbd/nbd_buf.c"
#include "../src/nbd/nbd_handshake.c"
#include "../src/nbd/nbd.c"
#include "../src/nbd/nbd_xmit.c"

#define DEV0_SIZE	(1u << 20)
#define DEV2_SIZE	(64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct uzram *fz;
static struct uzram_dev *dev0, *dev2;
static struct nbd_server *servers[4];
static struct nbd_tls *psk;

struct client {
	int fd;
	const uint8_t *data;
	size_t size;
	uint8_t first[8];
	size_t got;
	uint64_t received;
};

/* Write everything, then shut down the write side; read until EOF. */
static void *client_main(void *arg)
{
	struct client *cl = arg;
	size_t sent = 0;
	bool shut = false;
	uint8_t buf[65536];

	fcntl(cl->fd, F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p = { .fd = cl->fd, .events = POLLIN };
		ssize_t n;

		if (!shut && sent == cl->size) {
			shutdown(cl->fd, SHUT_WR);
			shut = true;
		}
		if (!shut)
			p.events |= POLLOUT;
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			abort();
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(cl->fd, buf, sizeof(buf));
			if (n == 0 || (n < 0 && errno == ECONNRESET))
				break;		/* the server closed */
			if (n > 0) {
				cl->received += (uint64_t)n;
				for (ssize_t i = 0; i < n && cl->got < 8; i++)
					cl->first[cl->got++] = buf[i];
				continue;
			}
			if (errno != EAGAIN && errno != EINTR)
				abort();
		}
		if (!shut && (p.revents & POLLOUT)) {
			n = write(cl->fd, cl->data + sent, UZ_MIN(cl->size - sent, (size_t)65536));
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno == EPIPE)
				sent = cl->size;	/* the server is gone: stop sending */
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				sent = cl->size;
		}
	}
	return NULL;
}

static struct nbd_tls *make_psk(void)
{
	char path[] = "/tmp/fuzz_nbd_psk.XXXXXX";
	struct nbd_tls_opts o = { .psk_file = path };
	struct nbd_tls *t = NULL;
	char msg[256];
	int fd = mkstemp(path);
	static const char key[] = "fuzz:00112233445566778899aabbccddeeff\n";

	if (fd < 0)
		abort();
	if (write(fd, key, sizeof(key) - 1) != (ssize_t)sizeof(key) - 1)
		abort();
	close(fd);
	if (nbd_tls_load(&o, &t, msg, sizeof(msg)))
		t = NULL;	/* no GnuTLS in this build: plaintext servers */
	unlink(path);		/* handshakes then fail; fuzzing them is GnuTLS's job */
	return t;
}

static void setup(void)
{
	static const enum nbd_tls_mode modes[4] = {
		NBD_TLS_OFF, NBD_TLS_OFF, NBD_TLS_REQUIRE, NBD_TLS_ON,
	};

	signal(SIGPIPE, SIG_IGN);
	if (uzram_new(&fz, 3) ||
	    uzram_attr_store(fz, 0, "disksize", "1M", 2) ||
	    uzram_attr_store(fz, 2, "comp_algorithm", "lz4", 3) ||
	    uzram_attr_store(fz, 2, "disksize", "64K", 3) ||
	    uzram_open(fz, 0, &dev0) || uzram_open(fz, 2, &dev2))
		abort();
	psk = make_psk();
	for (int i = 0; i < 4; i++) {
		struct nbd_server_opts o = {
			.threads = 2,
			.read_only = i == 1,
			.max_connections = 4,
			.handshake_timeout_ms = 60000,
			.tls = psk ? modes[i] : NBD_TLS_OFF,
			.tls_creds = psk,
		};
		if (nbd_server_new(fz, &o, &servers[i]))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t check[DEV0_SIZE];
	struct client cl = { 0 };
	struct nbd_server *s;
	pthread_t tid;
	int sv[2], ret;

	if (!fz)
		setup();
	if (size < 1)
		return 0;
	s = servers[data[0] & 3];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	cl.fd = sv[0];
	cl.data = data + 1;
	cl.size = size - 1;
	if (pthread_create(&tid, NULL, client_main, &cl))
		abort();
	ret = nbd_handle_connection(s, sv[1], sv[1]);	/* closes sv[1] */
	pthread_join(tid, NULL);
	close(sv[0]);
	if (getenv("FUZZ_NBD_VERBOSE"))
		fprintf(stderr, "config %d: %zu bytes in, %llu bytes out, connection: %s\n",
			data[0] & 3, size - 1, (unsigned long long)cl.received,
			ret ? strerror(-ret) : "orderly end");

	if (cl.got < 8 || memcmp(cl.first, "NBDMAGIC", 8))
		abort();		/* every connection starts with the greeting */
	if (nbd_server_connections(s))
		abort();		/* the connection is gone */
	if ((data[0] & 3) == 1) {	/* read-only: nothing changed */
		static const uint8_t zero[DEV0_SIZE];
		if (uzram_read(dev0, check, 0, DEV0_SIZE) || memcmp(check, zero, DEV0_SIZE))
			abort();
	}
	if (uzram_discard(dev0, 0, DEV0_SIZE) || uzram_discard(dev2, 0, DEV2_SIZE))
		abort();
	return 0;
}
