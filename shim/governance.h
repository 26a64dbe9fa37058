/* SPDX-License-Identifier: MIT */
/* governance.h -- what replay does when the program asks for I/O the trace does not hold.
 *
 * relaxed (the default): one warning line per distinct violation, and the
 * call goes on (served from the trace where a near match exists, else the
 * real call, which fails naturally in the offline namespace).
 * strict: one line on stderr naming the error, a governance event, the
 * process's frames flushed, and exit status 86. The names are the seeds':
 *	attrace: ReplayMismatchError: 0/0 sent "..." to 127.0.0.1:80; ...
 *	attrace: DeterminismLeakError: DNS leak: getaddrinfo("example.com")
 */
#pragma once

#include <stddef.h>

enum gov_kind {
	GOV_MISMATCH, /* ReplayMismatchError */
	GOV_LEAK, /* DeterminismLeakError */
	GOV_THREAD, /* a warning in both modes */
};

/* Reports a violation; in strict mode (except GOV_THREAD) does not return.
 * The message follows the error name; printf-style. Call with the guard
 * held. */
void gov_violation(enum gov_kind kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* @return 1 in strict mode. */
int gov_strict(void);

/* At the end of a replayed process: a governance event with its consumed
 * count (once; gov_report sums them in the root). */
void gov_at_exit(void);

/* The root's last words in replay without the CLI (ATTRACE_REPLAY_REPORT
 * shim): "attrace: replay consumed N of M events; fingerprint X (matches |
 * differs from recorded Y)" over the frames written so far (children still
 * running are not in it), once the root's own are flushed. */
void gov_report(void);

/* Quotes up to max bytes of p[0..n) for a message: printable ASCII as is,
 * the rest as \r \n \xNN; "..." when cut. out gets a NUL-terminated
 * string of at most outn bytes. */
void gov_quote(char *out, size_t outn, const void *p, size_t n, size_t max);
