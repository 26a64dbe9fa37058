/* SPDX-License-Identifier: MIT */
/* http.c -- HTTP/1.x and HTTP/2 exchanges reconstructed from a connection's
 * recorded bytes: the connection, its exchanges in flight, and HTTP/1.
 * Hand-written HTTP/1 parsing (an observer must accept what the peers
 * accepted and never answer, which parsers built for servers do not offer).
 * HTTP/2 is in http2.c, an exchange's redaction and JSON in
 * http_exchange.c.
 */
#include "common/http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/http1.h"
#include "common/http_int.h"

#define FEED_SLICE (64u << 10) /* bytes handed to the parser at a time */
#define LINE_MAX   4096 /* a chunk-size line */
#define METHOD_MAX 32

/* ---- small helpers -------------------------------------------------------- */

char *http_xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Is p one of the strings in h's block (not a malloc'ed one)? */
static int in_block(const struct http_headers *h, const char *p)
{
	return h && h->block && p >= h->block && p < h->block + h->block_len;
}

/* Frees a header string of h unless it lives in h's block. */
void http_header_str_free(const struct http_headers *h, char *p)
{
	if (!in_block(h, p))
		free(p);
}

void http_headers_release(struct http_headers *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		http_header_str_free(h, h->v[i].name);
		http_header_str_free(h, h->v[i].value);
	}
	free(h->v);
	free(h->block);
	memset(h, 0, sizeof(*h));
}

/* Room for one more header in h->v. */
static int headers_grow(struct http_headers *h)
{
	struct http_header *v;

	/* The array grows to 8, then doubles: its capacity follows from n
	 * (a power of two >= 8), so no realloc per header. */
	if (h->n == 0 || (h->n >= 8 && (h->n & (h->n - 1)) == 0)) {
		v = realloc(h->v, (h->n ? 2 * h->n : 8) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->v = v;
	}
	return 0;
}

int http_headers_add(struct http_headers *h, const char *name, size_t nn, const char *value,
		     size_t vn)
{
	struct http_header *v;

	if (headers_grow(h) < 0)
		return -ENOMEM;
	v = h->v;
	v[h->n].name = http_xstrndup(name, nn);
	v[h->n].value = http_xstrndup(value, vn);
	if (!v[h->n].name || !v[h->n].value) {
		free(v[h->n].name);
		free(v[h->n].value);
		return -ENOMEM;
	}
	h->n++;
	return 0;
}

const char *http_header_get(const struct http_headers *h, const char *name)
{
	size_t i;

	/* the first byte, folded, rules most names out before strcasecmp:
	 * equal names fold equal; unequal ones may too, then strcasecmp says */
	for (i = 0; i < h->n; i++)
		if ((h->v[i].name[0] | 0x20) == (name[0] | 0x20) &&
		    strcasecmp(h->v[i].name, name) == 0)
			return h->v[i].value;
	return NULL;
}

static void msg_release(struct http_msg *m)
{
	http_headers_release(&m->headers);
	http_headers_release(&m->trailers);
	buf_release(&m->body);
}

void http_exchange_free(struct http_exchange *x)
{
	if (!x)
		return;
	free(x->conn);
	free(x->method);
	free(x->url);
	free(x->version);
	free(x->reason);
	msg_release(&x->req);
	msg_release(&x->resp);
	free(x);
}

int http_stop(struct http_conn *c, const char *why)
{
	c->proto = P_STOPPED;
	c->error = why;
	return -EPROTO;
}

/* Not HTTP after all: no exchanges, no error. */
static int not_http(struct http_conn *c)
{
	c->proto = P_NONE;
	return 0;
}

/* "host:port" without ":port" when it is the scheme's default. */
static int host_for_url(struct buf *u, const char *scheme, const char *h)
{
	size_t n = strlen(h);
	const char *dflt = strcmp(scheme, "https") == 0 ? ":443" : ":80";

	if (n > strlen(dflt) && strcmp(h + n - strlen(dflt), dflt) == 0)
		n -= strlen(dflt);
	return buf_append(u, h, n);
}

/* scheme://host + target; an absolute target stands alone. */
char *http_make_url(struct http_conn *c, const char *scheme, const char *host, const char *target)
{
	struct buf u = BUF_INIT;
	int r;

	if (strstr(target, "://") && target[0] != '/')
		return strdup(target);
	if (!host || !*host)
		host = c->host && *c->host ? c->host : c->peer;
	r = buf_puts(&u, scheme);
	if (r == 0)
		r = buf_append(&u, "://", 3);
	if (r == 0 && host)
		r = host_for_url(&u, scheme, host);
	if (r == 0 && target[0] != '/' && target[0] != '*' && target[0])
		r = buf_putc(&u, '/');
	if (r == 0 && strcmp(target, "*") != 0)
		r = buf_puts(&u, target);
	if (r == 0 && u.len == 0)
		r = buf_puts(&u, "");
	if (r < 0) {
		buf_release(&u);
		return NULL;
	}
	return buf_steal(&u);
}

/* ---- exchanges in flight and done ----------------------------------------- */

struct flight *http_flight_new(struct http_conn *c)
{
	struct flight *f, **v;

	if (c->nfl >= c->lim.streams_max)
		return NULL;
	v = array_room(c->fl, c->nfl, &c->capfl, sizeof(*v));
	if (!v)
		return NULL;
	c->fl = v;
	f = calloc(1, sizeof(*f));
	if (f)
		f->x = calloc(1, sizeof(*f->x));
	if (!f || !f->x) {
		free(f);
		return NULL;
	}
	buf_init(&f->x->req.body, 0);
	buf_init(&f->x->resp.body, 0);
	c->fl[c->nfl++] = f;
	return f;
}

static int push_done(struct http_conn *c, struct http_exchange *x)
{
	struct http_exchange **v;

	if (c->done_head == c->ndone)
		c->done_head = c->ndone = 0;
	v = array_room(c->done, c->ndone, &c->capdone, sizeof(*v));
	if (!v) {
		http_exchange_free(x);
		return -ENOMEM;
	}
	c->done = v;
	v[c->ndone++] = x;
	return 0;
}

/* Moves fl[i] to the done queue (or drops it when no request was seen). */
int http_retire(struct http_conn *c, size_t i)
{
	struct flight *f = c->fl[i];
	struct http_exchange *x = f->x;
	int r = 0;

	memmove(&c->fl[i], &c->fl[i + 1], (c->nfl - i - 1) * sizeof(*c->fl));
	c->nfl--;
	for (size_t k = 0; k < 2; k++)
		if (c->d[k].cur == f)
			c->d[k].cur = NULL;
	free(f);
	if (!x->method) {
		http_exchange_free(x);
		return 0;
	}
	if (!x->ts_end)
		x->ts_end = c->ts;
	if (!x->version)
		x->version = strdup(c->proto == P_H2 ? "HTTP/2" : "HTTP/1.1");
	if (!x->reason)
		x->reason = strdup("");
	if (!x->version || !x->reason) {
		http_exchange_free(x);
		return -ENOMEM;
	}
	x->req.body_truncated = x->req.body_len > x->req.body.len;
	x->resp.body_truncated = x->resp.body_len > x->resp.body.len;
	r = push_done(c, x);
	return r;
}

/* HTTP/1: exchanges leave in order, once both sides are done. */
static int retire_h1(struct http_conn *c)
{
	int r;

	while (c->nfl && c->fl[0]->req_done && c->fl[0]->resp_done) {
		r = http_retire(c, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

static void sse_feed(struct sse *s, const unsigned char *p, size_t n, uint64_t *events)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = p[i];
		int eol = 0;

		if (ch == '\n' && s->prev_cr) {
			s->prev_cr = 0;
			continue;
		}
		s->prev_cr = ch == '\r';
		if (ch == '\r' || ch == '\n')
			eol = 1;
		if (!eol) {
			if (s->line_len == 0 && ch == ':')
				s->comment = 1;
			s->line_len++;
			continue;
		}
		if (s->line_len == 0) {
			if (s->has_field)
				(*events)++;
			s->has_field = 0;
		} else if (!s->comment) {
			s->has_field = 1;
		}
		s->line_len = 0;
		s->comment = 0;
	}
}

/* Appends body bytes to a message, up to the cap; the length counts them all. */
int http_body_add(struct http_conn *c, struct flight *f, int resp, const void *p, size_t n)
{
	struct http_msg *m = resp ? &f->x->resp : &f->x->req;
	size_t room = c->lim.body_max > m->body.len ? c->lim.body_max - m->body.len : 0;
	size_t k = n < room ? n : room;

	m->body_len += n;
	if (resp && f->sse.on)
		sse_feed(&f->sse, p, n, &f->x->sse_events);
	if (k && buf_append(&m->body, p, k) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- HTTP/1 ----------------------------------------------------------------- */

/* Length of the head at the start of d->in (through the blank line), or 0. */
static size_t head_end(struct dir *d)
{
	const char *s = d->in.data;
	size_t i = d->scanned > 2 ? d->scanned - 2 : 0;

	for (; i < d->in.len; i++) {
		const char *nl = memchr(s + i, '\n', d->in.len - i);

		if (!nl)
			break;
		i = (size_t)(nl - s);
		if (i + 1 < d->in.len && s[i + 1] == '\n')
			return i + 2;
		if (i + 2 < d->in.len && s[i + 1] == '\r' && s[i + 2] == '\n')
			return i + 3;
	}
	d->scanned = d->in.len;
	return 0;
}

/* Splits head[0..n) into the first line and header fields (obs-fold joins
 * continuation lines). The head is copied once into h's block and the
 * fields are cut out of the copy in place: one allocation per head instead
 * of two per field, which was most of the reconstruction's cost. A block
 * already there (trailers twice) makes the fields separate allocations.
 * *ret_line points into the copy (or s) while h lives.
 * @return 0, -EPROTO or -ENOMEM. */
static int parse_fields(struct http_conn *c, const char *s, size_t n, struct http_headers *h,
			const char **ret_line, size_t *ret_line_len)
{
	size_t pos = 0, first = 1;
	char *blk = NULL;

	if (!h->block) {
		blk = malloc(n + 1);
		if (!blk)
			return -ENOMEM;
		memcpy(blk, s, n);
		blk[n] = '\0';
		h->block = blk;
		h->block_len = n + 1;
		s = blk;
	}
	while (pos < n) {
		const char *line = s + pos, *nl = memchr(line, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - line) : n - pos;
		const char *colon, *v, *end;

		pos += len + (nl ? 1 : 0);
		if (len && line[len - 1] == '\r')
			len--;
		if (first) {
			*ret_line = line;
			*ret_line_len = len;
			first = 0;
			continue;
		}
		if (len == 0)
			break;
		if ((line[0] == ' ' || line[0] == '\t') && h->n) {
			struct http_header *last = &h->v[h->n - 1];
			struct buf j = BUF_INIT;

			while (len && (*line == ' ' || *line == '\t')) {
				line++;
				len--;
			}
			while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
				len--;
			if (buf_printf(&j, "%s %.*s", last->value, (int)len, line) < 0)
				return -ENOMEM;
			http_header_str_free(h, last->value);
			last->value = buf_steal(&j);
			if (!last->value)
				return -ENOMEM;
			continue;
		}
		colon = memchr(line, ':', len);
		if (!colon || colon == line)
			return -EPROTO;
		for (v = line; v < colon; v++)
			if (!http1_is_tchar((unsigned char)*v))
				return -EPROTO;
		if (h->n >= c->lim.headers_max)
			return -E2BIG;
		v = colon + 1;
		end = line + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (blk) {
			/* cut name and value out of the copy: the colon and the
			 * byte after the value (CR, LF or a blank) become NULs */
			if (headers_grow(h) < 0)
				return -ENOMEM;
			blk[colon - blk] = '\0';
			blk[end - blk] = '\0';
			h->v[h->n].name = blk + (line - blk);
			h->v[h->n].value = blk + (v - blk);
			h->n++;
		} else if (http_headers_add(h, line, (size_t)(colon - line), v, (size_t)(end - v)) <
			   0) {
			return -ENOMEM;
		}
	}
	return 0;
}

/* @return 1 when the comma-separated list value has token tok. */
static int list_has(const char *value, const char *tok)
{
	size_t n = strlen(tok);
	const char *p = value;

	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncasecmp(p, tok, n) == 0 &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == ';' || p[n] == '\t'))
			return 1;
		p = strchr(p, ',');
	}
	return 0;
}

/* Sets the body state from the framing headers. @return 0 or -EPROTO. */
static int body_framing(struct dir *d, const struct http_headers *h, int until_close)
{
	const char *te = http_header_get(h, "Transfer-Encoding");
	const char *cl = http_header_get(h, "Content-Length");
	char *end;
	unsigned long long v;

	if (te && list_has(te, "chunked")) {
		d->st = S_CHUNK_SIZE;
		return 0;
	}
	if (cl) {
		if (*cl < '0' || *cl > '9')
			return -EPROTO;
		errno = 0;
		v = strtoull(cl, &end, 10);
		if (errno || *end)
			return -EPROTO;
		d->remaining = v;
		d->st = v ? S_BODY_LEN : S_HEAD;
		return 0;
	}
	d->st = until_close ? S_BODY_CLOSE : S_HEAD;
	return 0;
}

static int parse_request_head(struct http_conn *c, struct dir *d, size_t n)
{
	const char *line = NULL, *sp1, *sp2;
	size_t len = 0;
	struct flight *f;
	struct http_exchange *x;
	char *target = NULL;
	int r;

	f = http_flight_new(c);
	if (!f)
		return c->nfl >= c->lim.streams_max ? http_stop(c, "too many pipelined requests")
						    : -ENOMEM;
	x = f->x;
	x->ts_request = d->in_ts;
	r = parse_fields(c, d->in.data, n, &x->req.headers, &line, &len);
	if (r == -ENOMEM)
		return r;
	sp1 = line ? memchr(line, ' ', len) : NULL;
	sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line)) : NULL;
	if (r < 0 || !sp2 || sp1 == line || sp2 == sp1 + 1 || (size_t)(line + len - sp2) != 9 ||
	    strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp2[8] < '0' || sp2[8] > '9') {
		http_retire(c, c->nfl - 1);
		if (c->nreq == 0)
			return not_http(c);
		return http_stop(c,
				 r == -E2BIG ? "too many header fields" : "malformed request head");
	}
	for (const char *p = line; p < sp1; p++)
		if (!http1_is_tchar((unsigned char)*p)) {
			http_retire(c, c->nfl - 1);
			return c->nreq ? http_stop(c, "malformed request method") : not_http(c);
		}
	c->nreq++;
	x->method = http_xstrndup(line, (size_t)(sp1 - line));
	x->version = http_xstrndup(sp2 + 1, 8);
	target = http_xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	if (!x->method || !x->version || !target) {
		free(target);
		return -ENOMEM;
	}
	x->url = http_make_url(c, c->scheme, http_header_get(&x->req.headers, "Host"), target);
	free(target);
	if (!x->url)
		return -ENOMEM;
	f->req_head = 1;
	d->cur = f;
	if (body_framing(d, &x->req.headers, 0) < 0)
		return http_stop(c, "malformed request framing");
	if (d->st == S_HEAD)
		f->req_done = 1;
	return 0;
}

/* The oldest exchange still waiting for (the rest of) its response head. */
static struct flight *awaiting_response(struct http_conn *c)
{
	size_t i;

	for (i = 0; i < c->nfl; i++)
		if (!c->fl[i]->resp_done)
			return c->fl[i];
	return NULL;
}

static int parse_response_head(struct http_conn *c, struct dir *d, size_t n, struct flight *f)
{
	struct http_exchange *x = f->x;
	struct http_headers h = { 0 };
	const char *line = NULL, *ct;
	size_t len = 0;
	int r, status, no_body;

	r = parse_fields(c, d->in.data, n, &h, &line, &len);
	if (r == -ENOMEM)
		goto out;
	if (r < 0 || len < 12 || strncmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ' ||
	    line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' || line[11] < '0' ||
	    line[11] > '9' || (len > 12 && line[12] != ' ')) {
		r = http_stop(c,
			      r == -E2BIG ? "too many header fields" : "malformed response head");
		goto out;
	}
	status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	if (status < 200 && status != 101) {
		x->interim++;
		r = 0;
		goto out;
	}
	x->status = status;
	free(x->reason);
	x->reason = http_xstrndup(len > 12 ? line + 13 : "", len > 12 ? len - 13 : 0);
	free(x->version);
	x->version = http_xstrndup(line, 8);
	if (!x->reason || !x->version) {
		r = -ENOMEM;
		goto out;
	}
	x->resp.headers = h;
	memset(&h, 0, sizeof(h));
	f->resp_head = 1;
	d->cur = f;
	ct = http_header_get(&x->resp.headers, "Content-Type");
	f->sse.on = ct && strncasecmp(ct, "text/event-stream", 17) == 0;
	if (status == 101 || (strcmp(x->method, "CONNECT") == 0 && status < 300)) {
		/* the connection now carries another protocol */
		f->resp_done = 1;
		f->req_done = 1;
		x->ts_end = c->ts;
		r = retire_h1(c);
		c->proto = P_STOPPED; /* no error: just no more HTTP */
		c->error = NULL;
		goto out;
	}
	no_body = strcmp(x->method, "HEAD") == 0 || status == 204 || status == 304;
	d->st = S_HEAD;
	if (!no_body && body_framing(d, &x->resp.headers, 1) < 0) {
		r = http_stop(c, "malformed response framing");
		goto out;
	}
	if (d->st == S_HEAD) {
		f->resp_done = 1;
		x->ts_end = c->ts;
	}
	r = 0;
out:
	http_headers_release(&h);
	return r;
}

/* Consumes what it can of d->in. @return 0, -EPROTO or -ENOMEM. */
static int h1_parse(struct http_conn *c, int resp)
{
	struct dir *d = &c->d[resp];
	int r;

	while (c->proto == P_H1) {
		struct flight *f = d->cur;
		size_t n, k;
		char *nl;

		switch (d->st) {
		case S_HEAD:
			if (d->in.len == 0)
				return 0;
			if (resp) {
				f = awaiting_response(c);
				if (!f || !f->req_head) {
					/* stray line ends between messages are allowed */
					if (d->in.data[0] == '\r' || d->in.data[0] == '\n') {
						buf_consume(&d->in, 1);
						continue;
					}
					if (!f && c->d[0].in.len == 0)
						return http_stop(c, "response without a request");
					return 0; /* the request is still being parsed */
				}
				if (!f->x->ts_first_byte)
					f->x->ts_first_byte = d->in_ts;
			} else if (d->in.data[0] == '\r' || d->in.data[0] == '\n') {
				buf_consume(&d->in, 1);
				continue;
			}
			n = head_end(d);
			if (!n) {
				if (d->in.len <= c->lim.head_max)
					return 0;
				if (!c->nreq && !resp && !memchr(d->in.data, '\n', d->in.len))
					return not_http(c);
				return http_stop(c, "head too big");
			}
			if (n > c->lim.head_max)
				return http_stop(c, "head too big");
			r = resp ? parse_response_head(c, d, n, f) : parse_request_head(c, d, n);
			buf_consume(&d->in, n);
			d->scanned = 0;
			d->in_ts = c->ts;
			if (r < 0)
				return r;
			if (c->proto != P_H1)
				return 0;
			r = retire_h1(c);
			if (r < 0)
				return r;
			break;
		case S_BODY_LEN:
		case S_CHUNK_DATA:
			if (d->in.len == 0)
				return 0;
			k = d->in.len < d->remaining ? d->in.len : (size_t)d->remaining;
			r = http_body_add(c, f, resp, d->in.data, k);
			if (r < 0)
				return r;
			buf_consume(&d->in, k);
			d->remaining -= k;
			if (d->remaining == 0)
				d->st = d->st == S_CHUNK_DATA ? S_CHUNK_CRLF : S_HEAD;
			if (d->st == S_HEAD)
				goto message_done;
			break;
		case S_CHUNK_CRLF:
			if (d->in.len < 1 || (d->in.data[0] == '\r' && d->in.len < 2))
				return 0;
			if (d->in.data[0] == '\n')
				k = 1;
			else if (d->in.data[0] == '\r' && d->in.data[1] == '\n')
				k = 2;
			else
				return http_stop(c, "malformed chunk end");
			buf_consume(&d->in, k);
			d->st = S_CHUNK_SIZE;
			break;
		case S_CHUNK_SIZE: {
			unsigned long long v = 0;
			size_t i, digits = 0;

			nl = memchr(d->in.data, '\n', d->in.len);
			if (!nl) {
				if (d->in.len > LINE_MAX)
					return http_stop(c, "chunk size line too long");
				return 0;
			}
			for (i = 0; d->in.data + i < nl; i++) {
				int ch = (unsigned char)d->in.data[i], dv;

				if (ch >= '0' && ch <= '9')
					dv = ch - '0';
				else if (ch >= 'a' && ch <= 'f')
					dv = ch - 'a' + 10;
				else if (ch >= 'A' && ch <= 'F')
					dv = ch - 'A' + 10;
				else
					break;
				if (++digits > 15)
					return http_stop(c, "chunk size too big");
				v = v * 16 + (unsigned)dv;
			}
			if (!digits || (d->in.data[i] != ';' && d->in.data[i] != '\r' &&
					d->in.data[i] != ' ' && d->in.data[i] != '\t' &&
					d->in.data[i] != '\n'))
				return http_stop(c, "malformed chunk size");
			buf_consume(&d->in, (size_t)(nl - d->in.data) + 1);
			d->remaining = v;
			d->st = v ? S_CHUNK_DATA : S_TRAILERS;
			d->scanned = 0;
			break;
		}
		case S_TRAILERS: {
			struct http_headers *t = resp ? &f->x->resp.trailers : &f->x->req.trailers;
			struct buf fake = BUF_INIT;
			const char *line;
			size_t len;

			if (d->in.len == 0)
				return 0;
			if (d->in.data[0] == '\n' ||
			    (d->in.data[0] == '\r' && d->in.len >= 2 && d->in.data[1] == '\n')) {
				buf_consume(&d->in, d->in.data[0] == '\n' ? 1 : 2);
				d->st = S_HEAD;
				goto message_done;
			}
			n = head_end(d);
			if (!n) {
				if (d->in.len > c->lim.head_max)
					return http_stop(c, "trailers too big");
				return 0;
			}
			/* parse_fields wants a first line: give it an empty one */
			if (buf_putc(&fake, '\n') < 0 || buf_append(&fake, d->in.data, n) < 0) {
				buf_release(&fake);
				return -ENOMEM;
			}
			r = parse_fields(c, fake.data, fake.len, t, &line, &len);
			buf_release(&fake);
			if (r == -ENOMEM)
				return r;
			if (r < 0)
				return http_stop(c, "malformed trailers");
			buf_consume(&d->in, n);
			d->scanned = 0;
			d->st = S_HEAD;
			goto message_done;
		}
		case S_BODY_CLOSE:
			if (d->in.len == 0)
				return 0;
			r = http_body_add(c, f, resp, d->in.data, d->in.len);
			if (r < 0)
				return r;
			buf_consume(&d->in, d->in.len);
			return 0;
		}
		continue;
message_done:
		d->in_ts = c->ts;
		if (resp) {
			f->resp_done = 1;
			f->x->ts_end = c->ts;
		} else {
			f->req_done = 1;
		}
		d->cur = NULL;
		r = retire_h1(c);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the connection -------------------------------------------------------- */

struct http_conn *http_conn_new(const char *scheme, const char *host, const char *peer)
{
	struct http_conn *c = calloc(1, sizeof(*c));
	static const struct http_limits dflt = { HTTP_BODY_MAX, HTTP_HEAD_MAX, HTTP_HEADERS_MAX,
						 HTTP_BUFFER_MAX, HTTP_STREAMS_MAX };

	if (!c)
		return NULL;
	c->lim = dflt;
	c->scheme = strdup(scheme ? scheme : "http");
	c->host = host ? strdup(host) : NULL;
	c->peer = peer ? strdup(peer) : NULL;
	if (!c->scheme || (host && !c->host) || (peer && !c->peer)) {
		http_conn_free(c);
		return NULL;
	}
	buf_init(&c->d[0].in, c->lim.buffer_max);
	buf_init(&c->d[1].in, c->lim.buffer_max);
	return c;
}

void http_conn_set_limits(struct http_conn *c, const struct http_limits *l)
{
	c->lim.body_max = l->body_max;
	if (l->head_max)
		c->lim.head_max = l->head_max;
	if (l->headers_max)
		c->lim.headers_max = l->headers_max;
	if (l->buffer_max)
		c->lim.buffer_max = l->buffer_max;
	if (l->streams_max)
		c->lim.streams_max = l->streams_max;
	c->d[0].in.max = c->d[1].in.max = c->lim.buffer_max;
}

void http_conn_set_alpn(struct http_conn *c, const char *alpn)
{
	c->h2_alpn = alpn && strcmp(alpn, "h2") == 0;
}

void http_conn_free(struct http_conn *c)
{
	size_t i;
	int k;

	if (!c)
		return;
	for (k = 0; k < 2; k++) {
		buf_release(&c->d[k].in);
		buf_release(&c->d[k].hblock);
		if (c->d[k].inf)
			nghttp2_hd_inflate_del(c->d[k].inf);
	}
	for (i = 0; i < c->nfl; i++) {
		http_exchange_free(c->fl[i]->x);
		free(c->fl[i]);
	}
	free(c->fl);
	for (i = c->done_head; i < c->ndone; i++)
		http_exchange_free(c->done[i]);
	free(c->done);
	free(c->scheme);
	free(c->host);
	free(c->peer);
	free(c);
}

/* Decides the protocol from the first bytes sent. */
static int sniff(struct http_conn *c)
{
	struct buf *in = &c->d[0].in;
	size_t i, n = in->len < H2_PREFACE_LEN ? in->len : H2_PREFACE_LEN;

	if (c->h2_alpn || (n && memcmp(in->data, H2_PREFACE, n) == 0)) {
		if (!c->h2_alpn && n < H2_PREFACE_LEN)
			return 0;
		return http2_start(c);
	}
	if (c->d[1].in.len)
		return not_http(c); /* an HTTP/1 server never speaks first */
	for (i = 0; i < in->len && i <= METHOD_MAX; i++) {
		if (in->data[i] == ' ') {
			const char *nl = memchr(in->data, '\n', in->len);
			size_t len;

			if (i == 0)
				break;
			if (!nl)
				return in->len > c->lim.head_max ? not_http(c) : 0;
			/* the request line must end in " HTTP/1.x" */
			len = (size_t)(nl - in->data);
			if (len && in->data[len - 1] == '\r')
				len--;
			if (len < i + 10 || memcmp(in->data + len - 9, " HTTP/1.", 8) != 0)
				return not_http(c);
			c->proto = P_H1;
			return 0;
		}
		if (!http1_is_tchar((unsigned char)in->data[i]))
			break;
	}
	if (i < in->len)
		return not_http(c);
	return 0;
}

static int parse(struct http_conn *c, int resp)
{
	if (c->proto == P_H1)
		return h1_parse(c, resp);
	if (c->proto == P_H2)
		return http2_parse(c, resp);
	return 0;
}

static int feed_slice(struct http_conn *c, int resp, const void *p, size_t n)
{
	struct dir *d = &c->d[resp];
	int r;

	if (d->in.len == 0)
		d->in_ts = c->ts;
	r = buf_append(&d->in, p, n);
	if (r == -E2BIG)
		return c->proto == P_UNKNOWN ? not_http(c)
					     : http_stop(c, "too many bytes buffered");
	if (r < 0)
		return r;
	if (c->proto == P_UNKNOWN) {
		if (resp)
			return 0; /* the server spoke first: keep it until the client does */
		r = sniff(c);
		if (r < 0 || c->proto == P_UNKNOWN || c->proto == P_NONE)
			return r;
		resp = 0;
	}
	r = parse(c, resp);
	/* the other side may wait for this one (a response read before its request was parsed) */
	if (r == 0 && c->d[!resp].in.len)
		r = parse(c, !resp);
	return r;
}

int http_conn_feed(struct http_conn *c, int sent, const void *p, size_t n, int64_t ts_ns)
{
	int resp = !sent, r;
	const char *s = p;

	if (c->closed || c->proto == P_NONE || c->proto == P_STOPPED)
		return 0;
	c->ts = ts_ns;
	if (n == 0) {
		c->d[resp].ended = 1;
		if (resp && c->proto == P_H1 && c->d[1].st == S_BODY_CLOSE && c->d[1].cur) {
			struct flight *f = c->d[1].cur;

			f->resp_done = 1;
			f->x->ts_end = ts_ns;
			c->d[1].st = S_HEAD;
			c->d[1].cur = NULL;
			return retire_h1(c);
		}
		return 0;
	}
	while (n) {
		size_t k = n < FEED_SLICE ? n : FEED_SLICE;

		r = feed_slice(c, resp, s, k);
		if (r < 0 || c->proto == P_NONE || c->proto == P_STOPPED)
			return r;
		s += k;
		n -= k;
	}
	return 0;
}

int http_conn_close(struct http_conn *c, int64_t ts_ns)
{
	int r = 0;

	if (c->closed)
		return 0;
	if (c->proto == P_H1 || c->proto == P_H2 || c->proto == P_STOPPED) {
		if (ts_ns)
			c->ts = ts_ns;
		if (c->proto == P_H1 && c->d[1].st == S_BODY_CLOSE && c->d[1].cur)
			c->d[1].cur->resp_done = 1;
		while (c->nfl && r == 0) {
			struct flight *f = c->fl[0];

			if (!f->req_done || !f->resp_done)
				f->x->incomplete = 1;
			r = http_retire(c, 0);
		}
	}
	c->closed = 1;
	return r;
}

struct http_exchange *http_conn_next(struct http_conn *c)
{
	if (c->done_head >= c->ndone)
		return NULL;
	return c->done[c->done_head++];
}

const char *http_conn_error(const struct http_conn *c)
{
	return c->proto == P_STOPPED ? c->error : NULL;
}

int http_conn_is_http(const struct http_conn *c)
{
	return c->proto == P_H1 || c->proto == P_H2 || (c->proto == P_STOPPED && c->nreq);
}
