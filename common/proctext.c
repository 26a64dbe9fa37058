/* SPDX-License-Identifier: MIT */
/* proctext.c -- one process's canonical text: events into units, units in order.
 *
 * See the comment at the top of fingerprint.c for the rules. Units are built
 * in one pass over the process's items in seq order: a hash table maps conn
 * ids to their socket unit, another maps each thread to the unit it last
 * added to (for random runs). Each unit's text is written once into one
 * buffer; the main thread's units keep their order and the others are
 * sorted once by text.
 */
#include "common/proctext.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/canon.h"
#include "common/http1.h"
#include "common/json.h"

#define NONE SIZE_MAX

/* Open addressing from byte strings to a size_t; keys are borrowed. */
struct slot {
	const void *key;
	size_t klen;
	uint64_t h;
	size_t val;
};

struct map {
	struct slot *slots;
	size_t size, used; /* size is 0 or a power of 2 */
};

enum ukind {
	U_ITEM, /* one item: CANON_UNIT or CANON_SPAWN */
	U_SOCKET, /* items first..last, linked through item.next */
	U_RANDOM, /* a run of random items, n summed */
	U_EXEC, /* a later agent_start with via "exec" */
	U_CHILD, /* a child no spawn unit names */
	U_HTTP, /* one HTTP/1 request of a connection: reqs[roff..roff+rlen) */
};

struct unit {
	enum ukind kind;
	int tid; /* of the first item: the unit's position */
	size_t first, last; /* items */
	int64_t n;
	size_t chain; /* U_RANDOM off the main thread: the next one of its source */
	const char *child; /* U_CHILD: its subtree hash */
	size_t off, len; /* its JSON text in proctext.text */
	const char *txt; /* the same, once every unit is written */
	int http; /* U_SOCKET: an HTTP/1 client connection, its requests are U_HTTP */
	size_t sock; /* U_HTTP: its connection's unit */
	size_t roff, rlen; /* U_HTTP: the request's bytes in proctext.reqs */
	int omit; /* written as nothing: not part of the text */
};

struct proctext {
	struct unit *u;
	size_t nu, capu;
	const struct unit **order;
	size_t caporder;
	struct map conns; /* conn id -> unit */
	struct map threads; /* tid -> the unit the thread last added to */
	struct map wrand; /* source -> chain of random units off the main thread */
	struct map wdns; /* dns unit body -> chain of dns units off the main thread */
	struct buf text; /* unit texts, each followed by '\n' */
	struct buf joined; /* joined send bytes */
	struct buf reqs; /* the bytes of U_HTTP units */
	struct buf masked; /* one U_HTTP unit's bytes without ignored fields */
};

/* ---- hash map ---- */

static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

static struct slot *map_slot(const struct map *m, const void *key, size_t klen, uint64_t h)
{
	size_t k;

	for (k = h & (m->size - 1); m->slots[k].key; k = (k + 1) & (m->size - 1)) {
		const struct slot *s = &m->slots[k];

		if (s->h == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
			break;
	}
	return &m->slots[k];
}

/* @return the value stored for key, or NULL. */
static size_t *map_get(const struct map *m, const void *key, size_t klen)
{
	struct slot *s;

	if (!m->size)
		return NULL;
	s = map_slot(m, key, klen, hash_bytes(key, klen));
	return s->key ? &s->val : NULL;
}

/* Stores key -> val (key must not be there yet). @return 0 or -ENOMEM. */
static int map_put(struct map *m, const void *key, size_t klen, size_t val)
{
	struct slot *s;

	if ((m->used + 1) * 2 > m->size) {
		struct map g = { .size = m->size ? m->size * 2 : 16 };
		size_t i;

		g.slots = calloc(g.size, sizeof(*g.slots));
		if (!g.slots)
			return -ENOMEM;
		for (i = 0; i < m->size; i++)
			if (m->slots[i].key)
				*map_slot(&g, m->slots[i].key, m->slots[i].klen, m->slots[i].h) =
					m->slots[i];
		free(m->slots);
		g.used = m->used;
		*m = g;
	}
	s = map_slot(m, key, klen, hash_bytes(key, klen));
	*s = (struct slot){ .key = key, .klen = klen, .h = hash_bytes(key, klen), .val = val };
	m->used++;
	return 0;
}

static void map_release(struct map *m)
{
	free(m->slots);
	*m = (struct map){ 0 };
}

/* ---- units ---- */

struct proctext *proctext_new(void)
{
	return calloc(1, sizeof(struct proctext));
}

void proctext_free(struct proctext *pt)
{
	if (!pt)
		return;
	free(pt->u);
	free(pt->order);
	map_release(&pt->conns);
	map_release(&pt->threads);
	map_release(&pt->wrand);
	map_release(&pt->wdns);
	buf_release(&pt->text);
	buf_release(&pt->joined);
	buf_release(&pt->reqs);
	buf_release(&pt->masked);
	free(pt);
}

static int str_is(const char *s, const char *lit)
{
	return s && strcmp(s, lit) == 0;
}

/* @return the new unit's index, or NONE on -ENOMEM. */
static size_t unit_new(struct proctext *pt, enum ukind kind, size_t item, int tid)
{
	if (pt->nu == pt->capu) {
		struct unit *a = array_room(pt->u, pt->nu, &pt->capu, sizeof(*a));

		if (!a)
			return NONE;
		pt->u = a;
	}
	pt->u[pt->nu] = (struct unit){
		.kind = kind, .tid = tid, .first = item, .last = item, .chain = NONE
	};
	return pt->nu++;
}

/* Records that thread *tid last added to unit k. @return 0 or -ENOMEM. */
static int touch(struct proctext *pt, const int *tid, size_t k)
{
	size_t *v = map_get(&pt->threads, tid, sizeof(*tid));

	if (v) {
		*v = k;
		return 0;
	}
	return map_put(&pt->threads, tid, sizeof(*tid), k);
}

/* Adds random item i to the run its thread is in, if it continues one.
 * @return 1 when it did. */
static int random_joins(struct proctext *pt, const struct canon_item *items, size_t i)
{
	const struct canon_item *it = &items[i], *prev;
	size_t *v = map_get(&pt->threads, &it->tid, sizeof(it->tid));

	if (!v || pt->u[*v].kind != U_RANDOM)
		return 0;
	prev = &items[pt->u[*v].first];
	if (strcmp(prev->c.key, it->c.key) != 0 || strcmp(prev->step, it->step) != 0)
		return 0;
	pt->u[*v].n += it->c.n;
	return 1;
}

/* Adds random item i, read off the main thread, to the unit of its source
 * and step, if there is one yet. @return 1 when it did. */
static int worker_random_joins(struct proctext *pt, const struct canon_item *items, size_t i)
{
	const struct canon_item *it = &items[i];
	size_t *v = map_get(&pt->wrand, it->c.key, strlen(it->c.key)), k;

	for (k = v ? *v : NONE; k != NONE; k = pt->u[k].chain) {
		if (strcmp(items[pt->u[k].first].step, it->step) == 0) {
			pt->u[k].n += it->c.n;
			return 1;
		}
	}
	return 0;
}

/* Chains the new worker random unit k under its source. @return 0 or -ENOMEM. */
static int worker_random_add(struct proctext *pt, const struct canon_item *items, size_t k)
{
	const char *src = items[pt->u[k].first].c.key;
	size_t *v = map_get(&pt->wrand, src, strlen(src));

	if (!v)
		return map_put(&pt->wrand, src, strlen(src), k);
	pt->u[k].chain = *v;
	*v = k;
	return 0;
}

/* A lookup off the main thread that another worker already made in the
 * same step: each connection of a pool looks its host up, and how many
 * connections a pool opens is timing. @return 1 when item i is one. */
static int worker_dns_seen(struct proctext *pt, const struct canon_item *items, size_t i)
{
	const struct canon_item *it = &items[i];
	const char *key = it->c.body.data ? it->c.body.data : "";
	size_t *v = map_get(&pt->wdns, key, it->c.body.len), k;

	for (k = v ? *v : NONE; k != NONE; k = pt->u[k].chain)
		if (strcmp(items[pt->u[k].first].step, it->step) == 0)
			return 1;
	return 0;
}

/* Chains the new worker dns unit k under its body. @return 0 or -ENOMEM. */
static int worker_dns_add(struct proctext *pt, const struct canon_item *items, size_t k)
{
	const struct canon_item *it = &items[pt->u[k].first];
	const char *key = it->c.body.data ? it->c.body.data : "";
	size_t *v = map_get(&pt->wdns, key, it->c.body.len);

	if (!v)
		return map_put(&pt->wdns, key, it->c.body.len, k);
	pt->u[k].chain = *v;
	*v = k;
	return 0;
}

static int is_worker_dns(const struct canon_item *it)
{
	return it->tid != 0 && it->c.kind == CANON_UNIT && str_is(it->type, "dns");
}

/* Turns the items into units. *ret_exit gets the trailer's item or NONE.
 * @return 0 or -ENOMEM. */
static int build_units(struct proctext *pt, const struct proctext_in *in, size_t *ret_exit)
{
	struct canon_item *items = in->items;
	size_t i, k, *v;
	int r = 0;

	pt->nu = 0;
	map_release(&pt->conns);
	map_release(&pt->threads);
	map_release(&pt->wrand);
	map_release(&pt->wdns);
	*ret_exit = NONE;
	for (i = 0; r >= 0 && i < in->nitems; i++) {
		struct canon_item *it = &items[i];
		struct canon_ev *c = &it->c;

		it->next = NONE;
		switch (c->kind) {
		case CANON_START:
			if (i == in->start || !str_is(c->v_via, "\"exec\""))
				continue;
			/* a new image numbers its sockets afresh */
			map_release(&pt->conns);
			map_release(&pt->threads);
			map_release(&pt->wrand);
			map_release(&pt->wdns);
			k = unit_new(pt, U_EXEC, i, it->tid);
			break;
		case CANON_EXIT:
			*ret_exit = i;
			continue;
		case CANON_SOCKET:
			v = c->key ? map_get(&pt->conns, c->key, strlen(c->key)) : NULL;
			if (v) {
				k = *v;
				items[pt->u[k].last].next = i;
				pt->u[k].last = i;
				break;
			}
			k = unit_new(pt, U_SOCKET, i, it->tid);
			if (k != NONE && c->key &&
			    map_put(&pt->conns, c->key, strlen(c->key), k) < 0)
				return -ENOMEM;
			break;
		case CANON_RANDOM:
			if (it->tid == 0 ? random_joins(pt, items, i)
					 : worker_random_joins(pt, items, i))
				continue;
			k = unit_new(pt, U_RANDOM, i, it->tid);
			if (k == NONE)
				return -ENOMEM;
			pt->u[k].n = c->n;
			if (it->tid != 0 && worker_random_add(pt, items, k) < 0)
				return -ENOMEM;
			break;
		default:
			if (is_worker_dns(it) && worker_dns_seen(pt, items, i))
				continue;
			k = unit_new(pt, U_ITEM, i, it->tid);
			if (k != NONE && is_worker_dns(it) && worker_dns_add(pt, items, k) < 0)
				return -ENOMEM;
			break;
		}
		if (k == NONE)
			return -ENOMEM;
		r = touch(pt, &it->tid, k);
	}
	return r;
}

/* ---- HTTP/1 requests ---- */

static int sent_ok(const struct canon_item *it)
{
	return it->c.sop == SOP_SEND && !it->c.udp && !it->c.v_err;
}

/* Where a walk over a socket unit's successful sends stands: item i, whose
 * bytes start at offset pos of the joined sends; last is the last sent item
 * seen. Requests are found in increasing order of offset, so one cursor per
 * unit keeps split_http linear in the unit's items (a walk from the first
 * item for each request made a 100,000-request connection quadratic). */
struct send_cursor {
	size_t i, pos, last;
};

/* The item holding byte `at` of the unit's successful sends (at never
 * decreases between calls with one cursor). */
static size_t item_at(const struct canon_item *items, struct send_cursor *cur, size_t at)
{
	for (; cur->i != NONE; cur->i = items[cur->i].next) {
		if (!sent_ok(&items[cur->i]))
			continue;
		cur->last = cur->i;
		if (at < cur->pos + items[cur->i].c.data.len)
			return cur->i;
		cur->pos += items[cur->i].c.data.len;
	}
	return cur->last;
}

/* Adds the U_HTTP unit of reqs[off..off+len), sent on socket unit k. */
static int http_unit(struct proctext *pt, const struct canon_item *items, size_t k,
		     struct send_cursor *cur, size_t at, size_t off, size_t len)
{
	size_t i = item_at(items, cur, at), h = unit_new(pt, U_HTTP, i, items[i].tid);

	if (h == NONE)
		return -ENOMEM;
	pt->u[h].sock = k;
	pt->u[h].roff = off;
	pt->u[h].rlen = len;
	return 0;
}

/* A TCP connection whose sends start with an HTTP/1 request line is an
 * HTTP/1 client connection: each request becomes a unit of its own (a
 * pool sends a request on whichever connection is free), and bytes that
 * do not frame as a complete request one more. @return 0 or -ENOMEM. */
static int split_http(struct proctext *pt, const struct canon_item *items, size_t k)
{
	size_t i, base = pt->reqs.len, at = 0;
	struct send_cursor cur;
	int r = 0;

	for (i = pt->u[k].first; r >= 0 && i != NONE; i = items[i].next)
		if (sent_ok(&items[i]) && items[i].c.data.len)
			r = buf_append(&pt->reqs, items[i].c.data.data, items[i].c.data.len);
	if (r < 0 || !http1_is_request(pt->reqs.data + base, pt->reqs.len - base)) {
		pt->reqs.len = base; /* not HTTP/1: the bytes stay the socket unit's */
		if (pt->reqs.data)
			pt->reqs.data[base] = '\0';
		return r;
	}
	pt->u[k].http = 1;
	cur = (struct send_cursor){ .i = pt->u[k].first, .last = pt->u[k].first };
	while (r >= 0 && base + at < pt->reqs.len) {
		struct http1_req q;
		size_t left = pt->reqs.len - base - at;

		if (http1_request(pt->reqs.data + base + at, left, &q) != 1)
			q.len = left;
		r = http_unit(pt, items, k, &cur, at, base + at, q.len);
		at += q.len;
	}
	return r;
}

/* ---- writing units ---- */

/* "key":<raw canonical JSON text>, when text is not NULL. */
static int put_raw(struct buf *b, const char *key, const char *text)
{
	int r;

	if (!text)
		return 0;
	r = json_key(b, key);
	return r < 0 ? r : buf_puts(b, text);
}

/* {"type":TYPE,"step":STEP (no step when NULL) */
static int unit_open(struct buf *b, const char *type, const char *step)
{
	int r = json_obj_open(b);

	if (r >= 0)
		r = json_kv_str(b, "type", type);
	if (r >= 0 && step)
		r = json_kv_str(b, "step", step);
	return r;
}

static const char *const sop_names[] = {
	[SOP_OTHER] = "other",
	[SOP_CONNECT] = "connect",
	[SOP_CONNECT_RESULT] = "connect_result",
	[SOP_ACCEPT] = "accept",
	[SOP_SEND] = "send",
	[SOP_RECV] = "recv",
	[SOP_SHUTDOWN] = "shutdown",
	[SOP_CLOSE] = "close",
};

/* {"op":..,"step":.. (only when not the unit's step) */
static int op_open(struct buf *b, const struct canon_item *it, const char *ustep)
{
	int r = json_obj_open(b);

	if (r >= 0 && it->c.sop == SOP_OTHER && it->c.v_op)
		r = put_raw(b, "op", it->c.v_op);
	else if (r >= 0)
		r = json_kv_str(b, "op", sop_names[it->c.sop]);
	if (r >= 0 && strcmp(it->step, ustep) != 0)
		r = json_kv_str(b, "step", it->step);
	return r;
}

/* @return 1 when b continues a's run: joined sends, or receives. */
static int same_run(const struct canon_item *a, const struct canon_item *b)
{
	if (b->c.sop != a->c.sop || strcmp(a->step, b->step) != 0)
		return 0;
	if (a->c.sop == SOP_RECV)
		return 1;
	return a->c.sop == SOP_SEND && !a->c.udp && !b->c.udp && !a->c.v_err && !b->c.v_err;
}

/* Writes the data of the send run starting at *i; *i becomes its last item. */
static int put_send_data(struct proctext *pt, const struct canon_item *items, size_t *i)
{
	const struct canon_item *it = &items[*i];
	const char *data = it->c.data.data ? it->c.data.data : "";
	size_t len = it->c.data.len;
	int r = 0;

	if (it->next != NONE && same_run(it, &items[it->next])) {
		buf_reset(&pt->joined);
		for (;; *i = items[*i].next) {
			const struct buf *d = &items[*i].c.data;

			if (r >= 0 && d->len)
				r = buf_append(&pt->joined, d->data, d->len);
			if (items[*i].next == NONE || !same_run(it, &items[items[*i].next]))
				break;
		}
		data = pt->joined.data ? pt->joined.data : "";
		len = pt->joined.len;
	}
	return r < 0 ? r : json_kv_bytes(&pt->text, "data", data, len);
}

static int write_socket(struct proctext *pt, const struct canon_item *items, const struct unit *u)
{
	const struct canon_item *it, *conn1 = NULL, *acc1 = NULL;
	const char *proto = NULL, *ustep = items[u->first].step;
	struct buf *b = &pt->text;
	size_t i;
	int r;

	for (i = u->first; i != NONE; i = items[i].next) {
		it = &items[i];
		if (!proto)
			proto = it->c.v_proto;
		if (!conn1 && it->c.sop == SOP_CONNECT)
			conn1 = it;
		if (!acc1 && it->c.sop == SOP_ACCEPT && it->c.v_local)
			acc1 = it;
	}
	r = unit_open(b, "socket", ustep);
	if (r >= 0)
		r = put_raw(b, "proto", proto);
	if (r >= 0 && conn1)
		r = put_raw(b, "peer", conn1->c.v_peer);
	if (r >= 0 && acc1)
		r = put_raw(b, "listen", acc1->c.v_local);
	if (r >= 0)
		r = json_key(b, "ops");
	if (r >= 0)
		r = json_arr_open(b);
	for (i = u->first; r >= 0 && i != NONE; i = items[i].next) {
		const struct canon_ev *c = &items[i].c;

		it = &items[i];
		/* the first connect's peer and the first accept's address are the
		 * unit's; a connect that went through is no op */
		if ((it == conn1 && !c->v_err) || it == acc1 ||
		    (c->sop == SOP_CONNECT_RESULT && !c->v_err))
			continue;
		/* HTTP/1: the requests are units; what is left is failures */
		if (u->http && (!c->v_err || c->sop == SOP_SEND || c->sop == SOP_RECV))
			continue;
		r = op_open(b, it, ustep);
		if (r >= 0 && (c->sop == SOP_CONNECT ? it != conn1 : c->sop == SOP_SEND))
			r = put_raw(b, "peer", c->v_peer);
		if (r >= 0 && c->sop == SOP_ACCEPT)
			r = put_raw(b, "listen", c->v_local);
		if (r >= 0 && c->sop == SOP_SHUTDOWN)
			r = put_raw(b, "how", c->v_how);
		if (r >= 0 && c->sop == SOP_SEND && !c->v_err)
			r = put_send_data(pt, items, &i);
		while (c->sop == SOP_RECV && items[i].next != NONE &&
		       same_run(it, &items[items[i].next]))
			i = items[i].next;
		if (r >= 0)
			r = put_raw(b, "errno", c->v_err);
		if (r >= 0)
			r = json_obj_close(b);
	}
	if (r >= 0)
		r = json_arr_close(b);
	return r;
}

/* The peer of a socket unit's first connect, or NULL. */
static const char *first_peer(const struct canon_item *items, const struct unit *u)
{
	for (size_t i = u->first; i != NONE; i = items[i].next)
		if (items[i].c.sop == SOP_CONNECT)
			return items[i].c.v_peer;
	return NULL;
}

/* 1 when an HTTP/1 connection has an op that failed (one that is kept). */
static int http_failed(const struct canon_item *items, const struct unit *u)
{
	for (size_t i = u->first; i != NONE; i = items[i].next)
		if (items[i].c.v_err && items[i].c.sop != SOP_SEND && items[i].c.sop != SOP_RECV)
			return 1;
	return 0;
}

/* Writes unit u's text, then '\n', to pt->text. @return 0 or a buffer error. */
static int write_unit(struct proctext *pt, const struct proctext_in *in, struct unit *u)
{
	const struct canon_item *it = u->kind == U_CHILD ? NULL : &in->items[u->first];
	struct buf *b = &pt->text;
	const char *hash;
	int r;

	u->off = b->len;
	if (u->kind == U_SOCKET && u->http && !http_failed(in->items, u)) {
		u->omit = 1; /* how many connections a pool opens is timing */
		u->len = 0;
		return 0;
	}
	switch (u->kind) {
	case U_HTTP:
		r = unit_open(b, "http_request", it->step);
		if (r >= 0)
			r = put_raw(b, "peer", first_peer(in->items, &pt->u[u->sock]));
		if (r >= 0 && in->ignore && in->ignore->n) {
			buf_reset(&pt->masked);
			r = http1_request_without(pt->reqs.data + u->roff, u->rlen, in->ignore,
						  &pt->masked);
			if (r >= 0)
				r = json_kv_bytes(b, "data", pt->masked.data, pt->masked.len);
		} else if (r >= 0) {
			r = json_kv_bytes(b, "data", pt->reqs.data + u->roff, u->rlen);
		}
		break;
	case U_SOCKET:
		r = write_socket(pt, in->items, u);
		break;
	case U_CHILD:
		r = unit_open(b, "child", NULL);
		if (r >= 0)
			r = json_kv_str(b, "child", u->child);
		break;
	case U_EXEC:
		r = unit_open(b, "exec_image", NULL);
		if (r >= 0 && it->c.key)
			r = json_kv_str(b, "exe", it->c.key);
		break;
	default:
		r = unit_open(b, u->kind == U_RANDOM ? "random" : it->type, it->step);
		if (r >= 0 && it->c.body.len)
			r = buf_printf(b, ",%s", it->c.body.data);
		if (r >= 0 && u->kind == U_RANDOM)
			r = json_kv_int(b, "n", u->n);
		hash = it->c.kind == CANON_SPAWN && it->c.key ? in->child_hash(in->ctx, it->c.key)
							      : NULL;
		if (r >= 0 && hash)
			r = json_kv_str(b, "child", hash);
		break;
	}
	if (r >= 0)
		r = json_obj_close(b);
	if (r >= 0)
		r = buf_putc(b, '\n');
	u->len = b->len - u->off - 1;
	return r;
}

static int unit_text_cmp(const void *a, const void *b)
{
	const struct unit *x = *(const struct unit *const *)a, *y = *(const struct unit *const *)b;
	int c = memcmp(x->txt, y->txt, x->len < y->len ? x->len : y->len);

	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

static int unit_first_cmp(const void *a, const void *b)
{
	const struct unit *x = *(const struct unit *const *)a, *y = *(const struct unit *const *)b;

	return (x->first > y->first) - (x->first < y->first);
}

/* Fills pt->order and sets *ret_n: main-thread units in seq order (of
 * their first item), then the others sorted by text; omitted units are
 * left out. @return 0 or -ENOMEM. */
static int order_units(struct proctext *pt, size_t *ret_n)
{
	size_t i, k, nmain = 0;

	if (pt->nu > pt->caporder) {
		const struct unit **a = realloc(pt->order, pt->nu * sizeof(*a));

		if (!a)
			return -ENOMEM;
		pt->order = a;
		pt->caporder = pt->nu;
	}
	for (i = 0; i < pt->nu; i++) {
		pt->u[i].txt = pt->text.data + pt->u[i].off;
		if (pt->u[i].tid == 0 && !pt->u[i].omit)
			pt->order[nmain++] = &pt->u[i];
	}
	for (i = 0, k = nmain; i < pt->nu; i++)
		if (pt->u[i].tid != 0 && !pt->u[i].omit)
			pt->order[k++] = &pt->u[i];
	/* units split off later (U_HTTP) take their place among the main
	 * thread's */
	if (nmain > 1)
		qsort(pt->order, nmain, sizeof(*pt->order), unit_first_cmp);
	if (k - nmain > 1)
		qsort(pt->order + nmain, k - nmain, sizeof(*pt->order), unit_text_cmp);
	*ret_n = k;
	return 0;
}

int proctext_write(struct proctext *pt, const struct proctext_in *in, struct buf *out)
{
	const struct canon_item *st = in->start < in->nitems ? &in->items[in->start] : NULL;
	const struct canon_item *ex;
	size_t i, k, exit_item, nu, n = 0;
	int r;

	r = build_units(pt, in, &exit_item);
	buf_reset(&pt->reqs);
	for (i = 0, nu = pt->nu; r >= 0 && i < nu; i++)
		if (pt->u[i].kind == U_SOCKET)
			r = split_http(pt, in->items, i);
	buf_reset(&pt->text);
	for (i = 0; r >= 0 && i < pt->nu; i++)
		r = write_unit(pt, in, &pt->u[i]);
	for (i = 0; r >= 0 && i < in->norphans; i++) {
		k = unit_new(pt, U_CHILD, NONE, -1);
		if (k == NONE)
			return -ENOMEM;
		pt->u[k].child = in->orphans[i];
		r = write_unit(pt, in, &pt->u[k]);
	}
	if (r >= 0)
		r = order_units(pt, &n);

	if (r >= 0)
		r = unit_open(out, "process", NULL);
	if (r >= 0 && st && st->c.key)
		r = json_kv_str(out, "exe", st->c.key);
	if (r >= 0 && st)
		r = put_raw(out, "via", st->c.v_via);
	if (r >= 0)
		r = buf_append(out, "}\n", 2);
	for (i = 0; r >= 0 && i < n; i++)
		r = buf_append(out, pt->text.data + pt->order[i]->off, pt->order[i]->len + 1);
	if (r >= 0)
		r = unit_open(out, "exit", NULL);
	ex = exit_item != NONE ? &in->items[exit_item] : NULL;
	if (r >= 0 && ex && ex->c.exit_how == EXIT_STATUS)
		r = json_kv_int(out, "status", ex->c.n);
	else if (r >= 0 && ex && ex->c.exit_how == EXIT_SIGNAL)
		r = json_kv_int(out, "signal", ex->c.n);
	return r < 0 ? r : buf_append(out, "}\n", 2);
}
