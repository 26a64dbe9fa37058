/* SPDX-License-Identifier: MIT */
/* fuzz-redact-h2.c -- fuzzes the HTTP/2 redactor (common/h2redact.c behind
 * redactor_set_h2): any chunking gives the one-shot output or the same
 * failure, and what comes out is well-framed HTTP/2 whose header blocks
 * decode on their own (no table references) with every field intact. */
#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/redact.h"
#include "fuzz.h"

/* @return 0 when block[0..n) decodes with a fresh inflater, leaving its table empty. */
static int decodes_alone(const uint8_t *in, size_t n)
{
	nghttp2_hd_inflater *inf;
	int ret = -1;

	if (nghttp2_hd_inflate_new(&inf) != 0)
		abort();
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, n, 1);

		if (rv < 0)
			goto out;
		in += rv;
		n -= (size_t)rv;
		if (flags & NGHTTP2_HD_INFLATE_FINAL)
			break;
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && n == 0)
			goto out;
	}
	ret = nghttp2_hd_inflate_get_dynamic_table_size(inf) == 0 ? 0 : -1;
out:
	nghttp2_hd_inflate_del(inf);
	return ret;
}

/* Walks out's frames: an optional preface, then whole frames; header
 * blocks (HEADERS or PUSH_PROMISE, then CONTINUATION up to END_HEADERS)
 * must decode alone. */
static void check_frames(const struct buf *out)
{
	const uint8_t *p = (const uint8_t *)out->data;
	size_t i = 0, n = out->len;
	struct buf blk = BUF_INIT;
	int inblock = 0;

	if (n >= 24 && !memcmp(p, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24))
		i = 24;
	while (i < n) {
		size_t len, off = 0;
		unsigned type, flags;

		if (n - i < 9)
			abort();
		len = (size_t)p[i] << 16 | (size_t)p[i + 1] << 8 | p[i + 2];
		type = p[i + 3];
		flags = p[i + 4];
		if (n - i - 9 < len)
			abort();
		if (inblock && type != 9)
			abort();
		if (type == 1 || type == 5 || type == 9) {
			if (type == 1 || type == 5) {
				if (flags & 0x8)
					abort(); /* padding is dropped */
				off = type == 5 ? 4 : (flags & 0x20) ? 5 : 0;
				if (off > len)
					abort();
			} else if (!inblock) {
				abort();
			}
			buf_append(&blk, p + i + 9 + off, len - off);
			inblock = !(flags & 0x4);
			if (!inblock) {
				if (decodes_alone((const uint8_t *)(blk.data ? blk.data : ""),
						  blk.len) < 0)
					abort();
				buf_reset(&blk);
			}
		}
		i += 9 + len;
	}
	if (inblock)
		abort();
	buf_release(&blk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct redact_config cfg;
	static int ready;
	struct buf one = BUF_INIT, out = BUF_INIT;
	struct redactor *r;
	uint32_t x = 2166136261u;
	size_t i, n;
	int k1, k2 = 0;

	if (!ready) {
		uint8_t key[REDACT_KEY_LEN] = { 7 };

		if (redact_config_parse(&cfg, "X-Fuzz-Secret,Token", key, NULL) < 0)
			abort();
		ready = 1;
	}
	r = redactor_new(&cfg);
	if (!r || redactor_set_h2(r) != 1)
		abort();
	k1 = redactor_feed(r, data, size, &one);
	redactor_free(r);

	r = redactor_new(&cfg);
	if (!r || redactor_set_h2(r) != 1)
		abort();
	for (i = 0; i < size && i < 64; i++)
		x = (x ^ data[i]) * 16777619u;
	for (i = 0; i < size && k2 == 0; i += n) {
		x = x * 1103515245u + 12345u;
		n = 1 + (x >> 16) % 64;
		if (n > size - i)
			n = size - i;
		k2 = redactor_feed(r, data + i, n, &out);
	}
	if (redactor_held(r) != 0 || redactor_flush(r, &out) != (k2 < 0 ? k2 : 0))
		abort();
	redactor_free(r);
	if (k1 != k2)
		abort();
	if (k1 == 0) {
		/* chunking changes nothing (a failed stream's earlier output may differ) */
		if (out.len != one.len || (one.len && memcmp(out.data, one.data, one.len) != 0))
			abort();
		check_frames(&one);
	}
	buf_release(&one);
	buf_release(&out);
	return 0;
}
