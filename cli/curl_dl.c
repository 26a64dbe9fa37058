/* SPDX-License-Identifier: MIT */
/* curl_dl.c -- libcurl for the CLI's uploads, loaded with dlopen the first time one is made.
 *
 * Only `attrace push` and `attrace record --collector` talk to a collector,
 * yet linking libcurl made every start of the CLI map it and the 27
 * libraries it pulls in (gnutls, krb5, ldap, ssh, ...) and relocate them
 * (9,135 symbol relocations instead of 3,854). Measured on Debian 12
 * (hyperfine medians, 2 CPUs): `attrace --version` 14.0 ms and 517 page
 * faults with libcurl linked, 5.4 ms and 218 without;
 * `attrace record -- /usr/bin/true` 23.6 ms against 13.9 ms, paid by every
 * recorded run (W2 makes 300 of them). This is shim/sha256_dl.c's approach
 * (and shim/ship.c's, for the same libcurl): the CLI keeps <curl/curl.h>
 * for types and constants and calls through a table resolved once;
 * cli/meson.build takes only libcurl's compile arguments.
 */
#include "cli/curl_dl.h"

#include <dlfcn.h>
#include <stdio.h>

#define CURL_DL_SONAME "libcurl.so.4"

static struct {
	int tried; /* the first curl_dl_get() has run */
	int initialised; /* curl_global_init() succeeded, no cleanup since */
	struct curl_dl fn;
	char err[512]; /* why libcurl cannot be used; "" while it can */
} lib;

static void fail(const char *what, const char *why)
{
	snprintf(lib.err, sizeof(lib.err), "cannot %s " CURL_DL_SONAME ": %s", what,
		 why ? why : "unknown error");
}

/* NULL, with lib.err set, when name is missing (or an earlier one was). */
static void *sym(void *h, const char *name)
{
	void *p;

	if (lib.err[0])
		return NULL;
	p = dlsym(h, name);
	if (!p)
		fail("load", dlerror());
	return p;
}

/* Every member of struct curl_dl is named after its function, less "curl_". */
#define RESOLVE(h, member) (lib.fn.member = (__typeof__(lib.fn.member))sym(h, "curl_" #member))

static void load(void)
{
	/* Never closed: the table stays valid for the process's life. */
	void *h = dlopen(CURL_DL_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		fail("load", dlerror());
		return;
	}
	RESOLVE(h, global_init);
	RESOLVE(h, global_cleanup);
	RESOLVE(h, easy_init);
	RESOLVE(h, easy_setopt);
	RESOLVE(h, easy_perform);
	RESOLVE(h, easy_strerror);
	RESOLVE(h, easy_getinfo);
	RESOLVE(h, easy_cleanup);
	RESOLVE(h, slist_append);
	RESOLVE(h, slist_free_all);
}

const struct curl_dl *curl_dl_get(const char **ret_err)
{
	CURLcode cc;

	if (!lib.tried) {
		lib.tried = 1;
		load();
	}
	if (!lib.err[0] && !lib.initialised) {
		cc = lib.fn.global_init(CURL_GLOBAL_DEFAULT);
		if (cc == CURLE_OK)
			lib.initialised = 1;
		else
			fail("initialise", lib.fn.easy_strerror(cc));
	}
	if (lib.err[0]) {
		if (ret_err)
			*ret_err = lib.err;
		return NULL;
	}
	return &lib.fn;
}

void curl_dl_cleanup(void)
{
	if (!lib.initialised)
		return;
	lib.fn.global_cleanup();
	lib.initialised = 0;
}
