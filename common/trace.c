/* SPDX-License-Identifier: MIT */
/* trace.c -- the attrace/1 event model: event envelopes, timestamps, the trace reader. */
#include "common/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hot.h"
#include "common/jscan.h"
#include "common/json.h"
#include "common/sectext.h"
#include "common/zframe.h"

/* Events nest payload -> answers -> object; tool_call results are any JSON. */
#define TRACE_JSON_DEPTH 64

const char *const trace_types[] = {
	"agent_start", "agent_complete", "socket_call", "network_call", "dns",
	"time",	       "random",	 "file_open",	"thread_start", "process_spawn",
	"observation", "tool_call",	 "error",	"governance",	NULL,
};

int trace_type_known(const char *type)
{
	size_t i;

	if (!type)
		return 0;
	for (i = 0; trace_types[i]; i++)
		if (strcmp(type, trace_types[i]) == 0)
			return 1;
	return 0;
}

static void put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

/* secs since the epoch as YYYY-MM-DDTHH:MM:SS (19 bytes, no NUL). */
static void fmt_second(int64_t secs, char *out)
{
	int64_t days = secs / 86400 - (secs % 86400 < 0);
	int64_t sod = secs - days * 86400;
	/* civil_from_days (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms") */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	int64_t y = yoe + era * 400 + (m <= 2);
	unsigned uy = (unsigned)(y < 0 ? 0 : y > 9999 ? 9999 : y);

	/* YYYY-MM-DDTHH:MM:SS.uuuuuuZ */
	put2(out, uy / 100);
	put2(out + 2, uy % 100);
	out[4] = '-';
	put2(out + 5, m);
	out[7] = '-';
	put2(out + 8, d);
	out[10] = 'T';
	put2(out + 11, (unsigned)(sod / 3600));
	out[13] = ':';
	put2(out + 14, (unsigned)(sod / 60 % 60));
	out[16] = ':';
	put2(out + 17, (unsigned)(sod % 60));
}

/* initial-exec: no __tls_get_addr call (the shim is preloaded; the CLI and
 * the collector link this statically). */
static __thread struct sec_text ts_last __attribute__((tls_model("initial-exec"))) = SEC_TEXT_INIT;

AT_HOT void trace_fmt_ts(int64_t ns, char out[TRACE_TS_LEN])
{
	/* Floor divisions, so that times before 1970 come out right too. */
	int64_t us = ns / 1000 - (ns % 1000 < 0);
	int64_t secs = us / 1000000 - (us % 1000000 < 0);
	int64_t usec = us - secs * 1000000;
	int i;

	if (sec_text_get(&ts_last, secs, out) != 19) {
		fmt_second(secs, out);
		sec_text_put(&ts_last, secs, out, 19);
	}
	out[19] = '.';
	for (i = 25; i >= 20; i--) {
		out[i] = (char)('0' + usec % 10);
		usec /= 10;
	}
	out[26] = 'Z';
	out[27] = '\0';
}

/* Printable ASCII without '"' or '\\': JSON text as it is. */
static int plain(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			return 0;
	}
	return 1;
}

static char *put_dec(char *o, uint64_t v)
{
	char t[20];
	int n = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*o++ = t[--n];
	return o;
}

#define PUT_LIT(o, s) (memcpy((o), (s), sizeof(s) - 1), (o) + sizeof(s) - 1)

/* Every event starts here, on the program's thread: with plain strings
 * (the usual case) the envelope is written in one reservation, without the
 * per-member calls of the general path below; the bytes are the same. */
static int head_plain(struct buf *b, const struct trace_head *h, const char *step, size_t np,
		      size_t nt, size_t ns)
{
	char c = buf_last(b);
	char *o;
	int r;

	/* the fixed text (82 bytes), seq and tid (31), the timestamp (27) */
	r = buf_reserve(b, 1 + 82 + 31 + 27 + np + nt + ns);
	if (r < 0)
		return r;
	o = b->data + b->len;
	if (b->len && c != '{' && c != '[' && c != ':' && c != '\n' && c != ',')
		*o++ = ',';
	o = PUT_LIT(o, "{\"seq\":");
	o = put_dec(o, h->seq);
	o = PUT_LIT(o, ",\"pid\":\"");
	memcpy(o, h->pid, np);
	o += np;
	o = PUT_LIT(o, "\",\"tid\":");
	if (h->tid < 0)
		*o++ = '-';
	o = put_dec(o, h->tid < 0 ? (uint64_t)0 - (uint64_t)(int64_t)h->tid : (uint64_t)h->tid);
	o = PUT_LIT(o, ",\"type\":\"");
	memcpy(o, h->type, nt);
	o += nt;
	o = PUT_LIT(o, "\",\"ts\":\"");
	trace_fmt_ts(h->ts_ns, o); /* writes 28 bytes: 27 and a NUL */
	o += 27;
	o = PUT_LIT(o, "\",\"ts_epoch\":");
	b->len = (size_t)(o - b->data);
	r = json_epoch(b, h->ts_ns);
	if (r < 0)
		return r;
	r = buf_reserve(b, 24 + ns);
	if (r < 0)
		return r;
	o = b->data + b->len;
	o = PUT_LIT(o, ",\"step\":\"");
	memcpy(o, step, ns);
	o += ns;
	o = PUT_LIT(o, "\",\"payload\":{");
	*o = '\0';
	b->len = (size_t)(o - b->data);
	return 0;
}

AT_HOT int trace_ev_head(struct buf *b, const struct trace_head *h)
{
	char ts[TRACE_TS_LEN];
	const char *step = h->step ? h->step : "root";
	size_t start = b->len, np = strlen(h->pid), nt = strlen(h->type), ns = strlen(step);
	int r;

	if (plain(h->pid, np) && plain(h->type, nt) && plain(step, ns)) {
		r = head_plain(b, h, step, np, nt, ns);
		goto out;
	}
	trace_fmt_ts(h->ts_ns, ts);
	r = json_obj_open(b);
	if (r >= 0)
		r = json_key(b, "seq");
	if (r >= 0)
		r = json_uint(b, h->seq);
	if (r >= 0)
		r = json_kv_str(b, "pid", h->pid);
	if (r >= 0)
		r = json_kv_int(b, "tid", h->tid);
	if (r >= 0)
		r = json_kv_str(b, "type", h->type);
	if (r >= 0)
		r = json_key(b, "ts");
	if (r >= 0)
		r = json_strn(b, ts, 27);
	if (r >= 0)
		r = json_key(b, "ts_epoch");
	if (r >= 0)
		r = json_epoch(b, h->ts_ns);
	if (r >= 0)
		r = json_kv_str(b, "step", step);
	if (r >= 0)
		r = json_key(b, "payload");
	if (r >= 0)
		r = json_obj_open(b);
out:
	if (r < 0 && b->data) {
		/* Never leave half an envelope behind. */
		b->len = start;
		b->data[start] = '\0';
	}
	return r;
}

AT_HOT int trace_ev_tail(struct buf *b)
{
	return buf_append(b, "}}\n", 3);
}

int trace_pid_valid(const char *s)
{
	size_t comp = 0;

	if (s[0] != '0')
		return 0;
	s++;
	while (*s) {
		if (*s != '.' || s[1] < '1' || s[1] > '9')
			return 0;
		s += 2;
		while (*s >= '0' && *s <= '9')
			s++;
		if (++comp > 64)
			return 0;
	}
	return 1;
}

static void set_msg(char *msg, size_t msglen, const char *what, const char *field)
{
	size_t n = 0;

	if (!msg || !msglen)
		return;
	/* "<what> \"<field>\"" without stdio's %s formatting on a hot path */
	while (*what && n + 1 < msglen)
		msg[n++] = *what++;
	if (field) {
		const char *q = " \"";

		while (*q && n + 1 < msglen)
			msg[n++] = *q++;
		while (*field && n + 1 < msglen)
			msg[n++] = *field++;
		if (n + 1 < msglen)
			msg[n++] = '"';
	}
	msg[n] = '\0';
}

int trace_validate(struct json_object *ev, char *msg, size_t msglen)
{
	static const struct {
		const char *key;
		enum json_type type;
	} fields[] = {
		{ "seq", json_type_int },     { "pid", json_type_string },
		{ "tid", json_type_int },     { "type", json_type_string },
		{ "ts", json_type_string },   { "ts_epoch", json_type_double },
		{ "step", json_type_string }, { "payload", json_type_object },
	};
	struct json_object *v;
	size_t i;

	if (!json_object_is_type(ev, json_type_object)) {
		set_msg(msg, msglen, "not a JSON object", NULL);
		return -EINVAL;
	}
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		enum json_type t;

		if (!json_object_object_get_ex(ev, fields[i].key, &v)) {
			set_msg(msg, msglen, "missing", fields[i].key);
			return -EINVAL;
		}
		t = json_object_get_type(v);
		/* ts_epoch is any number ("1795321020" parses as an int) */
		if (t != fields[i].type &&
		    !(fields[i].type == json_type_double && t == json_type_int)) {
			set_msg(msg, msglen, "wrong type for", fields[i].key);
			return -EINVAL;
		}
	}
	json_object_object_get_ex(ev, "seq", &v);
	if (json_object_get_int64(v) < 0) {
		set_msg(msg, msglen, "negative", "seq");
		return -EINVAL;
	}
	json_object_object_get_ex(ev, "tid", &v);
	if (json_object_get_int64(v) < 0 || json_object_get_int64(v) > INT_MAX) {
		set_msg(msg, msglen, "out of range:", "tid");
		return -EINVAL;
	}
	json_object_object_get_ex(ev, "pid", &v);
	if (!trace_pid_valid(json_object_get_string(v))) {
		set_msg(msg, msglen, "malformed logical pid in", "pid");
		return -EINVAL;
	}
	return 0;
}

int trace_pid_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		size_t la, lb;
		int c;

		if (!*a)
			return -1; /* a prefix comes first: "0" < "0.1" */
		if (!*b)
			return 1;
		while (*a == '0' && a[1] >= '0' && a[1] <= '9')
			a++;
		while (*b == '0' && b[1] >= '0' && b[1] <= '9')
			b++;
		for (la = 0; a[la] && a[la] != '.'; la++)
			;
		for (lb = 0; b[lb] && b[lb] != '.'; lb++)
			;
		/* Without leading zeros, a longer number is a larger one. */
		if (la != lb)
			return la < lb ? -1 : 1;
		c = memcmp(a, b, la);
		if (c)
			return c < 0 ? -1 : 1;
		a += la;
		b += lb;
		if (*a == '.')
			a++;
		if (*b == '.')
			b++;
	}
	return 0;
}

struct trace_reader {
	unsigned char *owned; /* file contents for trace_reader_open() */
	size_t len;
	struct zframe_dec dec;
	struct buf frame; /* the current frame, decompressed */
	size_t pos; /* next line in frame */
	long line; /* lines read in the current frame */
	int frame_no; /* data frames seen */
	unsigned long events;
	struct json_tokener *tok;
	int err; /* sticky error for failures that end the walk */
	struct at_error saved;
	char skip[48]; /* "type":"T" of lines to pass over unparsed, or "" */
	int skip_checked; /* skipped lines are still validated, and counted */
	size_t skiplen;
	char pid[64]; /* only_pid: the pid kept, or "" */
	char keep[48]; /* only_pid: "type":"T" kept of every pid, or "" */
	size_t keeplen;
	char *last; /* the line trace_reader_next_line() returned last, or NULL */
	size_t last_n, last_off;
};

int trace_reader_skip_type(struct trace_reader *r, const char *type)
{
	int n = snprintf(r->skip, sizeof(r->skip), "\"type\":\"%s\"", type);

	r->skip_checked = 0;
	if (n < 0 || (size_t)n >= sizeof(r->skip)) {
		r->skip[0] = '\0';
		r->skiplen = 0;
		return -EINVAL;
	}
	r->skiplen = (size_t)n;
	return 0;
}

int trace_reader_skip_type_checked(struct trace_reader *r, const char *type)
{
	int e = trace_reader_skip_type(r, type);

	r->skip_checked = e == 0;
	return e;
}

int trace_reader_only_pid(struct trace_reader *r, const char *pid, const char *keep)
{
	int n = 0;

	r->pid[0] = r->keep[0] = '\0';
	r->keeplen = 0;
	if (keep)
		n = snprintf(r->keep, sizeof(r->keep), "\"type\":\"%s\"", keep);
	if (n < 0 || (size_t)n >= sizeof(r->keep) || strlen(pid) >= sizeof(r->pid)) {
		r->keep[0] = '\0';
		return -EINVAL;
	}
	r->keeplen = (size_t)n;
	memcpy(r->pid, pid, strlen(pid) + 1);
	return 0;
}

/* 1 when the head h[0..n) (the members before "payload") names a pid other
 * than r->pid as a plain string of digits and dots (one with escapes is
 * parsed, and compared there). */
static int other_pid(const struct trace_reader *r, const char *h, size_t n)
{
	const char *p = memmem(h, n, "\"pid\":\"", 7), *e;
	size_t len = strlen(r->pid);

	if (!p)
		return 0;
	p += 7;
	for (e = p; e < h + n && ((*e >= '0' && *e <= '9') || *e == '.'); e++)
		;
	if (e >= h + n || *e != '"')
		return 0;
	return (size_t)(e - p) != len || memcmp(p, r->pid, len) != 0;
}

/* 1 when line s[0..n) is an event of the skipped type, 2 when one of
 * another pid (trace_reader_only_pid): its top-level "type" or "pid" member, which
 * comes before "payload" (the only member that holds objects, so a nested
 * one cannot precede it) says so. */
static int skipped(const struct trace_reader *r, const char *s, size_t n)
{
	const char *pl;
	size_t h;

	if ((!r->skiplen && !r->pid[0]) || !s)
		return 0;
	pl = memmem(s, n, "\"payload\":", 10);
	h = pl ? (size_t)(pl - s) : n;
	if (r->skiplen && memmem(s, h, r->skip, r->skiplen))
		return 1;
	if (!r->pid[0] || !other_pid(r, s, h))
		return 0;
	return !r->keeplen || !memmem(s, h, r->keep, r->keeplen) ? 2 : 0;
}

struct trace_reader *trace_reader_mem(const void *data, size_t len, struct at_error *reterr)
{
	struct trace_reader *r;

	r = calloc(1, sizeof(*r));
	if (!r)
		goto oom;
	r->len = len;
	buf_init(&r->frame, 0);
	r->tok = json_tokener_new_ex(TRACE_JSON_DEPTH);
	if (!r->tok)
		goto oom;
	json_tokener_set_flags(r->tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
					       JSON_TOKENER_VALIDATE_UTF8);
	if (zframe_dec_init(&r->dec, data, len, 0) < 0)
		goto oom;
	return r;
oom:
	trace_reader_free(r);
	at_error_set(reterr, 0, 0, 0, "out of memory");
	return NULL;
}

struct trace_reader *trace_reader_open(const char *path, struct at_error *reterr)
{
	struct trace_reader *r;
	struct buf data = BUF_INIT;
	struct stat st;
	size_t len;
	char *p;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		at_error_set(reterr, 0, 0, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	/* The size is a hint: a recorder may still be appending frames. */
	e = fstat(fd, &st) < 0
		    ? -errno
		    : buf_read_fd(&data, fd,
				  S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size : 0);
	close(fd);
	if (e < 0) {
		buf_release(&data);
		at_error_set(reterr, 0, 0, 0, "cannot read: %s", strerror(-e));
		return NULL;
	}
	len = data.len;
	p = buf_steal(&data);
	if (!p) {
		at_error_set(reterr, 0, 0, 0, "cannot read: %s", strerror(ENOMEM));
		return NULL;
	}
	r = trace_reader_mem(p, len, reterr);
	if (!r) {
		free(p);
		return NULL;
	}
	r->owned = (unsigned char *)p;
	return r;
}

void trace_reader_free(struct trace_reader *r)
{
	if (!r)
		return;
	zframe_dec_release(&r->dec);
	buf_release(&r->frame);
	if (r->tok)
		json_tokener_free(r->tok);
	free(r->owned);
	free(r);
}

static int fail_sticky(struct trace_reader *r, int err, struct at_error *reterr)
{
	r->err = err;
	if (reterr)
		*reterr = r->saved;
	return err;
}

/* Parses one line; @return 1 with *ret_ev, or a negative errno with reterr. */
static int parse_line(struct trace_reader *r, char *s, size_t n, size_t off,
		      struct json_object **ret_ev, struct at_error *reterr)
{
	struct json_object *ev;
	enum json_tokener_error jerr;
	char msg[200];
	size_t end;

	/* Parse with a terminating NUL (over the '\n', or the buffer's own NUL),
	 * so the tokener knows the input ends there. */
	s[n] = '\0';
	json_tokener_reset(r->tok);
	ev = json_tokener_parse_ex(r->tok, s, (int)n + 1);
	jerr = json_tokener_get_error(r->tok);
	if (!ev || jerr != json_tokener_success) {
		const char *why = jerr == json_tokener_continue ? "unexpected end of data"
								: json_tokener_error_desc(jerr);

		if (ev)
			json_object_put(ev);
		at_error_set(reterr, r->frame_no, r->line, off,
			     "frame %d, line %ld: invalid JSON: %s", r->frame_no, r->line, why);
		return -EBADMSG;
	}
	for (end = json_tokener_get_parse_end(r->tok); end < n && s[end]; end++) {
		if (s[end] != ' ' && s[end] != '\t' && s[end] != '\r') {
			json_object_put(ev);
			at_error_set(
				reterr, r->frame_no, r->line, off,
				"frame %d, line %ld: invalid JSON: trailing data after the value",
				r->frame_no, r->line);
			return -EBADMSG;
		}
	}
	if (trace_validate(ev, msg, sizeof(msg)) < 0) {
		json_object_put(ev);
		at_error_set(reterr, r->frame_no, r->line, off,
			     "frame %d, line %ld: not an attrace/1 event: %s", r->frame_no, r->line,
			     msg);
		return -EINVAL;
	}
	*ret_ev = ev;
	return 1;
}

/* The next line that is not skipped: *ret_s[0..*ret_n), NUL-terminated
 * there (over its '\n'), at *ret_off in its frame. @return 1, 0 at the end,
 * or a negative errno with reterr. */
/* 1 when line s[0..n) is an event of type `type` that trace_reader_next()
 * would accept, told by a hand-written scan; 0 when json-c must decide. */
static int line_checked(const char *s, size_t n, const char *type, size_t type_len);

static int next_line(struct trace_reader *r, char **ret_s, size_t *ret_n, size_t *ret_off,
		     struct at_error *reterr)
{
	for (;;) {
		char *s, *nl;
		size_t n, frame_off;
		int k;

		if (r->err)
			return fail_sticky(r, r->err, reterr);
		if (r->pos >= r->frame.len) {
			k = zframe_dec_next(&r->dec, &r->frame, &r->saved);
			if (k < 0)
				return fail_sticky(r, k, reterr);
			if (k == 0) {
				if (r->events)
					return 0;
				at_error_set(&r->saved, 0, 0, 0,
					     r->len == 0 ? "empty trace" : "no events");
				return fail_sticky(r, -ENODATA, reterr);
			}
			r->frame_no = r->dec.frame;
			r->pos = 0;
			r->line = 0;
			continue;
		}
		s = r->frame.data + r->pos;
		nl = memchr(s, '\n', r->frame.len - r->pos);
		/* A frame's last line may lack its newline: accept it. */
		n = nl ? (size_t)(nl - s) : r->frame.len - r->pos;
		frame_off = r->pos;
		r->pos += n + (nl ? 1 : 0);
		r->line++;
		if (n == 0 || (n == 1 && s[0] == '\r'))
			continue; /* blank lines carry nothing */
		if (n > TRACE_MAX_LINE) {
			at_error_set(reterr, r->frame_no, r->line, frame_off,
				     "frame %d, line %ld: line longer than %u bytes", r->frame_no,
				     r->line, TRACE_MAX_LINE);
			return -E2BIG;
		}
		k = skipped(r, s, n);
		if (k == 1 && r->skip_checked) {
			/* "type":"T" is r->skip; what the scan refuses goes to
			 * the caller's json-c parse, as without skipping */
			if (line_checked(s, n, r->skip + 8, r->skiplen - 9)) {
				r->events++;
				continue;
			}
			k = 0;
		}
		if (k) {
			r->events += k == 2; /* another pid's event: still one */
			continue;
		}
		/* The tokener is told the input ends there (parse_line). */
		s[n] = '\0';
		*ret_s = s;
		*ret_n = n;
		*ret_off = frame_off;
		return 1;
	}
}

int trace_reader_next(struct trace_reader *r, struct json_object **ret_ev, struct at_error *reterr)
{
	char *s;
	size_t n, off;
	int k = next_line(r, &s, &n, &off, reterr);

	if (k <= 0)
		return k;
	k = parse_line(r, s, n, off, ret_ev, reterr);
	if (k > 0)
		r->events++;
	return k;
}

int trace_reader_next_line(struct trace_reader *r, char **ret_s, size_t *ret_n,
			   struct at_error *reterr)
{
	size_t off;
	int k = next_line(r, ret_s, ret_n, &off, reterr);

	if (k <= 0)
		return k;
	r->last = *ret_s;
	r->last_n = *ret_n;
	r->last_off = off;
	r->events++;
	return 1;
}

int trace_reader_parse_line(struct trace_reader *r, struct json_object **ret_ev,
			    struct at_error *reterr)
{
	if (!r->last) {
		at_error_set(reterr, r->frame_no, r->line, 0, "no line to parse");
		return -EINVAL;
	}
	return parse_line(r, r->last, r->last_n, r->last_off, ret_ev, reterr);
}

long trace_time_values(struct json_object *payload, int64_t **ret_v)
{
	struct json_object *o;
	struct buf deltas;
	int64_t *v = NULL, count, cur;
	const unsigned char *p, *end;
	long r = -EINVAL, i;

	buf_init(&deltas, TRACE_MAX_LINE);
	if (!json_object_object_get_ex(payload, "count", &o) ||
	    !json_object_is_type(o, json_type_int))
		goto out;
	count = json_object_get_int64(o);
	if (count < 1 || count > (int64_t)TRACE_MAX_LINE)
		goto out;
	if (!json_object_object_get_ex(payload, "first_ns", &o) ||
	    !json_object_is_type(o, json_type_int))
		goto out;
	cur = json_object_get_int64(o);
	if (json_object_object_get_ex(payload, "deltas_b64", &o)) {
		if (!json_object_is_type(o, json_type_string) ||
		    b64_decode(&deltas, json_object_get_string(o),
			       (size_t)json_object_get_string_len(o)) < 0)
			goto out;
	}
	v = malloc((size_t)count * sizeof(*v));
	if (!v) {
		r = -ENOMEM;
		goto out;
	}
	v[0] = cur;
	p = (const unsigned char *)deltas.data;
	end = p + deltas.len;
	for (i = 1; i < count; i++) {
		uint64_t z = 0;
		unsigned shift = 0;

		/* unsigned LEB128 of the zigzag-encoded difference */
		for (;;) {
			if (p == end || shift > 63)
				goto out;
			z |= (uint64_t)(*p & 0x7f) << shift;
			shift += 7;
			if (!(*p++ & 0x80))
				break;
		}
		cur += (int64_t)((z >> 1) ^ -(z & 1));
		v[i] = cur;
	}
	if (p != end)
		goto out;
	*ret_v = v;
	v = NULL;
	r = (long)count;
out:
	free(v);
	buf_release(&deltas);
	return r;
}

int trace_payload_bytes(struct json_object *payload, struct buf *out)
{
	struct json_object *o;

	if (json_object_object_get_ex(payload, "data", &o) &&
	    json_object_is_type(o, json_type_string))
		return buf_append(out, json_object_get_string(o),
				  (size_t)json_object_get_string_len(o));
	if (json_object_object_get_ex(payload, "data_b64", &o) &&
	    json_object_is_type(o, json_type_string))
		return b64_decode(out, json_object_get_string(o),
				  (size_t)json_object_get_string_len(o)) < 0
			       ? -EINVAL
			       : 0;
	return 0;
}

/* ---- TCP send and recv lines without json-c ---- */

#define KEY_IS(lit) (n == sizeof(lit) - 1 && memcmp(k, lit, n) == 0)

int trace_envelope_key(const char *k, size_t n)
{
	switch (k[0]) {
	case 's':
		return KEY_IS("seq") ? TK_SEQ : KEY_IS("step") ? TK_STEP : TK_OTHER;
	case 'p':
		return KEY_IS("pid") ? TK_PID : KEY_IS("payload") ? TK_PAYLOAD : TK_OTHER;
	case 't':
		return KEY_IS("tid")	    ? TK_TID
		       : KEY_IS("type")	    ? TK_TYPE
		       : KEY_IS("ts")	    ? TK_TS
		       : KEY_IS("ts_epoch") ? TK_EPOCH
					    : TK_OTHER;
	default:
		return TK_OTHER;
	}
}

enum { P_OP, P_CONN, P_PROTO, P_N, P_ERRNO, P_PEER, P_PEEK, P_TLS_OPAQUE, P_DATA, P_B64, P_OTHER };

static int payload_key(const char *k, size_t n)
{
	if (KEY_IS("op"))
		return P_OP;
	if (KEY_IS("conn"))
		return P_CONN;
	if (KEY_IS("proto"))
		return P_PROTO;
	if (KEY_IS("n"))
		return P_N;
	if (KEY_IS("errno"))
		return P_ERRNO;
	if (KEY_IS("peer"))
		return P_PEER;
	if (KEY_IS("peek"))
		return P_PEEK;
	if (KEY_IS("tls_opaque"))
		return P_TLS_OPAQUE;
	if (KEY_IS("data"))
		return P_DATA;
	if (KEY_IS("data_b64"))
		return P_B64;
	return P_OTHER;
#undef KEY_IS
}

/* The payload object at p ('{'). @return its end, or NULL (json-c decides). */
static const char *sock_payload(const char *p, const char *end, struct trace_sock_line *l,
				int *nonascii)
{
	unsigned seen = 0;
	int esc;

	p = jscan_ws(p + 1, end);
	if (p < end && *p == '}')
		return NULL; /* no op: not a send or recv */
	for (;;) {
		const char *k, *v;
		int which, is_int;

		if (p >= end || *p != '"')
			return NULL;
		k = p + 1;
		esc = 0;
		p = jscan_str(k, end, &esc, nonascii);
		if (!p || esc || p == k)
			return NULL;
		which = payload_key(k, (size_t)(p - k));
		if (which != P_OTHER && (seen & (1u << which)))
			return NULL; /* json-c keeps the last: leave it to json-c */
		seen |= which != P_OTHER ? 1u << which : 0;
		p = jscan_ws(p + 1, end);
		if (p >= end || *p != ':')
			return NULL;
		v = p = jscan_ws(p + 1, end);
		if (p >= end)
			return NULL;
		switch (which) {
		case P_N:
			p = jscan_num(v, end, &is_int);
			if (!p || !is_int)
				return NULL;
			l->n = jscan_int(v, p);
			break;
		case P_OP:
		case P_CONN:
		case P_PROTO:
		case P_ERRNO:
		case P_DATA:
		case P_B64:
			if (*v != '"')
				return NULL;
			esc = 0;
			p = jscan_str(v + 1, end, &esc, nonascii);
			if (!p || (esc && which != P_DATA))
				return NULL;
			if (which == P_OP) {
				if (p - v - 1 == 4 && !memcmp(v + 1, "send", 4))
					l->op = "send";
				else if (p - v - 1 == 4 && !memcmp(v + 1, "recv", 4))
					l->op = "recv";
				else
					return NULL;
			} else if (which == P_PROTO) {
				if (p - v - 1 != 3 || memcmp(v + 1, "tcp", 3) != 0)
					return NULL;
			} else if (which == P_CONN) {
				l->conn = v + 1;
				l->conn_len = (size_t)(p - v - 1);
			} else if (which == P_ERRNO) {
				l->err = v + 1;
				l->err_len = (size_t)(p - v - 1);
			} else if (which == P_DATA) {
				l->data = v + 1;
				l->data_len = (size_t)(p - v - 1);
				l->data_esc = esc;
			} else {
				l->b64 = v + 1;
				l->b64_len = (size_t)(p - v - 1);
			}
			p++;
			break;
		case P_PEER:
			return NULL; /* UDP, or a connect: kept as JSON */
		case P_PEEK:
			l->peek = 1; /* present, whatever its value (as replay reads it) */
			p = jscan_value(v, end, 2, nonascii);
			break;
		case P_TLS_OPAQUE:
			l->tls_opaque = 1;
			p = jscan_value(v, end, 2, nonascii);
			break;
		default:
			p = jscan_value(v, end, 2, nonascii);
			break;
		}
		if (!p)
			return NULL;
		p = jscan_ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == '}')
			break;
		if (*p != ',')
			return NULL;
		p = jscan_ws(p + 1, end);
	}
	if (!l->op || !l->conn || !(seen & (1u << P_PROTO)))
		return NULL;
	return p + 1;
}

/* The envelope of line s[0..n) (as trace_validate() checks it) into l, for
 * an event of type `type` (no escapes). sock: a TCP send or recv, its
 * payload read into l too; else any payload object, only checked.
 * @return 1, or 0 when json-c must decide. */
static int scan_event(const char *s, size_t n, struct trace_sock_line *l, int sock,
		      const char *type, size_t type_len)
{
	const char *p = s, *end = s + n, *k, *v;
	unsigned seen = 0;
	int nonascii = 0;

	if (n < 2 || *p != '{')
		return 0;
	p = jscan_ws(p + 1, end);
	for (;;) {
		int esc = 0, is_int, which;
		size_t klen;
		size_t len;

		v = p = jscan_key(p, end, &k, &klen, &nonascii);
		if (!p || p >= end)
			return 0;
		which = trace_envelope_key(k, klen);
		if (which != TK_OTHER && (seen & (1u << which)))
			return 0;
		switch (which) {
		case TK_SEQ:
		case TK_TID:
			p = jscan_num(v, end, &is_int);
			if (!p || !is_int || *v == '-')
				return 0;
			if (which == TK_SEQ)
				l->seq = (uint64_t)jscan_int(v, p);
			else if (jscan_int(v, p) > INT_MAX)
				return 0;
			else
				l->tid = (int)jscan_int(v, p);
			break;
		case TK_EPOCH:
			p = jscan_num(v, end, &is_int);
			break;
		case TK_PID:
		case TK_TYPE:
		case TK_STEP:
		case TK_TS:
			if (*v != '"')
				return 0;
			p = jscan_str(v + 1, end, &esc, &nonascii);
			if (!p || ((which == TK_PID || which == TK_TYPE) && esc))
				return 0;
			len = (size_t)(p - v - 1);
			if (which == TK_TYPE && (len != type_len || memcmp(v + 1, type, len) != 0))
				return 0;
			if (which == TK_PID) {
				if (len >= sizeof(l->pid))
					return 0;
				memcpy(l->pid, v + 1, len);
				l->pid[len] = '\0';
			}
			p++;
			break;
		case TK_PAYLOAD:
			if (*v != '{')
				return 0;
			p = sock ? sock_payload(v, end, l, &nonascii)
				 : jscan_value(v, end, 1, &nonascii);
			break;
		default:
			p = jscan_value(v, end, 1, &nonascii);
			break;
		}
		if (!p)
			return 0;
		if (which != TK_OTHER)
			seen |= 1u << which;
		p = jscan_ws(p, end);
		if (p >= end)
			return 0;
		if (*p == '}')
			break;
		if (*p != ',')
			return 0;
		p = jscan_ws(p + 1, end);
	}
	/* as parse_line: blanks may follow the object */
	for (p++; p < end && (*p == ' ' || *p == '\t' || *p == '\r'); p++)
		;
	if (p != end || seen != (1u << TK_OTHER) - 1)
		return 0;
	if (nonascii && !utf8_valid(s, n))
		return 0;
	return trace_pid_valid(l->pid) ? 1 : 0;
}

int trace_sock_scan(const char *s, size_t n, struct trace_sock_line *l)
{
	memset(l, 0, sizeof(*l));
	l->n = -1;
	return scan_event(s, n, l, 1, "socket_call", 11);
}

static int line_checked(const char *s, size_t n, const char *type, size_t type_len)
{
	struct trace_sock_line l;

	memset(&l, 0, sizeof(l));
	return scan_event(s, n, &l, 0, type, type_len);
}

int trace_sock_bytes(const struct trace_sock_line *l, struct buf *out)
{
	if (l->data)
		return l->data_esc ? jscan_unescape(l->data, l->data + l->data_len, out)
				   : buf_append(out, l->data, l->data_len);
	if (l->b64)
		return b64_decode(out, l->b64, l->b64_len) < 0 ? -EINVAL : 0;
	return 0;
}
