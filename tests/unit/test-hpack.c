/* SPDX-License-Identifier: MIT */
/* test-hpack.c -- the literal-only HPACK encoder (common/hpack.c) and the
 * HTTP/2 redactor built on it (common/h2redact.c, through common/redact.c). */
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/h2redact.h"
#include "common/hpack.h"
#include "common/redact.h"
#include "tap.h"

static int bytes_eq(const struct buf *b, const char *want, size_t n)
{
	return b->len == n && memcmp(b->data, want, n) == 0;
}

static void test_int(void)
{
	struct buf b = BUF_INIT;

	/* RFC 7541 C.1 */
	hpack_put_int(&b, 0xe0, 5, 10);
	tap_ok(bytes_eq(&b, "\xea", 1), "10 in a 5-bit prefix, pattern kept");
	buf_reset(&b);
	hpack_put_int(&b, 0x00, 5, 1337);
	tap_ok(bytes_eq(&b, "\x1f\x9a\x0a", 3), "1337 in a 5-bit prefix");
	buf_reset(&b);
	hpack_put_int(&b, 0x00, 8, 42);
	tap_ok(bytes_eq(&b, "\x2a", 1), "42 in an 8-bit prefix");
	buf_reset(&b);
	hpack_put_int(&b, 0x00, 7, 127);
	tap_ok(bytes_eq(&b, "\x7f\x00", 2), "127 in a 7-bit prefix takes a second byte");
	buf_release(&b);
}

/* Inflates block[0..n) with a fresh inflater into "name: value\n" lines. */
static int inflate_lines(const void *block, size_t n, struct buf *out)
{
	nghttp2_hd_inflater *inf;
	const uint8_t *in = block;
	int ok = 0;

	if (nghttp2_hd_inflate_new(&inf) != 0)
		return 0;
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, n, 1);

		if (rv < 0)
			goto out;
		in += rv;
		n -= (size_t)rv;
		if (flags & NGHTTP2_HD_INFLATE_EMIT)
			buf_printf(out, "%.*s: %.*s\n", (int)nv.namelen, nv.name, (int)nv.valuelen,
				   nv.value);
		if (flags & NGHTTP2_HD_INFLATE_FINAL)
			break;
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && n == 0)
			goto out;
	}
	ok = nghttp2_hd_inflate_get_dynamic_table_size(inf) == 0;
out:
	nghttp2_hd_inflate_del(inf);
	return ok;
}

static void test_literal(void)
{
	struct buf b = BUF_INIT, lines = BUF_INIT;
	char big[300];

	memset(big, 'v', sizeof(big));
	hpack_put_literal(&b, "x-a", 3, "1", 1);
	tap_ok(bytes_eq(&b,
			"\x00\x03x-a\x01"
			"1",
			7),
	       "a literal without indexing, raw strings");
	hpack_put_literal(&b, "x-big", 5, big, sizeof(big));
	tap_ok(inflate_lines(b.data, b.len, &lines) &&
		       !strncmp(lines.data, "x-a: 1\nx-big: vvv", 17) &&
		       lines.len == 7 + 7 + 300 + 1,
	       "nghttp2 decodes it, and its dynamic table stays empty");
	buf_release(&b);
	buf_release(&lines);
}

#define SECRET_AUTH   "sk-h2unitAUTHabcdefghijklmnopqrstu"
#define SECRET_COOKIE "cookieh2unitsecret"
#define SECRET_XKEY   "xkeyh2unitsecret"
#define SECRET_BODY   "sk-h2unitBODYabcdefghijklmnopqrstu"
#define SECRET_QUERY  "queryh2unitsecret"

static void put_fh(struct buf *b, size_t len, unsigned type, unsigned flags, uint32_t sid)
{
	char f[9] = { (char)(len >> 16), (char)(len >> 8), (char)len,
		      (char)type,	 (char)flags,	   (char)(sid >> 24),
		      (char)(sid >> 16), (char)(sid >> 8), (char)sid };

	buf_append(b, f, 9);
}

/* A client's stream: preface, SETTINGS, then two requests with the same
 * headers (the second one mostly table references), the first split into
 * HEADERS + CONTINUATION, each with a DATA frame. */
static void client_stream(struct buf *s)
{
	nghttp2_hd_deflater *def;
	nghttp2_nv nv[] = {
#define NV(n, v) \
	{ (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }
		NV(":method", "POST"),
		NV(":path", "/v1/x?api_key=" SECRET_QUERY "&a=b"),
		NV(":scheme", "https"),
		NV(":authority", "localhost"),
		NV("authorization", "Bearer " SECRET_AUTH),
		NV("cookie", "session=" SECRET_COOKIE),
		NV("x-api-key", SECRET_XKEY),
		NV("content-type", "application/json"),
#undef NV
	};
	uint8_t blk[1024];
	static const char body[] = "{\"key\": \"" SECRET_BODY "\"}";

	nghttp2_hd_deflate_new(&def, 4096);
	buf_append(s, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	put_fh(s, 0, 4, 0, 0);
	for (uint32_t sid = 1; sid <= 3; sid += 2) {
		ssize_t n = nghttp2_hd_deflate_hd(def, blk, sizeof(blk), nv,
						  sizeof(nv) / sizeof(nv[0]));
		size_t half = sid == 1 ? (size_t)n / 2 : (size_t)n;

		put_fh(s, half, 1, half == (size_t)n ? 4 : 0, sid);
		buf_append(s, blk, half);
		if (half < (size_t)n) {
			put_fh(s, (size_t)n - half, 9, 4, sid);
			buf_append(s, blk + half, (size_t)n - half);
		}
		/* padded DATA */
		put_fh(s, sizeof(body) - 1 + 4, 0, 0x8 | 0x1, sid);
		buf_append(s, "\x03", 1);
		buf_append(s, body, sizeof(body) - 1);
		buf_append(s, "\0\0\0", 3);
	}
	nghttp2_hd_deflate_del(def);
}

/* Walks the frames of out: header blocks decoded (fresh inflater each:
 * the redacted blocks must not need a table) into lines, DATA payloads
 * appended. @return 0 when the framing is sound. */
static int walk(const struct buf *out, struct buf *lines)
{
	const unsigned char *p = (const unsigned char *)out->data;
	size_t i = 24, n = out->len;

	if (n < 24 || memcmp(p, "PRI * ", 6))
		return -1;
	while (i + 9 <= n) {
		size_t len = (size_t)p[i] << 16 | (size_t)p[i + 1] << 8 | p[i + 2];

		if (i + 9 + len > n)
			return -1;
		if (p[i + 3] == 1) {
			if (!(p[i + 4] & 4) || !inflate_lines(p + i + 9, len, lines))
				return -1;
		} else if (p[i + 3] == 0) {
			size_t pad = (p[i + 4] & 8) ? p[i + 9] : 0, off = (p[i + 4] & 8) ? 1 : 0;

			if (off + pad > len)
				return -1;
			buf_append(lines, p + i + 9 + off, len - off - pad);
			buf_putc(lines, '\n');
		}
		i += 9 + len;
	}
	return i == n ? 0 : -1;
}

static void test_h2red(void)
{
	struct redact_config cfg;
	uint8_t key[REDACT_KEY_LEN] = { 7 };
	struct buf in = BUF_INIT, whole = BUF_INIT, bytewise = BUF_INIT, lines = BUF_INIT,
		   mk = BUF_INIT;
	struct redactor *r;
	int k = 0;

	redact_config_parse(&cfg, NULL, key, NULL);
	client_stream(&in);
	r = redactor_new(&cfg);
	tap_ok(redactor_feed(r, in.data, in.len, &whole) == 0,
	       "a client's HTTP/2 stream is redacted");
	redactor_free(r);
	r = redactor_new(&cfg);
	for (size_t i = 0; i < in.len && k == 0; i++)
		k = redactor_feed(r, in.data + i, 1, &bytewise);
	tap_ok(k == 0 && whole.len == bytewise.len && !memcmp(whole.data, bytewise.data, whole.len),
	       "byte by byte gives the same bytes");
	tap_ok(redactor_held(r) == 0, "nothing a flush would release");
	redactor_free(r);
	tap_ok(walk(&whole, &lines) == 0,
	       "the output is well-framed HTTP/2 whose blocks decode alone");
	tap_ok(!memmem(whole.data, whole.len, "h2unit", 6) &&
		       !memmem(lines.data, lines.len, "h2unit", 6),
	       "no secret in the bytes or the decoded headers");
	redact_marker(&cfg, SECRET_AUTH, sizeof(SECRET_AUTH) - 1, 0, &mk);
	buf_puts(&lines, "");
	tap_ok(strstr(lines.data, "authorization: Bearer [redacted:") &&
		       strstr(lines.data, mk.data + 10) &&
		       strstr(lines.data, "cookie: session=[redacted:") &&
		       strstr(lines.data, "x-api-key: [redacted:") &&
		       strstr(lines.data, ":path: /v1/x?api_key=[redacted:") &&
		       strstr(lines.data, "&a=b\n:scheme: https\n:authority: localhost\n") &&
		       strstr(lines.data, "{\"key\": \"[redacted:"),
	       "markers in place of the secrets, everything else kept");
	tap_ok(strstr(strstr(lines.data, "authorization: Bearer [redacted") + 1,
		      "authorization: Bearer [redacted") != NULL,
	       "the second request, sent as table references, is decoded and redacted too");

	/* errors */
	buf_reset(&whole);
	r = redactor_new(&cfg);
	tap_ok(redactor_set_h2(r) == 1, "ALPN h2 switches a fresh stream");
	buf_reset(&in);
	put_fh(&in, 1, 9, 4, 1);
	buf_putc(&in, 0);
	tap_ok(redactor_feed(r, in.data, in.len, &whole) == -EPROTO && whole.len == 0 &&
		       redactor_feed(r, "x", 1, &whole) == -EPROTO,
	       "a CONTINUATION out of place fails the stream for good");
	redactor_free(r);
	r = redactor_new(&cfg);
	redactor_feed(r, "GET / HTTP/1.1\r\n", 16, &whole);
	tap_ok(redactor_set_h2(r) == 0, "a stream already read stays as it is");
	redactor_free(r);
	buf_reset(&whole);
	r = redactor_new(&cfg);
	buf_reset(&in);
	put_fh(&in, 3, 1, 4, 1);
	buf_append(&in, "\xff\xff\xff", 3); /* an index far out of the table */
	redactor_set_h2(r);
	tap_ok(redactor_feed(r, in.data, in.len, &whole) == -EPROTO, "an undecodable block fails");
	redactor_free(r);

	buf_release(&in);
	buf_release(&whole);
	buf_release(&bytewise);
	buf_release(&lines);
	buf_release(&mk);
	redact_config_release(&cfg);
}

/* An h2c upgrade: the server's stream turns HTTP/2 after its 101 answer. */
static void test_h2c(void)
{
	struct redact_config cfg;
	uint8_t key[REDACT_KEY_LEN] = { 7 }, blk[256];
	struct buf in = BUF_INIT, out = BUF_INIT, lines = BUF_INIT;
	nghttp2_hd_deflater *def;
	nghttp2_nv nv[] = {
		{ (uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"set-cookie", (uint8_t *)"sid=" SECRET_COOKIE "; Path=/", 10,
		  sizeof("sid=" SECRET_COOKIE "; Path=/") - 1, NGHTTP2_NV_FLAG_NONE },
	};
	ssize_t n;
	const char *h;

	redact_config_parse(&cfg, NULL, key, NULL);
	nghttp2_hd_deflate_new(&def, 4096);
	n = nghttp2_hd_deflate_hd(def, blk, sizeof(blk), nv, 2);
	static const char up[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
				 "Upgrade: h2c\r\n\r\n";
	const size_t ul = sizeof(up) - 1;

	buf_puts(&in, up);
	put_fh(&in, 0, 4, 0, 0);
	put_fh(&in, (size_t)n, 1, 4, 1);
	buf_append(&in, blk, (size_t)n);
	tap_ok(redact_bytes(&cfg, in.data, in.len, &out) == 0 && out.len > ul + 18 &&
		       !memcmp(out.data, in.data, ul),
	       "h2c: the 101 answer passes as HTTP/1");
	h = out.data + ul + 9;
	tap_ok(!memmem(out.data, out.len, SECRET_COOKIE, sizeof(SECRET_COOKIE) - 1) && h[3] == 1 &&
		       inflate_lines(h + 9, out.len - ul - 18, &lines) &&
		       strstr(lines.data, "set-cookie: sid=[redacted:") &&
		       strstr(lines.data, "]; Path=/\n"),
	       "h2c: then frames, their header blocks redacted");
	nghttp2_hd_deflate_del(def);
	buf_release(&in);
	buf_release(&out);
	buf_release(&lines);
	redact_config_release(&cfg);
}

/* Fields the HTTP/1 form cannot hold as header lines are replaced whole,
 * and the fields after them are still redacted by name. */
static void test_odd_fields(void)
{
	struct redact_config cfg;
	uint8_t key[REDACT_KEY_LEN] = { 7 };
	struct buf blk = BUF_INIT, in = BUF_INIT, out = BUF_INIT, lines = BUF_INIT;
	char longname[300];
	struct redactor *r;

	memset(longname, 'n', sizeof(longname));
	redact_config_parse(&cfg, NULL, key, NULL);
	hpack_put_literal(&blk, ":status", 7, "200", 3);
	hpack_put_literal(&blk, longname, sizeof(longname), "v1", 2);
	hpack_put_literal(&blk, "x-bad", 5, "a\r\nb", 4);
	hpack_put_literal(&blk, "bad name", 8, "v3", 2);
	hpack_put_literal(&blk, "x-api-key", 9, SECRET_XKEY, sizeof(SECRET_XKEY) - 1);
	put_fh(&in, blk.len, 1, 4, 1);
	buf_append(&in, blk.data, blk.len);
	r = redactor_new(&cfg);
	redactor_set_h2(r);
	tap_ok(redactor_feed(r, in.data, in.len, &out) == 0 &&
		       inflate_lines(out.data + 9, out.len - 9, &lines),
	       "a block with odd fields is redacted");
	tap_ok(!memmem(lines.data, lines.len, SECRET_XKEY, sizeof(SECRET_XKEY) - 1) &&
		       strstr(lines.data, "x-api-key: [redacted:") &&
		       strstr(lines.data, "nnnn: [redacted:") &&
		       strstr(lines.data, "x-bad: [redacted:") &&
		       strstr(lines.data, "bad name: [redacted:") &&
		       strstr(lines.data, ":status: 200\n"),
	       "an overlong name, a CR LF value, a non-token name: replaced whole; the rest by its name");
	redactor_free(r);
	buf_release(&blk);
	buf_release(&in);
	buf_release(&out);
	buf_release(&lines);
	redact_config_release(&cfg);
}

int main(void)
{
	test_odd_fields();
	test_h2c();
	test_int();
	test_literal();
	test_h2red();
	return tap_done();
}
