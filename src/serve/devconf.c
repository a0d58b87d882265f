/*
 * devconf.c - the devices configured at start (devconf.h): --device's
 * syntax, the settings of every device, and their stores through the
 * attribute API, as `echo ... > /sys/block/zramN/ATTR` in the kernel's
 * order.
 *
 * The stores are the server owner's: serve.c makes them before it installs
 * the --allow-path list, which restricts what clients of the control socket
 * and the FUSE tree may name, not what the command line and the --config
 * file name (docs/config.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devconf.h"
#include "opt.h"
#include "units.h"

#define PROG	"uzram serve"

/* --device's keys; each also under the attribute's own name. */
static const struct dev_key {
	const char *name, *attr;
	enum devconf_key key;
	bool size;		/* a size, checked with valid_size */
} dev_keys[] = {
	{ "size", "disksize", DC_DISKSIZE, true },
	{ "algorithm", "comp_algorithm", DC_ALGORITHM, false },
	{ "algorithm-params", "algorithm_params", DC_PARAMS, false },
	{ "mem-limit", "mem_limit", DC_MEM_LIMIT, true },
	{ "backing-dev", "backing_dev", DC_BACKING_DEV, false },
	{ "recomp-algorithm", "recomp_algorithm", DC_RECOMP, false },
};
#define KEY_LIST "size, algorithm, algorithm-params, mem-limit, backing-dev, recomp-algorithm"

static bool is_recomp(enum devconf_key key)
{
	return key >= DC_RECOMP && key < DC_RECOMP + DEVCONF_MAX_RECOMP;
}

/* The settings of a recompression priority: its algorithm and parameters. */
static bool recomp_group(enum devconf_key key)
{
	return is_recomp(key) || (key > DC_PARAMS && key <= DC_PARAMS + DEVCONF_MAX_RECOMP);
}

/* The attribute a setting is stored to. */
static const char *attr_of(enum devconf_key key)
{
	if (key == DC_ALGORITHM)
		return "comp_algorithm";
	if (is_recomp(key))
		return "recomp_algorithm";
	if (key == DC_BACKING_DEV)
		return "backing_dev";
	if (key == DC_MEM_LIMIT)
		return "mem_limit";
	return key == DC_DISKSIZE ? "disksize" : "algorithm_params";
}

/* ---- the set ---- */

static struct devconf *find(const struct devconf_set *s, unsigned int id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->dev[i].id == id)
			return &s->dev[i];
	return NULL;
}

struct devconf *devconf_get(struct devconf_set *s, unsigned int id)
{
	struct devconf *d = find(s, id), *grown;
	size_t at = 0;

	if (d)
		return d;
	grown = realloc(s->dev, (s->n + 1) * sizeof(*s->dev));
	if (!grown)
		return NULL;
	s->dev = grown;
	while (at < s->n && s->dev[at].id < id)
		at++;
	memmove(&s->dev[at + 1], &s->dev[at], (s->n - at) * sizeof(*s->dev));
	s->n++;
	s->dev[at] = (struct devconf){ .id = id };
	return &s->dev[at];
}

/* A recompression priority set on the command line. */
static bool cmdline_recomp(const struct devconf *d)
{
	for (int k = DC_RECOMP; k < DC_RECOMP + DEVCONF_MAX_RECOMP; k++)
		if (d->item[k].value && !d->item[k].from_file)
			return true;
	return false;
}

int devconf_set(struct devconf *d, enum devconf_key key, const char *value,
		const char *label, bool from_file)
{
	struct devconf_item *it = &d->item[key];
	char *v, *l;

	if (from_file && ((it->value && !it->from_file) ||
			  (recomp_group(key) && cmdline_recomp(d))))
		return 0;	/* the command line's stands */
	v = strdup(value);
	l = strdup(label);
	if (!v || !l) {
		free(v);
		free(l);
		return -ENOMEM;
	}
	free(it->value);
	free(it->label);
	*it = (struct devconf_item){ .value = v, .label = l, .from_file = from_file };
	return 0;
}

void devconf_free(struct devconf_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		for (int k = 0; k < DC_NKEYS; k++) {
			free(s->dev[i].item[k].value);
			free(s->dev[i].item[k].label);
		}
	free(s->dev);
	*s = (struct devconf_set){ .n = 0 };
}

unsigned int devconf_count(const struct devconf_set *s)
{
	unsigned int n = 0;

	for (size_t i = 0; i < s->n; i++) {
		bool set = s->dev[i].named;

		for (int k = 0; k < DC_NKEYS && !set; k++)
			set = s->dev[i].item[k].value != NULL;
		if (set && s->dev[i].id + 1 > n)
			n = s->dev[i].id + 1;
	}
	return n;
}

/* ---- --device ---- */

/* "uzram serve: --device SPEC: why" on stderr; OPT_ERR. */
static int __attribute__((format(printf, 2, 3)))
device_error(const char *spec, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": --device %s: ", spec);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return OPT_ERR;
}

static const struct dev_key *find_key(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(dev_keys) / sizeof(dev_keys[0]); i++) {
		const struct dev_key *k = &dev_keys[i];

		if ((strlen(k->name) == len && !strncmp(name, k->name, len)) ||
		    (strlen(k->attr) == len && !strncmp(name, k->attr, len)))
			return k;
	}
	return NULL;
}

/* recomp-algorithm=NAME: the next free priority. */
static int add_recomp(struct devconf *d, const char *name, const char *label)
{
	char value[160];

	for (int p = 1; p <= DEVCONF_MAX_RECOMP; p++) {
		if (d->item[DC_RECOMP + p - 1].value)
			continue;
		snprintf(value, sizeof(value), "algo=%.128s priority=%d", name, p);
		return devconf_set(d, DC_RECOMP + p - 1, value, label, false) ?
			device_error(label + 9, "%s", strerror(ENOMEM)) : 0;
	}
	return device_error(label + 9, "at most %d recompression algorithms",
			    DEVCONF_MAX_RECOMP);
}

/* One KEY=VALUE of device d; label is "--device zramN:KEY=VALUE". */
static int device_pair(struct devconf *d, const char *label)
{
	const char *pair = strchr(label + 9, ':') + 1, *eq = strchr(pair, '=');
	const struct dev_key *k;

	if (!eq || eq == pair || !eq[1])
		return device_error(label + 9, "%s", "KEY=VALUE expected, e.g. size=1G");
	k = find_key(pair, (size_t)(eq - pair));
	if (!k)
		return device_error(label + 9, "unknown key; the keys are %s", KEY_LIST);
	if (k->size && !valid_size(eq + 1))
		return device_error(label + 9, "%s", "not a size (e.g. 1G, 512M, 0)");
	if (k->key == DC_RECOMP)
		return add_recomp(d, eq + 1, label);
	if (devconf_set(d, k->key, eq + 1, label, false))
		return device_error(label + 9, "%s", strerror(ENOMEM));
	return 0;
}

/* zramN, N from 0 to DEVCONF_MAX_DEVICES - 1: the id, and where it ends. */
static int device_name(const char *spec, unsigned int *id, const char **end)
{
	size_t n = strncmp(spec, "zram", 4) ? 0 : strspn(spec + 4, "0123456789");

	if (n == 0 || n > 4 || (spec[4] == '0' && n > 1))
		return -1;
	*id = (unsigned int)strtoul(spec + 4, NULL, 10);
	*end = spec + 4 + n;
	return *id < DEVCONF_MAX_DEVICES ? 0 : -1;
}

int devconf_parse_device(struct devconf_set *s, const char *spec)
{
	const char *p;
	unsigned int id;
	struct devconf *d;

	if (device_name(spec, &id, &p) || (*p && *p != ':'))
		return device_error(spec, "%s", "not zramN[:KEY=VALUE,...] with N from 0 to 1023");
	d = devconf_get(s, id);
	if (!d)
		return device_error(spec, "%s", strerror(ENOMEM));
	d->named = true;
	while (*p) {	/* at the ':' or ',' before a pair */
		size_t n = strcspn(p + 1, ",");
		char *label;
		int ret;

		if (n == 0)
			return device_error(spec, "%s", "an empty KEY=VALUE (pairs are separated "
					    "by single commas)");
		if (asprintf(&label, "--device zram%u:%.*s", id, (int)n, p + 1) < 0)
			return device_error(spec, "%s", strerror(ENOMEM));
		ret = device_pair(d, label);
		free(label);
		if (ret)
			return ret;
		p += 1 + n;
	}
	return 0;
}

/* --size or --algorithm for zram0, unless --device zram0 gave it too. */
static int zram0_option(struct devconf_set *s, enum devconf_key key, const char *opt,
			const char *val)
{
	struct devconf *d = devconf_get(s, 0);
	char label[64];

	if (!d) {
		fprintf(stderr, PROG ": --%s: %s\n", opt, strerror(ENOMEM));
		return OPT_ERR;
	}
	if (d->item[key].value) {
		fprintf(stderr, PROG ": --%s and %s both set zram0's %s: give one\n", opt,
			d->item[key].label, attr_of(key));
		return OPT_ERR;
	}
	snprintf(label, sizeof(label), "--%s %.40s", opt, val);
	return devconf_set(d, key, val, label, false) ? OPT_ERR : 0;
}

int devconf_zram0_options(struct devconf_set *s, const char *size, const char *algorithm)
{
	if (size && zram0_option(s, DC_DISKSIZE, "size", size))
		return OPT_ERR;
	if (algorithm && zram0_option(s, DC_ALGORITHM, "algorithm", algorithm))
		return OPT_ERR;
	return 0;
}

int devconf_default_size(struct devconf_set *s, const char *size)
{
	struct devconf *d = find(s, 0);
	char label[64];

	if (d && (d->skipped || d->item[DC_DISKSIZE].value))
		return 0;
	d = devconf_get(s, 0);
	snprintf(label, sizeof(label), "--size %s (the default)", size);
	return d ? devconf_set(d, DC_DISKSIZE, size, label, false) : -ENOMEM;
}

/* ---- the stores ---- */

/* Why a store failed, in the words of --size's and --algorithm's errors. */
static const char *store_error(enum devconf_key key, int err)
{
	const char *why = uzram_store_reason();

	if (err == -EINVAL && (key == DC_ALGORITHM || is_recomp(key)))
		return "unknown algorithm";
	if (why)
		return why;
	return err == -EINVAL && key == DC_DISKSIZE ? "not a size (e.g. 1G, 512M)" :
		strerror(-err);
}

/* A disksize store failed with err: the size, or the algorithm refusing
 * the parameters algorithm_params gave it (EINVAL, EOPNOTSUPP)? */
static void say_disksize_error(const struct devconf *d, int err)
{
	const struct devconf_item *params = NULL;

	for (int k = DC_PARAMS; k <= DC_PARAMS + DEVCONF_MAX_RECOMP; k++)
		if (d->item[k].value)
			params = &d->item[k];
	if (params && !uzram_store_reason() && (err == -EINVAL || err == -EOPNOTSUPP))
		fprintf(stderr, PROG ": %s: the algorithm refuses the parameters of %s (%s)\n",
			d->item[DC_DISKSIZE].label, params->label, strerror(-err));
	else
		fprintf(stderr, PROG ": %s: %s\n", d->item[DC_DISKSIZE].label,
			store_error(DC_DISKSIZE, err));
}

static int apply_item(struct uzram *z, const struct devconf *d, enum devconf_key key)
{
	const struct devconf_item *it = &d->item[key];
	int ret;

	if (key == DC_DISKSIZE && !valid_size(it->value)) {
		fprintf(stderr, PROG ": %s: not a size (e.g. 1G, 512M, 0)\n", it->label);
		return -1;
	}
	if (key == DC_DISKSIZE && strtoull(it->value, NULL, 10) == 0)
		return 0;	/* 0: left uninitialised */
	ret = uzram_attr_store(z, (int)d->id, attr_of(key), it->value, strlen(it->value));
	if (ret && key == DC_DISKSIZE)
		say_disksize_error(d, ret);
	else if (ret)
		fprintf(stderr, PROG ": %s: %s\n", it->label, store_error(key, ret));
	return ret ? -1 : 0;
}

int devconf_apply(const struct devconf_set *s, struct uzram *z)
{
	for (size_t i = 0; i < s->n; i++)
		for (int k = 0; k < DC_NKEYS; k++)
			if (s->dev[i].item[k].value && apply_item(z, &s->dev[i], k))
				return -1;
	return 0;
}
