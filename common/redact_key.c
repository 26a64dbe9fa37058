/* SPDX-License-Identifier: MIT */
/* redact_key.c -- the key of redaction markers: the per-user key file (see redact_key.h). */
#include "common/redact_key.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; envp && envp[i]; i++)
		if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
			return envp[i] + n + 1;
	return NULL;
}

int redact_key_path(char *const *envp, struct buf *out)
{
	const char *xdg = env_get(envp, "XDG_CONFIG_HOME"), *home = env_get(envp, "HOME");

	if (xdg && xdg[0] == '/')
		return buf_printf(out, "%s/attrace/redact.key", xdg);
	if (home && home[0])
		return buf_printf(out, "%s/.config/attrace/redact.key", home);
	return -ENOENT;
}

static int hexval(unsigned c)
{
	if (c >= 'A' && c <= 'Z')
		c += 'a' - 'A';
	if (c >= '0' && c <= '9')
		return (int)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (int)(c - 'a' + 10);
	return -1;
}

int redact_key_parse_hex(const char *hex, uint8_t key[REDACT_KEY_LEN])
{
	uint8_t k[REDACT_KEY_LEN];
	size_t i;

	if (!hex || strlen(hex) != 2 * REDACT_KEY_LEN)
		return -EINVAL;
	for (i = 0; i < REDACT_KEY_LEN; i++) {
		int hi = hexval((unsigned char)hex[2 * i]),
		    lo = hexval((unsigned char)hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		k[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(key, k, sizeof(k));
	sodium_memzero(k, sizeof(k));
	return 0;
}

/* mkdir -p for the directories above path (mode 0700). */
static int make_parents(char *path)
{
	char *s;

	for (s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			int e = -errno;

			*s = '/';
			return e;
		}
		*s = '/';
	}
	return 0;
}

/* @return 0, -ENOENT, -EINVAL (wrong size), or another negative errno. */
static int read_key(const char *path, uint8_t key[REDACT_KEY_LEN])
{
	uint8_t k[REDACT_KEY_LEN + 1];
	ssize_t got;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), e = 0;

	if (fd < 0)
		return -errno;
	while (n < sizeof(k)) {
		got = read(fd, k + n, sizeof(k) - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			e = -errno;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (e == 0 && n != REDACT_KEY_LEN)
		e = -EINVAL;
	if (e == 0)
		memcpy(key, k, REDACT_KEY_LEN);
	sodium_memzero(k, sizeof(k));
	return e;
}

/* Writes 32 random bytes to a temporary file and links it to path, so
 * that a concurrent reader never sees a partial key. @return 0, -EEXIST
 * when another process made it first, or a negative errno. */
static int create_key(const char *path)
{
	uint8_t k[REDACT_KEY_LEN];
	char tmp[4096];
	int fd, e = 0;
	ssize_t w;

	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(k, sizeof(k));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		e = -errno;
		goto out;
	}
	do {
		w = write(fd, k, sizeof(k));
	} while (w < 0 && errno == EINTR);
	if (w != (ssize_t)sizeof(k))
		e = w < 0 ? -errno : -EIO;
	if (e == 0 && fsync(fd) < 0)
		e = -errno;
	close(fd);
	if (e == 0 && link(tmp, path) < 0)
		e = -errno;
	unlink(tmp);
out:
	sodium_memzero(k, sizeof(k));
	return e;
}

int redact_key_load(uint8_t key[REDACT_KEY_LEN], char *const *envp, struct at_error *reterr)
{
	struct buf path = BUF_INIT;
	int e;

	e = redact_key_path(envp, &path);
	if (e < 0) {
		at_error_set(reterr, 0, 0, 0,
			     "no key file: neither XDG_CONFIG_HOME nor HOME is set");
		goto out;
	}
	e = read_key(path.data, key);
	if (e == -ENOENT) {
		e = make_parents(path.data);
		if (e == 0)
			e = create_key(path.data);
		if (e == 0 || e == -EEXIST)
			e = read_key(path.data, key);
	}
	if (e == -EINVAL)
		at_error_set(reterr, 0, 0, 0, "'%s': a redaction key is exactly %d bytes",
			     path.data, REDACT_KEY_LEN);
	else if (e < 0)
		at_error_set(reterr, 0, 0, 0, "'%s': %s", path.data, strerror(-e));
out:
	buf_release(&path);
	return e;
}
