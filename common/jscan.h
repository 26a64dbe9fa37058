/* SPDX-License-Identifier: MIT */
/* jscan.h -- a hand-written check of JSON text, for the readers of event lines that must be fast.
 *
 * json-c builds a tree (an allocation per key and per value) for every line;
 * a reader that wants a few members of the commonest lines can check the
 * line with these instead and read the members where they lie. They accept
 * a subset of what the trace reader's json-c tokener accepts (strict, UTF-8
 * validated): plain RFC 8259 JSON, no control characters in strings, \u
 * escapes other than surrogates and \u0000, integers within int64, nesting
 * up to JSCAN_DEPTH. A caller gives up on anything they refuse and lets
 * json-c decide, so that every error message stays json-c's.
 *
 * Each takes [p, end) and returns where its token ends, or NULL when it
 * refuses. Bytes over 0x7f set *nonascii: the caller then checks the whole
 * text with utf8_valid() (common/json.h).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct buf;

#define JSCAN_DEPTH 32 /* under the trace reader's json-c depth (64) */

/* Past blanks (space, tab, CR, LF). */
const char *jscan_ws(const char *p, const char *end);
/* A string's body: p is past the opening quote; @return the closing quote.
 * *esc is set when the body holds an escape. */
const char *jscan_str(const char *p, const char *end, int *esc, int *nonascii);
/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; *is_int when neither a
 * fraction nor an exponent (and then within int64). */
const char *jscan_num(const char *p, const char *end, int *is_int);
/* An object member's key and colon: p is at the key's opening quote;
 * @return where its value starts (past blanks; may be end), with the key's
 * body in *key, *klen. Refuses an empty key or one with escapes. */
const char *jscan_key(const char *p, const char *end, const char **key, size_t *klen,
		      int *nonascii);
/* Any value (depth: the nesting it sits at). */
const char *jscan_value(const char *p, const char *end, int depth, int *nonascii);
/* The value of an integer jscan_num() took. */
int64_t jscan_int(const char *p, const char *end);
/* Appends the decoded body [p, end) of a string jscan_str() took.
 * @return 0 or a buffer error. */
int jscan_unescape(const char *p, const char *end, struct buf *out);
