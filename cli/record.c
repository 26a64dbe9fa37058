/* SPDX-License-Identifier: MIT */
/* record.c -- attrace record: run a command under libattrace, write a trace. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/curl_dl.h"
#include "common/buf.h"
#include "common/error.h"

#ifndef ATTRACE_LIBDIR
#define ATTRACE_LIBDIR "/usr/local/lib"
#endif

static const char *arg_output;
static const char *arg_name;
static const char *arg_collector;

/* Signals forwarded to the command. */
static const int fwd_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
static volatile sig_atomic_t child_pid;

void (*cli_child_setup)(void);

static void usage(FILE *f)
{
	fputs("Usage: attrace record [-o TRACE] [--name NAME] [--collector URL] -- CMD [ARG...]\n"
	      "\n"
	      "Run CMD under libattrace in record mode. CMD's stdin, stdout, stderr and\n"
	      "exit status pass through untouched.\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output TRACE    write the trace to TRACE\n"
	      "                        (default ./attrace-YYMMDD_HHMMSS-PID.jsonl.zst)\n"
	      "  -n, --name NAME       agent name stored in the trace (ATTRACE_NAME)\n"
	      "  -c, --collector URL   ship the trace to this attrace-collector when CMD\n"
	      "                        ends (ATTRACE_COLLECTOR; unsent traces are spooled\n"
	      "                        for 'attrace push --spool')\n"
	      "  -h, --help            show this help and exit\n",
	      f);
}

static void forward_signal(int sig, siginfo_t *si, void *uctx)
{
	int saved = errno;

	/* A terminal's ^C or ^\ already reached CMD, which is in the same
	 * foreground process group: do not deliver it twice. */
	if (child_pid > 0 && si->si_code != SI_KERNEL)
		kill(child_pid, sig);
	errno = saved;
}

/* Path of libattrace.so: $ATTRACE_LIB, else the build tree next to this
 * binary (<dir>/../shim/libattrace.so), else ATTRACE_LIBDIR. */
int cli_find_shim(char ret_path[PATH_MAX])
{
	char exe[PATH_MAX], cand[PATH_MAX + 32];
	const char *env = getenv("ATTRACE_LIB");
	char *slash;
	ssize_t n;
	int r;

	if (env && *env) {
		if (access(env, R_OK) < 0) {
			r = -errno;
			cli_error("ATTRACE_LIB: cannot read '%s': %s", env, strerror(-r));
			return r;
		}
		if (!realpath(env, ret_path))
			return -errno;
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(cand, sizeof(cand), "%s/../shim/libattrace.so", exe);
			if (access(cand, R_OK) == 0 && realpath(cand, ret_path))
				return 0;
		}
	}
	snprintf(cand, sizeof(cand), "%s/libattrace.so", ATTRACE_LIBDIR);
	if (access(cand, R_OK) == 0 && realpath(cand, ret_path))
		return 0;
	cli_error("cannot find libattrace.so (looked next to the attrace binary and in %s; "
		  "set ATTRACE_LIB)",
		  ATTRACE_LIBDIR);
	return -ENOENT;
}

/* Creates (or truncates) the trace file, mode 0600, and returns its
 * absolute path. */
static int create_trace(const char *path, char ret_abs[PATH_MAX])
{
	int fd, r;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		r = -errno;
		cli_error("cannot create '%s': %s", path, strerror(-r));
		return r;
	}
	close(fd);
	if (!realpath(path, ret_abs)) {
		r = -errno;
		cli_error("cannot resolve '%s': %s", path, strerror(-r));
		return r;
	}
	return 0;
}

/* Appends the entries of an LD_PRELOAD value (separated by ':' or ' ') to b,
 * skipping those equal to a or c. */
int cli_append_preload(struct buf *b, const char *list, const char *a, const char *c)
{
	const char *p = list, *end;
	size_t n;
	int r = 0;

	while (r == 0 && p && *p) {
		end = p + strcspn(p, ": ");
		n = (size_t)(end - p);
		if (n && !(a && strlen(a) == n && memcmp(a, p, n) == 0) &&
		    !(c && strlen(c) == n && memcmp(c, p, n) == 0)) {
			if (b->len)
				r = buf_putc(b, ':');
			if (r == 0)
				r = buf_append(b, p, n);
		}
		p = *end ? end + 1 : end;
	}
	return r;
}

/* LD_PRELOAD for the child: [ATTRACE_ASAN_PRELOAD:]shim[:existing], each once. */
static int setup_env(const char *shim, const char *trace)
{
	const char *asan = getenv("ATTRACE_ASAN_PRELOAD");
	const char *old = getenv("LD_PRELOAD");
	struct buf b = BUF_INIT;
	int r = 0;

	if (asan && !*asan)
		asan = NULL;
	if (asan)
		r = cli_append_preload(&b, asan, NULL, NULL);
	if (r == 0)
		r = cli_append_preload(&b, shim, NULL, NULL);
	if (r == 0 && old)
		r = cli_append_preload(&b, old, asan, shim);
	if (r < 0)
		goto out;
	if (setenv("LD_PRELOAD", b.data, 1) < 0 || setenv("ATTRACE_MODE", "record", 1) < 0 ||
	    setenv("ATTRACE_TRACE", trace, 1) < 0) {
		r = -errno;
		goto out;
	}
	if (arg_name && setenv("ATTRACE_NAME", arg_name, 1) < 0) {
		r = -errno;
		goto out;
	}
	if (arg_collector && setenv("ATTRACE_COLLECTOR", arg_collector, 1) < 0) {
		r = -errno;
		goto out;
	}
	/* Internal: describes a traced parent. This command starts a new trace. */
	unsetenv("ATTRACE_CTX");
out:
	if (r < 0)
		cli_error("cannot set up the environment: %s", strerror(-r));
	buf_release(&b);
	return r;
}

/* Forks and execs CMD. Signals to forward are blocked across fork so that
 * child_pid is set before a handler can run. A close-on-exec pipe carries
 * the child's exec errno back. @return the child's pid or a negative errno
 * (already reported). */
int cli_spawn(char **cmd)
{
	struct sigaction sa = { .sa_sigaction = forward_signal,
				.sa_flags = SA_SIGINFO | SA_RESTART };
	sigset_t block, old;
	int pfd[2], err = 0;
	pid_t pid;
	size_t i;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		err = errno;
		cli_error("pipe: %s", strerror(err));
		return -err;
	}
	sigemptyset(&block);
	for (i = 0; i < sizeof(fwd_signals) / sizeof(fwd_signals[0]); i++)
		sigaddset(&block, fwd_signals[i]);
	sigprocmask(SIG_BLOCK, &block, &old);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(pfd[0]);
		if (cli_child_setup)
			cli_child_setup();
		execvp(cmd[0], cmd);
		err = errno;
		if (write(pfd[1], &err, sizeof(err)) < 0) {
			/* the parent then sees exit status 127 alone */
		}
		_exit(err == ENOENT ? 127 : 126);
	}
	close(pfd[1]);
	if (pid < 0) {
		err = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(pfd[0]);
		cli_error("fork: %s", strerror(err));
		return -err;
	}
	child_pid = pid;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(fwd_signals) / sizeof(fwd_signals[0]); i++) {
		struct sigaction cur;

		/* An ignored signal (nohup, a background job's SIGINT) stays
		 * ignored: CMD inherited that too. */
		if (sigaction(fwd_signals[i], NULL, &cur) == 0 && cur.sa_handler == SIG_IGN)
			continue;
		sigaction(fwd_signals[i], &sa, NULL);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);

	do
		n = read(pfd[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof(err)) {
		cli_error("cannot run '%s': %s", cmd[0], strerror(err));
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -err;
	}
	return pid;
}

/* Prints "trace written to ..." with counts and the short fingerprint. A
 * trace that cannot be read is a warning here: the exit status stays CMD's. */
static void summary(const char *path)
{
	struct at_error err = { 0 };
	struct cli_trace t;
	int r;

	r = cli_trace_scan(path, &t, &err);
	if (r == -ENODATA) {
		cli_error("warning: '%s' holds no events: was CMD statically linked, or did it "
			  "drop LD_PRELOAD? See libattrace(7)",
			  arg_output);
		return;
	}
	if (r < 0) {
		cli_error("warning: cannot read back '%s': %s", arg_output,
			  err.msg[0] ? err.msg : strerror(-r));
		return;
	}
	cli_error("trace written to '%s' (%zu events, %zu process%s, fingerprint %.16s)",
		  arg_output, t.n, t.nproc, t.nproc == 1 ? "" : "es", t.fp_hex);
	cli_trace_release(&t);
}

/* Exit like the child did: its status, or the same fatal signal. */
int cli_pass_on(int status)
{
	struct rlimit no_core = { 0, 0 };
	sigset_t set;
	int sig;

	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	sig = WTERMSIG(status);
	/* The child may have dumped core; attrace itself must not. */
	setrlimit(RLIMIT_CORE, &no_core);
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	return 128 + sig; /* a signal whose default is not to terminate */
}

int verb_record(int argc, char **argv)
{
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'n' },
		{ "collector", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char shim[PATH_MAX], abs[PATH_MAX], defname[128];
	int c, status = 0, ret = CLI_EXIT_FAILURE;
	struct tm tm;
	time_t now;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "+o:n:c:h", options, NULL)) != -1) {
		switch (c) {
		case 'o':
			arg_output = optarg;
			break;
		case 'n':
			arg_name = optarg;
			break;
		case 'c':
			arg_collector = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			return cli_usage_error("record");
		}
	}
	if (optind < 2 || strcmp(argv[optind - 1], "--") != 0) {
		fputs("attrace: record: put '--' before the command\n", stderr);
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (optind >= argc) {
		fputs("attrace: record: no command given after '--'\n", stderr);
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (arg_output && !*arg_output) {
		fputs("attrace: record: empty trace path\n", stderr);
		return CLI_EXIT_USAGE;
	}
	if (!arg_output) {
		now = time(NULL);
		gmtime_r(&now, &tm); /* UTC, as the shim names its default trace */
		snprintf(defname, sizeof(defname),
			 "attrace-%02d%02d%02d_%02d%02d%02d-%ld.jsonl.zst", tm.tm_year % 100,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (long)getpid());
		arg_output = defname;
	}

	if (cli_find_shim(shim) < 0)
		goto out;
	if (strpbrk(shim, ": ")) {
		cli_error("cannot preload '%s': LD_PRELOAD paths cannot hold ':' or ' '", shim);
		goto out;
	}
	if (create_trace(arg_output, abs) < 0)
		goto out;
	if (setup_env(shim, abs) < 0)
		goto out;

	pid = cli_spawn(argv + optind);
	if (pid < 0) {
		/* Nothing ran, so nothing was recorded. */
		unlink(abs);
		ret = pid == -ENOENT ? 127 : 126;
		goto out;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			cli_error("waitpid: %s", strerror(errno));
			goto out;
		}
	}
	child_pid = 0;
	summary(abs);
	if (arg_collector && *arg_collector) {
		/* The library shipped the trace when the root ended (or spooled
		 * it); pushing again here reports the collector's answer, and
		 * adds any frames written since (the collector merges; a repeat
		 * stores nothing). */
		cli_push_file(arg_collector, getenv("ATTRACE_API_KEY"), abs, 0);
		curl_dl_cleanup();
	}
	ret = cli_pass_on(status);
out:
	return ret;
}
