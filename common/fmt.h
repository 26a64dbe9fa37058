/* SPDX-License-Identifier: MIT */
/* fmt.h -- strings and numbers into a fixed buffer, and base-10 numbers back.
 *
 * Hand-written instead of snprintf and strtol: the shim's constructor runs in
 * every traced process, and libc's printf machinery (snprintf, vfprintf,
 * its jump tables) and strtol (with the ctype table it reads) sit on libc
 * pages that many programs never touch. The first touch of such a page is
 * a page fault of 10-15 us here: a traced /bin/true took 6 faults more with
 * them, curl 2 (it touches some of those pages itself).
 *
 * A `struct fmt` has snprintf's contract: appends past the end are counted
 * but not stored, the text stays NUL-terminated (when the buffer has room
 * for anything), and `len` is what snprintf would have returned.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct fmt {
	char *out;
	size_t size; /* of out */
	size_t len; /* the whole text's length, which may pass size - 1 */
};

/* Starts an empty text in out[size]; out[0] is '\0' when size > 0. */
void fmt_init(struct fmt *f, char *out, size_t size);
/* "%s" */
void fmt_str(struct fmt *f, const char *s);
/* "%.*s": at most n bytes of s, fewer when s ends first. */
void fmt_strn(struct fmt *f, const char *s, size_t n);
void fmt_char(struct fmt *f, char c);
/* "%0*lld" (width 0: "%lld"): zero-padded to width characters, the sign
 * included, as printf pads. */
void fmt_int(struct fmt *f, int64_t v, int width);
/* "%llu" */
void fmt_uint(struct fmt *f, uint64_t v);
/* "%llx": lower case, no padding. */
void fmt_hex(struct fmt *f, uint64_t v);

/* @return 1 when the whole text fitted (snprintf's result < size), else 0. */
static inline int fmt_fits(const struct fmt *f)
{
	return f->len < f->size;
}

/* snprintf(out, size, "%s", s). @return strlen(s). */
size_t fmt_copy(char *out, size_t size, const char *s);

/* strtoll(s, NULL, 10) without errno: leading white space, an optional sign,
 * then as many digits as there are; 0 without digits; INT64_MAX or
 * INT64_MIN on overflow. */
int64_t fmt_parse_int(const char *s);
/* strtoull(s, NULL, 10) without errno: as fmt_parse_int, a '-' negating in
 * unsigned arithmetic; UINT64_MAX on overflow, whatever the sign. */
uint64_t fmt_parse_uint(const char *s);
