/* SPDX-License-Identifier: MIT */
/* zframe.c -- zstd frames: an allocation-free encoder and a bounded decoder. */
#define ZSTD_STATIC_LINKING_ONLY
#include "common/zframe.h"

#define XXH_INLINE_ALL
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "common/hot.h"

#define ZFRAME_DEFAULT_MAX_SRC ((size_t)1 << 20)
#define ZFRAME_DEFAULT_MAX_OUT ((size_t)1 << 30)
#define ZFRAME_WINDOW_LOG_MAX  27
#define ZFRAME_MAGIC	       0xFD2FB528u
#define ZFRAME_SKIP_MAGIC      0x184D2A50u /* low 4 bits are free */
#define ZFRAME_SKIP_MASK       0xFFFFFFF0u

struct zframe_enc {
	ZSTD_CCtx *cctx; /* lives inside mem, never freed by itself */
	void *mem;
	size_t max_src;
};

/* The static context must hold the tables of whatever parameters zstd picks
 * for any input size up to max_src. It picks them per size tier (up to
 * 16 KiB, 128 KiB, 256 KiB, larger) and then only shrinks them to fit the
 * input, so the largest estimate over the tiers' upper ends is enough. */
static size_t cctx_size(int level, size_t max_src)
{
	static const size_t tiers[] = { (size_t)16 << 10, (size_t)128 << 10, (size_t)256 << 10 };
	size_t best = 0, i, s, src;

	for (i = 0; i <= sizeof(tiers) / sizeof(tiers[0]); i++) {
		src = i < sizeof(tiers) / sizeof(tiers[0]) && tiers[i] < max_src ? tiers[i]
										 : max_src;
		s = ZSTD_estimateCCtxSize_usingCParams(ZSTD_getCParams(level, src, 0));
		if (s > best)
			best = s;
	}
	return best;
}

struct zframe_enc *zframe_enc_new(int level, size_t max_src)
{
	struct zframe_enc *e;
	size_t size;

	if (!max_src)
		max_src = ZFRAME_DEFAULT_MAX_SRC;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->max_src = max_src;
	size = cctx_size(level, max_src);
	if (!size)
		goto fail;
	/* ZSTD_initStaticCCtx wants 8-byte alignment: malloc gives 16 */
	e->mem = malloc(size);
	if (!e->mem)
		goto fail;
	e->cctx = ZSTD_initStaticCCtx(e->mem, size);
	if (!e->cctx)
		goto fail;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_contentSizeFlag, 1)))
		goto fail;
	return e;
fail:
	zframe_enc_free(e);
	return NULL;
}

void zframe_enc_free(struct zframe_enc *e)
{
	if (!e)
		return;
	free(e->mem);
	free(e);
}

size_t zframe_bound(size_t n)
{
	return ZSTD_compressBound(n);
}

int zframe_compress(struct zframe_enc *e, const void *src, size_t n, struct buf *out)
{
	const char *p = src;
	size_t start = out->len;

	while (n) {
		size_t chunk = n < e->max_src ? n : e->max_src;
		size_t bound = ZSTD_compressBound(chunk), z;
		int r;

		r = buf_reserve(out, bound);
		if (r < 0)
			goto fail_r;
		z = ZSTD_compress2(e->cctx, out->data + out->len, out->cap - 1 - out->len, p,
				   chunk);
		if (ZSTD_isError(z)) {
			r = -EIO;
			goto fail_r;
		}
		out->len += z;
		out->data[out->len] = '\0';
		p += chunk;
		n -= chunk;
		continue;
fail_r:
		/* Never leave a torn frame in out. */
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		return r;
	}
	return 0;
}

#define ZFRAME_BLOCK_MAX ((size_t)128 << 10)

/* XXH64, seed 0: the frame checksum is its low 32 bits (RFC 8878, 3.1.1).
 * xxHash's own header, inlined (XXH_INLINE_ALL): no library to load, which
 * is what a frame written without libzstd is for. Flattened, so that
 * xxHash's code lands in AT_HOT's section with it: every traced process
 * checksums its frames (common/hot.h). */
AT_HOT __attribute__((flatten)) static uint64_t xxh64(const unsigned char *p, size_t len)
{
	return XXH64(p, len, 0);
}

static inline void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

size_t zframe_store_bound(size_t n)
{
	/* magic, descriptor, 4-byte content size, 3 per block, checksum */
	return 4 + 1 + 4 + 3 * (n / ZFRAME_BLOCK_MAX + 1) + n + 4;
}

/* Magic and Frame_Header_Descriptor: 4-byte content size (FCS flag 2),
 * single segment (window = content size, no window byte), checksum, no
 * dictionary. */
static unsigned char *put_store_head(unsigned char *p, size_t n)
{
	put_le(p, ZFRAME_MAGIC, 4);
	p[4] = (2 << 6) | (1 << 5) | (1 << 2);
	put_le(p + 5, n, 4);
	return p + 9;
}

/* Block_Header: last flag, type 0 (raw), size */
static void put_raw_block_head(unsigned char *p, size_t k, int last)
{
	put_le(p, (uint64_t)last | (uint64_t)k << 3, 3);
}

int zframe_store(const void *src, size_t n, struct buf *out)
{
	const unsigned char *s = src;
	unsigned char *p;
	int r;

	if (n == 0)
		return 0;
	if (n > UINT32_MAX)
		return -E2BIG;
	r = buf_reserve(out, zframe_store_bound(n));
	if (r < 0)
		return r;
	p = put_store_head((unsigned char *)out->data + out->len, n);
	for (size_t off = 0; off < n;) {
		size_t k = n - off < ZFRAME_BLOCK_MAX ? n - off : ZFRAME_BLOCK_MAX;

		put_raw_block_head(p, k, off + k == n);
		memcpy(p + 3, s + off, k);
		p += 3 + k;
		off += k;
	}
	put_le(p, (uint32_t)xxh64(s, n), 4);
	p += 4;
	out->len = (size_t)(p - (unsigned char *)out->data);
	out->data[out->len] = '\0';
	return 0;
}

AT_HOT int zframe_store_parts(const void *src, size_t n, unsigned char head[ZFRAME_STORE_HEAD],
			      unsigned char tail[ZFRAME_STORE_TAIL])
{
	if (n == 0 || n > ZFRAME_BLOCK_MAX)
		return -E2BIG;
	put_raw_block_head(put_store_head(head, n), n, 1);
	put_le(tail, (uint32_t)xxh64(src, n), 4);
	return 0;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int zframe_is_zstd(const void *data, size_t len)
{
	return len >= 4 && le32(data) == ZFRAME_MAGIC;
}

int zframe_dec_init(struct zframe_dec *d, const void *data, size_t len, size_t max_out)
{
	ZSTD_DCtx *dctx;

	*d = (struct zframe_dec){ .data = data, .len = len, .max_out = max_out };
	if (!d->max_out)
		d->max_out = ZFRAME_DEFAULT_MAX_OUT;
	dctx = ZSTD_createDCtx();
	if (!dctx)
		return -ENOMEM;
	if (ZSTD_isError(
		    ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, ZFRAME_WINDOW_LOG_MAX))) {
		ZSTD_freeDCtx(dctx);
		return -ENOMEM;
	}
	d->dctx = dctx;
	return 0;
}

void zframe_dec_release(struct zframe_dec *d)
{
	if (!d)
		return;
	ZSTD_freeDCtx(d->dctx);
	d->dctx = NULL;
}

/* Decompresses frame number `no` at data[off..off+size) into out (replaced). */
static int decode_frame(struct zframe_dec *d, int no, size_t off, size_t size, struct buf *out,
			struct at_error *reterr)
{
	ZSTD_inBuffer in = { .src = d->data + off, .size = size, .pos = 0 };
	unsigned long long declared = ZSTD_getFrameContentSize(in.src, size);
	size_t hint = ZSTD_DStreamOutSize();
	int r;

	/* The declared size is only a hint for the first allocation, and capped. */
	if (declared < ((size_t)16 << 20) && declared > hint)
		hint = (size_t)declared;
	buf_reset(out);
	/* A single-segment frame (the writer's are: its window is its declared
	 * size, under the window cap) decodes in one call straight into out,
	 * without the stream's window copies; on any error the streaming path
	 * below runs again and reports it. */
	if (size > 4 && (d->data[off + 4] & 0x20) && declared < ((size_t)16 << 20) &&
	    declared <= d->max_out && buf_reserve(out, (size_t)declared) == 0) {
		size_t z;

		ZSTD_DCtx_reset(d->dctx, ZSTD_reset_session_only);
		z = ZSTD_decompressDCtx(d->dctx, out->data, (size_t)declared, in.src, size);
		if (!ZSTD_isError(z) && z == declared) {
			out->len = z;
			out->data[z] = '\0';
			return 1;
		}
		buf_reset(out);
	}
	ZSTD_DCtx_reset(d->dctx, ZSTD_reset_session_only);
	for (;;) {
		ZSTD_outBuffer ob;
		size_t z;

		if (!out->data || out->cap - 1 - out->len < 4096) {
			size_t want = out->len > hint ? out->len : hint;

			/* up to one byte past the cap, which shows there is more */
			if (want > d->max_out + 1 - out->len)
				want = d->max_out + 1 - out->len;
			r = buf_reserve(out, want);
			if (r == -E2BIG)
				goto too_big;
			if (r < 0) {
				at_error_set(reterr, no, 0, off,
					     "frame %d (at byte %zu): out of memory", no, off);
				return r;
			}
		}
		ob = (ZSTD_outBuffer){ .dst = out->data + out->len,
				       .size = out->cap - 1 - out->len };
		z = ZSTD_decompressStream(d->dctx, &ob, &in);
		out->len += ob.pos;
		out->data[out->len] = '\0';
		if (ZSTD_isError(z)) {
			at_error_set(reterr, no, 0, off, "frame %d (at byte %zu) corrupt: %s", no,
				     off, ZSTD_getErrorName(z));
			return -EIO;
		}
		if (out->len > d->max_out)
			goto too_big;
		if (z == 0)
			break;
		if (in.pos == in.size && ob.pos < ob.size) {
			/* all input used, room left, and still the frame is not done */
			at_error_set(reterr, no, 0, off,
				     "frame %d (at byte %zu) corrupt: incomplete", no, off);
			return -EIO;
		}
	}
	return 1;
too_big:
	at_error_set(reterr, no, 0, off, "frame %d (at byte %zu) over the size cap of %zu bytes",
		     no, off, d->max_out);
	return -EFBIG;
}

int zframe_dec_next(struct zframe_dec *d, struct buf *out, struct at_error *reterr)
{
	for (;;) {
		size_t off = d->off, left = d->len - d->off, size;
		int no = d->frame + 1, r;
		uint32_t magic;

		if (left == 0) {
			buf_reset(out);
			return 0;
		}
		magic = left >= 4 ? le32(d->data + off) : 0;
		if (left < 4 && no > 1) {
			at_error_set(reterr, no, 0, off, "frame %d truncated at byte %zu", no,
				     d->len);
			return -EPIPE;
		}
		if (magic != ZFRAME_MAGIC && (magic & ZFRAME_SKIP_MASK) != ZFRAME_SKIP_MAGIC) {
			if (no == 1)
				at_error_set(reterr, no, 0, off,
					     "not a zstd trace (bad magic at byte %zu)", off);
			else
				at_error_set(reterr, no, 0, off,
					     "frame %d: not a zstd frame (bad magic at byte %zu)",
					     no, off);
			return -EBADMSG;
		}
		size = ZSTD_findFrameCompressedSize(d->data + off, left);
		if (ZSTD_isError(size)) {
			if (ZSTD_getErrorCode(size) == ZSTD_error_srcSize_wrong) {
				at_error_set(reterr, no, 0, off, "frame %d truncated at byte %zu",
					     no, d->len);
				return -EPIPE;
			}
			at_error_set(reterr, no, 0, off, "frame %d (at byte %zu) corrupt: %s", no,
				     off, ZSTD_getErrorName(size));
			return -EIO;
		}
		if ((magic & ZFRAME_SKIP_MASK) == ZFRAME_SKIP_MAGIC) {
			/* skippable frames count, so that frame numbers are file positions */
			d->frame = no;
			d->off += size;
			continue;
		}
		r = decode_frame(d, no, off, size, out, reterr);
		if (r < 0)
			return r;
		d->frame = no;
		d->off += size;
		return 1;
	}
}
