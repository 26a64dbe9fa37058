/* SPDX-License-Identifier: MIT */
/* replay_int.h -- private to the replayer: the index and the helpers its three files share.
 *
 * replayer.c loads this process's events into the index (rp_ix) and serves
 * connections, DNS, the governance lookups and the summary from it;
 * replay_stream.c serves the time and random streams; replay_http.c the
 * HTTP/1 exchanges. replayer.h is their one public interface. Everything
 * here is used under rp_lock, and stays inside the shim (built with hidden
 * visibility; libattrace.map exports none of it).
 */
#pragma once

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/fingerprint.h"

struct json_object;
struct rp_chunk;
struct rp_sock;
struct stream;

/* Guards the index. */
extern pthread_mutex_t rp_lock;

/* ---- a string -> pointer map (open addressing, linear probing; replayer.c) ---- */

struct smap_ent {
	char *key;
	void *val;
};

struct smap {
	struct smap_ent *e;
	size_t cap, n; /* cap is 0 or a power of two */
};

/* The value at key, or NULL. */
void *rp_smap_get(struct smap *m, const char *key);
/* The value at key, or a new zeroed block of size bytes put there (owned by
 * the map). NULL when out of memory. */
void *rp_smap_get_or_new(struct smap *m, const char *key, size_t size);

/* A growable array of size_t (event or connection indices). */
struct idxv {
	size_t *v;
	size_t n, cap, head; /* head: first entry not yet taken (FIFO use) */
};

/* @return 0 or -ENOMEM. */
int rp_idxv_push(struct idxv *a, size_t x);

/* ---- the index ---- */

struct rp_event {
	struct json_object *ev; /* owned, or NULL for a socket event in sk */
	struct json_object *payload; /* borrowed from ev */
	struct rp_sock *sk; /* owned until indexed, or NULL */
	const char *sockop; /* sk's op, kept after sk is freed */
	uint64_t seq;
	int tid;
	const char *type; /* borrowed from ev, or a literal */
	int consumed;
};

/* A mark in a stream: event ev ends at offset end. */
struct mark {
	size_t ev, end;
};

struct marks {
	struct mark *m;
	size_t n, cap, done; /* done: marks already counted consumed */
};

/* @return 0 or -ENOMEM. */
int rp_marks_push(struct marks *a, size_t ev, size_t end);

struct rp_conn {
	char id[32];
	int udp;
	char peer[64];
	char local[64];
	int connect_seen; /* a connect (or first UDP send) opened it */
	int connect_err; /* live outcome: 0 or errno */
	int inprogress; /* connect said EINPROGRESS */
	int claimed;
	struct buf out; /* TCP: every byte sent; UDP: datagrams back to back */
	struct idxv dg_end; /* UDP: end offset of each sent datagram in out */
	struct buf inbytes; /* received bytes back to back */
	struct rp_chunk *in;
	size_t *in_off; /* offset of in[i] in inbytes (pointers fixed after load) */
	size_t *in_ev;
	size_t nin, capin;
	struct marks sends; /* send events by end offset (bytes or datagrams) */
	struct idxv opens; /* connect/connect_result events */
	struct idxv closes; /* close/shutdown events */
	struct json_object *tls; /* the "tls" event's payload (session facts), or NULL */
	int tls_opaque; /* recorded as ciphertext from a TLS library no hook saw */
	size_t http_n, http_taken; /* HTTP/1 exchanges indexed, and served */
};

/* The index of this process image: built by rp_load, and built again from
 * zero in a fork child. */
struct rp_index {
	int loaded;
	char path[4096];
	struct rp_event *ev;
	size_t nev, capev;
	struct rp_conn **conns;
	size_t nconns, capconns;
	struct smap conn_by_id; /* "T.K" -> rp_conn */
	/* "tcp 1.2.3.4:80" -> idxv of conn indices; "http 1.2.3.4:80" -> the
	 * peer's HTTP/1 exchanges (replay_http.c) */
	struct smap peers;
	struct smap dns; /* "fn\x1fkey" -> idxv of event indices */
	struct smap streams; /* "t tid clock" / "r tid source" -> stream */
	struct stream **rstreams; /* random streams, for leftovers */
	size_t nrstreams, caprstreams;
	struct smap paths; /* every file_open path of the trace */
	struct smap execs; /* this process's exec/spawn paths */
	struct smap tids; /* "N" for this process's threads */
	struct smap simple; /* "type\x1fkey" -> idxv of events (spawns, ...) */
	int64_t rec_start_ns; /* agent_start's time */
	int64_t replay_start_ns;
	/* The recorded trace's fingerprint, computed while loading in the
	 * process that reports (see rp_recorded_fp); "" when not. */
	char rec_fp[FP_HEX_LEN + 1];
	int last_tid; /* index_event: the tid put into tids last, or -1 */
};

extern struct rp_index rp_ix;

/* The connections to peer ("ADDR:PORT") in recorded order, as indices into
 * rp_ix.conns; NULL when the trace has none. */
struct idxv *rp_peer_queue(const char *peer, int udp);

/* replay_stream.c: index time event evi (payload p) of thread tid, or
 * random event evi, into the thread's stream. */
void rp_index_time(size_t evi, struct json_object *p, int tid);
void rp_index_random(size_t evi, struct json_object *p, int tid);

/* replay_http.c: parses the header names replay does not compare, once per
 * process image; rp_load calls it. */
void rp_http_names_load(void);
