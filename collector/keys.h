/* SPDX-License-Identifier: MIT */
/* keys.h -- API keys: generated once, stored hashed, compared in constant time.
 *
 * A key is "atk_" followed by 64 hex digits (32 random bytes from
 * libsodium). The keys file holds one line per key:
 *     <scope> <name> <BLAKE2b-256 of the key, hex>
 * ('#' starts a comment). Keys are random and high-entropy, so a fast keyed
 * hash is enough (no password hashing): a stolen file reveals no key.
 */
#pragma once

#include "common/error.h"

enum keys_scope {
	KEYS_INGEST = 1, /* POST /api/v1/traces */
	KEYS_READ = 2, /* every GET but /health */
};

struct keys;

/* Loads path. A missing file gives an empty set (*ret_missing = 1).
 * @return the set or NULL with reterr (unreadable file, bad line). */
struct keys *keys_load(const char *path, int *ret_missing, struct at_error *reterr);
void keys_free(struct keys *k); /* accepts NULL */
/* @return the number of keys. */
int keys_count(const struct keys *k);
/* Checks an Authorization header value ("Bearer KEY") for scope.
 * @return 0 and *ret_name (borrowed) when allowed, -EACCES for a missing or
 * unknown key (401), -EPERM for a key of another scope (403). */
int keys_check(const struct keys *k, const char *authorization, enum keys_scope scope,
	       const char **ret_name);
/* Generates a key, appends its hash to path (created 0600), and writes the
 * key to ret_key (NUL-terminated). @return 0 or a negative errno with reterr. */
int keys_add(const char *path, enum keys_scope scope, const char *name, char ret_key[80],
	     struct at_error *reterr);
/* A keys file as a running collector sees it: reloaded when it changes (at
 * most one stat() a second, from the request threads) or on demand (SIGHUP),
 * so `keys add` takes effect without a restart. A reload that fails (a bad
 * line, an unreadable file) keeps the previous keys and logs why. Without
 * keys a loopback collector asks for none; any other address then refuses
 * every request (it never opens up because a file was emptied). */
struct keyring;

/* Loads path once. `loopback`: the collector listens on a loopback address
 * only. @return the ring, or NULL with reterr (as keys_load). */
struct keyring *keyring_open(const char *path, int loopback, int *ret_missing,
			     struct at_error *reterr);
void keyring_free(struct keyring *kr); /* accepts NULL */
/* @return the number of keys now. */
int keyring_count(struct keyring *kr);
/* Reloads now when `force`, else when the file changed and a second passed
 * since the last look. Logs what changed. */
void keyring_refresh(struct keyring *kr, int force);
/* keys_check against the current keys (after keyring_refresh(kr, 0)).
 * @return 1 when no key is required (loopback without keys), 0 with the
 * key's name copied to name (cap bytes), -EACCES or -EPERM. */
int keyring_check(struct keyring *kr, const char *authorization, enum keys_scope scope, char *name,
		  size_t cap);

/* "ingest" | "read" -> scope, or 0. */
enum keys_scope keys_scope_parse(const char *s);
