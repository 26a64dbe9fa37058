/* SPDX-License-Identifier: MIT */
/* trace.h -- the attrace/1 event model: writing event lines, reading traces.
 *
 * Writing (used by the shim on hot paths): trace_ev_head() appends the event
 * envelope and opens the payload object; the caller appends payload fields
 * with the json_kv_*() writers; trace_ev_tail() closes the line.
 *
 * Reading (CLI, collector, replay): a trace_reader walks the zstd frames of a
 * trace held in memory, splits them into lines, parses each with json-c and
 * validates the envelope. Errors name the frame and line.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"

struct json_object;

#define TRACE_FORMAT   "attrace/1"
#define TRACE_MAX_LINE (64u << 20) /* longest event line accepted by readers */
#define TRACE_TS_LEN   32 /* "2026-11-22T04:17:00.123456Z" + NUL fits */

struct trace_head {
	uint64_t seq;
	const char *pid; /* logical pid, "0", "0.1", ... */
	int tid; /* logical tid */
	const char *type;
	int64_t ts_ns; /* wall clock, ns since the epoch */
	const char *step;
};

/* Appends {"seq":..,"pid":..,"tid":..,"type":..,"ts":..,"ts_epoch":..,"step":..,"payload":{
 * @return 0 or a buffer error. */
int trace_ev_head(struct buf *b, const struct trace_head *h);
/* Appends }}\n. */
int trace_ev_tail(struct buf *b);
/* Formats ns since the epoch as ISO 8601 UTC with microseconds. No libc
 * time functions (they may read files from inside a hook). */
void trace_fmt_ts(int64_t ns, char out[TRACE_TS_LEN]);

/* Event types of attrace/1. */
extern const char *const trace_types[];
/* @return 1 when type is one of trace_types. */
int trace_type_known(const char *type);

/* Checks one parsed line against the attrace/1 envelope: seq (integer >= 0),
 * pid (string of dot-separated integers starting "0"), tid (integer >= 0),
 * type (string), ts (string), ts_epoch (number), step (string), payload
 * (object). Unknown types are accepted (forward compatibility).
 * @return 0 or -EINVAL with msg naming the first bad field. */
int trace_validate(struct json_object *ev, char *msg, size_t msglen);
/* @return 1 when s is a well-formed logical pid ("0", "0.2", "0.2.1"...). */
int trace_pid_valid(const char *s);

struct trace_reader;

/* Reads the whole file (trace sizes are bounded by disk, and readers need
 * random access for error offsets). @return NULL with reterr filled. */
struct trace_reader *trace_reader_open(const char *path, struct at_error *reterr);
/* Over a caller-owned buffer that must outlive the reader. */
struct trace_reader *trace_reader_mem(const void *data, size_t len, struct at_error *reterr);
void trace_reader_free(struct trace_reader *r); /* accepts NULL */
/* Next event, validated. *ret_ev is owned by the caller (json_object_put).
 * @return 1, 0 at the end, or a negative errno with reterr naming the frame
 * and line (reterr->offset is then the line's offset in the decompressed
 * frame):
 *   -EBADMSG "frame 3, line 12: invalid JSON: unexpected end of data"
 *   -EINVAL  "frame 1, line 1: not an attrace/1 event: missing \"seq\""
 *   -E2BIG   a line longer than TRACE_MAX_LINE
 * After such a line error the next call goes on with the next line. Frame
 * errors (see zframe_dec_next: not zstd, truncated, corrupt, too big) end the
 * walk and are returned again on every further call. An empty input is
 * -ENODATA "empty trace"; frames without a single event, -ENODATA "no
 * events". Blank lines are skipped; a frame's last line may lack its '\n'. */
int trace_reader_next(struct trace_reader *r, struct json_object **ret_ev, struct at_error *reterr);
/* The next line, unparsed, for a caller that reads some lines its own way
 * (trace_sock_scan) and the rest with trace_reader_parse_line(). The same
 * lines as trace_reader_next() (the same skipping, the same frame errors);
 * *ret_s[0..*ret_n) is NUL-terminated, writable, and valid until the next
 * call. The line counts as an event for "no events". @return 1, 0 at the
 * end, or a negative errno as trace_reader_next(). */
int trace_reader_next_line(struct trace_reader *r, char **ret_s, size_t *ret_n,
			   struct at_error *reterr);
/* Parses and validates the line trace_reader_next_line() returned last,
 * exactly as trace_reader_next() would have (same errors). @return 1 with
 * *ret_ev (owned by the caller), or a negative errno with reterr. */
int trace_reader_parse_line(struct trace_reader *r, struct json_object **ret_ev,
			    struct at_error *reterr);
/* From now on, lines whose top-level "type" is `type` are passed over
 * without being parsed or validated (replay skips the network_call events it
 * never needs: parsing them was half of loading a trace). @return 0, or
 * -EINVAL for a type name too long (nothing is skipped then). */
int trace_reader_skip_type(struct trace_reader *r, const char *type);
/* The same, but the skipped lines are still validated and count as events,
 * as trace_reader_next() would have them (same errors, same "no events"):
 * a hand-written scan checks them (common/jscan.h), json-c only the lines
 * it refuses. For readers that must refuse a bad trace but need nothing of
 * those events (the fingerprint leaves network_call out). */
int trace_reader_skip_type_checked(struct trace_reader *r, const char *type);
/* From now on, lines whose top-level "pid" is a plain pid other than `pid`
 * are passed over unparsed too, unless their top-level "type" is `keep`
 * (or NULL). Skipped lines count as events for "no events". @return 0, or
 * -EINVAL for a pid or type too long (nothing is skipped for pid then). */
int trace_reader_only_pid(struct trace_reader *r, const char *pid, const char *keep);

/* A socket_call line of a TCP send or recv, read without json-c: replay's
 * loading spends most of its time on these. Spans point into the line. */
struct trace_sock_line {
	uint64_t seq;
	int tid;
	char pid[64];
	const char *op; /* "send" or "recv" (a literal) */
	const char *conn, *err; /* payload "conn" and "errno" (err NULL when absent) */
	size_t conn_len, err_len;
	int64_t n; /* payload "n", -1 when absent */
	int peek, tls_opaque; /* the member is present (whatever its value) */
	const char *data, *b64; /* bodies of "data" and "data_b64", or NULL */
	size_t data_len, b64_len;
	int data_esc; /* data holds escapes (trace_sock_bytes decodes them) */
};

/* The envelope member a key names (k[0..n), n > 0), TK_OTHER for any other:
 * for the readers that scan lines by hand (trace_sock_scan, the collector's
 * ingest fast path). */
enum trace_key { TK_SEQ, TK_PID, TK_TID, TK_TYPE, TK_TS, TK_EPOCH, TK_STEP, TK_PAYLOAD, TK_OTHER };
int trace_envelope_key(const char *k, size_t n);

/* Reads line s[0..n) when it is a valid attrace/1 event (as
 * trace_reader_next() would accept it) of type socket_call whose payload
 * has op "send" or "recv", proto "tcp", a string conn and no peer. It reads
 * a subset of the JSON json-c reads (common/jscan.h) and gives up on the
 * rest: errno, conn and data_b64 with escapes, a member given twice, n not
 * an integer, ... @return 1 with *ret filled, or 0: then parse the line
 * with json-c, which decides as it always did. */
int trace_sock_scan(const char *s, size_t n, struct trace_sock_line *ret);
/* A scanned line's bytes ("data", else "data_b64"), decoded and appended to
 * out, as trace_payload_bytes() reads them. @return 0, -EINVAL for bad
 * base64, or a buffer error. */
int trace_sock_bytes(const struct trace_sock_line *l, struct buf *out);

/* Compares logical pids component by component ("0.2" < "0.10"). */
int trace_pid_cmp(const char *a, const char *b);

/* Decodes a `time` event's payload (first_ns, count, deltas_b64) into the
 * values read, in order. *ret_v is malloc'd (the caller frees it).
 * @return the number of values, or -EINVAL when the payload does not hold
 * count values (deltas missing, short or trailing), -ENOMEM. */
long trace_time_values(struct json_object *payload, int64_t **ret_v);

/* A socket_call's or random's bytes: "data" (text) or "data_b64", decoded
 * into out (appended). @return 0 (also when the event carries no bytes),
 * -EINVAL for bad base64, -ENOMEM. */
int trace_payload_bytes(struct json_object *payload, struct buf *out);
