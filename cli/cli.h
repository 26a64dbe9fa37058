/* SPDX-License-Identifier: MIT */
/* cli.h -- the verbs of the attrace command and what they share.
 *
 * main.c parses the global options and hands each verb its own argv, with
 * argv[0] the verb's name. A verb returns the process exit status: its
 * command's own status for record, else EXIT_SUCCESS, CLI_EXIT_FAILURE (1:
 * bad trace, I/O error, after one "attrace: " line on stderr) or
 * CLI_EXIT_USAGE (2: usage error, after the usage text on stderr).
 */
#pragma once

#include <stdio.h>

#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE	 2

#ifndef ATTRACE_VERSION
#define ATTRACE_VERSION "unknown"
#endif

int verb_record(int argc, char **argv);
int verb_show(int argc, char **argv);
int verb_fingerprint(int argc, char **argv);
int verb_replay(int argc, char **argv);
int verb_push(int argc, char **argv);

/* push.c, also used by record --collector. Uploads one trace file to the
 * collector at url (ATTRACE_API_KEY as bearer), printing one line.
 * @return 0 when acknowledged (2xx), 1 when refused as bad input, -1 when
 * the collector could not be reached or failed, or libcurl.so.4 could not be
 * loaded (try again later). Loads libcurl on first use (curl_dl.h); the
 * caller ends with curl_dl_cleanup(). */
int cli_push_file(const char *url, const char *api_key, const char *path, int quiet);
/* The spool directory: $XDG_STATE_HOME/attrace/spool or
 * ~/.local/state/attrace/spool. @return 0 or a negative errno. */
int cli_spool_dir(char *out, size_t n);

/* "attrace: " + message + newline on stderr, written at once. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For a verb's `default:` getopt case: getopt already printed the reason;
 * this adds "Try 'attrace VERB --help'." and returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *verb);

struct at_error;
struct json_object;
struct fp;

/* A whole trace in memory, as show needs it (or only its counts and
 * fingerprint, as record's summary needs them). */
struct cli_trace {
	struct json_object **ev; /* events in file order, validated; NULL after a scan */
	size_t n;
	size_t nproc; /* distinct logical pids */
	size_t nthread; /* distinct (pid, tid) */
	struct fp *fp; /* every event added */
	char fp_hex[64 + 1]; /* full fingerprint */
};

/* Reads and validates every event of path, counts processes and threads and
 * computes the fingerprint. @return 0, or a negative errno with reterr set
 * (-ENODATA for a trace with no events). t is released on failure. */
int cli_trace_load(const char *path, struct cli_trace *t, struct at_error *reterr);
/* The same without keeping the events (ev stays NULL, n counts them): each
 * is freed once counted and fingerprinted, so memory stays small. */
int cli_trace_scan(const char *path, struct cli_trace *t, struct at_error *reterr);
void cli_trace_release(struct cli_trace *t); /* accepts NULL */
/* Reports a failure to read a trace: "attrace: cannot read 'PATH': MSG",
 * with MSG from reterr or, when empty, strerror(-r). */
void cli_trace_error(const char *path, int r, const struct at_error *err);

/* ---- running a command under the shim (record.c; replay.c uses them too) ---- */

struct buf;

/* Path of libattrace.so: $ATTRACE_LIB, the build tree next to this binary,
 * or the install libdir. @return 0 or a negative errno (reported). */
int cli_find_shim(char ret_path[4096]);
/* Appends the entries of an LD_PRELOAD value (':' or ' ' separated) to b,
 * skipping those equal to a or c. */
int cli_append_preload(struct buf *b, const char *list, const char *a, const char *c);
/* Run in the child between fork and exec when set (replay: the offline
 * namespace). */
extern void (*cli_child_setup)(void);
/* Forks and execs cmd, forwarding SIGINT/TERM/HUP/QUIT to it. @return the
 * child's pid or a negative errno (reported). */
int cli_spawn(char **cmd);
/* The exit status that passes the child's on: its status, or the same
 * fatal signal raised on ourselves. */
int cli_pass_on(int status);
