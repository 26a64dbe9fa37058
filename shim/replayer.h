/* SPDX-License-Identifier: MIT */
/* replayer.h -- replay mode: this process's recorded inputs, indexed, and served to the hooks.
 *
 * At start (and in a fork child) the replayer reads the trace named by
 * ATTRACE_TRACE and keeps the events of this process's logical pid, indexed
 * by what a hook asks for:
 *  - connections, queued per peer in recorded order (replay_net.c serves
 *    them through a socketpair);
 *  - DNS answers, FIFO per (function, name);
 *  - wall-clock values and random bytes, one stream per (logical tid,
 *    clock or source), consumed in order whatever the call sizes;
 *  - the paths every process of the trace opened, the programs this one
 *    executed and the threads it had, for governance.
 * Every lookup is O(1) or amortised O(1), so replay time grows linearly
 * with the trace. Each served event is marked consumed; rp_summary()
 * counts them at the end.
 *
 * Locking: one mutex guards the index; callers hold the shim guard.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct http1_req;
struct json_object;
struct shim_thread;

/* 1 in replay mode once the index is loaded. */
extern int shim_replaying;

/* Loads this process's events (shim_proc.lpid) from the trace at path.
 * @return 0, or a negative errno after printing one warning line. */
int rp_load(const char *path);
/* The loaded trace's fingerprint (64 hex digits), computed while loading in
 * the root process when it reports the replay (ATTRACE_REPLAY_REPORT);
 * NULL otherwise or when it could not be computed. */
const char *rp_recorded_fp(void);
/* In a fork child, once shim_proc.lpid names the child: load its events. */
void rp_after_fork_child(void);

/* ---- time and randomness ---- */

/* The value thread t's next read of clock clk (SHIM_CLOCK_*) returns: the
 * recorded one while the stream lasts, then the last recorded value plus
 * the real time elapsed since it was served (time keeps moving). A clock
 * the trace never read follows the real clock, shifted to the recorded
 * start. */
int64_t rp_time(struct shim_thread *t, int clk, int64_t real_ns);

/* Fills p[0..n) with the next recorded bytes of `source` ("getrandom",
 * "getentropy", "arc4random", "arc4random_uniform", "urandom"): this
 * thread's stream first, then other threads' leftovers. @return 0, or
 * -ENODATA when the trace holds fewer than n more bytes (nothing copied). */
int rp_random(struct shim_thread *t, const char *source, void *p, size_t n);

/* ---- DNS ---- */

/* The payload of the next recorded dns event of function fn for key (the
 * name, or "addr:port" for getnameinfo), marked consumed; borrowed, valid
 * for the process's life. NULL when the trace has no more. */
struct json_object *rp_dns_take(const char *fn, const char *key);

/* ---- governance lookups ---- */

/* @return 1 when some process of the trace opened path (as given). */
int rp_path_known(const char *path);
/* @return 1 when this process (or a vfork child of it) executed or spawned
 * path in the trace. */
int rp_exec_known(const char *path);
/* @return the number of events this process image has in the trace: 0 for
 * a process (or exec'd image) the live run never had. */
size_t rp_nevents(void);
/* @return 1 when this process had logical thread tid in the trace. */
int rp_tid_known(int tid);
/* Marks the first unconsumed event of `type` (and, for process_spawn and
 * thread_start, matching op/child_tid) consumed: spawns, thread starts,
 * file opens and the process's start and end, which serve no data. */
void rp_consume_simple(const char *type, const char *key);

/* ---- connections (replay_net.c) ---- */

struct rp_conn;

/* The recorded outcome of the next connection attempt to peer by this
 * process. @return 0 with *ret_c NULL (connected; the recorded connection
 * is bound by rp_conn_bind once the program's first bytes are known), 0
 * with *ret_c set (connected; bound now, because the peer spoke first), or
 * a positive errno the attempt failed with live. *ret_inprogress: the
 * live connect returned EINPROGRESS. -ENOENT when the trace holds no
 * attempt to that peer. ret_local gets the local address it had live,
 * ret_tls its TLS session facts (or NULL).
 */
int rp_conn_connect(const char *peer, int udp, struct rp_conn **ret_c, int *ret_inprogress,
		    char ret_local[64], struct json_object **ret_tls);
/* Binds the best unclaimed connection to peer for a program that has sent
 * sent[0..n): the first in recorded order whose bytes start the same way,
 * else the first. NULL when none is left. */
struct rp_conn *rp_conn_bind(const char *peer, int udp, const void *sent, size_t n);

/* Stream access for replay_net.c. Offsets count bytes on TCP and
 * datagrams on UDP. */
struct rp_chunk {
	size_t at; /* the program must have sent this much first */
	const unsigned char *p;
	size_t n;
	int eof; /* the peer closed (n 0) */
	const char *peer; /* UDP: the datagram's source, or NULL */
};
/* Expected outgoing bytes (all sends, TCP) or datagram k (UDP). */
const unsigned char *rp_conn_out(struct rp_conn *c, size_t *ret_len);
int rp_conn_dgram(struct rp_conn *c, size_t k, const unsigned char **ret_p, size_t *ret_n);
/* The i-th chunk to serve; NULL past the end. */
const struct rp_chunk *rp_conn_chunk(struct rp_conn *c, size_t i);
const char *rp_conn_local(struct rp_conn *c);
/* The recorded TLS session facts ("tls" socket_call payload), or NULL. */
struct json_object *rp_conn_tls(struct rp_conn *c);
/* 1 when the connection was recorded as ciphertext of a TLS library no
 * hook saw (it cannot be replayed). */
int rp_conn_tls_opaque(struct rp_conn *c);
/* Progress reports, for the consumed count: the program has sent `sent`
 * (bytes or datagrams), chunk i has been served in full, it closed. */
void rp_conn_progress(struct rp_conn *c, size_t sent);
void rp_conn_served(struct rp_conn *c, size_t i);
void rp_conn_closed(struct rp_conn *c);

/* ---- HTTP/1 exchanges (replay_net.c) ----
 *
 * A TCP connection whose recorded sends are HTTP/1 requests is also indexed
 * per request: each request (framed by common/http1.h, in the redacted form
 * the trace holds) with the recorded response bytes that answered it. A
 * replayed HTTP/1 connection is served per request from all recorded
 * connections to its peer, FIFO per key (method, Host, target, body), so
 * the schedule of a connection or thread pool does not matter. The index of
 * a peer is built on first use and lives as long as the process.
 */
struct rp_http;

/* 1 when the trace holds HTTP/1 exchanges to peer ("ADDR:PORT", TCP). */
int rp_http_known(const char *peer);
/* The TLS session facts of a recorded HTTP/1 connection to peer, or NULL:
 * for a connection a pool opens beyond the recorded ones. */
struct json_object *rp_http_tls(const char *peer);

/* Takes the recorded exchange for the request req[0..r->len) (framed by
 * http1_request; redacted as recorded) sent to peer. An exact match (key
 * and headers) leaves ret_why empty. Otherwise ret_why (at least 512
 * bytes) gets why it is not, to follow the request's name ("POST
 * http://h/p"): " has no recorded match; closest recorded: ...; the body
 * differs at byte 57: ..." or ": the header X differs: ...", and the
 * result is the exchange to serve instead (the first with the key, else
 * the closest), taken too. NULL when the peer has no exchange at all. */
struct rp_http *rp_http_take(const char *peer, const unsigned char *req, const struct http1_req *r,
			     char *ret_why, size_t whylen);
/* The leading 1xx responses the first unserved exchange with this
 * request's method, Host and target received (Expect: 100-continue), or
 * NULL. */
const unsigned char *rp_http_interim(const char *peer, const unsigned char *req,
				     const struct http1_req *r, size_t *ret_len);
/* The recorded response bytes of h (1xx included; *ret_interim of them);
 * *ret_eof: the peer closed the connection after them. */
const unsigned char *rp_http_response(struct rp_http *h, size_t *ret_len, size_t *ret_interim,
				      int *ret_eof);

/* ---- the end ---- */

/* Consumed and total events of this process, and up to `max` short
 * descriptions of unconsumed ones (static strings, "seq 12 dns
 * getaddrinfo(\"x\")"), written to out[]. @return how many were written. */
size_t rp_summary(size_t *ret_consumed, size_t *ret_total, char out[][96], size_t max);
