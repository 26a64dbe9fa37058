/* SPDX-License-Identifier: MIT */
/* governance.c -- replay's violations: warnings in relaxed mode, exit 86 in strict mode. */
#include "shim/governance.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fingerprint.h"
#include "common/json.h"
#include "common/log.h"
#include "common/trace.h"
#include "shim/hooks_proc.h"
#include "shim/real.h"
#include "shim/recorder.h"
#include "shim/replayer.h"
#include "shim/shim.h"

#define GOV_EXIT 86

static const char *const kind_names[] = {
	[GOV_MISMATCH] = "ReplayMismatchError",
	[GOV_LEAK] = "DeterminismLeakError",
	[GOV_THREAD] = "ReplayThreadWarning",
};

/* Relaxed mode warns once per distinct message: a loop reading entropy
 * would otherwise print a line per read. A small table of hashes. */
#define SEEN_MAX 256
SHIM_LARGE static uint64_t seen[SEEN_MAX];
static size_t nseen;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

static int first_time(const char *msg)
{
	uint64_t h = 1469598103934665603ull;
	int r = 1;

	for (const char *p = msg; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	pthread_mutex_lock(&seen_lock);
	for (size_t i = 0; i < nseen; i++)
		if (seen[i] == h)
			r = 0;
	if (r && nseen < SEEN_MAX)
		seen[nseen++] = h;
	pthread_mutex_unlock(&seen_lock);
	return r;
}

int gov_strict(void)
{
	return shim_config.governance == AT_GOV_STRICT;
}

/* Writes the whole line with one write(2), so lines from several
 * processes never interleave. */
static void say(const char *line)
{
	size_t n = strlen(line);

	if (REAL(write)(STDERR_FILENO, line, n) < 0)
		return;
}

void gov_violation(enum gov_kind kind, const char *fmt, ...)
{
	char msg[768], line[900];
	struct shim_thread *t = &shim_tls;
	int strict = gov_strict() && kind != GOV_THREAD;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!strict) {
		if (!first_time(msg))
			return;
		snprintf(line, sizeof(line), "attrace: warning: %s: %s%s\n", kind_names[kind], msg,
			 kind == GOV_THREAD ? "" : " (relaxed: let through)");
		say(line);
	} else {
		snprintf(line, sizeof(line), "attrace: %s: %s\n", kind_names[kind], msg);
		say(line);
	}
	if (shim_recording && !shim_in_vfork_child()) {
		int was_busy = t->busy;
		struct buf *b;

		t->busy = 1;
		b = ev_begin(t, "governance");
		json_kv_str(b, "what", kind_names[kind]);
		json_kv_str(b, "mode", strict ? "strict" : "relaxed");
		json_kv_str(b, "message", msg);
		ev_end(t);
		t->busy = was_busy;
	}
	if (!strict)
		return;
	if (!shim_in_vfork_child()) {
		gov_at_exit();
		shim_complete_how(GOV_EXIT, 0, "governance");
	}
	REAL(_exit)(GOV_EXIT);
}

void gov_quote(char *out, size_t outn, const void *p, size_t n, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = p;
	size_t o = 0, i;

	if (!outn)
		return;
	for (i = 0; i < n && i < max && o + 5 < outn; i++) {
		unsigned char c = s[i];

		if (c == '\r' || c == '\n' || c == '\t' || c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = c == '\r' ? 'r' : c == '\n' ? 'n' : c == '\t' ? 't' : (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (i < n && o + 4 < outn) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

void gov_at_exit(void)
{
	static int done;
	struct shim_thread *t = &shim_tls;
	char unused[5][96];
	size_t consumed, total, k;
	int was_busy = t->busy;
	struct buf *b;

	if (!shim_replaying || !shim_recording || done)
		return;
	done = 1;
	k = rp_summary(&consumed, &total, unused, 5);
	t->busy = 1;
	b = ev_begin(t, "governance");
	json_kv_str(b, "what", "summary");
	json_kv_int(b, "consumed", (long)consumed);
	json_kv_int(b, "total", (long)total);
	json_key(b, "unused");
	json_arr_open(b);
	for (size_t i = 0; i < k; i++)
		json_str(b, unused[i]);
	json_arr_close(b);
	ev_end(t);
	t->busy = was_busy;
}

void gov_report(void)
{
	char now[FP_HEX_LEN + 1] = "", rec[FP_HEX_LEN + 1] = "", line[400];
	struct at_error err = { 0 };
	struct trace_reader *r = trace_reader_open(shim_proc.trace_path, &err);
	struct fp *f = fp_new();
	struct json_object *ev;
	const char *recorded = rp_recorded_fp();
	long consumed = 0, total = 0;
	int ok = f && fp_ignore_headers(f, shim_config.replay_ignore) == 0;

	if (!r) {
		fp_free(f);
		return;
	}
	/* One pass over this replay's own trace: the summaries and the
	 * fingerprint (which leaves network_call events out). */
	trace_reader_skip_type(r, "network_call");
	while (trace_reader_next(r, &ev, &err) == 1) {
		struct json_object *p = json_object_object_get(ev, "payload"), *w;
		const char *type = json_object_get_string(json_object_object_get(ev, "type"));

		if (type && !strcmp(type, "governance") &&
		    json_object_object_get_ex(p, "what", &w) &&
		    !strcmp(json_object_get_string(w), "summary")) {
			consumed += json_object_get_int64(json_object_object_get(p, "consumed"));
			total += json_object_get_int64(json_object_object_get(p, "total"));
		}
		if (ok && fp_add(f, ev) < 0)
			ok = 0;
		json_object_put(ev);
	}
	trace_reader_free(r);
	if (ok && (err.msg[0] || fp_final(f, now) < 0))
		ok = 0;
	fp_free(f);
	if (recorded)
		snprintf(rec, sizeof(rec), "%s", recorded);
	else if (shim_config.replay_ignore || (ok && fp_file(shim_replay_in, rec, &err) < 0))
		ok = 0; /* fp_file knows no ignored headers */
	if (!ok) {
		snprintf(line, sizeof(line), "attrace: replay consumed %ld of %ld events\n",
			 consumed, total);
	} else {
		snprintf(
			line, sizeof(line),
			"attrace: replay consumed %ld of %ld events; fingerprint %.16s (%s %.16s)\n",
			consumed, total, now,
			strcmp(now, rec) ? "differs from recorded" : "matches", rec);
	}
	if (ok && shim_config.replay_ignore && *shim_config.replay_ignore) {
		char note[300];

		snprintf(note, sizeof(note),
			 "attrace: the fingerprints leave out the header fields %.200s\n",
			 shim_config.replay_ignore);
		say(note);
	}
	say(line);
}
