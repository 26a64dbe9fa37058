/* SPDX-License-Identifier: MIT */
/* store.h -- the embedded store: zstd segment files + a SQLite (WAL) index.
 *
 * Layout under the data directory:
 *   index.sqlite          traces (one row per trace), chunks (where each
 *                         upload's frames are: segment, offset, length,
 *                         SHA-256), outbox (chunks not yet forwarded)
 *   segments/NNNNNNNN.seg append-only files of zstd frames, one frame per
 *                         process per upload, whole JSON lines each
 *
 * Durability: an upload's frames are appended to the current segment and
 * its rows written into the open SQLite transaction under one lock; a
 * committer thread then fdatasync()s the segment and commits, for every
 * upload that arrived meanwhile at once (group commit). store_ingest()
 * returns only after that commit, so an acknowledged upload survives a
 * crash. A crash between the append and the commit leaves bytes past the
 * last indexed chunk: store_open() truncates them. Every chunk's length and
 * SHA-256 are checked when it is read; a chunk that fails is never served.
 *
 * Reads use their own SQLite connection per call and see committed data only.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"

struct store;
struct ingest_batch;

struct store_answer {
	char trace_id[33];
	char fingerprint[65];
	uint64_t events; /* stored for the trace, after the merge */
	uint64_t processes;
	uint64_t new_events; /* added by this upload; 0 for a repeat */
	int created; /* 1 when the trace did not exist before */
};

/* Opens or creates the store in dir (made if missing). outbox: keep the
 * outbox table filled (a forwarder is configured). @return NULL with
 * reterr. */
struct store *store_open(const char *dir, int outbox, struct at_error *reterr);
/* Commits what is pending, stops the committer, closes. Accepts NULL. */
void store_free(struct store *s);

/* Merges a parsed upload into the store: events whose (pid, seq) are stored
 * already are dropped; the fingerprint and summary are recomputed over the
 * whole trace when it existed. Returns after the data is durable.
 * @return 0, or a negative errno with reterr (-EIO, -ENOMEM, -ENOSPC...). */
int store_ingest(struct store *s, struct ingest_batch *b, struct store_answer *ret,
		 struct at_error *reterr);

struct store_query {
	const char *name; /* exact */
	const char *status;
	const char *fingerprint; /* prefix, hex */
	int64_t since_ns, until_ns; /* root start time; 0 = no bound */
	unsigned limit;
	int64_t cursor; /* list traces with a row id below this; 0 = from the newest */
};

/* Appends {"traces":[...],"next_cursor":"..."|null} to out. @return 0 or -errno. */
int store_list(struct store *s, const struct store_query *q, struct buf *out);
/* Appends one trace's JSON object. @return 0, -ENOENT, or -errno. */
int store_trace_json(struct store *s, const char *trace_id, struct buf *out);
/* Appends the trace's stored zstd frames (every chunk, checked) to out.
 * @return 0, -ENOENT, -EIO (a chunk failed its check) or -errno. */
int store_trace_frames(struct store *s, const char *trace_id, struct buf *out,
		       struct at_error *reterr);
/* Appends the store's part of /stats: "traces":..,"events":..,"bytes":..,
 * "by_status":{..},"by_name":{..}, (no braces). @return 0 or -errno. */
int store_stats_json(struct store *s, struct buf *out);
/* Appends {"correlation_id":..,"status":"awaiting"|"observed","trace_ids":[..]}. */
int store_correlation_json(struct store *s, const char *id, struct buf *out);

/* Forwarders: the outbox. One chunk per entry, oldest first. */
struct store_outbox_item {
	int64_t id;
	int64_t chunk;
	char trace_id[33];
	int64_t enqueued_ns;
};
/* Fills up to max items with id > after. @return the count or -errno. */
int store_outbox_peek(struct store *s, int64_t after, struct store_outbox_item *items, int max);
/* Deletes items with id <= upto. @return 0 or -errno. */
int store_outbox_done(struct store *s, int64_t upto);
/* Depth and the age of the oldest entry (ns, 0 when empty). */
int store_outbox_depth(struct store *s, int64_t *ret_depth, int64_t *ret_oldest_ns);
/* A chunk's frames (checked). @return 0, -ENOENT, -EIO. */
int store_chunk_frames(struct store *s, int64_t chunk, struct buf *out, struct at_error *reterr);
/* Appends the trace row as one ClickHouse TSV line (id name fingerprint
 * status start duration processes events bytes version). @return 0, -ENOENT. */
int store_trace_tsv(struct store *s, const char *trace_id, struct buf *out);

/* Wall clock, ns. */
int64_t store_now_ns(void);
