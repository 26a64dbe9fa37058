/* SPDX-License-Identifier: MIT */
/* json.c -- hand-written JSON writer for hot paths, base64, UTF-8 validation.
 *
 * Hand-written because the shim emits events from inside hooked libc calls:
 * it must not allocate through a library that may call hooked functions, and
 * it must be fast. Everything here appends to a struct buf through buf_*()
 * only (no stdio, no printf), escapes through a lookup table and writes
 * integers digit by digit.
 */
#include "common/json.h"

#include <errno.h>
#include <stdint.h>

#include "common/hot.h"
#include "common/sectext.h"

/* Byte classes for string escaping. */
enum {
	C_PLAIN = 0, /* copied as is */
	C_SHORT, /* backslash + one character (ESC_CHAR) */
	C_UNICODE, /* \u00XX */
	C_UTF8, /* 0x80..0xff: a UTF-8 sequence to validate */
};

#define CTL_U C_UNICODE
static const unsigned char esc_class[256] = {
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U, /* 0x00 */
	C_SHORT,
	C_SHORT,
	C_SHORT,
	CTL_U,
	C_SHORT,
	C_SHORT,
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U, /* 0x10 */
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U,
	CTL_U,
	[0x22] = C_SHORT,
	[0x5c] = C_SHORT,
	[0x80 ... 0xff] = C_UTF8,
};
#undef CTL_U

static const char esc_char[128] = {
	['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n',  ['\f'] = 'f',
	['\r'] = 'r', ['"'] = '"',  ['\\'] = '\\',
};

static const char hex_digits[16] = "0123456789abcdef";

/* @return the length of the valid UTF-8 sequence starting at s[0] (a byte
 * >= 0x80), or 0 when it is invalid (bad lead, bad continuation, overlong,
 * surrogate, above U+10FFFF, or cut short by the end). */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* > U+10FFFF */
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

int utf8_valid(const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i = 0, k;

	while (i < n) {
		/* ASCII fast path, 8 bytes at a time. */
		while (i + 8 <= n) {
			uint64_t w;

			memcpy(&w, s + i, 8);
			if (w & UINT64_C(0x8080808080808080))
				break;
			i += 8;
		}
		if (i >= n)
			break;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		k = utf8_seq(s + i, n - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

/* buf_reserve() with the common case (room already there) inline: most
 * values here are a few bytes long, and the call would cost more than the
 * copy. Agrees with buf_reserve() on the cap: never more than max. */
static inline int reserve(struct buf *b, size_t extra)
{
	if (extra < b->cap - b->len && (!b->max || extra <= b->max - b->len))
		return 0;
	return buf_reserve(b, extra);
}

/* buf_append() with reserve(). */
static inline int append(struct buf *b, const void *p, size_t n)
{
	int r = reserve(b, n);

	if (r < 0)
		return r;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* A comma is due when the last byte ends a value. */
static inline int need_sep(const struct buf *b)
{
	char c = buf_last(b);

	return b->len && c != '{' && c != '[' && c != ':' && c != '\n' && c != ',';
}

static inline int put_sep(struct buf *b)
{
	return need_sep(b) ? buf_putc(b, ',') : 0;
}

AT_HOT int json_obj_open(struct buf *b)
{
	int r = put_sep(b);

	return r < 0 ? r : buf_putc(b, '{');
}

AT_HOT int json_obj_close(struct buf *b)
{
	return buf_putc(b, '}');
}

AT_HOT int json_arr_open(struct buf *b)
{
	int r = put_sep(b);

	return r < 0 ? r : buf_putc(b, '[');
}

AT_HOT int json_arr_close(struct buf *b)
{
	return buf_putc(b, ']');
}

/* Copies n bytes when n is usually small: for keys and other short text a
 * call to memcpy() costs more than the copy. The two loads of each size
 * overlap and stay inside s[0..n). */
static inline void copy_short(char *o, const char *s, size_t n)
{
	uint64_t a, z;
	uint32_t c, d;

	if (n > 16) {
		memcpy(o, s, n);
	} else if (n >= 8) {
		memcpy(&a, s, 8);
		memcpy(&z, s + n - 8, 8);
		memcpy(o, &a, 8);
		memcpy(o + n - 8, &z, 8);
	} else if (n >= 4) {
		memcpy(&c, s, 4);
		memcpy(&d, s + n - 4, 4);
		memcpy(o, &c, 4);
		memcpy(o + n - 4, &d, 4);
	} else {
		while (n--)
			*o++ = *s++;
	}
}

AT_HOT static int put_key(struct buf *b, const char *key, size_t klen, const char *suffix,
			  size_t slen)
{
	int sep = need_sep(b);
	char *o;
	int r;

	r = reserve(b, klen + slen + 4);
	if (r < 0)
		return r;
	o = b->data + b->len;
	if (sep)
		*o++ = ',';
	*o++ = '"';
	copy_short(o, key, klen);
	o += klen;
	copy_short(o, suffix, slen);
	o += slen;
	*o++ = '"';
	*o++ = ':';
	*o = '\0';
	b->len = (size_t)(o - b->data);
	return 0;
}

AT_HOT int json_keyn(struct buf *b, const char *key, size_t klen)
{
	return put_key(b, key, klen, "", 0);
}

#define ONES UINT64_C(0x0101010101010101)

/* High bit set in each byte of w that is zero (and, harmlessly, in some
 * bytes above a zero byte: callers only test for any). */
static inline uint64_t has_zero(uint64_t w)
{
	return (w - ONES) & ~w & (ONES * 0x80);
}

/* The bytes of w that need escaping (a control byte, '"', '\\' or a byte
 * >= 0x80), each as its high bit. Only the lowest one is exact (a borrow
 * may flag a byte above a flagged one), which is the one callers use. */
static inline uint64_t word_special(uint64_t w)
{
	return (((w - ONES * 0x20) & ~w) | has_zero(w ^ (ONES * '"')) |
		has_zero(w ^ (ONES * '\\')) | w) &
	       (ONES * 0x80);
}

/* Writes "..." for s[0..n) into b (no separator). The output cursor works on
 * b->data directly under one invariant: the room left is at least the input
 * left plus the closing quote. Plain bytes keep it; an escape first reserves
 * its extra length, so the buffer's cap is never passed for output that fits.
 * Bytes go 8 at a time: a word is copied whole, and the cursor moves past
 * its plain bytes only, up to the first one to escape (HTTP text has a
 * "\r\n" every few dozen bytes; a byte loop between them cost twice as
 * much). */
AT_HOT static int put_string(struct buf *b, const unsigned char *s, size_t n)
{
	char *o, *end;
	size_t i = 0, k;
	int r;

	r = reserve(b, n + 2);
	if (r < 0)
		return r;
	o = b->data + b->len;
	end = b->data + b->cap - 1;
	*o++ = '"';

#define ENSURE(extra)                                            \
	do {                                                     \
		if ((size_t)(end - o) < n - i + 1 + (extra)) {   \
			b->len = (size_t)(o - b->data);          \
			r = buf_reserve(b, n - i + 1 + (extra)); \
			if (r < 0)                               \
				goto fail;                       \
			o = b->data + b->len;                    \
			end = b->data + b->cap - 1;              \
		}                                                \
	} while (0)

	while (i < n) {
		uint64_t w, sp;
		unsigned char c;

		if (n - i >= 8) {
			/* room for 8: the invariant gives n - i + 1 */
			memcpy(&w, s + i, 8);
			memcpy(o, &w, 8);
			sp = word_special(w);
			if (!sp) {
				o += 8;
				i += 8;
				continue;
			}
			k = (size_t)__builtin_ctzll(sp) >> 3;
			o += k;
			i += k;
		} else {
			/* Fewer than 8 left: when the last 8 input bytes are
			 * all plain, the ones before i went out unchanged, so
			 * one 8-byte copy that ends at the string's end
			 * rewrites them and adds the rest. */
			if (n >= 8) {
				memcpy(&w, s + n - 8, 8);
				if (!word_special(w)) {
					memcpy(o + (n - i) - 8, s + n - 8, 8);
					o += n - i;
					break;
				}
			}
			while (i < n && esc_class[s[i]] == C_PLAIN)
				*o++ = (char)s[i++];
			if (i >= n)
				break;
		}
		c = s[i];
		switch (esc_class[c]) {
		case C_SHORT:
			ENSURE(1);
			*o++ = '\\';
			*o++ = esc_char[c];
			i++;
			break;
		case C_UNICODE:
			ENSURE(5);
			memcpy(o, "\\u00", 4);
			o[4] = hex_digits[c >> 4];
			o[5] = hex_digits[c & 15];
			o += 6;
			i++;
			break;
		default:
			k = utf8_seq(s + i, n - i);
			if (k) {
				memcpy(o, s + i, k);
				o += k;
				i += k;
			} else {
				/* U+FFFD for each byte that starts no valid sequence */
				ENSURE(2);
				memcpy(o, "\xef\xbf\xbd", 3);
				o += 3;
				i++;
			}
			break;
		}
	}
#undef ENSURE
	*o++ = '"';
	*o = '\0';
	b->len = (size_t)(o - b->data);
	return 0;
fail:
	b->data[b->len] = '\0';
	return r;
}

AT_HOT int json_strn(struct buf *b, const char *s, size_t n)
{
	int r = put_sep(b);

	if (r < 0)
		return r;
	if (!s)
		return append(b, "null", 4);
	return put_string(b, (const unsigned char *)s, n);
}

AT_HOT int json_str(struct buf *b, const char *s)
{
	return json_strn(b, s, s ? strlen(s) : 0);
}

int json_str_pair(struct buf *b, const char *a, size_t an, const char *z, size_t zn)
{
	int r = reserve(b, an + zn + 7);
	char *o;

	if (r < 0)
		return r;
	o = b->data + b->len;
	if (need_sep(b))
		*o++ = ',';
	*o++ = '[';
	b->len = (size_t)(o - b->data);
	r = put_string(b, (const unsigned char *)a, an);
	if (r == 0)
		r = buf_putc(b, ',');
	if (r == 0)
		r = put_string(b, (const unsigned char *)z, zn);
	return r < 0 ? r : buf_putc(b, ']');
}

static int put_u64(struct buf *b, uint64_t v, int neg)
{
	char tmp[24];
	char *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		*--p = '-';
	return append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

AT_HOT int json_int(struct buf *b, int64_t v)
{
	int r = put_sep(b);

	if (r < 0)
		return r;
	if (v < 0)
		return put_u64(b, (uint64_t)0 - (uint64_t)v, 1);
	return put_u64(b, (uint64_t)v, 0);
}

int json_uint(struct buf *b, uint64_t v)
{
	int r = put_sep(b);

	return r < 0 ? r : put_u64(b, v, 0);
}

int json_boolean(struct buf *b, int v)
{
	int r = put_sep(b);

	if (r < 0)
		return r;
	return v ? append(b, "true", 4) : append(b, "false", 5);
}

int json_null(struct buf *b)
{
	int r = put_sep(b);

	return r < 0 ? r : append(b, "null", 4);
}

/* initial-exec: see trace.c's ts_last. */
static __thread struct sec_text epoch_last __attribute__((tls_model("initial-exec"))) =
	SEC_TEXT_INIT;

AT_HOT int json_epoch(struct buf *b, int64_t ns)
{
	/* Floor to the microsecond, so that the value agrees with trace_fmt_ts(). */
	int64_t us = ns / 1000 - (ns % 1000 < 0);
	uint64_t a = us < 0 ? (uint64_t)0 - (uint64_t)us : (uint64_t)us;
	uint64_t frac = a % 1000000, secs = a / 1000000;
	/* the seconds (cached: many values share one) and 7 for ".uuuuuu" */
	char t[SEC_TEXT_MAX + 7];
	/* the cache's key: one per text ("-0" is not "0") */
	int64_t key = us < 0 ? -(int64_t)secs - 1 : (int64_t)secs;
	unsigned n = sec_text_get(&epoch_last, key, t);
	int r, i;

	if (!n) {
		char d[SEC_TEXT_MAX], *p = d + sizeof(d);

		do {
			*--p = (char)('0' + secs % 10);
			secs /= 10;
		} while (secs);
		if (us < 0)
			*--p = '-';
		n = (unsigned)(d + sizeof(d) - p);
		memcpy(t, p, n);
		sec_text_put(&epoch_last, key, t, n);
	}
	t[n] = '.';
	for (i = 6; i >= 1; i--) {
		t[n + (unsigned)i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	r = put_sep(b);
	return r < 0 ? r : append(b, t, n + 7);
}

int json_kv_bytes(struct buf *b, const char *key, const void *p, size_t n)
{
	int r;

	if (utf8_valid(p, n)) {
		r = put_key(b, key, strlen(key), "", 0);
		return r < 0 ? r : put_string(b, p, n);
	}
	r = put_key(b, key, strlen(key), "_b64", 4);
	if (r < 0)
		return r;
	r = buf_putc(b, '"');
	if (r < 0)
		return r;
	r = b64_encode(b, p, n);
	return r < 0 ? r : buf_putc(b, '"');
}

static const char b64_chars[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

AT_HOT int b64_encode(struct buf *b, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t out = (n + 2) / 3 * 4, i;
	char *o;
	int r;

	if (n > (SIZE_MAX - 4) / 4 * 3)
		return -E2BIG;
	r = buf_reserve(b, out);
	if (r < 0)
		return r;
	o = b->data + b->len;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];

		o[0] = b64_chars[v >> 18];
		o[1] = b64_chars[(v >> 12) & 63];
		o[2] = b64_chars[(v >> 6) & 63];
		o[3] = b64_chars[v & 63];
		o += 4;
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;

		o[0] = b64_chars[v >> 18];
		o[1] = b64_chars[(v >> 12) & 63];
		o[2] = '=';
		o[3] = '=';
		o += 4;
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;

		o[0] = b64_chars[v >> 18];
		o[1] = b64_chars[(v >> 12) & 63];
		o[2] = b64_chars[(v >> 6) & 63];
		o[3] = '=';
		o += 4;
	}
	*o = '\0';
	b->len = (size_t)(o - b->data);
	return 0;
}

/* 1 + the value (0..63) of each base64 character, 65 for '=', 0 for anything else. */
static const unsigned char b64_val[256] = {
	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,
	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  63,
	0,  0,	0,  64, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 0,  0,	0,  65, 0,  0,	0,  1,
	2,  3,	4,  5,	6,  7,	8,  9,	10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
	24, 25, 26, 0,	0,  0,	0,  0,	0,  27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39,
	40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 0,	0,  0,	0,  0,	0,  0,	0,  0,
	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,
	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,
	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,
	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,
	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,
	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,	0,  0,
};

int b64_decode(struct buf *out, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, start = out->len;
	char *o;
	int r;

	if (n % 4)
		return -EINVAL;
	r = buf_reserve(out, n / 4 * 3);
	if (r < 0)
		return r;
	o = out->data + out->len;
	for (i = 0; i < n; i += 4) {
		/* invalid characters wrap around to large values */
		unsigned a = b64_val[u[i]] - 1u, b = b64_val[u[i + 1]] - 1u,
			 c = b64_val[u[i + 2]] - 1u, d = b64_val[u[i + 3]] - 1u;

		if (a > 63 || b > 63)
			goto bad;
		if (c > 63 || d > 63) {
			/* padding: only in the last quantum, "x=" only after "=" */
			if (i + 4 != n || c > 64 || d != 64)
				goto bad;
			*o++ = (char)(a << 2 | b >> 4);
			if (c != 64)
				*o++ = (char)((b & 15) << 4 | c >> 2);
			break;
		}
		o[0] = (char)(a << 2 | b >> 4);
		o[1] = (char)((b & 15) << 4 | c >> 2);
		o[2] = (char)((c & 3) << 6 | d);
		o += 3;
	}
	*o = '\0';
	out->len = (size_t)(o - out->data);
	return 0;
bad:
	out->len = start;
	out->data[start] = '\0';
	return -EINVAL;
}
