/*
 * ctl.c - `uzram ctl`: util-linux zramctl's interface to uzram's devices,
 * over the control socket (--control PATH, by default the one `uzram serve`
 * makes) or over a FUSE tree (--sysfs DIR; `--sysfs /sys/block` drives the
 * kernel's own zram, /sys/class/zram-control standing in for DIR/zram-control).
 *
 *	uzram ctl [options]			the table of initialised devices
 *	uzram ctl [options] NAME		that device's row
 *	uzram ctl --find [--size SIZE [--algorithm ALG]]
 *	uzram ctl NAME --size SIZE [--algorithm ALG]
 *	uzram ctl --reset NAME...
 *	uzram ctl NAME ATTR			print an attribute (block_state, queue/NAME too)
 *	uzram ctl NAME ATTR=VALUE		store it; exit 1 with the errno's message
 *	uzram ctl NAME --save FILE		the device to an image (docs/image.md)
 *	uzram ctl NAME --restore FILE		a reset device from one
 *
 * Everything follows zramctl 2.38 (sys-utils/zramctl.c): the options, the
 * table (ctl_table.c), the number formats (ctl_format.c), --find taking the
 * first existing unused device before hot-adding one, --reset resetting and
 * then hot-removing, and the error messages. The differences: NAME is the
 * device's name (zram0: uzram has no /dev node; /dev/zramN is accepted on
 * input), --json is added (libsmartcols' layout, table "zramdevices"), and
 * MOUNTPOINT is found through the block devices that carry the device: a
 * loop device on DIR/zramN/disk of the FUSE tree (with --control: of every
 * mounted fuse.uzram tree), or /dev/zramN itself under /sys/block
 * (ctl_sysfs.c). The devices are reached through a transport, the control
 * socket or the tree (ctl_transport.c). The options are one table
 * (ctl_options), parsed by opt.c with getopt_long, as zramctl's. STREAMS
 * shows max_comp_streams, which kernels since 6.15 and uzram lack: empty,
 * as zramctl shows it on this kernel; --streams is accepted and, where the
 * attribute is missing (ENOENT), ignored, as zramctl has done since
 * util-linux's fix for 6.15. --algorithm-params is newer zramctl's -p. Devices are listed in id order (zramctl
 * lists them in readdir order of /dev). --save and --restore are uzram's
 * own, through the control socket only (the kernel has no such thing).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "ctl.h"
#include "opt.h"
#include "uzram.h"

/* ---- options ---- */

struct ctl_args {
	struct ctl_out out;
	const char *algorithm, *params, *control, *sysfs, *save, *restore;
	uintmax_t size, streams;
	bool find, reset, create;
};

static int set_output(void *ctx, const char *val)
{
	struct ctl_args *a = ctx;

	return ctl_parse_columns(val, &a->out) ? OPT_ERR : 0;
}

static int set_output_all(void *ctx, const char *val)
{
	struct ctl_args *a = ctx;

	ctl_all_columns(&a->out);
	return 0;
}

static int set_size(void *ctx, const char *val)
{
	struct ctl_args *a = ctx;
	int ret = ctl_parse_size(val, &a->size);

	if (ret) {
		fprintf(stderr, "%s: failed to parse size: '%s': %s\n", PROG, val, strerror(-ret));
		return OPT_ERR;
	}
	a->create = true;
	return 0;
}

static int set_streams(void *ctx, const char *val)
{
	struct ctl_args *a = ctx;
	char *end;

	errno = 0;
	a->streams = strtoumax(val, &end, 10);
	if (!*val || *end || errno || val[0] == '-') {
		fprintf(stderr, "%s: failed to parse streams: '%s'\n", PROG, val);
		return OPT_ERR;
	}
	return 0;
}

static int print_version(void *ctx, const char *val)
{
	printf("uzram ctl from uzram %s\n", UZRAM_VERSION);
	return OPT_EXIT;
}

#define STRING(member)	OPT_STRING_AT(struct ctl_args, member)
#define FLAG(member)	OPT_FLAG_AT(struct ctl_args, member)
#define CALL(fn)	.kind = OPT_CALL, .call = fn
/* zramctl's exclusive groups: { find, output, reset }, { output, reset, size } */
#define EXCL_A		1u
#define EXCL_B		2u

/*
 * zramctl's long options, in its order (getopt_long names the candidates
 * of an ambiguous abbreviation in this order); usage() below lists them as
 * zramctl's help does.
 */
static const struct opt ctl_options[] = {
	{ .name = "algorithm", .key = 'a', .arg = "<alg>", STRING(algorithm) },
	{ .name = "algorithm-params", .key = 'p', .arg = "<params>", STRING(params) },
	{ .name = "bytes", .key = 'b', FLAG(out.bytes) },
	{ .name = "find", .key = 'f', FLAG(find), .excl = EXCL_A },
	{ .name = "help", .key = 'h', .kind = OPT_SHOW_HELP },
	{ .name = "json", .key = 'J', FLAG(out.json) },
	{ .name = "output", .key = 'o', .arg = "<list>", CALL(set_output),
	  .excl = EXCL_A | EXCL_B },
	{ .name = "output-all", CALL(set_output_all) },
	{ .name = "noheadings", .key = 'n', FLAG(out.noheadings) },
	{ .name = "reset", .key = 'r', FLAG(reset), .excl = EXCL_A | EXCL_B },
	{ .name = "raw", FLAG(out.raw) },
	{ .name = "size", .key = 's', .arg = "<size>", CALL(set_size), .excl = EXCL_B },
	{ .name = "streams", .key = 't', .arg = "<number>", CALL(set_streams) },
	{ .name = "version", .key = 'V', CALL(print_version) },
	{ .name = "control", .arg = "<path>", STRING(control) },
	{ .name = "sysfs", .arg = "<dir>", STRING(sysfs) },
	{ .name = "save", .arg = "<file>", STRING(save) },
	{ .name = "restore", .arg = "<file>", STRING(restore) },
	{ .name = NULL }
};

static const struct opt_cmd ctl_cmd = {
	.prog = PROG,
	.opts = ctl_options,
	.flags = OPT_GNU,
};

static void usage(FILE *out)
{
	fprintf(out,
		"\nUsage:\n"
		" uzram ctl [options] <device>\n"
		" uzram ctl -r <device> [...]\n"
		" uzram ctl [options] -f | <device> -s <size>\n"
		" uzram ctl [options] <device> <attribute>[=<value>]\n"
		" uzram ctl [options] <device> --save <file> | --restore <file>\n"
		"\nSet up and control uzram devices, as zramctl does zram's.\n"
		"\nOptions:\n"
		" -a, --algorithm <alg>     compression algorithm to use\n"
		" -p, --algorithm-params <params>\n"
		"                           algorithm parameters (algorithm_params), e.g. \"level=9\"\n"
		" -b, --bytes               print sizes in bytes rather than in human readable format\n"
		" -f, --find                find a free device\n"
		" -n, --noheadings          don't print headings\n"
		" -o, --output <list>       columns to use for status output\n"
		"     --output-all          output all columns\n"
		"     --raw                 use raw status output format\n"
		" -J, --json                use JSON output format\n"
		" -r, --reset               reset all specified devices (and remove them)\n"
		" -s, --size <size>         device size\n"
		" -t, --streams <number>    number of compression streams (ignored: kernels since\n"
		"                           6.15 and uzram have no max_comp_streams)\n"
		"     --control <path>      the control socket of `uzram serve`\n"
		"     --sysfs <dir>         a FUSE tree (`uzram serve --mount`) or /sys/block\n"
		"     --save <file>         save the device to an image file (control socket only)\n"
		"     --restore <file>      restore a reset device from an image file\n"
		"\n -h, --help                display this help\n"
		" -V, --version             display version\n"
		"\nArguments:\n"
		" <size> arguments may be followed by the suffixes for\n"
		"   GiB, TiB, PiB, EiB, ZiB, and YiB (the \"iB\" is optional)\n"
		" <device> is zramN (or /dev/zramN); zram-control names hot_add and hot_remove,\n"
		"   which may also be given alone: hot_add, hot_remove=<id>\n"
		" <alg> specify algorithm, supported are:\n"
		"   lzo-rle, lzo, lz4, lz4hc, zstd, deflate and 842\n"
		"\nAvailable output columns:\n");
	ctl_columns_help(out);
}

/* ---- actions ---- */

enum { A_STATUS, A_CREATE, A_FINDONLY, A_RESET, A_ATTR, A_IMAGE };

static int no_device(const char *arg)
{
	fprintf(stderr, "%s: %s: %s\n", PROG, arg, strerror(ENODEV));
	return 1;
}

/* The first existing unused device, else a hot-added one; -errno. */
static int find_free(struct ctl *c)
{
	for (int id = 0;; id++) {
		char name[32], *s;
		uint64_t size;
		long ret;

		snprintf(name, sizeof(name), "zram%d", id);
		if (!ctl_dev_exists(c, id)) {
			ret = ctl_show(c, "zram-control", "hot_add", &s, NULL);
			if (ret)
				return (int)ret;
			id = atoi(s);
			free(s);
			return id;
		}
		if (!ctl_u64(c, name, "disksize", &size) && size == 0)
			return id;
	}
}

/*
 * After a refused store: the fix, where there is one. uzram serve opens the
 * files that backing_dev and algorithm_params' dict= name only below its
 * --allow-path directories (docs/security.md), else EPERM.
 */
static void store_hint(const struct ctl *c, const char *attr, int err)
{
	if (err == -EPERM && ctl_is_uzram(c) &&
	    (!strcmp(attr, "backing_dev") || !strcmp(attr, "algorithm_params")))
		fprintf(stderr, "%s: uzram serve opens files only below its --allow-path "
			"directories: start it with --allow-path DIR, DIR holding the file "
			"(no symbolic link below DIR on the way)\n", PROG);
}

/*
 * An attribute's name: a file of the device's directory or of its queue/
 * (/sys/block/zramN/queue/NAME, the library's "queue/NAME"), no other path.
 */
static bool attr_name_ok(int id, const char *arg, size_t len)
{
	static const char queue[] = "queue/";
	size_t qlen = sizeof(queue) - 1;

	if (id >= 0 && len > qlen && !strncmp(arg, queue, qlen)) {
		arg += qlen;
		len -= qlen;
	}
	return len && !memchr(arg, '/', len);
}

static int do_attr(struct ctl *c, int id, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char name[32], attr[256], *s;
	size_t len;
	int ret;

	if (id < 0)
		snprintf(name, sizeof(name), "zram-control");
	else
		snprintf(name, sizeof(name), "zram%d", id);
	len = eq ? (size_t)(eq - arg) : strlen(arg);
	if (len >= sizeof(attr) || !attr_name_ok(id, arg, len)) {
		fprintf(stderr, "%s: %s: %.*s: not an attribute name\n", PROG, name, (int)len, arg);
		return 1;
	}
	memcpy(attr, arg, len);
	attr[len] = '\0';
	if (eq) {
		ret = ctl_store(c, name, attr, eq + 1);
	} else {
		ret = ctl_show(c, name, attr, &s, &len);
		if (!ret) {
			fwrite(s, 1, len, stdout);
			free(s);
		}
	}
	if (ret) {
		fprintf(stderr, "%s: %s: %s: %s\n", PROG, name, attr, strerror(-ret));
		if (eq)
			store_hint(c, attr, ret);
		return 1;
	}
	return 0;
}

static int do_status(struct ctl *c, struct ctl_args *a, char **dev, int ndev)
{
	int id = -1;

	if (!a->out.ncolumns)
		ctl_default_columns(&a->out);
	if (ndev && (!strcmp(dev[0], "hot_add") || !strncmp(dev[0], "hot_remove=", 11)))
		return do_attr(c, -1, dev[0]);	/* zram-control's, given alone */
	if (ndev) {
		id = ctl_parse_name(dev[0]);
		if (id < 0 || !ctl_dev_exists(c, id))
			return no_device(dev[0]);
	}
	return ctl_status(c, &a->out, id);
}

/* NAME ATTR or NAME ATTR=VALUE; NAME may be zram-control. */
static int do_attr_cmd(struct ctl *c, char **dev)
{
	int id;

	if (!strcmp(dev[0], "zram-control"))
		return do_attr(c, -1, dev[1]);
	id = ctl_parse_name(dev[0]);
	if (id < 0)
		return no_device(dev[0]);
	return do_attr(c, id, dev[1]);
}

/* Reset, then hot_remove (as zramctl: an error of the latter is not
 * reported); the exit status. */
static int reset_one(struct ctl *c, const char *arg)
{
	char name[32], idstr[16];
	int id = ctl_parse_name(arg), ret, rc = 0;

	if (id < 0) {
		fprintf(stderr, "%s: %s: failed to reset: %s\n", PROG, arg, strerror(ENODEV));
		return 1;
	}
	snprintf(name, sizeof(name), "zram%d", id);
	ret = ctl_dev_exists(c, id) ? ctl_store(c, name, "reset", "1") : -ENODEV;
	if (ret) {
		fprintf(stderr, "%s: %s: failed to reset: %s\n", PROG, name, strerror(-ret));
		rc = 1;
	}
	snprintf(idstr, sizeof(idstr), "%d", id);
	ctl_store(c, "zram-control", "hot_remove", idstr);
	return rc;
}

static int do_reset(struct ctl *c, char **dev, int ndev)
{
	int rc = 0;

	if (!ndev) {
		fprintf(stderr, "%s: no device specified\n", PROG);
		return 1;
	}
	for (int i = 0; i < ndev; i++)
		rc |= reset_one(c, dev[i]);
	return rc;
}

static int do_find(struct ctl *c)
{
	int id = find_free(c);

	if (id < 0) {
		fprintf(stderr, "%s: no free zram device found\n", PROG);
		return 1;
	}
	printf("zram%d\n", id);
	return 0;
}

/* The device --size configures: --find's, or the one named; -1 (said). */
static int create_target(struct ctl *c, const struct ctl_args *a, char **dev, int ndev)
{
	int id;

	if (a->find) {
		id = find_free(c);
		if (id < 0)
			fprintf(stderr, "%s: no free zram device found\n", PROG);
		return id < 0 ? -1 : id;
	}
	if (!ndev) {
		fprintf(stderr, "%s: no device specified\n", PROG);
		return -1;
	}
	id = ctl_parse_name(dev[0]);
	if (id < 0 || !ctl_dev_exists(c, id)) {
		no_device(dev[0]);
		return -1;
	}
	return id;
}

/* reset, max_comp_streams, comp_algorithm, disksize; -1 (said). */
static int configure(struct ctl *c, const struct ctl_args *a, const char *name)
{
	char num[32];
	int ret = ctl_store(c, name, "reset", "1");

	if (ret) {
		fprintf(stderr, "%s: %s: failed to reset: %s\n", PROG, name, strerror(-ret));
		return -1;
	}
	if (a->streams) {
		snprintf(num, sizeof(num), "%ju", a->streams);
		ret = ctl_store(c, name, "max_comp_streams", num);
		if (ret && ret != -ENOENT) {	/* gone since 6.15: ignored */
			fprintf(stderr, "%s: %s: failed to set number of streams: %s\n",
				PROG, name, strerror(-ret));
			return -1;
		}
	}
	if (a->algorithm) {
		ret = ctl_store(c, name, "comp_algorithm", a->algorithm);
		if (ret) {
			fprintf(stderr, "%s: %s: failed to set algorithm: %s\n", PROG, name,
				strerror(-ret));
			return -1;
		}
	}
	if (a->params) {
		ret = ctl_store(c, name, "algorithm_params", a->params);
		if (ret) {
			fprintf(stderr, "%s: %s: failed to set algorithm params: %s\n", PROG,
				name, strerror(-ret));
			store_hint(c, "algorithm_params", ret);
			return -1;
		}
	}
	snprintf(num, sizeof(num), "%ju", a->size);
	ret = ctl_store(c, name, "disksize", num);
	if (ret) {
		fprintf(stderr, "%s: %s: failed to set disksize (%ju bytes): %s\n", PROG,
			name, a->size, strerror(-ret));
		return -1;
	}
	return 0;
}

static int do_create(struct ctl *c, const struct ctl_args *a, char **dev, int ndev)
{
	char name[32];
	int id = create_target(c, a, dev, ndev);

	if (id < 0)
		return 1;
	snprintf(name, sizeof(name), "zram%d", id);
	if (configure(c, a, name))
		return 1;
	if (a->find)
		printf("%s\n", name);
	return 0;
}

/*
 * --save FILE or --restore FILE: the server writes or reads the file, so a
 * relative name is made absolute here. The exit status.
 */
static int do_image(struct ctl *c, const struct ctl_args *a, const char *arg)
{
	const char *verb = a->save ? "save" : "restore", *file = a->save ? a->save : a->restore;
	char name[32], cwd[PATH_MAX], path[2 * PATH_MAX];
	const char *msg;
	int id = ctl_parse_name(arg), ret;

	if (id < 0)
		return no_device(arg);
	snprintf(name, sizeof(name), "zram%d", id);
	if (file[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		snprintf(path, sizeof(path), "%s", file);
	else
		snprintf(path, sizeof(path), "%s/%s", cwd, file);
	ret = ctl_image(c, verb, name, path, &msg);
	if (ret == -EOPNOTSUPP && !*msg) {
		fprintf(stderr, "%s: --%s works through the control socket of uzram serve only: "
			"a sysfs tree, and the kernel's zram, have no such operation\n", PROG, verb);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "%s: %s: --%s %s: %s\n", PROG, name, verb, file,
			*msg ? msg : strerror(-ret));
		if (ret == -EPERM)
			fprintf(stderr, "%s: uzram serve writes and reads images only below its "
				"--allow-path directories: start it with --allow-path DIR, DIR "
				"holding the file\n", PROG);
		return 1;
	}
	return 0;
}

/* ---- the command ---- */

/* What the options and ndev operands ask for; -1 (said) if they do not
 * go together. */
static int action(const struct ctl_args *a, int ndev)
{
	int act = a->reset ? A_RESET : a->create ? A_CREATE : a->find ? A_FINDONLY : A_STATUS;

	if (a->find && ndev) {
		fprintf(stderr, "%s: option --find is mutually exclusive with <device>\n", PROG);
		return -1;
	}
	if (a->save || a->restore) {
		if (ndev == 1 && !(a->save && a->restore) && !a->create && !a->find &&
		    !a->reset && !a->algorithm && !a->params && !a->streams)
			return A_IMAGE;
		fprintf(stderr, "%s: --save and --restore take one <device> and no other "
			"action\n", PROG);
		return -1;
	}
	if (act == A_STATUS && ndev == 2)
		act = A_ATTR;
	if (act != A_RESET && ndev > (act == A_ATTR ? 2 : 1)) {
		fprintf(stderr, "%s: only one <device> at a time is allowed\n", PROG);
		return -1;
	}
	if ((act == A_STATUS || act == A_FINDONLY || act == A_ATTR) &&
	    (a->algorithm || a->params || a->streams)) {
		/* newer zramctl's words (util-linux 2.41, with -p) */
		fprintf(stderr, "%s: options --algorithm, --algorithm-params, and --streams "
			"must be combined with --size\n", PROG);
		return -1;
	}
	return act;
}

static int open_transport(struct ctl *c, const struct ctl_args *a)
{
	if (a->control && a->sysfs) {
		fprintf(stderr, "%s: --control and --sysfs are mutually exclusive\n", PROG);
		return -1;
	}
	return a->sysfs ? ctl_open_tree(c, a->sysfs) : ctl_open_socket(c, a->control);
}

int cmd_ctl(int argc, char **argv)
{
	struct ctl_args a = { .algorithm = NULL };
	struct ctl c = { .t = NULL };
	int first = opt_parse(&ctl_cmd, argc, argv, &a);
	char **dev = argv + first;
	int ndev = argc - first;

	if (first == OPT_HELP) {
		usage(stdout);
		return 0;
	}
	if (first < 0)
		return first == OPT_EXIT ? 0 : 1;
	if (open_transport(&c, &a))
		return 1;
	switch (action(&a, ndev)) {
	case A_STATUS:
		return do_status(&c, &a, dev, ndev);
	case A_ATTR:
		return do_attr_cmd(&c, dev);
	case A_RESET:
		return do_reset(&c, dev, ndev);
	case A_FINDONLY:
		return do_find(&c);
	case A_CREATE:
		return do_create(&c, &a, dev, ndev);
	case A_IMAGE:
		return do_image(&c, &a, dev[0]);
	default:
		return 1;
	}
}
