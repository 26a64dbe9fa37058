/* SPDX-License-Identifier: MIT */
/* test-fingerprint.c -- unit tests for common/fingerprint.c: SHA-256, canonical form goldens, invariances.
 *
 * Golden files in data/: fp-NAME.jsonl (an uncompressed trace), fp-NAME.exp
 * (its canonical form) and fp-NAME.hex (its fingerprint). Variants
 * fp-agent-*.jsonl must give exactly fp-agent.exp. To regenerate the
 * goldens after a deliberate change of the canonical form, run the test with
 * ATTRACE_UPDATE_GOLDEN=1 and review the diff.
 *
 * Generated traces (gen_*) check what the goldens cannot show at a glance:
 * a thread pool's schedule, children's lpids and conn ids never change the
 * fingerprint; what any thread or child sent always does.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/fingerprint.h"
#include "common/trace.h"
#include "common/zframe.h"
#include "tap.h"

static int slurp(const char *name, struct buf *out)
{
	char path[512], chunk[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
	f = fopen(path, "rb");
	if (!f)
		return -errno;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(out, chunk, n);
	fclose(f);
	return 0;
}

static void spit(const char *name, const char *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
	f = fopen(path, "wb");
	if (!f)
		return;
	fwrite(p, 1, n, f);
	fclose(f);
}

/* Compresses JSONL text into frames of at most `per` lines (0: one frame). */
static void compress_lines(const char *text, size_t len, size_t per, struct buf *out)
{
	struct zframe_enc *e = zframe_enc_new(3, 0);
	size_t start = 0, i, lines = 0;

	for (i = 0; i < len; i++) {
		if (text[i] != '\n' || !per || ++lines % per)
			continue;
		zframe_compress(e, text + start, i + 1 - start, out);
		start = i + 1;
	}
	zframe_compress(e, text + start, len - start, out);
	zframe_enc_free(e);
}

/* Fingerprints JSONL text: canonical form into canon, hex into hex. @return events or -errno. */
/* Header fields the next fingerprint_text leaves out (fp_ignore_headers). */
static const char *fp_ignore;

static int fingerprint_text(const char *text, size_t len, size_t per, struct buf *canon,
			    char hex[FP_HEX_LEN + 1])
{
	struct buf z = BUF_INIT;
	struct trace_reader *r;
	struct json_object *ev;
	struct at_error e;
	struct fp *f = fp_new();
	int k, n = 0;

	fp_ignore_headers(f, fp_ignore);
	compress_lines(text, len, per, &z);
	r = trace_reader_mem(z.data, z.len, &e);
	while ((k = trace_reader_next(r, &ev, &e)) == 1) {
		if (fp_add(f, ev) < 0)
			k = -ENOMEM;
		json_object_put(ev);
		n++;
		if (k < 0)
			break;
	}
	if (k < 0)
		printf("# %s\n", e.msg);
	if (canon)
		fp_canonical(f, canon);
	fp_final(f, hex);
	fp_free(f);
	trace_reader_free(r);
	buf_release(&z);
	return k < 0 ? k : n;
}

static void test_sha256(void)
{
	static const struct {
		const char *in, *hex;
	} vec[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	char hex[FP_HEX_LEN + 1], path[] = "/tmp/attrace-test-sha-XXXXXX";
	size_t i;
	int fd;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		struct sha256 *s = sha256_new();
		size_t k, n = strlen(vec[i].in);

		sha256_hex(vec[i].in, n, hex);
		tap_streq(hex, vec[i].hex, "sha256_hex FIPS 180-2 vector");
		for (k = 0; k < n; k++)
			sha256_update(s, vec[i].in + k, 1);
		sha256_final_hex(s, hex);
		tap_streq(hex, vec[i].hex, "sha256 byte by byte");
	}
	fd = mkstemp(path);
	tap_ok(fd >= 0 && write(fd, "abc", 3) == 3, "temp file");
	close(fd);
	tap_ok(sha256_file(path, hex) == 0 && strcmp(hex, vec[1].hex) == 0, "sha256_file");
	unlink(path);
	tap_ok(sha256_file(path, hex) == -ENOENT, "sha256_file on a missing file: -ENOENT");
}

/* Checks fp_canonical's output against its own annotations: every
 * {"process":P,"subtree":H} line is followed by P's text whose SHA-256 is H,
 * every "child" hash names one of those subtrees, and process "0"'s subtree
 * hash is the fingerprint. @return 1 when all hold. */
static int merkle_ok(const struct buf *canon, const char *fingerprint)
{
	char subtrees[64][FP_HEX_LEN + 1], hex[FP_HEX_LEN + 1];
	const char *p = canon->data ? canon->data : "", *block = NULL, *want = NULL;
	const char *children[64];
	size_t ns = 0, nc = 0, i, j;
	int ok = 1, root_seen = 0;

	for (;;) {
		const char *e = strchr(p, '\n'), *c;
		int annot = strncmp(p, "{\"process\":", 11) == 0;

		if ((annot || !*p) && block) {
			sha256_hex(block, (size_t)(p - block), hex);
			ok &= want && strncmp(hex, want, FP_HEX_LEN) == 0;
		}
		if (!*p || !e)
			break;
		if (annot && ns < 64) {
			c = strstr(p, "\"subtree\":\"");
			want = c ? c + 11 : NULL;
			if (want)
				snprintf(subtrees[ns++], FP_HEX_LEN + 1, "%s", want);
			if (want && strncmp(p, "{\"process\":\"0\",", 15) == 0) {
				root_seen = 1;
				ok &= strncmp(want, fingerprint, FP_HEX_LEN) == 0;
			}
			block = e + 1;
		}
		c = strstr(p, "\"child\":\"");
		if (c && c < e && nc < 64)
			children[nc++] = c + 9;
		p = e + 1;
	}
	for (i = 0; i < nc; i++) {
		for (j = 0; j < ns && strncmp(children[i], subtrees[j], FP_HEX_LEN) != 0; j++)
			;
		ok &= j < ns;
	}
	return ok && (root_seen || !canon->len || ns > 0);
}

static void test_golden(const char *name)
{
	struct buf text = BUF_INIT, canon = BUF_INIT, exp = BUF_INIT, hexexp = BUF_INIT;
	char file[128], hex[FP_HEX_LEN + 1], hex2[FP_HEX_LEN + 1];
	int n;

	snprintf(file, sizeof(file), "%s.jsonl", name);
	tap_ok(slurp(file, &text) == 0, "read %s", file);
	n = fingerprint_text(text.data, text.len, 7, &canon, hex);
	tap_ok(n > 0, "%s: %d events read", name, n);
	if (getenv("ATTRACE_UPDATE_GOLDEN")) {
		snprintf(file, sizeof(file), "%s.exp", name);
		spit(file, canon.data, canon.len);
		snprintf(file, sizeof(file), "%s.hex", name);
		hex[FP_HEX_LEN] = '\n';
		spit(file, hex, FP_HEX_LEN + 1);
		hex[FP_HEX_LEN] = '\0';
	}
	snprintf(file, sizeof(file), "%s.exp", name);
	slurp(file, &exp);
	tap_streq(canon.data, exp.data, "canonical form matches the golden .exp");
	snprintf(file, sizeof(file), "%s.hex", name);
	slurp(file, &hexexp);
	if (hexexp.len)
		hexexp.data[strcspn(hexexp.data, "\n")] = '\0';
	tap_streq(hex, hexexp.data, "fingerprint matches the golden .hex");
	tap_ok(merkle_ok(&canon, hex),
	       "each subtree hash is the SHA-256 of its process's text; the root's is the fingerprint");
	fingerprint_text(text.data, text.len, 0, NULL, hex2);
	tap_streq(hex2, hex, "one frame or many: same fingerprint");
	fingerprint_text(text.data, text.len, 1, NULL, hex2);
	tap_streq(hex2, hex, "one frame per line: same fingerprint");
	buf_release(&text);
	buf_release(&canon);
	buf_release(&exp);
	buf_release(&hexexp);
}

static void test_variants(void)
{
	static const char *const variants[] = {
		"fp-agent-chunked.jsonl",
		"fp-agent-interleaved.jsonl",
		"fp-agent-env.jsonl",
	};
	struct buf exp = BUF_INIT;
	size_t i;

	slurp("fp-agent.exp", &exp);
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		struct buf text = BUF_INIT, canon = BUF_INIT;
		char hex[FP_HEX_LEN + 1];

		slurp(variants[i], &text);
		fingerprint_text(text.data, text.len, 5, &canon, hex);
		tap_streq(canon.data, exp.data ? exp.data : "", variants[i]);
		buf_release(&text);
		buf_release(&canon);
	}
	buf_release(&exp);
}

/* Replaces every occurrence of from with to; @return the count. */
static int replace_all(const struct buf *in, const char *from, const char *to, struct buf *out)
{
	const char *p = in->data, *q;
	size_t fl = strlen(from);
	int n = 0;

	buf_reset(out);
	while ((q = strstr(p, from))) {
		buf_append(out, p, (size_t)(q - p));
		buf_puts(out, to);
		p = q + fl;
		n++;
	}
	buf_puts(out, p);
	return n;
}

static void test_mutations(void)
{
	static const struct {
		const char *what, *from, *to;
		int same;
	} cases[] = {
		/* behaviour: must change the fingerprint */
		{ "request path", "GET /a HTTP", "GET /c HTTP", 0 },
		{ "request body", "{\\\"q\\\":\\\"hello\\\"}", "{\\\"q\\\":\\\"HELLO\\\"}", 0 },
		{ "peer port", "127.0.0.1:8080", "127.0.0.1:8081", 0 },
		{ "exit status", "\"how\":\"main\",\"status\":0", "\"how\":\"main\",\"status\":1",
		  0 },
		{ "file written", "\"path\":\"out.txt\"", "\"path\":\"out2.txt\"", 0 },
		{ "fopen mode", "\"flags\":\"w\"", "\"flags\":\"a\"", 0 },
		{ "spawned argv", "[\"echo\",\"hi\"]}}", "[\"echo\",\"ho\"]}}", 0 },
		{ "name looked up", "\"name\":\"api.example.com\"", "\"name\":\"api2.example.com\"",
		  0 },
		{ "random byte count", "\"n\":16,", "\"n\":17,", 0 },
		{ "udp datagram peer", "127.0.0.53:53", "127.0.0.53:5353", 0 },
		{ "step name", "\"step\":\"fetch\"", "\"step\":\"get\"", 0 },
		{ "tool result", "\"hits\":2", "\"hits\":3", 0 },
		{ "child no longer the one its spawn names", "\"pid\":\"0.1\"", "\"pid\":\"0.2\"",
		  0 },
		{ "open result",
		  "\"path\":\"missing.cfg\",\"flags\":\"O_RDONLY|O_CLOEXEC\",\"errno\":\"ENOENT\"",
		  "\"path\":\"missing.cfg\",\"flags\":\"O_RDONLY|O_CLOEXEC\",\"fd\":7", 0 },
		/* not behaviour: must not */
		{ "timestamps", "2026-11-22T04:17:00.0", "2026-11-23T05:17:00.0", 1 },
		{ "epoch seconds", "\"ts_epoch\":1795321020.", "\"ts_epoch\":1795321099.", 1 },
		{ "local port", "127.0.0.1:53412", "127.0.0.1:60000", 1 },
		{ "real pid", "\"real_pid\":4243", "\"real_pid\":99999", 1 },
		{ "received bytes", "200 OK", "500 NO", 1 },
		{ "DNS answer", "93.184.216.34", "10.9.9.9", 1 },
		{ "how the process ended", "\"how\":\"main\"", "\"how\":\"exit\"", 1 },
		{ "open flags noise", "O_RDONLY|O_CLOEXEC\",\"errno\"",
		  "O_RDONLY|O_NONBLOCK\",\"errno\"", 1 },
		{ "fd number", "\"fd\":5}", "\"fd\":9}", 1 },
		{ "libc function", "\"fn\":\"sendmsg\"", "\"fn\":\"writev\"", 1 },
		{ "exe directory", "/usr/bin/python3.11", "/usr/local/bin/python3.11", 1 },
		{ "conn id", "\"conn\":\"2.1\"", "\"conn\":\"2.7\"", 1 },
		{ "worker thread number", "\"tid\":2,", "\"tid\":5,", 1 },
		{ "child lpid", "\"0.1\"", "\"0.3\"", 1 },
	};
	struct buf text = BUF_INIT, mut = BUF_INIT;
	char base[FP_HEX_LEN + 1];
	size_t i;

	slurp("fp-agent.jsonl", &text);
	fingerprint_text(text.data, text.len, 4, NULL, base);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char hex[FP_HEX_LEN + 1];
		int n = replace_all(&text, cases[i].from, cases[i].to, &mut);

		fingerprint_text(mut.data, mut.len, 4, NULL, hex);
		tap_ok(n > 0 && (strcmp(hex, base) == 0) == cases[i].same,
		       "%s (%d places) %s the fingerprint", cases[i].what, n,
		       cases[i].same ? "keeps" : "changes");
	}
	buf_release(&text);
	buf_release(&mut);
}

static void test_api(void)
{
	struct buf text = BUF_INIT, z = BUF_INIT, canon = BUF_INIT;
	char hex[FP_HEX_LEN + 1], hex2[FP_HEX_LEN + 1], path[] = "/tmp/attrace-test-fp-XXXXXX";
	struct at_error e;
	struct fp *f;
	int fd;

	f = fp_new();
	tap_ok(fp_canonical(f, &canon) == 0 && canon.len == 0, "no events: empty canonical form");
	fp_final(f, hex);
	tap_streq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "no events: SHA-256 of nothing");
	fp_free(f);
	fp_free(NULL);

	slurp("fp-agent.jsonl", &text);
	compress_lines(text.data, text.len, 3, &z);
	fd = mkstemp(path);
	tap_ok(fd >= 0 && write(fd, z.data, z.len) == (ssize_t)z.len, "trace file written");
	close(fd);
	slurp("fp-agent.hex", &canon);
	tap_ok(fp_file(path, hex, &e) == 0 && strncmp(hex, canon.data, FP_HEX_LEN) == 0,
	       "fp_file gives the golden fingerprint");
	fd = open(path, O_WRONLY | O_TRUNC);
	tap_ok(write(fd, z.data, z.len / 2) > 0, "trace file torn");
	close(fd);
	tap_ok(fp_file(path, hex2, &e) == -EPIPE && strstr(e.msg, "truncated"),
	       "fp_file on a torn trace: '%s'", e.msg);
	unlink(path);
	tap_ok(fp_file(path, hex2, &e) < 0 && strncmp(e.msg, "cannot open", 11) == 0,
	       "fp_file on a missing file: '%s'", e.msg);

	/* fp_final twice, and after more events */
	{
		struct json_object *ev = json_tokener_parse(
			"{\"seq\":0,\"pid\":\"0\",\"tid\":0,\"type\":\"random\",\"ts\":\"t\",\"ts_epoch\":1,"
			"\"step\":\"root\",\"payload\":{\"source\":\"getrandom\",\"n\":4}}");
		struct json_object *junk = json_tokener_parse("{\"pid\":7,\"payload\":[1]}");

		f = fp_new();
		fp_add(f, ev);
		fp_final(f, hex);
		fp_final(f, hex2);
		tap_streq(hex2, hex, "fp_final is repeatable");
		fp_add(f, ev);
		fp_final(f, hex2);
		tap_ok(strcmp(hex, hex2) != 0, "an event added after fp_final counts");
		tap_ok(fp_add(f, junk) == 0, "fp_add ignores what is not an event");
		fp_free(f);
		json_object_put(ev);
		json_object_put(junk);
	}
	/* random reads without a source string: units of their own, on the
	 * main thread and off it (they used to be joined by a NULL source) */
	{
		static const char *const evs[] = {
			"{\"seq\":1,\"pid\":\"0\",\"tid\":0,\"type\":\"random\",\"ts\":\"t\","
			"\"ts_epoch\":1,\"step\":\"root\",\"payload\":{\"n\":4}}",
			"{\"seq\":2,\"pid\":\"0\",\"tid\":0,\"type\":\"random\",\"ts\":\"t\","
			"\"ts_epoch\":1,\"step\":\"root\",\"payload\":{\"source\":5,\"n\":4}}",
			"{\"seq\":3,\"pid\":\"0\",\"tid\":1,\"type\":\"random\",\"ts\":\"t\","
			"\"ts_epoch\":1,\"step\":\"root\",\"payload\":{\"n\":4}}",
			"{\"seq\":4,\"pid\":\"0\",\"tid\":2,\"type\":\"random\",\"ts\":\"t\","
			"\"ts_epoch\":1,\"step\":\"root\",\"payload\":{\"n\":4}}",
		};
		size_t i;

		f = fp_new();
		for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
			struct json_object *ev = json_tokener_parse(evs[i]);

			fp_add(f, ev);
			json_object_put(ev);
		}
		buf_reset(&canon);
		tap_ok(fp_canonical(f, &canon) == 0 &&
			       strstr(canon.data,
				      "{\"type\":\"random\",\"step\":\"root\"}\n"
				      "{\"type\":\"random\",\"step\":\"root\",\"source\":5}\n"
				      "{\"type\":\"random\",\"step\":\"root\"}\n"
				      "{\"type\":\"random\",\"step\":\"root\"}\n"),
		       "random reads without a source string are units of their own");
		fp_free(f);
	}
	buf_release(&text);
	buf_release(&z);
	buf_release(&canon);
}

/* ---- generated traces ---- */

static struct {
	char pid[16];
	int next;
} gen_seqs[8];

/* Appends one event to t; seq counts per pid from 0 (gen_reset starts over). */
__attribute__((format(printf, 5, 6))) static void gen_ev(struct buf *t, const char *pid, int tid,
							 const char *type, const char *fmt, ...)
{
	va_list ap;
	size_t i;

	for (i = 0; i < 8 && gen_seqs[i].pid[0] && strcmp(gen_seqs[i].pid, pid) != 0; i++)
		;
	assert(i < 8);
	snprintf(gen_seqs[i].pid, sizeof(gen_seqs[i].pid), "%s", pid);
	buf_printf(
		t,
		"{\"seq\":%d,\"pid\":\"%s\",\"tid\":%d,\"type\":\"%s\",\"ts\":\"2026-11-22T04:17:00."
		"%06dZ\",\"ts_epoch\":1795321020.%06d,\"step\":\"root\",\"payload\":{",
		gen_seqs[i].next, pid, tid, type, gen_seqs[i].next, gen_seqs[i].next);
	gen_seqs[i].next++;
	va_start(ap, fmt);
	buf_vprintf(t, fmt, ap);
	va_end(ap);
	buf_puts(t, "}}\n");
}

static void gen_reset(struct buf *t)
{
	memset(gen_seqs, 0, sizeof(gen_seqs));
	buf_reset(t);
}

static void gen_start(struct buf *t, const char *pid, const char *via, const char *exe)
{
	gen_ev(t, pid, 0, "agent_start",
	       "\"format\":\"attrace/1\",\"trace_id\":\"t\",\"parent\":%s%s%s,\"via\":\"%s\","
	       "\"argv\":[\"x\"],\"exe\":\"%s\",\"real_pid\":%d",
	       strcmp(pid, "0") ? "\"" : "", strcmp(pid, "0") ? "0" : "null",
	       strcmp(pid, "0") ? "\"" : "", via, exe, 100 + (int)strlen(pid));
}

static void gen_end(struct buf *t, const char *pid, int status)
{
	gen_ev(t, pid, 0, "agent_complete", "\"how\":\"exit\",\"status\":%d", status);
}

/* Event k (0..5) of an HTTP request for path on connection conn, on thread tid. */
static void gen_req_ev(struct buf *t, const char *pid, int tid, const char *conn, int k,
		       const char *path, const char *body)
{
	static const char sock[] = "\"conn\":\"%s\",\"proto\":\"tcp\"";
	char c[64];

	snprintf(c, sizeof(c), sock, conn);
	switch (k) {
	case 0:
		gen_ev(t, pid, tid, "socket_call",
		       "\"op\":\"connect\",%s,\"fn\":\"connect\",\"peer\":\"127.0.0.1:8000\","
		       "\"local\":\"127.0.0.1:%d\",\"n\":0",
		       c, 40000 + (int)t->len % 20000);
		break;
	case 1:
		gen_ev(t, pid, tid, "socket_call",
		       "\"op\":\"send\",%s,\"fn\":\"send\",\"n\":%d,\"data\":\"POST %s HTTP/1.1\\r\\n\"",
		       c, (int)strlen(path) + 16, path);
		break;
	case 2:
		gen_ev(t, pid, tid, "socket_call",
		       "\"op\":\"send\",%s,\"fn\":\"sendmsg\",\"n\":%d,\"data\":\"Content-Length: "
		       "2\\r\\n\\r\\n%s\"",
		       c, 22, body);
		break;
	case 3:
		gen_ev(t, pid, tid, "socket_call",
		       "\"op\":\"recv\",%s,\"fn\":\"recv\",\"n\":5,\"data\":\"HTTP/\"", c);
		break;
	case 4:
		gen_ev(t, pid, tid, "socket_call",
		       "\"op\":\"recv\",%s,\"fn\":\"recv\",\"n\":-1,\"errno\":\"EAGAIN\"", c);
		break;
	default:
		gen_ev(t, pid, tid, "socket_call", "\"op\":\"close\",%s,\"fn\":\"close\",\"n\":0",
		       c);
		break;
	}
}

/* A thread pool: nreq requests, request order[i] run on thread tid_of[i]
 * (0 is the main thread), one after the other or step by step (interleaved).
 * body3 is request 3's body. */
static void gen_pool(struct buf *t, size_t nreq, const int *order, const int *tid_of,
		     int interleaved, const char *body3)
{
	static const char *const paths[] = { "/r0", "/r1", "/r2", "/r3" };
	char conns[4][16];
	int per_tid[8] = { 0 }, k;
	size_t i;

	gen_reset(t);
	gen_start(t, "0", "root", "/usr/bin/python3");
	for (k = 1; k <= 4; k++)
		gen_ev(t, "0", 0, "thread_start", "\"child_tid\":%d", k);
	for (i = 0; i < nreq; i++)
		snprintf(conns[i], sizeof(conns[i]), "%d.%d", tid_of[i], ++per_tid[tid_of[i]]);
	for (k = 0; k < 6 * (int)nreq; k++) {
		size_t r = interleaved ? (size_t)k % nreq : (size_t)k / 6;
		int step = interleaved ? k / (int)nreq : k % 6;

		gen_req_ev(t, "0", tid_of[r], conns[r], step, paths[order[r]],
			   order[r] == 3 ? body3 : "hi");
	}
	gen_end(t, "0", 0);
}

/* Two worker threads each spawn a curl; swapped: the second worker's child
 * is "0.1". path_b is what the second child asks for. */
static void gen_spawns(struct buf *t, int swapped, const char *path_b)
{
	const char *child_a = swapped ? "0.2" : "0.1", *child_b = swapped ? "0.1" : "0.2";
	int k;

	gen_reset(t);
	gen_start(t, "0", "root", "/usr/bin/python3");
	gen_ev(t, "0", 0, "thread_start", "\"child_tid\":1");
	gen_ev(t, "0", 0, "thread_start", "\"child_tid\":2");
	for (k = 0; k < 2; k++) {
		int b = swapped ? !k : k;

		gen_ev(t, "0", b ? 2 : 1, "process_spawn",
		       "\"op\":\"posix_spawnp\",\"child\":\"%s\",\"path\":\"curl\",\"argv\":[\"curl\","
		       "\"-s\",\"http://h/%s\"],\"real_pid\":%d",
		       b ? child_b : child_a, b ? "b" : "a", 200 + k);
	}
	for (k = 0; k < 2; k++) {
		const char *pid = k ? child_b : child_a;
		int step;

		gen_start(t, pid, "spawn", "/usr/bin/curl");
		for (step = 0; step < 6; step++)
			gen_req_ev(t, pid, 0, "0.1", step, k ? path_b : "/a", "hi");
		gen_end(t, pid, 0);
	}
	gen_end(t, "0", 0);
}

static void fp_of(const struct buf *t, char hex[FP_HEX_LEN + 1], struct buf *canon)
{
	if (canon)
		buf_reset(canon);
	fingerprint_text(t->data, t->len, 3, canon, hex);
}

static size_t count(const struct buf *b, const char *needle)
{
	const char *p = b->data ? b->data : "";
	size_t n = 0;

	while ((p = strstr(p, needle))) {
		n++;
		p += strlen(needle);
	}
	return n;
}

static void test_thread_pool(void)
{
	static const int order0[] = { 0, 1, 2, 3 }, tids0[] = { 1, 2, 3, 4 };
	static const int order1[] = { 2, 3, 0, 1 }, tids1[] = { 2, 4, 1, 1 };
	static const int order2[] = { 3, 1, 0, 2 }, tids2[] = { 4, 3, 2, 1 };
	static const int ab[] = { 0, 1 }, ba[] = { 1, 0 }, main2[] = { 0, 0 };
	char base[FP_HEX_LEN + 1], hex[FP_HEX_LEN + 1];
	struct buf t = BUF_INIT, canon = BUF_INIT;

	gen_pool(&t, 4, order0, tids0, 1, "hi");
	fp_of(&t, base, &canon);
	tap_ok(count(&canon, "{\"type\":\"http_request\"") == 4 &&
		       count(&canon, "{\"type\":\"socket\"") == 0 && merkle_ok(&canon, base),
	       "thread pool: four HTTP/1 request units, no socket unit");
	gen_pool(&t, 4, order1, tids1, 0, "hi");
	fp_of(&t, hex, NULL);
	tap_streq(hex, base, "thread pool: other workers, conn ids and order: same fingerprint");
	gen_pool(&t, 4, order2, tids2, 1, "hi");
	fp_of(&t, hex, NULL);
	tap_streq(hex, base, "thread pool: another schedule: same fingerprint");
	gen_pool(&t, 4, order1, tids1, 1, "ho");
	fp_of(&t, hex, NULL);
	tap_ok(strcmp(hex, base) != 0,
	       "thread pool: a changed request body in a worker changes it");

	gen_pool(&t, 2, ab, main2, 0, "hi");
	fp_of(&t, base, NULL);
	gen_pool(&t, 2, ba, main2, 0, "hi");
	fp_of(&t, hex, NULL);
	tap_ok(strcmp(hex, base) != 0, "main thread: request A then B differs from B then A");
	buf_release(&t);
	buf_release(&canon);
}

static void test_children(void)
{
	char base[FP_HEX_LEN + 1], hex[FP_HEX_LEN + 1];
	struct buf t = BUF_INIT, canon = BUF_INIT;

	gen_spawns(&t, 0, "/b");
	fp_of(&t, base, &canon);
	tap_ok(count(&canon, "\"child\":\"") == 2 && !strstr(canon.data, "\"child\":\"0.") &&
		       merkle_ok(&canon, base),
	       "spawn units name their children by subtree hash");
	gen_spawns(&t, 1, "/b");
	fp_of(&t, hex, NULL);
	tap_streq(hex, base, "children's lpids swapped between workers: same fingerprint");
	gen_spawns(&t, 1, "/c");
	fp_of(&t, hex, &canon);
	tap_ok(strcmp(hex, base) != 0 && merkle_ok(&canon, hex),
	       "a child's changed request changes the root's fingerprint");

	/* a child no spawn names: a "child" unit of its parent */
	gen_reset(&t);
	gen_start(&t, "0", "root", "/bin/sh");
	gen_start(&t, "0.1", "vfork", "/bin/sh");
	gen_ev(&t, "0.1", 0, "file_open",
	       "\"fn\":\"open\",\"path\":\"x\",\"flags\":\"O_RDONLY\",\"fd\":3");
	gen_end(&t, "0.1", 0);
	gen_end(&t, "0", 0);
	fp_of(&t, base, &canon);
	tap_ok(count(&canon, "{\"type\":\"child\",\"child\":\"") == 1 && merkle_ok(&canon, base),
	       "an unnamed child becomes a child unit");
	buf_release(&t);
	buf_release(&canon);
}

static void test_shared_conn(void)
{
	static const char want[] =
		"{\"type\":\"http_request\",\"step\":\"root\",\"peer\":\"127.0.0.1:8000\","
		"\"data\":\"POST /s HTTP/1.1\\r\\nContent-Length: 2\\r\\n\\r\\nhi\"}\n";
	char hex[FP_HEX_LEN + 1], hex2[FP_HEX_LEN + 1];
	struct buf t = BUF_INIT, canon = BUF_INIT;
	int k;

	gen_reset(&t);
	gen_start(&t, "0", "root", "/usr/bin/python3");
	for (k = 0; k < 6; k++)
		gen_req_ev(&t, "0", k < 3 || k == 5 ? 1 : 2, "1.1", k, "/s", "hi");
	gen_end(&t, "0", 0);
	fp_of(&t, hex, &canon);
	tap_ok(count(&canon, "\"type\":\"http_request\"") == 1 &&
		       count(&canon, "\"type\":\"socket\"") == 0 && strstr(canon.data, want),
	       "a connection used by two threads: its request is one unit");
	gen_reset(&t);
	gen_start(&t, "0", "root", "/usr/bin/python3");
	for (k = 0; k < 6; k++)
		gen_req_ev(&t, "0", 3, "3.1", k, "/s", "hi");
	gen_end(&t, "0", 0);
	fp_of(&t, hex2, NULL);
	tap_streq(hex2, hex, "... the same as on one thread");
	buf_release(&t);
	buf_release(&canon);
}

/* A keep-alive pool: request i (POST /ri) goes out on connection conn_of[i]
 * (1 or 2), owned by worker thread conn_of[i], which looks the host up
 * before it connects; then both close. */
static void gen_keepalive(struct buf *t, const int *conn_of, size_t n)
{
	int opened[3] = { 0 };
	char path[16], conn[16];

	gen_reset(t);
	gen_start(t, "0", "root", "/usr/bin/python3");
	for (size_t i = 0; i < n; i++) {
		int c = conn_of[i];

		snprintf(conn, sizeof(conn), "%d.1", c);
		snprintf(path, sizeof(path), "/r%zu", i);
		if (!opened[c]++) {
			gen_ev(t, "0", c, "dns",
			       "\"fn\":\"getaddrinfo\",\"name\":\"127.0.0.1\",\"answers\":[]");
			gen_req_ev(t, "0", c, conn, 0, path, "hi");
		}
		for (int k = 1; k <= 3; k++)
			gen_req_ev(t, "0", c, conn, k, path, "hi");
	}
	for (int c = 1; c <= 2; c++) {
		snprintf(conn, sizeof(conn), "%d.1", c);
		if (opened[c])
			gen_req_ev(t, "0", c, conn, 5, "/", "hi");
	}
	gen_end(t, "0", 0);
}

static void test_keepalive_pool(void)
{
	static const int a[] = { 1, 1, 2, 2 }, b[] = { 2, 1, 1, 1 }, c[] = { 1, 1, 1, 1 };
	char base[FP_HEX_LEN + 1], hex[FP_HEX_LEN + 1];
	struct buf t = BUF_INIT, canon = BUF_INIT;

	gen_keepalive(&t, a, 4);
	fp_of(&t, base, &canon);
	tap_ok(count(&canon, "{\"type\":\"http_request\"") == 4 &&
		       count(&canon, "{\"type\":\"socket\"") == 0 &&
		       count(&canon, "{\"type\":\"dns\"") == 1,
	       "keep-alive pool: one unit per request, none per connection, one lookup");
	gen_keepalive(&t, b, 4);
	fp_of(&t, hex, NULL);
	tap_streq(hex, base, "keep-alive pool: requests on other connections, same fingerprint");
	gen_keepalive(&t, c, 4);
	fp_of(&t, hex, NULL);
	tap_streq(hex, base,
		  "keep-alive pool: one connection (and lookup) instead of two, same fingerprint");
	buf_release(&t);
	buf_release(&canon);
}

/* Workers read 16 random bytes per task; tids[i] runs task i. */
static void gen_random_pool(struct buf *t, const int *tids, size_t n, int bytes)
{
	size_t i;

	gen_reset(t);
	gen_start(t, "0", "root", "/usr/bin/python3");
	gen_ev(t, "0", 0, "random",
	       "\"source\":\"getrandom\",\"n\":24,\"flags\":0,\"data_b64\":\"AA==\"");
	for (i = 0; i < n; i++)
		gen_ev(t, "0", tids[i], "random",
		       "\"source\":\"getrandom\",\"n\":%d,\"flags\":0,\"data_b64\":\"AA==\"",
		       bytes);
	gen_end(t, "0", 0);
}

static void test_worker_random(void)
{
	static const int a[] = { 1, 1, 2, 2 }, b[] = { 1, 2, 3, 4 }, c[] = { 4, 1, 1, 1 };
	char base[FP_HEX_LEN + 1], hex[FP_HEX_LEN + 1];
	struct buf t = BUF_INIT;

	gen_random_pool(&t, a, 4, 16);
	fp_of(&t, base, NULL);
	gen_random_pool(&t, b, 4, 16);
	fp_of(&t, hex, NULL);
	tap_streq(hex, base, "random reads spread over other workers: same fingerprint");
	gen_random_pool(&t, c, 4, 16);
	fp_of(&t, hex, NULL);
	tap_streq(hex, base, "... and over yet others");
	gen_random_pool(&t, b, 4, 17);
	fp_of(&t, hex, NULL);
	tap_ok(strcmp(hex, base) != 0, "workers reading more random bytes changes it");
	buf_release(&t);
}

static void test_roots(void)
{
	char hex[FP_HEX_LEN + 1], want[FP_HEX_LEN + 1], h[2][FP_HEX_LEN + 1];
	struct buf t = BUF_INIT, canon = BUF_INIT, cat = BUF_INIT;
	const char *p;
	int i;

	gen_reset(&t);
	gen_start(&t, "0.2", "fork", "/bin/b");
	gen_end(&t, "0.2", 1);
	gen_start(&t, "0.1", "fork", "/bin/a");
	gen_end(&t, "0.1", 0);
	fp_of(&t, hex, &canon);
	p = canon.data;
	for (i = 0; i < 2; i++) {
		p = strstr(p, "\"subtree\":\"") + 11;
		snprintf(h[i], sizeof(h[i]), "%s", p);
	}
	i = strcmp(h[0], h[1]) > 0;
	buf_printf(&cat, "%s\n%s\n", h[i], h[!i]);
	sha256_hex(cat.data, cat.len, want);
	tap_streq(hex, want, "several roots: SHA-256 of their sorted subtree hashes");

	/* cli/show.c asks this of a single file_open: empty when it is left out */
	gen_reset(&t);
	gen_ev(&t, "0", 0, "file_open",
	       "\"fn\":\"open\",\"path\":\"/etc/hosts\",\"flags\":\"O_RDONLY\",\"fd\":3");
	fp_of(&t, hex, &canon);
	tap_ok(canon.len == 0, "a system-path open alone: empty canonical form");
	gen_reset(&t);
	gen_ev(&t, "0", 0, "file_open",
	       "\"fn\":\"open\",\"path\":\"notes\",\"flags\":\"O_RDONLY\",\"fd\":3");
	fp_of(&t, hex, &canon);
	tap_ok(canon.len > 0, "a kept open alone: a process with one unit");
	buf_release(&t);
	buf_release(&canon);
	buf_release(&cat);
}

/* network_call events are derived from socket_call bytes: a trace with
 * them, without them, or with more of them in another place, has one
 * fingerprint. */
static void test_network_call(void)
{
	static const char extra[] =
		"{\"seq\":900,\"pid\":\"0\",\"tid\":3,\"type\":\"network_call\","
		"\"ts\":\"2026-11-22T04:17:09.000001Z\",\"ts_epoch\":1795321029.000001,"
		"\"step\":\"root\",\"payload\":{\"conn\":\"0.9\",\"method\":\"POST\","
		"\"url\":\"http://y/\",\"status\":201}}\n";
	struct buf with = BUF_INIT, without = BUF_INIT, more = BUF_INIT;
	char a[FP_HEX_LEN + 1], b[FP_HEX_LEN + 1], c[FP_HEX_LEN + 1];
	char *line, *save = NULL;

	slurp("fp-ops.jsonl", &with);
	buf_puts(&more, extra);
	buf_append(&more, with.data, with.len);
	for (line = strtok_r(with.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strstr(line, "\"type\":\"network_call\"")) {
			buf_puts(&without, line);
			buf_putc(&without, '\n');
		}
	buf_reset(&with);
	slurp("fp-ops.jsonl", &with);
	tap_ok(count(&with, "network_call") == 1 && count(&without, "network_call") == 0,
	       "network_call: the golden trace holds one");
	fp_of(&with, a, NULL);
	fp_of(&without, b, NULL);
	fp_of(&more, c, NULL);
	tap_streq(a, b, "network_call: without it, the same fingerprint");
	tap_streq(a, c, "network_call: with another, placed first, the same fingerprint");
	buf_release(&with);
	buf_release(&without);
	buf_release(&more);
}

/* One POST whose X-Run-Id is run (a CI job's id, say). */
static void gen_run_post(struct buf *t, const char *run)
{
	gen_reset(t);
	gen_start(t, "0", "root", "/usr/bin/python3");
	gen_ev(t, "0", 0, "socket_call",
	       "\"op\":\"connect\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"fn\":\"connect\","
	       "\"peer\":\"127.0.0.1:8000\",\"n\":0");
	gen_ev(t, "0", 0, "socket_call",
	       "\"op\":\"send\",\"conn\":\"0.1\",\"proto\":\"tcp\",\"fn\":\"send\",\"n\":%d,"
	       "\"data\":\"POST /v1/run HTTP/1.1\\r\\nHost: h\\r\\nX-Run-Id: %s\\r\\n"
	       "X-Run-Step:  7 \\r\\nContent-Length: 2\\r\\n\\r\\nhi\"",
	       81 + (int)strlen(run), run);
	gen_end(t, "0", 0);
}

/* fp_ignore_headers: the listed fields leave the http_request units, and
 * nothing else changes. */
static void test_ignore_headers(void)
{
	char a[FP_HEX_LEN + 1], b[FP_HEX_LEN + 1], plain[FP_HEX_LEN + 1];
	struct buf t = BUF_INIT, canon = BUF_INIT;

	gen_run_post(&t, "job-41");
	fp_of(&t, plain, NULL);
	gen_run_post(&t, "job-42");
	fp_of(&t, b, NULL);
	tap_ok(strcmp(plain, b) != 0, "ignore: a header sent differently changes the fingerprint");
	fp_ignore = "x-run-id";
	fp_of(&t, b, &canon);
	gen_run_post(&t, "job-41");
	fp_of(&t, a, NULL);
	tap_streq(a, b, "ignore: without X-Run-Id, the two runs compare equal");
	tap_ok(!strstr(canon.data, "X-Run-Id") && strstr(canon.data, "X-Run-Step:  7 \\r\\n") &&
		       strstr(canon.data, "Host: h\\r\\n") && strstr(canon.data, "\\r\\n\\r\\nhi"),
	       "ignore: the field's line is gone, the others stay as sent");
	fp_ignore = "X-RUN-*";
	fp_of(&t, b, &canon);
	tap_ok(strcmp(a, b) != 0 && !strstr(canon.data, "X-Run-Step"),
	       "ignore: a prefix takes every field it starts");
	fp_ignore = "x-other, , accept";
	fp_of(&t, a, NULL);
	tap_streq(a, plain, "ignore: names of fields not sent change nothing");
	fp_ignore = NULL;
	buf_release(&t);
	buf_release(&canon);
}

int main(void)
{
	test_sha256();
	test_keepalive_pool();
	test_golden("fp-agent");
	test_golden("fp-ops");
	test_variants();
	test_mutations();
	test_api();
	test_thread_pool();
	test_children();
	test_shared_conn();
	test_worker_random();
	test_roots();
	test_network_call();
	test_ignore_headers();
	return tap_done();
}
