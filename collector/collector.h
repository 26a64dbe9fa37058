/* SPDX-License-Identifier: MIT */
/* collector.h -- the collector's shared state: limits, store, keys, counters.
 *
 * main.c fills one struct collector from the command line; api.c serves it
 * with libmicrohttpd (one thread per connection, so a handler may block on
 * the store's group commit without stalling other clients).
 */
#pragma once

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/ingest.h"

struct store;
struct keyring;
struct forwarder;
struct MHD_Daemon;

#define COLLECTOR_RATE_WINDOW 60 /* seconds of ingest rate kept */

struct collector {
	struct store *store;
	struct keyring *keys; /* reloaded when the file changes (keys.h) */
	struct forwarder *forwarder; /* NULL without --clickhouse */
	struct ingest_limits lim;
	size_t max_request; /* bytes of one request body */
	int64_t started_ns;
	/* counters (under lock) */
	pthread_mutex_t lock;
	uint64_t uploads, rejected, events_in, bytes_in, requests;
	int64_t rate_sec[COLLECTOR_RATE_WINDOW]; /* second each slot counts */
	uint64_t rate_events[COLLECTOR_RATE_WINDOW];
};

/* Starts the HTTP server on addr (an IPv4 or IPv6 sockaddr). @return the
 * daemon or NULL (logged). */
struct MHD_Daemon *api_start(struct collector *c, const void *addr, unsigned addrlen,
			     unsigned max_connections, unsigned timeout_s);
/* Stops accepting, waits up to drain_s for open requests, stops. */
void api_stop(struct MHD_Daemon *d, unsigned drain_s);
