/* SPDX-License-Identifier: MIT */
/* test-fmt.c -- unit tests for common/fmt.c, against snprintf and strtoll themselves. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fmt.h"
#include "tap.h"

/* Every size from 0 to past the text: fmt's bytes and length are snprintf's. */
static int same_at_every_size(const char *want, void (*build)(struct fmt *, const void *),
			      const void *arg)
{
	size_t n = strlen(want);

	for (size_t size = 0; size <= n + 2; size++) {
		char got[128], ref[128];
		struct fmt f;

		memset(got, 'Z', sizeof(got));
		memset(ref, 'Z', sizeof(ref));
		if (size)
			snprintf(ref, size, "%s", want);
		fmt_init(&f, got, size);
		build(&f, arg);
		if (f.len != n || memcmp(got, ref, sizeof(got)) != 0 || fmt_fits(&f) != (n < size))
			return 0;
	}
	return 1;
}

struct num_case {
	int64_t v;
	int width;
};

static void build_int(struct fmt *f, const void *arg)
{
	const struct num_case *c = arg;

	fmt_str(f, "<");
	fmt_int(f, c->v, c->width);
	fmt_char(f, '>');
}

static void test_int(void)
{
	static const struct num_case cases[] = {
		{ 0, 0 },	   { 7, 0 },	     { -7, 0 }, { 1234567890123, 0 },
		{ INT64_MAX, 0 },  { INT64_MIN, 0 }, { 0, 9 },	{ 42, 9 },
		{ -42, 9 },	   { 999999999, 9 }, { -1, 2 }, { 123456789012, 9 },
		{ INT64_MIN, 25 }, { 5, 1 },	     { -5, 1 }, { 12, 3 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[64];

		snprintf(want, sizeof(want), "<%0*" PRId64 ">", cases[i].width, cases[i].v);
		tap_ok(same_at_every_size(want, build_int, &cases[i]),
		       "fmt_int(%" PRId64 ", %d) is %s", cases[i].v, cases[i].width, want);
	}
}

static void build_uint(struct fmt *f, const void *arg)
{
	fmt_uint(f, *(const uint64_t *)arg);
	fmt_char(f, '/');
	fmt_hex(f, *(const uint64_t *)arg);
}

static void test_uint(void)
{
	static const uint64_t cases[] = {
		0, 9, 10, 15, 16, 255, 0xdeadbeef, 1000000000000000000, UINT64_MAX,
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[64];

		snprintf(want, sizeof(want), "%" PRIu64 "/%" PRIx64, cases[i], cases[i]);
		tap_ok(same_at_every_size(want, build_uint, &cases[i]), "fmt_uint and fmt_hex: %s",
		       want);
	}
}

static void build_strs(struct fmt *f, const void *arg)
{
	(void)arg;
	fmt_str(f, "/home/u");
	fmt_char(f, '/');
	fmt_strn(f, "2406", 2);
	fmt_strn(f, "x", 5); /* the string ends first */
	fmt_strn(f, "", 3);
	fmt_str(f, "");
	fmt_strn(f, "abc", 0);
	fmt_str(f, ".jsonl.zst");
}

static void test_strings(void)
{
	char want[64], buf[8];

	snprintf(want, sizeof(want), "%s/%.*s%.*s%.*s%s%.*s%s", "/home/u", 2, "2406", 5, "x", 3, "",
		 "", 0, "abc", ".jsonl.zst");
	tap_ok(same_at_every_size(want, build_strs, NULL), "fmt_str, fmt_strn, fmt_char: %s", want);
	tap_ok(fmt_copy(buf, sizeof(buf), "0.1.2") == 5 && strcmp(buf, "0.1.2") == 0,
	       "fmt_copy copies what fits");
	tap_ok(fmt_copy(buf, sizeof(buf), "0.1.2.3.4.5") == 11 && strcmp(buf, "0.1.2.3") == 0,
	       "fmt_copy truncates as snprintf and returns the whole length");
	tap_ok(fmt_copy(buf, 0, "abc") == 3, "fmt_copy into no room writes nothing");
}

static void test_parse(void)
{
	static const char *const cases[] = {
		"0",
		"42",
		"  \t\n\v\f\r17",
		"+5",
		"-5",
		"-0",
		"12abc",
		"abc",
		"",
		"-",
		"+",
		" - 3",
		"--3",
		"+-3",
		"007",
		"9223372036854775807",
		"9223372036854775808",
		"-9223372036854775808",
		"-9223372036854775809",
		"18446744073709551615",
		"18446744073709551616",
		"-18446744073709551615",
		"-18446744073709551616",
		"99999999999999999999999999",
		"-99999999999999999999999999",
		"2147483648",
		"4294967297",
		"1e3",
		"0x10",
		"\xc2\xa0"
		"5",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *s = cases[i];
		long long sl = strtoll(s, NULL, 10);
		unsigned long long ul = strtoull(s, NULL, 10);
		long l = strtol(s, NULL, 10);

		tap_ok(fmt_parse_int(s) == sl && fmt_parse_int(s) == l && fmt_parse_uint(s) == ul &&
			       (int)fmt_parse_int(s) == (int)l,
		       "fmt_parse_int and fmt_parse_uint agree with strtol, strtoll, strtoull on "
		       "case %zu",
		       i);
	}
}

int main(void)
{
	test_int();
	test_uint();
	test_strings();
	test_parse();
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}
