/* SPDX-License-Identifier: MIT */
/* sha256_dl.c -- fingerprint.h's SHA-256 helpers for the shim, over libcrypto loaded on demand.
 *
 * Linking libcrypto would make every traced process pay for its 21,000
 * relocations at start-up, for the few hashes the shim computes (the
 * executable's, and in replay the fingerprint at the root's end). Defining
 * these functions here keeps common/sha256.c, which links libcrypto, out of
 * libattrace.so. The low-level SHA256_* functions, not EVP: see
 * common/sha256.c. Without libcrypto, every hash is "" (and sha256_file
 * fails with -ENOSYS).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>

#include "common/fingerprint.h"
#include "shim/real.h"

typedef int init_fn(void *);
typedef int update_fn(void *, const void *, size_t);
typedef int final_fn(unsigned char *, void *);

static struct {
	pthread_once_t once;
	init_fn *init;
	update_fn *update;
	final_fn *final;
} lib = { .once = PTHREAD_ONCE_INIT };

static void load(void)
{
	/* Never closed: the functions stay valid for the process's life. */
	void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);

	if (!h)
		return;
	lib.init = (init_fn *)dlsym(h, "SHA256_Init");
	lib.update = (update_fn *)dlsym(h, "SHA256_Update");
	lib.final = (final_fn *)dlsym(h, "SHA256_Final");
	if (!lib.init || !lib.update || !lib.final)
		lib.init = NULL;
}

struct sha256 {
	unsigned char ctx[256] __attribute__((aligned(16))); /* >= sizeof(SHA256_CTX) (112) */
};

struct sha256 *sha256_new(void)
{
	struct sha256 *s;

	pthread_once(&lib.once, load);
	if (!lib.init)
		return NULL;
	s = malloc(sizeof(*s));
	if (s && lib.init(s->ctx) != 1) {
		free(s);
		s = NULL;
	}
	return s;
}

void sha256_update(struct sha256 *s, const void *p, size_t n)
{
	if (s && n)
		lib.update(s->ctx, p, n);
}

void sha256_final_hex(struct sha256 *s, char hex[FP_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[32];

	hex[0] = '\0';
	if (!s)
		return;
	if (lib.final(md, s->ctx) == 1) {
		for (int i = 0; i < 32; i++) {
			hex[2 * i] = digits[md[i] >> 4];
			hex[2 * i + 1] = digits[md[i] & 15];
		}
		hex[64] = '\0';
	}
	free(s);
}

void sha256_hex(const void *p, size_t n, char hex[FP_HEX_LEN + 1])
{
	struct sha256 *s = sha256_new();

	sha256_update(s, p, n);
	sha256_final_hex(s, hex);
}

int sha256_file(const char *path, char hex[FP_HEX_LEN + 1])
{
	char chunk[65536];
	struct sha256 *s;
	ssize_t n;
	int fd;

	hex[0] = '\0';
	fd = REAL(open)(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	s = sha256_new();
	if (!s) {
		REAL(close)(fd);
		return -ENOSYS;
	}
	while ((n = REAL(read)(fd, chunk, sizeof(chunk))) > 0)
		sha256_update(s, chunk, (size_t)n);
	REAL(close)(fd);
	sha256_final_hex(s, hex);
	return n < 0 ? -EIO : 0;
}
