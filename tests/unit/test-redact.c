/* SPDX-License-Identifier: MIT */
/* test-redact.c -- unit tests for common/redact.c: headers, key shapes, chunking, bounds. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/redact.h"
#include "tap.h"

static struct redact_config cfg;

/* The redaction of s (n bytes, or strlen when n is 0), as a NUL-terminated malloc'd string. */
static char *red_n(const char *s, size_t n, size_t *ret_len)
{
	struct buf out = BUF_INIT;
	int k = redact_bytes(&cfg, s, n, &out);

	assert(k == 0);
	if (ret_len)
		*ret_len = out.len;
	return buf_steal(&out);
}

static char *red(const char *s)
{
	return red_n(s, strlen(s), NULL);
}

/* The canonical marker (fit 0) or the fitted one of a secret, in a static ring. */
__attribute__((noinline, returns_nonnull)) static const char *mk(const char *secret, size_t fit)
{
	static char ring[8][512];
	static unsigned at;
	struct buf b = BUF_INIT;
	char *slot = ring[at++ % 8];

	assert(redact_marker(&cfg, secret, strlen(secret), fit, &b) == 0);
	snprintf(slot, 512, "%s", b.data ? b.data : "");
	buf_release(&b);
	return slot;
}

__attribute__((returns_nonnull)) static const char *M(const char *secret)
{
	return mk(secret, 0);
}

__attribute__((returns_nonnull)) static const char *F(const char *secret)
{
	return mk(secret, strlen(secret));
}

static int contains(const char *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* Checks red(in) == want and that `secret` (if any) is gone. */
__attribute__((noinline)) static void check(const char *what, const char *in, const char *want,
					    const char *secret)
{
	size_t n;
	char *got = red_n(in, strlen(in), &n);

	tap_streq(got, want, what);
	if (secret)
		tap_ok(!contains(got, n, secret), "%s: the secret is not in the output", what);
	free(got);
}

static void test_markers(void)
{
	const char *a = M("sk-test-aaaaaaaaaaaaaaaaaaaaaaaa"),
		   *b = M("sk-test-bbbbbbbbbbbbbbbbbbbbbbbb");
	size_t i;
	int ok = 1;

	tap_ok(strlen(a) == REDACT_MARKER_LEN && strncmp(a, "[redacted:", 10) == 0 && a[26] == ']',
	       "the marker is [redacted:<16 hex>]");
	tap_ok(strcmp(a, M("sk-test-aaaaaaaaaaaaaaaaaaaaaaaa")) == 0,
	       "equal secrets, equal markers");
	tap_ok(strcmp(a, b) != 0, "different secrets, different markers");
	for (i = 1; i < 60; i++) {
		struct buf o = BUF_INIT;

		if (redact_marker(&cfg, "x", 1, i, &o) < 0 || o.len != i)
			ok = 0;
		if (i >= 12 && (strncmp(o.data, "[redacted:", 10) != 0 || o.data[i - 1] != ']'))
			ok = 0;
		buf_release(&o);
	}
	tap_ok(ok, "fitted markers have exactly the length asked for, bracketed from 12 bytes");
	tap_ok(strncmp(mk("sk-test-aaaaaaaaaaaaaaaaaaaaaaaa", 30), a, 26) == 0 &&
		       strcmp(mk("sk-test-aaaaaaaaaaaaaaaaaaaaaaaa", 30) + 26, "___]") == 0,
	       "a fitted marker longer than 27 bytes is the marker padded with '_'");
}

static void test_headers(void)
{
	static const struct {
		const char *name, *value, *secret;
	} cases[] = {
		{ "X-Api-Key", "k-123", "k-123" },
		{ "x-api-key", "k-123", "k-123" },
		{ "API-KEY", "abc def", "abc def" },
		{ "Anthropic-Api-Key", "ant-secret-1", "ant-secret-1" },
		{ "x-anthropic-api-key", "ant-secret-2", "ant-secret-2" },
		{ "OpenAI-Api-Key", "oa-secret", "oa-secret" },
		{ "X-Goog-Api-Key", "goog-secret", "goog-secret" },
		{ "X-Amz-Security-Token", "amz/secret+token", "amz/secret+token" },
		{ "X-Auth-Token", "auth-tok", "auth-tok" },
		{ "Private-Token", "glpat-xyz", "glpat-xyz" },
		{ "X-Custom-Secret", "custom value", "custom value" }, /* ATTRACE_REDACT */
		{ "my-token", "mine", "mine" }, /* ATTRACE_REDACT, given in upper case */
	};
	char in[512], want[512], what[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(in, sizeof(in),
			 "GET / HTTP/1.1\r\nHost: h\r\n%s:  %s\r\nAccept: */*\r\n\r\n",
			 cases[i].name, cases[i].value);
		snprintf(want, sizeof(want),
			 "GET / HTTP/1.1\r\nHost: h\r\n%s:  %s\r\nAccept: */*\r\n\r\n",
			 cases[i].name, M(cases[i].secret));
		snprintf(what, sizeof(what), "header %s", cases[i].name);
		check(what, in, want, cases[i].secret);
	}
	snprintf(want, sizeof(want), "GET / HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n",
		 M("tok-abc"));
	check("Authorization keeps its scheme",
	      "GET / HTTP/1.1\r\nAuthorization: Bearer tok-abc\r\n\r\n", want, "tok-abc");
	snprintf(want, sizeof(want), "GET / HTTP/1.1\r\nPROXY-AUTHORIZATION: Basic %s\r\n\r\n",
		 M("dXNlcjpwYXNz"));
	check("Proxy-Authorization, upper case",
	      "GET / HTTP/1.1\r\nPROXY-AUTHORIZATION: Basic dXNlcjpwYXNz\r\n\r\n", want,
	      "dXNlcjpwYXNz");
	snprintf(want, sizeof(want), "GET / HTTP/1.1\r\nauthorization: %s\r\n\r\n",
		 M("sk-plainkeywithoutscheme"));
	check("Authorization without a scheme is all secret",
	      "GET / HTTP/1.1\r\nauthorization: sk-plainkeywithoutscheme\r\n\r\n", want,
	      "plainkey");
	/* an empty value gets no marker */
	snprintf(want, sizeof(want), "GET / HTTP/1.1\r\nCookie: sid=%s; theme=%s;lone=; %s\r\n\r\n",
		 M("s3cr3t"), M("dark"), M("nameless"));
	check("Cookie: every value, names kept",
	      "GET / HTTP/1.1\r\nCookie: sid=s3cr3t; theme=dark;lone=; nameless\r\n\r\n", want,
	      "s3cr3t");
	snprintf(
		want, sizeof(want),
		"HTTP/1.1 200 OK\r\nSet-Cookie: sid=%s; Path=/; HttpOnly\r\nContent-Length: 0\r\n\r\n",
		M("s3cr3t"));
	check("Set-Cookie: the first value, attributes kept",
	      "HTTP/1.1 200 OK\r\nSet-Cookie: sid=s3cr3t; Path=/; HttpOnly\r\nContent-Length: 0\r\n\r\n",
	      want, "s3cr3t");
	check("other headers pass",
	      "GET / HTTP/1.1\r\nHost: example.com\r\nOpenAI-Organization: org-1\r\n\r\n",
	      "GET / HTTP/1.1\r\nHost: example.com\r\nOpenAI-Organization: org-1\r\n\r\n", NULL);
	snprintf(want, sizeof(want), "GET / HTTP/1.1\nX-Api-Key: %s\nHost: h\n\n", M("bare-lf"));
	check("bare LF line ends", "GET / HTTP/1.1\nX-Api-Key: bare-lf\nHost: h\n\n", want,
	      "bare-lf");
	snprintf(want, sizeof(want), "GET / HTTP/1.1\r\nX-Api-Key: %s\r\nCookie: a=%s\r\n\r\n",
		 M("k"), M("v"));
	{
		char *once = red(want);

		tap_streq(once, want,
			  "a marker already in a secret header or cookie is kept (replay)");
		free(once);
	}
	snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n", M("t"));
	{
		char *once = red(in);

		tap_streq(once, in, "Authorization: Bearer <marker> is kept (replay)");
		free(once);
	}
}

static void test_shapes(void)
{
	static const char keys[][64] = {
		"sk-abcdefghijklmnopqrstuvwxyz0123",
		"sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz_0123456789-abcdef",
		"sk-proj-0123456789abcdefghij",
		"AKIAIOSFODNN7EXAMPLE",
		"ghp_0123456789abcdefghijABCDEFGHIJ012345",
		"gho_0123456789abcdefghijABCDEFGHIJ012345",
		"ghs_0123456789abcdefghijABCDEFGHIJ012345xyz",
		"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
		"AIzaSyA-0123456789abcdefghijklmnopqrstu",
	};
	char in[1024], want[1024], what[160];
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		/* opaque stream: fitted marker, same length */
		snprintf(in, sizeof(in), "\x01\x02key: %s", keys[i]);
		snprintf(want, sizeof(want), "\x01\x02key: %s", F(keys[i]));
		snprintf(what, sizeof(what), "shape %.12s... in an opaque stream", keys[i]);
		check(what, in, want, keys[i]);
		/* a JSON body with Content-Length: fitted, Content-Length still true */
		snprintf(in, sizeof(in),
			 "POST /v1 HTTP/1.1\r\nContent-Length: %zu\r\n\r\n{\"k\":\"%s\"}",
			 strlen(keys[i]) + 8, keys[i]);
		snprintf(want, sizeof(want),
			 "POST /v1 HTTP/1.1\r\nContent-Length: %zu\r\n\r\n{\"k\":\"%s\"}",
			 strlen(keys[i]) + 8, F(keys[i]));
		snprintf(what, sizeof(what), "shape %.12s... in a JSON body", keys[i]);
		check(what, in, want, keys[i]);
		/* the URL: canonical marker */
		snprintf(in, sizeof(in), "GET /x/%s/y HTTP/1.1\r\nHost: h\r\n\r\n", keys[i]);
		snprintf(want, sizeof(want), "GET /x/%s/y HTTP/1.1\r\nHost: h\r\n\r\n", M(keys[i]));
		snprintf(what, sizeof(what), "shape %.12s... in the request line", keys[i]);
		check(what, in, want, keys[i]);
		/* another header's value */
		snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nX-Note: key=%s!\r\n\r\n", keys[i]);
		snprintf(want, sizeof(want), "GET / HTTP/1.1\r\nX-Note: key=%s!\r\n\r\n",
			 M(keys[i]));
		snprintf(what, sizeof(what), "shape %.12s... in a header value", keys[i]);
		check(what, in, want, keys[i]);
	}
	check("too short: sk- with 19", "x sk-abcdefghijklmnopqrs y", "x sk-abcdefghijklmnopqrs y",
	      NULL);
	check("no left boundary: disk-...", "disk-abcdefghijklmnopqrstuvwxyz",
	      "disk-abcdefghijklmnopqrstuvwxyz", NULL);
	check("AKIA needs 16 upper-case or digits", "AKIAiosfodnn7example", "AKIAiosfodnn7example",
	      NULL);
	snprintf(want, sizeof(want), "{\"h\":\"Bearer %s\"}", F("abcdefghijklmnop.qrs"));
	check("Bearer token in a body", "{\"h\":\"Bearer abcdefghijklmnop.qrs\"}", want,
	      "abcdefghijklmnop");
	check("Bearer with a short token is left", "Bearer short", "Bearer short", NULL);
	snprintf(
		want, sizeof(want),
		"GET /a?api_key=%s&x=1&KEY=%s&token=%s#f HTTP/1.1\r\nReferer: /b?access_token=%s&password=%s\r\n\r\n",
		M("AAA"), M("bbb"), M("c%2Fc"), M("ddd"), M("hunter2"));
	check("query parameters in the URL and a header",
	      "GET /a?api_key=AAA&x=1&KEY=bbb&token=c%2Fc#f HTTP/1.1\r\nReferer: /b?access_token=ddd&password=hunter2\r\n\r\n",
	      want, "hunter2");
	check("monkey=... is not key=", "GET /a?monkey=1&apikeys=2 HTTP/1.1\r\n\r\n",
	      "GET /a?monkey=1&apikeys=2 HTTP/1.1\r\n\r\n", NULL);
	snprintf(want, sizeof(want),
		 "POST /login HTTP/1.1\r\nContent-Length: 29\r\n\r\npassword=%s&user=bob&x=y",
		 F("hunter2"));
	check("a form body: a parameter at the body's start",
	      "POST /login HTTP/1.1\r\nContent-Length: 29\r\n\r\npassword=hunter2&user=bob&x=y",
	      want, "hunter2");
	{
		char *got =
			red("x sk-abcdefghijklmnopqrstuvwxyz and sk-abcdefghijklmnopqrstuvwxyz");

		tap_ok(strncmp(got + 2, got + 36, 29) == 0 &&
			       strncmp(got + 2, "[redacted:", 10) == 0,
		       "the same key twice gives the same marker twice");
		free(got);
	}
}

/* A response with chunked framing, trailers, and a keep-alive second message. */
static const char chunked_in[] =
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nSet-Cookie: a=b\r\n\r\n"
	"24\r\n{\"key\":\"sk-abcdefghijklmnopqrstuvw\"}\r\n"
	"5;ext=1\r\nhello\r\n0\r\nX-Api-Key: trailer-secret\r\n\r\n"
	"HTTP/1.1 204 No Content\r\nSet-Cookie: second=xyz\r\n\r\n"
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";

static void test_chunked(void)
{
	struct buf want = BUF_INIT;
	char *got;

	buf_printf(&want,
		   "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nSet-Cookie: a=%s\r\n\r\n"
		   "24\r\n{\"key\":\"%s\"}\r\n"
		   "5;ext=1\r\nhello\r\n0\r\nX-Api-Key: %s\r\n\r\n"
		   "HTTP/1.1 204 No Content\r\nSet-Cookie: second=%s\r\n\r\n"
		   "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		   M("b"), F("sk-abcdefghijklmnopqrstuvw"), M("trailer-secret"), M("xyz"));
	got = red(chunked_in);
	tap_streq(got, want.data, "chunked body (sizes still true), trailers, 204, keep-alive");
	free(got);
	buf_release(&want);
}

/* Responses to HEAD (Content-Length, no body), and a 4-byte body "HTTP". */
static const char head_in[] =
	"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nSet-Cookie: h=1\r\n\r\n"
	"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nSet-Cookie: sid=abc\r\n\r\nHTTP"
	"HTTP/1.0 200 OK\r\nContent-Length: 20\r\nSet-Cookie: x=y\r\n\r\nHTTP/1.1 2xx sk-abcd";

static void test_head(void)
{
	struct buf want = BUF_INIT;
	char *got;

	buf_printf(
		&want,
		"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nSet-Cookie: h=%s\r\n\r\n"
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nSet-Cookie: sid=%s\r\n\r\nHTTP"
		"HTTP/1.0 200 OK\r\nContent-Length: 20\r\nSet-Cookie: x=%s\r\n\r\nHTTP/1.1 2xx sk-abcd",
		M("1"), M("abc"), M("y"));
	got = red(head_in);
	tap_streq(
		got, want.data,
		"a body that starts with a status line is the next response (HEAD); short bodies pass");
	free(got);
	buf_release(&want);
}

/* What a replayed program sends back after receiving markers is redacted to itself. */
static void test_idempotent(void)
{
	static const char *const streams[] = {
		"GET /a?api_key=AAA&token=zzz HTTP/1.1\r\nAuthorization: Bearer tok-abcdefghijklmnopqrstuvwxyz\r\n"
		"Cookie: a=1; b=2\r\nX-Custom-Secret: cs\r\nContent-Length: 34\r\n\r\n"
		"{\"k\":\"sk-abcdefghijklmnopqrstuvw\"}",
		"\x16\x03 Bearer abcdefghijklmnopqrstuvwx; sk-abcdefghijklmnopqrstuvwxyz AKIAIOSFODNN7EXAMPLE",
		NULL,
	};
	size_t i;

	for (i = 0; streams[i]; i++) {
		char *once = red(streams[i]), *twice = red(once);

		tap_streq(twice, once, "redacting redacted bytes changes nothing");
		free(once);
		free(twice);
	}
	{
		char *once = red(chunked_in), *twice = red(once);

		tap_streq(twice, once, "redacting a redacted chunked response changes nothing");
		free(once);
		free(twice);
	}
}

static const char keepalive_in[] =
	"POST /v1/messages?key=q1 HTTP/1.1\r\nHost: api\r\nx-api-key: sk-ant-api03-first-key-0123456789\r\n"
	"Content-Length: 47\r\n\r\n{\"prompt\":\"hi\",\"k\":\"sk-abcdefghijklmnopqrstuv\"}"
	"GET /second HTTP/1.1\r\nAuthorization: Bearer second-token\r\nCookie: s=1\r\n\r\n"
	"GET /third HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	"1a\r\nAKIAIOSFODNN7EXAMPLE&key=x\r\n0\r\n\r\n";

static void test_keepalive(void)
{
	struct buf want = BUF_INIT;
	char *got;

	buf_printf(&want,
		   "POST /v1/messages?key=%s HTTP/1.1\r\nHost: api\r\nx-api-key: %s\r\n"
		   "Content-Length: 47\r\n\r\n{\"prompt\":\"hi\",\"k\":\"%s\"}"
		   "GET /second HTTP/1.1\r\nAuthorization: Bearer %s\r\nCookie: s=%s\r\n\r\n"
		   "GET /third HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		   "1a\r\n%s&key=%s\r\n0\r\n\r\n",
		   M("q1"), M("sk-ant-api03-first-key-0123456789"), F("sk-abcdefghijklmnopqrstuv"),
		   M("second-token"), M("1"), F("AKIAIOSFODNN7EXAMPLE"), F("x"));
	got = red(keepalive_in);
	tap_streq(got, want.data, "keep-alive: the second and third requests are redacted too");
	tap_ok(!strstr(got, "second-token") && !strstr(got, "first-key"),
	       "keep-alive: no secret is left");
	free(got);
	buf_release(&want);
}

/* Feeding s in two pieces (every split point), and byte by byte, equals the one shot. */
static void test_splits(const char *what, const char *s, size_t n)
{
	struct redactor *r = redactor_new(&cfg);
	struct buf one = BUF_INIT, out = BUF_INIT;
	size_t i, j, bad = (size_t)-1;

	assert(r && redact_bytes(&cfg, s, n, &one) == 0);
	for (i = 0; i <= n && bad == (size_t)-1; i++) {
		buf_reset(&out);
		if (redactor_feed(r, s, i, &out) < 0 || redactor_feed(r, s + i, n - i, &out) < 0 ||
		    redactor_flush(r, &out) < 0 || out.len != one.len ||
		    memcmp(out.data, one.data, one.len) != 0)
			bad = i;
	}
	tap_ok(bad == (size_t)-1, "%s: every split point gives the one-shot output", what);
	if (bad != (size_t)-1)
		printf("#   first bad split at %zu\n#   got:  '%s'\n#   want: '%s'\n", bad,
		       out.data, one.data);
	buf_reset(&out);
	for (j = 0; j < n; j++)
		assert(redactor_feed(r, s + j, 1, &out) == 0);
	assert(redactor_flush(r, &out) == 0);
	tap_ok(out.len == one.len && memcmp(out.data, one.data, one.len) == 0,
	       "%s: byte by byte gives the one-shot output", what);
	buf_release(&one);
	buf_release(&out);
	redactor_free(r);
}

static void test_split_all(void)
{
	static const char opaque[] =
		"\x16\x03\x01 Bearer abcdefghijklmnopqrstuvwx; sk-abcdefghijklmnopqrstuvwxyz "
		"AKIAIOSFODNN7EXAMPLE?token=abc&password=x ghp_0123456789abcdefghijABCDEFGHIJ012345";
	static const char req[] =
		"GET /a?api_key=AAA&token=zzz HTTP/1.1\r\nAuthorization: Bearer tok-abc\r\nCookie: a=1; b=2\r\n"
		"X-Custom-Secret: cs\r\nContent-Length: 34\r\n\r\n{\"k\":\"sk-abcdefghijklmnopqrstuvw\"}";

	test_splits("chunked response stream", chunked_in, sizeof(chunked_in) - 1);
	test_splits("responses to HEAD", head_in, sizeof(head_in) - 1);
	test_splits("keep-alive request stream", keepalive_in, sizeof(keepalive_in) - 1);
	test_splits("opaque stream", opaque, sizeof(opaque) - 1);
	test_splits("request with headers and body", req, sizeof(req) - 1);
}

static void test_binary(void)
{
	unsigned char *in = malloc(1 << 16);
	size_t i, n = 1 << 16, got_n;
	uint32_t x = 12345;
	char *got;
	static const char key[] = "sk-abcdefghijklmnopqrstuvwxyz012345";

	for (i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		in[i] = (unsigned char)(x >> 16);
	}
	got = red_n((char *)in, n, &got_n);
	tap_ok(got_n == n && memcmp(got, in, n) == 0,
	       "random binary without shapes passes unchanged");
	free(got);
	in[1000] = ' ';
	memcpy(in + 1001, key, sizeof(key) - 1);
	in[1001 + sizeof(key) - 1] = 0;
	got = red_n((char *)in, n, &got_n);
	tap_ok(got_n == n && memcmp(got, in, 1001) == 0 &&
		       memcmp(got + 1001, F(key), sizeof(key) - 1) == 0 &&
		       memcmp(got + 1001 + sizeof(key) - 1, in + 1001 + sizeof(key) - 1,
			      n - 1001 - sizeof(key) + 1) == 0,
	       "binary: only the key changes, to a marker of its length");
	tap_ok(!contains(got, got_n, key), "binary: the key is gone");
	free(got);
	free(in);
}

static void test_bounded(void)
{
	struct redactor *r = redactor_new(&cfg);
	struct buf out = BUF_INIT;
	char *chunk = malloc(65536);
	size_t i, total = 0, max_held = 0;
	int ok = 1;

	/* 10 MB with no line end at all, after a request line start */
	for (i = 0; i < 65536; i++)
		chunk[i] = "abcdefghij sk-ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i % 40];
	assert(redactor_feed(r, "GET /", 5, &out) == 0);
	for (i = 0; i < 160 && ok; i++) {
		if (redactor_feed(r, chunk, 65536, &out) < 0)
			ok = 0;
		if (redactor_held(r) > max_held)
			max_held = redactor_held(r);
		total += out.len;
		buf_reset(&out);
	}
	assert(redactor_flush(r, &out) == 0);
	total += out.len;
	tap_ok(ok && max_held <= REDACT_HOLD_MAX,
	       "10 MB without a line end: at most %zu bytes held back (cap %d)", max_held,
	       REDACT_HOLD_MAX);
	/* the request line is head context: each 39-byte key run becomes a 27-byte marker */
	tap_ok(total > 7u * 1000 * 1000, "10 MB: everything came out (%zu bytes)", total);
	/* a header name that never ends, and a secret value that never ends */
	buf_reset(&out);
	assert(redactor_feed(r, "GET / HTTP/1.1\r\n", 16, &out) == 0);
	for (i = 0; i < 65536; i++)
		chunk[i] = 'n';
	max_held = 0;
	for (i = 0; i < 32; i++) {
		assert(redactor_feed(r, chunk, 65536, &out) == 0);
		if (redactor_held(r) > max_held)
			max_held = redactor_held(r);
	}
	tap_ok(max_held <= REDACT_HOLD_MAX, "2 MB header name: %zu bytes held back", max_held);
	assert(redactor_flush(r, &out) == 0);
	buf_reset(&out);
	assert(redactor_feed(r, "GET / HTTP/1.1\r\nCookie: ", 24, &out) == 0);
	max_held = 0;
	for (i = 0; i < 32; i++) {
		assert(redactor_feed(r, chunk, 65536, &out) == 0);
		if (redactor_held(r) > max_held)
			max_held = redactor_held(r);
	}
	assert(redactor_flush(r, &out) == 0);
	tap_ok(max_held <= REDACT_HOLD_MAX && out.len < 100 && !strstr(out.data, "nnnn"),
	       "2 MB cookie without '=': hashed as it comes, %zu bytes held, %zu out", max_held,
	       out.len);
	buf_release(&out);
	free(chunk);
	redactor_free(r);
}

static void test_errors(void)
{
	struct redactor *r = redactor_new(&cfg);
	struct buf small;
	static const char s[] =
		"hello sk-abcdefghijklmnopqrstuvwxyz world, a longer tail to pass the cap";

	buf_init(&small, 16);
	tap_ok(redactor_feed(r, s, sizeof(s) - 1, &small) == -E2BIG && small.len == 0,
	       "a full output buffer fails the call and leaves the buffer as it was");
	tap_ok(redactor_feed(r, "x", 1, &small) == -E2BIG, "a failed redactor stays failed");
	buf_release(&small);
	redactor_free(r);
	redactor_free(NULL);
	tap_ok(1, "redactor_free(NULL) is accepted");
}

static void test_config(void)
{
	struct redact_config c;
	struct at_error e = { 0 };
	uint8_t key[REDACT_KEY_LEN] = { 1 };

	tap_ok(redact_config_parse(&c, " X-One ,,x-two,\tThree\t", key, &e) == 0 &&
		       c.n_names == 3 && strcmp(c.names[0], "x-one") == 0 &&
		       strcmp(c.names[2], "three") == 0,
	       "ATTRACE_REDACT: names trimmed, lower-cased, empty items skipped");
	tap_ok(redact_header_is_secret(&c, "THREE", 5) &&
		       redact_header_is_secret(&c, "cookie", 6) &&
		       !redact_header_is_secret(&c, "Host", 4),
	       "redact_header_is_secret knows the list and the built-ins");
	redact_config_release(&c);
	redact_config_release(NULL);
	tap_ok(redact_config_parse(&c, "ok, bad name", key, &e) == -EINVAL &&
		       strstr(e.msg, "'bad name'") && c.n_names == 0,
	       "a name with a space is refused: %s", e.msg);
	tap_ok(redact_config_parse(&c, NULL, key, &e) == 0 && c.n_names == 0, "NULL means none");
	redact_config_release(&c);
}

/* load_key: called before a marker is made, never for text without a
 * secret, and what it fills is the key the markers use. */
static int key_loads;
static struct redact_config lazy;

static void lazy_load(void)
{
	key_loads++;
	memcpy(lazy.key, cfg.key, REDACT_KEY_LEN);
}

static void test_lazy_key(void)
{
	static const uint8_t zero[REDACT_KEY_LEN];
	static const char *const clean[] = {
		"PATH=/usr/bin:/bin",
		"GET /v1/models?limit=3 HTTP/1.1\r\nHost: api\r\nAccept: */*\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"testenv.passenv+=#,OPENBLAS_*;env_run_base.passenv+=OPENBLAS",
		"high night github_ sk- AKIA",
	};
	const char *secret = "Authorization: Bearer sk-test-aaaaaaaaaaaaaaaaaaaaaaaa\r\n";
	struct buf out = BUF_INIT, want = BUF_INIT;
	int ok = 1;

	assert(redact_config_parse(&lazy, NULL, zero, NULL) == 0);
	lazy.load_key = lazy_load;
	for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
		out.len = 0;
		if (redact_bytes(&lazy, clean[i], strlen(clean[i]), &out) < 0 ||
		    out.len != strlen(clean[i]))
			ok = 0;
	}
	tap_ok(ok && key_loads == 0, "text without a secret never asks for the key");
	out.len = 0;
	assert(redact_bytes(&lazy, secret, strlen(secret), &out) == 0);
	assert(redact_bytes(&cfg, secret, strlen(secret), &want) == 0);
	tap_ok(key_loads >= 1 && out.len == want.len && memcmp(out.data, want.data, out.len) == 0,
	       "a secret asks for the key first, and its marker is made with that key");
	buf_release(&out);
	buf_release(&want);
	redact_config_release(&lazy);
}

/* redact_may_change: never 0 for bytes the redactor changes (random strings
 * made of the shapes' prefixes, message starts, headers and filler), and 0
 * for ordinary paths, words and option strings. */
static void test_may_change(void)
{
	static const char *const frag[] = {
		"sk-",
		"AKIA",
		"ghp_",
		"github_pat_",
		"AIza",
		"Bearer ",
		"bEaReR ",
		"?",
		"&",
		"api_key=",
		"KEY=",
		"token=",
		"password=",
		"HTTP/1.1 200 OK\r\n",
		"GET / HTTP/1.1\r\n",
		"POST ",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"Authorization: ",
		"Cookie: a=b; c=d",
		"X-Api-Key: ",
		"Content-Length: 3\r\n",
		"\r\n",
		"abcdefghijklmnopqrstuvwxyz0123456789",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123",
		"x",
		" ",
		"=",
		"-",
		"_",
		"/",
		".",
	};
	static const char *const plain[] = {
		"",
		"/usr/bin:/bin",
		"testenv.passenv+=#,OPENBLAS_*;env_run_base.passenv+=OPENBLAS",
		"high night github",
		"C.UTF-8",
		"xterm-256color",
		"--max-time=5",
		"https://example.com/search?q=a&limit=3",
	};
	static const char *const risky[] = {
		"sk-",	  "xAKIAx",	  "ghp_", "AIza", "Bearer ", "BEARER abc",     "?api_key=1",
		"token=", "HTTP/1.1 200", "HTTP", "GET ", "PO",	     "PRI * HTTP/2.0",
	};
	const size_t nfrag = sizeof(frag) / sizeof(frag[0]);
	unsigned seed = 12345;
	int ok = 1, changed = 0;

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (redact_may_change(plain[i], strlen(plain[i])))
			ok = 0;
	tap_ok(ok, "paths, words, options and a query without a secret parameter: 0");
	ok = 1;
	for (size_t i = 0; i < sizeof(risky) / sizeof(risky[0]); i++)
		if (!redact_may_change(risky[i], strlen(risky[i])))
			ok = 0;
	tap_ok(ok, "a shape's prefix or a message start, complete or cut short: 1");
	ok = 1;
	for (int round = 0; round < 40000; round++) {
		struct buf in = BUF_INIT, out = BUF_INIT;
		unsigned k;

		seed = seed * 1103515245u + 12345u;
		k = (seed >> 16) % 14;
		while (k--) {
			seed = seed * 1103515245u + 12345u;
			assert(buf_append(&in, frag[(seed >> 16) % nfrag],
					  strlen(frag[(seed >> 16) % nfrag])) == 0);
		}
		assert(redact_bytes(&cfg, in.data ? in.data : "", in.len, &out) == 0);
		if (out.len != in.len || (in.len && memcmp(out.data, in.data, in.len) != 0)) {
			changed++;
			if (!redact_may_change(in.data, in.len)) {
				if (ok)
					fprintf(stderr, "# missed: '%.*s' -> '%.*s'", (int)in.len,
						in.data, (int)out.len, out.data),
						fputc(10, stderr);
				ok = 0;
			}
		}
		buf_release(&in);
		buf_release(&out);
	}
	tap_ok(ok && changed > 1000,
	       "every random string the redactor changes is flagged (%d changed)", changed);
}

int main(void)
{
	uint8_t key[REDACT_KEY_LEN];
	struct at_error e = { 0 };

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	assert(redact_config_parse(&cfg, "X-Custom-Secret, MY-TOKEN", key, &e) == 0);
	test_markers();
	test_headers();
	test_shapes();
	test_chunked();
	test_keepalive();
	test_head();
	test_idempotent();
	test_split_all();
	test_binary();
	test_bounded();
	test_errors();
	test_config();
	test_lazy_key();
	test_may_change();
	redact_config_release(&cfg);
	return tap_done();
}
