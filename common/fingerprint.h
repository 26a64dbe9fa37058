/* SPDX-License-Identifier: MIT */
/* fingerprint.h -- the causal fingerprint: a SHA-256 Merkle hash over the canonical form.
 *
 * One implementation, used by the shim (replay), the CLI and the collector.
 * SHA-256 comes from OpenSSL libcrypto: measured here at 1573 MB/s against
 * libsodium's 306 MB/s.
 *
 * The canonical form (attrace-trace(5), "FINGERPRINT"; version 3) is
 * JSON Lines with keys in a fixed order, one text per process:
 *  - each process's kept events become units: one per connection (all its
 *    socket calls, from every thread: sends joined, received bytes never
 *    kept, conn id dropped), one per run of random reads on a thread, one
 *    per other event; between a header line (exe basename, via) and an
 *    exit line (status or signal);
 *  - the main thread's units come in their own order; every other thread's
 *    units form a multiset, sorted by text: which worker of a pool ran what,
 *    and how threads interleaved, never shows;
 *  - a spawn names its child by the SHA-256 of the child's text (a Merkle
 *    tree), never by lpid; the fingerprint is the root process's hash;
 *  - dropped everywhere: timestamps, seq, real pids, fd numbers, conn ids,
 *    thread numbers, lpids, local addresses and ports (an accepted
 *    connection keeps its listening address), env, argv and cwd of
 *    agent_start, trace ids; time and governance events, file_open under
 *    system locations or language caches, socket calls failing with
 *    EAGAIN/EINTR; DNS answers and random bytes (inputs, not behaviour).
 * The exact rules are in the comment at the top of fingerprint.c.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"

struct json_object;
struct fp;

#define FP_HEX_LEN   64
#define FP_SHORT_LEN 16

struct fp *fp_new(void);
void fp_free(struct fp *f); /* accepts NULL */
/* Leaves the header fields named on list (ATTRACE_REPLAY_IGNORE's syntax:
 * comma-separated NAME or NAME*) out of every http_request unit, so that
 * a replay run and its recording compare without them. The result is no
 * longer the trace's fingerprint: only runs fingerprinted with the same
 * list compare. NULL or "": none (the default). Call before fp_add.
 * @return 0 or -ENOMEM. */
int fp_ignore_headers(struct fp *f, const char *list);
/* Adds one validated event (borrowed; not kept). @return 0 or -ENOMEM. */
int fp_add(struct fp *f, struct json_object *ev);
/* The same from an event's parts: fp_add(f, ev) is fp_add_parts with ev's
 * pid, type and step strings (step may be NULL: "root"), its tid and seq
 * (0 when not integers) and its payload (borrowed; NULL is fine for the
 * types the canonical form drops whole: time, governance, thread_start).
 * @return 0 or -ENOMEM. */
int fp_add_parts(struct fp *f, const char *pid, const char *type, const char *step, int64_t tid,
		 uint64_t seq, struct json_object *payload);
/* Appends the canonical form to out: per process, in lpid order, a line
 * {"process":LPID,"subtree":HASH} (an annotation, not hashed as such) then
 * the process's text. No kept event: nothing. @return 0 or a buffer error. */
int fp_canonical(struct fp *f, struct buf *out);
/* hex gets 64 lowercase hex digits and a NUL: the root's subtree hash.
 * fp_final and fp_canonical leave f as it was: both may be called again,
 * and more events added. @return 0 or -ENOMEM. */
int fp_final(struct fp *f, char hex[FP_HEX_LEN + 1]);
/* Reads and fingerprints a whole trace file. @return 0 or a negative errno
 * with reterr set. */
int fp_file(const char *path, char hex[FP_HEX_LEN + 1], struct at_error *reterr);

/* SHA-256 helpers. */
struct sha256;
struct sha256 *sha256_new(void);
void sha256_update(struct sha256 *s, const void *p, size_t n);
void sha256_final_hex(struct sha256 *s, char hex[FP_HEX_LEN + 1]); /* frees s */
void sha256_hex(const void *p, size_t n, char hex[FP_HEX_LEN + 1]);
/* @return 0 or a negative errno. Reads with read(2). */
int sha256_file(const char *path, char hex[FP_HEX_LEN + 1]);
