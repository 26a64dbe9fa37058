/* SPDX-License-Identifier: MIT */
/* tap.h -- a minimal TAP producer for the unit tests (one header, no library). */
#pragma once

#undef NDEBUG
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

/* Records one result; the condition is evaluated once, by the caller. */
__attribute__((format(printf, 2, 3))) static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

/* Compares two strings; on failure prints both as TAP diagnostics. */
static inline int tap_streq(const char *got, const char *want, const char *what)
{
	int ok = got && want && strcmp(got, want) == 0;

	tap_ok(ok, "%s", what);
	if (!ok)
		printf("#   got:  '%s'\n#   want: '%s'\n", got ? got : "(null)",
		       want ? want : "(null)");
	return ok;
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
