/* SPDX-License-Identifier: MIT */
/* log.c -- one-line messages on stderr, each with a single write(2). */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_PREFIX "attrace: "
#define LOG_MAX	   1024

int log_level = AT_LOG_WARN;

void log_write(int level, const char *fmt, ...)
{
	char line[LOG_MAX];
	size_t pre = sizeof(LOG_PREFIX) - 1, len, off;
	int saved = errno, n;
	va_list ap;

	(void)level;
	memcpy(line, LOG_PREFIX, pre);
	va_start(ap, fmt);
	/* Keep one byte for the newline; a longer message is cut, never split. */
	n = vsnprintf(line + pre, sizeof(line) - pre - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	len = pre + (size_t)n;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	for (off = 0; off < len;) {
		ssize_t w = write(2, line + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	errno = saved;
}

int log_level_parse(const char *s)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	size_t i;

	if (!s)
		return -1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}
