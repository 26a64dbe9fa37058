/* SPDX-License-Identifier: MIT */
/* test-zframe.c -- unit tests for common/zframe.c: static encoder, frame walk, every error. */
#define ZSTD_STATIC_LINKING_ONLY
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/zframe.h"
#include "tap.h"

static void fill(unsigned char *p, size_t n, int random)
{
	unsigned s = 99;
	size_t i;

	for (i = 0; i < n; i++) {
		s = s * 1103515245u + 12345u;
		p[i] = random ? (unsigned char)(s >> 16)
			      : (unsigned char)("{\"seq\":1,\"x\":\"abc\"}\n"[i % 21]);
	}
}

static size_t count_frames(const struct buf *b)
{
	size_t off = 0, n = 0;

	while (off < b->len) {
		size_t z = ZSTD_findFrameCompressedSize(b->data + off, b->len - off);

		if (ZSTD_isError(z))
			return (size_t)-1;
		off += z;
		n++;
	}
	return n;
}

/* Decodes every frame of b and checks the concatenation equals src. */
static int roundtrip_ok(const struct buf *b, const unsigned char *src, size_t n)
{
	struct zframe_dec d;
	struct buf out = BUF_INIT, all = BUF_INIT;
	int r, ok;

	if (zframe_dec_init(&d, b->data, b->len, 0) < 0)
		return 0;
	while ((r = zframe_dec_next(&d, &out, NULL)) == 1)
		buf_append(&all, out.data, out.len);
	ok = r == 0 && all.len == n && (n == 0 || memcmp(all.data, src, n) == 0);
	zframe_dec_release(&d);
	buf_release(&out);
	buf_release(&all);
	return ok;
}

static void test_encoder(void)
{
	static const struct {
		int level;
		size_t max_src;
	} encs[] = {
		{ 1, 1 << 20 }, { 3, 1 << 20 }, { 3, 64 << 10 }, { 9, 300 << 10 }, { 19, 200 << 10 }
	};
	static const size_t sizes[] = { 1,	100,	   16383,   16384,	  16385,
					100000, 131072,	   131073,  200000,	  262144,
					262145, 300 << 10, 1 << 20, (1 << 20) + 7 };
	unsigned char *src = malloc((2 << 20) + 64);
	size_t e, i;

	for (e = 0; e < sizeof(encs) / sizeof(encs[0]); e++) {
		struct zframe_enc *enc = zframe_enc_new(encs[e].level, encs[e].max_src);
		int ok = enc != NULL, rt = 1, nframes = 1;

		for (i = 0; ok && i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			struct buf out = BUF_INIT;
			size_t want = (sizes[i] + encs[e].max_src - 1) / encs[e].max_src;
			int r;

			fill(src, sizes[i], (int)(i % 2));
			r = zframe_compress(enc, src, sizes[i], &out);
			/* a static context that is too small fails with a zstd error */
			if (r != 0)
				ok = 0;
			if (count_frames(&out) != want)
				nframes = 0;
			if (!roundtrip_ok(&out, src, sizes[i]))
				rt = 0;
			buf_release(&out);
		}
		tap_ok(ok, "level %d, max_src %zu: every size compresses in the static context",
		       encs[e].level, encs[e].max_src);
		tap_ok(nframes, "level %d: inputs over max_src become several frames",
		       encs[e].level);
		tap_ok(rt, "level %d: every size round-trips", encs[e].level);
		zframe_enc_free(enc);
	}
	zframe_enc_free(NULL);
	{
		struct zframe_enc *enc = zframe_enc_new(3, 0);
		struct buf out = BUF_INIT;
		ZSTD_frameHeader h;

		fill(src, 5000, 0);
		zframe_compress(enc, src, 5000, &out);
		tap_ok(ZSTD_getFrameHeader(&h, out.data, out.len) == 0 &&
			       h.frameContentSize == 5000 && h.checksumFlag == 1,
		       "frames carry their content size and a checksum");
		tap_ok(out.len <= zframe_bound(5000), "output within zframe_bound");
		buf_reset(&out);
		tap_ok(zframe_compress(enc, src, 0, &out) == 0 && out.len == 0,
		       "empty input: no frame");
		buf_release(&out);
		buf_init(&out, 10);
		tap_ok(zframe_compress(enc, src, 5000, &out) == -E2BIG && out.len == 0,
		       "an output buffer cap fails cleanly, no torn frame");
		buf_release(&out);
		zframe_enc_free(enc);
	}
	free(src);
}

static void put_le32(struct buf *b, unsigned v)
{
	unsigned char p[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 24) };

	buf_append(b, p, 4);
}

/* Three frames "one\n" "two\n" "three\n", with a skippable frame before the second. */
static void make_file(struct buf *f, size_t *ret_second, size_t *ret_third)
{
	struct zframe_enc *enc = zframe_enc_new(3, 0);

	zframe_compress(enc, "one\n", 4, f);
	put_le32(f, 0x184D2A5A);
	put_le32(f, 5);
	buf_append(f, "skip!", 5);
	*ret_second = f->len;
	zframe_compress(enc, "two\n", 4, f);
	*ret_third = f->len;
	zframe_compress(enc, "three\n", 6, f);
	zframe_enc_free(enc);
}

struct walk {
	int frames;
	int err;
	struct at_error e;
	char text[64];
};

static struct walk walk(const void *data, size_t len, size_t max_out)
{
	struct walk w = { 0 };
	struct zframe_dec d;
	struct buf out = BUF_INIT;
	int r;

	zframe_dec_init(&d, data, len, max_out);
	while ((r = zframe_dec_next(&d, &out, &w.e)) == 1) {
		w.frames++;
		if (strlen(w.text) + out.len < sizeof(w.text))
			memcpy(w.text + strlen(w.text), out.data, out.len);
	}
	w.err = r;
	zframe_dec_release(&d);
	buf_release(&out);
	return w;
}

static void test_decoder(void)
{
	struct buf f = BUF_INIT, bad = BUF_INIT;
	size_t second, third;
	struct walk w;
	char msg[128];

	make_file(&f, &second, &third);
	tap_ok(zframe_is_zstd(f.data, f.len) && !zframe_is_zstd("{\"seq\"", 6) &&
		       !zframe_is_zstd(f.data, 3),
	       "zframe_is_zstd");
	w = walk(f.data, f.len, 0);
	tap_ok(w.err == 0 && w.frames == 3, "three data frames, skippable one passed over");
	tap_streq(w.text, "one\ntwo\nthree\n", "frame contents in order");

	w = walk("hello world", 11, 0);
	tap_ok(w.err == -EBADMSG, "plain text: -EBADMSG");
	tap_streq(w.e.msg, "not a zstd trace (bad magic at byte 0)", "plain text message");

	w = walk(f.data, f.len - 3, 0);
	snprintf(msg, sizeof(msg), "frame 4 truncated at byte %zu", f.len - 3);
	tap_ok(w.err == -EPIPE && w.frames == 2, "torn last frame: -EPIPE after two good frames");
	tap_streq(w.e.msg, msg, "truncation message names frame (skippable counted) and byte");

	w = walk(f.data, third + 2, 0);
	tap_ok(w.err == -EPIPE, "a file cut inside a frame's magic is truncated too");

	buf_append(&bad, f.data, f.len);
	buf_append(&bad, "garbage!", 8);
	w = walk(bad.data, bad.len, 0);
	snprintf(msg, sizeof(msg), "frame 5: not a zstd frame (bad magic at byte %zu)", f.len);
	tap_ok(w.err == -EBADMSG && w.frames == 3, "garbage after the frames: -EBADMSG");
	tap_streq(w.e.msg, msg, "garbage message");

	/* flip a byte in the payload of the second frame: checksum or block error */
	buf_reset(&bad);
	buf_append(&bad, f.data, f.len);
	bad.data[third - 6] ^= 0x55;
	w = walk(bad.data, bad.len, 0);
	tap_ok(w.err == -EIO && w.e.frame == 3 && w.e.offset == second,
	       "corrupt byte: -EIO at frame 3");
	tap_ok(strncmp(w.e.msg, "frame 3 (at byte ", 17) == 0 && strstr(w.e.msg, "corrupt"),
	       "corrupt message: %s", w.e.msg);

	w = walk(f.data, f.len, 5);
	tap_ok(w.err == -EFBIG && w.frames == 2,
	       "max_out 5: the 6-byte third frame is over the cap");

	w = walk("", 0, 0);
	tap_ok(w.err == 0 && w.frames == 0, "empty input: clean end");
	buf_release(&f);
	buf_release(&bad);
}

static void test_window_cap(void)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	unsigned char *src = calloc(1, 1 << 20), *dst = malloc(1 << 20);
	ZSTD_inBuffer in = { src, 1 << 20, 0 };
	ZSTD_outBuffer out = { dst, 1 << 20, 0 };
	struct walk w;

	/* an unknown content size keeps the frame's 2^28 window */
	ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 28);
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
	ZSTD_compressStream2(c, &out, &in, ZSTD_e_continue);
	ZSTD_compressStream2(c, &out, &in, ZSTD_e_end);
	w = walk(dst, out.pos, 0);
	tap_ok(w.err == -EIO, "a frame asking for a 256 MiB window is refused (%s)", w.e.msg);
	ZSTD_freeCCtx(c);
	free(src);
	free(dst);
}

/* zframe_store: raw-block frames that zstd itself reads, checksum checked. */
static void test_store(void)
{
	static const size_t sizes[] = { 1,  3,	 4,   7,    8,	    31,	    32,
					33, 255, 256, 5000, 131072, 131073, 300000 };
	size_t n = sizeof(sizes) / sizeof(sizes[0]);
	unsigned char *src = malloc(300000), *back = malloc(300000);
	int ok = 1, rt = 1, zs = 1, bound = 1;

	for (size_t i = 0; i < n; i++) {
		for (int random = 0; random < 2; random++) {
			struct buf out = BUF_INIT;
			size_t z;

			fill(src, sizes[i], random);
			if (zframe_store(src, sizes[i], &out) < 0 || count_frames(&out) != 1) {
				ok = 0;
				continue;
			}
			bound &= out.len <= zframe_store_bound(sizes[i]);
			rt &= roundtrip_ok(&out, src, sizes[i]);
			/* ZSTD_decompress verifies the content checksum */
			z = ZSTD_decompress(back, 300000, out.data, out.len);
			zs &= !ZSTD_isError(z) && z == sizes[i] && memcmp(back, src, z) == 0;
			buf_release(&out);
		}
	}
	tap_ok(ok, "zframe_store: one frame per call, every size");
	tap_ok(bound, "zframe_store: output within zframe_store_bound");
	tap_ok(rt, "zframe_store: every size round-trips through the frame reader");
	tap_ok(zs, "zframe_store: libzstd decodes every size and its checksum matches");

	struct buf out = BUF_INIT;
	struct zframe_dec d;
	struct buf dec = BUF_INIT;

	fill(src, 5000, 0);
	zframe_store(src, 5000, &out);
	out.data[2000] ^= 1;
	zframe_dec_init(&d, out.data, out.len, 0);
	tap_ok(zframe_dec_next(&d, &dec, NULL) == -EIO,
	       "zframe_store: a flipped byte fails the checksum");
	zframe_dec_release(&d);
	buf_release(&dec);
	buf_reset(&out);
	tap_ok(zframe_store(src, 0, &out) == 0 && out.len == 0,
	       "zframe_store: empty input, no frame");
	buf_release(&out);
	free(src);
	free(back);
}

/* zframe_store_parts: head + src + tail is zframe_store's frame, byte for
 * byte, for every one-block size; past one block it refuses. */
static void test_store_parts(void)
{
	static const size_t sizes[] = { 1, 7, 255, 4096, 5000, 131072 };
	unsigned char *src = malloc(131073);
	unsigned char head[ZFRAME_STORE_HEAD], tail[ZFRAME_STORE_TAIL];
	int same = 1;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct buf whole = BUF_INIT, parts = BUF_INIT;

		fill(src, sizes[i], 1);
		same &= zframe_store(src, sizes[i], &whole) == 0 &&
			zframe_store_parts(src, sizes[i], head, tail) == 0 &&
			buf_append(&parts, head, sizeof(head)) == 0 &&
			buf_append(&parts, src, sizes[i]) == 0 &&
			buf_append(&parts, tail, sizeof(tail)) == 0 && parts.len == whole.len &&
			memcmp(parts.data, whole.data, whole.len) == 0;
		buf_release(&whole);
		buf_release(&parts);
	}
	tap_ok(same, "zframe_store_parts: head + src + tail equals zframe_store's frame");
	tap_ok(zframe_store_parts(src, 131073, head, tail) == -E2BIG &&
		       zframe_store_parts(src, 0, head, tail) == -E2BIG,
	       "zframe_store_parts: empty or past one block is refused");
	free(src);
}

int main(void)
{
	test_encoder();
	test_store();
	test_store_parts();
	test_decoder();
	test_window_cap();
	return tap_done();
}
