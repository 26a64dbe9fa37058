/* SPDX-License-Identifier: MIT */
/* keys.c -- hashed API keys (libsodium), constant-time comparison. */
#include "collector/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define KEY_PREFIX   "atk_"
#define KEY_RAW	     32
#define HASH_LEN     crypto_generichash_BYTES /* 32 */
#define KEY_NAME_MAX 64

struct key {
	enum keys_scope scope;
	char name[KEY_NAME_MAX + 1];
	unsigned char hash[HASH_LEN];
};

struct keys {
	struct key *k;
	int n;
};

enum keys_scope keys_scope_parse(const char *s)
{
	if (s && strcmp(s, "ingest") == 0)
		return KEYS_INGEST;
	if (s && strcmp(s, "read") == 0)
		return KEYS_READ;
	return 0;
}

static void hash_key(const char *key, size_t n, unsigned char out[HASH_LEN])
{
	crypto_generichash(out, HASH_LEN, (const unsigned char *)key, n, NULL, 0);
}

struct keys *keys_load(const char *path, int *ret_missing, struct at_error *reterr)
{
	struct keys *ks = calloc(1, sizeof(*ks));
	char line[512];
	long no = 0;
	FILE *f;

	*ret_missing = 0;
	if (!ks || sodium_init() < 0) {
		at_error_set(reterr, 0, 0, 0, "out of memory");
		free(ks);
		return NULL;
	}
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT) {
			*ret_missing = 1;
			return ks;
		}
		at_error_set(reterr, 0, 0, 0, "cannot open: %s", strerror(errno));
		free(ks);
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		char scope[16], name[KEY_NAME_MAX + 1], hex[2 * HASH_LEN + 2];
		struct key *nk, k = { 0 };
		size_t hl;

		no++;
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (sscanf(line, "%15s %64s %65s", scope, name, hex) != 3 ||
		    !(k.scope = keys_scope_parse(scope)) ||
		    sodium_hex2bin(k.hash, HASH_LEN, hex, strlen(hex), NULL, &hl, NULL) != 0 ||
		    hl != HASH_LEN) {
			at_error_set(reterr, 0, no, 0,
				     "line %ld: expected '<ingest|read> <name> <64 hex digits>'",
				     no);
			goto fail;
		}
		memcpy(k.name, name, sizeof(k.name));
		nk = realloc(ks->k, (size_t)(ks->n + 1) * sizeof(*nk));
		if (!nk) {
			at_error_set(reterr, 0, 0, 0, "out of memory");
			goto fail;
		}
		ks->k = nk;
		ks->k[ks->n++] = k;
	}
	fclose(f);
	return ks;
fail:
	fclose(f);
	keys_free(ks);
	return NULL;
}

void keys_free(struct keys *k)
{
	if (!k)
		return;
	if (k->k)
		sodium_memzero(k->k, (size_t)k->n * sizeof(*k->k));
	free(k->k);
	free(k);
}

int keys_count(const struct keys *k)
{
	return k ? k->n : 0;
}

int keys_check(const struct keys *k, const char *authorization, enum keys_scope scope,
	       const char **ret_name)
{
	unsigned char h[HASH_LEN];
	const char *key;
	int i, found = -1;

	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return -EACCES;
	key = authorization + 7;
	while (*key == ' ')
		key++;
	hash_key(key, strlen(key), h);
	/* Compare with every key, in constant time each; no early exit. */
	for (i = 0; i < k->n; i++)
		if (sodium_memcmp(h, k->k[i].hash, HASH_LEN) == 0)
			found = i;
	sodium_memzero(h, sizeof(h));
	if (found < 0)
		return -EACCES;
	if (k->k[found].scope != scope)
		return -EPERM;
	*ret_name = k->k[found].name;
	return 0;
}

int keys_add(const char *path, enum keys_scope scope, const char *name, char ret_key[80],
	     struct at_error *reterr)
{
	unsigned char raw[KEY_RAW], h[HASH_LEN];
	char hex[2 * HASH_LEN + 1], line[256];
	int fd, n, r = 0;
	size_t i;

	if (sodium_init() < 0) {
		at_error_set(reterr, 0, 0, 0, "libsodium does not initialise");
		return -EIO;
	}
	for (i = 0; name[i]; i++) {
		if (i >= KEY_NAME_MAX || name[i] <= ' ' || name[i] == '#' || name[i] == 0x7f) {
			at_error_set(reterr, 0, 0, 0,
				     "key name '%s': use up to %d printable characters, no spaces",
				     name, KEY_NAME_MAX);
			return -EINVAL;
		}
	}
	randombytes_buf(raw, sizeof(raw));
	memcpy(ret_key, KEY_PREFIX, sizeof(KEY_PREFIX) - 1);
	sodium_bin2hex(ret_key + sizeof(KEY_PREFIX) - 1, 2 * KEY_RAW + 1, raw, sizeof(raw));
	hash_key(ret_key, strlen(ret_key), h);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	n = snprintf(line, sizeof(line), "%s %s %s\n", scope == KEYS_INGEST ? "ingest" : "read",
		     name[0] ? name : "-", hex);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		at_error_set(reterr, 0, 0, 0, "cannot open: %s", strerror(errno));
		goto out;
	}
	if (write(fd, line, (size_t)n) != n || fsync(fd) < 0) {
		r = -errno;
		at_error_set(reterr, 0, 0, 0, "cannot write: %s", strerror(errno));
	}
	close(fd);
out:
	sodium_memzero(raw, sizeof(raw));
	if (r < 0)
		sodium_memzero(ret_key, 80);
	return r;
}

/* ---- keyring: the keys file of a running collector ------------------------ */

struct keyring {
	char *path;
	int loopback;
	pthread_rwlock_t lock; /* keys: read by requests, swapped by reloads */
	struct keys *keys;
	pthread_mutex_t reload; /* one reload at a time */
	struct stat st; /* the file as last loaded (st_ino 0: missing) */
	int64_t looked_s; /* CLOCK_MONOTONIC second of the last stat() */
};

static int64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

struct keyring *keyring_open(const char *path, int loopback, int *ret_missing,
			     struct at_error *reterr)
{
	struct keyring *kr = calloc(1, sizeof(*kr));

	if (!kr || !(kr->path = strdup(path))) {
		at_error_set(reterr, 0, 0, 0, "out of memory");
		free(kr);
		return NULL;
	}
	/* stat before reading: a change in between is seen by the next look */
	if (stat(path, &kr->st) < 0)
		memset(&kr->st, 0, sizeof(kr->st));
	kr->keys = keys_load(path, ret_missing, reterr);
	if (!kr->keys) {
		free(kr->path);
		free(kr);
		return NULL;
	}
	kr->loopback = loopback;
	kr->looked_s = mono_s();
	pthread_rwlock_init(&kr->lock, NULL);
	pthread_mutex_init(&kr->reload, NULL);
	return kr;
}

void keyring_free(struct keyring *kr)
{
	if (!kr)
		return;
	keys_free(kr->keys);
	pthread_rwlock_destroy(&kr->lock);
	pthread_mutex_destroy(&kr->reload);
	free(kr->path);
	free(kr);
}

int keyring_count(struct keyring *kr)
{
	int n;

	pthread_rwlock_rdlock(&kr->lock);
	n = keys_count(kr->keys);
	pthread_rwlock_unlock(&kr->lock);
	return n;
}

void keyring_refresh(struct keyring *kr, int force)
{
	struct at_error err = { 0 };
	struct keys *nk, *old;
	struct stat st;
	int missing, before, after;
	int64_t now = mono_s();

	if (!force && __atomic_load_n(&kr->looked_s, __ATOMIC_RELAXED) == now)
		return;
	/* A request never waits for another's reload: it goes on with the
	 * keys of the moment. SIGHUP (force) waits its turn. */
	if (force)
		pthread_mutex_lock(&kr->reload);
	else if (pthread_mutex_trylock(&kr->reload) != 0)
		return;
	__atomic_store_n(&kr->looked_s, now, __ATOMIC_RELAXED);
	if (stat(kr->path, &st) < 0)
		memset(&st, 0, sizeof(st));
	if (!force && same_file(&st, &kr->st))
		goto out;
	nk = keys_load(kr->path, &missing, &err);
	if (!nk) {
		/* remember the bad file: it is tried again once it changes, not every second */
		log_error("keys file '%s': %s; keeping the %d keys loaded before", kr->path,
			  err.msg, keyring_count(kr));
		if (st.st_ino)
			kr->st = st;
		goto out;
	}
	kr->st = st;
	pthread_rwlock_wrlock(&kr->lock);
	old = kr->keys;
	kr->keys = nk;
	pthread_rwlock_unlock(&kr->lock);
	before = keys_count(old);
	after = keys_count(nk);
	keys_free(old);
	if (after == 0 && !kr->loopback)
		log_warn("keys file '%s' holds no keys now: every request is refused until "
			 "one is added",
			 kr->path);
	else if (after == 0)
		log_warn("keys file '%s' holds no keys now: requests need none (loopback)",
			 kr->path);
	else
		log_warn("keys file '%s' reloaded: %d keys (were %d)", kr->path, after, before);
out:
	pthread_mutex_unlock(&kr->reload);
}

int keyring_check(struct keyring *kr, const char *authorization, enum keys_scope scope, char *name,
		  size_t cap)
{
	const char *n = NULL;
	int r;

	pthread_rwlock_rdlock(&kr->lock);
	if (keys_count(kr->keys) == 0)
		r = kr->loopback ? 1 : -EACCES;
	else
		r = keys_check(kr->keys, authorization, scope, &n);
	if (r == 0)
		snprintf(name, cap, "%s", n);
	pthread_rwlock_unlock(&kr->lock);
	return r;
}
