/* SPDX-License-Identifier: MIT */
/* netcall.h -- network_call events: HTTP exchanges rebuilt from a connection's redacted bytes.
 *
 * The program's threads never parse: a TCP socket's bytes are recorded as
 * late records (recorder.h), and whoever gathers the lines (the writer
 * thread every 100 ms or at a 64 KiB kick; the program's thread in a
 * process that writes through) redacts them and hands the redacted bytes
 * -- exactly what the socket_call events carry -- here, in the order they
 * were recorded across all threads, with the conn id, direction, time,
 * step and logical tid. One struct http_conn (common/http.h) per
 * connection turns them into exchanges, and a network_call line for every
 * completed exchange is appended to the lines being written
 * (attrace-trace(5)). Both record and replay do this.
 *
 * Which connections: the first chunk of redacted bytes decides. One that
 * starts like an HTTP request (a method token and a space, or the HTTP/2
 * preface) is followed, as the client's side when it was sent, as the
 * server's when it was received; anything else is never looked at again.
 * A close ends a connection's exchanges (a body delimited by close
 * completes, a request never answered is written with "incomplete"). At
 * exit every open exchange is written, incomplete; at exec, only what
 * completed. Bytes that a fatal signal's flush drops (data_dropped) are
 * not followed either.
 *
 * The envelope: pid, the logical tid of the thread that sent the request's
 * first bytes, a seq of the process's counter taken when the line is
 * written, ts of the exchange's end, and the step active when the request
 * started. Header values, the URL and bodies go through the redaction rules
 * once more after decoding (http_exchange_redact); bodies are cut at
 * NC_BODY_MAX with their full length kept.
 *
 * Memory: each followed connection holds one http_conn, bounded by
 * http_limits.
 */
#pragma once

#include <stddef.h>

struct buf;
struct sock;
struct shim_thread;

#define NC_BODY_MAX (256u << 10) /* body bytes kept per message */

struct rec_late;

/* The redacted bytes p[0..n) of late record h, as they went into its
 * socket_call event; completed exchanges go to out as lines. Called under
 * the recorder's write lock, in record order. */
void nc_bytes(const struct rec_late *h, const void *p, size_t n, struct buf *out);
/* h closed its connection's last descriptor. Same rules. */
void nc_close(const struct rec_late *h, struct buf *out);

/* Writes every open exchange to out, incomplete, and forgets the
 * connections: at exit. Called by the recorder under its write lock. */
void nc_drain(struct buf *out);
/* 1 after nc_end(). */
int nc_ending(void);
/* The process is about to write agent_complete, which must stay its last
 * seq: the next flush outside the writer's tick writes every open
 * exchange, incomplete (the caller flushes then). */
void nc_end(void);
/* Fork child: the parent's connections are the parent's. */
void nc_after_fork_child(void);
