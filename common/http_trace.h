/* SPDX-License-Identifier: MIT */
/* http_trace.h -- HTTP exchanges derived from a trace's socket_call events.
 *
 * For traces that hold a connection's bytes but no network_call events
 * (written by versions of the shim before shim/netcall.c), the exchanges
 * are reconstructed after the fact: events are grouped per (pid, conn), walked in seq order, and each
 * connection's sends and receives are fed to a struct http_conn (http.h). A
 * connection opened by accept is the server's side: its receives are the
 * requests. The shim runs the same http_conn pass at record time
 * (shim/netcall.h).
 */
#pragma once

#include <stddef.h>

struct http_exchange;
struct http_limits;
struct json_object;

/* Called once per exchange, in completion order per connection (connections
 * in (pid, conn) order). x is the callee's (http_exchange_free); x->conn is
 * set. `ev` is the index (into the caller's array) of the event whose bytes
 * completed the exchange, or that closed its connection.
 * @return 0 to go on, or a negative errno that ends the walk. */
typedef int (*http_trace_fn)(void *ud, struct http_exchange *x, size_t ev);

/* Derives the exchanges of events[0..n) (any order; non-socket events are
 * skipped). Scheme "https" for a connection whose events carry "tls": true,
 * else "http"; ALPN from an "alpn" member when present. lim may be NULL (the
 * defaults). @return 0, -ENOMEM, or what fn returned. */
int http_trace_derive(struct json_object *const *events, size_t n, const struct http_limits *lim,
		      http_trace_fn fn, void *ud);
