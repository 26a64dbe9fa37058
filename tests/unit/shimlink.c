/* SPDX-License-Identifier: MIT */
/* shimlink.c -- a shared object linked like libattrace.so that calls the redactor.
 *
 * The shim does not call common/redact.c yet; this module pulls redact.o
 * (and with it libsodium) through common_shim_dep with the shim's flags, so
 * that shimlink.sh can check that a shim using the redactor carries no
 * DT_NEEDED libsodium and no undefined sodium symbol (the static archive
 * is linked in and its symbols stay local).
 */
#include <stdint.h>

#include "common/buf.h"
#include "common/redact.h"
#include "common/redact_key.h"

int redact_shimlink_probe(void);

__attribute__((visibility("default"))) int redact_shimlink_probe(void)
{
	struct redact_config cfg = { .names = NULL };
	struct redactor *r = redactor_new(&cfg);
	struct buf out = BUF_INIT;
	uint8_t key[REDACT_KEY_LEN];
	int k;

	k = r ? redactor_feed(r, "x", 1, &out) : -1;
	redactor_free(r);
	buf_release(&out);
	if (k == 0)
		k = redact_key_load(key, NULL, NULL);
	return k;
}
