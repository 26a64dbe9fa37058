/* SPDX-License-Identifier: MIT */
/* http1.c -- HTTP/1.x message framing over raw bytes (see http1.h).
 *
 * Hand-written rather than taken from a library: nghttp2 speaks only
 * HTTP/2, and framing needs no parse tree, only where lines and bodies end.
 */
#include "common/http1.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/config.h"

const unsigned char http1_tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1,	    ['&'] = 1,	       ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,	    ['^'] = 1,	       ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1, ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

static const char *const methods[] = { "GET",	  "POST",  "PUT",   "DELETE", "HEAD",
				       "OPTIONS", "PATCH", "TRACE", "CONNECT" };

int http1_is_request(const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t k = strlen(methods[i]);

		if (n > k && memcmp(s, methods[i], k) == 0 && s[k] == ' ')
			return 1;
	}
	return 0;
}

/* 1 when p[0..n) is, or may still become, the start of a request line. */
static int could_be_request(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t k = strlen(methods[i]), m = n < k ? n : k;

		if (memcmp(s, methods[i], m) == 0 && (n <= k || s[k] == ' '))
			return 1;
	}
	return 0;
}

/* End of the head (just past CRLFCRLF), 0 when not there yet, (size_t)-1
 * when it is too long to be a head. */
static size_t head_end(const unsigned char *s, size_t n)
{
	/* an end within the first HTTP1_HEAD_MAX + 1 bytes counts */
	size_t m = n < HTTP1_HEAD_MAX + 1 ? n : HTTP1_HEAD_MAX + 1;
	const unsigned char *e = memmem(s, m, "\r\n\r\n", 4);

	if (e)
		return (size_t)(e - s) + 4;
	return n > HTTP1_HEAD_MAX ? (size_t)-1 : 0;
}

/* The first line's end (at its CR). */
static size_t line_end(const unsigned char *s, size_t n)
{
	const unsigned char *cr = memchr(s, '\r', n);

	return cr ? (size_t)(cr - s) : n;
}

int http1_header_next(const void *p, size_t head_len, size_t *pos, struct http1_span *ret_name,
		      struct http1_span *ret_value)
{
	const unsigned char *s = p;
	size_t i = *pos, e, colon, vs, ve;

	if (i == 0) /* skip the start line */
		i = line_end(s, head_len) + 2;
	for (;;) {
		if (i + 2 > head_len || s[i] == '\r')
			return 0;
		e = i + line_end(s + i, head_len - i);
		*pos = e + 2;
		for (colon = i; colon < e && s[colon] != ':'; colon++)
			;
		if (colon == e || colon == i) {
			i = e + 2; /* not a field: skipped */
			continue;
		}
		vs = colon + 1;
		while (vs < e && (s[vs] == ' ' || s[vs] == '\t'))
			vs++;
		ve = e;
		while (ve > vs && (s[ve - 1] == ' ' || s[ve - 1] == '\t'))
			ve--;
		*ret_name = (struct http1_span){ .off = i, .len = colon - i };
		*ret_value = (struct http1_span){ .off = vs, .len = ve - vs };
		return 1;
	}
}

static int span_is(const unsigned char *s, struct http1_span sp, const char *word)
{
	return sp.len == strlen(word) && strncasecmp((const char *)s + sp.off, word, sp.len) == 0;
}

/* 1 when the comma-separated value holds token `word`. */
static int has_token(const unsigned char *s, struct http1_span v, const char *word)
{
	size_t k = strlen(word), i = v.off, end = v.off + v.len;

	while (i < end) {
		size_t j = i, a, b;

		while (j < end && s[j] != ',')
			j++;
		a = i;
		b = j;
		while (a < b && (s[a] == ' ' || s[a] == '\t'))
			a++;
		while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
			b--;
		if (b - a == k && strncasecmp((const char *)s + a, word, k) == 0)
			return 1;
		i = j + 1;
	}
	return 0;
}

/* Parses a decimal Content-Length. @return 0 or -EPROTO. */
static int parse_len(const unsigned char *s, struct http1_span v, size_t *ret)
{
	uint64_t x = 0;

	if (!v.len || v.len > 15)
		return -EPROTO;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = s[v.off + i];

		if (c < '0' || c > '9')
			return -EPROTO;
		x = x * 10 + (c - '0');
	}
	*ret = (size_t)x;
	return 0;
}

/* Framing facts of a head. */
struct head {
	int chunked;
	int has_len;
	size_t clen;
	int close;
};

static int read_head(const unsigned char *s, size_t hl, struct head *h, struct http1_req *req)
{
	struct http1_span name, value;
	size_t pos = 0;

	memset(h, 0, sizeof(*h));
	while (http1_header_next(s, hl, &pos, &name, &value)) {
		if (span_is(s, name, "content-length")) {
			if (parse_len(s, value, &h->clen) < 0)
				return -EPROTO;
			h->has_len = 1;
		} else if (span_is(s, name, "transfer-encoding")) {
			h->chunked = has_token(s, value, "chunked");
		} else if (span_is(s, name, "connection")) {
			h->close = has_token(s, value, "close");
		} else if (req && span_is(s, name, "host") && !req->host.len) {
			req->host = value;
		} else if (req && span_is(s, name, "expect")) {
			req->expect_continue = has_token(s, value, "100-continue");
		}
	}
	return 0;
}

/* Length of a chunked body at s[0..n): 0 when incomplete, (size_t)-1 when
 * malformed. */
static size_t chunked_len(const unsigned char *s, size_t n)
{
	size_t i = 0;

	for (;;) {
		uint64_t sz = 0;
		size_t digits = 0, e;

		while (i < n && digits < 16) {
			unsigned char c = s[i];
			int d = c >= '0' && c <= '9'   ? c - '0'
				: c >= 'a' && c <= 'f' ? c - 'a' + 10
				: c >= 'A' && c <= 'F' ? c - 'A' + 10
						       : -1;

			if (d < 0)
				break;
			sz = sz * 16 + (unsigned)d;
			digits++;
			i++;
		}
		if (i >= n)
			return 0;
		if (!digits)
			return (size_t)-1;
		/* chunk extensions, then CRLF */
		e = i;
		while (e < n && s[e] != '\n')
			e++;
		if (e >= n)
			return 0;
		i = e + 1;
		if (sz == 0) {
			/* trailers up to an empty line */
			for (;;) {
				e = i;
				while (e < n && s[e] != '\n')
					e++;
				if (e >= n)
					return 0;
				if (e == i || (e == i + 1 && s[i] == '\r'))
					return e + 1;
				i = e + 1;
			}
		}
		if (sz > (uint64_t)SIZE_MAX - i - 2)
			return (size_t)-1;
		if (n < i + sz + 2)
			return 0;
		i += sz + 2;
	}
}

int http1_request(const void *p, size_t n, struct http1_req *ret)
{
	const unsigned char *s = p;
	size_t hl, sp1, sp2, le, blen;
	struct head h;

	memset(ret, 0, sizeof(*ret));
	if (!could_be_request(s, n))
		return -EPROTO;
	if (!http1_is_request(s, n))
		return 0; /* a method's first letters */
	hl = head_end(s, n);
	if (hl == (size_t)-1)
		return -EPROTO;
	if (!hl)
		return 0;
	le = line_end(s, hl);
	for (sp1 = 0; sp1 < le && s[sp1] != ' '; sp1++)
		;
	for (sp2 = sp1 + 1; sp2 < le && s[sp2] != ' '; sp2++)
		;
	if (sp2 >= le)
		return -EPROTO;
	ret->method = (struct http1_span){ .off = 0, .len = sp1 };
	ret->target = (struct http1_span){ .off = sp1 + 1, .len = sp2 - sp1 - 1 };
	if (read_head(s, hl, &h, ret) < 0)
		return -EPROTO;
	ret->head_len = hl;
	if (h.chunked) {
		blen = chunked_len(s + hl, n - hl);
		if (blen == (size_t)-1)
			return -EPROTO;
		if (!blen)
			return 0;
	} else {
		blen = h.has_len ? h.clen : 0;
		if (n - hl < blen)
			return 0;
	}
	ret->body = (struct http1_span){ .off = hl, .len = blen };
	ret->len = hl + blen;
	return 1;
}

/* Status code of a response start line "HTTP/1.x NNN ...", or -1. */
static int status_of(const unsigned char *s, size_t n)
{
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	return (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
}

int http1_response(const void *p, size_t n, int head, int eof, struct http1_resp *ret)
{
	const unsigned char *s = p;
	size_t at = 0, hl, blen;
	struct head h;
	int st;

	memset(ret, 0, sizeof(*ret));
	for (;;) {
		if (n - at < 12)
			return n - at > 0 && memcmp(s + at, "HTTP/1.", n - at < 7 ? n - at : 7)
				       ? -EPROTO
				       : 0;
		st = status_of(s + at, n - at);
		if (st < 0)
			return -EPROTO;
		hl = head_end(s + at, n - at);
		if (hl == (size_t)-1)
			return -EPROTO;
		if (!hl)
			return 0;
		if (st >= 100 && st < 200 && st != 101) {
			at += hl;
			ret->interim_len = at;
			continue;
		}
		break;
	}
	ret->status = st;
	if (read_head(s + at, hl, &h, NULL) < 0)
		return -EPROTO;
	if (head || st == 204 || st == 304 || st == 101) {
		blen = 0;
	} else if (h.chunked) {
		blen = chunked_len(s + at + hl, n - at - hl);
		if (blen == (size_t)-1)
			return -EPROTO;
		if (!blen)
			return 0;
	} else if (h.has_len) {
		blen = h.clen;
		if (n - at - hl < blen)
			return 0;
	} else {
		ret->until_close = 1;
		if (!eof)
			return 0;
		blen = n - at - hl;
	}
	ret->len = at + hl + blen;
	return 1;
}

int http1_names_parse(struct http1_names *l, const char *list)
{
	const char *p = list ? list : "", *s;
	size_t n, size = 0, count = 0;
	char *o;

	*l = (struct http1_names){ .text = NULL };
	while ((n = config_list_next(&p, &s))) {
		size += n + 1;
		count++;
	}
	if (!count)
		return 0;
	l->text = malloc(size);
	l->v = malloc(count * sizeof(*l->v));
	if (!l->text || !l->v) {
		http1_names_release(l);
		return -ENOMEM;
	}
	o = l->text;
	for (p = list; (n = config_list_next(&p, &s));) {
		memcpy(o, s, n);
		o[n] = '\0';
		l->v[l->n++] = o;
		o += n + 1;
	}
	return 0;
}

void http1_names_release(struct http1_names *l)
{
	free(l->text);
	free(l->v);
	*l = (struct http1_names){ .text = NULL };
}

int http1_names_match(const struct http1_names *l, const char *s, size_t n)
{
	for (size_t i = 0; l && i < l->n; i++) {
		const char *name = l->v[i];
		size_t k = strlen(name);

		if (k && name[k - 1] == '*' ? n >= k - 1 && strncasecmp(s, name, k - 1) == 0
					    : n == k && strncasecmp(s, name, n) == 0)
			return 1;
	}
	return 0;
}

int http1_request_without(const void *p, size_t n, const struct http1_names *l, struct buf *out)
{
	const unsigned char *s = p;
	struct http1_req rq;
	struct http1_span name, value;
	size_t pos = 0, line, next;
	int r;

	if (!l || !l->n || http1_request(p, n, &rq) < 0 || !rq.head_len)
		return buf_append(out, p, n);
	line = line_end(s, rq.head_len) + 2; /* the start line */
	r = buf_append(out, p, line);
	while (r == 0 && http1_header_next(p, rq.head_len, &pos, &name, &value)) {
		next = pos; /* the field's line runs from its name to here */
		if (!http1_names_match(l, (const char *)s + name.off, name.len))
			r = buf_append(out, s + name.off, next - name.off);
	}
	if (r == 0)
		r = buf_append(out, "\r\n", 2);
	if (r == 0)
		r = buf_append(out, s + rq.head_len, n - rq.head_len);
	return r;
}
