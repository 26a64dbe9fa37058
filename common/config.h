/* SPDX-License-Identifier: MIT */
/* config.h -- the ATTRACE_* settings, parsed once from an environment.
 *
 * The shim calls config_from_env() once, in init.c, with `environ`; the CLI
 * builds the same variables for its child. Both paths behave the same.
 */
#pragma once

#include <stddef.h>

#include "common/error.h"

enum at_mode {
	AT_MODE_RECORD = 0,
	AT_MODE_REPLAY,
	AT_MODE_OFF,
};

enum at_governance {
	AT_GOV_RELAXED = 0,
	AT_GOV_STRICT,
};

struct at_config {
	enum at_mode mode; /* ATTRACE_MODE: record | replay | off */
	char *trace; /* ATTRACE_TRACE */
	enum at_governance governance; /* ATTRACE_GOVERNANCE: relaxed | strict | governance */
	char *collector; /* ATTRACE_COLLECTOR */
	char *api_key; /* ATTRACE_API_KEY (never written to a trace) */
	char *name; /* ATTRACE_NAME */
	char *redact; /* ATTRACE_REDACT: comma-separated header names */
	char *redact_key; /* ATTRACE_REDACT_KEY: 64 hex digits (checked), the marker key; never traced */
	int log_level; /* ATTRACE_LOG: error | warn | info | debug */
	char *ctx; /* ATTRACE_CTX: internal, process context across exec */
	char *replay_out; /* ATTRACE_REPLAY_OUT: where a replay records its own run */
	char *allow; /* ATTRACE_ALLOW: colon-separated path prefixes strict replay lets a program open */
	int report; /* ATTRACE_REPLAY_REPORT: 0 = the CLI prints the replay summary, not the shim */
	char *replay_ignore; /* ATTRACE_REPLAY_IGNORE: header names (NAME or PREFIX*), checked */
};

#define AT_CONFIG_INIT                                                                            \
	{                                                                                         \
		.mode = AT_MODE_RECORD, .governance = AT_GOV_RELAXED, .log_level = 1, .report = 1 \
	}

/* Sets one variable by name ("ATTRACE_MODE", ...). Unknown ATTRACE_ names
 * are ignored (return 0). An empty value restores the default: NULL for
 * strings, record / relaxed / warn for the enums. @return 0, -EINVAL with
 * reterr->msg naming the variable and the bad value, e.g. "ATTRACE_MODE:
 * invalid value 'recrod' (expected record, replay or off)", or -ENOMEM. */
int config_set(struct at_config *c, const char *name, const char *value, struct at_error *reterr);
/* Applies every ATTRACE_* entry of envp ("NAME=value" strings, NULL-ended).
 * Stops at the first invalid value. */
int config_from_env(struct at_config *c, char *const *envp, struct at_error *reterr);
void config_release(
	struct at_config
		*c); /* accepts NULL; clears api_key and redact_key; leaves AT_CONFIG_INIT */

/* Most names an ATTRACE_REPLAY_IGNORE list may hold, and their length. */
#define CONFIG_IGNORE_MAX      64
#define CONFIG_IGNORE_NAME_MAX 64

/* The next entry of a comma-separated list at *p, blanks around it and
 * empty entries skipped: its start in *ret, *p moved past it.
 * @return its length, 0 at the end of the list. */
size_t config_list_next(const char **p, const char **ret);

/* @return 1 when an environment variable name looks like it holds a secret
 * (KEY, TOKEN, SECRET, PASSWORD, PASSWD, PASS, AUTH, CREDENTIAL, COOKIE,
 * SESSION, PRIVATE, case-insensitive), so agent_start stores "[redacted]". */
int config_name_is_secret(const char *name);
