/* SPDX-License-Identifier: MIT */
/* http_exchange.c -- a rebuilt HTTP exchange's redaction and its JSON (the
 * network_call payload, see attrace-trace(5)).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/http_int.h"
#include "common/json.h"
#include "common/redact.h"

/* ---- JSON ------------------------------------------------------------------- */

static int json_headers(struct buf *b, const char *key, const struct http_headers *h)
{
	size_t i;
	int r;

	r = json_key(b, key);
	if (r == 0)
		r = json_arr_open(b);
	for (i = 0; r == 0 && i < h->n; i++)
		r = json_str_pair(b, h->v[i].name, strlen(h->v[i].name), h->v[i].value,
				  strlen(h->v[i].value));
	if (r == 0)
		r = json_arr_close(b);
	return r;
}

static int json_msg(struct buf *b, const char *key, const struct http_msg *m)
{
	int r;

	r = json_key(b, key);
	if (r == 0)
		r = json_obj_open(b);
	if (r == 0)
		r = json_headers(b, "headers", &m->headers);
	if (r == 0 && m->trailers.n)
		r = json_headers(b, "trailers", &m->trailers);
	if (r == 0 && m->body_len)
		r = json_kv_bytes(b, "body", m->body.data, m->body.len);
	if (r == 0)
		r = json_key(b, "body_len");
	if (r == 0)
		r = json_uint(b, m->body_len);
	if (r == 0)
		r = json_kv_bool(b, "body_truncated", m->body_truncated);
	if (r == 0)
		r = json_obj_close(b);
	return r;
}

static int json_ts(struct buf *b, const char *key, int64_t ns)
{
	int r = json_key(b, key);

	if (r == 0)
		r = ns ? json_epoch(b, ns) : json_null(b);
	return r;
}

/* ---- redaction of a rebuilt exchange --------------------------------------- */

/* Replaces the string *s[0..n) with its redaction when that differs; a
 * string in h's block (h may be NULL) is not freed. r is reset to a fresh
 * stream by the flush. */
static int redact_text(struct redactor *r, const struct http_headers *h, char **s, size_t n,
		       struct buf *tmp)
{
	char *v;
	int k;

	buf_reset(tmp);
	k = redactor_feed(r, *s, n, tmp);
	if (k == 0)
		k = redactor_flush(r, tmp);
	if (k < 0)
		return -ENOMEM;
	if (tmp->len == n && memcmp(tmp->data, *s, n) == 0)
		return 0;
	v = http_xstrndup(tmp->data ? tmp->data : "", tmp->len);
	if (!v)
		return -ENOMEM;
	http_header_str_free(h, *s);
	*s = v;
	return 0;
}

/* A secret header's value: whole, or after "Scheme " for Authorization. */
static int redact_secret_value(const struct redact_config *cfg, const struct http_headers *h,
			       const char *name, char **s, struct buf *tmp)
{
	const char *v = *s, *sp = strchr(v, ' ');
	size_t keep = 0;
	char *nv;

	if (strstr(v, "[redacted:"))
		return 0;
	if (sp && sp > v &&
	    (strcasecmp(name, "authorization") == 0 ||
	     strcasecmp(name, "proxy-authorization") == 0) &&
	    strcspn(v, " \t\"=,") == (size_t)(sp - v))
		keep = (size_t)(sp - v) + 1;
	buf_reset(tmp);
	if (buf_append(tmp, v, keep) < 0 ||
	    redact_marker(cfg, v + keep, strlen(v + keep), 0, tmp) < 0)
		return -ENOMEM;
	nv = http_xstrndup(tmp->data, tmp->len);
	if (!nv)
		return -ENOMEM;
	http_header_str_free(h, *s);
	*s = nv;
	return 0;
}

/* r NULL: names only (the values were seen whole by the byte redactor). */
static int redact_headers(struct redactor *r, const struct redact_config *cfg,
			  struct http_headers *h, struct buf *tmp)
{
	size_t i;
	int k = 0;

	for (i = 0; k == 0 && i < h->n; i++) {
		const char *name = h->v[i].name;

		if (redact_header_is_secret(cfg, name, strlen(name)))
			k = redact_secret_value(cfg, h, name, &h->v[i].value, tmp);
		else if (r)
			k = redact_text(r, h, &h->v[i].value, strlen(h->v[i].value), tmp);
	}
	return k;
}

static int redact_body(struct redactor *r, struct http_msg *m, struct buf *tmp)
{
	int k;

	if (!m->body.len)
		return 0;
	buf_reset(tmp);
	k = redactor_feed(r, m->body.data, m->body.len, tmp);
	if (k == 0)
		k = redactor_flush(r, tmp);
	if (k < 0)
		return -ENOMEM;
	if (tmp->len != m->body.len || memcmp(tmp->data, m->body.data, tmp->len)) {
		struct buf t = m->body;

		/* the caps of the body buffer are kept: swap the storage */
		m->body = *tmp;
		m->body.max = t.max;
		*tmp = t;
		tmp->max = 0;
	}
	return 0;
}

/* The message's body was chunked: its bytes were not contiguous on the wire. */
static int chunked(const struct http_msg *m)
{
	const char *te = http_header_get(&m->headers, "transfer-encoding");

	return te && strcasestr(te, "chunked");
}

int http_exchange_redact(struct http_exchange *x, const struct redact_config *cfg,
			 enum http_redact_mode mode)
{
	int all = mode == HTTP_REDACT_ALL || !x->version || strncmp(x->version, "HTTP/1", 6) != 0;
	int req_body = all || chunked(&x->req), resp_body = all || chunked(&x->resp);
	struct redactor *r = NULL, *values;
	struct buf tmp = BUF_INIT;
	int k = 0;

	if (req_body || resp_body) {
		r = redactor_new(cfg);
		if (!r)
			return -ENOMEM;
	}
	values = all ? r : NULL;
	if (values && x->url)
		k = redact_text(values, NULL, &x->url, strlen(x->url), &tmp);
	if (k == 0)
		k = redact_headers(values, cfg, &x->req.headers, &tmp);
	if (k == 0)
		k = redact_headers(values, cfg, &x->req.trailers, &tmp);
	if (k == 0)
		k = redact_headers(values, cfg, &x->resp.headers, &tmp);
	if (k == 0)
		k = redact_headers(values, cfg, &x->resp.trailers, &tmp);
	if (k == 0 && req_body)
		k = redact_body(r, &x->req, &tmp);
	if (k == 0 && resp_body)
		k = redact_body(r, &x->resp, &tmp);
	buf_release(&tmp);
	redactor_free(r);
	return k < 0 ? -ENOMEM : 0;
}

int http_exchange_json(const struct http_exchange *x, struct buf *out)
{
	size_t start = out->len;
	int r;

	r = json_obj_open(out);
	if (r == 0 && x->conn)
		r = json_kv_str(out, "conn", x->conn);
	if (r == 0)
		r = json_kv_str(out, "method", x->method);
	if (r == 0)
		r = json_kv_str(out, "url", x->url);
	if (r == 0)
		r = x->status ? json_kv_int(out, "status", x->status) : json_key(out, "status");
	if (r == 0 && !x->status)
		r = json_null(out);
	if (r == 0)
		r = json_kv_str(out, "reason", x->reason ? x->reason : "");
	if (r == 0)
		r = json_kv_str(out, "version", x->version);
	if (r == 0 && x->stream_id)
		r = json_kv_int(out, "stream", x->stream_id);
	if (r == 0 && x->interim)
		r = json_kv_int(out, "interim", x->interim);
	if (r == 0 && x->incomplete)
		r = json_kv_bool(out, "incomplete", 1);
	if (r == 0)
		r = json_msg(out, "request", &x->req);
	if (r == 0)
		r = json_msg(out, "response", &x->resp);
	if (r == 0)
		r = json_key(out, "sse_events");
	if (r == 0)
		r = json_uint(out, x->sse_events);
	if (r == 0)
		r = json_ts(out, "ts_request", x->ts_request);
	if (r == 0)
		r = json_ts(out, "ts_first_byte", x->ts_first_byte);
	if (r == 0)
		r = json_ts(out, "ts_end", x->ts_end);
	if (r == 0)
		r = json_obj_close(out);
	if (r < 0) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return r;
}
