/* SPDX-License-Identifier: MIT */
/* fmt.c -- snprintf's and strtoll's few cases that the shim's start needs, without libc's. */
#include "common/fmt.h"

#include <string.h>

#include "common/hot.h"

AT_HOT void fmt_init(struct fmt *f, char *out, size_t size)
{
	f->out = out;
	f->size = size;
	f->len = 0;
	if (size)
		out[0] = '\0';
}

AT_HOT static void put(struct fmt *f, const char *s, size_t n)
{
	size_t room = f->len < f->size ? f->size - 1 - f->len : 0;
	size_t k = n < room ? n : room;

	if (k)
		memcpy(f->out + f->len, s, k);
	if (f->len < f->size)
		f->out[f->len + k] = '\0';
	f->len += n;
}

AT_HOT void fmt_strn(struct fmt *f, const char *s, size_t n)
{
	size_t k = 0;

	while (k < n && s[k])
		k++;
	put(f, s, k);
}

AT_HOT void fmt_str(struct fmt *f, const char *s)
{
	fmt_strn(f, s, SIZE_MAX);
}

AT_HOT void fmt_char(struct fmt *f, char c)
{
	put(f, &c, 1);
}

/* Digits of v in base `base` at the end of tmp[24]. @return the first digit. */
AT_HOT static char *digits(char tmp[24], uint64_t v, unsigned base)
{
	static const char xdigit[] = "0123456789abcdef";
	char *p = tmp + 24;

	do {
		*--p = xdigit[v % base];
		v /= base;
	} while (v);
	return p;
}

AT_HOT void fmt_int(struct fmt *f, int64_t v, int width)
{
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	char tmp[24];
	char *p = digits(tmp, mag, 10);
	int n = (int)(tmp + sizeof(tmp) - p) + (v < 0);

	if (v < 0)
		fmt_char(f, '-');
	for (; n < width; n++)
		fmt_char(f, '0');
	put(f, p, (size_t)(tmp + sizeof(tmp) - p));
}

AT_HOT void fmt_uint(struct fmt *f, uint64_t v)
{
	char tmp[24];
	char *p = digits(tmp, v, 10);

	put(f, p, (size_t)(tmp + sizeof(tmp) - p));
}

AT_HOT void fmt_hex(struct fmt *f, uint64_t v)
{
	char tmp[24];
	char *p = digits(tmp, v, 16);

	put(f, p, (size_t)(tmp + sizeof(tmp) - p));
}

AT_HOT size_t fmt_copy(char *out, size_t size, const char *s)
{
	struct fmt f;

	fmt_init(&f, out, size);
	fmt_str(&f, s);
	return f.len;
}

/* The part strtoll and strtoull share: white space as isspace() has it in
 * the C locale (the constructor runs before any setlocale), a sign, digits.
 * @return 1 when the magnitude overflowed 64 bits (*ret_mag is then
 * UINT64_MAX), else 0. */
AT_HOT static int parse_dec(const char *s, uint64_t *ret_mag, int *ret_neg)
{
	uint64_t v = 0;
	int over = 0;

	while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		s++;
	*ret_neg = *s == '-';
	if (*s == '-' || *s == '+')
		s++;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			over = 1;
		else
			v = v * 10 + d;
	}
	*ret_mag = over ? UINT64_MAX : v;
	return over;
}

AT_HOT int64_t fmt_parse_int(const char *s)
{
	uint64_t mag;
	int neg;

	if (parse_dec(s, &mag, &neg))
		return neg ? INT64_MIN : INT64_MAX;
	if (neg)
		return mag > (uint64_t)INT64_MAX + 1 ? INT64_MIN : (int64_t)((uint64_t)0 - mag);
	return mag > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)mag;
}

AT_HOT uint64_t fmt_parse_uint(const char *s)
{
	uint64_t mag;
	int neg;

	if (parse_dec(s, &mag, &neg))
		return UINT64_MAX;
	return neg ? (uint64_t)0 - mag : mag;
}
