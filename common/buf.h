/* SPDX-License-Identifier: MIT */
/* buf.h -- growable byte buffer with a size cap, used by every module.
 *
 * Invariants: `data` is NULL only while `cap` is 0; when data is non-NULL,
 * data[len] is always '\0' (so text can be passed to C string functions),
 * and len < cap. `max` (0 = no cap) bounds len: an append that would pass it
 * fails with -E2BIG and leaves the buffer unchanged, so input from a file or
 * the network can never make us allocate without bound.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

#define BUF_INIT                                           \
	{                                                  \
		.data = NULL, .len = 0, .cap = 0, .max = 0 \
	}

/* An array p of *cap elements of size bytes, n of them used, with room for
 * one more: doubled (from 8) when full. Returns the array, possibly moved,
 * or NULL when out of memory or the size would overflow; p and *cap are
 * then still valid. For the arrays that grow one entry at a time (a
 * connection's exchanges, the replay index's connections and streams). */
void *array_room(void *p, size_t n, size_t *cap, size_t size);

void buf_init(struct buf *b, size_t max);
/* Frees the storage; accepts NULL. The buffer is left as after buf_init(b, b->max). */
void buf_release(struct buf *b);
/* Makes room for `extra` more bytes. @return 0, -ENOMEM or -E2BIG. */
int buf_reserve(struct buf *b, size_t extra);
/* @return 0, -ENOMEM or -E2BIG (buffer unchanged on failure). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends everything fd yields until end of file (read(2), EINTR retried),
 * reading straight into the buffer; `hint` (the file's size, or 0) sizes
 * the first allocation. @return 0, -E2BIG when the data passes max (the
 * bytes read so far stay), -ENOMEM, or -errno from read. */
int buf_read_fd(struct buf *b, int fd, size_t hint);
/* Drops the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Takes ownership of the data: returns it (NUL-terminated, caller frees) and
 * leaves b empty. Returns an empty malloc'd string for an empty buffer, NULL on OOM. */
char *buf_steal(struct buf *b);

static inline void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Fast path for one byte. @return 0 or a negative errno as buf_append. */
static inline int buf_putc(struct buf *b, char c)
{
	if (b->len + 1 < b->cap) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return 0;
	}
	return buf_append(b, &c, 1);
}

static inline char buf_last(const struct buf *b)
{
	return b->len ? b->data[b->len - 1] : '\0';
}
