/* SPDX-License-Identifier: MIT */
/* test-error.c -- unit tests for common/error.c. */
#include "common/error.h"
#include "tap.h"

int main(void)
{
	struct at_error e = { .frame = -1 };
	char big[600];

	at_error_set(&e, 3, 12, 4096, "invalid JSON: %s", "unexpected end of data");
	tap_ok(e.frame == 3 && e.line == 12 && e.offset == 4096, "location is filled");
	tap_streq(e.msg, "invalid JSON: unexpected end of data", "message is formatted");
	at_error_set(NULL, 1, 1, 1, "%s", "ignored");
	tap_ok(1, "a NULL reterr is accepted");
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	at_error_set(&e, 0, 0, 0, "%s", big);
	tap_ok(strlen(e.msg) == sizeof(e.msg) - 1, "a long message is truncated, NUL-terminated");
	return tap_done();
}
