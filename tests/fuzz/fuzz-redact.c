/* SPDX-License-Identifier: MIT */
/* fuzz-redact.c -- fuzzes the streaming redactor: any chunking gives the one-shot output,
 * the held-back tail stays bounded, and an opaque stream keeps its length. */
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

	if (!ready) {
		uint8_t key[REDACT_KEY_LEN] = { 7 };

		if (redact_config_parse(&cfg, "X-Fuzz-Secret,Token", key, NULL) < 0)
			abort();
		r = redactor_new(&cfg);
		if (!r)
			abort();
		ready = 1;
	}
	if (redact_bytes(&cfg, data, size, &one) < 0)
		abort();
	/* pieces of pseudo-random sizes (1..64) derived from the input */
	for (i = 0; i < size && i < 64; i++)
		x = (x ^ data[i]) * 16777619u;
	for (i = 0; i < size; i += n) {
		x = x * 1103515245u + 12345u;
		n = 1 + (x >> 16) % 64;
		if (n > size - i)
			n = size - i;
		if (redactor_feed(r, data + i, n, &out) < 0)
			abort();
		if (redactor_held(r) > REDACT_HOLD_MAX)
			abort();
	}
	if (redactor_flush(r, &out) < 0)
		abort();
	if (out.len != one.len || (one.len && memcmp(out.data, one.data, one.len) != 0))
		abort();
	/* a stream that cannot start an HTTP message is opaque: markers fit the secrets */
	if (size && !strchr("GHPDCOT\r\n", data[0]) && one.len != size)
		abort();
	buf_release(&one);
	buf_release(&out);
	return 0;
}
