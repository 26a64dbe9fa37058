/* SPDX-License-Identifier: MIT */
/* main.c -- attrace-collector: flags, the keys verb, start-up checks, SIGTERM drain. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/collector.h"
#include "collector/forward.h"
#include "collector/keys.h"
#include "collector/store.h"
#include "common/log.h"

#define DEFAULT_LISTEN		 "127.0.0.1:7070"
#define DEFAULT_DATA		 "./attrace-data"
#define DEFAULT_MAX_REQUEST	 ((size_t)64 << 20)
#define DEFAULT_MAX_DECOMPRESSED ((size_t)512 << 20)
#define DEFAULT_MAX_LINE	 ((size_t)16 << 20)
#define DEFAULT_WINDOW_LOG_MAX	 27
#define DEFAULT_MAX_CONNECTIONS	 256
#define DEFAULT_TIMEOUT		 60
#define DEFAULT_DRAIN		 10

static const char *arg_listen = DEFAULT_LISTEN;
static const char *arg_data = DEFAULT_DATA;
static const char *arg_keys;
static const char *arg_clickhouse;
static const char *arg_port_file;

static void usage(FILE *f)
{
	fputs("Usage: attrace-collector [OPTION...]\n"
	      "       attrace-collector keys add --scope ingest|read [--name NAME] [--keys FILE]\n"
	      "\n"
	      "Receive attrace traces over HTTP, store them (zstd segments + SQLite index),\n"
	      "serve them back, optionally forward them to ClickHouse.\n"
	      "\n"
	      "Options:\n"
	      "  -l, --listen HOST:PORT    address to listen on (default " DEFAULT_LISTEN ";\n"
	      "                            port 0 picks a free one)\n"
	      "  -d, --data DIR            store directory (default " DEFAULT_DATA ")\n"
	      "  -k, --keys FILE           API keys (default DIR/keys); without keys only a\n"
	      "                            loopback address may be used\n"
	      "      --clickhouse URL      also forward every trace to ClickHouse's HTTP interface\n"
	      "      --log-level LEVEL     error, warn, info (default: one line per request), debug\n"
	      "      --max-request BYTES   largest request body (default 64M)\n"
	      "      --max-decompressed BYTES  largest decompressed upload (default 512M)\n"
	      "      --max-line BYTES      longest event line (default 16M)\n"
	      "      --window-log-max N    largest zstd window accepted, 2^N (default 27)\n"
	      "      --max-connections N   concurrent connections (default 256)\n"
	      "      --timeout SECONDS     idle connection timeout (default 60)\n"
	      "      --drain-timeout SECONDS  on SIGTERM, wait this long for requests (default 10)\n"
	      "      --port-file FILE      write the port listened on to FILE once ready\n"
	      "  -h, --help                show this help and exit\n"
	      "  -V, --version             show the version and exit\n"
	      "\n"
	      "See attrace-collector(8).\n",
	      f);
}

/* "64M" -> bytes. @return 0 or -EINVAL. */
static int parse_size(const char *s, size_t *ret)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (*end || v == 0)
		return -EINVAL;
	*ret = (size_t)v;
	return 0;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *ret)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/* "HOST:PORT", "[V6]:PORT". @return 0 or -EINVAL. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, int *loopback)
{
	char host[256];
	const char *colon;
	unsigned port;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		n = (size_t)(close - s - 1);
		colon = close + 1;
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, n);
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - s);
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, n);
	}
	host[n] = '\0';
	if (parse_uint(colon + 1, 0, 65535, &port) < 0)
		return -EINVAL;
	if (strcmp(host, "localhost") == 0)
		memcpy(host, "127.0.0.1", 10);
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
		*loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
		return 0;
	}
	return -EINVAL;
}

static char *default_keys_path(void)
{
	char *p = NULL;

	if (asprintf(&p, "%s/keys", arg_data) < 0)
		return NULL;
	return p;
}

static int verb_keys(int argc, char **argv)
{
	static const struct option options[] = {
		{ "scope", required_argument, NULL, 's' }, { "name", required_argument, NULL, 'n' },
		{ "keys", required_argument, NULL, 'k' },  { "data", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },	   { 0 },
	};
	const char *scope = NULL, *name = "";
	struct at_error err = { 0 };
	char key[80], *path = NULL;
	enum keys_scope sc;
	int c, ret = 1;

	if (argc < 2 || strcmp(argv[1], "add") != 0) {
		fputs("Usage: attrace-collector keys add --scope ingest|read [--name NAME] "
		      "[--keys FILE | --data DIR]\n",
		      stderr);
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "s:n:k:d:h", options, NULL)) != -1) {
		switch (c) {
		case 's':
			scope = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'k':
			arg_keys = optarg;
			break;
		case 'd':
			arg_data = optarg;
			break;
		case 'h':
			fputs("Usage: attrace-collector keys add --scope ingest|read [--name NAME] "
			      "[--keys FILE | --data DIR]\n"
			      "Prints a new key once; only its hash is stored in FILE.\n",
			      stdout);
			return 0;
		default:
			return 2;
		}
	}
	sc = keys_scope_parse(scope);
	if (!sc || optind != argc) {
		fputs("attrace-collector: keys add: --scope ingest or --scope read is required\n",
		      stderr);
		return 2;
	}
	if (!arg_keys) {
		path = default_keys_path();
		if (!path || (mkdir(arg_data, 0700) < 0 && errno != EEXIST)) {
			fprintf(stderr, "attrace-collector: cannot create '%s': %s\n", arg_data,
				strerror(errno));
			goto out;
		}
	}
	if (keys_add(arg_keys ? arg_keys : path, sc, name, key, &err) < 0) {
		fprintf(stderr, "attrace-collector: '%s': %s\n", arg_keys ? arg_keys : path,
			err.msg);
		goto out;
	}
	printf("%s\n", key);
	fflush(stdout);
	fprintf(stderr,
		"attrace-collector: %s key added to '%s'; it is shown only this once (the file "
		"keeps its hash); a running collector uses it within a second\n",
		scope, arg_keys ? arg_keys : path);
	ret = 0;
out:
	memset(key, 0, sizeof(key));
	free(path);
	return ret;
}

int main(int argc, char **argv)
{
	enum {
		OPT_CLICKHOUSE = 256,
		OPT_LOG_LEVEL,
		OPT_MAX_REQUEST,
		OPT_MAX_DECOMPRESSED,
		OPT_MAX_LINE,
		OPT_WINDOW_LOG_MAX,
		OPT_MAX_CONNECTIONS,
		OPT_TIMEOUT,
		OPT_DRAIN,
		OPT_PORT_FILE,
	};
	static const struct option options[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "data", required_argument, NULL, 'd' },
		{ "keys", required_argument, NULL, 'k' },
		{ "clickhouse", required_argument, NULL, OPT_CLICKHOUSE },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "max-request", required_argument, NULL, OPT_MAX_REQUEST },
		{ "max-decompressed", required_argument, NULL, OPT_MAX_DECOMPRESSED },
		{ "max-line", required_argument, NULL, OPT_MAX_LINE },
		{ "window-log-max", required_argument, NULL, OPT_WINDOW_LOG_MAX },
		{ "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "drain-timeout", required_argument, NULL, OPT_DRAIN },
		{ "port-file", required_argument, NULL, OPT_PORT_FILE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	static struct collector col = {
		.lim = { .max_decompressed = DEFAULT_MAX_DECOMPRESSED,
			 .max_line = DEFAULT_MAX_LINE,
			 .window_log_max = DEFAULT_WINDOW_LOG_MAX },
		.max_request = DEFAULT_MAX_REQUEST,
		.lock = PTHREAD_MUTEX_INITIALIZER,
	};
	unsigned max_conn = DEFAULT_MAX_CONNECTIONS, timeout = DEFAULT_TIMEOUT,
		 drain = DEFAULT_DRAIN, wlog;
	struct sockaddr_storage ss, bound;
	socklen_t sslen = 0, blen = sizeof(bound);
	struct MHD_Daemon *d = NULL;
	const union MHD_DaemonInfo *info;
	struct at_error err = { 0 };
	char *keys_path = NULL, host[INET6_ADDRSTRLEN];
	int c, loopback = 0, missing = 0, ret = 1, sig, port, idx = -1;
	sigset_t set;

	log_level = AT_LOG_INFO;
	if (argc > 1 && strcmp(argv[1], "keys") == 0)
		return verb_keys(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "l:d:k:hV", options, &idx)) != -1) {
		switch (c) {
		case 'l':
			arg_listen = optarg;
			break;
		case 'd':
			arg_data = optarg;
			break;
		case 'k':
			arg_keys = optarg;
			break;
		case OPT_CLICKHOUSE:
			arg_clickhouse = optarg;
			break;
		case OPT_LOG_LEVEL:
			log_level = log_level_parse(optarg);
			if (log_level < 0)
				goto bad_value;
			break;
		case OPT_MAX_REQUEST:
			if (parse_size(optarg, &col.max_request) < 0)
				goto bad_value;
			break;
		case OPT_MAX_DECOMPRESSED:
			if (parse_size(optarg, &col.lim.max_decompressed) < 0)
				goto bad_value;
			break;
		case OPT_MAX_LINE:
			if (parse_size(optarg, &col.lim.max_line) < 0)
				goto bad_value;
			break;
		case OPT_WINDOW_LOG_MAX:
			if (parse_uint(optarg, 10, 31, &wlog) < 0)
				goto bad_value;
			col.lim.window_log_max = (int)wlog;
			break;
		case OPT_MAX_CONNECTIONS:
			if (parse_uint(optarg, 1, 100000, &max_conn) < 0)
				goto bad_value;
			break;
		case OPT_TIMEOUT:
			if (parse_uint(optarg, 1, 86400, &timeout) < 0)
				goto bad_value;
			break;
		case OPT_DRAIN:
			if (parse_uint(optarg, 0, 3600, &drain) < 0)
				goto bad_value;
			break;
		case OPT_PORT_FILE:
			arg_port_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("attrace-collector %s\n", ATTRACE_VERSION);
			return 0;
		default:
			fputs("Try 'attrace-collector --help'.\n", stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "attrace-collector: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (parse_listen(arg_listen, &ss, &sslen, &loopback) < 0) {
		fprintf(stderr,
			"attrace-collector: --listen '%s': expected HOST:PORT with a numeric "
			"address (127.0.0.1:7070, [::1]:7070)\n",
			arg_listen);
		return 2;
	}

	keys_path = arg_keys ? strdup(arg_keys) : default_keys_path();
	if (!keys_path)
		goto out;
	col.keys = keyring_open(keys_path, loopback, &missing, &err);
	if (!col.keys) {
		log_error("keys file '%s': %s", keys_path, err.msg);
		goto out;
	}
	if (arg_keys && missing) {
		log_error("keys file '%s' does not exist (create it with 'attrace-collector keys "
			  "add')",
			  keys_path);
		goto out;
	}
	if (keyring_count(col.keys) == 0) {
		if (!loopback) {
			log_error("refusing to listen on '%s' without API keys: anyone could "
				  "upload and read traces. Add keys with 'attrace-collector keys "
				  "add', or listen on a loopback address",
				  arg_listen);
			goto out;
		}
		log_warn("no API keys ('%s'): anyone on this host may upload and read, until "
			 "keys are added",
			 keys_path);
	}

	/* Signals are taken synchronously by this thread; every other thread
	 * (libmicrohttpd's, the committer, forwarders) inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	col.store = store_open(arg_data, arg_clickhouse != NULL, &err);
	if (!col.store) {
		log_error("store '%s': %s", arg_data, err.msg);
		goto out;
	}
	if (arg_clickhouse) {
		col.forwarder = forwarder_start(&forward_clickhouse, arg_clickhouse, col.store);
		if (!col.forwarder)
			goto out;
	}
	col.started_ns = store_now_ns();
	d = api_start(&col, &ss, sslen, max_conn, timeout);
	if (!d) {
		log_error("cannot listen on '%s': %s", arg_listen, strerror(errno));
		goto out;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
	if (!info || getsockname(info->listen_fd, (struct sockaddr *)&bound, &blen) < 0) {
		log_error("cannot tell the listening address: %s", strerror(errno));
		goto out;
	}
	if (bound.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&bound)->sin6_addr, host,
			  sizeof(host));
		port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&bound)->sin_addr, host, sizeof(host));
		port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	}
	if (arg_port_file) {
		char tmp[4200];
		FILE *f;

		/* Written whole, then renamed: a reader never sees half a number. */
		snprintf(tmp, sizeof(tmp), "%s.tmp", arg_port_file);
		f = fopen(tmp, "we");
		if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 ||
		    rename(tmp, arg_port_file) < 0) {
			log_error("cannot write '%s': %s", arg_port_file, strerror(errno));
			goto out;
		}
	}
	log_warn("listening on %s%s%s:%d, data in '%s'%s%s", bound.ss_family == AF_INET6 ? "[" : "",
		 host, bound.ss_family == AF_INET6 ? "]" : "", port, arg_data,
		 keyring_count(col.keys) ? ", API keys required" : "",
		 arg_clickhouse ? ", forwarding to ClickHouse" : "");

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			keyring_refresh(col.keys, 1);
			continue;
		}
		break;
	}
	log_warn("%s: draining requests in flight (up to %u s), then exiting",
		 sig == SIGTERM ? "SIGTERM" : "SIGINT", drain);
	ret = 0;
out:
	api_stop(d, drain);
	forwarder_stop(col.forwarder);
	store_free(col.store);
	keyring_free(col.keys);
	free(keys_path);
	if (ret == 0)
		log_warn("stopped cleanly");
	return ret;
bad_value:
	fprintf(stderr, "attrace-collector: invalid value '%s' for --%s (see --help)\n", optarg,
		idx >= 0 ? options[idx].name : "an option");
	return 2;
}
