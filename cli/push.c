/* SPDX-License-Identifier: MIT */
/* push.c -- attrace push: upload traces (or the spool) to a collector with libcurl (curl_dl.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/curl_dl.h"
#include "common/buf.h"

#define PUSH_TIMEOUT_S 60
#define PUSH_MAX_TRACE ((size_t)4 << 30)

static const char *arg_collector;
static const char *arg_api_key;
static int arg_spool;

static void usage(FILE *f)
{
	fputs("Usage: attrace push [--collector URL] TRACE...\n"
	      "       attrace push [--collector URL] --spool\n"
	      "\n"
	      "Upload traces to an attrace-collector. With --spool, upload every trace\n"
	      "the library left in the spool directory because the collector could not\n"
	      "be reached, deleting each one the collector acknowledged.\n"
	      "\n"
	      "Options:\n"
	      "  -c, --collector URL   collector to upload to (default: $ATTRACE_COLLECTOR)\n"
	      "  -s, --spool           push the spool directory ($XDG_STATE_HOME/attrace/spool\n"
	      "                        or ~/.local/state/attrace/spool)\n"
	      "  -h, --help            show this help and exit\n"
	      "\n"
	      "The API key comes from $ATTRACE_API_KEY (sent as a bearer token).\n",
	      f);
}

int cli_spool_dir(char *out, size_t n)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (xdg && *xdg == '/')
		return snprintf(out, n, "%s/attrace/spool", xdg) < (int)n ? 0 : -ENAMETOOLONG;
	if (home && *home == '/')
		return snprintf(out, n, "%s/.local/state/attrace/spool", home) < (int)n
			       ? 0
			       : -ENAMETOOLONG;
	return -ENOENT;
}

static int read_file(const char *path, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = buf_read_fd(out, fd, 0);
	close(fd);
	return r;
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
	return buf_append(ud, p, sz * n) < 0 ? 0 : sz * n;
}

/* Uploads one file. Prints one line. @return 0 (2xx), 1 (refused: the
 * trace is bad, keep it out of retries), or -1 (could not reach / server
 * error: try again later). */
int cli_push_file(const char *url, const char *api_key, const char *path, int quiet)
{
	struct buf body = BUF_INIT, answer = BUF_INIT, u = BUF_INIT, auth = BUF_INIT;
	struct curl_slist *hdrs = NULL;
	struct json_object *j = NULL, *v;
	const struct curl_dl *curl = NULL;
	const char *err;
	long code = 0;
	CURL *c = NULL;
	CURLcode cc;
	int r, ret = -1;

	buf_init(&body, PUSH_MAX_TRACE);
	buf_init(&answer, 1 << 20);
	r = read_file(path, &body);
	if (r < 0) {
		cli_error("cannot read '%s': %s", path, strerror(-r));
		return 1;
	}
	if (body.len == 0) {
		cli_error("'%s' is empty: nothing to push", path);
		ret = 1;
		goto out;
	}
	/* After the checks of the file: a bad trace is reported as such even
	 * without libcurl. Without it the trace is kept, as when the collector
	 * is down. */
	curl = curl_dl_get(&err);
	if (!curl) {
		cli_error("cannot push '%s' to '%s': %s", path, url, err);
		goto out;
	}
	c = curl->easy_init();
	if (!c || buf_printf(&u, "%s%sapi/v1/traces", url,
			     url[0] && url[strlen(url) - 1] == '/' ? "" : "/") < 0) {
		cli_error("out of memory");
		goto out;
	}
	/* A zstd trace says so; plain JSON Lines goes as it is. */
	if (body.len >= 4 && (unsigned char)body.data[0] == 0x28 &&
	    (unsigned char)body.data[1] == 0xb5 && (unsigned char)body.data[2] == 0x2f &&
	    (unsigned char)body.data[3] == 0xfd)
		hdrs = curl->slist_append(hdrs, "Content-Encoding: zstd");
	hdrs = curl->slist_append(hdrs, "Content-Type: application/x-ndjson");
	if (api_key && *api_key) {
		buf_printf(&auth, "Authorization: Bearer %s", api_key);
		hdrs = curl->slist_append(hdrs, auth.data);
	}
	curl->easy_setopt(c, CURLOPT_URL, u.data);
	curl->easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl->easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
	curl->easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
	curl->easy_setopt(c, CURLOPT_TIMEOUT, (long)PUSH_TIMEOUT_S);
	curl->easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl->easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl->easy_setopt(c, CURLOPT_WRITEDATA, &answer);
	cc = curl->easy_perform(c);
	if (cc != CURLE_OK) {
		cli_error("cannot push '%s' to '%s': %s", path, url, curl->easy_strerror(cc));
		goto out;
	}
	curl->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	j = answer.len ? json_tokener_parse(answer.data) : NULL;
	if (code < 200 || code > 299) {
		const char *msg = j && json_object_object_get_ex(j, "error", &v)
					  ? json_object_get_string(v)
					  : "(no explanation)";

		cli_error("collector refused '%s': HTTP %ld: %s", path, code, msg);
		ret = code >= 400 && code < 500 && code != 401 && code != 403 && code != 429 ? 1
											     : -1;
		goto out;
	}
	if (!quiet) {
		const char *id = "?", *fp = "?";
		int64_t events = 0;

		if (j && json_object_object_get_ex(j, "trace_id", &v))
			id = json_object_get_string(v);
		if (j && json_object_object_get_ex(j, "fingerprint", &v))
			fp = json_object_get_string(v);
		if (j && json_object_object_get_ex(j, "events", &v))
			events = json_object_get_int64(v);
		cli_error("pushed '%s': trace %s (%lld events, fingerprint %.16s)%s", path, id,
			  (long long)events, fp, code == 200 ? ", already there" : "");
	}
	ret = 0;
out:
	if (j)
		json_object_put(j);
	if (curl) {
		curl->slist_free_all(hdrs);
		if (c)
			curl->easy_cleanup(c);
	}
	buf_release(&body);
	buf_release(&answer);
	buf_release(&u);
	if (auth.data)
		memset(auth.data, 0, auth.len);
	buf_release(&auth);
	return ret;
}

static int push_spool(const char *url, const char *key)
{
	char dir[4096], path[4400];
	struct dirent *de;
	int ok = 0, failed = 0, r;
	DIR *d;

	if (cli_spool_dir(dir, sizeof(dir)) < 0) {
		cli_error("no spool directory: set HOME or XDG_STATE_HOME");
		return CLI_EXIT_FAILURE;
	}
	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT) {
			cli_error("spool '%s' is empty", dir);
			return EXIT_SUCCESS;
		}
		cli_error("cannot open '%s': %s", dir, strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n < 11 || strcmp(de->d_name + n - 10, ".jsonl.zst") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		r = cli_push_file(url, key, path, 0);
		if (r == 0 && unlink(path) == 0) {
			ok++;
		} else {
			/* Refused traces stay too: deleting them would lose them. */
			failed++;
		}
	}
	closedir(d);
	cli_error("spool '%s': %d pushed, %d left", dir, ok, failed);
	return failed ? CLI_EXIT_FAILURE : EXIT_SUCCESS;
}

int verb_push(int argc, char **argv)
{
	static const struct option options[] = {
		{ "collector", required_argument, NULL, 'c' },
		{ "spool", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, i, failed = 0;

	while ((c = getopt_long(argc, argv, "c:sh", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			arg_collector = optarg;
			break;
		case 's':
			arg_spool = 1;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			return cli_usage_error("push");
		}
	}
	if (!arg_collector)
		arg_collector = getenv("ATTRACE_COLLECTOR");
	arg_api_key = getenv("ATTRACE_API_KEY");
	if (!arg_collector || !*arg_collector) {
		fputs("attrace: push: no collector: use --collector URL or set ATTRACE_COLLECTOR\n",
		      stderr);
		return cli_usage_error("push");
	}
	if (arg_spool == (optind < argc)) {
		fputs("attrace: push: give TRACE files or --spool (one of the two)\n", stderr);
		return cli_usage_error("push");
	}
	if (arg_spool) {
		failed = push_spool(arg_collector, arg_api_key) != EXIT_SUCCESS;
	} else {
		for (i = optind; i < argc; i++)
			if (cli_push_file(arg_collector, arg_api_key, argv[i], 0) != 0)
				failed = 1;
	}
	curl_dl_cleanup();
	return failed ? CLI_EXIT_FAILURE : EXIT_SUCCESS;
}
