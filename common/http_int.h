/* SPDX-License-Identifier: MIT */
/* http_int.h -- private to http.c (HTTP/1 and the connection), http2.c
 * (HTTP/2) and http_exchange.c (an exchange's redaction and JSON): the
 * parser's state and the helpers they share. Not part of common/'s API. */
#pragma once

#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/http.h"

#define H2_PREFACE     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24

enum proto { P_UNKNOWN, P_H1, P_H2, P_NONE, P_STOPPED };

/* HTTP/1 parser states, one per direction. */
enum h1_state {
	S_HEAD,
	S_BODY_LEN,
	S_CHUNK_SIZE,
	S_CHUNK_DATA,
	S_CHUNK_CRLF,
	S_TRAILERS,
	S_BODY_CLOSE
};

/* Counts text/event-stream events: a block of lines with at least one field,
 * ended by a blank line (CR, LF or CRLF line ends). */
struct sse {
	int on; /* the response is text/event-stream */
	int prev_cr, comment, has_field;
	size_t line_len;
};

/* One exchange in flight. */
struct flight {
	struct http_exchange *x;
	int req_head, req_done, resp_head, resp_done;
	struct sse sse;
};

struct dir {
	struct buf in; /* bytes not parsed yet */
	int64_t in_ts; /* ts of the oldest byte in `in` */
	enum h1_state st;
	uint64_t remaining; /* body or chunk bytes left */
	struct flight *cur; /* HTTP/1: message being parsed */
	size_t scanned; /* HTTP/1 head: bytes of `in` searched for the end */
	int ended;
	/* HTTP/2 */
	nghttp2_hd_inflater *inf;
	size_t preface_left;
	struct buf hblock; /* header block being assembled */
	uint32_t hb_stream; /* nonzero while CONTINUATION frames are expected */
	int hb_end_stream, hb_push;
};

struct http_conn {
	char *scheme, *host, *peer;
	struct http_limits lim;
	enum proto proto;
	const char *error;
	int closed, h2_alpn;
	uint64_t nreq;
	int64_t ts; /* of the feed being parsed */
	struct dir d[2]; /* 0: sent by the client, 1: received */
	struct flight **fl; /* in flight, oldest first */
	size_t nfl, capfl;
	struct http_exchange **done; /* completed, oldest first from done_head */
	size_t ndone, done_head, capdone;
};

/* http.c */
char *http_xstrndup(const char *s, size_t n);
/* frees a header string of h unless it lives in h's block */
void http_header_str_free(const struct http_headers *h, char *p);
void http_headers_release(struct http_headers *h);
int http_headers_add(struct http_headers *h, const char *name, size_t nn, const char *value,
		     size_t vn);
/* stops parsing the connection with an error: -EPROTO */
int http_stop(struct http_conn *c, const char *why);
/* scheme://host + target; an absolute target stands alone */
char *http_make_url(struct http_conn *c, const char *scheme, const char *host, const char *target);
/* a new exchange in flight, or NULL (out of memory, or too many) */
struct flight *http_flight_new(struct http_conn *c);
/* moves fl[i] to the done queue (or drops it when no request was seen) */
int http_retire(struct http_conn *c, size_t i);
/* appends body bytes to a message, up to the cap; the length counts them all */
int http_body_add(struct http_conn *c, struct flight *f, int resp, const void *p, size_t n);

/* http2.c */
/* the connection speaks HTTP/2 from now on (by ALPN or its preface) */
int http2_start(struct http_conn *c);
/* parses what d[resp] holds */
int http2_parse(struct http_conn *c, int resp);
