/* SPDX-License-Identifier: MIT */
/* test-trace.c -- unit tests for common/trace.c: envelopes, timestamps, validation, the reader. */
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "common/json.h"
#include "common/sectext.h"
#include "common/trace.h"
#include "common/zframe.h"
#include "tap.h"

#define EV(seq)                                                                                \
	"{\"seq\":" #seq                                                                       \
	",\"pid\":\"0\",\"tid\":0,\"type\":\"random\",\"ts\":\"2026-11-22T04:17:00.000001Z\"," \
	"\"ts_epoch\":1795321020.000001,\"step\":\"root\",\"payload\":{\"source\":\"getrandom\",\"n\":4}}\n"

static void test_fmt_ts(void)
{
	static const struct {
		int64_t ns;
		const char *want;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00.000000Z" },
		{ 1795321020000001000LL, "2026-11-22T04:17:00.000001Z" },
		{ 1795321020123456999LL, "2026-11-22T04:17:00.123456Z" },
		{ 951782400000000000LL, "2000-02-29T00:00:00.000000Z" },
		{ 1709251199999999000LL, "2024-02-29T23:59:59.999999Z" },
		{ -1, "1969-12-31T23:59:59.999999Z" },
		{ -86400000000000LL, "1969-12-31T00:00:00.000000Z" },
		{ 4102444800000000000LL, "2100-01-01T00:00:00.000000Z" },
	};
	unsigned s = 7;
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char ts[TRACE_TS_LEN];

		trace_fmt_ts(cases[i].ns, ts);
		tap_streq(ts, cases[i].want, "trace_fmt_ts");
	}
	/* against gmtime_r over 10000 random instants from 1902 to 2106 */
	for (i = 0; i < 10000; i++) {
		char ts[TRACE_TS_LEN], want[64];
		time_t t;
		struct tm tm;

		s = s * 1103515245u + 12345u;
		t = (time_t)(int32_t)s * 2 + (time_t)(s & 1);
		gmtime_r(&t, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S.000000Z", &tm);
		trace_fmt_ts((int64_t)t * 1000000000, ts);
		if (strcmp(ts, want) != 0) {
			if (ok)
				printf("# %lld: got %s want %s\n", (long long)t, ts, want);
			ok = 0;
		}
	}
	tap_ok(ok, "trace_fmt_ts agrees with gmtime_r on 10000 instants");
}

/* The formatted second is cached per thread (common/sectext.h): a hit, a
 * miss after another second, and signal handlers formatting another second
 * while the thread formats its own (SIGALRM every 20 us; a smoke test: the
 * exact interleavings are test_sectext's). */
static volatile sig_atomic_t fmt_bad, fmt_hits;

static void fmt_handler(int sig)
{
	char ts[TRACE_TS_LEN];
	struct buf b = BUF_INIT;
	static const char ts_want[] = "2000-02-29T00:00:00.000000Z";
	static char epoch_storage[64];

	(void)sig;
	trace_fmt_ts(951782400000000000LL, ts);
	if (strcmp(ts, ts_want) != 0)
		fmt_bad = 1;
	/* json_epoch would allocate: give the buffer storage of its own */
	b.data = epoch_storage;
	b.cap = sizeof(epoch_storage);
	b.data[0] = '\0';
	json_epoch(&b, 951782400000000000LL);
	if (strcmp(b.data, "951782400.000000") != 0)
		fmt_bad = 1;
	fmt_hits++;
}

static void test_fmt_ts_cache(void)
{
	struct itimerval it = { .it_interval = { 0, 20 }, .it_value = { 0, 20 } };
	struct sigaction sa = { .sa_handler = fmt_handler };
	static const struct {
		int64_t ns;
		const char *ts, *epoch;
	} v[] = {
		{ 1795321020000001000LL, "2026-11-22T04:17:00.000001Z", "1795321020.000001" },
		{ 1795321020999999000LL, "2026-11-22T04:17:00.999999Z", "1795321020.999999" },
		{ 1795321021000000000LL, "2026-11-22T04:17:01.000000Z", "1795321021.000000" },
		{ -1000, "1969-12-31T23:59:59.999999Z", "-0.000001" },
		{ 1000, "1970-01-01T00:00:00.000001Z", "0.000001" },
	};
	size_t i, k, n = sizeof(v) / sizeof(v[0]);
	int ok = 1;

	for (k = 0; k < 2; k++) /* misses, then the same again */
		for (i = 0; i < n; i++) {
			char ts[TRACE_TS_LEN];
			struct buf b = BUF_INIT;

			trace_fmt_ts(v[i].ns, ts);
			json_epoch(&b, v[i].ns);
			tap_streq(ts, v[i].ts, "trace_fmt_ts, cached second");
			tap_streq(b.data, v[i].epoch, "json_epoch, cached second");
			buf_release(&b);
		}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	for (i = 0; i < 400000 && ok; i++) {
		char ts[TRACE_TS_LEN], ep[32];
		struct buf b = { .data = ep, .cap = sizeof(ep) };

		ep[0] = '\0';
		trace_fmt_ts(v[i % 3].ns, ts);
		json_epoch(&b, v[i % 3].ns);
		if (strcmp(ts, v[i % 3].ts) != 0 || strcmp(ep, v[i % 3].epoch) != 0) {
			printf("# got %s and %s, want %s and %s\n", ts, ep, v[i % 3].ts,
			       v[i % 3].epoch);
			ok = 0;
		}
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_DFL);
	tap_ok(ok && !fmt_bad, "signal handlers interleaved: every text right (%d handled)",
	       (int)fmt_hits);
}

/* sec_text's rules, step by step (the interleavings the signal test above
 * can only hope to hit): a cache in the middle of an update is neither read
 * nor written by a handler. */
static void test_sectext(void)
{
	struct sec_text c = SEC_TEXT_INIT;
	char out[SEC_TEXT_MAX];

	tap_ok(sec_text_get(&c, 0, out) == 0, "sectext: empty cache misses");
	tap_ok(sec_text_get(&c, INT64_MIN, out) == 0, "sectext: the sentinel never hits");
	sec_text_put(&c, 5, "five", 4);
	tap_ok(sec_text_get(&c, 5, out) == 4 && memcmp(out, "five", 4) == 0, "sectext: a hit");
	tap_ok(sec_text_get(&c, 6, out) == 0, "sectext: another second misses");
	/* the thread is inside sec_text_put when a handler comes */
	c.busy = 1;
	c.secs = INT64_MIN;
	memcpy(c.text, "si", 2);
	tap_ok(sec_text_get(&c, 5, out) == 0 && sec_text_get(&c, 6, out) == 0,
	       "sectext: an update under way is not read");
	sec_text_put(&c, 7, "seven", 5);
	tap_ok(c.busy == 1 && c.secs == INT64_MIN && memcmp(c.text, "si", 2) == 0,
	       "sectext: nor written by a handler");
	c.busy = 0;
	sec_text_put(&c, 6, "six", 3);
	tap_ok(sec_text_get(&c, 6, out) == 3 && memcmp(out, "six", 3) == 0 && c.gen % 2 == 0,
	       "sectext: the update ends whole");
}

static void test_head(void)
{
	struct trace_head h = {
		.seq = 7,
		.pid = "0.1",
		.tid = 2,
		.type = "socket_call",
		.ts_ns = 1795321020004100000LL,
		.step = "fetch \"x\"",
	};
	struct buf b = BUF_INIT;
	struct json_object *o;
	char msg[128];

	buf_puts(&b, EV(0));
	trace_ev_head(&b, &h);
	json_kv_str(&b, "op", "close");
	trace_ev_tail(&b);
	tap_streq(
		b.data + strlen(EV(0)),
		"{\"seq\":7,\"pid\":\"0.1\",\"tid\":2,\"type\":\"socket_call\",\"ts\":\"2026-11-22T04:17:00.004100Z\","
		"\"ts_epoch\":1795321020.004100,\"step\":\"fetch \\\"x\\\"\",\"payload\":{\"op\":\"close\"}}\n",
		"trace_ev_head + payload + trace_ev_tail, after another line");
	o = json_tokener_parse(b.data + strlen(EV(0)));
	tap_ok(o && trace_validate(o, msg, sizeof(msg)) == 0, "the line parses and validates");
	json_object_put(o);
	buf_release(&b);

	/* plain strings take head_plain(): the same bytes */
	h.step = "fetch x";
	h.tid = -3;
	h.ts_ns = -1500; /* before 1970: floor to the microsecond */
	h.seq = 18446744073709551615ULL;
	buf_puts(&b, "{\"a\":1}");
	trace_ev_head(&b, &h);
	trace_ev_tail(&b);
	tap_streq(b.data,
		  "{\"a\":1},{\"seq\":18446744073709551615,\"pid\":\"0.1\",\"tid\":-3,"
		  "\"type\":\"socket_call\",\"ts\":\"1969-12-31T23:59:59.999998Z\","
		  "\"ts_epoch\":-0.000002,\"step\":\"fetch x\",\"payload\":{}}\n",
		  "a plain envelope: the same text as the general path, a comma when due");
	buf_release(&b);
	for (size_t cap = 1, ok = 1; cap <= 200; cap++) {
		buf_init(&b, cap);
		if (trace_ev_head(&b, &h) < 0 && b.len != 0)
			ok = 0;
		buf_release(&b);
		if (cap == 200)
			tap_ok(ok, "a plain head that does not fit leaves nothing, at any cap");
	}

	h.step = NULL;
	h.seq = 0;
	h.tid = 2;
	h.ts_ns = 1795321020004100000LL;
	trace_ev_head(&b, &h);
	trace_ev_tail(&b);
	tap_ok(strstr(b.data, "\"step\":\"root\",\"payload\":{}}\n") != NULL,
	       "a NULL step is \"root\"");
	buf_release(&b);

	buf_init(&b, 40);
	tap_ok(trace_ev_head(&b, &h) == -E2BIG && b.len == 0,
	       "a head that does not fit leaves nothing");
	buf_release(&b);
}

static void test_validate(void)
{
	static const struct {
		const char *line, *msg;
	} cases[] = {
		{ "{\"seq\":0,\"pid\":\"0\",\"tid\":0,\"type\":\"x\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"root\",\"payload\":{}}",
		  NULL },
		{ "{\"seq\":0,\"pid\":\"0.1.12\",\"tid\":3,\"type\":\"time\",\"ts\":\"t\",\"ts_epoch\":1.5,\"step\":\"s\",\"payload\":{}}",
		  NULL },
		{ "[1,2]", "not a JSON object" },
		{ "{\"pid\":\"0\"}", "missing \"seq\"" },
		{ "{\"seq\":\"1\",\"pid\":\"0\"}", "wrong type for \"seq\"" },
		{ "{\"seq\":0,\"pid\":\"0\",\"tid\":0,\"type\":\"x\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"root\"}",
		  "missing \"payload\"" },
		{ "{\"seq\":0,\"pid\":\"0\",\"tid\":0,\"type\":\"x\",\"ts\":\"t\",\"ts_epoch\":\"1\",\"step\":\"root\",\"payload\":{}}",
		  "wrong type for \"ts_epoch\"" },
		{ "{\"seq\":-1,\"pid\":\"0\",\"tid\":0,\"type\":\"x\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"root\",\"payload\":{}}",
		  "negative \"seq\"" },
		{ "{\"seq\":0,\"pid\":\"0\",\"tid\":-2,\"type\":\"x\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"root\",\"payload\":{}}",
		  "out of range: \"tid\"" },
		{ "{\"seq\":0,\"pid\":\"1\",\"tid\":0,\"type\":\"x\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"root\",\"payload\":{}}",
		  "malformed logical pid in \"pid\"" },
		{ "{\"seq\":0,\"pid\":\"0.01\",\"tid\":0,\"type\":\"x\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"root\",\"payload\":{}}",
		  "malformed logical pid in \"pid\"" },
		{ "{\"seq\":0,\"pid\":\"0.\",\"tid\":0,\"type\":\"x\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"root\",\"payload\":{}}",
		  "malformed logical pid in \"pid\"" },
		{ "{\"seq\":0,\"pid\":\"0\",\"tid\":0,\"type\":\"x\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"root\",\"payload\":[]}",
		  "wrong type for \"payload\"" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *o = json_tokener_parse(cases[i].line);
		char msg[128] = "";
		int r = trace_validate(o, msg, sizeof(msg));

		if (cases[i].msg)
			tap_ok(r == -EINVAL && strcmp(msg, cases[i].msg) == 0, "trace_validate: %s",
			       cases[i].msg);
		else
			tap_ok(r == 0, "trace_validate accepts case %zu (%s)", i, msg);
		json_object_put(o);
	}
}

static void test_types_pids(void)
{
	static const struct {
		const char *a, *b;
		int want;
	} cases[] = {
		{ "0", "0", 0 },       { "0", "0.1", -1 },	  { "0.2", "0.10", -1 },
		{ "0.10", "0.9", 1 },  { "0.1.2", "0.1.10", -1 }, { "0.1", "0.1.1", -1 },
		{ "0.3", "0.2.5", 1 }, { "0.12.1", "0.12.1", 0 }, { "0.100", "0.99", 1 },
	};
	size_t i, n = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int c = trace_pid_cmp(cases[i].a, cases[i].b),
		    d = trace_pid_cmp(cases[i].b, cases[i].a);

		tap_ok((c > 0) - (c < 0) == cases[i].want && (d > 0) - (d < 0) == -cases[i].want,
		       "trace_pid_cmp(%s, %s) = %d, and antisymmetric", cases[i].a, cases[i].b,
		       cases[i].want);
	}
	while (trace_types[n])
		n++;
	tap_ok(n == 14, "14 event types");
	tap_ok(trace_type_known("socket_call") && trace_type_known("governance") &&
		       !trace_type_known("socket") && !trace_type_known(NULL),
	       "trace_type_known");
}

/* Compresses each of frames[] (NULL-ended) as one zstd frame. */
static void make_trace(struct buf *out, const char *const *frames)
{
	struct zframe_enc *e = zframe_enc_new(3, 0);

	for (; *frames; frames++)
		zframe_compress(e, *frames, strlen(*frames), out);
	zframe_enc_free(e);
}

struct result {
	int events, err;
	struct at_error e;
};

static struct result read_all(const void *data, size_t len)
{
	struct result res = { 0 };
	struct trace_reader *r = trace_reader_mem(data, len, &res.e);
	struct json_object *ev;
	int k;

	while ((k = trace_reader_next(r, &ev, &res.e)) == 1) {
		res.events++;
		json_object_put(ev);
	}
	res.err = k;
	trace_reader_free(r);
	return res;
}

static void test_reader(void)
{
	static const struct {
		const char *what;
		const char *frames[4];
		int events, err;
		const char *msg;
	} cases[] = {
		{ "two frames", { EV(0) EV(1), EV(2), NULL }, 3, 0, NULL },
		{ "blank lines and a last line without newline",
		  { EV(0) "\n" EV(1),
		    "\n"
		    "{\"seq\":2,\"pid\":\"0\",\"tid\":0,\"type\":\"x\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"root\",\"payload\":{}}",
		    NULL },
		  3,
		  0,
		  NULL },
		{ "invalid JSON line",
		  { EV(0), EV(1) "{\"seq\":2,\"pid\":\n", NULL },
		  2,
		  -EBADMSG,
		  "frame 2, line 2: invalid JSON: unexpected end of data" },
		{ "bad token",
		  { EV(0) "{\"seq\":2,,}\n", NULL },
		  1,
		  -EBADMSG,
		  "frame 1, line 2: invalid JSON: " },
		{ "trailing data",
		  { EV(0) EV(1) "{} {}\n", NULL },
		  2,
		  -EBADMSG,
		  "frame 1, line 3: invalid JSON: trailing data after the value" },
		{ "trailing blanks and CRLF",
		  { "{\"seq\":0,\"pid\":\"0\",\"tid\":0,\"type\":\"x\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"root\",\"payload\":{}}  \r\n",
		    NULL },
		  1,
		  0,
		  NULL },
		{ "missing field",
		  { "{\"pid\":\"0\",\"tid\":0}\n", NULL },
		  0,
		  -EINVAL,
		  "frame 1, line 1: not an attrace/1 event: missing \"seq\"" },
		{ "not an object",
		  { EV(0) EV(1) EV(2) "42\n", NULL },
		  3,
		  -EINVAL,
		  "frame 1, line 4: not an attrace/1 event: not a JSON object" },
		{ "invalid UTF-8 in JSON",
		  { "{\"seq\":0,\"pid\":\"\xff\"}\n", NULL },
		  0,
		  -EBADMSG,
		  "frame 1, line 1: invalid JSON: " },
		{ "frames without events", { "\n", "\n\n", NULL }, 0, -ENODATA, "no events" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf t = BUF_INIT;
		struct result res;

		make_trace(&t, cases[i].frames);
		res = read_all(t.data, t.len);
		tap_ok(res.events == cases[i].events && res.err == cases[i].err,
		       "reader, %s: %d events, returns %d", cases[i].what, res.events, res.err);
		if (cases[i].msg)
			tap_ok(strncmp(res.e.msg, cases[i].msg, strlen(cases[i].msg)) == 0,
			       "reader, %s: message '%s'", cases[i].what, res.e.msg);
		buf_release(&t);
	}
}

static void test_reader_files(void)
{
	static const char *const frames[] = { EV(0), EV(1), EV(2), NULL };
	struct buf t = BUF_INIT, b = BUF_INIT;
	struct result res;
	char msg[128];
	size_t second;

	make_trace(&t, frames);

	res = read_all(EV(0), strlen(EV(0)));
	tap_ok(res.err == -EBADMSG &&
		       strcmp(res.e.msg, "not a zstd trace (bad magic at byte 0)") == 0,
	       "uncompressed JSONL: '%s'", res.e.msg);

	res = read_all("", 0);
	tap_ok(res.err == -ENODATA && strcmp(res.e.msg, "empty trace") == 0, "empty file: '%s'",
	       res.e.msg);

	res = read_all(t.data, t.len - 5);
	snprintf(msg, sizeof(msg), "frame 3 truncated at byte %zu", t.len - 5);
	tap_ok(res.err == -EPIPE && res.events == 2 && strcmp(res.e.msg, msg) == 0,
	       "truncated: 2 events, then '%s'", res.e.msg);

	buf_append(&b, t.data, t.len);
	second = (size_t)ZSTD_findFrameCompressedSize(t.data, t.len);
	b.data[second + 20] ^= 0x20;
	res = read_all(b.data, b.len);
	tap_ok(res.err == -EIO && res.events == 1 &&
		       strncmp(res.e.msg, "frame 2 (at byte ", 17) == 0,
	       "corrupt byte in frame 2: '%s'", res.e.msg);

	/* a skippable frame (e.g. an index) first and between frames */
	buf_reset(&b);
	buf_append(&b,
		   "\x50\x2a\x4d\x18\x03\x00\x00\x00"
		   "abc",
		   11);
	buf_append(&b, t.data, second);
	buf_append(&b, "\x5f\x2a\x4d\x18\x00\x00\x00\x00", 8);
	buf_append(&b, t.data + second, t.len - second);
	res = read_all(b.data, b.len);
	tap_ok(res.err == 0 && res.events == 3, "skippable frames are passed over");

	buf_reset(&b);
	buf_append(&b,
		   "\x50\x2a\x4d\x18\x03\x00\x00\x00"
		   "abc",
		   11);
	res = read_all(b.data, b.len);
	tap_ok(res.err == -ENODATA && strcmp(res.e.msg, "no events") == 0,
	       "only a skippable frame: '%s'", res.e.msg);

	/* errors: a line error lets the walk go on, a frame error sticks */
	{
		static const char *const f2[] = { EV(0) "nope\n" EV(2), NULL };
		struct buf t2 = BUF_INIT;
		struct trace_reader *r;
		struct json_object *ev = NULL;
		struct at_error e;
		int k1, k2, k3;

		make_trace(&t2, f2);
		r = trace_reader_mem(t2.data, t2.len, &e);
		k1 = trace_reader_next(r, &ev, &e);
		json_object_put(ev);
		k2 = trace_reader_next(r, &ev, &e);
		k3 = trace_reader_next(r, &ev, &e);
		json_object_put(ev);
		tap_ok(k1 == 1 && k2 == -EBADMSG && e.frame == 1 && e.line == 2 && k3 == 1,
		       "after a bad line the reader goes on to the next");
		trace_reader_free(r);
		buf_release(&t2);

		r = trace_reader_mem(t.data, t.len - 5, &e);
		while (trace_reader_next(r, &ev, &e) == 1)
			json_object_put(ev);
		tap_ok(trace_reader_next(r, &ev, &e) == -EPIPE &&
			       strncmp(e.msg, "frame 3 truncated", 17) == 0,
		       "a frame error is sticky");
		trace_reader_free(r);
	}

	/* trace_reader_open */
	{
		char path[] = "/tmp/attrace-test-trace-XXXXXX";
		int fd = mkstemp(path);
		struct trace_reader *r;
		struct json_object *ev;
		struct at_error e;
		int n = 0, k;

		tap_ok(fd >= 0 && write(fd, t.data, t.len) == (ssize_t)t.len, "temp trace written");
		close(fd);
		r = trace_reader_open(path, &e);
		while (r && (k = trace_reader_next(r, &ev, &e)) == 1) {
			n++;
			json_object_put(ev);
		}
		tap_ok(r && n == 3, "trace_reader_open reads a file");
		trace_reader_free(r);
		unlink(path);
		r = trace_reader_open(path, &e);
		tap_ok(!r && strcmp(e.msg, "cannot open: No such file or directory") == 0,
		       "a missing file: '%s'", e.msg);
		trace_reader_free(NULL);
	}
	buf_release(&t);
	buf_release(&b);
}

/* The time batch decoder against values encoded by hand: first_ns, then
 * zigzag LEB128 deltas (+1000, -1, +2^40) in base64. */
static void test_time_values(void)
{
	struct json_object *p;
	int64_t *v = NULL;
	long n;
	struct buf b = BUF_INIT;
	/* deltas: 1000 -> zz 2000 = d0 0f; -1 -> zz 1 = 01;
	 * 2^40 -> zz 2^41 = 80 80 80 80 80 40 */
	static const unsigned char raw[] = { 0xd0, 0x0f, 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40 };

	b64_encode(&b, raw, sizeof(raw));
	buf_putc(&b, '\0');
	p = json_object_new_object();
	json_object_object_add(p, "count", json_object_new_int64(4));
	json_object_object_add(p, "first_ns", json_object_new_int64(1700000000000000000LL));
	json_object_object_add(p, "deltas_b64", json_object_new_string(b.data));
	n = trace_time_values(p, &v);
	tap_ok(n == 4, "time batch: 4 values (got %ld)", n);
	if (n == 4) {
		tap_ok(v[0] == 1700000000000000000LL, "time batch: first value");
		tap_ok(v[1] == v[0] + 1000 && v[2] == v[1] - 1, "time batch: +1000 then -1");
		tap_ok(v[3] == v[2] + (1LL << 40), "time batch: a 6-byte varint");
	}
	free(v);
	json_object_object_add(p, "count", json_object_new_int64(5));
	tap_ok(trace_time_values(p, &v) == -EINVAL,
	       "time batch: count beyond the deltas is -EINVAL");
	json_object_object_add(p, "count", json_object_new_int64(3));
	tap_ok(trace_time_values(p, &v) == -EINVAL, "time batch: trailing deltas are -EINVAL");
	json_object_object_add(p, "count", json_object_new_int64(1));
	json_object_object_add(p, "deltas_b64", json_object_new_string(""));
	n = trace_time_values(p, &v);
	tap_ok(n == 1 && v[0] == 1700000000000000000LL, "time batch: one value, no deltas");
	free(v);
	json_object_put(p);
	buf_release(&b);
}

static void test_payload_bytes(void)
{
	struct json_object *p = json_object_new_object();
	struct buf out = BUF_INIT;

	json_object_object_add(p, "data", json_object_new_string_len("a\0b", 3));
	tap_ok(trace_payload_bytes(p, &out) == 0 && out.len == 3 &&
		       memcmp(out.data, "a\0b", 3) == 0,
	       "payload bytes: text data, NUL included");
	json_object_object_del(p, "data");
	buf_reset(&out);
	json_object_object_add(p, "data_b64", json_object_new_string("/w=="));
	tap_ok(trace_payload_bytes(p, &out) == 0 && out.len == 1 &&
		       (unsigned char)out.data[0] == 0xff,
	       "payload bytes: base64 data");
	json_object_object_add(p, "data_b64", json_object_new_string("!!"));
	tap_ok(trace_payload_bytes(p, &out) == -EINVAL, "payload bytes: bad base64 is -EINVAL");
	json_object_put(p);
	buf_release(&out);
}

/* Reads r to its end: *ret_n events, *ret_seqs their seqs as decimal
 * digits in order (seqs 2, 3, 4 give 234). @return trace_reader_next's last. */
static int read_seqs(struct trace_reader *r, struct at_error *e, int *ret_n, int *ret_seqs)
{
	struct json_object *ev;
	int k;

	*ret_n = *ret_seqs = 0;
	while ((k = trace_reader_next(r, &ev, e)) == 1) {
		*ret_seqs = *ret_seqs * 10 +
			    (int)json_object_get_int64(json_object_object_get(ev, "seq"));
		(*ret_n)++;
		json_object_put(ev);
	}
	return k;
}

/* trace_reader_skip_type: lines of that type pass unparsed (even when
 * broken), a "type" inside the payload or a step never makes a line skip. */
static void test_skip_type(void)
{
	static const char text[] = EV(
		0) "{\"seq\":1,\"pid\":\"0\",\"tid\":0,\"type\":\"network_call\",broken\n"
		   "{\"seq\":2,\"pid\":\"0\",\"tid\":0,\"type\":\"error\",\"ts\":\"2026-11-22T04:17:00.000001Z\","
		   "\"ts_epoch\":1795321020.000001,\"step\":\"root\",\"payload\":{\"x\":{\"type\":\"network_call\"}}}\n"
		   "{\"seq\":3,\"pid\":\"0\",\"tid\":0,\"type\":\"error\",\"ts\":\"2026-11-22T04:17:00.000001Z\","
		   "\"ts_epoch\":1795321020.000001,\"step\":\"\\\"type\\\":\\\"network_call\\\"\",\"payload\":{}}\n" EV(
			   4);
	char z[4096], longname[64];
	size_t zn = ZSTD_compress(z, sizeof(z), text, sizeof(text) - 1, 1);
	struct at_error e = { 0 };
	struct trace_reader *r = trace_reader_mem(z, zn, &e);
	int k, n, seqs;

	tap_ok(!ZSTD_isError(zn) && r, "skip_type: a trace to read");
	tap_ok(trace_reader_skip_type(r, "network_call") == 0, "skip_type: network_call accepted");
	k = read_seqs(r, &e, &n, &seqs);
	tap_ok(k == 0 && n == 4 && seqs == 234,
	       "skip_type: only the top-level type skips (got %d events, seqs %d, end %d: %s)", n,
	       seqs, k, e.msg);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	tap_ok(trace_reader_skip_type(r, longname) == -EINVAL, "skip_type: a long name is refused");
	trace_reader_free(r);
}

/* trace_reader_skip_type_checked: skipped lines are still checked and
 * counted; what the scan refuses is the caller's (json-c decides). */
static void test_skip_type_checked(void)
{
#define NC(seq, payload)                                                                           \
	"{\"seq\":" #seq ",\"pid\":\"0\",\"tid\":0,\"type\":\"network_call\","                     \
	"\"ts\":\"2026-11-22T04:17:00.000001Z\",\"ts_epoch\":1795321020.000001,\"step\":\"root\"," \
	"\"payload\":" payload "}\n"
	static const char text[] =
		EV(1) NC(2, "{\"url\":\"http://h/\",\"headers\":[[\"a\",\"b\"]]}")
			NC(3, "{\"body\":\"\\u0000\"}") EV(4);
	static const char only[] = NC(1, "{}");
	static const char broken[] =
		EV(1) "{\"seq\":2,\"pid\":\"0\",\"tid\":0,\"type\":\"network_call\",x\n";
#undef NC
	const char *texts[] = { text, only, broken };
	size_t lens[] = { sizeof(text) - 1, sizeof(only) - 1, sizeof(broken) - 1 };
	int want_k[] = { 0, 0, -EBADMSG }, want_n[] = { 3, 0, 1 }, want_seqs[] = { 134, 0, 1 };

	for (int i = 0; i < 3; i++) {
		char z[4096];
		size_t zn = ZSTD_compress(z, sizeof(z), texts[i], lens[i], 1);
		struct at_error e = { 0 };
		struct trace_reader *r = trace_reader_mem(z, zn, &e);
		int k = -1, n = -1, seqs = -1;

		if (r && trace_reader_skip_type_checked(r, "network_call") == 0)
			k = read_seqs(r, &e, &n, &seqs);
		tap_ok(k == want_k[i] && n == want_n[i] && seqs == want_seqs[i],
		       "skip_type_checked case %d (got %d events, seqs %d, end %d: %s)", i, n, seqs,
		       k, e.msg);
		trace_reader_free(r);
	}
}

#define EVP(seq, pid, type)                                                                        \
	"{\"seq\":" #seq ",\"pid\":\"" pid "\",\"tid\":0,\"type\":\"" type "\","                   \
	"\"ts\":\"2026-11-22T04:17:00.000001Z\",\"ts_epoch\":1795321020.000001,\"step\":\"root\"," \
	"\"payload\":{\"path\":\"/p\",\"n\":4}}\n"

/* trace_reader_only_pid: other plain pids' lines pass unparsed (even when
 * broken), except the kept type; a pid with escapes is parsed. */
static void test_only_pid(void)
{
	static const char text[] =
		EVP(1, "0", "random") "{\"seq\":2,\"pid\":\"0\",broken\n" EVP(3, "0.1", "random")
			EVP(4, "0.1", "file_open") EVP(5, "0.11", "random")
				EVP(6, "\\u0030", "random") EVP(7, "0.1", "network_call");
	char z[4096];
	size_t zn = ZSTD_compress(z, sizeof(z), text, sizeof(text) - 1, 1);
	struct at_error e = { 0 };
	struct trace_reader *r = trace_reader_mem(z, zn, &e);
	int k, n, seqs;

	tap_ok(!ZSTD_isError(zn) && r, "only_pid: a trace to read");
	tap_ok(trace_reader_skip_type(r, "network_call") == 0 &&
		       trace_reader_only_pid(r, "0.1", "file_open") == 0,
	       "only_pid: 0.1 with file_open accepted");
	k = read_seqs(r, &e, &n, &seqs);
	tap_ok(k == 0 && n == 3 && seqs == 346,
	       "only_pid: other pids pass, file_open and escapes do not (got %d events, seqs %d, "
	       "end %d: %s)",
	       n, seqs, k, e.msg);
	trace_reader_free(r);
}

/* trace_sock_scan() against json-c: a line it reads must be one json-c and
 * trace_validate() accept, with the same members; anything else it leaves
 * to json-c. */
static void test_sock_scan(void)
{
#define HEAD \
	"{\"seq\":7,\"pid\":\"0.1\",\"tid\":2,\"type\":\"socket_call\",\"ts\":\"t\",\"ts_epoch\":1.5,\"step\":\"root\","
	static const struct {
		const char *line;
		int want;
	} cases[] = {
		{ HEAD
		  "\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"fn\":\"send\",\"n\":5,\"data\":\"hello\"}}",
		  1 },
		{ HEAD
		  "\"payload\":{\"op\":\"recv\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"n\":4,\"data\":\"a\\r\\n\\u00e9\\\"\\/\"}}",
		  1 },
		{ HEAD
		  "\"payload\":{\"op\":\"recv\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"n\":3,\"data_b64\":\"AP8A\",\"peek\":true}}",
		  1 },
		{ HEAD
		  "\"payload\":{\"op\":\"recv\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"n\":-1,\"errno\":\"EAGAIN\"}}",
		  1 },
		{ HEAD
		  "\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"n\":2,\"data\":\"h\xc3\xa9\",\"tls\":true,\"tls_opaque\":false}}  ",
		  1 },
		{ "{ \"payload\" : {\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"x\":[1,{\"y\":null}]}, \"seq\":1,\"pid\":\"0\",\"tid\":0,\"type\":\"socket_call\",\"ts\":\"a\\u0041\",\"ts_epoch\":17,\"step\":\"s\"}",
		  1 },
		/* left to json-c */
		{ HEAD
		  "\"payload\":{\"op\":\"connect\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"peer\":\"1.2.3.4:80\",\"n\":0}}",
		  0 },
		{ HEAD
		  "\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"udp\",\"n\":1,\"data\":\"x\"}}",
		  0 },
		{ HEAD
		  "\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"peer\":\"x\",\"n\":1}}",
		  0 },
		{ HEAD
		  "\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"n\":1,\"n\":2}}",
		  0 },
		{ HEAD
		  "\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"n\":1.0}}",
		  0 },
		{ HEAD
		  "\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"data\":\"\\u0000\"}}",
		  0 },
		{ HEAD
		  "\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"data\":\"\\ud800\"}}",
		  0 },
		{ HEAD
		  "\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"data\":\"\xff\"}}",
		  0 },
		{ HEAD
		  "\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"data\":7}}",
		  0 },
		{ HEAD "\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\"}} x", 0 },
		{ HEAD "\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\"}", 0 },
		{ HEAD "\"payload\":{\"op\":\"send\",\"conn\":\"0.1\"}}", 0 },
		{ "{\"seq\":-1,\"pid\":\"0\",\"tid\":0,\"type\":\"socket_call\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"root\",\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\"}}",
		  0 },
		{ "{\"seq\":1,\"pid\":\"1\",\"tid\":0,\"type\":\"socket_call\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"root\",\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\"}}",
		  0 },
		{ "{\"seq\":1,\"pid\":\"0\",\"tid\":2147483648,\"type\":\"socket_call\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"root\",\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\"}}",
		  0 },
		{ "{\"seq\":1,\"pid\":\"0\",\"tid\":0,\"type\":\"socket_call\",\"ts\":\"t\",\"step\":\"root\",\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\"}}",
		  0 },
		{ "{\"seq\":1,\"pid\":\"0\",\"tid\":0,\"type\":\"time\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"root\",\"payload\":{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\"}}",
		  0 },
	};
#undef HEAD

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *s = cases[i].line;
		struct trace_sock_line l;
		struct json_object *ev = json_tokener_parse(s), *p = NULL, *o;
		struct buf a = BUF_INIT, b = BUF_INIT;
		char msg[200];
		int got = trace_sock_scan(s, strlen(s), &l), ok = got == cases[i].want;

		if (got == 1) {
			/* json-c reads the same */
			ok = ok && ev && trace_validate(ev, msg, sizeof(msg)) == 0;
			ok = ok && json_object_object_get_ex(ev, "payload", &p);
			ok = ok &&
			     (uint64_t)json_object_get_int64(json_object_object_get(ev, "seq")) ==
				     l.seq &&
			     json_object_get_int(json_object_object_get(ev, "tid")) == l.tid &&
			     !strcmp(json_object_get_string(json_object_object_get(ev, "pid")),
				     l.pid);
			ok = ok &&
			     !strcmp(json_object_get_string(json_object_object_get(p, "op")), l.op);
			ok = ok && json_object_object_get_ex(p, "conn", &o) &&
			     (size_t)json_object_get_string_len(o) == l.conn_len &&
			     !memcmp(json_object_get_string(o), l.conn, l.conn_len);
			ok = ok && (json_object_object_get_ex(p, "errno", &o)
					    ? l.err && !memcmp(json_object_get_string(o), l.err,
							       l.err_len)
					    : !l.err);
			ok = ok && (json_object_object_get_ex(p, "n", &o) ? json_object_get_int64(o)
									  : -1) == l.n;
			ok = ok && json_object_object_get_ex(p, "peek", NULL) == l.peek &&
			     json_object_object_get_ex(p, "tls_opaque", NULL) == l.tls_opaque;
			ok = ok && trace_payload_bytes(p, &a) == 0 &&
			     trace_sock_bytes(&l, &b) == 0 && a.len == b.len &&
			     (!a.len || !memcmp(a.data, b.data, a.len));
		}
		tap_ok(ok, "trace_sock_scan case %zu: %s", i,
		       got ? "read, as json-c" : "left to json-c");
		buf_release(&a);
		buf_release(&b);
		json_object_put(ev);
	}
}

int main(void)
{
	test_fmt_ts();
	test_fmt_ts_cache();
	test_sectext();
	test_head();
	test_validate();
	test_types_pids();
	test_reader();
	test_reader_files();
	test_time_values();
	test_payload_bytes();
	test_skip_type();
	test_skip_type_checked();
	test_only_pid();
	test_sock_scan();
	return tap_done();
}
