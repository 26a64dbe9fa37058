/* SPDX-License-Identifier: MIT */
/* test-ingest.c -- the collector's fast line scan (collector/ingest.c) against the json-c path.
 *
 * ingest_parse() with ingest_fast_path on and off must give the same answer
 * for every input: the same error and line, or the same events, summary,
 * fingerprint and canonical form. Checked on the unit test traces, on edge
 * cases of JSON and of the envelope, and on deterministic random mutations.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/ingest.h"
#include "common/buf.h"
#include "tap.h"

static const struct ingest_limits lim = {
	.max_decompressed = 1 << 22,
	.max_line = 1 << 20,
	.window_log_max = 20,
};

struct result {
	int r;
	char msg[256];
	long line;
	size_t n, duplicates;
	struct trace_summary sum;
	char name[64];
	char fp[FP_HEX_LEN + 1];
	struct buf canon;
};

static void run(const char *body, size_t len, int fast, struct result *res)
{
	struct ingest_batch b;
	struct at_error err;

	memset(&err, 0, sizeof(err));
	memset(res, 0, sizeof(*res));
	ingest_fast_path = fast;
	res->r = ingest_parse(body, len, 0, &lim, &b, &err);
	ingest_fast_path = 1;
	if (res->r < 0) {
		snprintf(res->msg, sizeof(res->msg), "%s", err.msg);
		res->line = err.line;
		return;
	}
	res->n = b.n;
	res->duplicates = b.duplicates;
	res->sum = b.sum;
	snprintf(res->name, sizeof(res->name), "%s", b.sum.name ? b.sum.name : "(none)");
	res->sum.name = NULL;
	memcpy(res->fp, b.fp_hex, sizeof(res->fp));
	if (fp_canonical(b.fp, &res->canon) < 0)
		res->r = -ENOMEM;
	ingest_batch_release(&b);
}

static int mismatches;

/* @return 1 when both paths agree on body; prints the first few that do not. */
static int same(const char *body, size_t len)
{
	struct result f, s;
	int ok;

	run(body, len, 1, &f);
	run(body, len, 0, &s);
	ok = f.r == s.r && strcmp(f.msg, s.msg) == 0 && f.line == s.line && f.n == s.n &&
	     f.duplicates == s.duplicates && strcmp(f.name, s.name) == 0 &&
	     strcmp(f.fp, s.fp) == 0 && memcmp(&f.sum, &s.sum, sizeof(f.sum)) == 0 &&
	     f.canon.len == s.canon.len &&
	     (f.canon.len == 0 || memcmp(f.canon.data, s.canon.data, f.canon.len) == 0);
	if (!ok && mismatches++ < 5)
		printf("# mismatch (fast %d '%s' %s, json-c %d '%s' %s) on:\n# %.*s\n", f.r, f.msg,
		       f.fp, s.r, s.msg, s.fp, (int)(len > 600 ? 600 : len), body);
	buf_release(&f.canon);
	buf_release(&s.canon);
	return ok;
}

static const char start[] =
	"{\"seq\":0,\"pid\":\"0\",\"tid\":0,\"type\":\"agent_start\",\"ts\":\"2026-11-22T04:17:00Z\","
	"\"ts_epoch\":1795321020.000001,\"step\":\"root\",\"payload\":{\"format\":\"attrace/1\","
	"\"trace_id\":\"ab12\",\"parent\":null,\"via\":\"root\",\"argv\":[\"./a\"],\"exe\":\"/w/a\","
	"\"name\":\"n\\u00e9\"}}";

/* An upload of the agent_start above and line: both paths must agree. */
static int same_line(const char *line)
{
	struct buf b = BUF_INIT;
	int ok;

	if (buf_puts(&b, start) < 0 || buf_putc(&b, '\n') < 0 || buf_puts(&b, line) < 0)
		abort();
	ok = same(b.data, b.len) && same(line, strlen(line));
	buf_release(&b);
	return ok;
}

#define EV(type, payload)                                     \
	"{\"seq\":7,\"pid\":\"0\",\"tid\":1,\"type\":\"" type \
	"\",\"ts\":\"2026-11-22T04:17:00Z\","                 \
	"\"ts_epoch\":1795321020.5,\"step\":\"s1\",\"payload\":" payload "}"

static const char *const cases[] = {
	EV("socket_call", "{\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"fn\":\"send\","
			  "\"n\":12,\"data\":\"GET / HTTP/1.1\\r\\n\\r\\n\"}"),
	EV("socket_call", "{\"op\":\"recv\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"n\":3,"
			  "\"data_b64\":\"AAEC\"}"),
	EV("socket_call", "{\"op\":\"connect\",\"conn\":\"0.2\",\"proto\":\"udp\",\"peer\":"
			  "\"1.2.3.4:53\",\"errno\":\"EINPROGRESS\"}"),
	EV("time", "{\"clock\":\"CLOCK_REALTIME\",\"ns\":1795321020000000000}"),
	EV("time", "{\"values\":\"AgQG\",\"x\":[[[[]]]],\"y\":{\"\":{}}}"),
	EV("governance", "{}"),
	EV("thread_start", "{\"tid\":3}"),
	EV("file_open", "{\"fn\":\"fopen\",\"path\":\"/srv/a b\\/c\",\"flags\":\"w+\",\"fd\":3}"),
	EV("file_open",
	   "{\"fn\":\"open\",\"path\":\"d\",\"flags\":577,\"fd\":-1,\"errno\":\"EACCES\"}"),
	EV("observation",
	   "{\"name\":\"n\",\"phase\":\"end\",\"result\":{\"b\":[1,-0,0.5,1e3,1E-2,"
	   "-1.5e+2,0.1,123456789012345678,true,false,null,\"\\u00e9\\u4e2d\\/\\\"\\\\"
	   "\\b\\f\\n\\r\\t\\u001f\",{}],\"a\":[],\"\\u0041\":\"dup\",\"A\":\"last\"}}"),
	EV("tool_call", "{\"name\":\"caf\xc3\xa9\",\"result\":\"\xe4\xb8\xad\xf0\x9f\x98\x80\"}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":1.7976931348623157e308}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":1e400}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":-1234567890123456789}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":[9223372036854775807,9223372036854775808,"
			"-9223372036854775807,-9223372036854775808,-9223372036854775809,"
			"1795321020000000000]}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":12345678901234567890123}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":\"\\ud83d\\ude00\"}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":\"\\ud83d\"}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":\"a\\u0000b\"}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":\"\x01\"}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":\"\xff\"}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":\"\xc0\x80\"}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":\"\xed\xa0\x80\"}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":01}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":1.}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":.5}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":-}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":+1}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":1e}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":NaN}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":Infinity}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":'a'}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":[1,]}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":{\"a\":1,}}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":{\"a\" 1}}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":tru}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":True}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":\"\\x\"}"),
	EV("tool_call", "{\"name\":\"x\",\"result\":\"\\u12\"}"),
	EV("tool_call", "{\"name\" : \"x\" ,\t\"result\" :\r[ 1 , 2 ] }"),
	EV("process_spawn", "{\"op\":\"posix_spawn\",\"path\":\"/bin/true\",\"argv\":[\"true\"],"
			    "\"child\":\"0.1\"}"),
	EV("dns", "{\"fn\":\"getaddrinfo\",\"name\":\"example.com\",\"answers\":[]}"),
	EV("random", "{\"source\":\"getrandom\",\"n\":16,\"data_b64\":\"AAAA\"}"),
	EV("network_call", "{\"method\":\"GET\",\"url\":\"http://x/\"}"),
	EV("error", "{\"what\":\"dropped\",\"count\":3}"),
	EV("made_up_type", "{\"z\":1}"),
	EV("agent_complete", "{\"how\":\"main\",\"status\":3}"),
	EV("agent_complete", "{\"how\":\"signal\",\"signal\":9}"),
	EV("agent_start", "{\"trace_id\":\"ab12\",\"via\":\"exec\",\"exe\":\"/bin/b\"}"),
	EV("agent_start", "{\"trace_id\":\"cd34\",\"via\":\"exec\",\"exe\":\"/bin/b\"}"),
	EV("agent_start", "{\"trace_id\":\"xyz\"}"),
	EV("socket_call", "[]"),
	EV("socket_call", "null"),
	EV("socket_call", "{\"op\":\"send\"}   "),
	EV("socket_call", "{\"op\":\"send\"}\t\r"),
	EV("socket_call", "{\"op\":\"send\"} x"),
	EV("socket_call", "{\"op\":\"send\"}}"),
	EV("socket_call", "{\"op\":\"send\""),
	" " EV("time", "{}"),
	"{\"seq\":1,\"pid\":\"0\",\"tid\":0,\"type\":\"time\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"r\","
	"\"payload\":{}}",
	"{\"seq\":1,\"pid\":\"0\",\"tid\":0,\"type\":\"time\",\"ts\":\"t\",\"ts_epoch\":\"1\",\"step\":"
	"\"r\",\"payload\":{}}",
	"{\"seq\":1,\"pid\":\"0\",\"tid\":0,\"type\":\"time\",\"ts\":\"t\",\"ts_epoch\":-1.5,\"step\":"
	"\"r\",\"payload\":{}}",
	"{\"seq\":0,\"pid\":\"0\",\"tid\":0,\"type\":\"agent_start\",\"ts\":\"t\",\"ts_epoch\":1e300,"
	"\"step\":\"r\",\"payload\":{\"trace_id\":\"ab12\"}}",
	"{\"seq\":0,\"pid\":\"0\",\"tid\":0,\"type\":\"agent_start\",\"ts\":\"t\",\"ts_epoch\":-1e300,"
	"\"step\":\"r\",\"payload\":{\"trace_id\":\"ab12\"}}",
	"{\"seq\":1,\"pid\":\"0\",\"tid\":0,\"type\":\"time\",\"ts\":\"t\",\"step\":\"r\",\"payload\":{}}",
	"{\"seq\":1,\"pid\":\"0\",\"tid\":0,\"type\":\"time\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"r\","
	"\"payload\":{},\"seq\":2}",
	"{\"seq\":1,\"p\\u0069d\":\"0\",\"tid\":0,\"type\":\"time\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":"
	"\"r\",\"payload\":{}}",
	"{\"seq\":1,\"pid\":\"\\u0030\",\"tid\":0,\"type\":\"file_open\",\"ts\":\"t\",\"ts_epoch\":1,"
	"\"step\":\"r\",\"payload\":{\"path\":\"p\"}}",
	"{\"seq\":1,\"pid\":\"0\",\"tid\":0,\"type\":\"file_open\",\"ts\":\"\\u00e9\\n\",\"ts_epoch\":1,"
	"\"step\":\"r\\t\",\"payload\":{\"path\":\"p\"}}",
	"{\"seq\":-1,\"pid\":\"0\",\"tid\":0,\"type\":\"time\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":"
	"\"r\",\"payload\":{}}",
	"{\"seq\":1.5,\"pid\":\"0\",\"tid\":0,\"type\":\"time\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":"
	"\"r\",\"payload\":{}}",
	"{\"seq\":1234567890123456789,\"pid\":\"0\",\"tid\":0,\"type\":\"time\",\"ts\":\"t\","
	"\"ts_epoch\":1,\"step\":\"r\",\"payload\":{}}",
	"{\"seq\":99999999999999999999,\"pid\":\"0\",\"tid\":0,\"type\":\"time\",\"ts\":\"t\","
	"\"ts_epoch\":1,\"step\":\"r\",\"payload\":{}}",
	"{\"seq\":1,\"pid\":\"0\",\"tid\":2147483648,\"type\":\"time\",\"ts\":\"t\",\"ts_epoch\":1,"
	"\"step\":\"r\",\"payload\":{}}",
	"{\"seq\":1,\"pid\":\"0\",\"tid\":2147483647,\"type\":\"file_open\",\"ts\":\"t\",\"ts_epoch\":1,"
	"\"step\":\"r\",\"payload\":{\"path\":\"p\"}}",
	"{\"seq\":1,\"pid\":\"0.01\",\"tid\":0,\"type\":\"time\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":"
	"\"r\",\"payload\":{}}",
	"{\"seq\":1,\"pid\":0,\"tid\":0,\"type\":\"time\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":\"r\","
	"\"payload\":{}}",
	"{\"seq\":1,\"pid\":\"0.3\",\"tid\":0,\"type\":\"file_open\",\"ts\":\"t\",\"ts_epoch\":1,"
	"\"step\":\"r\",\"payload\":{\"path\":\"p\"},\"extra\":[1,{\"a\":null}]}",
	"{\"seq\":1,\"pid\":\"0\",\"tid\":0,\"type\":\"time\",\"ts\":\"t\",\"ts_epoch\":1,\"step\":null,"
	"\"payload\":{}}",
	"{}",
	"[]",
	"{\"seq\":1}",
	"not json",
};

/* Payloads nested n deep. */
static void deep(struct buf *b, int n)
{
	int i;

	buf_reset(b);
	buf_puts(b, "{\"seq\":3,\"pid\":\"0\",\"tid\":0,\"type\":\"tool_call\",\"ts\":\"t\","
		    "\"ts_epoch\":1,\"step\":\"r\",\"payload\":{\"name\":\"d\",\"result\":");
	for (i = 0; i < n; i++)
		buf_puts(b, i % 2 ? "{\"k\":" : "[");
	buf_puts(b, "1");
	for (i = n - 1; i >= 0; i--)
		buf_puts(b, i % 2 ? "}" : "]");
	buf_puts(b, "}}");
}

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const char *const snippets[] = {
	"\\n",	"\\u00e9", "\\ud800",  "\\u0000",    "\"",   "\\",   "{",	 "}",
	"[",	"]",	   ",",	       ":",	     " ",    "\t",   "\r",	 "0",
	"-",	".",	   "e",	       "1e5",	     "null", "true", "\xc3\xa9", "\xff",
	"\x01", "01",	   "\"a\":1,", "\"seq\":2,", "9",    "\"",   "\"pid\"",	 "tid",
	"0.1",	"\\/",	   "\xe4\xb8", "}}",	     "[[",   "\"\"", "",	 "x",
};

static void mutate(struct buf *b, const char *line)
{
	size_t n = strlen(line), k, i, pos;
	const char *sn;

	buf_reset(b);
	buf_puts(b, line);
	k = 1 + next() % 3;
	for (i = 0; i < k && b->len; i++) {
		pos = next() % b->len;
		sn = snippets[next() % (sizeof(snippets) / sizeof(snippets[0]))];
		switch (next() % 3) {
		case 0: /* replace one byte */
			memmove(b->data + pos, b->data + pos + 1, b->len - pos - 1);
			b->len--;
			/* fall through */
		case 1: /* insert */
			if (buf_reserve(b, strlen(sn)) < 0)
				abort();
			memmove(b->data + pos + strlen(sn), b->data + pos, b->len - pos);
			memcpy(b->data + pos, sn, strlen(sn));
			b->len += strlen(sn);
			break;
		default: /* delete */
			memmove(b->data + pos, b->data + pos + 1, b->len - pos - 1);
			b->len--;
			break;
		}
		b->data[b->len] = '\0';
	}
	(void)n;
}

static int read_data(const char *name, struct buf *out)
{
	char path[1024];
	FILE *f;
	char chunk[4096];
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(out, chunk, n);
	fclose(f);
	return 0;
}

int main(void)
{
	static const char *const files[] = { "fp-agent.jsonl", "fp-agent-chunked.jsonl",
					     "fp-agent-env.jsonl", "fp-agent-interleaved.jsonl",
					     "fp-ops.jsonl" };
	struct buf b = BUF_INIT, m = BUF_INIT;
	size_t i, nlines = 0, fast_ok = 0;
	char **pool = NULL;
	int ok, d;

	/* the unit traces, whole and line by line (their trace id made hex) */
	ok = 1;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *p, *line, *save = NULL;

		buf_reset(&b);
		if (read_data(files[i], &b) < 0) {
			ok = 0;
			continue;
		}
		for (p = b.data; (p = strstr(p, "\"trace_id\":\"t\"")) != NULL; p++)
			p[12] = 'a';
		ok &= same(b.data, b.len);
		for (line = strtok_r(b.data, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char **np = realloc(pool, (nlines + 1) * sizeof(*np));

			if (!np)
				abort();
			pool = np;
			pool[nlines++] = strdup(line);
			ok &= same_line(line);
		}
	}
	tap_ok(ok && nlines > 100,
	       "the unit traces: the same with and without the fast path (%zu lines)", nlines);

	ok = 1;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok &= same_line(cases[i]);
	tap_ok(ok, "%zu edge cases of JSON and of the envelope: the same either way",
	       sizeof(cases) / sizeof(cases[0]));

	ok = 1;
	for (d = 1; d <= 70; d++) {
		deep(&m, d);
		ok &= same_line(m.data);
	}
	tap_ok(ok, "payloads nested 1 to 70 deep: the same either way");

	/* the fast path does take the common lines */
	for (i = 0; i < nlines; i++) /* not a uint64 past INT64_MAX: json-c decides */
		fast_ok += ingest_fast_scan_ok(pool[i], strlen(pool[i])) ||
			   strstr(pool[i], "18446744073709551615");
	for (i = 0; i < 8; i++)
		fast_ok += ingest_fast_scan_ok(cases[i], strlen(cases[i]));
	tap_ok(fast_ok == nlines + 8,
	       "the fast path takes every line of the unit traces and the first cases (%zu of %zu)",
	       fast_ok, nlines + 8);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char **np = realloc(pool, (nlines + 1) * sizeof(*np));

		if (!np)
			abort();
		pool = np;
		pool[nlines++] = strdup(cases[i]);
	}
	ok = 1;
	for (i = 0; i < 20000; i++) {
		mutate(&m, pool[next() % nlines]);
		ok &= same_line(m.data);
	}
	tap_ok(ok, "20000 random mutations of those lines: the same either way");

	/* decimals: the fast path reads them as strtod does (in ts_epoch and
	 * in results, whose canonical form prints them with 17 digits) */
	ok = 1;
	for (i = 0; i < 2000; i++) {
		char num[64];
		int k, nd = 1 + (int)(next() % 19), dot = (int)(next() % (uint64_t)nd), j;

		buf_reset(&m);
		buf_puts(&m,
			 "{\"seq\":3,\"pid\":\"0\",\"tid\":0,\"type\":\"tool_call\",\"ts\":\"t\","
			 "\"ts_epoch\":");
		for (k = 0; k < 11; k++) {
			size_t n = 0;

			if (next() % 4 == 0)
				num[n++] = '-';
			for (j = 0; j < nd; j++) {
				if (j == dot + 1)
					num[n++] = '.';
				num[n++] = (char)('0' + next() % 10);
			}
			if (dot + 1 >= nd) {
				num[n++] = '.';
				num[n++] = (char)('0' + next() % 10);
			}
			num[n] = '\0';
			if (n > 1 && num[num[0] == '-'] == '0' && num[(num[0] == '-') + 1] != '.')
				num[num[0] == '-'] = '1'; /* no leading zero */
			buf_puts(&m, num);
			buf_puts(&m,
				 k == 0 ? ",\"step\":\"r\",\"payload\":{\"name\":\"d\",\"result\":["
				 : k < 10 ? ","
					  : "]}}");
		}
		ok &= same_line(m.data) && ingest_fast_scan_ok(m.data, m.len);
	}
	tap_ok(ok, "2000 lines of random decimals: the fast path's values are strtod's");

	for (i = 0; i < nlines; i++)
		free(pool[i]);
	free(pool);
	buf_release(&b);
	buf_release(&m);
	return tap_done();
}
