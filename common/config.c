/* SPDX-License-Identifier: MIT */
/* config.c -- the ATTRACE_* settings, parsed once from an environment. */
#include "common/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/hot.h"
#include "common/http1.h"
#include "common/log.h"

AT_HOT static int set_string(char **slot, const char *value)
{
	char *p = NULL;

	/* An empty value unsets, as in `ATTRACE_COLLECTOR= attrace record ...` */
	if (value && *value) {
		p = strdup(value);
		if (!p)
			return -ENOMEM;
	}
	free(*slot);
	*slot = p;
	return 0;
}

size_t config_list_next(const char **p, const char **ret)
{
	const char *s = *p, *e, *next;

	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (!*s) {
			*p = s;
			return 0;
		}
		next = strchr(s, ',');
		if (!next)
			next = s + strlen(s);
		for (e = next; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		*p = next;
		*ret = s;
		return (size_t)(e - s);
	}
}

/* ATTRACE_REPLAY_IGNORE: header names, a trailing '*' making a prefix. */
static int check_ignore(const char *value, struct at_error *reterr)
{
	const char *p = value, *s;
	size_t n, i, count = 0;

	while ((n = config_list_next(&p, &s))) {
		for (i = 0; i < n; i++)
			if (!http1_is_tchar((unsigned char)s[i]) || (s[i] == '*' && i + 1 < n))
				break;
		if (i < n || n > CONFIG_IGNORE_NAME_MAX || (n == 1 && s[0] == '*')) {
			at_error_set(reterr, 0, 0, 0,
				     "ATTRACE_REPLAY_IGNORE: '%.*s' is not a header name or "
				     "a NAME* prefix",
				     (int)(n > 64 ? 64 : n), s);
			return -EINVAL;
		}
		if (++count > CONFIG_IGNORE_MAX) {
			at_error_set(reterr, 0, 0, 0, "ATTRACE_REPLAY_IGNORE: more than %d names",
				     CONFIG_IGNORE_MAX);
			return -EINVAL;
		}
	}
	return 0;
}

static int bad_value(struct at_error *reterr, const char *name, const char *value,
		     const char *expected)
{
	at_error_set(reterr, 0, 0, 0, "%s: invalid value '%.64s' (expected %s)", name, value,
		     expected);
	return -EINVAL;
}

AT_HOT int config_set(struct at_config *c, const char *name, const char *value,
		      struct at_error *reterr)
{
	if (!value)
		value = "";
	if (strcmp(name, "ATTRACE_MODE") == 0) {
		if (!*value || strcmp(value, "record") == 0)
			c->mode = AT_MODE_RECORD;
		else if (strcmp(value, "replay") == 0)
			c->mode = AT_MODE_REPLAY;
		else if (strcmp(value, "off") == 0)
			c->mode = AT_MODE_OFF;
		else
			return bad_value(reterr, name, value, "record, replay or off");
		return 0;
	}
	if (strcmp(name, "ATTRACE_GOVERNANCE") == 0) {
		if (!*value || strcmp(value, "relaxed") == 0)
			c->governance = AT_GOV_RELAXED;
		else if (strcmp(value, "strict") == 0 || strcmp(value, "governance") == 0)
			c->governance = AT_GOV_STRICT;
		else
			return bad_value(reterr, name, value, "relaxed or strict");
		return 0;
	}
	if (strcmp(name, "ATTRACE_LOG") == 0) {
		int level = *value ? log_level_parse(value) : AT_LOG_WARN;

		if (level < 0)
			return bad_value(reterr, name, value, "error, warn, info or debug");
		c->log_level = level;
		return 0;
	}
	if (strcmp(name, "ATTRACE_TRACE") == 0)
		return set_string(&c->trace, value);
	if (strcmp(name, "ATTRACE_COLLECTOR") == 0)
		return set_string(&c->collector, value);
	if (strcmp(name, "ATTRACE_API_KEY") == 0)
		return set_string(&c->api_key, value);
	if (strcmp(name, "ATTRACE_NAME") == 0)
		return set_string(&c->name, value);
	if (strcmp(name, "ATTRACE_REDACT") == 0)
		return set_string(&c->redact, value);
	if (strcmp(name, "ATTRACE_REDACT_KEY") == 0) {
		size_t i;

		for (i = 0; value[i]; i++)
			if (!strchr("0123456789abcdefABCDEF", value[i]))
				break;
		if (*value && (value[i] || i != 64)) {
			/* the value is a secret: not echoed */
			at_error_set(reterr, 0, 0, 0,
				     "ATTRACE_REDACT_KEY: invalid value (expected 64 hex digits)");
			return -EINVAL;
		}
		return set_string(&c->redact_key, value);
	}
	if (strcmp(name, "ATTRACE_CTX") == 0)
		return set_string(&c->ctx, value);
	if (strcmp(name, "ATTRACE_REPLAY_OUT") == 0)
		return set_string(&c->replay_out, value);
	if (strcmp(name, "ATTRACE_ALLOW") == 0)
		return set_string(&c->allow, value);
	if (strcmp(name, "ATTRACE_REPLAY_IGNORE") == 0) {
		int r = check_ignore(value, reterr);

		return r < 0 ? r : set_string(&c->replay_ignore, value);
	}
	if (strcmp(name, "ATTRACE_REPLAY_REPORT") == 0) {
		if (!*value || strcmp(value, "shim") == 0)
			c->report = 1;
		else if (strcmp(value, "cli") == 0)
			c->report = 0;
		else
			return bad_value(reterr, name, value, "shim or cli");
		return 0;
	}
	return 0; /* other ATTRACE_ names belong to tests and tools */
}

AT_HOT int config_from_env(struct at_config *c, char *const *envp, struct at_error *reterr)
{
	static const char prefix[] = "ATTRACE_";
	char name[64];
	size_t i;
	int r;

	if (!envp)
		return 0;
	for (i = 0; envp[i]; i++) {
		const char *e = envp[i], *eq;

		if (strncmp(e, prefix, sizeof(prefix) - 1) != 0)
			continue;
		eq = strchr(e, '=');
		if (!eq || (size_t)(eq - e) >= sizeof(name))
			continue; /* no value, or a name longer than any we know */
		memcpy(name, e, (size_t)(eq - e));
		name[eq - e] = '\0';
		r = config_set(c, name, eq + 1, reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

static void clear_string(char *s)
{
	/* volatile stores so that the clearing is not optimised away */
	volatile char *p = s;

	while (p && *p)
		*p++ = '\0';
}

void config_release(struct at_config *c)
{
	if (!c)
		return;
	free(c->trace);
	free(c->collector);
	clear_string(c->api_key);
	free(c->api_key);
	clear_string(c->redact_key);
	free(c->redact_key);
	free(c->name);
	free(c->replay_out);
	free(c->allow);
	free(c->replay_ignore);
	free(c->redact);
	free(c->ctx);
	*c = (struct at_config)AT_CONFIG_INIT;
}

/* 1 when `up` (upper case) has `w` at its start. */
AT_HOT static int at(const char *up, const char *w)
{
	while (*w && *up == *w) {
		up++;
		w++;
	}
	return *w == '\0';
}

AT_HOT int config_name_is_secret(const char *name)
{
	char c;

	if (!name)
		return 0;
	/* One pass, dispatching on each byte: every traced process checks every
	 * environment name at start (37 names cost 18 us with a strstr per
	 * word). Words: KEY TOKEN SECRET PASSWORD PASSWD PASS AUTH CREDENTIAL
	 * COOKIE SESSION PRIVATE (PASS covers PASSWORD and PASSWD). */
	for (const char *p = name; (c = *p); p++) {
		char u[11]; /* up to the longest word, CREDENTIAL, upper-cased */
		size_t i;

		c = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
		if (c != 'K' && c != 'T' && c != 'S' && c != 'P' && c != 'A' && c != 'C')
			continue;
		for (i = 0; i < sizeof(u) - 1 && p[i]; i++)
			u[i] = p[i] >= 'a' && p[i] <= 'z' ? (char)(p[i] - 'a' + 'A') : p[i];
		u[i] = '\0';
		switch (c) {
		case 'K':
			if (at(u, "KEY"))
				return 1;
			break;
		case 'T':
			if (at(u, "TOKEN"))
				return 1;
			break;
		case 'S':
			if (at(u, "SECRET") || at(u, "SESSION"))
				return 1;
			break;
		case 'P':
			if (at(u, "PASS") || at(u, "PRIVATE"))
				return 1;
			break;
		case 'A':
			if (at(u, "AUTH"))
				return 1;
			break;
		case 'C':
			if (at(u, "CREDENTIAL") || at(u, "COOKIE"))
				return 1;
			break;
		}
	}
	return 0;
}
