/* SPDX-License-Identifier: MIT */
/* buf.c -- growable byte buffer with a size cap (see buf.h for the invariants). */
#include "common/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/hot.h"

#define BUF_MIN_CAP 64

void buf_init(struct buf *b, size_t max)
{
	*b = (struct buf){ .data = NULL, .len = 0, .cap = 0, .max = max };
}

void *array_room(void *p, size_t n, size_t *cap, size_t size)
{
	size_t c = *cap ? *cap * 2 : 8;
	void *q;

	if (n < *cap)
		return p;
	if (c < *cap || c > SIZE_MAX / size)
		return NULL;
	q = realloc(p, c * size);
	if (q)
		*cap = c;
	return q;
}

void buf_release(struct buf *b)
{
	if (!b)
		return;
	free(b->data);
	buf_init(b, b->max);
}

AT_HOT int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > SIZE_MAX - 1 - b->len)
		return -E2BIG;
	if (b->max && b->len + extra > b->max)
		return -E2BIG;
	need = b->len + extra + 1; /* room for the NUL */
	if (need <= b->cap)
		return 0;
	cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	/* Growth past the cap would only waste memory: len can never exceed max. */
	if (b->max && cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	if (!b->data)
		p[0] = '\0';
	b->data = p;
	b->cap = cap;
	return 0;
}

AT_HOT int buf_append(struct buf *b, const void *p, size_t n)
{
	int r;

	r = buf_reserve(b, n);
	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, r;

	va_copy(ap2, ap);
	n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		if (b->data)
			b->data[b->len] = '\0';
		return -EINVAL;
	}
	if (b->data && (size_t)n < b->cap - b->len) {
		if (b->max && b->len + (size_t)n > b->max) {
			b->data[b->len] = '\0';
			return -E2BIG;
		}
		b->len += (size_t)n;
		return 0;
	}
	/* Did not fit: the NUL written by a truncated vsnprintf is at cap-1, past len. */
	if (b->data)
		b->data[b->len] = '\0';
	r = buf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	va_copy(ap2, ap);
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

int buf_read_fd(struct buf *b, int fd, size_t hint)
{
	size_t step = hint ? hint + 1 : 65536;
	int r;

	for (;;) {
		size_t room = step;
		ssize_t n;
		char probe;

		if (b->max && room > b->max - b->len)
			room = b->max - b->len;
		if (room == 0) {
			/* at the cap: anything more is too much */
			do
				n = read(fd, &probe, 1);
			while (n < 0 && errno == EINTR);
			return n < 0 ? -errno : n > 0 ? -E2BIG : 0;
		}
		r = buf_reserve(b, room);
		if (r < 0)
			return r;
		n = read(fd, b->data + b->len, b->cap - 1 - b->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
		step = 65536;
	}
}

char *buf_steal(struct buf *b)
{
	char *p;

	if (!b->data)
		return calloc(1, 1);
	p = b->data;
	buf_init(b, b->max);
	return p;
}
