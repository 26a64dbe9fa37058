/* SPDX-License-Identifier: MIT */
/* main.c -- the attrace command: global options and dispatch to one verb. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/error.h"

struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct verb verbs[] = {
	{ "record", verb_record },
	{ "show", verb_show },
	{ "fingerprint", verb_fingerprint },
	{ "replay", verb_replay },
	{ "push", verb_push },
	/* Contracts fixed by DESIGN.md, implemented by later issues. */
	{ "diff", NULL },
	{ "branch", NULL },
};

static void usage(FILE *f)
{
	fputs("Usage: attrace [--help] [--version] VERB [ARG...]\n"
	      "\n"
	      "Record everything a program and its children exchange with the world\n"
	      "at the libc boundary, without touching the program.\n"
	      "\n"
	      "Verbs:\n"
	      "  record [-o TRACE] [--name NAME] [--collector URL] -- CMD [ARG...]\n"
	      "                      run CMD under libattrace and write a trace\n"
	      "  show [--all | --http | --json] TRACE\n"
	      "                      print a readable timeline of a trace\n"
	      "  fingerprint TRACE   print the trace's causal fingerprint (64 hex digits)\n"
	      "  replay [--strict] [--no-offline] [-o OUT] TRACE -- CMD [ARG...]\n"
	      "                      run CMD offline with every input served from TRACE\n"
	      "  push [--collector URL] TRACE... | --spool\n"
	      "                      upload traces (or the spool) to an attrace-collector\n"
	      "\n"
	      "Not implemented yet: diff, branch.\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help          show this help and exit\n"
	      "  -V, --version       show the version and exit\n"
	      "\n"
	      "'attrace VERB --help' describes one verb. See attrace(1), libattrace(7)\n"
	      "and attrace-trace(5).\n",
	      f);
}

void cli_error(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	memcpy(line, "attrace: ", 9);
	va_start(ap, fmt);
	n = vsnprintf(line + 9, sizeof(line) - 10, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 11)
		n = sizeof(line) - 11;
	n += 9;
	line[n++] = '\n';
	fflush(stdout);
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nothing better to do: stderr is gone. */
	}
}

int cli_usage_error(const char *verb)
{
	fprintf(stderr, "Try 'attrace %s --help'.\n", verb);
	return CLI_EXIT_USAGE;
}

void cli_trace_error(const char *path, int r, const struct at_error *err)
{
	const char *msg = err && err->msg[0] ? err->msg : strerror(r < 0 ? -r : r);

	cli_error("cannot read '%s': %s", path, msg);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	static char prog[64];
	const char *name;
	size_t i;
	int c, first;

	argv[0] = (char *)"attrace";

	/* "+": stop at the verb, so that its options (and CMD's) are its own. */
	while ((c = getopt_long(argc, argv, "+hV", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("attrace %s\n", ATTRACE_VERSION);
			return EXIT_SUCCESS;
		default:
			fputs("Try 'attrace --help'.\n", stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	name = argv[optind];
	if (strcmp(name, "help") == 0) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(name, verbs[i].name) != 0)
			continue;
		if (!verbs[i].run) {
			cli_error("%s: not implemented yet (see attrace(1))", name);
			return CLI_EXIT_USAGE;
		}
		/* Each verb parses its own argv from the start (glibc: optind 0
		 * re-initialises getopt). */
		first = optind;
		/* getopt names the program in its messages: "attrace record: ..." */
		snprintf(prog, sizeof(prog), "attrace %s", name);
		argv[first] = prog;
		optind = 0;
		return verbs[i].run(argc - first, argv + first);
	}
	cli_error("unknown verb '%s'", name);
	fputs("Try 'attrace --help'.\n", stderr);
	return CLI_EXIT_USAGE;
}
