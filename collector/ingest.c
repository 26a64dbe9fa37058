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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

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
	if (s->npids == s->cap_pids) {
		size_t cap = s->cap_pids ? s->cap_pids * 2 : 8;

		np = realloc(s->pids, cap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		s->pids = np;
		s->cap_pids = cap;
	}
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

static int64_t epoch_ns(struct json_object *ev)
{
	return (int64_t)(json_object_get_double(get(ev, "ts_epoch")) * 1e9 + 0.5);
}

int summary_add(struct trace_summary *s, struct json_object *ev, char *msg, size_t msglen)
{
	const char *type = json_object_get_string(get(ev, "type"));
	const char *pid = json_object_get_string(get(ev, "pid"));
	struct json_object *pl = get(ev, "payload"), *v;
	int64_t ns = epoch_ns(ev);
	int root = strcmp(pid, "0") == 0;

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

void ingest_batch_release(struct ingest_batch *b)
{
	if (!b)
		return;
	buf_release(&b->text);
	free(b->ev);
	seqset_release(&b->seen);
	summary_release(&b->sum);
	fp_free(b->fp);
	memset(b, 0, sizeof(*b));
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
		struct json_object *ev;
		int p, k, r;

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
		ev = ingest_parse_line(s, n, msg, sizeof(msg));
		if (nl)
			*nl = '\n';
		if (!ev) {
			at_error_set(reterr, frame, (long)b->lines, pos, "line %zu: %s", b->lines,
				     msg);
			return strncmp(msg, "invalid JSON", 12) == 0 ? -EBADMSG : -EINVAL;
		}
		p = seqset_pid(&b->seen, json_object_get_string(get(ev, "pid")));
		if (p < 0) {
			json_object_put(ev);
			return -ENOMEM;
		}
		k = seqset_add(&b->seen, (uint32_t)p,
			       (uint64_t)json_object_get_int64(get(ev, "seq")));
		if (k < 0) {
			json_object_put(ev);
			return k;
		}
		if (k == 0) {
			b->duplicates++;
		} else {
			if (b->n == b->cap) {
				size_t cap = b->cap ? b->cap * 2 : 256;
				struct ingest_event *ne = realloc(b->ev, cap * sizeof(*ne));

				if (!ne) {
					json_object_put(ev);
					return -ENOMEM;
				}
				b->ev = ne;
				b->cap = cap;
			}
			b->ev[b->n++] = (struct ingest_event){
				.off = pos,
				.len = n,
				.pid = (uint32_t)p,
				.seq = (uint64_t)json_object_get_int64(get(ev, "seq")),
			};
			r = summary_add(&b->sum, ev, msg, sizeof(msg));
			if (r == 0)
				r = fp_add(b->fp, ev);
			if (r < 0) {
				json_object_put(ev);
				if (r == -EINVAL)
					at_error_set(reterr, frame, (long)b->lines, pos,
						     "line %zu: %s", b->lines, msg);
				return r;
			}
		}
		json_object_put(ev);
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
