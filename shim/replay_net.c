/* SPDX-License-Identifier: MIT */
/* replay_net.c -- replayed TCP and UDP: the recorded peer behind a socketpair.
 *
 * On connect the program's socket is replaced (dup3 onto the same number,
 * flags kept) by one end of an AF_UNIX socketpair of the same type; the
 * shim keeps the other end, `srv`. Whatever the program then does (poll,
 * select, epoll, non-blocking reads, partial reads, EOF) is the kernel's
 * own behaviour on a real socket.
 *
 * Serving is synchronous, driven by the program's own calls: after every
 * send or receive on the socket, rpn_pump() drains what the program wrote
 * into srv, compares it with the recorded bytes, and writes into srv the
 * recorded replies that the program has earned: a received chunk becomes
 * available once the program has sent as many bytes (TCP) or datagrams
 * (UDP) as it had sent live before receiving it, so syscall chunking never
 * matters. A socket buffer that fills is topped up after the program's
 * next receive. The peer's close becomes shutdown(srv, SHUT_WR): EOF.
 *
 * Which recorded connection a socket plays is decided by its first bytes
 * (rp_conn_bind): concurrent connections to one peer from a thread pool
 * get their own replies whatever the schedule.
 *
 * HTTP/1 is served per request instead (when the first bytes are a request
 * line and the trace holds HTTP/1 exchanges to the peer): each complete
 * request (common/http1.h) takes the recorded exchange with the same
 * method, Host, target and body from any recorded connection to the peer
 * (rp_http_take), and its recorded response is written back. A pool that
 * sends its requests on other connections, in another order, is served the
 * same answers.
 */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/http1.h"
#include "common/jsonv.h"
#include "shim/governance.h"
#include "shim/net.h"
#include "shim/real.h"
#include "shim/replayer.h"
#include "shim/secrets.h"
#include "shim/shim.h"

struct rp_sock {
	pthread_mutex_t lock;
	int srv; /* our end, -1 when none */
	int udp;
	int family;
	char peer[NET_ADDR_MAX];
	char local[NET_ADDR_MAX];
	struct rp_conn *c; /* the recorded connection it plays; NULL until bound */
	int soerr; /* SO_ERROR still to report */
	size_t sent; /* bytes (TCP) or datagrams (UDP) the program sent */
	struct buf early; /* TCP bytes sent before binding */
	size_t next, next_off; /* serving cursor: chunk, bytes of it written */
	int diverged; /* relaxed, after a mismatch: serve one reply per send */
	int sent_since_push;
	int unbound_warned;
	struct json_object *tls; /* recorded TLS facts of the connection it plays */
	struct redactor *rd; /* TCP: the program's sent bytes, redacted as recorded */
	/* HTTP/1 (rp_http_take): served per request, not per connection */
	int http;
	struct buf hreq; /* sent bytes of requests not yet complete (redacted) */
	struct seg *q; /* recorded bytes still to write, in order */
	size_t nq, capq;
	int interim_sent; /* a 1xx went out for the request in progress */
};

/* A piece of the recording to write to srv; n 0 and eof: shutdown. */
struct seg {
	const unsigned char *p;
	size_t n;
	int eof;
};

/* Parses "1.2.3.4:80" or "[::1]:80". @return 0 or -EINVAL. */
static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[NET_ADDR_MAX];
	const char *colon = strrchr(s, ':');
	size_t hl;
	long port;

	if (!colon || !colon[1])
		return -EINVAL;
	port = strtol(colon + 1, NULL, 10);
	hl = (size_t)(colon - s);
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)ss;

	if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
		return -EINVAL;
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	*len = sizeof(*in);
	return 0;
}

static void copy_addr(const struct sockaddr_storage *ss, socklen_t sl, struct sockaddr *addr,
		      socklen_t *len)
{
	if (!addr || !len)
		return;
	memcpy(addr, ss, *len < sl ? *len : sl);
	*len = sl;
}

/* ---- sending the recorded peer's bytes ---- */

/* @return 1 when p[0..n) starts like an HTTP request line ("GET /"). */
static int is_request_line(const unsigned char *p, size_t n)
{
	static const char *const methods[] = { "GET ",	   "POST ",  "PUT ",   "DELETE ", "HEAD ",
					       "OPTIONS ", "PATCH ", "TRACE ", "CONNECT " };

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t k = strlen(methods[i]);

		if (n >= k && memcmp(p, methods[i], k) == 0)
			return 1;
	}
	return 0;
}

/* The recorded HTTP request that holds byte `at` of the connection's sent
 * stream: its start (the stream's start, or just after an empty line) when
 * that is a request line. Then *ret_line gets "METHOD TARGET" quoted.
 * @return the start, or (size_t)-1 when the bytes are not HTTP. */
static size_t request_at(const unsigned char *exp, size_t elen, size_t at, char *ret_line,
			 size_t linen)
{
	size_t start = 0, end;

	for (size_t i = at < elen ? at : elen; i >= 4; i--)
		if (memcmp(exp + i - 4, "\r\n\r\n", 4) == 0 && is_request_line(exp + i, elen - i)) {
			start = i;
			break;
		}
	if (!is_request_line(exp + start, elen - start))
		return (size_t)-1;
	/* METHOD SP TARGET: up to the second space */
	end = start;
	while (end < elen && exp[end] != ' ')
		end++;
	end++;
	while (end < elen && exp[end] != ' ' && exp[end] != '\r')
		end++;
	gov_quote(ret_line, linen, exp + start, end - start, 120);
	return start;
}

static void report_mismatch(struct rp_sock *rs, const unsigned char *got, size_t gotn,
			    size_t at_prog, size_t diff)
{
	const unsigned char *exp;
	size_t elen, from, req;
	char g[160], e[160], line[160];

	exp = rp_conn_out(rs->c, &elen);
	/* Show both sides from a little before the first difference. */
	from = diff > 24 ? diff - 24 : 0;
	if (from < at_prog)
		from = at_prog;
	gov_quote(g, sizeof(g), got + (from - at_prog), gotn - (from - at_prog), 60);
	if (from < elen)
		gov_quote(e, sizeof(e), exp + from, elen - from, 60);
	else
		snprintf(e, sizeof(e), "(nothing more)");
	/* HTTP: name the request (as recorded), and where in it they part. */
	req = request_at(exp, elen, diff, line, sizeof(line));
	if (req != (size_t)-1 && diff > req + strlen(line))
		gov_violation(GOV_MISMATCH,
			      "%s/%d sent %s \"%s\" to %s; the trace expected %s \"%s\" (first "
			      "difference at byte %zu)",
			      shim_proc.lpid, shim_tls.tid, line, g, rs->peer, line, e, diff - req);
	else
		gov_violation(
			GOV_MISMATCH,
			"%s/%d sent \"%s\" to %s; the trace expected \"%s\" (first difference at byte %zu)",
			shim_proc.lpid, shim_tls.tid, g, rs->peer, e, diff);
}

/* The program sent p[0..n) (TCP): check it against the recording. */
static void took_stream(struct rp_sock *rs, const unsigned char *p, size_t n)
{
	const unsigned char *exp;
	size_t elen, i;

	exp = rp_conn_out(rs->c, &elen);
	if (!rs->diverged) {
		for (i = 0; i < n; i++)
			if (rs->sent + i >= elen || exp[rs->sent + i] != p[i])
				break;
		if (i < n) {
			report_mismatch(rs, p, n, rs->sent, rs->sent + i);
			rs->diverged = 1;
		}
	}
	rs->sent += n;
	rs->sent_since_push = 1;
	rp_conn_progress(rs->c, rs->sent);
}

static void took_dgram(struct rp_sock *rs, const unsigned char *p, size_t n)
{
	const unsigned char *exp;
	size_t elen, i;

	if (!rs->diverged) {
		if (rp_conn_dgram(rs->c, rs->sent, &exp, &elen) < 0) {
			exp = NULL;
			elen = 0;
		}
		for (i = 0; i < n && i < elen; i++)
			if (exp[i] != p[i])
				break;
		if (!exp || i < n || n != elen) {
			char g[160], e[160];

			gov_quote(g, sizeof(g), p, n, 60);
			if (exp)
				gov_quote(e, sizeof(e), exp, elen, 60);
			else
				snprintf(e, sizeof(e), "no more datagrams");
			gov_violation(
				GOV_MISMATCH,
				"%s/%d sent a %zu-byte datagram \"%s\" to %s; the trace expected \"%s\" (first difference at byte %zu)",
				shim_proc.lpid, shim_tls.tid, n, g, rs->peer, e, i);
			rs->diverged = 1;
		}
	}
	rs->sent++;
	rs->sent_since_push = 1;
	rp_conn_progress(rs->c, rs->sent);
}

/* ---- HTTP/1, per request ---- */

static int enqueue(struct rp_sock *rs, const unsigned char *p, size_t n, int eof)
{
	if (rs->nq == rs->capq) {
		struct seg *q = array_room(rs->q, rs->nq, &rs->capq, sizeof(*q));

		if (!q)
			return -ENOMEM;
		rs->q = q;
	}
	rs->q[rs->nq++] = (struct seg){ .p = p, .n = n, .eof = eof };
	return 0;
}

/* "POST http://host/path" for messages. */
static void http_url(struct rp_sock *rs, const unsigned char *req, const struct http1_req *r,
		     char *out, size_t n)
{
	char m[32], t[200], host[120];
	int tls = rs->tls || (rs->c && rp_conn_tls(rs->c));

	gov_quote(m, sizeof(m), req + r->method.off, r->method.len, 16);
	gov_quote(t, sizeof(t), req + r->target.off, r->target.len, 120);
	if (r->host.len)
		gov_quote(host, sizeof(host), req + r->host.off, r->host.len, 100);
	else
		snprintf(host, sizeof(host), "%s", rs->peer);
	if (t[0] == '/')
		snprintf(out, n, "%s %s://%s%s", m, tls ? "https" : "http", host, t);
	else
		snprintf(out, n, "%s %s", m, t);
}

/* Serves the complete requests in rs->hreq. */
static void http_take(struct rp_sock *rs)
{
	for (;;) {
		const unsigned char *req = (const unsigned char *)rs->hreq.data, *p;
		struct http1_req r;
		struct rp_http *h;
		char url[400], why[1200];
		size_t n, interim;
		int rc, eof;

		rc = http1_request(req, rs->hreq.len, &r);
		if (rc == 0 && r.head_len && r.expect_continue && !rs->interim_sent) {
			/* Expect: 100-continue: the 1xx it got live, if any */
			p = rp_http_interim(rs->peer, req, &r, &n);
			if (p)
				enqueue(rs, p, n, 0);
			rs->interim_sent = 1;
		}
		if (rc == 0)
			return;
		if (rc < 0) {
			char g[160];

			gov_quote(g, sizeof(g), req, rs->hreq.len, 60);
			gov_violation(GOV_MISMATCH,
				      "%s/%d sent \"%s\" to %s, which is not an HTTP/1 request",
				      shim_proc.lpid, shim_tls.tid, g, rs->peer);
			buf_reset(&rs->hreq);
			return;
		}
		h = rp_http_take(rs->peer, req, &r, why, sizeof(why));
		if (why[0]) {
			http_url(rs, req, &r, url, sizeof(url));
			gov_violation(GOV_MISMATCH, "%s/%d: %s%s", shim_proc.lpid, shim_tls.tid,
				      url, why);
		}
		if (h) {
			p = rp_http_response(h, &n, &interim, &eof);
			if (rs->interim_sent) {
				p += interim;
				n -= interim;
			}
			enqueue(rs, p, n, 0);
			if (eof)
				enqueue(rs, NULL, 0, 1);
		}
		rs->interim_sent = 0;
		buf_consume(&rs->hreq, r.len);
	}
}

/* Writes the queued recorded bytes. */
static void http_push(struct rp_sock *rs)
{
	size_t i = 0;

	for (; i < rs->nq; i++) {
		struct seg *sg = &rs->q[i];

		if (sg->eof) {
			REAL(shutdown)(rs->srv, SHUT_WR);
			continue;
		}
		while (sg->n) {
			ssize_t w = REAL(send)(rs->srv, sg->p, sg->n, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (w < 0)
				goto out; /* full: topped up after the program reads */
			sg->p += w;
			sg->n -= (size_t)w;
		}
	}
out:
	if (i && i < rs->nq)
		memmove(rs->q, rs->q + i, (rs->nq - i) * sizeof(*rs->q));
	rs->nq -= i;
}

/* Binds a TCP socket on its first bytes; replays them. */
static void bind_stream(struct rp_sock *rs)
{
	if (!rs->http && http1_is_request(rs->early.data, rs->early.len) && rp_http_known(rs->peer))
		rs->http = 1;
	rs->c = rp_conn_bind(rs->peer, 0, rs->early.data, rs->early.len);
	if (rs->http) {
		/* the connection's recorded facts (local address, TLS); its
		 * bytes are served per request */
		buf_append(&rs->hreq, rs->early.data, rs->early.len);
		buf_release(&rs->early);
		http_take(rs);
		return;
	}
	if (!rs->c) {
		if (!rs->unbound_warned) {
			char g[160];

			rs->unbound_warned = 1;
			gov_quote(g, sizeof(g), rs->early.data, rs->early.len, 60);
			gov_violation(
				GOV_MISMATCH,
				"%s/%d sent \"%s\" to %s; the trace holds no more connections to that peer",
				shim_proc.lpid, shim_tls.tid, g, rs->peer);
		}
		return;
	}
	if (rp_conn_tls_opaque(rs->c))
		gov_violation(
			GOV_MISMATCH,
			"%s/%d: the connection to %s was encrypted live by a TLS library attrace "
			"could not see (statically linked): the trace holds ciphertext, which "
			"cannot be replayed",
			shim_proc.lpid, shim_tls.tid, rs->peer);
	took_stream(rs, (const unsigned char *)rs->early.data, rs->early.len);
	buf_release(&rs->early);
}

/* Drains what the program wrote. */
static void drain(struct rp_sock *rs)
{
	unsigned char tmp[65536];
	struct buf red = BUF_INIT;
	ssize_t n;
	int more;

	for (more = 1; more;) {
		n = REAL(recv)(rs->srv, tmp, sizeof(tmp), MSG_DONTWAIT);
		if (n <= 0)
			break;
		/* A stream read that did not fill tmp took all there was: a
		 * recv to hear EAGAIN would cost a syscall per request. Bytes
		 * written since come with their writer's own pump (every
		 * send hook pumps, under rs->lock). */
		more = rs->udp || (size_t)n == sizeof(tmp);
		if (rs->udp) {
			if (!rs->c)
				rs->c = rp_conn_bind(rs->peer, 1, tmp, (size_t)n);
			if (rs->c)
				took_dgram(rs, tmp, (size_t)n);
			else if (!rs->unbound_warned) {
				rs->unbound_warned = 1;
				gov_violation(
					GOV_MISMATCH,
					"%s/%d sent a datagram to %s; the trace holds no more datagrams for that peer",
					shim_proc.lpid, shim_tls.tid, rs->peer);
			}
			continue;
		}
		/* The recording holds the redacted form (secrets.h): compare that. */
		buf_reset(&red);
		if (!rs->rd) {
			struct json_object *tls = rs->c ? rp_conn_tls(rs->c) : rs->tls;
			const char *alpn = jv_str(tls, "alpn");

			rs->rd = secrets_new();
			if (rs->rd && alpn && !strcmp(alpn, "h2"))
				secrets_set_h2(rs->rd); /* as recorded (hook_netio.c) */
		}
		if (!rs->rd || secrets_feed(rs->rd, 0, tmp, (size_t)n, &red) < 0)
			break;
		if (!red.len)
			continue;
		if (rs->http) {
			buf_append(&rs->hreq, red.data, red.len);
			http_take(rs);
		} else if (!rs->c) {
			buf_append(&rs->early, red.data, red.len);
			bind_stream(rs);
		} else {
			took_stream(rs, (const unsigned char *)red.data, red.len);
		}
	}
	buf_release(&red);
}

/* Writes the replies the program has earned. */
static void push(struct rp_sock *rs)
{
	const struct rp_chunk *ch;
	size_t limit = rs->sent;

	if (rs->http) {
		http_push(rs);
		return;
	}
	if (!rs->c)
		return;
	ch = rp_conn_chunk(rs->c, rs->next);
	/* After a mismatch (relaxed) byte counts mean nothing: each send
	 * earns the next reply. */
	if (ch && rs->diverged && rs->sent_since_push && ch->at > limit)
		limit = ch->at;
	rs->sent_since_push = 0;
	for (; ch && ch->at <= limit; ch = rp_conn_chunk(rs->c, rs->next)) {
		if (ch->eof) {
			if (!rs->udp)
				REAL(shutdown)(rs->srv, SHUT_WR);
		} else {
			ssize_t w = REAL(send)(rs->srv, ch->p + rs->next_off, ch->n - rs->next_off,
					       MSG_DONTWAIT | MSG_NOSIGNAL);

			if (w < 0)
				return; /* full: topped up after the program reads */
			rs->next_off += (size_t)w;
			if (rs->next_off < ch->n)
				return;
		}
		rp_conn_served(rs->c, rs->next);
		rs->next++;
		rs->next_off = 0;
	}
}

void rpn_pump(struct sock *s)
{
	struct rp_sock *rs = s->rp;

	if (!rs || rs->srv < 0)
		return;
	pthread_mutex_lock(&rs->lock);
	drain(rs);
	push(rs);
	pthread_mutex_unlock(&rs->lock);
}

/* ---- connect ---- */

/* Puts one end of a new socketpair on fd, keeping its flags. */
static int install_pair(int fd, int udp, int *ret_srv)
{
	int sv[2], fl, fdfl;

	if (REAL(socketpair)(AF_UNIX, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	fl = REAL(fcntl)(fd, F_GETFL);
	fdfl = REAL(fcntl)(fd, F_GETFD);
	if (REAL(dup3)(sv[0], fd, (fdfl >= 0 && (fdfl & FD_CLOEXEC)) ? O_CLOEXEC : 0) < 0) {
		int e = errno;

		REAL(close)(sv[0]);
		REAL(close)(sv[1]);
		return -e;
	}
	REAL(close)(sv[0]);
	if (fl >= 0)
		REAL(fcntl)(fd, F_SETFL, fl & O_NONBLOCK);
	REAL(fcntl)(sv[1], F_SETFL, O_NONBLOCK);
	*ret_srv = sv[1];
	return 0;
}

int rpn_connect(struct sock *s, int fd, const struct sockaddr *addr, socklen_t len)
{
	char peer[NET_ADDR_MAX], local[64] = "";
	struct json_object *tls = NULL;
	struct rp_conn *c = NULL;
	struct rp_sock *rs;
	int udp = s->kind == FD_UDP, inprogress, r, nonblock, srv = -1, fl;

	net_fmt_addr(peer, addr, len);
	if (!peer[0] || s->rp)
		return RPN_PASS; /* AF_UNSPEC, a bad address, or a reconnect */
	r = rp_conn_connect(peer, udp, &c, &inprogress, local, &tls);
	/* HTTP/1 is served per request: a pool may open more connections
	 * than it did live */
	if (r == -ENOENT && !udp && rp_http_known(peer)) {
		r = 0;
		tls = rp_http_tls(peer);
	}
	if (r == -ENOENT) {
		gov_violation(GOV_MISMATCH,
			      "%s/%d connected to %s; the trace holds no connection to that peer",
			      shim_proc.lpid, shim_tls.tid, peer);
		return RPN_PASS; /* relaxed: the real call, which fails offline */
	}
	fl = REAL(fcntl)(fd, F_GETFL);
	nonblock = fl >= 0 && (fl & O_NONBLOCK);
	if (r > 0 && !(inprogress && nonblock)) {
		errno = r;
		return -1;
	}
	if (install_pair(fd, udp, &srv) < 0)
		return RPN_PASS;
	rs = calloc(1, sizeof(*rs));
	if (!rs) {
		REAL(close)(srv);
		return RPN_PASS;
	}
	pthread_mutex_init(&rs->lock, NULL);
	rs->srv = srv;
	rs->udp = udp;
	rs->family = addr->sa_family;
	rs->c = c;
	rs->tls = tls;
	buf_init(&rs->early, 1u << 20);
	buf_init(&rs->hreq, 64u << 20);
	memcpy(rs->peer, peer, sizeof(rs->peer));
	memcpy(rs->local, c ? rp_conn_local(c) : local, sizeof(rs->local));
	if (r > 0) {
		/* refused after EINPROGRESS: SO_ERROR says so, poll says hang-up */
		rs->soerr = r;
		REAL(close)(rs->srv);
		rs->srv = -1;
	}
	s->rp = rs;
	shim_tls.last_connect = fd + 1;
	pthread_mutex_lock(&rs->lock);
	if (rs->srv >= 0)
		push(rs); /* a peer that speaks first */
	pthread_mutex_unlock(&rs->lock);
	if (inprogress && nonblock) {
		errno = EINPROGRESS;
		return -1;
	}
	return 0;
}

int rpn_udp_sendto(struct sock *s, int fd, const struct sockaddr *addr, socklen_t len)
{
	char peer[NET_ADDR_MAX];

	net_fmt_addr(peer, addr, len);
	if (!peer[0])
		return 0;
	if (!s->rp) {
		int saved = errno, r = rpn_connect(s, fd, addr, len);

		errno = saved;
		return r == 0 && s->rp;
	}
	if (strcmp(s->rp->peer, peer) == 0)
		return 1;
	gov_violation(
		GOV_MISMATCH,
		"%s/%d sent a datagram to %s on a socket that talked to %s; replay serves one peer per UDP socket",
		shim_proc.lpid, shim_tls.tid, peer, s->rp->peer);
	return 0;
}

/* ---- socket options and names ---- */

int rpn_getsockopt(struct sock *s, int level, int optname, void *optval, socklen_t *optlen)
{
	struct rp_sock *rs = s->rp;
	int v;

	if (!rs)
		return RPN_PASS;
	if (level == SOL_SOCKET) {
		switch (optname) {
		case SO_ERROR:
			v = rs->soerr;
			rs->soerr = 0;
			break;
		case SO_DOMAIN:
			v = rs->family;
			break;
		case SO_PROTOCOL:
			v = rs->udp ? IPPROTO_UDP : IPPROTO_TCP;
			break;
		default:
			return RPN_PASS;
		}
		if (!optval || !optlen || *optlen < (socklen_t)sizeof(int)) {
			errno = EINVAL;
			return -1;
		}
		memcpy(optval, &v, sizeof(v));
		*optlen = sizeof(v);
		return 0;
	}
	/* TCP_INFO, TCP_NODELAY, IP_TOS...: an AF_UNIX socket has none;
	 * zeros are what a fresh connection would mostly say. */
	if (optval && optlen)
		memset(optval, 0, *optlen);
	return 0;
}

int rpn_setsockopt(struct sock *s, int fd, int level, int optname, const void *optval,
		   socklen_t optlen)
{
	int saved = errno;

	if (!s->rp)
		return RPN_PASS;
	/* SO_RCVBUF, SO_SNDBUF, timeouts apply to the program's end; what an
	 * AF_UNIX socket refuses (SO_KEEPALIVE...) and the TCP and IP levels
	 * (TCP_NODELAY, IP_TOS) are accepted as a real socket would. */
	if (level == SOL_SOCKET && REAL(setsockopt)(fd, level, optname, optval, optlen) == 0)
		return 0;
	errno = saved;
	return 0;
}

int rpn_name(struct sock *s, int peer, struct sockaddr *addr, socklen_t *len)
{
	struct rp_sock *rs = s->rp;
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *a;

	if (!rs)
		return RPN_PASS;
	if (!peer && !rs->local[0] && rs->c)
		memcpy(rs->local, rp_conn_local(rs->c), sizeof(rs->local));
	a = peer ? rs->peer : rs->local;
	if (!a[0] || parse_addr(a, &ss, &sl) < 0) {
		/* no recorded local address: the family's any-address, port 0 */
		memset(&ss, 0, sizeof(ss));
		ss.ss_family = (sa_family_t)rs->family;
		sl = rs->family == AF_INET6 ? sizeof(struct sockaddr_in6)
					    : sizeof(struct sockaddr_in);
	}
	if (!addr || !len) {
		errno = EFAULT;
		return -1;
	}
	copy_addr(&ss, sl, addr, len);
	return 0;
}

struct json_object *rpn_tls_facts(struct sock *s)
{
	if (!s->rp)
		return NULL;
	return s->rp->c ? rp_conn_tls(s->rp->c) : s->rp->tls;
}

void rpn_fill_from(struct sock *s, struct sockaddr *addr, socklen_t *len)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (!s->rp || !addr || !len || parse_addr(s->rp->peer, &ss, &sl) < 0)
		return;
	copy_addr(&ss, sl, addr, len);
}

void rpn_release(struct sock *s)
{
	struct rp_sock *rs = s->rp;

	if (!rs)
		return;
	if (rs->c)
		rp_conn_closed(rs->c);
	if (rs->srv >= 0)
		REAL(close)(rs->srv);
	buf_release(&rs->early);
	buf_release(&rs->hreq);
	free(rs->q);
	secrets_free(rs->rd);
	pthread_mutex_destroy(&rs->lock);
	free(rs);
	s->rp = NULL;
}
