/* SPDX-License-Identifier: MIT */
/* hpack.h -- a minimal HPACK (RFC 7541) encoder for header blocks written to traces.
 *
 * Every field is a "literal header field without indexing -- new name"
 * (0x00, name, value), both strings raw (H bit 0, no Huffman), and the
 * block never touches the dynamic table. Decoding is nghttp2's job
 * (nghttp2_hd_inflate_*); this side is hand-written because nghttp2's
 * deflater cannot do what a trace needs:
 *
 *  - it Huffman-codes every string that gets shorter, so a marker (or any
 *    header) in the recorded block would not be readable or greppable in
 *    the trace (nghttp2 has no switch to turn Huffman off);
 *  - with its default table it indexes fields, so the bytes of one block
 *    depend on the blocks before it, and h2redact.c changes those (a
 *    redacted value would be indexed in place of the secret); with a
 *    zero-size table it still emits a table-size update first.
 *
 * A block made here is a pure function of its field list: equal lists give
 * equal bytes, whatever came before. Any HPACK decoder reads it, and since
 * nothing enters the decoder's dynamic table, it leaves that table as it was.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct buf;

/* Appends HPACK integer v with an N-bit prefix (1 <= prefix_bits <= 8): the
 * first byte is `first` (its top 8 - prefix_bits bits, the pattern) or'ed
 * with the prefix. @return 0 or a buffer error (out may hold a partial
 * integer: callers roll back). */
int hpack_put_int(struct buf *out, uint8_t first, unsigned prefix_bits, uint64_t v);

/* Appends one literal field without indexing, new name, no Huffman.
 * @return 0 or a buffer error; out is unchanged on error. */
int hpack_put_literal(struct buf *out, const void *name, size_t nlen, const void *value,
		      size_t vlen);
