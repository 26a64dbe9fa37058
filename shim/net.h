/* SPDX-License-Identifier: MIT */
/* net.h -- private to hook_net.c and hook_netio.c: the per-socket object and the helpers both use.
 *
 * hook_net.c owns the socket's lifecycle (socket, connect, accept, close,
 * dup*, fcntl) and the fd table upkeep; hook_netio.c records the data that
 * moves (send*, recv*, read*, write*). Both follow the pattern described at
 * the top of hook_net.c.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "shim/fdtab.h"

struct buf;
struct shim_thread;
struct rp_sock;
struct redactor;

/* "[" + INET6_ADDRSTRLEN + "]:" + 5 digits, rounded up. */
#define NET_ADDR_MAX 64

/* The slow paths of the hot hooks live out of line, so that the fast path
 * compiles to a byte load and a tail call with no register spills. */
#define NET_SLOW __attribute__((noinline, cold))

struct sock {
	struct fd_obj obj; /* first: the fd table hands this pointer back */
	enum fd_kind kind; /* FD_TCP or FD_UDP */
	int family; /* AF_INET or AF_INET6 */
	atomic_int nonblock; /* informational: SOCK_NONBLOCK, F_SETFL O_NONBLOCK */
	atomic_int pending; /* a connect is in progress; its outcome not read yet */
	atomic_int nfds; /* descriptors of this process referring to it */
	char conn[32]; /* "T.K", immutable */
	pthread_mutex_t lock; /* guards peer and local: connect may rewrite them */
	char peer[NET_ADDR_MAX];
	char local[NET_ADDR_MAX];
	struct rp_sock *rp; /* replay: the socketpair serving it (replay_net.c), or NULL */
	atomic_int tls; /* its bytes are TLS (hook_tls.c): events carry the plaintext */
	/* TCP: what redacts and follows its bytes once they are gathered
	 * (struct late_state), made at its first bytes, under lock. */
	struct late_state *_Atomic late;
	atomic_int tls_opaque_warned; /* a ClientHello no TLS hook saw was reported */
	/* TLS ALPN chose "h2" (hook_tls.c, hook_gnutls.c): the redactors are
	 * told (late_state.h2_told) that the stream is HTTP/2. */
	atomic_int h2;
};

/* A TCP socket's bytes are recorded late (recorder.h, struct rec_late): the
 * hooks copy them raw into the event being written, and whoever gathers
 * the lines (the writer thread, or a flushing thread) redacts them, writes
 * them as data and follows them as HTTP (netcall.c), in the order they
 * were recorded. That state is here, out of struct sock, so that it lives
 * on, referenced by the records, after the socket is gone; only the
 * gatherer (under the recorder's write lock) touches it past creation. */
struct redactor;

struct late_state {
	atomic_int refs;
	char conn[32]; /* the socket's conn id */
	char peer[NET_ADDR_MAX]; /* its peer when its first bytes went by */
	/* the redactors of received [0] and sent [1] bytes (secrets.h), and
	 * their output, reused from record to record */
	struct redactor *rd[2];
	struct buf rdbuf;
	int h2_told[2];
	unsigned char nc; /* netcall.c: are its bytes followed as HTTP? */
};

/* @return s's late state with a new reference, made if need be, or NULL
 * (out of memory). Caller is in a hook on s. */
struct late_state *net_late_get(struct sock *s);
/* Drops a reference; the last frees the state. */
void net_late_put(struct late_state *ls);

/* Formats an AF_INET/AF_INET6 address as "1.2.3.4:80" or "[::1]:80" into
 * out (NET_ADDR_MAX bytes). Anything else (AF_UNSPEC, short length) gives "". */
void net_fmt_addr(char *out, const struct sockaddr *sa, socklen_t len);

/* Copies s's peer and/or local address (NET_ADDR_MAX bytes each) into the
 * non-NULL arguments, under s->lock. */
void net_sock_addrs(struct sock *s, char *peer, char *local);

/* Enters the shim for a call on fd. @return fd's socket (referenced) with
 * *ret_t holding the guard, or NULL with nothing held. */
struct sock *net_enter_sock(int fd, struct shim_thread **ret_t);

/* Undoes net_enter_sock(): drops the reference and leaves the shim. */
void net_leave_sock(struct shim_thread *t, struct sock *s);

/* Opens a socket_call event with the fields every op has. peer and local
 * are written when non-empty. Finish it with net_ev_sock_end(). */
struct buf *net_ev_sock(struct shim_thread *t, struct sock *s, const char *op, const char *fn,
			const char *peer, const char *local, long n);

/* Closes an event from net_ev_sock(), adding the errno name when n < 0. */
void net_ev_sock_end(struct shim_thread *t, struct buf *b, long n, int err);

/* ---- replay (replay_net.c) ----
 * In replay mode a connected TCP or UDP socket is one end of a socketpair
 * put in place of the program's fd; the other end serves the recorded peer.
 * These return -2 when the call is not theirs to answer (the real call
 * goes on). */
#define RPN_PASS (-2)
int rpn_connect(struct sock *s, int fd, const struct sockaddr *addr, socklen_t len);
/* After any transfer on a served socket: takes what the program sent,
 * checks it against the trace, serves what the peer sent next. */
void rpn_pump(struct sock *s);
int rpn_getsockopt(struct sock *s, int level, int optname, void *optval, socklen_t *optlen);
int rpn_setsockopt(struct sock *s, int fd, int level, int optname, const void *optval,
		   socklen_t optlen);
/* getsockname (peer 0) or getpeername (peer 1), from the trace. */
int rpn_name(struct sock *s, int peer, struct sockaddr *addr, socklen_t *len);
/* A datagram's source for recvfrom/recvmsg: the recorded peer. */
void rpn_fill_from(struct sock *s, struct sockaddr *addr, socklen_t *len);
void rpn_release(struct sock *s);
/* An unconnected UDP socket's sendto(addr): serves the socket from that
 * peer's recording (the first datagram binds it). @return 1 when the
 * datagram must go through the socketpair (send without the address). */
int rpn_udp_sendto(struct sock *s, int fd, const struct sockaddr *addr, socklen_t len);
/* @return the socket of fd with a reference (net.h's sock_get), NULL if none. */
struct sock *net_sock_get(int fd);
void net_sock_put(struct sock *s);

/* ---- TLS (hook_tls.c) ---- */

/* Records plaintext that a TLS library read or wrote on socket fd, as the
 * connection's send or recv, marked "tls". */
void net_rec_plain(int fd, int out, const char *fn, long r, int err, const void *p, size_t n);
/* Replay: the recorded TLS session facts (the "tls" socket_call payload)
 * of the connection fd plays, or NULL. Borrowed. */
struct json_object *rpn_tls_facts(struct sock *s);
