/* SPDX-License-Identifier: MIT */
/* test-http.c -- unit tests for common/http.c: HTTP/1.x framing (keep-alive,
 * chunked split at every byte, pipelining, 1xx, HEAD, 204, close-delimited,
 * SSE), HTTP/2 built with nghttp2's HPACK deflater, garbage and caps. */
#include <errno.h>
#include <json-c/json.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/http.h"
#include "common/http_trace.h"
#include "common/redact.h"
#include "tap.h"

/* The step tables below leave the length out for text. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* One step of a conversation: bytes sent (1) or received (0); NULL ends. */
struct step {
	int sent;
	const char *p;
	size_t n; /* 0: strlen(p) */
};

/* Feeds the steps, each cut into pieces of `chunk` bytes (0: whole), closes
 * and returns the exchanges as JSON lines in out. @return the number of
 * exchanges, or a negative errno from a feed. */
static int run(struct http_conn *c, const struct step *s, size_t chunk, struct buf *out)
{
	struct http_exchange *x;
	int64_t ts = 1000;
	int n = 0, r = 0;

	for (; s->p; s++) {
		size_t len = s->n ? s->n : strlen(s->p), off;

		for (off = 0; off < len && r >= 0;) {
			size_t k = chunk && len - off > chunk ? chunk : len - off;

			r = http_conn_feed(c, s->sent, s->p + off, k, ts);
			ts += 1000;
			off += k;
		}
		if (r < 0)
			break;
	}
	if (r >= 0)
		http_conn_close(c, ts);
	for (x = http_conn_next(c); x; x = http_conn_next(c)) {
		http_exchange_json(x, out);
		buf_putc(out, '\n');
		http_exchange_free(x);
		n++;
	}
	return r < 0 ? r : n;
}

/* Runs and returns the exchanges parsed back as a json-c array (caller puts). */
static struct json_object *exchanges(const struct step *s, size_t chunk, int *ret_n)
{
	struct http_conn *c = http_conn_new("http", NULL, "127.0.0.1:8080");
	struct json_object *arr = json_object_new_array();
	struct buf out = BUF_INIT;
	char *line, *save = NULL;

	*ret_n = run(c, s, chunk, &out);
	http_conn_free(c);
	for (line = out.data ? strtok_r(out.data, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		json_object_array_add(arr, json_tokener_parse(line));
	buf_release(&out);
	return arr;
}

static const char *jstr(struct json_object *o, const char *path)
{
	char key[64];
	const char *dot;
	struct json_object *v = o;

	while (v && *path) {
		dot = strchr(path, '.');
		snprintf(key, sizeof(key), "%.*s", dot ? (int)(dot - path) : (int)strlen(path),
			 path);
		if (!json_object_object_get_ex(v, key, &v))
			return NULL;
		path = dot ? dot + 1 : "";
	}
	return v ? json_object_get_string(v) : NULL;
}

static struct json_object *nth(struct json_object *arr, size_t i)
{
	return json_object_array_get_idx(arr, i);
}

static void test_keepalive(void)
{
	static const struct step s[] = {
		{ 1,
		  "GET /v1/tools?x=1 HTTP/1.1\r\nHost: api.example:8080\r\nUser-Agent: t\r\n\r\n" },
		{ 0,
		  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
		  "{\"tools\":1}" },
		{ 1,
		  "POST /v1/run HTTP/1.1\r\nHost: api.example:8080\r\nContent-Length: 5\r\n\r\nhello" },
		{ 0, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok" },
		{ 0, NULL },
	};
	struct json_object *a;
	int n;

	a = exchanges(s, 0, &n);
	tap_ok(n == 2, "keep-alive: two exchanges on one connection (%d)", n);
	tap_streq(jstr(nth(a, 0), "method"), "GET", "first method");
	tap_streq(jstr(nth(a, 0), "url"), "http://api.example:8080/v1/tools?x=1",
		  "first url from the Host header");
	tap_streq(jstr(nth(a, 0), "status"), "200", "first status");
	tap_streq(jstr(nth(a, 0), "reason"), "OK", "first reason");
	tap_streq(jstr(nth(a, 0), "version"), "HTTP/1.1", "version");
	tap_streq(jstr(nth(a, 0), "response.body"), "{\"tools\":1}", "first response body");
	tap_streq(jstr(nth(a, 0), "response.body_len"), "11", "first response body_len");
	tap_streq(jstr(nth(a, 1), "method"), "POST", "second method");
	tap_streq(jstr(nth(a, 1), "request.body"), "hello", "second request body");
	tap_streq(jstr(nth(a, 1), "status"), "201", "second status");
	tap_streq(jstr(nth(a, 1), "response.body"), "ok", "second response body");
	tap_ok(strstr(json_object_to_json_string_ext(nth(a, 0), JSON_C_TO_STRING_PLAIN),
		      "\"headers\":[[\"Host\",\"api.example:8080\"],[\"User-Agent\",\"t\"]]") !=
		       NULL,
	       "request headers are an ordered list of [name, value]");
	json_object_put(a);
}

static const struct step chunked[] = {
	{ 1, "GET /stream HTTP/1.1\r\nHost: h\r\n\r\n" },
	{ 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
	     "5\r\nhello\r\n7;ext=1\r\n, world\r\n1\r\n!\r\n0\r\nX-Sum: 42\r\n\r\n" },
	{ 1, "GET /next HTTP/1.1\r\nHost: h\r\n\r\n" },
	{ 0, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc" },
	{ 0, NULL },
};

static void test_chunked_every_split(void)
{
	struct http_conn *c;
	struct buf whole = BUF_INIT, got = BUF_INIT;
	struct json_object *a;
	size_t chunk;
	int n, same = 1;

	a = exchanges(chunked, 0, &n);
	tap_ok(n == 2, "chunked: two exchanges");
	tap_streq(jstr(nth(a, 0), "response.body"), "hello, world!", "chunked body decoded");
	tap_ok(strstr(json_object_to_json_string_ext(nth(a, 0), JSON_C_TO_STRING_PLAIN),
		      "\"trailers\":[[\"X-Sum\",\"42\"]]") != NULL,
	       "chunked trailers kept");
	tap_streq(jstr(nth(a, 1), "response.body"), "abc", "the exchange after it");
	json_object_put(a);

	c = http_conn_new("http", NULL, NULL);
	run(c, chunked, 0, &whole);
	http_conn_free(c);
	/* ts differ with the number of feeds: compare without them */
	for (chunk = 1; chunk <= 40; chunk++) {
		struct buf plain = BUF_INIT;
		char *p;

		buf_reset(&got);
		c = http_conn_new("http", NULL, NULL);
		run(c, chunked, chunk, &got);
		http_conn_free(c);
		for (p = got.data; p && *p; p++)
			if (strncmp(p, "\"ts_", 4) == 0)
				break;
		buf_append(&plain, got.data, p ? (size_t)(p - got.data) : 0);
		if (strncmp(plain.data ? plain.data : "", whole.data, plain.len) != 0 ||
		    plain.len < 100)
			same = 0;
		buf_release(&plain);
	}
	tap_ok(same, "chunked response split at every byte boundary (1..40): same exchanges");
	buf_release(&whole);
	buf_release(&got);
}

static void test_content_length_split(void)
{
	static const struct step s[] = {
		{ 1, "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789" },
		{ 0, "HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz" },
		{ 0, NULL },
	};
	struct json_object *a;
	size_t chunk;
	int n, ok = 1;

	for (chunk = 1; chunk < 20; chunk++) {
		a = exchanges(s, chunk, &n);
		if (n != 1 || !jstr(nth(a, 0), "response.body") ||
		    strcmp(jstr(nth(a, 0), "response.body"), "abcdefghijklmnopqrstuvwxyz") ||
		    strcmp(jstr(nth(a, 0), "request.body"), "0123456789"))
			ok = 0;
		json_object_put(a);
	}
	tap_ok(ok, "Content-Length bodies split in pieces of 1..19 bytes");
}

static void test_pipelining(void)
{
	static const struct step s[] = {
		{ 1, "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
		     "HEAD /c HTTP/1.1\r\nHost: h\r\n\r\n" },
		{ 0, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
		     "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nB"
		     "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" },
		{ 1, "GET /d HTTP/1.1\r\nHost: h\r\n\r\n" },
		{ 0, "HTTP/1.1 204 No Content\r\n\r\n" },
		{ 0, NULL },
	};
	struct json_object *a;
	int n;

	a = exchanges(s, 0, &n);
	tap_ok(n == 4, "pipelining: three requests in one send, answered in order (+1)");
	tap_streq(jstr(nth(a, 0), "url"), "http://h/a", "pipelined 1 url");
	tap_streq(jstr(nth(a, 0), "response.body"), "A", "pipelined 1 body");
	tap_streq(jstr(nth(a, 1), "status"), "404", "pipelined 2 status");
	tap_streq(jstr(nth(a, 1), "response.body"), "B", "pipelined 2 body");
	tap_streq(jstr(nth(a, 2), "method"), "HEAD", "HEAD");
	tap_streq(jstr(nth(a, 2), "response.body_len"), "0",
		  "HEAD: Content-Length 1000 but no body");
	tap_streq(jstr(nth(a, 3), "status"), "204", "204 after HEAD");
	tap_streq(jstr(nth(a, 3), "response.body_len"), "0", "204 has no body");
	tap_ok(jstr(nth(a, 3), "incomplete") == NULL, "204 exchange is complete");
	json_object_put(a);
}

static void test_continue(void)
{
	static const struct step s[] = {
		{ 1,
		  "POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n" },
		{ 0, "HTTP/1.1 100 Continue\r\n\r\n" },
		{ 1, "data" },
		{ 0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" },
		{ 0, NULL },
	};
	struct json_object *a;
	int n;

	a = exchanges(s, 0, &n);
	tap_ok(n == 1, "100-continue: one exchange");
	tap_streq(jstr(nth(a, 0), "status"), "200", "final status after 100");
	tap_streq(jstr(nth(a, 0), "interim"), "1", "one interim response");
	tap_streq(jstr(nth(a, 0), "request.body"), "data", "body sent after 100");
	json_object_put(a);
}

static void test_close_delimited(void)
{
	static const struct step s[] = {
		{ 1, "GET / HTTP/1.0\r\n\r\n" },
		{ 0, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil " },
		{ 0, "close" },
		{ 0, "", 0 },
		{ 0, NULL },
	};
	struct json_object *a;
	int n;

	a = exchanges(s, 0, &n);
	tap_ok(n == 1, "HTTP/1.0: one exchange");
	tap_streq(jstr(nth(a, 0), "url"), "http://127.0.0.1:8080/", "url from the peer");
	tap_streq(jstr(nth(a, 0), "version"), "HTTP/1.0", "version 1.0");
	tap_streq(jstr(nth(a, 0), "response.body"), "until close", "body delimited by close");
	json_object_put(a);
}

static void test_sse(void)
{
	static const struct step s[] = {
		{ 1, "POST /v1/messages HTTP/1.1\r\nHost: llm\r\nContent-Length: 2\r\n\r\n{}" },
		{ 0, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n" },
		{ 0, "12\r\nevent: a\ndata: 1\n\n\r\n" },
		{ 0, "1f\r\n: comment\n\ndata: 2\r\ndata: 3\r\n\r\n\r\n" },
		{ 0, "c\r\ndata: [DONE]\r\n" },
		{ 0, "2\r\n\n\n\r\n0\r\n\r\n" },
		{ 0, NULL },
	};
	struct json_object *a;
	int n;

	a = exchanges(s, 0, &n);
	tap_ok(n == 1, "SSE: one exchange");
	tap_streq(jstr(nth(a, 0), "sse_events"), "3", "three events (a comment block is none)");
	tap_streq(jstr(nth(a, 0), "response.body"),
		  "event: a\ndata: 1\n\n: comment\n\ndata: 2\r\ndata: 3\r\n\r\ndata: [DONE]\n\n",
		  "the body is the concatenation");
	json_object_put(a);
}

static void test_body_cap(void)
{
	static const struct step s[] = {
		{ 1, "GET /big HTTP/1.1\r\nHost: h\r\n\r\n" },
		{ 0, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789" },
		{ 0, NULL },
	};
	struct http_limits lim = { .body_max = 4 };
	struct http_conn *c = http_conn_new("https", NULL, NULL);
	struct buf out = BUF_INIT;
	struct json_object *o;

	http_conn_set_limits(c, &lim);
	run(c, s, 3, &out);
	o = json_tokener_parse(out.data);
	tap_streq(jstr(o, "url"), "https://h/big", "https scheme");
	tap_streq(jstr(o, "response.body"), "0123", "body cut at the cap");
	tap_streq(jstr(o, "response.body_len"), "10", "full length kept");
	tap_streq(jstr(o, "response.body_truncated"), "true", "truncation flagged");
	json_object_put(o);
	buf_release(&out);
	http_conn_free(c);
}

static void test_not_http(void)
{
	static const struct step smtp[] = {
		{ 0, "220 mail.example ESMTP\r\n" },
		{ 1, "EHLO me\r\n" },
		{ 0, "250 ok\r\n" },
		{ 0, NULL },
	};
	static const struct step binary[] = {
		{ 1, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11 },
		{ 0, "\x16\x03\x03\x00\x5a", 5 },
		{ 0, NULL },
	};
	static const struct step broken[] = {
		{ 1, "GET / HTTP/1.1\r\nHost: h\r\n\r\n" },
		{ 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" },
		{ 1, "GET /again HTTP/1.1\r\n\r\n" },
		{ 0, NULL },
	};
	struct http_conn *c;
	struct buf out = BUF_INIT;
	unsigned char junk[4096];
	size_t i;
	int n, ok = 1;

	c = http_conn_new("http", NULL, NULL);
	n = run(c, smtp, 0, &out);
	tap_ok(n == 0 && !http_conn_error(c) && !http_conn_is_http(c),
	       "SMTP: no exchanges, no error");
	http_conn_free(c);
	c = http_conn_new("http", NULL, NULL);
	n = run(c, binary, 1, &out);
	tap_ok(n == 0 && !http_conn_error(c), "TLS records: no exchanges, no error");
	http_conn_free(c);
	c = http_conn_new("http", NULL, NULL);
	n = run(c, broken, 0, &out);
	tap_ok(n == -EPROTO && http_conn_error(c) &&
		       strcmp(http_conn_error(c), "malformed chunk size") == 0,
	       "bad chunk size stops reconstruction with a reason (%s)",
	       http_conn_error(c) ? http_conn_error(c) : "none");
	http_conn_free(c);

	/* random garbage, also after a valid start, never crashes */
	srand(7);
	for (i = 0; i < 200; i++) {
		size_t k, m = (size_t)rand() % sizeof(junk);

		for (k = 0; k < m; k++)
			junk[k] = (unsigned char)rand();
		c = http_conn_new("http", NULL, NULL);
		if (i % 2)
			http_conn_feed(c, 1, "GET / HTTP/1.1\r\n", 16, 1);
		if (i % 3 == 0)
			http_conn_feed(c, 1, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24, 1);
		http_conn_feed(c, 1, junk, m / 2, 2);
		http_conn_feed(c, 0, junk + m / 2, m - m / 2, 3);
		http_conn_close(c, 4);
		for (struct http_exchange *x = http_conn_next(c); x; x = http_conn_next(c))
			http_exchange_free(x);
		http_conn_free(c);
	}
	tap_ok(ok, "200 garbage inputs (raw, after a request line, after the h2 preface)");
	buf_release(&out);
}

static void test_head_cap(void)
{
	struct http_conn *c = http_conn_new("http", NULL, NULL);
	struct http_limits lim = { .body_max = 100, .head_max = 256 };
	struct buf req = BUF_INIT;
	size_t i;
	int r;

	http_conn_set_limits(c, &lim);
	buf_puts(&req, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	r = http_conn_feed(c, 1, req.data, req.len, 1);
	r |= http_conn_feed(c, 0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 38, 2);
	buf_reset(&req);
	buf_puts(&req, "GET /2 HTTP/1.1\r\nX-Big: ");
	for (i = 0; i < 300; i++)
		buf_putc(&req, 'x');
	r = http_conn_feed(c, 1, req.data, req.len, 3);
	tap_ok(r == -EPROTO && http_conn_error(c) &&
		       strcmp(http_conn_error(c), "head too big") == 0,
	       "a header bigger than the cap stops with \"head too big\"");
	http_conn_close(c, 4);
	{
		struct http_exchange *x = http_conn_next(c);

		tap_ok(x && x->status == 200 && !http_conn_next(c),
		       "the exchange before it is kept");
		http_exchange_free(x);
	}
	http_conn_free(c);
	buf_release(&req);
}

/* ---- HTTP/2 ---- */

static void frame(struct buf *b, uint8_t type, uint8_t flags, uint32_t id, const void *p, size_t n)
{
	unsigned char h[9] = { (unsigned char)(n >> 16),
			       (unsigned char)(n >> 8),
			       (unsigned char)n,
			       type,
			       flags,
			       (unsigned char)(id >> 24),
			       (unsigned char)(id >> 16),
			       (unsigned char)(id >> 8),
			       (unsigned char)id };

	buf_append(b, h, 9);
	buf_append(b, p, n);
}

#define NV(n, v)                                                                                   \
	{                                                                                          \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE \
	}

static size_t deflate(nghttp2_hd_deflater *d, uint8_t *out, size_t cap, const nghttp2_nv *nv,
		      size_t n)
{
	ssize_t r = nghttp2_hd_deflate_hd(d, out, cap, nv, n);

	assert(r > 0);
	return (size_t)r;
}

static void test_h2(void)
{
	nghttp2_nv req1[] = { NV(":method", "GET"),
			      NV(":scheme", "http"),
			      NV(":authority", "127.0.0.1:8443"),
			      NV(":path", "/v1/tools?q=1"),
			      NV("user-agent", "curl/7.88.1"),
			      NV("accept", "*/*") };
	nghttp2_nv req2[] = { NV(":method", "POST"),
			      NV(":scheme", "http"),
			      NV(":authority", "127.0.0.1:8443"),
			      NV(":path", "/v1/run"),
			      NV("user-agent", "curl/7.88.1"),
			      NV("content-type", "application/json") };
	nghttp2_nv resp1[] = { NV(":status", "200"), NV("content-type", "application/json"),
			       NV("server", "t") };
	nghttp2_nv cont[] = { NV(":status", "100") };
	nghttp2_nv resp2[] = { NV(":status", "201"), NV("server", "t") };
	nghttp2_nv trail[] = { NV("x-done", "yes") };
	nghttp2_hd_deflater *dc, *ds;
	struct buf sent = BUF_INIT, recv = BUF_INIT, out = BUF_INIT;
	struct http_exchange *x1, *x2;
	struct http_conn *c;
	uint8_t hb[512];
	size_t n, split;
	int ok = 1;

	assert(nghttp2_hd_deflate_new(&dc, 4096) == 0);
	assert(nghttp2_hd_deflate_new(&ds, 4096) == 0);
	buf_puts(&sent, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
	frame(&sent, 4, 0, 0, "\x00\x03\x00\x00\x00\x64", 6); /* SETTINGS */
	n = deflate(dc, hb, sizeof(hb), req1, 6);
	frame(&sent, 1, 0x1 | 0x4, 1, hb, n); /* HEADERS END_STREAM END_HEADERS */
	n = deflate(dc, hb, sizeof(hb), req2, 6); /* uses the dynamic table of req1 */
	frame(&sent, 1, 0, 3, hb, 3); /* HEADERS split into a CONTINUATION */
	frame(&sent, 9, 0x4, 3, hb + 3, n - 3);
	frame(&sent, 0, 0x1, 3, "{\"a\":1}", 7);

	frame(&recv, 4, 0, 0, "", 0);
	frame(&recv, 4, 0x1, 0, "", 0); /* ACK */
	n = deflate(ds, hb, sizeof(hb), cont, 1);
	frame(&recv, 1, 0x4, 3, hb, n);
	n = deflate(ds, hb, sizeof(hb), resp1, 3);
	frame(&recv, 1, 0x4, 1, hb, n);
	frame(&recv, 0, 0x8, 1, "\x02{\"tools\":[]}\0\0", 16); /* padded DATA */
	frame(&recv, 0, 0x1, 1, "", 0);
	n = deflate(ds, hb, sizeof(hb), resp2, 2);
	frame(&recv, 1, 0x4, 3, hb, n);
	frame(&recv, 0, 0, 3, "created", 7);
	n = deflate(ds, hb, sizeof(hb), trail, 1);
	frame(&recv, 1, 0x1 | 0x4, 3, hb, n);

	for (split = 1; split <= 64; split++) {
		size_t off;

		c = http_conn_new("http", NULL, "127.0.0.1:8443");
		for (off = 0; off < sent.len; off += split)
			http_conn_feed(c, 1, sent.data + off,
				       sent.len - off < split ? sent.len - off : split, 10);
		for (off = 0; off < recv.len; off += split)
			http_conn_feed(c, 0, recv.data + off,
				       recv.len - off < split ? recv.len - off : split, 20);
		x1 = http_conn_next(c);
		x2 = http_conn_next(c);
		if (split == 64) {
			tap_ok(x1 && x2 && !http_conn_error(c), "h2: two exchanges (%s)",
			       http_conn_error(c) ? http_conn_error(c) : "no error");
			if (!x1 || !x2)
				return;
			tap_streq(x1->method, "GET", "h2 first method");
			tap_streq(x1->url, "http://127.0.0.1:8443/v1/tools?q=1",
				  "h2 url from :authority");
			tap_ok(x1->status == 200, "h2 status 200");
			tap_streq(x1->version, "HTTP/2", "h2 version");
			tap_streq(x1->resp.body.data, "{\"tools\":[]}", "h2 padded DATA body");
			tap_streq(http_header_get(&x1->req.headers, "user-agent"), "curl/7.88.1",
				  "h2 request header (no pseudo-headers)");
			tap_ok(x1->req.headers.n == 2, "h2 pseudo-headers left out of the list");
			tap_streq(x2->method, "POST", "h2 second request via the dynamic table");
			tap_streq(x2->url, "http://127.0.0.1:8443/v1/run", "h2 second url");
			tap_streq(x2->req.body.data, "{\"a\":1}", "h2 request body");
			tap_ok(x2->status == 201 && x2->interim == 1, "h2 100 then 201");
			tap_streq(x2->resp.body.data, "created", "h2 second response body");
			tap_streq(http_header_get(&x2->resp.trailers, "x-done"), "yes",
				  "h2 trailers");
			tap_ok(x1->stream_id == 1 && x2->stream_id == 3, "stream ids");
			http_exchange_json(x2, &out);
			tap_ok(strstr(out.data, "\"version\":\"HTTP/2\"") != NULL,
			       "h2 exchange as JSON");
		} else if (!x1 || !x2 || x1->status != 200 || x2->status != 201 ||
			   strcmp(x2->req.body.data, "{\"a\":1}") != 0) {
			ok = 0;
		}
		http_exchange_free(x1);
		http_exchange_free(x2);
		http_conn_free(c);
	}
	tap_ok(ok, "h2: the same with every feed size from 1 to 63");
	nghttp2_hd_deflate_del(dc);
	nghttp2_hd_deflate_del(ds);
	buf_release(&sent);
	buf_release(&recv);
	buf_release(&out);
}

static void test_json_binary(void)
{
	static const struct step s[] = {
		{ 1, "GET /bin HTTP/1.1\r\nHost: h\r\n\r\n" },
		{ 0, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n\xff\x00\x01", 41 },
		{ 0, NULL },
	};
	struct json_object *a;
	int n;

	a = exchanges(s, 0, &n);
	tap_streq(jstr(nth(a, 0), "response.body_b64"), "/wAB", "binary body as body_b64");
	tap_ok(jstr(nth(a, 0), "response.body") == NULL, "and no text body");
	tap_ok(jstr(nth(a, 0), "request.body") == NULL && jstr(nth(a, 0), "ts_first_byte"),
	       "empty request body left out; timing present");
	json_object_put(a);
}

/* The exact JSON of one exchange with everything the writer escapes: quotes,
 * backslashes, control bytes, invalid UTF-8 and a 4-byte character in header
 * values, trailers, the URL, the reason and a body; a binary body as base64.
 * Pinned byte for byte, so that a faster writer cannot change a trace. */
static const char json_exact_want[] =
	"{\"method\":\"POST\",\"url\":\"http://h/p?q=\\\"x\\\"\\\\\",\"status\""
	":200,\"reason\":\"\\\"OK\\\"\\\\\",\"version\":\"HTTP/1.1\",\"request\""
	":{\"headers\":[[\"Host\",\"h\"],[\"X-Q\",\"a\\\"b\\\\c\\u0001\\u001f\177"
	"\357\277\275\357\277\275( \360\237\230\200 end\"],[\"X-Fold\",\"one tw"
	"o\\t\\\"\"],[\"X-Tail\",\"0123456789\\\"\"],[\"Content-Length\",\"18\""
	"]],\"body\":\"{\\\"k\\\":\\\"\\\\\\\\\\\"}\\n\\t\\u0001\360\237\230\200"
	".\",\"body_len\":18,\"body_truncated\":false},\"response\":{\"headers\""
	":[[\"Transfer-Encoding\",\"chunked\"],[\"X-Long\",\"abcdefghijklmnop\\"
	"\\qrstuvwxyz\177\"]],\"trailers\":[[\"X-Trail\",\"t\\\"\\\\\\u0002\"]]"
	",\"body_b64\":\"/wABeg==\",\"body_len\":4,\"body_truncated\":false},\""
	"sse_events\":0,\"ts_request\":0.001000,\"ts_first_byte\":0.002000,\"ts"
	"_end\":0.002000}";

static void test_json_exact(void)
{
	static const char req[] =
		"POST /p?q=\"x\"\\ HTTP/1.1\r\nHost: h\r\n"
		"X-Q: a\"b\\c\x01\x1f\x7f\xff\xc3\x28 \xf0\x9f\x98\x80 end\r\n"
		"X-Fold: one\r\n two\t\"\r\nX-Tail: 0123456789\"\r\nContent-Length: 18\r\n\r\n"
		"{\"k\":\"\\\\\"}\n\t\x01\xf0\x9f\x98\x80.";
	static const char rsp[] = "HTTP/1.1 200 \"OK\"\\\r\nTransfer-Encoding: chunked\r\n"
				  "X-Long: abcdefghijklmnop\\qrstuvwxyz\x7f\r\n\r\n"
				  "4\r\n\xff\x00\x01z\r\n0\r\nX-Trail: t\"\\\x02\r\n\r\n";
	size_t want = strlen(json_exact_want), max;
	struct http_conn *c = http_conn_new("http", NULL, "127.0.0.1:80");
	struct http_exchange *x;
	int ok = 1;

	http_conn_feed(c, 1, req, sizeof(req) - 1, 1000000);
	http_conn_feed(c, 0, rsp, sizeof(rsp) - 1, 2000000);
	http_conn_close(c, 3000000);
	x = http_conn_next(c);
	tap_ok(x != NULL, "exact json: the exchange is rebuilt");
	if (!x)
		goto out;

	/* Every cap from 1 byte to one past the output, after a 1-byte prefix:
	 * the output fits exactly at want + 1 and must then be written whole;
	 * below that the call fails and leaves only the prefix. Once in a
	 * buffer that grows, once in one allocated to its cap up front. */
	for (max = 1; max <= want + 2; max++) {
		int pre;

		for (pre = 0; pre < 2; pre++) {
			struct buf b;
			int r;

			buf_init(&b, max);
			if (pre)
				buf_reserve(&b, max);
			buf_putc(&b, '[');
			r = http_exchange_json(x, &b);
			if (max >= want + 1) {
				if (r != 0 || strcmp(b.data + 1, json_exact_want) != 0) {
					tap_streq(b.data + 1, json_exact_want, "exact json");
					ok = 0;
				}
			} else if (r != -E2BIG || b.len != 1 || strcmp(b.data, "[") != 0) {
				printf("# max %zu pre %d: r %d len %zu\n", max, pre, r, b.len);
				ok = 0;
			}
			buf_release(&b);
		}
	}
	tap_ok(ok, "exact json: byte for byte, and only when it fits under the cap");
	http_exchange_free(x);
out:
	http_conn_free(c);
}

struct derived {
	char text[2048];
	size_t evs[8];
	int n;
};

static int on_exchange(void *ud, struct http_exchange *x, size_t ev)
{
	struct derived *d = ud;
	size_t len = strlen(d->text);

	snprintf(d->text + len, sizeof(d->text) - len, "%s %s %s %d %s|", x->conn, x->method,
		 x->url, x->status, x->resp.body.data ? x->resp.body.data : "");
	if (d->n < 8)
		d->evs[d->n] = ev;
	d->n++;
	http_exchange_free(x);
	return 0;
}

static void test_trace_derive(void)
{
	/* out of order on purpose: the pass sorts by (pid, conn, seq) */
	static const char *const lines[] = {
		"{\"seq\":4,\"pid\":\"0\",\"type\":\"socket_call\",\"ts_epoch\":2.0,\"payload\":"
		"{\"op\":\"recv\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"n\":40,"
		"\"data\":\"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi\"}}",
		"{\"seq\":1,\"pid\":\"0\",\"type\":\"socket_call\",\"ts_epoch\":1.0,\"payload\":"
		"{\"op\":\"connect\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"n\":0,\"peer\":\"10.0.0.1:8080\"}}",
		"{\"seq\":2,\"pid\":\"0\",\"type\":\"socket_call\",\"ts_epoch\":1.5,\"payload\":"
		"{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"n\":17,"
		"\"data\":\"GET /x HTTP/1.1\\r\\n\"}}",
		"{\"seq\":3,\"pid\":\"0\",\"type\":\"socket_call\",\"ts_epoch\":1.6,\"payload\":"
		"{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"n\":2,\"data_b64\":\"DQo=\"}}",
		"{\"seq\":5,\"pid\":\"0\",\"type\":\"socket_call\",\"ts_epoch\":2.1,\"payload\":"
		"{\"op\":\"close\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"n\":0}}",
		/* a server's accepted connection: its receives are the requests */
		"{\"seq\":1,\"pid\":\"0.1\",\"type\":\"socket_call\",\"ts_epoch\":3.0,\"payload\":"
		"{\"op\":\"accept\",\"conn\":\"0.2\",\"proto\":\"tcp\",\"n\":0,\"peer\":\"10.0.0.2:5000\","
		"\"tls\":true}}",
		"{\"seq\":2,\"pid\":\"0.1\",\"type\":\"socket_call\",\"ts_epoch\":3.1,\"payload\":"
		"{\"op\":\"recv\",\"conn\":\"0.2\",\"proto\":\"tcp\",\"n\":16,\"peek\":true,"
		"\"data\":\"DELETE /y HTTP/1\"}}",
		"{\"seq\":3,\"pid\":\"0.1\",\"type\":\"socket_call\",\"ts_epoch\":3.2,\"payload\":"
		"{\"op\":\"recv\",\"conn\":\"0.2\",\"proto\":\"tcp\",\"n\":38,"
		"\"data\":\"DELETE /y HTTP/1.1\\r\\nHost: svc:8443\\r\\n\\r\\n\"}}",
		"{\"seq\":4,\"pid\":\"0.1\",\"type\":\"socket_call\",\"ts_epoch\":3.3,\"payload\":"
		"{\"op\":\"send\",\"conn\":\"0.2\",\"proto\":\"tcp\",\"n\":21,"
		"\"data\":\"HTTP/1.1 204 Gone\\r\\n\\r\\n\"}}",
		/* UDP and other events are skipped */
		"{\"seq\":5,\"pid\":\"0.1\",\"type\":\"socket_call\",\"ts_epoch\":3.4,\"payload\":"
		"{\"op\":\"send\",\"conn\":\"0.3\",\"proto\":\"udp\",\"n\":18,"
		"\"data\":\"GET /u HTTP/1.1\\r\\n\"}}",
		"{\"seq\":0,\"pid\":\"0\",\"type\":\"agent_start\",\"ts_epoch\":0.5,\"payload\":{}}",
	};
	struct json_object *ev[sizeof(lines) / sizeof(lines[0])];
	struct derived d = { { 0 }, { 0 }, 0 };
	size_t i, n = sizeof(lines) / sizeof(lines[0]);
	int r;

	for (i = 0; i < n; i++)
		ev[i] = json_tokener_parse(lines[i]);
	r = http_trace_derive(ev, n, NULL, on_exchange, &d);
	tap_ok(r == 0 && d.n == 2, "derive: two exchanges from socket_call events (%d)", d.n);
	tap_streq(d.text,
		  "0.1 GET http://10.0.0.1:8080/x 200 hi|0.2 DELETE https://svc:8443/y 204 |",
		  "derive: client conn (peer as host, text and base64 bytes), accepted conn "
		  "(direction swapped, peek skipped, tls scheme)");
	tap_ok(d.evs[0] == 0 && d.evs[1] == 8, "derive: each exchange names its completing event");
	for (i = 0; i < n; i++)
		json_object_put(ev[i]);
}

/* http_exchange_redact: what the byte-level redactor could not see (a key
 * split by chunked framing, HPACK-decoded headers in plain) is redacted
 * after decoding; markers already there stay; lengths stay true. */
static void test_redact(void)
{
	static const struct step s[] = {
		{ 1, "POST /v1/run?api_key=plainQueryValue42&x=1 HTTP/1.1\r\nHost: h\r\n"
		     "Authorization: Bearer sk-attraceUnitKey0123456789abcdef\r\n"
		     "Cookie: sid=[redacted:0123456789abcdef]\r\n"
		     "X-Api-Key: short\r\n"
		     "X-Note: uses sk-attraceUnitKey0123456789abcdef here\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n"
		     /* the key cut in two by the chunk framing */
		     "d\r\n{\"k\":\"sk-attr\r\n"
		     "1c\r\naceUnitKey0123456789abcdef\"}\r\n0\r\n\r\n" },
		{ 0,
		  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: t=abc; Path=/\r\n\r\nok" },
		{ 0, NULL },
	};
	struct http_conn *c = http_conn_new("http", NULL, NULL);
	struct redact_config cfg = { 0 };
	uint8_t key[REDACT_KEY_LEN] = { 0 };
	struct http_exchange *x;
	struct buf out = BUF_INIT;
	size_t i;

	redact_config_parse(&cfg, "x-note", key, NULL);
	for (i = 0; s[i].p; i++)
		http_conn_feed(c, s[i].sent, s[i].p, strlen(s[i].p), 1000);
	http_conn_close(c, 2000);
	x = http_conn_next(c);
	tap_ok(x && x->req.body_len == 41 && strstr(x->req.body.data, "sk-attr"),
	       "redact: the split key is whole in the decoded body");
	if (!x) {
		http_conn_free(c);
		redact_config_release(&cfg);
		return;
	}
	tap_ok(http_exchange_redact(x, &cfg, HTTP_REDACT_ALL) == 0, "redact: ok");
	tap_ok(http_exchange_json(x, &out) == 0 && !strstr(out.data, "attraceUnitKey") &&
		       !strstr(out.data, "plainQueryValue42") && !strstr(out.data, "short"),
	       "redact: no secret left in the payload");
	tap_ok(x->req.body.len == 41 && x->req.body_len == 41 &&
		       strncmp(x->req.body.data, "{\"k\":\"[redacted:", 16) == 0,
	       "redact: the body's key became a marker of its own length (%s)", x->req.body.data);
	tap_ok(strncmp(x->url, "http://h/v1/run?api_key=[redacted:", 34) == 0 &&
		       strstr(x->url, "&x=1"),
	       "redact: the query's key (%s)", x->url);
	tap_ok(strncmp(http_header_get(&x->req.headers, "Authorization"),
		       "Bearer [redacted:", 17) == 0 &&
		       strlen(http_header_get(&x->req.headers, "Authorization")) ==
			       7 + REDACT_MARKER_LEN,
	       "redact: Authorization keeps its scheme");
	tap_streq(http_header_get(&x->req.headers, "Cookie"), "sid=[redacted:0123456789abcdef]",
		  "redact: a value already holding a marker stays");
	tap_ok(strlen(http_header_get(&x->req.headers, "X-Api-Key")) == REDACT_MARKER_LEN,
	       "redact: a secret header is replaced whole");
	tap_ok(strncmp(http_header_get(&x->req.headers, "X-Note"), "[redacted:", 10) == 0,
	       "redact: an ATTRACE_REDACT name is replaced whole");
	tap_ok(strncmp(http_header_get(&x->resp.headers, "Set-Cookie"), "[redacted:", 10) == 0,
	       "redact: Set-Cookie sent in plain (as HPACK would) is replaced");
	tap_streq(x->resp.body.data, "ok", "redact: a body without secrets is untouched");
	buf_release(&out);
	http_exchange_free(x);
	http_conn_free(c);

	/* HTTP_REDACT_DECODED: the chunked body and the names; the URL of an
	 * HTTP/1 request was seen whole by the byte redactor, so it is left */
	c = http_conn_new("http", NULL, NULL);
	for (i = 0; s[i].p; i++)
		http_conn_feed(c, s[i].sent, s[i].p, strlen(s[i].p), 1000);
	http_conn_close(c, 2000);
	x = http_conn_next(c);
	tap_ok(x && http_exchange_redact(x, &cfg, HTTP_REDACT_DECODED) == 0 &&
		       !strstr(x->req.body.data, "attraceUnitKey") && x->req.body.len == 41 &&
		       strstr(x->url, "plainQueryValue42") &&
		       strncmp(http_header_get(&x->req.headers, "Authorization"),
			       "Bearer [redacted:", 17) == 0 &&
		       strstr(http_header_get(&x->req.headers, "X-Note"), "[redacted:"),
	       "redact decoded: the chunked body and secret names, not the HTTP/1 URL");
	http_exchange_free(x);
	http_conn_free(c);
	redact_config_release(&cfg);
}

/* Header fields are cut out of one copy of the head: obs-fold joins a
 * continuation line, blanks around values go, and a value replaced by the
 * redaction (folded, or of a secret name) is freed apart from that copy
 * (ASan checks the frees). */
static void test_fields(void)
{
	static const char req[] = "GET /f HTTP/1.1\r\nHost: h\r\n"
				  "X-Long:  one\r\n \t two  \r\n"
				  "X-Empty:\r\n"
				  "Authorization: Basic dXNlcjpwYXNzd29yZA==\r\n"
				  "X-Note: a\r\n\tb\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct http_conn *c = http_conn_new("http", NULL, NULL);
	struct redact_config cfg = { 0 };
	uint8_t key[REDACT_KEY_LEN] = { 0 };
	struct http_exchange *x;

	redact_config_parse(&cfg, "x-note", key, NULL);
	http_conn_feed(c, 1, req, sizeof(req) - 1, 1000);
	http_conn_feed(c, 0, resp, sizeof(resp) - 1, 2000);
	x = http_conn_next(c);
	tap_ok(x && x->req.headers.n == 5, "fields: five request fields");
	if (!x) {
		http_conn_free(c);
		redact_config_release(&cfg);
		return;
	}
	tap_streq(http_header_get(&x->req.headers, "X-Long"), "one two", "fields: obs-fold joined");
	tap_streq(http_header_get(&x->req.headers, "X-Empty"), "", "fields: an empty value");
	tap_streq(http_header_get(&x->req.headers, "host"), "h", "fields: names fold case");
	tap_streq(http_header_get(&x->resp.headers, "Content-Length"), "2", "fields: response");
	tap_ok(http_exchange_redact(x, &cfg, HTTP_REDACT_ALL) == 0, "fields: redacted");
	tap_ok(strncmp(http_header_get(&x->req.headers, "Authorization"), "Basic [redacted:", 16) ==
		       0,
	       "fields: a value in the head's copy replaced");
	tap_ok(strncmp(http_header_get(&x->req.headers, "X-Note"), "[redacted:", 10) == 0,
	       "fields: a folded value replaced");
	http_exchange_free(x);
	http_conn_free(c);
	redact_config_release(&cfg);
}

int main(void)
{
	test_keepalive();
	test_chunked_every_split();
	test_content_length_split();
	test_pipelining();
	test_continue();
	test_close_delimited();
	test_sse();
	test_body_cap();
	test_not_http();
	test_head_cap();
	test_h2();
	test_json_binary();
	test_json_exact();
	test_trace_derive();
	test_redact();
	test_fields();
	return tap_done();
}
