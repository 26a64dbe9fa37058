/* SPDX-License-Identifier: MIT */
/* config.c -- the ATTRACE_* settings, parsed once from an environment. */
#include "common/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

static int set_string(char **slot, const char *value)
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

static int bad_value(struct at_error *reterr, const char *name, const char *value,
		     const char *expected)
{
	at_error_set(reterr, 0, 0, 0, "%s: invalid value '%.64s' (expected %s)", name, value,
		     expected);
	return -EINVAL;
}

int config_set(struct at_config *c, const char *name, const char *value, struct at_error *reterr)
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
	if (strcmp(name, "ATTRACE_CTX") == 0)
		return set_string(&c->ctx, value);
	return 0; /* other ATTRACE_ names belong to tests and tools */
}

int config_from_env(struct at_config *c, char *const *envp, struct at_error *reterr)
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

void config_release(struct at_config *c)
{
	if (!c)
		return;
	free(c->trace);
	free(c->collector);
	if (c->api_key) {
		/* volatile stores so that the clearing is not optimised away */
		volatile char *p = c->api_key;

		while (*p)
			*p++ = '\0';
	}
	free(c->api_key);
	free(c->name);
	free(c->redact);
	free(c->ctx);
	*c = (struct at_config)AT_CONFIG_INIT;
}

int config_name_is_secret(const char *name)
{
	static const char *const words[] = {
		"KEY",	"TOKEN",      "SECRET", "PASSWORD", "PASSWD",  "PASS",
		"AUTH", "CREDENTIAL", "COOKIE", "SESSION",  "PRIVATE",
	};
	char up[256];
	size_t i, n;

	if (!name)
		return 0;
	/* Upper-case once, then one strstr per word: every traced process
	 * checks every environment name at start. A longer name is checked
	 * in its first 255 bytes only where a word could straddle the cut,
	 * so check it whole, the slow way. */
	n = strlen(name);
	if (n >= sizeof(up)) {
		for (const char *p = name; *p; p++)
			for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
				if (strncasecmp(p, words[i], strlen(words[i])) == 0)
					return 1;
		return 0;
	}
	for (i = 0; i <= n; i++)
		up[i] = name[i] >= 'a' && name[i] <= 'z' ? (char)(name[i] - 'a' + 'A') : name[i];
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(up, words[i]))
			return 1;
	return 0;
}
