/* SPDX-License-Identifier: MIT */
/* secrets.h -- the shim's use of common/redact.h: one key and name list per process.
 *
 * Every byte a program sends or receives on a TCP connection goes through a
 * per-connection, per-direction redactor before it reaches an event, so
 * API keys, Authorization headers and cookies never reach a trace
 * (libattrace(7), SECRETS). Replay redacts the program's sent bytes the
 * same way before comparing them with the recording.
 */
#pragma once

#include <stddef.h>

struct buf;
struct redactor;
struct redact_config;

/* Keeps what loading the key needs from envp. The key (ATTRACE_REDACT_KEY,
 * else the per-user key file, created on first use) and ATTRACE_REDACT's
 * names are loaded on first need, under the guard. On failure a warning and
 * a random key for this process: secrets are still redacted, but their
 * markers will not match another run's. */
void secrets_init(char *const *envp);

/* A new redactor for one direction of one connection, or NULL (OOM, or
 * before secrets_init). Free with secrets_free. */
struct redactor *secrets_new(void);
void secrets_free(struct redactor *r); /* accepts NULL */
/* The connection negotiated HTTP/2 (TLS ALPN "h2"): r reads frames
 * (redact.h, redactor_set_h2). A stream that starts with the HTTP/2
 * preface, or follows an h2c upgrade, needs no telling. */
void secrets_set_h2(struct redactor *r);
/* @return 1 when r reads HTTP/2 frames. */
int secrets_is_h2(const struct redactor *r);

/* Appends the redacted form of p[0..n) to out. A send stream keeps its
 * state between chunks (a secret split across two sends is found); with
 * `recv` set, whatever the redactor still holds back is written out at
 * once, because a replay must serve every byte the program received.
 * @return 0, or a negative errno: then out holds nothing of this chunk and
 * the bytes must not be recorded. */
int secrets_feed(struct redactor *r, int recv, const void *p, size_t n, struct buf *out);

/* The process's redaction rules and key (loaded on first need), for
 * redacting decoded HTTP (netcall.c); NULL when they cannot be had. */
const struct redact_config *secrets_config(void);

/* Writes s[0..n) as a JSON string, redacted as a stream of its own (the
 * key shapes and "Bearer <token>" of an argument such as
 * "Authorization: Bearer sk-..."). For argv in agent_start and
 * process_spawn. @return as json_strn. */
int secrets_json_strn(struct buf *b, const char *s, size_t n);
