/*
 * serve.c - `uzram serve`: the devices over NBD (nbd.c), the control socket
 * (control.c) and the FUSE tree (fuse.c), in the foreground.
 *
 * Set-up: a registry of --devices devices (more when --device or --config
 * names a higher zramN); zram0 gets --algorithm and then --size, and every
 * device its --device and --config settings (devconf.c, zramconf.c),
 * through the attribute API, as `echo lz4 > comp_algorithm; echo 1G >
 * disksize` would. Listeners (listen.c): a unix socket (0600; the default
 * unless --listen, --stdio or socket activation says otherwise), TCP
 * (127.0.0.1 unless an address is given; TCP_NODELAY), systemd socket
 * activation (LISTEN_PID/LISTEN_FDS: descriptors 3...), and --stdio (one
 * connection on stdin/stdout, then exit). The default socket directory is
 * made 0700 and must be ours; sockets are 0600. Options: one table
 * (serve_options), parsed by opt.c; the usage is made from it.
 *
 * Security (docs/security.md): TLS for NBD (--tls, nbd_tls.c), a path
 * allow-list for attributes that name files (always set: --allow-path
 * directories, none by default), --max-connections, --max-handshakes and
 * --handshake-timeout (nbd.c), and the per-connection
 * limits of nbd/nbd_proto.h. The descriptor limit is raised to its hard limit, as
 * every connection holds one. --metrics: serve_metrics.c (loopback unless
 * --metrics-allow-remote).
 *
 * Threads and signals. SIGINT, SIGTERM, SIGHUP and SIGQUIT are blocked in
 * every thread and read from a signalfd by the main thread, which polls the
 * listeners, the signalfd and the NBD server's "a connection ended" eventfd; it accepts
 * and hands each connection to nbd_server_spawn(). SIGPIPE is ignored. On a
 * signal: stop accepting, remove the socket files, let connections finish
 * the requests in flight (nbd_server_shutdown; cut after DRAIN_SECONDS),
 * stop the control socket and FUSE, free the devices, remove the pidfile,
 * exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "control/control.h"
#include "devconf.h"
#include "nbd/nbd.h"
#include "listen.h"
#include "opt.h"
#include "policy.h"
#include "serve_metrics.h"
#include "restore.h"
#include "fuse/fuse.h"
#include "swapsafe.h"
#include "swapwatch.h"
#include "ublk/ublk.h"
#include "units.h"
#include "uzram.h"
#include "zramconf.h"

#define PROG		"uzram serve"
#define MAX_DEVICES	1024
#define MAX_ALLOW	64		/* --allow-path directories */
#define DRAIN_SECONDS	30.0
#define HANDSHAKE_SECONDS 10u		/* --handshake-timeout's default */

struct serve_opts {
	const char *size, *algorithm, *socket, *listen, *control, *mount;
	const char *pidfile, *reserve, *metrics;
	unsigned int devices, threads, max_connections;
	unsigned int max_handshakes, handshake_timeout;	/* 0 = default, none */
	unsigned int writeback_idle, recompress_idle;	/* seconds; 0 = off */
	bool stdio, read_only, mlock, ublk, metrics_remote;
	enum nbd_tls_mode tls;
	struct nbd_tls_opts tls_opts;
	bool tls_set;				/* --tls was given */
	const char *allow[MAX_ALLOW];
	unsigned int nallow;
	const char *config;			/* --config FILE */
	struct devconf_set devs;		/* --device, --size, --algorithm */
	struct restore_list restore;		/* --restore zramN=FILE */
};

/* ---- options ---- */

static int set_devices(void *ctx, const char *val)
{
	struct serve_opts *o = ctx;

	return opt_uint_range(PROG, "devices", val, 1, MAX_DEVICES, &o->devices);
}

static int set_device(void *ctx, const char *val)
{
	struct serve_opts *o = ctx;

	return devconf_parse_device(&o->devs, val);
}

static int set_max_connections(void *ctx, const char *val)
{
	struct serve_opts *o = ctx;

	return opt_uint_range(PROG, "max-connections", val, 1, 1u << 20,
			      &o->max_connections);
}

static int set_allow_path(void *ctx, const char *val)
{
	struct serve_opts *o = ctx;

	if (o->nallow == MAX_ALLOW) {
		fprintf(stderr, "uzram serve: --allow-path: at most %d directories\n", MAX_ALLOW);
		return OPT_ERR;
	}
	o->allow[o->nallow++] = val;
	return 0;
}

static int set_restore(void *ctx, const char *val)
{
	struct serve_opts *o = ctx;

	return restore_add(&o->restore, val) ? OPT_ERR : 0;
}

static int set_tls(void *ctx, const char *val)
{
	struct serve_opts *o = ctx;

	if (!strcmp(val, "off")) {
		o->tls = NBD_TLS_OFF;
	} else if (!strcmp(val, "on")) {
		o->tls = NBD_TLS_ON;
	} else if (!strcmp(val, "require")) {
		o->tls = NBD_TLS_REQUIRE;
	} else {
		fprintf(stderr, "uzram serve: --tls=%s: one of off, on, require\n", val);
		return OPT_ERR;
	}
	o->tls_set = true;
	return 0;
}

#define STRING(member)	OPT_STRING_AT(struct serve_opts, member)
#define FLAG(member)	OPT_FLAG_AT(struct serve_opts, member)
#define UINT(member, max) OPT_UINT_AT(struct serve_opts, member, max)
#define CALL(fn)	.kind = OPT_CALL, .call = fn

/* "--name VALUE" or "--name=VALUE"; the usage lists them in this order. */
static const struct opt serve_options[] = {
	{ .name = "size", .arg = "SIZE", STRING(size),
	  .help = "disksize of zram0 (default 1G; 0 = leave it uninitialised)" },
	{ .name = "algorithm", .arg = "NAME", STRING(algorithm),
	  .help = "comp_algorithm of zram0 (default lzo-rle)" },
	{ .name = "devices", .arg = "N", CALL(set_devices),
	  .help = "devices created at start (default 1; more if --device or\n"
		  "--config names a higher zramN)" },
	{ .name = "device", .arg = "zramN:KEY=VALUE,...", CALL(set_device),
	  .help = "set up zramN at start (repeatable)\n"
		  "KEY: size, algorithm, algorithm-params, mem-limit,\n"
		  "backing-dev, recomp-algorithm" },
	{ .name = "config", .arg = "FILE", STRING(config),
	  .help = "set up the [zramN] sections of a zram-generator.conf(5)" },
	{ .name = "restore", .arg = "zramN=FILE", CALL(set_restore),
	  .help = "restore zramN from an image (uzram ctl --save), checked\n"
		  "whole first; repeatable. Not with --device, --config, --size\n"
		  "or --algorithm setting the same device" },
	{ .name = "socket", .arg = "PATH", STRING(socket),
	  .help = "NBD on a unix socket (mode 0600; default DIR/nbd.sock,\n"
		  "DIR = /run/uzram as root, else $XDG_RUNTIME_DIR/uzram or /tmp/uzram-UID)" },
	{ .name = "listen", .arg = "[ADDR:]PORT", STRING(listen),
	  .help = "NBD over TCP (ADDR defaults to 127.0.0.1; PORT 0: any\n"
		  "free port, the one chosen is printed)" },
	{ .name = "stdio", FLAG(stdio),
	  .help = "one NBD connection on stdin/stdout\n"
		  "(systemd socket activation, LISTEN_FDS, is honoured too)" },
	{ .name = "control", .arg = "PATH", STRING(control),
	  .help = "the control socket (mode 0600; default control.sock beside\n"
		  "the NBD unix socket, or in DIR with --listen alone)" },
	{ .name = "mount", .arg = "DIR", STRING(mount),
	  .help = "the FUSE tree" },
	{ .name = "read-only", FLAG(read_only),
	  .help = "exports and FUSE disks refuse writes (EPERM / EROFS)" },
	{ .name = "threads", .arg = "N", UINT(threads, 1024),
	  .help = "request workers (default: the number of CPUs)" },
	{ .name = "max-connections", .arg = "N", CALL(set_max_connections),
	  .help = "NBD connections at once (default 1024); more are closed" },
	{ .name = "max-handshakes", .arg = "N", UINT(max_handshakes, 1u << 20),
	  .help = "of those, connections still in the handshake (0 or by\n"
		  "default: a quarter of --max-connections, at least 16);\n"
		  "more are closed" },
	{ .name = "handshake-timeout", .arg = "S", UINT(handshake_timeout, 1u << 20),
	  .help = "close an NBD connection still in the handshake\n"
		  "(STARTTLS included) S seconds after it was accepted\n"
		  "(default 10; 0 = never)" },
	{ .name = "ublk", FLAG(ublk),
	  .help = "every initialised device zramN is also the block device\n"
		  "/dev/ublkbN (the kernel's ublk driver: modprobe ublk_drv)" },
	{ .name = "mlock", FLAG(mlock),
	  .help = "make the server safe to back swap on /dev/ublkbN: memory\n"
		  "locked (mlockall), PR_SET_IO_FLUSHER on every thread,\n"
		  "oom_score_adj -1000 (docs/swap.md). Swap over NBD is\n"
		  "not safe with it or without it" },
	{ .name = "reserve", .arg = "SIZE", STRING(reserve),
	  .help = "each device initialised takes SIZE of pool memory at once,\n"
		  "locked; writes past it fail as zram's do when zs_malloc\n"
		  "fails. With --mlock and no --reserve: the device's\n"
		  "mem_limit when one is set before disksize" },
	{ .name = "pidfile", .arg = "FILE", STRING(pidfile),
	  .help = "write the process id to FILE" },
	{ .name = "metrics", .arg = "[ADDR:]PORT", STRING(metrics),
	  .help = "/metrics over HTTP for Prometheus (ADDR defaults to\n"
		  "127.0.0.1; PORT 0: any free port, the one chosen is printed)" },
	{ .name = "metrics-allow-remote", FLAG(metrics_remote),
	  .help = "let --metrics listen on an address other than loopback" },
	{ .name = "writeback-idle", .arg = "S", UINT(writeback_idle, 1u << 30),
	  .help = "every device with a backing_dev: write back the pages\n"
		  "idle for S seconds (idle=S, then writeback=idle)" },
	{ .name = "recompress-idle", .arg = "S", UINT(recompress_idle, 1u << 30),
	  .help = "every device with a recomp_algorithm: recompress the\n"
		  "pages idle for S seconds (idle=S, recompress=type=idle)" },
	{ .name = "allow-path", .arg = "DIR", CALL(set_allow_path),
	  .help = "attributes that name a file (backing_dev, algorithm_params\n"
		  "dict=) may name files below DIR (repeatable); without it\n"
		  "the control socket and the FUSE tree refuse every path" },
	{ .name = "tls", .arg = "=off|on|require", CALL(set_tls),
	  .help = "TLS for NBD (NBD_OPT_STARTTLS); require: TCP clients must\n"
		  "use it (unix-socket clients may); on: clients may (default\n"
		  "off; on when credentials are given)" },
	{ .name = "tls-certificates", .arg = "DIR", STRING(tls_opts.certificates),
	  .help = "server-cert.pem, server-key.pem (and ca-cert.pem)" },
	{ .name = "tls-psk", .arg = "FILE", STRING(tls_opts.psk_file),
	  .help = "pre-shared keys, as psktool writes them (identity:hexkey)" },
	{ .name = "tls-verify-peer", FLAG(tls_opts.verify_peer),
	  .help = "require a client certificate signed by DIR/ca-cert.pem" },
	{ .name = "help", .key = 'h', .kind = OPT_SHOW_HELP },
	{ .name = NULL }
};
_Static_assert(NBD_MAX_CONNECTIONS == 1024, "--max-connections' help names the default");

static const struct opt_cmd serve_cmd = {
	.prog = PROG,
	.opts = serve_options,
	.flags = OPT_SAY_UNKNOWN | OPT_SAY_MISSING,
};

static void usage(FILE *f)
{
	fprintf(f, "usage: uzram serve [OPTIONS]\n"
		"\n"
		"Serve the devices over NBD (exports zram0, zram1, ...; the empty name is zram0).\n");
	opt_usage(f, serve_options, 23);
}

/* Credentials alone mean --tls=on; --tls=on|require needs them. */
static int check_tls(struct serve_opts *o)
{
	bool creds = o->tls_opts.certificates || o->tls_opts.psk_file;

	if (!o->tls_set && creds)
		o->tls = NBD_TLS_ON;
	if (o->tls != NBD_TLS_OFF && !creds) {
		fprintf(stderr, "uzram serve: --tls=%s needs --tls-certificates DIR or --tls-psk FILE\n",
			o->tls == NBD_TLS_ON ? "on" : "require");
		return OPT_ERR;
	}
	if (o->tls_opts.verify_peer && !o->tls_opts.certificates) {
		fprintf(stderr, "uzram serve: --tls-verify-peer needs --tls-certificates DIR "
			"(DIR/ca-cert.pem signs the clients' certificates)\n");
		return OPT_ERR;
	}
	if (o->tls == NBD_TLS_OFF && (creds || o->tls_opts.verify_peer)) {
		fprintf(stderr, "uzram serve: --tls=off with TLS credentials: choose one\n");
		return OPT_ERR;
	}
	return 0;
}

/* 0, or OPT_HELP or OPT_ERR (said). */
static int parse_args(int argc, char **argv, struct serve_opts *o)
{
	int ret = opt_parse(&serve_cmd, argc, argv, o);

	if (ret < 0 || check_tls(o))
		return ret < 0 ? ret : OPT_ERR;
	return devconf_zram0_options(&o->devs, o->size, o->algorithm);
}

/* ---- set-up ---- */

/* Never through a symlink (O_NOFOLLOW): a link planted at the path would
 * make the server overwrite whatever it points to. */
static int write_pidfile(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");

	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f)) {
		fprintf(stderr, "uzram serve: --pidfile %s: %s\n", path,
			errno == ELOOP ? "is a symbolic link" : strerror(errno));
		if (fd >= 0 && !f)
			close(fd);
		return -1;
	}
	return 0;
}

static void accept_one(struct nbd_server *s, struct listener *l, struct swapwatch *sw)
{
	static time_t last_full;
	int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC), one = 1, ret;

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
		    errno == ENOBUFS) {
			fprintf(stderr, "uzram serve: accept: %s\n", strerror(errno));
			poll(NULL, 0, 100);	/* do not spin */
		}
		return;
	}
	if (l->tcp)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	else
		swapwatch_peer(sw, fd);
	/* Past --max-connections or --max-handshakes the connection is
	 * closed before the greeting (clients see EOF); said once a minute
	 * at most. */
	ret = nbd_server_spawn(s, fd, fd);
	if ((ret == -EAGAIN || ret == -EBUSY) && time(NULL) - last_full >= 60) {
		last_full = time(NULL);
		if (ret == -EAGAIN)
			fprintf(stderr, "uzram serve: connection refused: %u connections "
				"are open (--max-connections)\n", nbd_server_connections(s));
		else
			fprintf(stderr, "uzram serve: connection refused: %u connections "
				"are in the handshake (--max-handshakes)\n",
				nbd_server_handshakes(s));
	} else if (ret && ret != -EAGAIN && ret != -EBUSY) {
		fprintf(stderr, "uzram serve: connection: %s\n", strerror(-ret));
	}
}

/* uzram_set_path_allowlist refused the list: name the directory. */
static void allow_path_error(const struct serve_opts *o, int err)
{
	const char *bad = "";

	for (unsigned int i = 0; i < o->nallow && !*bad; i++) {
		struct stat st;

		if (stat(o->allow[i], &st) || !S_ISDIR(st.st_mode))
			bad = o->allow[i];
	}
	fprintf(stderr, "uzram serve: --allow-path %s: %s\n", bad,
		err == -ENOENT ? "no such directory" :
		err == -ENOTDIR ? "not a directory" : strerror(-err));
}

/* As many descriptors as allowed: every connection holds one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Everything `uzram serve` holds, set up by serve_start, undone by serve_stop. */
struct serve {
	struct serve_opts o;
	struct listeners ls;
	int activated;			/* sockets from socket activation */
	int sfd;			/* the signalfd */
	char mlock_warn[256];		/* --mlock's measures that failed */
	char nbd_path[PATH_MAX + 16], ctl_path[PATH_MAX + 16];
	const char *ctl;		/* the control socket's path, or NULL */
	struct uzram *z;
	struct nbd_tls *tls;
	struct nbd_server *s;
	struct control_server *cs;
	struct fuse_front *ff;
	struct policy *pol;
	struct ublk_front *uf;
	struct serve_metrics sm;
};

/* Signals first: every thread created later inherits the mask. */
static int block_signals(struct serve *sv)
{
	sigset_t mask;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);	/* a closed terminal: drain, not die */
	sigaddset(&mask, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sv->sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sv->sfd < 0) {
		fprintf(stderr, "uzram serve: signalfd: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* --mlock (before any thread exists: they inherit IO_FLUSHER and the
 * stacks), --reserve's syntax, the descriptor limit. */
static int start_process(struct serve *sv)
{
	const struct serve_opts *o = &sv->o;
	char msg[512];

	if (o->mlock && swapsafe_apply(msg, sizeof(msg), sv->mlock_warn,
				       sizeof(sv->mlock_warn))) {
		fprintf(stderr, "uzram serve: --mlock: %s\n", msg);
		return -1;
	}
	if (*sv->mlock_warn)
		fprintf(stderr, "uzram serve: warning: --mlock: %s (CAP_SYS_RESOURCE is needed): "
			"the server is not safe to back swap\n", sv->mlock_warn);
	if (o->reserve && (!valid_size(o->reserve) || !size_bytes(o->reserve))) {
		fprintf(stderr, "uzram serve: --reserve %s: not a size (e.g. 256M, 1G)\n",
			o->reserve);
		return -1;
	}
	raise_fd_limit();
	return 0;
}

static int start_tls(struct serve *sv)
{
	char msg[512];
	int ret;

	if (sv->o.tls == NBD_TLS_OFF)
		return 0;
	ret = nbd_tls_load(&sv->o.tls_opts, &sv->tls, msg, sizeof(msg));
	if (ret) {
		fprintf(stderr, "uzram serve: TLS: %s\n", msg);
		return -1;
	}
	return 0;
}

/* A device both restored and set up by --device, --config, --size or
 * --algorithm: said, -1 (the image sets the device whole). */
static int restore_conflict(const struct serve_opts *o)
{
	for (size_t i = 0; i < o->devs.n; i++) {
		const struct devconf *d = &o->devs.dev[i];

		if (!restore_has(&o->restore, (int)d->id))
			continue;
		for (int k = 0; k < DC_NKEYS; k++)
			if (d->item[k].value) {
				fprintf(stderr, "uzram serve: --restore zram%u and %s: one or the "
					"other (the image sets the device whole)\n", d->id,
					d->item[k].label);
				return -1;
			}
	}
	return 0;
}

/* --config's sections under the command line's settings; zram0's default. */
static int read_config(struct serve_opts *o)
{
	uint64_t ram = o->config ? zramconf_ram_mib() : 0;

	if (o->config && !ram) {
		fprintf(stderr, "uzram serve: --config %s: no MemTotal in /proc/meminfo\n",
			o->config);
		return -1;
	}
	if (o->config && zramconf_read(&o->devs, o->config, ram))
		return -1;
	if (restore_conflict(o))
		return -1;
	if (!restore_has(&o->restore, 0) && devconf_default_size(&o->devs, "1G")) {
		fprintf(stderr, "uzram serve: %s\n", strerror(ENOMEM));
		return -1;
	}
	if (devconf_count(&o->devs) > o->devices)
		o->devices = devconf_count(&o->devs);
	return 0;
}

/* The registry, its reserve, the devices' settings (the owner's, so before
 * the path allow-list, which binds the control socket's and FUSE's stores). */
static int start_devices(struct serve *sv)
{
	struct serve_opts *o = &sv->o;
	int ret;

	if (read_config(o))
		return -1;
	ret = uzram_new(&sv->z, o->devices);
	if (ret) {
		fprintf(stderr, "uzram serve: creating %u devices: %s\n", o->devices, strerror(-ret));
		return -1;
	}
	if (o->reserve)
		uzram_set_reserve(sv->z, size_bytes(o->reserve));
	else if (o->mlock)
		uzram_set_reserve(sv->z, UZRAM_RESERVE_MEM_LIMIT);
	if (devconf_apply(&o->devs, sv->z))
		return -1;
	/* Stores from the control socket and the FUSE tree name files only
	 * below --allow-path directories (none: no file at all). */
	ret = uzram_set_path_allowlist(sv->z, o->allow, o->nallow);
	if (ret) {
		allow_path_error(o, ret);
		return -1;
	}
	return restore_devices(sv->z, &o->restore);
}

static int start_ublk(struct serve *sv)
{
	struct ublk_opts uo = { .queues = sv->o.threads, .read_only = sv->o.read_only,
				.stats = sv->sm.ublk };
	const char *legacy = getenv("UZRAM_UBLK_LEGACY_OPCODES");
	char msg[512];

	if (!sv->o.ublk)
		return 0;
	uo.legacy_opcodes = legacy && *legacy && strcmp(legacy, "0");
	if (ublk_front_start(sv->z, &uo, &sv->uf, msg, sizeof(msg))) {
		fprintf(stderr, "uzram serve: --ublk: %s\n", msg);
		return -1;
	}
	return 0;
}

static int start_nbd(struct serve *sv)
{
	const struct serve_opts *o = &sv->o;
	struct nbd_server_opts nopts = {
		.threads = o->threads,
		.read_only = o->read_only,
		.max_connections = o->max_connections,
		.max_handshakes = o->max_handshakes,
		.handshake_timeout_ms = o->handshake_timeout * 1000,
		.tls = o->tls,
		.tls_creds = sv->tls,
		.tls_local_plain = true,
		.keep_buffers = o->mlock,
		.stats = sv->sm.nbd,
	};
	int ret = nbd_server_new(sv->z, &nopts, &sv->s);

	if (ret) {
		fprintf(stderr, "uzram serve: starting the NBD server: %s\n", strerror(-ret));
		return -1;
	}
	return 0;
}

/* Socket activation, else the default unix socket unless --listen or
 * --stdio; then --socket and --listen. */
static int start_listeners(struct serve *sv)
{
	struct serve_opts *o = &sv->o;
	char dir[PATH_MAX];

	sv->activated = listen_activated(&sv->ls);
	if (sv->activated < 0)
		return -1;
	if (!o->socket && !o->listen && !o->stdio && !sv->activated) {
		if (control_runtime_dir(dir, sizeof(dir)) || listen_make_dir(dir))
			return -1;
		snprintf(sv->nbd_path, sizeof(sv->nbd_path), "%s/nbd.sock", dir);
		o->socket = sv->nbd_path;
	}
	if (o->socket && listen_unix(&sv->ls, o->socket))
		return -1;
	if (o->listen && listen_tcp(&sv->ls, o->listen))
		return -1;
	return 0;
}

/* --control, or control.sock beside the NBD socket: without --control, a
 * failure leaves the server without one. */
static int start_control(struct serve *sv)
{
	const struct serve_opts *o = &sv->o;
	int ret;

	sv->ctl = o->control;
	if (!sv->ctl && o->socket) {
		const char *slash = strrchr(o->socket, '/');
		int n = slash ? (int)(slash - o->socket) : 1;

		snprintf(sv->ctl_path, sizeof(sv->ctl_path), "%.*s/control.sock", n,
			 slash ? o->socket : ".");
		sv->ctl = sv->ctl_path;
	} else if (!sv->ctl && o->listen && !o->stdio && !sv->activated) {
		/* TCP alone: the default directory's, where uzram ctl looks */
		char dir[PATH_MAX];

		if (control_runtime_dir(dir, sizeof(dir)) == 0 && listen_make_dir(dir) == 0 &&
		    control_default_path(sv->ctl_path, sizeof(sv->ctl_path)) == 0)
			sv->ctl = sv->ctl_path;
	}
	if (!sv->ctl)
		return 0;
	ret = control_server_start(sv->z, sv->ctl, &sv->cs);
	if (!ret)
		return 0;
	fprintf(stderr, "uzram serve: control socket %s: %s%s\n", sv->ctl,
		ret == -EADDRINUSE ? "another server is listening there" :
		ret == -EEXIST ? "exists and is not a socket" :
		ret == -ESTALE ? "the directory changed while binding" : strerror(-ret),
		o->control ? "" : " (serving without one; choose a path with --control)");
	sv->cs = NULL;
	return o->control ? -1 : 0;
}

/* The FUSE tree, the idle policies, the pidfile. */
static int start_rest(struct serve *sv)
{
	const struct serve_opts *o = &sv->o;
	int ret;

	if (o->mount) {
		ret = fuse_front_start(sv->z, o->mount, o->read_only, sv->sm.fuse, &sv->ff);
		if (ret) {
			fprintf(stderr, "uzram serve: --mount %s: %s\n", o->mount,
				ret == -ENOSYS ? "FUSE is not available in this build" :
				ret == -EBUSY ? "another uzram serve's tree is mounted there" :
				strerror(-ret));
			return -1;
		}
	}
	if (o->writeback_idle || o->recompress_idle) {
		ret = policy_start(sv->z, o->writeback_idle, o->recompress_idle, &sv->pol);
		if (ret) {
			fprintf(stderr, "uzram serve: idle policies: %s\n", strerror(-ret));
			return -1;
		}
	}
	return o->pidfile ? write_pidfile(o->pidfile) : 0;
}

/* Where the devices are served. */
static void announce_fronts(const struct serve *sv)
{
	const struct serve_opts *o = &sv->o;

	if (o->socket)
		fprintf(stderr, "uzram serve: NBD on unix socket %s (nbd+unix:///zram0?socket=%s)\n",
			o->socket, o->socket);
	listen_print_tcp(&sv->ls, o->tls);
	if (sv->activated)
		fprintf(stderr, "uzram serve: NBD on %d socket%s from socket activation\n",
			sv->activated, sv->activated > 1 ? "s" : "");
	if (sv->cs)
		fprintf(stderr, "uzram serve: control socket %s\n", sv->ctl);
	if (sv->ff)
		fprintf(stderr, "uzram serve: FUSE tree at %s\n", o->mount);
	if (o->writeback_idle)
		fprintf(stderr, "uzram serve: pages idle %u s are written back (devices with a "
			"backing_dev)\n", o->writeback_idle);
	if (o->recompress_idle)
		fprintf(stderr, "uzram serve: pages idle %u s are recompressed (devices with a "
			"recomp_algorithm)\n", o->recompress_idle);
}

/* The other devices initialised at start (--device, --config). */
static void announce_others(struct uzram *z, unsigned int n)
{
	struct uzram_stats st;
	char size[32];

	for (unsigned int id = 1; id < n; id++) {
		if (uzram_stats(z, (int)id, &st) || !st.initialised)
			continue;
		human_size(st.disksize, size, sizeof(size));
		fprintf(stderr, "uzram serve: zram%u %s, %s\n", id, size, st.algorithm);
	}
}

/* The devices, ublk, and what --mlock and --reserve did. */
static void announce_devices(const struct serve *sv)
{
	const struct serve_opts *o = &sv->o;
	struct uzram_stats st;
	bool uninit = uzram_stats(sv->z, 0, &st) || !st.initialised;
	char size[32] = "";

	if (!uninit)	/* what disksize became, in zramctl's units */
		human_size(st.disksize, size, sizeof(size));
	fprintf(stderr, "uzram serve: %u device%s, zram0 %s, %s\n", o->devices,
		o->devices > 1 ? "s" : "", uninit ? "uninitialised" : size, st.algorithm);
	announce_others(sv->z, o->devices);
	if (sv->uf)
		fprintf(stderr, "uzram serve: ublk (%s): zramN is /dev/ublkbN once initialised%s\n",
			ublk_front_describe(sv->uf), uninit ? "" : ", /dev/ublkb0 now");
	if (!o->mlock && !o->reserve)
		return;
	if (!uninit)
		fprintf(stderr, "uzram serve: zram0: %s\n", st.reserve_bytes ?
			"pool memory reserved and locked" :
			"no reserve: its pool takes memory as it grows, which under "
			"memory pressure can wait for reclaim; give --reserve SIZE for "
			"swap (docs/swap.md)");
	if (o->mlock && !*sv->mlock_warn)
		fprintf(stderr, "uzram serve: memory locked, PR_SET_IO_FLUSHER, "
			"oom_score_adj -1000\n");
}

/* Everything in order, stopping at the first failure (said): -1. */
static int serve_start(struct serve *sv)
{
	int ret;

	if (start_process(sv) || start_tls(sv) || start_devices(sv) ||
	    serve_metrics_prepare(&sv->sm, sv->z, sv->o.metrics, sv->o.metrics_remote,
				  sv->o.ublk, sv->o.mount) ||
	    start_ublk(sv) || start_nbd(sv) || start_listeners(sv) || start_control(sv) ||
	    serve_metrics_start(&sv->sm) || start_rest(sv))
		return -1;
	announce_fronts(sv);
	announce_devices(sv);
	if (sv->o.stdio) {
		ret = nbd_server_spawn(sv->s, STDIN_FILENO, STDOUT_FILENO);
		if (ret) {
			fprintf(stderr, "uzram serve: --stdio: %s\n", strerror(-ret));
			return -1;
		}
	}
	return 0;
}

/* The poll set: the signalfd, the NBD server's eventfd, the listeners. */
static nfds_t poll_set(const struct serve *sv, struct pollfd *p)
{
	p[0] = (struct pollfd){ .fd = sv->sfd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = nbd_server_event_fd(sv->s), .events = POLLIN };
	for (unsigned int i = 0; i < sv->ls.n; i++)
		p[2 + i] = (struct pollfd){ .fd = sv->ls.l[i].fd, .events = POLLIN };
	return 2 + sv->ls.n;
}

/* The sooner of the NBD server's next trim and the swap watch's next look. */
static int poll_timeout(struct nbd_server *s, struct swapwatch *sw)
{
	int timeout = nbd_server_trim(s);
	int watch = swapwatch_check(sw);

	if (watch >= 0 && (timeout < 0 || watch < timeout))
		timeout = watch;
	return timeout;
}

static void say_signal(int sfd)
{
	struct signalfd_siginfo si;

	if (read(sfd, &si, sizeof(si)) == sizeof(si))
		fprintf(stderr, "uzram serve: %s: shutting down\n", strsignal((int)si.ssi_signo));
}

/* A connection ended: true when that was --stdio's. */
static bool stdio_ended(const struct serve *sv, int efd)
{
	uint64_t v;

	if (read(efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: someone else drained it */
	}
	return sv->o.stdio && nbd_server_connections(sv->s) == 0;
}

/* The main loop: until a signal, or the --stdio connection ends. */
static void serve_loop(struct serve *sv)
{
	struct pollfd p[MAX_LISTENERS + 2];
	struct swapwatch sw = { .npeers = 0 };

	for (;;) {
		nfds_t n = poll_set(sv, p);

		if (poll(p, n, poll_timeout(sv->s, &sw)) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "uzram serve: poll: %s\n", strerror(errno));
			return;
		}
		if (p[0].revents) {
			say_signal(sv->sfd);
			return;
		}
		if (p[1].revents && stdio_ended(sv, p[1].fd))
			return;
		for (unsigned int i = 0; i < sv->ls.n; i++)
			if (p[2 + i].revents)
				accept_one(sv->s, &sv->ls.l[i], &sw);
	}
}

/* Let the connections finish the requests in flight; cut them after
 * DRAIN_SECONDS. */
static void drain_nbd(struct nbd_server *s)
{
	nbd_server_shutdown(s);
	if (!nbd_server_wait(s, DRAIN_SECONDS)) {
		fprintf(stderr, "uzram serve: connections still busy after %.0f s: cutting them\n",
			DRAIN_SECONDS);
		nbd_server_abort(s);
		nbd_server_wait(s, 1e6);
	}
}

static void serve_stop(struct serve *sv, int rc)
{
	/* Stop accepting and remove the socket files first. */
	listen_close(&sv->ls);
	/* The block devices first: STOP_DEV drains their requests. */
	ublk_front_stop(sv->uf);
	if (sv->s)
		drain_nbd(sv->s);
	policy_stop(sv->pol);
	control_server_stop(sv->cs);
	fuse_front_stop(sv->ff);
	nbd_server_free(sv->s);
	serve_metrics_stop(&sv->sm);	/* its counters outlived the front ends */
	nbd_tls_free(sv->tls);
	uzram_free(sv->z);
	if (sv->o.pidfile && rc == 0)
		unlink(sv->o.pidfile);
	close(sv->sfd);
}

int cmd_serve(int argc, char **argv)
{
	struct serve sv = { .o = { .devices = 1, .handshake_timeout = HANDSHAKE_SECONDS } };
	int ret, rc = 1;

	ret = parse_args(argc, argv, &sv.o);
	if (ret == OPT_HELP)
		usage(stdout);
	else if (ret)	/* what is wrong was said */
		rc = try_help(PROG);
	if (ret || block_signals(&sv)) {
		devconf_free(&sv.o.devs);
		return ret == OPT_HELP ? 0 : rc;
	}
	if (!serve_start(&sv)) {
		serve_loop(&sv);
		rc = 0;
	}
	serve_stop(&sv, rc);
	devconf_free(&sv.o.devs);
	return rc;
}
