/*
 * fuse_attr.c - the FUSE tree's attribute files (DIR/zramN/<attribute>) and
 * zram-control's hot_add and hot_remove. Everything goes through the
 * library's one attribute table (uzram_attr_show / uzram_attr_store), as the
 * control socket and `uzram ctl` do; this file only maps files onto it.
 *
 * They behave as kernfs files do (only chmod and chown, which sysfs allows,
 * are refused: EPERM, fuse_tree.c). A read at offset 0 calls show and keeps
 * the text for the reads that follow, as seq_file does; every write(2) is
 * one store of at most a page, its offset ignored, and a failed store fails
 * write(2) with the attribute's errno. They are direct_io files: the kernel
 * caches nothing and does not clip reads to the 4096 bytes stat reports
 * (sysfs's size too). block_state is the kernel's debugfs format, paged by
 * byte offset over the library's slot cursor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"
#include "refusal.h"

#ifdef HAVE_FUSE3

#include "fuse_internal.h"

#define BS_CHUNK	(64u << 10)	/* block_state generated per step */

/* block_state, paged by byte offset over the library's slot cursor. */
static void read_block_state(fuse_req_t req, struct handle *h, size_t size,
			     off_t off)
{
	struct fuse_front *f = front_of(req);
	char *out = malloc(size ? size : 1);
	size_t n = 0;

	if (!out) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (!h->text) {
		h->text = malloc(BS_CHUNK);
		if (!h->text) {
			pthread_mutex_unlock(&h->lock);
			free(out);
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	/* h->text[0..len) is the stream from offset bs_pos on */
	if (off == 0 || (uint64_t)off < h->bs_pos) {
		h->bs_slot = 0;
		h->bs_pos = 0;
		h->len = 0;
	}
	while (n < size) {
		uint64_t want = (uint64_t)off + n;
		size_t skip, take;

		if (!h->len) {
			long got = uzram_block_state(f->z, h->node.id, &h->bs_slot,
						     h->text, BS_CHUNK);
			if (got < 0) {
				pthread_mutex_unlock(&h->lock);
				free(out);
				fuse_reply_err(req, (int)-got);
				return;
			}
			if (got == 0)
				break;
			h->len = (size_t)got;
		}
		if (h->bs_pos + h->len <= want) {
			h->bs_pos += h->len;
			h->len = 0;
			continue;
		}
		skip = (size_t)(want - h->bs_pos);
		take = UZ_MIN(h->len - skip, size - n);
		memcpy(out + n, h->text + skip, take);
		n += take;
		h->bs_pos += skip + take;
		h->len -= skip + take;
		memmove(h->text, h->text + skip + take, h->len);
	}
	pthread_mutex_unlock(&h->lock);
	fuse_reply_buf(req, out, n);
	free(out);
}

/*
 * A read at offset 0 shows afresh; later reads continue that text. The
 * reply is sent from a copy, after the handle is let go: once the reader
 * has its data it may close, and RELEASE may free the handle at once.
 */
static void read_text(fuse_req_t req, struct handle *h, size_t size, off_t off)
{
	struct fuse_front *f = front_of(req);
	char out[ATTR_BUF];
	size_t len = 0;
	long n;

	pthread_mutex_lock(&h->lock);
	if (off == 0 || !h->have) {
		if (!h->text)
			h->text = malloc(ATTR_BUF + 1);
		if (!h->text) {
			pthread_mutex_unlock(&h->lock);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		if (h->node.kind == N_HOT_ADD)
			n = uzram_control_show(f->z, "hot_add", h->text, ATTR_BUF + 1);
		else
			n = uzram_attr_show(f->z, h->node.id, h->node.attr->name,
					    h->text, ATTR_BUF + 1);
		if (n < 0) {
			h->have = false;
			pthread_mutex_unlock(&h->lock);
			fuse_reply_err(req, (int)-n);
			return;
		}
		h->len = UZ_MIN((size_t)n, (size_t)ATTR_BUF);
		h->have = true;
	}
	if ((uint64_t)off < h->len) {
		len = UZ_MIN(size, h->len - (size_t)off);
		memcpy(out, h->text + off, len);
	}
	pthread_mutex_unlock(&h->lock);
	fuse_reply_buf(req, out, len);
}

/* One store per write(2), at most a page of it, its offset ignored. */
static void write_text(fuse_req_t req, struct handle *h, const char *buf,
		       size_t size)
{
	struct fuse_front *f = front_of(req);
	size_t len = UZ_MIN(size, (size_t)ATTR_BUF);
	int ret, busy_id = -1, id = -1;
	const char *name = "hot_remove";

	if (h->node.kind == N_HOT_REMOVE) {
		ret = uzram_control_store(f->z, "hot_remove", buf, len);
		if (ret == -EBUSY) {
			char tmp[24];

			snprintf(tmp, sizeof(tmp), "%.*s", (int)UZ_MIN(len, sizeof(tmp) - 1), buf);
			busy_id = atoi(tmp);
		}
		if (busy_id >= 0 && fuse_wait_for_release(f, busy_id))
			ret = uzram_control_store(f->z, "hot_remove", buf, len);
	} else {
		name = h->node.attr->name;
		id = h->node.id;
		ret = uzram_attr_store(f->z, id, name, buf, len);
		if (ret == -EBUSY && !strcmp(name, "reset") &&
		    fuse_wait_for_release(f, id))
			ret = uzram_attr_store(f->z, id, name, buf, len);
	}
	if (ret) {
		refusal_log(id, name, ret);
		fuse_reply_err(req, -ret);
	} else {
		fuse_reply_write(req, len);
	}
}

void fuse_attr_read(fuse_req_t req, struct handle *h, size_t size, off_t off)
{
	if (h->node.kind == N_ATTR && !strcmp(h->node.attr->name, "block_state"))
		read_block_state(req, h, size, off);
	else
		read_text(req, h, size, off);
}

void fuse_attr_write(fuse_req_t req, struct handle *h, const char *buf,
		     size_t size)
{
	if (!size)
		fuse_reply_write(req, 0);
	else
		write_text(req, h, buf, size);
}

#endif /* HAVE_FUSE3 */
