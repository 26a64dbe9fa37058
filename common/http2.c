/* SPDX-License-Identifier: MIT */
/* http2.c -- HTTP/2 for http.c: frames are simple, and HPACK goes through
 * nghttp2's inflater, never a nghttp2_session (that would be a protocol
 * endpoint, and we only watch one).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/http_int.h"

static struct flight *h2_stream(struct http_conn *c, uint32_t id)
{
	size_t i;

	for (i = 0; i < c->nfl; i++)
		if (c->fl[i]->x->stream_id == id)
			return c->fl[i];
	return NULL;
}

static int h2_retire_stream(struct http_conn *c, struct flight *f)
{
	size_t i;

	if (!f->req_done || !f->resp_done)
		return 0;
	for (i = 0; i < c->nfl; i++)
		if (c->fl[i] == f)
			return http_retire(c, i);
	return 0;
}

/* Inflates d->hblock into h plus the pseudo-headers we use. */
static int h2_inflate(struct http_conn *c, struct dir *d, struct http_headers *h,
		      struct http_headers *pseudo)
{
	const uint8_t *in = (const uint8_t *)d->hblock.data;
	size_t inlen = d->hblock.len, total = 0;

	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t rv;

		rv = nghttp2_hd_inflate_hd2(d->inf, &nv, &flags, in, inlen, 1);
		if (rv < 0)
			return http_stop(c, "HPACK decoding failed");
		in += rv;
		inlen -= (size_t)rv;
		if (flags & NGHTTP2_HD_INFLATE_EMIT) {
			struct http_headers *dst = nv.namelen && nv.name[0] == ':' ? pseudo : h;

			total += nv.namelen + nv.valuelen;
			if (total > c->lim.head_max)
				return http_stop(c, "head too big");
			if (h->n + pseudo->n >= c->lim.headers_max)
				return http_stop(c, "too many header fields");
			if (http_headers_add(dst, (const char *)nv.name, nv.namelen,
					     (const char *)nv.value, nv.valuelen) < 0)
				return -ENOMEM;
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(d->inf);
			break;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && inlen == 0)
			break;
	}
	return 0;
}

static int h2_headers_done(struct http_conn *c, int resp)
{
	struct dir *d = &c->d[resp];
	struct http_headers h = { 0 }, ps = { 0 };
	struct flight *f;
	struct http_exchange *x;
	uint32_t id = d->hb_stream;
	int r;

	r = h2_inflate(c, d, &h, &ps);
	buf_reset(&d->hblock);
	d->hb_stream = 0;
	if (r < 0 || d->hb_push)
		goto out;
	f = h2_stream(c, id);
	if (!resp && !f) {
		const char *path = http_header_get(&ps, ":path");
		const char *scheme = http_header_get(&ps, ":scheme");
		const char *auth = http_header_get(&ps, ":authority");
		const char *method = http_header_get(&ps, ":method");

		f = http_flight_new(c);
		if (!f) {
			r = c->nfl >= c->lim.streams_max ? http_stop(c, "too many streams")
							 : -ENOMEM;
			goto out;
		}
		x = f->x;
		x->stream_id = id;
		x->ts_request = d->in_ts;
		c->nreq++;
		x->method = strdup(method ? method : "?");
		x->version = strdup("HTTP/2");
		x->url = http_make_url(c, scheme ? scheme : c->scheme,
				       auth ? auth : http_header_get(&h, "host"), path ? path : "");
		if (!x->method || !x->version || !x->url) {
			r = -ENOMEM;
			goto out;
		}
		x->req.headers = h;
		memset(&h, 0, sizeof(h));
		f->req_head = 1;
	} else if (!resp) {
		http_headers_release(&f->x->req.trailers);
		f->x->req.trailers = h;
		memset(&h, 0, sizeof(h));
	} else if (f) {
		const char *st = http_header_get(&ps, ":status");
		const char *ct;

		x = f->x;
		if (!x->ts_first_byte)
			x->ts_first_byte = d->in_ts;
		if (!f->resp_head && st && st[0] == '1' && strcmp(st, "101") != 0) {
			x->interim++;
		} else if (!f->resp_head) {
			x->status = st ? (int)strtol(st, NULL, 10) : 0;
			x->resp.headers = h;
			memset(&h, 0, sizeof(h));
			f->resp_head = 1;
			ct = http_header_get(&x->resp.headers, "content-type");
			f->sse.on = ct && strncasecmp(ct, "text/event-stream", 17) == 0;
		} else {
			http_headers_release(&x->resp.trailers);
			x->resp.trailers = h;
			memset(&h, 0, sizeof(h));
		}
	}
	if (f && d->hb_end_stream) {
		if (resp)
			f->resp_done = 1;
		else
			f->req_done = 1;
		f->x->ts_end = c->ts;
		r = h2_retire_stream(c, f);
	}
out:
	http_headers_release(&h);
	http_headers_release(&ps);
	return r;
}

/* Handles one whole frame. */
static int h2_frame(struct http_conn *c, int resp, const uint8_t *fr, size_t len)
{
	struct dir *d = &c->d[resp];
	uint8_t type = fr[3], flags = fr[4];
	uint32_t id = ((uint32_t)(fr[5] & 0x7f) << 24) | ((uint32_t)fr[6] << 16) |
		      ((uint32_t)fr[7] << 8) | fr[8];
	const uint8_t *p = fr + 9;
	size_t pad = 0, skip = 0;
	struct flight *f;
	int r;

	if (d->hb_stream && (type != 9 || id != d->hb_stream))
		return http_stop(c, "HTTP/2 header block interrupted");
	if ((type == 0 || type == 1 || type == 5) && (flags & 0x8)) {
		if (len < 1 || p[0] >= len)
			return http_stop(c, "HTTP/2 bad padding");
		pad = p[0];
		skip = 1;
	}
	switch (type) {
	case 0: /* DATA */
		f = h2_stream(c, id);
		if (f && !(resp ? f->resp_done : f->req_done)) {
			r = http_body_add(c, f, resp, p + skip, len - skip - pad);
			if (r < 0)
				return r;
			if (flags & 0x1) {
				if (resp)
					f->resp_done = 1;
				else
					f->req_done = 1;
				f->x->ts_end = c->ts;
				return h2_retire_stream(c, f);
			}
		}
		return 0;
	case 1: /* HEADERS */
	case 5: /* PUSH_PROMISE */
		if (id == 0)
			return http_stop(c, "HTTP/2 HEADERS on stream 0");
		if (type == 1 && (flags & 0x20))
			skip += 5;
		if (type == 5)
			skip += 4;
		if (skip + pad > len)
			return http_stop(c, "HTTP/2 bad HEADERS frame");
		if (d->hblock.len == 0)
			d->in_ts = c->ts;
		if (buf_append(&d->hblock, p + skip, len - skip - pad) < 0)
			return http_stop(c, "head too big");
		d->hb_stream = id;
		d->hb_end_stream = type == 1 && (flags & 0x1);
		d->hb_push = type == 5;
		if (flags & 0x4)
			return h2_headers_done(c, resp);
		return 0;
	case 9: /* CONTINUATION */
		if (!d->hb_stream)
			return http_stop(c, "HTTP/2 CONTINUATION without HEADERS");
		if (buf_append(&d->hblock, p, len) < 0)
			return http_stop(c, "head too big");
		if (flags & 0x4)
			return h2_headers_done(c, resp);
		return 0;
	case 3: /* RST_STREAM */
		f = h2_stream(c, id);
		if (f) {
			f->x->incomplete = !(f->req_done && f->resp_done);
			f->req_done = f->resp_done = 1;
			f->x->ts_end = c->ts;
			return h2_retire_stream(c, f);
		}
		return 0;
	case 4: /* SETTINGS: a table size the peer allows is what the other side's encoder may use */
		if (flags & 0x1)
			return 0;
		for (size_t i = 0; i + 6 <= len; i += 6) {
			uint16_t sid = (uint16_t)(p[i] << 8 | p[i + 1]);
			uint32_t v = (uint32_t)p[i + 2] << 24 | (uint32_t)p[i + 3] << 16 |
				     (uint32_t)p[i + 4] << 8 | p[i + 5];

			if (sid == 1 && nghttp2_hd_inflate_change_table_size(c->d[!resp].inf, v))
				return http_stop(c, "HTTP/2 bad table size");
		}
		return 0;
	default:
		return 0;
	}
}

int http2_parse(struct http_conn *c, int resp)
{
	struct dir *d = &c->d[resp];
	int r;

	while (c->proto == P_H2) {
		const uint8_t *p = (const uint8_t *)d->in.data;
		size_t len;

		if (d->preface_left) {
			size_t k = d->in.len < d->preface_left ? d->in.len : d->preface_left;

			if (memcmp(d->in.data, &H2_PREFACE[H2_PREFACE_LEN - d->preface_left], k))
				return http_stop(c, "bad HTTP/2 preface");
			buf_consume(&d->in, k);
			d->preface_left -= k;
			if (d->preface_left)
				return 0;
			continue;
		}
		if (d->in.len < 9)
			return 0;
		len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
		if (len + 9 > c->lim.buffer_max)
			return http_stop(c, "HTTP/2 frame too big");
		if (d->in.len < len + 9)
			return 0;
		r = h2_frame(c, resp, p, len);
		if (r < 0)
			return r;
		buf_consume(&d->in, len + 9);
	}
	return 0;
}

int http2_start(struct http_conn *c)
{
	int k;

	for (k = 0; k < 2; k++) {
		if (nghttp2_hd_inflate_new(&c->d[k].inf) != 0)
			return -ENOMEM;
		buf_init(&c->d[k].hblock, c->lim.head_max);
	}
	c->d[0].preface_left = H2_PREFACE_LEN;
	c->proto = P_H2;
	return 0;
}
