/* SPDX-License-Identifier: MIT */
/* hpack.c -- the literal-only HPACK encoder (hpack.h). */
#include "common/hpack.h"

#include "common/buf.h"

int hpack_put_int(struct buf *out, uint8_t first, unsigned prefix_bits, uint64_t v)
{
	uint64_t max = (1u << prefix_bits) - 1;
	uint8_t pat = prefix_bits >= 8 ? 0 : (uint8_t)(first & ~max);
	int k;

	if (v < max)
		return buf_putc(out, (char)(pat | (uint8_t)v));
	k = buf_putc(out, (char)(pat | (uint8_t)max));
	v -= max;
	while (k == 0 && v >= 128) {
		k = buf_putc(out, (char)(0x80 | (v & 0x7f)));
		v >>= 7;
	}
	if (k == 0)
		k = buf_putc(out, (char)v);
	return k;
}

int hpack_put_literal(struct buf *out, const void *name, size_t nlen, const void *value,
		      size_t vlen)
{
	size_t len0 = out->len;
	int k;

	k = buf_putc(out, 0x00); /* literal without indexing, new name */
	if (k == 0)
		k = hpack_put_int(out, 0x00, 7, nlen); /* H = 0: raw */
	if (k == 0)
		k = buf_append(out, name, nlen);
	if (k == 0)
		k = hpack_put_int(out, 0x00, 7, vlen);
	if (k == 0)
		k = buf_append(out, value, vlen);
	if (k < 0) {
		out->len = len0;
		if (out->data)
			out->data[len0] = '\0';
	}
	return k;
}
