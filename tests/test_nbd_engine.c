/*
 * test_nbd_engine.c - the NBD protocol engine (every .c file of src/nbd)
 * driven in-process over socketpairs, the way a fuzz target would:
 *
 *   - a scripted session: handshake, GO, WRITE/READ/TRIM/BLOCK_STATUS,
 *     replies checked byte for byte;
 *   - many connections at once, each writing and reading its own region;
 *   - random byte streams after a valid greeting and after GO: the engine
 *     must end every connection (close or answer) without crashing, hanging
 *     or leaking, and the device must stay usable.
 *
 * The engine's sources are compiled into this test (the Makefile links
 * tests with libuzram.a only).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
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
#include "check.h"

static struct uzram *z;
static struct nbd_server *srv;

/*
 * The helpers run on many client threads at once, and check.h's counters
 * are not thread-safe: they count their own failures, which main() checks.
 */
static atomic_int proto_errors;

#define EXPECT(cond)								\
	do {									\
		if (!(cond)) {							\
			atomic_fetch_add(&proto_errors, 1);			\
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);	\
		}								\
	} while (0)
#define EXPECT_EQ(a, b)	EXPECT((long long)(a) == (long long)(b))
#define MUST(cond)								\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "%s:%d: %s: aborting\n", __FILE__, __LINE__, #cond);	\
			exit(1);						\
		}								\
	} while (0)

struct peer {
	int fd;
	pthread_t tid;
	int ret;
};

static void *serve_thread(void *arg)
{
	struct peer *p = arg;

	p->ret = nbd_handle_connection(srv, p->fd, p->fd);
	return NULL;
}

/* A connection served on its own thread; returns the client's end. */
static int open_peer(struct peer *p)
{
	int sv[2];

	MUST(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	p->fd = sv[1];
	MUST(pthread_create(&p->tid, NULL, serve_thread, p) == 0);
	return sv[0];
}

static int close_peer(struct peer *p, int fd)
{
	close(fd);
	pthread_join(p->tid, NULL);
	return p->ret;
}

static int rd(int fd, void *buf, size_t len)
{
	uint8_t *b = buf;

	while (len) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 10000) != 1)
			return -ETIMEDOUT;
		n = read(fd, b, len);
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static void wr(int fd, const void *buf, size_t len)
{
	MUST(send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len);
}

static void send_opt(int fd, uint32_t opt, const void *data, uint32_t len)
{
	uint8_t h[16];

	nbd_put64(h, NBD_OPTS_MAGIC);
	nbd_put32(h + 8, opt);
	nbd_put32(h + 12, len);
	wr(fd, h, 16);
	if (len)
		wr(fd, data, len);
}

/* Read option replies up to the final one; its type. */
static uint32_t opt_final(int fd, uint32_t opt)
{
	for (;;) {
		uint8_t h[20], data[4096];
		uint32_t type, len;

		if (rd(fd, h, 20))
			return 0;
		EXPECT_EQ(nbd_get64(h), NBD_REP_MAGIC);
		EXPECT_EQ(nbd_get32(h + 8), opt);
		type = nbd_get32(h + 12);
		len = nbd_get32(h + 16);
		if (len > sizeof(data) || rd(fd, data, len))
			return 0;
		if (type != NBD_REP_INFO && type != NBD_REP_SERVER &&
		    type != NBD_REP_META_CONTEXT)
			return type;
	}
}

/* Greeting, STRUCTURED_REPLY, SET_META_CONTEXT base:allocation, GO "". */
static void handshake_go(int fd)
{
	uint8_t g[18], flags[4] = { 0, 0, 0, 3 }, meta[64], go[6] = { 0 };
	static const char q[] = NBD_META_BASE_ALLOCATION;

	MUST(rd(fd, g, 18) == 0);
	EXPECT_EQ(nbd_get64(g), NBD_MAGIC);
	EXPECT_EQ(nbd_get16(g + 16), 3);
	wr(fd, flags, 4);
	send_opt(fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	EXPECT_EQ(opt_final(fd, NBD_OPT_STRUCTURED_REPLY), NBD_REP_ACK);
	nbd_put32(meta, 0);
	nbd_put32(meta + 4, 1);
	nbd_put32(meta + 8, sizeof(q) - 1);
	memcpy(meta + 12, q, sizeof(q) - 1);
	send_opt(fd, NBD_OPT_SET_META_CONTEXT, meta, 12 + sizeof(q) - 1);
	EXPECT_EQ(opt_final(fd, NBD_OPT_SET_META_CONTEXT), NBD_REP_ACK);
	send_opt(fd, NBD_OPT_GO, go, 6);
	MUST(opt_final(fd, NBD_OPT_GO) == NBD_REP_ACK);
}

static void send_req(int fd, uint16_t type, uint16_t flags, uint64_t cookie,
		     uint64_t off, uint32_t len, const void *payload)
{
	uint8_t h[28];

	nbd_put32(h, NBD_REQUEST_MAGIC);
	nbd_put16(h + 4, flags);
	nbd_put16(h + 6, type);
	nbd_put64(h + 8, cookie);
	nbd_put64(h + 16, off);
	nbd_put32(h + 24, len);
	wr(fd, h, 28);
	if (payload)
		wr(fd, payload, len);
}

/* A simple reply's error for cookie. */
static int simple_reply(int fd, uint64_t cookie)
{
	uint8_t h[16];

	if (rd(fd, h, 16))
		return -1;
	EXPECT_EQ(nbd_get32(h), NBD_SIMPLE_REPLY_MAGIC);
	EXPECT_EQ(nbd_get64(h + 8), cookie);
	return (int)nbd_get32(h + 4);
}

/* A simple reply to any request: its error. */
static int simple_reply_any(int fd)
{
	uint8_t h[16];

	if (rd(fd, h, 16))
		return -1;
	EXPECT_EQ(nbd_get32(h), NBD_SIMPLE_REPLY_MAGIC);
	return (int)nbd_get32(h + 4);
}

/* One structured chunk (DONE expected): its type; payload into buf. */
static int chunk(int fd, uint64_t cookie, void *buf, size_t size, uint32_t *len)
{
	uint8_t h[20];

	if (rd(fd, h, 20))
		return -1;
	EXPECT_EQ(nbd_get32(h), NBD_STRUCTURED_REPLY_MAGIC);
	EXPECT_EQ(nbd_get16(h + 4), NBD_REPLY_FLAG_DONE);
	EXPECT_EQ(nbd_get64(h + 8), cookie);
	*len = nbd_get32(h + 16);
	if (*len > size || rd(fd, buf, *len))
		return -1;
	return nbd_get16(h + 6);
}

static void test_session(void)
{
	static uint8_t data[65536], buf[65536 + 64];
	struct peer p;
	int fd = open_peer(&p);
	uint32_t len;

	handshake_go(fd);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + (i >> 12));
	send_req(fd, NBD_CMD_WRITE, NBD_CMD_FLAG_FUA, 1, 1 << 20, sizeof(data), data);
	CHECK_EQ(simple_reply(fd, 1), 0);

	send_req(fd, NBD_CMD_READ, NBD_CMD_FLAG_DF, 2, 1 << 20, sizeof(data), NULL);
	CHECK_EQ(chunk(fd, 2, buf, sizeof(buf), &len), NBD_REPLY_TYPE_OFFSET_DATA);
	CHECK_EQ(len, 8 + sizeof(data));
	CHECK_EQ(nbd_get64(buf), 1 << 20);
	CHECK(!memcmp(buf + 8, data, sizeof(data)), "read back differs");

	send_req(fd, NBD_CMD_READ, 0, 3, 48 << 20, 4096, NULL);
	CHECK_EQ(chunk(fd, 3, buf, sizeof(buf), &len), NBD_REPLY_TYPE_OFFSET_HOLE);
	CHECK_EQ(nbd_get32(buf + 8), 4096);

	/* trim the first 16 KiB, zero (no hole) the next 16 KiB */
	send_req(fd, NBD_CMD_TRIM, 0, 4, 1 << 20, 16384, NULL);
	CHECK_EQ(simple_reply(fd, 4), 0);
	send_req(fd, NBD_CMD_WRITE_ZEROES, NBD_CMD_FLAG_NO_HOLE, 5, (1 << 20) + 16384, 16384, NULL);
	CHECK_EQ(simple_reply(fd, 5), 0);
	send_req(fd, NBD_CMD_BLOCK_STATUS, 0, 6, 1 << 20, 65536, NULL);
	CHECK_EQ(chunk(fd, 6, buf, sizeof(buf), &len), NBD_REPLY_TYPE_BLOCK_STATUS);
	CHECK_EQ(len, 4 + 3 * 8);
	CHECK_EQ(nbd_get32(buf), NBD_META_ID_BASE_ALLOCATION);
	CHECK_EQ(nbd_get32(buf + 4), 16384);
	CHECK_EQ(nbd_get32(buf + 8), NBD_STATE_HOLE | NBD_STATE_ZERO);
	CHECK_EQ(nbd_get32(buf + 12), 16384);
	CHECK_EQ(nbd_get32(buf + 16), NBD_STATE_ZERO);
	CHECK_EQ(nbd_get32(buf + 20), 32768);
	CHECK_EQ(nbd_get32(buf + 24), 0);

	/* errors keep the stream in step */
	send_req(fd, NBD_CMD_WRITE, 0, 7, 1, 512, data);
	CHECK_EQ(simple_reply(fd, 7), NBD_EINVAL);
	send_req(fd, 42, 0, 8, 0, 512, NULL);
	CHECK_EQ(simple_reply(fd, 8), NBD_EINVAL);
	send_req(fd, NBD_CMD_READ, 0, 9, 64ull << 20, 4096, NULL);
	CHECK_EQ(chunk(fd, 9, buf, sizeof(buf), &len), NBD_REPLY_TYPE_ERROR);
	CHECK_EQ(nbd_get32(buf), NBD_EINVAL);
	send_req(fd, NBD_CMD_FLUSH, 0, 10, 0, 0, NULL);
	CHECK_EQ(simple_reply(fd, 10), 0);

	send_req(fd, NBD_CMD_DISC, 0, 11, 0, 0, NULL);
	CHECK_EQ(close_peer(&p, fd), 0);
}

/* Connections at once, each with its own 1 MiB region, requests pipelined. */
struct worker_arg {
	int idx;
	int errors;
};

static void *client_thread(void *arg)
{
	struct worker_arg *w = arg;
	static __thread uint8_t data[16][4096], buf[4096 + 64];
	struct peer p;
	int fd = open_peer(&p);
	uint64_t base = (uint64_t)(w->idx + 2) << 20;
	uint32_t len;

	handshake_go(fd);
	for (int round = 0; round < 8; round++) {
		for (int i = 0; i < 16; i++) {
			memset(data[i], w->idx * 31 + round * 16 + i, 4096);
			data[i][100] = (uint8_t)i;
			send_req(fd, NBD_CMD_WRITE, 0, 100 + i, base + i * 4096, 4096, data[i]);
		}
		for (int i = 0; i < 16; i++)	/* replies in any order */
			if (simple_reply_any(fd) != 0)
				w->errors++;
		for (int i = 0; i < 16; i++) {
			send_req(fd, NBD_CMD_READ, 0, 200 + i, base + i * 4096, 4096, NULL);
			if (chunk(fd, 200 + i, buf, sizeof(buf), &len) != NBD_REPLY_TYPE_OFFSET_DATA ||
			    memcmp(buf + 8, data[i], 4096))
				w->errors++;
		}
	}
	send_req(fd, NBD_CMD_DISC, 0, 1, 0, 0, NULL);
	if (close_peer(&p, fd))
		w->errors++;
	return NULL;
}

static void test_many_connections(void)
{
	enum { N = 12 };
	struct worker_arg w[N];
	pthread_t t[N];

	for (int i = 0; i < N; i++) {
		w[i] = (struct worker_arg){ .idx = i };
		pthread_create(&t[i], NULL, client_thread, &w[i]);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		CHECK(w[i].errors == 0, "connection %d: %d errors", i, w[i].errors);
	}
}

/* Random bytes from the client: the engine must end each session cleanly. */
static void test_garbage(uint64_t *seed)
{
	int rounds = check_long() ? 2000 : (getenv("SAN") && *getenv("SAN") ? 100 : 400);

	for (int round = 0; round < rounds; round++) {
		uint8_t junk[4096], g[18], flags[4] = { 0, 0, 0, 3 };
		struct peer p;
		int fd = open_peer(&p), phase = round % 3;
		size_t n = 1 + check_rand(seed) % sizeof(junk);

		for (size_t i = 0; i < n; i++)
			junk[i] = (uint8_t)check_rand(seed);
		if (phase == 1) {		/* garbage instead of options */
			MUST(rd(fd, g, 18) == 0);
			wr(fd, flags, 4);
		} else if (phase == 2) {	/* garbage requests */
			handshake_go(fd);
			nbd_put32(junk, NBD_REQUEST_MAGIC);
		} else if (n >= 8) {		/* plausible option headers */
			MUST(rd(fd, g, 18) == 0);
			wr(fd, flags, 4);
			nbd_put64(junk, NBD_OPTS_MAGIC);
		}
		send(fd, junk, n, MSG_NOSIGNAL);
		shutdown(fd, SHUT_WR);
		/* Drain whatever it answers until it closes. */
		for (;;) {
			uint8_t sink[65536];
			struct pollfd pf = { .fd = fd, .events = POLLIN };
			if (poll(&pf, 1, 10000) != 1) {
				CHECK(0, "round %d: the server neither answered nor closed", round);
				break;
			}
			if (read(fd, sink, sizeof(sink)) <= 0)
				break;
		}
		close_peer(&p, fd);
	}
	CHECK_EQ(nbd_server_connections(srv), 0);
}

int main(void)
{
	struct nbd_server_opts o = { .threads = 2 };
	uint64_t seed = check_seed();

	REQUIRE(uzram_new(&z, 1) == 0, "uzram_new");
	REQUIRE(uzram_attr_store(z, 0, "disksize", "64M", 3) == 0, "disksize");
	REQUIRE(nbd_server_new(z, &o, &srv) == 0, "nbd_server_new");
	test_session();
	test_many_connections();
	test_garbage(&seed);
	test_session();		/* still serving */
	CHECK_EQ(atomic_load(&proto_errors), 0);
	nbd_server_shutdown(srv);
	CHECK(nbd_server_wait(srv, 10.0), "connections left after shutdown");
	nbd_server_free(srv);
	uzram_free(z);
	return check_summary();
}
