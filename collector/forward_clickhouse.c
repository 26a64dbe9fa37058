/* SPDX-License-Identifier: MIT */
/* forward_clickhouse.c -- forward traces and events to ClickHouse's HTTP interface (libcurl).
 *
 * Tables (created if missing, in the URL's ?database=, default "attrace"):
 * DDL kept to what ClickHouse 18.16 (Debian 12) understands: no per-column
 * codecs, TTL, skip indexes, DateTime64 or LowCardinality. Both tables are
 * ReplacingMergeTree, so a chunk sent twice (a retry after a timeout whose
 * insert did land) collapses to one row per key on merge; read with FINAL
 * for exact counts. Events are ordered by (trace_id, pid, seq): "all events
 * of one trace" is one range scan. Traces are ordered by (name, start,
 * trace_id) for "traces by name and time"; the newest version of a row
 * (a later upload of the same trace) wins.
 * Inserts are TabSeparated (about twice JSONEachRow's rate on 18.16).
 */
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/forward.h"
#include "collector/ingest.h"
#include "collector/store.h"
#include "common/log.h"
#include "common/zframe.h"

#define CH_TIMEOUT_S 30

struct ch {
	char *base; /* scheme://[user:pass@]host:port/ */
	char db[128];
	CURL *curl;
};

/* Each DDL statement is "<head> <db>.<table> <tail>". */
static const struct {
	const char *head, *table, *tail;
} ddl[] = {
	{ "CREATE DATABASE IF NOT EXISTS", "", "" },
	{ "CREATE TABLE IF NOT EXISTS", ".events",
	  "(trace_id String, pid String, tid UInt32, seq UInt64, type String, ts DateTime, "
	  "ts_epoch Float64, step String, payload String) ENGINE = ReplacingMergeTree() "
	  "PARTITION BY toYYYYMM(ts) ORDER BY (trace_id, pid, seq)" },
	{ "CREATE TABLE IF NOT EXISTS", ".traces",
	  "(trace_id String, name String, fingerprint String, status String, start DateTime, "
	  "start_epoch Float64, duration_ms UInt64, processes UInt32, events UInt64, bytes UInt64, "
	  "version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY (name, start, trace_id)" },
};

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
	struct buf *b = ud;

	/* Keep the start of an error answer; drop the rest. */
	if (b->len < 512)
		buf_append(b, p, sz * n < 512 - b->len ? sz * n : 512 - b->len);
	return sz * n;
}

/* POSTs body to ?query=QUERY. @return 0 or -EIO with err. */
static int post(struct ch *c, const char *query, const struct buf *body, char *err, size_t errlen)
{
	struct buf url = BUF_INIT, answer = BUF_INIT;
	char *q = curl_easy_escape(c->curl, query, 0);
	long code = 0;
	CURLcode cc;
	int r = -EIO;

	if (!q || buf_printf(&url, "%s?query=%s", c->base, q) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url.data);
	curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body->data : "");
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body->len : 0));
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, (long)CH_TIMEOUT_S);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &answer);
	cc = curl_easy_perform(c->curl);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		snprintf(err, errlen, "HTTP %ld: %.200s", code, answer.data ? answer.data : "");
		err[strcspn(err, "\n")] = '\0';
		goto out;
	}
	r = 0;
out:
	curl_free(q);
	buf_release(&url);
	buf_release(&answer);
	return r;
}

static void ch_exit(void *ctx)
{
	struct ch *c = ctx;

	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->base);
	free(c);
}

static void *ch_init(const char *url, struct store *s)
{
	struct ch *c = calloc(1, sizeof(*c));
	const char *qm = strchr(url, '?'), *db;
	char sql[1024], err[256];
	size_t i, n;

	(void)s;
	if (!c)
		return NULL;
	snprintf(c->db, sizeof(c->db), "attrace");
	n = qm ? (size_t)(qm - url) : strlen(url);
	c->base = strndup(url, n);
	db = qm ? strstr(qm, "database=") : NULL;
	if (db) {
		db += 9;
		n = strcspn(db, "&");
		if (n == 0 || n >= sizeof(c->db))
			goto fail;
		memcpy(c->db, db, n);
		c->db[n] = '\0';
		/* The name goes into SQL: identifiers only. */
		for (i = 0; i < n; i++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_",
				    c->db[i]))
				goto fail;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c->curl = curl_easy_init();
	if (!c->base || !c->curl)
		goto fail;
	for (i = 0; i < sizeof(ddl) / sizeof(ddl[0]); i++) {
		snprintf(sql, sizeof(sql), "%s %s%s %s", ddl[i].head, c->db, ddl[i].table,
			 ddl[i].tail);
		if (post(c, sql, NULL, err, sizeof(err)) < 0) {
			log_warn("clickhouse: cannot create tables: %s", err);
			goto fail;
		}
	}
	return c;
fail:
	ch_exit(c);
	return NULL;
}

static int tsv(struct buf *out, const char *v)
{
	int r = 0;

	for (; v && *v && r == 0; v++) {
		if (*v == '\t')
			r = buf_puts(out, "\\t");
		else if (*v == '\n')
			r = buf_puts(out, "\\n");
		else if (*v == '\\')
			r = buf_puts(out, "\\\\");
		else
			r = buf_putc(out, *v);
	}
	return r;
}

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v;
}

/* Appends one TSV row per event of the chunk's frames. */
static int chunk_rows(const char *trace_id, const struct buf *frames, struct buf *out)
{
	struct zframe_dec dec;
	struct buf fr = BUF_INIT;
	char msg[200];
	int r, k;

	r = zframe_dec_init(&dec, frames->data, frames->len, 0);
	if (r < 0)
		return r;
	while (r == 0 && (k = zframe_dec_next(&dec, &fr, NULL)) > 0) {
		size_t pos = 0;

		while (r == 0 && pos < fr.len) {
			char *s = fr.data + pos, *nl = memchr(s, '\n', fr.len - pos);
			size_t n = nl ? (size_t)(nl - s) : fr.len - pos;
			struct json_object *ev;
			double t;

			pos += n + 1;
			if (n == 0)
				continue;
			if (nl)
				*nl = '\0';
			ev = ingest_parse_line(s, n, msg, sizeof(msg));
			if (!ev)
				continue;
			t = json_object_get_double(get(ev, "ts_epoch"));
			r |= tsv(out, trace_id);
			r |= buf_putc(out, '\t');
			r |= tsv(out, json_object_get_string(get(ev, "pid")));
			r |= buf_printf(out, "\t%d\t%lld\t", json_object_get_int(get(ev, "tid")),
					(long long)json_object_get_int64(get(ev, "seq")));
			r |= tsv(out, json_object_get_string(get(ev, "type")));
			r |= buf_printf(out, "\t%lld\t%.6f\t", (long long)t, t);
			r |= tsv(out, json_object_get_string(get(ev, "step")));
			r |= buf_putc(out, '\t');
			r |= tsv(out, json_object_to_json_string_ext(get(ev, "payload"),
								     JSON_C_TO_STRING_PLAIN));
			r |= buf_putc(out, '\n');
			json_object_put(ev);
		}
		if (k < 0)
			break;
	}
	zframe_dec_release(&dec);
	buf_release(&fr);
	return r ? -ENOMEM : 0;
}

static int ch_send(void *ctx, struct store *s, const struct store_outbox_item *items, int n,
		   char *err, size_t errlen)
{
	struct ch *c = ctx;
	struct buf rows = BUF_INIT, traces = BUF_INIT, frames = BUF_INIT;
	struct at_error aerr = { 0 };
	char sql[256];
	int i, j, r = 0;

	for (i = 0; i < n && r == 0; i++) {
		buf_reset(&frames);
		r = store_chunk_frames(s, items[i].chunk, &frames, &aerr);
		if (r == -ENOENT || r == -EIO) {
			/* Gone or failing its check: never forward what we
			 * would not serve. */
			log_error("clickhouse: chunk %lld of '%s' skipped: %s",
				  (long long)items[i].chunk, items[i].trace_id, aerr.msg);
			r = 0;
			continue;
		}
		if (r == 0)
			r = chunk_rows(items[i].trace_id, &frames, &rows);
		for (j = 0; j < i; j++)
			if (strcmp(items[j].trace_id, items[i].trace_id) == 0)
				break;
		if (r == 0 && j == i) {
			r = store_trace_tsv(s, items[i].trace_id, &traces);
			if (r == -ENOENT)
				r = 0;
		}
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read the store: %s", strerror(-r));
		goto out;
	}
	/* Events first: a trace row visible in ClickHouse has its events. */
	if (rows.len) {
		snprintf(sql, sizeof(sql), "INSERT INTO %s.events FORMAT TabSeparated", c->db);
		r = post(c, sql, &rows, err, errlen);
	}
	if (r == 0 && traces.len) {
		snprintf(sql, sizeof(sql), "INSERT INTO %s.traces FORMAT TabSeparated", c->db);
		r = post(c, sql, &traces, err, errlen);
	}
out:
	buf_release(&rows);
	buf_release(&traces);
	buf_release(&frames);
	return r;
}

const struct forwarder_ops forward_clickhouse = {
	.name = "clickhouse",
	.init = ch_init,
	.send = ch_send,
	.exit = ch_exit,
};
