/* SPDX-License-Identifier: MIT */
/* log.h -- one-line messages on stderr, prefixed "attrace: ".
 *
 * Each message is formatted on the stack and written with a single write(2)
 * to fd 2, so lines from several processes never interleave. In the shim,
 * callers must hold the reentrancy guard (write is hooked). common/ itself
 * logs only at debug level.
 */
#pragma once

enum at_log_level {
	AT_LOG_ERROR = 0,
	AT_LOG_WARN = 1,
	AT_LOG_INFO = 2,
	AT_LOG_DEBUG = 3,
};

extern int log_level; /* default AT_LOG_WARN */

void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* @return the level for "error" | "warn" | "info" | "debug", or -1. */
int log_level_parse(const char *s);

#define log_error(...)                                \
	do {                                          \
		if (AT_LOG_ERROR > log_level)         \
			break;                        \
		log_write(AT_LOG_ERROR, __VA_ARGS__); \
	} while (0)
#define log_warn(...)                                \
	do {                                         \
		if (AT_LOG_WARN > log_level)         \
			break;                       \
		log_write(AT_LOG_WARN, __VA_ARGS__); \
	} while (0)
#define log_info(...)                                \
	do {                                         \
		if (AT_LOG_INFO > log_level)         \
			break;                       \
		log_write(AT_LOG_INFO, __VA_ARGS__); \
	} while (0)
#define log_debug(...)                                \
	do {                                          \
		if (AT_LOG_DEBUG > log_level)         \
			break;                        \
		log_write(AT_LOG_DEBUG, __VA_ARGS__); \
	} while (0)
