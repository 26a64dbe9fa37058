/* SPDX-License-Identifier: MIT */
/* test-http1.c -- unit tests for common/http1.c: request and response framing. */
#include <errno.h>
#include <string.h>

#include "common/buf.h"
#include "common/http1.h"
#include "tap.h"

static int span_eq(const char *s, struct http1_span sp, const char *want)
{
	return sp.len == strlen(want) && memcmp(s + sp.off, want, sp.len) == 0;
}

struct req_case {
	const char *in;
	int rc;
	size_t len; /* complete requests: their length */
	const char *method, *target, *host, *body;
	int expect;
};

static const struct req_case req_cases[] = {
	{ "GET /a HTTP/1.1\r\nHost: h:1\r\n\r\nGET /b", 1, 30, "GET", "/a", "h:1", "", 0 },
	{ "POST /v1/chat HTTP/1.1\r\nhost:  x \r\nContent-Length: 5\r\n\r\nhelloXX", 1, 61, "POST",
	  "/v1/chat", "x", "hello", 0 },
	{ "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel", 0, 0, NULL, NULL, NULL, NULL, 0 },
	{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nNEXT", 1, 60,
	  "POST", "/", "", "3\r\nabc\r\n0\r\n\r\n", 0 },
	{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n",
	  1, 70, "POST", "/", "", "3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n", 0 },
	{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n", 0, 0, NULL,
	  NULL, NULL, NULL, 0 },
	{ "PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", 0, 0, NULL, NULL,
	  NULL, NULL, 1 },
	{ "GET / HTTP/1.1\r\nHost: a", 0, 0, NULL, NULL, NULL, NULL, 0 },
	{ "GE", 0, 0, NULL, NULL, NULL, NULL, 0 },
	{ "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", -EPROTO, 0, NULL, NULL, NULL, NULL, 0 },
	{ "SSH-2.0-OpenSSH\r\n", -EPROTO, 0, NULL, NULL, NULL, NULL, 0 },
	{ "POST / HTTP/1.1\r\nContent-Length: x1\r\n\r\n", -EPROTO, 0, NULL, NULL, NULL, NULL, 0 },
};

static void test_requests(void)
{
	for (size_t i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		const struct req_case *c = &req_cases[i];
		struct http1_req r;
		int rc = http1_request(c->in, strlen(c->in), &r);
		int ok = rc == c->rc;

		if (ok && rc == 1)
			ok = r.len == c->len && span_eq(c->in, r.method, c->method) &&
			     span_eq(c->in, r.target, c->target) &&
			     span_eq(c->in, r.host, c->host) && span_eq(c->in, r.body, c->body);
		if (ok && c->expect)
			ok = r.head_len > 0 && r.expect_continue;
		tap_ok(ok, "request case %zu (rc %d, len %zu)", i, rc, rc == 1 ? r.len : 0);
	}
}

struct resp_case {
	const char *in;
	int head, eof, rc;
	size_t len, interim;
	int status;
};

static const struct resp_case resp_cases[] = {
	{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP", 0, 0, 1, 40, 0, 200 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no", 0, 0, 0, 0, 0, 0 },
	{ "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 0, 0, 1,
	  68, 25, 201 },
	{ "HTTP/1.1 100 Continue\r\n\r\n", 0, 0, 0, 0, 25, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 1, 0, 1, 39, 0, 200 },
	{ "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", 0, 0, 1, 49, 0, 304 },
	{ "HTTP/1.1 204 No Content\r\n\r\n", 0, 0, 1, 27, 0, 204 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", 0, 0, 1, 59,
	  0, 200 },
	{ "HTTP/1.0 200 OK\r\n\r\nuntil close", 0, 0, 0, 0, 0, 200 },
	{ "HTTP/1.0 200 OK\r\n\r\nuntil close", 0, 1, 1, 30, 0, 200 },
	{ "garbage here", 0, 0, -EPROTO, 0, 0, 0 },
};

static void test_responses(void)
{
	for (size_t i = 0; i < sizeof(resp_cases) / sizeof(resp_cases[0]); i++) {
		const struct resp_case *c = &resp_cases[i];
		struct http1_resp r;
		int rc = http1_response(c->in, strlen(c->in), c->head, c->eof, &r);
		int ok = rc == c->rc && r.interim_len == c->interim;

		if (ok && rc == 1)
			ok = r.len == c->len && r.status == c->status;
		tap_ok(ok, "response case %zu (rc %d, len %zu, interim %zu)", i, rc, r.len,
		       r.interim_len);
	}
}

static void test_headers(void)
{
	const char *h = "GET / HTTP/1.1\r\nA: 1\r\nbad line\r\nB:\t two \r\n\r\n";
	struct http1_span n, v;
	size_t pos = 0;
	int ok;

	ok = http1_header_next(h, strlen(h), &pos, &n, &v) && span_eq(h, n, "A") &&
	     span_eq(h, v, "1");
	ok = ok && http1_header_next(h, strlen(h), &pos, &n, &v) && span_eq(h, n, "B") &&
	     span_eq(h, v, "two");
	ok = ok && !http1_header_next(h, strlen(h), &pos, &n, &v);
	tap_ok(ok, "header iteration skips the start line and non-fields, trims values");
	tap_ok(http1_is_request("DELETE /x", 9) && !http1_is_request("GETX /", 6) &&
		       !http1_is_request("HTTP/1.1 200", 12),
	       "request line sniffing");
}

/* Names lists (NAME, NAME* prefixes, any case) and a request without the
 * fields a list names. */
static void test_names(void)
{
	static const char req[] = "POST /r HTTP/1.1\r\nHost: h\r\nX-Run-Id: 41\r\n"
				  "x-ci-job:  7 \r\nAccept: */*\r\nContent-Length: 2\r\n\r\nhi";
	struct http1_names l;
	struct buf out = BUF_INIT;

	tap_ok(http1_names_parse(&l, " X-Run-Id ,,x-ci-*") == 0 && l.n == 2, "names: parsed");
	tap_ok(http1_names_match(&l, "x-run-id", 8) && http1_names_match(&l, "X-CI-JOB", 8) &&
		       http1_names_match(&l, "x-ci-", 5) && !http1_names_match(&l, "x-ci", 4) &&
		       !http1_names_match(&l, "x-run-idx", 9) && !http1_names_match(&l, "x-run", 5),
	       "names: exact names and prefixes, any case");
	tap_ok(http1_request_without(req, sizeof(req) - 1, &l, &out) == 0, "without: ok");
	tap_streq(out.data,
		  "POST /r HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nContent-Length: 2\r\n\r\nhi",
		  "without: the named fields' lines gone, the rest as sent");
	buf_reset(&out);
	http1_request_without(req, 20, &l, &out);
	tap_ok(out.len == 20 && memcmp(out.data, req, 20) == 0,
	       "without: bytes with no whole head, as they are");
	http1_names_release(&l);
	tap_ok(l.n == 0 && !http1_names_match(&l, "x-run-id", 8), "names: released, empty");
	buf_reset(&out);
	http1_request_without(req, sizeof(req) - 1, &l, &out);
	tap_ok(out.len == sizeof(req) - 1 && memcmp(out.data, req, out.len) == 0,
	       "without: an empty list changes nothing");
	tap_ok(http1_names_parse(&l, NULL) == 0 && l.n == 0, "names: NULL is empty");
	buf_release(&out);
}

int main(void)
{
	test_requests();
	test_responses();
	test_headers();
	test_names();
	return tap_done();
}
