/* SPDX-License-Identifier: MIT */
/* api.c -- the HTTP API of attrace-collector(8): routes, auth, limits, answers.
 *
 * libmicrohttpd with one thread per connection: an upload's handler blocks
 * until the store's group commit made it durable, and other connections go
 * on meanwhile. Every request is answered with JSON (events: JSON Lines or
 * zstd) and logged in one line at info level.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "collector/collector.h"
#include "collector/forward.h"
#include "collector/keys.h"
#include "collector/store.h"
#include "common/json.h"
#include "common/log.h"
#include "common/zframe.h"

#define API_PREFIX	   "/api/v1/"
#define LIST_LIMIT_DEFAULT 100
#define LIST_LIMIT_MAX	   1000
#define DRAIN_MAX	   (16u << 20) /* body bytes past --max-request read before a 413 */

struct request {
	int64_t start_ns;
	struct buf body;
	int too_big; /* the body passed max_request: answer 413 at the end */
	int answered;
};

struct answer {
	unsigned status;
	struct buf body;
	const char *type;
	const char *encoding; /* Content-Encoding, or NULL */
	char note[96]; /* extra words for the log line */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set_error(struct answer *a, unsigned status, const char *code,
		      const struct at_error *err, const char *msg)
{
	a->status = status;
	a->type = "application/json";
	buf_reset(&a->body);
	json_obj_open(&a->body);
	json_kv_str(&a->body, "error", msg ? msg : err->msg);
	json_kv_str(&a->body, "code", code);
	if (err && err->line > 0)
		json_kv_int(&a->body, "line", err->line);
	if (err && err->frame > 0)
		json_kv_int(&a->body, "frame", err->frame);
	json_obj_close(&a->body);
	buf_putc(&a->body, '\n');
	snprintf(a->note, sizeof(a->note), "%s", code);
}

static void set_json_done(struct answer *a, unsigned status)
{
	a->status = status;
	a->type = "application/json";
	buf_putc(&a->body, '\n');
}

static const char *client_ip(struct MHD_Connection *conn, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, n, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)n);
	return out;
}

static enum MHD_Result send_answer(struct MHD_Connection *conn, const char *method, const char *url,
				   struct request *rq, struct answer *a)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char ip[INET6_ADDRSTRLEN];

	resp = MHD_create_response_from_buffer(a->body.len, a->body.data, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", a->type);
	if (a->encoding)
		MHD_add_response_header(resp, "Content-Encoding", a->encoding);
	if (a->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
	ret = MHD_queue_response(conn, a->status, resp);
	MHD_destroy_response(resp);
	rq->answered = 1;
	log_info("%s %s %u %zu %.1fms %s%s%s", method, url, a->status, a->body.len,
		 (double)(now_ns() - rq->start_ns) / 1e6, client_ip(conn, ip, sizeof(ip)),
		 a->note[0] ? " " : "", a->note);
	return ret;
}

/* ---- auth ------------------------------------------------------------------ */

static int authorize(struct collector *c, struct MHD_Connection *conn, enum keys_scope scope,
		     struct answer *a)
{
	char name[80];
	int r;

	keyring_refresh(c->keys, 0);
	r = keyring_check(c->keys,
			  MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
			  scope, name, sizeof(name));
	if (r == 1)
		return 0;
	if (r == -EACCES) {
		set_error(a, MHD_HTTP_UNAUTHORIZED, "unauthorized", NULL,
			  "missing or unknown API key (send 'Authorization: Bearer KEY')");
		return r;
	}
	if (r == -EPERM) {
		set_error(a, MHD_HTTP_FORBIDDEN, "forbidden", NULL,
			  scope == KEYS_INGEST ? "this key may not upload (scope 'ingest' needed)"
					       : "this key may not read (scope 'read' needed)");
		return r;
	}
	snprintf(a->note, sizeof(a->note), "key=%s", name);
	return 0;
}

/* ---- POST /api/v1/traces --------------------------------------------------- */

static void count_upload(struct collector *c, int ok, uint64_t events, size_t bytes)
{
	int64_t sec = now_ns() / 1000000000;
	int slot = (int)(sec % COLLECTOR_RATE_WINDOW);

	pthread_mutex_lock(&c->lock);
	if (!ok) {
		c->rejected++;
	} else {
		c->uploads++;
		c->events_in += events;
		c->bytes_in += bytes;
		if (c->rate_sec[slot] != sec) {
			c->rate_sec[slot] = sec;
			c->rate_events[slot] = 0;
		}
		c->rate_events[slot] += events;
	}
	pthread_mutex_unlock(&c->lock);
}

static void ingest_error(struct answer *a, int r, const struct at_error *err)
{
	switch (r) {
	case -EBADMSG:
		set_error(a, MHD_HTTP_BAD_REQUEST,
			  strstr(err->msg, "invalid JSON") ? "invalid_json" : "not_zstd", err,
			  NULL);
		break;
	case -EPIPE:
		set_error(a, MHD_HTTP_BAD_REQUEST, "truncated", err, NULL);
		break;
	case -EIO:
		set_error(a, MHD_HTTP_BAD_REQUEST, "corrupt", err, NULL);
		break;
	case -EFBIG:
		set_error(a, MHD_HTTP_CONTENT_TOO_LARGE, "decompressed_too_large", err, NULL);
		break;
	case -E2BIG:
		set_error(a, MHD_HTTP_CONTENT_TOO_LARGE, "line_too_long", err, NULL);
		break;
	case -EINVAL:
		set_error(a, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_event", err, NULL);
		break;
	case -ENODATA:
		set_error(a, MHD_HTTP_UNPROCESSABLE_CONTENT, "no_events", err,
			  err->msg[0] ? NULL : "no events");
		break;
	case -ENOMEM:
		set_error(a, MHD_HTTP_SERVICE_UNAVAILABLE, "out_of_memory", NULL, "out of memory");
		break;
	default:
		set_error(a, MHD_HTTP_BAD_REQUEST, "bad_input", err,
			  err->msg[0] ? NULL : strerror(-r));
	}
}

static void post_traces(struct collector *c, struct MHD_Connection *conn, struct request *rq,
			struct answer *a)
{
	const char *enc = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Encoding");
	struct at_error err = { 0 };
	struct ingest_batch b;
	struct store_answer ans;
	int zstd = -1, r;

	if (enc && strcasecmp(enc, "zstd") == 0) {
		zstd = 1;
	} else if (enc && *enc && strcasecmp(enc, "identity") != 0) {
		set_error(a, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding", NULL,
			  "Content-Encoding must be zstd or absent");
		goto rejected;
	}
	if (rq->body.len == 0) {
		set_error(a, MHD_HTTP_BAD_REQUEST, "empty_body", NULL,
			  "empty body: send a trace (zstd JSON Lines, or plain JSON Lines)");
		goto rejected;
	}
	r = ingest_parse(rq->body.data, rq->body.len, zstd, &c->lim, &b, &err);
	if (r < 0) {
		ingest_error(a, r, &err);
		goto rejected;
	}
	r = store_ingest(c->store, &b, &ans, &err);
	if (r < 0) {
		set_error(a, r == -ENOSPC ? 507 : MHD_HTTP_INTERNAL_SERVER_ERROR, "store_failed",
			  &err, err.msg[0] ? NULL : strerror(-r));
		ingest_batch_release(&b);
		goto rejected;
	}
	count_upload(c, 1, ans.new_events, rq->body.len);
	json_obj_open(&a->body);
	json_kv_str(&a->body, "trace_id", ans.trace_id);
	json_kv_str(&a->body, "fingerprint", ans.fingerprint);
	json_kv_int(&a->body, "events", (int64_t)ans.events);
	json_kv_int(&a->body, "processes", (int64_t)ans.processes);
	json_kv_int(&a->body, "new_events", (int64_t)ans.new_events);
	json_obj_close(&a->body);
	/* 201 when this upload stored something (a new trace or more of one),
	 * 200 for a repeat. */
	set_json_done(a, ans.new_events ? MHD_HTTP_CREATED : MHD_HTTP_OK);
	snprintf(a->note + strlen(a->note), sizeof(a->note) - strlen(a->note),
		 "%strace=%.16s events=+%llu", a->note[0] ? " " : "", ans.trace_id,
		 (unsigned long long)ans.new_events);
	ingest_batch_release(&b);
	return;
rejected:
	count_upload(c, 0, 0, 0);
}

/* ---- GET ------------------------------------------------------------------- */

static int id_ok(const char *id)
{
	size_t n = strlen(id);

	return n > 0 && n <= 64 && strspn(id, "0123456789abcdefABCDEF-") == n;
}

/* Epoch seconds (maybe fractional) or ISO 8601 UTC "YYYY-MM-DDTHH:MM:SS[.f]Z". */
static int parse_time(const char *s, int64_t *ret_ns)
{
	struct tm tm = { 0 };
	char *end;
	double d;

	if (!s || !*s)
		return -EINVAL;
	d = strtod(s, &end);
	if (*end == '\0' && d >= 0) {
		*ret_ns = (int64_t)(d * 1e9);
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -EINVAL;
	d = 0;
	if (*end == '.') {
		char *e2;

		d = strtod(end, &e2);
		end = e2;
	}
	if (strcmp(end, "Z") != 0 && *end != '\0')
		return -EINVAL;
	*ret_ns = (int64_t)timegm(&tm) * 1000000000 + (int64_t)(d * 1e9);
	return 0;
}

static void get_list(struct collector *c, struct MHD_Connection *conn, struct answer *a)
{
	struct store_query q = { .limit = LIST_LIMIT_DEFAULT };
	const char *v;
	char *end;
	int r;

	q.name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "name");
	q.status = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "status");
	if (q.status && strcmp(q.status, "ok") && strcmp(q.status, "failed") &&
	    strcmp(q.status, "killed") && strcmp(q.status, "running")) {
		set_error(a, MHD_HTTP_BAD_REQUEST, "bad_parameter", NULL,
			  "status: expected ok, failed, killed or running");
		return;
	}
	q.fingerprint = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "fingerprint");
	if (q.fingerprint && (!*q.fingerprint || strlen(q.fingerprint) > 64 ||
			      strspn(q.fingerprint, "0123456789abcdef") != strlen(q.fingerprint))) {
		set_error(a, MHD_HTTP_BAD_REQUEST, "bad_parameter", NULL,
			  "fingerprint: expected 1 to 64 lowercase hex digits (a prefix)");
		return;
	}
	v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	if (v && parse_time(v, &q.since_ns) < 0) {
		set_error(a, MHD_HTTP_BAD_REQUEST, "bad_parameter", NULL,
			  "since: expected epoch seconds or YYYY-MM-DDTHH:MM:SSZ");
		return;
	}
	v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "until");
	if (v && parse_time(v, &q.until_ns) < 0) {
		set_error(a, MHD_HTTP_BAD_REQUEST, "bad_parameter", NULL,
			  "until: expected epoch seconds or YYYY-MM-DDTHH:MM:SSZ");
		return;
	}
	v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
	if (v) {
		long l = strtol(v, &end, 10);

		if (*end || end == v || l < 1 || l > LIST_LIMIT_MAX) {
			set_error(a, MHD_HTTP_BAD_REQUEST, "bad_parameter", NULL,
				  "limit: expected 1 to 1000");
			return;
		}
		q.limit = (unsigned)l;
	}
	v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "cursor");
	if (v) {
		long long l = strtoll(v, &end, 10);

		if (*end || end == v || l < 1) {
			set_error(a, MHD_HTTP_BAD_REQUEST, "bad_parameter", NULL,
				  "cursor: use the next_cursor of the previous page");
			return;
		}
		q.cursor = l;
	}
	r = store_list(c->store, &q, &a->body);
	if (r < 0) {
		set_error(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "store_failed", NULL, strerror(-r));
		return;
	}
	set_json_done(a, MHD_HTTP_OK);
}

static void get_trace(struct collector *c, const char *id, struct answer *a)
{
	int r = store_trace_json(c->store, id, &a->body);

	if (r == -ENOENT)
		set_error(a, MHD_HTTP_NOT_FOUND, "not_found", NULL, "no trace with this id");
	else if (r < 0)
		set_error(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "store_failed", NULL, strerror(-r));
	else
		set_json_done(a, MHD_HTTP_OK);
}

/* @return 1 when Accept-Encoding lists zstd without q=0. */
static int accepts_zstd(struct MHD_Connection *conn)
{
	const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding");
	const char *p = ae;

	while (p && (p = strcasestr(p, "zstd"))) {
		const char *q = p + 4;

		if ((p == ae || p[-1] == ' ' || p[-1] == ',') &&
		    (*q == '\0' || *q == ',' || *q == ' ' || *q == ';')) {
			q += strspn(q, " ");
			if (*q == ';' && strstr(q, "q=0") && !strstr(q, "q=0."))
				return 0;
			return 1;
		}
		p = q;
	}
	return 0;
}

static void get_events(struct collector *c, struct MHD_Connection *conn, const char *id,
		       struct answer *a)
{
	struct at_error err = { 0 };
	struct buf frames = BUF_INIT, fr = BUF_INIT;
	struct zframe_dec dec;
	int r;

	r = store_trace_frames(c->store, id, &frames, &err);
	if (r == -ENOENT) {
		set_error(a, MHD_HTTP_NOT_FOUND, "not_found", NULL, "no trace with this id");
		goto out;
	}
	if (r < 0) {
		log_error("trace '%s': %s", id, err.msg);
		set_error(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "store_failed", &err,
			  err.msg[0] ? NULL : strerror(-r));
		goto out;
	}
	a->status = MHD_HTTP_OK;
	a->type = "application/x-ndjson";
	if (accepts_zstd(conn)) {
		a->encoding = "zstd";
		buf_release(&a->body);
		a->body = frames;
		frames = (struct buf)BUF_INIT;
		goto out;
	}
	r = zframe_dec_init(&dec, frames.data, frames.len, 0);
	while (r == 0 && (r = zframe_dec_next(&dec, &fr, &err)) > 0) {
		r = buf_append(&a->body, fr.data, fr.len);
		if (r == 0 && buf_last(&a->body) != '\n')
			r = buf_putc(&a->body, '\n');
	}
	if (r == 0)
		zframe_dec_release(&dec);
	if (r < 0) {
		set_error(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "store_failed", &err, NULL);
		goto out;
	}
out:
	buf_release(&frames);
	buf_release(&fr);
}

static void get_stats(struct collector *c, struct answer *a)
{
	int64_t now = now_ns(), sec = now / 1000000000;
	uint64_t window = 0;
	int i, r;

	json_obj_open(&a->body);
	r = store_stats_json(c->store, &a->body);
	if (r < 0) {
		set_error(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "store_failed", NULL, strerror(-r));
		return;
	}
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < COLLECTOR_RATE_WINDOW; i++)
		if (c->rate_sec[i] > sec - COLLECTOR_RATE_WINDOW && c->rate_sec[i] <= sec)
			window += c->rate_events[i];
	json_key(&a->body, "ingest");
	json_obj_open(&a->body);
	json_kv_int(&a->body, "uploads", (int64_t)c->uploads);
	json_kv_int(&a->body, "rejected", (int64_t)c->rejected);
	json_kv_int(&a->body, "events", (int64_t)c->events_in);
	json_kv_int(&a->body, "bytes", (int64_t)c->bytes_in);
	json_key(&a->body, "events_per_second");
	buf_printf(&a->body, "%.1f", (double)window / COLLECTOR_RATE_WINDOW);
	json_kv_int(&a->body, "window_seconds", COLLECTOR_RATE_WINDOW);
	json_obj_close(&a->body);
	pthread_mutex_unlock(&c->lock);
	json_kv_int(&a->body, "uptime_seconds", (now - c->started_ns) / 1000000000);
	json_key(&a->body, "forward");
	json_obj_open(&a->body);
	if (c->forwarder)
		forwarder_stats_json(c->forwarder, &a->body);
	json_obj_close(&a->body);
	json_obj_close(&a->body);
	set_json_done(a, MHD_HTTP_OK);
}

static void get_correlation(struct collector *c, const char *id, struct answer *a)
{
	int r = store_correlation_json(c->store, id, &a->body);

	if (r < 0)
		set_error(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "store_failed", NULL, strerror(-r));
	else
		set_json_done(a, MHD_HTTP_OK);
}

/* ---- routing --------------------------------------------------------------- */

static void route(struct collector *c, struct MHD_Connection *conn, const char *method,
		  const char *url, struct request *rq, struct answer *a)
{
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	int post = strcmp(method, "POST") == 0;
	const char *rest;
	char id[80];
	size_t n;

	if (strncmp(url, API_PREFIX, sizeof(API_PREFIX) - 1) != 0) {
		set_error(a, MHD_HTTP_NOT_FOUND, "not_found", NULL,
			  "no such endpoint (try /api/v1/health)");
		return;
	}
	rest = url + sizeof(API_PREFIX) - 1;
	if (strcmp(rest, "health") == 0) {
		if (!get)
			goto bad_method;
		json_obj_open(&a->body);
		json_kv_str(&a->body, "status", "ok");
		json_kv_str(&a->body, "version", ATTRACE_VERSION);
		json_obj_close(&a->body);
		set_json_done(a, MHD_HTTP_OK);
		return;
	}
	if (strcmp(rest, "traces") == 0) {
		if (post) {
			if (authorize(c, conn, KEYS_INGEST, a) == 0)
				post_traces(c, conn, rq, a);
			return;
		}
		if (!get)
			goto bad_method;
		if (authorize(c, conn, KEYS_READ, a) == 0)
			get_list(c, conn, a);
		return;
	}
	if (strcmp(rest, "stats") == 0) {
		if (!get)
			goto bad_method;
		if (authorize(c, conn, KEYS_READ, a) == 0)
			get_stats(c, a);
		return;
	}
	if (strncmp(rest, "traces/", 7) == 0) {
		const char *slash;

		rest += 7;
		slash = strchr(rest, '/');
		n = slash ? (size_t)(slash - rest) : strlen(rest);
		if (n >= sizeof(id) || (slash && strcmp(slash, "/events") != 0))
			goto not_found;
		memcpy(id, rest, n);
		id[n] = '\0';
		if (!get)
			goto bad_method;
		if (!id_ok(id)) {
			set_error(a, MHD_HTTP_BAD_REQUEST, "bad_trace_id", NULL,
				  "a trace id is 1 to 64 hex digits");
			return;
		}
		if (authorize(c, conn, KEYS_READ, a) < 0)
			return;
		if (slash)
			get_events(c, conn, id, a);
		else
			get_trace(c, id, a);
		return;
	}
	if (strncmp(rest, "correlations/", 13) == 0) {
		rest += 13;
		n = strlen(rest);
		if (!get)
			goto bad_method;
		if (n == 0 || n > 128 || strchr(rest, '/')) {
			set_error(a, MHD_HTTP_BAD_REQUEST, "bad_correlation_id", NULL,
				  "a correlation id is 1 to 128 characters without '/'");
			return;
		}
		if (authorize(c, conn, KEYS_READ, a) == 0)
			get_correlation(c, rest, a);
		return;
	}
not_found:
	set_error(a, MHD_HTTP_NOT_FOUND, "not_found", NULL, "no such endpoint");
	return;
bad_method:
	set_error(a, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL,
		  "method not allowed on this endpoint");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	struct collector *c = cls;
	struct request *rq = *con_cls;
	struct answer a = { .type = "application/json" };
	enum MHD_Result ret;

	if (!rq) {
		const char *cl;

		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		rq->start_ns = now_ns();
		buf_init(&rq->body, c->max_request);
		*con_cls = rq;
		pthread_mutex_lock(&c->lock);
		c->requests++;
		pthread_mutex_unlock(&c->lock);
		if (strcmp(method, "POST") != 0)
			goto answer;
		/* Refuse early what would be refused anyway, before reading a
		 * byte of the body: unauthorised uploads and oversize ones. */
		if (strcmp(url, API_PREFIX "traces") == 0 &&
		    authorize(c, conn, KEYS_INGEST, &a) < 0)
			goto send;
		a.note[0] = '\0';
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > c->max_request) {
			rq->too_big = 1;
			buf_release(&rq->body);
			/* A body up to DRAIN_MAX past the limit is read and
			 * dropped before the 413: answering and closing while
			 * the client still sends makes its kernel see a reset,
			 * and the client reports that instead of our answer.
			 * A bigger one is answered at once. */
			if (strtoull(cl, NULL, 10) - c->max_request > DRAIN_MAX)
				goto answer;
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!rq->too_big && buf_append(&rq->body, upload_data, *upload_data_size) < 0) {
			rq->too_big = 1;
			buf_release(&rq->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
answer:
	if (rq->too_big) {
		char msg[128];

		snprintf(msg, sizeof(msg), "request body over the limit of %zu bytes",
			 c->max_request);
		set_error(&a, MHD_HTTP_CONTENT_TOO_LARGE, "request_too_large", NULL, msg);
		count_upload(c, 0, 0, 0);
	} else {
		route(c, conn, method, url, rq, &a);
	}
send:
	ret = send_answer(conn, method, url, rq, &a);
	buf_release(&a.body);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;

	if (!rq)
		return;
	buf_release(&rq->body);
	free(rq);
	*con_cls = NULL;
}

/* libmicrohttpd's message and its arguments: a format that is not ours. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("libmicrohttpd: %s", line);
}

struct MHD_Daemon *api_start(struct collector *c, const void *addr, unsigned addrlen,
			     unsigned max_connections, unsigned timeout_s)
{
	const struct sockaddr *sa = addr;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;

	(void)addrlen;
	if (sa->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	return MHD_start_daemon(flags, 0, NULL, NULL, handler, c, MHD_OPTION_SOCK_ADDR, addr,
				MHD_OPTION_CONNECTION_LIMIT, max_connections,
				MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
				MHD_OPTION_NOTIFY_COMPLETED, completed, c,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
}

void api_stop(struct MHD_Daemon *d, unsigned drain_s)
{
	int64_t deadline = now_ns() + (int64_t)drain_s * 1000000000;
	const union MHD_DaemonInfo *info;
	MHD_socket lfd;

	if (!d)
		return;
	/* Stop accepting; let requests in flight finish (their uploads are
	 * committed by the store before they are answered). */
	lfd = MHD_quiesce_daemon(d);
	/* Ours now: closed, so new clients are refused at once instead of
	 * waiting in the backlog until we exit. */
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	while (now_ns() < deadline) {
		info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (!info || info->num_connections == 0)
			break;
		usleep(20000);
	}
	MHD_stop_daemon(d);
}
