/* SPDX-License-Identifier: MIT */
/* ingest.c -- decode, validate and fingerprint one upload, within the limits.
 *
 * Hand-written line walk instead of trace_reader: the collector must keep
 * each line's original bytes (it stores them, never a re-serialisation),
 * count lines across frames for its error answers, and cap the total
 * decompressed size of an upload, not only each frame.
 */
#include "collector/ingest.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/jscan.h"
#include "common/json.h"
#include "common/trace.h"
#include "common/zframe.h"

#define INGEST_JSON_DEPTH 64

/* ---- (pid, seq) set: open addressing, pids interned ------------------------ */

void seqset_init(struct seqset *s)
{
	memset(s, 0, sizeof(*s));
}

void seqset_release(struct seqset *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->npids; i++)
		free(s->pids[i]);
	free(s->pids);
	free(s->kpid);
	free(s->kseq);
	seqset_init(s);
}

static int find_pid(const struct seqset *s, const char *pid)
{
	size_t i;

	for (i = 0; i < s->npids; i++)
		if (strcmp(s->pids[i], pid) == 0)
			return (int)i;
	return -1;
}

int seqset_pid(struct seqset *s, const char *pid)
{
	char **np;
	int i = find_pid(s, pid);

	if (i >= 0)
		return i;
	np = array_room(s->pids, s->npids, &s->cap_pids, sizeof(*np));
	if (!np)
		return -ENOMEM;
	s->pids = np;
	s->pids[s->npids] = strdup(pid);
	if (!s->pids[s->npids])
		return -ENOMEM;
	return (int)s->npids++;
}

static size_t slot_of(uint32_t pid, uint64_t seq, size_t cap)
{
	uint64_t h = (seq + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)pid * 0xC2B2AE3D27D4EB4Full);

	h ^= h >> 29;
	return (size_t)(h & (cap - 1));
}

static int grow(struct seqset *s)
{
	size_t cap = s->cap_keys ? s->cap_keys * 2 : 1024, i, j;
	uint32_t *kpid = calloc(cap, sizeof(*kpid));
	uint64_t *kseq = calloc(cap, sizeof(*kseq));

	if (!kpid || !kseq) {
		free(kpid);
		free(kseq);
		return -ENOMEM;
	}
	for (i = 0; i < s->cap_keys; i++) {
		if (!s->kpid[i])
			continue;
		j = slot_of(s->kpid[i], s->kseq[i], cap);
		while (kpid[j])
			j = (j + 1) & (cap - 1);
		kpid[j] = s->kpid[i];
		kseq[j] = s->kseq[i];
	}
	free(s->kpid);
	free(s->kseq);
	s->kpid = kpid;
	s->kseq = kseq;
	s->cap_keys = cap;
	return 0;
}

int seqset_add(struct seqset *s, uint32_t pid, uint64_t seq)
{
	uint32_t k = pid + 1; /* 0 marks an empty slot */
	size_t j;

	if ((s->nkeys + 1) * 2 > s->cap_keys && grow(s) < 0)
		return -ENOMEM;
	j = slot_of(k, seq, s->cap_keys);
	while (s->kpid[j]) {
		if (s->kpid[j] == k && s->kseq[j] == seq)
			return 0;
		j = (j + 1) & (s->cap_keys - 1);
	}
	s->kpid[j] = k;
	s->kseq[j] = seq;
	s->nkeys++;
	return 1;
}

int seqset_has(const struct seqset *s, const char *pid, uint64_t seq)
{
	int p = find_pid(s, pid);
	uint32_t k;
	size_t j;

	if (p < 0 || !s->cap_keys)
		return 0;
	k = (uint32_t)p + 1;
	j = slot_of(k, seq, s->cap_keys);
	while (s->kpid[j]) {
		if (s->kpid[j] == k && s->kseq[j] == seq)
			return 1;
		j = (j + 1) & (s->cap_keys - 1);
	}
	return 0;
}

/* ---- summary --------------------------------------------------------------- */

void summary_init(struct trace_summary *s)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->status, "running", 8);
	s->exit_status = -1;
}

void summary_release(struct trace_summary *s)
{
	if (!s)
		return;
	free(s->name);
	summary_init(s);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static int64_t epoch_ns(double epoch)
{
	double ns = epoch * 1e9 + 0.5;

	/* Past int64 (1e300 is valid JSON) the cast would be undefined:
	 * unknown, as 0. */
	if (!(ns > -9.2e18 && ns < 9.2e18))
		return 0;
	return (int64_t)ns;
}

int summary_add_parts(struct trace_summary *s, const struct ingest_parts *e, char *msg,
		      size_t msglen)
{
	const char *type = e->type;
	struct json_object *pl = e->payload, *v;
	int64_t ns = e->epoch_ns;
	int root = strcmp(e->pid, "0") == 0;

	s->events++;
	if (ns > 0 && (!s->first_ns || ns < s->first_ns))
		s->first_ns = ns;
	if (strcmp(type, "agent_start") == 0) {
		const char *id = json_object_get_string(get(pl, "trace_id"));
		size_t i, n = id ? strlen(id) : 0;

		if (n == 0 || n > 32) {
			snprintf(msg, msglen, "agent_start without a valid \"trace_id\"");
			return -EINVAL;
		}
		for (i = 0; i < n; i++) {
			if (!strchr("0123456789abcdefABCDEF-", id[i])) {
				snprintf(msg, msglen,
					 "agent_start: \"trace_id\" is not hexadecimal");
				return -EINVAL;
			}
		}
		if (s->trace_id[0] && strcmp(s->trace_id, id) != 0) {
			snprintf(
				msg, msglen,
				"two trace ids in one trace: '%s' and '%s' (upload them separately)",
				s->trace_id, id);
			return -EINVAL;
		}
		memcpy(s->trace_id, id, n + 1);
		if (root) {
			s->start_ns = ns;
			v = get(pl, "name");
			if (v && json_object_is_type(v, json_type_string) && !s->name) {
				s->name = strdup(json_object_get_string(v));
				if (!s->name)
					return -ENOMEM;
			}
		}
	} else if (root && strcmp(type, "agent_complete") == 0) {
		s->end_ns = ns;
		v = get(pl, "signal");
		if (v) {
			memcpy(s->status, "killed", 7);
			s->exit_status = json_object_get_int(v);
		} else {
			s->exit_status = json_object_get_int(get(pl, "status"));
			if (s->exit_status == 0)
				memcpy(s->status, "ok", 3);
			else
				memcpy(s->status, "failed", 7);
		}
	}
	return 0;
}

void ingest_parts_of(struct json_object *ev, struct ingest_parts *e)
{
	e->pid = json_object_get_string(get(ev, "pid"));
	e->type = json_object_get_string(get(ev, "type"));
	e->step = json_object_get_string(get(ev, "step"));
	e->seq = json_object_get_int64(get(ev, "seq"));
	e->tid = json_object_get_int64(get(ev, "tid"));
	e->epoch_ns = epoch_ns(json_object_get_double(get(ev, "ts_epoch")));
	e->payload = get(ev, "payload");
}

int summary_add(struct trace_summary *s, struct json_object *ev, char *msg, size_t msglen)
{
	struct ingest_parts e;

	ingest_parts_of(ev, &e);
	return summary_add_parts(s, &e, msg, msglen);
}

/* ---- lines ----------------------------------------------------------------- */

/* One tokener per thread, reused line after line (a fresh one per line
 * cost a malloc/free pair of its parse stack for every event); freed when
 * the thread ends. */
static pthread_key_t tok_key;
static pthread_once_t tok_once = PTHREAD_ONCE_INIT;

static void tok_free(void *p)
{
	json_tokener_free(p);
}

static void tok_key_init(void)
{
	pthread_key_create(&tok_key, tok_free);
}

static struct json_tokener *thread_tokener(void)
{
	struct json_tokener *tok;

	pthread_once(&tok_once, tok_key_init);
	tok = pthread_getspecific(tok_key);
	if (tok)
		return tok;
	tok = json_tokener_new_ex(INGEST_JSON_DEPTH);
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
					    JSON_TOKENER_VALIDATE_UTF8);
	if (pthread_setspecific(tok_key, tok) != 0) {
		json_tokener_free(tok);
		return NULL;
	}
	return tok;
}

struct json_object *ingest_parse_line(const char *s, size_t n, char *msg, size_t msglen)
{
	struct json_tokener *tok = thread_tokener();
	enum json_tokener_error jerr;
	struct json_object *ev = NULL;
	size_t end;
	char why[160];

	if (!tok) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	json_tokener_reset(tok);
	/* n + 1: the NUL tells the tokener that the input ends there. */
	ev = json_tokener_parse_ex(tok, s, (int)n + 1);
	jerr = json_tokener_get_error(tok);
	if (!ev || jerr != json_tokener_success) {
		snprintf(msg, msglen, "invalid JSON: %s",
			 jerr == json_tokener_continue ? "unexpected end of data"
						       : json_tokener_error_desc(jerr));
		goto fail;
	}
	for (end = json_tokener_get_parse_end(tok); end < n; end++) {
		if (s[end] != ' ' && s[end] != '\t' && s[end] != '\r') {
			snprintf(msg, msglen, "invalid JSON: trailing data after the value");
			goto fail;
		}
	}
	if (trace_validate(ev, why, sizeof(why)) < 0) {
		snprintf(msg, msglen, "not an attrace/1 event: %s", why);
		goto fail;
	}
	return ev;
fail:
	if (ev)
		json_object_put(ev);
	return NULL;
}

/* ---- the fast path ----------------------------------------------------------
 *
 * Most of an upload's cost was json-c building a tree for every line (an
 * allocation per key and per value) only to read eight envelope members.
 * fast_scan() checks a line's JSON by hand and reads the envelope, and only
 * the payload of an event the fingerprint keeps becomes a json-c tree, parsed
 * by the same tokener with the same flags as ingest_parse_line(), so the
 * canonical form sees the same objects. The scan accepts a subset of what
 * ingest_parse_line() accepts (plain RFC 8259 JSON, strictly valid UTF-8, no
 * escapes in the envelope's keys or in pid, type and step, no control
 * characters, \u escapes other than surrogates and \u0000, integers within
 * int64 (up to 9223372036854775807 in magnitude), nesting up to JSCAN_DEPTH: common/jscan.h) and reads the same values from it; on
 * anything else it gives up, and the line takes the json-c path, which
 * accepts or rejects it as before, with the same message. */

int ingest_fast_path = 1;

/* A number jscan_num() took that is not an integer, as strtod() reads it.
 * Up to 2^53 for the digits and 22 decimals, one division of two exact
 * doubles is the correctly rounded result, as strtod's is (Clinger's fast
 * path): "1795321020.000001" is 1795321020000001 / 1e6. Else strtod. */
static double decimal_value(const char *p, const char *end)
{
	static const double p10[] = { 1e0,  1e1,  1e2,	1e3,  1e4,  1e5,  1e6,	1e7,
				      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
	const char *q = p + (*p == '-');
	uint64_t m = 0;
	int frac = -1, nd = 0;

	for (; q < end; q++) {
		if (*q == '.') {
			frac = 0;
			continue;
		}
		if (*q < '0' || *q > '9' || ++nd > 16)
			return strtod(p, NULL); /* an exponent, or too many digits */
		m = m * 10 + (uint64_t)(*q - '0');
		frac += frac >= 0;
	}
	if (m > (1ull << 53) || frac < 0 || frac > 22)
		return strtod(p, NULL);
	return (*p == '-' ? -1.0 : 1.0) * ((double)m / p10[frac]);
}

static int copy_span(char *dst, size_t cap, const char *p, const char *end)
{
	size_t n = (size_t)(end - p);

	if (n >= cap)
		return -1;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

/* @return 1 when s[0..n) is a valid attrace/1 event read into f, 0 when the
 * json-c path must decide. */
static int fast_scan(const char *s, size_t n, struct ingest_line *f)
{
	const char *p = s, *end = s + n, *k, *v;
	unsigned seen = 0;
	int nonascii = 0;
	double epoch = 0;

	if (n < 2 || *p != '{')
		return 0;
	p = jscan_ws(p + 1, end);
	for (;;) {
		int esc = 0, is_int, which;
		size_t klen;

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
				f->e.seq = jscan_int(v, p);
			else
				f->e.tid = jscan_int(v, p);
			break;
		case TK_EPOCH:
			p = jscan_num(v, end, &is_int);
			if (!p)
				return 0;
			/* as json-c: an integer is read as one, else strtod */
			epoch = is_int ? (double)jscan_int(v, p) : decimal_value(v, p);
			break;
		case TK_PID:
		case TK_TYPE:
		case TK_STEP:
		case TK_TS:
			if (*v != '"')
				return 0;
			p = jscan_str(v + 1, end, &esc, &nonascii);
			if (!p || (which != TK_TS && esc))
				return 0;
			if ((which == TK_PID && copy_span(f->pid, sizeof(f->pid), v + 1, p) < 0) ||
			    (which == TK_TYPE &&
			     copy_span(f->type, sizeof(f->type), v + 1, p) < 0) ||
			    (which == TK_STEP && copy_span(f->step, sizeof(f->step), v + 1, p) < 0))
				return 0;
			p++;
			break;
		case TK_PAYLOAD:
			if (*v != '{')
				return 0;
			p = jscan_value(v, end, 1, &nonascii);
			f->payload = v;
			f->payload_len = p ? (size_t)(p - v) : 0;
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
	/* as ingest_parse_line: blanks may follow the object */
	for (p++; p < end && (*p == ' ' || *p == '\t' || *p == '\r'); p++)
		;
	if (p != end || seen != (1u << TK_OTHER) - 1)
		return 0;
	if (nonascii && !utf8_valid(s, n))
		return 0;
	if (f->e.tid > INT_MAX || !trace_pid_valid(f->pid))
		return 0;
	f->e.pid = f->pid;
	f->e.type = f->type;
	f->e.step = f->step;
	f->e.epoch_ns = epoch_ns(epoch);
	f->e.payload = NULL;
	return 1;
}

int ingest_fast_scan_ok(const char *s, size_t n)
{
	struct ingest_line f;

	return fast_scan(s, n, &f);
}

/* The canonical form and the summary read nothing from these payloads. */
static int payload_unused(const char *type)
{
	return strcmp(type, "time") == 0 || strcmp(type, "governance") == 0 ||
	       strcmp(type, "thread_start") == 0;
}

/* Appends the UTF-8 of code point v (not a surrogate, not 0). */
static inline int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The string at *pp (its opening quote), which fast_scan() accepted, decoded
 * into tmp (NUL-terminated); *pp moves past the closing quote. */
static int build_str(const char **pp, struct buf *tmp)
{
	const char *p = *pp + 1, *q = p;
	int r;

	/* accepted: the closing quote is the first one not escaped */
	while (*q != '"')
		q += *q == '\\' ? 2 : 1;
	buf_reset(tmp);
	r = jscan_unescape(p, q, tmp);
	*pp = q + 1;
	return r;
}

/* Builds the json-c value at *pp, which fast_scan() accepted, as json-c's
 * tokener would (null is NULL; numbers as in fast_scan). *pp moves past it.
 * @return 0 or -ENOMEM. */
static int build_value(const char **pp, struct buf *tmp, struct json_object **ret)
{
	const char *p = *pp, *q;
	struct json_object *o = NULL, *v;
	int r = 0, is_int;

	*ret = NULL;
	switch (*p) {
	case '"':
		q = p + 1;
		while (*q != '"' && *q != '\\')
			q++;
		if (*q == '"') {
			o = json_object_new_string_len(p + 1, (int)(q - p - 1));
			p = q + 1;
		} else {
			r = build_str(&p, tmp);
			if (r == 0)
				o = json_object_new_string_len(tmp->data, (int)tmp->len);
		}
		break;
	case '{':
	case '[': {
		char close = *p == '{' ? '}' : ']';

		o = close == '}' ? json_object_new_object() : json_object_new_array();
		for (p++; is_blank(*p); p++)
			;
		while (o && r == 0 && *p != close) {
			char kbuf[128], *key = NULL;

			if (close == '}') {
				r = build_str(&p, tmp);
				if (r < 0)
					break;
				/* tmp is reused by the value: the key goes aside */
				key = tmp->len < sizeof(kbuf)
					      ? memcpy(kbuf, tmp->data, tmp->len + 1)
					      : strdup(tmp->data);
				if (!key) {
					r = -ENOMEM;
					break;
				}
				while (*p != ':')
					p++;
				for (p++; is_blank(*p); p++)
					;
			}
			r = build_value(&p, tmp, &v);
			if (r == 0 && key)
				r = json_object_object_add(o, key, v) < 0 ? -ENOMEM : 0;
			else if (r == 0)
				r = json_object_array_add(o, v) < 0 ? -ENOMEM : 0;
			if (r < 0)
				json_object_put(v);
			if (key != kbuf)
				free(key);
			while (is_blank(*p) || *p == ',')
				p++;
		}
		p++;
		break;
	}
	case 't':
		o = json_object_new_boolean(1);
		p += 4;
		break;
	case 'f':
		o = json_object_new_boolean(0);
		p += 5;
		break;
	case 'n':
		*pp = p + 4;
		return 0;
	default:
		q = jscan_num(p, p + 48, &is_int);
		o = is_int ? json_object_new_int64(jscan_int(p, q))
			   : json_object_new_double(decimal_value(p, q));
		p = q;
		break;
	}
	if (!o || r < 0) {
		json_object_put(o);
		return -ENOMEM;
	}
	*pp = p;
	*ret = o;
	return 0;
}
int ingest_line_parse(struct ingest_line *l, const char *s, size_t n, int want_payload,
		      struct buf *scratch, char *msg, size_t msglen)
{
	l->hold = NULL;
	if (ingest_fast_path && fast_scan(s, n, l)) {
		if (want_payload && !payload_unused(l->e.type)) {
			const char *p = l->payload;

			if (build_value(&p, scratch, &l->hold) < 0) {
				snprintf(msg, msglen, "out of memory");
				return -ENOMEM;
			}
			l->e.payload = l->hold;
		}
		return 0;
	}
	l->hold = ingest_parse_line(s, n, msg, msglen);
	if (!l->hold)
		return strncmp(msg, "invalid JSON", 12) == 0 ? -EBADMSG : -EINVAL;
	ingest_parts_of(l->hold, &l->e);
	return 0;
}

void ingest_line_release(struct ingest_line *l)
{
	json_object_put(l->hold);
	l->hold = NULL;
}

void ingest_batch_release(struct ingest_batch *b)
{
	if (!b)
		return;
	buf_release(&b->text);
	buf_release(&b->scratch);
	free(b->ev);
	seqset_release(&b->seen);
	summary_release(&b->sum);
	fp_free(b->fp);
	memset(b, 0, sizeof(*b));
}

/* Dedups one validated event and folds it into the summary and fingerprint. */
static int take_event(struct ingest_batch *b, const struct ingest_parts *e, size_t off, size_t len,
		      char *msg, size_t msglen)
{
	int p, k, r;

	p = seqset_pid(&b->seen, e->pid);
	if (p < 0)
		return p;
	k = seqset_add(&b->seen, (uint32_t)p, (uint64_t)e->seq);
	if (k < 0)
		return k;
	if (k == 0) {
		b->duplicates++;
		return 0;
	}
	if (b->n == b->cap) {
		struct ingest_event *ne = array_room(b->ev, b->n, &b->cap, sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		b->ev = ne;
	}
	b->ev[b->n++] = (struct ingest_event){
		.off = off,
		.len = len,
		.pid = (uint32_t)p,
		.seq = (uint64_t)e->seq,
	};
	r = summary_add_parts(&b->sum, e, msg, msglen);
	if (r == 0)
		r = fp_add_parts(b->fp, e->pid, e->type, e->step, e->tid, (uint64_t)e->seq,
				 e->payload);
	return r;
}

/* Validates, dedups and folds in every line of b->text from `from` on. */
static int take_lines(struct ingest_batch *b, size_t from, const struct ingest_limits *lim,
		      int frame, struct at_error *reterr)
{
	char msg[200];
	size_t pos = from;

	while (pos < b->text.len) {
		char *s = b->text.data + pos, *nl;
		size_t n;
		struct ingest_line l;
		int r;

		nl = memchr(s, '\n', b->text.len - pos);
		n = nl ? (size_t)(nl - s) : b->text.len - pos;
		b->lines++;
		if (n > lim->max_line) {
			at_error_set(reterr, frame, (long)b->lines, pos,
				     "line %zu: longer than the limit of %zu bytes", b->lines,
				     lim->max_line);
			return -E2BIG;
		}
		if (n == 0 || (n == 1 && s[0] == '\r')) {
			pos += n + 1;
			continue;
		}
		/* Parse in place: the newline becomes the NUL for a moment. */
		if (nl)
			*nl = '\0';
		r = ingest_line_parse(&l, s, n, 1, &b->scratch, msg, sizeof(msg));
		if (nl)
			*nl = '\n';
		if (r == 0)
			r = take_event(b, &l.e, pos, n, msg, sizeof(msg));
		ingest_line_release(&l);
		if (r < 0) {
			if (r != -ENOMEM)
				at_error_set(reterr, frame, (long)b->lines, pos, "line %zu: %s",
					     b->lines, msg);
			return r;
		}
		pos += n + (nl ? 1 : 0);
		if (!nl) {
			/* A frame's last line may lack its newline: add one, so
			 * the next frame's lines start on their own. */
			r = buf_putc(&b->text, '\n');
			if (r < 0)
				return r;
			pos = b->text.len;
		}
	}
	return 0;
}

int ingest_parse(const void *body, size_t len, int zstd, const struct ingest_limits *lim,
		 struct ingest_batch *b, struct at_error *reterr)
{
	struct zframe_dec dec = { 0 };
	struct buf frame = BUF_INIT;
	int r, dec_ready = 0;

	memset(b, 0, sizeof(*b));
	buf_init(&b->text, lim->max_decompressed + 1);
	seqset_init(&b->seen);
	summary_init(&b->sum);
	b->fp = fp_new();
	if (!b->fp) {
		r = -ENOMEM;
		goto out;
	}
	if (zstd < 0)
		zstd = zframe_is_zstd(body, len);
	if (!zstd) {
		if (len > lim->max_decompressed) {
			at_error_set(reterr, 0, 0, 0, "body of %zu bytes over the limit of %zu",
				     len, lim->max_decompressed);
			r = -EFBIG;
			goto out;
		}
		r = buf_append(&b->text, body, len);
		if (r == 0)
			r = take_lines(b, 0, lim, 0, reterr);
		if (r < 0)
			goto out;
	} else {
		r = zframe_dec_init(&dec, body, len, lim->max_decompressed);
		if (r < 0)
			goto out;
		dec_ready = 1;
		if (ZSTD_isError(ZSTD_DCtx_setParameter(dec.dctx, ZSTD_d_windowLogMax,
							lim->window_log_max))) {
			r = -EINVAL;
			goto out;
		}
		for (;;) {
			size_t from = b->text.len;

			/* The total cap: what is left of it bounds the next frame. */
			dec.max_out = lim->max_decompressed - b->text.len;
			if (dec.max_out == 0)
				dec.max_out = 1;
			r = zframe_dec_next(&dec, &frame, reterr);
			if (r == -EFBIG) {
				at_error_set(
					reterr, dec.frame, 0, dec.off,
					"frame %d: decompressed size over the limit of %zu bytes "
					"per upload",
					dec.frame, lim->max_decompressed);
				goto out;
			}
			if (r <= 0)
				break;
			r = buf_append(&b->text, frame.data, frame.len);
			if (r == -E2BIG) {
				at_error_set(
					reterr, dec.frame, 0, dec.off,
					"frame %d: decompressed size over the limit of %zu bytes "
					"per upload",
					dec.frame, lim->max_decompressed);
				r = -EFBIG;
			}
			if (r == 0)
				r = take_lines(b, from, lim, dec.frame, reterr);
			if (r < 0)
				goto out;
		}
		if (r < 0)
			goto out;
	}
	if (b->n == 0) {
		at_error_set(reterr, 0, 0, 0, "no events");
		r = -ENODATA;
		goto out;
	}
	if (!b->sum.trace_id[0]) {
		at_error_set(reterr, 0, 0, 0,
			     "no agent_start event: the trace id is unknown (upload the whole "
			     "trace file)");
		r = -EINVAL;
		goto out;
	}
	r = fp_final(b->fp, b->fp_hex);
out:
	if (dec_ready)
		zframe_dec_release(&dec);
	buf_release(&frame);
	if (r < 0)
		ingest_batch_release(b);
	return r;
}
