/* SPDX-License-Identifier: MIT */
/* forward.h -- forwarders: copy every stored chunk to another system.
 *
 * Fluent Bit's output plugin shape: each forwarder is a table of callbacks.
 * forward.c runs one thread per forwarder that drains the store's durable
 * outbox (filled in the same transaction as the upload it names), calls
 * .send with a batch, deletes the batch from the outbox on success and
 * retries with exponential backoff (0.5 s doubling to 30 s) on failure.
 * Ingest never waits for a forwarder. Delivery is at least once: .send
 * must tolerate repeats (the destination deduplicates).
 */
#pragma once

#include <stdint.h>

#include "common/buf.h"

struct store;
struct store_outbox_item;

struct forwarder_ops {
	const char *name;
	/* Parses url, prepares the destination (tables). Called from the
	 * forwarder's thread, retried with backoff. @return ctx or NULL. */
	void *(*init)(const char *url, struct store *s);
	/* Sends the chunks of items[0..n). @return 0 or -errno (retry). */
	int (*send)(void *ctx, struct store *s, const struct store_outbox_item *items, int n,
		    char *err, size_t errlen);
	void (*exit)(void *ctx);
};

extern const struct forwarder_ops forward_clickhouse;

struct forwarder;

/* Starts a forwarder thread. @return NULL on OOM. */
struct forwarder *forwarder_start(const struct forwarder_ops *ops, const char *url,
				  struct store *s);
/* Stops the thread (an in-flight send finishes). Accepts NULL. */
void forwarder_stop(struct forwarder *f);
/* Appends "NAME":{"outbox_depth":..,"lag_seconds":..,"sent_chunks":..,
 * "sent_events":..,"failures":..,"last_error":..} to out. */
int forwarder_stats_json(struct forwarder *f, struct buf *out);
