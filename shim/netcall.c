/* SPDX-License-Identifier: MIT */
/* netcall.c -- network_call events from a per-thread side queue of redacted bytes (netcall.h).
 *
 * Rules of this file: the enqueue side (nc_bytes, nc_gap, nc_close) runs on
 * the program's threads inside hooks and only copies; everything else runs
 * in nc_drain under the recorder's write lock, so the connection table and
 * the queues' spare buffers have a single user at a time.
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
#include "common/http.h"
#include "common/json.h"
#include "common/trace.h"
#include "shim/net.h"
#include "shim/real.h"
#include "shim/recorder.h"
#include "shim/secrets.h"
#include "shim/shim.h"

enum { NC_UNDECIDED = 0, NC_FOLLOW, NC_IGNORE }; /* struct sock's nc */

enum rec_kind { R_OPEN, R_DATA, R_GAP, R_CLOSE };

/* One queued record; n bytes follow, padded to 8. For R_OPEN they are the
 * peer address. */
struct nc_rec {
	uint64_t order; /* position among every thread's records */
	int64_t ts;
	const char *step; /* interned, never freed */
	uint32_t n;
	int32_t tid;
	uint8_t kind;
	uint8_t out; /* R_DATA: sent by this process; R_OPEN: we are the client */
	uint8_t tls;
	char conn[32];
};

#define REC_ALIGN(n) (((n) + 7) & ~(size_t)7)
#define SPARE_KEEP   (1u << 20) /* a drained buffer larger than this is freed */
/* A queue this full wakes the writer: parsed early, off the program's
 * threads, so that little is left for the exiting thread to parse. */
#define NC_KICK	   (64u << 10)
#define MARKS_MAX  64
#define TABLE_SIZE 256

/* A thread's queue. */
struct ncq {
	atomic_int lock;
	atomic_int dead; /* thread gone: freed by the drain once empty */
	struct buf q;
	struct buf spare; /* the drain's */
	struct ncq *next;
};

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

static __thread struct ncq *my_q __attribute__((tls_model("initial-exec")));
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ncq *queues;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t q_key;
static atomic_uint_fast64_t order_next;
static atomic_int pending; /* some queue went from empty to not */

/* Drain side, under the recorder's write lock. */
static struct nconn *table[TABLE_SIZE];
static atomic_size_t nconns; /* written by the drain, read by nc_end */
static atomic_int ending;
static struct buf scratch = BUF_INIT;

static inline void q_lock(struct ncq *q)
{
	while (atomic_exchange_explicit(&q->lock, 1, memory_order_acquire))
		while (atomic_load_explicit(&q->lock, memory_order_relaxed))
			__builtin_ia32_pause();
}

static inline void q_unlock(struct ncq *q)
{
	atomic_store_explicit(&q->lock, 0, memory_order_release);
}

static void q_dtor(void *p)
{
	struct ncq *q = p;

	my_q = NULL;
	atomic_store_explicit(&q->dead, 1, memory_order_release);
}

static void key_make(void)
{
	pthread_key_create(&q_key, q_dtor);
}

static struct ncq *q_attach(void)
{
	struct ncq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	pthread_once(&key_once, key_make);
	pthread_mutex_lock(&reg_lock);
	q->next = queues;
	queues = q;
	pthread_mutex_unlock(&reg_lock);
	pthread_setspecific(q_key, q);
	my_q = q;
	return q;
}

/* Appends one record. Out of memory drops it (and the exchanges it
 * belonged to may come out incomplete or not at all). */
static void push(struct shim_thread *t, struct sock *s, enum rec_kind kind, int out, const void *p,
		 size_t n)
{
	struct ncq *q = my_q;
	struct nc_rec h = {
		.ts = rec_now_ns(),
		.step = t->step,
		.n = (uint32_t)n,
		.tid = t->tid < 0 ? 0 : t->tid,
		.kind = (uint8_t)kind,
		.out = (uint8_t)out,
		.tls = (uint8_t)atomic_load_explicit(&s->tls, memory_order_relaxed),
	};
	static const char pad[8];
	size_t before;

	if (n > UINT32_MAX)
		return;
	if (!q) {
		q = q_attach();
		if (!q)
			return;
	}
	memcpy(h.conn, s->conn, sizeof(h.conn));
	q_lock(q);
	/* taken under the lock: one thread's records stay in order, and a
	 * connection's (recorded under s->lock) in the order of its bytes */
	h.order = atomic_fetch_add_explicit(&order_next, 1, memory_order_relaxed);
	before = q->q.len;
	if (buf_reserve(&q->q, sizeof(h) + REC_ALIGN(n)) == 0) {
		buf_append(&q->q, &h, sizeof(h));
		buf_append(&q->q, p, n);
		buf_append(&q->q, pad, REC_ALIGN(n) - n);
	}
	q_unlock(q);
	if (before == 0)
		atomic_store_explicit(&pending, 1, memory_order_release);
	else if (before < NC_KICK && before + sizeof(h) + n >= NC_KICK)
		rec_kick_writer();
}

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

void nc_bytes(struct shim_thread *t, struct sock *s, int out, const void *p, size_t n)
{
	char peer[NET_ADDR_MAX];

	if (__builtin_expect(s->nc == NC_IGNORE || !n, 0))
		return;
	if (s->nc == NC_UNDECIDED) {
		if (!starts_request(p, n)) {
			s->nc = NC_IGNORE;
			return;
		}
		s->nc = NC_FOLLOW;
		memcpy(peer, s->peer, sizeof(peer));
		peer[sizeof(peer) - 1] = '\0';
		push(t, s, R_OPEN, out, peer, strlen(peer));
	}
	push(t, s, R_DATA, out, p, n);
}

void nc_gap(struct shim_thread *t, struct sock *s)
{
	if (s->nc == NC_FOLLOW) {
		s->nc = NC_IGNORE;
		push(t, s, R_GAP, 0, NULL, 0);
	}
}

void nc_close(struct shim_thread *t, struct sock *s)
{
	int follow;

	pthread_mutex_lock(&s->lock);
	follow = s->nc == NC_FOLLOW;
	s->nc = NC_IGNORE;
	pthread_mutex_unlock(&s->lock);
	if (follow)
		push(t, s, R_CLOSE, 0, NULL, 0);
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

struct ref {
	uint64_t order;
	const struct nc_rec *h; /* in a spare buffer, 8-aligned by malloc + REC_ALIGN */
};

static int ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;

	return x->order < y->order ? -1 : x->order > y->order;
}

static struct ref *refs;
static size_t cap_refs;

static int refs_add(size_t *n, const struct nc_rec *h)
{
	if (*n == cap_refs) {
		size_t cap = cap_refs ? 2 * cap_refs : 256;
		struct ref *v = realloc(refs, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		refs = v;
		cap_refs = cap;
	}
	refs[(*n)++] = (struct ref){ .order = h->order, .h = h };
	return 0;
}

void nc_drain(struct buf *out, int final)
{
	struct ncq *q, **pp, *first;
	size_t i, n = 0;
	int sorted = 1;

	final |= atomic_load_explicit(&ending, memory_order_relaxed);
	if (!atomic_load_explicit(&pending, memory_order_acquire) && !(final && nconns))
		return;
	/* a vfork child shares our memory: the parent drains */
	if (REAL(getpid)() != shim_proc.real_pid)
		return;
	atomic_store_explicit(&pending, 0, memory_order_seq_cst);
	pthread_mutex_lock(&reg_lock);
	first = queues;
	for (q = first; q; q = q->next) {
		struct buf tmp;

		q_lock(q);
		tmp = q->q;
		q->q = q->spare;
		q->spare = tmp;
		q_unlock(q);
	}
	pthread_mutex_unlock(&reg_lock);
	/* Queues made since are pushed in front of `first` and drained next
	 * time; only the drain unlinks, so the list from `first` on stays. */
	for (q = first; q; q = q->next) {
		size_t off = 0;

		while (off + sizeof(struct nc_rec) <= q->spare.len) {
			const struct nc_rec *h = (const void *)(q->spare.data + off);

			if (n && refs[n - 1].order > h->order)
				sorted = 0;
			if (refs_add(&n, h) < 0)
				break;
			off += sizeof(*h) + REC_ALIGN(h->n);
		}
	}
	if (!sorted)
		qsort(refs, n, sizeof(*refs), ref_cmp);
	for (i = 0; i < n; i++)
		on_record(refs[i].h, (const char *)(refs[i].h + 1), out);
	if (final) {
		for (i = 0; i < TABLE_SIZE; i++)
			while (table[i])
				conn_end(&table[i], rec_now_ns(), out);
	}
	pthread_mutex_lock(&reg_lock);
	for (pp = &queues; (q = *pp);) {
		if (q->spare.cap > SPARE_KEEP)
			buf_release(&q->spare);
		else
			buf_reset(&q->spare);
		if (atomic_load_explicit(&q->dead, memory_order_acquire)) {
			q_lock(q);
			if (q->q.len == 0) {
				*pp = q->next;
				buf_release(&q->q);
				buf_release(&q->spare);
				free(q);
				continue;
			}
			q_unlock(q);
		}
		pp = &q->next;
	}
	pthread_mutex_unlock(&reg_lock);
	if (scratch.cap > SPARE_KEEP)
		buf_release(&scratch);
}

int nc_end(void)
{
	atomic_store(&ending, 1);
	return atomic_load(&pending) || atomic_load(&nconns);
}

void nc_after_fork_child(void)
{
	struct ncq *q = my_q;
	size_t i;

	pthread_mutex_init(&reg_lock, NULL);
	/* Only this thread exists now; other threads' queues are the parent's
	 * (leaked rather than touched: their owners vanished mid-operation). */
	queues = NULL;
	if (q) {
		atomic_store(&q->lock, 0);
		buf_reset(&q->q);
		buf_reset(&q->spare);
		q->next = NULL;
		queues = q;
	}
	atomic_store(&pending, 0);
	/* The drain ran under the write lock, held across fork: the table is
	 * whole, and its connections are the parent's. */
	for (i = 0; i < TABLE_SIZE; i++) {
		while (table[i]) {
			struct nconn *nc = table[i];

			table[i] = nc->next;
			conn_free(nc);
		}
	}
	nconns = 0;
}
