/* SPDX-License-Identifier: MIT */
/* error.c -- fill a caller's struct at_error, only on failure. */
#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>

void at_error_set(struct at_error *reterr, int frame, long line, size_t offset, const char *fmt,
		  ...)
{
	va_list ap;

	if (!reterr)
		return;
	reterr->frame = frame;
	reterr->line = line;
	reterr->offset = offset;
	va_start(ap, fmt);
	vsnprintf(reterr->msg, sizeof(reterr->msg), fmt, ap);
	va_end(ap);
}
