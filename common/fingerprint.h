/* SPDX-License-Identifier: MIT */
/* fingerprint.h -- the causal fingerprint: SHA-256 over the canonical form.
 *
 * One implementation, used by the shim (replay), the CLI and the collector.
 * SHA-256 comes from OpenSSL libcrypto: measured here at 1573 MB/s against
 * libsodium's 306 MB/s.
 *
 * The canonical form (attrace-trace(5), "FINGERPRINT") is JSON Lines, one
 * line per kept event, written with keys in a fixed order:
 *  - events are grouped by (pid, tid); groups are ordered by pid
 *    (trace_pid_cmp) then tid; within a group by seq;
 *  - dropped everywhere: ts, ts_epoch, seq, real pids, fd numbers, local
 *    addresses and ports (but accept keeps the listening address: which port
 *    a server serves is behaviour), env, argv and cwd of agent_start, trace ids;
 *  - dropped events: time (clock reads are noise), governance, and file_open
 *    under system locations (/usr /lib /lib64 /bin /sbin /etc /proc /sys /dev
 *    /run /var/cache /var/lib) or language caches (__pycache__, *.pyc,
 *    .cache/), and socket_call results EAGAIN/EINTR (timing, not behaviour);
 *  - consecutive socket_call send (or recv) events on one connection within a
 *    group are joined into one, so syscall chunking never shows; received
 *    bytes are inputs, not behaviour: recv keeps only its op and connection;
 *  - random keeps source and byte count (consecutive same-source joined),
 *    never the bytes; dns keeps function and name, not the answers;
 *  - agent_complete keeps exit status or signal.
 * The exact per-type rules are in the comment at the top of fingerprint.c.
 */
#pragma once

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

struct json_object;
struct fp;

#define FP_HEX_LEN   64
#define FP_SHORT_LEN 16

struct fp *fp_new(void);
void fp_free(struct fp *f); /* accepts NULL */
/* Adds one validated event (borrowed; not kept). @return 0 or -ENOMEM. */
int fp_add(struct fp *f, struct json_object *ev);
/* Writes the canonical form to out. @return 0 or a buffer error. */
int fp_canonical(struct fp *f, struct buf *out);
/* hex gets 64 lowercase hex digits and a NUL. @return 0 or -ENOMEM. */
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
