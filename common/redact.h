/* SPDX-License-Identifier: MIT */
/* redact.h -- keeps secrets out of traces: a streaming redactor for the bytes of one connection.
 *
 * The shim feeds every chunk a program sends or receives on one socket (plain
 * HTTP or TLS plaintext), in order, to one `struct redactor` per connection
 * and direction, and records only what comes out. Replay feeds the bytes the
 * program sends through the same function, so matching compares redacted
 * forms. Redaction is a pure function of the byte stream and the key: how
 * the stream is cut into chunks never changes the output (feeding a stream
 * in any pieces, then redactor_flush(), gives exactly redact_bytes() of the
 * whole). A secret split across two chunks is still found.
 *
 * WHAT IS REDACTED (libattrace(7) SECRETS is the user-facing copy of this)
 *
 * The redactor recognises HTTP/1.x when a stream (or the next message on a
 * keep-alive stream) starts with a request line (GET, HEAD, POST, PUT,
 * DELETE, CONNECT, OPTIONS, TRACE or PATCH and a space) or a status line
 * ("HTTP/1.x NNN"). It then follows the messages: start line, header lines
 * up to the empty line, and the body framed by Transfer-Encoding: chunked
 * (with trailers), Content-Length, or the end of the stream (a response
 * without either); 1xx, 204 and 304 responses and requests without either
 * have no body; after 101 the stream is opaque. A response body (with
 * Content-Length) whose first 12 bytes are a status line is taken for the
 * next response: the response was to HEAD, which has no body. Anything else, or an HTTP
 * stream that stops parsing (a line that is not a header, a bad chunk size),
 * is scanned as opaque bytes from there on.
 *
 * HTTP/2 (h2redact.h): a stream that starts with the client preface, a
 * server's stream after a 101 answer to "Upgrade: h2c", and a stream the
 * caller marks with redactor_set_h2 (ALPN "h2") are read as frames; header
 * blocks are decoded, redacted by rules 1-3 below as HTTP/1 header lines
 * would be, and re-encoded, so their length changes; DATA payloads are
 * bodies. Chunking still never changes the output.
 *
 *  1. Header values, replaced whole by a marker: Authorization and
 *     Proxy-Authorization (the scheme is kept: "Bearer [redacted:...]"),
 *     X-Api-Key, Api-Key, Anthropic-Api-Key, X-Anthropic-Api-Key,
 *     OpenAI-Api-Key, X-OpenAI-Api-Key, X-Goog-Api-Key, X-Amz-Security-Token,
 *     X-Auth-Token, Private-Token, and every name of ATTRACE_REDACT; names
 *     are case-insensitive, and trailers count as headers.
 *  2. Cookie: each cookie's value (the name and '=' are kept; a cookie with
 *     no '=' is all value). Set-Cookie: the value of its first name=value
 *     pair; the attributes (Path, Expires, ...) are kept.
 *  3. Key shapes, anywhere else: start line (URL), other header values,
 *     bodies, and opaque streams. Each needs a left boundary (the byte before
 *     is not a letter or digit) and runs as far as its character set goes:
 *       sk-[A-Za-z0-9_-]{20,}            OpenAI and Anthropic (sk-ant-...)
 *       AKIA[0-9A-Z]{16,}                AWS access key ids
 *       gh[pousr]_[A-Za-z0-9]{36,}       GitHub tokens
 *       github_pat_[A-Za-z0-9_]{22,}     GitHub fine-grained tokens
 *       AIza[0-9A-Za-z_-]{35,}           Google API keys
 *       Bearer <token68, 16+ chars>      the token only ("Bearer" is kept;
 *                                        case-insensitive, one space)
 *     and the value of a query parameter api_key, apikey, key, token,
 *     access_token or password (names case-insensitive) right after '?' or
 *     '&' (or at the start of a body, for form posts): the bytes up to the
 *     first of & # ; space " ' < > [ ] \ or a control byte.
 *
 * THE MARKER
 *
 * "[redacted:" + the first 16 hex digits of keyed BLAKE2b-64 (libsodium
 * crypto_generichash, 8-byte output, with the 32-byte key) of the secret's
 * bytes + "]", 27 bytes. Equal secrets give equal markers and the secret is
 * never stored. The hash covers the value only (not the header name, the
 * Authorization scheme or the cookie name), so a key sent as
 * "Authorization: Bearer K" and in a body as "Bearer K" has one marker.
 *
 * Lengths. In the start line and header lines the marker is always the
 * 27-byte form: HTTP delimits those by CRLF, so their length is free. In
 * bodies (Content-Length, chunk data, until close) and opaque streams the
 * marker takes exactly the length of the secret it replaces, so every length
 * the bytes carry -- Content-Length, chunk sizes, HTTP/2 frame lengths, a
 * binary protocol's length prefixes -- stays true, and a replayed program
 * that is served the recorded bytes reads a well-formed message: 27+ bytes
 * become "[redacted:" + 16 hex + "_" padding + "]", 12 to 26 bytes
 * "[redacted:" + fewer hex digits + "]", under 12 bytes that many hex digits.
 *
 * Received bytes follow the same rules as sent bytes. Replay serves what was
 * recorded, so a replayed program sees the marker where it saw the secret
 * live (a session cookie, an OAuth token in a JSON body); for replay to
 * still match, a header secret or cookie value that already is a marker (up
 * to 128 bytes) is kept as it is: the program that got "sid=[redacted:X]"
 * sends "Cookie: sid=[redacted:X]", which stays so and matches the record.
 *
 * Known gaps: the last response on a connection to a HEAD request with
 * Content-Length makes what follows its body (nothing usually follows);
 * obsolete folded header lines are scanned as ordinary values; a shape split by chunked framing is found only if a part
 * within one chunk matches on its own; a short secret (under 27 bytes)
 * received in a body and sent back in a header does not match in replay.
 *
 * Memory: a redactor holds back at most REDACT_HOLD_MAX bytes between calls
 * (a header name or cookie name up to ':' or '=', an Authorization scheme,
 * the first bytes of a message or of a response body, a partial key
 * shape), whatever the input;
 * a secret being hashed is kept as a hash state, not as bytes. An HTTP/2
 * stream also holds its partial frame (up to 16 MiB, the largest frame)
 * or header block (up to H2RED_BLOCK_MAX), and its HPACK decoder's table.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct buf;
struct at_error;

#define REDACT_KEY_LEN	  32
#define REDACT_HEX_LEN	  16 /* hex digits of the hash in a marker */
#define REDACT_MARKER_LEN 27 /* "[redacted:" + 16 hex + "]" */
#define REDACT_MAX_NAMES  64 /* ATTRACE_REDACT names */
#define REDACT_NAME_MAX	  128 /* bytes per name */
#define REDACT_HOLD_MAX	  512 /* bytes a redactor may hold back between calls */

/* What to redact beyond the built-in rules, and the hash key. */
struct redact_config {
	uint8_t key[REDACT_KEY_LEN];
	/* When set, called before every use of key (a marker about to be
	 * made): it fills key the first time. Lets a process that meets no
	 * secret skip reading a key file (about 100 us of every traced
	 * process's start here). Must be safe to call from several threads. */
	void (*load_key)(void);
	char **names; /* lower-case header names; owned, freed by redact_config_release */
	size_t n_names;
};

/* Fills cfg from a comma-separated list of header names (ATTRACE_REDACT; NULL
 * or "" = none; spaces around names and empty items are ignored) and a key.
 * @return 0; -EINVAL with reterr->msg naming the bad item when a name is not
 * an HTTP token, longer than REDACT_NAME_MAX, or there are more than
 * REDACT_MAX_NAMES; -ENOMEM. cfg is left empty (but keyed) on failure.
 * load_key is left NULL: set it afterwards to fill the key later. */
int redact_config_parse(struct redact_config *cfg, const char *names,
			const uint8_t key[REDACT_KEY_LEN], struct at_error *reterr);
/* Frees the names and clears the key; accepts NULL. */
void redact_config_release(struct redact_config *cfg);
/* @return 1 when header `name` (n bytes, any case) has its value replaced
 * whole (rule 1, or Cookie/Set-Cookie, rule 2), else 0. For HTTP events
 * built from the redacted stream. */
int redact_header_is_secret(const struct redact_config *cfg, const char *name, size_t n);

/* Appends the marker for secret[0..n) to out: the 27-byte form when
 * fit_len is 0, else the form that is exactly fit_len bytes long (see THE
 * MARKER). @return 0 or a buffer error (out unchanged). */
int redact_marker(const struct redact_config *cfg, const void *secret, size_t n, size_t fit_len,
		  struct buf *out);

struct redactor;

/* One direction of one connection. cfg is borrowed and must outlive the
 * redactor. @return a redactor at the start of a stream, or NULL on OOM. */
struct redactor *redactor_new(const struct redact_config *cfg);
/* Accepts NULL. */
void redactor_free(struct redactor *r);
/* Appends the redacted bytes for in[0..n) to out. Some bytes may be held
 * back (at most REDACT_HOLD_MAX) and come out with a later call.
 * @return 0, or a buffer error (-ENOMEM, -E2BIG) from out: then out is as it
 * was, and the redactor is failed: every later call returns that error
 * (recording must drop this connection's bytes from there on). */
int redactor_feed(struct redactor *r, const void *in, size_t n, struct buf *out);
/* End of stream (close, shutdown): appends what was held back, redacted as
 * the end of the stream makes it, and returns the redactor to its initial
 * state for a new stream. @return as redactor_feed. */
int redactor_flush(struct redactor *r, struct buf *out);
/* Bytes currently held back (<= REDACT_HOLD_MAX) that a flush would
 * write. An HTTP/2 stream also holds its partial frame or header block (up
 * to 16 MiB), which a flush drops instead: that is not counted here. */
size_t redactor_held(const struct redactor *r);

/* The connection speaks HTTP/2 from its start (TLS ALPN "h2"): the stream
 * is HTTP/2 frames after an optional client preface (h2redact.h). A stream
 * that starts with the preface, and a server's stream after a 101 answer
 * to "Upgrade: h2c", switch by themselves. @return 1 when the stream is
 * HTTP/2 now, 0 when bytes were seen already (it stays as it is). */
int redactor_set_h2(struct redactor *r);
/* @return 1 when the stream is HTTP/2 (by any of the above), else 0. */
int redactor_is_h2(const struct redactor *r);

/* Redacts in[0..n) as a message body on its own (key shapes, Bearer
 * tokens, a leading form parameter; markers as long as the secrets, so
 * exactly n bytes are appended), with r as scratch: r is left at the start
 * of a stream. @return as redact_bytes; -EINVAL when r is HTTP/2 or failed. */
int redactor_body(struct redactor *r, const void *in, size_t n, struct buf *out);

/* A cheap test before redact_bytes, with no key and no allocation: 0 when
 * redact_bytes(in[0..n)) is certainly in[0..n) itself (no key shape's
 * prefix occurs anywhere, and the bytes do not start like an HTTP/1 message
 * or the HTTP/2 preface), else 1. For short values (argv, environment) that
 * are mostly paths and words. */
int redact_may_change(const void *in, size_t n);

/* One shot: the redaction of the whole stream in[0..n), appended to out.
 * @return 0, -ENOMEM, or a buffer error (out unchanged). */
int redact_bytes(const struct redact_config *cfg, const void *in, size_t n, struct buf *out);
