/* SPDX-License-Identifier: MIT */
/* tls.h -- what the TLS hooks share (hook_tls.c for OpenSSL, hook_gnutls.c for GnuTLS).
 *
 * Each library's session object gets a struct vtls, created on first use
 * and dropped when the library frees the session. Record mode learns the
 * socket under the session from the socket I/O its real calls make (IN_TLS)
 * and records the plaintext they return; replay mode turns a session on a
 * served socket into a virtual one (tls_virt_start) whose reads and writes
 * are recv() and send() on the socket. See hook_tls.c for the whole story.
 */
#pragma once

#include <stddef.h>

#include "shim/shim.h"

struct json_object;

/* Why a virtual read or write returned -1 or 0 (struct vtls.last_err). */
enum {
	TLS_OK = 0,
	TLS_WANT_READ,
	TLS_WANT_WRITE,
	TLS_EOF,
	TLS_FAILED,
};
/* struct vtls.shutdown bits (OpenSSL's values). */
#define TLS_SENT_SHUTDOWN     1
#define TLS_RECEIVED_SHUTDOWN 2

struct vtls {
	const void *ssl; /* the library's session object (SSL *, gnutls_session_t) */
	struct vtls *next;
	int fd; /* the socket under it, -1 until known */
	int virt; /* replay: a virtual session on a served socket */
	int facts_done; /* record: the "tls" event is out */
	int last_err; /* virtual: what SSL_get_error answers */
	int shutdown; /* virtual: SSL_get_shutdown */
	struct json_object *facts; /* virtual: the recorded session facts (borrowed) */
	void *chain; /* hook_gnutls.c: the decoded peer chain of a virtual session */
	void (*chain_free)(void *chain);
	unsigned char alpn[256];
	unsigned alpn_len;
};

/* Resolves name in the global scope, else in lib loaded privately
 * (dlopen RTLD_NOLOAD); never self. NULL when not found. */
void *tls_lib_sym(const char *lib, const char *name, void *self);

/* ssl's state, created when create is set (NULL on OOM or when absent). */
struct vtls *tls_vt_get(const void *ssl, int create);
void tls_vt_drop(const void *ssl);
/* In replay, ssl's virtual session, else NULL. */
struct vtls *tls_virt(const void *ssl);
/* Remembers the socket under ssl (first one wins). */
void tls_note_fd(const void *ssl, int fd);

/* Runs a real libssl call with the thread flagged, so that the socket I/O
 * underneath is known as ciphertext and names its socket, and so that the
 * clock reads and entropy the library draws inside (certificate checks,
 * handshake keys) are not recorded: a replayed session has no handshake to
 * ask for them again (hook_time.c, hook_random.c check in_tls). */
#define IN_TLS(ssl, call)                                      \
	({                                                     \
		struct shim_thread *t_ = &shim_tls;            \
		int was_ = t_->in_tls, saved_fd_ = t_->tls_fd; \
		__typeof__(call) r_;                           \
		t_->in_tls = 1;                                \
		t_->tls_fd = -1;                               \
		r_ = (call);                                   \
		if (t_->tls_fd >= 0)                           \
			tls_note_fd((ssl), t_->tls_fd);        \
		t_->in_tls = was_;                             \
		t_->tls_fd = was_ ? saved_fd_ : -1;            \
		r_;                                            \
	})

/* Records plaintext on socket fd's connection (nothing when not recording
 * or fd < 0). */
void tls_rec_plain_fd(int fd, int out, const char *fn, const void *p, long n);

/* Replay: makes ssl a virtual session on socket fd if fd is a served
 * socket, and records the recorded "tls" facts again. @return 1, or 0 when
 * the session stays real. */
int tls_virt_start(const void *ssl, int fd, const char *fn);
/* A recorded session fact as a string ("alpn", "version", "verify"), or NULL. */
const char *tls_fact(struct vtls *v, const char *key);
/* send()/recv() on the virtual session's socket. @return bytes, 0 at EOF,
 * -1 with v->last_err set to the library-neutral cause: TLS_WANT_READ,
 * TLS_WANT_WRITE, TLS_EOF or TLS_FAILED. */
long tls_virt_write(struct vtls *v, const void *p, size_t n);
long tls_virt_read(struct vtls *v, void *p, size_t n, int flags);
