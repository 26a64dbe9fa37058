/* SPDX-License-Identifier: MIT */
/* forward.c -- the forwarder loop: drain the durable outbox, back off on failure. */
#include "collector/forward.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/store.h"
#include "common/json.h"
#include "common/log.h"

#define FORWARD_BATCH	  64 /* chunks per send: ~64k events of 1000-event uploads */
#define BACKOFF_MIN_MS	  500
#define BACKOFF_MAX_MS	  30000
#define FORWARD_IDLE_MS	  200 /* poll period while the outbox is empty */
#define FORWARD_LINGER_MS 1000 /* a small batch waits this long for more rows */

struct forwarder {
	const struct forwarder_ops *ops;
	char *url;
	struct store *store;
	void *ctx;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stop;
	/* stats, under lock */
	uint64_t sent_chunks, failures;
	int64_t last_ok_ns;
	char last_error[256];
};

/* Sleeps up to ms unless stopped. @return 1 when stopped. */
static int nap(struct forwarder *f, unsigned ms)
{
	struct timespec ts;
	int stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&f->lock);
	if (!f->stop)
		pthread_cond_timedwait(&f->wake, &f->lock, &ts);
	stop = f->stop;
	pthread_mutex_unlock(&f->lock);
	return stop;
}

static void failed(struct forwarder *f, const char *msg)
{
	pthread_mutex_lock(&f->lock);
	f->failures++;
	if (strcmp(f->last_error, msg) != 0)
		log_warn("forward to %s: %s (retrying with backoff)", f->ops->name, msg);
	snprintf(f->last_error, sizeof(f->last_error), "%s", msg);
	pthread_mutex_unlock(&f->lock);
}

static void *forward_main(void *arg)
{
	struct forwarder *f = arg;
	struct store_outbox_item items[FORWARD_BATCH];
	unsigned backoff = BACKOFF_MIN_MS;
	/* Sent and deleted, though the deletion may not be committed yet:
	 * the next peek starts after it. */
	int64_t sent_upto = 0;
	char err[256];
	int n, r;

	for (;;) {
		if (!f->ctx) {
			f->ctx = f->ops->init(f->url, f->store);
			if (!f->ctx) {
				failed(f, "cannot set up the destination");
				if (nap(f, backoff))
					break;
				backoff =
					backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
		}
		n = store_outbox_peek(f->store, sent_upto, items, FORWARD_BATCH);
		if (n <= 0) {
			if (nap(f, FORWARD_IDLE_MS))
				break;
			continue;
		}
		if (n < FORWARD_BATCH &&
		    store_now_ns() - items[0].enqueued_ns < (int64_t)FORWARD_LINGER_MS * 1000000) {
			/* ClickHouse is slow at small inserts: let a batch grow. */
			if (nap(f, FORWARD_LINGER_MS / 4))
				break;
			continue;
		}
		err[0] = '\0';
		r = f->ops->send(f->ctx, f->store, items, n, err, sizeof(err));
		if (r < 0) {
			failed(f, err[0] ? err : strerror(-r));
			if (nap(f, backoff))
				break;
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		backoff = BACKOFF_MIN_MS;
		sent_upto = items[n - 1].id;
		if (store_outbox_done(f->store, items[n - 1].id) < 0)
			failed(f, "cannot update the outbox");
		pthread_mutex_lock(&f->lock);
		if (f->last_error[0])
			log_warn("forward to %s: delivering again", f->ops->name);
		f->sent_chunks += (uint64_t)n;
		f->last_ok_ns = store_now_ns();
		f->last_error[0] = '\0';
		pthread_mutex_unlock(&f->lock);
	}
	return NULL;
}

struct forwarder *forwarder_start(const struct forwarder_ops *ops, const char *url, struct store *s)
{
	struct forwarder *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->ops = ops;
	f->store = s;
	f->url = strdup(url);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	if (!f->url || pthread_create(&f->thread, NULL, forward_main, f) != 0) {
		free(f->url);
		free(f);
		return NULL;
	}
	return f;
}

void forwarder_stop(struct forwarder *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = 1;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	if (f->ctx)
		f->ops->exit(f->ctx);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->wake);
	free(f->url);
	free(f);
}

int forwarder_stats_json(struct forwarder *f, struct buf *out)
{
	int64_t depth = 0, oldest = 0, now = store_now_ns();
	int r = 0;

	store_outbox_depth(f->store, &depth, &oldest);
	pthread_mutex_lock(&f->lock);
	r |= json_key(out, f->ops->name);
	r |= json_obj_open(out);
	r |= json_kv_int(out, "outbox_depth", depth);
	r |= json_key(out, "lag_seconds");
	r |= buf_printf(out, "%.3f", oldest ? (double)(now - oldest) / 1e9 : 0.0);
	r |= json_kv_int(out, "sent_chunks", (int64_t)f->sent_chunks);
	r |= json_kv_int(out, "failures", (int64_t)f->failures);
	r |= json_key(out, "last_error");
	r |= f->last_error[0] ? json_str(out, f->last_error) : json_null(out);
	r |= json_obj_close(out);
	pthread_mutex_unlock(&f->lock);
	return r ? -ENOMEM : 0;
}
