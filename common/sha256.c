/* SPDX-License-Identifier: MIT */
/* sha256.c -- the SHA-256 helpers of fingerprint.h, over OpenSSL's libcrypto.
 *
 * The shim does not link libcrypto (every traced process would pay for its
 * relocations at start-up): it defines these same functions over a
 * dlopen'ed libcrypto in shim/sha256_dl.c, and the linker then never pulls
 * this object out of the static library.
 */
#include <errno.h>
#include <fcntl.h>

#include "common/fingerprint.h"
/* SHA256_* are deprecated in OpenSSL 3 but are what we want: see below. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- SHA-256 (OpenSSL's SHA256_* block functions) ----
 *
 * Not EVP: EVP_Digest fetches the algorithm through OpenSSL's provider
 * machinery, with global locks and state that a host program shares with us
 * and tears down in its exit handlers (a preloaded curl deadlocked in
 * EVP_MD_fetch while hashing its executable on our writer thread). The
 * SHA256_* functions are deprecated in OpenSSL 3 but are plain code with no
 * global state, and the same speed (SHA-NI/AVX2 assembly).
 */

struct sha256 {
	SHA256_CTX ctx;
};

struct sha256 *sha256_new(void)
{
	struct sha256 *s = malloc(sizeof(*s));

	if (!s)
		return NULL;
	SHA256_Init(&s->ctx);
	return s;
}

void sha256_update(struct sha256 *s, const void *p, size_t n)
{
	if (s && n)
		SHA256_Update(&s->ctx, p, n);
}

static void to_hex(const unsigned char *md, size_t n, char *hex)
{
	static const char digits[16] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * n] = '\0';
}

void sha256_final_hex(struct sha256 *s, char hex[FP_HEX_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	if (!s) {
		hex[0] = '\0';
		return;
	}
	SHA256_Final(md, &s->ctx);
	to_hex(md, sizeof(md), hex);
	free(s);
}

void sha256_hex(const void *p, size_t n, char hex[FP_HEX_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(p, n, md);
	to_hex(md, sizeof(md), hex);
}

int sha256_file(const char *path, char hex[FP_HEX_LEN + 1])
{
	char chunk[32768];
	struct sha256 *s;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	s = sha256_new();
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		sha256_update(s, chunk, (size_t)n);
	}
	close(fd);
	sha256_final_hex(s, hex);
	if (r < 0)
		hex[0] = '\0';
	return r;
}
