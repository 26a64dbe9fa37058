/* SPDX-License-Identifier: MIT */
/* replay.c -- attrace replay: run a command offline against a trace, then judge the run.
 *
 * The trace is read and checked before anything runs (a bad trace is exit
 * 1 with nothing started). CMD runs under libattrace in replay mode, by
 * default in a fresh user+network namespace where nothing can reach a
 * network; the shim records the replayed run into a second trace. At the
 * end that trace tells how many of the recorded events the run consumed,
 * whether strict governance stopped it, and its fingerprint, which is
 * compared with the recorded one.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/error.h"
#include "common/fingerprint.h"
#include "common/http1.h"
#include "common/jsonv.h"
#include "common/trace.h"

#define EXIT_GOVERNANCE 86
#define EXIT_DIFFERS	87

static int arg_strict;
static int arg_offline = 1;
static const char *arg_output;
static struct buf arg_allow = BUF_INIT; /* --allow prefixes, ':'-joined */
static struct buf arg_ignore = BUF_INIT; /* --ignore-header names, ','-joined */

static void usage(FILE *f)
{
	fputs("Usage: attrace replay [--strict | --relaxed] [--no-offline] [-o OUT] [-a PREFIX]...\n"
	      "                      [--ignore-header NAME]... TRACE -- CMD [ARG...]\n"
	      "\n"
	      "Run CMD under libattrace in replay mode: every network exchange, DNS answer,\n"
	      "wall-clock read and random byte it recorded is served from TRACE, offline.\n"
	      "\n"
	      "Options:\n"
	      "  -s, --strict          stop the run (exit 86) at the first request, lookup,\n"
	      "                        entropy read, subprocess or file the trace does not hold;\n"
	      "                        exit 87 if the run's fingerprint differs\n"
	      "  -r, --relaxed         warn and let such I/O through (the default)\n"
	      "  -a, --allow PREFIX    let a strict replay open files under PREFIX (repeatable;\n"
	      "                        added to ATTRACE_ALLOW)\n"
	      "      --ignore-header NAME\n"
	      "                        do not compare the HTTP header NAME (NAME*: every\n"
	      "                        header starting with NAME) when matching requests\n"
	      "                        (repeatable; added to ATTRACE_REPLAY_IGNORE)\n"
	      "      --no-offline      do not run CMD in a fresh network namespace\n"
	      "  -o, --output OUT      keep the replayed run's own trace in OUT\n"
	      "  -h, --help            show this help and exit\n",
	      f);
}

/* ---- the offline namespace ---- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/* The loopback interface of the new namespace starts down. */
static void loopback_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
}

/* In the child, before exec: a new network namespace (in a new user
 * namespace when we are not root), with the same uid and gid as outside,
 * so the program sees itself unchanged. */
static void enter_offline(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64];
	int r = 0;

	if (geteuid() == 0 && unshare(CLONE_NEWNET) == 0)
		goto up;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) {
		r = -errno;
		cli_error("warning: cannot create an offline network namespace (%s); replaying "
			  "with the network reachable",
			  strerror(-r));
		return;
	}
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	write_file("/proc/self/gid_map", map);
up:
	loopback_up();
}

/* ---- reading the results ---- */

struct outcome {
	long consumed, total;
	int strict_stop; /* a strict governance event: the run was stopped */
	struct buf unused; /* "; "-separated first few unused events */
	size_t nunused_listed;
	char exe_sha[65]; /* the root's executable hash */
};

/* The root's executable hash, from its agent_start (the first one wins). */
static void root_exe(struct json_object *ev, char out[65])
{
	struct json_object *p = json_object_object_get(ev, "payload");
	const char *type = jv_str(ev, "type"), *pid = jv_str(ev, "pid");
	const char *sha = jv_str(p, "exe_sha256");

	if (!out[0] && type && pid && sha && !strcmp(type, "agent_start") && !strcmp(pid, "0"))
		snprintf(out, 65, "%s", sha);
}

/* What a governance event says about the run. */
static void read_outcome(struct json_object *ev, struct outcome *o)
{
	struct json_object *p = json_object_object_get(ev, "payload"), *u;
	const char *type = jv_str(ev, "type"), *what = jv_str(p, "what");

	if (!type || strcmp(type, "governance") != 0 || !what)
		return;
	if (strcmp(what, "summary") != 0) {
		const char *mode = jv_str(p, "mode");

		if (mode && !strcmp(mode, "strict"))
			o->strict_stop = 1;
		return;
	}
	o->consumed += json_object_get_int64(json_object_object_get(p, "consumed"));
	o->total += json_object_get_int64(json_object_object_get(p, "total"));
	if (!json_object_object_get_ex(p, "unused", &u) || !json_object_is_type(u, json_type_array))
		return;
	for (size_t k = 0; k < json_object_array_length(u) && o->nunused_listed < 5; k++) {
		const char *str = json_object_get_string(json_object_array_get_idx(u, k));

		buf_printf(&o->unused, "%s%s %s", o->nunused_listed ? "; " : "", jv_str(ev, "pid"),
			   str ? str : "?");
		o->nunused_listed++;
	}
}

/* Reads and validates every event of path as cli_trace_load() does, but
 * one at a time, never holding them all (for a long trace that took most
 * of the verb's time): the fingerprint, the root's executable hash and,
 * when o is given, the run's outcome; with canon, the canonical form.
 * ignore: header fields left out (fp_ignore_headers). @return 0, or a negative errno with
 * reterr set (-ENODATA for a trace with no events). */
static int judge_trace(const char *path, const char *ignore, char fp_hex[FP_HEX_LEN + 1],
		       char exe[65], struct outcome *o, struct buf *canon, struct at_error *reterr)
{
	struct trace_reader *rd;
	struct json_object *ev;
	struct fp *f = fp_new();
	int r;

	exe[0] = '\0';
	if (!f || fp_ignore_headers(f, ignore) < 0) {
		r = -ENOMEM;
		goto out;
	}
	rd = trace_reader_open(path, reterr);
	if (!rd) {
		r = -EIO;
		goto out;
	}
	/* checked, not parsed: the fingerprint leaves network_call out */
	trace_reader_skip_type_checked(rd, "network_call");
	while ((r = trace_reader_next(rd, &ev, reterr)) == 1) {
		r = fp_add(f, ev);
		root_exe(ev, exe);
		if (o)
			read_outcome(ev, o);
		json_object_put(ev);
		if (r < 0)
			break;
	}
	trace_reader_free(rd);
	if (r == 0)
		r = fp_final(f, fp_hex);
	if (r == 0 && canon)
		r = fp_canonical(f, canon);
out:
	if (r < 0 && reterr && !reterr->msg[0])
		snprintf(reterr->msg, sizeof(reterr->msg), "%s", strerror(-r));
	fp_free(f);
	return r;
}

static struct json_object *parse_line(const char *p, size_t n)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = NULL;

	if (tok && n <= INT_MAX)
		o = json_tokener_parse_ex(tok, p, (int)n);
	json_tokener_free(tok);
	return o;
}

/* The request bytes of a canonical http_request unit line, or NULL. */
static const char *unit_request(struct json_object *u, size_t *ret_len)
{
	struct json_object *t, *d;

	if (!json_object_object_get_ex(u, "type", &t) ||
	    strcmp(json_object_get_string(t), "http_request") != 0 ||
	    !json_object_object_get_ex(u, "data", &d) || !json_object_is_type(d, json_type_string))
		return NULL;
	*ret_len = (size_t)json_object_get_string_len(d);
	return json_object_get_string(d);
}

/* Is s[0..n) one of the names (", "-separated, any case)? */
static int listed(const struct buf *names, const char *s, size_t n)
{
	const char *p = names->data;

	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t k = e ? (size_t)(e - p) : strlen(p);

		if (k == n && strncasecmp(p, s, n) == 0)
			return 1;
		p = e ? e + 2 : NULL;
	}
	return 0;
}

/* Appends to names (", "-separated) the fields of request a that b lacks
 * or holds with another value. */
static void fields_differing(const char *a, size_t an, const char *b, size_t bn, struct buf *names)
{
	struct http1_req ra, rb;
	struct http1_span n, v, n2, v2;
	size_t pos = 0, pos2;

	if (http1_request(a, an, &ra) < 0 || !ra.head_len || http1_request(b, bn, &rb) < 0 ||
	    !rb.head_len)
		return;
	while (http1_header_next(a, ra.head_len, &pos, &n, &v)) {
		int same = 0;

		for (pos2 = 0; !same && http1_header_next(b, rb.head_len, &pos2, &n2, &v2);)
			same = n.len == n2.len && strncasecmp(a + n.off, b + n2.off, n.len) == 0 &&
			       v.len == v2.len && memcmp(a + v.off, b + v2.off, v.len) == 0;
		if (!same && !listed(names, a + n.off, n.len))
			buf_printf(names, "%s%.*s", names->len ? ", " : "", (int)n.len, a + n.off);
	}
}

/* The next line of a canonical form at *p (advanced), or 0 at its end. */
static size_t next_line(const char **p, const char **ret)
{
	const char *e;
	size_t n;

	if (!*p || !**p)
		return 0;
	e = strchr(*p, '\n');
	n = e ? (size_t)(e - *p) : strlen(*p);
	*ret = *p;
	*p += n + (e ? 1 : 0);
	return n;
}

/* Lines that differ whenever anything below them does: a process's hash
 * line, a spawn naming its child by hash. */
static int derived_line(const char *l, size_t n)
{
	return (n > 11 && memcmp(l, "{\"process\":", 11) == 0) || memmem(l, n, "\"child\":\"", 9);
}

/* line[0..n) around byte at, in at most ~160 bytes, for a message. */
static void around(struct buf *out, const char *line, size_t n, size_t at)
{
	size_t from = at > 60 ? at - 60 : 0, to = n - at > 100 ? at + 100 : n;

	buf_reset(out);
	buf_printf(out, "%s%.*s%s", from ? "..." : "", (int)(to - from), line + from,
		   to < n ? "..." : "");
}

/* Says where two runs whose fingerprints differ first part, from their
 * canonical forms (what attrace show --json prints): the header fields
 * that replay does not match on (HTTP1_REPLAY_NOISE: a date, a request id,
 * an idempotency key) when only they differ, since the fix then is
 * --ignore-header rather than a new recording; else the first unit that
 * differs, recorded and replayed. */
static void diff_hint(const char *rec, const char *run)
{
	char a[FP_HEX_LEN + 1], b[FP_HEX_LEN + 1], exe[65];
	struct buf list = BUF_INIT, ca = BUF_INIT, cb = BUF_INIT, names = BUF_INIT;
	struct buf wa = BUF_INIT, wb = BUF_INIT;
	struct at_error err = { 0 };
	const char *pa, *pb, *la = NULL, *lb = NULL, *fa = NULL, *fb = NULL;
	size_t na = 0, nb = 0, fna = 0, fnb = 0;
	int noise_only;

	if (judge_trace(rec, arg_ignore.data, a, exe, NULL, &ca, &err) < 0 ||
	    judge_trace(run, arg_ignore.data, b, exe, NULL, &cb, &err) < 0 ||
	    buf_puts(&list, HTTP1_REPLAY_NOISE) < 0 ||
	    (arg_ignore.len && buf_printf(&list, ",%s", arg_ignore.data) < 0))
		goto out;
	noise_only = judge_trace(rec, list.data, a, exe, NULL, NULL, &err) == 0 &&
		     judge_trace(run, list.data, b, exe, NULL, NULL, &err) == 0 && !strcmp(a, b);
	/* the first pair of lines that differs, passing over derived ones
	 * (process hash lines, spawns' child hashes) while others follow */
	for (pa = ca.data, pb = cb.data;;) {
		size_t ka = next_line(&pa, &la), kb = next_line(&pb, &lb);

		if (!ka && !kb)
			break;
		if (ka == kb && !memcmp(la, lb, ka))
			continue;
		if (fa && ka && kb && (derived_line(la, ka) || derived_line(lb, kb)))
			continue;
		fa = ka ? la : "", fna = ka, fb = kb ? lb : "", fnb = kb;
		if (!(ka && kb && (derived_line(la, ka) || derived_line(lb, kb))))
			break;
	}
	if (noise_only && fna && fnb) {
		struct json_object *ua = parse_line(fa, fna), *ub = parse_line(fb, fnb);
		const char *qa = ua ? unit_request(ua, &na) : NULL;
		const char *qb = ub ? unit_request(ub, &nb) : NULL;

		if (qa && qb) {
			fields_differing(qa, na, qb, nb, &names);
			fields_differing(qb, nb, qa, na, &names);
		}
		json_object_put(ua);
		json_object_put(ub);
	}
	if (noise_only && names.len) {
		cli_error("the fingerprints differ only in header fields replay does not match "
			  "on: %s; --ignore-header NAME leaves a field out of the comparison",
			  names.data);
	} else if (noise_only) {
		cli_error("the fingerprints differ only in header fields replay does not match on "
			  "(%s); --ignore-header NAME leaves a field out of the comparison",
			  HTTP1_REPLAY_NOISE);
	} else if (fa || fb) {
		size_t at = 0;

		while (at < fna && at < fnb && fa[at] == fb[at])
			at++;
		around(&wa, fa, fna, at);
		around(&wb, fb, fnb, at);
		cli_error("the runs first differ here (attrace show --json shows all): recorded "
			  "%s; replayed %s",
			  fna ? wa.data : "nothing more", fnb ? wb.data : "nothing more");
	}
out:
	buf_release(&list);
	buf_release(&ca);
	buf_release(&cb);
	buf_release(&names);
	buf_release(&wa);
	buf_release(&wb);
}

/* Appends s to the sep-separated list in b. @return 0 or a buffer error. */
static int list_add(struct buf *b, char sep, const char *s)
{
	int r = b->len ? buf_putc(b, sep) : 0;

	return r < 0 ? r : buf_puts(b, s);
}

/* Checks the ATTRACE_* variables CMD would inherit. */
static int check_env(struct at_error *reterr)
{
	struct at_config c = AT_CONFIG_INIT;
	int r = config_from_env(&c, environ, reterr);

	config_release(&c);
	return r;
}

/* The replay's environment: preload the shim, replay mode, and the paths. */
static int setup_env(const char *shim, const char *trace, const char *out)
{
	const char *asan = getenv("ATTRACE_ASAN_PRELOAD"), *old = getenv("LD_PRELOAD");
	struct buf b = BUF_INIT;
	int r = 0;

	if (asan && *asan)
		r = cli_append_preload(&b, asan, NULL, NULL);
	if (r == 0)
		r = cli_append_preload(&b, shim, NULL, NULL);
	if (r == 0 && old)
		r = cli_append_preload(&b, old, asan, shim);
	if (r == 0 &&
	    (setenv("LD_PRELOAD", b.data, 1) < 0 || setenv("ATTRACE_MODE", "replay", 1) < 0 ||
	     setenv("ATTRACE_TRACE", trace, 1) < 0 || setenv("ATTRACE_REPLAY_OUT", out, 1) < 0 ||
	     setenv("ATTRACE_REPLAY_REPORT", "cli", 1) < 0 ||
	     setenv("ATTRACE_GOVERNANCE", arg_strict ? "strict" : "relaxed", 1) < 0))
		r = -errno;
	if (r == 0 && arg_allow.len) {
		const char *old_allow = getenv("ATTRACE_ALLOW");

		if (old_allow && *old_allow)
			r = list_add(&arg_allow, ':', old_allow);
		if (r == 0 && setenv("ATTRACE_ALLOW", arg_allow.data, 1) < 0)
			r = -errno;
	}
	if (r == 0 && arg_ignore.len && setenv("ATTRACE_REPLAY_IGNORE", arg_ignore.data, 1) < 0)
		r = -errno;
	unsetenv("ATTRACE_CTX");
	buf_release(&b);
	if (r < 0)
		cli_error("cannot set up the environment: %s", strerror(-r));
	return r;
}

int verb_replay(int argc, char **argv)
{
	static const struct option options[] = {
		{ "strict", no_argument, NULL, 's' },
		{ "relaxed", no_argument, NULL, 'r' },
		{ "no-offline", no_argument, NULL, 'N' },
		{ "output", required_argument, NULL, 'o' },
		{ "allow", required_argument, NULL, 'a' },
		{ "ignore-header", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char shim[PATH_MAX], trace[PATH_MAX], out[PATH_MAX] = "", live_exe[65], now_exe[65];
	char rec_fp[FP_HEX_LEN + 1], run_fp[FP_HEX_LEN + 1];
	struct outcome oc = { .unused = BUF_INIT };
	struct at_error err = { 0 };
	int c, r, status = 0, ret = CLI_EXIT_FAILURE;
	const char *path, *env_ignore;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "+srNo:a:h", options, NULL)) != -1) {
		switch (c) {
		case 's':
			arg_strict = 1;
			break;
		case 'r':
			arg_strict = 0;
			break;
		case 'N':
			arg_offline = 0;
			break;
		case 'o':
			arg_output = optarg;
			break;
		case 'a':
			if (strchr(optarg, ':')) {
				fputs("attrace: replay: --allow takes one prefix (no ':')\n",
				      stderr);
				return CLI_EXIT_USAGE;
			}
			if (list_add(&arg_allow, ':', optarg) < 0)
				return CLI_EXIT_FAILURE;
			break;
		case 'I': {
			struct at_config one = AT_CONFIG_INIT;

			r = config_set(&one, "ATTRACE_REPLAY_IGNORE", optarg, &err);
			config_release(&one);
			if (r < 0 || !*optarg || strchr(optarg, ',')) {
				fprintf(stderr,
					"attrace: replay: --ignore-header '%.64s': not a header name "
					"or a NAME* prefix\n",
					optarg);
				return CLI_EXIT_USAGE;
			}
			if (list_add(&arg_ignore, ',', optarg) < 0)
				return CLI_EXIT_FAILURE;
			break;
		}
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			return cli_usage_error("replay");
		}
	}
	if (optind + 1 >= argc || strcmp(argv[optind + 1], "--") != 0) {
		fputs("attrace: replay: expected TRACE -- CMD [ARG...]\n", stderr);
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (optind + 2 >= argc) {
		fputs("attrace: replay: no command given after '--'\n", stderr);
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	path = argv[optind];
	/* An ATTRACE_* value the library would refuse (it would run CMD
	 * unreplayed) is refused here, before anything is made. */
	if (check_env(&err) < 0) {
		cli_error("%s", err.msg);
		return CLI_EXIT_FAILURE;
	}
	/* --ignore-header names and the inherited ones: CMD's library and
	 * both fingerprints below leave the same fields out */
	env_ignore = getenv("ATTRACE_REPLAY_IGNORE");
	if (env_ignore && *env_ignore && list_add(&arg_ignore, ',', env_ignore) < 0)
		return CLI_EXIT_FAILURE;
	/* A missing, corrupt or truncated trace is refused before CMD runs. */
	r = judge_trace(path, arg_ignore.data, rec_fp, live_exe, NULL, NULL, &err);
	if (r < 0) {
		cli_trace_error(path, r, &err);
		return CLI_EXIT_FAILURE;
	}
	if (!realpath(path, trace)) {
		cli_error("cannot resolve '%s': %s", path, strerror(errno));
		goto out;
	}
	if (arg_output) {
		int fd = open(arg_output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || !realpath(arg_output, out)) {
			cli_error("cannot create '%s': %s", arg_output, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
	} else {
		const char *tmp = getenv("TMPDIR");
		int fd;

		snprintf(out, sizeof(out), "%s/attrace-replay-XXXXXX.jsonl.zst",
			 tmp && *tmp ? tmp : "/tmp");
		fd = mkostemps(out, 10, O_CLOEXEC);
		if (fd < 0) {
			cli_error("cannot create a temporary trace in '%s': %s",
				  tmp && *tmp ? tmp : "/tmp", strerror(errno));
			out[0] = '\0';
			goto out;
		}
		close(fd);
	}
	if (cli_find_shim(shim) < 0 || setup_env(shim, trace, out) < 0)
		goto out;
	if (arg_offline)
		cli_child_setup = enter_offline;
	pid = cli_spawn(argv + optind + 2);
	if (pid < 0) {
		ret = pid == -ENOENT ? 127 : 126;
		goto out;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			cli_error("waitpid: %s", strerror(errno));
			goto out;
		}
	}

	r = judge_trace(out, arg_ignore.data, run_fp, now_exe, &oc, NULL, &err);
	if (r < 0) {
		cli_error("cannot read the replayed run's trace: %s",
			  err.msg[0] ? err.msg : strerror(-r));
		goto out;
	}
	if (live_exe[0] && now_exe[0] && strcmp(live_exe, now_exe) != 0)
		cli_error("warning: the executable differs from the recorded one "
			  "(sha256 %.16s, recorded %.16s)",
			  now_exe, live_exe);
	if (oc.consumed < oc.total)
		cli_error("replay left %ld recorded event%s unused: %s%s", oc.total - oc.consumed,
			  oc.total - oc.consumed == 1 ? "" : "s",
			  oc.unused.data ? oc.unused.data : "",
			  (long)oc.nunused_listed < oc.total - oc.consumed ? "; ..." : "");
	/* the summary stays the last line: scripts read it there */
	if (strcmp(run_fp, rec_fp) != 0)
		diff_hint(path, out);
	if (arg_ignore.len)
		cli_error("the fingerprints leave out the header fields %s", arg_ignore.data);
	cli_error("replay consumed %ld of %ld events; fingerprint %.16s (%s %.16s)", oc.consumed,
		  oc.total, run_fp,
		  strcmp(run_fp, rec_fp) == 0 ? "matches" : "differs from recorded", rec_fp);
	if (oc.strict_stop)
		ret = EXIT_GOVERNANCE;
	else if (arg_strict && strcmp(run_fp, rec_fp) != 0)
		ret = EXIT_DIFFERS;
	else
		ret = cli_pass_on(status);
out:
	if (out[0] && !arg_output)
		unlink(out);
	buf_release(&oc.unused);
	buf_release(&arg_allow);
	buf_release(&arg_ignore);
	return ret;
}
