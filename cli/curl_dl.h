/* SPDX-License-Identifier: MIT */
/* curl_dl.h -- the libcurl functions the CLI calls, from libcurl.so.4 loaded on first use.
 *
 * The CLI is compiled against <curl/curl.h> (types, CURLOPT_* and CURLE_*
 * constants) but not linked with libcurl: every call goes through the table
 * curl_dl_get() returns, e.g. curl->easy_perform(c). Each member has exactly
 * the type of the libcurl function it stands for (__typeof__ of the
 * declaration in curl.h), so a prototype cannot drift. What is lost is
 * curl.h's compile-time check of curl_easy_setopt's third argument
 * (typecheck-gcc.h only wraps the real name): pass longs as long, sizes
 * as curl_off_t, as the CURLOPT_* documentation says.
 */
#pragma once

#include <curl/curl.h>

struct curl_dl {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_global_cleanup) *global_cleanup;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt; /* variadic, as in curl.h */
	__typeof__(curl_easy_perform) *easy_perform;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_easy_getinfo) *easy_getinfo; /* variadic, as in curl.h */
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
};

/* Loads libcurl.so.4, resolves every member of the table and calls
 * curl_global_init(CURL_GLOBAL_DEFAULT). The work is done by the first call
 * only; later calls return the same answer (a failed load is not retried).
 * The library is never unloaded. Not thread-safe: the CLI uploads from its
 * main thread. Logs nothing.
 * @return the table (never freed), or NULL with *ret_err (when ret_err is not
 * NULL) pointing to a static message that names libcurl.so.4 and gives
 * dlerror()'s text, e.g. "cannot load libcurl.so.4: libcurl.so.4: cannot
 * open shared object file: No such file or directory". */
const struct curl_dl *curl_dl_get(const char **ret_err);

/* curl_global_cleanup() when curl_dl_get() initialised libcurl (the library
 * stays mapped; a later curl_dl_get() initialises it again). Does nothing
 * when libcurl was never loaded. */
void curl_dl_cleanup(void);
