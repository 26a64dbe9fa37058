/* SPDX-License-Identifier: MIT */
/* error.h -- where a parse or decode error happened, filled only on failure.
 *
 * Redis's caller-supplied error buffer: functions that can fail on bad input
 * take `struct at_error *reterr` (may be NULL) and fill it only when they
 * return an error, so the caller prints one line naming what and where.
 */
#pragma once

#include <stddef.h>

struct at_error {
	int frame; /* 1-based zstd frame number, 0 if not applicable */
	long line; /* 1-based line (within the frame for traces), 0 if n/a */
	size_t offset; /* byte offset in the input, when known */
	char msg[256]; /* human-readable, without the file name */
};

void at_error_set(struct at_error *reterr, int frame, long line, size_t offset, const char *fmt,
		  ...) __attribute__((format(printf, 5, 6)));
