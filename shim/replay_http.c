/* SPDX-License-Identifier: MIT */
/* replay_http.c -- replayed HTTP/1: recorded exchanges served per request, whatever the connection.
 *
 * See "HTTP/1 exchanges" in replayer.h for the model. A peer's exchanges are
 * framed on first use from its recorded connections in the index
 * (replay_int.h); taking one marks its send and recv events consumed.
 * Everything here runs under rp_lock, like the rest of the replayer.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/http1.h"
#include "common/log.h"
#include "shim/governance.h"
#include "shim/replay_int.h"
#include "shim/replayer.h"
#include "shim/shim.h"

/* HTTP1_REPLAY_NOISE, and the names ATTRACE_REPLAY_IGNORE adds (checked by
 * config.c): loaded with the trace, kept for the image's life. */
static struct http1_names noise, ignore;

void rp_http_names_load(void)
{
	if (!noise.n && (http1_names_parse(&noise, HTTP1_REPLAY_NOISE) < 0 ||
			 http1_names_parse(&ignore, shim_config.replay_ignore) < 0))
		log_warn("out of memory: every header compared");
}

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
			struct rp_http *v = array_room(ph->v, ph->n, &ph->cap, sizeof(*v));

			if (!v)
				return;
			ph->v = v;
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
		h->seq = m < c->sends.n ? rp_ix.ev[c->sends.m[m].ev].seq : 0;
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
	ph = rp_smap_get(&rp_ix.peers, key);
	if (ph)
		return ph;
	ph = rp_smap_get_or_new(&rp_ix.peers, key, sizeof(*ph));
	q = rp_peer_queue(peer, 0);
	if (!ph || !q)
		return ph;
	/* about one exchange per send: room up front, not regrown and
	 * copied (pipelined requests may still grow it) */
	for (size_t i = 0; i < q->n; i++)
		ph->cap += rp_ix.conns[q->v[i]]->sends.n;
	ph->v = ph->cap ? malloc(ph->cap * sizeof(*ph->v)) : NULL;
	if (!ph->v)
		ph->cap = 0;
	for (size_t i = 0; i < q->n; i++)
		index_http_conn(ph, rp_ix.conns[q->v[i]]);
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
		kq = rp_smap_get_or_new(&ph->bykey, kh, sizeof(*kq));
		if (kq)
			rp_idxv_push(kq, i);
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
		rp_ix.ev[c->sends.m[i].ev].consumed = 1;
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
			rp_ix.ev[c->in_ev[i]].consumed = 1;
	for (size_t i = c->nin; h->eof && i-- > 0 && c->in[i].eof;)
		rp_ix.ev[c->in_ev[i]].consumed = 1;
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
	kq = rp_smap_get(&ph->bykey, kh);
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
