/* SPDX-License-Identifier: MIT */
/* fingerprint.c -- attrace fingerprint: print a trace's causal fingerprint. */
#include "common/fingerprint.h"

#include <getopt.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "common/error.h"

static void usage(FILE *f)
{
	fputs("Usage: attrace fingerprint TRACE\n"
	      "\n"
	      "Print the causal fingerprint of TRACE: SHA-256 over its canonical form,\n"
	      "64 hex digits. See attrace-trace(5), FINGERPRINT.\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help    show this help and exit\n",
	      f);
}

int verb_fingerprint(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct at_error err = { 0 };
	char hex[FP_HEX_LEN + 1];
	int c, r;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			return cli_usage_error("fingerprint");
		}
	}
	if (argc - optind != 1) {
		fputs(argc - optind < 1 ? "attrace: fingerprint: no trace given\n"
					: "attrace: fingerprint: one trace at a time\n",
		      stderr);
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	r = fp_file(argv[optind], hex, &err);
	if (r < 0) {
		cli_trace_error(argv[optind], r, &err);
		return CLI_EXIT_FAILURE;
	}
	printf("%s\n", hex);
	if (fflush(stdout) != 0)
		return CLI_EXIT_FAILURE;
	return EXIT_SUCCESS;
}
