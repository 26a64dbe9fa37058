/* SPDX-License-Identifier: MIT */
/* test-buf.c -- unit tests for common/buf.c: growth, caps, printf, consume, steal. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "tap.h"

static int invariant(const struct buf *b)
{
	if (!b->data)
		return b->cap == 0 && b->len == 0;
	return b->len < b->cap && b->data[b->len] == '\0' && (!b->max || b->len <= b->max);
}

static void test_append(void)
{
	struct buf b = BUF_INIT;
	size_t i;
	int ok = 1;

	tap_ok(invariant(&b) && b.data == NULL, "BUF_INIT is empty with no storage");
	for (i = 0; i < 10000; i++) {
		char c = (char)('a' + i % 26);

		if (buf_putc(&b, c) < 0 || !invariant(&b) || b.data[i] != c)
			ok = 0;
	}
	tap_ok(ok && b.len == 10000, "10000 buf_putc keep the invariant");
	tap_ok(buf_append(&b, "xyz", 3) == 0 && b.len == 10003 && buf_last(&b) == 'z',
	       "buf_append adds bytes and buf_last sees them");
	tap_ok(buf_append(&b, NULL, 0) == 0 && b.len == 10003, "empty append is a no-op");
	buf_reset(&b);
	tap_ok(b.len == 0 && b.data && b.data[0] == '\0' && buf_last(&b) == '\0',
	       "buf_reset keeps storage, empties text");
	buf_release(&b);
	tap_ok(b.data == NULL && b.cap == 0 && b.len == 0, "buf_release frees");
	buf_release(NULL);
	tap_ok(1, "buf_release(NULL) is accepted");
}

static void test_cap(void)
{
	static const struct {
		size_t max, first, second;
		int want_first, want_second;
	} cases[] = {
		{ 10, 10, 0, 0, 0 },	 { 10, 11, 0, -E2BIG, 0 }, { 10, 5, 5, 0, 0 },
		{ 10, 5, 6, 0, -E2BIG }, { 1, 1, 1, 0, -E2BIG },   { 0, 100, 100, 0, 0 },
	};
	char src[256];
	size_t i;

	memset(src, 'q', sizeof(src));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		int r1, r2;
		size_t len1;

		buf_init(&b, cases[i].max);
		r1 = buf_append(&b, src, cases[i].first);
		len1 = b.len;
		r2 = buf_append(&b, src, cases[i].second);
		tap_ok(r1 == cases[i].want_first && r2 == cases[i].want_second && invariant(&b) &&
			       (r2 == 0 || b.len == len1),
		       "cap %zu: append %zu then %zu -> %d, %d, buffer unchanged on failure",
		       cases[i].max, cases[i].first, cases[i].second, r1, r2);
		buf_release(&b);
		tap_ok(b.max == cases[i].max, "cap %zu survives buf_release", cases[i].max);
	}
	{
		struct buf b;

		buf_init(&b, 8);
		tap_ok(buf_reserve(&b, 9) == -E2BIG && buf_reserve(&b, 8) == 0 && b.cap <= 9,
		       "buf_reserve honours the cap and never allocates past max+1");
		buf_release(&b);
	}
}

static void test_printf(void)
{
	struct buf b = BUF_INIT;
	char big[3000];

	tap_ok(buf_printf(&b, "%d-%s", 42, "x") == 0 && strcmp(b.data, "42-x") == 0,
	       "buf_printf formats");
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tap_ok(buf_printf(&b, "[%s]", big) == 0 && b.len == 4 + 2 + 2999 && invariant(&b) &&
		       b.data[b.len - 1] == ']',
	       "buf_printf grows for long output");
	buf_release(&b);
	buf_init(&b, 5);
	tap_ok(buf_printf(&b, "%s", "123456") == -E2BIG && b.len == 0 && invariant(&b),
	       "buf_printf past the cap fails cleanly");
	tap_ok(buf_printf(&b, "%s", "12345") == 0 && b.len == 5, "buf_printf up to the cap");
	buf_release(&b);
}

static void test_consume_steal(void)
{
	struct buf b = BUF_INIT;
	char *s;

	buf_puts(&b, "hello world");
	buf_consume(&b, 6);
	tap_ok(strcmp(b.data, "world") == 0 && b.len == 5 && invariant(&b),
	       "buf_consume drops a prefix");
	buf_consume(&b, 5);
	tap_ok(b.len == 0 && invariant(&b), "buf_consume of everything empties");
	buf_puts(&b, "abc");
	s = buf_steal(&b);
	tap_ok(s && strcmp(s, "abc") == 0 && b.data == NULL && b.len == 0,
	       "buf_steal hands over the text");
	free(s);
	s = buf_steal(&b);
	tap_ok(s && s[0] == '\0', "buf_steal of an empty buffer gives an empty string");
	free(s);
}

/* A pipe holding n bytes of 'x', closed for writing. */
static int pipe_with(size_t n)
{
	char chunk[4096];
	int p[2];

	memset(chunk, 'x', sizeof(chunk));
	if (pipe(p) < 0)
		return -1;
	while (n) {
		size_t k = n < sizeof(chunk) ? n : sizeof(chunk);

		if (write(p[1], chunk, k) != (ssize_t)k)
			break;
		n -= k;
	}
	close(p[1]);
	return p[0];
}

static void test_read_fd(void)
{
	struct buf b;
	int fd;

	buf_init(&b, 0);
	fd = pipe_with(50000);
	tap_ok(buf_read_fd(&b, fd, 0) == 0 && b.len == 50000 && b.data[50000] == '\0',
	       "read_fd: a 50000-byte pipe, whole and NUL-terminated");
	close(fd);
	buf_release(&b);

	buf_init(&b, 1000);
	fd = pipe_with(1000);
	tap_ok(buf_read_fd(&b, fd, 10) == 0 && b.len == 1000, "read_fd: exactly the cap is fine");
	close(fd);
	buf_release(&b);

	buf_init(&b, 1000);
	fd = pipe_with(1001);
	tap_ok(buf_read_fd(&b, fd, 0) == -E2BIG && b.len == 1000,
	       "read_fd: one byte over the cap is -E2BIG");
	close(fd);
	buf_release(&b);

	tap_ok(buf_read_fd(&b, -1, 0) == -EBADF, "read_fd: a bad descriptor is -EBADF");
	buf_release(&b);
}

static void test_array_room(void)
{
	int *a = NULL, *b;
	size_t n, cap = 0, grew = 0, prev;
	int ok = 1;

	for (n = 0; n < 1000; n++) {
		prev = cap;
		b = array_room(a, n, &cap, sizeof(*a));
		if (!b) {
			ok = 0;
			break;
		}
		a = b;
		grew += cap != prev;
		a[n] = (int)n;
	}
	for (size_t i = 0; ok && i < n; i++)
		ok = a[i] == (int)i;
	tap_ok(ok && n == 1000, "array_room: 1000 appends keep every entry");
	tap_ok(cap == 1024 && grew == 8, "array_room: from 8, doubling (8 reallocs for 1000)");
	b = array_room(a, 10, &cap, sizeof(*a));
	tap_ok(b == a && cap == 1024, "array_room: with room left, the same array");
	free(a);

	cap = SIZE_MAX / 2 + 1;
	tap_ok(array_room(NULL, cap, &cap, 1) == NULL && cap == SIZE_MAX / 2 + 1,
	       "array_room: a capacity that would overflow is NULL, cap unchanged");
	cap = 8;
	tap_ok(array_room(NULL, 8, &cap, SIZE_MAX / 8) == NULL && cap == 8,
	       "array_room: a byte size that would overflow is NULL, cap unchanged");
}

int main(void)
{
	test_append();
	test_cap();
	test_printf();
	test_consume_steal();
	test_read_fd();
	test_array_room();
	return tap_done();
}
