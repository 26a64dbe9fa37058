/* SPDX-License-Identifier: MIT */
/* test-log.c -- unit tests for common/log.c: prefix, one write per line, levels, errno. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/log.h"
#include "tap.h"

/* Runs fn with fd 2 redirected to a pipe; returns what was written. */
static size_t capture(void (*fn)(void), char *out, size_t outlen)
{
	int p[2], saved;
	ssize_t n;
	size_t len = 0;

	if (pipe(p) < 0)
		return 0;
	fflush(stderr);
	saved = dup(2);
	dup2(p[1], 2);
	close(p[1]);
	fn();
	dup2(saved, 2);
	close(saved);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	while (len + 1 < outlen && (n = read(p[0], out + len, outlen - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	return len;
}

static void say_hello(void)
{
	log_write(AT_LOG_WARN, "hello %d %s", 42, "world");
}

static void say_long(void)
{
	char big[3000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_write(AT_LOG_ERROR, "%s", big);
}

static void say_filtered(void)
{
	log_level = AT_LOG_WARN;
	log_debug("not shown");
	log_info("not shown either");
	log_warn("warn shown");
	log_error("error shown");
	log_level = AT_LOG_DEBUG;
	log_debug("debug shown");
	log_level = AT_LOG_WARN;
}

static int saved_errno_ok;
static void keep_errno(void)
{
	errno = ENOTCONN;
	log_write(AT_LOG_ERROR, "x");
	saved_errno_ok = errno == ENOTCONN;
}

int main(void)
{
	static const struct {
		const char *s;
		int level;
	} levels[] = {
		{ "error", AT_LOG_ERROR }, { "warn", AT_LOG_WARN }, { "info", AT_LOG_INFO },
		{ "debug", AT_LOG_DEBUG }, { "DEBUG", -1 },	    { "", -1 },
		{ "warning", -1 },
	};
	char out[4096];
	size_t n, i;

	tap_ok(log_level == AT_LOG_WARN, "default level is warn");
	capture(say_hello, out, sizeof(out));
	tap_streq(out, "attrace: hello 42 world\n", "prefix, format and newline");
	n = capture(say_long, out, sizeof(out));
	tap_ok(n == 1023 && out[n - 1] == '\n' && strncmp(out, "attrace: xxx", 12) == 0,
	       "a long message is cut to one 1 KiB line (got %zu bytes)", n);
	capture(say_filtered, out, sizeof(out));
	tap_streq(out, "attrace: warn shown\nattrace: error shown\nattrace: debug shown\n",
		  "level macros filter");
	capture(keep_errno, out, sizeof(out));
	tap_ok(saved_errno_ok, "log_write preserves errno");
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		tap_ok(log_level_parse(levels[i].s) == levels[i].level, "log_level_parse('%s')",
		       levels[i].s);
	tap_ok(log_level_parse(NULL) == -1, "log_level_parse(NULL)");
	return tap_done();
}
