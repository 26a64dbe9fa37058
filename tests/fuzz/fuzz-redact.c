/* SPDX-License-Identifier: MIT */
/* fuzz-redact.c -- fuzzes the streaming redactor: any chunking gives the one-shot output,
 * the held-back tail stays bounded, and an opaque stream keeps its length. A
 * stream that turns HTTP/2 (a preface, an h2c upgrade) may fail as broken
 * HTTP/2 (-EPROTO), the same way in pieces as in one go. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/redact.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct redact_config cfg;
	static struct redactor *r;
	static int ready;
	struct buf one = BUF_INIT, out = BUF_INIT;
	uint32_t x = 2166136261u;
	size_t i, n;
	int k1, k2 = 0;

	if (!ready) {
		uint8_t key[REDACT_KEY_LEN] = { 7 };

		if (redact_config_parse(&cfg, "X-Fuzz-Secret,Token", key, NULL) < 0)
			abort();
		r = redactor_new(&cfg);
		if (!r)
			abort();
		ready = 1;
	}
	k1 = redact_bytes(&cfg, data, size, &one);
	if (k1 < 0 && k1 != -EPROTO)
		abort();
	/* pieces of pseudo-random sizes (1..64) derived from the input */
	for (i = 0; i < size && i < 64; i++)
		x = (x ^ data[i]) * 16777619u;
	for (i = 0; i < size && k2 == 0; i += n) {
		x = x * 1103515245u + 12345u;
		n = 1 + (x >> 16) % 64;
		if (n > size - i)
			n = size - i;
		k2 = redactor_feed(r, data + i, n, &out);
		if (redactor_held(r) > REDACT_HOLD_MAX)
			abort();
	}
	if (k2 == 0)
		k2 = redactor_flush(r, &out);
	if (k1 != k2)
		abort();
	if (k1 < 0) {
		/* a failed redactor stays failed: the next input gets a new one */
		redactor_free(r);
		r = redactor_new(&cfg);
		if (!r)
			abort();
		goto out;
	}
	if (out.len != one.len || (one.len && memcmp(out.data, one.data, one.len) != 0))
		abort();
	/* a stream that cannot start an HTTP message is opaque: markers fit the secrets */
	if (size && !strchr("GHPDCOT\r\n", data[0]) && one.len != size)
		abort();
out:
	buf_release(&one);
	buf_release(&out);
	return 0;
}
