/* SPDX-License-Identifier: MIT */
/* hook_gnutls.c -- GnuTLS (libgnutls.so.30): HTTPS recorded as plaintext, replayed as a virtual session.
 *
 * The same scheme as hook_tls.c for OpenSSL (read it first): the real
 * gnutls_handshake, gnutls_record_send and gnutls_record_recv run flagged
 * (IN_TLS), their ciphertext is not recorded, their plaintext is; the
 * session facts go into a socket_call "tls" event with lib "gnutls",
 * including the whole peer certificate chain (certs_der_b64: wget checks
 * the chain itself through gnutls_certificate_get_peers). In replay a
 * session on a served socket is virtual: the handshake succeeds at once,
 * record_send/recv are send()/recv() on the socket, and the verify status,
 * ALPN, version and peer chain come from the trace.
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/json.h"
#include "shim/net.h"
#include "shim/replayer.h"
#include "shim/shim.h"
#include "shim/tls.h"

#define GNUTLS_LIB "libgnutls.so.30"

#define GT_REAL(name)                                                                             \
	({                                                                                        \
		static __typeof__(name) *real_;                                                   \
		if (__builtin_expect(!real_, 0))                                                  \
			real_ = (__typeof__(name) *)tls_lib_sym(GNUTLS_LIB, #name, (void *)name); \
		real_;                                                                            \
	})

#define GT_SYM(name)                                                                      \
	({                                                                                \
		static __typeof__(name) *real_;                                           \
		if (__builtin_expect(!real_, 0))                                          \
			real_ = (__typeof__(name) *)tls_lib_sym(GNUTLS_LIB, #name, NULL); \
		real_;                                                                    \
	})

/* The peer chain of a virtual session, decoded once; lives with the vtls
 * entry's process (a few KB per connection). */
struct chain {
	gnutls_datum_t *certs;
	unsigned n;
};

static void chain_free(void *p)
{
	struct chain *c = p;

	for (unsigned i = 0; i < c->n; i++)
		free(c->certs[i].data);
	free(c->certs);
	free(c);
}

static int session_fd(gnutls_session_t s)
{
	struct vtls *v = tls_vt_get(s, 0);
	int (*get_int)(gnutls_session_t) = GT_SYM(gnutls_transport_get_int);

	if (v && v->fd >= 0)
		return v->fd;
	return get_int ? get_int(s) : -1;
}

static void kv_chain(struct buf *b, gnutls_session_t s)
{
	const gnutls_datum_t *(*get_peers)(gnutls_session_t, unsigned *) =
		GT_SYM(gnutls_certificate_get_peers);
	const gnutls_datum_t *c;
	unsigned n = 0;

	if (!get_peers)
		return;
	c = get_peers(s, &n);
	if (!c || !n)
		return;
	json_key(b, "cert_der_b64");
	buf_putc(b, '"');
	b64_encode(b, c[0].data, c[0].size);
	buf_putc(b, '"');
	json_key(b, "certs_der_b64");
	json_arr_open(b);
	for (unsigned i = 0; i < n; i++) {
		if (i)
			buf_putc(b, ',');
		buf_putc(b, '"');
		b64_encode(b, c[i].data, c[i].size);
		buf_putc(b, '"');
	}
	json_arr_close(b);
}

static void rec_facts(gnutls_session_t s)
{
	gnutls_protocol_t (*get_version)(gnutls_session_t) = GT_SYM(gnutls_protocol_get_version);
	const char *(*version_name)(gnutls_protocol_t) = GT_SYM(gnutls_protocol_get_name);
	int (*get_alpn)(gnutls_session_t, gnutls_datum_t *) =
		GT_SYM(gnutls_alpn_get_selected_protocol);
	int (*verify)(gnutls_session_t, unsigned *) = GT_SYM(gnutls_certificate_verify_peers2);
	struct vtls *v = tls_vt_get(s, 1);
	struct shim_thread *t;
	gnutls_datum_t alpn = { 0 };
	unsigned status = 0;
	struct sock *so;
	struct buf *b;
	int fd;

	if (!v || v->facts_done)
		return;
	fd = session_fd(s);
	so = fd >= 0 ? net_enter_sock(fd, &t) : NULL;
	if (!so)
		return;
	v->facts_done = 1;
	atomic_store(&so->tls, 1);
	b = net_ev_sock(t, so, "tls", "gnutls_handshake", NULL, NULL, 0);
	json_kv_str(b, "lib", "gnutls");
	if (get_version && version_name && version_name(get_version(s)))
		json_kv_str(b, "version", version_name(get_version(s)));
	if (get_alpn && get_alpn(s, &alpn) == 0 && alpn.data && alpn.size) {
		json_kv_strn(b, "alpn", (const char *)alpn.data, alpn.size);
		if (alpn.size == 2 && !memcmp(alpn.data, "h2", 2))
			atomic_store(&so->h2, 1);
	}
	/* the status the program will ask for (a query: it changes nothing) */
	shim_tls.in_tls++;
	if (verify && verify(s, &status) == 0)
		json_kv_int(b, "verify", status);
	shim_tls.in_tls--;
	kv_chain(b, s);
	net_ev_sock_end(t, b, 0, 0);
	net_leave_sock(t, so);
}

/* ---- the hooks ---- */

SHIM_EXPORT int gnutls_handshake(gnutls_session_t s)
{
	int (*real)(gnutls_session_t) = GT_REAL(gnutls_handshake);
	int r;

	if (tls_virt(s) || (shim_replaying && tls_virt_start(s, session_fd(s), "gnutls_handshake")))
		return GNUTLS_E_SUCCESS;
	if (!real)
		return GNUTLS_E_INTERNAL_ERROR;
	r = IN_TLS(s, real(s));
	if (r == GNUTLS_E_SUCCESS)
		rec_facts(s);
	return r;
}

static ssize_t virt_result(struct vtls *v, long r)
{
	if (r >= 0)
		return r;
	return v->last_err == TLS_WANT_READ || v->last_err == TLS_WANT_WRITE ? GNUTLS_E_AGAIN
									     : GNUTLS_E_PUSH_ERROR;
}

SHIM_EXPORT ssize_t gnutls_record_send(gnutls_session_t s, const void *p, size_t n)
{
	ssize_t (*real)(gnutls_session_t, const void *, size_t) = GT_REAL(gnutls_record_send);
	struct vtls *v = tls_virt(s);
	ssize_t r;

	if (v)
		return virt_result(v, tls_virt_write(v, p, n));
	if (!real)
		return GNUTLS_E_INTERNAL_ERROR;
	r = IN_TLS(s, real(s, p, n));
	if (r > 0)
		tls_rec_plain_fd(session_fd(s), 1, "gnutls_record_send", p, r);
	return r;
}

SHIM_EXPORT ssize_t gnutls_record_recv(gnutls_session_t s, void *p, size_t n)
{
	ssize_t (*real)(gnutls_session_t, void *, size_t) = GT_REAL(gnutls_record_recv);
	struct vtls *v = tls_virt(s);
	ssize_t r;

	if (v) {
		r = tls_virt_read(v, p, n, 0);
		return r < 0 && v->last_err != TLS_WANT_READ ? GNUTLS_E_PULL_ERROR
							     : virt_result(v, r);
	}
	if (!real)
		return GNUTLS_E_INTERNAL_ERROR;
	r = IN_TLS(s, real(s, p, n));
	if (r >= 0)
		tls_rec_plain_fd(session_fd(s), 0, "gnutls_record_recv", p, r);
	return r;
}

/* The served plaintext waits in the socket, where select() sees it. */
SHIM_EXPORT size_t gnutls_record_check_pending(gnutls_session_t s)
{
	size_t (*real)(gnutls_session_t) = GT_REAL(gnutls_record_check_pending);

	return tls_virt(s) ? 0 : real ? real(s) : 0;
}

SHIM_EXPORT int gnutls_record_get_direction(gnutls_session_t s)
{
	int (*real)(gnutls_session_t) = GT_REAL(gnutls_record_get_direction);
	struct vtls *v = tls_virt(s);

	if (v)
		return v->last_err == TLS_WANT_WRITE;
	return real ? real(s) : 0;
}

SHIM_EXPORT int gnutls_bye(gnutls_session_t s, gnutls_close_request_t how)
{
	int (*real)(gnutls_session_t, gnutls_close_request_t) = GT_REAL(gnutls_bye);
	struct vtls *v = tls_virt(s);

	if (v) {
		v->shutdown |= TLS_SENT_SHUTDOWN;
		return GNUTLS_E_SUCCESS;
	}
	return real ? IN_TLS(s, real(s, how)) : GNUTLS_E_INTERNAL_ERROR;
}

SHIM_EXPORT int gnutls_certificate_verify_peers2(gnutls_session_t s, unsigned *status)
{
	int (*real)(gnutls_session_t, unsigned *) = GT_REAL(gnutls_certificate_verify_peers2);
	struct vtls *v = tls_virt(s);

	if (v) {
		*status = tls_fact(v, "verify") ? (unsigned)strtoul(tls_fact(v, "verify"), NULL, 10)
						: 0;
		return GNUTLS_E_SUCCESS;
	}
	/* the library reads the clock to check validity: not the program's */
	return real ? IN_TLS(s, real(s, status)) : GNUTLS_E_INTERNAL_ERROR;
}

SHIM_EXPORT int gnutls_certificate_verify_peers3(gnutls_session_t s, const char *host,
						 unsigned *status)
{
	int (*real)(gnutls_session_t, const char *, unsigned *) =
		GT_REAL(gnutls_certificate_verify_peers3);
	struct vtls *v = tls_virt(s);

	if (v)
		return gnutls_certificate_verify_peers2(s, status);
	return real ? IN_TLS(s, real(s, host, status)) : GNUTLS_E_INTERNAL_ERROR;
}

SHIM_EXPORT gnutls_certificate_type_t gnutls_certificate_type_get(gnutls_session_t s)
{
	gnutls_certificate_type_t (*real)(gnutls_session_t) = GT_REAL(gnutls_certificate_type_get);

	if (tls_virt(s))
		return GNUTLS_CRT_X509;
	return real ? real(s) : GNUTLS_CRT_UNKNOWN;
}

/* The recorded chain, decoded on first request and kept for the session's
 * process: the caller borrows it, as it borrows GnuTLS's own. */
static const gnutls_datum_t *virt_peers(struct vtls *v, unsigned *n)
{
	struct json_object *arr;
	struct chain *c;
	size_t len;

	*n = 0;
	if (!v->facts || !json_object_object_get_ex(v->facts, "certs_der_b64", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return NULL;
	c = v->chain;
	if (!c) {
		len = json_object_array_length(arr);
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		c->certs = calloc(len ? len : 1, sizeof(*c->certs));
		for (size_t i = 0; c->certs && i < len; i++) {
			const char *s = json_object_get_string(json_object_array_get_idx(arr, i));
			struct buf der = BUF_INIT;

			if (!s || b64_decode(&der, s, strlen(s)) < 0) {
				buf_release(&der);
				break;
			}
			c->certs[c->n].size = (unsigned)der.len;
			c->certs[c->n].data = (unsigned char *)buf_steal(&der);
			c->n++;
		}
		v->chain = c;
		v->chain_free = chain_free;
	}
	*n = c->n;
	return c->n ? c->certs : NULL;
}

SHIM_EXPORT const gnutls_datum_t *gnutls_certificate_get_peers(gnutls_session_t s, unsigned *n)
{
	const gnutls_datum_t *(*real)(gnutls_session_t, unsigned *) =
		GT_REAL(gnutls_certificate_get_peers);
	struct vtls *v = tls_virt(s);

	if (v)
		return virt_peers(v, n);
	return real ? real(s, n) : NULL;
}

SHIM_EXPORT int gnutls_alpn_get_selected_protocol(gnutls_session_t s, gnutls_datum_t *proto)
{
	int (*real)(gnutls_session_t, gnutls_datum_t *) =
		GT_REAL(gnutls_alpn_get_selected_protocol);
	struct vtls *v = tls_virt(s);

	if (v) {
		if (!v->alpn_len)
			return GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE;
		proto->data = v->alpn;
		proto->size = v->alpn_len;
		return GNUTLS_E_SUCCESS;
	}
	return real ? real(s, proto) : GNUTLS_E_INTERNAL_ERROR;
}

/* No session to resume from a virtual one. Under TLS 1.3 the real call
 * may read the server's session ticket from the socket: ciphertext. */
SHIM_EXPORT int gnutls_session_get_data2(gnutls_session_t s, gnutls_datum_t *data)
{
	int (*real)(gnutls_session_t, gnutls_datum_t *) = GT_REAL(gnutls_session_get_data2);

	if (tls_virt(s))
		return GNUTLS_E_INVALID_SESSION;
	return real ? IN_TLS(s, real(s, data)) : GNUTLS_E_INTERNAL_ERROR;
}

SHIM_EXPORT int gnutls_session_is_resumed(gnutls_session_t s)
{
	int (*real)(gnutls_session_t) = GT_REAL(gnutls_session_is_resumed);

	return tls_virt(s) ? 0 : real ? real(s) : 0;
}

SHIM_EXPORT void gnutls_deinit(gnutls_session_t s)
{
	void (*real)(gnutls_session_t) = GT_REAL(gnutls_deinit);

	if (s)
		tls_vt_drop(s);
	if (real)
		real(s);
}
