/* SPDX-License-Identifier: MIT */
/* h2redact.c -- HTTP/2 frames and HPACK header blocks through the redactor (h2redact.h). */
#include "common/h2redact.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/hpack.h"
#include "common/redact.h"

#define PREFACE	    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN 24
#define FH_LEN	    9
#define OUT_FRAME   16384 /* SETTINGS_MAX_FRAME_SIZE's floor: every peer takes it */

enum {
	F_DATA = 0,
	F_HEADERS = 1,
	F_PUSH_PROMISE = 5,
	F_CONTINUATION = 9,
};
enum {
	FL_END_HEADERS = 0x4,
	FL_PADDED = 0x8,
	FL_PRIORITY = 0x20,
};

/* The name written for pseudo-headers in the HTTP/1 form: a token, so the
 * line is a header line; no built-in rule names it. */
#define PSEUDO_NAME "x-attrace-h2-pseudo"
#define NAME_MAX_H1 200

struct h2red {
	const struct redact_config *cfg;
	int err;
	size_t pre; /* preface bytes matched; PREFACE_LEN + 1 once decided */
	unsigned char fh[FH_LEN];
	size_t fhlen;
	size_t need; /* payload bytes of the current frame */
	struct buf pay; /* the current frame's payload so far */
	/* a header block being gathered (HEADERS or PUSH_PROMISE + CONTINUATION) */
	int inblock;
	unsigned char btype, bflags;
	uint32_t bsid;
	unsigned char bprefix[5];
	size_t bprefix_len;
	struct buf block;
	nghttp2_hd_inflater *inf;
	struct redactor *scratch; /* for the HTTP/1 form and DATA payloads */
	struct buf h1, red, enc; /* reused from block to block */
};

struct h2red *h2red_new(const struct redact_config *cfg)
{
	struct h2red *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->cfg = cfg;
	buf_init(&h->pay, (size_t)1 << 24);
	buf_init(&h->block, H2RED_BLOCK_MAX);
	buf_init(&h->h1, 4 * (size_t)H2RED_BLOCK_MAX);
	buf_init(&h->red, 4 * (size_t)H2RED_BLOCK_MAX);
	buf_init(&h->enc, 4 * (size_t)H2RED_BLOCK_MAX);
	h->scratch = redactor_new(cfg);
	if (!h->scratch || nghttp2_hd_inflate_new(&h->inf) != 0)
		goto fail;
	/* The peer's SETTINGS_HEADER_TABLE_SIZE bounds the encoder's table;
	 * we do not read it, so accept any size the encoder announces. */
	if (nghttp2_hd_inflate_change_table_size(h->inf, (size_t)1 << 20) != 0)
		goto fail;
	return h;
fail:
	h2red_free(h);
	return NULL;
}

void h2red_free(struct h2red *h)
{
	if (!h)
		return;
	if (h->inf)
		nghttp2_hd_inflate_del(h->inf);
	redactor_free(h->scratch);
	buf_release(&h->pay);
	buf_release(&h->block);
	buf_release(&h->h1);
	buf_release(&h->red);
	buf_release(&h->enc);
	free(h);
}

size_t h2red_held(const struct h2red *h)
{
	return (h->pre <= PREFACE_LEN ? h->pre : 0) + h->fhlen + h->pay.len + h->block.len;
}

static uint32_t get24(const unsigned char *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t get31(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) &
	       0x7fffffffu;
}

static int put_fh(struct buf *out, size_t len, unsigned type, unsigned flags, uint32_t sid)
{
	unsigned char f[FH_LEN] = {
		(unsigned char)(len >> 16), (unsigned char)(len >> 8), (unsigned char)len,
		(unsigned char)type,	    (unsigned char)flags,      (unsigned char)(sid >> 24),
		(unsigned char)(sid >> 16), (unsigned char)(sid >> 8), (unsigned char)sid,
	};

	return buf_append(out, f, sizeof(f));
}

/* ---- header fields ---- */

static int is_token(const uint8_t *s, size_t n)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c && strchr(extra, (int)c))))
			return 0;
	}
	return 1;
}

static int value_ok(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return 0;
	return 1;
}

/* One decoded field, its bytes in h->h1's arena (offsets: h1 may move). */
struct field {
	size_t name, nlen, value, vlen;
	int pseudo; /* a pseudo-header: its line is written under PSEUDO_NAME */
	int line; /* it has a header line in the HTTP/1 form */
	int path; /* it is :path, in the request line */
};

#define HTTP1_REQ  "GET "
#define HTTP1_VER  " HTTP/1.1\r\n"
#define HTTP1_RESP "HTTP/1.1 200 OK\r\n"

/* Reads the HTTP/1 form back from h->red: the redacted value of every
 * field, encoded into h->enc. @return 0, a buffer error, or -EPROTO when
 * the form did not come back line for line (it always should: redaction
 * keeps line ends, names and the start line's frame). */
static int encode_back(struct h2red *h, const struct field *f, size_t nf)
{
	const char *arena = h->h1.data;
	const char *p = h->red.data ? h->red.data : "", *end = p + h->red.len;
	const char *lf = memchr(p, '\n', h->red.len), *ls;
	size_t i, pl = sizeof(HTTP1_REQ) - 1, sl = sizeof(HTTP1_VER) - 1;
	int k = 0;

	const char *path = NULL;
	size_t path_len = 0;

	if (!lf)
		return -EPROTO;
	if (!memcmp(p, HTTP1_REQ, pl)) {
		size_t ll = (size_t)(lf + 1 - p);

		if (ll < pl + sl || memcmp(lf + 1 - sl, HTTP1_VER, sl))
			return -EPROTO;
		path = p + pl;
		path_len = ll - pl - sl;
	}
	for (i = 0; i < nf && k == 0; i++) {
		struct buf mk = BUF_INIT;
		const char *v = "";
		size_t vl = 0;

		if (f[i].path) {
			if (!path)
				return -EPROTO;
			v = path;
			vl = path_len;
		} else if (f[i].line) {
			size_t nl = f[i].pseudo ? sizeof(PSEUDO_NAME) - 1 : f[i].nlen;

			ls = lf + 1;
			lf = ls < end ? memchr(ls, '\n', (size_t)(end - ls)) : NULL;
			if (!lf || (size_t)(lf - ls) < nl + 3 || ls[nl] != ':' ||
			    ls[nl + 1] != ' ' || lf[-1] != '\r')
				return -EPROTO;
			v = ls + nl + 2;
			vl = (size_t)(lf - 1 - v);
		} else {
			k = redact_marker(h->cfg, arena + f[i].value, f[i].vlen, 0, &mk);
			if (k == 0 && mk.data) {
				v = mk.data;
				vl = mk.len;
			}
		}
		if (k == 0)
			k = hpack_put_literal(&h->enc, arena + f[i].name, f[i].nlen, v, vl);
		buf_release(&mk);
	}
	return k;
}

/* Redacts the decoded fields by the HTTP/1 rules: writes the HTTP/1 form
 * (start line, one header line per field) after the arena in h->h1,
 * redacts it into h->red, and encodes the values read back into h->enc. */
static int redact_fields(struct h2red *h, struct field *f, size_t nf)
{
	struct buf *a = &h->h1;
	size_t form = a->len, i, path = SIZE_MAX, need;
	int k;

	for (i = 0; i < nf; i++) {
		const uint8_t *nm = (const uint8_t *)a->data + f[i].name;
		const uint8_t *v = (const uint8_t *)a->data + f[i].value;

		f[i].pseudo = f[i].nlen && nm[0] == ':';
		/* A name the HTTP/1 redactor would not take for a header name
		 * (it holds up to 256 bytes of one) would turn the rest of the
		 * form opaque: such a field is replaced whole instead. */
		if (!value_ok(v, f[i].vlen) || f[i].nlen > NAME_MAX_H1 ||
		    (!f[i].pseudo && !is_token(nm, f[i].nlen)))
			continue; /* replaced whole by encode_back */
		if (path == SIZE_MAX && f[i].nlen == 5 && !memcmp(nm, ":path", 5)) {
			path = i;
			f[i].path = 1;
		} else {
			f[i].line = 1;
		}
	}
	/* Room for the whole form first: it copies from the arena, in the
	 * same buffer, which must not move under the copy. */
	for (i = 0, need = sizeof(HTTP1_REQ) + sizeof(HTTP1_VER) + sizeof(HTTP1_RESP); i < nf; i++)
		need += sizeof(PSEUDO_NAME) + f[i].nlen + f[i].vlen + 4;
	k = buf_reserve(a, need);
	if (k == 0 && path != SIZE_MAX) {
		k = buf_puts(a, HTTP1_REQ);
		if (k == 0)
			k = buf_append(a, a->data + f[path].value, f[path].vlen);
		if (k == 0)
			k = buf_puts(a, HTTP1_VER);
	} else if (k == 0) {
		k = buf_puts(a, HTTP1_RESP);
	}
	for (i = 0; i < nf && k == 0; i++) {
		if (!f[i].line)
			continue;
		if (f[i].pseudo)
			k = buf_puts(a, PSEUDO_NAME);
		else
			k = buf_append(a, a->data + f[i].name, f[i].nlen);
		if (k == 0)
			k = buf_puts(a, ": ");
		if (k == 0)
			k = buf_append(a, a->data + f[i].value, f[i].vlen);
		if (k == 0)
			k = buf_puts(a, "\r\n");
	}
	if (k == 0)
		k = buf_puts(a, "\r\n");
	buf_reset(&h->red);
	if (k == 0)
		k = redactor_feed(h->scratch, a->data + form, a->len - form, &h->red);
	if (k == 0)
		k = redactor_flush(h->scratch, &h->red);
	if (k == 0)
		k = encode_back(h, f, nf);
	return k;
}

static int emit_block(struct h2red *h, struct buf *out)
{
	size_t off = 0, len = h->enc.len, room = OUT_FRAME - h->bprefix_len;
	size_t first = len < room ? len : room;
	unsigned flags = h->bflags & ~(unsigned)(FL_PADDED | FL_END_HEADERS);
	int k;

	if (first == len)
		flags |= FL_END_HEADERS;
	k = put_fh(out, h->bprefix_len + first, h->btype, flags, h->bsid);
	if (k == 0)
		k = buf_append(out, h->bprefix, h->bprefix_len);
	if (k == 0)
		k = buf_append(out, h->enc.data ? h->enc.data : "", first);
	off = first;
	while (k == 0 && off < len) {
		size_t m = len - off < OUT_FRAME ? len - off : OUT_FRAME;

		k = put_fh(out, m, F_CONTINUATION, off + m == len ? FL_END_HEADERS : 0, h->bsid);
		if (k == 0)
			k = buf_append(out, h->enc.data + off, m);
		off += m;
	}
	return k;
}

/* Decodes h->block (original bytes: the inflater's table follows the
 * connection), redacts the fields, and writes the new block's frames. */
static int finish_block(struct h2red *h, struct buf *out)
{
	const uint8_t *in = (const uint8_t *)(h->block.data ? h->block.data : "");
	size_t inlen = h->block.len, nf = 0, cap = 0;
	struct field *f = NULL, *nfp;
	int k = 0;

	buf_reset(&h->h1);
	buf_reset(&h->enc);
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(h->inf, &nv, &flags, in, inlen, 1);

		if (rv < 0) {
			k = -EPROTO;
			goto out;
		}
		in += rv;
		inlen -= (size_t)rv;
		if (flags & NGHTTP2_HD_INFLATE_EMIT) {
			if (nf == cap) {
				cap = cap ? 2 * cap : 16;
				nfp = realloc(f, cap * sizeof(*f));
				if (!nfp) {
					k = -ENOMEM;
					goto out;
				}
				f = nfp;
			}
			memset(&f[nf], 0, sizeof(f[nf]));
			f[nf].name = h->h1.len;
			f[nf].nlen = nv.namelen;
			k = buf_append(&h->h1, nv.name, nv.namelen);
			f[nf].value = h->h1.len;
			f[nf].vlen = nv.valuelen;
			if (k == 0)
				k = buf_append(&h->h1, nv.value, nv.valuelen);
			if (k < 0)
				goto out;
			nf++;
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(h->inf);
			break;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && inlen == 0) {
			k = -EPROTO; /* in_final was set: FINAL must come */
			goto out;
		}
	}
	k = redact_fields(h, f, nf);
	if (k == 0 && h->enc.len > H2RED_BLOCK_MAX)
		k = -EPROTO;
	if (k == 0)
		k = emit_block(h, out);
out:
	free(f);
	h->inblock = 0;
	buf_reset(&h->block);
	/* Large transfers do not keep their buffers. */
	if (h->h1.cap > (64u << 10)) {
		buf_release(&h->h1);
		buf_release(&h->red);
		buf_release(&h->enc);
	}
	return k;
}

/* Splits a HEADERS or PUSH_PROMISE payload into prefix (priority or
 * promised stream) and fragment, dropping padding. @return 0 or -EPROTO. */
static int start_block(struct h2red *h, unsigned type, unsigned flags, uint32_t sid,
		       const unsigned char *p, size_t n)
{
	size_t off = 0, pad = 0, pre = type == F_PUSH_PROMISE ? 4 : (flags & FL_PRIORITY) ? 5 : 0;

	if (flags & FL_PADDED) {
		if (n < 1)
			return -EPROTO;
		pad = p[0];
		off = 1;
	}
	if (n < off + pre + pad)
		return -EPROTO;
	h->inblock = 1;
	h->btype = (unsigned char)type;
	h->bflags = (unsigned char)flags;
	h->bsid = sid;
	memcpy(h->bprefix, p + off, pre);
	h->bprefix_len = pre;
	return buf_append(&h->block, p + off + pre, n - off - pre - pad);
}

/* One complete frame: header fh[0..9), payload p[0..n). */
static int frame(struct h2red *h, const unsigned char *fh, const unsigned char *p, size_t n,
		 struct buf *out)
{
	unsigned type = fh[3], flags = fh[4];
	uint32_t sid = get31(fh + 5);
	size_t pad = 0, off = 0, len0;
	int k;

	if (h->inblock && (type != F_CONTINUATION || sid != h->bsid))
		return -EPROTO;
	switch (type) {
	case F_DATA:
		if (flags & FL_PADDED) {
			if (n < 1 || (size_t)p[0] + 1 > n)
				return -EPROTO;
			pad = p[0];
			off = 1;
		}
		k = buf_append(out, fh, FH_LEN);
		if (k == 0)
			k = buf_append(out, p, off);
		len0 = out->len;
		if (k == 0)
			k = redactor_body(h->scratch, p + off, n - off - pad, out);
		if (k == 0 && out->len - len0 != n - off - pad)
			return -EPROTO; /* body markers keep the length: cannot happen */
		if (k == 0)
			k = buf_append(out, p + n - pad, pad);
		return k;
	case F_HEADERS:
	case F_PUSH_PROMISE:
		k = start_block(h, type, flags, sid, p, n);
		break;
	case F_CONTINUATION:
		if (!h->inblock)
			return -EPROTO;
		k = buf_append(&h->block, p, n);
		break;
	default:
		k = buf_append(out, fh, FH_LEN);
		if (k == 0)
			k = buf_append(out, p, n);
		return k;
	}
	if (k == 0 && (flags & FL_END_HEADERS))
		k = finish_block(h, out);
	return k < 0 ? (k == -E2BIG ? -EPROTO : k) : 0;
}

static int frames(struct h2red *h, const unsigned char *p, size_t n, struct buf *out)
{
	int k = 0;

	while (n && k == 0) {
		/* a whole frame in the input: no copy */
		if (h->fhlen == 0 && n >= FH_LEN && n - FH_LEN >= get24(p)) {
			size_t len = get24(p);

			k = frame(h, p, p + FH_LEN, len, out);
			p += FH_LEN + len;
			n -= FH_LEN + len;
			continue;
		}
		if (h->fhlen < FH_LEN) {
			size_t m = FH_LEN - h->fhlen < n ? FH_LEN - h->fhlen : n;

			memcpy(h->fh + h->fhlen, p, m);
			h->fhlen += m;
			p += m;
			n -= m;
			if (h->fhlen < FH_LEN)
				break;
			h->need = get24(h->fh);
			buf_reset(&h->pay);
		}
		if (h->pay.len < h->need) {
			size_t m = h->need - h->pay.len < n ? h->need - h->pay.len : n;

			k = buf_append(&h->pay, p, m);
			p += m;
			n -= m;
		}
		if (k == 0 && h->pay.len == h->need) {
			k = frame(h, h->fh, (const unsigned char *)(h->pay.data ? h->pay.data : ""),
				  h->pay.len, out);
			h->fhlen = 0;
			buf_reset(&h->pay);
			if (h->pay.cap > (64u << 10))
				buf_release(&h->pay);
		}
	}
	return k;
}

int h2red_feed(struct h2red *h, const void *in, size_t n, struct buf *out)
{
	const unsigned char *p = in;
	size_t len0 = out->len;
	int k = 0;

	if (h->err)
		return h->err;
	/* The client preface, when the stream starts with it. */
	while (n && h->pre < PREFACE_LEN) {
		if (*p != (unsigned char)PREFACE[h->pre]) {
			size_t m = h->pre;

			h->pre = PREFACE_LEN + 1;
			k = frames(h, (const unsigned char *)PREFACE, m, out);
			break;
		}
		h->pre++;
		p++;
		n--;
		if (h->pre == PREFACE_LEN) {
			h->pre = PREFACE_LEN + 1;
			k = buf_append(out, PREFACE, PREFACE_LEN);
		}
	}
	if (k == 0 && n)
		k = frames(h, p, n, out);
	if (k < 0) {
		h->err = k;
		out->len = len0;
		if (out->data)
			out->data[len0] = '\0';
	}
	return k;
}
