/* SPDX-License-Identifier: MIT */
/* netcall.c -- network_call events from a connection's redacted bytes (netcall.h).
 *
 * Everything here runs under the recorder's write lock, where the late
 * records of socket bytes are expanded (recorder.h): one user at a time
 * for the connection table, records in the order they were made.
 */
#include "shim/netcall.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/hot.h"
#include "common/http.h"
#include "common/json.h"
#include "common/trace.h"
#include "shim/net.h"
#include "shim/real.h"
#include "shim/recorder.h"
#include "shim/secrets.h"
#include "shim/shim.h"

enum { NC_UNDECIDED = 0, NC_FOLLOW, NC_IGNORE }; /* struct late_state's nc */

enum rec_kind { R_OPEN, R_DATA, R_CLOSE };

/* One record; for R_OPEN its bytes are the peer address. */
struct nc_rec {
	int64_t ts;
	const char *step; /* interned, never freed */
	uint32_t n;
	int32_t tid;
	uint8_t kind;
	uint8_t out; /* R_DATA: sent by this process; R_OPEN: we are the client */
	uint8_t tls;
	char conn[32];
};

#define SPARE_KEEP (1u << 20) /* a scratch buffer larger than this is freed */
#define MARKS_MAX  64
#define TABLE_SIZE 256

/* From when on a connection's sent bytes came from which step and thread. */
struct mark {
	int64_t ts;
	const char *step;
	int tid;
};

struct nconn {
	char id[32];
	struct http_conn *c;
	int server;
	struct mark marks[MARKS_MAX];
	size_t nmarks;
	struct nconn *next;
};

/* Drain side, under the recorder's write lock. */
SHIM_LARGE static struct nconn *table[TABLE_SIZE];
static atomic_size_t nconns; /* written by the drain, read by nc_end */
static atomic_int ending;
static struct buf scratch = BUF_INIT;

/* Could p[0..n) start an HTTP request? A method token (upper-case letters,
 * '-' or '_') and a space, or the HTTP/2 preface (whose "PRI " is one). A
 * chunk too short to tell counts as one. */
static int starts_request(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < 24; i++) {
		if (p[i] == ' ')
			return i > 0;
		if (!((p[i] >= 'A' && p[i] <= 'Z') || p[i] == '-' || p[i] == '_'))
			return 0;
	}
	return i == n;
}

/* ---- the drain ---- */

static size_t slot(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % TABLE_SIZE;
}

static struct nconn **conn_find(const char *id)
{
	struct nconn **pp;

	for (pp = &table[slot(id)]; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0)
			return pp;
	return NULL;
}

static void conn_free(struct nconn *nc)
{
	if (!nc)
		return;
	http_conn_free(nc->c);
	free(nc);
}

/* The step and thread of the request that started at ts. */
static const struct mark *mark_at(const struct nconn *nc, int64_t ts)
{
	size_t i;

	for (i = nc->nmarks; i > 1; i--)
		if (nc->marks[i - 1].ts <= ts)
			break;
	return nc->nmarks ? &nc->marks[i - 1] : NULL;
}

static void mark_add(struct nconn *nc, const struct nc_rec *h)
{
	struct mark *last = nc->nmarks ? &nc->marks[nc->nmarks - 1] : NULL;

	if (last && last->step == h->step && last->tid == h->tid)
		return;
	if (nc->nmarks == MARKS_MAX) {
		memmove(nc->marks, nc->marks + MARKS_MAX / 2,
			(MARKS_MAX - MARKS_MAX / 2) * sizeof(nc->marks[0]));
		nc->nmarks = MARKS_MAX - MARKS_MAX / 2;
	}
	nc->marks[nc->nmarks++] = (struct mark){ .ts = h->ts, .step = h->step, .tid = h->tid };
}

/* Appends x as one network_call line to out (nothing on failure). */
static void emit_one(struct nconn *nc, struct http_exchange *x, struct buf *out)
{
	const struct redact_config *cfg = secrets_config();
	const struct mark *m = mark_at(nc, x->ts_request);
	size_t mark = out->len;
	struct trace_head h = {
		.pid = shim_proc.lpid,
		.tid = m ? m->tid : 0,
		.type = "network_call",
		.ts_ns = x->ts_end ? x->ts_end : rec_now_ns(),
		.step = m && m->step ? m->step : "root",
	};

	x->conn = strdup(nc->id);
	buf_reset(&scratch);
	/* no redaction config (no key): nothing is written rather than leak */
	if (!x->conn || !cfg || http_exchange_redact(x, cfg, HTTP_REDACT_DECODED) < 0 ||
	    http_exchange_json(x, &scratch) < 0 || scratch.len < 2)
		return;
	h.seq = atomic_fetch_add(&shim_proc.seq, 1);
	/* the payload's members: the object without its braces */
	if (trace_ev_head(out, &h) < 0 || buf_append(out, scratch.data + 1, scratch.len - 2) < 0 ||
	    trace_ev_tail(out) < 0) {
		out->len = mark;
		if (out->data)
			out->data[mark] = '\0';
	}
}

static void emit(struct nconn *nc, struct buf *out)
{
	struct http_exchange *x;

	for (x = http_conn_next(nc->c); x; x = http_conn_next(nc->c)) {
		emit_one(nc, x, out);
		http_exchange_free(x);
	}
}

/* Ends nc: completes what the end completes, writes it, forgets nc. */
static void conn_end(struct nconn **pp, int64_t ts, struct buf *out)
{
	struct nconn *nc = *pp;

	http_conn_close(nc->c, ts);
	emit(nc, out);
	*pp = nc->next;
	conn_free(nc);
	nconns--;
}

static void on_open(const struct nc_rec *h, const char *peer, struct buf *out)
{
	struct nconn **pp = conn_find(h->conn);
	struct nconn *nc;
	struct http_limits lim = { .body_max = NC_BODY_MAX };

	if (pp) /* the id was seen before (cannot happen within one image) */
		conn_end(pp, h->ts, out);
	nc = calloc(1, sizeof(*nc));
	if (!nc)
		return;
	memcpy(nc->id, h->conn, sizeof(nc->id));
	nc->id[sizeof(nc->id) - 1] = '\0';
	nc->server = !h->out;
	nc->c = http_conn_new(h->tls ? "https" : "http", NULL, *peer ? peer : NULL);
	if (!nc->c) {
		free(nc);
		return;
	}
	http_conn_set_limits(nc->c, &lim);
	pp = &table[slot(nc->id)];
	nc->next = *pp;
	*pp = nc;
	nconns++;
}

static void on_record(const struct nc_rec *h, const char *p, struct buf *out)
{
	struct nconn **pp;
	int sent;

	if (h->kind == R_OPEN) {
		on_open(h, p, out);
		return;
	}
	/* a connection opened before fork, or ended by a gap: not followed */
	pp = conn_find(h->conn);
	if (!pp)
		return;
	if (h->kind != R_DATA) {
		conn_end(pp, h->ts, out);
		return;
	}
	sent = h->out != (*pp)->server;
	if (sent)
		mark_add(*pp, h);
	/* -EPROTO: reconstruction stopped, what completed stays; -ENOMEM: same */
	http_conn_feed((*pp)->c, sent, p, h->n, h->ts);
	emit(*pp, out);
}

static struct nc_rec rec_of(const struct rec_late *h, int kind, size_t n)
{
	struct nc_rec r = {
		.ts = h->ts,
		.step = h->step,
		.n = (uint32_t)n,
		.tid = h->tid,
		.kind = (uint8_t)kind,
		.out = h->out,
		.tls = h->tls,
	};

	memcpy(r.conn, h->ls->conn, sizeof(r.conn));
	return r;
}

void nc_bytes(const struct rec_late *h, const void *p, size_t n, struct buf *out)
{
	struct late_state *ls = h->ls;
	struct nc_rec r;

	if (ls->nc == NC_IGNORE || !n || n > UINT32_MAX)
		return;
	if (ls->nc == NC_UNDECIDED) {
		if (!starts_request(p, n)) {
			ls->nc = NC_IGNORE;
			return;
		}
		ls->nc = NC_FOLLOW;
		ls->peer[sizeof(ls->peer) - 1] = '\0';
		r = rec_of(h, R_OPEN, strlen(ls->peer));
		on_record(&r, ls->peer, out);
	}
	r = rec_of(h, R_DATA, n);
	on_record(&r, p, out);
}

void nc_close(const struct rec_late *h, struct buf *out)
{
	struct late_state *ls = h->ls;
	struct nc_rec r;

	if (ls->nc != NC_FOLLOW)
		return;
	ls->nc = NC_IGNORE;
	r = rec_of(h, R_CLOSE, 0);
	on_record(&r, NULL, out);
}

AT_HOT int nc_ending(void)
{
	return atomic_load_explicit(&ending, memory_order_relaxed);
}

AT_HOT void nc_drain(struct buf *out)
{
	size_t i;

	if (!nconns)
		return;
	/* a vfork child shares our memory: the parent drains */
	if (REAL(getpid)() != shim_proc.real_pid)
		return;
	for (i = 0; i < TABLE_SIZE; i++)
		while (table[i])
			conn_end(&table[i], rec_now_ns(), out);
	if (scratch.cap > SPARE_KEEP)
		buf_release(&scratch);
}

AT_HOT void nc_end(void)
{
	atomic_store(&ending, 1);
}

void nc_after_fork_child(void)
{
	size_t i;

	/* The expansions ran under the write lock, held across fork: the
	 * table is whole, and its connections are the parent's. */
	for (i = 0; i < TABLE_SIZE; i++) {
		while (table[i]) {
			struct nconn *nc = table[i];

			table[i] = nc->next;
			conn_free(nc);
		}
	}
	nconns = 0;
}
