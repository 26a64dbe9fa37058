/* SPDX-License-Identifier: MIT */
/* json.h -- the JSON writer used on hot paths, base64, UTF-8 validation.
 *
 * Hand-written on purpose: the shim emits events from inside hooked libc
 * calls, on every send/recv/open, and must not go through a general JSON
 * library that builds object trees (json-c allocates per value). These
 * functions only append to a struct buf. Parsing is done with json-c (trace.c).
 *
 * Separators are implicit: json_key() and the value writers insert a comma
 * when the previous byte in the buffer ends a value (anything but '{', '[',
 * ':', ',', '\n' or an empty buffer). So writers never track "first field" state.
 *
 * Every function returns 0 or a negative errno from the buffer (-ENOMEM,
 * -E2BIG); on failure the buffer may hold a partial value, and callers that
 * care roll back by restoring b->len.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

int json_obj_open(struct buf *b); /* writes separator + '{' */
int json_obj_close(struct buf *b); /* '}' */
int json_arr_open(struct buf *b); /* separator + '[' */
int json_arr_close(struct buf *b); /* ']' */
/* Writes separator + "key": for key[0..klen) (trusted ASCII, not escaped). */
int json_keyn(struct buf *b, const char *key, size_t klen);

/* Values (each writes its own separator when used as an array element). */
int json_str(struct buf *b, const char *s); /* NULL writes null */
int json_strn(struct buf *b, const char *s,
	      size_t n); /* escaped; invalid UTF-8 bytes become U+FFFD */
int json_int(struct buf *b, int64_t v);
int json_uint(struct buf *b, uint64_t v);
int json_boolean(struct buf *b, int v);
int json_null(struct buf *b);
/* Fixed-point seconds with 6 decimals from nanoseconds: 1700000000.123456 */
int json_epoch(struct buf *b, int64_t ns);

/* ["a","z"]: a pair of strings (a header), one call for what json_arr_open,
 * two json_strn and json_arr_close write. */
int json_str_pair(struct buf *b, const char *a, size_t an, const char *z, size_t zn);

/* The key writers below are inline so that the compiler takes strlen() of
 * a literal key, which nearly all are; each is json_keyn() + the value. */
static inline int json_key(struct buf *b, const char *key)
{
	return json_keyn(b, key, strlen(key));
}

static inline int json_kv_str(struct buf *b, const char *key, const char *s)
{
	int r = json_key(b, key);

	return r < 0 ? r : json_str(b, s);
}

static inline int json_kv_strn(struct buf *b, const char *key, const char *s, size_t n)
{
	int r = json_key(b, key);

	return r < 0 ? r : json_strn(b, s, n);
}

static inline int json_kv_int(struct buf *b, const char *key, int64_t v)
{
	int r = json_key(b, key);

	return r < 0 ? r : json_int(b, v);
}

static inline int json_kv_bool(struct buf *b, const char *key, int v)
{
	int r = json_key(b, key);

	return r < 0 ? r : json_boolean(b, v);
}

/* Bytes: "key":"..." when p[0..n) is valid UTF-8, else "key_b64":"<base64>"
 * (the attrace/1 rule for bytes). */
int json_kv_bytes(struct buf *b, const char *key, const void *p, size_t n);

/* @return 1 when p[0..n) is valid UTF-8 (no overlongs, no surrogates). */
int utf8_valid(const void *p, size_t n);

/* Standard base64 with padding. b64_encode appends to b. */
int b64_encode(struct buf *b, const void *p, size_t n);
/* Appends the decoded bytes to out. @return 0, -EINVAL on bad input, or a buffer error. */
int b64_decode(struct buf *out, const char *s, size_t n);
