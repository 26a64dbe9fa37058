/* SPDX-License-Identifier: MIT */
/* hook_dns.c -- records name-service lookups (getaddrinfo, gethostbyname*, getnameinfo) as dns events.
 *
 * glibc's resolver traffic is internal to libc, but its NSS modules
 * (libnss_files, libnss_dns, ...) call open, socket, connect and read
 * through the PLT, i.e. through our hooks. Those calls are how the answer is
 * made, not what the program did, so each hook holds the thread's guard
 * across the real lookup: everything inside passes straight through, and the
 * one dns event stands for the whole lookup.
 */
/* The hooks must carry the plain libc names (see hook_net.c). */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "common/json.h"
#include "shim/real.h"
#include "shim/shim.h"

/* ---- names for numbers ---- */

struct name {
	int v;
	const char *s;
};

#define N(x)          \
	{             \
		x, #x \
	}
static const struct name eai_names[] = {
	N(EAI_BADFLAGS), N(EAI_NONAME),	    N(EAI_AGAIN),      N(EAI_FAIL),	N(EAI_FAMILY),
	N(EAI_SOCKTYPE), N(EAI_SERVICE),    N(EAI_MEMORY),     N(EAI_SYSTEM),	N(EAI_OVERFLOW),
	N(EAI_NODATA),	 N(EAI_ADDRFAMILY), N(EAI_INPROGRESS), N(EAI_CANCELED), N(EAI_NOTCANCELED),
	N(EAI_ALLDONE),	 N(EAI_INTR),	    N(EAI_IDN_ENCODE),
};

static const struct name herr_names[] = {
	N(HOST_NOT_FOUND), N(TRY_AGAIN), N(NO_RECOVERY), N(NO_DATA), N(NETDB_INTERNAL),
};

static const struct name ai_flags[] = {
	N(AI_PASSIVE),	  N(AI_CANONNAME), N(AI_NUMERICHOST), N(AI_V4MAPPED),	 N(AI_ALL),
	N(AI_ADDRCONFIG), N(AI_IDN),	   N(AI_CANONIDN),    N(AI_NUMERICSERV),
};

static const struct name ni_flags[] = {
	N(NI_NUMERICHOST), N(NI_NUMERICSERV), N(NI_NOFQDN), N(NI_NAMEREQD), N(NI_DGRAM), N(NI_IDN),
};
#undef N

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *lookup(const struct name *t, size_t n, int v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].v == v)
			return t[i].s;
	return NULL;
}

/* Appends src to dst[0..cap) at *pos, always NUL-terminating, truncating. */
static void put(char *dst, size_t cap, size_t *pos, const char *src)
{
	while (*src && *pos + 1 < cap)
		dst[(*pos)++] = *src++;
	dst[*pos] = '\0';
}

/* Writes key: "FLAG_A|FLAG_B" for the bits of v named in t; "" for 0. Bits
 * with no name are written as a trailing decimal number. */
static void kv_flags(struct buf *b, const char *key, const struct name *t, size_t n, int v)
{
	char out[256], num[16];
	unsigned rest = (unsigned)v;
	size_t i, pos = 0, k;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (!(rest & (unsigned)t[i].v))
			continue;
		if (pos)
			put(out, sizeof(out), &pos, "|");
		put(out, sizeof(out), &pos, t[i].s);
		rest &= ~(unsigned)t[i].v;
	}
	if (rest) {
		k = sizeof(num) - 1;
		num[k] = '\0';
		do {
			num[--k] = (char)('0' + rest % 10);
			rest /= 10;
		} while (rest && k);
		if (pos)
			put(out, sizeof(out), &pos, "|");
		put(out, sizeof(out), &pos, num + k);
	}
	json_kv_str(b, key, out);
}

/* Family as the man page spells it; other values as numbers. */
static void kv_family(struct buf *b, const char *key, int af)
{
	if (af == AF_INET)
		json_kv_str(b, key, "inet");
	else if (af == AF_INET6)
		json_kv_str(b, key, "inet6");
	else if (af == AF_UNSPEC)
		json_kv_str(b, key, "unspec");
	else
		json_kv_int(b, key, af);
}

static void kv_socktype(struct buf *b, const char *key, int st)
{
	if (st == SOCK_STREAM)
		json_kv_str(b, key, "stream");
	else if (st == SOCK_DGRAM)
		json_kv_str(b, key, "dgram");
	else if (st == SOCK_RAW)
		json_kv_str(b, key, "raw");
	else if (st == 0)
		json_kv_str(b, key, "any");
	else
		json_kv_int(b, key, st);
}

static void kv_eai(struct buf *b, int r, int err)
{
	const char *s = lookup(eai_names, COUNT(eai_names), r);

	if (s)
		json_kv_str(b, "error", s);
	else
		json_kv_int(b, "error", r);
	/* EAI_SYSTEM means "look at errno". */
	if (r == EAI_SYSTEM)
		json_kv_str(b, "errno", shim_errno_name(err));
}

static void kv_herrno(struct buf *b, int h)
{
	const char *s = lookup(herr_names, COUNT(herr_names), h);

	if (s)
		json_kv_str(b, "h_errno", s);
	else
		json_kv_int(b, "h_errno", h);
}

/* Address and port of an AF_INET/AF_INET6 sockaddr. @return 0, or -1 for
 * any other family (host is then ""). */
static int sa_split(const struct sockaddr *sa, socklen_t len, char *host, size_t hostlen,
		    int *ret_port)
{
	host[0] = '\0';
	*ret_port = 0;
	if (!sa || len < (socklen_t)sizeof(sa_family_t))
		return -1;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		*ret_port = ntohs(in->sin_port);
		return inet_ntop(AF_INET, &in->sin_addr, host, hostlen) ? 0 : -1;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		*ret_port = ntohs(in6->sin6_port);
		return inet_ntop(AF_INET6, &in6->sin6_addr, host, hostlen) ? 0 : -1;
	}
	return -1;
}

/* ---- getaddrinfo ---- */

static void rec_getaddrinfo(struct shim_thread *t, const char *node, const char *service,
			    const struct addrinfo *hints, int r, const struct addrinfo *res,
			    int err)
{
	struct buf *b = ev_begin(t, "dns");
	const struct addrinfo *ai;
	char host[INET6_ADDRSTRLEN];
	int port;

	json_kv_str(b, "fn", "getaddrinfo");
	json_kv_str(b, "name", node);
	json_kv_str(b, "service", service);
	/* No hints is not the same as zeroed hints (glibc then implies
	 * AI_V4MAPPED|AI_ADDRCONFIG): keep the difference as nulls. */
	if (hints) {
		kv_family(b, "family", hints->ai_family);
		kv_socktype(b, "socktype", hints->ai_socktype);
		kv_flags(b, "flags", ai_flags, COUNT(ai_flags), hints->ai_flags);
	} else {
		json_key(b, "family");
		json_null(b);
		json_key(b, "socktype");
		json_null(b);
		json_key(b, "flags");
		json_null(b);
	}
	if (r != 0) {
		kv_eai(b, r, err);
		ev_end(t);
		return;
	}
	json_key(b, "answers");
	json_arr_open(b);
	for (ai = res; ai; ai = ai->ai_next) {
		json_obj_open(b);
		kv_family(b, "family", ai->ai_family);
		kv_socktype(b, "socktype", ai->ai_socktype);
		json_kv_int(b, "protocol", ai->ai_protocol);
		sa_split(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), &port);
		json_kv_str(b, "addr", host);
		json_kv_int(b, "port", port);
		/* glibc sets ai_canonname on the first entry only, when asked. */
		if (ai == res && hints && (hints->ai_flags & AI_CANONNAME) && ai->ai_canonname)
			json_kv_str(b, "canonname", ai->ai_canonname);
		json_obj_close(b);
	}
	json_arr_close(b);
	ev_end(t);
}

SHIM_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
			    struct addrinfo **res)
{
	struct shim_thread *t = shim_enter();
	int r, saved;

	if (!t)
		return REAL(getaddrinfo)(node, service, hints, res);
	/* Guard held across the lookup: see the file comment. */
	r = REAL(getaddrinfo)(node, service, hints, res);
	saved = errno;
	rec_getaddrinfo(t, node, service, hints, r, r == 0 ? *res : NULL, saved);
	shim_leave(t);
	errno = saved;
	return r;
}

/* ---- gethostbyname* ---- */

/* One gethostbyname* event. he is the answer, or NULL with h_errno `herr`;
 * rerr is the _r variants' nonzero return value (an errno), else 0. */
static void rec_hostent(struct shim_thread *t, const char *fn, const char *name, int af,
			const struct hostent *he, int herr, int rerr)
{
	struct buf *b = ev_begin(t, "dns");
	char host[INET6_ADDRSTRLEN];
	char **p;

	json_kv_str(b, "fn", fn);
	json_kv_str(b, "name", name);
	kv_family(b, "family", af);
	if (!he) {
		if (rerr)
			json_kv_str(b, "errno", shim_errno_name(rerr));
		kv_herrno(b, herr);
		ev_end(t);
		return;
	}
	json_kv_str(b, "canonname", he->h_name);
	json_key(b, "aliases");
	json_arr_open(b);
	for (p = he->h_aliases; p && *p; p++)
		json_str(b, *p);
	json_arr_close(b);
	json_key(b, "addrs");
	json_arr_open(b);
	for (p = he->h_addr_list; p && *p; p++) {
		if (inet_ntop(he->h_addrtype, *p, host, sizeof(host)))
			json_str(b, host);
	}
	json_arr_close(b);
	ev_end(t);
}

SHIM_EXPORT struct hostent *gethostbyname(const char *name)
{
	struct shim_thread *t = shim_enter();
	struct hostent *he;
	int saved;

	if (!t)
		return REAL(gethostbyname)(name);
	he = REAL(gethostbyname)(name);
	saved = errno;
	rec_hostent(t, "gethostbyname", name, AF_INET, he, he ? 0 : h_errno, 0);
	shim_leave(t);
	errno = saved;
	return he;
}

SHIM_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	struct shim_thread *t = shim_enter();
	struct hostent *he;
	int saved;

	if (!t)
		return REAL(gethostbyname2)(name, af);
	he = REAL(gethostbyname2)(name, af);
	saved = errno;
	rec_hostent(t, "gethostbyname2", name, af, he, he ? 0 : h_errno, 0);
	shim_leave(t);
	errno = saved;
	return he;
}

/* Shared tail of the _r variants. */
static void rec_hostent_r(struct shim_thread *t, const char *fn, const char *name, int af, int r,
			  struct hostent **result, int *h_errnop)
{
	/* ERANGE: the caller's buffer was too small and it will retry with
	 * a larger one; that retry is the lookup to record. */
	if (r == ERANGE)
		return;
	rec_hostent(t, fn, name, af, r == 0 && result ? *result : NULL, h_errnop ? *h_errnop : 0,
		    r);
}

SHIM_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
				struct hostent **result, int *h_errnop)
{
	struct shim_thread *t = shim_enter();
	int r, saved;

	if (!t)
		return REAL(gethostbyname_r)(name, ret, buf, buflen, result, h_errnop);
	r = REAL(gethostbyname_r)(name, ret, buf, buflen, result, h_errnop);
	saved = errno;
	rec_hostent_r(t, "gethostbyname_r", name, AF_INET, r, result, h_errnop);
	shim_leave(t);
	errno = saved;
	return r;
}

SHIM_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
				 size_t buflen, struct hostent **result, int *h_errnop)
{
	struct shim_thread *t = shim_enter();
	int r, saved;

	if (!t)
		return REAL(gethostbyname2_r)(name, af, ret, buf, buflen, result, h_errnop);
	r = REAL(gethostbyname2_r)(name, af, ret, buf, buflen, result, h_errnop);
	saved = errno;
	rec_hostent_r(t, "gethostbyname2_r", name, af, r, result, h_errnop);
	shim_leave(t);
	errno = saved;
	return r;
}

/* ---- getnameinfo ---- */

SHIM_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
			    socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
	struct shim_thread *t = shim_enter();
	char addr[INET6_ADDRSTRLEN];
	struct buf *b;
	int r, saved, port;

	if (!t)
		return REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
	r = REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
	saved = errno;
	b = ev_begin(t, "dns");
	json_kv_str(b, "fn", "getnameinfo");
	if (sa_split(sa, salen, addr, sizeof(addr), &port) == 0) {
		json_kv_str(b, "addr", addr);
		json_kv_int(b, "port", port);
	} else {
		/* AF_UNIX and friends: nothing to say but the family. */
		kv_family(b, "family",
			  sa && salen >= (socklen_t)sizeof(sa_family_t) ? sa->sa_family
									: AF_UNSPEC);
	}
	kv_flags(b, "flags", ni_flags, COUNT(ni_flags), flags);
	if (r == 0) {
		/* The caller may ask for either part only. */
		if (host && hostlen)
			json_kv_str(b, "host", host);
		if (serv && servlen)
			json_kv_str(b, "service", serv);
	} else {
		kv_eai(b, r, saved);
	}
	ev_end(t);
	shim_leave(t);
	errno = saved;
	return r;
}
