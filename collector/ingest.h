/* SPDX-License-Identifier: MIT */
/* ingest.h -- decode, validate and fingerprint one uploaded trace (or part of one).
 *
 * An upload is a trace as attrace writes it (zstd frames of JSON lines) or
 * plain JSON Lines. ingest_parse() decompresses it within the limits, checks
 * every line against the attrace/1 envelope (trace_validate, the same check
 * the CLI makes), drops lines whose (pid, seq) came earlier in the upload,
 * and feeds the rest to a fingerprint (common/fingerprint.c, the CLI's code)
 * and a summary. Nothing here touches the store: store.c merges a batch with
 * what is already stored under the same trace id.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fingerprint.h"

struct json_object;

struct ingest_limits {
	size_t max_decompressed; /* total decompressed bytes of one upload */
	size_t max_line; /* longest event line */
	int window_log_max; /* ZSTD_d_windowLogMax */
};

/* One event of a batch: its line in batch->text (without the newline). */
struct ingest_event {
	size_t off, len;
	uint32_t pid; /* index in the batch's pid table */
	uint64_t seq;
};

/* A set of (pid, seq) pairs, pids interned as strings. */
struct seqset {
	char **pids;
	size_t npids, cap_pids;
	uint64_t *keys; /* (pid index + 1) << 40 ^ seq hashed; 0 = empty */
	uint32_t *kpid;
	uint64_t *kseq;
	size_t nkeys, cap_keys;
};

void seqset_init(struct seqset *s);
void seqset_release(struct seqset *s); /* accepts NULL */
/* @return the pid's index (interning it), or -ENOMEM. */
int seqset_pid(struct seqset *s, const char *pid);
/* Adds (pid, seq). @return 1 when new, 0 when already there, -ENOMEM. */
int seqset_add(struct seqset *s, uint32_t pid, uint64_t seq);
/* @return 1 when (pid name, seq) is in the set. */
int seqset_has(const struct seqset *s, const char *pid, uint64_t seq);

/* What the collector lists about a trace, derived from its events. */
struct trace_summary {
	char trace_id[33];
	char *name; /* root agent_start's payload.name (ATTRACE_NAME), or NULL */
	char status[16]; /* ok | failed | killed | running */
	int exit_status; /* root's status, or signal number when killed; -1 running */
	int64_t start_ns, end_ns; /* root agent_start / agent_complete ts_epoch; 0 unknown */
	int64_t first_ns; /* earliest ts_epoch of any event (when the root is missing) */
	uint64_t events;
};

void summary_init(struct trace_summary *s);
void summary_release(struct trace_summary *s); /* accepts NULL */
/* Folds one validated event in. @return 0, -EINVAL with msg when its
 * agent_start names a different trace id, or -ENOMEM. */
int summary_add(struct trace_summary *s, struct json_object *ev, char *msg, size_t msglen);

/* A validated event's envelope, as the summary and the fingerprint use it.
 * The strings and the payload are borrowed. */
struct ingest_parts {
	const char *pid, *type, *step;
	int64_t seq, tid;
	int64_t epoch_ns; /* ts_epoch in ns, rounded */
	struct json_object *payload; /* NULL for time, governance, thread_start */
};

/* Fills e from a validated event (borrowing from it). */
void ingest_parts_of(struct json_object *ev, struct ingest_parts *e);
/* summary_add from the parts. */
int summary_add_parts(struct trace_summary *s, const struct ingest_parts *e, char *msg,
		      size_t msglen);

struct ingest_batch {
	struct buf text; /* decompressed lines; events point into it */
	struct buf scratch; /* decoded strings, while parsing */
	struct ingest_event *ev; /* events in upload order, duplicates dropped */
	size_t n, cap;
	size_t lines; /* lines seen, blank ones included */
	size_t duplicates; /* lines dropped as an earlier (pid, seq) */
	struct seqset seen;
	struct trace_summary sum;
	struct fp *fp;
	char fp_hex[FP_HEX_LEN + 1];
};

/* Parses body[0..len). zstd: 1 for zstd frames, 0 for plain JSON Lines, -1
 * to tell from the magic. On success batch holds at least one event, the
 * trace id (from an agent_start), the summary and the fingerprint.
 * @return 0 or a negative errno, with reterr naming the problem and
 * reterr->line the 1-based line of the upload (counted across frames):
 *   -EBADMSG  not zstd / not a zstd frame, or invalid JSON ("line N: ...")
 *   -EPIPE    truncated zstd frame
 *   -EIO      corrupt zstd frame (bad checksum, window over the cap)
 *   -EFBIG    decompressed size over max_decompressed
 *   -E2BIG    a line over max_line
 *   -EINVAL   a line that is not an attrace/1 event (missing field ...),
 *             no agent_start, two trace ids in one upload
 *   -ENODATA  no events at all
 *   -ENOMEM
 * batch is released on failure. */
int ingest_parse(const void *body, size_t len, int zstd, const struct ingest_limits *lim,
		 struct ingest_batch *batch, struct at_error *reterr);
void ingest_batch_release(struct ingest_batch *batch); /* accepts NULL */

/* Parses one stored or uploaded line (NUL-terminated, no newline) into a
 * validated event. @return the event (caller puts it) or NULL with msg. */
struct json_object *ingest_parse_line(const char *s, size_t n, char *msg, size_t msglen);

/* One line read by ingest_line_parse(): e points into this struct (and
 * into hold, which ingest_line_release() puts). */
struct ingest_line {
	struct ingest_parts e;
	char pid[72], type[40], step[136];
	const char *payload; /* the fast path: the payload's text */
	size_t payload_len;
	struct json_object *hold;
};

/* Reads line s[0..n) (s[n] must be NUL) into l: the fast path when it is
 * sure, else ingest_parse_line(). With want_payload, l->e.payload is the
 * payload object (NULL for the types whose payload nothing reads); without,
 * it may be NULL. scratch is working space. @return 0 (release l after),
 * -EBADMSG (invalid JSON) or -EINVAL (not an attrace/1 event) with msg, or
 * -ENOMEM. */
int ingest_line_parse(struct ingest_line *l, const char *s, size_t n, int want_payload,
		      struct buf *scratch, char *msg, size_t msglen);
void ingest_line_release(struct ingest_line *l);

/* Nonzero (the default): ingest_parse tries the fast path first, a scan
 * that validates a line without building a json-c tree for it (only the
 * payload of an event the fingerprint keeps becomes one). Any line it is
 * not sure of goes to ingest_parse_line, so the outcome is the same either
 * way; tests set 0 to compare. */
extern int ingest_fast_path;
/* @return 1 when the fast path takes line s[0..n) (for tests). */
int ingest_fast_scan_ok(const char *s, size_t n);
