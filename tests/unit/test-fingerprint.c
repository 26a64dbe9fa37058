/* SPDX-License-Identifier: MIT */
/* test-fingerprint.c -- unit tests for common/fingerprint.c: SHA-256, canonical form goldens, invariances.
 *
 * Golden files in data/: fp-NAME.jsonl (an uncompressed trace), fp-NAME.exp
 * (its canonical form) and fp-NAME.hex (its fingerprint). Variants
 * fp-agent-*.jsonl must give exactly fp-agent.exp. To regenerate the
 * goldens after a deliberate change of the canonical form, run the test with
 * ATTRACE_UPDATE_GOLDEN=1 and review the diff.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
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
static int fingerprint_text(const char *text, size_t len, size_t per, struct buf *canon,
			    char hex[FP_HEX_LEN + 1])
{
	struct buf z = BUF_INIT;
	struct trace_reader *r;
	struct json_object *ev;
	struct at_error e;
	struct fp *f = fp_new();
	int k, n = 0;

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
	sha256_hex(canon.data, canon.len, hex2);
	tap_streq(hex2, hex, "the fingerprint is the SHA-256 of the canonical form");
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
		{ "child pid", "\"pid\":\"0.1\"", "\"pid\":\"0.2\"", 0 },
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
	buf_release(&text);
	buf_release(&z);
	buf_release(&canon);
}

int main(void)
{
	test_sha256();
	test_golden("fp-agent");
	test_golden("fp-ops");
	test_variants();
	test_mutations();
	test_api();
	return tap_done();
}
