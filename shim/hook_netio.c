/* SPDX-License-Identifier: MIT */
/* hook_netio.c -- data on TCP/UDP sockets: send*, recv*, read*, write* as socket_call events.
 *
 * The read and write families are also every program's file I/O, so their
 * hooks decide "not a socket" with one relaxed byte load of the fd table
 * (hook_net.c keeps it) and tail-call the real function. read, readv and
 * __read_chk also hand random-device reads to hook_random.c. Same pattern
 * as hook_net.c: real call first, errno saved and restored around recording.
 */
/* The hooks must carry the plain libc names: with _FILE_OFFSET_BITS=64
 * (meson's default) glibc's headers rename fcntl to fcntl64, and fortify
 * turns read/recv into inline wrappers. */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/hot.h"
#include "common/json.h"
#include "common/log.h"
#include "shim/fdtab.h"
#include "shim/hooks.h"
#include "shim/net.h"
#include "shim/netcall.h"
#include "shim/real.h"
#include "shim/recorder.h"
#include "shim/replayer.h"
#include "shim/secrets.h"
#include "shim/shim.h"

/* Up to this many bytes spread over several iovecs are joined on the stack. */
#define GATHER_STACK 4096

/* Writes p[0..n) as data/data_b64. If the buffer cannot take it (OOM, or
 * the recorder's cap), the half-written value is rolled back so the line
 * stays valid JSON, and data_dropped says the bytes are missing. */
static void kv_data(struct buf *b, const void *p, size_t n)
{
	size_t mark = b->len;

	if (json_kv_bytes(b, "data", p, n) == 0)
		return;
	b->len = mark;
	if (b->data)
		b->data[mark] = '\0';
	json_kv_bool(b, "data_dropped", 1);
}

/* Writes the first n bytes spread over iov as data/data_b64. */
static void kv_iov(struct buf *b, const struct iovec *iov, size_t iovcnt, size_t n)
{
	char stack[GATHER_STACK];
	char *p;
	size_t i, off = 0;

	if (!n)
		return;
	if (iovcnt && iov[0].iov_len >= n) {
		kv_data(b, iov[0].iov_base, n);
		return;
	}
	/* The UTF-8 check and base64 need the bytes in one piece. */
	p = n <= sizeof(stack) ? stack : malloc(n);
	if (!p) {
		json_kv_bool(b, "data_dropped", 1);
		return;
	}
	for (i = 0; i < iovcnt && off < n; i++) {
		size_t k = iov[i].iov_len < n - off ? iov[i].iov_len : n - off;

		if (k)
			memcpy(p + off, iov[i].iov_base, k);
		off += k;
	}
	if (off)
		kv_data(b, p, off);
	if (p != stack)
		free(p);
}

/* TCP bytes go out late (recorder.h): the event gets the raw bytes as a
 * late record, and net_late_expand() redacts them when the lines are
 * gathered, off the program's thread. */
static void kv_late(struct shim_thread *t, struct sock *s, int out, struct buf *b,
		    const struct iovec *iov, size_t iovcnt, size_t n)
{
	struct rec_late h;

	if (!n)
		return;
	h = (struct rec_late){
		.ls = net_late_get(s),
		.step = t->step,
		.tid = t->tid < 0 ? 0 : t->tid,
		.kind = REC_LATE_DATA,
		.out = (uint8_t)out,
		.tls = (uint8_t)atomic_load_explicit(&s->tls, memory_order_relaxed),
		.h2 = (uint8_t)atomic_load_explicit(&s->h2, memory_order_relaxed),
	};
	if (!h.ls || rec_late_iov(b, &h, iov, iovcnt, n) < 0) {
		net_late_put(h.ls);
		json_kv_bool(b, "data_dropped", 1);
	}
}

/* The redacted form of a late record's bytes, as data, in line; the same
 * bytes go to netcall.c. A redactor that cannot be made or fed drops the
 * bytes (data_dropped) rather than record a secret. */
static void late_data(const struct rec_late *h, const unsigned char *p, struct buf *line,
		      struct buf *lines)
{
	struct late_state *ls = h->ls;
	int out = h->out, r = 0;
	struct buf *red = &ls->rdbuf;
	size_t mark = line->len;

	if (!ls->rd[out])
		ls->rd[out] = secrets_new();
	/* ALPN h2, or the other direction turned HTTP/2 (a preface): this
	 * one is HTTP/2 too, from its first byte */
	if (ls->rd[out] && !ls->h2_told[out] &&
	    (h->h2 || (ls->rd[!out] && secrets_is_h2(ls->rd[!out])))) {
		ls->h2_told[out] = 1;
		secrets_set_h2(ls->rd[out]);
	}
	buf_reset(red);
	r = ls->rd[out] ? secrets_feed(ls->rd[out], !out, p, h->n, red) : -ENOMEM;
	/* the comma first: what precedes in line is another record's text */
	if (r == 0)
		r = buf_putc(line, ',');
	if (r == 0)
		r = json_kv_bytes(line, "data", red->data ? red->data : "", red->len);
	if (r < 0) {
		line->len = mark;
		if (line->data)
			line->data[mark] = '\0';
		buf_putc(line, ',');
		json_kv_bool(line, "data_dropped", 1);
	} else if (red->len) {
		nc_bytes(h, red->data, red->len, lines);
	}
	/* A large transfer's buffer is not kept for the connection's life. */
	if (red->cap > (256u << 10)) {
		buf_release(red);
		buf_init(red, 0);
	}
}

void net_late_expand(const struct rec_late *h, const unsigned char *p, struct buf *line,
		     struct buf *lines)
{
	if (line && h->kind == REC_LATE_DATA)
		late_data(h, p, line, lines);
	else if (lines && h->kind == REC_LATE_CLOSE)
		nc_close(h, lines);
	net_late_put(h->ls);
}

static size_t iov_total(const struct iovec *iov, size_t iovcnt)
{
	size_t i, sum = 0;

	for (i = 0; i < iovcnt; i++)
		sum += iov[i].iov_len;
	return sum;
}

/* A TLS record of type handshake (22), version 3.x, holding a ClientHello
 * (type 1): a TLS library the hooks do not see is at work. */
static int looks_like_client_hello(const unsigned char *p)
{
	return p[0] == 0x16 && p[1] == 0x03 && p[2] <= 0x04 && p[5] == 0x01;
}

/* Marks the event, and warns once per connection: the bytes are ciphertext
 * from a statically linked TLS library (NodeSource node, Go, Bun) and
 * cannot be replayed. */
static NET_SLOW void tls_opaque(struct shim_thread *t, struct sock *s, struct buf *b)
{
	char exe[256] = "", peer[NET_ADDR_MAX];
	ssize_t n;

	json_kv_bool(b, "tls_opaque", 1);
	if (atomic_exchange(&s->tls_opaque_warned, 1))
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	net_sock_addrs(s, peer, NULL);
	log_warn("'%s' (%s/%d) speaks TLS to %s through a TLS library attrace cannot see "
		 "(statically linked?): the trace holds ciphertext, which cannot be replayed",
		 exe, shim_proc.lpid, t->tid, peer);
}

/* One data transfer on socket s, already entered.
 * out: 1 for send, 0 for recv. r, err: the real call's result and errno.
 * iov/iovcnt: the caller's buffers; the first min(r, their size) bytes are
 * recorded (recv with MSG_TRUNC may return more than fits).
 * sa/salen: the datagram's destination (send) or source (recv), if any. */
static void rec_xfer(struct shim_thread *t, struct sock *s, int out, const char *fn, long r,
		     int err, const struct iovec *iov, size_t iovcnt, const struct sockaddr *sa,
		     socklen_t salen, int flags)
{
	char peer[NET_ADDR_MAX] = "";
	size_t n = 0;
	struct buf *b;

	if (s->kind == FD_UDP) {
		/* On UDP the peer belongs to each datagram; a connected
		 * socket's comes from connect. */
		if (sa && salen)
			net_fmt_addr(peer, sa, salen);
		if (!peer[0])
			net_sock_addrs(s, peer, NULL);
	}
	/* TCP recv with MSG_TRUNC discards the data without copying it. */
	if (r > 0 && !(!out && s->kind == FD_TCP && (flags & MSG_TRUNC))) {
		n = iov_total(iov, iovcnt);
		if ((size_t)r < n)
			n = (size_t)r;
	}
	b = net_ev_sock(t, s, out ? "send" : "recv", fn, peer, NULL, r);
	if (s->kind == FD_TCP)
		kv_late(t, s, out, b, iov, iovcnt, n);
	else
		kv_iov(b, iov, iovcnt, n);
	if (atomic_load_explicit(&s->tls, memory_order_relaxed))
		json_kv_bool(b, "tls", 1);
	else if (out && n >= 6 && s->kind == FD_TCP && iovcnt && iov[0].iov_len >= 6 &&
		 looks_like_client_hello(iov[0].iov_base))
		tls_opaque(t, s, b);
	/* A peeked receive leaves the bytes queued: the next receive returns
	 * them again, and a replay must know. */
	if (!out && (flags & MSG_PEEK))
		json_kv_bool(b, "peek", 1);
	net_ev_sock_end(t, b, r, err);
	/* Replay: take what was sent, serve what the peer answers. */
	if (s->rp)
		rpn_pump(s);
}

void net_rec_plain(int fd, int out, const char *fn, long r, int err, const void *p, size_t n)
{
	struct shim_thread *t;
	struct sock *s = net_enter_sock(fd, &t);
	struct iovec iov = { .iov_base = (void *)p, .iov_len = n };

	if (!s)
		return;
	atomic_store(&s->tls, 1);
	rec_xfer(t, s, out, fn, r, err, &iov, 1, NULL, 0, 0);
	net_leave_sock(t, s);
}

/* Replay: a datagram's source is the recorded peer, not the socketpair. */
static void fix_from(int fd, ssize_t r, struct sockaddr *addr, socklen_t *alen, socklen_t cap)
{
	struct sock *s;

	if (!shim_replaying || r < 0 || !addr || !alen || !cap)
		return;
	s = net_sock_get(fd);
	if (!s)
		return;
	if (s->rp) {
		*alen = cap; /* the kernel wrote the socketpair's (short) name */
		rpn_fill_from(s, addr, alen);
	}
	net_sock_put(s);
}

/* Records one single-buffer transfer on fd. */
/* Inside a TLS library call the bytes on the socket are ciphertext: not
 * recorded (the library's hook records the plaintext); the call learns
 * which socket it used. @return 1 when the transfer is such. */
static int in_tls(int fd)
{
	struct shim_thread *t = &shim_tls;

	if (__builtin_expect(!t->in_tls, 1))
		return 0;
	t->tls_fd = fd;
	return 1;
}

static void rec_buf(int fd, int out, const char *fn, long r, int err, const void *p, size_t cap,
		    const struct sockaddr *sa, socklen_t salen, int flags)
{
	struct shim_thread *t;
	struct sock *s;
	struct iovec iov = { .iov_base = (void *)p, .iov_len = cap };

	if (in_tls(fd))
		return;
	s = net_enter_sock(fd, &t);
	if (!s)
		return;
	rec_xfer(t, s, out, fn, r, err, &iov, 1, sa, salen, flags);
	net_leave_sock(t, s);
}

static void rec_iov(int fd, int out, const char *fn, long r, int err, const struct iovec *iov,
		    size_t iovcnt, const struct sockaddr *sa, socklen_t salen, int flags)
{
	struct shim_thread *t;
	struct sock *s;

	if (in_tls(fd))
		return;
	s = net_enter_sock(fd, &t);
	if (!s)
		return;
	rec_xfer(t, s, out, fn, r, err, iov, iovcnt, sa, salen, flags);
	net_leave_sock(t, s);
}

/* ---- sending ---- */

SHIM_EXPORT ssize_t send(int fd, const void *p, size_t n, int flags)
{
	ssize_t r = REAL(send)(fd, p, n, flags);
	int saved;

	if (!fdtab_is_sock(fd))
		return r;
	saved = errno;
	rec_buf(fd, 1, "send", r, saved, p, n, NULL, 0, flags);
	errno = saved;
	return r;
}

/* Replay: a datagram to an address goes to the recorded peer of that
 * address, through the socketpair that serves it. */
static NET_SLOW ssize_t sendto_replayed(int fd, const void *p, size_t n, int flags,
					const struct sockaddr *addr, socklen_t alen)
{
	struct shim_thread *t;
	struct sock *s = net_enter_sock(fd, &t);
	int served = 0;

	if (s) {
		served = rpn_udp_sendto(s, fd, addr, alen);
		net_leave_sock(t, s);
	}
	return served ? REAL(send)(fd, p, n, flags) : REAL(sendto)(fd, p, n, flags, addr, alen);
}

SHIM_EXPORT ssize_t sendto(int fd, const void *p, size_t n, int flags, const struct sockaddr *addr,
			   socklen_t alen)
{
	ssize_t r = __builtin_expect(shim_replaying, 0) && addr && fdtab_kind(fd) == FD_UDP
			    ? sendto_replayed(fd, p, n, flags, addr, alen)
			    : REAL(sendto)(fd, p, n, flags, addr, alen);
	int saved;

	if (!fdtab_is_sock(fd))
		return r;
	saved = errno;
	/* EFAULT may mean addr itself is bad: do not look at it then. */
	rec_buf(fd, 1, "sendto", r, saved, p, n, r < 0 && saved == EFAULT ? NULL : addr, alen,
		flags);
	errno = saved;
	return r;
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t r = REAL(sendmsg)(fd, msg, flags);
	int saved;

	if (!fdtab_is_sock(fd))
		return r;
	saved = errno;
	/* On failure msg may be the reason (EFAULT): do not look at it. */
	if (r < 0)
		rec_iov(fd, 1, "sendmsg", r, saved, NULL, 0, NULL, 0, flags);
	else
		rec_iov(fd, 1, "sendmsg", r, saved, msg->msg_iov, msg->msg_iovlen, msg->msg_name,
			msg->msg_namelen, flags);
	errno = saved;
	return r;
}

SHIM_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	int r = REAL(sendmmsg)(fd, vec, vlen, flags);
	struct shim_thread *t;
	struct sock *s;
	int saved, i;

	if (!fdtab_is_sock(fd))
		return r;
	saved = errno;
	s = net_enter_sock(fd, &t);
	if (!s)
		goto out;
	if (r < 0)
		rec_xfer(t, s, 1, "sendmmsg", -1, saved, NULL, 0, NULL, 0, flags);
	/* One event per message the kernel took. */
	for (i = 0; i < r; i++) {
		const struct msghdr *m = &vec[i].msg_hdr;

		rec_xfer(t, s, 1, "sendmmsg", vec[i].msg_len, 0, m->msg_iov, m->msg_iovlen,
			 m->msg_name, m->msg_namelen, flags);
	}
	net_leave_sock(t, s);
out:
	errno = saved;
	return r;
}

static NET_SLOW ssize_t write_sock(int fd, const void *p, size_t n)
{
	ssize_t r = REAL(write)(fd, p, n);
	int saved;

	if (!fdtab_is_sock(fd))
		return r;
	saved = errno;
	rec_buf(fd, 1, "write", r, saved, p, n, NULL, 0, 0);
	errno = saved;
	return r;
}

SHIM_EXPORT ssize_t write(int fd, const void *p, size_t n)
{
	write_fn *real = real_write;

	/* Hot path: every program writes files; ours is a byte load and a
	 * tail call (REAL()'s resolve-on-first-use is left to the slow path). */
	if (__builtin_expect(!fdtab_is_sock(fd) && real != NULL, 1))
		return real(fd, p, n);
	return write_sock(fd, p, n);
}

static NET_SLOW ssize_t writev_sock(int fd, const struct iovec *iov, int iovcnt)
{
	ssize_t r = REAL(writev)(fd, iov, iovcnt);
	int saved = errno;

	rec_iov(fd, 1, "writev", r, saved, iov, iovcnt > 0 ? (size_t)iovcnt : 0, NULL, 0, 0);
	errno = saved;
	return r;
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	if (__builtin_expect(!fdtab_is_sock(fd), 1))
		return REAL(writev)(fd, iov, iovcnt);
	return writev_sock(fd, iov, iovcnt);
}

/* ---- receiving ---- */

/* The thread is about to receive on TCP socket fd and has records pending
 * (rec_idle_due, recorder.h): when nothing is there to read yet and the
 * socket blocks, the receive would wait for the peer anyway, so the thread
 * does the writer's work on them first (rec_idle_work). poll with no
 * timeout looks without taking anything, whatever the call's flags or
 * SO_RCVLOWAT. A signal that comes during the work is handled when it
 * ends (rec_idle_work blocks them), before the receive starts, as if it
 * had come just before the call. errno is the caller's again after. */
static NET_SLOW void idle_wait(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct shim_thread *t;
	struct sock *s;
	int saved = errno, work = 0, lowat = 1;
	socklen_t len = sizeof(lowat);

	if (poll(&pfd, 1, 0) == 0 && (s = net_enter_sock(fd, &t))) {
		/* replay serves it; a non-blocking receive returns at once */
		work = !s->rp && !atomic_load_explicit(&s->nonblock, memory_order_relaxed);
		net_leave_sock(t, s);
	}
	/* Not with SO_RCVLOWAT above 1: Linux (6.18 here) leaves a blocking
	 * receive entered with fewer bytes queued than that asleep when the
	 * rest arrives, so a receive that starts later than it would have is
	 * one that may never return (t0009). */
	if (work && REAL(getsockopt)(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, &len) == 0 && lowat <= 1)
		rec_idle_work();
	else
		rec_idle_ready();
	errno = saved;
}

static inline void before_recv(int fd, int flags)
{
	/* not in a replay (the bytes are there before the receive,
	 * replay_net.c), nor from inside the shim (a handler that
	 * interrupted it) */
	if (__builtin_expect(fdtab_kind(fd) == FD_TCP, 1) && !(flags & MSG_DONTWAIT) &&
	    !shim_replaying && !shim_tls.busy && rec_idle_due())
		idle_wait(fd);
}

SHIM_EXPORT ssize_t recv(int fd, void *p, size_t n, int flags)
{
	ssize_t r;
	int saved;

	before_recv(fd, flags);
	r = REAL(recv)(fd, p, n, flags);
	if (!fdtab_is_sock(fd))
		return r;
	saved = errno;
	rec_buf(fd, 0, "recv", r, saved, p, n, NULL, 0, flags);
	errno = saved;
	return r;
}

SHIM_EXPORT ssize_t __recv_chk(int fd, void *p, size_t n, size_t buflen, int flags)
{
	ssize_t r;
	int saved;

	before_recv(fd, flags);
	r = REAL(__recv_chk)(fd, p, n, buflen, flags);

	if (!fdtab_is_sock(fd))
		return r;
	saved = errno;
	rec_buf(fd, 0, "__recv_chk", r, saved, p, n, NULL, 0, flags);
	errno = saved;
	return r;
}

/* How many bytes of a source-address buffer the kernel may have filled.
 * It sets the length to the address's full size even when it truncated the
 * address to the caller's buffer, so the size the caller offered must be
 * read before the call. Only UDP records source addresses, so TCP (the
 * common case) never touches the caller's length. */
static socklen_t name_cap(int fd, const socklen_t *len)
{
	if (!len || fdtab_kind(fd) != FD_UDP)
		return 0;
	return *len;
}

/* The filled part of a source-address buffer: min(offered, written). */
static socklen_t name_len(socklen_t cap, socklen_t written)
{
	return written < cap ? written : cap;
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *p, size_t n, int flags, struct sockaddr *addr,
			     socklen_t *alen)
{
	socklen_t cap = addr ? name_cap(fd, alen) : 0;
	ssize_t r;
	int saved;

	before_recv(fd, flags);
	r = REAL(recvfrom)(fd, p, n, flags, addr, alen);

	if (!fdtab_is_sock(fd))
		return r;
	saved = errno;
	fix_from(fd, r, addr, alen, cap);
	rec_buf(fd, 0, "recvfrom", r, saved, p, n, r >= 0 && cap ? addr : NULL,
		r >= 0 && cap ? name_len(cap, *alen) : 0, flags);
	errno = saved;
	return r;
}

SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *p, size_t n, size_t buflen, int flags,
				   struct sockaddr *addr, socklen_t *alen)
{
	socklen_t cap = addr ? name_cap(fd, alen) : 0;
	ssize_t r;
	int saved;

	before_recv(fd, flags);
	r = REAL(__recvfrom_chk)(fd, p, n, buflen, flags, addr, alen);

	if (!fdtab_is_sock(fd))
		return r;
	saved = errno;
	fix_from(fd, r, addr, alen, cap);
	rec_buf(fd, 0, "__recvfrom_chk", r, saved, p, n, r >= 0 && cap ? addr : NULL,
		r >= 0 && cap ? name_len(cap, *alen) : 0, flags);
	errno = saved;
	return r;
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	socklen_t cap = msg && msg->msg_name ? name_cap(fd, &msg->msg_namelen) : 0;
	ssize_t r;
	int saved;

	if (!(flags & MSG_ERRQUEUE))
		before_recv(fd, flags);
	r = REAL(recvmsg)(fd, msg, flags);

	/* MSG_ERRQUEUE reads queued errors and timestamps, not data. */
	if (!fdtab_is_sock(fd) || (flags & MSG_ERRQUEUE))
		return r;
	saved = errno;
	if (r >= 0 && msg->msg_name)
		fix_from(fd, r, msg->msg_name, &msg->msg_namelen, cap);
	/* On failure msg may be the reason (EFAULT): do not look at it. */
	if (r < 0)
		rec_iov(fd, 0, "recvmsg", r, saved, NULL, 0, NULL, 0, flags);
	else
		rec_iov(fd, 0, "recvmsg", r, saved, msg->msg_iov, msg->msg_iovlen,
			cap ? msg->msg_name : NULL, name_len(cap, msg->msg_namelen), flags);
	errno = saved;
	return r;
}

/* recvmmsg takes at most UIO_MAXIOV (1024) messages per call. */
#define MMSG_MAX 1024

SHIM_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
			 struct timespec *tmo)
{
	socklen_t cap[MMSG_MAX];
	unsigned int i, ncap = 0;
	struct shim_thread *t;
	struct sock *s;
	int r, saved;

	if (vec && fdtab_kind(fd) == FD_UDP) {
		ncap = vlen < MMSG_MAX ? vlen : MMSG_MAX;
		for (i = 0; i < ncap; i++)
			cap[i] = vec[i].msg_hdr.msg_name ? vec[i].msg_hdr.msg_namelen : 0;
	}
	r = REAL(recvmmsg)(fd, vec, vlen, flags, tmo);
	if (!fdtab_is_sock(fd) || (flags & MSG_ERRQUEUE))
		return r;
	saved = errno;
	s = net_enter_sock(fd, &t);
	if (!s)
		goto out;
	if (r < 0)
		rec_xfer(t, s, 0, "recvmmsg", -1, saved, NULL, 0, NULL, 0, flags);
	/* One event per datagram received. */
	for (i = 0; r > 0 && i < (unsigned int)r; i++) {
		const struct msghdr *m = &vec[i].msg_hdr;
		socklen_t c = i < ncap ? cap[i] : 0;

		rec_xfer(t, s, 0, "recvmmsg", vec[i].msg_len, 0, m->msg_iov, m->msg_iovlen,
			 c ? m->msg_name : NULL, name_len(c, m->msg_namelen), flags);
	}
	net_leave_sock(t, s);
out:
	errno = saved;
	return r;
}

static NET_SLOW ssize_t read_tracked(int fd, void *p, size_t n, enum fd_kind kind)
{
	ssize_t r;
	int saved;

	before_recv(fd, 0);
	r = REAL(read)(fd, p, n);

	if (kind == FD_NONE)
		return r;
	if (kind == FD_URANDOM) {
		rec_urandom_read(fd, p, r);
		return r;
	}
	saved = errno;
	rec_buf(fd, 0, "read", r, saved, p, n, NULL, 0, 0);
	errno = saved;
	return r;
}

AT_HOT SHIM_EXPORT ssize_t read(int fd, void *p, size_t n)
{
	enum fd_kind kind = fdtab_kind(fd);

	read_fn *real = real_read;

	/* Hot path: every program reads files; ours is a byte load and a
	 * tail call (REAL()'s resolve-on-first-use is left to the slow path). */
	if (__builtin_expect(kind == FD_NONE && real != NULL, 1))
		return real(fd, p, n);
	return read_tracked(fd, p, n, kind);
}

static NET_SLOW ssize_t read_chk_tracked(int fd, void *p, size_t n, size_t buflen,
					 enum fd_kind kind)
{
	ssize_t r;
	int saved;

	before_recv(fd, 0);
	r = REAL(__read_chk)(fd, p, n, buflen);

	if (kind == FD_URANDOM) {
		rec_urandom_read(fd, p, r);
		return r;
	}
	saved = errno;
	rec_buf(fd, 0, "__read_chk", r, saved, p, n, NULL, 0, 0);
	errno = saved;
	return r;
}

SHIM_EXPORT ssize_t __read_chk(int fd, void *p, size_t n, size_t buflen)
{
	enum fd_kind kind = fdtab_kind(fd);

	if (__builtin_expect(kind == FD_NONE, 1))
		return REAL(__read_chk)(fd, p, n, buflen);
	return read_chk_tracked(fd, p, n, buflen, kind);
}

/* Hands a readv of a random device to hook_random.c, one call per iovec
 * that received bytes (hooks.h). */
static void urandom_readv(int fd, const struct iovec *iov, int iovcnt, ssize_t r)
{
	int i;

	if (r <= 0) {
		rec_urandom_read(fd, iovcnt > 0 ? iov[0].iov_base : NULL, r);
		return;
	}
	for (i = 0; i < iovcnt && r > 0; i++) {
		size_t k = iov[i].iov_len < (size_t)r ? iov[i].iov_len : (size_t)r;

		if (k)
			rec_urandom_read(fd, iov[i].iov_base, (ssize_t)k);
		r -= (ssize_t)k;
	}
}

static NET_SLOW ssize_t readv_tracked(int fd, const struct iovec *iov, int iovcnt,
				      enum fd_kind kind)
{
	ssize_t r;
	int saved;

	before_recv(fd, 0);
	r = REAL(readv)(fd, iov, iovcnt);
	saved = errno;

	if (kind == FD_URANDOM)
		urandom_readv(fd, iov, iovcnt, r);
	else
		rec_iov(fd, 0, "readv", r, saved, iov, iovcnt > 0 ? (size_t)iovcnt : 0, NULL, 0, 0);
	errno = saved;
	return r;
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	enum fd_kind kind = fdtab_kind(fd);

	if (__builtin_expect(kind == FD_NONE, 1))
		return REAL(readv)(fd, iov, iovcnt);
	return readv_tracked(fd, iov, iovcnt, kind);
}
