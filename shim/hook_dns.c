/* SPDX-License-Identifier: MIT */
/* hook_dns.c -- records name-service lookups (getaddrinfo, gethostbyname*, getnameinfo) as dns events; replay serves them from the trace.
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
#include <json-c/json.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/json.h"
#include "shim/governance.h"
#include "shim/real.h"
#include "shim/replayer.h"
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

/* ---- replay: answers from the trace ----
 *
 * In replay mode each hook first asks the replayer for the next recorded
 * event of its function and name (getnameinfo: "addr:port") and, when there
 * is one, builds the program's result from it without calling the resolver.
 * The event is then recorded again, from the result served, like a live
 * answer. A lookup the trace does not hold is a determinism leak (strict:
 * exit 86; relaxed: a warning, then the real resolver), except for numeric
 * addresses, which never leave the process: those go to the real function
 * quietly. */

static const char *pl_str(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The number a payload field names: a name of t, or a plain number; dflt
 * when the field is missing or unknown. */
static int pl_named(struct json_object *o, const char *k, const struct name *t, size_t n, int dflt)
{
	struct json_object *v;
	const char *s;
	size_t i;

	if (!json_object_object_get_ex(o, k, &v))
		return dflt;
	if (json_object_is_type(v, json_type_int))
		return json_object_get_int(v);
	if (!json_object_is_type(v, json_type_string))
		return dflt;
	s = json_object_get_string(v);
	for (i = 0; i < n; i++)
		if (!strcmp(t[i].s, s))
			return t[i].v;
	return dflt;
}

static const struct name family_names[] = {
	{ AF_INET, "inet" },
	{ AF_INET6, "inet6" },
	{ AF_UNSPEC, "unspec" },
};

static const struct name socktype_names[] = {
	{ SOCK_STREAM, "stream" },
	{ SOCK_DGRAM, "dgram" },
	{ SOCK_RAW, "raw" },
	{ 0, "any" },
};

/* errno from its symbolic name (shim_errno_name's inverse); EIO if unknown. */
static int pl_errno(struct json_object *o, const char *k)
{
	const char *s = pl_str(o, k);
	int e;

	if (!s)
		return EIO;
	for (e = 1; e < 4096; e++) {
		const char *n = strerrorname_np(e);

		if (n && !strcmp(n, s))
			return e;
	}
	return EIO;
}

/* @return 1 when the lookup of node cannot leave the process: no node, or
 * a numeric address (glibc parses those itself). */
static int numeric_host(const char *node, int numeric_flag)
{
	struct in6_addr a6;
	struct in_addr a4;

	return !node || numeric_flag || inet_aton(node, &a4) || inet_pton(AF_INET6, node, &a6) == 1;
}

/* One getaddrinfo answer in one allocation, as glibc lays it out:
 * freeaddrinfo() frees ai_canonname and then the node, nothing else. */
struct ai_node {
	struct addrinfo ai;
	union {
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} sa;
};

/* Builds node from answer a; ai_flags as glibc sets them. @return 0, -1 for
 * an answer with no usable address (skipped), -ENOMEM. */
static int ai_from_answer(struct json_object *a, int flags, int first, struct addrinfo **ret)
{
	const char *addr = pl_str(a, "addr"), *canon = first ? pl_str(a, "canonname") : NULL;
	int family = pl_named(a, "family", family_names, COUNT(family_names), AF_UNSPEC);
	struct json_object *v;
	struct ai_node *n;
	int port = 0;

	if (json_object_object_get_ex(a, "port", &v))
		port = json_object_get_int(v);
	if (!addr || (family != AF_INET && family != AF_INET6))
		return -1;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->ai.ai_flags = flags;
	n->ai.ai_family = family;
	n->ai.ai_socktype = pl_named(a, "socktype", socktype_names, COUNT(socktype_names), 0);
	if (json_object_object_get_ex(a, "protocol", &v))
		n->ai.ai_protocol = json_object_get_int(v);
	n->ai.ai_addr = (struct sockaddr *)&n->sa;
	if (family == AF_INET) {
		n->sa.in.sin_family = AF_INET;
		n->sa.in.sin_port = htons((uint16_t)port);
		n->ai.ai_addrlen = sizeof(n->sa.in);
		if (inet_pton(AF_INET, addr, &n->sa.in.sin_addr) != 1)
			goto skip;
	} else {
		n->sa.in6.sin6_family = AF_INET6;
		n->sa.in6.sin6_port = htons((uint16_t)port);
		n->ai.ai_addrlen = sizeof(n->sa.in6);
		if (inet_pton(AF_INET6, addr, &n->sa.in6.sin6_addr) != 1)
			goto skip;
	}
	if (canon) {
		n->ai.ai_canonname = strdup(canon);
		if (!n->ai.ai_canonname) {
			free(n);
			return -ENOMEM;
		}
	}
	*ret = &n->ai;
	return 0;
skip:
	free(n);
	return -1;
}

/* Replay of getaddrinfo. @return 1 with *ret_r, *res (on success) and errno
 * (EAI_SYSTEM) set as the live call set them; 0 to call the resolver. */
static __attribute__((noinline, cold)) int
serve_getaddrinfo(const char *node, const struct addrinfo *hints, struct addrinfo **res, int *ret_r)
{
	struct json_object *p = rp_dns_take("getaddrinfo", node ? node : ""), *answers;
	struct addrinfo *head = NULL, **tail = &head;
	/* No hints means glibc's defaults, whose flags the answers carry. */
	int flags = hints ? hints->ai_flags : AI_V4MAPPED | AI_ADDRCONFIG;
	size_t i, n;

	if (!p) {
		if (!numeric_host(node, hints && (hints->ai_flags & AI_NUMERICHOST)))
			gov_violation(GOV_LEAK, "DNS leak: getaddrinfo(\"%s\")", node);
		return 0;
	}
	if (!json_object_object_get_ex(p, "answers", &answers) ||
	    !json_object_is_type(answers, json_type_array)) {
		*ret_r = pl_named(p, "error", eai_names, COUNT(eai_names), EAI_FAIL);
		if (*ret_r == EAI_SYSTEM)
			errno = pl_errno(p, "errno");
		return 1;
	}
	n = json_object_array_length(answers);
	for (i = 0; i < n; i++) {
		int r = ai_from_answer(json_object_array_get_idx(answers, i), flags, head == NULL,
				       tail);

		if (r == -ENOMEM) {
			if (head)
				freeaddrinfo(head);
			*ret_r = EAI_MEMORY;
			return 1;
		}
		if (r == 0)
			tail = &(*tail)->ai_next;
	}
	/* An answer with no address glibc could have given: none to serve. */
	*ret_r = head ? 0 : EAI_NONAME;
	if (head)
		*res = head;
	return 1;
}

/* Element i of array a as a string; "" when it is not one. */
static const char *arr_str(struct json_object *a, size_t i)
{
	struct json_object *v = json_object_array_get_idx(a, i);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* Replay of gethostbyname*: the hostent of payload p, laid out in buf as
 * glibc's _r functions do (pointer arrays, addresses, strings). @return 0,
 * or ERANGE when buflen is too small (*ret_need says how much would do). */
static int fill_hostent(struct json_object *p, int af, struct hostent *he, char *buf, size_t buflen,
			size_t *ret_need)
{
	struct json_object *aliases = NULL, *addrs = NULL;
	const char *canon = pl_str(p, "canonname");
	size_t na = 0, nd = 0, i, k, alen, need, pad;
	char **ap, **dp, *bin, *str;
	int type;

	if (json_object_object_get_ex(p, "aliases", &aliases) &&
	    json_object_is_type(aliases, json_type_array))
		na = json_object_array_length(aliases);
	else
		aliases = NULL;
	if (json_object_object_get_ex(p, "addrs", &addrs) &&
	    json_object_is_type(addrs, json_type_array))
		nd = json_object_array_length(addrs);
	else
		addrs = NULL;
	/* The address family is the answers' own (gethostbyname2's af). */
	type = af == AF_INET6 ? AF_INET6 : AF_INET;
	if (nd) {
		const char *s = arr_str(addrs, 0);

		type = s && strchr(s, ':') ? AF_INET6 : AF_INET;
	}
	alen = type == AF_INET6 ? sizeof(struct in6_addr) : sizeof(struct in_addr);
	pad = (sizeof(char *) - (uintptr_t)buf % sizeof(char *)) % sizeof(char *);
	need = pad + (na + 1 + nd + 1) * sizeof(char *) + nd * alen + strlen(canon ? canon : "") +
	       1;
	for (i = 0; i < na; i++)
		need += strlen(arr_str(aliases, i)) + 1;
	*ret_need = need;
	if (need > buflen)
		return ERANGE;
	ap = (char **)(void *)(buf + pad);
	dp = ap + na + 1;
	bin = (char *)(dp + nd + 1);
	str = bin + nd * alen;
	for (i = k = 0; i < nd; i++) {
		const char *s = arr_str(addrs, i);

		if (s && inet_pton(type, s, bin + k * alen) == 1) {
			dp[k] = bin + k * alen;
			k++;
		}
	}
	dp[k] = NULL;
	for (i = 0; i < na; i++) {
		const char *s = arr_str(aliases, i);
		size_t l = strlen(s) + 1;

		memcpy(str, s, l);
		ap[i] = str;
		str += l;
	}
	ap[na] = NULL;
	memcpy(str, canon ? canon : "", strlen(canon ? canon : "") + 1);
	he->h_name = str;
	he->h_aliases = ap;
	he->h_addrtype = type;
	he->h_length = (int)alen;
	he->h_addr_list = dp;
	return 0;
}

/* The failure recorded in p: h_errno, and the _r variants' return value. */
static int pl_herrno(struct json_object *p)
{
	return pl_named(p, "h_errno", herr_names, COUNT(herr_names), NO_RECOVERY);
}

/* The next recorded gethostbyname* answer for name, or NULL after
 * reporting the leak. An _r call that got ERANGE keeps its event here for
 * the caller's retry with a larger buffer (live, only the retry was
 * recorded). */
static __thread struct json_object *hent_kept;
static __thread const char *hent_kept_fn;

static struct json_object *take_hostent(const char *fn, const char *name)
{
	struct json_object *p = hent_kept;
	const char *kept_name = p ? pl_str(p, "name") : NULL;

	if (p && !strcmp(hent_kept_fn, fn) && kept_name && name && !strcmp(kept_name, name)) {
		hent_kept = NULL;
		return p;
	}
	p = rp_dns_take(fn, name ? name : "");
	if (!p && !numeric_host(name, 0))
		gov_violation(GOV_LEAK, "DNS leak: %s(\"%s\")", fn, name);
	return p;
}

/* gethostbyname and gethostbyname2 return a hostent of the thread's own
 * (glibc's is one per process; per thread is never worse). */
static __thread struct {
	struct hostent he;
	char *buf;
	size_t cap;
} hent_static;

/* Replay of gethostbyname/gethostbyname2. @return 1 with *ret_he and h_errno
 * set, 0 to call the resolver. */
static __attribute__((noinline, cold)) int serve_hostent(const char *fn, const char *name, int af,
							 struct hostent **ret_he)
{
	struct json_object *p = take_hostent(fn, name);
	size_t need;

	if (!p)
		return 0;
	*ret_he = NULL;
	if (!json_object_object_get_ex(p, "addrs", NULL)) {
		h_errno = pl_herrno(p);
		return 1;
	}
	if (fill_hostent(p, af, &hent_static.he, hent_static.buf, hent_static.cap, &need)) {
		char *nb = realloc(hent_static.buf, need + sizeof(char *));

		if (!nb) {
			errno = ENOMEM;
			h_errno = NETDB_INTERNAL;
			return 1;
		}
		hent_static.buf = nb;
		hent_static.cap = need + sizeof(char *);
		if (fill_hostent(p, af, &hent_static.he, nb, hent_static.cap, &need)) {
			h_errno = NETDB_INTERNAL;
			return 1;
		}
	}
	*ret_he = &hent_static.he;
	return 1;
}

/* Replay of the _r variants. @return 1 with *ret_r, *result, *h_errnop and
 * errno set as glibc sets them, 0 to call the resolver. */
static __attribute__((noinline, cold)) int serve_hostent_r(const char *fn, const char *name, int af,
							   struct hostent *ret, char *buf,
							   size_t buflen, struct hostent **result,
							   int *h_errnop, int *ret_r)
{
	struct json_object *p = take_hostent(fn, name);
	size_t need;
	int herr = 0, r = 0;

	if (!p)
		return 0;
	*result = NULL;
	if (!json_object_object_get_ex(p, "addrs", NULL)) {
		herr = pl_herrno(p);
		r = pl_str(p, "errno") ? pl_errno(p, "errno") : 0;
	} else if (fill_hostent(p, af, ret, buf, buflen, &need)) {
		/* Kept for the retry; glibc says NETDB_INTERNAL with ERANGE. */
		hent_kept = p;
		hent_kept_fn = fn;
		herr = NETDB_INTERNAL;
		r = ERANGE;
	} else {
		*result = ret;
	}
	if (h_errnop)
		*h_errnop = herr;
	if (r)
		errno = r;
	*ret_r = r;
	return 1;
}

/* Replay of getnameinfo. @return 1 with *ret_r (and errno for EAI_SYSTEM)
 * set, 0 to call the resolver. */
static __attribute__((noinline, cold)) int serve_getnameinfo(const char *addr, int port, char *host,
							     socklen_t hostlen, char *serv,
							     socklen_t servlen, int flags,
							     int *ret_r)
{
	char key[INET6_ADDRSTRLEN + 16];
	struct json_object *p;
	const char *h, *s;

	snprintf(key, sizeof(key), "%s:%d", addr, port);
	p = rp_dns_take("getnameinfo", key);
	if (p && json_object_object_get_ex(p, "error", NULL)) {
		*ret_r = pl_named(p, "error", eai_names, COUNT(eai_names), EAI_FAIL);
		if (*ret_r == EAI_SYSTEM)
			errno = pl_errno(p, "errno");
		return 1;
	}
	h = p ? pl_str(p, "host") : NULL;
	s = p ? pl_str(p, "service") : NULL;
	/* Live the program did not ask for the part it wants now. */
	if (!p || (host && hostlen && !h) || (serv && servlen && !s)) {
		/* A numeric host, or no AF_INET/AF_INET6 address: no lookup. */
		if (!(flags & NI_NUMERICHOST) && addr[0])
			gov_violation(GOV_LEAK, "DNS leak: getnameinfo(\"%s\")", key);
		return 0;
	}
	*ret_r = 0;
	if ((host && hostlen && strlen(h) >= hostlen) ||
	    (serv && servlen && strlen(s) >= servlen)) {
		*ret_r = EAI_OVERFLOW;
		return 1;
	}
	if (host && hostlen)
		memcpy(host, h, strlen(h) + 1);
	if (serv && servlen)
		memcpy(serv, s, strlen(s) + 1);
	return 1;
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
	if (!__builtin_expect(shim_replaying, 0) || !serve_getaddrinfo(node, hints, res, &r))
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
	if (!__builtin_expect(shim_replaying, 0) ||
	    !serve_hostent("gethostbyname", name, AF_INET, &he))
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
	if (!__builtin_expect(shim_replaying, 0) || !serve_hostent("gethostbyname2", name, af, &he))
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
	if (!__builtin_expect(shim_replaying, 0) ||
	    !serve_hostent_r("gethostbyname_r", name, AF_INET, ret, buf, buflen, result, h_errnop,
			     &r))
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
	if (!__builtin_expect(shim_replaying, 0) ||
	    !serve_hostent_r("gethostbyname2_r", name, af, ret, buf, buflen, result, h_errnop, &r))
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
	int r, saved, port, split;

	if (!t)
		return REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
	/* The replay key is "addr:port" ("" and 0 for other families). */
	split = sa_split(sa, salen, addr, sizeof(addr), &port);
	if (!__builtin_expect(shim_replaying, 0) ||
	    !serve_getnameinfo(addr, port, host, hostlen, serv, servlen, flags, &r))
		r = REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
	saved = errno;
	b = ev_begin(t, "dns");
	json_kv_str(b, "fn", "getnameinfo");
	if (split == 0) {
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
