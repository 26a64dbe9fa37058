/* SPDX-License-Identifier: MIT */
/* fuzz-ingest.c -- fuzzes the collector's upload parser (collector/ingest.c) under small limits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/ingest.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ingest_limits lim = {
		.max_decompressed = 1 << 20,
		.max_line = 64 << 10,
		.window_log_max = 20,
	};
	struct ingest_batch b;
	struct at_error err;
	int mode, r;
	size_t i;

	/* As declared zstd, as plain JSON Lines, and as detected. */
	for (mode = -1; mode <= 1; mode++) {
		memset(&err, 0, sizeof(err));
		r = ingest_parse(data, size, mode, &lim, &b, &err);
		{
			/* The json-c path alone gives the same answer. */
			struct ingest_batch s;
			struct at_error serr;
			int sr;

			memset(&serr, 0, sizeof(serr));
			ingest_fast_path = 0;
			sr = ingest_parse(data, size, mode, &lim, &s, &serr);
			ingest_fast_path = 1;
			if (sr != r || strcmp(serr.msg, err.msg) != 0)
				abort();
			if (sr == 0) {
				if (strcmp(s.fp_hex, b.fp_hex) != 0 || s.n != b.n)
					abort();
				ingest_batch_release(&s);
			}
		}
		if (r < 0) {
			/* Every failure names its problem. */
			if (r != -ENOMEM && err.msg[0] == '\0')
				abort();
			continue;
		}
		/* A success has events within the text, a trace id, a fingerprint. */
		if (b.n == 0 || !b.sum.trace_id[0] || strlen(b.fp_hex) != 64)
			abort();
		for (i = 0; i < b.n; i++)
			if (b.ev[i].off + b.ev[i].len > b.text.len || b.ev[i].pid >= b.seen.npids)
				abort();
		ingest_batch_release(&b);
	}
	return 0;
}
