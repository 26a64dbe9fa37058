/* SPDX-License-Identifier: MIT */
/* http_trace.c -- HTTP exchanges derived from a trace's socket_call events. */
#include "common/http_trace.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/http.h"
#include "common/jsonv.h"
#include "common/trace.h"

struct item {
	struct json_object *ev, *pl;
	const char *pid, *conn, *op;
	int64_t seq;
	size_t idx;
};

static int item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = trace_pid_cmp(x->pid, y->pid);

	if (c)
		return c;
	c = strcmp(x->conn, y->conn);
	if (c)
		return c;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Event time in ns, from ts_epoch (microsecond precision). */
static int64_t ev_ns(struct json_object *ev)
{
	struct json_object *v = jv_member(ev, "ts_epoch");

	double us = v ? json_object_get_double(v) * 1e6 : 0;

	/* rounded by hand: common/ does not link libm */
	return (int64_t)(us + (us < 0 ? -0.5 : 0.5)) * 1000;
}

static int drain(struct http_conn *c, const char *conn, size_t ev, http_trace_fn fn, void *ud)
{
	struct http_exchange *x;
	int r;

	for (x = http_conn_next(c); x; x = http_conn_next(c)) {
		x->conn = strdup(conn);
		if (!x->conn) {
			http_exchange_free(x);
			return -ENOMEM;
		}
		r = fn(ud, x, ev);
		if (r < 0)
			return r;
	}
	return 0;
}

/* One connection: it[0..n), in seq order. */
static int walk_conn(const struct item *it, size_t n, const struct http_limits *lim,
		     http_trace_fn fn, void *ud)
{
	struct http_conn *c = NULL;
	struct buf bytes = BUF_INIT;
	const char *peer = NULL, *alpn = NULL;
	int server = 0, tls = 0, r = 0;
	size_t i, last = it[n - 1].idx;
	int64_t ts = 0;

	for (i = 0; i < n; i++) {
		if (!peer && jv_str(it[i].pl, "peer"))
			peer = jv_str(it[i].pl, "peer");
		if (!alpn && jv_str(it[i].pl, "alpn"))
			alpn = jv_str(it[i].pl, "alpn");
		tls |= jv_true(it[i].pl, "tls");
		if (i == 0 && strcmp(it[i].op, "accept") == 0)
			server = 1;
	}
	c = http_conn_new(tls ? "https" : "http", NULL, peer);
	if (!c)
		return -ENOMEM;
	if (alpn)
		http_conn_set_alpn(c, alpn);
	if (lim)
		http_conn_set_limits(c, lim);
	for (i = 0; i < n && r >= 0; i++) {
		const char *op = it[i].op;
		int send = strcmp(op, "send") == 0, recv = strcmp(op, "recv") == 0;
		int64_t nb = jv_int(it[i].pl, "n", -1);

		ts = ev_ns(it[i].ev);
		if ((send || recv) && nb >= 0 && !jv_true(it[i].pl, "peek")) {
			buf_reset(&bytes);
			r = trace_payload_bytes(it[i].pl, &bytes);
			if (r == -ENOMEM)
				break;
			/* Redaction may change the length (libattrace(7), SECRETS):
			 * only bytes the recorder dropped are missing. */
			if (r < 0 || jv_true(it[i].pl, "data_dropped") ||
			    (nb > 0 && !jv_member(it[i].pl, "data") &&
			     !jv_member(it[i].pl, "data_b64"))) {
				/* bytes missing from the trace: the streams cannot be followed on */
				r = http_conn_close(c, ts);
			} else {
				r = http_conn_feed(c, send != server, bytes.data, bytes.len, ts);
				if (r == -EPROTO)
					r = 0; /* reconstruction stops; what completed stays */
			}
		} else if (strcmp(op, "close") == 0) {
			r = http_conn_close(c, ts);
		}
		if (r >= 0)
			r = drain(c, it[i].conn, it[i].idx, fn, ud);
	}
	if (r >= 0)
		r = http_conn_close(c, ts);
	if (r >= 0)
		r = drain(c, it[n - 1].conn, last, fn, ud);
	buf_release(&bytes);
	http_conn_free(c);
	return r;
}

int http_trace_derive(struct json_object *const *events, size_t n, const struct http_limits *lim,
		      http_trace_fn fn, void *ud)
{
	struct item *it;
	size_t i, k = 0, start;
	int r = 0;

	it = calloc(n ? n : 1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct json_object *pl = jv_member(events[i], "payload");
		const char *type = jv_str(events[i], "type"), *proto = jv_str(pl, "proto");

		if (!type || strcmp(type, "socket_call") != 0 || (proto && strcmp(proto, "tcp")))
			continue;
		it[k].ev = events[i];
		it[k].pl = pl;
		it[k].pid = jv_str(events[i], "pid");
		it[k].conn = jv_str(pl, "conn");
		it[k].op = jv_str(pl, "op");
		it[k].seq = jv_int(events[i], "seq", 0);
		it[k].idx = i;
		if (it[k].pid && it[k].conn && it[k].op)
			k++;
	}
	qsort(it, k, sizeof(*it), item_cmp);
	for (start = 0; start < k && r >= 0; start = i) {
		for (i = start + 1; i < k; i++)
			if (strcmp(it[i].pid, it[start].pid) || strcmp(it[i].conn, it[start].conn))
				break;
		r = walk_conn(it + start, i - start, lim, fn, ud);
	}
	free(it);
	return r < 0 ? r : 0;
}
