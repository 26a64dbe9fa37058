/* SPDX-License-Identifier: MIT */
/* test-config.c -- unit tests for common/config.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "tap.h"

static void test_set(void)
{
	static const struct {
		const char *name, *value;
		int ret;
		const char *msg;
	} cases[] = {
		{ "ATTRACE_MODE", "record", 0, NULL },
		{ "ATTRACE_MODE", "replay", 0, NULL },
		{ "ATTRACE_MODE", "off", 0, NULL },
		{ "ATTRACE_MODE", "recrod", -EINVAL,
		  "ATTRACE_MODE: invalid value 'recrod' (expected record, replay or off)" },
		{ "ATTRACE_GOVERNANCE", "strict", 0, NULL },
		{ "ATTRACE_GOVERNANCE", "governance", 0, NULL },
		{ "ATTRACE_GOVERNANCE", "lax", -EINVAL,
		  "ATTRACE_GOVERNANCE: invalid value 'lax' (expected relaxed or strict)" },
		{ "ATTRACE_LOG", "debug", 0, NULL },
		{ "ATTRACE_LOG", "verbose", -EINVAL,
		  "ATTRACE_LOG: invalid value 'verbose' (expected error, warn, info or debug)" },
		{ "ATTRACE_UNKNOWN", "whatever", 0, NULL },
		{ "ATTRACE_TRACE", "/tmp/t.jsonl.zst", 0, NULL },
		{ "ATTRACE_REDACT_KEY",
		  "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F", 0, NULL },
		{ "ATTRACE_REDACT_KEY", "0001", -EINVAL,
		  "ATTRACE_REDACT_KEY: invalid value (expected 64 hex digits)" },
		{ "ATTRACE_REDACT_KEY",
		  "x00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", -EINVAL,
		  "ATTRACE_REDACT_KEY: invalid value (expected 64 hex digits)" },
		{ "ATTRACE_REPLAY_IGNORE", "X-Run-Id, x-ci-*,,Idempotency-Key", 0, NULL },
		{ "ATTRACE_REPLAY_IGNORE", "", 0, NULL },
		{ "ATTRACE_REPLAY_IGNORE", "x-run id", -EINVAL,
		  "ATTRACE_REPLAY_IGNORE: 'x-run id' is not a header name or a NAME* prefix" },
		{ "ATTRACE_REPLAY_IGNORE", "a,*", -EINVAL,
		  "ATTRACE_REPLAY_IGNORE: '*' is not a header name or a NAME* prefix" },
		{ "ATTRACE_REPLAY_IGNORE", "x-*-id", -EINVAL,
		  "ATTRACE_REPLAY_IGNORE: 'x-*-id' is not a header name or a NAME* prefix" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct at_config c = AT_CONFIG_INIT;
		struct at_error e = { .msg = "untouched" };
		int r = config_set(&c, cases[i].name, cases[i].value, &e);

		tap_ok(r == cases[i].ret, "config_set %s=%s -> %d", cases[i].name, cases[i].value,
		       r);
		if (cases[i].msg)
			tap_streq(e.msg, cases[i].msg, "error message names variable and value");
		else
			tap_streq(e.msg, "untouched", "reterr untouched on success");
		config_release(&c);
	}
}

static void test_env(void)
{
	char *env[] = {
		"HOME=/root",
		"ATTRACE_MODE=replay",
		"ATTRACE_TRACE=/tmp/x.zst",
		"ATTRACE_GOVERNANCE=strict",
		"ATTRACE_COLLECTOR=http://127.0.0.1:9000",
		"ATTRACE_API_KEY=sk-123",
		"ATTRACE_NAME=agent-7",
		"ATTRACE_REDACT=X-Token,X-Other",
		"ATTRACE_REDACT_KEY=ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100",
		"ATTRACE_LOG=info",
		"ATTRACE_CTX=0.1;abc",
		"ATTRACE_NOEQUALS",
		NULL,
	};
	char *bad[] = { "ATTRACE_MODE=record", "ATTRACE_MODE=nope", "ATTRACE_TRACE=/never", NULL };
	char *empty[] = { "ATTRACE_COLLECTOR=", "ATTRACE_MODE=", NULL };
	struct at_config c = AT_CONFIG_INIT;
	struct at_error e;

	tap_ok(config_from_env(&c, env, &e) == 0, "config_from_env accepts a full environment");
	tap_ok(c.mode == AT_MODE_REPLAY && c.governance == AT_GOV_STRICT &&
		       c.log_level == AT_LOG_INFO,
	       "enums parsed");
	tap_streq(c.trace, "/tmp/x.zst", "ATTRACE_TRACE");
	tap_streq(c.collector, "http://127.0.0.1:9000", "ATTRACE_COLLECTOR");
	tap_streq(c.api_key, "sk-123", "ATTRACE_API_KEY");
	tap_streq(c.name, "agent-7", "ATTRACE_NAME");
	tap_streq(c.redact, "X-Token,X-Other", "ATTRACE_REDACT");
	tap_streq(c.redact_key, "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100",
		  "ATTRACE_REDACT_KEY");
	tap_streq(c.ctx, "0.1;abc", "ATTRACE_CTX");
	tap_ok(config_from_env(&c, empty, &e) == 0 && c.collector == NULL &&
		       c.mode == AT_MODE_RECORD,
	       "empty values unset strings and restore defaults");
	config_release(&c);
	tap_ok(c.trace == NULL && c.redact_key == NULL && c.mode == AT_MODE_RECORD &&
		       c.log_level == 1,
	       "config_release leaves AT_CONFIG_INIT");
	config_release(NULL);
	tap_ok(config_from_env(&c, bad, &e) == -EINVAL && c.trace == NULL,
	       "config_from_env stops at the first invalid value");
	tap_streq(e.msg, "ATTRACE_MODE: invalid value 'nope' (expected record, replay or off)",
		  "and says which");
	config_release(&c);
}

static void test_secret(void)
{
	static const struct {
		const char *name;
		int secret;
	} cases[] = {
		{ "OPENAI_API_KEY", 1 }, { "GITHUB_TOKEN", 1 }, { "aws_secret_access_key", 1 },
		{ "PGPASSWORD", 1 },	 { "MYSQL_PWD", 0 },	{ "HTTP_AUTHORIZATION", 1 },
		{ "SESSION_ID", 1 },	 { "Cookie", 1 },	{ "PRIVATE_PEM", 1 },
		{ "DB_CREDENTIALS", 1 }, { "HOME", 0 },		{ "PATH", 0 },
		{ "LANG", 0 },		 { "ATTRACE_MODE", 0 }, { "", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		tap_ok(config_name_is_secret(cases[i].name) == cases[i].secret, "secret? %s",
		       cases[i].name);
	tap_ok(config_name_is_secret(NULL) == 0, "secret? NULL");

	/* names longer than the upper-case copy */
	char longname[400];
	memset(longname, 'x', sizeof(longname));
	memcpy(longname + 390, "_token", 7);
	tap_ok(config_name_is_secret(longname) == 1, "secret? a 396-byte name ending in _token");
	memcpy(longname + 390, "_plain", 7);
	tap_ok(config_name_is_secret(longname) == 0, "secret? a 396-byte name without a word");
	memcpy(longname + 253, "KEY", 3);
	tap_ok(config_name_is_secret(longname) == 1, "secret? KEY across byte 255");
}

/* config_list_next: blanks around names and empty entries skipped. */
static void test_list(void)
{
	const char *p = " a ,, b\t,c ,", *s;
	char got[64] = "";
	size_t n;

	while ((n = config_list_next(&p, &s)))
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "[%.*s]", (int)n, s);
	tap_streq(got, "[a][b][c]", "config_list_next");
	p = "";
	tap_ok(config_list_next(&p, &s) == 0, "config_list_next: empty list");
	/* the 65th name is one too many */
	{
		char many[65 * 3 + 1] = "";
		struct at_config c = AT_CONFIG_INIT;
		struct at_error e = { 0 };

		for (int i = 0; i < 65; i++)
			snprintf(many + strlen(many), sizeof(many) - strlen(many), "h%d,", i % 10);
		tap_ok(config_set(&c, "ATTRACE_REPLAY_IGNORE", many, &e) == -EINVAL &&
			       strcmp(e.msg, "ATTRACE_REPLAY_IGNORE: more than 64 names") == 0,
		       "ATTRACE_REPLAY_IGNORE: at most 64 names (%s)", e.msg);
		config_release(&c);
	}
}

int main(void)
{
	test_set();
	test_env();
	test_secret();
	test_list();
	return tap_done();
}
