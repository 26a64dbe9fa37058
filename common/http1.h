/* SPDX-License-Identifier: MIT */
/* http1.h -- HTTP/1.x message framing over raw bytes: where a request or a
 * response ends, and the spans a replay matches on.
 *
 * Replay (shim/replay_net.c, shim/replayer.c) serves HTTP/1 per request:
 * it must know where each request the program sends ends (head up to the
 * empty line, then a body by Content-Length or chunked coding) and which
 * recorded bytes answer it (interim 1xx responses, then a final response
 * delimited by Content-Length, chunked coding or the connection's close;
 * none after HEAD, 1xx, 204 and 304). common/http.c reconstructs whole
 * exchanges for the trace; this module only frames, without allocating,
 * so the shim can run it on every send.
 *
 * Spans are offsets into the caller's bytes, which stay the caller's.
 */
#pragma once

#include <stddef.h>

struct buf;

/* HTTP token characters (RFC 9110 tchar: header names, methods), 1 or 0
 * per byte: a table, since parsers ask for every byte of every name. */
extern const unsigned char http1_tchar[256];

static inline int http1_is_tchar(unsigned char c)
{
	return http1_tchar[c];
}

#define HTTP1_HEAD_MAX (64u << 10) /* a longer head is not HTTP/1 for framing */

struct http1_span {
	size_t off, len;
};

struct http1_req {
	size_t len; /* the whole request, head and body (0 until complete) */
	size_t head_len; /* through the empty line; 0 while the head is incomplete */
	struct http1_span method, target, host; /* host.len 0: no Host header */
	struct http1_span body; /* as sent (chunked: with its coding) */
	int expect_continue; /* "Expect: 100-continue" */
};

/* Frames the request that starts p[0..n).
 * @return 1 when it is complete (*ret filled), 0 when more bytes are needed
 * (ret->head_len and the head's spans are set once the head is complete),
 * -EPROTO when the bytes are not an HTTP/1 request. */
int http1_request(const void *p, size_t n, struct http1_req *ret);

struct http1_resp {
	size_t len; /* the whole response, 1xx interim responses included */
	size_t interim_len; /* bytes of the leading 1xx responses */
	int status; /* the final status; 0 while its head is incomplete */
	int until_close; /* the body runs until the connection closes */
};

/* Frames the response that starts p[0..n), to a request whose method was
 * HEAD when `head`. `eof`: no more bytes follow (ends a body delimited by
 * close). @return 1 complete, 0 more bytes needed (ret->interim_len counts
 * the complete 1xx responses so far), -EPROTO not an HTTP/1 response. */
int http1_response(const void *p, size_t n, int head, int eof, struct http1_resp *ret);

/* 1 when p[0..n) starts like an HTTP/1 request line ("GET /", "POST h"). */
int http1_is_request(const void *p, size_t n);

/* Iterates the header fields of a head of head_len bytes: start with
 * *pos = 0. @return 1 with name and value (value without surrounding
 * whitespace), 0 at the end. */
int http1_header_next(const void *p, size_t head_len, size_t *pos, struct http1_span *ret_name,
		      struct http1_span *ret_value);

/* Header fields that differ between runs of one program without changing
 * what it asks, which replay never compares (shim/replayer.c): framing
 * fields (implied by the body), dates, clients' versions, trace and request
 * ids. The OpenAI and Anthropic SDKs' retry counters and timeouts are
 * x-stainless-*; their Idempotency-Key is random per request. The
 * fingerprint keeps them: they were sent. */
#define HTTP1_REPLAY_NOISE                                                           \
	"date,user-agent,connection,keep-alive,content-length,transfer-encoding,te," \
	"traceparent,tracestate,x-request-id,idempotency-key,expect,host,x-stainless-*"

/* A list of header names, as ATTRACE_REPLAY_IGNORE writes one: comma-
 * separated, any case, a '*' at the end of a name making it a prefix
 * ("x-stainless-*"). */
struct http1_names {
	char *text; /* the names, NUL-separated */
	const char **v;
	size_t n;
};

/* Parses list (NULL: empty) into l, which owns copies. Names are not
 * checked (config.c checks ATTRACE_REPLAY_IGNORE). @return 0 or -ENOMEM. */
int http1_names_parse(struct http1_names *l, const char *list);
void http1_names_release(struct http1_names *l); /* leaves l empty */
/* @return 1 when the field name s[0..n) is on the list. */
int http1_names_match(const struct http1_names *l, const char *s, size_t n);

/* Appends the request p[0..n) to out without the header fields named on
 * l: the start line, the other fields' lines as sent, the empty line and
 * the body. Bytes that hold no whole HTTP/1 head are appended as they are.
 * @return 0 or a buffer error. */
int http1_request_without(const void *p, size_t n, const struct http1_names *l, struct buf *out);
