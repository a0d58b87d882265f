/*
 * file.h - reading a whole file into memory.
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

#endif /* UZRAM_FILE_H */
