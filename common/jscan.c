/* SPDX-License-Identifier: MIT */
/* jscan.c -- a hand-written check of JSON text (jscan.h).
 *
 * The rules are collector/ingest.c's fast path, whose tests compare them
 * with json-c's tokener line by line.
 */
#include "common/jscan.h"

#include <string.h>

#include "common/buf.h"

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

const char *jscan_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* 8 bytes with nothing jscan_str() must look at: no quote, no backslash, no
 * control character, no byte over 0x7f. */
static inline int plain8(const char *p)
{
	uint64_t w, q, b;

	memcpy(&w, p, 8);
	q = w ^ (ONES * '"');
	b = w ^ (ONES * '\\');
	return !((((q - ONES) & ~q) | ((b - ONES) & ~b) | ((w - ONES * 0x20) & ~w) | w) & HIGHS);
}

const char *jscan_str(const char *p, const char *end, int *esc, int *nonascii)
{
	while (p < end) {
		unsigned char c;
		unsigned v = 0;
		int i, h;

		while (end - p >= 8 && plain8(p))
			p += 8;
		for (;; p++) {
			if (p >= end)
				return NULL;
			c = (unsigned char)*p;
			if (c == '"')
				return p;
			if (c == '\\')
				break;
			if (c < 0x20)
				return NULL;
			if (c >= 0x80)
				*nonascii = 1;
		}
		*esc = 1;
		if (end - p < 2)
			return NULL;
		switch (p[1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			p += 2;
			continue;
		case 'u':
			if (end - p < 6)
				return NULL;
			for (i = 2; i < 6; i++) {
				h = hex_val(p[i]);
				if (h < 0)
					return NULL;
				v = v * 16 + (unsigned)h;
			}
			/* json-c's own ways with these are left to json-c */
			if (v == 0 || (v >= 0xd800 && v <= 0xdfff))
				return NULL;
			p += 6;
			continue;
		default:
			return NULL;
		}
	}
	return NULL;
}

const char *jscan_key(const char *p, const char *end, const char **key, size_t *klen, int *nonascii)
{
	const char *k;
	int esc = 0;

	if (p >= end || *p != '"')
		return NULL;
	k = p + 1;
	p = jscan_str(k, end, &esc, nonascii);
	if (!p || esc || p == k)
		return NULL;
	*key = k;
	*klen = (size_t)(p - k);
	p = jscan_ws(p + 1, end);
	if (p >= end || *p != ':')
		return NULL;
	return jscan_ws(p + 1, end);
}

const char *jscan_num(const char *p, const char *end, int *is_int)
{
	const char *q = p;

	*is_int = 1;
	if (q < end && *q == '-')
		q++;
	if (q >= end || !is_digit(*q))
		return NULL;
	if (*q++ != '0')
		while (q < end && is_digit(*q))
			q++;
	if (q < end && *q == '.') {
		*is_int = 0;
		if (++q >= end || !is_digit(*q))
			return NULL;
		while (q < end && is_digit(*q))
			q++;
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		*is_int = 0;
		if (++q < end && (*q == '+' || *q == '-'))
			q++;
		if (q >= end || !is_digit(*q))
			return NULL;
		while (q < end && is_digit(*q))
			q++;
	}
	if (q - p > 40)
		return NULL;
	if (*is_int) {
		/* int64 only: json-c reads bigger ones as uint64 or fails */
		size_t nd = (size_t)(q - p) - (*p == '-');

		if (nd > 19 || (nd == 19 && memcmp(q - 19, "9223372036854775807", 19) > 0))
			return NULL;
	}
	return q;
}

/* A comma-separated run of members (object) or values (array) up to close. */
static const char *scan_container(const char *p, const char *end, int depth, int *nonascii,
				  char close)
{
	int esc = 0;

	if (depth > JSCAN_DEPTH)
		return NULL;
	p = jscan_ws(p + 1, end);
	if (p < end && *p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			if (p >= end || *p != '"')
				return NULL;
			p = jscan_str(p + 1, end, &esc, nonascii);
			if (!p)
				return NULL;
			p = jscan_ws(p + 1, end);
			if (p >= end || *p != ':')
				return NULL;
			p = jscan_ws(p + 1, end);
		}
		p = jscan_value(p, end, depth, nonascii);
		if (!p)
			return NULL;
		p = jscan_ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == close)
			return p + 1;
		if (*p != ',')
			return NULL;
		p = jscan_ws(p + 1, end);
	}
}

const char *jscan_value(const char *p, const char *end, int depth, int *nonascii)
{
	int esc = 0, is_int;

	if (p >= end)
		return NULL;
	switch (*p) {
	case '"':
		p = jscan_str(p + 1, end, &esc, nonascii);
		return p ? p + 1 : NULL;
	case '{':
		return scan_container(p, end, depth + 1, nonascii, '}');
	case '[':
		return scan_container(p, end, depth + 1, nonascii, ']');
	case 't':
		return end - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return end - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return end - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		return jscan_num(p, end, &is_int);
	}
}

int64_t jscan_int(const char *p, const char *end)
{
	uint64_t v = 0;
	int neg = *p == '-';

	for (p += neg; p < end; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	return neg ? (int64_t)(0 - v) : (int64_t)v;
}

/* Appends the UTF-8 of code point v (not a surrogate, not 0). */
static int put_utf8(struct buf *b, unsigned v)
{
	char u[3];
	size_t n;

	if (v < 0x80) {
		u[0] = (char)v;
		n = 1;
	} else if (v < 0x800) {
		u[0] = (char)(0xc0 | (v >> 6));
		u[1] = (char)(0x80 | (v & 0x3f));
		n = 2;
	} else {
		u[0] = (char)(0xe0 | (v >> 12));
		u[1] = (char)(0x80 | ((v >> 6) & 0x3f));
		u[2] = (char)(0x80 | (v & 0x3f));
		n = 3;
	}
	return buf_append(b, u, n);
}

int jscan_unescape(const char *p, const char *end, struct buf *out)
{
	const char *run = p;
	int r = 0;

	for (; r == 0 && p < end; p++) {
		char c;

		if (*p != '\\')
			continue;
		r = buf_append(out, run, (size_t)(p - run));
		if (r < 0)
			break;
		switch (p[1]) {
		case 'b':
			c = '\b';
			break;
		case 'f':
			c = '\f';
			break;
		case 'n':
			c = '\n';
			break;
		case 'r':
			c = '\r';
			break;
		case 't':
			c = '\t';
			break;
		case 'u':
			r = put_utf8(out, (unsigned)(hex_val(p[2]) << 12 | hex_val(p[3]) << 8 |
						     hex_val(p[4]) << 4 | hex_val(p[5])));
			p += 5;
			run = p + 1;
			continue;
		default: /* " \ / */
			c = p[1];
			break;
		}
		r = buf_putc(out, c);
		p++;
		run = p + 1;
	}
	if (r == 0 && end > run)
		r = buf_append(out, run, (size_t)(end - run));
	return r;
}
