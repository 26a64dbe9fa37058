/* SPDX-License-Identifier: MIT */
/* replayer.c -- the replay index: this process's recorded events, by what the hooks ask for.
 *
 * See replayer.h for the model. Everything here runs under the shim guard
 * and under rp_lock; the index is built once (per process image, and again
 * in a fork child) and never freed: it lives as long as the process.
 * This file loads it and serves connections, DNS, the governance lookups
 * and the summary; replay_stream.c serves clocks and random bytes,
 * replay_http.c HTTP/1 exchanges (they share replay_int.h).
 *
 * The lookup tables are a small open-addressing string map written here
 * rather than taken from a library: the shim may not bring a hash-table
 * dependency into every traced program, and four operations suffice.
 */
#include "shim/replayer.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/error.h"
#include "common/fingerprint.h"
#include "common/jsonv.h"
#include "common/log.h"
#include "common/trace.h"
#include "shim/recorder.h"
#include "shim/replay_int.h"
#include "shim/shim.h"

int shim_replaying;

pthread_mutex_t rp_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- a string -> pointer map (the types are in replay_int.h) ---- */

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static struct smap_ent *smap_slot(struct smap *m, const char *key)
{
	size_t i = (size_t)str_hash(key) & (m->cap - 1);

	while (m->e[i].key && strcmp(m->e[i].key, key) != 0)
		i = (i + 1) & (m->cap - 1);
	return &m->e[i];
}

void *rp_smap_get(struct smap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	return smap_slot(m, key)->val;
}

/* @return 0 or -ENOMEM. Replaces an existing value. */
static int smap_put(struct smap *m, const char *key, void *val)
{
	struct smap_ent *s;

	if ((m->n + 1) * 2 > m->cap) {
		struct smap old = *m;
		size_t cap = m->cap ? m->cap * 2 : 64;

		m->e = calloc(cap, sizeof(*m->e));
		if (!m->e) {
			*m = old;
			return -ENOMEM;
		}
		m->cap = cap;
		m->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.e[i].key) {
				*smap_slot(m, old.e[i].key) = old.e[i];
				m->n++;
			}
		free(old.e);
	}
	s = smap_slot(m, key);
	if (!s->key) {
		s->key = strdup(key);
		if (!s->key)
			return -ENOMEM;
		m->n++;
	}
	s->val = val;
	return 0;
}

int rp_idxv_push(struct idxv *a, size_t x)
{
	if (a->n == a->cap) {
		size_t *v = array_room(a->v, a->n, &a->cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
	}
	a->v[a->n++] = x;
	return 0;
}

/* ---- the index ---- */

/* A TCP send or recv event, its JSON dropped while loading: the fields
 * index_socket reads, and the payload bytes (decoded). */
struct rp_sock {
	const char *op; /* "send" or "recv" */
	int64_t n;
	int peek, tls_opaque;
	const char *err; /* into mem, or NULL */
	const char *id; /* into mem */
	size_t len; /* the bytes, at data */
	const char *data; /* into mem */
	char mem[];
};

int rp_marks_push(struct marks *a, size_t ev, size_t end)
{
	if (a->n == a->cap) {
		struct mark *m = array_room(a->m, a->n, &a->cap, sizeof(*m));

		if (!m)
			return -ENOMEM;
		a->m = m;
	}
	a->m[a->n++] = (struct mark){ .ev = ev, .end = end };
	return 0;
}

SHIM_LARGE struct rp_index rp_ix;

static int errno_from_name(const char *name)
{
	if (!name)
		return EIO;
	for (int e = 1; e < 4096; e++) {
		const char *n = strerrorname_np(e);

		if (n && strcmp(n, name) == 0)
			return e;
	}
	return EIO;
}

void *rp_smap_get_or_new(struct smap *m, const char *key, size_t size)
{
	void *p = rp_smap_get(m, key);

	if (p)
		return p;
	p = calloc(1, size);
	if (p && smap_put(m, key, p) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

static struct rp_conn *conn_get(const char *id, const char *proto)
{
	struct rp_conn *c = rp_smap_get(&rp_ix.conn_by_id, id);
	struct rp_conn **v;

	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->udp = proto && !strcmp(proto, "udp");
	buf_init(&c->out, 0);
	buf_init(&c->inbytes, 0);
	if (smap_put(&rp_ix.conn_by_id, id, c) < 0) {
		free(c);
		return NULL;
	}
	v = array_room(rp_ix.conns, rp_ix.nconns, &rp_ix.capconns, sizeof(*v));
	if (!v)
		return c;
	rp_ix.conns = v;
	rp_ix.conns[rp_ix.nconns++] = c;
	return c;
}

/* The conn enters its peer's queue when it first names a peer. */
static void conn_set_peer(struct rp_conn *c, size_t ci, const char *peer)
{
	char key[96];
	struct idxv *q;

	if (c->peer[0] || !peer || !*peer)
		return;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	snprintf(key, sizeof(key), "%s %s", c->udp ? "udp" : "tcp", peer);
	q = rp_smap_get_or_new(&rp_ix.peers, key, sizeof(*q));
	if (q)
		rp_idxv_push(q, ci);
}

static size_t conn_index(struct rp_conn *c)
{
	for (size_t i = rp_ix.nconns; i-- > 0;)
		if (rp_ix.conns[i] == c)
			return i;
	return 0;
}

static void conn_add_in(struct rp_conn *c, size_t evi, const struct buf *data, int eof,
			const char *peer)
{
	size_t at = c->udp ? c->dg_end.n : c->out.len;

	if (c->nin == c->capin) {
		size_t cap = c->capin ? c->capin * 2 : 8;
		struct rp_chunk *in = realloc(c->in, cap * sizeof(*in));
		size_t *off = realloc(c->in_off, cap * sizeof(*off));
		size_t *ev = realloc(c->in_ev, cap * sizeof(*ev));

		if (in)
			c->in = in;
		if (off)
			c->in_off = off;
		if (ev)
			c->in_ev = ev;
		if (!in || !off || !ev)
			return;
		c->capin = cap;
	}
	c->in_off[c->nin] = c->inbytes.len;
	c->in_ev[c->nin] = evi;
	c->in[c->nin] = (struct rp_chunk){
		.at = at, .n = data ? data->len : 0, .eof = eof, .peer = c->udp ? peer : NULL
	};
	if (data && data->len)
		buf_append(&c->inbytes, data->data, data->len);
	c->nin++;
}

static void index_socket(size_t evi, struct json_object *p)
{
	const struct rp_sock *sk = rp_ix.ev[evi].sk;
	const char *op = sk ? sk->op : jv_str(p, "op"), *id = sk ? sk->id : jv_str(p, "conn");
	const char *err = sk ? sk->err : jv_str(p, "errno"), *peer = sk ? NULL : jv_str(p, "peer");
	int64_t n = sk ? sk->n : jv_int(p, "n", -1);
	struct rp_conn *c;
	struct buf data;

	if (!op || !id)
		return;
	c = conn_get(id, sk ? "tcp" : jv_str(p, "proto"));
	if (!c)
		return;
	if (!strcmp(op, "connect")) {
		conn_set_peer(c, conn_index(c), peer);
		c->connect_seen = 1;
		rp_idxv_push(&c->opens, evi);
		if (n == 0) {
			c->connect_err = 0;
		} else if (err && (!strcmp(err, "EINPROGRESS") || !strcmp(err, "EINTR"))) {
			c->inprogress = 1;
		} else if (err && !strcmp(err, "EISCONN")) {
			/* a repeated connect after EINPROGRESS: connected */
		} else {
			c->connect_err = errno_from_name(err);
		}
		if (jv_str(p, "local"))
			snprintf(c->local, sizeof(c->local), "%s", jv_str(p, "local"));
		return;
	}
	if (!strcmp(op, "connect_result")) {
		rp_idxv_push(&c->opens, evi);
		c->connect_err = n == 0 ? 0 : errno_from_name(err);
		if (jv_str(p, "local"))
			snprintf(c->local, sizeof(c->local), "%s", jv_str(p, "local"));
		return;
	}
	if (!strcmp(op, "close") || !strcmp(op, "shutdown")) {
		rp_idxv_push(&c->closes, evi);
		return;
	}
	if (!strcmp(op, "tls")) {
		c->tls = p;
		rp_idxv_push(&c->opens, evi);
		return;
	}
	if (sk ? sk->tls_opaque : json_object_object_get_ex(p, "tls_opaque", NULL))
		c->tls_opaque = 1;
	if (strcmp(op, "send") && strcmp(op, "recv"))
		return; /* accept: served by the real kernel */
	if (n < 0 && err && (!strcmp(err, "EAGAIN") || !strcmp(err, "EINTR"))) {
		/* nothing moved; the program's retry is what counts */
		rp_ix.ev[evi].consumed = 1;
		return;
	}
	if (c->udp && !c->peer[0])
		conn_set_peer(c, conn_index(c), peer);
	buf_init(&data, 0);
	if (sk) {
		data.data = (char *)sk->data; /* a view: not released */
		data.len = sk->len;
	} else if (trace_payload_bytes(p, &data) < 0) {
		buf_release(&data);
		return;
	}
	if (!strcmp(op, "send")) {
		if (n >= 0) {
			buf_append(&c->out, data.data, data.len);
			if (c->udp)
				rp_idxv_push(&c->dg_end, c->out.len);
		}
		rp_marks_push(&c->sends, evi, c->udp ? c->dg_end.n : c->out.len);
	} else if (sk ? sk->peek : json_object_object_get_ex(p, "peek", NULL)) {
		rp_ix.ev[evi].consumed = 1; /* the bytes come again in a later recv */
	} else if (n > 0) {
		conn_add_in(c, evi, &data, 0, peer);
	} else {
		/* 0: the peer closed; an error (ECONNRESET): served as a close */
		conn_add_in(c, evi, NULL, 1, NULL);
	}
	if (!sk)
		buf_release(&data);
}

/* The fields of a TCP send or recv payload, with its bytes, in one block;
 * NULL for any other payload (kept as JSON). tmp: scratch for the bytes. */
static struct rp_sock *sock_compact(struct json_object *p, struct buf *tmp)
{
	const char *op = jv_str(p, "op"), *id = jv_str(p, "conn"), *err = jv_str(p, "errno");
	const char *proto = jv_str(p, "proto");
	size_t idlen, errlen;
	struct rp_sock *sk;
	char *m;

	if (!op || !id || !proto || strcmp(proto, "tcp") != 0 || jv_str(p, "peer"))
		return NULL;
	if (!strcmp(op, "send"))
		op = "send";
	else if (!strcmp(op, "recv"))
		op = "recv";
	else
		return NULL;
	buf_reset(tmp);
	if (trace_payload_bytes(p, tmp) < 0)
		return NULL;
	idlen = strlen(id) + 1;
	errlen = err ? strlen(err) + 1 : 0;
	sk = malloc(sizeof(*sk) + idlen + errlen + tmp->len);
	if (!sk)
		return NULL;
	m = sk->mem;
	memcpy(m, id, idlen);
	sk->id = m;
	m += idlen;
	sk->err = NULL;
	if (err) {
		memcpy(m, err, errlen);
		sk->err = m;
		m += errlen;
	}
	if (tmp->len)
		memcpy(m, tmp->data, tmp->len);
	sk->data = m;
	sk->len = tmp->len;
	sk->op = op;
	sk->n = jv_int(p, "n", -1);
	sk->peek = json_object_object_get_ex(p, "peek", NULL);
	sk->tls_opaque = json_object_object_get_ex(p, "tls_opaque", NULL);
	return sk;
}

static void index_simple(size_t evi, const char *type, const char *key)
{
	char k[600];
	struct idxv *q;

	snprintf(k, sizeof(k), "%s\x1f%s", type, key ? key : "");
	q = rp_smap_get_or_new(&rp_ix.simple, k, sizeof(*q));
	if (q)
		rp_idxv_push(q, evi);
}

static void index_event(size_t evi)
{
	struct rp_event *e = &rp_ix.ev[evi];
	struct json_object *p = e->payload;
	const char *t = e->type;
	char key[600];

	if (!strcmp(t, "socket_call")) {
		index_socket(evi, p);
	} else if (!strcmp(t, "time")) {
		rp_index_time(evi, p, e->tid);
	} else if (!strcmp(t, "random")) {
		rp_index_random(evi, p, e->tid);
	} else if (!strcmp(t, "dns")) {
		const char *fn = jv_str(p, "fn"), *name = jv_str(p, "name");
		struct idxv *q;

		if (fn && !strcmp(fn, "getnameinfo"))
			snprintf(key, sizeof(key), "%s\x1f%s:%lld", fn,
				 jv_str(p, "addr") ? jv_str(p, "addr") : "",
				 (long long)jv_int(p, "port", 0));
		else
			snprintf(key, sizeof(key), "%s\x1f%s", fn ? fn : "", name ? name : "");
		q = rp_smap_get_or_new(&rp_ix.dns, key, sizeof(*q));
		if (q)
			rp_idxv_push(q, evi);
	} else if (!strcmp(t, "process_spawn")) {
		const char *path = jv_str(p, "path"), *op = jv_str(p, "op");

		struct json_object *argv;

		if (path)
			smap_put(&rp_ix.execs, path, (void *)1);
		/* system and popen: the command line, as the hooks check it */
		if (op && (!strcmp(op, "system") || !strcmp(op, "popen")) &&
		    json_object_object_get_ex(p, "argv", &argv) &&
		    json_object_array_length(argv) == 3) {
			snprintf(key, sizeof(key), "sh -c %s",
				 json_object_get_string(json_object_array_get_idx(argv, 2)));
			smap_put(&rp_ix.execs, key, (void *)1);
		}
		index_simple(evi, t, op);
	} else if (!strcmp(t, "thread_start")) {
		snprintf(key, sizeof(key), "%lld", (long long)jv_int(p, "child_tid", -1));
		index_simple(evi, t, key);
		/* a thread that never recorded anything still existed */
		smap_put(&rp_ix.tids, key, (void *)1);
	} else if (!strcmp(t, "file_open")) {
		index_simple(evi, t, jv_str(p, "path"));
	} else if (!strcmp(t, "agent_start")) {
		rp_ix.ev[evi].consumed = 1;
		rp_ix.rec_start_ns = (int64_t)(json_object_get_double(
						       json_object_object_get(e->ev, "ts_epoch")) *
					       1e9);
	} else if (!strcmp(t, "agent_complete")) {
		index_simple(evi, t, NULL);
	} else {
		/* steps, governance, error: not inputs */
		rp_ix.ev[evi].consumed = 1;
	}
	/* events come thread by thread in runs: one put per run */
	if (e->tid != rp_ix.last_tid) {
		snprintf(key, sizeof(key), "%d", e->tid);
		if (smap_put(&rp_ix.tids, key, (void *)1) == 0)
			rp_ix.last_tid = e->tid;
	}
}

static int ev_cmp(const void *a, const void *b)
{
	const struct rp_event *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int is_exec(const struct rp_event *e, int failed)
{
	const char *op;

	if (strcmp(e->type, "process_spawn") != 0)
		return 0;
	op = jv_str(e->payload, "op");
	if (!op || strcmp(op, "exec") != 0)
		return 0;
	return json_object_object_get_ex(e->payload, "errno", NULL) == failed;
}

/* An exec'd image continues its process's logical pid and stream: keep
 * only the events of this image (shim_proc.image execs in). An exec that
 * failed is followed by a second exec event with errno. */
static void keep_image(void)
{
	size_t k = 0;
	int image = 0;

	for (size_t i = 0; i < rp_ix.nev; i++) {
		/* decided before the event may be freed: type points into it */
		int boundary = is_exec(&rp_ix.ev[i], 0) &&
			       !(i + 1 < rp_ix.nev && is_exec(&rp_ix.ev[i + 1], 1));

		if (image == shim_proc.image) {
			rp_ix.ev[k++] = rp_ix.ev[i];
		} else {
			json_object_put(rp_ix.ev[i].ev);
			free(rp_ix.ev[i].sk);
		}
		image += boundary;
	}
	rp_ix.nev = k;
}

/* The fields of a TCP send or recv line read by trace_sock_scan, with its
 * bytes, in one block, as sock_compact makes them; NULL when the bytes do
 * not decode (the JSON path then decides). tmp: scratch for the bytes. */
static struct rp_sock *sock_from_line(const struct trace_sock_line *l, struct buf *tmp)
{
	size_t errlen = l->err ? l->err_len + 1 : 0, nbytes = l->data_len;
	const char *bytes = l->data;
	struct rp_sock *sk;
	char *m;

	/* plain text (most is) needs no decoding, and no scratch copy */
	if (!l->data || l->data_esc) {
		buf_reset(tmp);
		if (trace_sock_bytes(l, tmp) < 0)
			return NULL;
		bytes = tmp->data;
		nbytes = tmp->len;
	}
	sk = malloc(sizeof(*sk) + l->conn_len + 1 + errlen + nbytes);
	if (!sk)
		return NULL;
	m = sk->mem;
	memcpy(m, l->conn, l->conn_len);
	m[l->conn_len] = '\0';
	sk->id = m;
	m += l->conn_len + 1;
	sk->err = NULL;
	if (l->err) {
		memcpy(m, l->err, l->err_len);
		m[l->err_len] = '\0';
		sk->err = m;
		m += errlen;
	}
	if (nbytes)
		memcpy(m, bytes, nbytes);
	sk->data = m;
	sk->len = nbytes;
	sk->op = l->op;
	sk->n = l->n;
	sk->peek = l->peek;
	sk->tls_opaque = l->tls_opaque;
	return sk;
}

/* Appends e to the index. @return 0 or -ENOMEM (e is not taken then). */
static int push_event(const struct rp_event *e)
{
	if (rp_ix.nev == rp_ix.capev) {
		struct rp_event *v = array_room(rp_ix.ev, rp_ix.nev, &rp_ix.capev, sizeof(*v));

		if (!v)
			return -ENOMEM;
		rp_ix.ev = v;
	}
	rp_ix.ev[rp_ix.nev++] = *e;
	return 0;
}

static int load(const char *path)
{
	struct at_error err = { 0 };
	struct trace_reader *r = trace_reader_open(path, &err);
	struct trace_sock_line sl;
	struct json_object *ev;
	struct rp_event e;
	char *line;
	size_t len;
	struct fp *f = NULL;
	struct buf tmp;
	int rc;

	if (!r) {
		log_warn("cannot replay '%s': %s", path, err.msg);
		return -EINVAL;
	}
	/* The root reports the recorded fingerprint at its end (gov_report):
	 * computed from the events parsed here rather than by reading the
	 * whole trace again then. */
	if (shim_config.report && shim_proc.parent[0] == '\0') {
		f = fp_new();
		/* compared with this run's, fingerprinted the same way */
		if (f && fp_ignore_headers(f, shim_config.replay_ignore) < 0) {
			fp_free(f);
			f = NULL;
		}
	}
	/* network_call events are derived from the socket bytes; replay serves
	 * those and the fingerprint leaves them out. */
	trace_reader_skip_type(r, "network_call");
	/* Another process's events matter only for their file_open paths,
	 * unless this process computes the fingerprint. The root parses (and
	 * so validates) every line; a child passes other pids' over. */
	if (!f && shim_proc.parent[0] != '\0')
		trace_reader_only_pid(r, shim_proc.lpid, "file_open");
	rp_ix.rec_fp[0] = '\0';
	buf_init(&tmp, 0);
	while ((rc = trace_reader_next_line(r, &line, &len, &err)) == 1) {
		struct json_object *pl;
		const char *pid, *type;

		/* Most lines are TCP bytes: read without json-c, unless the
		 * fingerprint needs every event as JSON. */
		if (!f && trace_sock_scan(line, len, &sl) == 1) {
			struct rp_sock *sk;

			if (strcmp(sl.pid, shim_proc.lpid) != 0)
				continue;
			sk = sock_from_line(&sl, &tmp);
			if (sk) {
				rc = push_event(&(struct rp_event){ .sk = sk,
								    .sockop = sk->op,
								    .seq = sl.seq,
								    .tid = sl.tid,
								    .type = "socket_call" });
				if (rc < 0) {
					free(sk);
					break;
				}
				continue;
			}
		}
		rc = trace_reader_parse_line(r, &ev, &err);
		if (rc < 0)
			break;
		pl = json_object_object_get(ev, "payload");
		pid = jv_str(ev, "pid");
		type = jv_str(ev, "type");
		if (f && fp_add(f, ev) < 0) {
			fp_free(f); /* no recorded fingerprint: gov_report reads the file */
			f = NULL;
		}

		if (type && !strcmp(type, "file_open") && jv_str(pl, "path"))
			smap_put(&rp_ix.paths, jv_str(pl, "path"), (void *)1);
		if (!pid || strcmp(pid, shim_proc.lpid) != 0) {
			json_object_put(ev);
			continue;
		}
		e = (struct rp_event){
			.ev = ev,
			.payload = pl,
			.seq = (uint64_t)jv_int(ev, "seq", 0),
			.tid = (int)jv_int(ev, "tid", 0),
			.type = type,
		};
		/* Most events are TCP bytes: their JSON goes now, so that the
		 * next events' parsing reuses its memory. */
		if (type && !strcmp(type, "socket_call"))
			e.sk = sock_compact(pl, &tmp);
		if (e.sk) {
			e.sockop = e.sk->op;
			e.type = "socket_call";
			e.ev = e.payload = NULL;
			json_object_put(ev);
		}
		rc = push_event(&e);
		if (rc < 0) {
			json_object_put(e.ev);
			free(e.sk);
			break;
		}
	}
	if (rc == -ENOMEM)
		snprintf(err.msg, sizeof(err.msg), "out of memory");
	buf_release(&tmp);
	trace_reader_free(r);
	if (f && rc == 0 && fp_final(f, rp_ix.rec_fp) < 0)
		rp_ix.rec_fp[0] = '\0';
	fp_free(f);
	if (rc < 0) {
		log_warn("cannot replay '%s': %s", path, err.msg);
		return rc;
	}
	/* One thread's trace is in seq order already: no sort. (Equal seqs
	 * keep file order, as Debian 12's glibc qsort, a merge sort, does.) */
	for (size_t i = 1; i < rp_ix.nev; i++)
		if (rp_ix.ev[i - 1].seq > rp_ix.ev[i].seq) {
			qsort(rp_ix.ev, rp_ix.nev, sizeof(*rp_ix.ev), ev_cmp);
			break;
		}
	keep_image();
	rp_ix.last_tid = -1;
	for (size_t i = 0; i < rp_ix.nev; i++) {
		index_event(i);
		free(rp_ix.ev[i].sk);
		rp_ix.ev[i].sk = NULL;
	}
	/* Fix the chunk pointers now that the byte buffers stopped growing. */
	for (size_t i = 0; i < rp_ix.nconns; i++) {
		struct rp_conn *c = rp_ix.conns[i];

		for (size_t k = 0; k < c->nin; k++)
			c->in[k].p = (const unsigned char *)c->inbytes.data + c->in_off[k];
	}
	return 0;
}

const char *rp_recorded_fp(void)
{
	return rp_ix.rec_fp[0] ? rp_ix.rec_fp : NULL;
}

int rp_load(const char *path)
{
	int r;

	pthread_mutex_lock(&rp_lock);
	snprintf(rp_ix.path, sizeof(rp_ix.path), "%s", path);
	rp_ix.replay_start_ns = rec_now_ns();
	rp_http_names_load();
	r = load(path);
	rp_ix.loaded = r == 0;
	shim_replaying = r == 0;
	pthread_mutex_unlock(&rp_lock);
	return r;
}

void rp_after_fork_child(void)
{
	char path[sizeof(rp_ix.path)];

	if (!shim_replaying)
		return;
	/* The parent's index stays behind, unreferenced: its memory belongs
	 * to this process now, but freeing hundreds of objects here would
	 * only slow every fork. */
	memcpy(path, rp_ix.path, sizeof(path));
	memset(&rp_ix, 0, sizeof(rp_ix));
	pthread_mutex_init(&rp_lock, NULL);
	rp_load(path);
}

/* ---- DNS and the rest ---- */

struct json_object *rp_dns_take(const char *fn, const char *key)
{
	char k[600];
	struct idxv *q;
	struct json_object *p = NULL;

	snprintf(k, sizeof(k), "%s\x1f%s", fn, key ? key : "");
	pthread_mutex_lock(&rp_lock);
	q = rp_smap_get(&rp_ix.dns, k);
	if (q && q->head < q->n) {
		size_t evi = q->v[q->head++];

		rp_ix.ev[evi].consumed = 1;
		p = rp_ix.ev[evi].payload;
	}
	pthread_mutex_unlock(&rp_lock);
	return p;
}

int rp_path_known(const char *path)
{
	int r;

	pthread_mutex_lock(&rp_lock);
	r = rp_smap_get(&rp_ix.paths, path) != NULL;
	pthread_mutex_unlock(&rp_lock);
	return r;
}

int rp_exec_known(const char *path)
{
	int r;

	pthread_mutex_lock(&rp_lock);
	r = rp_smap_get(&rp_ix.execs, path) != NULL;
	pthread_mutex_unlock(&rp_lock);
	return r;
}

size_t rp_nevents(void)
{
	return rp_ix.nev;
}

int rp_tid_known(int tid)
{
	char key[24];
	int r;

	snprintf(key, sizeof(key), "%d", tid);
	pthread_mutex_lock(&rp_lock);
	r = rp_smap_get(&rp_ix.tids, key) != NULL;
	pthread_mutex_unlock(&rp_lock);
	return r;
}

void rp_consume_simple(const char *type, const char *key)
{
	char k[600];
	struct idxv *q;

	snprintf(k, sizeof(k), "%s\x1f%s", type, key ? key : "");
	pthread_mutex_lock(&rp_lock);
	q = rp_smap_get(&rp_ix.simple, k);
	if (q && q->head < q->n)
		rp_ix.ev[q->v[q->head++]].consumed = 1;
	pthread_mutex_unlock(&rp_lock);
}

/* ---- connections ---- */

struct idxv *rp_peer_queue(const char *peer, int udp)
{
	char key[96];

	snprintf(key, sizeof(key), "%s %s", udp ? "udp" : "tcp", peer);
	return rp_smap_get(&rp_ix.peers, key);
}

static void conn_claim(struct rp_conn *c)
{
	c->claimed = 1;
	for (size_t i = 0; i < c->opens.n; i++)
		rp_ix.ev[c->opens.v[i]].consumed = 1;
}

/* The first unclaimed connection of q, advancing the head past claimed ones. */
static struct rp_conn *queue_first(struct idxv *q)
{
	while (q->head < q->n && rp_ix.conns[q->v[q->head]]->claimed)
		q->head++;
	return q->head < q->n ? rp_ix.conns[q->v[q->head]] : NULL;
}

int rp_conn_connect(const char *peer, int udp, struct rp_conn **ret_c, int *ret_inprogress,
		    char ret_local[64], struct json_object **ret_tls)
{
	struct idxv *q;
	struct rp_conn *c;
	int r = -ENOENT;

	*ret_c = NULL;
	*ret_inprogress = 0;
	pthread_mutex_lock(&rp_lock);
	q = rp_peer_queue(peer, udp);
	c = q ? queue_first(q) : NULL;
	if (!c)
		goto out;
	*ret_inprogress = c->inprogress;
	memcpy(ret_local, c->local, sizeof(c->local));
	*ret_tls = c->tls;
	if (c->connect_err) {
		/* A socket that never connected carries no input: its close
		 * is served with the failure. */
		conn_claim(c);
		for (size_t i = 0; i < c->closes.n; i++)
			rp_ix.ev[c->closes.v[i]].consumed = 1;
		r = c->connect_err;
		goto out;
	}
	/* The peer spoke first (a greeting): nothing from the program will
	 * tell connections apart, so take this one now. */
	if (!udp && c->nin && c->in[0].at == 0) {
		conn_claim(c);
		*ret_c = c;
	}
	r = 0;
out:
	pthread_mutex_unlock(&rp_lock);
	return r;
}

struct rp_conn *rp_conn_bind(const char *peer, int udp, const void *sent, size_t n)
{
	struct idxv *q;
	struct rp_conn *c = NULL, *first = NULL;

	pthread_mutex_lock(&rp_lock);
	q = rp_peer_queue(peer, udp);
	if (!q || !queue_first(q))
		goto out;
	for (size_t i = q->head; i < q->n; i++) {
		struct rp_conn *k = rp_ix.conns[q->v[i]];
		size_t m;

		if (k->claimed || k->connect_err)
			continue;
		if (!first)
			first = k;
		m = udp ? (k->dg_end.n ? k->dg_end.v[0] : 0) : k->out.len;
		if (m > n)
			m = n;
		if (n && m == n && memcmp(k->out.data, sent, m) == 0) {
			c = k;
			break;
		}
		if (i - q->head > 4096)
			break; /* bound the scan; the first unclaimed serves */
	}
	if (!c)
		c = first;
	if (c)
		conn_claim(c);
out:
	pthread_mutex_unlock(&rp_lock);
	return c;
}

const unsigned char *rp_conn_out(struct rp_conn *c, size_t *ret_len)
{
	*ret_len = c->out.len;
	return (const unsigned char *)c->out.data;
}

int rp_conn_dgram(struct rp_conn *c, size_t k, const unsigned char **ret_p, size_t *ret_n)
{
	size_t start;

	if (k >= c->dg_end.n)
		return -ENOENT;
	start = k ? c->dg_end.v[k - 1] : 0;
	*ret_p = (const unsigned char *)c->out.data + start;
	*ret_n = c->dg_end.v[k] - start;
	return 0;
}

const struct rp_chunk *rp_conn_chunk(struct rp_conn *c, size_t i)
{
	return i < c->nin ? &c->in[i] : NULL;
}

const char *rp_conn_local(struct rp_conn *c)
{
	return c->local;
}

struct json_object *rp_conn_tls(struct rp_conn *c)
{
	return c->tls;
}

int rp_conn_tls_opaque(struct rp_conn *c)
{
	return c->tls_opaque;
}

void rp_conn_progress(struct rp_conn *c, size_t sent)
{
	pthread_mutex_lock(&rp_lock);
	while (c->sends.done < c->sends.n && c->sends.m[c->sends.done].end <= sent)
		rp_ix.ev[c->sends.m[c->sends.done++].ev].consumed = 1;
	pthread_mutex_unlock(&rp_lock);
}

void rp_conn_served(struct rp_conn *c, size_t i)
{
	pthread_mutex_lock(&rp_lock);
	if (i < c->nin)
		rp_ix.ev[c->in_ev[i]].consumed = 1;
	pthread_mutex_unlock(&rp_lock);
}

void rp_conn_closed(struct rp_conn *c)
{
	pthread_mutex_lock(&rp_lock);
	for (size_t i = 0; i < c->closes.n; i++)
		rp_ix.ev[c->closes.v[i]].consumed = 1;
	pthread_mutex_unlock(&rp_lock);
}

/* ---- the end ---- */

static void describe(const struct rp_event *e, char *out, size_t n)
{
	const char *what = NULL;
	struct json_object *p = e->payload;

	if (!strcmp(e->type, "socket_call"))
		what = e->sockop ? e->sockop : jv_str(p, "op");
	else if (!strcmp(e->type, "dns"))
		what = jv_str(p, "name");
	else if (!strcmp(e->type, "random"))
		what = jv_str(p, "source");
	else if (!strcmp(e->type, "time"))
		what = jv_str(p, "clock");
	else if (!strcmp(e->type, "file_open"))
		what = jv_str(p, "path");
	else if (!strcmp(e->type, "process_spawn"))
		what = jv_str(p, "path");
	snprintf(out, n, "seq %llu %s%s%.60s", (unsigned long long)e->seq, e->type, what ? " " : "",
		 what ? what : "");
}

size_t rp_summary(size_t *ret_consumed, size_t *ret_total, char out[][96], size_t max)
{
	size_t used = 0, k = 0;

	pthread_mutex_lock(&rp_lock);
	/* A pool that opened fewer connections than live: a connection whose
	 * every request was served on another one has nothing left to give. */
	for (size_t i = 0; i < rp_ix.nconns; i++) {
		struct rp_conn *c = rp_ix.conns[i];

		if (c->claimed || !c->http_n || c->http_taken < c->http_n)
			continue;
		conn_claim(c);
		for (size_t j = 0; j < c->closes.n; j++)
			rp_ix.ev[c->closes.v[j]].consumed = 1;
	}
	for (size_t i = 0; i < rp_ix.nev; i++) {
		if (rp_ix.ev[i].consumed) {
			used++;
			continue;
		}
		if (k < max)
			describe(&rp_ix.ev[i], out[k++], 96);
	}
	*ret_consumed = used;
	*ret_total = rp_ix.nev;
	pthread_mutex_unlock(&rp_lock);
	return k;
}
