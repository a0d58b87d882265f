/*
 * fuse_tree.c - the FUSE tree's inodes and directories: DIR, DIR/zram-control,
 * DIR/zramN and DIR/zramN/queue, laid out like sysfs. Inode numbers are fixed
 * by position (fuse_internal.h), so nothing is allocated per inode and a
 * number names the same file for as long as its device exists. Nothing may
 * be created, removed or renamed, and nothing is cached: devices come and go.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"

#ifdef HAVE_FUSE3

#include <sys/statvfs.h>

#include "fuse_internal.h"

/* ---- inodes ---- */

static fuse_ino_t dev_ino(int id, unsigned int slot)
{
	return INO_DEV_BASE + (fuse_ino_t)id * INO_PER_DEV + slot;
}

/*
 * The file name of attribute i in directory dir (N_DEV or N_QUEUE), or NULL
 * when it lives in the other one: "queue/NAME" is NAME in queue/.
 */
static const char *attr_name_in(size_t i, enum node_kind dir)
{
	const char *name = uzram_attr_at(i)->name;
	size_t plen = strlen(QUEUE_PREFIX);

	if (!strncmp(name, QUEUE_PREFIX, plen))
		return dir == N_QUEUE ? name + plen : NULL;
	return dir == N_DEV ? name : NULL;
}

/* The inode of the attribute file called name in directory p, or 0. */
static fuse_ino_t attr_ino(struct fuse_front *f, const struct node *p,
			   const char *name)
{
	for (size_t i = 0; i < f->nr_attrs; i++) {
		const char *n = attr_name_in(i, p->kind);

		if (n && !strcmp(n, name))
			return dev_ino(p->id, (unsigned int)i + 1);
	}
	return 0;
}

bool fuse_node_of(struct fuse_front *f, fuse_ino_t ino, struct node *n)
{
	uint64_t rel, id, slot;

	memset(n, 0, sizeof(*n));
	switch (ino) {
	case INO_ROOT:
		n->kind = N_ROOT;
		return true;
	case INO_CONTROL:
		n->kind = N_CONTROL;
		return true;
	case INO_HOT_ADD:
		n->kind = N_HOT_ADD;
		return true;
	case INO_HOT_REMOVE:
		n->kind = N_HOT_REMOVE;
		return true;
	}
	if (ino < INO_DEV_BASE)
		return false;
	rel = ino - INO_DEV_BASE;
	id = rel / INO_PER_DEV;
	slot = rel % INO_PER_DEV;
	if (id > INT_MAX || !uzram_exists(f->z, (int)id))
		return false;
	n->id = (int)id;
	if (slot == 0) {
		n->kind = N_DEV;
	} else if (slot == SLOT_QUEUE) {
		n->kind = N_QUEUE;
	} else if (slot == SLOT_DISK) {
		n->kind = N_DISK;
	} else if (slot <= f->nr_attrs) {
		n->kind = N_ATTR;
		n->attr = uzram_attr_at(slot - 1);
	} else {
		return false;
	}
	return true;
}

static void fill_stat(struct fuse_front *f, fuse_ino_t ino,
		      const struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = f->uid;
	st->st_gid = f->gid;
	st->st_atim = st->st_mtim = st->st_ctim = f->start;
	st->st_blksize = UZ_PAGE_SIZE;
	switch (n->kind) {
	case N_ROOT:
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 3 + uzram_list(f->z, NULL, 0);
		break;
	case N_CONTROL:
	case N_QUEUE:
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		break;
	case N_DEV:
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 3;	/* and queue/ */
		break;
	case N_HOT_ADD:
		st->st_mode = S_IFREG | 0400;
		st->st_nlink = 1;
		st->st_size = ATTR_BUF;
		break;
	case N_HOT_REMOVE:
		st->st_mode = S_IFREG | 0200;
		st->st_nlink = 1;
		st->st_size = ATTR_BUF;
		break;
	case N_ATTR:
		st->st_mode = S_IFREG | n->attr->mode;
		st->st_nlink = 1;
		st->st_size = ATTR_BUF;
		break;
	case N_DISK: {
		struct uzram_stats s;

		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		if (uzram_stats(f->z, n->id, &s) == 0) {
			st->st_size = (off_t)s.disksize;
			st->st_blocks = (blkcnt_t)(s.mem_used_total / 512);
		}
		break;
	}
	}
}

static void reply_entry(fuse_req_t req, fuse_ino_t ino, const struct node *n)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = ino;
	/* Nothing is cached: devices come and go, disk's size changes. */
	e.attr_timeout = 0;
	e.entry_timeout = 0;
	fill_stat(front_of(req), ino, n, &e.attr);
	fuse_reply_entry(req, &e);
}

/* ---- directories ---- */

void fuse_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_front *f = front_of(req);
	struct node p, n;
	fuse_ino_t ino = 0;

	if (!fuse_node_of(f, parent, &p)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (p.kind) {
	case N_ROOT:
		if (!strcmp(name, "zram-control")) {
			ino = INO_CONTROL;
		} else {
			int id = uzram_name_id(name, strlen(name));

			if (id >= 0)
				ino = dev_ino(id, 0);
		}
		break;
	case N_CONTROL:
		if (!strcmp(name, "hot_add"))
			ino = INO_HOT_ADD;
		else if (!strcmp(name, "hot_remove"))
			ino = INO_HOT_REMOVE;
		break;
	case N_DEV:
		if (!strcmp(name, "disk"))
			ino = dev_ino(p.id, SLOT_DISK);
		else if (!strcmp(name, "queue"))
			ino = dev_ino(p.id, SLOT_QUEUE);
		else
			ino = attr_ino(f, &p, name);
		break;
	case N_QUEUE:
		ino = attr_ino(f, &p, name);
		break;
	default:
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (!ino || !fuse_node_of(f, ino, &n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	reply_entry(req, ino, &n);
}

void fuse_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fuse_front *f = front_of(req);
	struct node n;
	struct stat st;

	if (!fuse_node_of(f, ino, &n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_stat(f, ino, &n, &st);
	fuse_reply_attr(req, &st, 0);
}

/*
 * As sysfs: truncation and times are accepted and change nothing (`echo >`
 * truncates first). disk keeps its size: only its own size is accepted.
 */
void fuse_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		     int to_set, struct fuse_file_info *fi)
{
	struct fuse_front *f = front_of(req);
	struct node n;
	struct stat st;

	if (!fuse_node_of(f, ino, &n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_stat(f, ino, &n, &st);
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (S_ISDIR(st.st_mode)) {
			fuse_reply_err(req, EISDIR);
			return;
		}
		if (n.kind == N_DISK && attr->st_size != st.st_size) {
			fuse_reply_err(req, f->read_only ? EROFS : EINVAL);
			return;
		}
	}
	fuse_reply_attr(req, &st, 0);
}

struct dirent_list {
	char *buf;
	size_t size, used;
	off_t index, from;
	fuse_req_t req;
	bool full;
};

static void add_dirent(struct dirent_list *l, const char *name, fuse_ino_t ino,
		       mode_t mode)
{
	struct stat st;
	size_t n;

	l->index++;
	if (l->full || l->index <= l->from)
		return;
	memset(&st, 0, sizeof(st));
	st.st_ino = ino;
	st.st_mode = mode;
	n = fuse_add_direntry(l->req, l->buf + l->used, l->size - l->used, name,
			      &st, l->index);
	if (n > l->size - l->used) {
		l->full = true;
		return;
	}
	l->used += n;
}

/* The attribute files of directory n (N_DEV or N_QUEUE). */
static void add_attr_dirents(struct fuse_front *f, struct dirent_list *l,
			     const struct node *n)
{
	for (size_t i = 0; i < f->nr_attrs; i++) {
		const char *name = attr_name_in(i, n->kind);

		if (name)
			add_dirent(l, name, dev_ino(n->id, (unsigned int)i + 1),
				   S_IFREG);
	}
}

void fuse_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fuse_front *f = front_of(req);
	struct dirent_list l = { .size = size, .from = off, .req = req };
	struct node n;
	char name[32];

	if (!fuse_node_of(f, ino, &n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	l.buf = malloc(size ? size : 1);
	if (!l.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	switch (n.kind) {
	case N_ROOT: {
		int *ids;
		long cnt = uzram_list_all(f->z, &ids);

		if (cnt < 0) {
			free(l.buf);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		add_dirent(&l, ".", INO_ROOT, S_IFDIR);
		add_dirent(&l, "..", INO_ROOT, S_IFDIR);
		add_dirent(&l, "zram-control", INO_CONTROL, S_IFDIR);
		for (long i = 0; i < cnt; i++) {
			snprintf(name, sizeof(name), "zram%d", ids[i]);
			add_dirent(&l, name, dev_ino(ids[i], 0), S_IFDIR);
		}
		free(ids);
		break;
	}
	case N_CONTROL:
		add_dirent(&l, ".", INO_CONTROL, S_IFDIR);
		add_dirent(&l, "..", INO_ROOT, S_IFDIR);
		add_dirent(&l, "hot_add", INO_HOT_ADD, S_IFREG);
		add_dirent(&l, "hot_remove", INO_HOT_REMOVE, S_IFREG);
		break;
	case N_DEV:
		add_dirent(&l, ".", ino, S_IFDIR);
		add_dirent(&l, "..", INO_ROOT, S_IFDIR);
		add_attr_dirents(f, &l, &n);
		add_dirent(&l, "queue", dev_ino(n.id, SLOT_QUEUE), S_IFDIR);
		add_dirent(&l, "disk", dev_ino(n.id, SLOT_DISK), S_IFREG);
		break;
	case N_QUEUE:
		add_dirent(&l, ".", ino, S_IFDIR);
		add_dirent(&l, "..", dev_ino(n.id, 0), S_IFDIR);
		add_attr_dirents(f, &l, &n);
		break;
	default:
		free(l.buf);
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	fuse_reply_buf(req, l.buf, l.used);
	free(l.buf);
}

/* Nothing may be created, removed or renamed, as in sysfs. */
void fuse_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		   mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EACCES);
}

void fuse_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		   mode_t mode)
{
	fuse_reply_err(req, EACCES);
}

void fuse_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EACCES);
}

void fuse_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		    fuse_ino_t newparent, const char *newname,
		    unsigned int flags)
{
	fuse_reply_err(req, EACCES);
}

void fuse_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EACCES);
}

void fuse_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = UZ_PAGE_SIZE;
	sv.f_frsize = UZ_PAGE_SIZE;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

#endif /* HAVE_FUSE3 */
