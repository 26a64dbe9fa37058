/* SPDX-License-Identifier: MIT */
/* ship.c -- upload the trace to ATTRACE_COLLECTOR when the root process ends, else spool it.
 *
 * Called once per process from shim_complete_how(), after the process's last
 * frame is in the trace file. It does something only when ATTRACE_COLLECTOR
 * is set, and only in the root process (the trace is whole once the root
 * ends) or in an orphan (getppid() == 1: a child that outlived its parent
 * appends frames after the root's upload and ships the file again; the
 * collector merges, deduplicating by (pid, seq)).
 *
 * Why a synchronous upload through dlopen'ed libcurl, and not a detached
 * uploader process: a forked uploader inherits the program's stdout/stderr
 * pipes, so `out=$(agent)` or a CI step would wait for it anyway, and it
 * would need a path to an executable we may not have. Loading libcurl only
 * here keeps every traced program that has no collector free of it
 * (libcurl and its TLS stack are never mapped), and the upload is bounded:
 * SHIP_TIMEOUT_MS in total, connection included. A trace that is not
 * acknowledged with a 2xx in that time (collector down, slow, refusing) is
 * copied to the spool directory, $XDG_STATE_HOME/attrace/spool or
 * ~/.local/state/attrace/spool, for `attrace push --spool`. A process
 * killed by a signal spools without trying the network (a handler can do
 * no more than read(2) and write(2)). When the collector does acknowledge
 * the trace, what the spool holds is uploaded next (and deleted once
 * acknowledged), within the same SHIP_TIMEOUT_MS: so the next traced run
 * ships what an earlier one could not.
 *
 * ATTRACE_API_KEY is sent as "Authorization: Bearer KEY"; it is never
 * written to the trace (agent_start redacts every variable whose name holds
 * KEY). Recording is switched off for the duration of the upload, so that
 * libcurl's own threads (the threaded resolver) record nothing.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/hot.h"
#include "common/log.h"
#include "shim/shim.h"

#define SHIP_TIMEOUT_MS 2000
#define SHIP_CONNECT_MS 1000
#define SHIP_MAX_TRACE	((size_t)1 << 30)
/* A spooled trace bigger than this is left to `attrace push --spool`: reading
 * it at every traced run's exit would cost more than the wait allows. */
#define SHIP_MAX_SPOOLED ((size_t)64 << 20)
#define SHIP_PATH_MAX	 4096

/* The few libcurl symbols used, with their ABI values (curl/curl.h; stable
 * since libcurl 7.x, soname libcurl.so.4). No header: the shim is not built
 * against libcurl. */
#define CURLOPT_URL		    10002
#define CURLOPT_POSTFIELDS	    10015
#define CURLOPT_HTTPHEADER	    10023
#define CURLOPT_POSTFIELDSIZE_LARGE 30120
#define CURLOPT_TIMEOUT_MS	    155
#define CURLOPT_CONNECTTIMEOUT_MS   156
#define CURLOPT_NOSIGNAL	    99
#define CURLOPT_WRITEFUNCTION	    20011
#define CURLINFO_RESPONSE_CODE	    0x200002

typedef void *curl_easy_init_fn(void);
typedef int curl_easy_setopt_fn(void *, int, ...);
typedef int curl_easy_perform_fn(void *);
typedef int curl_easy_getinfo_fn(void *, int, ...);
typedef void curl_easy_cleanup_fn(void *);
typedef void *curl_slist_append_fn(void *, const char *);
typedef void curl_slist_free_all_fn(void *);

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return sz * n;
}

/* The value of NAME in the current environment, scanned by hand: this runs
 * once, at exit, outside any hook (init.c reads ATTRACE_* at start; the
 * spool location is only needed here). */
static const char *env_value(const char *name)
{
	extern char **environ;
	size_t n = strlen(name);

	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* dir + "/" + rest without snprintf (usable from a signal handler). */
static int join(char *out, size_t cap, const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;

	if (la + lb + lc + 1 > cap)
		return -1;
	memcpy(out, a, la);
	memcpy(out + la, b, lb);
	if (c)
		memcpy(out + la + lb, c, lc);
	out[la + lb + lc] = '\0';
	return 0;
}

static int spool_dir(char out[SHIP_PATH_MAX], int create)
{
	const char *xdg = env_value("XDG_STATE_HOME"), *home = env_value("HOME");
	char tmp[SHIP_PATH_MAX];

	if (xdg && *xdg == '/') {
		if (join(tmp, sizeof(tmp), xdg, "/attrace", NULL) < 0)
			return -1;
	} else if (home && *home == '/') {
		if (join(tmp, sizeof(tmp), home, "/.local/state/attrace", NULL) < 0)
			return -1;
		if (create) {
			char st[SHIP_PATH_MAX];

			join(st, sizeof(st), home, "/.local", NULL);
			mkdir(st, 0700);
			join(st, sizeof(st), home, "/.local/state", NULL);
			mkdir(st, 0700);
		}
	} else {
		return -1;
	}
	if (create)
		mkdir(tmp, 0700);
	if (join(out, SHIP_PATH_MAX, tmp, "/spool", NULL) < 0)
		return -1;
	if (create && mkdir(out, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Copies the trace into the spool as <trace_id>.jsonl.zst (through a
 * temporary name, so the spool never holds half a copy). Only open, read,
 * write, rename: safe in a signal handler. */
static void spool(const char *why)
{
	char dir[SHIP_PATH_MAX], tmp[SHIP_PATH_MAX] = "", dst[SHIP_PATH_MAX], buf[16384];
	int in = -1, out = -1, ok = 0;
	ssize_t n;

	if (spool_dir(dir, 1) < 0 || join(dst, sizeof(dst), dir, "/", shim_proc.trace_id) < 0 ||
	    join(tmp, sizeof(tmp), dst, ".tmp", NULL) < 0 || strlen(dst) + 11 >= sizeof(dst)) {
		tmp[0] = '\0';
		goto out;
	}
	memcpy(dst + strlen(dst), ".jsonl.zst", 11);
	in = open(shim_proc.trace_path, O_RDONLY | O_CLOEXEC);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (in < 0 || out < 0)
		goto out;
	for (;;) {
		n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		for (ssize_t off = 0, w; off < n; off += w) {
			w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w <= 0)
				goto out;
		}
	}
	if (fsync(out) < 0 || rename(tmp, dst) < 0)
		goto out;
	ok = 1;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (!ok) {
		if (tmp[0])
			unlink(tmp);
		log_warn("%s, and the trace could not be spooled; it stays in '%s'", why,
			 shim_proc.trace_path);
	} else {
		log_warn("%s: trace spooled to '%s' (ship it with 'attrace push --spool')", why,
			 dst);
	}
}

static void *read_path(const char *path, size_t max, size_t *ret_len)
{
	struct stat st;
	char *data = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || (size_t)st.st_size > max)
		goto out;
	data = malloc((size_t)st.st_size);
	if (!data)
		goto out;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
out:
	close(fd);
	*ret_len = got;
	return data;
}

/* @return the HTTP status, or 0 when nothing came back (with why set). */
static long upload(const void *data, size_t len, long timeout_ms, char *why, size_t whylen)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	curl_easy_init_fn *init;
	curl_easy_setopt_fn *setopt;
	curl_easy_perform_fn *perform;
	curl_easy_getinfo_fn *getinfo;
	curl_easy_cleanup_fn *cleanup;
	curl_slist_append_fn *append;
	curl_slist_free_all_fn *free_all;
	char url[SHIP_PATH_MAX], auth[1024];
	void *c = NULL, *hdrs = NULL;
	long code = 0;
	int r;

	if (!h) {
		snprintf(why, whylen, "cannot load libcurl.so.4");
		return 0;
	}
	init = (curl_easy_init_fn *)dlsym(h, "curl_easy_init");
	setopt = (curl_easy_setopt_fn *)dlsym(h, "curl_easy_setopt");
	perform = (curl_easy_perform_fn *)dlsym(h, "curl_easy_perform");
	getinfo = (curl_easy_getinfo_fn *)dlsym(h, "curl_easy_getinfo");
	cleanup = (curl_easy_cleanup_fn *)dlsym(h, "curl_easy_cleanup");
	append = (curl_slist_append_fn *)dlsym(h, "curl_slist_append");
	free_all = (curl_slist_free_all_fn *)dlsym(h, "curl_slist_free_all");
	if (!init || !setopt || !perform || !getinfo || !cleanup || !append || !free_all) {
		snprintf(why, whylen, "libcurl.so.4 lacks a function");
		goto out;
	}
	c = init();
	if (!c) {
		snprintf(why, whylen, "curl_easy_init failed");
		goto out;
	}
	snprintf(url, sizeof(url), "%s%sapi/v1/traces", shim_config.collector,
		 shim_config.collector[strlen(shim_config.collector) - 1] == '/' ? "" : "/");
	hdrs = append(hdrs, "Content-Encoding: zstd");
	hdrs = append(hdrs, "Content-Type: application/x-ndjson");
	if (shim_config.api_key && *shim_config.api_key) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", shim_config.api_key);
		hdrs = append(hdrs, auth);
		memset(auth, 0, sizeof(auth));
	}
	setopt(c, CURLOPT_URL, url);
	setopt(c, CURLOPT_HTTPHEADER, hdrs);
	setopt(c, CURLOPT_POSTFIELDS, data);
	setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (long long)len);
	setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	       timeout_ms < SHIP_CONNECT_MS ? timeout_ms : (long)SHIP_CONNECT_MS);
	setopt(c, CURLOPT_NOSIGNAL, 1L);
	setopt(c, CURLOPT_WRITEFUNCTION, discard);
	r = perform(c);
	if (r != 0) {
		snprintf(why, whylen, "collector '%s' unreachable (curl error %d)",
			 shim_config.collector, r);
		goto out;
	}
	getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299)
		snprintf(why, whylen, "collector '%s' answered HTTP %ld", shim_config.collector,
			 code);
out:
	if (c)
		cleanup(c);
	if (hdrs)
		free_all(hdrs);
	/* libcurl stays loaded: its threads or atexit handlers may refer to it. */
	return code;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* After this run's trace got a 2xx: ships the spooled traces (earlier runs'
 * that could not be shipped) while time is left before deadline, deleting
 * each one the collector acknowledges. A 4xx leaves that file for `attrace
 * push --spool` to report and goes on, as does a file over SHIP_MAX_SPOOLED;
 * no answer or a 5xx stops. */
static void ship_spool(long deadline)
{
	char dir[SHIP_PATH_MAX], path[SHIP_PATH_MAX], why[512];
	struct dirent *de;
	int shipped = 0;
	DIR *d;

	if (spool_dir(dir, 0) < 0)
		return;
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name), len = 0;
		long rest = deadline - now_ms(), code;
		void *data;

		/* only whole copies: spool() writes through "ID.tmp" */
		if (n <= 10 || strcmp(de->d_name + n - 10, ".jsonl.zst") != 0)
			continue;
		if (rest < 100 || join(path, sizeof(path), dir, "/", de->d_name) < 0)
			break;
		data = read_path(path, SHIP_MAX_SPOOLED, &len);
		if (!data || len == 0) {
			free(data);
			continue;
		}
		code = upload(data, len, rest, why, sizeof(why));
		free(data);
		if (code >= 200 && code <= 299) {
			unlink(path);
			shipped++;
		} else if (code < 400 || code > 499) {
			break;
		}
	}
	closedir(d);
	if (shipped)
		log_info("%d spooled trace%s shipped to '%s'", shipped, shipped == 1 ? "" : "s",
			 shim_config.collector);
}

AT_HOT void shim_ship(int from_signal)
{
	char why[512] = "";
	int was_recording = shim_recording;
	size_t len = 0;
	void *data;
	long code, deadline;

	if (!shim_config.collector || !*shim_config.collector || !shim_proc.trace_path[0])
		return;
	if (strcmp(shim_proc.lpid, "0") != 0 && getppid() != 1)
		return;
	if (from_signal) {
		spool("the process was killed by a signal");
		return;
	}
	data = read_path(shim_proc.trace_path, SHIP_MAX_TRACE, &len);
	if (!data || len == 0) {
		free(data);
		return; /* nothing recorded: nothing to ship */
	}
	shim_recording = 0;
	deadline = now_ms() + SHIP_TIMEOUT_MS;
	code = upload(data, len, SHIP_TIMEOUT_MS, why, sizeof(why));
	free(data);
	if (code >= 200 && code <= 299) {
		char dir[SHIP_PATH_MAX], old[SHIP_PATH_MAX];

		/* An earlier spooled copy of this trace is now redundant. */
		if (spool_dir(dir, 0) == 0 &&
		    join(old, sizeof(old), dir, "/", shim_proc.trace_id) == 0 &&
		    strlen(old) + 11 < sizeof(old)) {
			memcpy(old + strlen(old), ".jsonl.zst", 11);
			unlink(old);
		}
		log_info("trace shipped to '%s' (HTTP %ld)", shim_config.collector, code);
		/* The collector is up: the spool goes too, in the same wait. */
		ship_spool(deadline);
		shim_recording = was_recording;
		return;
	}
	shim_recording = was_recording;
	spool(why);
}
