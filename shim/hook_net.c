/* SPDX-License-Identifier: MIT */
/* hook_net.c -- the life of TCP/UDP sockets: socket, connect, accept, shutdown, close, dup, fcntl.
 *
 * Every socket() of the right family and type gets a refcounted struct sock
 * in the fd table; every other hook asks the table first, so files, pipes
 * and Unix sockets cost one relaxed byte load. The table is kept right on
 * close, dup*, fcntl(F_DUPFD*) and close_range whether or not we record,
 * because a stale entry would make us record a file's reads as socket data.
 * The data itself (send*, recv*, read*, write*) is recorded in hook_netio.c;
 * what both files share is in net.h.
 *
 * Pattern (shim/real.c rules): call the real function first, save errno,
 * record between shim_enter() and shim_leave(), restore errno, return the
 * real result. Nothing here changes what the program sees.
 */
/* The hooks must carry the plain libc names: with _FILE_OFFSET_BITS=64
 * (meson's default) glibc's headers rename fcntl to fcntl64, and fortify
 * turns read/recv into inline wrappers. */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/hot.h"
#include "common/json.h"
#include "shim/fdtab.h"
#include "shim/hooks_proc.h"
#include "shim/net.h"
#include "shim/netcall.h"
#include "shim/real.h"
#include "shim/recorder.h"
#include "shim/replayer.h"
#include "shim/secrets.h"
#include "shim/shim.h"
#include "shim/tracefd.h"

/* ---- errno names (shared with hook_dns.c through shim.h) ---- */

#define E(x) [x] = #x
static const char *const errno_names[] = {
	E(EPERM),	    E(ENOENT),		E(ESRCH),	 E(EINTR),	  E(EIO),
	E(ENXIO),	    E(E2BIG),		E(ENOEXEC),	 E(EBADF),	  E(ECHILD),
	E(EAGAIN),	    E(ENOMEM),		E(EACCES),	 E(EFAULT),	  E(EBUSY),
	E(EEXIST),	    E(EXDEV),		E(ENODEV),	 E(ENOTDIR),	  E(EISDIR),
	E(EINVAL),	    E(ENFILE),		E(EMFILE),	 E(ENOTTY),	  E(EFBIG),
	E(ENOSPC),	    E(ESPIPE),		E(EROFS),	 E(EMLINK),	  E(EPIPE),
	E(ERANGE),	    E(ENAMETOOLONG),	E(ENOSYS),	 E(ENOTEMPTY),	  E(ELOOP),
	E(ENOTSOCK),	    E(EDESTADDRREQ),	E(EMSGSIZE),	 E(EPROTOTYPE),	  E(ENOPROTOOPT),
	E(EPROTONOSUPPORT), E(ESOCKTNOSUPPORT), E(EOPNOTSUPP),	 E(EPFNOSUPPORT), E(EAFNOSUPPORT),
	E(EADDRINUSE),	    E(EADDRNOTAVAIL),	E(ENETDOWN),	 E(ENETUNREACH),  E(ENETRESET),
	E(ECONNABORTED),    E(ECONNRESET),	E(ENOBUFS),	 E(EISCONN),	  E(ENOTCONN),
	E(ESHUTDOWN),	    E(ETIMEDOUT),	E(ECONNREFUSED), E(EHOSTDOWN),	  E(EHOSTUNREACH),
	E(EALREADY),	    E(EINPROGRESS),	E(EPROTO),	 E(EBADMSG),	  E(EOVERFLOW),
	E(ENONET),	    E(ENODATA),		E(ETIME),	 E(ECANCELED),	  E(EREMOTEIO),
	E(ENOMEDIUM),	    E(EDQUOT),
};
#undef E

AT_HOT const char *shim_errno_name(int e)
{
	const char *s = NULL;

	if (e >= 0 && (size_t)e < sizeof(errno_names) / sizeof(errno_names[0]))
		s = errno_names[e];
	/* The table covers what sockets and resolvers return; glibc >= 2.32
	 * names the rest. */
	if (!s)
		s = strerrorname_np(e);
	return s ? s : "EUNKNOWN";
}

/* ---- small formatting helpers (no sprintf: see STYLE.md) ---- */

/* Appends src to dst[0..cap) at *pos, always NUL-terminating, truncating. */
static void put(char *dst, size_t cap, size_t *pos, const char *src)
{
	while (*src && *pos + 1 < cap)
		dst[(*pos)++] = *src++;
	dst[*pos] = '\0';
}

static void put_uint(char *dst, size_t cap, size_t *pos, unsigned long v)
{
	char tmp[24];
	size_t i = sizeof(tmp) - 1;

	tmp[i] = '\0';
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v && i);
	put(dst, cap, pos, tmp + i);
}

void net_fmt_addr(char *out, const struct sockaddr *sa, socklen_t len)
{
	char host[INET6_ADDRSTRLEN];
	size_t pos = 0;

	out[0] = '\0';
	if (!sa || len < (socklen_t)sizeof(sa_family_t))
		return;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		if (!inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host)))
			return;
		put(out, NET_ADDR_MAX, &pos, host);
		put(out, NET_ADDR_MAX, &pos, ":");
		put_uint(out, NET_ADDR_MAX, &pos, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		if (!inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host)))
			return;
		put(out, NET_ADDR_MAX, &pos, "[");
		put(out, NET_ADDR_MAX, &pos, host);
		put(out, NET_ADDR_MAX, &pos, "]:");
		put_uint(out, NET_ADDR_MAX, &pos, ntohs(in6->sin6_port));
	}
}

static void fmt_sockname(char *out, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		net_fmt_addr(out, (struct sockaddr *)&ss, len);
	else
		out[0] = '\0';
}

static void fmt_peername(char *out, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		net_fmt_addr(out, (struct sockaddr *)&ss, len);
	else
		out[0] = '\0';
}

/* ---- per-socket objects ---- */

static void sock_release(struct fd_obj *o)
{
	struct sock *s = (struct sock *)o;

	rpn_release(s);
	net_late_put(s->late);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

struct late_state *net_late_get(struct sock *s)
{
	struct late_state *ls = atomic_load_explicit(&s->late, memory_order_acquire);

	/* made once, never replaced while s lives: no lock once it exists */
	if (__builtin_expect(ls != NULL, 1)) {
		atomic_fetch_add_explicit(&ls->refs, 1, memory_order_relaxed);
		return ls;
	}
	pthread_mutex_lock(&s->lock);
	ls = s->late;
	if (!ls) {
		ls = calloc(1, sizeof(*ls));
		if (ls) {
			atomic_init(&ls->refs, 1); /* the socket's */
			memcpy(ls->conn, s->conn, sizeof(ls->conn));
			memcpy(ls->peer, s->peer, sizeof(ls->peer));
			buf_init(&ls->rdbuf, 0);
			atomic_store_explicit(&s->late, ls, memory_order_release);
		}
	}
	if (ls)
		atomic_fetch_add_explicit(&ls->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&s->lock);
	return ls;
}

void net_late_put(struct late_state *ls)
{
	if (!ls || atomic_fetch_sub_explicit(&ls->refs, 1, memory_order_acq_rel) != 1)
		return;
	secrets_free(ls->rd[0]);
	secrets_free(ls->rd[1]);
	buf_release(&ls->rdbuf);
	free(ls);
}

/* The thread's logical tid, for conn ids. */
static int thread_tid(struct shim_thread *t)
{
	/* A thread that has not emitted anything yet may not have one; the
	 * recorder hands out the same id when the thread first records. */
	if (t->tid < 0)
		t->tid = shim_new_tid();
	return t->tid;
}

/* A new object for a socket of `kind` created (or accepted) by thread t.
 * @return it with one reference (the caller's), or NULL on OOM. */
static struct sock *sock_new(struct shim_thread *t, enum fd_kind kind, int family, int nonblock)
{
	struct sock *s = calloc(1, sizeof(*s));
	size_t pos = 0;

	if (!s)
		return NULL;
	atomic_init(&s->obj.refs, 1);
	s->obj.release = sock_release;
	s->kind = kind;
	s->family = family;
	atomic_init(&s->nonblock, nonblock);
	atomic_init(&s->pending, 0);
	/* The caller installs it on one fd right away. */
	atomic_init(&s->nfds, 1);
	pthread_mutex_init(&s->lock, NULL);
	put_uint(s->conn, sizeof(s->conn), &pos, (unsigned long)thread_tid(t));
	put(s->conn, sizeof(s->conn), &pos, ".");
	put_uint(s->conn, sizeof(s->conn), &pos, ++t->next_conn);
	return s;
}

/* @return fd's socket with a new reference (drop with sock_put), or NULL
 * when fd is not one of ours. */
static struct sock *sock_get(int fd)
{
	struct fd_obj *o = fdtab_get(fd);

	/* The kind byte and the object are not read atomically together:
	 * check the object really is ours. */
	if (o && o->release != sock_release) {
		fdtab_put(o);
		return NULL;
	}
	return (struct sock *)o;
}

/* Drops a reference from sock_get() or sock_new(); accepts NULL. */
static void sock_put(struct sock *s)
{
	if (s)
		fdtab_put(&s->obj);
}

struct sock *net_sock_get(int fd)
{
	return sock_get(fd);
}

void net_sock_put(struct sock *s)
{
	sock_put(s);
}

static void sock_set_addrs(struct sock *s, const char *peer, const char *local)
{
	pthread_mutex_lock(&s->lock);
	if (peer)
		memcpy(s->peer, peer, NET_ADDR_MAX);
	if (local)
		memcpy(s->local, local, NET_ADDR_MAX);
	pthread_mutex_unlock(&s->lock);
}

void net_sock_addrs(struct sock *s, char *peer, char *local)
{
	pthread_mutex_lock(&s->lock);
	if (peer)
		memcpy(peer, s->peer, NET_ADDR_MAX);
	if (local)
		memcpy(local, s->local, NET_ADDR_MAX);
	pthread_mutex_unlock(&s->lock);
}

struct sock *net_enter_sock(int fd, struct shim_thread **ret_t)
{
	struct shim_thread *t = shim_enter();
	struct sock *s;

	if (!t)
		return NULL;
	s = sock_get(fd);
	if (!s) {
		shim_leave(t);
		return NULL;
	}
	*ret_t = t;
	return s;
}

void net_leave_sock(struct shim_thread *t, struct sock *s)
{
	sock_put(s);
	shim_leave(t);
}

/* ---- event writers ---- */

struct buf *net_ev_sock(struct shim_thread *t, struct sock *s, const char *op, const char *fn,
			const char *peer, const char *local, long n)
{
	struct buf *b = ev_begin(t, "socket_call");
	const char *proto = s->kind == FD_TCP ? "tcp" : "udp";
	size_t nop = strlen(op), nconn = strlen(s->conn), nfn = strlen(fn);

	/* Every transfer starts so: op, fn and proto are this library's
	 * literals and conn is digits and a dot, none needs escaping, so they
	 * go in with one reservation rather than four member writers. The
	 * payload was just opened: no comma first. */
	if (buf_reserve(b, nop + nconn + nfn + 48) == 0 && buf_last(b) == '{') {
		char *o = b->data + b->len;

		memcpy(o, "\"op\":\"", 6);
		memcpy(o += 6, op, nop);
		memcpy(o += nop, "\",\"conn\":\"", 10);
		memcpy(o += 10, s->conn, nconn);
		memcpy(o += nconn, "\",\"proto\":\"", 11);
		memcpy(o += 11, proto, 3);
		memcpy(o += 3, "\",\"fn\":\"", 8);
		memcpy(o += 8, fn, nfn);
		o += nfn;
		*o++ = '"';
		*o = '\0';
		b->len = (size_t)(o - b->data);
	} else {
		json_kv_str(b, "op", op);
		json_kv_str(b, "conn", s->conn);
		json_kv_str(b, "proto", proto);
		json_kv_str(b, "fn", fn);
	}
	if (peer && *peer)
		json_kv_str(b, "peer", peer);
	if (local && *local)
		json_kv_str(b, "local", local);
	json_kv_int(b, "n", n);
	return b;
}

void net_ev_sock_end(struct shim_thread *t, struct buf *b, long n, int err)
{
	if (n < 0)
		json_kv_str(b, "errno", shim_errno_name(err));
	ev_end(t);
}

/* An event with no data: connect_result, shutdown, close and friends. */
static void rec_simple(struct shim_thread *t, struct sock *s, const char *op, const char *fn,
		       const char *peer, const char *local, long r, int err, const char *how)
{
	struct buf *b = net_ev_sock(t, s, op, fn, peer, local, r);

	if (how)
		json_kv_str(b, "how", how);
	net_ev_sock_end(t, b, r, err);
}

/* ---- fd table upkeep ---- */

/* fd no longer refers to its file (closed, replaced by dup2, or found
 * stale): drop it from the table. @return its socket, referenced, when fd
 * was the socket's last descriptor, for close_done() to report; else NULL.
 * A close of one of several dup'ed descriptors ends nothing on the wire. */
static struct sock *forget(int fd)
{
	struct sock *s;

	if (fdtab_kind(fd) == FD_NONE)
		return NULL;
	s = fdtab_is_sock(fd) ? sock_get(fd) : NULL;
	fdtab_clear(fd);
	if (s && atomic_fetch_sub(&s->nfds, 1) != 1) {
		sock_put(s);
		s = NULL;
	}
	return s;
}

/* Tells netcall.c, in order with s's bytes, that s is closed. */
static void late_close(struct shim_thread *t, struct sock *s)
{
	struct rec_late h = { .kind = REC_LATE_CLOSE, .ts = rec_now_ns() };

	pthread_mutex_lock(&s->lock);
	h.ls = s->late;
	if (h.ls)
		atomic_fetch_add_explicit(&h.ls->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&s->lock);
	if (h.ls)
		rec_late_bare(t, &h);
}

/* Records the close of s's last descriptor and drops the reference. */
static void close_done(struct sock *s, const char *fn, long r, int err)
{
	struct shim_thread *t;

	if (!s)
		return;
	t = shim_enter();
	if (t) {
		rec_simple(t, s, "close", fn, NULL, NULL, r, err, NULL);
		late_close(t, s);
		shim_leave(t);
	}
	sock_put(s);
}

/* newfd now refers to oldfd's file (after dup, F_DUPFD*, or dup2/dup3 once
 * newfd's old entry is forgotten). */
static void dup_done(int oldfd, int newfd)
{
	struct sock *s;

	if (fdtab_kind(oldfd) == FD_NONE && fdtab_kind(newfd) == FD_NONE)
		return;
	/* Only a stale entry can sit on a number the kernel just handed out. */
	sock_put(forget(newfd));
	s = fdtab_is_sock(oldfd) ? sock_get(oldfd) : NULL;
	if (s) {
		atomic_fetch_add(&s->nfds, 1);
		sock_put(s);
	}
	fdtab_dup(oldfd, newfd);
}

/* A new fd's number still has an entry: we missed its close (fclose of an
 * fdopen'ed socket closes inside libc, closefrom uses an internal
 * close_range). Forget it, keeping errno. */
static void stale_clear(int fd)
{
	int saved = errno;

	sock_put(forget(fd));
	errno = saved;
}

/* ---- socket, connect, accept ---- */

SHIM_EXPORT int socket(int domain, int type, int protocol)
{
	int fd = REAL(socket)(domain, type, protocol);
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	enum fd_kind kind = FD_NONE;
	struct shim_thread *t;
	struct sock *s;
	int saved;

	if (__builtin_expect(fd < 0 && errno == EMFILE, 0) && tracefd_yield())
		fd = REAL(socket)(domain, type, protocol);
	fd = tracefd_fixup(fd, 0);
	if (fd < 0)
		return fd;
	saved = errno;
	if (fdtab_kind(fd) != FD_NONE)
		stale_clear(fd);
	if (domain == AF_INET || domain == AF_INET6) {
		/* Only plain TCP and UDP: not SCTP, ICMP ping or UDP-Lite. */
		if (base == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP))
			kind = FD_TCP;
		else if (base == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP))
			kind = FD_UDP;
	}
	if (kind == FD_NONE)
		goto out;
	/* Sockets the shim itself opens (collector uploads, resolver lookups
	 * inside getaddrinfo) are made under the guard and never tracked. */
	t = shim_enter();
	if (!t)
		goto out;
	s = sock_new(t, kind, domain, !!(type & SOCK_NONBLOCK));
	if (s) {
		fdtab_set(fd, kind, &s->obj);
		sock_put(s);
	}
	shim_leave(t);
out:
	errno = saved;
	return fd;
}

/* Replay: the recorded outcome, and a socketpair serving the peer. */
static NET_SLOW int connect_replayed(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct shim_thread *t;
	struct sock *s = net_enter_sock(fd, &t);
	int r = RPN_PASS, saved;

	if (s) {
		r = rpn_connect(s, fd, addr, len);
		saved = errno;
		net_leave_sock(t, s);
		errno = saved;
	}
	return r == RPN_PASS ? REAL(connect)(fd, addr, len) : r;
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int r = __builtin_expect(shim_replaying, 0) && fdtab_is_sock(fd)
			? connect_replayed(fd, addr, len)
			: REAL(connect)(fd, addr, len);
	char peer[NET_ADDR_MAX], local[NET_ADDR_MAX] = "";
	struct shim_thread *t;
	struct sock *s;
	int saved;

	if (!fdtab_is_sock(fd))
		return r;
	saved = errno;
	s = net_enter_sock(fd, &t);
	if (!s)
		goto out;
	/* AF_UNSPEC on UDP dissolves the association: peer becomes "".
	 * EFAULT may mean addr itself is bad: do not look at it then. */
	net_fmt_addr(peer, r < 0 && saved == EFAULT ? NULL : addr, len);
	if (r == 0 || (saved == EISCONN && atomic_load(&s->pending))) {
		/* Connected (a repeated connect after EINPROGRESS answers
		 * EISCONN once the handshake finished). */
		atomic_store(&s->pending, 0);
		fmt_sockname(local, fd);
	} else if (saved == EINPROGRESS || (saved == EINTR && s->kind == FD_TCP)) {
		/* The handshake goes on in the kernel; the program learns the
		 * outcome from SO_ERROR (recorded as connect_result). */
		atomic_store(&s->pending, 1);
	}
	sock_set_addrs(s, peer, local);
	rec_simple(t, s, "connect", "connect", peer, local, r, saved, NULL);
	net_leave_sock(t, s);
out:
	errno = saved;
	return r;
}

/* Replay: a served socket's options and names come from the trace. These
 * run also inside the shim (the recording code asks getsockname), so they
 * take no guard: the socket's replay state is all they read. */
static NET_SLOW int sockopt_replayed(int fd, int set, int level, int optname, void *optval,
				     socklen_t *optlen, socklen_t setlen)
{
	struct sock *s = sock_get(fd);
	int r = RPN_PASS, saved;

	if (s) {
		r = set ? rpn_setsockopt(s, fd, level, optname, optval, setlen)
			: rpn_getsockopt(s, level, optname, optval, optlen);
		saved = errno;
		sock_put(s);
		errno = saved;
	}
	if (r != RPN_PASS)
		return r;
	return set ? REAL(setsockopt)(fd, level, optname, optval, setlen)
		   : REAL(getsockopt)(fd, level, optname, optval, optlen);
}

static NET_SLOW int name_replayed(int fd, int peer, struct sockaddr *addr, socklen_t *len)
{
	struct sock *s = sock_get(fd);
	int r = RPN_PASS, saved;

	if (s) {
		r = rpn_name(s, peer, addr, len);
		saved = errno;
		sock_put(s);
		errno = saved;
	}
	if (r != RPN_PASS)
		return r;
	return peer ? REAL(getpeername)(fd, addr, len) : REAL(getsockname)(fd, addr, len);
}

SHIM_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	if (__builtin_expect(shim_replaying, 0) && fdtab_is_sock(fd))
		return name_replayed(fd, 0, addr, len);
	return REAL(getsockname)(fd, addr, len);
}

SHIM_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	if (__builtin_expect(shim_replaying, 0) && fdtab_is_sock(fd))
		return name_replayed(fd, 1, addr, len);
	return REAL(getpeername)(fd, addr, len);
}

SHIM_EXPORT int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)
{
	if (__builtin_expect(shim_replaying, 0) && fdtab_is_sock(fd))
		return sockopt_replayed(fd, 1, level, optname, (void *)optval, NULL, optlen);
	return REAL(setsockopt)(fd, level, optname, optval, optlen);
}

SHIM_EXPORT int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen)
{
	int r = __builtin_expect(shim_replaying, 0) && fdtab_is_sock(fd)
			? sockopt_replayed(fd, 0, level, optname, optval, optlen, 0)
			: REAL(getsockopt)(fd, level, optname, optval, optlen);
	char peer[NET_ADDR_MAX], local[NET_ADDR_MAX] = "";
	struct shim_thread *t;
	struct sock *s;
	int saved, soerr;

	if (level != SOL_SOCKET || optname != SO_ERROR || !fdtab_is_sock(fd))
		return r;
	if (r != 0 || !optval || !optlen || *optlen < (socklen_t)sizeof(int))
		return r;
	saved = errno;
	s = net_enter_sock(fd, &t);
	if (!s)
		goto out;
	if (!atomic_load(&s->pending))
		goto leave;
	memcpy(&soerr, optval, sizeof(soerr));
	if (soerr == 0) {
		/* SO_ERROR is also 0 while the handshake is still running:
		 * only a socket with a peer has connected. */
		fmt_peername(peer, fd);
		if (!peer[0])
			goto leave;
		fmt_sockname(local, fd);
	}
	/* Only one thread reports the outcome. */
	if (!atomic_exchange(&s->pending, 0))
		goto leave;
	if (soerr == 0)
		sock_set_addrs(s, NULL, local);
	net_sock_addrs(s, peer, NULL);
	rec_simple(t, s, "connect_result", "getsockopt", peer, local, soerr ? -1 : 0, soerr, NULL);
leave:
	net_leave_sock(t, s);
out:
	errno = saved;
	return r;
}

static void rec_accept(int lfd, int fd, const char *fn, int flags, int err)
{
	char peer[NET_ADDR_MAX], local[NET_ADDR_MAX];
	struct shim_thread *t;
	struct sock *ls, *s;

	ls = net_enter_sock(lfd, &t);
	if (!ls)
		return;
	if (fd < 0) {
		rec_simple(t, ls, "accept", fn, NULL, NULL, -1, err, NULL);
		goto leave;
	}
	s = sock_new(t, ls->kind, ls->family, !!(flags & SOCK_NONBLOCK));
	if (!s)
		goto leave;
	/* The program's own addr buffer may be NULL or short: ask the kernel. */
	fmt_peername(peer, fd);
	fmt_sockname(local, fd);
	sock_set_addrs(s, peer, local);
	fdtab_set(fd, s->kind, &s->obj);
	rec_simple(t, s, "accept", fn, peer, local, 0, 0, NULL);
	sock_put(s);
leave:
	net_leave_sock(t, ls);
}

SHIM_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	int r = REAL(accept)(fd, addr, len);
	int saved;

	if (__builtin_expect(r < 0 && errno == EMFILE, 0) && tracefd_yield())
		r = REAL(accept)(fd, addr, len);
	r = tracefd_fixup(r, 0);
	/* A stale entry means we missed a close: the number is a new socket. */
	if (r >= 0 && fdtab_kind(r) != FD_NONE)
		stale_clear(r);
	if (!fdtab_is_sock(fd))
		return r;
	saved = errno;
	rec_accept(fd, r, "accept", 0, saved);
	errno = saved;
	return r;
}

SHIM_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int r = REAL(accept4)(fd, addr, len, flags);
	int saved;

	if (__builtin_expect(r < 0 && errno == EMFILE, 0) && tracefd_yield())
		r = REAL(accept4)(fd, addr, len, flags);
	r = tracefd_fixup(r, 0);
	/* A stale entry means we missed a close: the number is a new socket. */
	if (r >= 0 && fdtab_kind(r) != FD_NONE)
		stale_clear(r);
	if (!fdtab_is_sock(fd))
		return r;
	saved = errno;
	rec_accept(fd, r, "accept4", flags, saved);
	errno = saved;
	return r;
}

/* ---- shutdown, close, dup ---- */

SHIM_EXPORT int shutdown(int fd, int how)
{
	int r = REAL(shutdown)(fd, how);
	struct shim_thread *t;
	struct sock *s;
	const char *hs;
	int saved;

	if (!fdtab_is_sock(fd))
		return r;
	saved = errno;
	s = net_enter_sock(fd, &t);
	if (!s)
		goto out;
	hs = how == SHUT_RD	? "SHUT_RD"
	     : how == SHUT_WR	? "SHUT_WR"
	     : how == SHUT_RDWR ? "SHUT_RDWR"
				: "?";
	rec_simple(t, s, "shutdown", "shutdown", NULL, NULL, r, saved, hs);
	net_leave_sock(t, s);
out:
	errno = saved;
	return r;
}

static NET_SLOW int close_tracked(int fd)
{
	struct sock *s;
	int r, saved;

	/* A vfork child (Python's subprocess closing fds before exec) shares
	 * the parent's memory: the table is the parent's, and its sockets stay
	 * open in the parent. */
	if (fdtab_kind(fd) == FD_NONE || shim_in_vfork_child())
		return REAL(close)(fd);
	/* Forget fd before the real close: once the kernel frees the number,
	 * another thread's socket() may reuse it, and we must not clear that
	 * one's entry. */
	s = forget(fd);
	r = REAL(close)(fd);
	saved = errno;
	close_done(s, "close", r, saved);
	errno = saved;
	return r;
}

AT_HOT SHIM_EXPORT int close(int fd)
{
	close_fn *real = real_close;

	int r;

	if (__builtin_expect(fdtab_kind(fd) == FD_NONE && real != NULL && fd != tracefd_peek(),
			     1)) {
		if (__builtin_expect(!atomic_load_explicit(&tracefd_lost_, memory_order_relaxed),
				     1))
			return real(fd);
		r = real(fd);
		if (r == 0)
			tracefd_reclaim();
		return r;
	}
	/* The trace descriptor is not the program's: closing it is closing a
	 * number that is not open. */
	if (fd == tracefd_peek() && tracefd_guard(fd, -1) < 0) {
		errno = EBADF;
		return -1;
	}
	return close_tracked(fd);
}

/* Forgets the table entries of fds first..last, after they were closed. */
static void range_forget(unsigned int first, unsigned int last)
{
	unsigned int fd, end;
	int saved = errno;

	if (first >= FDTAB_MAX)
		return;
	end = last < FDTAB_MAX - 1 ? last : FDTAB_MAX - 1;
	for (fd = first; fd <= end; fd++)
		if (fdtab_kind((int)fd) != FD_NONE)
			sock_put(forget((int)fd));
	errno = saved;
}

SHIM_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	int r = tracefd_close_range(first, last, flags, REAL(close_range));

	/* CLOSE_RANGE_CLOEXEC only marks the fds; they stay open. */
	if (r != 0 || (flags & CLOSE_RANGE_CLOEXEC) || first >= FDTAB_MAX || shim_in_vfork_child())
		return r;
	/* No events: close_range runs before exec or in daemons' cleanup,
	 * where the sockets are long done with. */
	range_forget(first, last);
	return r;
}

/* glibc's closefrom calls close_range internally, past our hook: the
 * numbers below the trace descriptor go through our close_range, the ones
 * above it to the real closefrom. */
SHIM_EXPORT void closefrom(int lowfd)
{
	unsigned int low = lowfd < 0 ? 0 : (unsigned int)lowfd;
	int t = tracefd_peek();
	int saved = errno;

	if (t >= 0 && low <= (unsigned int)t) {
		if (low < (unsigned int)t && close_range(low, (unsigned int)t - 1, 0) != 0)
			for (unsigned int fd = low; fd < (unsigned int)t; fd++)
				REAL(close)((int)fd);
		low = (unsigned int)t + 1;
	}
	errno = saved;
	REAL(closefrom)((int)low);
	if (!shim_in_vfork_child())
		range_forget(low, ~0U);
}

SHIM_EXPORT int dup(int fd)
{
	int r, saved;

	if (__builtin_expect(fd == tracefd_peek(), 0) && tracefd_guard(fd, -1) < 0) {
		errno = EBADF;
		return -1;
	}
	r = REAL(dup)(fd);
	if (__builtin_expect(r < 0 && errno == EMFILE, 0) && tracefd_yield())
		r = REAL(dup)(fd);
	r = tracefd_fixup(r, 0);

	if (r < 0 || (fdtab_kind(fd) == FD_NONE && fdtab_kind(r) == FD_NONE))
		return r;
	saved = errno;
	dup_done(fd, r);
	errno = saved;
	return r;
}

/* dup2 and dup3 close newfd first when it is open: record that close. */
static int dup_onto(int oldfd, int newfd, int r, const char *fn)
{
	struct sock *closed;
	int saved;

	if (r < 0 || oldfd == newfd || shim_in_vfork_child())
		return r;
	saved = errno;
	closed = forget(newfd);
	dup_done(oldfd, newfd);
	close_done(closed, fn, 0, 0);
	errno = saved;
	return r;
}

/* The program may take the trace descriptor's number, never use it. */
static int dup_guard(int oldfd, int newfd)
{
	int t = tracefd_peek();

	if (__builtin_expect(t < 0 || (oldfd != t && newfd != t), 1))
		return 0;
	return tracefd_guard(oldfd, newfd);
}

SHIM_EXPORT int dup2(int oldfd, int newfd)
{
	int r;

	if (dup_guard(oldfd, newfd) < 0) {
		errno = EBADF;
		return -1;
	}
	r = REAL(dup2)(oldfd, newfd);

	if (fdtab_kind(oldfd) == FD_NONE && fdtab_kind(newfd) == FD_NONE)
		return r;
	return dup_onto(oldfd, newfd, r, "dup2");
}

SHIM_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	int r;

	/* dup3 fails oldfd == newfd with EINVAL before it looks at either */
	if (oldfd != newfd && dup_guard(oldfd, newfd) < 0) {
		errno = EBADF;
		return -1;
	}
	r = REAL(dup3)(oldfd, newfd, flags);

	if (fdtab_kind(oldfd) == FD_NONE && fdtab_kind(newfd) == FD_NONE)
		return r;
	return dup_onto(oldfd, newfd, r, "dup3");
}

/* fcntl's third argument is an int, a long or a pointer depending on cmd;
 * like glibc itself we read it as one pointer-sized value and pass it on,
 * which is correct for every command on the ABIs we support. */
AT_HOT static int fcntl_impl(fcntl_fn *real, int fd, int cmd, void *arg)
{
	int dupfd = cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC;
	struct sock *s;
	int r, saved;

	if (__builtin_expect(dupfd && fd == tracefd_peek(), 0) && tracefd_guard(fd, -1) < 0) {
		errno = EBADF;
		return -1;
	}
	r = real(fd, cmd, arg);
	if (__builtin_expect(dupfd, 0)) {
		if (r < 0 && errno == EMFILE && tracefd_yield())
			r = real(fd, cmd, arg);
		r = tracefd_fixup(r, (int)(long)arg);
	}
	if (r < 0)
		return r;
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		if (fdtab_kind(fd) == FD_NONE && fdtab_kind(r) == FD_NONE)
			return r;
		saved = errno;
		dup_done(fd, r);
		errno = saved;
		break;
	case F_SETFL:
		if (!fdtab_is_sock(fd))
			return r;
		saved = errno;
		s = sock_get(fd);
		if (s) {
			atomic_store(&s->nonblock, !!((long)arg & O_NONBLOCK));
			sock_put(s);
		}
		errno = saved;
		break;
	default:
		break;
	}
	return r;
}

AT_HOT SHIM_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_impl(REAL(fcntl), fd, cmd, arg);
}

AT_HOT SHIM_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_impl(REAL(fcntl64), fd, cmd, arg);
}
