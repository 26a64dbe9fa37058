/* SPDX-License-Identifier: MIT */
/* test-json.c -- unit tests for common/json.c: escaping, numbers, separators, bytes, base64, UTF-8. */
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/json.h"
#include "tap.h"

static void test_strings(void)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
		{ "", 0, "\"\"" },
		{ "plain ascii", 11, "\"plain ascii\"" },
		{ "q\"b\\s/", 6, "\"q\\\"b\\\\s/\"" },
		{ "\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"" },
		{ "\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"" },
		{ "nul\0in", 6, "\"nul\\u0000in\"" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
		  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"" },
		{ "a\xff"
		  "b",
		  3,
		  "\"a\xef\xbf\xbd"
		  "b\"" },
		{ "\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"" }, /* overlong '/' */
		{ "\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" }, /* surrogate */
		{ "\xe2\x82", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"" }, /* cut short */
		{ "\xf4\x90\x80\x80", 4, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT;
		char name[64];

		json_strn(&b, cases[i].in, cases[i].n);
		snprintf(name, sizeof(name), "json_strn case %zu", i);
		tap_streq(b.data, cases[i].want, name);
		buf_release(&b);
	}
	{
		struct buf b = BUF_INIT;

		json_str(&b, NULL);
		tap_streq(b.data, "null", "json_str(NULL) writes null");
		buf_release(&b);
	}
}

/* A byte-at-a-time reference for json_strn, to check the 8-byte fast path at every alignment. */
static void ref_escape(struct buf *b, const unsigned char *s, size_t n)
{
	size_t i = 0;

	buf_putc(b, '"');
	while (i < n) {
		unsigned char c = s[i];
		size_t k;

		if (c == '"' || c == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)c);
		} else if (c == '\n') {
			buf_puts(b, "\\n");
		} else if (c == '\r') {
			buf_puts(b, "\\r");
		} else if (c == '\t') {
			buf_puts(b, "\\t");
		} else if (c == '\b') {
			buf_puts(b, "\\b");
		} else if (c == '\f') {
			buf_puts(b, "\\f");
		} else if (c < 0x20) {
			buf_printf(b, "\\u%04x", c);
		} else if (c < 0x80) {
			buf_putc(b, (char)c);
		} else {
			for (k = 2; k <= 4 && i + k <= n; k++)
				if (utf8_valid(s + i, k))
					break;
			if (k <= 4 && i + k <= n) {
				buf_append(b, s + i, k);
				i += k;
				continue;
			}
			buf_puts(b, "\xef\xbf\xbd");
		}
		i++;
	}
	buf_putc(b, '"');
}

static void test_strings_random(void)
{
	static const unsigned char alphabet[] =
		"abcXYZ 09/\"\\\n\r\t\x01\x1f\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xff\x80";
	unsigned seed = 42;
	int round, ok = 1;

	for (round = 0; round < 5000; round++) {
		struct buf got = BUF_INIT, want = BUF_INIT;
		unsigned char s[80];
		size_t n = (size_t)(round % 80), i;

		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			/* long plain runs with a special byte now and then */
			s[i] = (seed >> 16) % 8 ? (unsigned char)('a' + (seed >> 20) % 26)
						: alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
		}
		json_strn(&got, (const char *)s, n);
		ref_escape(&want, s, n);
		if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0) {
			if (ok)
				printf("# round %d: got %s want %s\n", round, got.data, want.data);
			ok = 0;
		}
		buf_release(&got);
		buf_release(&want);
	}
	tap_ok(ok, "json_strn agrees with a byte-at-a-time reference on 5000 strings");
}

/* Every length up to 24 with one special byte at every position (or none),
 * against the reference: the short-string, 8-byte and tail paths. Keys of
 * every length up to 20 (copied in overlapping words). And each string
 * under every cap: written whole exactly when it fits. */
static void test_strings_short(void)
{
	static const unsigned char specials[] = { '"', '\\', '\n', 0x01, 0x7f, 0xff };
	static const char key[] = "abcdefghijklmnopqrst";
	int ok = 1, caps_ok = 1, keys_ok = 1;
	size_t n, pos, k, max;

	for (n = 0; n <= 24; n++) {
		for (pos = 0; pos <= n; pos++) {
			for (k = 0; k < sizeof(specials); k++) {
				struct buf got = BUF_INIT, want = BUF_INIT;
				unsigned char s[24];
				size_t i;

				for (i = 0; i < n; i++)
					s[i] = (unsigned char)('a' + i);
				if (pos < n)
					s[pos] = specials[k];
				json_strn(&got, (const char *)s, n);
				ref_escape(&want, s, n);
				if (got.len != want.len ||
				    memcmp(got.data, want.data, got.len) != 0) {
					if (ok)
						printf("# n %zu pos %zu: got %s want %s\n", n, pos,
						       got.data, want.data);
					ok = 0;
				}
				for (max = 1; max <= want.len + 1; max++) {
					struct buf c;
					int r;

					buf_init(&c, max);
					r = json_strn(&c, (const char *)s, n);
					if (max >= want.len
						    ? r != 0 || strcmp(c.data, want.data) != 0
						    : r != -E2BIG || c.len > max)
						caps_ok = 0;
					buf_release(&c);
				}
				buf_release(&got);
				buf_release(&want);
			}
		}
	}
	tap_ok(ok, "json_strn agrees with the reference at every length up to 24");
	tap_ok(caps_ok, "json_strn fits under every cap exactly when its output does");
	for (n = 0; n <= 20; n++) {
		struct buf got = BUF_INIT;
		char want[32];

		json_obj_open(&got);
		json_keyn(&got, key, n);
		json_null(&got);
		snprintf(want, sizeof(want), "{\"%.*s\":null", (int)n, key);
		if (strcmp(got.data, want) != 0)
			keys_ok = 0;
		buf_release(&got);
	}
	tap_ok(keys_ok, "json_keyn writes keys of every length up to 20");
}

static void test_numbers(void)
{
	static const struct {
		int64_t v;
		const char *want;
	} ints[] = {
		{ 0, "0" },
		{ 7, "7" },
		{ -1, "-1" },
		{ 1234567890123LL, "1234567890123" },
		{ INT64_MAX, "9223372036854775807" },
		{ INT64_MIN, "-9223372036854775808" },
	};
	static const struct {
		int64_t ns;
		const char *want;
	} epochs[] = {
		{ 0, "0.000000" },    { 1795321020123456789LL, "1795321020.123456" },
		{ 1000, "0.000001" }, { 999, "0.000000" },
		{ -1, "-0.000001" },  { -1500000000LL, "-1.500000" },
	};
	size_t i;

	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		struct buf b = BUF_INIT;

		json_int(&b, ints[i].v);
		tap_streq(b.data, ints[i].want, "json_int");
		buf_release(&b);
	}
	{
		struct buf b = BUF_INIT;

		json_uint(&b, UINT64_MAX);
		tap_streq(b.data, "18446744073709551615", "json_uint max");
		buf_release(&b);
	}
	for (i = 0; i < sizeof(epochs) / sizeof(epochs[0]); i++) {
		struct buf b = BUF_INIT;

		json_epoch(&b, epochs[i].ns);
		tap_streq(b.data, epochs[i].want, "json_epoch");
		buf_release(&b);
	}
}

static void test_separators(void)
{
	struct buf b = BUF_INIT;

	json_obj_open(&b);
	json_kv_str(&b, "a", "x");
	json_kv_int(&b, "b", -2);
	json_kv_bool(&b, "c", 1);
	json_key(&b, "d");
	json_null(&b);
	json_key(&b, "e");
	json_arr_open(&b);
	json_int(&b, 1);
	json_str(&b, "two");
	json_obj_open(&b);
	json_obj_close(&b);
	json_arr_open(&b);
	json_arr_close(&b);
	json_boolean(&b, 0);
	json_arr_close(&b);
	json_key(&b, "f");
	json_obj_open(&b);
	json_kv_strn(&b, "g", "hi", 1);
	json_obj_close(&b);
	json_obj_close(&b);
	buf_putc(&b, '\n');
	json_obj_open(&b);
	json_obj_close(&b);
	tap_streq(
		b.data,
		"{\"a\":\"x\",\"b\":-2,\"c\":true,\"d\":null,\"e\":[1,\"two\",{},[],false],\"f\":{\"g\":\"h\"}}\n{}",
		"separators are implicit, none after '\\n'");
	buf_release(&b);
}

/* json_str_pair writes what arr_open + two strn + arr_close write, under
 * every cap (the same reference: the general calls on a second buffer). */
static void test_str_pair(void)
{
	static const char *const v[] = { "", "Host", "a\"b\\c\r\n", "caf\xc3\xa9 \xff", "x\x01y" };
	size_t i, j, cap;
	int ok = 1, caps_ok = 1;

	for (i = 0; i < 5; i++) {
		for (j = 0; j < 5; j++) {
			struct buf a = BUF_INIT, w = BUF_INIT;

			json_arr_open(&a);
			json_arr_open(&w);
			json_str(&a, "k");
			json_str(&w, "k");
			json_str_pair(&a, v[i], strlen(v[i]), v[j], strlen(v[j]));
			json_arr_open(&w);
			json_str(&w, v[i]);
			json_str(&w, v[j]);
			json_arr_close(&w);
			if (strcmp(a.data, w.data) != 0)
				ok = 0;
			/* alone (no separator): w's text after "[\"k\"," */
			for (cap = 1; cap <= w.len - 4; cap++) {
				struct buf c;
				int r;

				buf_init(&c, cap);
				r = json_str_pair(&c, v[i], strlen(v[i]), v[j], strlen(v[j]));
				if (cap >= w.len - 5 ? r != 0 || strcmp(c.data, w.data + 5) != 0
						     : r != -E2BIG || c.len > cap)
					caps_ok = 0;
				buf_release(&c);
			}
			buf_release(&a);
			buf_release(&w);
		}
	}
	tap_ok(ok, "json_str_pair writes [\"a\",\"z\"] as the general calls do, escapes included");
	tap_ok(caps_ok, "json_str_pair fits under every cap exactly when its output does");
}

static void test_bytes(void)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
		{ "GET / HTTP/1.1\r\n", 16, "\"data\":\"GET / HTTP/1.1\\r\\n\"" },
		{ "", 0, "\"data\":\"\"" },
		{ "\x00\x01", 2, "\"data\":\"\\u0000\\u0001\"" },
		{ "\xff\xfe", 2, "\"data_b64\":\"//4=\"" },
		{ "ok\x80", 3, "\"data_b64\":\"b2uA\"" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT;

		json_kv_bytes(&b, "data", cases[i].in, cases[i].n);
		tap_streq(b.data, cases[i].want, "json_kv_bytes picks data or data_b64");
		buf_release(&b);
	}
}

/* Random bytes through json_kv_bytes and back through json-c and b64_decode. */
static void test_bytes_roundtrip(void)
{
	unsigned seed = 12345;
	int ok = 1, round;

	for (round = 0; round < 500; round++) {
		struct buf b = BUF_INIT, dec = BUF_INIT;
		unsigned char raw[64];
		size_t n = (size_t)(round % 64), i;
		struct json_object *o, *v;

		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			/* mostly ASCII, sometimes high bytes */
			raw[i] = (unsigned char)((seed >> 16) % (round % 3 ? 128 : 256));
		}
		json_obj_open(&b);
		json_kv_bytes(&b, "d", raw, n);
		json_obj_close(&b);
		o = json_tokener_parse(b.data);
		if (!o) {
			ok = 0;
		} else if (json_object_object_get_ex(o, "d", &v)) {
			if ((size_t)json_object_get_string_len(v) != n ||
			    memcmp(json_object_get_string(v), raw, n) != 0)
				ok = 0;
		} else if (json_object_object_get_ex(o, "d_b64", &v)) {
			const char *s = json_object_get_string(v);

			if (b64_decode(&dec, s, strlen(s)) < 0 || dec.len != n ||
			    memcmp(dec.data, raw, n) != 0)
				ok = 0;
		} else {
			ok = 0;
		}
		json_object_put(o);
		buf_release(&b);
		buf_release(&dec);
	}
	tap_ok(ok, "500 random byte strings survive json_kv_bytes -> json-c -> decode");
}

static void test_base64(void)
{
	/* RFC 4648 section 10 */
	static const struct {
		const char *in, *out;
	} vec[] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	static const char *const bad[] = { "Zg=",  "Z===",     "Zg=a", "Zm9v!A==",
					   "=Zg=", "Zg==Zg==", "Zm 9" };
	size_t i;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		struct buf e = BUF_INIT, d = BUF_INIT;

		b64_encode(&e, vec[i].in, strlen(vec[i].in));
		tap_streq(e.data ? e.data : "", vec[i].out, "b64_encode RFC 4648 vector");
		tap_ok(b64_decode(&d, vec[i].out, strlen(vec[i].out)) == 0 &&
			       d.len == strlen(vec[i].in) && memcmp(d.data, vec[i].in, d.len) == 0,
		       "b64_decode '%s'", vec[i].out);
		buf_release(&e);
		buf_release(&d);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf d = BUF_INIT;

		buf_puts(&d, "keep");
		tap_ok(b64_decode(&d, bad[i], strlen(bad[i])) == -EINVAL && d.len == 4 &&
			       strcmp(d.data, "keep") == 0,
		       "b64_decode rejects '%s' and leaves out unchanged", bad[i]);
		buf_release(&d);
	}
}

static void test_utf8(void)
{
	static const struct {
		const char *s;
		size_t n;
		int valid;
	} cases[] = {
		{ "", 0, 1 },
		{ "abcdefghijklmnopqrstuvwxyz", 26, 1 },
		{ "\xc3\xa9", 2, 1 },
		{ "\xc3", 1, 0 },
		{ "\xc1\xbf", 2, 0 },
		{ "\xe0\x9f\xbf", 3, 0 },
		{ "\xed\x9f\xbf", 3, 1 },
		{ "\xed\xa0\x80", 3, 0 },
		{ "\xf0\x90\x80\x80", 4, 1 },
		{ "\xf4\x8f\xbf\xbf", 4, 1 },
		{ "\xf4\x90\x80\x80", 4, 0 },
		{ "\xf5\x80\x80\x80", 4, 0 },
		{ "0123456789abcde\x80", 16, 0 },
		{ "0123456789abcdef\xe2\x82\xac", 19, 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		tap_ok(utf8_valid(cases[i].s, cases[i].n) == cases[i].valid, "utf8_valid case %zu",
		       i);
}

static void test_caps(void)
{
	struct buf b;
	int r;

	/* exact fits at a cap never fail */
	buf_init(&b, 6);
	tap_ok(json_str(&b, "a\"b") == 0 && strcmp(b.data, "\"a\\\"b\"") == 0,
	       "escaped string that exactly fills the cap");
	buf_release(&b);
	buf_init(&b, 5);
	r = json_str(&b, "a\"b");
	tap_ok(r == -E2BIG, "escaped string one byte over the cap gives -E2BIG");
	buf_release(&b);
}

int main(void)
{
	test_strings();
	test_strings_random();
	test_strings_short();
	test_numbers();
	test_separators();
	test_str_pair();
	test_bytes();
	test_bytes_roundtrip();
	test_base64();
	test_utf8();
	test_caps();
	return tap_done();
}
