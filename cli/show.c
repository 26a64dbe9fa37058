/* SPDX-License-Identifier: MIT */
/* show.c -- attrace show: a trace as a readable timeline, or canonical JSONL. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/fingerprint.h"
#include "common/http.h"
#include "common/http_trace.h"
#include "common/json.h"
#include "common/jsonv.h"
#include "common/trace.h"

#define PREVIEW_MAX 60 /* printable characters of a byte preview */
#define ARGV_MAX    80 /* characters of a command line */

static int arg_json;
static int arg_all;
static int arg_http;

static void usage(FILE *f)
{
	fputs("Usage: attrace show [--all | --http | --json] TRACE\n"
	      "\n"
	      "Print TRACE as a readable timeline: a header (trace id, processes,\n"
	      "duration, fingerprint), then one line per event with its time from the\n"
	      "start of the trace, logical pid/tid and a summary. HTTP exchanges are\n"
	      "shown as \"http METHOD URL -> STATUS\" lines, reconstructed from the\n"
	      "connections' bytes when the trace holds no network_call events.\n"
	      "\n"
	      "Options:\n"
	      "  -a, --all     list every file open; by default, runs of opens that the\n"
	      "                fingerprint ignores (system paths, language caches) are\n"
	      "                folded into one line\n"
	      "      --http    print only the HTTP exchanges, with their headers and a\n"
	      "                preview of their bodies\n"
	      "  -j, --json    print the canonical form instead (JSON Lines, the input of\n"
	      "                the fingerprint; see attrace-trace(5))\n"
	      "  -h, --help    show this help and exit\n",
	      f);
}

/* A small set of strings, for counting distinct pids and threads. */
struct strset {
	char **s;
	size_t n;
};

static int strset_add(struct strset *set, const char *s)
{
	char **p;
	size_t i;

	for (i = 0; i < set->n; i++)
		if (strcmp(set->s[i], s) == 0)
			return 0;
	p = realloc(set->s, (set->n + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	set->s = p;
	p[set->n] = strdup(s);
	if (!p[set->n])
		return -ENOMEM;
	set->n++;
	return 1;
}

static void strset_release(struct strset *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		free(set->s[i]);
	free(set->s);
	set->s = NULL;
	set->n = 0;
}

void cli_trace_release(struct cli_trace *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; t->ev && i < t->n; i++)
		json_object_put(t->ev[i]);
	free(t->ev);
	fp_free(t->fp);
	memset(t, 0, sizeof(*t));
}

/* cli_trace_load and cli_trace_scan: keep says whether the events stay. */
static int trace_read(const char *path, struct cli_trace *t, int keep, struct at_error *reterr)
{
	struct strset pids = { 0 }, threads = { 0 };
	struct json_object *ev = NULL, **p;
	struct trace_reader *rd = NULL;
	size_t cap = 0;
	char key[128];
	int r;

	memset(t, 0, sizeof(*t));
	t->fp = fp_new();
	if (!t->fp) {
		r = -ENOMEM;
		goto out;
	}
	rd = trace_reader_open(path, reterr);
	if (!rd) {
		r = -EIO;
		goto out;
	}
	for (;;) {
		r = trace_reader_next(rd, &ev, reterr);
		if (r <= 0)
			break;
		if (keep && t->n == cap) {
			cap = cap ? 2 * cap : 1024;
			p = realloc(t->ev, cap * sizeof(*p));
			if (!p) {
				r = -ENOMEM;
				goto out;
			}
			t->ev = p;
		}
		r = fp_add(t->fp, ev);
		if (r >= 0) {
			snprintf(key, sizeof(key), "%s/%" PRId64, jv_str(ev, "pid"),
				 jv_int(ev, "tid", 0));
			r = strset_add(&pids, jv_str(ev, "pid"));
		}
		if (r >= 0)
			r = strset_add(&threads, key);
		if (keep)
			t->ev[t->n] = ev;
		else
			json_object_put(ev);
		ev = NULL;
		t->n++;
		if (r < 0)
			goto out;
	}
	if (r < 0)
		goto out;
	r = fp_final(t->fp, t->fp_hex);
	if (r < 0)
		goto out;
	t->nproc = pids.n;
	t->nthread = threads.n;
	r = 0;
out:
	if (r < 0 && reterr && !reterr->msg[0])
		snprintf(reterr->msg, sizeof(reterr->msg), "%s", strerror(-r));
	if (r < 0)
		cli_trace_release(t);
	json_object_put(ev);
	trace_reader_free(rd);
	strset_release(&pids);
	strset_release(&threads);
	return r;
}

int cli_trace_load(const char *path, struct cli_trace *t, struct at_error *reterr)
{
	return trace_read(path, t, 1, reterr);
}

int cli_trace_scan(const char *path, struct cli_trace *t, struct at_error *reterr)
{
	return trace_read(path, t, 0, reterr);
}

/* Appends a printable, escaped preview of p[0..n), at most PREVIEW_MAX
 * characters, in double quotes unless `bare` (then quotes are not escaped:
 * for text that is JSON already). */
static void preview_text(struct buf *o, const unsigned char *p, size_t n, int bare)
{
	size_t i, shown = 0;

	if (!bare)
		buf_putc(o, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];
		char esc[8];
		size_t w;

		if (c == '\n')
			memcpy(esc, "\\n", 3);
		else if (c == '\r')
			memcpy(esc, "\\r", 3);
		else if (c == '\t')
			memcpy(esc, "\\t", 3);
		else if ((c == '"' && !bare) || c == '\\')
			snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			snprintf(esc, sizeof(esc), "%c", c);
		else
			snprintf(esc, sizeof(esc), "\\x%02x", c);
		w = strlen(esc);
		if (shown + w > PREVIEW_MAX)
			break;
		buf_append(o, esc, w);
		shown += w;
	}
	if (!bare)
		buf_putc(o, '"');
	if (i < n)
		buf_puts(o, "...");
}

static void preview(struct buf *o, const unsigned char *p, size_t n)
{
	preview_text(o, p, n, 0);
}

/* " 78 B \"GET / ...\"" from payload member key or key_b64. */
static void bytes_summary(struct buf *o, struct json_object *pl, const char *key, int64_t n)
{
	struct buf raw = BUF_INIT;
	char k64[64];
	const char *s;

	s = jv_str(pl, key);
	if (n >= 0)
		buf_printf(o, " %" PRId64 " B", n);
	if (s) {
		buf_putc(o, ' ');
		preview(o, (const unsigned char *)s, strlen(s));
		return;
	}
	snprintf(k64, sizeof(k64), "%s_b64", key);
	s = jv_str(pl, k64);
	if (s && b64_decode(&raw, s, strlen(s)) == 0 && raw.len) {
		buf_putc(o, ' ');
		preview(o, (const unsigned char *)raw.data, raw.len);
	}
	buf_release(&raw);
}

/* Appends the strings of an array joined by sep, shell-ish, truncated. */
static void join_array(struct buf *o, struct json_object *arr, const char *sep, size_t max)
{
	size_t i, n, start = o->len;
	struct json_object *v;

	if (!arr || !json_object_is_type(arr, json_type_array))
		return;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(arr, i);
		if (i)
			buf_puts(o, sep);
		if (json_object_is_type(v, json_type_string))
			buf_puts(o, json_object_get_string(v));
		else if (json_object_is_type(v, json_type_object))
			buf_puts(o, jv_str(v, "addr") ? jv_str(v, "addr") : "?");
		else
			buf_puts(o, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		if (o->len - start > max) {
			o->len = start + max;
			o->data[o->len] = '\0';
			buf_puts(o, "...");
			return;
		}
	}
}

static void result_errno(struct buf *o, struct json_object *pl, const char *ok)
{
	const char *e = jv_str(pl, "errno");

	buf_printf(o, " -> %s", e ? e : ok);
}

static void sum_socket(struct buf *o, struct json_object *pl)
{
	const char *op = jv_str(pl, "op"), *peer = jv_str(pl, "peer"), *proto = jv_str(pl, "proto");
	const char *conn = jv_str(pl, "conn");
	int64_t n = jv_int(pl, "n", 0);

	if (!op)
		op = "?";
	if (strcmp(op, "connect") == 0 || strcmp(op, "connect_result") == 0) {
		buf_printf(o, "connect %s%s", peer ? peer : "?",
			   proto && strcmp(proto, "udp") == 0 ? " udp" : "");
		result_errno(o, pl, "ok");
		if (strcmp(op, "connect_result") == 0)
			buf_puts(o, " (completed)");
	} else if (strcmp(op, "accept") == 0) {
		buf_printf(o, "accept from %s", peer ? peer : "?");
		result_errno(o, pl, "ok");
	} else if (strcmp(op, "send") == 0 || strcmp(op, "recv") == 0) {
		buf_puts(o, op);
		if (jv_member(pl, "errno")) {
			result_errno(o, pl, "");
		} else if (strcmp(op, "recv") == 0 && n == 0) {
			buf_puts(o, " EOF");
		} else {
			bytes_summary(o, pl, "data", n);
		}
		if (peer && proto && strcmp(proto, "udp") == 0)
			buf_printf(o, " %s %s", strcmp(op, "send") == 0 ? "to" : "from", peer);
	} else if (strcmp(op, "shutdown") == 0) {
		buf_printf(o, "shutdown %s", jv_str(pl, "how") ? jv_str(pl, "how") : "?");
	} else {
		buf_puts(o, op);
		if (jv_member(pl, "errno"))
			result_errno(o, pl, "");
	}
	if (conn)
		buf_printf(o, "  [conn %s]", conn);
}

static void sum_dns(struct buf *o, struct json_object *pl)
{
	const char *fn = jv_str(pl, "fn"), *err;
	struct json_object *ans;

	if (!fn)
		fn = "?";
	buf_printf(o, "dns %s(", fn);
	if (strcmp(fn, "getnameinfo") == 0)
		buf_printf(o, "%s, %" PRId64, jv_str(pl, "addr") ? jv_str(pl, "addr") : "?",
			   jv_int(pl, "port", 0));
	else
		buf_printf(o, "\"%s\"", jv_str(pl, "name") ? jv_str(pl, "name") : "?");
	buf_puts(o, ") -> ");
	err = jv_str(pl, "error") ? jv_str(pl, "error") : jv_str(pl, "h_errno");
	if (err) {
		buf_puts(o, err);
		return;
	}
	if (strcmp(fn, "getnameinfo") == 0) {
		buf_puts(o, jv_str(pl, "host") ? jv_str(pl, "host") : "?");
		if (jv_str(pl, "service"))
			buf_printf(o, ", %s", jv_str(pl, "service"));
		return;
	}
	ans = jv_member(pl, "answers");
	if (!ans)
		ans = jv_member(pl, "addrs");
	if (ans && json_object_array_length(ans) == 0)
		buf_puts(o, "(no addresses)");
	else if (ans) {
		/* getaddrinfo repeats each address per socktype: print each once. */
		struct strset seen = { 0 };
		size_t i, k = 0, n = json_object_array_length(ans);

		for (i = 0; i < n; i++) {
			struct json_object *a = json_object_array_get_idx(ans, i);
			const char *s = json_object_is_type(a, json_type_string)
						? json_object_get_string(a)
						: jv_str(a, "addr");
			if (!s || strset_add(&seen, s) != 1)
				continue;
			if (k++ == 8) {
				buf_puts(o, ", ...");
				break;
			}
			buf_printf(o, "%s%s", k > 1 ? ", " : "", s);
		}
		strset_release(&seen);
	}
}

static void sum_file(struct buf *o, struct json_object *pl)
{
	const char *fn = jv_str(pl, "fn"), *flags = jv_str(pl, "flags");

	buf_printf(o, "file %s %s", fn ? fn : "open",
		   jv_str(pl, "path") ? jv_str(pl, "path") : "?");
	if (flags)
		buf_printf(o, " %s", flags);
	if (jv_str(pl, "mode"))
		buf_printf(o, " mode %s", jv_str(pl, "mode"));
	if (jv_member(pl, "errno"))
		result_errno(o, pl, "");
	else if (jv_member(pl, "fd"))
		buf_printf(o, " -> fd %" PRId64, jv_int(pl, "fd", -1));
	else
		buf_puts(o, " -> ok");
}

static void sum_spawn(struct buf *o, struct json_object *pl)
{
	const char *op = jv_str(pl, "op"), *child = jv_str(pl, "child");

	buf_printf(o, "spawn %s", op ? op : "?");
	if (child)
		buf_printf(o, " %s", child);
	if (jv_member(pl, "argv")) {
		buf_putc(o, ' ');
		join_array(o, jv_member(pl, "argv"), " ", ARGV_MAX);
	} else if (jv_str(pl, "path")) {
		buf_printf(o, " %s", jv_str(pl, "path"));
	}
	if (jv_member(pl, "errno"))
		result_errno(o, pl, "");
}

static void sum_start(struct buf *o, struct json_object *pl)
{
	const char *via = jv_str(pl, "via"), *parent = jv_str(pl, "parent");

	buf_puts(o, "start ");
	join_array(o, jv_member(pl, "argv"), " ", ARGV_MAX);
	if (via && strcmp(via, "root") != 0)
		buf_printf(o, "  (%s from %s)", via, parent ? parent : "?");
}

static void sum_complete(struct buf *o, struct json_object *pl)
{
	const char *how = jv_str(pl, "how");

	if (jv_member(pl, "signal")) {
		if (jv_str(pl, "signame"))
			buf_printf(o, "exit: killed by %s%s",
				   strncmp(jv_str(pl, "signame"), "SIG", 3) ? "SIG" : "",
				   jv_str(pl, "signame"));
		else
			buf_printf(o, "exit: killed by signal %" PRId64, jv_int(pl, "signal", 0));
		return;
	}
	buf_printf(o, "exit status %" PRId64, jv_int(pl, "status", 0));
	if (how && strcmp(how, "main") != 0)
		buf_printf(o, " (%s)", how);
}

static void sum_step(struct buf *o, const char *type, struct json_object *pl)
{
	struct json_object *res = jv_member(pl, "result");
	const char *s;

	buf_printf(o, "%s %s %s", type, jv_str(pl, "phase") ? jv_str(pl, "phase") : "?",
		   jv_str(pl, "name") ? jv_str(pl, "name") : "?");
	if (res) {
		s = json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN);
		buf_puts(o, " -> ");
		preview_text(o, (const unsigned char *)s, strlen(s), 1);
	}
}

static void sum_other(struct buf *o, const char *type, struct json_object *pl)
{
	const char *s = json_object_to_json_string_ext(pl, JSON_C_TO_STRING_PLAIN);

	buf_printf(o, "%s ", type);
	preview_text(o, (const unsigned char *)s, strlen(s), 1);
}

/* "http GET URL -> 200 (364 B)" for a network_call payload. */
static void sum_http(struct buf *o, struct json_object *pl)
{
	struct json_object *resp = jv_member(pl, "response");

	buf_printf(o, "http %s %s -> ", jv_str(pl, "method") ? jv_str(pl, "method") : "?",
		   jv_str(pl, "url") ? jv_str(pl, "url") : "?");
	if (jv_int(pl, "status", 0) > 0)
		buf_printf(o, "%" PRId64 " (%" PRId64 " B)", jv_int(pl, "status", 0),
			   jv_int(resp, "body_len", 0));
	else
		buf_puts(o, "(no response)");
	if (jv_int(pl, "sse_events", 0) > 0)
		buf_printf(o, " %" PRId64 " events", jv_int(pl, "sse_events", 0));
	if (jv_str(pl, "conn"))
		buf_printf(o, "  [conn %s]", jv_str(pl, "conn"));
}

static void summarize(struct buf *o, const char *type, struct json_object *pl)
{
	if (strcmp(type, "socket_call") == 0) {
		sum_socket(o, pl);
	} else if (strcmp(type, "dns") == 0) {
		sum_dns(o, pl);
	} else if (strcmp(type, "file_open") == 0) {
		sum_file(o, pl);
	} else if (strcmp(type, "random") == 0) {
		buf_printf(o, "random %s", jv_str(pl, "source") ? jv_str(pl, "source") : "?");
		if (jv_member(pl, "errno"))
			result_errno(o, pl, "");
		else
			buf_printf(o, " %" PRId64 " B", jv_int(pl, "n", 0));
	} else if (strcmp(type, "time") == 0) {
		buf_printf(o, "time %s x%" PRId64, jv_str(pl, "clock") ? jv_str(pl, "clock") : "?",
			   jv_int(pl, "count", 1));
	} else if (strcmp(type, "thread_start") == 0) {
		buf_printf(o, "thread start -> tid %" PRId64, jv_int(pl, "child_tid", -1));
	} else if (strcmp(type, "process_spawn") == 0) {
		sum_spawn(o, pl);
	} else if (strcmp(type, "agent_start") == 0) {
		sum_start(o, pl);
	} else if (strcmp(type, "agent_complete") == 0) {
		sum_complete(o, pl);
	} else if (strcmp(type, "network_call") == 0) {
		sum_http(o, pl);
	} else if (strcmp(type, "observation") == 0 || strcmp(type, "tool_call") == 0) {
		sum_step(o, type, pl);
	} else if (strcmp(type, "error") == 0) {
		buf_printf(o, "error %s", jv_str(pl, "what") ? jv_str(pl, "what") : "?");
		if (jv_member(pl, "dropped"))
			buf_printf(o, " (%" PRId64 " events dropped)", jv_int(pl, "dropped", 0));
	} else {
		sum_other(o, type, pl);
	}
}

/* Event time in microseconds since the epoch. */
static int64_t ev_us(struct json_object *ev)
{
	struct json_object *v = jv_member(ev, "ts_epoch");

	return v ? (int64_t)llround(json_object_get_double(v) * 1e6) : 0;
}

struct row {
	int64_t us; /* ts, then raised to keep each process in seq order */
	const char *pid;
	int64_t seq;
	size_t idx; /* in file order */
};

static int row_cmp_pid_seq(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c = trace_pid_cmp(x->pid, y->pid);

	if (c)
		return c;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* After row_cmp_pid_seq and the raise, idx is reused as the tie-breaker. */
static int row_cmp_time(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->us != y->us)
		return x->us < y->us ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Orders events for the timeline: by time across processes, by seq within a
 * process. A batched event may carry an earlier ts than the events before it
 * (a time batch is stamped with its first read), so each process's times are
 * made non-decreasing in seq order first. */
static void order_rows(struct row *rows, size_t n, struct json_object **ev)
{
	size_t i;

	for (i = 0; i < n; i++) {
		rows[i].us = ev_us(ev[i]);
		rows[i].pid = jv_str(ev[i], "pid");
		rows[i].seq = jv_int(ev[i], "seq", 0);
		rows[i].idx = i;
	}
	qsort(rows, n, sizeof(*rows), row_cmp_pid_seq);
	for (i = 1; i < n; i++)
		if (strcmp(rows[i].pid, rows[i - 1].pid) == 0 && rows[i].us < rows[i - 1].us)
			rows[i].us = rows[i - 1].us;
	/* keep the original event index reachable: stash it in seq */
	for (i = 0; i < n; i++) {
		rows[i].seq = (int64_t)rows[i].idx;
		rows[i].idx = i;
	}
	qsort(rows, n, sizeof(*rows), row_cmp_time);
	for (i = 0; i < n; i++)
		rows[i].idx = (size_t)rows[i].seq;
}

/* @return 1 for a file_open that the fingerprint leaves out (a path under a
 * system location or a language cache, attrace-trace(5)): asking the
 * fingerprint itself keeps one definition of that rule. */
static int is_quiet_open(struct json_object *ev)
{
	struct buf canon = BUF_INIT;
	const char *type = jv_str(ev, "type");
	struct fp *f;
	int quiet = 0;

	if (!type || strcmp(type, "file_open") != 0)
		return 0;
	f = fp_new();
	if (f && fp_add(f, ev) == 0 && fp_canonical(f, &canon) == 0)
		quiet = canon.len == 0;
	fp_free(f);
	buf_release(&canon);
	return quiet;
}

/* One HTTP exchange to show: a network_call payload, the event it hangs on. */
struct xitem {
	struct json_object *pl; /* owned when derived */
	size_t ev; /* index in cli_trace.ev */
	int64_t us; /* request time */
	int derived;
};

struct xlist {
	struct xitem *v;
	size_t n;
};

static void xlist_release(struct xlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].derived)
			json_object_put(l->v[i].pl);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int xlist_add(struct xlist *l, struct json_object *pl, size_t ev, int64_t us, int derived)
{
	struct xitem *v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	l->v = v;
	v[l->n++] = (struct xitem){ .pl = pl, .ev = ev, .us = us, .derived = derived };
	return 0;
}

static int add_derived(void *ud, struct http_exchange *x, size_t ev)
{
	struct buf b = BUF_INIT;
	struct json_object *pl = NULL;
	int r;

	r = http_exchange_json(x, &b);
	if (r == 0) {
		pl = json_tokener_parse(b.data);
		r = pl ? xlist_add(ud, pl, ev, x->ts_request / 1000, 1) : -ENOMEM;
		if (r < 0)
			json_object_put(pl);
	}
	buf_release(&b);
	http_exchange_free(x);
	return r;
}

static int xitem_cmp_ev(const void *a, const void *b)
{
	const struct xitem *x = a, *y = b;

	if (x->ev != y->ev)
		return x->ev < y->ev ? -1 : 1;
	return x->us < y->us ? -1 : x->us > y->us;
}

static int xitem_cmp_time(const void *a, const void *b)
{
	const struct xitem *x = a, *y = b;

	if (x->us != y->us)
		return x->us < y->us ? -1 : 1;
	return x->ev < y->ev ? -1 : x->ev > y->ev;
}

/* The trace's network_call events, or when it has none, the exchanges
 * reconstructed from its socket_call events (common/http_trace.c). */
static int collect_exchanges(const struct cli_trace *t, struct xlist *l)
{
	size_t i;
	int r;

	for (i = 0; i < t->n; i++) {
		const char *type = jv_str(t->ev[i], "type");

		if (type && strcmp(type, "network_call") == 0) {
			struct json_object *pl = jv_member(t->ev[i], "payload");
			struct json_object *v = jv_member(pl, "ts_request");
			int64_t us = v ? (int64_t)llround(json_object_get_double(v) * 1e6) : 0;

			r = xlist_add(l, pl, i, us ? us : ev_us(t->ev[i]), 0);
			if (r < 0)
				return r;
		}
	}
	if (l->n)
		return 0;
	return http_trace_derive(t->ev, t->n, NULL, add_derived, l);
}

/* Index of the first item attached to event ev (l sorted by xitem_cmp_ev). */
static size_t first_at(const struct xlist *l, size_t ev)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->v[mid].ev < ev)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Prints headers and a body preview of one side of an exchange. */
static void print_http_side(struct json_object *m, const char *mark)
{
	struct json_object *h = jv_member(m, "headers");
	struct buf o = BUF_INIT;
	size_t i,
		n = h && json_object_is_type(h, json_type_array) ? json_object_array_length(h) : 0;

	for (i = 0; i < n; i++) {
		struct json_object *kv = json_object_array_get_idx(h, i);

		printf("    %s %s: %s\n", mark,
		       json_object_get_string(json_object_array_get_idx(kv, 0)),
		       json_object_get_string(json_object_array_get_idx(kv, 1)));
	}
	if (jv_int(m, "body_len", 0) > 0) {
		buf_printf(&o, "    %s (body", mark);
		bytes_summary(&o, m, "body", jv_int(m, "body_len", 0));
		if (jv_member(m, "body_truncated") &&
		    json_object_get_boolean(jv_member(m, "body_truncated")))
			buf_puts(&o, ", truncated in the trace");
		buf_putc(&o, ')');
		printf("%s\n", o.data);
	}
	buf_release(&o);
}

/* attrace show --http: the exchanges only, with headers. */
static int print_http(const struct cli_trace *t)
{
	struct xlist l = { 0 };
	struct buf line = BUF_INIT;
	int64_t t0 = INT64_MAX;
	size_t i;
	int r;

	r = collect_exchanges(t, &l);
	if (r < 0)
		goto out;
	for (i = 0; i < t->n; i++)
		if (ev_us(t->ev[i]) < t0)
			t0 = ev_us(t->ev[i]);
	qsort(l.v, l.n, sizeof(*l.v), xitem_cmp_time);
	printf("%zu HTTP exchange%s\n", l.n, l.n == 1 ? "" : "s");
	for (i = 0; i < l.n; i++) {
		struct json_object *pl = l.v[i].pl, *ev = t->ev[l.v[i].ev];
		struct json_object *te = jv_member(pl, "ts_end"), *tr = jv_member(pl, "ts_request");
		char who[64];

		buf_reset(&line);
		buf_printf(&line, "%s %s -> ", jv_str(pl, "method") ? jv_str(pl, "method") : "?",
			   jv_str(pl, "url") ? jv_str(pl, "url") : "?");
		if (jv_int(pl, "status", 0) > 0)
			buf_printf(&line, "%" PRId64 "%s%s (%" PRId64 " B)",
				   jv_int(pl, "status", 0),
				   jv_str(pl, "reason") && *jv_str(pl, "reason") ? " " : "",
				   jv_str(pl, "reason") ? jv_str(pl, "reason") : "",
				   jv_int(jv_member(pl, "response"), "body_len", 0));
		else
			buf_puts(&line, "(no response)");
		buf_printf(&line, "  [%s", jv_str(pl, "version") ? jv_str(pl, "version") : "?");
		if (jv_str(pl, "conn"))
			buf_printf(&line, ", conn %s", jv_str(pl, "conn"));
		if (te && tr && json_object_get_double(te) >= json_object_get_double(tr))
			buf_printf(&line, ", %.3f ms",
				   (json_object_get_double(te) - json_object_get_double(tr)) * 1e3);
		if (jv_int(pl, "sse_events", 0) > 0)
			buf_printf(&line, ", %" PRId64 " events", jv_int(pl, "sse_events", 0));
		buf_putc(&line, ']');
		snprintf(who, sizeof(who), "%s/%" PRId64, jv_str(ev, "pid"), jv_int(ev, "tid", 0));
		printf("%11.6f  %-9s %s\n", (double)(l.v[i].us - t0) / 1e6, who, line.data);
		print_http_side(jv_member(pl, "request"), ">");
		print_http_side(jv_member(pl, "response"), "<");
	}
out:
	buf_release(&line);
	xlist_release(&l);
	return r;
}

static int print_timeline(const struct cli_trace *t)
{
	struct json_object *root = NULL, *ev;
	struct buf line = BUF_INIT;
	struct xlist http = { 0 };
	struct row *rows;
	const char *s, *step;
	int64_t t0;
	size_t i, j, k, quiet;
	char who[64];
	int r;

	rows = calloc(t->n, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	/* derived exchanges print under the event that completed them */
	r = collect_exchanges(t, &http);
	if (r < 0) {
		free(rows);
		xlist_release(&http);
		return r;
	}
	qsort(http.v, http.n, sizeof(*http.v), xitem_cmp_ev);
	for (i = 0; i < t->n; i++) {
		s = jv_str(t->ev[i], "type");
		if (!root && s && strcmp(s, "agent_start") == 0 &&
		    strcmp(jv_str(t->ev[i], "pid"), "0") == 0)
			root = jv_member(t->ev[i], "payload");
	}
	order_rows(rows, t->n, t->ev);
	t0 = rows[0].us;

	printf("trace       %s\n",
	       jv_str(root, "trace_id") ? jv_str(root, "trace_id") : "(no root agent_start)");
	if (jv_str(root, "name"))
		printf("name        %s\n", jv_str(root, "name"));
	printf("processes   %zu, threads %zu, events %zu\n", t->nproc, t->nthread, t->n);
	printf("duration    %.3f s\n", (double)(rows[t->n - 1].us - t0) / 1e6);
	printf("fingerprint %.16s\n\n", t->fp_hex);
	printf("%11s  %-9s %s\n", "TIME (s)", "PID/TID", "EVENT");

	for (i = 0; i < t->n; i += quiet ? quiet : 1) {
		ev = t->ev[rows[i].idx];
		buf_reset(&line);
		quiet = 0;
		for (j = i; !arg_all && j < t->n && is_quiet_open(t->ev[rows[j].idx]); j++) {
			struct json_object *e = t->ev[rows[j].idx];

			if (strcmp(jv_str(e, "pid"), jv_str(ev, "pid")) != 0 ||
			    jv_int(e, "tid", 0) != jv_int(ev, "tid", 0))
				break;
			quiet++;
		}
		s = jv_str(ev, "type");
		if (quiet > 1)
			buf_printf(&line,
				   "file: %zu opens under system or cache paths (--all lists them)",
				   quiet);
		else
			summarize(&line, s ? s : "?", jv_member(ev, "payload"));
		step = jv_str(ev, "step");
		if (step && strcmp(step, "root") != 0)
			buf_printf(&line, "  {step %s}", step);
		snprintf(who, sizeof(who), "%s/%" PRId64, jv_str(ev, "pid"), jv_int(ev, "tid", 0));
		printf("%11.6f  %-9s %s\n", (double)(rows[i].us - t0) / 1e6, who,
		       line.data ? line.data : "");
		for (k = first_at(&http, rows[i].idx); k < http.n && http.v[k].ev == rows[i].idx;
		     k++) {
			if (!http.v[k].derived)
				continue;
			buf_reset(&line);
			sum_http(&line, http.v[k].pl);
			printf("%11.6f  %-9s %s\n", (double)(rows[i].us - t0) / 1e6, who,
			       line.data);
		}
	}
	buf_release(&line);
	xlist_release(&http);
	free(rows);
	return 0;
}

int verb_show(int argc, char **argv)
{
	static const struct option options[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "http", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct at_error err = { 0 };
	struct buf out = BUF_INIT;
	struct cli_trace t = { 0 };
	int c, r, ret = CLI_EXIT_FAILURE;

	while ((c = getopt_long(argc, argv, "ajh", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			arg_all = 1;
			break;
		case 'j':
			arg_json = 1;
			break;
		case 'H':
			arg_http = 1;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			return cli_usage_error("show");
		}
	}
	if (argc - optind != 1) {
		fputs(argc - optind < 1 ? "attrace: show: no trace given\n"
					: "attrace: show: one trace at a time\n",
		      stderr);
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	r = cli_trace_load(argv[optind], &t, &err);
	if (r < 0) {
		cli_trace_error(argv[optind], r, &err);
		goto out;
	}
	if (arg_json) {
		r = fp_canonical(t.fp, &out);
		if (r < 0) {
			cli_error("%s: %s", argv[optind], strerror(-r));
			goto out;
		}
		fwrite(out.data, 1, out.len, stdout);
	} else if (arg_http) {
		r = print_http(&t);
		if (r < 0) {
			cli_error("%s: %s", argv[optind], strerror(-r));
			goto out;
		}
	} else {
		r = print_timeline(&t);
		if (r < 0) {
			cli_error("%s: %s", argv[optind], strerror(-r));
			goto out;
		}
	}
	if (fflush(stdout) != 0)
		goto out;
	ret = EXIT_SUCCESS;
out:
	buf_release(&out);
	cli_trace_release(&t);
	return ret;
}
