/* SPDX-License-Identifier: MIT */
/* hook_tls.c -- OpenSSL 3 (libssl.so.3): HTTPS recorded as plaintext, replayed as a virtual session.
 *
 * Record. SSL_read*, SSL_write* and the handshake run for real, flagged on
 * the thread (shim_thread.in_tls): the socket I/O they do underneath is
 * ciphertext, which hook_netio.c then neither records nor ignores: it
 * tells us which socket the call used (curl's own BIO hides it from
 * SSL_get_fd). What the call returned in plaintext is recorded as the
 * connection's send or recv with "tls": true, so a trace of HTTPS reads like
 * one of HTTP. After the handshake a socket_call "tls" event keeps what the
 * client may check: version, ALPN, cipher, server name, verify result and
 * the peer certificate (DER, base64).
 *
 * Replay. The socket was connected to a socketpair serving the recorded
 * plaintext (replay_net.c). SSL_connect and SSL_do_handshake succeed at
 * once without a byte on the wire; SSL_write becomes send() and SSL_read
 * recv() on the socket, through the shim's own hooks, so the plaintext is
 * checked and served, poll() on the socket works, and the replayed run's
 * trace records the plaintext as the live one did. The session facts are
 * answered from the "tls" event: ALPN, verify result, version, and the
 * peer certificate rebuilt from its DER, so curl's and python's checks see
 * what they saw live.
 *
 * Resolution. libssl is often loaded RTLD_LOCAL by a dlopen'ed module
 * (Python's _ssl): dlsym(RTLD_NEXT) then finds nothing, and the real
 * function comes from dlopen("libssl.so.3", RTLD_NOLOAD). A hook whose real
 * function cannot be found fails the call as libssl would on an invalid
 * argument rather than crash.
 */
#include <dlfcn.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/json.h"
#include "shim/governance.h"
#include "shim/net.h"
#include "shim/real.h"
#include "shim/replayer.h"
#include "shim/shim.h"
#include "shim/tls.h"

/* ---- resolving libssl and libcrypto ---- */

void *tls_lib_sym(const char *lib, const char *name, void *self)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p || p == self) {
		void *h = dlopen(lib, RTLD_NOLOAD | RTLD_LAZY);

		p = h ? dlsym(h, name) : NULL;
		if (h)
			dlclose(h);
	}
	return p == self ? NULL : p;
}

/* The real function, resolved on first use (a relaxed race resolves twice,
 * to the same pointer). */
#define TLS_REAL(name)                                                                \
	({                                                                            \
		static __typeof__(name) *real_;                                       \
		if (__builtin_expect(!real_, 0))                                      \
			real_ = (__typeof__(name) *)tls_lib_sym("libssl.so.3", #name, \
								(void *)name);        \
		real_;                                                                \
	})

/* A libssl function the shim does not hook. */
#define TLS_SYM(name)                                                                        \
	({                                                                                   \
		static __typeof__(name) *real_;                                              \
		if (__builtin_expect(!real_, 0))                                             \
			real_ = (__typeof__(name) *)tls_lib_sym("libssl.so.3", #name, NULL); \
		real_;                                                                       \
	})

#define CRYPTO_REAL(name, type)                                                     \
	({                                                                          \
		static type *real_;                                                 \
		if (__builtin_expect(!real_, 0))                                    \
			real_ = (type *)tls_lib_sym("libcrypto.so.3", #name, NULL); \
		real_;                                                              \
	})

typedef int i2d_X509_fn(X509 *, unsigned char **);
typedef X509 *d2i_X509_fn(X509 **, const unsigned char **, long);
typedef void X509_free_fn(X509 *);
typedef void ossl_free_fn(void *, const char *, int);

/* ---- per-SSL state ---- */

#define VT_BUCKETS 256
SHIM_LARGE static struct vtls *vt_tab[VT_BUCKETS];
static pthread_mutex_t vt_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t vt_hash(const void *ssl)
{
	return ((uintptr_t)ssl >> 4) % VT_BUCKETS;
}

/* @return ssl's state, created when `create`; NULL if none (or OOM). The
 * entry lives until SSL_free; its fields are only touched by the thread
 * using the SSL, as OpenSSL requires of its callers. */
struct vtls *tls_vt_get(const void *ssl, int create)
{
	struct vtls *v;

	pthread_mutex_lock(&vt_lock);
	for (v = vt_tab[vt_hash(ssl)]; v; v = v->next)
		if (v->ssl == ssl)
			break;
	if (!v && create) {
		v = calloc(1, sizeof(*v));
		if (v) {
			v->ssl = ssl;
			v->fd = -1;
			v->next = vt_tab[vt_hash(ssl)];
			vt_tab[vt_hash(ssl)] = v;
		}
	}
	pthread_mutex_unlock(&vt_lock);
	return v;
}

void tls_vt_drop(const void *ssl)
{
	struct vtls **pp, *v = NULL;

	pthread_mutex_lock(&vt_lock);
	for (pp = &vt_tab[vt_hash(ssl)]; *pp; pp = &(*pp)->next)
		if ((*pp)->ssl == ssl) {
			v = *pp;
			*pp = v->next;
			break;
		}
	pthread_mutex_unlock(&vt_lock);
	if (v && v->chain && v->chain_free)
		v->chain_free(v->chain);
	free(v);
}

/* A virtual session (replay), or NULL for a real one. */
struct vtls *tls_virt(const void *ssl)
{
	struct vtls *v;

	if (__builtin_expect(!shim_replaying, 1))
		return NULL;
	v = tls_vt_get(ssl, 0);
	return v && v->virt ? v : NULL;
}

/* ---- record ---- */

void tls_note_fd(const void *ssl, int fd)
{
	struct vtls *v = tls_vt_get(ssl, 1);

	if (v && v->fd < 0)
		v->fd = fd;
}

/* The socket under ssl: the one its calls used, else SSL_get_fd. */
static int ssl_fd(const SSL *ssl)
{
	struct vtls *v = tls_vt_get(ssl, 0);
	int (*get_fd)(const SSL *) = TLS_SYM(SSL_get_fd);

	if (v && v->fd >= 0)
		return v->fd;
	return get_fd ? get_fd(ssl) : -1;
}

static void kv_cert(struct buf *b, SSL *ssl)
{
	X509 *(*get_cert)(const SSL *) = TLS_REAL(SSL_get1_peer_certificate);
	i2d_X509_fn *i2d = CRYPTO_REAL(i2d_X509, i2d_X509_fn);
	X509_free_fn *xfree = CRYPTO_REAL(X509_free, X509_free_fn);
	ossl_free_fn *cfree = CRYPTO_REAL(CRYPTO_free, ossl_free_fn);
	unsigned char *der = NULL;
	X509 *x;
	int n;

	if (!get_cert || !i2d || !xfree || !cfree)
		return;
	x = get_cert(ssl);
	if (!x)
		return;
	n = i2d(x, &der);
	if (n > 0 && der) {
		json_key(b, "cert_der_b64");
		buf_putc(b, '"');
		b64_encode(b, der, (size_t)n);
		buf_putc(b, '"');
	}
	if (der)
		cfree(der, __FILE__, __LINE__);
	xfree(x);
}

/* After a successful handshake: the session facts, once per SSL. */
static void rec_facts(SSL *ssl, const char *fn)
{
	const char *(*get_version)(const SSL *) = TLS_REAL(SSL_get_version);
	void (*get_alpn)(const SSL *, const unsigned char **, unsigned *) =
		TLS_REAL(SSL_get0_alpn_selected);
	long (*get_verify)(const SSL *) = TLS_REAL(SSL_get_verify_result);
	const char *(*get_name)(const SSL *, int) = TLS_SYM(SSL_get_servername);
	const SSL_CIPHER *(*get_cipher)(const SSL *) = TLS_SYM(SSL_get_current_cipher);
	const char *(*cipher_name)(const SSL_CIPHER *) = TLS_SYM(SSL_CIPHER_get_name);
	struct vtls *v = tls_vt_get(ssl, 1);
	const unsigned char *alpn = NULL;
	unsigned alpn_len = 0;
	struct shim_thread *t;
	struct sock *s;
	struct buf *b;
	int fd;

	if (!v || v->facts_done)
		return;
	fd = ssl_fd(ssl);
	if (fd < 0)
		return;
	s = net_enter_sock(fd, &t);
	if (!s)
		return;
	v->facts_done = 1;
	atomic_store(&s->tls, 1);
	b = net_ev_sock(t, s, "tls", fn, NULL, NULL, 0);
	json_kv_str(b, "lib", "openssl");
	if (get_version)
		json_kv_str(b, "version", get_version(ssl));
	if (get_alpn)
		get_alpn(ssl, &alpn, &alpn_len);
	if (alpn && alpn_len)
		json_kv_strn(b, "alpn", (const char *)alpn, alpn_len);
	if (alpn && alpn_len == 2 && !memcmp(alpn, "h2", 2))
		atomic_store(&s->h2, 1); /* its redactors read HTTP/2 frames */
	if (get_cipher && cipher_name && get_cipher(ssl))
		json_kv_str(b, "cipher", cipher_name(get_cipher(ssl)));
	if (get_name && get_name(ssl, TLSEXT_NAMETYPE_host_name))
		json_kv_str(b, "sni", get_name(ssl, TLSEXT_NAMETYPE_host_name));
	if (get_verify)
		json_kv_int(b, "verify", get_verify(ssl));
	kv_cert(b, ssl);
	net_ev_sock_end(t, b, 0, 0);
	net_leave_sock(t, s);
}

void tls_rec_plain_fd(int fd, int out, const char *fn, const void *p, long n)
{
	int saved = errno;

	if (!shim_recording || shim_tls.busy || fd < 0)
		return;
	net_rec_plain(fd, out, fn, n, 0, p, n > 0 ? (size_t)n : 0);
	errno = saved;
}

static void rec_plain(SSL *ssl, int out, const char *fn, const void *p, long n)
{
	tls_rec_plain_fd(ssl_fd(ssl), out, fn, p, n);
}

/* ---- replay: the virtual session ---- */

const char *tls_fact(struct vtls *v, const char *key)
{
	struct json_object *o;

	if (!v->facts || !json_object_object_get_ex(v->facts, key, &o))
		return NULL;
	return json_object_get_string(o);
}

int tls_virt_start(const void *ssl, int fd, const char *fn)
{
	struct shim_thread *t;
	struct vtls *v;
	struct sock *s = fd >= 0 ? net_sock_get(fd) : NULL;
	struct buf *b;

	if (!s || !s->rp) {
		net_sock_put(s);
		return 0;
	}
	v = tls_vt_get(ssl, 1);
	if (!v) {
		net_sock_put(s);
		return 0;
	}
	if (v->virt) {
		net_sock_put(s);
		return 1;
	}
	v->virt = 1;
	v->fd = fd;
	v->facts = rpn_tls_facts(s);
	if (tls_fact(v, "alpn")) {
		v->alpn_len = (unsigned)strlen(tls_fact(v, "alpn"));
		if (v->alpn_len >= sizeof(v->alpn))
			v->alpn_len = 0;
		memcpy(v->alpn, tls_fact(v, "alpn"), v->alpn_len);
	}
	atomic_store(&s->tls, 1);
	net_sock_put(s);
	if (!v->facts)
		gov_violation(
			GOV_MISMATCH,
			"%s/%d started TLS (%s) on a connection that was not TLS when recorded",
			shim_proc.lpid, shim_tls.tid, fn);
	/* The replayed run's trace gets the same "tls" event as the live one. */
	s = v->facts ? net_enter_sock(fd, &t) : NULL;
	if (s) {
		b = net_ev_sock(t, s, "tls", fn, NULL, NULL, 0);
		json_object_object_foreach(v->facts, key, val)
		{
			if (!strcmp(key, "op") || !strcmp(key, "conn") || !strcmp(key, "proto") ||
			    !strcmp(key, "fn") || !strcmp(key, "n"))
				continue;
			json_key(b, key);
			if (json_object_is_type(val, json_type_string))
				json_str(b, json_object_get_string(val));
			else
				buf_puts(b, json_object_to_json_string_ext(val,
									   JSON_C_TO_STRING_PLAIN));
		}
		net_ev_sock_end(t, b, 0, 0);
		net_leave_sock(t, s);
	}
	return 1;
}

/* The replay side of SSL_connect / SSL_do_handshake: a served socket gets a
 * virtual session. @return 1, or 0 when the session is a real one. */
static int virt_handshake(SSL *ssl, const char *fn)
{
	int (*get_fd)(const SSL *) = TLS_SYM(SSL_get_fd);
	int fd = get_fd ? get_fd(ssl) : -1;

	/* curl's BIO hides the socket: the one this thread connected last */
	if (fd < 0)
		fd = shim_tls.last_connect - 1;
	return tls_virt_start(ssl, fd, fn);
}

long tls_virt_write(struct vtls *v, const void *p, size_t n)
{
	ssize_t r = send(v->fd, p, n, MSG_NOSIGNAL);

	if (r >= 0) {
		v->last_err = TLS_OK;
		return r;
	}
	v->last_err = errno == EAGAIN ? TLS_WANT_WRITE : TLS_FAILED;
	return -1;
}

/* SSL_read / SSL_peek on a virtual session: recv() on the served socket. */
long tls_virt_read(struct vtls *v, void *p, size_t n, int flags)
{
	ssize_t r = recv(v->fd, p, n, flags);

	if (r > 0) {
		v->last_err = TLS_OK;
		return r;
	}
	if (r == 0) {
		v->last_err = TLS_EOF;
		v->shutdown |= TLS_RECEIVED_SHUTDOWN;
		return 0;
	}
	v->last_err = errno == EAGAIN ? TLS_WANT_READ : TLS_FAILED;
	return -1;
}

/* ---- the hooks ---- */

SHIM_EXPORT int SSL_do_handshake(SSL *ssl)
{
	int (*real)(SSL *) = TLS_REAL(SSL_do_handshake);
	int r;

	if (tls_virt(ssl) || (shim_replaying && virt_handshake(ssl, "SSL_do_handshake")))
		return 1;
	if (!real)
		return -1;
	r = IN_TLS(ssl, real(ssl));
	if (r == 1)
		rec_facts(ssl, "SSL_do_handshake");
	return r;
}

SHIM_EXPORT int SSL_connect(SSL *ssl)
{
	int (*real)(SSL *) = TLS_REAL(SSL_connect);
	int r;

	if (tls_virt(ssl) || (shim_replaying && virt_handshake(ssl, "SSL_connect")))
		return 1;
	if (!real)
		return -1;
	r = IN_TLS(ssl, real(ssl));
	if (r == 1)
		rec_facts(ssl, "SSL_connect");
	return r;
}

SHIM_EXPORT int SSL_write(SSL *ssl, const void *p, int n)
{
	int (*real)(SSL *, const void *, int) = TLS_REAL(SSL_write);
	struct vtls *v = tls_virt(ssl);
	int r;

	if (v)
		return n <= 0 ? 0 : (int)tls_virt_write(v, p, (size_t)n);
	if (!real)
		return -1;
	r = IN_TLS(ssl, real(ssl, p, n));
	if (r > 0)
		rec_plain(ssl, 1, "SSL_write", p, r);
	return r;
}

SHIM_EXPORT int SSL_write_ex(SSL *ssl, const void *p, size_t n, size_t *written)
{
	int (*real)(SSL *, const void *, size_t, size_t *) = TLS_REAL(SSL_write_ex);
	struct vtls *v = tls_virt(ssl);
	size_t w = 0;
	int r;

	if (v) {
		long k = tls_virt_write(v, p, n);

		if (k < 0)
			return 0;
		if (written)
			*written = (size_t)k;
		return 1;
	}
	if (!real)
		return 0;
	r = IN_TLS(ssl, real(ssl, p, n, &w));
	if (written)
		*written = w;
	if (r == 1 && w)
		rec_plain(ssl, 1, "SSL_write_ex", p, (long)w);
	return r;
}

/* A real read that ended the stream (close_notify) is the peer's EOF. */
static void rec_read_end(SSL *ssl, int r, const char *fn)
{
	int (*get_error)(const SSL *, int) = TLS_REAL(SSL_get_error);

	if (get_error && get_error(ssl, r) == SSL_ERROR_ZERO_RETURN)
		rec_plain(ssl, 0, fn, NULL, 0);
}

SHIM_EXPORT int SSL_read(SSL *ssl, void *p, int n)
{
	int (*real)(SSL *, void *, int) = TLS_REAL(SSL_read);
	struct vtls *v = tls_virt(ssl);
	int r;

	if (v)
		return n <= 0 ? 0 : (int)tls_virt_read(v, p, (size_t)n, 0);
	if (!real)
		return -1;
	r = IN_TLS(ssl, real(ssl, p, n));
	if (r > 0)
		rec_plain(ssl, 0, "SSL_read", p, r);
	else
		rec_read_end(ssl, r, "SSL_read");
	return r;
}

SHIM_EXPORT int SSL_read_ex(SSL *ssl, void *p, size_t n, size_t *got)
{
	int (*real)(SSL *, void *, size_t, size_t *) = TLS_REAL(SSL_read_ex);
	struct vtls *v = tls_virt(ssl);
	size_t g = 0;
	int r;

	if (v) {
		long k = tls_virt_read(v, p, n, 0);

		if (k <= 0)
			return 0;
		if (got)
			*got = (size_t)k;
		return 1;
	}
	if (!real)
		return 0;
	r = IN_TLS(ssl, real(ssl, p, n, &g));
	if (got)
		*got = g;
	if (r == 1 && g)
		rec_plain(ssl, 0, "SSL_read_ex", p, (long)g);
	else if (r != 1)
		rec_read_end(ssl, r, "SSL_read_ex");
	return r;
}

/* Peeks are not recorded: the bytes come again in a read. */
SHIM_EXPORT int SSL_peek(SSL *ssl, void *p, int n)
{
	int (*real)(SSL *, void *, int) = TLS_REAL(SSL_peek);
	struct vtls *v = tls_virt(ssl);

	if (v)
		return n <= 0 ? 0 : (int)tls_virt_read(v, p, (size_t)n, MSG_PEEK);
	return real ? IN_TLS(ssl, real(ssl, p, n)) : -1;
}

SHIM_EXPORT int SSL_peek_ex(SSL *ssl, void *p, size_t n, size_t *got)
{
	int (*real)(SSL *, void *, size_t, size_t *) = TLS_REAL(SSL_peek_ex);
	struct vtls *v = tls_virt(ssl);

	if (v) {
		long k = tls_virt_read(v, p, n, MSG_PEEK);

		if (k <= 0)
			return 0;
		if (got)
			*got = (size_t)k;
		return 1;
	}
	return real ? IN_TLS(ssl, real(ssl, p, n, got)) : 0;
}

SHIM_EXPORT int SSL_get_error(const SSL *ssl, int ret)
{
	int (*real)(const SSL *, int) = TLS_REAL(SSL_get_error);
	struct vtls *v = tls_virt(ssl);

	if (v) {
		static const int codes[] = { [TLS_OK] = SSL_ERROR_NONE,
					     [TLS_WANT_READ] = SSL_ERROR_WANT_READ,
					     [TLS_WANT_WRITE] = SSL_ERROR_WANT_WRITE,
					     [TLS_EOF] = SSL_ERROR_ZERO_RETURN,
					     [TLS_FAILED] = SSL_ERROR_SYSCALL };

		return ret > 0 ? SSL_ERROR_NONE : codes[v->last_err];
	}
	return real ? real(ssl, ret) : SSL_ERROR_SSL;
}

/* The served plaintext waits in the socket, where poll() sees it. */
SHIM_EXPORT int SSL_pending(const SSL *ssl)
{
	int (*real)(const SSL *) = TLS_REAL(SSL_pending);

	return tls_virt(ssl) ? 0 : real ? real(ssl) : 0;
}

SHIM_EXPORT int SSL_has_pending(const SSL *ssl)
{
	int (*real)(const SSL *) = TLS_REAL(SSL_has_pending);

	return tls_virt(ssl) ? 0 : real ? real(ssl) : 0;
}

SHIM_EXPORT int SSL_shutdown(SSL *ssl)
{
	int (*real)(SSL *) = TLS_REAL(SSL_shutdown);
	struct vtls *v = tls_virt(ssl);

	if (v) {
		v->shutdown |= TLS_SENT_SHUTDOWN;
		return 1;
	}
	return real ? IN_TLS(ssl, real(ssl)) : -1;
}

SHIM_EXPORT int SSL_get_shutdown(const SSL *ssl)
{
	int (*real)(const SSL *) = TLS_REAL(SSL_get_shutdown);
	struct vtls *v = tls_virt(ssl);

	if (v)
		return v->shutdown;
	return real ? real(ssl) : 0;
}

SHIM_EXPORT int SSL_is_init_finished(const SSL *ssl)
{
	int (*real)(const SSL *) = TLS_REAL(SSL_is_init_finished);

	return tls_virt(ssl) ? 1 : real ? real(ssl) : 0;
}

SHIM_EXPORT int SSL_in_init(const SSL *ssl)
{
	int (*real)(const SSL *) = TLS_REAL(SSL_in_init);

	return tls_virt(ssl) ? 0 : real ? real(ssl) : 0;
}

SHIM_EXPORT long SSL_get_verify_result(const SSL *ssl)
{
	long (*real)(const SSL *) = TLS_REAL(SSL_get_verify_result);
	struct vtls *v = tls_virt(ssl);

	if (v)
		return tls_fact(v, "verify") ? strtol(tls_fact(v, "verify"), NULL, 10) : X509_V_OK;
	return real ? real(ssl) : X509_V_ERR_UNSPECIFIED;
}

SHIM_EXPORT void SSL_get0_alpn_selected(const SSL *ssl, const unsigned char **data,
					unsigned int *len)
{
	void (*real)(const SSL *, const unsigned char **, unsigned *) =
		TLS_REAL(SSL_get0_alpn_selected);
	struct vtls *v = tls_virt(ssl);

	if (v) {
		*data = v->alpn_len ? v->alpn : NULL;
		*len = v->alpn_len;
		return;
	}
	if (real) {
		real(ssl, data, len);
		return;
	}
	*data = NULL;
	*len = 0;
}

SHIM_EXPORT const char *SSL_get_version(const SSL *ssl)
{
	const char *(*real)(const SSL *) = TLS_REAL(SSL_get_version);
	struct vtls *v = tls_virt(ssl);

	if (v && tls_fact(v, "version"))
		return tls_fact(v, "version");
	return real ? real(ssl) : "unknown";
}

/* The recorded peer certificate, rebuilt from its DER: the caller frees it
 * with X509_free, as it would the real one. */
static X509 *virt_cert(struct vtls *v)
{
	d2i_X509_fn *d2i = CRYPTO_REAL(d2i_X509, d2i_X509_fn);
	const char *b64 = tls_fact(v, "cert_der_b64");
	const unsigned char *p;
	struct buf der = BUF_INIT;
	X509 *x = NULL;

	if (!d2i || !b64 || b64_decode(&der, b64, strlen(b64)) < 0) {
		buf_release(&der);
		return NULL;
	}
	p = (const unsigned char *)der.data;
	x = d2i(NULL, &p, (long)der.len);
	buf_release(&der);
	return x;
}

SHIM_EXPORT X509 *SSL_get1_peer_certificate(const SSL *ssl)
{
	X509 *(*real)(const SSL *) = TLS_REAL(SSL_get1_peer_certificate);
	struct vtls *v = tls_virt(ssl);

	if (v)
		return virt_cert(v);
	return real ? real(ssl) : NULL;
}

SHIM_EXPORT void SSL_free(SSL *ssl)
{
	void (*real)(SSL *) = TLS_REAL(SSL_free);

	if (ssl)
		tls_vt_drop(ssl);
	if (real)
		real(ssl);
}
