/* SPDX-License-Identifier: MIT */
/* replay_stream.c -- replayed clocks and random bytes: one stream per (thread, clock or source).
 *
 * replayer.c fills the streams while it loads the trace (rp_index_time,
 * rp_index_random); the time and random hooks read them through rp_time
 * and rp_random (replayer.h). The streams live in the index (replay_int.h,
 * rp_ix.streams) and, like it, under rp_lock and for the process's life.
 */
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/jsonv.h"
#include "common/trace.h"
#include "shim/replay_int.h"
#include "shim/replayer.h"
#include "shim/shim.h"

/* A stream of clock values or random bytes for one (tid, clock|source). */
struct stream {
	int64_t *v; /* time */
	size_t nv, capv;
	struct buf bytes; /* random */
	size_t pos;
	struct marks marks;
	int64_t last_served; /* time: the last value given out */
	int64_t last_real; /* time: the real clock when it was */
	int tid;
};

static const char *const clock_names[SHIM_CLOCK_COUNT] = {
	[SHIM_CLOCK_REALTIME] = "realtime", [SHIM_CLOCK_REALTIME_COARSE] = "realtime_coarse",
	[SHIM_CLOCK_TAI] = "tai",	    [SHIM_CLOCK_GETTIMEOFDAY] = "gettimeofday",
	[SHIM_CLOCK_TIME] = "time",	    [SHIM_CLOCK_TIMESPEC_GET] = "timespec_get",
};

static struct stream *stream_get(char kind, int tid, const char *what, int create)
{
	char key[128];
	struct stream *s;

	snprintf(key, sizeof(key), "%c %d %s", kind, tid, what);
	s = rp_smap_get(&rp_ix.streams, key);
	if (s || !create)
		return s;
	s = rp_smap_get_or_new(&rp_ix.streams, key, sizeof(*s));
	if (!s)
		return NULL;
	buf_init(&s->bytes, 0);
	s->tid = tid;
	if (kind == 'r') {
		struct stream **v =
			array_room(rp_ix.rstreams, rp_ix.nrstreams, &rp_ix.caprstreams, sizeof(*v));

		if (!v)
			return s;
		rp_ix.rstreams = v;
		rp_ix.rstreams[rp_ix.nrstreams++] = s;
	}
	return s;
}

static const char *random_class(const char *source)
{
	if (!source)
		return NULL;
	if (!strcmp(source, "getrandom") || !strcmp(source, "syscall_getrandom"))
		return "getrandom";
	if (!strcmp(source, "/dev/urandom") || !strcmp(source, "/dev/random"))
		return "urandom";
	if (!strcmp(source, "arc4random") || !strcmp(source, "arc4random_buf"))
		return "arc4random";
	return source; /* getentropy, arc4random_uniform */
}

void rp_index_time(size_t evi, struct json_object *p, int tid)
{
	const char *clk = jv_str(p, "clock");
	struct stream *s;
	int64_t *v = NULL;
	long n;

	if (!clk)
		return;
	n = trace_time_values(p, &v);
	if (n <= 0)
		return;
	s = stream_get('t', tid, clk, 1);
	if (s && s->nv + (size_t)n > s->capv) {
		size_t cap = (s->nv + (size_t)n) * 2;
		int64_t *nv = realloc(s->v, cap * sizeof(*nv));

		if (nv) {
			s->v = nv;
			s->capv = cap;
		}
	}
	if (!s || s->nv + (size_t)n > s->capv) {
		free(v);
		return;
	}
	memcpy(s->v + s->nv, v, (size_t)n * sizeof(*v));
	s->nv += (size_t)n;
	rp_marks_push(&s->marks, evi, s->nv);
	free(v);
}

void rp_index_random(size_t evi, struct json_object *p, int tid)
{
	const char *cls = random_class(jv_str(p, "source"));
	struct stream *s;
	struct buf data;

	if (!cls || jv_int(p, "n", -1) <= 0) {
		rp_ix.ev[evi].consumed = 1; /* a failed read serves nothing */
		return;
	}
	s = stream_get('r', tid, cls, 1);
	if (!s)
		return;
	buf_init(&data, 0);
	if (trace_payload_bytes(p, &data) == 0 && data.len)
		buf_append(&s->bytes, data.data, data.len);
	buf_release(&data);
	rp_marks_push(&s->marks, evi, s->bytes.len);
}

/* ---- time ---- */

int64_t rp_time(struct shim_thread *t, int clk, int64_t real_ns)
{
	struct stream *s;
	int64_t v;

	if (clk < 0 || clk >= SHIM_CLOCK_COUNT)
		return real_ns;
	pthread_mutex_lock(&rp_lock);
	s = stream_get('t', t->tid, clock_names[clk], 0);
	if (!s && t->tid != 0)
		s = stream_get('t', 0, clock_names[clk], 0); /* a thread the trace lacks */
	if (!s) {
		/* never read live: the real clock, moved to the recorded start */
		v = rp_ix.rec_start_ns ? real_ns - rp_ix.replay_start_ns + rp_ix.rec_start_ns
				       : real_ns;
	} else if (s->pos < s->nv) {
		v = s->v[s->pos++];
		while (s->marks.done < s->marks.n && s->marks.m[s->marks.done].end <= s->pos)
			rp_ix.ev[s->marks.m[s->marks.done++].ev].consumed = 1;
		s->last_served = v;
		s->last_real = real_ns;
	} else {
		/* past the recording: time moves on from the last value */
		v = s->last_served + (real_ns - s->last_real);
		if (v < s->last_served)
			v = s->last_served;
	}
	pthread_mutex_unlock(&rp_lock);
	return v;
}

/* ---- randomness ---- */

static size_t stream_left(const struct stream *s)
{
	return s->bytes.len - s->pos;
}

static void stream_take(struct stream *s, void *p, size_t n)
{
	memcpy(p, s->bytes.data + s->pos, n);
	s->pos += n;
	while (s->marks.done < s->marks.n && s->marks.m[s->marks.done].end <= s->pos)
		rp_ix.ev[s->marks.m[s->marks.done++].ev].consumed = 1;
}

int rp_random(struct shim_thread *t, const char *source, void *p, size_t n)
{
	const char *cls = random_class(source);
	struct stream *s;
	char want[64];
	int r = -ENODATA;

	pthread_mutex_lock(&rp_lock);
	s = stream_get('r', t->tid, cls, 0);
	if (s && stream_left(s) >= n) {
		stream_take(s, p, n);
		r = 0;
		goto out;
	}
	/* Pool threads take tasks in another order than live: another
	 * thread's unread bytes of the same source serve, in tid order. */
	snprintf(want, sizeof(want), "%s", cls);
	for (size_t i = 0; i < rp_ix.nrstreams; i++) {
		struct stream *o = rp_ix.rstreams[i];
		char key[128];

		snprintf(key, sizeof(key), "r %d %s", o->tid, want);
		if (rp_smap_get(&rp_ix.streams, key) != o || stream_left(o) < n)
			continue;
		stream_take(o, p, n);
		r = 0;
		break;
	}
out:
	pthread_mutex_unlock(&rp_lock);
	return r;
}
