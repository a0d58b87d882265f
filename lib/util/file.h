/*
 * file.h - reading a whole file into memory, and replacing one whole.
 */
#ifndef UZRAM_FILE_H
#define UZRAM_FILE_H

#include <stddef.h>

/*
 * Read the regular file at path, whole, into a new buffer (*data, free()
 * it; *len bytes). Its size is at most max. unit 0: any size, an empty file
 * too; otherwise the size is a non-zero multiple of unit (a power of two)
 * and the buffer is aligned to it. Returns 0, -EINVAL (not a regular file,
 * or a size refused), -ENOMEM, -EIO (the file ended early), or the -errno of
 * open, fstat or read.
 */
int read_whole_file(const char *path, size_t max, size_t unit, void **data,
		    size_t *len);

/* The same for a file already open (O_NONBLOCK, so that opening a FIFO did
 * not wait): fd stays open. */
int read_whole_fd(int fd, size_t max, size_t unit, void **data, size_t *len);

/*
 * Replacing dirfd/name whole, so that a crash never leaves half a file
 * under that name: file_replace_begin makes a temporary file beside it
 * (".NAME.XXXXXXXX.tmp", mode 0600, O_EXCL) and returns its descriptor
 * (its name in tmp, size bytes); the caller writes it; file_replace_commit
 * fsyncs it, closes it, renames it over name and fsyncs the directory
 * (0 or -errno; on failure the temporary file is removed); or
 * file_replace_abort closes and removes it. A crash before the rename
 * leaves name as it was (and the temporary file).
 */
int file_replace_begin(int dirfd, const char *name, char *tmp, size_t size);
int file_replace_commit(int dirfd, int fd, const char *tmp, const char *name);
void file_replace_abort(int dirfd, int fd, const char *tmp);

#endif /* UZRAM_FILE_H */
