/* SPDX-License-Identifier: MIT */
/* replayer.c -- the replay index: this process's recorded events, by what the hooks ask for.
 *
 * See replayer.h for the model. Everything here runs under the shim guard
 * and under rp_lock; the index is built once (per process image, and again
 * in a fork child) and never freed: it lives as long as the process.
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
#include <strings.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/error.h"
#include "common/fingerprint.h"
#include "common/http1.h"
#include "common/jsonv.h"
#include "common/log.h"
#include "common/trace.h"
#include "shim/governance.h"
#include "shim/recorder.h"
#include "shim/shim.h"

int shim_replaying;

static pthread_mutex_t rp_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- a string -> pointer map (open addressing, linear probing) ---- */

struct smap_ent {
	char *key;
	void *val;
};

struct smap {
	struct smap_ent *e;
	size_t cap, n; /* cap is 0 or a power of two */
};

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

static void *smap_get(struct smap *m, const char *key)
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

/* A growable array of size_t (event or connection indices). */
struct idxv {
	size_t *v;
	size_t n, cap, head; /* head: first entry not yet taken (FIFO use) */
};

static int idxv_push(struct idxv *a, size_t x)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		size_t *v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
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

struct rp_event {
	struct json_object *ev; /* owned, or NULL for a socket event in sk */
	struct json_object *payload; /* borrowed from ev */
	struct rp_sock *sk; /* owned until indexed, or NULL */
	const char *sockop; /* sk's op, kept after sk is freed */
	uint64_t seq;
	int tid;
	const char *type; /* borrowed from ev, or a literal */
	int consumed;
};

/* A mark in a stream: event ev ends at offset end. */
struct mark {
	size_t ev, end;
};

struct marks {
	struct mark *m;
	size_t n, cap, done; /* done: marks already counted consumed */
};

static int marks_push(struct marks *a, size_t ev, size_t end)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		struct mark *m = realloc(a->m, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		a->m = m;
		a->cap = cap;
	}
	a->m[a->n++] = (struct mark){ .ev = ev, .end = end };
	return 0;
}

struct rp_conn {
	char id[32];
	int udp;
	char peer[64];
	char local[64];
	int connect_seen; /* a connect (or first UDP send) opened it */
	int connect_err; /* live outcome: 0 or errno */
	int inprogress; /* connect said EINPROGRESS */
	int claimed;
	struct buf out; /* TCP: every byte sent; UDP: datagrams back to back */
	struct idxv dg_end; /* UDP: end offset of each sent datagram in out */
	struct buf inbytes; /* received bytes back to back */
	struct rp_chunk *in;
	size_t *in_off; /* offset of in[i] in inbytes (pointers fixed after load) */
	size_t *in_ev;
	size_t nin, capin;
	struct marks sends; /* send events by end offset (bytes or datagrams) */
	struct idxv opens; /* connect/connect_result events */
	struct idxv closes; /* close/shutdown events */
	struct json_object *tls; /* the "tls" event's payload (session facts), or NULL */
	int tls_opaque; /* recorded as ciphertext from a TLS library no hook saw */
	size_t http_n, http_taken; /* HTTP/1 exchanges indexed, and served */
};

/* A stream of clock values or random bytes for one (tid, clock|source). */
struct stream {
	int64_t *v; /* time */
	size_t nv, capv;
	struct buf bytes; /* random */
	size_t pos;
	struct marks marks;
	int64_t last_served; /* time: the last value given out */
	int64_t last_real; /* time: the real clock when it was */
	int tid;
};

static struct {
	int loaded;
	char path[4096];
	struct rp_event *ev;
	size_t nev, capev;
	struct rp_conn **conns;
	size_t nconns, capconns;
	struct smap conn_by_id; /* "T.K" -> rp_conn */
	struct smap peers; /* "tcp 1.2.3.4:80" -> idxv of conn indices */
	struct smap dns; /* "fn\x1fkey" -> idxv of event indices */
	struct smap streams; /* "t tid clock" / "r tid source" -> stream */
	struct stream **rstreams; /* random streams, for leftovers */
	size_t nrstreams, caprstreams;
	struct smap paths; /* every file_open path of the trace */
	struct smap execs; /* this process's exec/spawn paths */
	struct smap tids; /* "N" for this process's threads */
	struct smap simple; /* "type\x1fkey" -> idxv of events (spawns, ...) */
	int64_t rec_start_ns; /* agent_start's time */
	int64_t replay_start_ns;
	/* The recorded trace's fingerprint, computed while loading in the
	 * process that reports (see rp_recorded_fp); "" when not. */
	char rec_fp[FP_HEX_LEN + 1];
	int last_tid; /* index_event: the tid put into tids last, or -1 */
} ix;

static const char *const clock_names[SHIM_CLOCK_COUNT] = {
	[SHIM_CLOCK_REALTIME] = "realtime", [SHIM_CLOCK_REALTIME_COARSE] = "realtime_coarse",
	[SHIM_CLOCK_TAI] = "tai",	    [SHIM_CLOCK_GETTIMEOFDAY] = "gettimeofday",
	[SHIM_CLOCK_TIME] = "time",	    [SHIM_CLOCK_TIMESPEC_GET] = "timespec_get",
};

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

static void *smap_get_or_new(struct smap *m, const char *key, size_t size)
{
	void *p = smap_get(m, key);

	if (p)
		return p;
	p = calloc(1, size);
	if (p && smap_put(m, key, p) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

static struct stream *stream_get(char kind, int tid, const char *what, int create)
{
	char key[128];
	struct stream *s;

	snprintf(key, sizeof(key), "%c %d %s", kind, tid, what);
	s = smap_get(&ix.streams, key);
	if (s || !create)
		return s;
	s = smap_get_or_new(&ix.streams, key, sizeof(*s));
	if (!s)
		return NULL;
	buf_init(&s->bytes, 0);
	s->tid = tid;
	if (kind == 'r' && ix.nrstreams == ix.caprstreams) {
		size_t cap = ix.caprstreams ? ix.caprstreams * 2 : 8;
		struct stream **v = realloc(ix.rstreams, cap * sizeof(*v));

		if (!v)
			return s;
		ix.rstreams = v;
		ix.caprstreams = cap;
	}
	if (kind == 'r')
		ix.rstreams[ix.nrstreams++] = s;
	return s;
}

static const char *random_class(const char *source)
{
	if (!source)
		return NULL;
	if (!strcmp(source, "getrandom") || !strcmp(source, "syscall_getrandom"))
		return "getrandom";
	if (!strcmp(source, "/dev/urandom") || !strcmp(source, "/dev/random"))
		return "urandom";
	if (!strcmp(source, "arc4random") || !strcmp(source, "arc4random_buf"))
		return "arc4random";
	return source; /* getentropy, arc4random_uniform */
}

static struct rp_conn *conn_get(const char *id, const char *proto)
{
	struct rp_conn *c = smap_get(&ix.conn_by_id, id);

	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->udp = proto && !strcmp(proto, "udp");
	buf_init(&c->out, 0);
	buf_init(&c->inbytes, 0);
	if (smap_put(&ix.conn_by_id, id, c) < 0) {
		free(c);
		return NULL;
	}
	if (ix.nconns == ix.capconns) {
		size_t cap = ix.capconns ? ix.capconns * 2 : 16;
		struct rp_conn **v = realloc(ix.conns, cap * sizeof(*v));

		if (!v)
			return c;
		ix.conns = v;
		ix.capconns = cap;
	}
	ix.conns[ix.nconns++] = c;
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
	q = smap_get_or_new(&ix.peers, key, sizeof(*q));
	if (q)
		idxv_push(q, ci);
}

static size_t conn_index(struct rp_conn *c)
{
	for (size_t i = ix.nconns; i-- > 0;)
		if (ix.conns[i] == c)
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
	const struct rp_sock *sk = ix.ev[evi].sk;
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
		idxv_push(&c->opens, evi);
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
		idxv_push(&c->opens, evi);
		c->connect_err = n == 0 ? 0 : errno_from_name(err);
		if (jv_str(p, "local"))
			snprintf(c->local, sizeof(c->local), "%s", jv_str(p, "local"));
		return;
	}
	if (!strcmp(op, "close") || !strcmp(op, "shutdown")) {
		idxv_push(&c->closes, evi);
		return;
	}
	if (!strcmp(op, "tls")) {
		c->tls = p;
		idxv_push(&c->opens, evi);
		return;
	}
	if (sk ? sk->tls_opaque : json_object_object_get_ex(p, "tls_opaque", NULL))
		c->tls_opaque = 1;
	if (strcmp(op, "send") && strcmp(op, "recv"))
		return; /* accept: served by the real kernel */
	if (n < 0 && err && (!strcmp(err, "EAGAIN") || !strcmp(err, "EINTR"))) {
		/* nothing moved; the program's retry is what counts */
		ix.ev[evi].consumed = 1;
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
				idxv_push(&c->dg_end, c->out.len);
		}
		marks_push(&c->sends, evi, c->udp ? c->dg_end.n : c->out.len);
	} else if (sk ? sk->peek : json_object_object_get_ex(p, "peek", NULL)) {
		ix.ev[evi].consumed = 1; /* the bytes come again in a later recv */
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

static void index_time(size_t evi, struct json_object *p, int tid)
{
	const char *clk = jv_str(p, "clock");
	struct stream *s;
	int64_t *v = NULL;
	long n;

	if (!clk)
		return;
	n = trace_time_values(p, &v);
	if (n <= 0)
		return;
	s = stream_get('t', tid, clk, 1);
	if (s && s->nv + (size_t)n > s->capv) {
		size_t cap = (s->nv + (size_t)n) * 2;
		int64_t *nv = realloc(s->v, cap * sizeof(*nv));

		if (nv) {
			s->v = nv;
			s->capv = cap;
		}
	}
	if (!s || s->nv + (size_t)n > s->capv) {
		free(v);
		return;
	}
	memcpy(s->v + s->nv, v, (size_t)n * sizeof(*v));
	s->nv += (size_t)n;
	marks_push(&s->marks, evi, s->nv);
	free(v);
}

static void index_random(size_t evi, struct json_object *p, int tid)
{
	const char *cls = random_class(jv_str(p, "source"));
	struct stream *s;
	struct buf data;

	if (!cls || jv_int(p, "n", -1) <= 0) {
		ix.ev[evi].consumed = 1; /* a failed read serves nothing */
		return;
	}
	s = stream_get('r', tid, cls, 1);
	if (!s)
		return;
	buf_init(&data, 0);
	if (trace_payload_bytes(p, &data) == 0 && data.len)
		buf_append(&s->bytes, data.data, data.len);
	buf_release(&data);
	marks_push(&s->marks, evi, s->bytes.len);
}

static void index_simple(size_t evi, const char *type, const char *key)
{
	char k[600];
	struct idxv *q;

	snprintf(k, sizeof(k), "%s\x1f%s", type, key ? key : "");
	q = smap_get_or_new(&ix.simple, k, sizeof(*q));
	if (q)
		idxv_push(q, evi);
}

static void index_event(size_t evi)
{
	struct rp_event *e = &ix.ev[evi];
	struct json_object *p = e->payload;
	const char *t = e->type;
	char key[600];

	if (!strcmp(t, "socket_call")) {
		index_socket(evi, p);
	} else if (!strcmp(t, "time")) {
		index_time(evi, p, e->tid);
	} else if (!strcmp(t, "random")) {
		index_random(evi, p, e->tid);
	} else if (!strcmp(t, "dns")) {
		const char *fn = jv_str(p, "fn"), *name = jv_str(p, "name");
		struct idxv *q;

		if (fn && !strcmp(fn, "getnameinfo"))
			snprintf(key, sizeof(key), "%s\x1f%s:%lld", fn,
				 jv_str(p, "addr") ? jv_str(p, "addr") : "",
				 (long long)jv_int(p, "port", 0));
		else
			snprintf(key, sizeof(key), "%s\x1f%s", fn ? fn : "", name ? name : "");
		q = smap_get_or_new(&ix.dns, key, sizeof(*q));
		if (q)
			idxv_push(q, evi);
	} else if (!strcmp(t, "process_spawn")) {
		const char *path = jv_str(p, "path"), *op = jv_str(p, "op");

		struct json_object *argv;

		if (path)
			smap_put(&ix.execs, path, (void *)1);
		/* system and popen: the command line, as the hooks check it */
		if (op && (!strcmp(op, "system") || !strcmp(op, "popen")) &&
		    json_object_object_get_ex(p, "argv", &argv) &&
		    json_object_array_length(argv) == 3) {
			snprintf(key, sizeof(key), "sh -c %s",
				 json_object_get_string(json_object_array_get_idx(argv, 2)));
			smap_put(&ix.execs, key, (void *)1);
		}
		index_simple(evi, t, op);
	} else if (!strcmp(t, "thread_start")) {
		snprintf(key, sizeof(key), "%lld", (long long)jv_int(p, "child_tid", -1));
		index_simple(evi, t, key);
		/* a thread that never recorded anything still existed */
		smap_put(&ix.tids, key, (void *)1);
	} else if (!strcmp(t, "file_open")) {
		index_simple(evi, t, jv_str(p, "path"));
	} else if (!strcmp(t, "agent_start")) {
		ix.ev[evi].consumed = 1;
		ix.rec_start_ns = (int64_t)(json_object_get_double(
						    json_object_object_get(e->ev, "ts_epoch")) *
					    1e9);
	} else if (!strcmp(t, "agent_complete")) {
		index_simple(evi, t, NULL);
	} else {
		/* steps, governance, error: not inputs */
		ix.ev[evi].consumed = 1;
	}
	/* events come thread by thread in runs: one put per run */
	if (e->tid != ix.last_tid) {
		snprintf(key, sizeof(key), "%d", e->tid);
		if (smap_put(&ix.tids, key, (void *)1) == 0)
			ix.last_tid = e->tid;
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

	for (size_t i = 0; i < ix.nev; i++) {
		/* decided before the event may be freed: type points into it */
		int boundary =
			is_exec(&ix.ev[i], 0) && !(i + 1 < ix.nev && is_exec(&ix.ev[i + 1], 1));

		if (image == shim_proc.image) {
			ix.ev[k++] = ix.ev[i];
		} else {
			json_object_put(ix.ev[i].ev);
			free(ix.ev[i].sk);
		}
		image += boundary;
	}
	ix.nev = k;
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
	if (ix.nev == ix.capev) {
		size_t cap = ix.capev ? ix.capev * 2 : 256;
		struct rp_event *v = realloc(ix.ev, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ix.ev = v;
		ix.capev = cap;
	}
	ix.ev[ix.nev++] = *e;
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
	ix.rec_fp[0] = '\0';
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
			smap_put(&ix.paths, jv_str(pl, "path"), (void *)1);
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
	if (f && rc == 0 && fp_final(f, ix.rec_fp) < 0)
		ix.rec_fp[0] = '\0';
	fp_free(f);
	if (rc < 0) {
		log_warn("cannot replay '%s': %s", path, err.msg);
		return rc;
	}
	/* One thread's trace is in seq order already: no sort. (Equal seqs
	 * keep file order, as Debian 12's glibc qsort, a merge sort, does.) */
	for (size_t i = 1; i < ix.nev; i++)
		if (ix.ev[i - 1].seq > ix.ev[i].seq) {
			qsort(ix.ev, ix.nev, sizeof(*ix.ev), ev_cmp);
			break;
		}
	keep_image();
	ix.last_tid = -1;
	for (size_t i = 0; i < ix.nev; i++) {
		index_event(i);
		free(ix.ev[i].sk);
		ix.ev[i].sk = NULL;
	}
	/* Fix the chunk pointers now that the byte buffers stopped growing. */
	for (size_t i = 0; i < ix.nconns; i++) {
		struct rp_conn *c = ix.conns[i];

		for (size_t k = 0; k < c->nin; k++)
			c->in[k].p = (const unsigned char *)c->inbytes.data + c->in_off[k];
	}
	return 0;
}

/* HTTP1_REPLAY_NOISE, and the names ATTRACE_REPLAY_IGNORE adds (checked by
 * config.c): loaded with the trace, kept for the image's life. */
static struct http1_names noise, ignore;

const char *rp_recorded_fp(void)
{
	return ix.rec_fp[0] ? ix.rec_fp : NULL;
}

int rp_load(const char *path)
{
	int r;

	pthread_mutex_lock(&rp_lock);
	snprintf(ix.path, sizeof(ix.path), "%s", path);
	ix.replay_start_ns = rec_now_ns();
	if (!noise.n && (http1_names_parse(&noise, HTTP1_REPLAY_NOISE) < 0 ||
			 http1_names_parse(&ignore, shim_config.replay_ignore) < 0))
		log_warn("out of memory: every header compared");
	r = load(path);
	ix.loaded = r == 0;
	shim_replaying = r == 0;
	pthread_mutex_unlock(&rp_lock);
	return r;
}

void rp_after_fork_child(void)
{
	char path[sizeof(ix.path)];

	if (!shim_replaying)
		return;
	/* The parent's index stays behind, unreferenced: its memory belongs
	 * to this process now, but freeing hundreds of objects here would
	 * only slow every fork. */
	memcpy(path, ix.path, sizeof(path));
	memset(&ix, 0, sizeof(ix));
	pthread_mutex_init(&rp_lock, NULL);
	rp_load(path);
}

/* ---- time ---- */

int64_t rp_time(struct shim_thread *t, int clk, int64_t real_ns)
{
	struct stream *s;
	int64_t v;

	if (clk < 0 || clk >= SHIM_CLOCK_COUNT)
		return real_ns;
	pthread_mutex_lock(&rp_lock);
	s = stream_get('t', t->tid, clock_names[clk], 0);
	if (!s && t->tid != 0)
		s = stream_get('t', 0, clock_names[clk], 0); /* a thread the trace lacks */
	if (!s) {
		/* never read live: the real clock, moved to the recorded start */
		v = ix.rec_start_ns ? real_ns - ix.replay_start_ns + ix.rec_start_ns : real_ns;
	} else if (s->pos < s->nv) {
		v = s->v[s->pos++];
		while (s->marks.done < s->marks.n && s->marks.m[s->marks.done].end <= s->pos)
			ix.ev[s->marks.m[s->marks.done++].ev].consumed = 1;
		s->last_served = v;
		s->last_real = real_ns;
	} else {
		/* past the recording: time moves on from the last value */
		v = s->last_served + (real_ns - s->last_real);
		if (v < s->last_served)
			v = s->last_served;
	}
	pthread_mutex_unlock(&rp_lock);
	return v;
}

/* ---- randomness ---- */

static size_t stream_left(const struct stream *s)
{
	return s->bytes.len - s->pos;
}

static void stream_take(struct stream *s, void *p, size_t n)
{
	memcpy(p, s->bytes.data + s->pos, n);
	s->pos += n;
	while (s->marks.done < s->marks.n && s->marks.m[s->marks.done].end <= s->pos)
		ix.ev[s->marks.m[s->marks.done++].ev].consumed = 1;
}

int rp_random(struct shim_thread *t, const char *source, void *p, size_t n)
{
	const char *cls = random_class(source);
	struct stream *s;
	char want[64];
	int r = -ENODATA;

	pthread_mutex_lock(&rp_lock);
	s = stream_get('r', t->tid, cls, 0);
	if (s && stream_left(s) >= n) {
		stream_take(s, p, n);
		r = 0;
		goto out;
	}
	/* Pool threads take tasks in another order than live: another
	 * thread's unread bytes of the same source serve, in tid order. */
	snprintf(want, sizeof(want), "%s", cls);
	for (size_t i = 0; i < ix.nrstreams; i++) {
		struct stream *o = ix.rstreams[i];
		char key[128];

		snprintf(key, sizeof(key), "r %d %s", o->tid, want);
		if (smap_get(&ix.streams, key) != o || stream_left(o) < n)
			continue;
		stream_take(o, p, n);
		r = 0;
		break;
	}
out:
	pthread_mutex_unlock(&rp_lock);
	return r;
}

/* ---- DNS and the rest ---- */

struct json_object *rp_dns_take(const char *fn, const char *key)
{
	char k[600];
	struct idxv *q;
	struct json_object *p = NULL;

	snprintf(k, sizeof(k), "%s\x1f%s", fn, key ? key : "");
	pthread_mutex_lock(&rp_lock);
	q = smap_get(&ix.dns, k);
	if (q && q->head < q->n) {
		size_t evi = q->v[q->head++];

		ix.ev[evi].consumed = 1;
		p = ix.ev[evi].payload;
	}
	pthread_mutex_unlock(&rp_lock);
	return p;
}

int rp_path_known(const char *path)
{
	int r;

	pthread_mutex_lock(&rp_lock);
	r = smap_get(&ix.paths, path) != NULL;
	pthread_mutex_unlock(&rp_lock);
	return r;
}

int rp_exec_known(const char *path)
{
	int r;

	pthread_mutex_lock(&rp_lock);
	r = smap_get(&ix.execs, path) != NULL;
	pthread_mutex_unlock(&rp_lock);
	return r;
}

size_t rp_nevents(void)
{
	return ix.nev;
}

int rp_tid_known(int tid)
{
	char key[24];
	int r;

	snprintf(key, sizeof(key), "%d", tid);
	pthread_mutex_lock(&rp_lock);
	r = smap_get(&ix.tids, key) != NULL;
	pthread_mutex_unlock(&rp_lock);
	return r;
}

void rp_consume_simple(const char *type, const char *key)
{
	char k[600];
	struct idxv *q;

	snprintf(k, sizeof(k), "%s\x1f%s", type, key ? key : "");
	pthread_mutex_lock(&rp_lock);
	q = smap_get(&ix.simple, k);
	if (q && q->head < q->n)
		ix.ev[q->v[q->head++]].consumed = 1;
	pthread_mutex_unlock(&rp_lock);
}

/* ---- connections ---- */

static struct idxv *peer_queue(const char *peer, int udp)
{
	char key[96];

	snprintf(key, sizeof(key), "%s %s", udp ? "udp" : "tcp", peer);
	return smap_get(&ix.peers, key);
}

static void conn_claim(struct rp_conn *c)
{
	c->claimed = 1;
	for (size_t i = 0; i < c->opens.n; i++)
		ix.ev[c->opens.v[i]].consumed = 1;
}

/* The first unclaimed connection of q, advancing the head past claimed ones. */
static struct rp_conn *queue_first(struct idxv *q)
{
	while (q->head < q->n && ix.conns[q->v[q->head]]->claimed)
		q->head++;
	return q->head < q->n ? ix.conns[q->v[q->head]] : NULL;
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
	q = peer_queue(peer, udp);
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
			ix.ev[c->closes.v[i]].consumed = 1;
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
	q = peer_queue(peer, udp);
	if (!q || !queue_first(q))
		goto out;
	for (size_t i = q->head; i < q->n; i++) {
		struct rp_conn *k = ix.conns[q->v[i]];
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
		ix.ev[c->sends.m[c->sends.done++].ev].consumed = 1;
	pthread_mutex_unlock(&rp_lock);
}

void rp_conn_served(struct rp_conn *c, size_t i)
{
	pthread_mutex_lock(&rp_lock);
	if (i < c->nin)
		ix.ev[c->in_ev[i]].consumed = 1;
	pthread_mutex_unlock(&rp_lock);
}

void rp_conn_closed(struct rp_conn *c)
{
	pthread_mutex_lock(&rp_lock);
	for (size_t i = 0; i < c->closes.n; i++)
		ix.ev[c->closes.v[i]].consumed = 1;
	pthread_mutex_unlock(&rp_lock);
}

/* ---- HTTP/1 exchanges ---- */

struct rp_http {
	struct rp_conn *c;
	size_t req_off, req_len; /* in c->out */
	struct http1_req r; /* spans relative to req_off */
	size_t resp_off, resp_len, interim; /* in c->inbytes */
	int eof; /* the peer closed after the response */
	uint64_t seq; /* of the send completing the request: FIFO order */
	int taken;
};

struct peer_http {
	struct rp_http *v;
	size_t n, cap;
	struct smap bykey; /* key hash (hex) -> idxv of v[] indices, in order */
};

static int conn_eof(const struct rp_conn *c)
{
	for (size_t i = 0; i < c->nin; i++)
		if (c->in[i].eof)
			return 1;
	return 0;
}

static int http_cmp(const void *a, const void *b)
{
	const struct rp_http *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Frames the recorded exchanges of c into ph. */
static void index_http_conn(struct peer_http *ph, struct rp_conn *c)
{
	const unsigned char *out = (const unsigned char *)c->out.data;
	const unsigned char *in = (const unsigned char *)c->inbytes.data;
	size_t off = 0, roff = 0, m = 0;
	int eof = conn_eof(c);

	if (c->udp || c->tls_opaque || c->connect_err || !http1_is_request(out, c->out.len))
		return;
	while (off < c->out.len) {
		struct http1_req r;
		struct http1_resp resp;
		struct rp_http *h;
		int head, rr;

		if (http1_request(out + off, c->out.len - off, &r) != 1)
			break;
		head = r.method.len == 4 && memcmp(out + off, "HEAD", 4) == 0;
		rr = http1_response(in + roff, c->inbytes.len - roff, head, eof, &resp);
		if (rr < 0)
			break;
		if (rr == 0) /* unanswered, or answered in part: what came */
			resp.len = c->inbytes.len - roff;
		if (ph->n == ph->cap) {
			size_t cap = ph->cap ? ph->cap * 2 : 16;
			struct rp_http *v = realloc(ph->v, cap * sizeof(*v));

			if (!v)
				return;
			ph->v = v;
			ph->cap = cap;
		}
		h = &ph->v[ph->n++];
		c->http_n++;
		*h = (struct rp_http){ .c = c,
				       .req_off = off,
				       .req_len = r.len,
				       .r = r,
				       .resp_off = roff,
				       .resp_len = resp.len,
				       .interim = resp.interim_len };
		while (m < c->sends.n && c->sends.m[m].end <= off)
			m++;
		h->seq = m < c->sends.n ? ix.ev[c->sends.m[m].ev].seq : 0;
		off += r.len;
		roff += resp.len;
		h->eof = eof && roff >= c->inbytes.len;
		if (rr == 0)
			break;
	}
}

static uint64_t fnv_add(uint64_t h, const unsigned char *p, size_t n, int fold)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (fold && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * 1099511628211ull;
	}
	return (h ^ 0xff) * 1099511628211ull; /* a separator between parts */
}

/* The map key of a request's key (method, Host without case, target,
 * body); candidates are compared in full (key_same). */
static void key_hash(const unsigned char *req, const struct http1_req *r, char out[17])
{
	uint64_t h = 1469598103934665603ull;

	h = fnv_add(h, req + r->method.off, r->method.len, 0);
	h = fnv_add(h, req + r->host.off, r->host.len, 1);
	h = fnv_add(h, req + r->target.off, r->target.len, 0);
	h = fnv_add(h, req + r->body.off, r->body.len, 0);
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* The peer's exchanges, indexed on first use. Under rp_lock. */
static struct peer_http *peer_http(const char *peer)
{
	char key[96];
	struct peer_http *ph;
	struct idxv *q;

	snprintf(key, sizeof(key), "http %s", peer);
	ph = smap_get(&ix.peers, key);
	if (ph)
		return ph;
	ph = smap_get_or_new(&ix.peers, key, sizeof(*ph));
	q = peer_queue(peer, 0);
	if (!ph || !q)
		return ph;
	/* about one exchange per send: room up front, not regrown and
	 * copied (pipelined requests may still grow it) */
	for (size_t i = 0; i < q->n; i++)
		ph->cap += ix.conns[q->v[i]]->sends.n;
	ph->v = ph->cap ? malloc(ph->cap * sizeof(*ph->v)) : NULL;
	if (!ph->v)
		ph->cap = 0;
	for (size_t i = 0; i < q->n; i++)
		index_http_conn(ph, ix.conns[q->v[i]]);
	for (size_t i = 1; i < ph->n; i++)
		if (ph->v[i - 1].seq > ph->v[i].seq) {
			qsort(ph->v, ph->n, sizeof(*ph->v), http_cmp);
			break;
		}
	for (size_t i = 0; i < ph->n; i++) {
		char kh[17];
		struct idxv *kq;

		key_hash((const unsigned char *)ph->v[i].c->out.data + ph->v[i].req_off,
			 &ph->v[i].r, kh);
		kq = smap_get_or_new(&ph->bykey, kh, sizeof(*kq));
		if (kq)
			idxv_push(kq, i);
	}
	return ph;
}

int rp_http_known(const char *peer)
{
	struct peer_http *ph;
	int r;

	pthread_mutex_lock(&rp_lock);
	ph = peer_http(peer);
	r = ph && ph->n > 0;
	pthread_mutex_unlock(&rp_lock);
	return r;
}

struct json_object *rp_http_tls(const char *peer)
{
	struct peer_http *ph;
	struct json_object *tls = NULL;

	pthread_mutex_lock(&rp_lock);
	ph = peer_http(peer);
	for (size_t i = 0; ph && i < ph->n && !tls; i++)
		tls = ph->v[i].c->tls;
	pthread_mutex_unlock(&rp_lock);
	return tls;
}

static const unsigned char *h_req(const struct rp_http *h)
{
	return (const unsigned char *)h->c->out.data + h->req_off;
}

static int span_same(const unsigned char *a, struct http1_span x, const unsigned char *b,
		     struct http1_span y)
{
	return x.len == y.len && memcmp(a + x.off, b + y.off, x.len) == 0;
}

/* Host compares without case. */
static int host_same(const unsigned char *a, struct http1_span x, const unsigned char *b,
		     struct http1_span y)
{
	return x.len == y.len &&
	       strncasecmp((const char *)a + x.off, (const char *)b + y.off, x.len) == 0;
}

static int key_same(const unsigned char *req, const struct http1_req *r, const struct rp_http *h)
{
	const unsigned char *rec = h_req(h);

	return span_same(req, r->method, rec, h->r.method) &&
	       span_same(req, r->target, rec, h->r.target) &&
	       host_same(req, r->host, rec, h->r.host) && span_same(req, r->body, rec, h->r.body);
}

static int header_ignored(const unsigned char *p, struct http1_span n)
{
	const char *s = (const char *)p + n.off;

	return http1_names_match(&noise, s, n.len) || http1_names_match(&ignore, s, n.len);
}

/* The first compared header of a[0..) missing from b's head with the same
 * value; *ret_v its value span in a. @return 1 when one is. */
static int header_missing(const unsigned char *a, const struct http1_req *ra,
			  const unsigned char *b, const struct http1_req *rb,
			  struct http1_span *ret_n, struct http1_span *ret_v)
{
	struct http1_span n, v, n2, v2;
	size_t pos = 0, pos2;

	while (http1_header_next(a, ra->head_len, &pos, &n, &v)) {
		int found = 0;

		if (header_ignored(a, n))
			continue;
		pos2 = 0;
		while (!found && http1_header_next(b, rb->head_len, &pos2, &n2, &v2))
			found = n.len == n2.len &&
				strncasecmp((const char *)a + n.off, (const char *)b + n2.off,
					    n.len) == 0 &&
				span_same(a, v, b, v2);
		if (!found) {
			*ret_n = n;
			*ret_v = v;
			return 1;
		}
	}
	return 0;
}

/* The value of header `n` (named in a) in b's head, or NULL. */
static const unsigned char *header_value(const unsigned char *a, struct http1_span n,
					 const unsigned char *b, const struct http1_req *rb,
					 size_t *ret_len)
{
	struct http1_span n2, v2;
	size_t pos = 0;

	while (http1_header_next(b, rb->head_len, &pos, &n2, &v2))
		if (n.len == n2.len &&
		    strncasecmp((const char *)a + n.off, (const char *)b + n2.off, n.len) == 0) {
			*ret_len = v2.len;
			return b + v2.off;
		}
	return NULL;
}

/* Describes how the headers of req and h differ; "" when they do not. */
static void header_diff(const unsigned char *req, const struct http1_req *r,
			const struct rp_http *h, char *out, size_t n)
{
	const unsigned char *rec = h_req(h), *v;
	struct http1_span hn, hv;
	char name[64], a[160], b[160];
	size_t vl;

	out[0] = '\0';
	/* the same head, byte for byte (a replay's usually is): no difference */
	if (r->head_len == h->r.head_len && memcmp(req, rec, r->head_len) == 0)
		return;
	if (header_missing(req, r, rec, &h->r, &hn, &hv)) {
		gov_quote(name, sizeof(name), req + hn.off, hn.len, 40);
		gov_quote(a, sizeof(a), req + hv.off, hv.len, 60);
		v = header_value(req, hn, rec, &h->r, &vl);
		if (v) {
			gov_quote(b, sizeof(b), v, vl, 60);
			snprintf(out, n, "the header %s differs: sent \"%s\", recorded \"%s\"",
				 name, a, b);
		} else {
			snprintf(out, n, "the header %s: \"%s\" was not recorded", name, a);
		}
	} else if (header_missing(rec, &h->r, req, r, &hn, &hv)) {
		gov_quote(name, sizeof(name), rec + hn.off, hn.len, 40);
		gov_quote(b, sizeof(b), rec + hv.off, hv.len, 60);
		snprintf(out, n, "the recorded header %s: \"%s\" was not sent", name, b);
	}
}

/* Length of the common prefix of two spans. */
static size_t common(const unsigned char *a, struct http1_span x, const unsigned char *b,
		     struct http1_span y)
{
	size_t i = 0;

	while (i < x.len && i < y.len && a[x.off + i] == b[y.off + i])
		i++;
	return i;
}

/* How alike req and h are: method, then target, Host, then the longest
 * common prefix of target and body. */
static uint64_t closeness(const unsigned char *req, const struct http1_req *r,
			  const struct rp_http *h)
{
	const unsigned char *rec = h_req(h);
	uint64_t s = 0;

	if (span_same(req, r->method, rec, h->r.method))
		s |= 1ull << 62;
	if (span_same(req, r->target, rec, h->r.target))
		s |= 1ull << 61;
	if (host_same(req, r->host, rec, h->r.host))
		s |= 1ull << 60;
	s += common(req, r->target, rec, h->r.target) * 2 + common(req, r->body, rec, h->r.body);
	return s;
}

/* "the body differs at byte 57: sent "...", recorded "..."" for one part. */
static void part_diff(const char *what, const unsigned char *a, struct http1_span x,
		      const unsigned char *b, struct http1_span y, char *out, size_t n)
{
	size_t at = common(a, x, b, y), from = at > 24 ? at - 24 : 0;
	char g[160], e[160];

	gov_quote(g, sizeof(g), a + x.off + from, x.len - from, 60);
	gov_quote(e, sizeof(e), b + y.off + from, y.len - from, 60);
	snprintf(out, n, "the %s differs at byte %zu: sent \"%s\", recorded \"%s\"", what, at, g,
		 e);
}

/* "POST http://host/path" of a recorded request. */
static void rec_name(const struct rp_http *h, char *out, size_t n)
{
	const unsigned char *rec = h_req(h);
	char m[32], t[200], host[120];
	const char *scheme = h->c->tls ? "https" : "http";

	gov_quote(m, sizeof(m), rec + h->r.method.off, h->r.method.len, 16);
	gov_quote(t, sizeof(t), rec + h->r.target.off, h->r.target.len, 120);
	if (h->r.host.len)
		gov_quote(host, sizeof(host), rec + h->r.host.off, h->r.host.len, 100);
	else
		snprintf(host, sizeof(host), "%s", h->c->peer);
	if (t[0] == '/')
		snprintf(out, n, "%s %s://%s%s", m, scheme, host, t);
	else
		snprintf(out, n, "%s %s", m, t);
}

static void take(struct rp_http *h)
{
	struct rp_conn *c = h->c;
	size_t lo, hi;

	if (!h->taken)
		c->http_taken++;
	h->taken = 1;
	/* both are in stream order: find the first one in range */
	lo = 0;
	hi = c->sends.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->sends.m[mid].end <= h->req_off)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < c->sends.n && c->sends.m[i].end <= h->req_off + h->req_len; i++)
		ix.ev[c->sends.m[i].ev].consumed = 1;
	lo = 0;
	hi = c->nin;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->in_off[mid] < h->resp_off)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < c->nin && c->in_off[i] < h->resp_off + h->resp_len; i++)
		if (!c->in[i].eof)
			ix.ev[c->in_ev[i]].consumed = 1;
	for (size_t i = c->nin; h->eof && i-- > 0 && c->in[i].eof;)
		ix.ev[c->in_ev[i]].consumed = 1;
}

struct rp_http *rp_http_take(const char *peer, const unsigned char *req, const struct http1_req *r,
			     char *ret_why, size_t whylen)
{
	struct peer_http *ph;
	struct rp_http *h = NULL, *keyed = NULL, *best = NULL, *served = NULL;
	uint64_t bs = 0;
	char hd[600], name[400], diff[600], kh[17];
	struct idxv *kq;

	ret_why[0] = '\0';
	pthread_mutex_lock(&rp_lock);
	ph = peer_http(peer);
	if (!ph || !ph->n)
		goto out;
	key_hash(req, r, kh);
	kq = smap_get(&ph->bykey, kh);
	/* served ones at the head are passed for good: FIFO per key */
	while (kq && kq->head < kq->n && ph->v[kq->v[kq->head]].taken &&
	       key_same(req, r, &ph->v[kq->v[kq->head]])) {
		served = &ph->v[kq->v[kq->head]];
		kq->head++;
	}
	for (size_t i = kq ? kq->head : 0; kq && i < kq->n; i++) {
		struct rp_http *k = &ph->v[kq->v[i]];

		if (!key_same(req, r, k))
			continue; /* a hash collision */
		if (k->taken) {
			served = k;
			continue;
		}
		if (!keyed)
			keyed = k;
		header_diff(req, r, k, hd, sizeof(hd));
		if (!hd[0]) {
			h = k;
			break;
		}
	}
	if (!h && !keyed && !served) {
		/* no such key: the closest request, for the message */
		for (size_t i = 0; i < ph->n; i++) {
			struct rp_http *k = &ph->v[i];
			uint64_t sc;

			if (k->taken)
				continue;
			sc = closeness(req, r, k);
			if (!best || sc > bs) {
				best = k;
				bs = sc;
			}
		}
	}
	if (h)
		goto take;
	if (keyed) {
		/* the key matches; the headers do not */
		h = keyed;
		header_diff(req, r, h, hd, sizeof(hd));
		snprintf(ret_why, whylen, ": %s", hd);
		goto take;
	}
	if (served) {
		snprintf(ret_why, whylen,
			 " has no recorded match left: every recorded one was served");
		h = served; /* relaxed: the same answer again */
		goto take;
	}
	if (!best) {
		snprintf(ret_why, whylen,
			 " has no recorded match: every recorded request to %s was served", peer);
		h = &ph->v[ph->n - 1];
		goto take;
	}
	h = best;
	rec_name(h, name, sizeof(name));
	{
		const unsigned char *rec = h_req(h);

		if (!span_same(req, r->method, rec, h->r.method))
			snprintf(diff, sizeof(diff), "the method differs");
		else if (!span_same(req, r->target, rec, h->r.target))
			part_diff("target", req, r->target, rec, h->r.target, diff, sizeof(diff));
		else if (!host_same(req, r->host, rec, h->r.host))
			part_diff("Host", req, r->host, rec, h->r.host, diff, sizeof(diff));
		else
			part_diff("body", req, r->body, rec, h->r.body, diff, sizeof(diff));
	}
	snprintf(ret_why, whylen, " has no recorded match; closest recorded: %s; %s", name, diff);
take:
	take(h);
out:
	pthread_mutex_unlock(&rp_lock);
	return h;
}

const unsigned char *rp_http_interim(const char *peer, const unsigned char *req,
				     const struct http1_req *r, size_t *ret_len)
{
	struct peer_http *ph;
	const unsigned char *p = NULL;

	pthread_mutex_lock(&rp_lock);
	ph = peer_http(peer);
	for (size_t i = 0; ph && i < ph->n; i++) {
		struct rp_http *k = &ph->v[i];
		const unsigned char *rec = h_req(k);

		if (k->taken || !span_same(req, r->method, rec, k->r.method) ||
		    !span_same(req, r->target, rec, k->r.target) ||
		    !host_same(req, r->host, rec, k->r.host))
			continue;
		if (k->interim) {
			p = (const unsigned char *)k->c->inbytes.data + k->resp_off;
			*ret_len = k->interim;
		}
		break;
	}
	pthread_mutex_unlock(&rp_lock);
	return p;
}

const unsigned char *rp_http_response(struct rp_http *h, size_t *ret_len, size_t *ret_interim,
				      int *ret_eof)
{
	*ret_len = h->resp_len;
	*ret_interim = h->interim;
	*ret_eof = h->eof;
	return (const unsigned char *)h->c->inbytes.data + h->resp_off;
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
	for (size_t i = 0; i < ix.nconns; i++) {
		struct rp_conn *c = ix.conns[i];

		if (c->claimed || !c->http_n || c->http_taken < c->http_n)
			continue;
		conn_claim(c);
		for (size_t j = 0; j < c->closes.n; j++)
			ix.ev[c->closes.v[j]].consumed = 1;
	}
	for (size_t i = 0; i < ix.nev; i++) {
		if (ix.ev[i].consumed) {
			used++;
			continue;
		}
		if (k < max)
			describe(&ix.ev[i], out[k++], 96);
	}
	*ret_consumed = used;
	*ret_total = ix.nev;
	pthread_mutex_unlock(&rp_lock);
	return k;
}
