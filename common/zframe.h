/* SPDX-License-Identifier: MIT */
/* zframe.h -- zstd frames: the unit in which traces are written and read.
 *
 * A trace file is a plain concatenation of zstd frames, each holding whole
 * JSON lines from one process (attrace-trace(5)). The encoder makes one
 * complete frame (content size and checksum included) per call, so a writer
 * appends a frame with one write(2) and a crash can only ever leave the last
 * frame torn. The decoder walks frames in a memory buffer and reports, for a
 * torn or corrupt frame, which frame and at which byte.
 */
#pragma once

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

struct zframe_enc;

/* Creates an encoder whose compression context is allocated once, up front
 * (ZSTD_initStaticCCtx), so zframe_compress() never allocates for inputs up
 * to `max_src` bytes: the shim may then flush from a fatal-signal handler.
 * Larger inputs are compressed as several frames of at most max_src bytes
 * each. max_src 0 means 1 MiB. @return NULL on OOM. */
struct zframe_enc *zframe_enc_new(int level, size_t max_src);
void zframe_enc_free(struct zframe_enc *e); /* accepts NULL */
/* Appends complete frame(s) for src[0..n) to out (nothing for n == 0). out
 * must have room for zframe_bound(n) more bytes if the caller needs the
 * no-allocation promise. On failure out is left as it was (no torn frame).
 * @return 0 or a negative errno (-EIO for a zstd error, -E2BIG/-ENOMEM from out). */
int zframe_compress(struct zframe_enc *e, const void *src, size_t n, struct buf *out);
/* Worst-case size of one frame for n input bytes (n <= max_src). */
size_t zframe_bound(size_t n);
/* Appends one zstd frame holding src[0..n) uncompressed (raw blocks, content
 * size and checksum included): any zstd decoder reads it. No encoder and no
 * libzstd call: for small flushes, where compressing 200 bytes took longer
 * than writing them and saved 15% of them. out must have room for
 * zframe_store_bound(n) more bytes for the no-allocation promise. Same
 * failure contract as zframe_compress. @return 0 or a negative errno. */
int zframe_store(const void *src, size_t n, struct buf *out);
size_t zframe_store_bound(size_t n);
/* The same frame for 0 < n <= 128 KiB (one block), as the bytes that go
 * before src and after it: head, src, tail, written together (one writev),
 * make a frame byte for byte equal to zframe_store's, without copying src.
 * @return 0, or -E2BIG when n does not fit one block. */
#define ZFRAME_STORE_HEAD 12
#define ZFRAME_STORE_TAIL 4
int zframe_store_parts(const void *src, size_t n, unsigned char head[ZFRAME_STORE_HEAD],
		       unsigned char tail[ZFRAME_STORE_TAIL]);

struct zframe_dec {
	const unsigned char *data;
	size_t len;
	size_t off; /* start of the next frame */
	int frame; /* frames passed so far, skippable ones included */
	size_t max_out; /* cap on one frame's decompressed size (0 = 1 GiB) */
	void *dctx; /* ZSTD_DCtx */
};

/* Decoder over data[0..len) (not copied; must outlive the decoder).
 * The window is capped (ZSTD_d_windowLogMax 27) and the frame's declared
 * content size is never trusted. @return 0 or -ENOMEM. */
int zframe_dec_init(struct zframe_dec *d, const void *data, size_t len, size_t max_out);
void zframe_dec_release(struct zframe_dec *d); /* accepts NULL */
/* Decodes the next frame, replacing out's content with it. Skippable frames
 * are passed over but counted, so frame numbers are positions in the file.
 * @return 1 for a frame, 0 at the clean end of input, or a negative errno
 * with reterr naming the frame (1-based) and its byte offset; the same error
 * again on a further call:
 *   -EBADMSG "not a zstd trace (bad magic at byte 0)" (first frame) or
 *            "frame N: not a zstd frame (bad magic at byte B)";
 *   -EPIPE   "frame N truncated at byte B" (B: where the input ends);
 *   -EFBIG   "frame N (at byte B) over the size cap of C bytes";
 *   -EIO     "frame N (at byte B) corrupt: <zstd's reason>" (a bad checksum,
 *            a window over 2^27, ...). */
int zframe_dec_next(struct zframe_dec *d, struct buf *out, struct at_error *reterr);

/* @return 1 when data starts with the zstd frame magic. */
int zframe_is_zstd(const void *data, size_t len);
