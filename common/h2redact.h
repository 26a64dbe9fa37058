/* SPDX-License-Identifier: MIT */
/* h2redact.h -- HTTP/2 for the redactor (redact.h): secrets out of frames and HPACK header blocks.
 *
 * A `struct h2red` follows one direction of an HTTP/2 connection: an
 * optional client preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", passed on
 * as it is), then frames. redact.c hands a stream to it when the stream
 * starts with the preface, after a 101 answer to "Upgrade: h2c", or when
 * the caller says so (TLS ALPN "h2", redactor_set_h2). Output comes frame
 * by frame; a frame is held until it is complete, and a header block until
 * its END_HEADERS.
 *
 * WHAT IS REDACTED (libattrace(7) SECRETS is the user-facing copy)
 *
 *  - HEADERS, PUSH_PROMISE and their CONTINUATION frames: the header block
 *    is decoded with nghttp2's HPACK inflater, which sees the original
 *    bytes (its dynamic table follows the real connection). The fields are
 *    redacted by the HTTP/1 rules of redact.h, as if they were the header
 *    lines of an HTTP/1 message: the secret headers (Authorization keeps
 *    its scheme, Cookie and Set-Cookie their names, ATTRACE_REDACT) get the
 *    27-byte marker; :path is redacted as a request line (key shapes,
 *    secret query parameters); every other value, pseudo-headers included,
 *    is scanned for key shapes. A field whose name is not an HTTP token (or
 *    is over 200 bytes) or whose value holds CR, LF or NUL has its whole
 *    value replaced by the marker. The fields are then written as a new block (hpack.h: literals
 *    without indexing, no Huffman), so the trace holds readable text in
 *    place of table references and Huffman codes, and sent in one frame of
 *    the block's type (its padding dropped, its priority or promised stream
 *    kept) plus CONTINUATION frames past 16384 bytes.
 *  - DATA frames: the payload (without padding) is redacted as a body, on
 *    its own: key shapes, Bearer tokens and a leading form parameter, each
 *    marker as long as the secret, so the frame length stays.
 *  - Every other frame passes unchanged.
 *
 * So frame lengths and the number of bytes differ from the connection's;
 * replay compares the program's sent bytes after the same redaction.
 *
 * Errors: a frame that breaks HTTP/2 (a CONTINUATION out of place, padding
 * longer than the frame, a header block HPACK cannot decode, a block over
 * H2RED_BLOCK_MAX) fails the stream with -EPROTO: nothing more of it is
 * redacted, and the caller drops the bytes rather than record them.
 */
#pragma once

#include <stddef.h>

struct buf;
struct redact_config;
struct redactor;

#define H2RED_BLOCK_MAX (1u << 20) /* bytes of one header block, decoded or encoded */

struct h2red;

/* cfg is borrowed and must outlive it. @return NULL on OOM. */
struct h2red *h2red_new(const struct redact_config *cfg);
void h2red_free(struct h2red *h); /* accepts NULL */

/* Appends the redacted form of the complete frames in[0..n) completes to
 * out. @return 0; -EPROTO (see Errors) or a buffer error, after which out
 * is as it was and every later call fails the same way. */
int h2red_feed(struct h2red *h, const void *in, size_t n, struct buf *out);

/* Bytes held: a partial frame or header block. */
size_t h2red_held(const struct h2red *h);
