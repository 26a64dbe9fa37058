/* SPDX-License-Identifier: MIT */
/* fuzz-trace.c -- fuzzes the trace reader (zstd frames, JSON lines, envelope) and the fingerprint. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/fingerprint.h"
#include "common/trace.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace_reader *r;
	struct json_object *ev;
	struct at_error e;
	struct buf canon = BUF_INIT;
	char hex[FP_HEX_LEN + 1];
	struct fp *f;
	int k, guard = 0;

	r = trace_reader_mem(data, size, &e);
	f = fp_new();
	if (!r || !f)
		abort();
	for (;;) {
		e.line = 0;
		k = trace_reader_next(r, &ev, &e);
		if (k == 1) {
			if (fp_add(f, ev) < 0)
				abort();
			json_object_put(ev);
			continue;
		}
		/* a bad line lets the walk go on; anything else ends it */
		if (k < 0 && e.line > 0 && ++guard < 100000)
			continue;
		break;
	}
	if (fp_canonical(f, &canon) < 0 || fp_final(f, hex) < 0)
		abort();
	/* the canonical form is valid JSON Lines */
	if (canon.len && canon.data[canon.len - 1] != '\n')
		abort();
	buf_release(&canon);
	fp_free(f);
	trace_reader_free(r);
	return 0;
}
