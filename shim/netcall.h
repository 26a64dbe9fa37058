/* SPDX-License-Identifier: MIT */
/* netcall.h -- network_call events: HTTP exchanges rebuilt from a connection's redacted bytes.
 *
 * Split in two so that the program's threads never parse. On the hot path
 * (hook_netio.c, hook_net.c) a connection's redacted bytes -- exactly what
 * its socket_call events carry -- are copied into a per-thread side queue
 * with the conn id, direction, time, step and logical tid: a memcpy under a
 * lock only the drain contends for. Whoever flushes the trace (the writer
 * thread every 100 ms; the program's thread in a process that writes
 * through) drains the queues in the order the bytes were recorded, feeds one
 * struct http_conn (common/http.h) per connection, and appends a
 * network_call line for every completed exchange to the lines being written
 * (attrace-trace(5)). Both record and replay do this.
 *
 * Which connections: the first chunk of redacted bytes decides. One that
 * starts like an HTTP request (a method token and a space, or the HTTP/2
 * preface) is followed, as the client's side when it was sent, as the
 * server's when it was received; anything else is never queued again. A
 * connection whose bytes were dropped (data_dropped) ends its exchanges
 * there; a close ends them (a body delimited by close completes, a request
 * never answered is written with "incomplete"). At exit every open exchange
 * is written, incomplete; at exec, only what completed.
 *
 * The envelope: pid, the logical tid of the thread that sent the request's
 * first bytes, a seq of the process's counter taken when the line is
 * written, ts of the exchange's end, and the step active when the request
 * started. Header values, the URL and bodies go through the redaction rules
 * once more after decoding (http_exchange_redact); bodies are cut at
 * NC_BODY_MAX with their full length kept.
 *
 * A queue past NC_KICK bytes wakes the writer thread (rec_kick_writer),
 * which drains without flushing and keeps its 100 ms period: the exiting
 * thread, which drains what is left, then has little to parse.
 *
 * Memory: queued bytes live until the next flush or kick (the recorder flushes a
 * thread that has FLUSH_BYTES pending, and the same bytes are in its event
 * buffer); each followed connection holds one http_conn, bounded by
 * http_limits.
 */
#pragma once

#include <stddef.h>

struct buf;
struct sock;
struct shim_thread;

#define NC_BODY_MAX (256u << 10) /* body bytes kept per message */

/* The redacted bytes p[0..n) that socket s sent (out) or received, as they
 * go into the socket_call event. Caller holds the guard and s->lock. */
void nc_bytes(struct shim_thread *t, struct sock *s, int out, const void *p, size_t n);
/* Bytes of s are missing from the trace (data_dropped). Caller holds s->lock. */
void nc_gap(struct shim_thread *t, struct sock *s);
/* s's last descriptor was closed. Caller holds the guard, not s->lock. */
void nc_close(struct shim_thread *t, struct sock *s);

/* Drains the queues into out as network_call lines. Called by the recorder
 * under its write lock, from the writer thread or a flushing thread.
 * final: the process is ending: open exchanges are written as incomplete. */
void nc_drain(struct buf *out, int final);
/* The process is about to write agent_complete, which must stay its last
 * seq: the next drain writes every open exchange, incomplete. @return 1
 * when there is anything to drain (the caller flushes then). */
int nc_end(void);
/* Fork child: the parent's connections and queued bytes are the parent's. */
void nc_after_fork_child(void);
