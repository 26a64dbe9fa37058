/* SPDX-License-Identifier: MIT */
/* http.h -- HTTP exchanges reconstructed from the two byte streams of one
 * connection, as the trace records them (observation only: nothing is ever
 * answered, so no protocol session is run).
 *
 * A struct http_conn is fed the connection's bytes in recorded order: what
 * the client sent ("sent") and what it received from the server. It
 * understands HTTP/1.x (keep-alive, pipelining, Content-Length, chunked with
 * trailers, bodies delimited by close, 1xx interim responses, HEAD, 204 and
 * 304, streamed bodies such as text/event-stream) and HTTP/2 (ALPN "h2" or a
 * sent stream that starts with the connection preface; HPACK through
 * nghttp2's inflater, one per direction). Completed exchanges queue up in
 * the connection and are taken with http_conn_next().
 *
 * Anything that is not HTTP yields no exchanges and no error: the caller
 * falls back to the connection's bytes. Input that starts as HTTP and then
 * breaks the protocol stops reconstruction for the connection; exchanges
 * completed before stay available and http_conn_error() names the reason.
 *
 * Memory is bounded by struct http_limits: a request or response head, the
 * number of header fields, bytes buffered per direction, concurrent HTTP/2
 * streams and in-flight HTTP/1 requests. Bodies past body_max are cut, with
 * their full length kept.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define HTTP_BODY_MAX	 (1u << 20) /* default body cap per message */
#define HTTP_HEAD_MAX	 (64u << 10) /* default cap on one head / header block */
#define HTTP_HEADERS_MAX 256 /* default cap on header fields per message */
#define HTTP_BUFFER_MAX	 (1u << 20) /* default cap on bytes buffered per direction */
#define HTTP_STREAMS_MAX 256 /* default cap on open h2 streams / pipelined requests */

struct http_limits {
	size_t body_max; /* 0 keeps no body bytes (lengths are still counted) */
	size_t head_max;
	size_t headers_max;
	size_t buffer_max;
	size_t streams_max;
};

struct http_header {
	char *name; /* as received (HTTP/2: lower case) */
	char *value;
};

struct http_headers {
	struct http_header *v;
	size_t n;
	/* An HTTP/1 head's fields, copied once: the names and values that
	 * point into it are not allocated one by one (http.c owns this). */
	char *block;
	size_t block_len;
};

struct http_msg {
	struct http_headers headers; /* without HTTP/2 pseudo-headers */
	struct http_headers trailers; /* chunked trailers or h2 trailing HEADERS */
	struct buf body; /* decoded (de-chunked) body, at most body_max bytes */
	uint64_t body_len; /* full decoded length */
	int body_truncated; /* body_len > body.len */
};

struct http_exchange {
	char *conn; /* the trace's connection id, set by the caller (may stay NULL) */
	char *method; /* "GET", ... */
	char *url; /* scheme://host[:port]/path?query */
	char *version; /* "HTTP/1.1", "HTTP/1.0", "HTTP/2" */
	int status; /* final status; 0 when no response came */
	char *reason; /* HTTP/1 reason phrase; "" for HTTP/2 */
	int interim; /* number of 1xx responses before the final one */
	int incomplete; /* the connection ended before the exchange did */
	uint32_t stream_id; /* HTTP/2 stream, 0 for HTTP/1 */
	struct http_msg req, resp;
	uint64_t sse_events; /* events in a text/event-stream response */
	int64_t ts_request; /* ts of the feed holding the request's first byte */
	int64_t ts_first_byte; /* ... of the response's first byte (0: none) */
	int64_t ts_end; /* ... completing the exchange */
};

struct http_conn;
struct redact_config;

/* scheme: "http" or "https"; host: a fallback host for URLs (may be NULL);
 * peer: "ADDR:PORT" of the server (may be NULL), used when the request names
 * no host. Limits are the HTTP_*_MAX defaults. @return NULL on ENOMEM. */
struct http_conn *http_conn_new(const char *scheme, const char *host, const char *peer);
void http_conn_free(struct http_conn *c); /* accepts NULL */
/* Replaces the limits; call before the first feed. Zero fields keep the default
 * (except body_max, which may be 0). */
void http_conn_set_limits(struct http_conn *c, const struct http_limits *l);
/* The ALPN protocol the TLS layer negotiated ("h2", "http/1.1"), before the
 * first feed. Without it the protocol is sniffed from the first bytes sent. */
void http_conn_set_alpn(struct http_conn *c, const char *alpn);

/* Feeds n bytes: sent by the client when `sent`, else received from the
 * server; ts_ns stamps them. n == 0 marks the end of that direction (a
 * received 0 ends a body delimited by close).
 * @return 0 (also when the bytes are not HTTP, or reconstruction stopped
 * earlier), -EPROTO when these bytes broke the protocol (reconstruction then
 * stops, see http_conn_error), -ENOMEM. */
int http_conn_feed(struct http_conn *c, int sent, const void *p, size_t n, int64_t ts_ns);
/* The connection is gone: completes a body delimited by close and queues the
 * exchanges still open (with `incomplete` set when a request went
 * unanswered). Further feeds are ignored. @return 0 or -ENOMEM. */
int http_conn_close(struct http_conn *c, int64_t ts_ns);
/* The oldest completed exchange, removed from the queue; the caller frees it.
 * NULL when none is ready. */
struct http_exchange *http_conn_next(struct http_conn *c);

/* Why reconstruction stopped ("malformed chunk size", "head too big", ...),
 * or NULL while it goes on (or for input that simply is not HTTP). */
const char *http_conn_error(const struct http_conn *c);
/* 1 once the connection was recognised as HTTP/1 or HTTP/2; 0 while
 * undecided or when it is not HTTP. */
int http_conn_is_http(const struct http_conn *c);

void http_exchange_free(struct http_exchange *x); /* accepts NULL */
/* First value of header `name` (case-insensitive), or NULL. */
const char *http_header_get(const struct http_headers *h, const char *name);

/* Runs x's decoded parts through the redaction rules (redact.h), for an
 * exchange rebuilt from bytes that were redacted as a stream: HPACK-decoded
 * headers and de-chunked bodies may show what the byte-level redactor could
 * not see. A header whose name redact_header_is_secret() names has its value
 * replaced by a marker unless it already holds one (an Authorization
 * scheme is kept: "Bearer [redacted:..]"). With HTTP_REDACT_ALL every other
 * header value, the URL and both bodies also go through redact_bytes() as
 * streams of their own (markers in bodies keep their length, so body_len
 * stays true). HTTP_REDACT_DECODED does that only where decoding changed
 * the bytes: all of an HTTP/2 exchange, and chunked HTTP/1 bodies; the
 * rest of an HTTP/1 exchange is as the byte redactor saw it, whole.
 * @return 0, or -ENOMEM: then x may be partly redacted and must not be
 * written out. */
enum http_redact_mode { HTTP_REDACT_ALL, HTTP_REDACT_DECODED };
int http_exchange_redact(struct http_exchange *x, const struct redact_config *cfg,
			 enum http_redact_mode mode);

/* Appends the network_call payload object for x (see attrace-trace(5)):
 * {"conn":.. (when x->conn is set),"method":..,"url":..,"status":..,"reason":..,"version":..,
 *  "request":{"headers":[[n,v],..],"body"|"body_b64":..,"body_len":N,
 *  "body_truncated":bool},"response":{..},"sse_events":N,"ts_request":..,
 *  "ts_first_byte":..,"ts_end":..}; times are epoch seconds as ts_epoch.
 * @return 0 or a buffer error. */
int http_exchange_json(const struct http_exchange *x, struct buf *out);
