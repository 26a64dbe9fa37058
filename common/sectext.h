/* SPDX-License-Identifier: MIT */
/* sectext.h -- a per-thread cache of one second's text (the date and time
 * of a trace timestamp, the seconds of a ts_epoch).
 *
 * Events come many to a second, and formatting the second was most of the
 * cost of a timestamp. Each user keeps one struct sec_text per thread (the
 * shim formats timestamps on the program's threads).
 *
 * A signal handler on the same thread may format a timestamp while the
 * thread is in the middle of doing so: the handler never writes the cache
 * while an update is under way (busy), and a read that a handler's update
 * overlapped is detected (gen) and counts as a miss. Only compiler fences
 * are needed: nothing here is shared between threads.
 */
#pragma once

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define SEC_TEXT_MAX 24

struct sec_text {
	uint64_t gen;
	int64_t secs;
	int busy;
	unsigned len;
	char text[SEC_TEXT_MAX];
};

/* The initial state: nothing cached (no time is INT64_MIN seconds). */
#define SEC_TEXT_INIT             \
	{                         \
		.secs = INT64_MIN \
	}

/* Copies the text cached for secs to out. @return its length, or 0 when
 * secs is not the cached second (format it, then sec_text_put). */
static inline unsigned sec_text_get(struct sec_text *c, int64_t secs, char *out)
{
	uint64_t gen = c->gen;
	unsigned n;

	atomic_signal_fence(memory_order_seq_cst);
	if (c->busy || c->secs != secs || secs == INT64_MIN)
		return 0;
	n = c->len;
	memcpy(out, c->text, n);
	atomic_signal_fence(memory_order_seq_cst);
	return c->gen == gen ? n : 0;
}

/* Caches text[0..n) as the text of secs (n <= SEC_TEXT_MAX). */
static inline void sec_text_put(struct sec_text *c, int64_t secs, const char *text, unsigned n)
{
	if (c->busy || n > SEC_TEXT_MAX)
		return; /* a handler that interrupted an update: leave it */
	c->busy = 1;
	c->gen++;
	c->secs = INT64_MIN;
	atomic_signal_fence(memory_order_seq_cst);
	memcpy(c->text, text, n);
	c->len = n;
	atomic_signal_fence(memory_order_seq_cst);
	c->secs = secs;
	c->gen++;
	atomic_signal_fence(memory_order_seq_cst);
	c->busy = 0;
}
