/* SPDX-License-Identifier: MIT */
/* secrets.c -- the process's redaction key and names, and the shim's feed rule (secrets.h). */
#include "shim/secrets.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/hot.h"
#include "common/json.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/redact_key.h"
#include "shim/shim.h"

static struct redact_config cfg;
static pthread_once_t once = PTHREAD_ONCE_INIT, key_once = PTHREAD_ONCE_INIT;
static int ready;
/* The variables redact_key_load reads, kept from the start: the key is
 * loaded when the first marker is made, not in every process (a process
 * that meets no secret never opens the key file). */
static char *key_env[3];

/* Straight into cfg.key: no thread reads it before load_key returns. */
static void key_fill(void)
{
	struct at_error err = { 0 };
	int r;

	if (shim_config.redact_key)
		r = redact_key_parse_hex(shim_config.redact_key, cfg.key);
	else
		r = redact_key_load(cfg.key, key_env, &err);
	if (r < 0) {
		log_warn("%s; redacting with a key of this run only (markers will not match "
			 "another run's)",
			 err.msg[0] ? err.msg : "cannot read the redaction key");
		randombytes_buf(cfg.key, sizeof(cfg.key));
	}
}

static void load_key(void)
{
	pthread_once(&key_once, key_fill);
}

static void load(void)
{
	static const uint8_t unset[REDACT_KEY_LEN];
	struct at_error err = { 0 };

	if (redact_config_parse(&cfg, shim_config.redact, unset, &err) < 0) {
		log_warn("ATTRACE_REDACT: %s; redacting the built-in names only", err.msg);
		redact_config_parse(&cfg, NULL, unset, NULL);
	}
	cfg.load_key = load_key;
	ready = 1;
}

AT_HOT void secrets_init(char *const *envp)
{
	size_t k = 0;

	for (char *const *e = envp; e && *e && k < 2; e++)
		if (!strncmp(*e, "HOME=", 5) || !strncmp(*e, "XDG_CONFIG_HOME=", 16))
			key_env[k++] = strdup(*e);
}

static int ensure(void)
{
	pthread_once(&once, load);
	return ready;
}

struct redactor *secrets_new(void)
{
	return ensure() ? redactor_new(&cfg) : NULL;
}

const struct redact_config *secrets_config(void)
{
	return ensure() ? &cfg : NULL;
}

void secrets_free(struct redactor *r)
{
	redactor_free(r);
}

void secrets_set_h2(struct redactor *r)
{
	redactor_set_h2(r);
}

int secrets_is_h2(const struct redactor *r)
{
	return redactor_is_h2(r);
}

int secrets_feed(struct redactor *r, int recv, const void *p, size_t n, struct buf *out)
{
	int ret = redactor_feed(r, p, n, out);

	/* Rare (a received chunk that ends in what may be the start of a key):
	 * the tail is written now, at the price of the HTTP framing state. */
	if (ret == 0 && recv && redactor_held(r))
		ret = redactor_flush(r, out);
	return ret;
}

AT_HOT int secrets_json_strn(struct buf *b, const char *s, size_t n)
{
	struct buf red = BUF_INIT;
	int r;

	if (!redact_may_change(s, n))
		return json_strn(b, s, n);
	if (!ensure() || redact_bytes(&cfg, s, n, &red) < 0) {
		buf_release(&red);
		/* no redactor: the argument is not written rather than leak */
		return json_str(b, "[redacted]");
	}
	r = json_strn(b, red.data ? red.data : "", red.len);
	buf_release(&red);
	return r;
}
