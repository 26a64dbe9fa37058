/* SPDX-License-Identifier: MIT */
/* test-redact-key.c -- unit tests for common/redact_key.c: the key file's path, creation and checks, hex keys. */
#undef NDEBUG
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/redact_key.h"
#include "tap.h"

static void test_key(void)
{
	char dir[] = "/tmp/test-redact-XXXXXX", env0[256], path[512];
	char *envp[3] = { env0, "HOME=/nonexistent", NULL };
	uint8_t k1[REDACT_KEY_LEN], k2[REDACT_KEY_LEN];
	struct at_error e = { 0 };
	struct buf p = BUF_INIT;
	struct stat st;
	FILE *f;

	assert(mkdtemp(dir));
	snprintf(env0, sizeof(env0), "XDG_CONFIG_HOME=%s/cfg", dir);
	tap_ok(redact_key_path(envp, &p) == 0 && strstr(p.data, "/cfg/attrace/redact.key"),
	       "key path under XDG_CONFIG_HOME: %s", p.data);
	snprintf(path, sizeof(path), "%s", p.data);
	buf_release(&p);
	{
		char *home[] = { "HOME=/h", "XDG_CONFIG_HOME=relative", NULL }, *none[] = { NULL };

		tap_ok(redact_key_path(home, &p) == 0 &&
			       strcmp(p.data, "/h/.config/attrace/redact.key") == 0,
		       "a relative XDG_CONFIG_HOME is ignored for HOME/.config");
		buf_release(&p);
		tap_ok(redact_key_path(none, &p) == -ENOENT, "no HOME: -ENOENT");
	}
	tap_ok(redact_key_load(k1, envp, &e) == 0, "the key file is created: %s", e.msg);
	tap_ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == REDACT_KEY_LEN,
	       "mode 0600, 32 bytes");
	tap_ok(redact_key_load(k2, envp, &e) == 0 && memcmp(k1, k2, sizeof(k1)) == 0,
	       "loading again gives the same key");
	f = fopen(path, "ab");
	fputc('x', f);
	fclose(f);
	tap_ok(redact_key_load(k2, envp, &e) == -EINVAL && strstr(e.msg, "32 bytes"),
	       "a 33-byte key file is refused: %s", e.msg);
	unlink(path);
	snprintf(path, sizeof(path), "%s/cfg/attrace", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/cfg", dir);
	rmdir(path);
	rmdir(dir);
	tap_ok(redact_key_parse_hex(
		       "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F", k1) ==
			       0 &&
		       k1[0] == 0 && k1[31] == 0x1f && k1[26] == 0x1a,
	       "64 hex digits parse");
	tap_ok(redact_key_parse_hex("00", k1) < 0 &&
		       redact_key_parse_hex(
			       "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
			       k1) < 0,
	       "short or non-hex keys are refused");
}

int main(void)
{
	test_key();
	return tap_done();
}
