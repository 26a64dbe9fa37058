/* SPDX-License-Identifier: MIT */
/* redact_key.h -- the key of redaction markers (common/redact.h): a per-user file, or 64 hex digits.
 *
 * Markers are stable across runs on one machine because the key is: it is
 * read from a per-user file, created on first use with 32 random bytes
 * (libsodium randombytes_buf), mode 0600 in a 0700 directory. Markers made
 * with different keys differ, so a trace replayed on another machine (or
 * compared with one recorded there) needs the same key: copy the key file,
 * or set ATTRACE_REDACT_KEY (64 hex digits, at_config.redact_key), which
 * wins over the file.
 */
#pragma once

#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/redact.h"

/* Appends the key file's path to out: $XDG_CONFIG_HOME/attrace/redact.key
 * (when set and absolute), else $HOME/.config/attrace/redact.key, with the
 * variables taken from envp ("NAME=value", NULL-ended; common/ never calls
 * getenv). @return 0, -ENOENT when neither is set, or a buffer error. */
int redact_key_path(char *const *envp, struct buf *out);
/* Reads the key file, creating it (and its directories) when missing; two
 * processes creating it at once end up with the same key. @return 0 with
 * key filled; a negative errno with reterr->msg naming the path and the
 * problem (-EINVAL: the file does not hold exactly 32 bytes). */
int redact_key_load(uint8_t key[REDACT_KEY_LEN], char *const *envp, struct at_error *reterr);
/* Parses 64 hex digits (either case, nothing else). @return 0 or -EINVAL. */
int redact_key_parse_hex(const char *hex, uint8_t key[REDACT_KEY_LEN]);
